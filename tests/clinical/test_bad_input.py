"""Bad input: a clear DataError naming row, field, value and expectation; never a guess."""

from __future__ import annotations

import pytest

from boneturnover.clinical import interpret
from boneturnover.errors import DataError, InputError

from .helpers import m, patient, run, t

TODAY = "2025-01-01"

MEASUREMENT_CASES = [
    (m("2024-05-01", "CTXX", 300, "ng/L"), r"measurements\[1\]: marker 'CTXX' is unknown"),
    (m("2024-05-01", "CTX_I", 300, "mg/L"), r"unit 'mg/L' is not accepted for CTX_I; expected"),
    (m("2024-05-01", "CTX_I", 300, "furlongs"), r"unit 'furlongs' is not accepted"),
    (m("2024-05-01", "CTX_I", -5), r"value -5 is negative"),
    (m("2024-05-01", "CTX_I", "abc"), r"value 'abc' is not a number"),
    (m("2024-05-01", "CTX_I", 0.35, "ng/L"), r"likely a unit slip, the value fits ng/mL"),
    (m("2024-05-01", "P1NP", 45000, "ug/L"), r"likely a unit slip, the value fits ng/L"),
    (m("2024-05-01", "CA", 9.2, "mmol/L"), r"likely a unit slip, the value fits mg/dL"),
    (m("2026-05-01", "CTX_I", 300), r"date 2026-05-01 is in the future"),
    (m("2024-13-01", "CTX_I", 300), r"date '2024-13-01' is not a date"),
    (m("1940-01-01", "CTX_I", 300), r"before the patient's birth date"),
    (m("2024-05-01", "CTX_I", 300, fasting="maybe"), r"fasting 'maybe' is not true/false"),
    (m("2024-05-01", "CTX_I", 300, time="25:00"), r"time '25:00' is not HH:MM"),
]


@pytest.mark.parametrize("meas, message", MEASUREMENT_CASES)
def test_bad_measurement(meas, message):
    with pytest.raises(DataError, match=message):
        run(meas, birth_date="1950-01-01", today=TODAY)


TREATMENT_CASES = [
    ([t("aspirin", "2024-01-01")], r"treatments\[1\]: drug 'aspirin' is unknown"),
    ([t("alendronate", "2024-05-01", "2024-01-01")], r"stop 2024-01-01 precedes start"),
    ([t("alendronate", "2026-01-01")], r"start 2026-01-01 is in the future"),
    ([t("alendronate", "2024-01-01", "2026-01-01")], r"stop 2026-01-01 is in the future"),
    ([t("alendronate", "2023-01-01", "2024-01-01"), t("Fosamax", "2023-06-01")],
     r"treatments\[2\]: course of alendronate starting 2023-06-01 overlaps the course in "
     r"treatments\[1\]"),
    ([t("alendronate", "2024-01-01", interval="weekly")], r"interval 'weekly' is not a duration"),
    ([t("denosumab", "2024-01-01", "2024-06-01", last_dose="2024-09-01")],
     r"last_dose 2024-09-01 lies outside the course"),
    ([t("alendronate", "2024-01-01", route="rectal")], r"route 'rectal' must be one of"),
    ([t("alendronate", "")], r"start '' is not a date|start .* is not a date"),
]


@pytest.mark.parametrize("treatments, message", TREATMENT_CASES)
def test_bad_treatment(treatments, message):
    with pytest.raises(DataError, match=message):
        run(treatments=treatments, today=TODAY)


def test_conflicting_duplicate_results():
    with pytest.raises(DataError, match="conflicting results"):
        run(m("2024-05-01", "CTX_I", 300), m("2024-05-01", "CTX", 0.5, "ng/mL"), today=TODAY)


def test_identical_duplicate_in_other_unit_is_accepted():
    r = run(m("2024-05-01", "CTX_I", 300), m("2024-05-01", "CTX", 0.3, "ng/mL"), today=TODAY)
    assert "TURNOVER_NORMAL" in r.codes


def test_many_problems_are_counted():
    with pytest.raises(DataError, match=r"\(1 more problem"):
        run(m("2024-05-01", "CTXX", 300, "ng/L"), m("2024-05-01", "CTX_I", -1), today=TODAY)


def test_bad_patient_facts():
    with pytest.raises(DataError, match="calcium_supplement_mg_d -3 must be a number from 0 to"):
        run(calcium_supplement_mg_d=-3, today=TODAY)
    with pytest.raises(DataError, match="ckd 'sometimes' is not true/false"):
        run(ckd="sometimes", today=TODAY)


def test_bad_today_and_ruleset():
    with pytest.raises(InputError, match="not an ISO date"):
        interpret(patient(), today="yesterday")
    with pytest.raises(InputError, match="unknown ruleset"):
        interpret(patient(), ruleset="nice", today=TODAY)
