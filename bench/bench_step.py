"""What one integrator step costs: the generated functions timed in compiled loops.

Prints, for the bundled model at a premenopausal steady state, the CPU time of one call
of the right-hand side, the analytic Jacobian, the sparse fill and factorisation of
``I/(h*gamma) - J`` and one sparse solve, and what a step of RODAS4 spends on them (six
right-hand sides, one Jacobian, one factorisation, six solves) and, for comparison, a
step of ROS4 (three right-hand sides, four solves). CPU time (``process_time``)
of the fastest of five repeats of ``--calls`` calls, so that a busy machine inflates the
figures less than it would wall time.

Run ``python bench/bench_step.py [--calls N]``; docs/ENGINE.md quotes the result.
"""

from __future__ import annotations

import argparse
import time

import numba as nb
import numpy as np

from boneturnover.model.system import get_model
from boneturnover.solve.tableaux import METHODS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20_000)
    args = ap.parse_args()
    m = get_model()
    g, k = m.generated, m.kernel
    rec = m.records(1)
    y0, _ = m.prepare(rec)
    y, p = y0[0].copy(), rec[0]
    n = y.shape[0]
    dy, jac, ft = np.zeros(n), np.zeros((n, n)), np.zeros(n)
    lu, b = np.zeros(k._LU_SIZE), np.ones(n)
    rhs_f, jac_f = g.rhs, g.jac
    fill_f, factor_f, solve_f = k._splu_fill, k._splu_factor, k._splu_solve

    @nb.njit
    def rhs_loop(y, p, dy, reps):
        for _ in range(reps):
            rhs_f(0.0, y, p, dy)

    @nb.njit
    def jac_loop(y, p, jac, ft, reps):
        for _ in range(reps):
            jac_f(0.0, y, p, jac, ft)

    @nb.njit
    def factor_loop(jac, lu, reps):
        ok = True
        for _ in range(reps):
            fill_f(jac, 100.0, lu)
            ok &= factor_f(lu)
        return ok

    @nb.njit
    def solve_loop(lu, b, reps):
        for _ in range(reps):
            solve_f(lu, b)

    jac_f(0.0, y, p, jac, ft)
    cases = [("right-hand side", rhs_loop, (y, p, dy)),
             ("analytic Jacobian", jac_loop, (y, p, jac, ft)),
             ("sparse fill and factorisation", factor_loop, (jac, lu)),
             ("sparse solve", solve_loop, (lu, b))]
    methods = [METHODS["rodas4"], METHODS["ros4"]]
    per_step = {tab.name: (tab.rhs_per_step, 1, 1, tab.stages) for tab in methods}
    print(f"{n} states, {int(m.pattern.sum())} Jacobian entries, {k._LU_SIZE} with fill")
    head = "".join(f" {'per ' + t.name + ' step':>22}" for t in methods)
    print(f"{'part':<32} {'us/call':>8}{head}")
    totals = dict.fromkeys(per_step, 0.0)
    for i, (name, fn, fargs) in enumerate(cases):
        fn(*fargs, 10)  # compile
        best = float("inf")
        for _ in range(5):
            t = time.process_time()
            fn(*fargs, args.calls)
            best = min(best, (time.process_time() - t) / args.calls)
        cells = ""
        for tab in methods:
            calls = per_step[tab.name][i]
            totals[tab.name] += best * calls
            cells += f" {calls:>6d} x = {best * calls * 1e6:8.2f} us"
        print(f"{name:<32} {best * 1e6:8.3f}{cells}")
    cells = "".join(f" {'':>6}     {totals[t.name] * 1e6:8.2f} us" for t in methods)
    print(f"{'these parts of one step':<32} {'':>8}{cells}")


if __name__ == "__main__":
    main()
