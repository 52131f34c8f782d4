"""The calibration data set: published time courses and endpoints, as data.

``data/calibration.toml`` holds one ``[[series]]`` per published course: its study,
source, population, what it measures (``quantity`` of a model ``output`` on a named
``run`` of ``data/runs.toml``), its ``points`` (day or age range, value, standard error)
and its ``split``. A ``calibration`` series may be used by the joint fit
(:mod:`.fit`); a ``validation`` series never is. Each point becomes a measure of
:mod:`.measures`, so a residual is computed exactly as a check is.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from .measures import CheckDefinitionError, evaluate
from .runs import run_definitions

__all__ = ["Point", "Series", "QUANTITIES", "SPLITS", "calibration_set", "parse_series",
           "published_values", "predictions"]

#: What a series measures, and the measure of :mod:`.measures` each point becomes.
QUANTITIES: Mapping[str, str] = {
    "adjusted": "adjusted_change",  # % change against the same woman untreated, same day
    "change": "change",             # % change from the woman's own value on day 0
    "remaining": "remaining",       # % of the woman's own day-0 value left
    "level": "at_day",              # the output's value, in its own unit
    "loss_rate": "loss_rate",       # % per year lost between two ages (untreated)
    "decline_rate": "decline_rate",  # decline per year between two ages, in the output's
                                     # unit times `scale` (1000: g/cm2 -> mg/cm2)
}

#: Quantities whose points name an age range instead of a day.
_BY_AGE = ("loss_rate", "decline_rate")

#: ``calibration``: the joint fit may use it; ``validation``: held out, never fitted.
SPLITS = ("calibration", "validation")

_REQUIRED = ("id", "study", "source", "population", "quantity", "output", "run", "unit",
             "split", "se_basis", "points")
_OPTIONAL = ("site", "note", "reference", "scale")


@dataclass(frozen=True)
class Point:
    """One published value: at ``day`` (or over ``from_age``-``to_age``), with its SE."""

    value: float
    se: float
    day: float | None = None
    from_age: float | None = None
    to_age: float | None = None

    @property
    def label(self) -> str:
        """Where the point lies: ``"day 365"`` or ``"age 55-60"``."""
        if self.day is not None:
            return f"day {self.day:g}"
        return f"age {self.from_age:g}-{self.to_age:g}"


@dataclass(frozen=True)
class Series:
    """A published time course or endpoint (a ``[[series]]`` of ``data/calibration.toml``)."""

    id: str
    study: str
    source: str
    population: str
    quantity: str
    output: str
    run: str
    unit: str
    split: str
    se_basis: str
    points: tuple[Point, ...]
    site: str = ""
    note: str = ""
    reference: str = "untreated"
    scale: float = 1.0

    def measure(self, point: Point) -> dict[str, Any]:
        """The measure specification (:func:`.measures.evaluate`) of one point."""
        spec: dict[str, Any] = {"measure": QUANTITIES[self.quantity], "run": self.run,
                                "output": self.output}
        if self.quantity in _BY_AGE:
            spec.update(from_age=point.from_age, to_age=point.to_age)
            if self.quantity == "decline_rate":
                spec["scale"] = self.scale
        else:
            spec["day"] = point.day
        if self.quantity == "adjusted":
            spec["reference"] = self.reference
        return spec

    @property
    def runs(self) -> tuple[str, ...]:
        """The runs this series reads."""
        return (self.run, self.reference) if self.quantity == "adjusted" else (self.run,)


def _number(entry: Mapping[str, Any], key: str, where: str, *, positive: bool = False) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CheckDefinitionError(f"{where}: {key} = {value!r}; expected a finite number")
    if positive and value <= 0:
        raise CheckDefinitionError(f"{where}: {key} = {value!r}; expected a number above 0")
    return float(value)


def _point(entry: Any, quantity: str, where: str) -> Point:
    if not isinstance(entry, Mapping):
        raise CheckDefinitionError(f"{where}: {entry!r}; expected a table such as "
                                   "{ day = 365, value = -50.0, se = 5.0 }")
    keys = ("from_age", "to_age") if quantity in _BY_AGE else ("day",)
    allowed = {"value", "se", *keys}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise CheckDefinitionError(f"{where}: unknown key {unknown[0]!r}; expected "
                                   f"{', '.join(sorted(allowed))}")
    where_ = {k: _number(entry, k, where) for k in keys}
    if quantity in _BY_AGE and where_["to_age"] <= where_["from_age"]:
        raise CheckDefinitionError(f"{where}: to_age = {where_['to_age']:g} is not above "
                                   f"from_age = {where_['from_age']:g}")
    if quantity not in _BY_AGE and where_["day"] < 0:
        raise CheckDefinitionError(f"{where}: day = {where_['day']:g}; expected a day >= 0")
    return Point(value=_number(entry, "value", where),
                 se=_number(entry, "se", where, positive=True), **where_)


def parse_series(entries: Sequence[Any], runs: Mapping[str, Any] | None = None,
                 outputs: Sequence[str] | None = None) -> tuple[Series, ...]:
    """Checked series from the ``[[series]]`` tables of a calibration file.

    Parameters
    ----------
    entries
        The tables, as read from TOML.
    runs
        The named runs a series may read (default: ``data/runs.toml``).
    outputs
        The model output columns a series may name (default: not checked here).

    Raises
    ------
    CheckDefinitionError
        A missing or unknown key, a duplicate id, an unknown quantity, split or run, or a
        point without a finite value and a positive standard error; the message names the
        series and the key.
    """
    runs = run_definitions() if runs is None else runs
    out: list[Series] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"calibration series {entry.get('id', f'#{i + 1}')!r}"
        missing = [k for k in _REQUIRED if k not in entry]
        if missing:
            raise CheckDefinitionError(f"{where}: missing {', '.join(missing)}")
        unknown = sorted(set(entry) - {*_REQUIRED, *_OPTIONAL})
        if unknown:
            raise CheckDefinitionError(f"{where}: unknown key {unknown[0]!r}; expected "
                                       f"{', '.join((*_REQUIRED, *_OPTIONAL))}")
        if "scale" in entry:
            if entry.get("quantity") != "decline_rate":
                raise CheckDefinitionError(f"{where}: scale is used by quantity "
                                           "'decline_rate' only")
            entry = {**entry, "scale": _number(entry, "scale", where, positive=True)}
        for key in (*_REQUIRED, *_OPTIONAL):
            if key not in ("points", "scale") and key in entry and not isinstance(entry[key],
                                                                                  str):
                raise CheckDefinitionError(f"{where}: {key} = {entry[key]!r}; expected text")
        if entry["id"] in seen:
            raise CheckDefinitionError(f"{where}: the id is used twice")
        seen.add(entry["id"])
        if entry["quantity"] not in QUANTITIES:
            raise CheckDefinitionError(f"{where}: quantity {entry['quantity']!r}; expected "
                                       f"one of {', '.join(QUANTITIES)}")
        if entry["split"] not in SPLITS:
            raise CheckDefinitionError(f"{where}: split {entry['split']!r}; expected one of "
                                       f"{', '.join(SPLITS)}")
        for key in ("run", "reference"):
            if key in entry and entry[key] not in runs:
                raise CheckDefinitionError(f"{where}: {key} {entry[key]!r} is not a run of "
                                           "validation/data/runs.toml")
            if key in entry and runs[entry[key]].get("population") is not None:
                raise CheckDefinitionError(f"{where}: {key} {entry[key]!r} is a population "
                                           "run; a series reads the run of one woman")
        if outputs is not None and entry["output"] not in outputs:
            raise CheckDefinitionError(f"{where}: output {entry['output']!r} is not a model "
                                       "output; see `boneturnover outputs`")
        points = entry["points"]
        if not isinstance(points, list) or not points:
            raise CheckDefinitionError(f"{where}: points = {points!r}; expected a list of at "
                                       "least one point")
        parsed = tuple(_point(p, entry["quantity"], f"{where} point {j + 1}")
                       for j, p in enumerate(points))
        fields = {k: entry[k] for k in (*_REQUIRED, *_OPTIONAL) if k in entry}
        fields["points"] = parsed
        out.append(Series(**fields))
    return tuple(out)


@cache
def calibration_set() -> tuple[Series, ...]:
    """Every series of the bundled ``data/calibration.toml``, checked (read on first use)."""
    text = resources.files(__package__).joinpath("data/calibration.toml").read_text("utf-8")
    return parse_series(tomllib.loads(text).get("series", []))


def predictions(runs: Mapping[str, Any], series: Sequence[Series]) -> np.ndarray:
    """The simulated value of every point of ``series``, in order (NaN where it fails)."""
    values = []
    for s in series:
        for p in s.points:
            try:
                values.append(evaluate(runs, s.measure(p)))  # type: ignore[arg-type]
            except (KeyError, IndexError, ZeroDivisionError):
                values.append(math.nan)
    return np.asarray(values, dtype=float)


def published_values(series: Sequence[Series]) -> tuple[np.ndarray, np.ndarray]:
    """The published value and the standard error of every point of ``series``, in order."""
    published = np.array([p.value for s in series for p in s.points], dtype=float)
    se = np.array([p.se for s in series for p in s.points], dtype=float)
    return published, se
