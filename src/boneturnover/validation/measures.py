"""What a check measures: named functions over named simulations.

A check in ``data/checks.toml`` names a measure and its arguments, for example::

    measure = "adjusted_change"      # % change against the same woman untreated
    run = "denosumab"                # a run of data/runs.toml (a regimen, a patient)
    reference = "untreated"
    output = "ctx_ng_l"              # a model output column (``boneturnover outputs``)
    day = 30

Combinators (``difference``, ``ratio``, ``max``, ``min``) take ``terms``, a list of
measures of the same form, so a comparison between two regimens is data as well.
Every measure receives the :class:`~boneturnover.validation.runs.Runs` that simulates
and caches the named runs for one model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .runs import Runs

__all__ = ["MEASURES", "evaluate", "CheckDefinitionError"]


class CheckDefinitionError(ValueError):
    """A check in the validation data names an unknown measure or misses an argument."""


Measure = Callable[..., float]
MEASURES: dict[str, Measure] = {}


def _measure(f: Measure) -> Measure:
    MEASURES[f.__name__] = f
    return f


def _row(df: pd.DataFrame, column: str, value: float) -> int:
    return int(np.argmin(np.abs(df[column].to_numpy() - value)))


def _value(df: pd.DataFrame, output: str, day: float) -> float:
    return float(df[output].iloc[_row(df, "time_d", day)])


def _adjusted_series(runs: Runs, run: str, reference: str, output: str,
                     to_day: int) -> np.ndarray:
    t = runs[run][output].to_numpy()[: to_day + 1]
    u = runs[reference][output].to_numpy()[: to_day + 1]
    return 100.0 * (t / u - 1.0)


@_measure
def at_day(runs: Runs, run: str, output: str, day: float) -> float:
    """Value of ``output`` at ``day`` (the output row nearest that day)."""
    return _value(runs[run], output, day)


@_measure
def at_age(runs: Runs, run: str, output: str, age: float) -> float:
    """Value of ``output`` at ``age`` years (the output row nearest that age)."""
    df = runs[run]
    return float(df[output].iloc[_row(df, "age_y", age)])


@_measure
def last(runs: Runs, run: str, output: str) -> float:
    """Value of ``output`` in the last output row."""
    return float(runs[run][output].iloc[-1])


def _window(df: pd.DataFrame, output: str, from_day: float | None,
            to_day: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Days and values of ``output`` from ``from_day`` to ``to_day`` (inclusive; the whole
    run where a bound is not given)."""
    t = df["time_d"].to_numpy()
    v = df[output].to_numpy()
    keep = np.ones(t.shape, dtype=bool)
    if from_day is not None:
        keep &= t >= from_day - 1e-9
    if to_day is not None:
        keep &= t <= to_day + 1e-9
    if not keep.any():
        raise CheckDefinitionError(f"no output row of {output!r} between day {from_day} and "
                                   f"day {to_day}")
    return t[keep], v[keep]


@_measure
def maximum(runs: Runs, run: str, output: str, from_day: float | None = None,
            to_day: float | None = None) -> float:
    """Largest value of ``output`` over the run (or from ``from_day`` to ``to_day``)."""
    return float(_window(runs[run], output, from_day, to_day)[1].max())


@_measure
def minimum(runs: Runs, run: str, output: str, from_day: float | None = None,
            to_day: float | None = None) -> float:
    """Smallest value of ``output`` over the run (or from ``from_day`` to ``to_day``)."""
    return float(_window(runs[run], output, from_day, to_day)[1].min())


@_measure
def day_of_maximum(runs: Runs, run: str, output: str, from_day: float | None = None,
                   to_day: float | None = None) -> float:
    """Day of the largest value of ``output`` itself (not adjusted), in the window."""
    t, v = _window(runs[run], output, from_day, to_day)
    return float(t[int(np.argmax(v))])


@_measure
def day_of_minimum(runs: Runs, run: str, output: str, from_day: float | None = None,
                   to_day: float | None = None) -> float:
    """Day of the smallest value of ``output`` itself (not adjusted), in the window."""
    t, v = _window(runs[run], output, from_day, to_day)
    return float(t[int(np.argmin(v))])


@_measure
def peak_change(runs: Runs, run: str, output: str, from_day: float | None = None,
                to_day: float | None = None) -> float:
    """Largest change (%) of ``output`` from the run's first row, in the window: the size
    of an overshoot above the woman's own baseline."""
    df = runs[run]
    peak = _window(df, output, from_day, to_day)[1].max()
    return float(100.0 * (peak / float(df[output].iloc[0]) - 1.0))


@_measure
def remaining(runs: Runs, run: str, output: str, day: float,
              reference: str | None = None) -> float:
    """What is left of ``output`` at ``day``, % of the run's first row; with
    ``reference``, % of that run at the same day (100 + the adjusted change).

    A suppression near -100 % is a floor near 0 here, so a relative band around a
    published residual (FREEDOM: 14 % of placebo) can tell -99 % from -86 %.
    """
    v = _value(runs[run], output, day)
    base = (float(runs[run][output].iloc[0]) if reference is None
            else _value(runs[reference], output, day))
    return float(100.0 * v / base)


@_measure
def change(runs: Runs, run: str, output: str, day: float, from_day: float = 0.0,
           before: bool = False) -> float:
    """Change (%) of ``output`` from ``from_day`` to ``day`` within one run.

    ``before = true`` takes the last row strictly before ``from_day`` (the value just
    before a dose given on that day).
    """
    df = runs[run]
    if before:
        t = df["time_d"].to_numpy()
        v0 = float(df[output].iloc[int(np.flatnonzero(t < from_day - 1e-9)[-1])])
    else:
        v0 = _value(df, output, from_day)
    return 100.0 * (_value(df, output, day) / v0 - 1.0)


@_measure
def loss(runs: Runs, run: str, output: str, day: float) -> float:
    """Loss (%) of ``output`` from the first row to ``day``: 100 x (1 - value/first)."""
    df = runs[run]
    return 100.0 * (1.0 - _value(df, output, day) / float(df[output].iloc[0]))


@_measure
def rise(runs: Runs, run: str, output: str, day: float) -> float:
    """Rise of ``output`` from day 0 to ``day``, in the output's unit."""
    df = runs[run]
    return _value(df, output, day) - _value(df, output, 0.0)


@_measure
def loss_rate(runs: Runs, run: str, output: str, from_age: float, to_age: float) -> float:
    """Mean loss of ``output`` between two ages, % of the first value per year."""
    v0 = at_age(runs, run, output, from_age)
    v1 = at_age(runs, run, output, to_age)
    return float(100.0 * (v0 - v1) / v0 / (to_age - from_age))


@_measure
def decline_rate(runs: Runs, run: str, output: str, from_age: float, to_age: float,
                 scale: float = 1.0) -> float:
    """Mean decline of ``output`` between two ages in its own unit per year, times
    ``scale`` (``scale = 1000`` turns g/cm2/year into mg/cm2/year, as cohorts report it)."""
    v0 = at_age(runs, run, output, from_age)
    v1 = at_age(runs, run, output, to_age)
    return float(scale * (v0 - v1) / (to_age - from_age))


@_measure
def adjusted_change(runs: Runs, run: str, output: str, day: float,
                    reference: str = "untreated") -> float:
    """Change (%) of ``output`` at ``day`` against ``reference`` (placebo-adjusted)."""
    return 100.0 * (_value(runs[run], output, day) / _value(runs[reference], output, day)
                    - 1.0)


@_measure
def day_reaching(runs: Runs, run: str, output: str, horizon_day: int, fraction: float = 0.9,
                 reference: str = "untreated") -> float:
    """First day the adjusted change reaches ``fraction`` of its extreme up to the horizon."""
    s = _adjusted_series(runs, run, reference, output, horizon_day)
    extreme = s[np.argmax(np.abs(s))]
    return float(np.argmax(np.abs(s) >= fraction * abs(extreme)))


@_measure
def nadir_day(runs: Runs, run: str, output: str, horizon_day: int,
              reference: str = "untreated") -> float:
    """Day of the lowest adjusted change up to the horizon."""
    return float(np.argmin(_adjusted_series(runs, run, reference, output, horizon_day)))


@_measure
def adjusted_max(runs: Runs, run: str, output: str, to_day: int, from_day: int = 0,
                 reference: str = "untreated") -> float:
    """Largest adjusted change (%) from ``from_day`` to ``to_day``."""
    return float(_adjusted_series(runs, run, reference, output, to_day)[from_day:].max())


@_measure
def adjusted_mean(runs: Runs, run: str, output: str, to_day: int,
                  reference: str = "untreated") -> float:
    """Mean adjusted change (%) over days 0 to ``to_day``: the area under the curve."""
    return float(_adjusted_series(runs, run, reference, output, to_day).mean())


@_measure
def steady_drift(runs: Runs, run: str, exclude: list[str] | None = None) -> float:
    """Largest relative drift (%) of any output over the run (absolute where it starts at 0)."""
    df = runs[run]
    skip = {"time_d", "age_y", *(exclude or [])}
    cols = [c for c in df.columns if c not in skip]
    first = df[cols].iloc[0].to_numpy()
    rel = np.abs(df[cols].to_numpy() / np.where(first == 0, 1.0, first) - 1.0)
    rel[:, first == 0] = np.abs(df[cols].to_numpy()[:, first == 0])
    return float(100.0 * rel.max())


@_measure
def baseline_over_centre(runs: Runs, run: str, output: str) -> float:
    """First value of a marker output over the centre its model calibration declares."""
    return float(runs[run][output].iloc[0] / runs.marker_centre(output))


@_measure
def max_deviation(runs: Runs, runs_: list[str], output: str, reference_run: str) -> float:
    """Largest |value / first value of ``reference_run`` - 1| over the named runs."""
    c0 = float(runs[reference_run][output].iloc[0])
    return float(max(np.abs(runs[r][output].to_numpy() / c0 - 1.0).max() for r in runs_))


@_measure
def responder_fraction(runs: Runs, arms: list[str], output: str, day: int, threshold: float,
                       reference: str = "untreated") -> float:
    """Fraction (%) of virtual subjects whose adjusted change at ``day`` is below
    ``threshold``, averaged over the arms (population runs of data/runs.toml)."""
    u = _value(runs[reference], output, day)
    fractions = []
    for arm in arms:
        f = runs[arm]
        changes = np.array([100.0 * (float(g[output].iloc[day]) / u - 1.0)
                            for _, g in f.groupby("subject")])
        fractions.append(np.mean(changes < threshold))
    return 100.0 * float(np.mean(fractions))


def _terms(runs: Runs, spec: Mapping[str, Any]) -> list[float]:
    terms = spec.get("terms")
    if not isinstance(terms, list) or len(terms) < 2:
        raise CheckDefinitionError(f"measure {spec.get('measure')!r}: expected `terms`, a list "
                                   "of at least two measures")
    return [evaluate(runs, t) for t in terms]


def evaluate(runs: Runs, spec: Mapping[str, Any]) -> float:
    """Evaluate one measure specification (a mapping with ``measure`` and its arguments)."""
    name = spec.get("measure")
    if name == "difference":
        a, *rest = _terms(runs, spec)
        return a - sum(rest)
    if name == "ratio":
        a, b = _terms(runs, spec)
        return a / max(b, spec["floor"]) if "floor" in spec else a / b
    if name == "max":
        return max(_terms(runs, spec))
    if name == "min":
        return min(_terms(runs, spec))
    if name not in MEASURES:
        raise CheckDefinitionError(f"unknown measure {name!r}; expected one of "
                                   f"{', '.join(sorted([*MEASURES, 'difference', 'ratio']))}")
    kwargs = {("runs_" if k == "runs" else k): v for k, v in spec.items() if k != "measure"}
    try:
        return float(MEASURES[name](runs, **kwargs))
    except TypeError as exc:
        raise CheckDefinitionError(f"measure {name!r}: {exc}") from None
