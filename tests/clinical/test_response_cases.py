"""Worked cases of the response assessment: combined markers, coverage of a dose, flagged
samples, sampling tolerance and the expected response of each drug class.

Each case states its source; the numbers asserted are computed from the inputs here.
"""

from __future__ import annotations

import datetime as dt

import pytest

from boneturnover.clinical.rules import RESPONSES, RULESETS

from .helpers import find, m, run, t


def one(report, code, marker=None, rule_id=None):
    hits = [f for f in find(report, code, marker) if rule_id is None or f.rule_id == rule_id]
    assert len(hits) == 1, (code, marker, rule_id, report.codes)
    return hits[0]


def days(a: str, b: str) -> int:
    return (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days


DMAB_INTERVAL = 365.25 / 2  # "6 mo" in UCUM months of the drug catalogue


# -- a missed denosumab dose (seed:B31, B34; Tsourdi et al. 2017, 2021) -----------------

DMAB_MEAS = (m("2022-01-05", "CTX_I", 450), m("2022-07-01", "CTX_I", 60),
             m("2024-04-10", "CTX_I", 720))


def test_missed_denosumab_dose_is_a_rebound_not_a_failure():
    # course still open, last injection 2023-07-10, i.e. 280 days before today
    r = run(*DMAB_MEAS, treatments=[t("denosumab", "2022-01-10", last_dose="2023-07-10")],
            today="2024-04-15")
    f = one(r, "DENOSUMAB_REBOUND", "CTX_I")
    assert f.rule_id == "denosumab-missed-dose-rebound-baseline" and f.severity == "alert"
    assert f.numbers["reference"] == 450
    assert f.numbers["change_pct"] == pytest.approx(100 * (720 - 450) / 450)
    assert f.numbers["days_off"] == days("2023-07-10", "2024-04-10") == 275
    assert f.numbers["last_dose"] == "2023-07-10"
    assert f.numbers["interval_days"] == pytest.approx(DMAB_INTERVAL)
    assert f.numbers["grace_days"] == 28  # catalogue grace (Tsourdi 2017; expert opinion)
    assert f.numbers["days_late"] == pytest.approx(280 - DMAB_INTERVAL)
    assert f.numbers["due_date"] == "2024-01-08"
    assert "missed dose" in f.message.en and "zoledronate" in f.message.en
    assert "唑来膦酸" in f.message.zh and "3个月" in f.message.zh
    # not judged as treatment failure, no secondary-cause work-up
    for code in ("RESPONSE_INADEQUATE", "SECONDARY_CAUSE_CHECK"):
        assert not find(r, code), code
    # the response concluded stays the one of the last covered sample
    assert one(r, "RESPONSE_ADEQUATE", "CTX_I").date == "2022-07-01"
    assert one(r, "DENOSUMAB_OVERDUE").numbers["days_late"] == pytest.approx(280 - DMAB_INTERVAL)
    # early retest: the last result + 91 days (drugs.toml off_interval_days), not a year
    rt = one(r, "RETEST_DUE")
    assert rt.rule_id == "retest-lapsed-next" and rt.numbers["due_date"] == "2024-07-10"


def test_denosumab_sample_within_the_grace_period_is_still_on_treatment():
    # last injection 2023-09-20: due 2024-03-20, grace to 2024-04-17 covers the sample
    r = run(*DMAB_MEAS, treatments=[t("denosumab", "2022-01-10", last_dose="2023-09-20")],
            today="2024-04-15")
    assert not find(r, "DENOSUMAB_REBOUND") and not find(r, "DENOSUMAB_OVERDUE")
    f = one(r, "RESPONSE_INADEQUATE", "CTX_I")
    assert f.numbers["change_pct"] == pytest.approx(60.0)
    assert one(r, "RETEST_DUE").rule_id == "retest-on-treatment-next"


def test_missed_denosumab_dose_without_baseline_uses_the_reference_limit():
    r = run(m("2024-04-10", "CTX_I", 900),
            treatments=[t("denosumab", "2022-01-10", last_dose="2023-07-10")],
            today="2024-04-15")
    f = one(r, "DENOSUMAB_REBOUND", "CTX_I")
    assert f.rule_id == "denosumab-missed-dose-rebound-reference"
    assert f.numbers["reference"] == 791.0 and not find(r, "RESPONSE_INADEQUATE")


# -- the zoledronate holiday (seed:B27, B28) --------------------------------------------


def test_zoledronate_holiday_reference_is_taken_within_the_interval_after_the_last_dose():
    # six yearly infusions 2014-01-10 .. 2019-01-10; the only on-treatment sample lies in
    # the year after the last infusion, the rise two years after the last dose
    r = run(m("2013-12-20", "CTX_I", 600), m("2019-07-01", "CTX_I", 150),
            m("2021-01-20", "CTX_I", 310),
            treatments=[t("zoledronate", "2014-01-10", "2019-01-10")], today="2021-02-01")
    f = one(r, "HOLIDAY_REASSESS", "CTX_I")
    assert f.rule_id == "bisphosphonate-holiday-rise"
    assert f.numbers["reference"] == 150
    assert f.numbers["change_pct"] == pytest.approx(100 * (310 - 150) / 150)
    assert f.numbers["lsc_pct"] == 56.0
    assert f.numbers["stop_date"] == "2019-01-10"
    assert f.numbers["days_off"] == days("2019-01-10", "2021-01-20") == 741  # from last dose


ZOL6 = [t("zoledronate", "2014-01-10", "2019-01-10")]  # six yearly infusions, 2014 to 2019


def test_holiday_clock_starts_at_the_last_dose():
    # seed:B27: after 6 yearly infusions a pause of up to 3 years. A sample 2 years after
    # the last infusion lies 2 years into the holiday, not 1 (the year the last infusion
    # still covers is part of the holiday); its rise of +107% exceeds the LSC of 56%.
    r = run(m("2013-12-20", "CTX_I", 600), m("2019-07-01", "CTX_I", 150),
            m("2021-01-10", "CTX_I", 310), treatments=ZOL6, today="2021-01-20")
    f = one(r, "HOLIDAY_REASSESS", "CTX_I", rule_id="bisphosphonate-holiday-rise")
    assert f.numbers["days_off"] == days("2019-01-10", "2021-01-10") == 731  # 2 years
    assert f.numbers["reference"] == 150 and f.numbers["lsc_pct"] == 56.0
    assert f.numbers["change_pct"] == pytest.approx(100 * (310 - 150) / 150)
    assert f.numbers["change_pct"] > f.numbers["lsc_pct"]
    # the holiday length (741 days today) is within the 3 years
    assert [x.rule_id for x in find(r, "HOLIDAY_REASSESS")] == ["bisphosphonate-holiday-rise"]


@pytest.mark.parametrize("today, days_off, flagged", [
    ("2022-01-10", 1096, False),  # 3 years after the last infusion (1096 days: not longer)
    ("2022-01-11", 1097, True),   # one day longer; counted from one dosing interval after
                                  # the last dose it would be 731.75 days, not flagged
])
def test_holiday_length_counts_from_the_last_dose(today, days_off, flagged):
    r = run(treatments=ZOL6, today=today)
    hits = [f for f in find(r, "HOLIDAY_REASSESS") if f.rule_id == "zoledronate-holiday-length"]
    assert days("2019-01-10", today) == days_off
    assert bool(hits) == flagged
    if flagged:
        f = hits[0]
        assert f.numbers["holiday_start"] == "2019-01-10"
        assert f.numbers["days_off"] == days_off
        assert "since the last dose on 2019-01-10" in f.message.en
        assert "末次给药（2019-01-10）" in f.message.zh


def test_holiday_length_counts_from_a_recorded_last_dose():
    # a course recorded with a stop after its last infusion: the clock starts at the
    # infusion (last_dose), not at the stop
    r = run(treatments=[t("zoledronate", "2014-01-10", "2019-06-01", last_dose="2019-01-10")],
            today="2022-01-11")
    f = one(r, "HOLIDAY_REASSESS", rule_id="zoledronate-holiday-length")
    assert f.numbers["holiday_start"] == "2019-01-10" and f.numbers["days_off"] == 1097


def test_oral_bisphosphonate_holiday_reference_is_taken_up_to_the_stop():
    # 2020-03-01 lies after the last tablet: off treatment, not the reference (else the
    # rise 300 -> 400 = +33% would stay within the LSC of 56%)
    r = run(m("2019-10-01", "CTX_I", 200), m("2020-03-01", "CTX_I", 300),
            m("2022-01-10", "CTX_I", 400),
            treatments=[t("alendronate", "2015-01-10", "2020-01-10")], today="2022-02-01")
    f = one(r, "HOLIDAY_REASSESS", "CTX_I")
    assert f.numbers["reference"] == 200 and f.numbers["change_pct"] == pytest.approx(100.0)
    assert f.numbers["days_off"] == days("2020-01-10", "2022-01-10")


# -- markers read together: the IOF-ECTS adherence screen (Diez-Perez et al. 2017) ------

ALN = [t("alendronate", "2024-01-08")]
BASE = (m("2024-01-05", "CTX_I", 650), m("2024-01-05", "P1NP", 70))


def test_either_reference_marker_beyond_its_lsc_shows_the_drug_is_taken():
    # day 182: CTX-I -94% (LSC 56%), P1NP -29% (within its LSC of 38%, above 35 ug/L)
    r = run(*BASE, m("2024-07-08", "CTX_I", 39), m("2024-07-08", "P1NP", 49.7), treatments=ALN,
            today="2024-07-20")
    f = one(r, "RESPONSE_ADEQUATE")
    assert f.marker == "CTX_I" and f.numbers["days_on"] == 182
    assert f.numbers["change_pct"] == pytest.approx(100 * (39 - 650) / 650)  # -94%
    assert "P1NP 49.7 ug/L, -29% (LSC 38%)" in f.message.en
    for code in ("ADHERENCE_CONCERN", "RESPONSE_INADEQUATE", "SECONDARY_CAUSE_CHECK",
                 "TESTED_TOO_EARLY"):
        assert not find(r, code), code


def test_no_marker_responding_gives_one_conclusion_per_course():
    # CTX-I -10% and P1NP -5% at day 182: one inadequate conclusion, one adherence
    # question, one secondary-cause prompt, each naming both markers
    r = run(*BASE, m("2024-07-08", "CTX_I", 585), m("2024-07-08", "P1NP", 66.5), treatments=ALN,
            today="2024-07-20")
    for code in ("RESPONSE_INADEQUATE", "ADHERENCE_CONCERN", "SECONDARY_CAUSE_CHECK"):
        f = one(r, code)
        assert "CTX-I 585 ng/L, -10% (LSC 56%)" in f.message.en, code
        assert "P1NP 66.5 ug/L, -5% (LSC 38%)" in f.message.en, code
    f = one(r, "RESPONSE_INADEQUATE")
    assert f.marker == "CTX_I" and (f.numbers["days_on"], f.numbers["nadir_days"]) == (182, 56)
    assert "after the expected nadir" not in f.message.en  # day 182 vs nadir 182 wording
    assert "94.5%" in one(r, "ADHERENCE_CONCERN").message.en


# -- a flagged sample (IOF-IFCC, Vasikaran et al. 2011: fasting morning CTX-I) ----------


def test_non_fasting_ctx_decrease_does_not_conclude_a_response():
    r = run(m("2024-01-05", "CTX_I", 650), m("2024-07-10", "CTX_I", 250, fasting=False),
            treatments=ALN, today="2024-07-20")
    assert not find(r, "RESPONSE_ADEQUATE") and not find(r, "RESPONSE_INADEQUATE")
    w = one(r, "PREANALYTICAL_WARNING", "CTX_I", "antiresorptive-response-withheld")
    assert w.row == "measurements[2]" and w.numbers["days_on"] == 184
    assert w.numbers["change_pct"] == pytest.approx(100 * (250 - 650) / 650)
    assert "no response is concluded" in w.message.en
    assert one(r, "PREANALYTICAL_WARNING", "CTX_I", "preanalytical-not-fasting")


def test_late_ctx_sample_is_flagged_the_same_way():
    r = run(m("2024-01-05", "CTX_I", 650), m("2024-07-10", "CTX_I", 250, time="13:30"),
            treatments=ALN, today="2024-07-20")
    assert not find(r, "RESPONSE_ADEQUATE")
    assert one(r, "PREANALYTICAL_WARNING", "CTX_I", "antiresorptive-response-withheld")


def test_non_fasting_ctx_with_a_responding_p1np_concludes_on_p1np():
    r = run(*BASE, m("2024-07-10", "CTX_I", 250, fasting=False), m("2024-07-10", "P1NP", 30),
            treatments=ALN, today="2024-07-20")
    assert one(r, "RESPONSE_ADEQUATE").marker == "P1NP_TOTAL"
    assert not [f for f in find(r, "PREANALYTICAL_WARNING", "CTX_I")
                if f.rule_id == "antiresorptive-response-withheld"]


def test_non_fasting_ctx_without_a_decrease_still_reads_no_response():
    # food lowers CTX-I: a non-fasting value that has not fallen would not fall fasting
    r = run(m("2024-01-05", "CTX_I", 650), m("2024-07-10", "CTX_I", 620, fasting=False),
            treatments=ALN, today="2024-07-20")
    assert one(r, "RESPONSE_INADEQUATE", "CTX_I").numbers["change_pct"] == pytest.approx(
        100 * (620 - 650) / 650)


# -- sampling tolerance around the planned date (IOF-ECTS 3 months; expert +/-14 days) ----


def test_sampling_tolerance_is_data_with_its_source():
    iof = RULESETS["iof-ects-2017"]
    assert iof.window_tolerance_days == 14
    assert {c.ref for c in iof.window_tolerance_cite} == {"diezperez2017", "expert"}
    assert RULESETS["paper"].window_tolerance_days == 14


@pytest.mark.parametrize("sample, assessed", [("2024-04-07", True),   # day 90
                                              ("2024-03-25", True),   # day 77 = 91 - 14
                                              ("2024-03-24", False)])  # day 76
def test_three_month_sample_on_the_nadir_day_screens_adherence(sample, assessed):
    meas = (m("2024-01-05", "CTX_I", 600), m("2024-01-05", "P1NP", 60),
            m(sample, "CTX_I", 540), m(sample, "P1NP", 57))
    r = run(*meas, treatments=ALN, ruleset="iof-ects-2017", today="2024-04-20")
    d = days("2024-01-08", sample)
    if assessed:
        f = one(r, "RESPONSE_INADEQUATE")
        assert (f.numbers["days_on"], f.numbers["nadir_days"]) == (d, 91)
        assert one(r, "ADHERENCE_CONCERN").drug == "alendronate"
        assert not find(r, "TESTED_TOO_EARLY")
    else:
        assert {f.marker for f in find(r, "TESTED_TOO_EARLY")} == {"CTX_I", "P1NP_TOTAL"}
        assert not find(r, "ADHERENCE_CONCERN") and not find(r, "RESPONSE_INADEQUATE")


# -- expected response by drug class (raloxifene: seed:B35; bisphosphonate: B22/B23) ------

RALOX_MEAS = (m("2023-01-05", "CTX_I", 500), m("2023-01-05", "P1NP", 50),
              m("2024-01-12", "CTX_I", 380), m("2024-01-12", "P1NP", 40))


def test_expected_response_is_data_per_class():
    assert RESPONSES["serm"].criterion == "expected_change"
    assert RESPONSES["serm"].expected_pct["CTX_I"] == -24.0
    assert RESPONSES["bisphosphonate"].criterion == "lsc_or_target"
    assert {c.ref for c in RESPONSES["denosumab"].cite} == {"seed:B31"}


def test_raloxifene_judged_by_its_own_expected_response():
    # CTX-I -24%, P1NP -20% at a year: what raloxifene is expected to do
    r = run(*RALOX_MEAS, treatments=[t("raloxifene", "2023-01-10")], today="2024-02-01")
    f = one(r, "RESPONSE_ADEQUATE")
    assert f.rule_id == "serm-response-expected" and f.marker == "CTX_I"
    assert f.numbers["change_pct"] == pytest.approx(-24.0)
    assert "CTX-I 380 ng/L, -24% (LSC 56%), < 312 ng/L, ~ -24%" in f.message.en
    assert not find(r, "RESPONSE_INADEQUATE") and not find(r, "SECONDARY_CAUSE_CHECK")


def test_raloxifene_without_any_decrease_is_no_response():
    r = run(m("2023-01-05", "CTX_I", 500), m("2023-01-05", "P1NP", 50),
            m("2024-01-12", "CTX_I", 550), m("2024-01-12", "P1NP", 52),
            treatments=[t("raloxifene", "2023-01-10")], today="2024-02-01")
    assert one(r, "RESPONSE_INADEQUATE").numbers["change_pct"] == pytest.approx(10.0)
    assert one(r, "SECONDARY_CAUSE_CHECK").rule_id == "secondary-after-poor-response"
    assert not find(r, "ADHERENCE_CONCERN")  # the IOF-ECTS screen is for oral bisphosphonates


def test_the_same_changes_on_a_bisphosphonate_are_inadequate():
    r = run(*RALOX_MEAS, treatments=[t("alendronate", "2023-01-10")], today="2024-02-01")
    assert one(r, "RESPONSE_INADEQUATE").numbers["change_pct"] == pytest.approx(-24.0)
    assert not find(r, "RESPONSE_ADEQUATE")


# -- messages ---------------------------------------------------------------------------


def test_low_ctx_says_low_resorption_and_low_p1np_low_formation():
    r = run(m("2024-05-01", "CTX_I", 60), m("2024-05-01", "P1NP", 10))
    ctx = one(r, "TURNOVER_LOW", "CTX_I")
    assert "low bone resorption" in ctx.message.en and "formation" not in ctx.message.en
    assert "骨吸收减低" in ctx.message.zh
    p1 = one(r, "TURNOVER_LOW", "P1NP_TOTAL")
    assert p1.rule_id == "turnover-low-formation" and "low bone formation" in p1.message.en


def test_denosumab_message_does_not_speak_of_a_nadir_at_day_one():
    r = run(m("2024-01-05", "CTX_I", 600), m("2024-06-01", "CTX_I", 500),
            treatments=[t("denosumab", "2024-01-08")], today="2024-06-10")
    f = one(r, "RESPONSE_INADEQUATE", "CTX_I")
    assert f.numbers["nadir_days"] == 1 and "nadir at day 1" not in f.message.en
