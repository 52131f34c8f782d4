"""Every scenario in examples/ is simulated as written, and its result checked.

Each example has an expectation below: the direction the literature gives for its
regimen, read from the simulated table. A new example without an expectation fails
``test_every_example_has_an_expectation``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import boneturnover as bt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENARIOS = sorted([*EXAMPLES.glob("*.toml"), *(EXAMPLES / "treatments").glob("*.toml"),
                    *(EXAMPLES / "trials").glob("*.toml")])


def at(df: pd.DataFrame, column: str, day: float) -> float:
    """Value of ``column`` in the output row nearest ``day``."""
    return float(df.iloc[(df["time_d"] - day).abs().argmin()][column])


def base(df: pd.DataFrame, column: str) -> float:
    return float(df[column].iloc[0])


def suppressed(day: float, below: float) -> Callable[[pd.DataFrame], None]:
    """CTX-I at ``day`` below ``below`` x its pre-treatment value (antiresorptive)."""
    def check(df: pd.DataFrame) -> None:
        assert at(df, "ctx_ng_l", day) < below * base(df, "ctx_ng_l"), at(df, "ctx_ng_l", day)
    return check


def both(*checks: Callable[[pd.DataFrame], None]) -> Callable[[pd.DataFrame], None]:
    def check(df: pd.DataFrame) -> None:
        for c in checks:
            c(df)
    return check


def _p1np_rise(day: float, by_ug_l: float) -> Callable[[pd.DataFrame], None]:
    """P1NP at ``day`` above its pre-treatment value by more than ``by_ug_l`` (anabolic)."""
    def check(df: pd.DataFrame) -> None:
        assert at(df, "p1np_ug_l", day) - base(df, "p1np_ug_l") > by_ug_l
    return check


def _rebound(day: float) -> Callable[[pd.DataFrame], None]:
    """Denosumab stopped: CTX-I above its pre-treatment value at ``day`` (seed:B31)."""
    def check(df: pd.DataFrame) -> None:
        assert at(df, "ctx_ng_l", day) > base(df, "ctx_ng_l")
    return check


def _pth_lowered(df: pd.DataFrame) -> None:
    """Calcium supplementation lowers PTH (negative feedback of serum calcium)."""
    assert at(df, "pth_pg_ml", 365) < base(df, "pth_pg_ml")


def _mg_raised(df: pd.DataFrame) -> None:
    """A magnesium supplement raises serum magnesium."""
    assert at(df, "magnesium_mmol_l", 365) > base(df, "magnesium_mmol_l")


def _mg_depleted_then_restored(df: pd.DataFrame) -> None:
    """100 mg/day lowers serum magnesium over 5 years; the 250 mg/day year restores it."""
    low = at(df, "magnesium_mmol_l", 5 * 365.25 - 7)
    assert low < base(df, "magnesium_mmol_l")
    assert at(df, "magnesium_mmol_l", 6 * 365.25) > low


#: example file name -> what its result must show (sources in each function's text).
EXPECT: dict[str, Callable[[pd.DataFrame], None]] = {
    # seed:B21: bisphosphonates suppress resorption markers within weeks
    "alendronate": suppressed(182, 0.8),
    "risedronate": suppressed(182, 0.8),
    "ibandronate": suppressed(182, 0.8),
    "zoledronate": suppressed(182, 0.8),
    # seed:B27: six yearly doses keep markers suppressed through a pause
    "zoledronate_6y_then_pause": suppressed(7 * 365.25, 1.0),
    # seed:B31: near-undetectable CTX-I within days; rebound above baseline after stopping
    "denosumab": both(suppressed(30, 0.3), _rebound(30 * 30.4375)),
    "alendronate_then_denosumab": suppressed(40 * 30.4375, 0.5),
    "denosumab_then_zoledronate": suppressed(365, 0.3),
    "teriparatide_plus_denosumab": suppressed(182, 0.5),  # seed:B36: like denosumab alone
    "romosozumab_then_denosumab": suppressed(18 * 30.4375, 0.5),
    # seed:B35: raloxifene lowers CTX-I, less than bisphosphonates
    "raloxifene": suppressed(365, 1.0),
    # seed:B36: P1NP rises by more than 10 ug/L within 3 months
    "teriparatide": _p1np_rise(91, 10.0),
    # seed:B37: P1NP rises at 1 month
    "romosozumab": _p1np_rise(30, 0.0),
    # the trial regimens by name (the same names as the validation runs)
    "freedom": suppressed(30, 0.3),
    "horizon": suppressed(182, 0.8),
    "denosumab_discontinuation": _rebound(913),
    "calcium": _pth_lowered,
    "magnesium": _mg_raised,
    "magnesium_low_intake": _mg_depleted_then_restored,
}

SLOW = {"teriparatide", "teriparatide_plus_denosumab", "zoledronate_6y_then_pause"}


def test_every_example_has_an_expectation():
    assert {p.stem for p in SCENARIOS} == set(EXPECT)


def test_trial_examples_use_the_regimens_of_the_validation_runs():
    """A regimen is written once: each trial example names one the validation runs use,
    and gets exactly the dose records of the run with that regimen."""
    import tomllib

    from boneturnover.validation import run_definitions
    from boneturnover.validation.runs import run_scenario

    runs = run_definitions()
    for path in sorted((EXAMPLES / "trials").glob("*.toml")):
        name = tomllib.loads(path.read_text(encoding="utf-8"))["regimen"]
        run = next(r for r, d in runs.items() if d.get("regimen") == name)
        assert bt.load_scenario(path).doses == run_scenario(run).doses, path


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem, marks=[pytest.mark.slow]
                                               if p.stem in SLOW else [])
                                  for p in SCENARIOS])
def test_example_simulates_as_expected(path):
    scenario = bt.load_scenario(path)
    result = bt.simulate(scenario)
    assert result.ok
    df = result.frame
    assert df["time_d"].iloc[-1] == pytest.approx(scenario.years * 365.25, abs=7.0)
    EXPECT[path.stem](df)
