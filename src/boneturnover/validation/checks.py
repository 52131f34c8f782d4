"""Validation checks as data: ``data/checks.toml``, evaluated over named runs.

Each check names its source, what it measures (:mod:`.measures` over the runs of
:mod:`.runs`), its target and the band the simulated value must fall in, and whether a
model parameter was calibrated to it (``role``). Misses are reported, never hidden.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import boneturnover as bt

from .measures import CheckDefinitionError, evaluate
from .runs import Runs

__all__ = ["Check", "CheckResult", "checks", "calibration_points", "run_validation",
           "reference_values", "ROLES"]

#: ``calibration``: a parameter was chosen to pass it (not an independent test);
#: ``partial``: it rests on a calibrated number but tests something else;
#: ``construction``: it tests the implementation; ``validation``: a prediction.
ROLES = ("calibration", "partial", "construction", "validation")

_SYMBOL = re.compile(r"^(-?)(lsc|ri_low|ri_high):(\w+)$")
_TEXT_SYMBOL = re.compile(r"\{(lsc|ri_low|ri_high):(\w+)\}")


def reference_values() -> dict[str, float]:
    """Catalogue values a check may name: ``lsc:<MARKER>``, ``ri_low:<MARKER>``, ...

    ``ri_low`` / ``ri_high`` are the limits of a marker's default reference interval
    (``ri_low:CA`` 2.15 mmol/L; ``ri_low:CTX_I``, the premenopausal interval); magnesium's
    come from the magnesium reference.
    """
    values: dict[str, float] = {}
    for code, marker in bt.marker_catalogue().items():
        values[f"lsc:{code}"] = marker.lsc_pct
        if marker.ri is not None:
            values[f"ri_low:{code}"], values[f"ri_high:{code}"] = marker.ri.low, marker.ri.high
    mg = bt.magnesium_reference()
    values["ri_low:MG"], values["ri_high:MG"] = mg.low_mmol_l, mg.high_mmol_l
    return values


def _number(value: Any, where: str, refs: Mapping[str, float]) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _SYMBOL.match(value) if isinstance(value, str) else None
    if m is None or f"{m[2]}:{m[3]}" not in refs:
        raise CheckDefinitionError(f"{where} = {value!r}: expected a number or a catalogue "
                                   "value such as 'lsc:CTX_I' or 'ri_low:MG'")
    v = refs[f"{m[2]}:{m[3]}"]
    return -v if m[1] else v


def _text(text: str, refs: Mapping[str, float]) -> str:
    return _TEXT_SYMBOL.sub(lambda m: f"{refs[f'{m[1]}:{m[2]}']:g}", text)


def _resolve(spec: Any, refs: Mapping[str, float]) -> Any:
    """Catalogue symbols inside a measure specification, replaced by their values."""
    if isinstance(spec, dict):
        return {k: _resolve(v, refs) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_resolve(v, refs) for v in spec]
    if isinstance(spec, str) and _SYMBOL.match(spec):
        return _number(spec, "value", refs)
    return spec


@dataclass(frozen=True)
class Check:
    """One validation check (a row of ``data/checks.toml``)."""

    id: str
    description: str
    source: str
    target: str
    low: float
    high: float
    unit: str
    role: str
    value: Mapping[str, Any] = field(repr=False)
    published: float | None = None
    plot_label: str | None = None
    #: A check of the simulated woman's own course (change from her own baseline, a rate
    #: by age, a level, a plateau), not a placebo-adjusted endpoint.
    absolute: bool = False

    def compute(self, runs: Runs) -> float:
        """The simulated value of this check over ``runs``."""
        return evaluate(runs, self.value)

    @property
    def runs(self) -> tuple[str, ...]:
        """The names of the runs this check reads."""
        found: list[str] = []

        def walk(spec: Any) -> None:
            if isinstance(spec, dict):
                for k, v in spec.items():
                    if k in ("run", "reference", "reference_run") and isinstance(v, str):
                        found.append(v)
                    elif k in ("runs", "arms"):
                        found.extend(v)
                    else:
                        walk(v)
            elif isinstance(spec, list):
                for v in spec:
                    walk(v)

        walk(dict(self.value))
        if self.value.get("measure") in ("adjusted_change", "day_reaching", "nadir_day",
                                         "adjusted_max", "adjusted_mean",
                                         "responder_fraction"):
            found.append(self.value.get("reference", "untreated"))
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class CheckResult:
    """A check and its simulated value."""

    check: Check
    value: float

    @property
    def passed(self) -> bool:
        return bool(self.check.low <= self.value <= self.check.high)


def _band(published: float, tolerance: float) -> tuple[float, float]:
    lo, hi = sorted(((1.0 - tolerance) * published, (1.0 + tolerance) * published))
    return lo, hi


@cache
def _data() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data/checks.toml").read_text("utf-8")
    return tomllib.loads(text)


def _flag(entry: Mapping[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise CheckDefinitionError(f"{where}: {key} = {value!r}; expected true or false")
    return value


def checks() -> tuple[Check, ...]:
    """Every check, in report order."""
    refs = reference_values()
    out = []
    for entry in _data()["check"]:
        where = f"check {entry.get('id')!r}"
        if entry.get("role") not in ROLES:
            raise CheckDefinitionError(f"{where}: role {entry.get('role')!r}; expected one of "
                                       f"{', '.join(ROLES)}")
        if "published" in entry:
            pub, tol = float(entry["published"]), float(entry["tolerance"])
            low, high = _band(pub, tol)
            target = f"{pub:+.1f} % (+/-{100 * tol:g} %)"
        else:
            pub = None
            low = _number(entry["low"], f"{where}: low", refs)
            high = _number(entry["high"], f"{where}: high", refs)
            target = _text(entry["target"], refs)
        out.append(Check(
            id=entry["id"], description=_text(entry["description"], refs),
            source=entry["source"], target=target, low=low, high=high, unit=entry["unit"],
            role=entry["role"], value=_resolve(entry["value"], refs), published=pub,
            plot_label=entry.get("plot_label"), absolute=_flag(entry, "absolute", where)))
    return tuple(out)


def calibration_points() -> tuple[Mapping[str, Any], ...]:
    """Published points the model was fitted to, overlaid on the plots (no check)."""
    return tuple(_data().get("calibration_point", ()))


def run_validation(overrides: Mapping[str, float] | None = None, *,
                   runs: Runs | None = None) -> list[CheckResult]:
    """Evaluate every check on the bundled model, or on it with parameter values replaced.

    Parameters
    ----------
    overrides
        Parameter name -> value in its declared unit (``boneturnover parameters``);
        ``None`` or empty: the bundled model.
    runs
        Runs to reuse (their model is used; ``overrides`` must then be empty).

    Raises
    ------
    InputError
        An unknown parameter or a value that is not a finite number.
    """
    if runs is None:
        model = bt.BoneModel(bt.load_model().with_values(dict(overrides or {})))
        runs = Runs(model)
    elif overrides:
        raise ValueError("run_validation: give either overrides or runs, not both")
    return [CheckResult(c, c.compute(runs)) for c in checks()]
