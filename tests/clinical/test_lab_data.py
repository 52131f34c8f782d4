"""Real laboratory data: LOINC codes, FHIR status and codings, censored results, unit
spellings, assay overrides, the stored evaluation date, population intervals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from boneturnover.clinical import interpret, load_cohort, load_patient
from boneturnover.clinical.catalog import CATALOG
from boneturnover.clinical.cohort import interpret_cohort
from boneturnover.errors import DataError, InputError

from .helpers import m, run, t

DATA = Path(__file__).resolve().parent / "data"
BUNDLE = DATA / "fhir_real_lab.json"


def loinc_check_digit(number: str) -> int:
    """LOINC mod-10 check digit of the part before the hyphen.

    From the right, the digits in odd positions are doubled (as one number) and written
    before the digits in even positions; the check digit is what brings the sum of all
    those digits up to the next multiple of ten.
    """
    digits = number[::-1]
    odd, even = digits[0::2][::-1], digits[1::2][::-1]
    text = even + str(int(odd) * 2)
    return (10 - sum(map(int, text)) % 10) % 10


@pytest.mark.parametrize("code", ["12345-5", "2160-0", "2345-7", "718-7", "41171-0", "2697-1",
                                  "77370-5", "49541-6"])
def test_check_digit_of_known_codes(code):
    number, check = code.split("-")
    assert loinc_check_digit(number) == int(check)


@pytest.mark.parametrize("code", ["41171-2", "2697-3", "2160-1"])
def test_check_digit_refuses_mistyped_codes(code):
    number, check = code.split("-")
    assert loinc_check_digit(number) != int(check)


@pytest.mark.parametrize("code", ["12345-5", "41171-0", "2697-1", "77370-5", "41171-2",
                                  "2697-3", "1-8", "10-9", "x-1", "123", "1234-56"])
def test_catalogue_check_digit_agrees_with_the_reference(code):
    from boneturnover.knowledge.markers import loinc_valid

    number, _, check = code.partition("-")
    ok = number.isdigit() and len(check) == 1 and check.isdigit() \
        and loinc_check_digit(number) == int(check)
    assert loinc_valid(code) is ok


def test_catalogue_refuses_a_code_with_a_wrong_check_digit():
    from boneturnover.knowledge.markers import KnowledgeBaseError, marker_catalog_from_dict
    from boneturnover.knowledge.markers import _data as packaged

    data = json.loads(json.dumps(packaged(), default=str))
    data["markers"]["CTX_I"]["loinc"] = ["41171-2"]
    with pytest.raises(KnowledgeBaseError, match="LOINC code '41171-2' has a wrong check digit"):
        marker_catalog_from_dict(data)


def test_every_catalogue_loinc_code_has_a_valid_check_digit():
    codes = [(mid, c) for mid in CATALOG for c in CATALOG[mid].loinc]
    assert len(codes) >= 12
    for mid, code in codes:
        number, _, check = code.partition("-")
        assert number.isdigit() and check.isdigit(), (mid, code)
        assert loinc_check_digit(number) == int(check), (mid, code)
    assert CATALOG.by_loinc("41171-0") == "CTX_I" and CATALOG.by_loinc("2697-1") == "OC"
    assert CATALOG.by_loinc("77370-5") == "P1NP_TOTAL"
    assert CATALOG.by_loinc("41171-2") is None and CATALOG.by_loinc("2697-3") is None


# -- FHIR --------------------------------------------------------------------------------

def test_fhir_unrelated_and_unused_resources_are_listed_not_fatal():
    p = load_patient(BUNDLE)
    reasons = {i["resource"]: i["reason"] for i in p.ignored}
    assert "not a marker" in reasons["Observation/hb-1"]
    assert "entered-in-error" in reasons["Observation/ctx-wrong"]
    assert "not-taken" in reasons["MedicationStatement/dmab-1"]
    assert "not a drug" in reasons["MedicationStatement/metformin-1"]
    assert "Practitioner" in reasons["Practitioner/dr-1"]
    assert {x.source for x in p.measurements} == {
        "Observation/ctx-base", "Observation/ctx-6m", "Observation/p1np-1"}
    assert [x.drug for x in p.treatments] == ["alendronate"]  # not-taken denosumab left out
    assert "DENOSUMAB_STOPPED_NO_TRANSITION" not in interpret(p, today="2024-08-01").codes


def test_fhir_codings_status_fasting_and_comparator():
    p = load_patient(BUNDLE)
    by = {x.source: x for x in p.measurements}
    base, six = by["Observation/ctx-base"], by["Observation/ctx-6m"]
    assert base.fasting is True            # Specimen.collection.fastingStatusCodeableConcept F
    assert six.fasting is True             # component LOINC 49541-6 = Y
    assert six.preliminary and not base.preliminary
    assert (six.comparator, six.value) == ("<", 0.03)
    aln = p.treatments[0]
    assert (aln.drug, aln.route, aln.interval) == ("alendronate", "oral", "1 wk")


@pytest.mark.parametrize("status, used", [("final", True), ("amended", True),
                                          ("preliminary", True), ("cancelled", False),
                                          ("entered-in-error", False), ("registered", False)])
def test_fhir_observation_status(tmp_path, status, used):
    b = json.loads(BUNDLE.read_text("utf-8"))
    b["entry"][2]["resource"]["status"] = status
    f = tmp_path / "b.json"
    f.write_text(json.dumps(b), "utf-8")
    sources = {x.source for x in load_patient(f).measurements}
    assert ("Observation/ctx-base" in sources) is used


def test_fhir_status_outside_the_value_set_is_refused(tmp_path):
    b = json.loads(BUNDLE.read_text("utf-8"))
    b["entry"][2]["resource"]["status"] = "done"
    f = tmp_path / "b.json"
    f.write_text(json.dumps(b), "utf-8")
    with pytest.raises(DataError, match=r"Observation/ctx-base.status: 'done' is not"):
        load_patient(f)


@pytest.mark.parametrize("concept, drug", [
    ({"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "77655"}]},
     "zoledronate"),
    ({"text": "alendronate sodium 70 MG Oral Tablet [Fosamax]"}, "alendronate"),
    ({"coding": [{"display": "denosumab 60 MG/ML Prefilled Syringe"}]}, "denosumab"),
])
def test_fhir_rxnorm_codes_and_names(tmp_path, concept, drug):
    b = json.loads(BUNDLE.read_text("utf-8"))
    b["entry"][7]["resource"]["medicationCodeableConcept"] = concept
    f = tmp_path / "b.json"
    f.write_text(json.dumps(b), "utf-8")
    assert load_patient(f).treatments[0].drug == drug


@pytest.mark.parametrize("where, expected", [
    ("specimen-duration-12h", True), ("specimen-NF", False), ("extension-loinc", False)])
def test_fhir_fasting_places(tmp_path, where, expected):
    b = json.loads(BUNDLE.read_text("utf-8"))
    obs = b["entry"][5]["resource"]  # P1NP, no fasting recorded
    if where == "specimen-duration-12h":
        obs["contained"] = [{"resourceType": "Specimen", "id": "s", "collection": {
            "fastingStatusDuration": {"value": 12, "code": "h"}}}]
        obs["specimen"] = {"reference": "#s"}
    elif where == "specimen-NF":
        b["entry"][1]["resource"]["collection"]["fastingStatusCodeableConcept"]["coding"][0][
            "code"] = "NF"
        obs["specimen"] = {"reference": "Specimen/sp-1"}
    else:
        obs["extension"] = [{"url": "http://loinc.org/49541-6", "valueBoolean": False}]
    f = tmp_path / "b.json"
    f.write_text(json.dumps(b), "utf-8")
    p1np = next(x for x in load_patient(f).measurements if x.marker == "P1NP_TOTAL")
    assert p1np.fasting is expected


# -- censored results --------------------------------------------------------------------

@pytest.mark.parametrize("value, comparator", [("<0.03", None), ("< 0.03", None),
                                               ("≤0.03", None), (0.03, "<")])
def test_censored_value_keeps_its_comparator(value, comparator):
    from boneturnover.clinical.records import Measurement, PatientRecord
    from boneturnover.clinical.tables import normalise

    p = PatientRecord("c1", measurements=(Measurement("2024-05-01", "CTX_I", value, "ng/mL",
                                                      True, comparator=comparator),))
    tables, errors = normalise(*p.raw_frames(), catalog=CATALOG, drugs=__import__(
        "boneturnover.clinical.catalog", fromlist=["DRUGS"]).DRUGS, today=20000)
    assert errors.empty
    row = tables.meas.iloc[0]
    assert row["comparator"] in ("<", "<=") and row["value"] == pytest.approx(30.0)


def test_censored_toml_and_csv_values(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[patient]\nid = "c"\n[[measurements]]\ndate = 2024-05-01\nmarker = "CTX"\n'
                 'value = "<0.03"\nunit = "ng/mL"\nfasting = true\n', "utf-8")
    assert load_patient(f).measurements[0].value == "<0.03"
    run(m("2024-05-01", "CTX_I", "<30"), today="2025-01-01")  # accepted, not refused
    with pytest.raises(DataError, match="comparator '~' must be one of"):
        run(m("2024-05-01", "CTX_I", 30).__class__("2024-05-01", "CTX_I", 30, "ng/L",
                                                   comparator="~"), today="2025-01-01")
    with pytest.raises(DataError, match="disagree"):
        run(m("2024-05-01", "CTX_I", 30).__class__("2024-05-01", "CTX_I", "<30", "ng/L",
                                                   comparator=">"), today="2025-01-01")


# -- units and assay overrides -----------------------------------------------------------

@pytest.mark.parametrize("unit, value", [("ng/ml", 0.65), ("pg/ml", 650), ("ug/l", 0.65),
                                         ("µg/L", 0.65), ("μg/L", 0.65)])
def test_lab_unit_spellings_keep_their_meaning(unit, value):
    r = run(m("2024-05-01", "CTX_I", value, unit), today="2025-01-01")
    ctx = next(f for f in r.findings if f.marker == "CTX_I" and f.code.startswith("TURNOVER"))
    assert ctx.value == pytest.approx(650.0)


def test_override_unit_that_disagrees_with_its_numbers_is_refused(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[patient]\nid = "o"\n[assay.CTX_I]\nri_low = 111\nri_high = 791\n'
                 'unit = "ng/mL"\n[[measurements]]\ndate = 2024-05-01\nmarker = "CTX_I"\n'
                 'value = 650\nunit = "ng/L"\nfasting = true\n', "utf-8")
    with pytest.raises(DataError, match=r"the unit does not fit the numbers; the numbers fit "
                                        r"ng/L or pg/mL"):
        interpret(load_patient(f), today="2025-01-01")


@pytest.mark.parametrize("body, message", [
    ("CTX_I = 5", r"CTX_I = 5 must be a table"),
    ("[assay.CTX_I]\nunit = 5", r"unit = 5 must be a text"),
    ("[assay.CTX_I]\nri_high = \"high\"", r"ri_high = 'high' must be a finite number"),
])
def test_bad_assay_overrides(tmp_path, body, message):
    f = tmp_path / "p.toml"
    text = '[patient]\nid = "o"\n' + (f"[assay]\n{body}\n" if "=" in body.split("\n")[0]
                                      and "[" not in body else body + "\n")
    f.write_text(text, "utf-8")
    with pytest.raises(DataError, match=message):
        load_patient(f)


# -- evaluation date stored with the case ------------------------------------------------

def test_as_of_in_the_file_is_the_default_evaluation_date(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('as_of = 2024-07-20\n[patient]\nid = "a"\n[[measurements]]\n'
                 'date = 2024-07-10\nmarker = "CTX_I"\nvalue = 180\nunit = "ng/L"\n'
                 'fasting = true\n', "utf-8")
    assert load_patient(f).as_of == "2024-07-20"
    out = subprocess.run([sys.executable, "-m", "boneturnover", "interpret", str(f),
                          "--format", "json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["today"] == "2024-07-20"
    out = subprocess.run([sys.executable, "-m", "boneturnover", "interpret", str(f),
                          "--format", "json", "--today", "2024-08-01"],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["today"] == "2024-08-01"


# -- population intervals ----------------------------------------------------------------

@pytest.mark.parametrize("marker, name, low, high", [
    ("CTX_I", "li2014_cn", 80.0, 720.0), ("P1NP_TOTAL", "li2014_cn", 17.10, 102.15),
    ("CTX_I", "hu2013_shanghai", 112.0, 210.0), ("OC", "hu2013_shanghai", 4.91, 13.90),
    ("P1NP_INTACT", "mayo_postmenopausal", 16.0, 96.0),
])
def test_named_population_intervals_are_selectable(marker, name, low, high):
    ri = CATALOG.with_overrides({marker: {"interval": name}})[marker].ri
    assert (ri.low, ri.high, ri.name) == (low, high, name)
    assert ri.cite and ri.cite[0].evidence in ("cohort", "lab-reference")


def test_chinese_interval_changes_the_finding():
    # 750 ng/L: within the European premenopausal interval, above the Chinese one
    ctx = m("2024-05-01", "CTX_I", 750)
    assert "TURNOVER_NORMAL" in run(ctx, today="2025-01-01").codes
    from boneturnover.clinical.records import PatientRecord

    p = PatientRecord("cn", measurements=(ctx,), assay={"CTX_I": {"interval": "li2014_cn"}})
    assert "TURNOVER_HIGH" in interpret(p, today="2025-01-01").codes


# -- ranges ------------------------------------------------------------------------------

@pytest.mark.parametrize("facts, message", [
    ({"birth_date": "1800-01-01"}, r"age of 225\.0 years"),
    ({"birth_date": "2024-06-01"}, r"age of 0\.6 years"),
    ({"calcium_supplement_mg_d": 1e12}, r"must be a number from 0 to 20000"),
    ({"magnesium_supplement_mg_d": float("inf")}, r"must be a number from 0 to 3500"),
    ({"calcium_supplement_mg_d": float("nan")}, r"must be a number"),
])
def test_patient_fact_ranges(facts, message):
    with pytest.raises(DataError, match=message):
        run(today="2025-01-01", **facts)


@pytest.mark.parametrize("kw, message", [
    ({"interval": "0 d"}, r"interval '0 d' must lie between 0\.25 and 730\.5 days"),
    ({"interval": "6 s"}, r"interval '6 s' must lie between"),
    ({"dose": 70, "dose_unit": "h"}, r"dose_unit 'h'.*expected a mass unit"),
    ({"dose": 70, "dose_unit": "kg"}, r"dose 70 must be a number from 0 to 10000 mg"),
])
def test_treatment_ranges(kw, message):
    with pytest.raises(DataError, match=message):
        run(m("2024-05-01", "CTX_I", 300), treatments=[t("alendronate", "2024-01-01", **kw)],
            today="2025-01-01")


def test_identical_repeats_are_counted_once_and_reported():
    from boneturnover.clinical.catalog import DRUGS
    from boneturnover.clinical.records import PatientRecord
    from boneturnover.clinical.tables import normalise

    p = PatientRecord("d", measurements=tuple(m("2024-05-01", "CTX_I", 300)
                                              for _ in range(1000)))
    tables, errors = normalise(*p.raw_frames(), catalog=CATALOG, drugs=DRUGS, today=20000)
    assert errors.empty and len(tables.meas) == 1
    assert len(tables.notices) == 999
    assert "repeats measurements[1]" in tables.notices["message"].iloc[0]


# -- cohorts: bad rows are isolated --------------------------------------------------------

def _cohort(tmp_path, measurements: bytes) -> Path:
    (tmp_path / "patients.csv").write_text(
        "patient_id,birth_date\nA,1950-01-01\nB,1950-01-01\nC,1950-01-01\n", "utf-8")
    (tmp_path / "measurements.csv").write_bytes(measurements)
    return tmp_path


@pytest.mark.parametrize("bad_line, reason", [
    (b"B,2024-05-01,CTX_I,300,ng/L,true,08:00,extra\n", "has 8 fields; the header has 7"),
    (b"B,2024-05-01,CTX_I,3\xff0,ng/L,true,08:00\n", "not UTF-8 text"),
    (b'B,2024-05-01,"CTX_I,300,ng/L,true,08:00\n', "unbalanced quote"),
])
def test_cohort_bad_row_fails_only_its_patient(tmp_path, bad_line, reason):
    head = b"patient_id,date,marker,value,unit,fasting,time\n"
    a = b"A,2024-05-01,CTX_I,300,ng/L,true,08:00\n"
    c = b"C,2024-05-01,CTX_I,900,ng/L,true,08:00\n"
    d = _cohort(tmp_path, head + a + bad_line + c)
    cohort = load_cohort(d)
    assert len(cohort.row_errors) == 1
    assert cohort.row_errors["source"].iloc[0] == "measurements.csv line 3"
    status = interpret_cohort(cohort, today="2025-01-01").status.set_index("patient_id")
    assert set(status.index) == {"A", "B", "C"}
    assert status.loc["B", "state"] == "failed" and reason in status.loc["B", "error"]
    assert "measurements.csv line 3" in status.loc["B", "error"]
    assert (status.loc[["A", "C"], "state"] == "interpreted").all()
    assert status.loc["C", "turnover"] == "high"


def test_cohort_assays_toml_errors(tmp_path):
    d = _cohort(tmp_path, b"patient_id,date,marker,value,unit\n")
    (d / "assays.toml").write_bytes(b"[assay.CTX_I]\npopulation = \"\xff\"\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_cohort(d)
    (d / "assays.toml").write_text("x = " + "[" * 1000 + "]" * 1000 + "\n", "utf-8")
    with pytest.raises(InputError, match="nest deeper"):
        load_cohort(d)
    (d / "assays.toml").write_text("[assay]\nCTX_I = 5\n", "utf-8")
    with pytest.raises(DataError, match="CTX_I = 5 must be a table"):
        load_cohort(d)
