"""Run a scenario: one patient or a virtual population, to a table of clinical outputs.

Time 0 is the patient at the age given. A woman with a menopause age starts her
history at the premenopausal steady state at the model's reference age
(10 years before the final menstrual period, Riggs & Peterson 2012) or at her
current age if younger, and is simulated untreated up to time 0; so a
70-year-old starts from the state her untreated history leads to.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import limits
from .dosing import realize
from .errors import InputError, SolverError
from .magnesium import supplement_rates_mmol_h
from .model.equations import HOURS_PER_YEAR, S
from .model.outputs import OUTPUTS, calibration, compute_outputs
from .model.spec import Parameter
from .model.system import BoneModel, EventTable, get_model
from .scenario import Scenario
from .solve.results import Status

__all__ = ["simulate", "SimulationResult", "history_start_age", "use_model",
           "active_model"]

#: The engine :func:`simulate` uses when none is passed (``None``: the shared default).
_ACTIVE_MODEL: ContextVar[BoneModel | None] = ContextVar("boneturnover_model", default=None)


def active_model() -> BoneModel:
    """The engine :func:`simulate` uses when none is passed."""
    return _ACTIVE_MODEL.get() or get_model()


@contextmanager
def use_model(model: BoneModel) -> Iterator[BoneModel]:
    """Make ``model`` the engine of every :func:`simulate` call without one, in this block.

    Used to run code that simulates internally (the validation checks) on a model
    variant, e.g. ``BoneModel(load_model().with_values({"bp_emax": 3.0}))``.
    """
    token = _ACTIVE_MODEL.set(model)
    try:
        yield model
    finally:
        _ACTIVE_MODEL.reset(token)


@dataclass(frozen=True)
class SimulationResult:
    """Outputs of :func:`simulate`.

    Attributes
    ----------
    frame
        One row per output time (and subject, for a population): ``time_d`` and
        every output of :data:`boneturnover.model.outputs.OUTPUTS`. For a
        population the index is ``subject``.
    status
        One :class:`Status` per subject.
    warnings
        Lines about outputs that are undefined for this input (e.g. the calcium/magnesium
        intake ratio without any magnesium intake, written as empty cells).
    """

    frame: pd.DataFrame
    status: tuple[Status, ...]
    scenario: Scenario
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(s == Status.OK for s in self.status)


def history_start_age(age_y: float, menopause_age_y: float | None, ref_offset_y: float) -> float:
    """Age at which the untreated history starts (premenopausal steady state)."""
    if menopause_age_y is None:
        return age_y
    return min(age_y, menopause_age_y - ref_offset_y)


def simulate(
    scenario: Scenario,
    *,
    population: pd.DataFrame | None = None,
    model: BoneModel | None = None,
    throw: bool = True,
) -> SimulationResult:
    """Simulate a scenario.

    Parameters
    ----------
    scenario
        Patient, duration, parameter overrides and doses.
    population
        Optional virtual population: one row per subject, columns named after
        model parameters (see ``boneturnover parameters``); each row overrides
        the scenario's values for that subject.
    model
        Engine to use (default: the one set by :func:`use_model`, else the shared
        model at rtol 1e-6).
    throw
        Raise :class:`SolverError` if any subject fails; otherwise report it in
        ``status`` and leave that subject's rows NaN.

    Returns
    -------
    SimulationResult

    Raises
    ------
    InputError
        A population column that is not a parameter, or a value that is not a finite
        number within the parameter's bounds (naming the row).
    LimitError
        A run beyond :mod:`boneturnover.limits` (subjects, output rows, dose events),
        before anything is allocated.
    SolverError
        With ``throw=True``, a subject whose solve failed or gave values it cannot (NaN,
        infinite, negative), naming the subject, the time and the likely cause.

    Examples
    --------
    >>> import boneturnover as bt
    >>> sc = bt.scenario_from_dict({"patient": {"age": 70, "menopause_age": 51},
    ...                             "years": 1, "regimen": "zoledronate"})
    >>> res = bt.simulate(sc)
    >>> res.ok, len(res.frame)
    (True, 366)
    >>> bool(res.frame["bmd_spine_g_cm2"].iloc[-1] > res.frame["bmd_spine_g_cm2"].iloc[0])
    True

    A virtual population gives one long table with a ``subject`` column:

    >>> import pandas as pd
    >>> pop = pd.DataFrame({"k_ob_removal": [0.00055, 0.00065]})
    >>> bt.simulate(sc, population=pop).frame.groupby("subject").size().tolist()
    [366, 366]
    """
    model = model or active_model()
    spec = model.spec
    n = 1 if population is None else len(population)
    if n == 0:
        raise InputError("population: the table has no rows; expected one row per subject")
    limits.check(limits.MAX_SUBJECTS, n, "the population")
    end_h = scenario.years * HOURS_PER_YEAR
    n_times = int(math.floor(end_h / scenario.output_every_h + 1e-9)) + 1
    limits.check(limits.MAX_OUTPUT_ROWS, n * n_times,
                 f"{n} subject(s) x {n_times} output times")
    doses_each = sum(d.count_before(end_h) for d in scenario.doses)
    limits.check(limits.MAX_DOSES_PER_SUBJECT, doses_each, "the scenario's doses")
    limits.check(limits.MAX_EVENTS, 2 * n * doses_each, f"{n} subject(s) x {doses_each} doses")
    for key, value in scenario.parameters.items():
        spec.parameter(key).check(value, f"[parameters].{key}")
    overrides: list[dict[str, float]] = [dict(scenario.parameters) for _ in range(n)]
    rec = model.records(n)
    for key, value in scenario.parameters.items():
        rec[key] = value
    if population is not None:
        known = set(spec.parameter_names)
        for col in population.columns:
            if col not in known:
                raise InputError(f"population: column {str(col)[:60]!r} is not a model "
                                 "parameter; list them with `boneturnover parameters`")
            rec[col] = _population_column(population[col], spec.parameter(col))
            for i, v in enumerate(rec[col]):
                overrides[i][col] = float(v)
    pat = scenario.patient
    offset_y = float(rec["est_ref_age_offset_y"][0])
    start_age = history_start_age(pat.age_y, pat.menopause_age_y, offset_y)
    rec["age0_y"] = start_age
    rec["menopause_age_y"] = math.nan if pat.menopause_age_y is None else pat.menopause_age_y
    y0s, status = _prepare(model, rec)

    hist_h = (pat.age_y - start_age) * HOURS_PER_YEAR
    t_scen = np.arange(0.0, end_h + 1e-9, scenario.output_every_h)
    t_model = np.concatenate([[hist_h], t_scen + hist_h]) if hist_h > 0 else t_scen
    index = {s.name: s.index for s in spec.states}
    rows = [realize(list(scenario.doses), end_h, rec[i], index, offset_h=hist_h)
            for i in range(n)]
    ok_mask = status == Status.OK
    y = np.full((n, t_model.shape[0], len(spec.states)), np.nan)
    t_fail = np.full(n, -math.inf)  # model time a failed solve reached (-inf: steady state)
    if ok_mask.any():
        sub = np.nonzero(ok_mask)[0]
        ev = EventTable.from_rows([rows[i] for i in sub])
        max_steps = 200_000 + 400 * (sum(len(r) for r in rows) // n)
        y_start, t_start, t_run = y0s[sub], None, t_model
        # --- magnesium: the history before scenario time 0 runs at the adequate
        # (reference) intake; the scenario's intake applies from time 0 ---
        if hist_h > 0 and np.any(rec["mg_intake_mg_day"] != rec["mg_intake_ref_mg_day"]):
            rec_hist = rec[sub].copy()
            rec_hist["mg_intake_mg_day"] = rec_hist["mg_intake_ref_mg_day"]
            yh, st_h, stats_h = _solve(model, rec_hist, y0s[sub], np.array([hist_h]))
            y_start, t_start, t_run = yh[:, -1, :], np.full(len(sub), hist_h), t_model[1:]
        ys, st, stats = _solve(model, rec[sub], y_start, t_run, events=ev, t_start_h=t_start,
                               max_steps=max_steps)
        t_fail[sub] = stats[:, 3]
        if t_start is not None:
            ys = np.concatenate([y_start[:, None, :], ys], axis=1)
            t_fail[sub] = np.where(st_h != 0, stats_h[:, 3], t_fail[sub])
            st = np.where(st_h != 0, st_h, st)
        y[sub] = ys
        status[sub] = st
    if hist_h > 0:
        y = y[:, 1:, :]
        # cumulative urine counts from scenario time 0
        y[..., S.urine_ca_cum_mmol] -= y[:, :1, S.urine_ca_cum_mmol]
    statuses = tuple(Status(int(s)) for s in status)
    if throw:
        for i, s in enumerate(statuses):
            if s != Status.OK:
                if s == Status.STEADY_STATE_FAILED or t_fail[i] == -math.inf:
                    when = "while solving the premenopausal steady state"
                elif math.isfinite(t_fail[i]):
                    when = f"at {_when(t_fail[i] - hist_h)}"
                else:
                    when = "during the solve (a division by zero in the equations)"
                raise SolverError(f"subject {i}: {s.message}, {when}; likely cause: "
                                  f"{_likely_cause(overrides[i], scenario, t_fail[i] < hist_h)}")
    bmd = calibration()["bmd"]
    spine0 = pat.premenopausal_bmd_spine_g_cm2 or bmd["spine_young_mean_g_cm2"]
    hip0 = pat.premenopausal_bmd_hip_g_cm2 or bmd["hip_young_mean_g_cm2"]
    frames = []
    names = [o.name for o in OUTPUTS]
    notes: list[str] = []
    for i in range(n):
        out = compute_outputs(y[i], y0s[i], rec[i], spine0, hip0,
                              supplement_mmol_h=supplement_rates_mmol_h(scenario.doses, t_scen,
                                                                        end_h))
        cols = {"time_d": t_scen / 24.0, "age_y": pat.age_y + t_scen / HOURS_PER_YEAR}
        cols.update(out)
        df = pd.DataFrame({k: cols[k] for k in names})
        if statuses[i] == Status.OK:
            problem = _output_problem(df, notes)
            if problem is not None:
                if throw:
                    raise SolverError(f"subject {i}: {problem}; likely cause: "
                                      f"{_likely_cause(overrides[i], scenario, False)}")
                statuses = statuses[:i] + (Status.NONFINITE,) + statuses[i + 1:]
                df.loc[:, names[2:]] = np.nan
        if population is not None:
            df.insert(0, "subject", i)
        frames.append(df)
    frame = frames[0] if n == 1 and population is None else pd.concat(frames, ignore_index=True)
    return SimulationResult(frame=frame, status=statuses, scenario=scenario,
                            warnings=tuple(dict.fromkeys(notes)))


#: Outputs that may be negative (a T-score is a deviation from the young-adult mean).
_SIGNED_OUTPUTS = frozenset({"t_score_spine", "t_score_hip"})
#: Outputs that are undefined for some valid input, and why (written as empty cells).
_UNDEFINED_WHEN = {"ca_mg_intake_ratio": "no magnesium is taken in (diet or supplement), so "
                                         "the calcium/magnesium intake ratio is undefined"}


def _output_problem(df: pd.DataFrame, notes: list[str]) -> str | None:
    """Why a solved subject's outputs cannot be used (None: they can); fixes undefined ones."""
    for col, why in _UNDEFINED_WHEN.items():
        if col in df and not np.all(np.isfinite(df[col].to_numpy())):
            df[col] = df[col].where(np.isfinite(df[col].to_numpy()), np.nan)
            notes.append(f"{col}: {why}; written as empty cells")
    for col in df.columns:
        if col in _UNDEFINED_WHEN:
            continue
        vals = df[col].to_numpy(dtype=float)
        bad = ~np.isfinite(vals)
        if bad.any():
            return f"output {col} is not finite from day {df['time_d'].to_numpy()[bad][0]:g}"
        if col not in _SIGNED_OUTPUTS and (vals < 0).any():
            k = int(np.argmax(vals < 0))
            return (f"output {col} is negative ({vals[k]:.3g}) at day "
                    f"{df['time_d'].to_numpy()[k]:g}")
    return None


def _population_column(column: pd.Series, param: Parameter) -> np.ndarray:
    """A population column as floats, each value checked against the parameter's bounds."""
    try:
        vals = column.to_numpy(dtype=float)
    except (TypeError, ValueError, OverflowError):
        vals = None
    if vals is None or not np.all(np.isfinite(vals)) or not all(
            param.bounds.contains(v) for v in vals):
        for row, value in enumerate(column.tolist()):
            param.check(value, f"population: column {param.name!r} row {row}")
    return vals


def _when(t_h: float) -> str:
    """Scenario time (h) as days from time 0, or how long before it (the history)."""
    days = t_h / 24.0
    if days < 0:
        return f"{-days:.4g} days before time 0 (the untreated history)"
    return f"day {days:.4g} after time 0"


def _likely_cause(overrides: dict[str, float], scenario: Scenario, in_history: bool) -> str:
    """The input most likely behind a failed solve: parameter values, else the doses."""
    shown = ", ".join(f"{k} = {v:g}" for k, v in list(overrides.items())[:6])
    more = "" if len(overrides) <= 6 else f" and {len(overrides) - 6} more"
    if overrides:
        return (f"the parameter values of this subject ({shown}{more}); the bundled values "
                "solve (`boneturnover parameters`)")
    if scenario.doses and not in_history:
        targets = ", ".join(sorted({d.compartment for d in scenario.doses}))
        return (f"the doses ({len(scenario.doses)} record(s) into {targets}); check their "
                "amounts and intervals")
    return "none of the input: a numerical failure of the model on its bundled values"


def _prepare(model: BoneModel, rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``model.prepare``, with an arithmetic failure of one subject made its status."""
    try:
        return model.prepare(rec)
    except ArithmeticError:
        pass
    y0s = np.tile(model.y_ref, (rec.shape[0], 1))
    status = np.zeros(rec.shape[0], np.int64)
    for i in range(rec.shape[0]):
        try:
            y, st = model.prepare(rec[i:i + 1])
            y0s[i], status[i] = y[0], st[0]
        except ArithmeticError:
            status[i] = Status.STEADY_STATE_FAILED
    return y0s, status


def _solve(model: BoneModel, rec: np.ndarray, y0s: np.ndarray, t_out: np.ndarray,
           events: EventTable | None = None, t_start_h: np.ndarray | None = None,
           max_steps: int = 200_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``model.solve``; an arithmetic failure (division by zero) becomes one subject's status."""
    try:
        return model.solve(rec, y0s, t_out, events=events, t_start_h=t_start_h,
                           max_steps=max_steps)
    except ArithmeticError:
        pass
    n = rec.shape[0]
    y = np.full((n, t_out.shape[0], y0s.shape[1]), np.nan)
    status = np.zeros(n, np.int64)
    stats = np.zeros((n, 4))
    for i in range(n):
        ev = None
        if events is not None:
            lo, hi = events.ptr[i], events.ptr[i + 1]
            ev = EventTable(events.time_h[lo:hi], events.kind[lo:hi], events.state[lo:hi],
                            events.value[lo:hi], np.array([0, hi - lo], np.int64))
        try:
            yi, si, sti = model.solve(rec[i:i + 1], y0s[i:i + 1], t_out, events=ev,
                                      t_start_h=None if t_start_h is None else t_start_h[i:i + 1],
                                      max_steps=max_steps)
            y[i], status[i], stats[i] = yi[0], si[0], sti[0]
        except ArithmeticError:
            status[i] = Status.NONFINITE
            stats[i, 3] = math.nan
    return y, status, stats
