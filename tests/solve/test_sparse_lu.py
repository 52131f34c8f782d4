"""The static sparse LU solves what the dense solver solves, on the model's pattern."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from boneturnover.model.system import get_model, kernel
from boneturnover.solve.sparse import lu_plan

PATTERN = get_model().pattern
PLAN = lu_plan(PATTERN)


def test_plan_is_a_permutation_with_far_less_work_than_dense():
    n = PATTERN.shape[0]
    assert sorted(PLAN.order.tolist()) == list(range(n))
    assert PLAN.flops < n**3 / 3 / 20


def test_fill_covers_the_pattern_and_the_diagonal():
    filled = np.zeros_like(PATTERN)
    filled[PLAN.fill_i, PLAN.fill_j] = True
    assert np.all(filled[PATTERN]) and np.all(np.diag(filled))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(1e-3, 1e3))
def test_sparse_solve_matches_numpy(seed, shift):
    """The bound straight-line LU (fill, factor, solve) solves (I * shift - J) x = b."""
    rng = np.random.default_rng(seed)
    n = PATTERN.shape[0]
    jac = np.where(PATTERN, rng.standard_normal((n, n)), 0.0)
    a = np.eye(n) * shift - jac
    b = rng.standard_normal(n)
    k = kernel()
    lu = np.zeros(k._LU_SIZE)
    k._splu_fill(jac, shift, lu)
    if not k._splu_factor(lu):
        return  # a zero planned pivot: the integrator falls back to the dense LU
    x = b.copy()
    k._splu_solve(lu, x)
    expected = np.linalg.solve(a, b)
    cond = np.linalg.cond(a)
    assert np.allclose(x, expected, rtol=1e-8 * max(1.0, cond), atol=1e-10 * max(1.0, cond))


def test_fill_reads_only_the_pattern():
    """Entries outside the structural pattern never reach the factors."""
    n = PATTERN.shape[0]
    rng = np.random.default_rng(1)
    jac = np.where(PATTERN, rng.standard_normal((n, n)), 0.0)
    noisy = jac + np.where(PATTERN, 0.0, np.nan)
    k = kernel()
    clean, dirty = np.zeros(k._LU_SIZE), np.zeros(k._LU_SIZE)
    k._splu_fill(jac, 3.0, clean)
    k._splu_fill(noisy, 3.0, dirty)
    assert np.array_equal(clean, dirty)
    assert k._LU_SIZE == len(PLAN.fill_i)


def test_zero_pivot_is_refused():
    k = kernel()
    n = PATTERN.shape[0]
    lu = np.zeros(k._LU_SIZE)
    k._splu_fill(np.zeros((n, n)), 0.0, lu)
    assert not k._splu_factor(lu)
