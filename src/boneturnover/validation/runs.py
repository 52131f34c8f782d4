"""The simulations behind the checks, declared by name in ``data/runs.toml``.

A run is a scenario mapping (the keys of a scenario TOML file, with ``regimen`` naming a
regimen of :mod:`boneturnover.knowledge.regimens`), optionally ``extends`` another run
and optionally a ``population`` (one parameter varied lognormally between virtual
subjects). :class:`Runs` simulates each run once for one model and keeps the table.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

import boneturnover as bt

__all__ = ["Runs", "run_definitions", "run_scenario"]


@cache
def run_definitions() -> Mapping[str, Mapping[str, Any]]:
    """Every named run, with ``extends`` resolved (read on first use)."""
    text = resources.files(__package__).joinpath("data/runs.toml").read_text("utf-8")
    raw: dict[str, dict[str, Any]] = tomllib.loads(text)["runs"]

    def resolve(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name in seen:
            raise ValueError(f"runs.{name}: `extends` loops through {' -> '.join(seen)}")
        entry = dict(raw[name])
        parent = entry.pop("extends", None)
        return {**resolve(parent, (*seen, name)), **entry} if parent else entry

    return {name: resolve(name) for name in raw}


def run_scenario(name: str, **changes: Any) -> bt.Scenario:
    """The scenario of run ``name``, with top-level keys replaced by ``changes``."""
    definition = {k: v for k, v in run_definitions()[name].items()
                  if k not in ("label", "population")}
    return bt.scenario_from_dict({**definition, **changes}, name=name)


class Runs(Mapping[str, pd.DataFrame]):
    """Named runs simulated on demand for one model, each once.

    Parameters
    ----------
    model
        The engine to simulate with (default: the bundled model).
    """

    def __init__(self, model: bt.BoneModel | None = None) -> None:
        self.model = model or bt.BoneModel(bt.load_model())
        self._tables: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            self._tables[name] = self._simulate(name)
        return self._tables[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(run_definitions())

    def __len__(self) -> int:
        return len(run_definitions())

    def _simulate(self, name: str) -> pd.DataFrame:
        pop_spec = run_definitions()[name].get("population")
        scenario = run_scenario(name)
        population = None if pop_spec is None else self._population(pop_spec)
        return bt.simulate(scenario, population=population, model=self.model).frame

    def _population(self, spec: Mapping[str, Any]) -> pd.DataFrame:
        """Lognormal variation of one parameter around its model value (mean preserved)."""
        par = spec["parameter"]
        mean = self.model.spec.parameter(par).value
        s2 = math.log(1.0 + float(spec["cv"]) ** 2)
        z = np.random.default_rng(int(spec["seed"])).standard_normal(int(spec["n"]))
        return pd.DataFrame({par: mean * np.exp(math.sqrt(s2) * z - s2 / 2.0)})

    def marker_centre(self, output: str) -> float:
        """The centre a marker output is calibrated to (premenopausal steady state)."""
        return float(bt.marker_calibration()[output]["centre"])
