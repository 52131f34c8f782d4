"""Evaluate the magnesium validation checks under parameter overrides.

Each argument is a JSON object of model parameter overrides; each is applied to every
simulation behind the ``mg_*`` checks of ``boneturnover validate`` and, with ``--loss``,
to the 5-year excess spine BMD loss at 150, 125 and 100 mg/day. Example (the magnesium
model without the growth gate, for comparison with the defaults)::

    python tools/sweep_magnesium.py '{}' \
        '{"mg_pt_growth_gate": 0, "mg_cell_dep_thr_mmol_l": 0.85, "mg_oc_dep_slope": 0.2}'

A trailing ``!`` marks a failing check.
"""

from __future__ import annotations

import json
import sys

import boneturnover as bt
from boneturnover.validation import Runs, checks
from boneturnover.validation.measures import evaluate
from boneturnover.validation.runs import run_scenario

FIVE_YEARS_D = 5 * 365.25


def _excess_loss(runs: Runs, intake: float) -> float:
    """5-year spine BMD loss at ``intake`` mg/day minus the loss at adequate intake (%)."""
    woman = run_scenario("mg_adequate", parameters={"mg_intake_mg_day": float(intake)})
    df = bt.simulate(woman, model=runs.model).frame
    lost = 100.0 * (1.0 - float(df["bmd_spine_g_cm2"].iloc[-1])
                    / float(df["bmd_spine_g_cm2"].iloc[0]))
    return lost - evaluate(runs, {"measure": "loss", "run": "mg_adequate",
                                  "output": "bmd_spine_g_cm2", "day": FIVE_YEARS_D})


def _run(overrides: dict[str, float], loss: bool) -> str:
    runs = Runs(bt.BoneModel(bt.load_model().with_values(overrides)))
    out = []
    for c in checks():
        if c.id.startswith("mg_"):
            x = c.compute(runs)
            out.append(f"{c.id}={x:.3g}{'' if c.low <= x <= c.high else '!'}")
    if loss:
        out += [f"excess_loss_{d}={_excess_loss(runs, d):.2f}" for d in (150, 125, 100)]
    return json.dumps(overrides) + "\n  " + "\n  ".join(out)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--loss"]
    for a in args or ["{}"]:
        print(_run(json.loads(a), "--loss" in sys.argv))


if __name__ == "__main__":
    main()
