"""Model specification as data: states, parameters and their sources.

A model is declared by a TOML file under ``model/library/`` that names its modules
(``model/modules/*.toml``, each with its states, parameters, dose targets and
equations) and its bibliographies; this module reads the states, parameters and dose
targets into small immutable records. The generated equations read parameters by name
from a NumPy structured record built from this spec, so a parameter exists in exactly
one place with its value, unit and source.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import InputError
from ..units import parse_ucum

#: Modules whose parameters act only through drug states (zero without a dose).
DRUG_MODULES = frozenset({"bisphosphonates", "denosumab", "raloxifene", "romosozumab",
                          "teriparatide"})

__all__ = ["State", "Parameter", "Bounds", "DoseTarget", "ModelSpec", "load_model",
           "EVIDENCE_LEVELS", "BOUND_KINDS"]

#: Evidence levels a parameter may carry.
EVIDENCE_LEVELS = frozenset(
    {"physiology", "model-fit", "assumption", "numerical", "label", "calibration", "trial"}
)


#: Named bounds a parameter may declare (``bounds = "positive"``): interval and reason.
BOUND_KINDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "positive": ("(0, inf)", "a rate, volume, amount, concentration, time, half-effect "
                 "level, Hill coefficient or numerical width, for which zero or less has "
                 "no meaning in the equations or divides by zero"),
    "nonnegative": ("[0, inf)", "a magnitude, exponent, potency or sensitivity that 0 "
                    "switches off and that is never negative"),
    "integer": ("[0, inf)", "a count: a whole number, 0 or more"),
})
#: Reasons of interval bounds that need no ``bounds_reason`` of their own.
_INTERVAL_REASONS = {
    (0.0, 1.0, False, False): "a fraction, share, weight or bioavailability: 0 to 1",
    (0.0, 1.0, True, False): "a fraction the equations divide by: above 0, at most 1",
    (0.0, 1.0, False, True): "a fraction whose complement (1 - f) the equations divide by: "
                             "0 or more, below 1",
}
_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^\s\])]+)\s*([\])])\s*$")


@dataclass(frozen=True)
class Bounds:
    """The values a parameter may take, and why.

    Attributes
    ----------
    low, high
        Interval ends (``-inf``/``inf`` when open-ended).
    low_open, high_open
        Whether the end itself is excluded (``"positive"``: 0 excluded).
    integer
        Whether only whole numbers are allowed.
    reason
        Why (the meaning of the kind, or the parameter's ``bounds_reason``).
    """

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    reason: str = ""

    @property
    def text(self) -> str:
        """``"(0, inf)"``, ``"[0, 1]"``: the interval in the usual notation."""
        lo = "[" if not self.low_open and math.isfinite(self.low) else "("
        hi = "]" if not self.high_open and math.isfinite(self.high) else ")"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"

    def contains(self, value: float) -> bool:
        """Whether ``value`` (a finite float) lies within the bounds."""
        if self.integer and not float(value).is_integer():
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    @classmethod
    def parse(cls, raw: Any, reason: Any, where: str) -> Bounds:
        """Read ``bounds`` (a kind, ``[low, high]`` or ``"(low, high]"``) and ``bounds_reason``."""
        if reason is not None and not (isinstance(reason, str) and reason.strip()):
            raise InputError(f"{where}: bounds_reason must be a non-empty string, got "
                             f"{reason!r}")
        if isinstance(raw, str) and raw in BOUND_KINDS:
            text, why = BOUND_KINDS[raw]
            b = cls.parse(text, reason or why, where)
            return replace(b, integer=raw == "integer")
        if isinstance(raw, list) and len(raw) == 2 and all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in raw):
            lo, hi, lo_open, hi_open = float(raw[0]), float(raw[1]), False, False
        elif isinstance(raw, str) and (m := _INTERVAL.match(raw)):
            try:
                lo, hi = float(m.group(2)), float(m.group(3))
            except ValueError:
                raise InputError(f"{where}: bounds {raw!r} has an end that is not a "
                                 "number") from None
            lo_open, hi_open = m.group(1) == "(", m.group(4) == ")"
        else:
            raise InputError(
                f"{where}: bounds {raw!r} is not one of {', '.join(map(repr, BOUND_KINDS))}, "
                "a list [low, high] or an interval such as '(0, 1]'")
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise InputError(f"{where}: bounds {raw!r} must have low < high")
        why = reason or _INTERVAL_REASONS.get((lo, hi, lo_open, hi_open))
        if not why:
            raise InputError(f"{where}: bounds {raw!r} needs a bounds_reason saying why")
        return cls(lo, hi, lo_open or math.isinf(lo), hi_open or math.isinf(hi), False, why)


@dataclass(frozen=True)
class State:
    """One state variable of the ODE system."""

    name: str
    index: int
    initial: float
    unit: str
    meaning: str
    symbol: str
    source: str
    steady: bool = True
    scale: float | None = None


@dataclass(frozen=True)
class DoseTarget:
    """Where a dose goes: a state, the amount unit, and the factors that scale it.

    Attributes
    ----------
    name
        Key a dose record uses (``"denosumab_sc"``, ``"zoledronate_iv"``).
    state
        State receiving the amount.
    unit
        UCUM unit of the amount in that state.
    molar_mass_g_mol, molar_mass_source
        To convert a mass dose into a molar state (None when not needed).
    factors
        Names of parameters multiplied into the amount (bioavailability, fraction
        reaching bone, relative potency), read per subject.
    meaning
        What the target represents.
    """

    name: str
    state: str
    unit: str
    molar_mass_g_mol: float | None
    molar_mass_source: str
    factors: tuple[str, ...]
    meaning: str


@dataclass(frozen=True)
class Parameter:
    """One model parameter: value with unit, meaning and source.

    Attributes
    ----------
    meaning
        What the parameter is in the model (one sentence).
    source, evidence
        Source key (see ``ModelSpec.sources``) and evidence level (``EVIDENCE_LEVELS``).
    calibrated_to
        The data the value was chosen to reproduce (trial endpoints, published marker
        responses, seed facts), empty when the value was not chosen against data. A
        validation check of one of these targets is not an independent test of the
        model (docs/CALIBRATION.md).
    method
        How the value was chosen (``"least squares, tools/calibrate_drugs.py"``,
        ``"grid 0, 1, 2, 5"``), empty when it is taken as published.
    bounds
        The values the parameter may take (:class:`Bounds`, declared as ``bounds`` in the
        model data with its reason); every route that sets a value checks them.
    """

    name: str
    value: float
    unit: str
    meaning: str
    symbol: str
    source: str
    evidence: str
    calibrated_to: tuple[str, ...] = ()
    method: str = ""
    bounds: Bounds = Bounds(-math.inf, math.inf, True, True, False, "undeclared")
    module: str = ""

    def __post_init__(self) -> None:
        if self.evidence not in EVIDENCE_LEVELS:
            raise InputError(
                f"parameter {self.name!r}: evidence {self.evidence!r} is not one of "
                f"{sorted(EVIDENCE_LEVELS)}"
            )
        if not isinstance(self.calibrated_to, tuple) or not all(
                isinstance(t, str) and t.strip() for t in self.calibrated_to):
            raise InputError(f"parameter {self.name!r}: calibrated_to must be a list of "
                             f"non-empty strings, got {self.calibrated_to!r}")
        if not isinstance(self.method, str):
            raise InputError(f"parameter {self.name!r}: method must be a string, got "
                             f"{self.method!r}")
        if not self.bounds.contains(self.value):
            raise InputError(f"parameter {self.name!r}: value {self.value!r} is outside its "
                             f"bounds {self.bounds.text} ({self.bounds.reason})")

    def check(self, value: Any, where: str, error: type[InputError] = InputError) -> float:
        """``value`` as a float if it is a finite number within :attr:`bounds`.

        Parameters
        ----------
        value
            The value as given (TOML, a table cell, a command-line number).
        where
            How the caller names the field (``"[parameters].v_ecf_l"``), for the message.
        error
            The exception class to raise (an :class:`InputError`).

        Raises
        ------
        InputError
            (or ``error``) naming the field, the value and the bounds with their reason.
        """
        expected = (f"expected a number in unit {self.unit!r} within {self.bounds.text} "
                    f"({self.bounds.reason})")
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise error(f"{where} = {_show(value)} is not a number; {expected}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise error(f"{where} = {_show(value)} is not a finite number; {expected}")
        if not self.bounds.contains(number):
            raise error(f"{where} = {_show(value)} is out of range; {expected}")
        return number

    @property
    def calibrated(self) -> bool:
        """Whether the value was chosen to reproduce data (``calibrated_to`` not empty)."""
        return bool(self.calibrated_to)


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """A model: its states, parameters and bibliography, loaded from TOML."""

    name: str
    title: str
    time_unit: str
    states: tuple[State, ...]
    parameters: tuple[Parameter, ...]
    sources: MappingProxyType[str, str] = field(repr=False)
    dose_targets: MappingProxyType[str, DoseTarget] = field(
        repr=False, default_factory=lambda: MappingProxyType({}))

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def untreated_parameter_names(self) -> tuple[str, ...]:
        """Parameters that can change the untreated trajectory (all but drug PK/PD).

        A drug module's parameters act only through its own states, which are zero
        without a dose, so a subject's untreated history does not depend on them.
        """
        return tuple(p.name for p in self.parameters if p.module not in DRUG_MODULES)

    def state(self, name: str) -> State:
        for s in self.states:
            if s.name == name:
                return s
        raise InputError(f"unknown state {name!r}; known: {', '.join(self.state_names)}")

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise InputError(
            f"unknown parameter {name!r}; see `boneturnover parameters` for the list"
        )

    def with_values(self, values: Mapping[str, float]) -> ModelSpec:
        """A copy of this model with some parameter values replaced.

        Parameters
        ----------
        values
            Parameter name -> new value, in the parameter's declared unit (see
            ``boneturnover parameters``). Units, meanings, sources and calibration
            records are kept.

        Raises
        ------
        InputError
            A name that is not a parameter, or a value that is not a finite number within
            the parameter's bounds.
        """
        checked = {name: self.parameter(name).check(value, f"parameter {name}")
                   for name, value in values.items()}  # an unknown name raises, naming it
        params = tuple(replace(p, value=checked[p.name]) if p.name in checked else p
                       for p in self.parameters)
        return replace(self, parameters=params)

    def initial_state(self) -> np.ndarray:
        """Published reference state, in declaration order (float64 vector)."""
        return np.array([s.initial for s in self.states], dtype=np.float64)

    def citation(self, key: str) -> str:
        """Full reference for a source key used by a state or parameter."""
        return self.sources[key]


def _show(value: Any) -> str:
    """A short, always-printable rendering of a value for a message."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, list | dict | tuple):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _require(entry: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in entry]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}")


def _merge(data: dict[str, Any], module: dict[str, Any], origin: str) -> None:
    """Append a module's sources, states, parameters and dose targets (no redefinition)."""
    for table in ("sources", "states", "parameters", "dose_targets"):
        dest = data.setdefault(table, {})
        for key, value in module.get(table, {}).items():
            if key in dest:
                raise InputError(f"{origin}: {table[:-1].replace('_', ' ')} {key!r} is "
                                 "already defined by another module")
            if table == "parameters":
                value = {"module": origin.removesuffix(".toml"), **value}
            dest[key] = value


def _parse(data: dict[str, Any], origin: str) -> ModelSpec:
    sources = dict(data.get("sources", {}))
    states = []
    for i, (name, entry) in enumerate(data["states"].items()):
        where = f"{origin}: state {name!r}"
        _require(entry, ("initial", "unit", "meaning", "symbol", "source"), where)
        if entry["source"] not in sources:
            raise InputError(f"{where}: source {entry['source']!r} is not in [sources]")
        parse_ucum(entry["unit"])
        scale = entry.get("scale")
        states.append(
            State(name, i, float(entry["initial"]), entry["unit"], entry["meaning"],
                  entry["symbol"], entry["source"], bool(entry.get("steady", True)),
                  None if scale is None else float(scale))
        )
    params = []
    for name, entry in data["parameters"].items():
        where = f"{origin}: parameter {name!r}"
        _require(entry, ("value", "unit", "meaning", "symbol", "source", "evidence"), where)
        if entry["source"] not in sources:
            raise InputError(f"{where}: source {entry['source']!r} is not in [sources]")
        parse_ucum(entry["unit"])
        calibrated_to = entry.get("calibrated_to", [])
        if not isinstance(calibrated_to, list):
            raise InputError(f"{where}: calibrated_to must be a list of strings, got "
                             f"{calibrated_to!r}")
        if "bounds" not in entry:
            raise InputError(f"{where}: missing bounds; expected "
                             f"{', '.join(map(repr, BOUND_KINDS))}, [low, high] or an interval "
                             "such as '(0, 1]' (with bounds_reason unless a fraction)")
        bounds = Bounds.parse(entry["bounds"], entry.get("bounds_reason"), where)
        params.append(
            Parameter(name, float(entry["value"]), entry["unit"], entry["meaning"],
                      entry["symbol"], entry["source"], entry["evidence"],
                      tuple(calibrated_to), entry.get("method", ""), bounds,
                      str(entry.get("module", data["name"])))
        )
    state_names = {s.name for s in states}
    param_names = {p.name for p in params}
    targets = {}
    for name, entry in data.get("dose_targets", {}).items():
        where = f"{origin}: dose target {name!r}"
        _require(entry, ("state", "unit", "meaning"), where)
        if entry["state"] not in state_names:
            raise InputError(f"{where}: state {entry['state']!r} is not declared")
        for f in entry.get("factors", []):
            if f not in param_names:
                raise InputError(f"{where}: factor {f!r} is not a declared parameter")
        parse_ucum(entry["unit"])
        mm = entry.get("molar_mass_g_mol")
        targets[name] = DoseTarget(name, entry["state"], entry["unit"],
                                   None if mm is None else float(mm),
                                   entry.get("molar_mass_source", ""),
                                   tuple(entry.get("factors", [])), entry["meaning"])
    return ModelSpec(
        name=data["name"],
        title=data["title"],
        time_unit=data["time_unit"],
        states=tuple(states),
        parameters=tuple(params),
        sources=MappingProxyType(sources),
        dose_targets=MappingProxyType(targets),
    )


@cache
def load_model(name: str = "peterson_riggs", extra_modules: tuple[str, ...] = ()) -> ModelSpec:
    """Load a bundled model specification by name.

    Parameters
    ----------
    name
        File stem under ``boneturnover/model/library`` (default ``"peterson_riggs"``).
    extra_modules
        Paths of further module files (a new drug, say) whose states, parameters, sources
        and dose targets are merged after the bundled modules'.
    """
    res = resources.files("boneturnover.model.library").joinpath(f"{name}.toml")
    if not res.is_file():
        raise InputError(f"unknown model {name!r}; bundled: peterson_riggs")
    with res.open("rb") as fh:
        data = tomllib.load(fh)
    # The bibliography files add sources only; the modules (model/modules/*.toml, in
    # order) add their states, parameters and dose targets (their equations are read by
    # boneturnover.model.assembly).
    for bib in data.get("bibliographies", []):
        bres = resources.files("boneturnover.model.library").joinpath(f"{bib}.toml")
        if not bres.is_file():
            raise InputError(f"{name}.toml: bibliography {bib!r} has no file {bib}.toml")
        with bres.open("rb") as fh:
            _merge(data, {"sources": tomllib.load(fh).get("sources", {})}, f"{bib}.toml")
    for module in data.get("modules", []):
        mres = resources.files("boneturnover.model").joinpath("modules", f"{module}.toml")
        if not mres.is_file():
            raise InputError(f"{name}.toml: module {module!r} has no file "
                             f"modules/{module}.toml")
        with mres.open("rb") as fh:
            _merge(data, tomllib.load(fh), f"{module}.toml")
    for path in extra_modules:
        try:
            extra = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"module file {path}: cannot be read ({exc})") from None
        _merge(data, extra, Path(path).name)
    return _parse(data, f"{name}.toml")
