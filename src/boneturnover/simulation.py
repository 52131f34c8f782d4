"""Run a scenario: one patient or a virtual population, to a table of clinical outputs.

Time 0 is the patient at the age given. A woman with a menopause age starts her
history at the premenopausal steady state at the model's reference age
(10 years before the final menstrual period, Riggs & Peterson 2012) or at her
current age if younger, and is simulated untreated up to time 0; so a
70-year-old starts from the state her untreated history leads to.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import limits
from .errors import InputError, SolverError
from .files import atomic_write_csv
from .model.indices import HOURS_PER_YEAR
from .model.system import BoneModel, get_model
from .population import (
    HISTORY_CACHE,
    OUTPUT_NAMES,
    STATUS_FILE,
    CacheInfo,
    ChunkResult,
    chunk_size,
    history_start_age,
    partition_path,
    population_values,
    prepare_out_folder,
    remove_stale_partitions,
    solve_chunk,
    status_frame,
    write_partition,
)
from .scenario import Scenario
from .solve.results import Status

__all__ = ["simulate", "SimulationResult", "history_start_age", "use_model",
           "active_model", "history_cache_info", "clear_history_cache"]

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
        every output of :data:`boneturnover.model.outputs.OUTPUTS`; a population's table
        starts with a ``subject`` column (0-based row of the population table). Empty (the
        columns only) when the rows were written to ``out``.
    status
        One :class:`Status` per subject.
    scenario
        The scenario simulated.
    warnings
        Lines about outputs that are undefined for this input (e.g. the calcium/magnesium
        intake ratio without any magnesium intake, written as empty cells).
    reasons
        One line per subject: why its solve failed or its outputs were unusable (empty
        when they were not).
    out
        The output folder written (``outputs/part-NNNNN.parquet`` and ``status.csv``), or
        None.
    """

    frame: pd.DataFrame
    status: tuple[Status, ...]
    scenario: Scenario
    warnings: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    out: Path | None = None

    @property
    def ok(self) -> bool:
        return all(s == Status.OK for s in self.status)

    @property
    def status_frame(self) -> pd.DataFrame:
        """One row per subject: ``subject``, ``status`` (a :class:`Status` name), ``reason``."""
        reasons = self.reasons or ("",) * len(self.status)
        return status_frame(self.status, reasons)


def history_cache_info() -> CacheInfo:
    """Counters of the untreated-history cache of this process.

    Returns
    -------
    CacheInfo
        ``hits`` (subjects served from the cache), ``misses`` (distinct histories
        solved), ``solves`` (batch solve calls for histories), ``size`` and ``maxsize``.
    """
    return HISTORY_CACHE.info()


def clear_history_cache() -> None:
    """Forget the cached untreated histories of this process and reset the counters."""
    HISTORY_CACHE.clear()


def simulate(
    scenario: Scenario,
    *,
    population: pd.DataFrame | None = None,
    model: BoneModel | None = None,
    throw: bool = True,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    cluster: str | None = None,
    client: Any = None,
    chunk_subjects: int | None = None,
    progress: Callable[[int, int], None] | None = None,
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
        model at its default tolerance).
    throw
        Raise :class:`SolverError` if any subject fails; otherwise report it in
        ``status`` and ``reasons`` and leave that subject's outputs NaN.
    out
        Optional output folder: each chunk of subjects is written as
        ``outputs/part-NNNNN.parquet`` (atomically) and the subjects' outcomes as
        ``status.csv``, instead of holding the rows in memory (read them back with
        ``pandas.read_parquet(out / "outputs")``). Its parent must exist.
    force
        Whether ``out`` may already hold files (earlier results are replaced).
    cluster
        Address of a Dask scheduler (``"tcp://host:8786"``): the chunks run as tasks on
        its workers (needs ``dask[distributed]``, the ``cluster`` extra).
    client
        A connected ``dask.distributed.Client`` to run the chunks on, instead of
        ``cluster``.
    chunk_subjects
        Subjects per chunk (one batch solve each; default: at most 256, fewer when the
        chunk's state array would pass 256 MiB).
    progress
        Called as ``progress(subjects_done, subjects)`` after each chunk.

    Returns
    -------
    SimulationResult

    Raises
    ------
    InputError
        A population column that is not a parameter, or a value that is not a finite number
        within the parameter's bounds (naming the row); an ``out`` folder that cannot be
        written; a scheduler that cannot be reached.
    LimitError
        A run beyond :mod:`boneturnover.limits` (subjects, output rows held in memory or
        in one partition, dose events), before anything is allocated.
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
    if cluster is not None and client is not None:
        raise InputError("cluster and client are both given; expected one of them")
    limits.check(limits.MAX_SUBJECTS, n, "the population")
    end_h = scenario.years * HOURS_PER_YEAR
    n_times = int(math.floor(end_h / scenario.output_every_h + 1e-9)) + 1
    n_states = 2 * len(OUTPUT_NAMES)  # values held per subject and output time
    distributed = cluster is not None or client is not None
    if out is None:
        limits.check(limits.MAX_OUTPUT_ROWS, n * n_times,
                     f"{n} subject(s) x {n_times} output times")
    else:  # rows are written chunk by chunk: one partition at a time is held
        limits.check(limits.MAX_OUTPUT_ROWS, n_times, f"one subject x {n_times} output times")
    doses_each = sum(d.count_before(end_h) for d in scenario.doses)
    limits.check(limits.MAX_DOSES_PER_SUBJECT, doses_each, "the scenario's doses")
    limits.check(limits.MAX_EVENTS, 2 * n * doses_each, f"{n} subject(s) x {doses_each} doses")
    for key, value in scenario.parameters.items():
        spec.parameter(key).check(value, f"[parameters].{key}")
    values = {} if population is None else population_values(population, model)
    if out is not None:
        prepare_out_folder(out, force=force, what="out", create=False)

    def plan(tasks: int, minimum: int) -> list[tuple[int, int]]:
        size = chunk_size(n, n_times, n_states, tasks=tasks, minimum=minimum,
                          requested=chunk_subjects)
        if out is not None:
            size = min(size, max(1, int(limits.MAX_OUTPUT_ROWS.value) // n_times))
        return [(lo, min(size, n - lo)) for lo in range(0, n, size)]

    block: np.ndarray | None = None
    if distributed:
        from .cluster import connect, model_recipe, run_chunks

        recipe = model_recipe(model)
        own = connect(cluster) if cluster is not None else None
        try:
            nthreads = dict((own or client).nthreads())  # worker -> Dask threads
            bounds = plan(4 * max(1, len(nthreads)), 4 * max([1, *nthreads.values()]))
            folder = None if out is None else prepare_out_folder(out, force=True, what="out")
            chunks = run_chunks(recipe, scenario, values, bounds, client=own or client,
                                folder=folder, progress=progress)
        finally:
            if own is not None:
                own.close()
    else:
        import numba

        bounds = plan(8, 4 * numba.get_num_threads())
        folder = None if out is None else prepare_out_folder(out, force=True, what="out")
        # held in memory: the solver writes the model's columns of every chunk into one
        # column-major block, whose rows become the table's columns without a copy
        block = (np.empty((len(model.generated.COLUMNS), n, n_times))
                 if folder is None and len(bounds) > 1 else None)
        chunks = []
        done = 0
        for k, (lo, count) in enumerate(bounds):
            part = {key: arr[lo:lo + count] for key, arr in values.items()}
            res = solve_chunk(model, scenario, part, lo, count,
                              throw=throw and folder is None,
                              into=None if block is None else block[:, lo:lo + count, :])
            if throw and folder is None:
                _raise_first(res)
            if folder is not None:
                path = partition_path(folder, k)
                assert res.columns is not None
                write_partition(path, res.columns)
                res.columns, res.path = None, str(path)
            chunks.append(res)
            done += count
            if progress is not None:
                progress(done, n)
    status = np.concatenate([c.status for c in chunks])
    reasons = tuple(r for c in chunks for r in c.reasons)
    notes = tuple(dict.fromkeys(line for c in chunks for line in c.notes))
    statuses = tuple(Status(int(s)) for s in status)
    if folder is not None:
        atomic_write_csv(folder / STATUS_FILE, status_frame(status, reasons))
        remove_stale_partitions(folder, len(bounds))
    if throw:
        for c in chunks:
            _raise_first(c, folder)
    names = (["subject"] if population is not None else []) + list(OUTPUT_NAMES)
    if folder is not None:
        frame = pd.DataFrame({k: np.zeros(0, np.int64 if k == "subject" else float)
                              for k in names})
    else:
        cols = {}
        in_block = {} if block is None else {c: j for j, c in enumerate(model.generated.COLUMNS)}
        for k in names:
            if k in in_block:  # the chunks' columns are views of the block's rows
                cols[k] = block[in_block[k]].reshape(-1)
                continue
            parts = [c.columns[k] for c in chunks if c.columns is not None]
            cols[k] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        frame = pd.DataFrame(cols, copy=False)
    return SimulationResult(frame=frame, status=statuses, scenario=scenario, warnings=notes,
                            reasons=reasons, out=folder)


def _raise_first(chunk: ChunkResult, folder: Path | None = None) -> None:
    """Raise :class:`SolverError` for the chunk's first failed subject, if any."""
    for code, reason in zip(chunk.status, chunk.reasons, strict=True):
        if code != Status.OK:
            where = "" if folder is None else f" (every subject's outcome: {folder / STATUS_FILE})"
            raise SolverError(reason + where)
