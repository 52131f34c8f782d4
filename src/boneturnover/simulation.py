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

from .dosing import realize
from .errors import InputError, SolverError
from .magnesium import supplement_rates_mmol_h
from .model.equations import HOURS_PER_YEAR, S
from .model.outputs import OUTPUTS, calibration, compute_outputs
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
    """

    frame: pd.DataFrame
    status: tuple[Status, ...]
    scenario: Scenario

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
        A population column that is not a parameter, or a value that is not finite.
    SolverError
        With ``throw=True``, a subject whose solve failed (its status names why).

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
    rec = model.records(n)
    for key, value in scenario.parameters.items():
        rec[key] = value
    if population is not None:
        known = set(spec.parameter_names)
        for col in population.columns:
            if col not in known:
                raise InputError(f"population: column {col!r} is not a model parameter; "
                                 "list them with `boneturnover parameters`")
            vals = population[col].to_numpy(dtype=float)
            if not np.all(np.isfinite(vals)):
                raise InputError(f"population: column {col!r} has missing or infinite values")
            rec[col] = vals
    pat = scenario.patient
    offset_y = float(rec["est_ref_age_offset_y"][0])
    start_age = history_start_age(pat.age_y, pat.menopause_age_y, offset_y)
    rec["age0_y"] = start_age
    rec["menopause_age_y"] = math.nan if pat.menopause_age_y is None else pat.menopause_age_y
    y0s, status = model.prepare(rec)

    hist_h = (pat.age_y - start_age) * HOURS_PER_YEAR
    end_h = scenario.years * HOURS_PER_YEAR
    t_scen = np.arange(0.0, end_h + 1e-9, scenario.output_every_h)
    t_model = np.concatenate([[hist_h], t_scen + hist_h]) if hist_h > 0 else t_scen
    index = {s.name: s.index for s in spec.states}
    rows = [realize(list(scenario.doses), end_h, rec[i], index, offset_h=hist_h)
            for i in range(n)]
    ok_mask = status == Status.OK
    y = np.full((n, t_model.shape[0], len(spec.states)), np.nan)
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
            yh, st_h, _ = model.solve(rec_hist, y0s[sub], np.array([hist_h]))
            y_start, t_start, t_run = yh[:, -1, :], np.full(len(sub), hist_h), t_model[1:]
        ys, st, _stats = model.solve(rec[sub], y_start, t_run, events=ev, t_start_h=t_start,
                                     max_steps=max_steps)
        if t_start is not None:
            ys = np.concatenate([y_start[:, None, :], ys], axis=1)
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
                raise SolverError(f"subject {i}: {s.message}")
    bmd = calibration()["bmd"]
    spine0 = pat.premenopausal_bmd_spine_g_cm2 or bmd["spine_young_mean_g_cm2"]
    hip0 = pat.premenopausal_bmd_hip_g_cm2 or bmd["hip_young_mean_g_cm2"]
    frames = []
    names = [o.name for o in OUTPUTS]
    for i in range(n):
        out = compute_outputs(y[i], y0s[i], rec[i], spine0, hip0,
                              supplement_mmol_h=supplement_rates_mmol_h(scenario.doses, t_scen,
                                                                        end_h))
        cols = {"time_d": t_scen / 24.0, "age_y": pat.age_y + t_scen / HOURS_PER_YEAR}
        cols.update(out)
        df = pd.DataFrame({k: cols[k] for k in names})
        if population is not None:
            df.insert(0, "subject", i)
        frames.append(df)
    frame = frames[0] if n == 1 and population is None else pd.concat(frames, ignore_index=True)
    return SimulationResult(frame=frame, status=statuses, scenario=scenario)
