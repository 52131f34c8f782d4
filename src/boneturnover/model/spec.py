"""Model specification as data: states, parameters and their sources.

A model is declared once in a TOML file under ``model/library/``; this module
reads it into small immutable records. The equations (``equations.py``) read
parameters by name from a NumPy structured record built from this spec, so a
parameter exists in exactly one place with its value, unit and source.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import InputError
from ..units import parse_ucum

__all__ = ["State", "Parameter", "DoseTarget", "ModelSpec", "load_model", "EVIDENCE_LEVELS"]

#: Evidence levels a parameter may carry.
EVIDENCE_LEVELS = frozenset(
    {"physiology", "model-fit", "assumption", "numerical", "label", "calibration", "trial"}
)


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
            A name that is not a parameter, or a value that is not a finite number.
        """
        for name, value in values.items():
            unit = self.parameter(name).unit  # raises for an unknown name, naming it
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value)):
                raise InputError(f"parameter {name!r}: value {value!r} is not a finite "
                                 f"number; expected a number in unit {unit!r}")
        params = tuple(replace(p, value=float(values[p.name])) if p.name in values else p
                       for p in self.parameters)
        return replace(self, parameters=params)

    def initial_state(self) -> np.ndarray:
        """Published reference state, in declaration order (float64 vector)."""
        return np.array([s.initial for s in self.states], dtype=np.float64)

    def citation(self, key: str) -> str:
        """Full reference for a source key used by a state or parameter."""
        return self.sources[key]


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
        params.append(
            Parameter(name, float(entry["value"]), entry["unit"], entry["meaning"],
                      entry["symbol"], entry["source"], entry["evidence"],
                      tuple(calibrated_to), entry.get("method", ""))
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
def load_model(name: str = "peterson_riggs") -> ModelSpec:
    """Load a bundled model specification by name.

    Parameters
    ----------
    name
        File stem under ``boneturnover/model/library`` (default ``"peterson_riggs"``).
    """
    res = resources.files("boneturnover.model.library").joinpath(f"{name}.toml")
    if not res.is_file():
        raise InputError(f"unknown model {name!r}; bundled: peterson_riggs")
    with res.open("rb") as fh:
        data = tomllib.load(fh)
    # A model may be split into modules (drugs, magnesium, ...): files listed in
    # `modules` add their sources, states, parameters and dose targets in order.
    for module in data.get("modules", []):
        mres = resources.files("boneturnover.model.library").joinpath(f"{module}.toml")
        if not mres.is_file():
            raise InputError(f"{name}.toml: module {module!r} has no file {module}.toml")
        with mres.open("rb") as fh:
            _merge(data, tomllib.load(fh), f"{module}.toml")
    return _parse(data, f"{name}.toml")
