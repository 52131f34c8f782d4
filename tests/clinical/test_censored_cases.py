"""Worked cases of censored results (``<30 ng/L``, ``>1200 ng/L``, FHIR
``valueQuantity.comparator``): a censored result is an interval, so a rule holds only when
every value it allows satisfies it, a percent change is never computed from the bound as
if it were exact, and what cannot be decided is said (``CENSORED_RESULT``).

The numbers asserted are computed here from the inputs; the LSC (CTX-I 56%) and the
target (paper rule set: CTX-I below 312 ng/L) are read from the packaged data.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from boneturnover.clinical import CATALOG, Measurement, interpret, load_patient
from boneturnover.clinical.conditions import interval_compare, value_bounds
from boneturnover.clinical.rules import RULESETS

from .helpers import find, patient, t

LSC = CATALOG["CTX_I"].lsc_pct  # the paper rule set takes the catalogue LSC
TARGET = RULESETS["paper"].targets["CTX_I"].value
ALN = [t("alendronate", "2024-01-08")]
DATA = Path(__file__).parent / "data"


def ctx(date: str, value, comparator=None) -> Measurement:
    return Measurement(date, "CTX_I", value, "ng/L", fasting=True, time="08:30",
                       comparator=comparator)


def run(*meas, treatments=ALN, today="2024-04-20"):
    return interpret(patient(*meas, treatments=treatments), today=today)


def one(report, code, marker=None):
    hits = find(report, code, marker)
    assert len(hits) == 1, (code, marker, report.codes)
    return hits[0]


def test_below_the_reporting_limit_shows_an_adequate_response():
    # CTX-I 450 ng/L before alendronate, "<30 ng/L" at 3 months
    r = run(ctx("2024-01-05", 450), ctx("2024-04-05", "<30"))
    f = one(r, "RESPONSE_ADEQUATE", "CTX_I")
    assert (f.value, f.comparator) == (30.0, "<")
    assert "change_pct" not in f.numbers  # never computed from the bound as if exact
    bound = 100 * (30 / 450 - 1)
    assert bound < -LSC and f.numbers["change_pct_max"] == pytest.approx(bound)  # -93.3%
    assert "a decrease of at least 93%" in f.message.en and "降幅至少93%" in f.message.zh
    assert "<30 ng/L" in f.message.en
    assert f.to_dict()["comparator"] == "<"
    assert one(r, "TURNOVER_LOW", "CTX_I").comparator == "<"  # every value below 111
    for code in ("RESPONSE_INADEQUATE", "ADHERENCE_CONCERN", "CENSORED_RESULT"):
        assert not find(r, code), code
    # the report prints the bound with its comparator
    assert "CTX-I <30 ng/L" in r.to_text()


def test_above_the_measuring_range_cannot_show_a_decrease():
    r = run(ctx("2024-01-05", 450), ctx("2024-04-05", ">1200"))
    assert not find(r, "RESPONSE_ADEQUATE")
    f = one(r, "RESPONSE_INADEQUATE")
    assert (f.value, f.comparator) == (1200.0, ">")
    rise = 100 * (1200 / 450 - 1)
    assert f.numbers["change_pct_min"] == pytest.approx(rise) and "change_pct" not in f.numbers
    assert "> +166%" in f.message.en  # rounded down: the rise is more than 166.7%
    assert find(r, "ADHERENCE_CONCERN") and find(r, "SECONDARY_CAUSE_CHECK")
    assert one(r, "TURNOVER_HIGH", "CTX_I").comparator == ">"  # every value above 791
    assert not find(r, "CENSORED_RESULT")


def test_a_bound_that_straddles_the_criteria_is_not_concluded():
    # "<400": the true value may be below the target (312) or not, and the change
    # (below -11%) may or may not exceed the LSC: neither response nor failure
    r = run(ctx("2024-01-05", 450), ctx("2024-04-05", "<400"))
    for code in ("RESPONSE_ADEQUATE", "RESPONSE_INADEQUATE", "ADHERENCE_CONCERN",
                 "TURNOVER_NORMAL", "TURNOVER_LOW"):
        assert not find(r, code), code
    caveats = {f.rule_id: f for f in find(r, "CENSORED_RESULT")}
    assert set(caveats) == {"censored-response-undecided", "censored-result-undecided"}
    resp = caveats["censored-response-undecided"]
    assert resp.severity == "warning" and resp.row == "measurements[2]"
    assert resp.numbers["change_pct_max"] == pytest.approx(100 * (400 / 450 - 1))
    assert "Inadequate treatment response" in resp.message.en
    assert "Adherence concern" in resp.message.en and "治疗反应不充分" in resp.message.zh
    ri = caveats["censored-result-undecided"]
    assert ri.severity == "info" and "Low bone turnover" in ri.message.en
    assert "Bone turnover within the reference interval" in ri.message.en


@pytest.mark.parametrize("value, comparator, outcome", [
    (TARGET, "<", "RESPONSE_ADEQUATE"),     # every value below the target
    (TARGET, "<=", "censored-response-undecided"),  # the target itself is allowed
    (TARGET, ">", "RESPONSE_INADEQUATE"),   # every value above it, change above -31%
])
def test_the_edge_of_the_target(value, comparator, outcome):
    r = run(ctx("2024-01-05", 450), ctx("2024-04-05", value, comparator))
    got = {f.code for f in r.findings if f.code.startswith("RESPONSE_")}
    got |= {f.rule_id for f in r.findings if f.rule_id == "censored-response-undecided"}
    assert got == {outcome}


def test_a_censored_baseline_bounds_the_change():
    # baseline "<200 ng/L", 350 ng/L on treatment: the rise is more than 75%; 350 is not
    # below the target, so no response whatever the true baseline
    r = run(ctx("2024-01-05", "<200"), ctx("2024-04-05", 350))
    f = one(r, "RESPONSE_INADEQUATE")
    assert f.numbers["change_pct_min"] == pytest.approx(75.0) and "change_pct" not in f.numbers
    # baseline ">1500": 600 ng/L is a decrease of at least 60% (beyond the LSC)
    r = run(ctx("2024-01-05", ">1500"), ctx("2024-04-05", 600))
    f = one(r, "RESPONSE_ADEQUATE", "CTX_I")
    assert f.numbers["change_pct_max"] == pytest.approx(-60.0) and f.comparator is None
    assert "baseline >1500 ng/L" in f.message.en


def test_holiday_rise_from_a_censored_reference():
    stopped = [t("alendronate", "2020-01-01", "2023-01-01")]
    meas = (ctx("2019-12-20", 450), ctx("2022-06-01", "<30"))
    # 200 ng/L off treatment: the rise from "<30" is more than 566%
    r = run(*meas, ctx("2024-01-10", 200), treatments=stopped, today="2024-02-01")
    f = one(r, "HOLIDAY_REASSESS", "CTX_I")
    assert f.numbers["change_pct_min"] == pytest.approx(100 * (200 / 30 - 1))
    assert "from <30 ng/L on treatment" in f.message.en
    # "<100" off treatment after "<30": a rise can be neither shown nor excluded
    r = run(*meas, ctx("2024-01-10", "<100"), treatments=stopped, today="2024-02-01")
    assert not find(r, "HOLIDAY_REASSESS")
    cav = [f for f in find(r, "CENSORED_RESULT") if "Reassess the drug holiday" in f.message.en]
    assert len(cav) == 1 and cav[0].severity == "warning"


def test_fhir_comparator_is_read_as_censored():
    # the bundle's 6-month CTX-I is valueQuantity {comparator "<", value 0.03 ng/mL}
    p = load_patient(DATA / "fhir_real_lab.json")
    r = interpret(p, today="2024-08-01")
    f = one(r, "RESPONSE_ADEQUATE", "CTX_I")
    assert (f.value, f.comparator, f.row) == (30.0, "<", "Observation/ctx-6m")
    assert f.numbers["change_pct_max"] == pytest.approx(100 * (30 / 650 - 1))
    assert "change_pct" not in f.numbers
    assert json.loads(r.to_json())["findings"]  # serialises without NaN


def test_cohort_and_single_patient_agree_on_censored_results(tmp_path):
    from boneturnover.clinical import interpret_cohort, load_cohort

    (tmp_path / "patients.csv").write_text("patient_id\np1\np2\n", "utf-8")
    (tmp_path / "measurements.csv").write_text(
        "patient_id,date,marker,value,unit,fasting,time\n"
        "p1,2024-01-05,CTX_I,450,ng/L,true,08:30\np1,2024-04-05,CTX_I,<30,ng/L,true,08:30\n"
        "p2,2024-01-05,CTX_I,450,ng/L,true,08:30\np2,2024-04-05,CTX_I,<400,ng/L,true,08:30\n",
        "utf-8")
    (tmp_path / "treatments.csv").write_text(
        "patient_id,drug,start\np1,alendronate,2024-01-08\np2,alendronate,2024-01-08\n",
        "utf-8")
    cohort = load_cohort(tmp_path)
    res = interpret_cohort(cohort, today="2024-04-20")
    for pid in ("p1", "p2"):
        single = interpret(cohort.patient(pid), today="2024-04-20")
        row = res.status[res.status["patient_id"] == pid].iloc[0]
        assert sorted(set(row["codes"].split(";"))) == sorted(set(single.codes)), pid
    assert "CENSORED_RESULT" in res.status.set_index("patient_id").at["p2", "codes"]




@pytest.mark.parametrize("op", [">", ">=", "<", "<="])
def test_interval_compare_agrees_with_every_value_the_interval_allows(op):
    """A bound decides a comparison exactly when every value it allows agrees."""
    cmp = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}[op]
    for comp, bound, ref in itertools.product(["", "<", "<=", ">", ">="], [29.0, 30.0, 31.0],
                                              [29.0, 30.0, 31.0]):
        lo, hi, lo_open, hi_open = value_bounds(np.array([bound]), np.array([comp]))
        yes, no = interval_compare(lo, hi, lo_open, hi_open, op, np.array([ref]))
        # sample the allowed values finely, ends included where closed
        grid = np.linspace(max(lo[0], 0.0), min(hi[0], 100.0), 2001)
        grid = grid[(grid > lo[0]) | ~lo_open] if len(grid) else grid
        grid = grid[(grid < hi[0]) | ~hi_open]
        truth = cmp(grid, ref)
        assert bool(yes[0]) == bool(truth.all()), (comp, bound, op, ref)
        assert bool(no[0]) == bool((~truth).all()), (comp, bound, op, ref)
