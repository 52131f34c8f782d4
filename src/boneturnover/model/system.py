"""The calcium/bone model bound to its compiled solver: records, steady state, batch solves.

:class:`BoneModel` is the low-level engine behind :func:`boneturnover.simulate`. It
works in model units (hours, amounts as declared in the spec) on arrays: one
parameter record and one state vector per subject, so a virtual population or a
fitting loop calls it directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np

from ..solve import binding
from ..solve.results import Status
from ..solve.rodas import jacobian_coloring
from ..solve.sparse import lu_plan
from .equations import S, derive, make_records, rhs
from .spec import ModelSpec, load_model

__all__ = ["BoneModel", "EventTable", "get_model", "kernel"]

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


@cache
def kernel() -> ModuleType:
    """The integrator bound to this model's right-hand side (compiled once, cached on disk).

    The hash behind the cache covers every source and data file of the model package, so
    an edited equation, state or module is always recompiled.
    """
    folder = Path(__file__).parent
    files = [*folder.glob("*.py"), *(folder / "library").glob("*.toml"),
             *(folder / "library").glob("*.py")]
    return binding.bind("boneturnover.model.equations", "rhs", files)


class BoneModel:
    """The Peterson & Riggs model with its compiled solver.

    Parameters
    ----------
    spec
        Model specification (default: the bundled ``peterson_riggs``).
    rtol
        Relative tolerance of the integrator (default 1e-6).
    """

    def __init__(self, spec: ModelSpec | None = None, *, rtol: float = 1e-6) -> None:
        self.spec = spec or load_model("peterson_riggs")
        self.rtol = float(rtol)
        y_ref = self.spec.initial_state()
        self.y_ref = y_ref
        # absolute tolerance and Jacobian scale per state: from its nominal size
        # (declared per state: `scale` for states whose reference value is zero)
        nominal = np.where(y_ref > 0, y_ref, 1.0)
        for st in self.spec.states:
            if st.scale is not None:
                nominal[st.index] = st.scale
        self.scale = nominal
        self.atol = 1e-3 * self.rtol * nominal
        # the steady state is solved over the states declared `steady` (the default)
        self.free = np.array([st.steady for st in self.spec.states])
        self.pattern = self._sparsity()
        self.colors = jacobian_coloring(self.pattern)
        self.lu = lu_plan(self.pattern)

    def _sparsity(self) -> np.ndarray:
        """Jacobian sparsity, probed at perturbed states (premenopausal and menopausal)."""
        n = self.y_ref.shape[0]
        pattern = np.eye(n, dtype=bool)
        rng = np.random.default_rng(20100101)
        rec = self.records(2)
        rec["menopause_age_y"][1] = 51.0
        rec["age0_y"][1] = 52.0
        for i in range(2):
            derive(rec[i], self.y_ref)
        f0 = np.zeros(n)
        f1 = np.zeros(n)
        for trial in range(6):
            y = np.abs(self.y_ref * (1 + 0.3 * rng.standard_normal(n))) + self.scale * (
                self.y_ref == 0
            ) * rng.uniform(0.1, 1.0)
            p = rec[trial % 2]
            rhs(1000.0, y, p, f0)
            for j in range(n):
                yy = y.copy()
                yy[j] += 1e-3 * max(abs(y[j]), 1e-6)
                rhs(1000.0, yy, p, f1)
                pattern[:, j] |= f1 != f0
        return pattern

    # ----------------------------------------------------------------------------------
    def records(self, n: int = 1) -> np.ndarray:
        """``n`` parameter records with the spec's values (derived fields not yet filled)."""
        return make_records(n, self.spec)

    def prepare(self, records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fill derived fields and solve each subject's premenopausal steady state.

        The steady state is taken with oestrogen = 1 and no drug. Returns
        ``(y0s, status)``: one state vector and one :class:`Status` code per record.
        """
        n = records.shape[0]
        y0s = np.tile(self.y_ref, (n, 1))
        status = np.zeros(n, np.int64)
        for i in range(n):
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
            ok = kernel().steady_state(records[i], y0s[i], self.free, 1e-13, 50)
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
        t_out_h = np.ascontiguousarray(t_out_h, dtype=np.float64)
        events = events or EventTable.empty(n)
        t_start = np.zeros(n) if t_start_h is None else np.asarray(t_start_h, np.float64)
        y = np.zeros((n, t_out_h.shape[0], y0s.shape[1]))
        stats = np.zeros((n, 4))
        status = np.zeros(n, np.int64)
        kernel().solve_batch(records, np.ascontiguousarray(y0s), events.time_h, events.kind,
                             events.state, events.value, events.ptr, t_start, t_out_h,
                             self.rtol, self.atol, self.scale, self.colors, self.pattern,
                             *self.lu.arrays(), max_steps, y, stats, status)
        return y, status, stats


@cache
def get_model(rtol: float = 1e-6) -> BoneModel:
    """Shared :class:`BoneModel` instance for a tolerance."""
    return BoneModel(rtol=rtol)
