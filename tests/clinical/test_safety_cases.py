"""Worked cases for the safety and context rules (clinical/safety.py, rules.toml section
"safety and context"): treatment context of a secondary cause, results outside a rule's
window, labelled limits, transitions, drug-holiday prompts, contraindications, the next
denosumab date and PTH read with calcium, vitamin D and eGFR.

Each case names its source; expected numbers are computed from the inputs, the drug
catalogue and the rules' own params, so a changed number in the data is followed.
"""

from __future__ import annotations

import datetime as dt

import pytest

from boneturnover.clinical import DRUGS, RULES
from boneturnover.clinical.catalog import CATALOG
from boneturnover.knowledge.sources import resolve

from .helpers import find, m, run, t


def rule(rule_id):
    return next(r for r in RULES if r.id == rule_id)


def by_rule(report, rule_id):
    return [f for f in report.findings if f.rule_id == rule_id]


def one(report, rule_id):
    hits = by_rule(report, rule_id)
    assert len(hits) == 1, (rule_id, [f.rule_id for f in report.findings])
    return hits[0]


def days(a, b):
    return (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days


def iso_plus(a, n):
    return (dt.date.fromisoformat(a) + dt.timedelta(days=int(n))).isoformat()


def refs(f):
    return {c.ref for c in f.sources}


# -- 1. treatment context of a secondary cause (seed:B9, seed:B19) ----------------------


def test_low_osteocalcin_on_prednisolone_is_explained_not_cortisol_excess():
    r = run(m("2024-05-01", "OC", 4.0), m("2024-05-01", "CTX_I", 200),
            treatments=[t("prednisolone", "2024-01-01")])
    assert not by_rule(r, "secondary-cortisol")
    f = one(r, "secondary-cortisol-explained-glucocorticoid")
    assert f.code == "SECONDARY_CAUSE_EXPLAINED" and f.severity == "info"
    assert f.marker == "OC" and f.value == 4.0 and f.drug == "glucocorticoid"
    assert "endogenous cortisol" in f.message.en and "OC 4 ug/L" in f.message.en
    assert "osteocalcin and CTX-I" in f.message.en and "CTX-I" in f.message.zh
    assert refs(f) == {"seed:B19", "seed:B9"}
    # the marker-choice advice for glucocorticoid-induced osteoporosis stays
    assert [g.rule_id for g in find(r, "MARKER_CHOICE")].count("marker-choice-glucocorticoid") == 1


def test_recorded_glucocorticoid_fact_also_explains_it():
    r = run(m("2024-05-01", "OC", 4.0), glucocorticoids=True)
    assert one(r, "secondary-cortisol-explained-glucocorticoid").marker == "OC"
    assert not by_rule(r, "secondary-cortisol")


def test_glucocorticoid_stopped_before_the_sample_does_not_explain_it():
    r = run(m("2024-05-01", "OC", 4.0),
            treatments=[t("prednisolone", "2023-01-01", "2023-06-01")])
    assert one(r, "secondary-cortisol").marker == "OC"
    assert not by_rule(r, "secondary-cortisol-explained-glucocorticoid")


# -- 2. teriparatide P1NP outside days 28-98 (seed:B36; Krege 2014) -----------------------


def _window(rule_id):
    return rule(rule_id).params["window_days"]


def test_the_window_is_the_window_of_the_response_rule():
    w = rule("teriparatide-p1np-response").params["window_days"]
    assert _window("teriparatide-p1np-before-window") == w
    assert _window("teriparatide-p1np-after-window") == w
    assert rule("teriparatide-p1np-no-response").params["window_days"] == w


def test_teriparatide_p1np_before_the_window_says_why_and_when():
    start = "2024-02-01"
    r = run(m("2024-01-25", "P1NP", 30), m("2024-02-10", "P1NP", 33),
            treatments=[t("teriparatide", start)], today="2024-02-20")
    assert not find(r, "ANABOLIC_NO_RESPONSE") and not find(r, "ANABOLIC_RESPONSE")
    f = one(r, "teriparatide-p1np-before-window")
    lo, hi = _window("teriparatide-p1np-before-window")
    assert f.code == "ANABOLIC_NOT_ASSESSED" and f.marker == "P1NP_TOTAL"
    assert f.numbers["days_on"] == days(start, "2024-02-10") == 9
    assert f.numbers["due_date"] == iso_plus(start, lo) == "2024-02-29"
    assert f"day {lo}" in f.message.en and f"day {hi}" in f.message.en
    assert refs(f) == {"seed:B36", "krege2014"}


def test_teriparatide_p1np_after_the_window_gives_the_change_without_judging():
    start = "2024-02-01"
    r = run(m("2024-01-25", "P1NP", 30), m("2024-07-01", "P1NP", 62),
            treatments=[t("teriparatide", start)], today="2024-07-10")
    assert not find(r, "ANABOLIC_NO_RESPONSE") and not find(r, "ANABOLIC_RESPONSE")
    f = one(r, "teriparatide-p1np-after-window")
    assert f.numbers["days_on"] == days(start, "2024-07-01") == 151
    assert f.numbers["change_abs"] == 32 and f.numbers["baseline"] == 30
    assert "+32" in f.message.en and "no response is judged" in f.message.en


def test_a_result_inside_the_window_silences_the_outside_ones():
    r = run(m("2024-01-25", "P1NP", 28), m("2024-04-26", "P1NP", 55),
            m("2024-07-01", "P1NP", 60), treatments=[t("teriparatide", "2024-02-01")],
            today="2024-07-10")
    assert not find(r, "ANABOLIC_NOT_ASSESSED")


# -- 3. labelled limits from the drug catalogue (Forteo, Evenity labels) -----------------


def test_teriparatide_beyond_24_months_lifetime():
    limit_days = DRUGS["teriparatide"].limit.course_h / 24.0
    assert limit_days == pytest.approx(24 * 30.4375)
    tr = [t("teriparatide", "2019-01-01", "2019-12-31"), t("teriparatide", "2023-01-01")]
    r = run(treatments=tr, today="2024-03-01")
    f = one(r, "teriparatide-label-limit")
    total = days("2019-01-01", "2019-12-31") + days("2023-01-01", "2024-03-01")
    assert f.code == "LABEL_LIMIT_EXCEEDED" and f.severity == "warning"
    assert f.numbers["days_on"] == total == 789 and total > limit_days
    assert f.numbers["threshold"] == pytest.approx(limit_days)
    assert f.numbers["start_date"] == "2019-01-01"
    assert refs(f) == {DRUGS["teriparatide"].limit.source}
    shorter = run(treatments=tr, today="2024-01-01")  # 728 days
    assert not find(shorter, "LABEL_LIMIT_EXCEEDED")


def test_romosozumab_beyond_12_doses():
    n = DRUGS["romosozumab"].limit.doses
    assert n == 12
    interval = DRUGS["romosozumab"].interval_days("sc")
    start = "2023-01-10"
    last = iso_plus(start, round(12 * interval))  # the 13th monthly dose
    r = run(treatments=[t("romosozumab", start, last_dose=last)], today="2024-01-20")
    f = one(r, "romosozumab-label-limit")
    assert f.value == n + 1 and f.numbers["threshold"] == n
    assert f.numbers["interval_days"] == pytest.approx(interval)
    assert "antiresorptive" in f.message.en and "抗骨吸收" in f.message.zh
    assert {"EVENITY_LABEL", "evenity_limitations"} == refs(f)
    assert not by_rule(r, "romosozumab-course-complete")


# -- 4. transitions (Evenity label; seed:B34, ECTS 2021) ----------------------------------


def test_romosozumab_twelfth_dose_plan_the_antiresorptive():
    interval = DRUGS["romosozumab"].interval_days("sc")
    start = "2023-01-10"
    last = iso_plus(start, round(11 * interval))
    r = run(treatments=[t("romosozumab", start, last_dose=last)], today="2023-12-20")
    f = one(r, "romosozumab-course-complete")
    assert f.code == "TRANSITION_ADVICE" and f.value == 12 and f.numbers["threshold"] == 12
    assert not find(r, "LABEL_LIMIT_EXCEEDED")


def test_romosozumab_stopped_without_an_antiresorptive():
    tr = [t("romosozumab", "2023-01-10", "2023-12-10")]
    f = one(run(treatments=tr, today="2024-03-01"), "romosozumab-stopped-no-antiresorptive")
    assert f.severity == "warning" and f.numbers["stop_date"] == "2023-12-10"
    assert refs(f) == {"evenity_limitations"}
    followed = run(treatments=[*tr, t("alendronate", "2024-01-05")], today="2024-03-01")
    assert not by_rule(followed, "romosozumab-stopped-no-antiresorptive")


def test_zoledronate_after_denosumab_guided_by_ctx_at_three_months():
    tr = [t("denosumab", "2021-03-01", "2023-03-01"),
          t("zoledronate", "2023-09-01", "2023-09-01")]
    r = run(treatments=tr, today="2023-10-01")
    f = one(r, "denosumab-transition-monitor")
    check = rule("denosumab-transition-monitor").params["check_days"]
    assert f.drug == "zoledronate" and f.numbers["days_off"] == days("2023-03-01", "2023-09-01")
    assert f.numbers["due_date"] == iso_plus("2023-09-01", check) == "2023-12-01"
    assert {"seed:B34", "tsourdi2021"} <= refs(f)
    assert not by_rule(r, "denosumab-transition-late")  # 184 days: within interval + grace
    assert not find(r, "DENOSUMAB_STOPPED_NO_TRANSITION")


def test_late_transition_after_denosumab():
    tr = [t("denosumab", "2021-03-01", "2023-03-01"),
          t("zoledronate", "2023-12-01", "2023-12-01")]
    f = one(run(treatments=tr, today="2024-01-01"), "denosumab-transition-late")
    gap = days("2023-03-01", "2023-12-01")
    grace = DRUGS["denosumab"].overdue_grace_days
    assert f.numbers["days_off"] == gap == 275
    assert gap > f.numbers["interval_days"] + f.numbers["grace_days"]
    assert f.numbers["grace_days"] == grace and f.severity == "warning"


# -- 5. drug-holiday prompt (Adler et al., ASBMR task force 2016) ------------------------


@pytest.mark.parametrize("drug, start, today, years", [
    ("alendronate", "2019-01-10", "2024-02-01", 5), ("zoledronate", "2020-01-10",
                                                      "2023-02-01", 3)])
def test_holiday_prompt_after_5_years_oral_or_3_years_iv(drug, start, today, years):
    rid = "oral-bisphosphonate-holiday-prompt" if years == 5 else "iv-bisphosphonate-holiday-prompt"
    f = one(run(treatments=[t(drug, start)], today=today), rid)
    assert f.code == "HOLIDAY_CONSIDER" and f.drug == drug
    assert f.numbers["days_on"] == days(start, today)
    assert f.numbers["threshold"] == pytest.approx(years * 365.25)
    assert "adler2016" in refs(f) and "ASBMR" in f.message.en
    assert resolve("adler2016").text.startswith("Adler RA")
    early = iso_plus(start, years * 365 - 30)
    assert not find(run(treatments=[t(drug, start)], today=early), "HOLIDAY_CONSIDER")


def test_no_holiday_prompt_for_a_stopped_course():
    r = run(treatments=[t("alendronate", "2015-01-10", "2020-06-01")], today="2024-02-01")
    assert not find(r, "HOLIDAY_CONSIDER")


# -- 6. contraindications (Fosamax, Actonel, Boniva, Reclast, Prolia labels) --------------


@pytest.mark.parametrize("drug, limit, severity, source", [
    ("alendronate", 35, "warning", "fosamax_renal"), ("risedronate", 30, "warning",
                                                      "actonel_renal"),
    ("ibandronate", 30, "warning", "boniva_renal"), ("zoledronate", 35, "alert",
                                                     "reclast_safety")])
def test_bisphosphonate_at_egfr_below_the_labelled_limit(drug, limit, severity, source):
    rid = f"{drug}-renal-limit"
    assert rule(rid).params["ref"] == limit
    below = run(m("2024-05-01", "EGFR", limit - 3), treatments=[t(drug, "2023-01-10")],
                today="2024-06-01")
    f = one(below, rid)
    assert f.code == "CONTRAINDICATION_RENAL" and f.severity == severity
    assert f.marker == "EGFR" and f.value == limit - 3 and f.numbers["egfr"] == limit - 3
    assert f.numbers["ref"] == limit and f.row == "measurements[1]"
    assert source in refs(f) and "expert" in refs(f)  # eGFR for the label's clearance
    at = run(m("2024-05-01", "EGFR", limit), treatments=[t(drug, "2023-01-10")],
             today="2024-06-01")
    assert not find(at, "CONTRAINDICATION_RENAL")


def test_zoledronate_renal_limit_names_the_next_infusion():
    year = DRUGS["zoledronate"].interval_days("iv")
    f = one(run(m("2024-05-01", "EGFR", 28), treatments=[t("zoledronate", "2023-01-10")],
                today="2024-06-01"), "zoledronate-renal-limit")
    # no last infusion recorded: the next date of the yearly schedule after today
    assert f.numbers["due_date"] == iso_plus("2023-01-10", 2 * year) == "2025-01-09"
    assert f.numbers.get("last_dose") is None
    given = one(run(m("2024-05-01", "EGFR", 28),
                    treatments=[t("zoledronate", "2023-01-10", last_dose="2024-01-10")],
                    today="2024-06-01"), "zoledronate-renal-limit")
    assert given.numbers["due_date"] == iso_plus("2024-01-10", year) == "2025-01-09"
    assert given.numbers["last_dose"] == "2024-01-10"


@pytest.mark.parametrize("drug, source", [("denosumab", "prolia_calcium"),
                                          ("zoledronate", "reclast_safety")])
def test_hypocalcaemia_before_denosumab_or_zoledronate(drug, source):
    low = CATALOG["CA"].ri.low
    r = run(m("2024-05-01", "CA", 2.02), treatments=[t(drug, "2024-01-10")], today="2024-06-01")
    f = one(r, f"{drug}-hypocalcaemia")
    assert f.code == "CONTRAINDICATION_HYPOCALCAEMIA" and f.severity == "alert"
    assert f.value == 2.02 and f.numbers["ref"] == low == 2.15
    assert f.numbers["due_date"] == iso_plus("2024-01-10", DRUGS[drug].interval_days())
    assert refs(f) == {source}
    ok = run(m("2024-05-01", "CA", 2.30), treatments=[t(drug, "2024-01-10")], today="2024-06-01")
    assert not find(ok, "CONTRAINDICATION_HYPOCALCAEMIA")


def test_no_contraindication_once_the_course_is_stopped():
    r = run(m("2024-05-01", "EGFR", 20), m("2024-05-01", "CA", 2.0),
            treatments=[t("alendronate", "2020-01-10", "2023-01-10")], today="2024-06-01")
    assert not find(r, "CONTRAINDICATION_RENAL") and not find(r, "CONTRAINDICATION_HYPOCALCAEMIA")


# -- 7. the next denosumab date (Prolia label; seed:B31; Tsourdi 2017) -------------------


def test_next_denosumab_injection_date():
    interval = DRUGS["denosumab"].interval_days("sc")
    r = run(treatments=[t("denosumab", "2023-01-01", last_dose="2024-01-01")],
            today="2024-05-01")
    f = one(r, "denosumab-next-dose")
    assert f.code == "DENOSUMAB_NEXT_DOSE" and f.severity == "info"
    assert f.numbers["last_dose"] == "2024-01-01"
    assert f.numbers["due_date"] == iso_plus("2024-01-01", interval) == "2024-07-01"
    assert f.numbers["grace_days"] == DRUGS["denosumab"].overdue_grace_days
    assert not find(r, "DENOSUMAB_OVERDUE")
    late = run(treatments=[t("denosumab", "2023-01-01", last_dose="2024-01-01")],
               today="2024-08-15")
    assert not by_rule(late, "denosumab-next-dose") and find(late, "DENOSUMAB_OVERDUE")


# -- 8. PTH evaluated when present (seed:B19; Bilezikian 2022; KDIGO 2012) ---------------

HIGH_ALP = [m("2024-05-01", "BALP", 24), m("2024-05-01", "CTX_I", 900)]


def test_pth_check_is_asked_only_while_pth_is_missing():
    asked = run(*HIGH_ALP)
    assert one(asked, "secondary-hyperparathyroidism").code == "SECONDARY_CAUSE_CHECK"
    answered = run(*HIGH_ALP, m("2024-05-01", "PTH", 40), m("2024-05-01", "CA", 2.3))
    assert not by_rule(answered, "secondary-hyperparathyroidism")
    f = one(answered, "pth-normal")
    assert f.code == "PTH_EVALUATED" and f.marker == "PTH" and f.value == 40
    assert "PTH 40 pg/mL" in f.message.en and "Ca 2.3 mmol/L" in f.message.en


def test_high_pth_with_high_calcium_is_the_primary_pattern():
    r = run(*HIGH_ALP, m("2024-05-01", "PTH", 98), m("2024-05-03", "CA", 2.71))
    f = one(r, "pth-primary")
    assert f.code == "HYPERPARATHYROIDISM_PATTERN" and f.severity == "warning"
    assert f.value == 98 and f.value > CATALOG["PTH"].ri.high
    assert "Ca 2.71 mmol/L" in f.message.en
    assert {"seed:B19", "bilezikian2022"} <= refs(f)
    assert not [g for g in r.findings if g.rule_id.startswith("pth-secondary")]


def test_high_calcium_with_unsuppressed_pth():
    f = one(run(m("2024-05-01", "PTH", 45), m("2024-05-01", "CA", 2.70)),
            "pth-primary-inappropriate")
    assert f.value == 45 and "not suppressed" in f.message.en


def test_high_pth_low_vitamin_d_normal_calcium_is_secondary():
    r = run(m("2024-05-01", "PTH", 92), m("2024-05-01", "CA", 2.25),
            m("2024-05-01", "VITD25", 12, "ng/mL"), m("2024-05-01", "EGFR", 80))
    f = one(r, "pth-secondary-vitamin-d")
    assert f.code == "HYPERPARATHYROIDISM_PATTERN" and "vitamin D deficiency" in f.message.en
    assert "25(OH)D 29.95 nmol/L" in f.message.en  # 12 ng/mL * 2.496
    assert not by_rule(r, "pth-primary") and not by_rule(r, "pth-normocalcaemic")


def test_high_pth_low_egfr_is_secondary_renal():
    r = run(m("2024-05-01", "PTH", 140), m("2024-05-01", "CA", 2.20),
            m("2024-05-01", "VITD25", 70), m("2024-05-01", "EGFR", 38))
    f = one(r, "pth-secondary-renal")
    assert f.numbers["egfr"] == 38 and 38 < CATALOG["EGFR"].reference_value("cutoff:ckd")
    assert "kdigo2012" in refs(f)


def test_high_pth_everything_else_normal_is_normocalcaemic_after_exclusion():
    r = run(m("2024-05-01", "PTH", 85), m("2024-05-01", "CA", 2.40),
            m("2024-05-01", "VITD25", 80), m("2024-05-01", "EGFR", 85))
    assert one(r, "pth-normocalcaemic").value == 85


def test_high_pth_without_the_tests_to_tell_asks_for_them():
    r = run(m("2024-05-01", "PTH", 85), m("2024-05-01", "CA", 2.40))
    f = one(r, "pth-incomplete")
    assert "25(OH)D" in f.message.en and "eGFR" in f.message.en
    far = run(m("2024-05-01", "PTH", 85), m("2024-05-01", "CA", 2.40),
              m("2023-01-01", "VITD25", 20), m("2023-01-01", "EGFR", 30))
    assert one(far, "pth-incomplete")  # results a year away do not count
    assert not by_rule(far, "pth-secondary-vitamin-d")


# -- 9. misspelt drug: the catalogue suggests the close name --------------------------------


def test_catalogue_suggests_the_close_drug_name():
    assert DRUGS.find("alendronat") is None
    assert DRUGS.suggest("alendronat") == "alendronate"
    assert DRUGS.suggest("Prolya") == "denosumab"


def test_a_misspelt_drug_is_refused_with_the_close_match(tmp_path):
    """A patient file naming "alendronat" is refused, and the message suggests alendronate."""
    from boneturnover.clinical import interpret, load_patient
    from boneturnover.errors import InputError

    path = tmp_path / "p.toml"
    path.write_text('[patient]\nid = "X1"\nbirth_date = 1950-01-01\n\n[[treatments]]\n'
                    'drug = "alendronat"\nstart = 2023-01-01\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"drug 'alendronat' is unknown \(did you mean "
                                         r"'alendronate'\?\)"):
        interpret(load_patient(path), today="2024-01-01")
