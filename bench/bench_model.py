"""Benchmark of the model engine: cold and warm times, peak memory, OpenBoneMin side by side.

Prints one table, a row per case:

* one 10-year run with 20 denosumab doses, 60 mg every 6 months (target < 16 ms;
  OpenBoneMin 0.16 s);
* one 10-year run with daily teriparatide, 20 ug (target < 0.7 s; OpenBoneMin 7.3 s);
* 1,000 patients x 10 years of denosumab, 8 parameters varied log-normally at 30 % CV
  (target < 8 s; OpenBoneMin 82 s);
* the scaling row: 10,000 such patients on a Dask LocalCluster with 1 and with 2
  single-threaded workers (target: 2 workers at least 1.8x faster than 1);

and the first-compile row: a fresh process with an empty compile cache (the generated
model and the integrator are compiled; target < 30 s), then a second fresh process that
finds them in the cache.

Columns: ``cold`` is the first call in this process (machine code loaded from the cache),
``warm`` the fastest of repeated calls, ``peak MiB`` the largest Python/NumPy allocation
during a warm call (tracemalloc: what the run holds, not the interpreter), the target, the
OpenBoneMin figure and the ratio OpenBoneMin / warm. OpenBoneMin figures: OpenBoneMin on
R/mrgsolve (LSODA, compiled C++), the same cases run side by side on the same hardware
(2 cores). Patients are 40 years old and premenopausal, as in OpenBoneMin's runs.

Run ``python bench/bench_model.py`` (``--patients N``, ``--cluster-subjects M``,
``--no-cluster``, ``--no-compile``); docs/BENCHMARKS.md keeps the dated results.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import boneturnover as bt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_population import cluster_run, population  # noqa: E402

SPEEDUP_TARGET = 1.8
COMPILE_TARGET_S = 30.0


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


_FIRST_CALL = """
import time
t = time.perf_counter()
import boneturnover as bt
sc = bt.scenario_from_dict({"years": 1, "patient": {"age": 40}, "regimen": "denosumab"})
bt.simulate(sc)
print(time.perf_counter() - t)
"""


def _first_call_s(cache: str) -> float:
    env = dict(os.environ, BONETURNOVER_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--cluster-subjects", type=int, default=10_000)
    ap.add_argument("--no-cluster", action="store_true", help="skip the scaling row")
    ap.add_argument("--no-compile", action="store_true", help="skip the first-compile row")
    args = ap.parse_args()

    def dosed(compartment: str, amount: str, every: str) -> bt.Scenario:
        return bt.scenario_from_dict({"years": 10, "patient": {"age": 40}, "dose": [
            {"compartment": compartment, "amount": amount, "every": every}]})

    deno = dosed("denosumab_sc", "60 mg", "6 months")
    teri = dosed("teriparatide_sc", "20 ug", "1 d")
    rows = []
    for name, sc, target, obm, repeat in [
            ("denosumab q6m x20, 10 y", deno, 0.016, 0.16, 20),
            ("teriparatide daily, 10 y", teri, 0.7, 7.3, 3)]:
        cold = _timed(lambda sc=sc: bt.simulate(sc))
        warm = min(_timed(lambda sc=sc: bt.simulate(sc)) for _ in range(repeat))
        rows.append((name, cold, warm, _peak_mib(lambda sc=sc: bt.simulate(sc)), target, obm))
    pop = population(max(args.patients, 0 if args.no_cluster else args.cluster_subjects))
    local = pop.iloc[:args.patients].reset_index(drop=True)
    cold = _timed(lambda: bt.simulate(deno, population=local.iloc[:8]))
    warm = _timed(lambda: bt.simulate(deno, population=local))
    peak = _peak_mib(lambda: bt.simulate(deno, population=local.iloc[:256]))
    rows.append((f"{args.patients} patients x 10 y denosumab, 8 params 30% CV", cold, warm,
                 peak, 8.0 * args.patients / 1000, 82.0 * args.patients / 1000))

    head = (f"{'case':<52} {'cold s':>8} {'warm s':>8} {'peak MiB':>9} {'target s':>9} "
            f"{'OBM s':>7} {'OBM/warm':>9}")
    print(head)
    print("-" * len(head))
    for name, c, w, m, t, o in rows:
        flag = "" if w <= t else "  (target missed)"
        print(f"{name:<52} {c:8.3f} {w:8.3f} {m:9.1f} {t:9.3f} {o:7.2f} {o / w:9.1f}{flag}")
    print(f"  (peak of the population row: one chunk of {min(256, args.patients)} patients, "
          "with its output table)")

    if not args.no_cluster:
        big = pop.iloc[:args.cluster_subjects].reset_index(drop=True)
        print(f"\nscaling: {args.cluster_subjects} patients x 10 y on a LocalCluster "
              "(single-threaded worker processes, parquet partitions)")
        one = cluster_run(deno, big, 1)
        two = cluster_run(deno, big, 2)
        flag = "" if one / two >= SPEEDUP_TARGET else "  (target missed)"
        print(f"  speed-up 2 vs 1 worker: {one / two:.2f}x (target >= {SPEEDUP_TARGET}x){flag}")

    if not args.no_compile:
        with tempfile.TemporaryDirectory() as cache:
            first = _first_call_s(cache)
            again = _first_call_s(cache)
        flag = "" if first <= COMPILE_TARGET_S else "  (target missed)"
        print(f"\nfirst call, empty compile cache (generate + compile, then a 1-year run): "
              f"{first:.1f} s (target < {COMPILE_TARGET_S:.0f} s){flag}")
        print(f"first call of a later process (code loaded from the cache): {again:.1f} s")


if __name__ == "__main__":
    main()
