"""Load on the web clinic: concurrent clients for a while, latency percentiles and errors.

Starts ``boneturnover serve`` on a fresh SQLite data folder (or ``--database URL``), loads
the example patients and a generated cohort, then runs ``--clients`` concurrent clients
(default 50) for ``--seconds`` (default 60). Each client signs in once with its own
clinician account and loops over a mix of what a clinic does: the worklist (40 %), a
patient page (30 %), a patient's JSON report (20 %) and a laboratory posting one result
with an API token (10 %). Printed: requests, requests per second, p50/p95/p99 latency per
kind and overall, and the number of errors (a status >= 300 or a transport error).

This is a measurement, not a test: nothing fails when it is slow. Run:

    .venv/bin/python bench/bench_web.py                    # 50 clients, 60 s
    .venv/bin/python bench/bench_web.py --clients 10 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "clinical"
PASSWORD = "bench password 12345"
ERRORS: list[str] = []
MIX = (("worklist", 0.4), ("patient_page", 0.3), ("report_json", 0.2), ("lab_post", 0.1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(data: Path, database: str | None, clients: int) -> None:
    """Users (one clinician per client, a laboratory user) made through the package."""
    from sqlalchemy import select

    from boneturnover.web import accounts
    from boneturnover.web.db import database_url, make_engine, make_sessionmaker, upgrade
    from boneturnover.web.models import User
    from boneturnover.web.store import Actor

    engine = make_engine(database_url(data, database))
    upgrade(engine)
    with make_sessionmaker(engine)() as db:
        site = accounts.create_site(db, "bench")
        for i in range(clients):
            accounts.create_user(db, None, f"doc{i}", PASSWORD, "clinician", site)
        accounts.create_user(db, None, "lab", PASSWORD, "lab", site)
        admin = accounts.create_user(db, None, "admin", PASSWORD, "admin", site)
        lab = db.scalars(select(User.id).where(User.username == "lab")).one()
        token = accounts.create_token(db, Actor(admin.id, "admin", "admin", site.id), lab,
                                      "bench")
    engine.dispose()
    (data.parent / "token").write_text(token)


def _cohort(n: int) -> dict[str, bytes]:
    pa = ["patient_id,birth_date,ckd,glucocorticoids,calcium_supplement_mg_d,"
          "magnesium_supplement_mg_d"]
    me = ["patient_id,date,marker,value,unit,fasting,time"]
    tr = ["patient_id,drug,dose,dose_unit,interval,route,start,stop,last_dose"]
    rng = random.Random(1)
    for i in range(n):
        pid = f"B{i:04d}"
        pa.append(f"{pid},19{rng.randint(40, 60)}-0{rng.randint(1, 9)}-15,false,false,,")
        me.append(f"{pid},2023-01-05,CTX_I,{rng.randint(300, 900)},ng/L,true,08:00")
        me.append(f"{pid},2023-07-05,CTX_I,{rng.randint(50, 700)},ng/L,true,08:00")
        me.append(f"{pid},2023-01-05,P1NP,{rng.randint(30, 90)},ug/L,,")
        tr.append(f"{pid},alendronate,70,mg,1 wk,oral,2023-01-08,,")
    return {k: ("\n".join(v) + "\n").encode() for k, v in
            (("patients.csv", pa), ("measurements.csv", me), ("treatments.csv", tr))}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _load(base: str, cohort: int) -> list[int]:
    with httpx.Client(base_url=base, timeout=300) as c:
        c.post("/login", data={"username": "doc0", "password": PASSWORD})
        csrf = _csrf(c.get("/upload").text)
        for f in sorted(EXAMPLES.glob("*.toml")) + [EXAMPLES / "fhir_bundle.json"]:
            with open(f, "rb") as fh:
                c.post("/upload/file", data={"csrf_token": csrf}, files={"file": (f.name, fh)})
        files = _cohort(cohort)
        r = c.post("/upload/cohort", data={"csrf_token": csrf}, files={
            k.split(".")[0]: (k, v) for k, v in files.items()})
        assert r.status_code == 200, r.text[-500:]
        return [p["key"] for p in c.get("/api/v1/patients").json()]


async def _client(i: int, base: str, keys: list[int], token: str, until: float,
                  out: list[tuple[str, float, bool]]) -> None:
    rng = random.Random(i)
    posted = 0
    # each client is its own browser behind the reverse proxy (its own address: the
    # per-address sign-in limit would otherwise refuse most of them)
    headers = {"X-Forwarded-For": f"10.0.{i // 250}.{i % 250 + 1}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as c:
        r = await c.post("/login", data={"username": f"doc{i}", "password": PASSWORD})
        if r.status_code != 303:
            ERRORS.append(f"sign-in of doc{i}: {r.status_code}")
        while time.monotonic() < until:
            kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
            t0 = time.perf_counter()
            try:
                if kind == "worklist":
                    r = await c.get("/worklist")
                elif kind == "patient_page":
                    r = await c.get(f"/patients/{rng.choice(keys)}")
                elif kind == "report_json":
                    r = await c.get(f"/api/v1/patients/{rng.choice(keys)}/report")
                else:  # each client its own patient, one new sampling date per post
                    posted += 1
                    day = dt.date(2024, 1, 1) + dt.timedelta(days=posted)
                    r = await c.post("/api/v1/results", headers={
                        "Authorization": f"Bearer {token}"}, json={
                        "patient_id": f"B{i:04d}", "measurements": [{
                            "date": day.isoformat(), "marker": "CTX_I",
                            "value": rng.randint(100, 900), "unit": "ng/L", "fasting": True}]})
                ok = r.status_code < 300  # a redirect means: not signed in
                if not ok and len(ERRORS) < 5:
                    ERRORS.append(f"{kind} {r.status_code}: {r.text[:200]}")
            except httpx.TransportError as exc:
                ok = False
                if len(ERRORS) < 5:
                    ERRORS.append(f"{kind} {type(exc).__name__}")
            out.append((kind, time.perf_counter() - t0, ok))


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--cohort", type=int, default=200, help="generated patients to load "
                    "(at least --clients: each client's laboratory posts go to its own)")
    ap.add_argument("--database", help="SQLAlchemy URL (default: SQLite in a temp folder)")
    args = ap.parse_args(argv)
    args.cohort = max(args.cohort, args.clients)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as work:
        data = Path(work) / "data"
        _prepare(data, args.database, args.clients)
        token = (Path(work) / "token").read_text()
        port = _free_port()
        cmd = [sys.executable, "-m", "boneturnover", "serve", "--data", str(data),
               "--port", str(port)] + (["--database", args.database] if args.database else [])
        with open(Path(work) / "server.log", "w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    httpx.get(f"{base}/api/v1/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            t0 = time.perf_counter()
            keys = _load(base, args.cohort)
            print(f"loaded {len(keys)} patients in {time.perf_counter() - t0:.1f} s")
            out: list[tuple[str, float, bool]] = []
            until = time.monotonic() + args.seconds

            async def run():
                await asyncio.gather(*(_client(i, base, keys, token, until, out)
                                       for i in range(args.clients)))

            t0 = time.perf_counter()
            asyncio.run(run())
            wall = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{args.clients} clients, {wall:.0f} s, {len(out)} requests, "
          f"{len(out) / wall:.1f} requests/s, {sum(not ok for _, _, ok in out)} errors")
    for e in ERRORS:
        print("error:", e)
    print(f"{'kind':<14}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for kind in [k for k, _ in MIX] + ["all"]:
        rows = [(d, ok) for k, d, ok in out if kind in ("all", k)]
        ds = [d * 1000 for d, _ in rows]
        print(f"{kind:<14}{len(rows):>7}{_pct(ds, 50):>10.0f}{_pct(ds, 95):>10.0f}"
              f"{_pct(ds, 99):>10.0f}{sum(not ok for _, ok in rows):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
