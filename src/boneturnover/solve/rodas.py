"""Compiled stiff integrator: RODAS4 (Hairer & Wanner) with events, in numba.

A Rosenbrock method of order 4 with an embedded order-3 error estimate, L-stable
and stiffly accurate (Hairer E, Wanner G. Solving Ordinary Differential
Equations II, 2nd ed., Springer 1996, section IV.7; coefficients of RODAS4 from
that book's ``rodas.f``, kept as data in :mod:`boneturnover.solve.tableaux` with
the other Rosenbrock methods it was measured against). Rosenbrock methods need no
Newton iteration, so a restart after each dose costs nothing but one Jacobian: daily
dosing for ten years is cheap.

This module knows no model. Its functions call a right-hand side ``_rhs(t, y, p, dy)``
and its Jacobian ``_jac(t, y, p, jac, ft)`` (``jac[i, j] = d f_i / d y_j`` at the
structural entries, ``ft = df/dt``), and the output columns ``_observe(t, y, p, sb, c, o)``,
that are placeholders here:
:func:`boneturnover.solve.binding.bind` writes a copy of this source with the
placeholders replaced by an import of a model's compiled functions, under a name hashed
from both sources, so numba caches the machine code on disk and an edited equation never
meets stale machine code (numba caches functions that call globals, not functions passed
as arguments).

``solve_one`` integrates one subject through an event table (boluses and zero-order
rates that start/stop) and writes the state, or the observed output columns, at the
requested output times by cubic Hermite interpolation between accepted steps;
``solve_range`` runs a range of a batch's subjects without the GIL, so that threads
share a batch; ``steady_state`` solves dy/dt = 0
by Newton's method. Failures are returned as a status code, never raised inside compiled code (see
:class:`boneturnover.solve.results.Status`).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["solve_one", "solve_range", "steady_state", "EVENT_BOLUS", "EVENT_RATE",
           "STATES", "OBSERVED"]

# --- bound right-hand side (replaced by `binding.bind`) ---
def _rhs(t, y, p, dy):  # pragma: no cover - placeholder, never compiled
    raise NotImplementedError("bind a model with boneturnover.solve.binding.bind")


def _jac(t, y, p, jac, ft):  # pragma: no cover - placeholder, never compiled
    raise NotImplementedError("bind a model with boneturnover.solve.binding.bind")


def _observe(t, y, p, sb, c, o):  # pragma: no cover - placeholder, never compiled
    raise NotImplementedError("bind a model with boneturnover.solve.binding.bind")


# the planned sparse LU of the Jacobian's pattern (`sparse.lu_source`)
_LU_SIZE = 1


def _splu_fill(jac, ghinv, a):  # pragma: no cover - placeholder, never compiled
    raise NotImplementedError("bind a model with boneturnover.solve.binding.bind")


def _splu_factor(a):  # pragma: no cover - placeholder, never compiled
    raise NotImplementedError("bind a model with boneturnover.solve.binding.bind")


def _splu_solve(a, b):  # pragma: no cover - placeholder, never compiled
    raise NotImplementedError("bind a model with boneturnover.solve.binding.bind")
# --- end of bound right-hand side ---

EVENT_BOLUS = 0  #: event kind: add ``value`` to the state at ``time``
EVENT_RATE = 1  #: event kind: add ``value`` (amount/h) to the state's input rate from ``time``
STATES = 0  #: output mode: write the state at each output time
OBSERVED = 1  #: output mode: write the bound ``_observe`` columns at each output time

# --- method tableau (written by `binding.bind` from `tableaux.METHODS`) ---
# The method is (stages, gamma, alpha, gamma_i, A, C, M, E, newf): stage i solves
# (I/(h gamma) - J) k_i = f(t + alpha_i h, y + sum_j A_ij k_j) + h gamma_i df/dt
# + sum_j C_ij/h k_j; y_new = y + sum_i M_i k_i, error = sum_i E_i k_i ("A" and "C"
# strictly lower-triangular, row-wise; a stage whose newf is False reuses the previous
# stage's right-hand side). The step factor is err^(-1/ELO).
from .tableaux import DEFAULT_METHOD as _DEFAULT  # noqa: E402
from .tableaux import METHODS as _METHODS  # noqa: E402

_S, _GAMMA, _ALPHA, _GAMMA_I, _A, _C, _M, _E, _NEWF = _METHODS[_DEFAULT].as_tuple()
_ELO = _METHODS[_DEFAULT].elo
# --- end of method tableau ---

# status codes (mirrored by solve.results.Status)
_OK = 0
_MAX_STEPS = 1
_STEP_TOO_SMALL = 2
_NONFINITE = 3
_SINGULAR = 4


@nb.njit(cache=True, error_model="numpy")
def _lu_factor(a, piv):
    n = a.shape[0]
    for k in range(n):
        p = k
        big = abs(a[k, k])
        for i in range(k + 1, n):
            v = abs(a[i, k])
            if v > big:
                big = v
                p = i
        piv[k] = p
        if big == 0.0:
            return False
        if p != k:
            for j in range(n):
                tmp = a[k, j]
                a[k, j] = a[p, j]
                a[p, j] = tmp
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            a[i, k] *= inv
            f = a[i, k]
            if f != 0.0:
                for j in range(k + 1, n):
                    a[i, j] -= f * a[k, j]
    return True


@nb.njit(cache=True, error_model="numpy")
def _lu_solve(lu, piv, b):
    n = lu.shape[0]
    for k in range(n):
        p = piv[k]
        if p != k:
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= lu[i, j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= lu[i, j] * b[j]
        b[i] = s / lu[i, i]


@nb.njit(cache=True, error_model="numpy")
def _fun(t, y, p, u, dy):
    _rhs(t, y, p, dy)
    for i in range(y.shape[0]):
        dy[i] += u[i]



@nb.njit(cache=True, inline="always", error_model="numpy")
def _emit(mode, t, y, p, sb, c, row):
    """One output row: the state (``mode`` STATES) or the observed columns (OBSERVED)."""
    if mode == 0:
        for i in range(y.shape[0]):
            row[i] = y[i]
    else:
        _observe(t, y, p, sb, c, row)


@nb.njit(cache=True, error_model="numpy")
def solve_one(p, y0, ev_t, ev_kind, ev_state, ev_value, t_start, t_out, rtol, atol,
              max_steps, mode, sb, consts, y_out, y_end, stats):
    """Integrate one subject. Returns a status code; fills ``y_out[k]`` at ``t_out[k]``.

    ``y_out[k]`` is the state (``mode`` 0, :data:`STATES`) or the bound ``_observe``
    columns of it (:data:`OBSERVED`, with the subject's baseline signals ``sb`` and the
    output constants ``consts``), so no state history is kept; ``y_end`` receives the state
    at the last time reached.

    Outputs at an event time hold the state just before the event (a trough).
    ``stats`` receives [accepted steps, rejected steps, rhs evaluations, last t].
    The Jacobian and the time derivative come from the bound ``_jac``, once per
    accepted step. The Rosenbrock matrix is factorised by the bound straight-line sparse
    LU of the Jacobian's pattern (:func:`boneturnover.solve.sparse.lu_source`), or densely
    with partial pivoting when a planned pivot is zero or not finite.
    """
    n = y0.shape[0]
    y = y0.copy()
    u = np.zeros(n)
    f0 = np.zeros(n)
    f1 = np.zeros(n)
    ft = np.zeros(n)
    ytmp = np.zeros(n)
    ynew = np.zeros(n)
    jac = np.zeros((n, n))
    g = np.zeros((n, n))
    lu = np.zeros(_LU_SIZE)
    piv = np.zeros(n, dtype=np.int64)
    k = np.zeros((_S, n))
    yo = np.zeros(n)
    n_out = t_out.shape[0]
    t_end = t_out[n_out - 1]
    iout = 0
    while iout < n_out and t_out[iout] <= t_start:
        _emit(mode, t_out[iout], y, p, sb, consts, y_out[iout])
        iout += 1
    t = t_start
    iev = 0
    n_ev = ev_t.shape[0]
    h = 0.01
    naccept = 0
    nreject = 0
    nfev = 0
    status = _OK
    while t < t_end:
        # apply every event at (or before) the current time
        while iev < n_ev and ev_t[iev] <= t:
            s = ev_state[iev]
            if ev_kind[iev] == 0:
                y[s] += ev_value[iev]
            else:
                u[s] += ev_value[iev]
            iev += 1
            h = min(h, 0.01)
        t_seg = t_end
        if iev < n_ev and ev_t[iev] < t_seg:
            t_seg = ev_t[iev]
        _fun(t, y, p, u, f0)
        nfev += 1
        need_jac = True
        while t < t_seg:
            if naccept + nreject >= max_steps:
                status = _MAX_STEPS
                break
            if need_jac:
                _jac(t, y, p, jac, ft)
                need_jac = False
            last = False
            if t + 1.01 * h >= t_seg:  # land on the segment end rather than a sliver before it
                h = t_seg - t
                last = True
            if h < 1e-12 * max(1.0, abs(t)):
                status = _STEP_TOO_SMALL
                break
            ghinv = 1.0 / (h * _GAMMA)
            _splu_fill(jac, ghinv, lu)
            dense = not _splu_factor(lu)
            if dense:
                for i in range(n):
                    for j in range(n):
                        g[i, j] = -jac[i, j]
                    g[i, i] += ghinv
                if not _lu_factor(g, piv):
                    status = _SINGULAR
                    break
            for st in range(_S):
                if st == 0:
                    for i in range(n):
                        f1[i] = f0[i]
                elif _NEWF[st]:  # else: the previous stage's right-hand side
                    for i in range(n):
                        ytmp[i] = y[i]
                    base = (st - 1) * st // 2
                    for j in range(st):
                        a = _A[base + j]
                        for i in range(n):
                            ytmp[i] += a * k[j, i]
                    _fun(t + _ALPHA[st] * h, ytmp, p, u, f1)
                    nfev += 1
                for i in range(n):
                    k[st, i] = f1[i] + h * _GAMMA_I[st] * ft[i]
                if st > 0:
                    base = (st - 1) * st // 2
                    for j in range(st):
                        c = _C[base + j] / h
                        for i in range(n):
                            k[st, i] += c * k[j, i]
                if dense:
                    _lu_solve(g, piv, k[st])
                else:
                    _splu_solve(lu, k[st])
            err = 0.0
            finite = True
            for i in range(n):
                yn = y[i]
                en = 0.0
                for st in range(_S):
                    yn += _M[st] * k[st, i]
                    en += _E[st] * k[st, i]
                ynew[i] = yn
                if not math.isfinite(yn):
                    finite = False
                sc = atol[i] + rtol * max(abs(y[i]), abs(yn))
                e = en / sc
                err += e * e
            err = math.sqrt(err / n)
            if not finite or not err < math.inf:
                finite = False
                err = 1e10
            if err <= 1.0:
                t_new = t_seg if last else t + h
                _fun(t_new, ynew, p, u, f1)
                nfev += 1
                # outputs inside (t, t_new] by cubic Hermite interpolation
                while iout < n_out and t_out[iout] <= t_new:
                    if t_out[iout] == t_new:
                        _emit(mode, t_new, ynew, p, sb, consts, y_out[iout])
                    else:
                        hh = t_new - t
                        th = (t_out[iout] - t) / hh
                        h00 = (1 + 2 * th) * (1 - th) ** 2
                        h10 = th * (1 - th) ** 2
                        h01 = th * th * (3 - 2 * th)
                        h11 = th * th * (th - 1)
                        for i in range(n):
                            yo[i] = (h00 * y[i] + h10 * hh * f0[i] + h01 * ynew[i]
                                     + h11 * hh * f1[i])
                        _emit(mode, t_out[iout], yo, p, sb, consts, y_out[iout])
                    iout += 1
                for i in range(n):
                    y[i] = ynew[i]
                    f0[i] = f1[i]
                t = t_new
                naccept += 1
                need_jac = True
                fac = 0.9 * (max(err, 1e-10)) ** (-1.0 / _ELO)
                fac = min(6.0, max(0.2, fac))
                h = h * fac
            else:
                if not finite:
                    fac = 0.1
                else:
                    fac = max(0.1, 0.9 * err ** (-1.0 / _ELO))
                h = h * fac
                nreject += 1
        if status != _OK:
            break
    if status == _OK:
        while iout < n_out:
            _emit(mode, t_out[iout], y, p, sb, consts, y_out[iout])
            iout += 1
    for i in range(n):
        y_end[i] = y[i]
    stats[0] = naccept
    stats[1] = nreject
    stats[2] = nfev
    stats[3] = t
    return status


@nb.njit(cache=True, nogil=True, error_model="numpy")
def solve_range(lo, hi, params, y0s, ev_t, ev_kind, ev_state, ev_value, ev_ptr, t_start, t_out,
                rtol, atol, max_steps, mode, sbs, consts, y_out, y_end, stats, status):
    """RODAS4 for subjects ``lo`` to ``hi - 1`` of a batch (see :func:`solve_one`), without
    holding the GIL: several Python threads run disjoint ranges of one batch at once.

    Subject ``i`` uses events ``ev_ptr[i]:ev_ptr[i+1]`` and baseline signals ``sbs[i]``.
    """
    for i in range(lo, hi):
        a = ev_ptr[i]
        b = ev_ptr[i + 1]
        status[i] = solve_one(params[i], y0s[i], ev_t[a:b], ev_kind[a:b], ev_state[a:b],
                              ev_value[a:b], t_start[i], t_out, rtol, atol, max_steps, mode,
                              sbs[i], consts, y_out[i], y_end[i], stats[i])


@nb.njit(cache=True, error_model="numpy")
def steady_state(p, y, free, tol, max_iter):
    """Newton on dy/dt = 0 over the ``free`` states (analytic Jacobian); returns success."""
    n = y.shape[0]
    idx = np.nonzero(free)[0]
    m = idx.shape[0]
    f0 = np.zeros(n)
    full = np.zeros((n, n))
    ft = np.zeros(n)
    jac = np.zeros((m, m))
    for _ in range(max_iter):
        _rhs(0.0, y, p, f0)
        worst = 0.0
        for a in range(m):
            i = idx[a]
            worst = max(worst, abs(f0[i]) / max(abs(y[i]), 1e-12))
        if worst < tol:
            return True
        _jac(0.0, y, p, full, ft)
        for a in range(m):
            for b in range(m):
                jac[a, b] = full[idx[a], idx[b]]
        rhs_vec = np.empty(m)
        for a in range(m):
            rhs_vec[a] = -f0[idx[a]]
        piv = np.zeros(m, dtype=np.int64)
        if not _lu_factor(jac, piv):
            return False
        _lu_solve(jac, piv, rhs_vec)
        step = rhs_vec
        lam = 1.0
        for b in range(m):  # damp so that no state more than halves or doubles
            j = idx[b]
            if y[j] + lam * step[b] <= 0.5 * y[j] and step[b] < 0:
                lam = min(lam, -0.5 * y[j] / step[b])
        for b in range(m):
            y[idx[b]] += lam * step[b]
        if not np.all(np.isfinite(y)):
            return False
    return False
