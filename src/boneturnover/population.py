"""Subjects of a scenario in chunks: one batch solve per chunk, untreated histories cached.

:func:`boneturnover.simulate` runs a virtual population chunk by chunk (locally, or as
tasks on a Dask cluster with :mod:`boneturnover.cluster`); each chunk is one call of
:func:`solve_chunk`:

1. parameter records of the chunk's subjects (bundled values, the scenario's
   ``[parameters]``, the subject's population row) and their premenopausal steady states
   (:meth:`~boneturnover.model.system.BoneModel.prepare`);
2. the untreated history from the history start age to scenario time 0, taken from
   :data:`HISTORY_CACHE` or solved once for each distinct :meth:`HistoryCache.key`, in one
   batch;
3. the scenario's doses from time 0, every subject of the chunk in one
   :meth:`~boneturnover.model.system.BoneModel.solve` call (numba threads across cores);
   The output columns are computed inside the compiled solve at the output times
   (:meth:`~boneturnover.model.system.BoneModel.observe`): no state history is held;
4. the columns of the whole chunk as NumPy arrays: no table per subject.

A subject whose solve fails, or whose outputs are unusable, keeps its rows with NaN
outputs, its :class:`~boneturnover.solve.results.Status` and a one-line reason.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .dosing import realize
from .errors import InputError, OutputPathError, SolverError
from .files import atomic_writer
from .magnesium import supplement_rates_mmol_h
from .model.indices import HOURS_PER_YEAR
from .model.outputs import INTAKE_COLUMNS, OUTPUTS, intake_ratio
from .model.spec import Parameter
from .model.system import BoneModel, EventTable
from .scenario import Scenario
from .solve.results import Status

__all__ = ["HistoryCache", "CacheInfo", "HISTORY_CACHE", "ChunkResult", "solve_chunk",
           "SubjectStart", "subject_start",
           "history_start_age", "population_values", "chunk_size", "output_times_h",
           "prepare_out_folder", "write_partition", "status_frame", "remove_stale_partitions",
           "OUTPUT_NAMES", "PARTITIONS", "STATUS_FILE", "CHUNK_SUBJECTS", "CHUNK_STATE_BYTES"]

#: Output columns of every row, in order (``time_d``, ``age_y``, then the outputs).
OUTPUT_NAMES: tuple[str, ...] = tuple(o.name for o in OUTPUTS)
#: Most subjects of one chunk (one batch solve, one parquet partition).
CHUNK_SUBJECTS = 256
#: Most memory (bytes) of one chunk's state array (subjects x output times x states x 8).
CHUNK_STATE_BYTES = 256 * 2**20
#: Folder of the parquet partitions inside an output folder, and the status table beside it.
PARTITIONS, STATUS_FILE = "outputs", "status.csv"
_PART_NAME = re.compile(r"part-(\d{5,})\.parquet")
#: Most model time steps of the untreated history.
_HISTORY_MAX_STEPS = 200_000


def history_start_age(age_y: float, menopause_age_y: float | None, ref_offset_y: float) -> float:
    """Age (years) at which the untreated history starts (premenopausal steady state).

    Parameters
    ----------
    age_y
        Age at scenario time 0.
    menopause_age_y
        Age at the final menstrual period, or None (premenopausal: no history).
    ref_offset_y
        Years before the final menstrual period at which oestrogen starts to fall
        (``est_ref_age_offset_y``).
    """
    if menopause_age_y is None:
        return age_y
    return min(age_y, menopause_age_y - ref_offset_y)


# --------------------------------------------------------------------------------------
# the untreated-history cache
@dataclass(frozen=True)
class CacheInfo:
    """Counters of a :class:`HistoryCache`.

    Attributes
    ----------
    hits
        Subjects whose history was not solved for them: taken from the cache, or from
        another subject of the same batch with the same key.
    misses
        Distinct histories solved (one per key not found).
    solves
        Batch solve calls made for histories.
    size, maxsize
        Histories held now, and the most it holds.
    """

    hits: int
    misses: int
    solves: int
    size: int
    maxsize: int


class HistoryCache:
    """Least-recently-used store of untreated histories: the state at scenario time 0.

    A history depends only on the values of the record fields named by
    :attr:`~boneturnover.model.spec.ModelSpec.untreated_parameter_names`, the age at the
    start of the history (``age0_y``), the menopause age, the magnesium intake during the
    history, the model (its generated equations, states, reference state, tolerance) and
    the history's length; drug parameters act only through drug states, which are zero
    without a dose. Thread-safe.

    Parameters
    ----------
    maxsize
        Most histories held (each is one state vector, about 0.5 kB).
    """

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = int(maxsize)
        self._data: OrderedDict[bytes, tuple[np.ndarray, int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._solves = 0

    @staticmethod
    def keys(model: BoneModel, records: np.ndarray, history_h: float) -> list[bytes]:
        """One key per record of the history records (magnesium intake as in the history)."""
        fields = [*model.spec.untreated_parameter_names, "age0_y", "menopause_age_y"]
        head = np.concatenate([
            np.array([model.rtol, float(history_h), float(len(model.spec.states))]),
            model.y_ref, model.atol]).tobytes() + ",".join(fields).encode() + (
            # the equations and the integrator's method: the bound integrator's name is a
            # hash of its source and of the generated module it imports
            model.kernel.__name__.encode())
        values = np.ascontiguousarray(np.stack([records[f] for f in fields], axis=1))
        return [head + row.tobytes() for row in values]

    def get(self, key: bytes) -> tuple[np.ndarray, int, float] | None:
        """``(state, status, model time reached)`` of a history, or None."""
        with self._lock:
            entry = self._data.get(key)
            if entry is not None:
                self._data.move_to_end(key)
            return entry

    def put(self, key: bytes, entry: tuple[np.ndarray, int, float]) -> None:
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def count(self, subjects: int, solved: int) -> None:
        """Record ``subjects`` histories asked for, of which ``solved`` had to be solved."""
        with self._lock:
            self._hits += subjects - solved
            self._misses += solved
            self._solves += solved > 0

    def info(self) -> CacheInfo:
        """The counters since the last :meth:`clear`."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, self._solves, len(self._data),
                             self.maxsize)

    def clear(self) -> None:
        """Forget every history and reset the counters."""
        with self._lock:
            self._data.clear()
            self._hits = self._misses = self._solves = 0


#: The process's history cache (shared by every :func:`boneturnover.simulate` call).
HISTORY_CACHE = HistoryCache()


# --------------------------------------------------------------------------------------
# inputs
def population_values(population: pd.DataFrame, model: BoneModel) -> dict[str, np.ndarray]:
    """The population's columns as checked float arrays (one value per subject).

    Raises
    ------
    InputError
        A column that is not a parameter, or a value that is not a finite number within
        the parameter's bounds (naming the column and the row).
    """
    spec = model.spec
    known = set(spec.parameter_names)
    out: dict[str, np.ndarray] = {}
    for col in population.columns:
        if col not in known:
            raise InputError(f"population: column {str(col)[:60]!r} is not a model "
                             "parameter; list them with `boneturnover parameters`")
        out[str(col)] = _population_column(population[col], spec.parameter(str(col)))
    return out


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
    assert vals is not None
    return np.ascontiguousarray(vals)


def output_times_h(scenario: Scenario) -> np.ndarray:
    """Scenario output times (h from time 0)."""
    end_h = scenario.years * HOURS_PER_YEAR
    return np.arange(0.0, end_h + 1e-9, scenario.output_every_h)


def chunk_size(n_subjects: int, n_times: int, n_states: int, tasks: int = 8,
               minimum: int = 16, requested: int | None = None) -> int:
    """Subjects per chunk: at most :data:`CHUNK_SUBJECTS` and :data:`CHUNK_STATE_BYTES`.

    Parameters
    ----------
    n_subjects, n_times, n_states
        The run's size.
    tasks
        Chunks wanted, at least (four per worker spread the work; several locally let
        progress be seen), as long as each keeps ``minimum`` subjects.
    minimum
        Fewest subjects of a chunk (enough for the numba threads of one solve).
    requested
        A size asked for (kept, within the memory bound).
    """
    by_memory = max(1, CHUNK_STATE_BYTES // max(1, n_times * n_states * 8))
    if requested is not None:
        return max(1, min(int(requested), by_memory))
    share = max(minimum, math.ceil(n_subjects / max(1, tasks)))
    return max(1, min(CHUNK_SUBJECTS, by_memory, share, n_subjects))


# --------------------------------------------------------------------------------------
# one chunk
@dataclass
class ChunkResult:
    """Outputs of one chunk of subjects.

    Attributes
    ----------
    first
        Index of the chunk's first subject in the population.
    status
        One :class:`Status` code per subject.
    reasons
        One line per subject: why it failed (empty when it did not).
    notes
        Lines about outputs undefined for this input (written as empty cells).
    columns
        ``subject`` and every output, subjects x times rows; None once written to ``path``.
    path
        The parquet partition written, if any.
    """

    first: int
    status: np.ndarray
    reasons: list[str]
    notes: list[str] = field(default_factory=list)
    columns: dict[str, np.ndarray] | None = None
    path: str | None = None


def solve_chunk(
    model: BoneModel,
    scenario: Scenario,
    values: Mapping[str, np.ndarray],
    first: int,
    count: int,
    *,
    cache: HistoryCache | None = None,
    lock: contextlib.AbstractContextManager[Any] | None = None,
    throw: bool = False,
    into: np.ndarray | None = None,
) -> ChunkResult:
    """Solve ``count`` subjects and compute their outputs.

    Parameters
    ----------
    model
        The engine.
    scenario
        Patient, duration, parameter overrides and doses (checked by the caller).
    values
        Checked population columns of these subjects (:func:`population_values`), each of
        length ``count``; empty for one patient.
    first
        Population index of the first subject (for ``subject`` and messages).
    count
        Subjects in the chunk.
    cache
        History cache (default :data:`HISTORY_CACHE`).
    lock
        Held around every compiled solve (a worker process runs one at a time).
    throw
        Stop at the first failed subject (its reason is then the only one filled).
    into
        A (model columns, ``count``, output times) slice of a caller's block: the solver
        writes the model's output columns there, and the chunk's columns are views of it
        (no copy into a table later).
    """
    cache = HISTORY_CACHE if cache is None else cache
    lock = lock or contextlib.nullcontext()
    spec = model.spec
    pat = scenario.patient
    rec = model.records(count)
    for key, value in scenario.parameters.items():
        rec[key] = value
    for key, arr in values.items():
        rec[key] = arr
    start_age = np.array([history_start_age(pat.age_y, pat.menopause_age_y, float(off))
                          for off in rec["est_ref_age_offset_y"]])
    rec["age0_y"] = start_age
    rec["menopause_age_y"] = math.nan if pat.menopause_age_y is None else pat.menopause_age_y
    hist_h = (pat.age_y - start_age) * HOURS_PER_YEAR
    with lock:
        y0s, status = model.prepare(rec)

    t_scen = output_times_h(scenario)
    end_h = scenario.years * HOURS_PER_YEAR
    n_times = t_scen.shape[0]
    obs = model.observation
    columns = model.generated.COLUMNS
    constants = obs.constant_values(pat.premenopausal_bmd_spine_g_cm2,
                                    pat.premenopausal_bmd_hip_g_cm2)
    base = model.baseline(rec, y0s)
    solved: list[tuple[np.ndarray, np.ndarray]] = []
    t_fail = np.full(count, -math.inf)  # model time a failed solve reached (-inf: steady state)
    index = {s.name: s.index for s in spec.states}
    target = None if into is None else into.transpose(1, 2, 0)
    for h in np.unique(hist_h):
        group = np.nonzero((hist_h == h) & (status == Status.OK))[0]
        if group.size == 0:
            continue
        y_start, st_h, t_h = _history(model, rec[group], y0s[group], float(h), cache, lock)
        status[group] = st_h
        t_fail[group] = t_h
        sub = group[st_h == Status.OK]
        if sub.size == 0:
            continue
        rows = [realize(list(scenario.doses), end_h, rec[i], index, offset_h=float(h))
                for i in sub]
        ev = EventTable.from_rows(rows)
        max_steps = 200_000 + 400 * max(len(r) for r in rows)
        direct = target is not None and sub.size == count  # one batch holds every subject
        with lock:
            # compiled code follows NumPy's arithmetic: a failing subject is its status
            os_, _, st, stats = model.observe(rec[sub], y_start[st_h == Status.OK],
                                              t_scen + h, base[sub], constants, events=ev,
                                              t_start_h=np.full(sub.size, float(h)),
                                              max_steps=max_steps,
                                              out=target if direct else None)
        solved.append((sub, os_))
        status[sub] = st
        t_fail[sub] = stats[:, 3]
    if len(solved) == 1 and solved[0][0].size == count:
        o = solved[0][1]  # the usual case: one batch holds every subject
    else:
        o = (np.full((len(columns), count, n_times), np.nan).transpose(1, 2, 0)
             if target is None else target)
        if target is not None:
            o[...] = np.nan
        for sub, os_ in solved:
            o[sub] = os_
    del solved
    # cumulative urine counts from scenario time 0
    k_urine = columns.index("urine_ca_cum_mmol")
    o[..., k_urine] -= o[:, :1, k_urine]

    overrides = _overrides(scenario, values)
    reasons = [""] * count
    notes: list[str] = []
    for i in np.nonzero(status != Status.OK)[0]:
        reasons[i] = _failure_reason(first + int(i), Status(int(status[i])), float(t_fail[i]),
                                     float(hist_h[i]), overrides(int(i)), scenario)
        if throw:
            return ChunkResult(first, status, reasons, notes)

    supplement = supplement_rates_mmol_h(scenario.doses, t_scen, end_h)
    # the solver wrote column-major blocks: each output column is a contiguous view
    block = o.transpose(2, 0, 1)
    block[:, status != Status.OK, :] = np.nan
    cols = {"time_d": np.tile(t_scen / 24.0, count),
            "age_y": np.tile(pat.age_y + t_scen / HOURS_PER_YEAR, count)}
    for j, name in enumerate(columns):
        cols[name] = block[j].reshape(-1)
    for name in INTAKE_COLUMNS:
        cols[name] = np.full(count * n_times, np.nan)
    cols = {name: cols[name] for name in OUTPUT_NAMES}
    for i in range(count):
        if status[i] != Status.OK:
            continue
        rows_i = slice(i * n_times, (i + 1) * n_times)
        for name in INTAKE_COLUMNS:
            cols[name][rows_i] = intake_ratio(rec[i], n_times, supplement)
        problem = _output_problem({k: v[rows_i] for k, v in cols.items()}, notes)
        if problem is not None:
            status[i] = Status.NONFINITE
            reasons[i] = (f"subject {first + i}: {problem}; likely cause: "
                          f"{_likely_cause(overrides(i), scenario, False)}")
            for name in OUTPUT_NAMES[2:]:
                cols[name][rows_i] = np.nan
            if throw:
                return ChunkResult(first, status, reasons, notes)
    del o
    out = {"subject": np.repeat(np.arange(first, first + count, dtype=np.int64), n_times)}
    out.update(cols)
    return ChunkResult(first, status, reasons, list(dict.fromkeys(notes)), out)


@dataclass(frozen=True)
class SubjectStart:
    """One patient of a scenario at scenario time 0, as :func:`solve_chunk` starts her.

    Attributes
    ----------
    record
        Her parameter record (the scenario's ``[parameters]``, covariates, derived fields).
    y_base
        Her premenopausal steady state (the outputs are relative to it).
    y0
        The state at scenario time 0: the end of the untreated history (``y_base`` when
        there is none).
    history_h
        Hours of untreated history: model time at scenario time 0.
    """

    record: np.void
    y_base: np.ndarray
    y0: np.ndarray
    history_h: float


def subject_start(model: BoneModel, scenario: Scenario,
                  cache: HistoryCache | None = None) -> SubjectStart:
    """The scenario's patient at time 0 (the history from :data:`HISTORY_CACHE`).

    Raises
    ------
    SolverError
        Her steady state or untreated history cannot be solved, naming the likely cause.
    """
    pat = scenario.patient
    rec = model.records(1)
    for key, value in scenario.parameters.items():
        rec[key] = value
    start = history_start_age(pat.age_y, pat.menopause_age_y,
                              float(rec["est_ref_age_offset_y"][0]))
    rec["age0_y"] = start
    rec["menopause_age_y"] = math.nan if pat.menopause_age_y is None else pat.menopause_age_y
    hist_h = float((pat.age_y - start) * HOURS_PER_YEAR)
    y0s, status = model.prepare(rec)
    t_fail = np.full(1, -math.inf)
    if status[0] == Status.OK:
        y_start, status, t_fail = _history(model, rec, y0s, hist_h,
                                           HISTORY_CACHE if cache is None else cache,
                                           contextlib.nullcontext())
    if status[0] != Status.OK:
        raise SolverError(_failure_reason(0, Status(int(status[0])), float(t_fail[0]), hist_h,
                                          dict(scenario.parameters), scenario))
    return SubjectStart(rec[0], y0s[0].copy(), y_start[0].copy(), hist_h)


def _history(model: BoneModel, rec: np.ndarray, y0s: np.ndarray, history_h: float,
             cache: HistoryCache, lock: contextlib.AbstractContextManager[Any],
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States at scenario time 0 after ``history_h`` hours untreated, with status and time.

    The history runs at the adequate (reference) magnesium intake; the scenario's intake
    applies from time 0. Each distinct history is solved once and kept in ``cache``.
    """
    m = rec.shape[0]
    if history_h <= 0:
        return y0s.copy(), np.zeros(m, np.int64), np.full(m, -math.inf)
    rec_hist = rec.copy()
    rec_hist["mg_intake_mg_day"] = rec_hist["mg_intake_ref_mg_day"]
    keys = cache.keys(model, rec_hist, history_h)
    found: dict[bytes, tuple[np.ndarray, int, float]] = {}
    todo: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        if key in found or key in todo:
            continue
        entry = cache.get(key)
        if entry is None:
            todo[key] = i
        else:
            found[key] = entry
    cache.count(m, len(todo))
    if todo:
        idx = np.array(list(todo.values()))
        with lock:
            yh, st, stats = model.solve(rec_hist[idx], y0s[idx], np.array([history_h]),
                                        max_steps=_HISTORY_MAX_STEPS)
        for j, key in enumerate(todo):
            entry = (yh[j, -1].copy(), int(st[j]), float(stats[j, 3]))
            found[key] = entry
            cache.put(key, entry)
    y = np.empty((m, y0s.shape[1]))
    status = np.zeros(m, np.int64)
    t_fail = np.full(m, -math.inf)
    for i, key in enumerate(keys):
        state, st_i, t_i = found[key]
        y[i], status[i] = state, st_i
        if st_i != Status.OK:
            t_fail[i] = t_i
    return y, status, t_fail


def _overrides(scenario: Scenario, values: Mapping[str, np.ndarray],
               ) -> Callable[[int], dict[str, float]]:
    """Subject -> the parameter values it sets (the scenario's, then its population row)."""
    def of(i: int) -> dict[str, float]:
        out = dict(scenario.parameters)
        out.update({k: float(v[i]) for k, v in values.items()})
        return out
    return of


def _failure_reason(subject: int, status: Status, t_fail_h: float, history_h: float,
                    overrides: dict[str, float], scenario: Scenario) -> str:
    """One line: the subject, what failed, when, and the likely cause."""
    if status == Status.STEADY_STATE_FAILED or t_fail_h == -math.inf:
        when = "while solving the premenopausal steady state"
    elif math.isfinite(t_fail_h):
        when = f"at {_when(t_fail_h - history_h)}"
    else:
        when = "during the solve (a division by zero in the equations)"
    return (f"subject {subject}: {status.message}, {when}; likely cause: "
            f"{_likely_cause(overrides, scenario, t_fail_h < history_h)}")


#: Outputs that may be negative (a T-score is a deviation from the young-adult mean).
_SIGNED_OUTPUTS = frozenset({"t_score_spine", "t_score_hip"})
#: Outputs that are undefined for some valid input, and why (written as empty cells).
_UNDEFINED_WHEN = {"ca_mg_intake_ratio": "no magnesium is taken in (diet or supplement), so "
                                         "the calcium/magnesium intake ratio is undefined"}


def _output_problem(cols: dict[str, np.ndarray], notes: list[str]) -> str | None:
    """Why one subject's outputs cannot be used (None: they can); fixes undefined ones.

    ``cols`` are views of the subject's rows: undefined values are set to NaN in place.
    """
    for col, why in _UNDEFINED_WHEN.items():
        vals = cols.get(col)
        if vals is not None and not np.all(np.isfinite(vals)):
            vals[~np.isfinite(vals)] = np.nan
            notes.append(f"{col}: {why}; written as empty cells")
    time_d = cols["time_d"]
    for col in OUTPUT_NAMES:
        if col in _UNDEFINED_WHEN:
            continue
        vals = cols[col]
        bad = ~np.isfinite(vals)
        if bad.any():
            return f"output {col} is not finite from day {time_d[bad][0]:g}"
        if col not in _SIGNED_OUTPUTS and (vals < 0).any():
            k = int(np.argmax(vals < 0))
            return f"output {col} is negative ({vals[k]:.3g}) at day {time_d[k]:g}"
    return None


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


# --------------------------------------------------------------------------------------
# output folders
def prepare_out_folder(out: str | Path, inputs: Iterable[str | Path] = (), force: bool = False,
                       what: str = "--out", create: bool = True) -> Path:
    """Check an output folder before any work and create it (its parent must exist).

    The folder receives ``outputs/part-NNNNN.parquet`` (one partition per chunk) and
    ``status.csv``. With ``create=False`` it is only checked.

    Raises
    ------
    OutputPathError
        ``out`` is a file, one of ``inputs``, or holds one of them; its parent is
        missing; or it exists with anything in it and ``force`` is False.
    """
    folder = Path(out)
    shown = f"{what} {str(folder)!r}"
    if str(folder) == "" or folder.name in ("", ".", ".."):
        raise OutputPathError(f"{shown} names no folder; expected a folder path")
    here = folder.resolve()
    for src in inputs:
        path = Path(src).resolve()
        if path == here:
            raise OutputPathError(f"{shown} is the input file {str(src)!r}; writing it would "
                                  "destroy the input; expected another path")
        if here in path.parents:
            raise OutputPathError(f"{shown} holds the input file {str(src)!r}; expected a "
                                  "folder without the run's inputs")
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"{shown} is a file; expected a folder (the population's "
                              f"parquet partitions and {STATUS_FILE} are written in it)")
    if not folder.exists():
        if not folder.parent.is_dir():
            raise OutputPathError(f"{shown}: folder {str(folder.parent)!r} does not exist; "
                                  "create it first")
    elif any(folder.iterdir()) and not force:
        raise OutputPathError(f"{shown} exists and is not empty; add --force to replace "
                              "its results")
    if not create:
        return folder
    try:
        (folder / PARTITIONS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{shown} cannot be created ({exc.strerror})") from None
    return folder


def partition_path(folder: str | Path, chunk: int) -> Path:
    """The parquet partition of chunk ``chunk`` in an output folder."""
    return Path(folder) / PARTITIONS / f"part-{chunk:05d}.parquet"


def write_partition(path: str | Path, columns: Mapping[str, np.ndarray]) -> None:
    """Write one chunk's rows as a parquet file, atomically (temporary name, then rename)."""
    frame = pd.DataFrame(dict(columns), copy=False)
    with atomic_writer(path, "wb") as fh:
        frame.to_parquet(fh, index=False)


def remove_stale_partitions(folder: str | Path, n_chunks: int) -> None:
    """Remove partitions of an earlier, larger run (chunk numbers ``n_chunks`` and up)."""
    for p in (Path(folder) / PARTITIONS).glob("part-*.parquet"):
        m = _PART_NAME.fullmatch(p.name)
        if m and int(m.group(1)) >= n_chunks:
            p.unlink()


def status_frame(status: Iterable[int], reasons: Iterable[str]) -> pd.DataFrame:
    """One row per subject: ``subject``, ``status`` (a :class:`Status` name), ``reason``."""
    codes = np.asarray(list(status), dtype=np.int64)
    return pd.DataFrame({"subject": np.arange(codes.shape[0], dtype=np.int64),
                         "status": [Status(int(c)).name for c in codes],
                         "reason": list(reasons)})
