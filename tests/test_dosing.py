"""Dosing records expand to the right solver events."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boneturnover.dosing import Dose, parse_duration_h, realize
from boneturnover.errors import ScenarioError
from boneturnover.model.system import get_model


def test_denosumab_every_six_months_for_ten_years_is_twenty_doses():
    d = Dose("denosumab_sc", 60, "mg", every_h=parse_duration_h("6 months", "every"))
    times = d.times_h(10 * 8766.0)
    assert len(times) == 20 and times[1] == pytest.approx(182.625 * 24)


def test_doses_fall_strictly_before_until():
    d = Dose("teriparatide_sc", 20, "ug", every_h=24.0, until_h=24.0 * 10)
    assert len(d.times_h(1e9)) == 10


def test_realize_applies_bioavailability_and_units():
    m = get_model()
    rec = m.records(1)[0]
    idx = {s.name: s.index for s in m.spec.states}
    rows = realize([Dose("denosumab_sc", 60, "mg")], 100.0, rec, idx)
    assert rows == [(0.0, 0, idx["denosumab_sc_ng"], pytest.approx(60e6 * 0.729))]
    rows = realize([Dose("teriparatide_sc", 20, "ug")], 100.0, rec, idx)
    assert rows[0][3] == pytest.approx(20e6 / 4117.8)


def test_infusion_is_a_rate_on_and_off():
    m = get_model()
    idx = {s.name: s.index for s in m.spec.states}
    rows = realize([Dose("gut_calcium", 500, "mg", duration_h=2.0)], 100.0,
                   m.records(1)[0], idx)
    assert [r[1] for r in rows] == [1, 1]
    assert rows[0][3] == pytest.approx(-rows[1][3])
    assert rows[0][3] * 2.0 == pytest.approx(500 / 40.078)


@pytest.mark.parametrize("kwargs,match", [
    ({"compartment": "aspirin_sc", "amount": 1, "unit": "mg"}, "unknown"),
    ({"compartment": "denosumab_sc", "amount": -1, "unit": "mg"}, "positive"),
    ({"compartment": "denosumab_sc", "amount": 60, "unit": "mmol"}, "cannot convert"),
    ({"compartment": "denosumab_sc", "amount": 60, "unit": "mg", "every_h": 0.0}, "zero"),
])
def test_bad_doses_are_refused(kwargs, match):
    with pytest.raises(ScenarioError, match=match):
        Dose(**kwargs)


@given(st.integers(1, 60), st.integers(1, 400))
def test_dose_count_property(n_weeks, every_days):
    d = Dose("teriparatide_sc", 20, "ug", every_h=24.0 * every_days)
    end = 24.0 * 7 * n_weeks
    times = d.times_h(end)
    assert all(t < end for t in times)
    assert len(times) == -(-end // (24.0 * every_days))
