"""The denosumab rebound and the bisphosphonate plateaus on a bounded matrix TGF-beta store,
with and without the osteomorph variant (tools/variants/osteomorphs.toml).

For each variant: CTX-I at the last pre-dose trough (day 540) and 6 months after the
omitted dose (day 913) of the `denosumab_stop` run, the largest CTX-I after the omitted
dose and its day, P1NP at day 913 (all % of the run's day 0), and weekly alendronate's
CTX-I and P1NP at 3 years against 1 year (`abs_aln_*_plateau`). docs/CALIBRATION.md
("The bisphosphonate marker drift") gives the results and what they mean.

    python tools/rebound_grid.py [--store 1 10] [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

import boneturnover as bt
from boneturnover.model.system import BoneModel
from boneturnover.validation.commands import parse_overrides
from boneturnover.validation.runs import run_scenario

VARIANT = Path(__file__).resolve().parent / "variants" / "osteomorphs.toml"
GRID = {"om_k_fusion": [1.5e-3, 3e-3], "om_fusion_s50": [1.05, 1.15],
        "om_divert_s50": [0.3, 0.5, 0.7]}


def model(values: dict[str, float], variant: BoneModel | None) -> BoneModel:
    """The bundled model, or ``variant``'s modules, with ``values`` replaced."""
    if variant is None:
        return BoneModel(bt.load_model().with_values(values))
    return BoneModel(variant.spec.with_values(values), modules=variant.modules)


def _at(day: np.ndarray, d: float) -> int:
    return int(np.argmin(abs(day - d)))


def row(m: BoneModel) -> str:
    f = bt.simulate(run_scenario("denosumab_stop"), model=m).frame
    day, ctx, p1np = f["time_d"].to_numpy(), f["ctx_ng_l"].to_numpy(), f["p1np_ug_l"].to_numpy()

    def pct(x: np.ndarray, i: int, ref: int = 0) -> float:
        return 100 * (x[i] / x[ref] - 1)

    after = day >= 730
    k = int(np.flatnonzero(after)[np.argmax(ctx[after])])
    a = bt.simulate(run_scenario("alendronate"), model=m).frame
    ad, actx, ap1 = a["time_d"].to_numpy(), a["ctx_ng_l"].to_numpy(), a["p1np_ug_l"].to_numpy()
    y1, y3 = _at(ad, 365), _at(ad, 1095)
    return (f"{pct(ctx, _at(day, 540)):7.1f} {pct(ctx, _at(day, 913)):7.1f} "
            f"{pct(ctx, k):7.1f} {day[k]:5.0f} {pct(p1np, _at(day, 913)):7.1f} "
            f"{pct(actx, y3, y1):7.1f} {pct(ap1, y3, y1):7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=float, nargs="+", default=[1.0, 10.0],
                    help="values of tgfb_matrix_gamma (the bound on the matrix store)")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="NAME=VALUE", help="replace a bundled model parameter's value")
    args = ap.parse_args()
    try:
        extra = parse_overrides(args.overrides)
    except bt.InputError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    variant = BoneModel.with_modules(VARIANT)
    print("variant" + " " * 45 + "ctx540  ctx913  ctxmax  day  p1np913 alnCTX3/1 alnP1NP3/1")
    for g in args.store:
        base = {"tgfb_matrix_gamma": g, **extra}
        print(f"{'bundled core, store bound ' + format(g, 'g'):52s}" + row(model(base, None)),
              flush=True)
        for combo in itertools.product(*GRID.values()):
            values = {**base, **dict(zip(GRID, combo, strict=True))}
            label = "osteomorphs " + " ".join(f"{v:g}" for v in combo)
            print(f"{label:52s}" + row(model(values, variant)), flush=True)


if __name__ == "__main__":
    main()
