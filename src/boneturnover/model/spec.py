"""Model specification as data: states, parameters and their sources.

A model is declared once in a TOML file under ``model/library/``; this module
reads it into small immutable records. The equations (``equations.py``) read
parameters by name from a NumPy structured record built from this spec, so a
parameter exists in exactly one place with its value, unit and source.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import InputError
from ..units import parse_ucum

__all__ = ["State", "Parameter", "ModelSpec", "load_model", "EVIDENCE_LEVELS"]

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


@dataclass(frozen=True)
class Parameter:
    """One model parameter: value with unit, meaning and source."""

    name: str
    value: float
    unit: str
    meaning: str
    symbol: str
    source: str
    evidence: str

    def __post_init__(self) -> None:
        if self.evidence not in EVIDENCE_LEVELS:
            raise InputError(
                f"parameter {self.name!r}: evidence {self.evidence!r} is not one of "
                f"{sorted(EVIDENCE_LEVELS)}"
            )


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """A model: its states, parameters and bibliography, loaded from TOML."""

    name: str
    title: str
    time_unit: str
    states: tuple[State, ...]
    parameters: tuple[Parameter, ...]
    sources: MappingProxyType[str, str] = field(repr=False)

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


def _parse(data: dict[str, Any], origin: str) -> ModelSpec:
    sources = dict(data.get("sources", {}))
    states = []
    for i, (name, entry) in enumerate(data["states"].items()):
        where = f"{origin}: state {name!r}"
        _require(entry, ("initial", "unit", "meaning", "symbol", "source"), where)
        if entry["source"] not in sources:
            raise InputError(f"{where}: source {entry['source']!r} is not in [sources]")
        parse_ucum(entry["unit"])
        states.append(
            State(name, i, float(entry["initial"]), entry["unit"], entry["meaning"],
                  entry["symbol"], entry["source"])
        )
    params = []
    for name, entry in data["parameters"].items():
        where = f"{origin}: parameter {name!r}"
        _require(entry, ("value", "unit", "meaning", "symbol", "source", "evidence"), where)
        if entry["source"] not in sources:
            raise InputError(f"{where}: source {entry['source']!r} is not in [sources]")
        parse_ucum(entry["unit"])
        params.append(
            Parameter(name, float(entry["value"]), entry["unit"], entry["meaning"],
                      entry["symbol"], entry["source"], entry["evidence"])
        )
    return ModelSpec(
        name=data["name"],
        title=data["title"],
        time_unit=data["time_unit"],
        states=tuple(states),
        parameters=tuple(params),
        sources=MappingProxyType(sources),
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
        return _parse(tomllib.load(fh), f"{name}.toml")
