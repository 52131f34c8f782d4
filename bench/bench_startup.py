"""Start-up cost of interpreting one patient from the command line.

Prints the wall time of ``python -m boneturnover interpret <patient> --format json`` (and
text) over a few warm runs, then the largest entries of ``python -X importtime`` for the
same command: cumulative time of each top-level import and the modules of this package.

    python bench/bench_startup.py [--runs 5] [--top 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATIENT = ROOT / "examples" / "clinical" / "bisphosphonate_responder.toml"


def command(fmt: str) -> list[str]:
    return [sys.executable, "-m", "boneturnover", "interpret", str(PATIENT), "--format", fmt,
            "--today", "2024-07-20"]


def wall(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return times


def importtime(cmd: list[str]) -> list[tuple[int, int, str]]:
    """(self us, cumulative us, indented module name) of every import of ``cmd``."""
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    err = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env, cwd=ROOT).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|")
        rows.append((int(self_us), int(cum_us), name.rstrip()))
    return rows


def _depth(name: str) -> int:
    return (len(name) - len(name.lstrip()) - 1) // 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    bare = wall([sys.executable, "-c", "pass"], 3)
    print(f"python -c pass: median {statistics.median(bare):.3f} s")
    for fmt in ("json", "text"):
        cmd = command(fmt)
        wall(cmd, 1)  # warm the file cache and the compiled-bytecode cache
        t = wall(cmd, args.runs)
        print(f"interpret --format {fmt}: median {statistics.median(t):.3f} s, "
              f"min {min(t):.3f} s, max {max(t):.3f} s over {args.runs} runs")

    rows = importtime(command("json"))
    total = sum(s for s, _, _ in rows) / 1e6
    print(f"\nimports of the json run: {total:.3f} s in {len(rows)} modules")
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
    heavy = [n for n in ("matplotlib", "scipy", "numba", "pyarrow", "pint", "pandas")
             if any(r[2].strip() == n for r in rows)]
    print(f"\nthird-party packages imported by the json run: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
