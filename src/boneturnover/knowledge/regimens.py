"""Named regimens: dose records declared once, in ``data/regimens.toml``.

A scenario takes a regimen by name (``regimen = "denosumab"``); the validation runs
and the calibration tools use the same names.

Examples
--------
>>> from boneturnover.knowledge.regimens import regimen, regimen_names
>>> regimen("denosumab").dose[0]["amount"]
'60 mg'
>>> "zoledronate" in regimen_names()
True
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..errors import ScenarioError
from ..files import load_toml_cached

__all__ = ["Regimen", "regimen", "regimens", "regimen_names"]


@dataclass(frozen=True)
class Regimen:
    """A named regimen: a label, its source and the dose records it stands for."""

    name: str
    label: str
    source: str
    dose: tuple[MappingProxyType[str, Any], ...]


@cache
def regimens() -> MappingProxyType[str, Regimen]:
    """Every named regimen, read on first use."""
    text = resources.files(__package__).joinpath("data/regimens.toml").read_text("utf-8")
    data = load_toml_cached(text, "regimens.toml")["regimens"]
    return MappingProxyType({
        name: Regimen(name=name, label=entry["label"], source=entry["source"],
                      dose=tuple(MappingProxyType(dict(d)) for d in entry["dose"]))
        for name, entry in data.items()})


def regimen_names() -> tuple[str, ...]:
    """The names a scenario's ``regimen`` key accepts."""
    return tuple(regimens())


def regimen(name: str) -> Regimen:
    """The regimen called ``name``.

    Raises
    ------
    ScenarioError
        ``name`` is not a named regimen (the message suggests the closest names).
    """
    table = regimens()
    if not isinstance(name, str) or name not in table:
        close = difflib.get_close_matches(str(name), table, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ScenarioError(f"regimen {name!r} is not a named regimen{hint}; expected one of "
                            f"{', '.join(table)}")
    return table[name]
