"""A scenario's ``[[treatment]]`` entries: drug + regimen -> a validated :class:`Dose`.

Example::

    [[treatment]]
    drug = "alendronate"
    dose = "70 mg"
    every = "1 week"          # optional when the label has one interval for this dose
    start = "0 d"             # default 0 d
    stop = "36 months"        # doses fall strictly before stop; omit: to the end
    intake = "fasting_30min"  # oral bisphosphonates: fasting_2h (default), fasting_1h, ...
    adherence = 0.8           # fraction of doses taken (default 1)

Each entry becomes one ``Dose(target, amount, unit, time_h=start, every_h, until_h=stop,
duration_h=infusion, factor=intake factor, skip=missed doses)``. Impossible input raises
:class:`~boneturnover.errors.ScenarioError` naming the entry, the field, the value and
what was expected; input that is possible but unlike the label adds a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dosing import COMPARTMENTS, Dose
from ..errors import ScenarioError, UnitError
from ..knowledge.drugs import (
    Drug,
    LabelledRegimen,
    Route,
    drug_catalog,
    parse_amount,
    parse_duration_h,
)
from ..units import convert, shown

__all__ = ["Treatment", "TREATMENT_KEYS", "PATTERNS", "parse_treatments", "missed_indices",
           "format_duration", "check_dose_records", "label_for_target"]

#: Keys a ``[[treatment]]`` table may hold.
TREATMENT_KEYS = frozenset({
    "drug", "dose", "every", "start", "stop", "route", "intake", "salt", "infusion",
    "adherence", "adherence_pattern", "seed", "missed"})
#: Adherence patterns: "even" spreads the missed doses evenly (deterministic); "random"
#: picks them at random positions with ``seed`` (reproducible).
PATTERNS = ("even", "random")
#: A dose more than this many times the labelled maximal single dose is refused.
REFUSE_ABOVE_MAX = 10.0
#: A dose above this or below ``WARN_BELOW`` times the label dose (same interval) warns.
WARN_ABOVE, WARN_BELOW = 2.0, 0.25
#: Intervals within this relative distance of a labelled one count as that interval.
INTERVAL_TOLERANCE = 0.1
_H_PER_MONTH = 30.4375 * 24.0
#: Dose targets with no drug of their own, checked against the label of a drug that puts
#: the same molecule into the model: PTH into plasma is compared, in moles, with
#: teriparatide (PTH 1-34) at its labelled 20 ug daily.
PROXY_LABELS = {"pth_plasma": ("teriparatide", "sc")}


@dataclass(frozen=True)
class Treatment:
    """One parsed ``[[treatment]]`` entry, kept for reports.

    Attributes
    ----------
    index
        1-based position among the scenario's ``[[treatment]]`` entries.
    drug, route, target
        Catalogue key, route key and model dose target.
    dose
        The dose as written (``"70 mg"``; the salt's mass when ``salt`` is given).
    every_h, start_h, stop_h
        Interval, first dose and end of the course (h from time 0; ``stop_h`` None: to
        the end).
    intake, salt
        Intake condition (oral bisphosphonates) and salt (supplements), or None.
    infusion_h
        Infusion duration (h; None: bolus).
    adherence, adherence_pattern, seed
        Fraction of doses taken, how the missed ones are placed, the random seed.
    missed
        1-based dose numbers the entry lists as not taken.
    scheduled
        Doses scheduled inside the simulation before adherence.
    record
        The :class:`~boneturnover.dosing.Dose` given to the model.
    """

    index: int
    drug: str
    route: str
    target: str
    dose: str
    every_h: float
    start_h: float
    stop_h: float | None
    intake: str | None
    salt: str | None
    infusion_h: float | None
    adherence: float
    adherence_pattern: str
    seed: int
    missed: tuple[int, ...]
    scheduled: int
    record: Dose

    @property
    def label(self) -> str:
        """``[[treatment]] #2 (denosumab)``: how messages name this entry."""
        return f"[[treatment]] #{self.index} ({self.drug})"

    @property
    def taken(self) -> int:
        """Doses taken inside the simulation."""
        return self.scheduled - len([k for k in self.record.skip if k < self.scheduled])


def format_duration(hours: float) -> str:
    """``"6 months"`` when a whole number of months, else days (``"10 d"``)."""
    months = hours / _H_PER_MONTH
    if hours > 0 and abs(months - round(months)) < 1e-9:
        return f"{round(months)} months"
    return f"{hours / 24.0:g} d"


def missed_indices(n: int, adherence: float, pattern: str, seed: int) -> frozenset[int]:
    """0-based indices of the doses not taken among ``n`` scheduled.

    ``n - floor(adherence * n + 0.5)`` doses are missed (the taken number is
    ``adherence * n`` rounded half up). ``"even"`` places miss ``j`` at
    ``floor((j + 0.5) * n / misses)``; ``"random"`` draws the positions without
    replacement from ``numpy.random.default_rng(seed)``.

    Examples
    --------
    >>> sorted(missed_indices(10, 0.8, "even", 0))
    [2, 7]
    """
    misses = n - math.floor(adherence * n + 0.5)
    if misses <= 0:
        return frozenset()
    if pattern == "random":
        rng = np.random.default_rng(seed)
        return frozenset(int(k) for k in rng.choice(n, size=misses, replace=False))
    return frozenset(math.floor((j + 0.5) * n / misses) for j in range(misses))


def _err(where: str, text: str) -> ScenarioError:
    return ScenarioError(f"{where}: {text}")


def _find_drug(name: Any, where: str) -> Drug:
    cat = drug_catalog()
    known = ", ".join(k for k, d in cat.items() if d.action != "context")
    if not isinstance(name, str) or not name.strip():
        raise _err(where, f"drug {shown(name)} must be a drug name; expected one of {known}")
    drug = cat.lookup(name)
    if drug is None:
        close = cat.suggest(name)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise _err(where, f"drug {shown(name)} is unknown{hint}; expected one of {known}")
    return drug


def _duration(value: Any, where: str, key: str) -> float:
    return parse_duration_h(value, f"{where}: {key}", error=ScenarioError)


def _molar_mass(drug: Drug, target: str | None) -> float | None:
    comp = None if target is None else COMPARTMENTS.get(target)
    if comp is not None and comp.molar_mass_g_mol is not None:
        return comp.molar_mass_g_mol
    return drug.element_molar_mass_g_mol


def _in_unit(amount: float, unit: str, to: str, drug: Drug, target: str | None) -> float:
    return convert(amount, unit, to, molar_mass_g_mol=_molar_mass(drug, target))


def _dose_amount(d: dict[str, Any], drug: Drug, route: Route, where: str,
                 ) -> tuple[float, str, str | None]:
    """Amount and unit delivered (elemental for a salt), and the salt key."""
    if "dose" not in d:
        raise _err(where, f"missing `dose`; expected e.g. dose = '{route.regimens[0].dose}'")
    amount, unit = parse_amount(d["dose"], f"{where}: dose", error=ScenarioError)
    if not (math.isfinite(amount) and amount > 0):
        raise _err(where, f"dose {shown(d['dose'])} must be a positive amount, e.g. "
                   f"'{route.regimens[0].dose}'")
    salt = d.get("salt")
    if salt is None:
        return amount, unit, None
    if not drug.salts:
        raise _err(where, f"salt {shown(salt)}: only supplements take a salt "
                   f"({', '.join(k for k, v in drug_catalog().items() if v.salts)})")
    if salt not in drug.salts:
        raise _err(where, f"salt {shown(salt)} is unknown for {drug.key}; expected one of "
                   f"{', '.join(drug.salts)}")
    try:
        mg = convert(amount, unit, "mg")
    except UnitError:
        raise _err(where, f"dose {shown(d['dose'])} with salt {shown(salt)} must be a mass "
                   "of the salt, e.g. '1250 mg'") from None
    return mg * drug.salts[salt].fraction, "mg", salt


def _label_interval(every_h: float, route: Route) -> list[LabelledRegimen]:
    return [r for r in route.regimens
            if abs(every_h - r.every_h) <= INTERVAL_TOLERANCE * r.every_h]


def _default_every(amount: float, unit: str, drug: Drug, route: Route, where: str) -> float:
    intervals = {r.every_h for r in route.regimens}
    if len(intervals) == 1:
        return route.regimens[0].every_h
    for r in route.regimens:
        try:
            same = math.isclose(_in_unit(amount, unit, r.unit, drug, route.target), r.amount,
                                rel_tol=1e-6)
        except UnitError:
            same = False
        if same:
            return r.every_h
    labelled = ", ".join(f"{r.dose} every {r.every}" for r in route.regimens)
    raise _err(where, f"missing `every`: {drug.key} {route.key} has several labelled "
               f"regimens ({labelled}) and the dose matches none; give every = '1 week'")


def _check_dose(amount: float, unit: str, text: str, every_h: float | None, drug: Drug,
                route: Route, where: str, warnings: list[str]) -> None:
    comp = None if route.target is None else COMPARTMENTS.get(route.target)
    to = comp.unit if comp is not None else route.max_dose.unit
    try:
        _in_unit(amount, unit, to, drug, route.target)
    except UnitError as exc:
        raise _err(where, f"dose {text!r} cannot be converted ({exc}); expected an amount "
                   f"such as '{route.regimens[0].dose}'") from None
    top = route.max_dose
    ratio_max = _in_unit(amount, unit, top.unit, drug, route.target) / top.amount
    if ratio_max > REFUSE_ABOVE_MAX:
        raise _err(where, f"dose {text!r} is {ratio_max:.3g} times the labelled maximal single "
                   f"dose {top.dose} ({top.source}); expected at most "
                   f"{REFUSE_ABOVE_MAX:g} times it")
    if every_h is None:  # a single administration: compared with the maximal single dose
        if ratio_max > WARN_ABOVE:
            warnings.append(f"{where}: single dose {text!r} is {ratio_max:.3g} times the "
                            f"labelled maximal single dose {top.dose} ({top.source})")
        return
    same = _label_interval(every_h, route)
    if not same:
        labelled = ", ".join(f"{r.dose} every {r.every}" for r in route.regimens)
        warnings.append(f"{where}: interval {format_duration(every_h)} is unlike the labelled "
                        f"regimens ({labelled})")
        return
    reg = same[0]
    ratio = _in_unit(amount, unit, reg.unit, drug, route.target) / reg.amount
    if ratio > WARN_ABOVE or ratio < WARN_BELOW:
        warnings.append(f"{where}: dose {text!r} is {ratio:.3g} times the labelled "
                        f"{reg.dose} every {reg.every} ({reg.source})")


def _adherence(d: dict[str, Any], where: str) -> tuple[float, str, int, tuple[int, ...]]:
    f = d.get("adherence", 1.0)
    if isinstance(f, bool) or not isinstance(f, int | float) or not 0.0 <= f <= 1.0:
        raise _err(where, f"adherence {shown(f)} must be a fraction of doses taken, 0 to 1")
    pattern = d.get("adherence_pattern", "even")
    if pattern not in PATTERNS:
        raise _err(where, f"adherence_pattern {shown(pattern)} is unknown; expected one of "
                   f"{', '.join(PATTERNS)}")
    seed = d.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _err(where, f"seed {shown(seed)} must be a non-negative integer")
    missed = d.get("missed", [])
    if not isinstance(missed, list) or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in missed):
        raise _err(where, f"missed {shown(missed)} must be a list of dose numbers counted "
                   "from 1, e.g. [3, 7]")
    if len(set(missed)) != len(missed):
        raise _err(where, f"missed {shown(missed)} lists a dose twice; expected distinct numbers")
    return float(f), pattern, seed, tuple(missed)


def _parse_one(i: int, d: Any, end_h: float, warnings: list[str]) -> Treatment:
    where = f"[[treatment]] #{i}"
    if not isinstance(d, dict):
        raise _err(where, f"{shown(d)} is not a table; expected a table with at least `drug` "
                   "and `dose`")
    if "drug" not in d:
        raise _err(where, "missing `drug`; list them with `boneturnover drugs`")
    drug = _find_drug(d["drug"], where)
    where = f"[[treatment]] #{i} ({drug.key})"
    extra = sorted(set(d) - TREATMENT_KEYS)
    if extra:
        raise _err(where, f"unknown key {shown(extra[0])}; expected one of "
                   f"{', '.join(sorted(TREATMENT_KEYS))}")
    for key in ("route", "intake", "salt", "adherence_pattern"):
        if key in d and not isinstance(d[key], str):
            raise _err(where, f"{key} must be a text (a name such as 'oral'), got "
                       f"{shown(d[key])}")
    route_key = d.get("route", drug.default_route)
    if route_key not in drug.routes:
        raise _err(where, f"route {shown(route_key)} is not a route of {drug.key}; expected "
                   f"one of {', '.join(drug.routes)}")
    route = drug.routes[route_key]
    if route.target is None:
        raise _err(where, f"{drug.key} is recorded as clinical context only (in patient "
                   "records for `boneturnover interpret`); the model has no dose target for it")
    if route.target not in COMPARTMENTS:
        raise _err(where, f"{drug.key} requires the {drug.model or route.target} model "
                   f"(dose target {route.target!r} is not in this model)")
    amount, unit, salt = _dose_amount(d, drug, route, where)
    every_h = (_default_every(amount, unit, drug, route, where) if "every" not in d
               else _duration(d["every"], where, "every"))
    if every_h <= 0:
        raise _err(where, f"every {shown(d['every'])} must be longer than zero, e.g. "
                   "'1 week'")
    _check_dose(amount, unit, str(d["dose"]), every_h, drug, route, where, warnings)
    start_h = _duration(d.get("start", "0 d"), where, "start")
    if not start_h >= 0:
        raise _err(where, f"start {shown(d.get('start'))} must be at or after time 0 (the "
                   "patient at `age`)")
    stop_h = None if "stop" not in d else _duration(d["stop"], where, "stop")
    if stop_h is not None and stop_h <= start_h:
        raise _err(where, f"stop {shown(d['stop'])} must be after start "
                   f"{shown(d.get('start', '0 d'))}")
    if start_h >= end_h:
        warnings.append(f"{where}: start {format_duration(start_h)} is at or after the end of "
                        "the simulation; no dose falls inside it")
    intake = d.get("intake")
    if route.intake:
        intake = "fasting_2h" if intake is None else intake
        if intake not in route.intake:
            raise _err(where, f"intake {shown(intake)} is unknown; expected one of "
                       f"{', '.join(route.intake)}")
    elif intake is not None:
        raise _err(where, f"intake {shown(intake)}: only oral bisphosphonates take an intake "
                   "condition")
    factor = 1.0 if intake is None else route.intake[intake].factor
    if "infusion" in d:
        if route_key != "iv":
            raise _err(where, f"infusion {shown(d['infusion'])}: only an IV route takes an "
                       f"infusion (route is {shown(route_key)})")
        infusion_h: float | None = _duration(d["infusion"], where, "infusion") or None
    else:
        infusion_h = route.infusion_default_h
    if infusion_h is not None and infusion_h >= every_h:
        raise _err(where, f"infusion {format_duration(infusion_h)} must be shorter than the "
                   f"interval {format_duration(every_h)}")
    if route.infusion_minimum_h is not None and (infusion_h or 0.0) < route.infusion_minimum_h:
        warnings.append(f"{where}: infusion {format_duration(infusion_h or 0.0)} is shorter than "
                        f"the labelled minimum of {route.infusion_minimum_h * 60:g} min")
    adherence, pattern, seed, missed = _adherence(d, where)
    try:
        Dose(compartment=route.target, amount=amount, unit=unit, time_h=start_h,
             every_h=every_h, until_h=stop_h, duration_h=infusion_h, factor=factor)
    except ScenarioError as exc:
        raise _err(where, str(exc)) from None
    base = Dose(compartment=route.target, amount=amount, unit=unit, time_h=start_h,
                every_h=every_h, until_h=stop_h, duration_h=infusion_h, factor=factor)
    n = len(base.times_h(end_h))
    beyond = [k for k in missed if k > n]
    if beyond:
        warnings.append(f"{where}: missed dose(s) {beyond} beyond the {n} doses scheduled in "
                        "the simulation are ignored")
    skip = missed_indices(n, adherence, pattern, seed) | {k - 1 for k in missed}
    record = Dose(compartment=route.target, amount=amount, unit=unit, time_h=start_h,
                  every_h=every_h, until_h=stop_h, duration_h=infusion_h, factor=factor,
                  skip=frozenset(skip))
    return Treatment(index=i, drug=drug.key, route=route_key, target=route.target,
                     dose=str(d["dose"]), every_h=every_h, start_h=start_h, stop_h=stop_h,
                     intake=intake, salt=salt, infusion_h=infusion_h, adherence=adherence,
                     adherence_pattern=pattern, seed=seed, missed=missed, scheduled=n,
                     record=record)


def _check_overlaps(treatments: Sequence[Treatment]) -> None:
    for j, b in enumerate(treatments):
        for a in treatments[:j]:
            if (a.drug, a.route) != (b.drug, b.route):
                continue
            a_stop = math.inf if a.stop_h is None else a.stop_h
            b_stop = math.inf if b.stop_h is None else b.stop_h
            if a.start_h < b_stop and b.start_h < a_stop:
                raise ScenarioError(
                    f"{b.label}: start {format_duration(b.start_h)} overlaps the course of "
                    f"{a.label} (same drug and route {a.route}, {format_duration(a.start_h)} "
                    f"to {'the end' if a.stop_h is None else format_duration(a_stop)}); "
                    "expected one entry per course, or stop before the next start")


def _check_limits(treatments: Sequence[Treatment], end_h: float, warnings: list[str]) -> None:
    for key, drug in drug_catalog().items():
        lim = drug.limit
        mine = [t for t in treatments if t.drug == key]
        if lim is None or not mine:
            continue
        if lim.course_h is not None:
            total = sum((end_h if t.stop_h is None else t.stop_h) - t.start_h for t in mine)
            if total > lim.course_h * (1 + 1e-9):
                warnings.append(
                    f"{key}: courses add up to {format_duration(total)}, beyond the labelled "
                    f"{format_duration(lim.course_h)} ({lim.meaning}; {lim.source})")
        if lim.doses is not None:
            taken = sum(t.taken for t in mine)
            if taken > lim.doses:
                warnings.append(f"{key}: {taken} doses are taken, beyond the labelled "
                                f"{lim.doses} ({lim.meaning}; {lim.source})")


def label_for_target(target: str) -> tuple[Drug, Route, str] | None:
    """The catalogue drug and route whose label a dose into ``target`` is checked against.

    Returns ``(drug, route, note)`` (``note`` says when the label is a proxy's,
    :data:`PROXY_LABELS`), or None when no drug puts its dose there.
    """
    cat = drug_catalog()
    if target in PROXY_LABELS:
        key, route_key = PROXY_LABELS[target]
        return cat[key], cat[key].routes[route_key], f", checked against the {key} label"
    for drug in cat.values():
        for route in drug.routes.values():
            if route.target == target and route.regimens:
                return drug, route, ""
    return None


def _span(start_h: float, stop_h: float | None) -> str:
    return (f"{format_duration(start_h)} to "
            f"{'the end' if stop_h is None else format_duration(stop_h)}")


def check_dose_records(wheres: Sequence[str], doses: Sequence[Dose],
                       treatments: Sequence[Treatment], end_h: float,
                       warnings: list[str]) -> None:
    """The ``[[treatment]]`` plausibility checks, applied to ``[[dose]]`` records.

    Each record's target is mapped back to the drug that uses it (:func:`label_for_target`):
    a dose more than :data:`REFUSE_ABOVE_MAX` times the labelled maximal single dose is
    refused; an unusual dose or interval warns. A record that duplicates a ``[[treatment]]``
    course (same target, overlapping in time) is refused; two records of one target that
    overlap, and doses outside the simulated time, warn.

    Parameters
    ----------
    wheres
        How messages name each record (``"[[dose]] #2"``), one per dose.
    doses
        The records.
    treatments
        The scenario's parsed treatments.
    end_h
        End of the simulation (h after time 0).
    warnings
        Lines are appended here.

    Raises
    ------
    ScenarioError
        Naming the record, the field, the value and what was expected.
    """
    for where, dose in zip(wheres, doses, strict=True):
        where_c = f"{where} ({dose.compartment})"
        found = label_for_target(dose.compartment)
        if found is not None:
            drug, route, note = found
            where_l = f"{where} ({dose.compartment}{note})"
            if note:  # a proxy: compared in the state's (molar) unit
                amount, unit = dose.amount_in_state_unit(), COMPARTMENTS[dose.compartment].unit
            else:
                amount, unit = dose.amount, dose.unit
            _check_dose(amount, unit, f"{dose.amount:g} {dose.unit}", dose.every_h, drug,
                        route, where_l, warnings)
        stop_h = end_h if dose.until_h is None else min(end_h, dose.until_h)
        if dose.time_h >= end_h:
            warnings.append(f"{where_c}: time {format_duration(dose.time_h)} is at or after "
                            "the end of the simulation; no dose falls inside it")
        elif dose.count is not None and dose.count_before(end_h) < dose.count:
            warnings.append(f"{where_c}: {dose.count_before(end_h)} of the {dose.count} "
                            "doses fall inside the simulation; the others are not simulated")
        elif dose.until_h is not None and dose.every_h is not None and dose.until_h > end_h:
            warnings.append(f"{where_c}: doses from {format_duration(stop_h)} to until "
                            f"{format_duration(dose.until_h)} fall after the end of the "
                            "simulation and are not simulated")
        for t in treatments:
            if t.target != dose.compartment:
                continue
            t_stop = math.inf if t.stop_h is None else t.stop_h
            d_stop = math.inf if dose.until_h is None else dose.until_h
            if dose.every_h is None:
                d_stop = dose.time_h + 1e-9
            if dose.time_h < t_stop and t.start_h < d_stop:
                raise ScenarioError(
                    f"{where_c}: doses from {_span(dose.time_h, dose.until_h)} duplicate the "
                    f"course of {t.label} ({_span(t.start_h, t.stop_h)}, same dose target); "
                    "expected one entry per course")
    for j, b in enumerate(doses):
        for i, a in enumerate(doses[:j]):
            if a.compartment != b.compartment:
                continue
            a_stop = math.inf if a.until_h is None else a.until_h
            b_stop = math.inf if b.until_h is None else b.until_h
            if a.every_h is None or b.every_h is None:
                continue
            if a.time_h < b_stop and b.time_h < a_stop:
                warnings.append(f"{wheres[j]} ({b.compartment}): doses overlap those of "
                                f"{wheres[i]} (same dose target); both are given")


def parse_treatments(raw: Any, end_h: float) -> tuple[tuple[Treatment, ...], tuple[str, ...]]:
    """Validate ``[[treatment]]`` entries of a scenario.

    Parameters
    ----------
    raw
        The parsed TOML value of ``treatment`` (a list of tables).
    end_h
        End of the simulation (h after time 0): the course of an entry without ``stop``,
        and the horizon within which adherence counts doses.

    Returns
    -------
    treatments, warnings
        One :class:`Treatment` per entry (its ``record`` is the model's dose), and the
        warnings (possible but unlike the label) as one line each.

    Raises
    ------
    ScenarioError
        Input that cannot be used, naming the entry, the field, the value and what
        was expected.
    """
    if not isinstance(raw, list):
        raise ScenarioError(f"treatment = {shown(raw)}: treatment entries must be written as "
                            "[[treatment]] tables")
    warnings: list[str] = []
    treatments = [_parse_one(i, d, end_h, warnings) for i, d in enumerate(raw, start=1)]
    _check_overlaps(treatments)
    _check_limits(treatments, end_h, warnings)
    return tuple(treatments), tuple(warnings)
