"""The calcium/bone model bound to its compiled solver: records, steady state, batch solves.

:class:`BoneModel` is the low-level engine behind :func:`boneturnover.simulate`. It
works in model units (hours, amounts as declared in the spec) on arrays: one
parameter record and one state vector per subject, so a virtual population or a
fitting loop calls it directly.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numba
import numpy as np

from ..errors import ModelError
from ..solve import binding, precompile
from ..solve.results import Status
from ..solve.sparse import lu_plan
from ..solve.tableaux import DEFAULT_METHOD, METHODS
from . import codegen
from .assembly import COVARIATES, AssembledModel, Module, assemble, bundled_modules, load_module
from .indices import S
from .outputs import Observation, observation
from .spec import ModelSpec, load_model

__all__ = ["BoneModel", "EventTable", "get_model", "kernel", "compiled", "assembled",
           "DEFAULT_RTOL"]

@dataclass(frozen=True)
class EventTable:
    """Events of many subjects in flat arrays (CSR layout by subject).

    Attributes
    ----------
    time_h, kind, state, value
        One row per event, sorted by time within a subject. ``kind`` is 0 for a
        bolus (``value`` in the state's amount unit) and 1 for a change of a
        zero-order input rate (``value`` in amount unit per hour).
    ptr
        Subject ``i`` owns rows ``ptr[i]:ptr[i+1]``.
    """

    time_h: np.ndarray
    kind: np.ndarray
    state: np.ndarray
    value: np.ndarray
    ptr: np.ndarray

    @classmethod
    def empty(cls, n_subjects: int) -> EventTable:
        return cls(np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                   np.zeros(n_subjects + 1, np.int64))

    @classmethod
    def from_rows(cls, rows_per_subject: list[list[tuple[float, int, int, float]]]) -> EventTable:
        """Build from per-subject lists of ``(time_h, kind, state_index, value)``."""
        ptr = np.zeros(len(rows_per_subject) + 1, np.int64)
        flat: list[tuple[float, int, int, float]] = []
        for i, rows in enumerate(rows_per_subject):
            flat.extend(sorted(rows, key=lambda r: r[0]))
            ptr[i + 1] = len(flat)
        if not flat:
            return cls.empty(len(rows_per_subject))
        arr = np.array(flat, dtype=np.float64)
        return cls(arr[:, 0].copy(), arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64),
                   arr[:, 3].copy(), ptr)


_LIBRARY = Path(__file__).parent / "library"
#: Default relative tolerance: what the outputs need (markers and BMD within 1e-4 relative
#: of a solve at rtol 1e-10 on the benchmark cases; measured in docs/ENGINE.md).
DEFAULT_RTOL = 3e-5


@cache
def assembled() -> AssembledModel:
    """The bundled modules assembled over the bundled model's states and parameters."""
    spec = load_model("peterson_riggs")
    return assemble([st.name for st in spec.states], spec.parameter_names)


@cache
def compiled() -> ModuleType:
    """The generated module of :func:`assembled` (``derive``, ``rhs``, ``jac``, ``PATTERN``).

    Generated once into the cache folder under a hash of the modules, the model's data
    files and the generator (:func:`boneturnover.model.codegen.load`).
    """
    return codegen.load(assembled(), _spec_files(), observation())


def _spec_files() -> list[Path]:
    """Files besides the modules that the generated code depends on (the model library);
    the outputs' expressions enter the hash as text (:meth:`Observation.text`)."""
    return sorted(_LIBRARY.glob("*.toml"))


@cache
def kernel(method: str = DEFAULT_METHOD) -> ModuleType:
    """The integrator bound to the generated model (compiled once, cached on disk)."""
    module = compiled()
    return binding.bind(module.__name__, [Path(module.__file__)], lu_plan(_pattern(module)),
                        method)


def _pattern(generated: ModuleType) -> np.ndarray:
    """The structural Jacobian pattern of a generated module, as booleans."""
    return np.asarray(generated.PATTERN, dtype=bool)


#: Integrator modules this process has compiled or found cached (:meth:`BoneModel.compile`).
_COMPILED: set[str] = set()


class BoneModel:
    """The Peterson & Riggs model with its compiled solver.

    Parameters
    ----------
    spec
        Model specification (default: the bundled ``peterson_riggs``).
    rtol
        Relative tolerance of the integrator (default :data:`DEFAULT_RTOL`, 3e-5: markers
        and BMD then agree within 1e-4 relative with a solve at rtol 1e-10,
        ``tests/model/test_tolerance.py`` and docs/ENGINE.md).
    modules
        The modules to assemble (default: the bundled ones); see :meth:`with_modules`.
    method
        The Rosenbrock method the integrator is compiled with (default ``"rodas4"``; the
        others of :data:`boneturnover.solve.tableaux.METHODS` are there to be measured
        against it, docs/ENGINE.md).
    """

    def __init__(self, spec: ModelSpec | None = None, *, rtol: float | None = None,
                 modules: tuple[Module, ...] | None = None,
                 method: str = DEFAULT_METHOD) -> None:
        self.spec = spec or load_model("peterson_riggs")
        self.rtol = float(DEFAULT_RTOL if rtol is None else rtol)
        if method not in METHODS:
            raise ModelError(f"method: {method!r} is not a Rosenbrock method of this "
                             f"package; expected one of {', '.join(sorted(METHODS))}")
        self.method = method
        if modules is None or tuple(modules) == bundled_modules():
            self.modules = bundled_modules()
            self.assembly = assembled()
            self.generated = compiled()
            self.kernel = kernel(method)
        else:
            self.modules = tuple(modules)
            self.assembly = assemble(self.spec.state_names, self.spec.parameter_names,
                                     self.modules)
            self.generated = codegen.load(self.assembly, _spec_files(), observation())
            self.kernel = binding.bind(self.generated.__name__,
                                       [Path(self.generated.__file__)],
                                       lu_plan(_pattern(self.generated)), method)
        if self.assembly.states != self.spec.state_names:
            raise ModelError("the specification's states differ from the assembled modules'")
        # the record: parameters, covariates, derived constants and the constant
        # subexpressions the generated code computes once per subject
        self._dtype = np.dtype([(n, np.float64) for n in (
            *self.assembly.record_fields, *self.generated.HOISTED)])
        y_ref = self.spec.initial_state()
        self.y_ref = y_ref
        # absolute tolerance per state: from its nominal size (declared per state:
        # `scale` for states whose reference value is zero)
        nominal = np.where(y_ref > 0, y_ref, 1.0)
        for st in self.spec.states:
            if st.scale is not None:
                nominal[st.index] = st.scale
        self.scale = nominal
        self.atol = 1e-3 * self.rtol * nominal
        # the steady state is solved over the states declared `steady` (the default)
        self.free = np.array([st.steady for st in self.spec.states])
        self.observation: Observation = observation()
        self.pattern = _pattern(self.generated)

    @classmethod
    def with_modules(cls, *paths: str | Path, rtol: float | None = None) -> BoneModel:
        """The bundled model plus further module files (a new drug, say).

        Each file declares its states, parameters, dose targets and equations, and acts on
        the others through their hooks (docs/ARCHITECTURE.md, "Adding a drug"). Its
        states come after the bundled ones, so their indices do not move.
        """
        files = tuple(str(Path(p).resolve()) for p in paths)
        spec = load_model("peterson_riggs", extra_modules=files)
        extra = tuple(load_module(p) for p in files)
        return cls(spec, rtol=rtol, modules=bundled_modules() + extra)

    # ----------------------------------------------------------------------------------
    def records(self, n: int = 1) -> np.ndarray:
        """``n`` parameter records with the spec's values (derived fields not yet filled)."""
        rec = np.zeros(n, dtype=self._dtype)
        for p in self.spec.parameters:
            rec[p.name] = p.value
        for name, default, _unit, _meaning in COVARIATES:
            rec[name] = default
        return rec

    def compile(self) -> None:
        """Compile the generated functions and the integrator where the disk cache lacks
        them; every solve does this on first use.

        In a fresh cache folder the Jacobian, the largest function, is compiled in a
        second process (:mod:`boneturnover.solve.precompile`) while this one compiles the
        right-hand side, the derived constants, the output columns and the sparse LU;
        the integrator, typed last, then loads the Jacobian's machine code from the cache.
        """
        if self.kernel.__name__ in _COMPILED:
            return
        _COMPILED.add(self.kernel.__name__)
        g, k = self.generated, self.kernel
        n = self.y_ref.shape[0]
        rec = precompile.Record(self._dtype)
        vec, mat = np.zeros(n), np.zeros((n, n))
        jac_args = (0.0, vec, rec, mat, vec)
        if precompile.is_cached(g.jac, jac_args):
            return
        child = precompile.start(g.__file__, g.__name__, "jac", jac_args)
        if child is None:
            return
        try:
            signals = np.zeros((1, max(1, len(g.SIGNALS))))[0]
            row = _column_major(2, 2, len(g.COLUMNS))[0, 0]  # a strided row, as in a solve
            lu = np.zeros(k._LU_SIZE)
            for fn, args in ((g.rhs, (0.0, vec, rec, vec)), (g.derive, (rec, self.y_ref)),
                             (g.signals, (0.0, vec, rec, signals)),
                             (g.observe, (0.0, vec, rec, signals, vec, row)),
                             (k._splu_fill, (mat, 1.0, lu)), (k._splu_factor, (lu,)),
                             (k._splu_solve, (lu, vec))):
                fn.compile(tuple(numba.typeof(a.value() if isinstance(a, precompile.Record)
                                              else a) for a in args))
        finally:
            precompile.wait(child)

    def prepare(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fill derived fields and solve each subject's premenopausal steady state.

        The steady state is taken with oestrogen = 1 and no drug. Returns
        ``(y0s, status)``: one state vector and one :class:`Status` code per record.
        """
        self.compile()
        n = records.shape[0]
        y0s = np.tile(self.y_ref, (n, 1))
        status = np.zeros(n, np.int64)
        for i in range(n):
            derive = self.generated.derive
            derive(records[i], self.y_ref)
            y0s[i, S.urine_ca_cum_mmol] = 0.0
            y0s[i, S.ca_absorbed_cum_mmol] = 0.0
            for k in (S.mg_intake_cum_mmol, S.mg_urine_cum_mmol, S.mg_faecal_cum_mmol):
                y0s[i, k] = 0.0
            saved = records[i]["menopause_age_y"]
            records[i]["menopause_age_y"] = math.nan  # oestrogen = 1 for the steady state
            # --- magnesium: the steady state is taken at the adequate (reference) intake;
            # the subject's own intake applies from the start of the simulated history
            saved_mg = records[i]["mg_intake_mg_day"]
            records[i]["mg_intake_mg_day"] = records[i]["mg_intake_ref_mg_day"]
            ok = self.kernel.steady_state(records[i], y0s[i], self.free, 1e-13, 50)
            records[i]["mg_intake_mg_day"] = saved_mg
            records[i]["menopause_age_y"] = saved
            derive(records[i], self.y_ref)
            if not ok:
                status[i] = Status.STEADY_STATE_FAILED
        return y0s, status

    def solve(
        self,
        records: np.ndarray,
        y0s: np.ndarray,
        t_out_h: np.ndarray,
        *,
        t_start_h: np.ndarray | None = None,
        events: EventTable | None = None,
        max_steps: int = 200_000,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integrate every subject to the output times.

        Returns ``(y, status, stats)`` with ``y`` of shape (subjects, times, states).
        """
        n = records.shape[0]
        y = _column_major(n, np.shape(t_out_h)[0], y0s.shape[1])
        _, status, stats = self._run(self.kernel.STATES, records, y0s, t_out_h, None, None, y,
                                     t_start_h, events, max_steps)
        return y, status, stats

    def observe(
        self,
        records: np.ndarray,
        y0s: np.ndarray,
        t_out_h: np.ndarray,
        base: np.ndarray,
        constants: np.ndarray,
        *,
        t_start_h: np.ndarray | None = None,
        events: EventTable | None = None,
        max_steps: int = 200_000,
        out: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Integrate every subject; compute the output columns at the output times in the
        compiled solver, never holding the state history.

        Parameters
        ----------
        base
            Each subject's baseline signals (:meth:`baseline`), shape (subjects, signals).
        constants
            The output constants (:meth:`Observation.constant_values
            <boneturnover.model.outputs.Observation.constant_values>`).
        out
            Where to write the columns: a (subjects, times, columns) view of a
            column-major block (``block[:, lo:hi, :].transpose(1, 2, 0)`` of a
            (columns, subjects, times) array), so that a caller's table columns are
            written in place; default a new block.

        Returns ``(columns, y_end, status, stats)``: ``columns`` of shape (subjects, times,
        :attr:`Observation.columns <boneturnover.model.outputs.Observation.columns>`), stored
        column by column (``columns[..., j]`` is contiguous), and the state at the last time
        reached.
        """
        n = records.shape[0]
        shape = (n, np.shape(t_out_h)[0], len(self.generated.COLUMNS))
        if out is not None and (out.shape != shape or out.strides[1] != 8):
            raise ValueError(f"out has shape {out.shape} and strides {out.strides}; expected "
                             f"a column-major {shape} view")
        cols = _column_major(*shape) if out is None else out
        y_end, status, stats = self._run(self.kernel.OBSERVED, records, y0s, t_out_h, base,
                                         constants, cols, t_start_h, events, max_steps)
        return cols, y_end, status, stats

    def baseline(self, records: np.ndarray, y0s: np.ndarray) -> np.ndarray:
        """The signals the outputs are relative to, at each subject's premenopausal steady
        state (oestrogen 1, no drug): shape (subjects, signals)."""
        n = records.shape[0]
        out = np.zeros((n, len(self.generated.SIGNALS)))
        for i in range(n):
            saved = records[i]["menopause_age_y"]
            records[i]["menopause_age_y"] = math.nan
            try:
                self.generated.signals(0.0, np.ascontiguousarray(y0s[i]), records[i], out[i])
            finally:
                records[i]["menopause_age_y"] = saved
        return out

    def outputs_of_states(self, y: np.ndarray, y_base: np.ndarray, record: np.void,
                          constants: np.ndarray, t_h: np.ndarray | None = None,
                          ) -> dict[str, np.ndarray]:
        """The compiled output columns for given states ``y`` (times, states).

        Used where states come from elsewhere (another integrator, an SBML simulation);
        :meth:`observe` computes them inside the solve. ``t_h``: model times of the rows
        (default 0; no output column reads time).
        """
        y = np.ascontiguousarray(np.atleast_2d(y), dtype=np.float64)
        rec = np.array([record], dtype=self._dtype)
        sb = self.baseline(rec, np.asarray(y_base, np.float64)[None, :])[0]
        t = np.zeros(y.shape[0]) if t_h is None else np.asarray(t_h, np.float64)
        cols = np.zeros((y.shape[0], len(self.generated.COLUMNS)))
        for k in range(y.shape[0]):
            self.generated.observe(float(t[k]), y[k], rec[0], sb, constants, cols[k])
        return {name: cols[:, j] for j, name in enumerate(self.generated.COLUMNS)}

    def _run(self, mode: int, records: np.ndarray, y0s: np.ndarray, t_out_h: np.ndarray,
             base: np.ndarray | None, constants: np.ndarray | None, out: np.ndarray,
             t_start_h: np.ndarray | None, events: EventTable | None, max_steps: int,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.compile()
        n = records.shape[0]
        t_out_h = np.ascontiguousarray(t_out_h, dtype=np.float64)
        events = events or EventTable.empty(n)
        t_start = np.zeros(n) if t_start_h is None else np.asarray(t_start_h, np.float64)
        sbs = np.zeros((n, max(1, len(self.generated.SIGNALS)))) if base is None else (
            np.ascontiguousarray(base, dtype=np.float64))
        c = np.zeros(1) if constants is None else np.ascontiguousarray(constants, np.float64)
        y_end = np.zeros((n, y0s.shape[1]))
        stats = np.zeros((n, 4))
        status = np.zeros(n, np.int64)
        args = (records, np.ascontiguousarray(y0s), events.time_h, events.kind, events.state,
                events.value, events.ptr, t_start, t_out_h, self.rtol, self.atol, max_steps,
                mode, sbs, c, out, y_end, stats, status)
        _in_threads(self.kernel.solve_range, n, args)
        return y_end, status, stats


def _in_threads(solve_range: Any, n: int, args: tuple[Any, ...]) -> None:
    """Run ``solve_range(lo, hi, *args)`` over subjects ``0 .. n - 1`` in
    :func:`numba.get_num_threads` threads (the size a caller set with
    :func:`numba.set_num_threads`, e.g. a cluster worker's share of its host).

    The compiled range releases the GIL, so the threads run at once; each takes the next
    block of subjects when it is done (subjects differ in their cost), and every subject's
    result goes to its own rows, so the blocks never share a write.
    """
    threads = min(numba.get_num_threads(), n)
    if threads <= 1:
        solve_range(0, n, *args)
        return
    block = max(1, n // (16 * threads))
    starts = iter(range(0, n, block))  # next() on it is atomic under the GIL

    failed: list[BaseException] = []

    def worker() -> None:
        try:
            for lo in starts:
                solve_range(lo, min(lo + block, n), *args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            failed.append(exc)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads - 1)]
    for t in pool:
        t.start()
    worker()
    for t in pool:
        t.join()
    if failed:  # a subject left unsolved must never read as solved
        raise failed[0]


def _column_major(subjects: int, times: int, width: int) -> np.ndarray:
    """A (subjects, times, width) array stored width-major: ``a[..., j]`` is one contiguous
    block, so each output column becomes a table column without a copy. Every solve uses
    this layout (one compiled specialisation of the integrator)."""
    return np.zeros((width, subjects, times)).transpose(1, 2, 0)


@cache
def get_model(rtol: float | None = None) -> BoneModel:
    """Shared :class:`BoneModel` instance for a tolerance."""
    return BoneModel(rtol=rtol)
