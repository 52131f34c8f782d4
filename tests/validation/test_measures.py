"""The measures of the absolute checks compute what they say, on small synthetic tables."""

import numpy as np
import pandas as pd
import pytest

from boneturnover.validation.measures import CheckDefinitionError, evaluate


@pytest.fixture
def runs():
    """Two hand-made runs: a marker that dips to 40 on day 3 and peaks at 160 on day 7,
    and a flat reference; BMD falls 0.01 g/cm2 per year of age."""
    t = np.arange(11.0)
    marker = np.array([100, 90, 60, 40, 50, 80, 120, 160, 140, 110, 100], dtype=float)
    age = 70.0 + t
    bmd = 0.80 - 0.01 * (age - 70.0)
    treated = pd.DataFrame({"time_d": t, "age_y": age, "m": marker, "bmd": bmd})
    flat = pd.DataFrame({"time_d": t, "age_y": age, "m": np.full(11, 200.0), "bmd": bmd})
    return {"treated": treated, "flat": flat}


def test_minimum_and_maximum_over_the_run_and_a_window(runs):
    spec = {"run": "treated", "output": "m"}
    assert evaluate(runs, {"measure": "minimum", **spec}) == 40.0
    assert evaluate(runs, {"measure": "maximum", **spec}) == 160.0
    assert evaluate(runs, {"measure": "minimum", **spec, "from_day": 5}) == 80.0
    assert evaluate(runs, {"measure": "maximum", **spec, "to_day": 5}) == 100.0
    with pytest.raises(CheckDefinitionError, match="no output row"):
        evaluate(runs, {"measure": "minimum", **spec, "from_day": 20})


def test_day_of_the_extremes(runs):
    spec = {"run": "treated", "output": "m"}
    assert evaluate(runs, {"measure": "day_of_minimum", **spec}) == 3.0
    assert evaluate(runs, {"measure": "day_of_maximum", **spec}) == 7.0
    assert evaluate(runs, {"measure": "day_of_maximum", **spec, "from_day": 1,
                           "to_day": 5}) == 1.0


def test_peak_change_is_the_overshoot_above_the_own_baseline(runs):
    spec = {"measure": "peak_change", "run": "treated", "output": "m"}
    assert evaluate(runs, {**spec, "from_day": 4}) == pytest.approx(60.0)
    assert evaluate(runs, {**spec, "to_day": 5}) == pytest.approx(0.0)


def test_remaining_against_the_own_baseline_or_a_reference(runs):
    spec = {"measure": "remaining", "run": "treated", "output": "m", "day": 3}
    assert evaluate(runs, spec) == pytest.approx(40.0)
    assert evaluate(runs, {**spec, "reference": "flat"}) == pytest.approx(20.0)
    # 100 + the adjusted change
    adjusted = evaluate(runs, {"measure": "adjusted_change", "run": "treated", "output": "m",
                               "day": 3, "reference": "flat"})
    assert evaluate(runs, {**spec, "reference": "flat"}) == pytest.approx(100.0 + adjusted)


def test_decline_rate_in_the_output_unit_per_year(runs):
    spec = {"measure": "decline_rate", "run": "treated", "output": "bmd", "from_age": 72.0,
            "to_age": 76.0}
    assert evaluate(runs, spec) == pytest.approx(0.01)
    assert evaluate(runs, {**spec, "scale": 1000.0}) == pytest.approx(10.0)  # mg/cm2/year
    loss = evaluate(runs, {**spec, "measure": "loss_rate"})
    assert loss == pytest.approx(100.0 * 0.01 / 0.78)  # % of the first value per year


def test_a_plateau_is_the_change_between_two_days(runs):
    spec = {"measure": "change", "run": "treated", "output": "m", "day": 10, "from_day": 3}
    assert evaluate(runs, spec) == pytest.approx(150.0)
