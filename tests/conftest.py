import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    """Skip the long fuzz profile unless it is selected (``pytest -m fuzz``)."""
    if "fuzz" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="long fuzz profile: run with pytest -m fuzz")
    for item in items:
        if "fuzz" in item.keywords:
            item.add_marker(skip)
