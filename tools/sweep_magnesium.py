"""Evaluate the magnesium validation checks under parameter overrides.

Each argument is a JSON object of model parameter overrides; each is applied to every
simulation behind the ``mg_*`` checks of ``boneturnover validate`` and, with ``--loss``,
to the 5-year excess spine BMD loss at 150, 125 and 100 mg/day. Example (the session-3
behaviour, for comparison with the defaults)::

    python tools/sweep_magnesium.py '{}' \
        '{"mg_pt_growth_gate": 0, "mg_cell_dep_thr_mmol_l": 0.85, "mg_oc_dep_slope": 0.2}'

About 5-10 s per override set on 2 cores. A trailing ``!`` marks a failing check.
"""

from __future__ import annotations

import json
import sys

import boneturnover.validate_magnesium as vm
from boneturnover.validate import overridden_model


def _run(overrides: dict[str, float], loss: bool) -> str:
    out = []
    with overridden_model(overrides):
        for c in vm.MAGNESIUM_CHECKS:
            x = c.compute()
            out.append(f"{c.id}={x:.3g}{'' if c.low <= x <= c.high else '!'}")
        if loss:
            a = vm._bmd_loss_pct(None)
            out += [f"excess_loss_{d}={vm._bmd_loss_pct(d) - a:.2f}" for d in (150, 125, 100)]
    return json.dumps(overrides) + "\n  " + "\n  ".join(out)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--loss"]
    for a in args or ["{}"]:
        print(_run(json.loads(a), "--loss" in sys.argv))


if __name__ == "__main__":
    main()
