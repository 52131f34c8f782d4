"""Scenario files (TOML a person writes by hand) and their validation.

Example::

    years = 10
    [patient]
    age = 50            # years at t = 0
    menopause_age = 51  # final menstrual period; omit for a premenopausal steady state

    [parameters]        # optional: override any model parameter by name
    k_ob_removal = 0.0006

    [magnesium]         # optional: dietary magnesium from time 0 (history: adequate intake)
    intake_mg_day = 150

    [kidney]            # optional: chronic kidney disease (eGFR from 100 mL/min/1.73 m2)
    decline_from_age = 60
    egfr_decline_ml_min_per_year = 4
    egfr_floor_ml_min = 20

    [[dose]]            # optional: dosing events (the drug library builds these too)
    compartment = "denosumab_sc"
    amount = "60 mg"
    every = "6 months"

    [[treatment]]       # optional: a drug and its regimen (boneturnover.drugs)
    drug = "alendronate"
    dose = "70 mg"
    every = "1 week"

Every key is checked; an unknown key, a value out of range, a missing or
malformed file raises :class:`~boneturnover.errors.ScenarioError` naming the
field, the value and what was expected; a run beyond a resource limit
(:mod:`boneturnover.limits`) raises :class:`~boneturnover.errors.LimitError`. A
treatment or dose that is possible but unlike its label adds a line to
:attr:`Scenario.warnings` instead.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import limits
from .dosing import COMPARTMENTS, Dose, parse_duration_h
from .drugs.treatments import Treatment, check_dose_records, parse_treatments
from .errors import InputError, ScenarioError
from .knowledge.regimens import regimen
from .model.spec import ModelSpec, load_model
from .units import DAYS_PER_YEAR, parse_amount

HOURS_PER_YEAR = DAYS_PER_YEAR * 24.0

__all__ = ["Patient", "Scenario", "load_scenario", "scenario_from_dict", "LIMITS"]

#: Accepted ranges: (low, high, reason/source).
LIMITS = {
    "age": (18.0, 100.0, "an adult woman's age in years"),
    "menopause_age": (30.0, 65.0, "natural menopause between 30 and 65 years "
                      "(before 40 is premature ovarian insufficiency; after 65 is not reported)"),
    "years": (0.0, limits.MAX_YEARS.value, "a simulated duration of 0 to 60 years "
              f"({limits.MAX_YEARS.reason})"),
    "premenopausal_bmd_spine_g_cm2": (0.4, 1.8, "a spine BMD in g/cm2"),
    "premenopausal_bmd_hip_g_cm2": (0.3, 1.6, "a hip BMD in g/cm2"),
}


@dataclass(frozen=True)
class Patient:
    """The simulated woman.

    Attributes
    ----------
    age_y
        Age (years) at scenario time 0.
    menopause_age_y
        Age (years) at the final menstrual period, or None for premenopausal.
    premenopausal_bmd_spine_g_cm2, premenopausal_bmd_hip_g_cm2
        BMD at the premenopausal steady state (default: young-adult reference means).
    """

    age_y: float
    menopause_age_y: float | None = None
    premenopausal_bmd_spine_g_cm2: float | None = None
    premenopausal_bmd_hip_g_cm2: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A simulation request: patient, duration, parameter overrides, doses.

    ``doses`` holds the ``[[dose]]`` records followed by one record per
    ``[[treatment]]``; ``treatments`` keeps the parsed treatments for reports and
    ``warnings`` the lines about treatments unlike their label.
    """

    patient: Patient
    years: float = 10.0
    output_every_h: float = 24.0
    parameters: dict[str, float] = field(default_factory=dict)
    doses: tuple[Dose, ...] = ()
    name: str = "scenario"
    treatments: tuple[Treatment, ...] = ()
    warnings: tuple[str, ...] = ()


_TOP_KEYS = {"years", "output_every", "name", "patient", "parameters", "dose", "treatment",
             "magnesium", "regimen", "kidney"}
_MAGNESIUM_KEYS = {"intake_mg_day"}
#: [kidney] key -> (model parameter, factor to its unit, lowest, highest, what it is).
#: eGFR mL/min/1.73 m2 -> the model's GFR in L/h (6 L/h = 100 mL/min, PR2010); a decline
#: per year -> per hour (a Julian year of 8766 h).
_KIDNEY_KEYS = {
    "decline_from_age": ("gfr_decline_from_age_y", 1.0, 0.0, 150.0,
                         "the age in years at which eGFR starts to fall"),
    "egfr_decline_ml_min_per_year": ("gfr_slope_l_h2", 0.06 / 8766.0, 0.0, 60.0,
                                     "the eGFR decline in mL/min/1.73 m2 per year"),
    "egfr_floor_ml_min": ("gfr_floor_l_h", 0.06, 0.0, 99.0,
                          "the eGFR in mL/min/1.73 m2 the decline stops at"),
}
_PATIENT_KEYS = {"age", "menopause_age", "premenopausal_bmd_spine_g_cm2",
                 "premenopausal_bmd_hip_g_cm2"}
_DOSE_KEYS = {"compartment", "amount", "time", "every", "until", "count", "duration"}


#: Smallest dietary magnesium intake (mg/day) above none: one microgram a day. Below it
#: the intake is no intake, and the calcium/magnesium intake ratio overflows.
MIN_MAGNESIUM_INTAKE_MG_DAY = 1e-3


def check_magnesium_floor(value: float, where: str,
                          error: type[InputError] = ScenarioError) -> float:
    """Refuse a dietary magnesium intake above 0 but below
    :data:`MIN_MAGNESIUM_INTAKE_MG_DAY` (``where`` names the field)."""
    if 0.0 < value < MIN_MAGNESIUM_INTAKE_MG_DAY:
        raise error(f"{where} = {value!r} mg/day is above 0 but below "
                    f"{MIN_MAGNESIUM_INTAKE_MG_DAY:g} mg/day; expected 0 (no magnesium) or "
                    f"at least {MIN_MAGNESIUM_INTAKE_MG_DAY:g} mg/day (a smaller intake is "
                    "none, and the calcium/magnesium intake ratio would overflow)")
    return value


def _unknown(keys: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise ScenarioError(
            f"{where}: unknown key {extra[0]!r}; expected one of {', '.join(sorted(allowed))}")


def _kidney(table: Any, params: dict[str, float]) -> dict[str, float]:
    """``[kidney]`` in clinical units -> the kidney module's parameters."""
    if not isinstance(table, dict):
        raise ScenarioError(f"[kidney] = {_show(table)} must be a table, e.g. "
                            "decline_from_age = 60 and "
                            "egfr_decline_ml_min_per_year = 4")
    _unknown(set(table), set(_KIDNEY_KEYS), "[kidney]")
    out = {}
    for key, value in table.items():
        name, factor, low, high, what = _KIDNEY_KEYS[key]
        if name in params:
            raise ScenarioError(f"[kidney] {key} and [parameters] {name} both set {what}; "
                                "expected one of them")
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(float(value)) and low <= float(value) <= high):
            raise ScenarioError(f"[kidney] {key} = {_show(value)}: expected {what}, a number "
                                f"from {low:g} to {high:g}")
        out[name] = float(value) * factor
    return out


def _show(value: Any) -> str:
    """A short rendering of a value for a message (never fails, never long)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, list | dict):
        return f"a {'table' if isinstance(value, dict) else 'list'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(key: Any) -> str:
    """A table key for a message: at most 40 characters, control characters escaped (a key
    holding a line break would split the one-line message)."""
    text = str(key)[:40]
    return text if text.isprintable() else repr(text)[1:-1]


def _check_structure(data: Any) -> None:
    """Refuse nesting, text and integers beyond :mod:`boneturnover.limits` (no recursion)."""
    stack: list[tuple[Any, str, int]] = [(data, "scenario", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > limits.MAX_NESTING.value:
            limits.check(limits.MAX_NESTING, depth, where)
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{_key(k)}" if depth else _key(k), depth + 1)
                         for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, str) and len(value) > limits.MAX_TEXT_CHARS.value:
            limits.check(limits.MAX_TEXT_CHARS, len(value), where)
        elif isinstance(value, int) and not isinstance(value, bool) and (
                abs(value) > limits.MAX_INTEGER.value):
            raise ScenarioError(f"{where} = {_show(value)} is too large in size; expected an "
                                f"integer from -{limits.MAX_INTEGER.value} to "
                                f"{limits.MAX_INTEGER.value} ({limits.MAX_INTEGER.reason})")


def _number(value: Any, field_name: str) -> float:
    low, high, what = LIMITS[field_name.split(".")[-1]]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"{field_name}: {_show(value)} is not a number; expected {what} "
                            f"({low:g} to {high:g})")
    if not low <= value <= high:
        raise ScenarioError(f"{field_name} = {value!r} is out of range; expected {what} "
                            f"({low:g} to {high:g})")
    return float(value)


def _parse_amount(text: Any, where: str) -> tuple[float, str]:
    return parse_amount(text, f"{where}: amount", error=ScenarioError)


def scenario_from_dict(data: dict[str, Any], name: str = "scenario",
                       spec: ModelSpec | None = None) -> Scenario:
    """Validate a parsed scenario mapping and build a :class:`Scenario`.

    Parameters
    ----------
    data
        The keys of a scenario TOML file (see the module docstring).
    name
        The scenario's name (reports), unless ``data`` has ``name``.
    spec
        The model whose parameters and dose targets the scenario may name (default: the
        bundled model; pass ``BoneModel.with_modules(...).spec`` for added modules).

    Raises
    ------
    ScenarioError
        Naming the field, the value and what was expected.

    Examples
    --------
    >>> from boneturnover import scenario_from_dict
    >>> sc = scenario_from_dict({"patient": {"age": 65, "menopause_age": 51},
    ...                          "regimen": "denosumab", "years": 2})
    >>> [round(d.every_h / 24, 2) for d in sc.doses]
    [182.62]
    >>> scenario_from_dict({"patient": {"age": 65},
    ...                     "regimen": "denosumb"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    boneturnover.errors.ScenarioError: regimen 'denosumb' is not a named regimen (did ...
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario: {_show(data)} is not a table of keys")
    _check_structure(data)
    _unknown(set(data), _TOP_KEYS, "scenario")
    if "patient" not in data or not isinstance(data["patient"], dict):
        raise ScenarioError("scenario: missing table [patient] with at least `age`")
    pat = data["patient"]
    _unknown(set(pat), _PATIENT_KEYS, "[patient]")
    if "age" not in pat:
        raise ScenarioError("[patient]: missing `age` (years at time 0)")
    patient = Patient(
        age_y=_number(pat["age"], "patient.age"),
        menopause_age_y=(None if pat.get("menopause_age") is None
                         else _number(pat["menopause_age"], "patient.menopause_age")),
        premenopausal_bmd_spine_g_cm2=(
            None if "premenopausal_bmd_spine_g_cm2" not in pat
            else _number(pat["premenopausal_bmd_spine_g_cm2"],
                         "patient.premenopausal_bmd_spine_g_cm2")),
        premenopausal_bmd_hip_g_cm2=(
            None if "premenopausal_bmd_hip_g_cm2" not in pat
            else _number(pat["premenopausal_bmd_hip_g_cm2"],
                         "patient.premenopausal_bmd_hip_g_cm2")),
    )
    years = _number(data.get("years", 10), "years")
    every_h = parse_duration_h(data.get("output_every", "1 d"), "output_every")
    if not every_h > 0:
        raise ScenarioError(f"output_every = {_show(data.get('output_every'))} must be longer "
                            "than zero")
    limits.check(limits.MIN_OUTPUT_INTERVAL_H, every_h, "output_every")
    limits.check(limits.MAX_OUTPUT_ROWS, math.floor(years * HOURS_PER_YEAR / every_h) + 1,
                 f"years = {years:g} with output_every = {data.get('output_every')!r}")
    if "name" in data and not isinstance(data["name"], str):
        raise ScenarioError(f"name = {_show(data['name'])} must be a text, e.g. "
                            "name = 'denosumab 10 years'")
    spec = spec or load_model()
    params: dict[str, float] = {}
    raw_params = data.get("parameters", {})
    if not isinstance(raw_params, dict):
        raise ScenarioError(f"[parameters] = {_show(raw_params)} must be a table of "
                            "name = value, e.g. k_ob_removal = 0.0006")
    known = set(spec.parameter_names)
    for key, value in raw_params.items():
        if key not in known:
            raise ScenarioError(f"[parameters]: unknown parameter {key!r}; list them with "
                                "`boneturnover parameters`")
        params[key] = spec.parameter(key).check(value, f"[parameters].{key}", ScenarioError)
        if key == "mg_intake_mg_day":
            check_magnesium_floor(params[key], f"[parameters].{key}")
    # --- magnesium: [magnesium] intake_mg_day -> parameter mg_intake_mg_day ---
    if "magnesium" in data:
        from .magnesium import check_intake_mg_day

        mg = data["magnesium"]
        if "mg_intake_mg_day" in params:
            raise ScenarioError("[magnesium] intake_mg_day and [parameters] mg_intake_mg_day "
                                "both set the dietary magnesium intake; expected one of them")
        if not isinstance(mg, dict):
            raise ScenarioError(f"[magnesium] = {_show(mg)} must be a table, e.g. "
                                "intake_mg_day = 150")
        _unknown(set(mg), _MAGNESIUM_KEYS, "[magnesium]")
        if "intake_mg_day" in mg:
            params["mg_intake_mg_day"] = check_magnesium_floor(
                check_intake_mg_day(mg["intake_mg_day"]), "magnesium.intake_mg_day")
    if "kidney" in data:
        params.update(_kidney(data["kidney"], params))
    doses = []
    raw_doses = data.get("dose", [])
    if not isinstance(raw_doses, list):
        raise ScenarioError(f"dose = {_show(raw_doses)}: dose entries must be written as "
                            "[[dose]] tables")
    records = [(f"[[dose]] #{i}", d) for i, d in enumerate(raw_doses, start=1)]
    names = data.get("regimen", [])
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ScenarioError(f"regimen = {_show(data.get('regimen'))}: expected a regimen name "
                            "or a list of names (`boneturnover regimens`)")
    for name in reversed(names):
        records[:0] = [(f"regimen {name!r} dose #{i}", dict(d))
                       for i, d in enumerate(regimen(name).dose, start=1)]
    for where, d in records:
        if not isinstance(d, dict):
            raise ScenarioError(f"{where}: expected a table")
        _unknown(set(d), _DOSE_KEYS, where)
        for req in ("compartment", "amount"):
            if req not in d:
                raise ScenarioError(f"{where}: missing `{req}`")
        if not isinstance(d["compartment"], str):
            raise ScenarioError(f"{where}: compartment {_show(d['compartment'])} must be the "
                                "name of a dose target, e.g. 'denosumab_sc'")
        amount, unit = _parse_amount(d["amount"], where)
        count = d.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ScenarioError(f"{where}: count {_show(count)} must be an integer")
        extra = None if d["compartment"] in COMPARTMENTS else spec.dose_targets.get(
            d["compartment"])
        try:
            doses.append(Dose(
                compartment=d["compartment"], amount=amount, unit=unit, target=extra,
                time_h=parse_duration_h(d.get("time", "0 d"), "time"),
                every_h=None if "every" not in d else parse_duration_h(d["every"],
                                                                        "every"),
                until_h=None if "until" not in d else parse_duration_h(d["until"],
                                                                        "until"),
                count=count,
                duration_h=None if "duration" not in d else parse_duration_h(
                    d["duration"], "duration"),
            ))
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
    end_h = years * DAYS_PER_YEAR * 24.0
    treatments, warnings = parse_treatments(data.get("treatment", []), end_h)
    warnings = list(warnings)
    check_dose_records([where for where, _ in records], doses, treatments, end_h, warnings)
    doses.extend(t.record for t in treatments)
    limits.check(limits.MAX_DOSES_PER_SUBJECT, sum(d.count_before(end_h) for d in doses),
                 "the scenario's dose records and treatments")
    return Scenario(patient=patient, years=years, output_every_h=every_h, parameters=params,
                    doses=tuple(doses), name=str(data.get("name", name)),
                    treatments=treatments, warnings=tuple(warnings))


def load_scenario(path: str | Path, spec: ModelSpec | None = None) -> Scenario:
    """Read and validate a scenario TOML file (``spec``: as :func:`scenario_from_dict`).

    Raises
    ------
    ScenarioError
        A missing file, a file that is not UTF-8 TOML, or an invalid value.

    Examples
    --------
    >>> import boneturnover as bt
    >>> bt.load_scenario("no/such/file.toml")
    Traceback (most recent call last):
    ...
    boneturnover.errors.ScenarioError: scenario file 'no/such/file.toml' does not exist
    """
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"scenario file {str(p)!r} does not exist")
    limits.check(limits.MAX_SCENARIO_BYTES, p.stat().st_size, f"scenario file {str(p)!r}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file {str(p)!r} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"scenario file {str(p)!r} is not UTF-8 text") from None
    except RecursionError:
        raise ScenarioError(
            f"scenario file {str(p)!r} nests tables or lists too deeply to read; expected at "
            f"most {limits.MAX_NESTING.value} levels ({limits.MAX_NESTING.reason})") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ScenarioError(f"scenario file {str(p)!r} holds a value that cannot be read: "
                            f"{str(exc)[:120]}") from None
    return scenario_from_dict(data, name=p.stem, spec=spec)
