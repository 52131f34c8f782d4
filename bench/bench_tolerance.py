"""Steps and output error of daily teriparatide against the integrator's tolerance.

One year of teriparatide 20 ug daily from age 40, solved at each ``rtol`` and compared with
a solve at rtol 1e-10 over the daily rows: accepted steps, the largest relative error of
each marker, BMD and serum calcium, and the warm time (best of three). docs/ENGINE.md
explains why the default tolerance is 3e-5.

    python bench/bench_tolerance.py [--years 1] [--rtol 3e-5 1e-4 1e-3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import boneturnover as bt
from boneturnover.model.system import BoneModel

COLUMNS = ("ctx_ng_l", "p1np_ug_l", "bsap_ug_l", "trap5b_u_l", "bmd_spine_g_cm2",
           "bmd_hip_g_cm2", "calcium_mmol_l")


class _Counted(BoneModel):
    """The model with a step limit for the reference solve and its step counts kept."""

    max_steps = 200_000
    steps = 0

    def _run(self, *args):  # type: ignore[no-untyped-def]
        args = (*args[:-1], self.max_steps)
        y_end, status, stats = super()._run(*args)
        self.steps = int(stats[:, 0].sum())
        return y_end, status, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--rtol", type=float, nargs="+", default=[3e-5, 1e-4, 1e-3])
    args = ap.parse_args()
    sc = bt.scenario_from_dict({"years": args.years, "patient": {"age": 40}, "dose": [
        {"compartment": "teriparatide_sc", "amount": "20 ug", "every": "1 d"}]})
    ref_model = _Counted(rtol=1e-10)
    ref_model.max_steps = 50_000_000
    ref = bt.simulate(sc, model=ref_model).frame[list(COLUMNS)].to_numpy()
    print(f"reference: rtol 1e-10, {ref_model.steps} accepted steps")
    print(f"{'rtol':>8} {'steps':>8} {'time s':>7}  " + " ".join(f"{c:>15}" for c in COLUMNS))
    for rtol in args.rtol:
        m = _Counted(rtol=rtol)
        bt.simulate(sc, model=m)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            out = bt.simulate(sc, model=m).frame[list(COLUMNS)].to_numpy()
            best = min(best, time.perf_counter() - t)
        err = np.abs(out / ref - 1).max(axis=0)
        print(f"{rtol:8.0e} {m.steps:8d} {best:7.3f}  " + " ".join(f"{e:15.1e}" for e in err))


if __name__ == "__main__":
    main()
