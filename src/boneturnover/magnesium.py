"""Magnesium inputs: scenario intake limits, supplement salts, supplement intake rates.

The model side is ``model/library/magnesium.toml`` (docs/MAGNESIUM.md). This module
holds what a scenario or the treatment layer needs: the accepted intake range, the
elemental fraction of magnesium salts, and intake rates of supplements (for the
calcium/magnesium intake ratio output, seed:M10).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .dosing import Dose
from .errors import ScenarioError
from .model.spec import load_model

__all__ = ["INTAKE_LIMITS_MG_DAY", "magnesium_salts", "elemental_magnesium_mg",
           "supplement_rates_mmol_h"]

#: Accepted dietary magnesium intake (mg/day): the bounds of the model parameter
#: ``mg_intake_mg_day`` (``model/library/magnesium.toml``, with their reason: none up to
#: 5 g/day, far above the tolerable upper intake from supplements, 350 mg/day, IOM 1997, and
#: the heaviest diets), so ``[magnesium]`` and ``[parameters]`` check one range.
_INTAKE_BOUNDS = load_model().parameter("mg_intake_mg_day").bounds
INTAKE_LIMITS_MG_DAY = (_INTAKE_BOUNDS.low, _INTAKE_BOUNDS.high)


def magnesium_salts() -> dict[str, float]:
    """Elemental magnesium fraction (by mass) of each known salt.

    The salts are declared once, in the drug catalogue (``knowledge/data/drugs.toml``,
    the magnesium supplement's ``salts``: formula, molar mass, source), which the
    ``[[treatment]]`` layer also uses.

    Returns
    -------
    dict
        Salt name -> fraction (dimensionless).
    """
    from .knowledge.drugs import drug_catalog

    return {name: salt.fraction for name, salt in drug_catalog()["magnesium"].salts.items()}


def elemental_magnesium_mg(amount_mg: float, salt: str | None = None) -> float:
    """Elemental magnesium (mg) in ``amount_mg`` of a salt.

    Parameters
    ----------
    amount_mg
        Mass of the salt (mg); with ``salt`` None, already elemental magnesium (mg).
    salt
        Key of :func:`magnesium_salts` (``"oxide"``, ``"citrate"``, ...), or None.

    Raises
    ------
    ScenarioError
        For an unknown salt (the message lists the known ones) or a negative amount.
    """
    if not np.isfinite(amount_mg) or amount_mg < 0:
        raise ScenarioError(f"magnesium amount {amount_mg!r} mg must be a non-negative number")
    if salt is None:
        return float(amount_mg)
    salts = magnesium_salts()
    if salt not in salts:
        raise ScenarioError(f"magnesium salt {salt!r} is unknown; expected one of "
                            f"{', '.join(sorted(salts))}")
    return float(amount_mg) * salts[salt]


def check_intake_mg_day(value: Any, field: str = "magnesium.intake_mg_day") -> float:
    """Validate a dietary magnesium intake (mg/day); ScenarioError names field and range."""
    low, high = INTAKE_LIMITS_MG_DAY
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ScenarioError(f"{field}: {value!r} is not a number; expected mg/day "
                            f"({low:g} to {high:g})")
    if not low <= value <= high:
        raise ScenarioError(f"{field} = {value!r} is out of range; expected a dietary "
                            f"magnesium intake of {low:g} to {high:g} mg/day")
    return float(value)


def supplement_rates_mmol_h(doses: Sequence[Dose], t_h: np.ndarray, end_h: float,
                            targets: Sequence[str] = ("gut_calcium", "gut_magnesium"),
                            ) -> dict[str, np.ndarray]:
    """Supplement intake rate (mmol/h) per gut target at scenario times ``t_h``.

    Each administration counts as its amount spread over the dose interval (``every``),
    or over one day for a single dose.
    """
    out = {k: np.zeros_like(t_h, dtype=float) for k in targets}
    for d in doses:
        if d.compartment not in out:
            continue
        span = d.every_h or 24.0
        rate = d.amount_in_state_unit() * d.factor / span
        times = np.sort(np.asarray(d.times_h(end_h + span), dtype=float))
        n_in = (np.searchsorted(times, t_h, side="right")
                - np.searchsorted(times, t_h - span, side="right"))
        out[d.compartment] += rate * n_in
    return out
