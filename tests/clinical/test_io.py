"""Loaders: TOML/JSON patient, FHIR R4 bundle, cohort CSV directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boneturnover.clinical import interpret, load_cohort, load_fhir_bundle, load_patient
from boneturnover.errors import DataError, InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"
DATA = Path(__file__).resolve().parent / "data"

EXPECTED = {
    "bisphosphonate_responder.toml": ("2024-07-20", {"RESPONSE_ADEQUATE"}),
    "non_adherent.toml": ("2024-09-01", {"RESPONSE_INADEQUATE", "ADHERENCE_CONCERN",
                                         "PREANALYTICAL_WARNING", "SECONDARY_CAUSE_CHECK"}),
    "denosumab_rebound.toml": ("2024-03-15", {"DENOSUMAB_REBOUND",
                                              "DENOSUMAB_STOPPED_NO_TRANSITION"}),
    "teriparatide.toml": ("2024-05-01", {"ANABOLIC_RESPONSE", "ANABOLIC_AFTER_BISPHOSPHONATE"}),
    "romosozumab.toml": ("2024-04-15", {"ROMOSOZUMAB_PATTERN_ATYPICAL"}),
    "low_magnesium.toml": ("2024-06-01", {"MAGNESIUM_LOW", "CA_MG_RATIO_HIGH",
                                          "HYPOCALCAEMIA_LOW_MAGNESIUM", "TURNOVER_HIGH"}),
    "fhir_bundle.json": ("2024-06-01", {"MARKER_CHOICE", "PREANALYTICAL_WARNING",
                                        "SECONDARY_CAUSE_CHECK"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_examples(name):
    today, codes = EXPECTED[name]
    r = interpret(load_patient(EXAMPLES / name), today=today)
    assert codes <= set(r.codes)
    assert "NOT_DIAGNOSTIC" in r.codes


def test_fhir_bundle_fields():
    p = load_fhir_bundle(EXAMPLES / "fhir_bundle.json")
    assert p.patient_id == "fhir-example-1" and p.ckd is True and p.glucocorticoids is True
    assert p.treatments[0].interval == "1 d"
    p = load_fhir_bundle(DATA / "fhir_real_lab.json")
    ctx = next(x for x in p.measurements if x.marker == "CTX_I")
    assert (ctx.value, ctx.unit, ctx.fasting, ctx.time) == (0.65, "ng/mL", True, "08:10")
    assert ctx.source == "Observation/ctx-base"


def test_fhir_unknown_code_is_ignored_and_listed(tmp_path):
    b = json.loads((EXAMPLES / "fhir_bundle.json").read_text())
    b["entry"][1]["resource"]["code"]["coding"][0]["code"] = "0000-0"
    f = tmp_path / "b.json"
    f.write_text(json.dumps(b))
    p = load_fhir_bundle(f)
    assert "EGFR" not in {x.marker for x in p.measurements}
    hit = next(i for i in p.ignored if i["resource"] == "Observation/egfr-1")
    assert "0000-0" in hit["code"] and "not a marker" in hit["reason"]


def test_fhir_mistyped_loinc_code_is_named(tmp_path):
    b = json.loads((DATA / "fhir_real_lab.json").read_text("utf-8"))
    b["entry"][2]["resource"]["code"]["coding"][0]["code"] = "41171-2"
    f = tmp_path / "b.json"
    f.write_text(json.dumps(b))
    hit = next(i for i in load_fhir_bundle(f).ignored if i["resource"] == "Observation/ctx-base")
    assert "41171-2 is not a LOINC code (its check digit is wrong)" in hit["reason"]


def test_json_patient(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"patient": {"id": "j1"}, "measurements": [
        {"date": "2024-01-01", "marker": "CTX", "value": 0.9, "unit": "ng/mL", "fasting": True}]}))
    r = interpret(load_patient(f), today="2024-02-01")
    assert "TURNOVER_HIGH" in r.codes


@pytest.mark.parametrize("content, suffix, message", [
    ("[patient\n", ".toml", "invalid TOML"),
    ("{", ".json", "invalid JSON"),
    ("x", ".txt", "expected a .toml or .json"),
    ('[patient]\nid="a"\nfoo=1\n', ".toml", r"unknown field\(s\) \['foo'\]"),
    ('[patient]\n', ".toml", "id is missing"),
])
def test_bad_patient_files(tmp_path, content, suffix, message):
    f = tmp_path / f"p{suffix}"
    f.write_text(content)
    with pytest.raises((InputError, DataError), match=message):
        load_patient(f)


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        load_patient("/nonexistent/p.toml")


def test_cohort_loader(tmp_path):
    c = load_cohort(EXAMPLES / "cohort")
    assert len(c.patients) == 4 and c.measurements["source"].iloc[0] == "measurements.csv line 2"
    with pytest.raises(InputError, match="not a directory"):
        load_cohort(tmp_path / "nope")
    (tmp_path / "patients.csv").write_text("patient_id\nA\n")
    with pytest.raises(InputError, match="measurements.csv is missing"):
        load_cohort(tmp_path)
    (tmp_path / "measurements.csv").write_text("patient_id,date,marker,value,unit,colour\n")
    with pytest.raises(InputError, match=r"unknown column\(s\) \['colour'\]"):
        load_cohort(tmp_path)


def test_cohort_duplicate_column_is_named_as_written(tmp_path):
    """A header naming a column twice is refused with that name and line 1, not as an
    unknown column renamed by the reader ('patient_id.1')."""
    (tmp_path / "patients.csv").write_text("patient_id,birth_date,patient_id\nA,1950-01-01,A\n")
    (tmp_path / "measurements.csv").write_text("patient_id,date,marker,value,unit\n")
    with pytest.raises(InputError, match=r"patients.csv line 1: column\(s\) \['patient_id'\] "
                                         r"appear more than once") as err:
        load_cohort(tmp_path)
    assert "patient_id.1" not in str(err.value)
