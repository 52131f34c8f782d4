"""Symbolic sparse LU: an elimination order and the fill-in of a Jacobian pattern.

The Rosenbrock matrix ``I/(h*gamma) - J`` has the sparsity of the Jacobian plus its
diagonal. :func:`lu_plan` orders the elimination by minimum degree (on the symmetrised
pattern) and computes, once, which entries of L and U are structurally nonzero;
:func:`lu_source` writes the factorisation and the triangular solves for that plan as
straight-line code over a flat array of those entries, which the integrator
(:mod:`boneturnover.solve.rodas`) is bound to: ``sum_k |L_k| x |U_k|`` multiply-adds with
constant indices instead of ``n**3 / 3``. The order is static: a
pivot that is zero or not finite makes the integrator fall back to the dense LU with
partial pivoting for that step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LUPlan", "lu_plan", "lu_source"]


@dataclass(frozen=True)
class LUPlan:
    """Compiled-code view of a symbolic factorisation (all arrays int64).

    Attributes
    ----------
    order
        Pivot (original index) eliminated at step ``k``.
    l_ptr, l_idx
        Rows ``i`` below pivot ``k`` with a structural ``L[i, order[k]]``:
        ``l_idx[l_ptr[k]:l_ptr[k+1]]``.
    u_ptr, u_idx
        Columns ``j`` right of pivot ``k`` with a structural ``U[order[k], j]``.
    fill_i, fill_j
        Every structurally nonzero entry of the factors (the matrix's own entries too).
    pattern
        The ``(n, n)`` boolean pattern of the Jacobian the plan was made for.
    """

    order: np.ndarray
    l_ptr: np.ndarray
    l_idx: np.ndarray
    u_ptr: np.ndarray
    u_idx: np.ndarray
    fill_i: np.ndarray
    fill_j: np.ndarray
    pattern: np.ndarray

    @property
    def flops(self) -> int:
        """Multiply-adds of one numeric factorisation."""
        nl = np.diff(self.l_ptr)
        nu = np.diff(self.u_ptr)
        return int(np.sum(nl * nu) + np.sum(nl))


def _minimum_degree(pattern: np.ndarray) -> np.ndarray:
    """Greedy minimum-degree order on the symmetrised pattern (ties: lowest index)."""
    n = pattern.shape[0]
    adj = [set(np.flatnonzero(pattern[i] | pattern[:, i])) - {i} for i in range(n)]
    remaining = set(range(n))
    order = []
    while remaining:
        v = min(remaining, key=lambda i: (len(adj[i]), i))
        order.append(v)
        remaining.remove(v)
        nbrs = adj[v]
        for a in nbrs:  # eliminating v joins its neighbours into a clique
            adj[a] |= nbrs - {a}
            adj[a].discard(v)
        adj[v] = set()
    return np.array(order, dtype=np.int64)


def lu_plan(pattern: np.ndarray) -> LUPlan:
    """Plan the sparse LU of a matrix with the given structure (the diagonal is added).

    Parameters
    ----------
    pattern
        ``(n, n)`` boolean sparsity of the Jacobian.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.eye(4, dtype=bool); p[0, :] = True; p[:, 0] = True   # an arrow matrix
    >>> plan = lu_plan(p)
    >>> int(plan.order[0]) != 0      # the dense row and column are not eliminated first
    True
    >>> len(plan.fill_i) == int(p.sum())   # so there is no fill-in
    True
    """
    n = pattern.shape[0]
    order = _minimum_degree(pattern)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    filled = pattern.copy() | np.eye(n, dtype=bool)
    l_ptr, u_ptr, l_idx, u_idx = [0], [0], [], []
    for k in range(n):
        p = order[k]
        rows = [i for i in np.flatnonzero(filled[:, p]) if pos[i] > k]
        cols = [j for j in np.flatnonzero(filled[p, :]) if pos[j] > k]
        for i in rows:
            filled[i, cols] = True
        rows.sort(key=lambda i: pos[i])
        cols.sort(key=lambda j: pos[j])
        l_idx += rows
        u_idx += cols
        l_ptr.append(len(l_idx))
        u_ptr.append(len(u_idx))
    fi, fj = np.nonzero(filled)

    def arr(x: list[int]) -> np.ndarray:
        return np.array(x, dtype=np.int64)

    return LUPlan(order=order, l_ptr=arr(l_ptr), l_idx=arr(l_idx), u_ptr=arr(u_ptr),
                  u_idx=arr(u_idx), fill_i=fi.astype(np.int64), fill_j=fj.astype(np.int64),
                  pattern=pattern.astype(bool))


def lu_source(plan: LUPlan) -> str:
    """numba source of the planned fill, factorisation and solve, for one pattern.

    Three functions over the factors stored flat, one slot per structurally nonzero entry
    (pivot by pivot: the pivot, its column of L, its row of U):

    * ``_splu_fill(jac, ghinv, a)``: ``a = I * ghinv - jac`` at the planned entries (a
      loop over constant index tables);
    * ``_splu_factor(a)``: the LU in place, each pivot replaced by its reciprocal (loops
      over constant tables of slots, in elimination order); False on a zero or
      non-finite pivot (the integrator then takes the dense LU with pivoting for that
      step);
    * ``_splu_solve(a, b)``: ``b <- (LU)^-1 b`` as straight-line code, every index a
      constant and ``b`` held in local variables: it runs six times a step.

    The integrator (:mod:`boneturnover.solve.rodas`) is bound to this text by
    :func:`boneturnover.solve.binding.bind`, and it enters the binding's hash.

    Examples
    --------
    >>> import numpy as np
    >>> src = lu_source(lu_plan(np.eye(2, dtype=bool)))
    >>> "_LU_SIZE = 2" in src and "def _splu_solve(a, b):" in src
    True
    """
    n = int(plan.order.shape[0])
    pos: dict[tuple[int, int], int] = {}
    for k in range(n):
        p = int(plan.order[k])
        pos[(p, p)] = len(pos)
        for q in range(plan.l_ptr[k], plan.l_ptr[k + 1]):
            pos[(int(plan.l_idx[q]), p)] = len(pos)
        for r in range(plan.u_ptr[k], plan.u_ptr[k + 1]):
            pos[(p, int(plan.u_idx[r]))] = len(pos)
    filled = set(zip(plan.fill_i.tolist(), plan.fill_j.tolist(), strict=True))
    if set(pos) != filled | {(i, i) for i in range(n)}:
        raise ValueError("the plan's fill differs from its factors")
    pattern = plan.pattern
    slots = sorted(pos.items(), key=lambda e: e[1])
    src_i = [i if pattern[i, j] else -1 for (i, j), _ in slots]
    src_j = [j for (_, j), _ in slots]
    diag = [pos[(i, i)] for i in range(n)]
    # the factorisation as loops over constant tables of slots: it runs once a step and
    # compiles in a second (straight-line code for it took minutes to compile and saved
    # about 0.2 us a step); the solves, six a step, are straight-line
    piv, l_slot, l_ptr, u_tgt, u_l, u_u, u_ptr = [], [], [0], [], [], [], [0]
    for k in range(n):
        p = int(plan.order[k])
        piv.append(pos[(p, p)])
        cols = [int(plan.u_idx[r]) for r in range(plan.u_ptr[k], plan.u_ptr[k + 1])]
        for q in range(plan.l_ptr[k], plan.l_ptr[k + 1]):
            i = int(plan.l_idx[q])
            l_slot.append(pos[(i, p)])
            for j in cols:
                u_tgt.append(pos[(i, j)])
                u_l.append(pos[(i, p)])
                u_u.append(pos[(p, j)])
        l_ptr.append(len(l_slot))
        u_ptr.append(len(u_tgt))
    tables = {"_LU_PIVOT": piv, "_LU_L": l_slot, "_LU_L_PTR": l_ptr, "_LU_UPD": u_tgt,
              "_LU_UPD_L": u_l, "_LU_UPD_U": u_u, "_LU_UPD_PTR": u_ptr}
    solve = [f"    x{i} = b[{i}]" for i in range(n)]
    for k in range(n):
        p = int(plan.order[k])
        solve += [f"    x{int(plan.l_idx[q])} -= a[{pos[(int(plan.l_idx[q]), p)]}] * x{p}"
                  for q in range(plan.l_ptr[k], plan.l_ptr[k + 1])]
    for k in range(n - 1, -1, -1):
        p = int(plan.order[k])
        terms = "".join(f" - a[{pos[(p, int(plan.u_idx[r]))]}] * x{int(plan.u_idx[r])}"
                        for r in range(plan.u_ptr[k], plan.u_ptr[k + 1]))
        solve.append(f"    x{p} = (x{p}{terms}) * a[{pos[(p, p)]}]")
    solve += [f"    b[{i}] = x{i}" for i in range(n)]
    return "\n".join([
        f"_LU_SIZE = {len(pos)}",
        "",
        "",
        f"_LU_FROM_I = np.array({src_i!r}, dtype=np.int64)",
        f"_LU_FROM_J = np.array({src_j!r}, dtype=np.int64)",
        f"_LU_DIAG = np.array({diag!r}, dtype=np.int64)",
        "",
        "",
        "@nb.njit(cache=True, error_model=\"numpy\")",
        "def _splu_fill(jac, ghinv, a):",
        "    for q in range(_LU_FROM_I.shape[0]):",
        "        i = _LU_FROM_I[q]",
        "        a[q] = 0.0 if i < 0 else -jac[i, _LU_FROM_J[q]]",
        "    for q in range(_LU_DIAG.shape[0]):",
        "        a[_LU_DIAG[q]] += ghinv",
        "",
        "",
        *(f"{k} = np.array({v!r}, dtype=np.int64)" for k, v in tables.items()),
        "",
        "",
        "@nb.njit(cache=True, error_model=\"numpy\")",
        "def _splu_factor(a):",
        "    bad = 0.0  # NaN after a zero or non-finite pivot",
        "    for k in range(_LU_PIVOT.shape[0]):",
        "        d = _LU_PIVOT[k]",
        "        v = a[d]",
        "        bad += v * 0.0",
        "        v = 1.0 / v",
        "        bad += v * 0.0",
        "        a[d] = v",
        "        for q in range(_LU_L_PTR[k], _LU_L_PTR[k + 1]):",
        "            a[_LU_L[q]] *= v",
        "        for q in range(_LU_UPD_PTR[k], _LU_UPD_PTR[k + 1]):",
        "            a[_LU_UPD[q]] -= a[_LU_UPD_L[q]] * a[_LU_UPD_U[q]]",
        "    return bad == 0.0",
        "",
        "",
        "@nb.njit(cache=True, error_model=\"numpy\")",
        "def _splu_solve(a, b):",
        *solve,
        "",
    ])
