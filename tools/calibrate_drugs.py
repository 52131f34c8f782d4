"""Calibrate the bisphosphonate PD parameters to published marker responses.

Fits ``bp_emax`` and the potencies of ibandronate, risedronate and
zoledronate relative to alendronate, for a woman aged 70 with menopause at 51
(placebo-adjusted: treated vs the same woman untreated), to:

* TRIO (Naylor 2016), serum CTX-I at 12 weeks: alendronate 70 mg weekly about -75%,
  ibandronate 150 mg monthly about -70%, risedronate 35 mg weekly about -55%;
* HORIZON (Delmas 2009): CTX-I about -59% vs placebo 12 months after 5 mg zoledronate.

The skeletal pool rates and ``bp_ec50_nmol`` are set (see FIXED), not fitted:
``bp_k_resorb`` from skeletal turnover (about 10 %/year), ``bp_k_bury``,
``bp_k_desorb`` and ``bp_ec50_nmol`` by hand against the time course (seed:B21, B26,
B27; see docs/CALIBRATION.md). ``python tools/calibrate_drugs.py '{"bp_k_bury": 2e-4}'``
refits with other fixed values.

BMD endpoints are not used here: `boneturnover validate` checks them as predictions.
Run: ``python tools/calibrate_drugs.py`` (about 10 s); it prints the fitted values,
which are then written into ``model/library/drugs.toml`` by hand with this provenance.
With ``--validate`` it then runs every ``boneturnover validate`` check with the fixed
and fitted values together (as ``boneturnover validate --set ...`` would) and prints
the failing checks (how a model variant is measured; docs/CALIBRATION.md).
"""

from __future__ import annotations

import json
import sys

import numpy as np
from scipy.optimize import least_squares

import boneturnover as bt
from boneturnover.validation import run_definitions, run_validation

#: The trial woman of the validation runs (aged 70, menopause at 51).
PATIENT = dict(run_definitions()["untreated"]["patient"])
NAMES = ("bp_emax", "iba_potency", "ris_potency", "zol_potency")
#: Set, not fitted: weekly alendronate puts about 900 nmol/week on bone surfaces
#: (70 mg x 0.64% x 50%).
FIXED = {"bp_ec50_nmol": 600.0, "bp_k_bury": 2.0e-4, "bp_k_desorb": 3.0e-4}


def ctx_change(params: dict[str, float], drug: str, days: list[float]) -> np.ndarray:
    """Placebo-adjusted CTX-I change (%) on the named regimen ``drug`` at ``days``."""
    base = {"years": 1.01, "output_every": "1 d", "patient": PATIENT, "parameters": params}
    u = bt.simulate(bt.scenario_from_dict(base)).frame
    t = bt.simulate(bt.scenario_from_dict({**base, "regimen": drug})).frame
    idx = [int(round(d)) for d in days]
    return 100.0 * (t["ctx_ng_l"].to_numpy()[idx] / u["ctx_ng_l"].to_numpy()[idx] - 1.0)


def residuals(x: np.ndarray) -> np.ndarray:
    p = dict(zip(NAMES, np.exp(x), strict=True)) | FIXED
    aln = ctx_change(p, "alendronate", [84])
    return np.array([
        (aln[0] + 75.0) / 5.0,
        (ctx_change(p, "ibandronate", [84])[0] + 70.0) / 5.0,
        (ctx_change(p, "risedronate", [84])[0] + 55.0) / 5.0,
        (ctx_change(p, "zoledronate", [364])[0] + 59.0) / 5.0,
    ])


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--validate"]
    if args:
        FIXED.update(json.loads(args[0]))
    print("fixed:", FIXED)
    x0 = np.log([2.0, 1.0, 0.3, 0.1])
    fit = least_squares(residuals, x0, diff_step=0.05, max_nfev=60)
    fitted = {}
    for name, value in zip(NAMES, np.exp(fit.x), strict=True):
        fitted[name] = float(f"{value:.4g}")
        print(f"{name} = {value:.4g}")
    print("residuals (in units of 5 percentage points):", np.round(fit.fun, 2))
    if "--validate" in sys.argv:
        results = run_validation({**FIXED, **fitted})
        for r in results:
            if not r.passed:
                print(f"FAIL {r.check.id}: {r.value:.4g} {r.check.unit} (target {r.check.target})")
        print(f"{sum(r.passed for r in results)} passed, {sum(not r.passed for r in results)} "
              "failed")


if __name__ == "__main__":
    main()
