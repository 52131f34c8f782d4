"""A server killed with SIGKILL in the middle of an import: after a restart the imports
committed before are intact and the interrupted one is wholly absent (SQLite with
write-ahead logging and synchronous=FULL; the import is one transaction)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import warnings

import pytest

from .conftest import EXAMPLES, PASSWORD

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import httpx

pytestmark = pytest.mark.slow

N_PATIENTS = 1500
RESULTS_PER_PATIENT = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data, port):
    log = data.parent / "server.log"
    with open(log, "a") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "boneturnover", "serve", "--data",
                                 str(data), "--port", str(port)], stdout=subprocess.DEVNULL,
                                stderr=fh)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
    proc.kill()
    raise AssertionError("server did not start")


def _login(base: str) -> tuple[httpx.Client, str]:
    import re

    c = httpx.Client(base_url=base, timeout=120)
    r = c.post("/login", data={"username": "doc", "password": PASSWORD})
    assert r.status_code == 303, r.text
    page = c.get("/upload").text
    return c, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _big_cohort() -> dict[str, bytes]:
    pa = ["patient_id,birth_date,ckd,glucocorticoids,calcium_supplement_mg_d,"
          "magnesium_supplement_mg_d"]
    me = ["patient_id,date,marker,value,unit,fasting,time"]
    for i in range(N_PATIENTS):
        pid = f"K{i:05d}"
        pa.append(f"{pid},1950-01-01,false,false,,")
        for j in range(RESULTS_PER_PATIENT):
            me.append(f"{pid},2023-{j % 12 + 1:02d}-05,CTX_I,{300 + j},ng/L,true,08:00")
    return {"patients.csv": ("\n".join(pa) + "\n").encode(),
            "measurements.csv": ("\n".join(me) + "\n").encode()}


def _counts(db_path) -> tuple[int, int, int]:
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("imports", "patients", "measurements"))
    finally:
        con.close()


def test_a_killed_import_leaves_nothing_and_committed_ones_stay(tmp_path):
    from boneturnover.web import accounts
    from boneturnover.web.db import database_url, make_engine, make_sessionmaker, upgrade

    data = tmp_path / "data"
    engine = make_engine(database_url(data, None))
    upgrade(engine)
    with make_sessionmaker(engine)() as db:
        accounts.create_user(db, None, "doc", PASSWORD, "clinician",
                             accounts.create_site(db, "main"))
    engine.dispose()
    db_path = data / "clinic.sqlite3"
    wal = data / "clinic.sqlite3-wal"

    port = _free_port()
    proc = _start(data, port)
    try:
        client, csrf = _login(f"http://127.0.0.1:{port}")
        with open(EXAMPLES / "denosumab_rebound.toml", "rb") as fh:
            r = client.post("/upload/file", data={"csrf_token": csrf},
                            files={"file": ("denosumab_rebound.toml", fh)})
        assert r.status_code == 200 and 'id="imported"' in r.text
        before = _counts(db_path)
        assert before[:2] == (1, 1)
        files = _big_cohort()
        baseline = wal.stat().st_size if wal.exists() else 0

        import threading

        outcome: dict[str, object] = {}

        def send():
            try:
                outcome["status"] = client.post("/upload/cohort", data={"csrf_token": csrf},
                                                files={"patients": ("patients.csv",
                                                                    files["patients.csv"]),
                                                       "measurements": ("measurements.csv",
                                                                        files["measurements.csv"])}
                                                ).status_code
            except httpx.TransportError as exc:
                outcome["error"] = type(exc).__name__

        t = threading.Thread(target=send)
        t.start()
        # the import writes its rows into the log before it commits: kill it then
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and t.is_alive():
            if wal.exists() and wal.stat().st_size > baseline + 256 * 1024:
                break
            time.sleep(0.005)
        assert t.is_alive(), f"the import finished before it could be interrupted: {outcome}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        t.join(timeout=30)
        client.close()
        assert "error" in outcome, outcome
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    proc = _start(data, port)  # restart: SQLite rolls the unfinished transaction back
    try:
        assert _counts(db_path) == before
        client, _ = _login(f"http://127.0.0.1:{port}")
        r = client.get("/worklist")
        client.close()
        assert "example-denosumab-rebound" in r.text and "K00000" not in r.text
    finally:
        proc.kill()
        proc.wait()
