"""The joint calibration: every calibrated parameter fitted at once to the calibration set.

:func:`calibrate` minimises the standardised residuals ``(simulated - published) / se``
of every ``calibration`` point of :func:`.dataset.calibration_set` with SciPy's
trust-region reflective least squares (``scipy.optimize.least_squares``, ``method =
"trf"``), within each parameter's search range (``data/fit.toml``, inside the bounds its
model data declares), from several starts: the bundled values and a Latin hypercube
over the ranges. The checks of ``data/checks.toml`` whose role is ``calibration`` (the
seed facts and trial endpoints the model's values were once chosen against) join the
objective as soft constraints: 0 inside their band, the distance outside it in
half-widths of the band. The ``validation`` points are never seen by the fit; they are
evaluated after it.

The Jacobian is a forward difference in the fit's coordinates (the logarithm of a
``scale = "log"`` parameter), and its columns are one virtual population: every
perturbed parameter set is a subject of one batch solve per run, so a Jacobian costs
about one simulation of each run, spread over the cores.

Identifiability is read off the Jacobian at the best fit: the Wald standard error of
each fitted coordinate, the correlations between them, and whether the approximate 95 %
confidence interval stays within the search range. A parameter whose interval crosses
both ends of its range is not determined by the data (practical non-identifiability,
Raue A et al. Bioinformatics 2009;25:1923-1929).
"""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

import boneturnover as bt

from .checks import Check, checks
from .dataset import Series, calibration_set, predictions, published_values
from .measures import CheckDefinitionError
from .runs import run_definitions, run_scenario

__all__ = ["FitParameter", "FitResult", "StartResult", "BatchRuns", "fit_parameters",
           "calibrate", "evaluate_series", "RESIDUAL_OF_FAILURE", "Z_95"]

#: Standardised residual given to a point whose simulation failed (a solver failure or an
#: unusable output): far outside any fit, finite so the optimiser can step away from it.
RESIDUAL_OF_FAILURE = 100.0

#: A band end at or beyond this magnitude is open (``data/checks.toml`` writes "below
#: -56 %" as the band [-1e9, -56]).
_OPEN = 1e8

#: Unit of distance of a one-sided check whose bound is near 0, in the check's own unit
#: (ten percentage points, ten days): a convention of this fit (an assumption), of the
#: size of the assumed standard error of a marker change of about 50 % (20 % of it).
ONE_SIDED_SCALE = 10.0

#: Two-sided 95 % quantile of the standard normal distribution.
Z_95 = 1.959963984540054

#: Forward-difference step of the Jacobian, in fit coordinates (1 % of a log-scaled
#: parameter): well above the solver's relative error (3e-5, docs/ENGINE.md), so the
#: differences are not round-off.
_STEP = 1e-2


@dataclass(frozen=True)
class FitParameter:
    """A parameter the joint fit may move, and the range it searches.

    Attributes
    ----------
    name, unit
        The model parameter (``boneturnover parameters``) and its unit.
    low, high
        The search range, within the parameter's declared bounds.
    scale
        ``"log"`` (the fit moves the logarithm; both ends above 0) or ``"linear"``.
    reason
        Why the range is what it is.
    """

    name: str
    unit: str
    low: float
    high: float
    scale: str
    reason: str

    def to_fit(self, value: float | np.ndarray) -> Any:
        """A value in the parameter's unit -> the fit's coordinate."""
        return np.log(value) if self.scale == "log" else value

    def from_fit(self, u: float | np.ndarray) -> Any:
        """The fit's coordinate -> a value in the parameter's unit."""
        return np.exp(u) if self.scale == "log" else u

    @property
    def fit_bounds(self) -> tuple[float, float]:
        return float(self.to_fit(self.low)), float(self.to_fit(self.high))


def parse_fit_parameters(table: Mapping[str, Any],
                         spec: bt.ModelSpec | None = None) -> tuple[FitParameter, ...]:
    """Checked search ranges from the ``[parameters]`` table of a fit file.

    Raises
    ------
    CheckDefinitionError
        An unknown parameter, a range outside its declared bounds or not containing the
        bundled value, an unknown scale, or a log scale with an end at or below 0.
    """
    spec = spec or bt.load_model()
    out = []
    for name, entry in table.items():
        where = f"fit parameter {name!r}"
        if name not in spec.parameter_names:
            raise CheckDefinitionError(f"{where}: not a model parameter; see `boneturnover "
                                       "parameters`")
        p = spec.parameter(name)
        unknown = sorted(set(entry) - {"low", "high", "scale", "reason"})
        if unknown:
            raise CheckDefinitionError(f"{where}: unknown key {unknown[0]!r}; expected low, "
                                       "high, scale, reason")
        try:
            low, high = float(entry["low"]), float(entry["high"])
            scale, reason = str(entry.get("scale", "log")), str(entry["reason"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckDefinitionError(f"{where}: {exc}; expected low, high (numbers) and "
                                       "reason (text)") from None
        if scale not in ("log", "linear"):
            raise CheckDefinitionError(f"{where}: scale {scale!r}; expected 'log' or 'linear'")
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise CheckDefinitionError(f"{where}: range [{low:g}, {high:g}]; expected finite "
                                       "low < high")
        if scale == "log" and low <= 0:
            raise CheckDefinitionError(f"{where}: low = {low:g} with scale 'log'; expected "
                                       "a range above 0")
        if not (p.bounds.contains(low) and p.bounds.contains(high)):
            raise CheckDefinitionError(f"{where}: range [{low:g}, {high:g}] leaves the "
                                       f"declared bounds {p.bounds.text}")
        if not low <= p.value <= high:
            raise CheckDefinitionError(f"{where}: the bundled value {p.value:g} is outside "
                                       f"the range [{low:g}, {high:g}]")
        out.append(FitParameter(name, p.unit, low, high, scale, reason))
    return tuple(out)


@cache
def fit_parameters() -> tuple[FitParameter, ...]:
    """The parameters the bundled fit moves (``data/fit.toml``), checked."""
    text = resources.files(__package__).joinpath("data/fit.toml").read_text("utf-8")
    return parse_fit_parameters(tomllib.loads(text)["parameters"])


class BatchRuns:
    """Named runs for several parameter sets at once: each run one population solve.

    Parameters
    ----------
    model
        The engine (default: the shared one).
    sets
        One row per parameter set, columns named after model parameters.
    """

    def __init__(self, sets: pd.DataFrame, model: bt.BoneModel | None = None) -> None:
        self.sets = sets.reset_index(drop=True)
        self.model = model or bt.get_model()
        self._frames: dict[str, list[pd.DataFrame]] = {}

    def solve(self, names: Sequence[str]) -> None:
        """Simulate each named run not simulated yet, for every set."""
        for name in dict.fromkeys(names):
            if name in self._frames:
                continue
            if run_definitions()[name].get("population") is not None:
                raise CheckDefinitionError(f"run {name!r} is a population run; a fit reads "
                                           "the run of one woman")
            frame = bt.simulate(run_scenario(name), population=self.sets, model=self.model,
                                throw=False).frame
            groups = dict(tuple(frame.groupby("subject", sort=True)))
            self._frames[name] = [groups[i].drop(columns="subject").reset_index(drop=True)
                                  for i in range(len(self.sets))]

    def __getitem__(self, i: int) -> Mapping[str, pd.DataFrame]:
        """The runs of set ``i`` (a mapping from run name to its table)."""
        return {name: frames[i] for name, frames in self._frames.items()}



def evaluate_series(values: Sequence[Mapping[str, float]], series: Sequence[Series],
                    model: bt.BoneModel | None = None,
                    constraints: Sequence[Check] = ()) -> np.ndarray:
    """Simulated values of every point of ``series``, then of every check of
    ``constraints``, for each parameter set.

    Returns an array (sets x (points + checks)), NaN where a simulation failed. Each run
    they read is solved once for all the sets.
    """
    sets = pd.DataFrame(list(values))  # ``[{}]``: one set of the bundled values
    batch = BatchRuns(sets, model)
    batch.solve([*(r for s in series for r in s.runs), *(r for c in constraints
                                                          for r in c.runs)])
    return np.vstack([np.concatenate([predictions(batch[i], series),
                                      _check_values(batch[i], constraints)])
                      for i in range(len(values))])


def _check_values(runs: Mapping[str, pd.DataFrame], constraints: Sequence[Check]
                  ) -> np.ndarray:
    values = []
    for c in constraints:
        try:
            values.append(c.compute(runs))  # type: ignore[arg-type]
        except (KeyError, IndexError, ZeroDivisionError):
            values.append(math.nan)
    return np.asarray(values, dtype=float)


def band_residuals(values: np.ndarray, constraints: Sequence[Check]) -> np.ndarray:
    """How far each check's value lies outside its band (0 inside it): a calibration
    check as a soft constraint of the fit.

    The distance is counted in half-widths of a two-sided band. A one-sided band (its
    other end beyond +/-1e8, as ``data/checks.toml`` writes "below -56 %") has no width:
    its distance is counted in units of ``max(|bound|, ONE_SIDED_SCALE)``.
    """
    low = np.array([c.low for c in constraints], dtype=float)
    high = np.array([c.high for c in constraints], dtype=float)
    open_low, open_high = np.abs(low) >= _OPEN, np.abs(high) >= _OPEN
    bound = np.where(open_low, high, low)
    scale = np.where(open_low | open_high, np.maximum(np.abs(bound), ONE_SIDED_SCALE),
                     0.5 * (high - low))
    scale = np.maximum(scale, 1e-12)
    below = np.where(values < low, (values - low) / scale, 0.0)
    above = np.where(values > high, (values - high) / scale, 0.0)
    return below + above


def constraint_checks() -> tuple[Check, ...]:
    """The checks of ``data/checks.toml`` whose role is ``calibration`` and that read no
    population run: the fit keeps them inside their bands as soft constraints."""
    return tuple(c for c in checks() if c.role == "calibration"
                 and not any(run_definitions()[r].get("population") for r in c.runs))


@dataclass(frozen=True)
class StartResult:
    """One start of the fit: where it began, where it ended, how it went."""

    start: Mapping[str, float]
    values: Mapping[str, float]
    cost: float
    evaluations: int
    status: int
    message: str


@dataclass(frozen=True)
class FitResult:
    """The joint fit: the best values, every start, and what the data determine.

    Attributes
    ----------
    parameters
        The fitted parameters, in fit order.
    values, bundled
        Best fitted and bundled values, by parameter name.
    starts
        Every start, in order (the first began from the bundled values).
    calibration, validation
        The series of each split.
    before, after
        Simulated values of every point (calibration then validation) with the bundled
        and the fitted values.
    se_fit
        Wald standard error of each fitted coordinate (log of a log-scaled parameter).
    correlation
        Correlation matrix of the fitted coordinates (parameters x parameters).
    seconds
        Wall time of the whole fit.
    constraints, checks_before, checks_after
        The checks kept inside their bands, and their values with the bundled and the
        fitted values.
    """

    parameters: tuple[FitParameter, ...]
    values: Mapping[str, float]
    bundled: Mapping[str, float]
    starts: tuple[StartResult, ...]
    calibration: tuple[Series, ...]
    validation: tuple[Series, ...]
    before: np.ndarray
    after: np.ndarray
    se_fit: np.ndarray
    correlation: np.ndarray
    seconds: float
    notes: tuple[str, ...] = field(default=())
    constraints: tuple[Check, ...] = ()
    checks_before: np.ndarray = field(default_factory=lambda: np.zeros(0))
    checks_after: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def series(self) -> tuple[Series, ...]:
        return (*self.calibration, *self.validation)

    def standardised(self, which: str) -> np.ndarray:
        """Standardised residuals of every point, ``which`` = ``"before"`` or ``"after"``."""
        published, se = published_values(self.series)
        return (getattr(self, which) - published) / se

    def cost(self, which: str, split: str) -> float:
        """Half the sum of squared standardised residuals of one split (NaN counted as a
        failure residual); ``split = "checks"``: of the constraints' band residuals."""
        if split == "checks":
            values = self.checks_before if which == "before" else self.checks_after
            b = np.nan_to_num(band_residuals(values, self.constraints),
                              nan=RESIDUAL_OF_FAILURE)
            b[~np.isfinite(values)] = RESIDUAL_OF_FAILURE
            return float(0.5 * np.sum(b ** 2))
        r = np.nan_to_num(self.standardised(which), nan=RESIDUAL_OF_FAILURE)
        n_cal = sum(len(s.points) for s in self.calibration)
        part = r[:n_cal] if split == "calibration" else r[n_cal:]
        return float(0.5 * np.sum(part ** 2))

    def interval(self, i: int) -> tuple[float, float]:
        """Approximate 95 % confidence interval of parameter ``i``, in its unit."""
        p = self.parameters[i]
        u = float(p.to_fit(self.values[p.name]))
        h = Z_95 * float(self.se_fit[i])
        with np.errstate(over="ignore"):  # an undetermined parameter's interval is unbounded
            return float(p.from_fit(u - h)), float(p.from_fit(u + h))

    def determined(self, i: int) -> str:
        """``"yes"``, ``"one side"`` (the interval crosses one end of the search range) or
        ``"no"`` (it crosses both: the data do not determine the parameter)."""
        p = self.parameters[i]
        lo, hi = self.interval(i)
        crossed = (lo < p.low) + (hi > p.high)
        if not math.isfinite(self.se_fit[i]):
            crossed = 2
        return ("yes", "one side", "no")[crossed]


def _start_points(parameters: Sequence[FitParameter], bundled: np.ndarray, starts: int,
                  seed: int) -> list[np.ndarray]:
    from scipy.stats import qmc

    points = [bundled]
    if starts > 1:
        lows = np.array([p.fit_bounds[0] for p in parameters])
        highs = np.array([p.fit_bounds[1] for p in parameters])
        sample = qmc.LatinHypercube(d=len(parameters), seed=seed).random(starts - 1)
        points.extend(qmc.scale(sample, lows, highs))
    return points


def calibrate(
    *,
    parameters: Sequence[FitParameter] | None = None,
    series: Sequence[Series] | None = None,
    constraints: Sequence[Check] | None = None,
    starts: int = 3,
    max_evaluations: int = 40,
    seed: int = 2010,
    model: bt.BoneModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> FitResult:
    """Fit ``parameters`` jointly to the calibration points of ``series``.

    Parameters
    ----------
    parameters
        What to fit (default: :func:`fit_parameters`, the bundled ``data/fit.toml``).
    series
        The data set (default: :func:`.dataset.calibration_set`); only ``split =
        "calibration"`` series enter the objective.
    constraints
        Checks kept inside their bands (default: :func:`constraint_checks`, the
        calibration checks): each adds a residual of 0 inside its band and its distance
        outside in half-widths of the band.
    starts
        Number of starts: the bundled values, then ``starts - 1`` Latin hypercube points
        over the search ranges (``seed``).
    max_evaluations
        Most residual evaluations of each start (``least_squares``'s ``max_nfev``); a
        Jacobian is one more batch of evaluations.
    model
        The engine (default: the shared one).
    progress
        Called with one line per evaluation round.
    """
    from scipy.optimize import least_squares

    t0 = time.perf_counter()
    parameters = tuple(parameters if parameters is not None else fit_parameters())
    series = tuple(series if series is not None else calibration_set())
    calibration = tuple(s for s in series if s.split == "calibration")
    validation = tuple(s for s in series if s.split == "validation")
    constraints = tuple(constraints if constraints is not None else constraint_checks())
    n_points = sum(len(s.points) for s in calibration)
    if not parameters or not calibration:
        raise bt.InputError("calibrate: expected at least one parameter and one calibration "
                            "series")
    spec = (model.spec if model is not None else bt.load_model())
    names = [p.name for p in parameters]
    bundled = {n: spec.parameter(n).value for n in names}
    published, se = published_values(calibration)
    lows = np.array([p.fit_bounds[0] for p in parameters])
    highs = np.array([p.fit_bounds[1] for p in parameters])

    def sets(us: Sequence[np.ndarray]) -> list[dict[str, float]]:
        return [{p.name: float(p.from_fit(u[j])) for j, p in enumerate(parameters)}
                for u in us]

    def standardised(sim: np.ndarray) -> np.ndarray:
        r = np.concatenate([(sim[:n_points] - published) / se,
                            band_residuals(sim[n_points:], constraints)])
        r[~np.isfinite(sim)] = RESIDUAL_OF_FAILURE
        return np.nan_to_num(r, nan=RESIDUAL_OF_FAILURE, posinf=RESIDUAL_OF_FAILURE,
                             neginf=-RESIDUAL_OF_FAILURE)

    cache_: dict[bytes, np.ndarray] = {}

    def fun(u: np.ndarray) -> np.ndarray:
        key = np.asarray(u, dtype=float).tobytes()
        if key not in cache_:
            cache_[key] = standardised(
                evaluate_series(sets([u]), calibration, model, constraints)[0])
        return cache_[key]

    def jac(u: np.ndarray) -> np.ndarray:
        f0 = fun(u)
        # step towards the inside of the range, so every perturbed set is feasible
        steps = np.where(u + _STEP <= highs, _STEP, -_STEP)
        shifted = [u + steps[j] * np.eye(len(u))[j] for j in range(len(u))]
        sims = evaluate_series(sets(shifted), calibration, model, constraints)
        cols = [(standardised(sims[j]) - f0) / steps[j] for j in range(len(u))]
        if progress is not None:
            progress(f"  Jacobian: cost {0.5 * float(f0 @ f0):.6g}")
        return np.column_stack(cols)

    u_bundled = np.array([p.to_fit(bundled[p.name]) for p in parameters], dtype=float)
    results: list[StartResult] = []
    best: Any = None
    for k, u0 in enumerate(_start_points(parameters, u_bundled, starts, seed)):
        u0 = np.clip(u0, lows, highs)
        if progress is not None:
            progress(f"start {k + 1} of {starts}")
        sol = least_squares(fun, u0, jac=jac, bounds=(lows, highs), method="trf",
                            x_scale="jac", max_nfev=max_evaluations)
        results.append(StartResult(
            start=sets([u0])[0], values=sets([sol.x])[0], cost=float(sol.cost),
            evaluations=int(sol.nfev), status=int(sol.status), message=str(sol.message)))
        if best is None or sol.cost < best.cost:
            best = sol
    # identifiability from the Jacobian at the best fit (Wald approximation)
    jtj = best.jac.T @ best.jac
    cov = np.linalg.pinv(jtj)
    se_fit = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(se_fit, se_fit)
    rank = np.linalg.matrix_rank(jtj)
    notes = ()
    if rank < len(parameters):
        se_fit = np.where(np.abs(np.diag(jtj)) > 0, se_fit, np.inf)
        notes = (f"the Jacobian at the best fit has rank {rank} of {len(parameters)}: some "
                 "combinations of parameters do not change any calibration point",)
    fitted = sets([best.x])[0]
    both = evaluate_series([bundled, fitted], (*calibration, *validation), model,
                           constraints)
    n_all = n_points + sum(len(s.points) for s in validation)
    return FitResult(
        parameters=parameters, values=fitted, bundled=bundled, starts=tuple(results),
        calibration=calibration, validation=validation, before=both[0, :n_all],
        after=both[1, :n_all], se_fit=se_fit, correlation=corr,
        seconds=time.perf_counter() - t0, notes=notes, constraints=constraints,
        checks_before=both[0, n_all:], checks_after=both[1, n_all:])


def result_document(result: FitResult) -> dict[str, Any]:
    """The fitted values with their targets and identifiability, as a TOML document."""
    params = {}
    for i, p in enumerate(result.parameters):
        lo, hi = result.interval(i)
        params[p.name] = {
            "value": result.values[p.name], "bundled": result.bundled[p.name],
            "unit": p.unit, "low": p.low, "high": p.high, "scale": p.scale,
            "ci95": [lo, hi], "determined": result.determined(i)}
    return {
        "fit": {
            "method": "scipy.optimize.least_squares, trust-region reflective, forward "
                      "differences as one batch solve",
            "starts": len(result.starts), "seconds": round(result.seconds, 1),
            "cost_calibration_before": result.cost("before", "calibration"),
            "cost_calibration_after": result.cost("after", "calibration"),
            "cost_validation_before": result.cost("before", "validation"),
            "cost_validation_after": result.cost("after", "validation"),
            "calibration_targets": [s.id for s in result.calibration],
            "validation_series": [s.id for s in result.validation],
            "notes": list(result.notes),
        },
        "parameters": params,
        "starts": [{"start": dict(s.start), "values": dict(s.values), "cost": s.cost,
                    "evaluations": s.evaluations, "message": s.message}
                   for s in result.starts],
    }


def read_fitted_values(path: str) -> dict[str, float]:
    """The ``value`` of every parameter of a file :func:`result_document` wrote."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise bt.InputError(f"--values {path}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise bt.InputError(f"--values {path}: not TOML ({exc})") from None
    table = doc.get("parameters")
    if not isinstance(table, dict) or not table:
        raise bt.InputError(f"--values {path}: expected a [parameters] table with a `value` "
                            "per parameter, as `boneturnover calibrate --out` writes")
    out = {}
    for name, entry in table.items():
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bt.InputError(f"--values {path}: parameters.{name}.value = {value!r}; "
                                "expected a number")
        out[name] = float(value)
    return out
