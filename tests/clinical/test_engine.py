"""Engine invariants: purity, row-order invariance, single patient == cohort."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from boneturnover.clinical import (
    Cohort,
    interpret,
    interpret_cohort,
    load_cohort,
    load_patient,
)
from boneturnover.clinical.tables import RAW_COLUMNS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"
TODAY = "2024-09-01"
PATIENT = load_patient(EXAMPLES / "denosumab_rebound.toml")


def key(f):
    nums = tuple(sorted((k, round(v, 9) if isinstance(v, float) else v)
                        for k, v in f.numbers.items()))
    return (f.rule_id, f.code, f.severity, f.marker, f.date, f.row, f.drug,
            None if f.value is None else round(f.value, 9), nums, f.message.en, f.message.zh)


def test_pure_and_deterministic():
    a = interpret(PATIENT, today=TODAY)
    b = interpret(PATIENT, today=TODAY)
    assert a == b


@settings(max_examples=15, deadline=None)
@given(st.permutations(range(len(PATIENT.measurements))))
def test_measurement_order_does_not_matter(order):
    shuffled = dataclasses.replace(
        PATIENT, measurements=tuple(PATIENT.measurements[i] for i in order))
    assert [key(f) for f in interpret(shuffled, today=TODAY).findings] == \
        [key(f) for f in interpret(PATIENT, today=TODAY).findings]


def _cohort_from(patients) -> Cohort:
    pa, me, tr = [], [], []
    for p in patients:
        a, b, c = p.raw_frames()
        pa.append(a)
        me.append(b)
        tr.append(c)
    assert all(set(x.columns) == set(RAW_COLUMNS["patients"]) for x in pa)
    return Cohort(pd.concat(pa, ignore_index=True), pd.concat(me, ignore_index=True),
                  pd.concat(tr, ignore_index=True))


def test_single_patient_equals_cohort_path():
    files = sorted(EXAMPLES.glob("*.toml")) + [EXAMPLES / "fhir_bundle.json"]
    patients = [load_patient(f) for f in files if "low_magnesium" not in f.name]  # own assay
    cohort = _cohort_from(patients)
    result = interpret_cohort(cohort, today=TODAY)
    assert result.errors.empty
    for p in patients:
        single = interpret(p, today=TODAY)
        from_cohort = interpret(cohort.patient(p.patient_id), today=TODAY)
        assert [key(f) for f in single.findings] == [key(f) for f in from_cohort.findings]
        rows = result.findings[result.findings["patient_id"] == p.patient_id]
        assert list(rows["rule_id"]) == [f.rule_id for f in single.findings]
        assert list(rows["marker"].where(rows["marker"].notna(), None)) == \
            [f.marker for f in single.findings]


def test_cohort_dir_matches_single_patient_runs():
    cohort = load_cohort(EXAMPLES / "cohort")
    result = interpret_cohort(cohort, today=TODAY)
    status = result.status.set_index("patient_id")
    assert "unit slip" in status.loc["C003", "error"]
    assert status["error"].isna().sum() == 3
    for pid in ("C001", "C002", "C004"):
        single = interpret(cohort.patient(pid), today=TODAY)
        rows = result.findings[result.findings["patient_id"] == pid]
        assert list(rows["rule_id"]) == [f.rule_id for f in single.findings]
        assert set(status.loc[pid, "codes"].split(";")) == {f.code for f in single.findings}
    assert status.loc["C001", "response"] == "adequate"
    assert status.loc["C002", "alerts"] == "DENOSUMAB_OVERDUE"
    assert bool(status.loc["C002", "retest_overdue"]) is True
