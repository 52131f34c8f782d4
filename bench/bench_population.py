"""Benchmark of a virtual population: locally, and on a Dask LocalCluster of 1 and 2 workers.

Prints

* the local run: N subjects (default 1,000) x 10 years of denosumab 60 mg every 6 months,
  8 parameters varied log-normally at 30 % CV around their bundled values; wall time and
  its ratio to OpenBoneMin on R/mrgsolve's 82 s for the same job (1,000 subjects; scaled
  linearly to N);
* the scaling row: M subjects (default 10,000) on a LocalCluster of worker processes with
  1 thread each, with 1 and with 2 workers, written as parquet partitions to a temporary
  folder; wall times and the speed-up (target at least 1.8x). Workers load the compiled
  integrator before the clock starts (from the on-disk cache).

Run ``python bench/bench_population.py`` (``--subjects N``, ``--cluster-subjects M``,
``--years Y`` for a shorter run; ``--no-cluster`` for the local row only).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import boneturnover as bt

#: The parameters varied (as in bench/bench_model.py): bone remodelling, RANKL/OPG,
#: denosumab absorption and clearance, BMD, calcium intake.
VARIED = ["k_ob_removal", "oc_apoptosis_base", "k_rankl_out", "k_opg_out", "den_ka", "den_vmax",
          "k_bmd_spine", "oral_calcium"]
CV = 0.30
#: OpenBoneMin (R/mrgsolve, LSODA, compiled C++), 1,000 subjects x 10 years, same job.
OPENBONEMIN_S = 82.0
SPEEDUP_TARGET = 1.8


def population(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` subjects, each of :data:`VARIED` log-normal (median: bundled value, CV 30 %)."""
    spec = bt.load_model()
    sigma = float(np.sqrt(np.log1p(CV**2)))
    rng = np.random.default_rng(seed)
    return pd.DataFrame({p: spec.parameter(p).value * np.exp(sigma * rng.standard_normal(n))
                         for p in VARIED})


def scenario(years: float, age: float, menopause_age: float | None) -> bt.Scenario:
    patient: dict[str, float] = {"age": age}
    if menopause_age is not None:
        patient["menopause_age"] = menopause_age
    return bt.scenario_from_dict({"years": years, "patient": patient,
                                  "regimen": "denosumab"})


def cluster_run(sc: bt.Scenario, pop: pd.DataFrame, workers: int) -> float:
    """Wall time (s) of the population on a LocalCluster of ``workers`` single-threaded ones."""
    from dask.distributed import Client, LocalCluster, get_task_stream

    from boneturnover.cluster import warm_up

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client, \
            tempfile.TemporaryDirectory() as tmp:
        warm_up(client)
        t = time.perf_counter()
        with get_task_stream(client) as stream:
            res = bt.simulate(sc, population=pop, client=client, throw=False,
                              out=Path(tmp) / "r")
        wall = time.perf_counter() - t
    busy = sum(s["stop"] - s["start"] for task in stream.data for s in task["startstops"]
               if s["action"] == "compute")
    failed = sum(bool(r) for r in res.reasons)
    print(f"  {workers} worker(s): {wall:8.2f} s  ({len(pop) / wall:6.2f} subjects/s, "
          f"{len(stream.data)} tasks, workers busy {busy / (wall * workers):.0%} of the wall "
          f"time, {failed} failed)")
    return wall


def local_run(sc: bt.Scenario, pop: pd.DataFrame, years: float) -> float:
    """Wall time (s) of the population in this process (numba threads on every core)."""
    bt.simulate(sc, population=pop.iloc[:2], throw=False)  # compile or load the kernel
    t = time.perf_counter()
    res = bt.simulate(sc, population=pop, throw=False)
    wall = time.perf_counter() - t
    n = len(pop)
    obm = OPENBONEMIN_S * n / 1000 * years / 10
    failed = sum(bool(r) for r in res.reasons)
    print(f"local: {n} subjects x {years:g} y denosumab q6m, {len(VARIED)} parameters at "
          f"{CV:.0%} CV: {wall:.2f} s ({n / wall:.2f} subjects/s, {failed} failed, "
          f"{len(res.frame):,} rows)")
    print(f"  OpenBoneMin/mrgsolve {obm:.1f} s for the same job (82 s per 1,000 x 10 y, "
          f"scaled): ratio boneturnover/OpenBoneMin = {wall / obm:.2f}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=1000, help="local run (default 1000)")
    ap.add_argument("--cluster-subjects", type=int, default=10_000,
                    help="scaling row (default 10000)")
    ap.add_argument("--years", type=float, default=10.0)
    ap.add_argument("--age", type=float, default=40.0,
                    help="patient age (default 40, premenopausal as in OpenBoneMin's runs)")
    ap.add_argument("--menopause-age", type=float, default=None,
                    help="menopause age (default none: no untreated history)")
    ap.add_argument("--no-cluster", action="store_true", help="the local row only")
    ap.add_argument("--no-local", action="store_true", help="the scaling row only")
    args = ap.parse_args()

    sc = scenario(args.years, args.age, args.menopause_age)
    pop = population(max(args.subjects, args.cluster_subjects))
    if not args.no_local:
        local_run(sc, pop.iloc[:args.subjects].reset_index(drop=True), args.years)
    if args.no_cluster:
        return
    big = pop.iloc[:args.cluster_subjects].reset_index(drop=True)
    print(f"LocalCluster, {args.cluster_subjects} subjects x {args.years:g} y, parquet "
          "partitions:")
    one = cluster_run(sc, big, 1)
    two = cluster_run(sc, big, 2)
    print(f"  speed-up 2 vs 1 worker: {one / two:.2f}x (target >= {SPEEDUP_TARGET}x)")


if __name__ == "__main__":
    main()
