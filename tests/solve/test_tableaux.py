"""The Rosenbrock coefficients reach their declared orders.

Each method of ``solve.tableaux.METHODS`` steps a small non-autonomous, nonlinear
problem with fixed steps, in the same form as the compiled integrator; halving the step
must cut the global error by about 2^order, and the embedded error estimate must be
small of the order it declares (``elo``). A mistyped coefficient breaks an order
condition and fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from boneturnover.errors import ModelError
from boneturnover.model.system import BoneModel
from boneturnover.solve.tableaux import DEFAULT_METHOD, METHODS


def f(t, y):
    return np.array([-2.0 * y[0] + y[1] ** 2 + np.sin(3 * t), -y[1] * y[0] + np.cos(t)])


def jac(t, y):
    return np.array([[-2.0, 2 * y[1]], [-y[1], -y[0]]])


def ft(t, y):
    return np.array([3 * np.cos(3 * t), -np.sin(t)])


def step(tab, t, y, h):
    """One step and its error estimate, as ``solve/rodas.py`` computes them."""
    s, gamma, alpha, gamma_i, a, c, m, e, newf = tab.as_tuple()
    w = np.eye(2) / (h * gamma) - jac(t, y)
    ks = []
    fx = f(t, y)
    for i in range(s):
        if i > 0 and newf[i]:
            base = (i - 1) * i // 2
            fx = f(t + alpha[i] * h, y + sum(a[base + j] * ks[j] for j in range(i)))
        rhs = fx + h * gamma_i[i] * ft(t, y)
        if i > 0:
            base = (i - 1) * i // 2
            rhs = rhs + sum(c[base + j] / h * ks[j] for j in range(i))
        ks.append(np.linalg.solve(w, rhs))
    return y + sum(mi * k for mi, k in zip(m, ks, strict=True)), sum(
        ei * k for ei, k in zip(e, ks, strict=True))


Y0 = np.array([1.0, 0.5])
EXACT = solve_ivp(f, (0.0, 1.0), Y0, method="DOP853", rtol=1e-13, atol=1e-15).y[:, -1]


def global_error(tab, n):
    y, h = Y0.copy(), 1.0 / n
    for k in range(n):
        y, _ = step(tab, k * h, y, h)
    return np.abs(y - EXACT).max()


@pytest.mark.parametrize("name", sorted(METHODS))
def test_order(name):
    tab = METHODS[name]
    e1, e2 = global_error(tab, 40), global_error(tab, 80)
    assert np.log2(e1 / e2) > tab.order - 0.3, (e1, e2)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_error_estimate_order(name):
    tab = METHODS[name]
    est = [np.abs(step(tab, 0.2, Y0, h)[1]).max() for h in (0.02, 0.01)]
    # the estimate is the local error of the embedded solution: O(h^elo)
    assert np.log2(est[0] / est[1]) > tab.elo - 0.3, est


def test_the_model_takes_a_method_by_name():
    assert DEFAULT_METHOD in METHODS
    assert BoneModel().method == DEFAULT_METHOD
    with pytest.raises(ModelError, match="method: 'rk4'"):
        BoneModel(method="rk4")
