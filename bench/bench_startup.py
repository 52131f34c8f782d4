"""Start-up cost of interpreting one patient from the command line (target: under 0.5 s).

Prints the warm wall time of ``python -m boneturnover interpret <patient> --format json``
and ``--format text`` (median of a few runs after one that fills the file and bytecode
caches), the target and whether it is met, then where the time of the JSON run goes: the
share spent importing modules and the largest entries of ``python -X importtime``
(cumulative time of each top-level import, and the modules of this package by their own
time).

"Warm" means compiled bytecode is cached, as after ``pip install``: where the
environment sets ``PYTHONDONTWRITEBYTECODE``, the runs here drop it and keep their
bytecode in a folder of the system's temporary directory instead (``PYTHONPYCACHEPREFIX``),
so that no file is written beside the sources.

    python bench/bench_startup.py [--runs 5] [--top 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATIENT = ROOT / "examples" / "clinical" / "bisphosphonate_responder.toml"
#: Warm wall time one patient may take from the command line, text or JSON (seconds).
TARGET_S = 0.5


def command(fmt: str) -> list[str]:
    return [sys.executable, "-m", "boneturnover", "interpret", str(PATIENT), "--format", fmt,
            "--today", "2024-07-20"]


def environment() -> tuple[dict[str, str], str]:
    """The environment of the runs, and a note on how bytecode is cached."""
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        env.setdefault("PYTHONPYCACHEPREFIX",
                       str(Path(tempfile.gettempdir()) / "boneturnover-bench-pycache"))
        return env, f"bytecode cached in {env['PYTHONPYCACHEPREFIX']}"
    return env, "bytecode cached as usual"


def wall(cmd: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=env)
        times.append(time.perf_counter() - t0)
    return times


def importtime(cmd: list[str], env: dict[str, str]) -> tuple[list[tuple[int, int, str]], float]:
    """(self us, cumulative us, indented module name) of every import of ``cmd``, and the
    wall time of that run."""
    env = dict(env, PYTHONPROFILEIMPORTTIME="1")
    t0 = time.perf_counter()
    err = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env, cwd=ROOT).stderr
    elapsed = time.perf_counter() - t0
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|")
        rows.append((int(self_us), int(cum_us), name.rstrip()))
    return rows, elapsed


def _depth(name: str) -> int:
    return (len(name) - len(name.lstrip()) - 1) // 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    env, note = environment()

    bare = wall([sys.executable, "-c", "pass"], 3, env)
    print(f"python -c pass: median {statistics.median(bare):.3f} s ({note})")
    warm = {}
    for fmt in ("json", "text"):
        cmd = command(fmt)
        wall(cmd, 1, env)  # warm the file cache and the compiled-bytecode cache
        t = wall(cmd, args.runs, env)
        warm[fmt] = statistics.median(t)
        print(f"interpret --format {fmt}: median {warm[fmt]:.3f} s warm, "
              f"min {min(t):.3f} s, max {max(t):.3f} s over {args.runs} runs")
    worst = max(warm.values())
    print(f"target: under {TARGET_S:.3f} s warm; json {warm['json']:.3f} s, text "
          f"{warm['text']:.3f} s: {'met' if worst < TARGET_S else 'NOT met'} "
          f"(slowest at {worst / TARGET_S:.0%} of the target)")

    rows, elapsed = importtime(command("json"), env)
    total = sum(s for s, _, _ in rows) / 1e6
    print(f"\nimports of the json run: {total:.3f} s in {len(rows)} modules, "
          f"{total / elapsed:.0%} of that run's {elapsed:.3f} s (-X importtime adds to both)")
    top = [r for r in rows if _depth(r[2]) <= 1]
    top.sort(key=lambda r: -r[1])
    print(f"\nlargest imports (cumulative, depth <= 1), top {args.top}:")
    for self_us, cum_us, name in top[:args.top]:
        print(f"  {cum_us / 1e3:8.1f} ms  (self {self_us / 1e3:7.1f} ms)  {name.strip()}")
    own = [r for r in rows if r[2].strip().startswith("boneturnover")]
    own.sort(key=lambda r: -r[0])
    print("\nmodules of boneturnover by self time (their own code and data at import):")
    for self_us, cum_us, name in own[:args.top]:
        print(f"  {self_us / 1e3:8.1f} ms  (cumulative {cum_us / 1e3:7.1f} ms)  {name.strip()}")
    heavy = [n for n in ("matplotlib", "scipy", "numba", "pyarrow", "pint", "pandas", "numpy")
             if any(r[2].strip() == n for r in rows)]
    print(f"\nthird-party packages imported by the json run: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
