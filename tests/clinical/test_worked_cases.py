"""Worked cases for every rule, written from the seed facts and the cited guidelines.

Each case checks the finding code and the numbers behind it (change, LSC, target, days).
"""

from __future__ import annotations

import pytest

from .helpers import find, m, run, t


def one(report, code, marker=None):
    hits = find(report, code, marker)
    assert len(hits) == 1, (code, marker, report.codes)
    return hits[0]


# -- always ---------------------------------------------------------------------------


def test_not_diagnostic_always_present():  # seed:B18
    r = run()
    assert r.codes == ["NOT_DIAGNOSTIC"]
    assert "DXA" in r.findings[0].message.en and "DXA" in r.findings[0].message.zh
    assert r.findings[0].sources[0].ref == "seed:B18"


# -- turnover state (seed:B11, B15-B17) -----------------------------------------------


@pytest.mark.parametrize("value, code", [(900, "TURNOVER_HIGH"), (300, "TURNOVER_NORMAL"),
                                         (60, "TURNOVER_LOW")])
def test_turnover_state_against_premenopausal_interval(value, code):
    r = run(m("2024-05-01", "CTX_I", value))
    f = one(r, code, "CTX_I")
    assert f.value == value
    if code == "TURNOVER_HIGH":
        assert f.numbers["ref"] == 791.0 and "independent of BMD" in f.message.en
        assert f.severity == "warning"
    if code == "TURNOVER_NORMAL":
        assert (f.numbers["ref_low"], f.numbers["ref_high"]) == (111.0, 791.0)


def test_turnover_uses_latest_value_only():
    r = run(m("2023-01-01", "CTX_I", 900), m("2024-01-01", "CTX_I", 300))
    assert not find(r, "TURNOVER_HIGH") and find(r, "TURNOVER_NORMAL", "CTX_I")


def test_lab_override_changes_interpretation():  # seed:B25: thresholds depend on assay
    p = run(m("2024-05-01", "CTX_I", 700))
    assert find(p, "TURNOVER_NORMAL", "CTX_I")
    lab = run(m("2024-05-01", "CTX_I", 700), assay={"CTX_I": {"ri_high": 573.0}})
    assert one(lab, "TURNOVER_HIGH", "CTX_I").numbers["ref"] == 573.0


# -- marker choice (seed:B7, B9) ------------------------------------------------------


def test_marker_choice_ckd_by_egfr():
    r = run(m("2024-05-01", "EGFR", 45), m("2024-05-01", "CTX_I", 300),
            m("2024-05-01", "P1NP", 40))
    f = [f for f in find(r, "MARKER_CHOICE") if f.rule_id == "marker-choice-ckd"][0]
    assert "bone ALP" in f.message.en or "BALP" in f.message.en
    assert "intact P1NP" in f.message.en and "TRACP5b" in f.message.en
    assert f.numbers["egfr"] == 45


def test_marker_choice_ckd_by_flag_and_glucocorticoid_course():
    r = run(m("2024-05-01", "CTX_I", 300), m("2024-05-01", "P1NP", 40), ckd=True,
            treatments=[t("prednisolone", "2024-01-01")])
    ids = {f.rule_id for f in find(r, "MARKER_CHOICE")}
    assert ids == {"marker-choice-ckd", "marker-choice-glucocorticoid"}
    gc = [f for f in find(r, "MARKER_CHOICE") if f.rule_id == "marker-choice-glucocorticoid"][0]
    assert "OC" in gc.message.en and "CTX-I" in gc.message.en


def test_marker_choice_reference_markers_missing():  # seed:B7
    r = run(m("2024-05-01", "BALP", 12))
    missing = {f.marker for f in find(r, "MARKER_CHOICE")}
    assert missing == {"CTX_I", "P1NP_TOTAL"}


# -- secondary causes (seed:B19, M3-M8) -----------------------------------------------


def test_high_alp_with_high_turnover_check_pth():
    r = run(m("2024-05-01", "BALP", 24), m("2024-05-01", "CTX_I", 900))
    f = [f for f in find(r, "SECONDARY_CAUSE_CHECK") if f.rule_id ==
         "secondary-hyperparathyroidism"][0]
    assert "PTH" in f.message.en and "BALP 24" in f.message.en and "CTX-I 900" in f.message.en


def test_high_alp_alone_does_not_trigger_pth_check():
    r = run(m("2024-05-01", "BALP", 24), m("2024-05-01", "CTX_I", 300))
    assert not [f for f in find(r, "SECONDARY_CAUSE_CHECK")
                if f.rule_id == "secondary-hyperparathyroidism"]


def test_low_osteocalcin_untreated_consider_cortisol():
    r = run(m("2024-05-01", "OC", 4.0), m("2024-05-01", "CTX_I", 200))
    f = [f for f in find(r, "SECONDARY_CAUSE_CHECK") if f.rule_id == "secondary-cortisol"][0]
    assert "cortisol" in f.message.en and "皮质醇" in f.message.zh and f.marker == "OC"


def test_low_osteocalcin_on_antiresorptive_is_expected():
    r = run(m("2024-05-01", "OC", 4.0), treatments=[t("alendronate", "2023-01-01")])
    assert not [f for f in find(r, "SECONDARY_CAUSE_CHECK") if f.rule_id == "secondary-cortisol"]


def test_low_vitamin_d_secondary_cause():
    r = run(m("2024-05-01", "VITD25", 14, "ng/mL"))
    f = one(r, "SECONDARY_CAUSE_CHECK", "VITD25")
    assert f.value == pytest.approx(34.94, abs=0.01) and f.numbers["ref"] == 50.0


# -- antiresorptive response (seed:B21, B22, B25; IOF-ECTS 2017) ----------------------

BASE = [m("2024-01-05", "CTX_I", 650), m("2024-01-05", "P1NP", 70)]


def test_bisphosphonate_adequate_response_numbers():
    r = run(*BASE, m("2024-07-10", "CTX_I", 180), m("2024-07-10", "P1NP", 30),
            treatments=[t("alendronate", "2024-01-08")], today="2024-07-20")
    ctx = one(r, "RESPONSE_ADEQUATE", "CTX_I")
    assert ctx.numbers["change_pct"] == pytest.approx(100 * (180 - 650) / 650)
    assert (ctx.numbers["lsc_pct"], ctx.numbers["target"]) == (56.0, 312.0)
    assert ctx.numbers["baseline"] == 650 and ctx.numbers["days_on"] == 184
    p1 = one(r, "RESPONSE_ADEQUATE", "P1NP_TOTAL")
    assert p1.numbers["change_pct"] == pytest.approx(-57.142857)
    assert (p1.numbers["lsc_pct"], p1.numbers["target"]) == (38.0, 35.0)
    assert not find(r, "RESPONSE_INADEQUATE") and not find(r, "ADHERENCE_CONCERN")


def test_adequate_by_target_without_lsc_decrease():
    # -38% is within the CTX-I LSC (56%) but 300 < 312 ng/L (seed:B25)
    r = run(m("2024-01-05", "CTX_I", 480), m("2024-07-10", "CTX_I", 300),
            treatments=[t("alendronate", "2024-01-08")], today="2024-07-20")
    f = one(r, "RESPONSE_ADEQUATE", "CTX_I")
    assert f.numbers["change_pct"] == pytest.approx(-37.5) and f.value < f.numbers["target"]


def test_ruleset_iof_ects_uses_280_ng_l():
    kw = dict(treatments=[t("alendronate", "2024-01-08")], today="2024-07-20")
    meas = (m("2024-01-05", "CTX_I", 480), m("2024-07-10", "CTX_I", 300))
    assert find(run(*meas, **kw), "RESPONSE_ADEQUATE", "CTX_I")
    iof = run(*meas, ruleset="iof-ects-2017", **kw)
    f = one(iof, "RESPONSE_INADEQUATE", "CTX_I")
    assert (f.numbers["target"], f.numbers["lsc_pct"]) == (280.0, 56.0)


def test_oral_bisphosphonate_non_response_adherence_and_secondary_causes():  # seed:B29
    r = run(m("2024-01-10", "CTX_I", 620), m("2024-08-20", "CTX_I", 560),
            treatments=[t("risedronate", "2024-01-15")], today="2024-09-01")
    f = one(r, "RESPONSE_INADEQUATE", "CTX_I")
    assert f.numbers["change_pct"] == pytest.approx(100 * (560 - 620) / 620)
    assert f.numbers["nadir_days"] == 56 and f.numbers["days_on"] == 218
    assert one(r, "ADHERENCE_CONCERN", "CTX_I").drug == "risedronate"
    assert one(r, "SECONDARY_CAUSE_CHECK", "CTX_I").rule_id == "secondary-after-poor-response"


def test_iv_zoledronate_non_response_is_not_an_adherence_question():
    r = run(m("2024-01-10", "CTX_I", 620), m("2024-08-20", "CTX_I", 560),
            treatments=[t("zoledronate", "2024-01-15")], today="2024-09-01")
    assert find(r, "RESPONSE_INADEQUATE", "CTX_I") and find(r, "SECONDARY_CAUSE_CHECK", "CTX_I")
    assert not find(r, "ADHERENCE_CONCERN")


def test_tested_too_early_formation_marker():  # seed:B21: formation nadir 26 weeks
    r = run(m("2024-01-05", "P1NP", 70), m("2024-03-05", "P1NP", 60),
            treatments=[t("alendronate", "2024-01-08")], today="2024-03-10")
    f = one(r, "TESTED_TOO_EARLY", "P1NP_TOTAL")
    assert (f.numbers["days_on"], f.numbers["nadir_days"]) == (57, 182)
    assert not find(r, "RESPONSE_INADEQUATE")


def test_iof_ects_assesses_at_three_months():
    meas = (m("2024-01-05", "P1NP", 70), m("2024-04-20", "P1NP", 60))
    kw = dict(treatments=[t("alendronate", "2024-01-08")], today="2024-05-01")
    assert find(run(*meas, **kw), "TESTED_TOO_EARLY", "P1NP_TOTAL")
    f = one(run(*meas, ruleset="iof-ects-2017", **kw), "RESPONSE_INADEQUATE", "P1NP_TOTAL")
    assert f.numbers["nadir_days"] == 91


def test_raloxifene_slower_nadir():  # seed:B35
    r = run(m("2024-01-05", "CTX_I", 600), m("2024-04-10", "CTX_I", 500),
            treatments=[t("raloxifene", "2024-01-08")], today="2024-05-01")
    assert one(r, "TESTED_TOO_EARLY", "CTX_I").numbers["nadir_days"] == 182


def test_denosumab_resorption_response_within_days():  # seed:B31
    r = run(m("2024-01-05", "CTX_I", 600), m("2024-01-20", "CTX_I", 40),
            treatments=[t("denosumab", "2024-01-08")], today="2024-02-01")
    assert one(r, "RESPONSE_ADEQUATE", "CTX_I").numbers["days_on"] == 12


def test_baseline_missing():
    r = run(m("2024-07-10", "CTX_I", 400), treatments=[t("alendronate", "2024-01-08")],
            today="2024-07-20")
    f = one(r, "BASELINE_MISSING", "CTX_I")
    assert f.numbers["window_days"] == 180
    assert one(r, "RESPONSE_INADEQUATE", "CTX_I").numbers.get("baseline") is None


# -- bisphosphonate holiday (seed:B27, B28) -------------------------------------------


def test_zoledronate_holiday_rise_beyond_lsc():
    r = run(m("2014-12-01", "CTX_I", 600), m("2019-06-01", "CTX_I", 150),
            m("2022-01-01", "CTX_I", 300),
            treatments=[t("zoledronate", "2015-01-10", "2020-01-10")], today="2022-02-01")
    f = one(r, "HOLIDAY_REASSESS", "CTX_I")
    assert f.numbers["reference"] == 150 and f.numbers["change_pct"] == pytest.approx(100.0)
    assert f.numbers["lsc_pct"] == 56.0 and f.numbers["stop_date"] == "2020-01-10"


def test_holiday_rise_within_lsc_is_quiet():
    r = run(m("2019-06-01", "CTX_I", 150), m("2022-01-01", "CTX_I", 200),
            treatments=[t("zoledronate", "2015-01-10", "2020-01-10")], today="2022-02-01")
    assert not [f for f in find(r, "HOLIDAY_REASSESS") if f.rule_id ==
                "bisphosphonate-holiday-rise"]


def test_zoledronate_holiday_longer_than_three_years():  # seed:B27
    # the holiday counts from the last infusion (2018-01-10): 3 years = 1096 days later
    r = run(treatments=[t("zoledronate", "2013-01-10", "2018-01-10")], today="2021-06-01")
    f = one(r, "HOLIDAY_REASSESS")
    assert f.rule_id == "zoledronate-holiday-length"
    assert f.numbers["holiday_start"] == "2018-01-10"
    assert f.numbers["days_off"] == 1238  # 2018-01-10 to 2021-06-01
    short = run(treatments=[t("zoledronate", "2013-01-10", "2018-01-10")], today="2021-01-10")
    assert not find(short, "HOLIDAY_REASSESS")  # 1096 days: not longer than 3 years


# -- denosumab (seed:B31, B34; Tsourdi 2017/2021) --------------------------------------


def test_denosumab_overdue():
    tr = [t("denosumab", "2023-01-01", last_dose="2024-01-01")]
    r = run(treatments=tr, today="2024-08-15")
    f = one(r, "DENOSUMAB_OVERDUE")
    assert f.severity == "alert"
    assert f.numbers["interval_days"] == pytest.approx(182.625)
    assert f.numbers["grace_days"] == 28 and f.numbers["last_dose"] == "2024-01-01"
    assert f.numbers["days_late"] == pytest.approx(227 - 182.625)  # 2024 is a leap year
    assert not find(run(treatments=tr, today="2024-07-25"), "DENOSUMAB_OVERDUE")  # in grace


def test_denosumab_rebound_against_baseline():
    r = run(m("2021-02-20", "CTX_I", 480), m("2021-09-01", "CTX_I", 40),
            m("2024-03-01", "CTX_I", 1150),
            treatments=[t("denosumab", "2021-03-01", "2023-03-01")], today="2024-03-15")
    f = one(r, "DENOSUMAB_REBOUND", "CTX_I")
    assert f.rule_id == "denosumab-rebound-baseline"
    assert f.numbers["reference"] == 480
    assert f.numbers["change_pct"] == pytest.approx(100 * (1150 - 480) / 480)
    assert f.numbers["days_off"] == 366
    assert "zoledronate" in f.message.en and "唑来膦酸" in f.message.zh
    assert one(r, "DENOSUMAB_STOPPED_NO_TRANSITION").severity == "alert"


def test_denosumab_rebound_without_baseline_uses_reference_limit():
    r = run(m("2024-03-01", "CTX_I", 900),
            treatments=[t("denosumab", "2021-03-01", "2023-03-01")], today="2024-03-15")
    f = one(r, "DENOSUMAB_REBOUND", "CTX_I")
    assert f.rule_id == "denosumab-rebound-reference" and f.numbers["reference"] == 791.0


def test_denosumab_transition_recorded():
    r = run(treatments=[t("denosumab", "2021-03-01", "2023-03-01"),
                        t("zoledronate", "2023-09-01", "2023-09-01")], today="2024-03-15")
    assert not find(r, "DENOSUMAB_STOPPED_NO_TRANSITION")


# -- teriparatide (seed:B36) ---------------------------------------------------------


def test_teriparatide_p1np_rise_over_10():
    r = run(m("2024-01-25", "P1NP", 28), m("2024-04-26", "P1NP", 55),
            treatments=[t("teriparatide", "2024-02-01")], today="2024-05-01")
    f = one(r, "ANABOLIC_RESPONSE", "P1NP_TOTAL")
    assert f.numbers["change_abs"] == 27 and f.numbers["threshold"] == 10
    assert f.numbers["days_on"] == 85
    assert not find(r, "ANABOLIC_AFTER_BISPHOSPHONATE")


def test_teriparatide_no_rise_and_prior_bisphosphonate_caveat():
    r = run(m("2024-01-25", "P1NP", 30), m("2024-03-20", "P1NP", 36),
            treatments=[t("alendronate", "2018-09-01", "2023-12-31"),
                        t("teriparatide", "2024-02-01")], today="2024-05-01")
    assert one(r, "ANABOLIC_NO_RESPONSE", "P1NP_TOTAL").numbers["change_abs"] == 6
    f = one(r, "ANABOLIC_AFTER_BISPHOSPHONATE")
    assert "60%" in f.message.en and f.numbers["start_date"] == "2024-02-01"


def test_teriparatide_outside_window_not_judged():
    r = run(m("2024-01-25", "P1NP", 30), m("2024-02-10", "P1NP", 33),
            treatments=[t("teriparatide", "2024-02-01")], today="2024-02-20")
    assert not find(r, "ANABOLIC_NO_RESPONSE") and not find(r, "ANABOLIC_RESPONSE")


# -- romosozumab (seed:B37) -----------------------------------------------------------

ROMO = [t("romosozumab", "2024-02-01")]


def test_romosozumab_expected_pattern_is_quiet():
    r = run(m("2024-01-28", "P1NP", 48), m("2024-01-28", "CTX_I", 400),
            m("2024-04-01", "P1NP", 90), m("2024-04-01", "CTX_I", 250), treatments=ROMO,
            today="2024-04-15")
    assert not find(r, "ROMOSOZUMAB_PATTERN_ATYPICAL")


def test_romosozumab_no_p1np_rise_and_ctx_not_low():
    r = run(m("2024-01-28", "P1NP", 48), m("2024-01-28", "CTX_I", 400),
            m("2024-04-01", "P1NP", 50), m("2024-04-01", "CTX_I", 430), treatments=ROMO,
            today="2024-04-15")
    p = one(r, "ROMOSOZUMAB_PATTERN_ATYPICAL", "P1NP_TOTAL")
    assert p.numbers["change_pct"] == pytest.approx(100 * 2 / 48)
    assert p.numbers["threshold"] == 38.0
    c = one(r, "ROMOSOZUMAB_PATTERN_ATYPICAL", "CTX_I")
    assert c.numbers["change_pct"] == pytest.approx(7.5)


def test_romosozumab_p1np_still_high_at_six_months():
    r = run(m("2024-01-28", "P1NP", 48), m("2024-08-01", "P1NP", 80), treatments=ROMO,
            today="2024-08-15")
    f = one(r, "ROMOSOZUMAB_PATTERN_ATYPICAL", "P1NP_TOTAL")
    assert f.rule_id == "romosozumab-p1np-still-high" and f.numbers["days_on"] == 182


# -- magnesium (seed:M3-M11; Costello 2016) --------------------------------------------


def test_magnesium_low():
    r = run(m("2024-05-20", "MG", 1.5, "mg/dL"))
    f = [f for f in find(r, "MAGNESIUM_LOW") if f.severity == "warning"][0]
    assert f.value == pytest.approx(0.6172, abs=1e-4) and f.numbers["ref"] == 0.70
    assert {c.ref for c in f.sources} >= {"seed:M3", "seed:M8", "seed:M11"}


def test_magnesium_borderline_costello():
    f = one(run(m("2024-05-20", "MG", 0.78)), "MAGNESIUM_LOW")
    assert f.severity == "info" and f.numbers["ref_high"] == 0.85


def test_magnesium_normal_is_quiet():
    assert not find(run(m("2024-05-20", "MG", 0.90)), "MAGNESIUM_LOW")


def test_hypocalcaemia_with_low_magnesium():  # seed:M8
    r = run(m("2024-05-20", "MG", 0.62), m("2024-05-20", "CA", 2.02))
    f = one(r, "HYPOCALCAEMIA_LOW_MAGNESIUM")
    assert f.severity == "alert" and "Ca 2.02" in f.message.en and "Mg 0.62" in f.message.en
    apart = run(m("2024-01-20", "MG", 0.62), m("2024-05-20", "CA", 2.02))
    assert not find(apart, "HYPOCALCAEMIA_LOW_MAGNESIUM")


@pytest.mark.parametrize("ca, mg, ratio", [(1200, 0, float("inf")), (1000, 400, 2.5),
                                           (600, 300, None), (None, None, None)])
def test_calcium_magnesium_ratio(ca, mg, ratio):  # seed:M10
    r = run(calcium_supplement_mg_d=ca, magnesium_supplement_mg_d=mg)
    hits = find(r, "CA_MG_RATIO_HIGH")
    if ratio is None:
        assert not hits
    else:
        assert len(hits) == 1 and hits[0].numbers["threshold"] == 2.0
        assert hits[0].numbers.get("ratio") == (None if ratio == float("inf") else ratio)


# -- pre-analytical ------------------------------------------------------------------


def test_non_fasting_ctx_names_the_row():
    r = run(m("2024-05-01", "CTX_I", 300, fasting=False))
    f = [f for f in find(r, "PREANALYTICAL_WARNING") if f.severity == "warning"][0]
    assert f.row == "measurements[1]" and f.message.en.startswith("measurements[1]:")
    assert "fasting" in f.message.en and "空腹" in f.message.zh


def test_fasting_unknown_is_info_and_p1np_needs_no_fasting():
    r = run(m("2024-05-01", "CTX_I", 300, fasting=None), m("2024-05-01", "P1NP", 40,
                                                           fasting=None))
    f = one(r, "PREANALYTICAL_WARNING")
    assert f.severity == "info" and f.marker == "CTX_I"


def test_late_sample():
    r = run(m("2024-05-01", "CTX_I", 300, time="14:30"))
    f = one(r, "PREANALYTICAL_WARNING")
    assert f.rule_id == "preanalytical-late-sample" and "14:30" in f.message.en


def test_renal_clearance_warning():
    r = run(m("2024-04-01", "EGFR", 24), m("2024-05-01", "CTX_I", 900),
            m("2024-05-01", "P1NP_INTACT", 50))
    f = one(r, "PREANALYTICAL_WARNING", "CTX_I")
    assert f.rule_id == "preanalytical-renal" and f.numbers["egfr"] == 24
    assert not find(r, "PREANALYTICAL_WARNING", "P1NP_INTACT")  # not renally cleared


# -- retest --------------------------------------------------------------------------


def test_retest_first_result_overdue():
    r = run(*BASE, treatments=[t("alendronate", "2024-01-08")], today="2024-09-01")
    f = one(r, "RETEST_DUE")
    assert f.severity == "warning" and f.numbers["due_date"] == "2024-07-08"  # start + 26 wk


def test_retest_upcoming_and_ruleset_timing():
    kw = dict(treatments=[t("alendronate", "2024-01-08")], today="2024-03-01")
    assert one(run(*BASE, **kw), "RETEST_DUE").numbers["due_date"] == "2024-07-08"
    iof = one(run(*BASE, ruleset="iof-ects-2017", **kw), "RETEST_DUE")
    assert iof.severity == "info" and iof.numbers["due_date"] == "2024-04-08"  # 3 months


def test_retest_yearly_after_assessment():
    r = run(*BASE, m("2024-07-10", "CTX_I", 180), treatments=[t("alendronate", "2024-01-08")],
            today="2024-08-01")
    f = one(r, "RETEST_DUE")
    assert f.numbers["due_date"] == "2025-07-10" and f.numbers["last_date"] == "2024-07-10"


def test_retest_after_stopping_denosumab():
    r = run(treatments=[t("denosumab", "2021-03-01", "2023-03-01")], today="2023-06-01")
    f = one(r, "RETEST_DUE")
    assert f.rule_id == "retest-off-treatment-next"
    assert f.numbers["due_date"] == "2023-11-26"  # 270 days after the last injection
