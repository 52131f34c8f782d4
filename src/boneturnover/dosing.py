"""Dosing as an event schedule (mrgsolve's event records are the familiar idiom).

A :class:`Dose` is one regimen line: an amount with its unit into a model
compartment, at ``time``, repeated ``every`` interval strictly before ``until``
(or ``count`` times), as a bolus or as a zero-order infusion over ``duration``.
:func:`realize` expands it to event rows for the solver. The drug library maps
"denosumab 60 mg SC every 6 months" onto these records; the core needs nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ScenarioError, UnitError
from .limits import MAX_DOSES_PER_SUBJECT, MIN_DOSE_INTERVAL_H, check
from .model.spec import DoseTarget, load_model
from .units import convert
from .units import parse_duration_h as _parse_duration_h

__all__ = ["Dose", "COMPARTMENTS", "realize", "parse_duration_h"]


#: Dose targets a dose can go into, by name (declared in the model's TOML files:
#: ``[dose_targets]`` gives the state, unit, molar mass and per-subject factors).
COMPARTMENTS: Mapping[str, DoseTarget] = load_model().dose_targets


def parse_duration_h(text: str | int | float, field: str) -> float:
    """Parse ``"6 mo"``, ``"1 week"``, ``"36 months"``, ``"12 h"`` into hours.

    The one duration parser (:func:`boneturnover.units.parse_duration_h`), raising
    :class:`~boneturnover.errors.ScenarioError`.
    """
    return _parse_duration_h(text, field, error=ScenarioError)


@dataclass(frozen=True)
class Dose:
    """One dosing record.

    Attributes
    ----------
    compartment
        Key of :data:`COMPARTMENTS`.
    amount, unit
        Amount per administration and its UCUM unit (``60``, ``"mg"``).
    time_h
        First administration, hours after the scenario's time 0.
    every_h
        Interval between administrations (None: single dose).
    until_h
        Doses fall strictly before this time (None: until the end).
    count
        Maximal number of administrations (None: no limit).
    duration_h
        Zero-order infusion duration (None or 0: bolus).
    factor
        Extra multiplier of the amount decided by the regimen, not the subject
        (e.g. the food effect on an oral bisphosphonate); 1 by default.
    skip
        Indices (0-based) of administrations in the series that are not taken
        (missed doses, adherence).
    target
        The dose target when it is not one of the bundled :data:`COMPARTMENTS` (a module
        added with :meth:`~boneturnover.model.system.BoneModel.with_modules`).
    """

    compartment: str
    amount: float
    unit: str
    time_h: float = 0.0
    every_h: float | None = None
    until_h: float | None = None
    count: int | None = None
    duration_h: float | None = None
    factor: float = 1.0
    skip: frozenset[int] = frozenset()
    target: DoseTarget | None = field(default=None, compare=False, repr=False)

    @property
    def dose_target(self) -> DoseTarget:
        """Where the dose goes: state, unit, molar mass, per-subject factors."""
        return self.target if self.target is not None else COMPARTMENTS[self.compartment]

    def __post_init__(self) -> None:
        if self.target is None and (not isinstance(self.compartment, str)
                                    or self.compartment not in COMPARTMENTS):
            shown = self.compartment if isinstance(self.compartment, str) else "a non-text value"
            raise ScenarioError(
                f"dose target {shown!r} is unknown; expected one of "
                f"{', '.join(sorted(COMPARTMENTS))}")
        if not (math.isfinite(self.amount) and self.amount > 0):
            raise ScenarioError(f"dose amount {self.amount!r} must be a positive number, e.g. "
                                "'60 mg'")
        if not (math.isfinite(self.time_h) and self.time_h >= 0):
            raise ScenarioError(f"dose time {self.time_h:g} h must be at or after time 0")
        if self.every_h is not None:
            if not (math.isfinite(self.every_h) and self.every_h > 0):
                raise ScenarioError(f"dose interval `every` {self.every_h:g} h must be longer "
                                    "than zero, e.g. '1 week'")
            check(MIN_DOSE_INTERVAL_H, self.every_h, "the interval `every`")
        if self.until_h is not None and not self.until_h > self.time_h:
            raise ScenarioError(f"dose `until` {self.until_h / 24:g} d must be after the first "
                                f"dose `time` {self.time_h / 24:g} d")
        if self.duration_h is not None:
            if not (math.isfinite(self.duration_h) and self.duration_h >= 0):
                raise ScenarioError(f"infusion `duration` {self.duration_h!r} h must be 0 "
                                    "(a bolus) or longer")
            if self.every_h is not None and self.duration_h >= self.every_h:
                raise ScenarioError(f"infusion `duration` {self.duration_h / 24:g} d must be "
                                    f"shorter than the interval `every` {self.every_h / 24:g} d")
        if not (math.isfinite(self.factor) and self.factor >= 0):
            raise ScenarioError(f"dose factor {self.factor!r} must be a non-negative number")
        if self.count is not None and self.count < 1:
            raise ScenarioError(f"dose count {self.count!r} must be at least 1")
        self.amount_in_state_unit()  # validates the unit early

    def amount_in_state_unit(self) -> float:
        """Amount per administration in the target state's unit (before bioavailability)."""
        comp = self.dose_target
        try:
            return convert(self.amount, self.unit, comp.unit,
                           molar_mass_g_mol=comp.molar_mass_g_mol)
        except UnitError as exc:
            raise ScenarioError(
                f"dose into {self.compartment!r}: {exc}; expected an amount such as "
                f"'20 ug' or '60 mg'") from None

    def count_before(self, end_h: float) -> int:
        """Number of scheduled administrations before ``end_h`` (missed ones included).

        Computed without listing them, so a limit can be checked before any allocation.
        """
        stop = end_h if self.until_h is None else min(end_h, self.until_h)
        if self.time_h >= stop:
            return 0
        if self.every_h is None:
            return 1
        n = math.ceil((stop - self.time_h) / self.every_h)
        while n > 0 and self.time_h + (n - 1) * self.every_h >= stop:  # rounding
            n -= 1
        while self.time_h + n * self.every_h < stop:
            n += 1
        return n if self.count is None else min(n, self.count)

    def times_h(self, end_h: float) -> list[float]:
        """Administration times (h) before ``end_h``.

        Raises
        ------
        LimitError
            More administrations than :data:`boneturnover.limits.MAX_DOSES_PER_SUBJECT`.
        """
        check(MAX_DOSES_PER_SUBJECT, self.count_before(end_h), f"dose into {self.compartment!r}")
        stop = end_h if self.until_h is None else min(end_h, self.until_h)
        if self.every_h is None:
            return [self.time_h] if self.time_h < stop and 0 not in self.skip else []
        out = []
        k = 0
        while True:
            t = self.time_h + k * self.every_h
            if t >= stop or (self.count is not None and k >= self.count):
                break
            if k not in self.skip:
                out.append(t)
            k += 1
        return out


def realize(doses: list[Dose], end_h: float, record: dict[str, float], state_index: dict[str, int],
            offset_h: float = 0.0) -> list[tuple[float, int, int, float]]:
    """Expand doses into solver events ``(time_h, kind, state_index, value)``.

    Bioavailability comes from the subject's parameter ``record``; ``offset_h``
    shifts scenario time to model time (the model starts earlier when it
    simulates the patient's history).
    """
    rows: list[tuple[float, int, int, float]] = []
    for dose in doses:
        comp = dose.dose_target
        f = dose.factor
        for name in comp.factors:
            f *= float(record[name])
        amount = dose.amount_in_state_unit() * f
        idx = state_index[comp.state]
        for t in dose.times_h(end_h):
            if dose.duration_h:
                rate = amount / dose.duration_h
                rows.append((t + offset_h, 1, idx, rate))
                rows.append((t + offset_h + dose.duration_h, 1, idx, -rate))
            else:
                rows.append((t + offset_h, 0, idx, amount))
    return rows
