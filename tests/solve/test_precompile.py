"""Compiling a generated function in a second process fills numba's disk cache."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from boneturnover.solve import precompile

SOURCE = '''
import numba as nb

@nb.njit(cache=True)
def scaled(t, y, p, out):
    for i in range(y.shape[0]):
        out[i] = p.k * y[i] + t
'''


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_child_compiles_into_the_cache_and_the_parent_loads_it(tmp_path):
    path = tmp_path / "precompile_probe_mod.py"
    path.write_text(SOURCE)
    module = _load(path, "precompile_probe_mod")
    args = (0.5, np.ones(3), precompile.Record(np.dtype([("k", np.float64)])), np.zeros(3))
    assert not precompile.is_cached(module.scaled, args)
    child = precompile.start(path, "precompile_probe_mod", "scaled", args)
    if child is None:
        pytest.skip("one core: no second process is started")
    assert precompile.wait(child)
    assert precompile.is_cached(module.scaled, args)
    rec = np.zeros(1, dtype=[("k", np.float64)])
    rec[0]["k"] = 2.0
    out = np.zeros(3)
    module.scaled(0.5, np.ones(3), rec[0], out)
    assert module.scaled.stats.cache_hits, "the parent compiled instead of loading the cache"
    np.testing.assert_allclose(out, 2.5)


def test_a_failing_child_reports_failure(tmp_path):
    path = tmp_path / "precompile_probe_bad.py"
    path.write_text("raise SystemExit(3)\n")
    child = precompile.start(path, "precompile_probe_bad", "nothing", ())
    if child is None:
        pytest.skip("one core: no second process is started")
    assert not precompile.wait(child)
