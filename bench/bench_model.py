"""Benchmark of the model solver: absolute times, targets and OpenBoneMin side by side.

Prints, cold (first call in this process, numba machine code loaded or compiled)
and warm, absolute times and the ratio to each target:

* one 10-year run with 20 denosumab doses (target < 16 ms; OpenBoneMin 0.16 s)
* one 10-year run with daily teriparatide (target < 0.7 s; OpenBoneMin 7.3 s)
* 1,000 patients x 10 years on denosumab, 8 parameters varied (target < 8 s; OpenBoneMin 82 s)

OpenBoneMin figures: OpenBoneMin on R/mrgsolve (LSODA, compiled C++), the same cases run
side by side on the same hardware. Run: ``python bench/bench_model.py`` (``--patients N``
to change the population size); docs/BENCHMARKS.md keeps the dated results.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import boneturnover as bt

VARIED = ["k_ob_removal", "oc_apoptosis_base", "k_rankl_out", "k_opg_out", "den_ka", "den_vmax",
          "k_bmd_spine", "oral_calcium"]


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=1000)
    args = ap.parse_args()
    deno = bt.scenario_from_dict({"years": 10, "patient": {"age": 40},
                               "dose": [{"compartment": "denosumab_sc", "amount": "60 mg",
                                         "every": "6 months"}]})
    teri = bt.scenario_from_dict({"years": 10, "patient": {"age": 40},
                               "dose": [{"compartment": "teriparatide_sc", "amount": "20 ug",
                                         "every": "1 d"}]})
    rows = []
    for name, sc, target, obm in [("denosumab q6m x20, 10 y", deno, 0.016, 0.16),
                                  ("teriparatide daily, 10 y", teri, 0.7, 7.3)]:
        cold = _timed(lambda sc=sc: bt.simulate(sc))
        warm = min(_timed(lambda sc=sc: bt.simulate(sc)) for _ in range(3))
        rows.append((name, cold, warm, target, obm))
    rng = np.random.default_rng(1)
    spec = bt.load_model()
    pop = pd.DataFrame({p: spec.parameter(p).value * np.exp(0.1 * rng.standard_normal(
        args.patients)) for p in VARIED})
    cold = _timed(lambda: bt.simulate(deno, population=pop.iloc[:8]))
    warm = _timed(lambda: bt.simulate(deno, population=pop))
    rows.append((f"{args.patients} patients x 10 y, denosumab, 8 params varied", cold, warm,
                 8.0 * args.patients / 1000, 82.0 * args.patients / 1000))
    print(f"{'benchmark':<55} {'cold s':>9} {'warm s':>9} {'target s':>9} {'warm/target':>12} "
          f"{'OpenBoneMin s':>14} {'OBM/warm':>9}")
    for name, c, w, t, o in rows:
        print(f"{name:<55} {c:9.4f} {w:9.4f} {t:9.3f} {w / t:12.2f} {o:14.2f} {o / w:9.2f}")
    print("\n(cold = first call in a fresh process; includes loading cached machine code, "
          "or compiling it on the very first run after install)")


if __name__ == "__main__":
    main()
