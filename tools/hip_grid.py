"""The hip checks of `boneturnover validate` with the hip-ageing research variant
(tools/variants/hip_ageing.toml), on a grid of its three sizes.

For each setting: the untreated total hip decline at 67-70 and 85-89 (SOF), its ratio,
the SWAN hip loss, the hip gains of FREEDOM, HORIZON, MORE, FPT and FRAME, and the number
of the 121 checks that pass. docs/CALIBRATION.md ("The hip's age course") gives the
results and what they mean.

    python tools/hip_grid.py [--set NAME=VALUE ...] [--grid NAME=V1,V2 ...]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from boneturnover.model.system import BoneModel
from boneturnover.validation.checks import run_validation
from boneturnover.validation.commands import parse_overrides
from boneturnover.validation.runs import Runs

VARIANT = Path(__file__).resolve().parent / "variants" / "hip_ageing.toml"
GRID = {"hip_deficit_max": [0.3, 0.5], "hip_deficit_a50_y": [85.0, 90.0],
        "hip_deficit_gamma": [8.0, 16.0]}
HIP = [("abs_hip_loss_sof_67_69", "SOF 67-70"), ("abs_hip_loss_sof_85", "SOF 85-89"),
       ("abs_hip_loss_accelerates", "ratio"), ("abs_swan_hip_10y", "SWAN"),
       ("freedom_hip_bmd_36mo", "FREEDOM"), ("horizon_hip_bmd_36mo", "HORIZON"),
       ("more_hip_bmd_36mo", "MORE"), ("fpt_hip_bmd_21mo", "FPT"),
       ("frame_hip_bmd_12mo", "FRAME")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a parameter value for every setting (repeat for several)")
    ap.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                    help="replace the default grid (repeat for several parameters)")
    args = ap.parse_args()
    fixed = parse_overrides(args.set)
    grid = GRID if not args.grid else {
        k: [float(v) for v in vs.split(",")]
        for k, vs in (g.split("=", 1) for g in args.grid)}
    variant = BoneModel.with_modules(VARIANT)
    print(" ".join(f"{n:>8}" for n in grid) + "  " + " ".join(f"{h:>9}" for _, h in HIP)
          + "  passed")
    settings = [None] + [dict(zip(grid, vals, strict=True))
                         for vals in itertools.product(*grid.values())]
    for values in settings:
        if values is None:  # the bundled model
            res = run_validation(fixed)
            label = " ".join(f"{'-':>8}" for _ in grid)
        else:
            m = BoneModel(variant.spec.with_values({**fixed, **values}),
                          modules=variant.modules)
            res = run_validation(runs=Runs(m))
            label = " ".join(f"{v:8g}" for v in values.values())
        by = {r.check.id: r for r in res}
        cells = " ".join(f"{by[c].value:8.3g}{'+' if by[c].passed else '-'}" for c, _ in HIP)
        print(f"{label}  {cells}  {sum(r.passed for r in res):6d}", flush=True)
    print("(+ passes, - fails; SOF and SWAN untreated, the trials' hip gains placebo-adjusted "
          "as `validate` computes them)")


if __name__ == "__main__":
    main()
