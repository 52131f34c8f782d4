"""Validation report: every check with its source, target, simulated value and verdict.

Checks are declared as data (:data:`CHECKS`); each names the seed fact or paper it
comes from. Misses are reported, never hidden: ``boneturnover validate`` prints
them and exits 1 if any check fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .model.outputs import calibration
from .scenario import Patient, Scenario
from .simulate import simulate, use_model

__all__ = ["Check", "CheckResult", "CHECKS", "all_checks", "run_validation", "menopause_run",
           "overridden_model", "run_cache"]

FMP = 51.0  #: final menstrual period of the representative woman (years)


@dataclass(frozen=True)
class Check:
    """One validation check."""

    id: str
    description: str
    source: str
    target: str
    low: float
    high: float
    unit: str
    compute: Callable[[], float]


@dataclass(frozen=True)
class CheckResult:
    check: Check
    value: float

    @property
    def passed(self) -> bool:
        return bool(self.check.low <= self.value <= self.check.high)


_F = TypeVar("_F", bound=Callable[..., Any])
#: The cached simulations behind the checks (cleared when the model changes).
_RUN_CACHES: list[Any] = []


def run_cache(f: _F) -> _F:
    """Cache a simulation behind the checks; :func:`overridden_model` clears it."""
    cached = cache(f)
    _RUN_CACHES.append(cached)
    return cached  # type: ignore[return-value]


def _clear_run_caches() -> None:
    for c in _RUN_CACHES:
        c.cache_clear()


@contextmanager
def overridden_model(values: Mapping[str, float]) -> Iterator[None]:
    """Run the checks (and anything else that simulates) with parameter values replaced.

    Parameters
    ----------
    values
        Parameter name -> value in its declared unit (``boneturnover parameters``).
        Empty: the bundled model, unchanged.

    Raises
    ------
    InputError
        An unknown parameter or a value that is not a finite number.
    """
    if not values:
        yield
        return
    from .model.spec import load_model
    from .model.system import BoneModel

    model = BoneModel(load_model().with_values(values))
    _clear_run_caches()
    try:
        with use_model(model):
            yield
    finally:
        _clear_run_caches()  # later checks see the bundled model again


@run_cache
def premenopausal_run() -> pd.DataFrame:
    """A premenopausal woman (age 40, no menopause) for 10 years."""
    return simulate(Scenario(patient=Patient(age_y=40.0), years=10.0)).frame


@run_cache
def menopause_run() -> pd.DataFrame:
    """The representative woman: age 40 at time 0, final menstrual period at 51, to 76."""
    sc = Scenario(patient=Patient(age_y=40.0, menopause_age_y=FMP), years=36.0)
    return simulate(sc).frame


def _at(df: pd.DataFrame, age: float, col: str) -> float:
    i = int(np.argmin(np.abs(df["age_y"].to_numpy() - age)))
    return float(df[col].iloc[i])


def _steady_drift() -> float:
    df = premenopausal_run()
    cols = [c for c in df.columns if c not in ("time_d", "age_y", "urine_ca_cum_mmol",
                                               "denosumab_ng_ml")]
    first = df[cols].iloc[0].to_numpy()
    rel = np.abs(df[cols].to_numpy() / np.where(first == 0, 1.0, first) - 1.0)
    rel[:, first == 0] = np.abs(df[cols].to_numpy()[:, first == 0])
    return float(100.0 * rel.max())


def _ratio(col: str, age: float) -> float:
    df = menopause_run()
    return _at(df, age, col) / _at(df, 40.0, col)


def _rate_pct_per_year(col: str, a0: float, a1: float) -> float:
    df = menopause_run()
    v0, v1 = _at(df, a0, col), _at(df, a1, col)
    return float(100.0 * (v0 - v1) / v0 / (a1 - a0))


def _baseline_centre(name: str) -> Callable[[], float]:
    def f() -> float:
        df = premenopausal_run()
        return float(df[name].iloc[0] / calibration()["markers"][name]["centre"])
    return f


CHECKS: tuple[Check, ...] = (
    Check("steady_state", "premenopausal woman: largest drift of any output over 10 years",
          "issue #2 must-hold 1", "< 0.1 %", 0.0, 0.1, "%", _steady_drift),
    *(Check(f"baseline_{m}", f"premenopausal {m} at the centre of its reference interval",
            "model/library/outputs.toml", "ratio 1.00 (+/-1%)", 0.99, 1.01, "ratio",
            _baseline_centre(m))
      for m in ("ctx_ng_l", "p1np_ug_l", "bsap_ug_l", "osteocalcin_ug_l", "trap5b_u_l")),
    Check("remodelling_doubles", "osteoclast (BMU) activity 5 years after FMP vs premenopause",
          "seed:B10", "about 2x (1.6-2.4)", 1.6, 2.4, "ratio",
          lambda: _ratio("osteoclasts_rel", FMP + 5)),
    Check("ctx_rises", "CTX-I 2 years after FMP vs premenopause", "seed:B11, seed:B12",
          "> 1.3x", 1.3, 10.0, "ratio", lambda: _ratio("ctx_ng_l", FMP + 2)),
    Check("ctx_stays_high", "CTX-I 20 years after FMP vs 2 years after", "seed:B12",
          ">= 0.9x (stays high into old age)", 0.9, 10.0, "ratio",
          lambda: _at(menopause_run(), FMP + 20, "ctx_ng_l")
          / _at(menopause_run(), FMP + 2, "ctx_ng_l")),
    Check("p1np_rises", "P1NP 2 years after FMP vs premenopause", "seed:B11, seed:B12",
          "> 1.1x", 1.1, 10.0, "ratio", lambda: _ratio("p1np_ug_l", FMP + 2)),
    Check("p1np_levels", "P1NP growth from FMP+2 to FMP+20 relative to its rise in the "
          "transition (levels off or falls)", "seed:B12", "<= 0.5 of the transition rise",
          -10.0, 0.5, "ratio",
          lambda: (_at(menopause_run(), FMP + 20, "p1np_ug_l")
                   - _at(menopause_run(), FMP + 2, "p1np_ug_l"))
          / (_at(menopause_run(), FMP + 2, "p1np_ug_l") - _at(menopause_run(), 40.0,
                                                                "p1np_ug_l"))),
    Check("p1np_above_pre", "P1NP 20 years after FMP vs premenopause", "seed:B12",
          "> 1.0x", 1.0, 10.0, "ratio", lambda: _ratio("p1np_ug_l", FMP + 20)),
    Check("spine_loss_transition", "lumbar spine BMD loss, FMP-1 to FMP+2",
          "Greendale GA et al. (SWAN), J Bone Miner Res 2012;27:111-118: 2.46 %/year "
          "(transition); issue: roughly 2 %/year", "2.46 %/year (1.5-3.5)", 1.5, 3.5,
          "%/year", lambda: _rate_pct_per_year("bmd_spine_g_cm2", FMP - 1, FMP + 2)),
    Check("spine_loss_fastest_early", "spine loss rate FMP-1..FMP+2 over rate FMP+5..FMP+10",
          "seed:B10; SWAN (Greendale 2012): loss slows after the transition", "> 1.5x",
          1.5, 1e6, "ratio",
          lambda: _rate_pct_per_year("bmd_spine_g_cm2", FMP - 1, FMP + 2)
          / max(_rate_pct_per_year("bmd_spine_g_cm2", FMP + 5, FMP + 10), 1e-9)),
    Check("hip_slower", "total hip loss rate FMP-1..FMP+2 over the spine's",
          "SWAN (Greendale 2012): femoral neck 1.76 vs spine 2.46 %/year", "< 1 (0.72 in SWAN)",
          0.0, 1.0, "ratio",
          lambda: _rate_pct_per_year("bmd_hip_g_cm2", FMP - 1, FMP + 2)
          / _rate_pct_per_year("bmd_spine_g_cm2", FMP - 1, FMP + 2)),
    Check("formation_declines_with_age", "P1NP at FMP+25 vs its peak after menopause",
          "seed:B14 (formation capacity declines with age)", "< 0.99", 0.0, 0.99, "ratio",
          lambda: _at(menopause_run(), FMP + 25, "p1np_ug_l")
          / float(menopause_run()["p1np_ug_l"].max())),
)


def all_checks() -> tuple[Check, ...]:
    """The core checks (:data:`CHECKS`), then the drug library's and the magnesium model's.

    Those modules build on this one (``Check``, the menopause runs), so they are
    imported here, when the checks are asked for.
    """
    from .validate_drugs import DRUG_CHECKS
    from .validate_magnesium import MAGNESIUM_CHECKS

    return CHECKS + DRUG_CHECKS + MAGNESIUM_CHECKS


def run_validation(overrides: Mapping[str, float] | None = None) -> list[CheckResult]:
    """Evaluate every check, optionally with parameter values replaced.

    Parameters
    ----------
    overrides
        Parameter name -> value (see :func:`overridden_model`); ``None`` or empty:
        the bundled model.
    """
    with overridden_model(overrides or {}):
        return [CheckResult(c, c.compute()) for c in all_checks()]


def format_table(results: list[CheckResult]) -> str:
    """Plain-text table: check, source, target, simulated value, pass/fail."""
    rows = [("check", "source", "target", "simulated", "result")]
    for r in results:
        rows.append((r.check.id, r.check.source[:60], r.check.target,
                     f"{r.value:.4g} {r.check.unit}", "PASS" if r.passed else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n_fail = sum(not r.passed for r in results)
    lines.append(f"\n{len(results) - n_fail} passed, {n_fail} failed")
    return "\n".join(lines)
