"""The public namespace: every name resolves, and a submodule never shadows a function."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import boneturnover as bt


def test_every_public_name_resolves():
    for name in bt.__all__:
        assert getattr(bt, name) is not None, name


def test_public_functions_stay_functions_after_every_submodule_is_imported():
    for info in pkgutil.walk_packages(bt.__path__, "boneturnover."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in ("simulate", "interpret", "load_scenario", "regimen", "cite"):
        assert callable(getattr(bt, name)), name
        assert not isinstance(getattr(bt, name), type(bt)), f"bt.{name} is a module"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        bt.nosuch  # noqa: B018


def test_errors_form_one_tree():
    for name in ("InputError", "ScenarioError", "UnitError", "DataError", "SolverError"):
        assert issubclass(getattr(bt, name), bt.BoneTurnoverError)
    assert issubclass(bt.ScenarioError, ValueError)
