"""Dosing records expand to the right solver events."""

import re

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


# --- [[dose]] records get the plausibility checks of [[treatment]] ------------------------
def _scenario(doses, years=1, **extra):
    from boneturnover import scenario_from_dict

    return scenario_from_dict({"patient": {"age": 60, "menopause_age": 51}, "years": years,
                               "dose": doses, **extra})


@pytest.mark.parametrize("dose, match", [
    ({"compartment": "teriparatide_sc", "amount": "20 mg", "every": "1 d"},
     r"#1 \(teriparatide_sc\): dose '20 mg' is 1e\+03 times the labelled maximal"),
    ({"compartment": "denosumab_sc", "amount": "1e300 mg"}, "times the labelled maximal"),
    ({"compartment": "pth_plasma", "amount": "1 mg", "every": "1 d"},
     "checked against the teriparatide label"),
    ({"compartment": "denosumab_sc", "amount": "60 mg", "time": "2 months", "until": "1 month",
      "every": "1 month"}, "`until` .* must be after"),
    ({"compartment": "zoledronate_iv", "amount": "5 mg", "every": "1 d", "duration": "2 d"},
     "duration` 2 d must be shorter than the interval"),
    ({"compartment": "denosumab_sc", "amount": "60 mg", "time": "-1 d"}, "non-negative"),
])
def test_dose_records_refused_like_treatments(dose, match):
    with pytest.raises(ScenarioError, match=match):
        _scenario([dose])


def test_dose_record_duplicating_a_treatment_is_refused():
    with pytest.raises(ScenarioError, match=r"duplicate the course of \[\[treatment\]\] #1"):
        _scenario([{"compartment": "denosumab_sc", "amount": "60 mg", "every": "6 months"}],
                  treatment=[{"drug": "denosumab", "dose": "60 mg"}])
    # a course after the treatment's stop is no duplicate
    sc = _scenario([{"compartment": "denosumab_sc", "amount": "60 mg", "every": "6 months",
                     "time": "12 months"}], years=2,
                   treatment=[{"drug": "denosumab", "dose": "60 mg", "stop": "12 months"}])
    assert len(sc.doses) == 2


@pytest.mark.parametrize("dose, match", [
    ({"compartment": "denosumab_sc", "amount": "200 mg", "every": "6 months"},
     "3.33 times the labelled 60 mg"),
    ({"compartment": "denosumab_sc", "amount": "60 mg", "every": "1 week"},
     "interval .* is unlike the labelled"),
    ({"compartment": "denosumab_sc", "amount": "60 mg", "time": "2 years"},
     "at or after the end of the simulation"),
    ({"compartment": "romosozumab_sc", "amount": "210 mg", "every": "1 month", "count": 24},
     "12 of the 24 doses fall inside"),
    ({"compartment": "zoledronate_iv", "amount": "5 mg", "every": "1 year", "until": "5 years"},
     "fall after the end"),
])
def test_unusual_dose_records_warn(dose, match):
    sc = _scenario([dose])
    assert any(re.search(match, w) for w in sc.warnings), sc.warnings


def test_label_dose_records_do_not_warn():
    sc = _scenario([{"compartment": "denosumab_sc", "amount": "60 mg", "every": "6 months"},
                    {"compartment": "gut_calcium", "amount": "500 mg", "every": "1 d"}])
    assert sc.warnings == ()


@given(st.floats(0, 5000), st.floats(1, 2000), st.one_of(st.none(), st.floats(0, 9000)),
       st.one_of(st.none(), st.integers(1, 50)), st.floats(1, 9000))
def test_count_before_matches_times(time_h, every_h, until_h, count, end_h):
    if until_h is not None and until_h <= time_h:
        return
    d = Dose("teriparatide_sc", 20, "ug", time_h=time_h, every_h=every_h, until_h=until_h,
             count=count)
    assert d.count_before(end_h) == len(d.times_h(end_h))
