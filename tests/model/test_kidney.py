"""Chronic kidney disease as a scenario key: eGFR falls from a given age to a floor."""

from __future__ import annotations

import numpy as np
import pytest

import boneturnover as bt
from boneturnover.errors import ScenarioError

CKD = {"patient": {"age": 60, "menopause_age": 51}, "years": 15,
       "kidney": {"decline_from_age": 60, "egfr_decline_ml_min_per_year": 6,
                  "egfr_floor_ml_min": 12}}


@pytest.fixture(scope="module")
def ckd():
    return bt.simulate(bt.scenario_from_dict(CKD)).frame


def test_a_postmenopausal_woman_reaches_ckd_stage_4_and_5(ckd):
    egfr = ckd["egfr_ml_min"].to_numpy()
    age = ckd["age_y"].to_numpy()
    assert egfr[0] == pytest.approx(100.0, abs=0.05)  # the decline starts at 60
    at = {a: egfr[np.argmin(np.abs(age - a))] for a in (65, 70, 75)}
    # 6 mL/min per year from 60: 70 at 65, 40 at 70 (KDIGO G3b), then it levels at 12
    assert at[65] == pytest.approx(70.0, abs=1.0)
    assert at[70] == pytest.approx(40.0, abs=1.5)
    assert 15 <= egfr[np.argmin(np.abs(age - 72))] < 30  # G4
    assert egfr.min() >= 12.0 - 1e-6 and at[75] < 15  # G5, never below the floor
    assert np.all(np.diff(egfr) <= 1e-9)


def test_secondary_hyperparathyroidism_follows(ckd):
    """PTH and phosphate rise and calcitriol falls as GFR is lost (PR2010 CKD runs)."""
    first, last = ckd.iloc[0], ckd.iloc[-1]
    assert last["pth_pg_ml"] > 2 * first["pth_pg_ml"]
    assert last["phosphate_mmol_l"] > first["phosphate_mmol_l"] + 0.2
    assert last["calcitriol_pmol_l"] < 0.5 * first["calcitriol_pmol_l"]


def test_without_the_key_kidney_function_is_normal():
    f = bt.simulate(bt.scenario_from_dict({"patient": {"age": 60, "menopause_age": 51},
                                           "years": 2})).frame
    assert np.allclose(f["egfr_ml_min"], 100.0)


@pytest.mark.parametrize("table, match", [
    ({"egfr_floor_ml_min": -1}, "egfr_floor_ml_min = -1"),
    ({"egfr_decline_ml_min_per_year": "fast"}, "egfr_decline_ml_min_per_year = 'fast'"),
    ({"decline_from_age": True}, "decline_from_age = True"),
    ({"egfr": 40}, "unknown key 'egfr'"),
])
def test_bad_kidney_values_are_named(table, match):
    with pytest.raises(ScenarioError, match=match):
        bt.scenario_from_dict({"patient": {"age": 60}, "years": 1, "kidney": table})


def test_kidney_and_parameters_may_not_both_set_a_value():
    with pytest.raises(ScenarioError, match="both set"):
        bt.scenario_from_dict({"patient": {"age": 60}, "years": 1,
                               "kidney": {"egfr_floor_ml_min": 20},
                               "parameters": {"gfr_floor_l_h": 1.0}})
