"""Symbolic sparse LU: an elimination order and the fill-in of a Jacobian pattern.

The Rosenbrock matrix ``I/(h*gamma) - J`` has the sparsity of the Jacobian plus its
diagonal. :func:`lu_plan` orders the elimination by minimum degree (on the symmetrised
pattern) and computes, once, which entries of L and U are structurally nonzero; the
compiled factorisation in :mod:`boneturnover.solve.rodas` then touches only those
(``sum_k |L_k| x |U_k|`` multiply-adds instead of ``n**3 / 3``). The order is static: a
pivot that is zero or not finite makes the integrator fall back to the dense LU with
partial pivoting for that step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LUPlan", "lu_plan"]


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
    """

    order: np.ndarray
    l_ptr: np.ndarray
    l_idx: np.ndarray
    u_ptr: np.ndarray
    u_idx: np.ndarray
    fill_i: np.ndarray
    fill_j: np.ndarray

    @property
    def flops(self) -> int:
        """Multiply-adds of one numeric factorisation."""
        nl = np.diff(self.l_ptr)
        nu = np.diff(self.u_ptr)
        return int(np.sum(nl * nu) + np.sum(nl))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in the order the compiled integrator takes them."""
        return (self.order, self.l_ptr, self.l_idx, self.u_ptr, self.u_idx, self.fill_i,
                self.fill_j)


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
                  u_idx=arr(u_idx), fill_i=fi.astype(np.int64), fill_j=fj.astype(np.int64))
