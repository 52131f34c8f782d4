"""``interpret --format fhir``: a FHIR R4 Bundle with one DiagnosticReport."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from boneturnover.cli import main
from boneturnover.clinical.fhir_out import REPORT_SYSTEM
from boneturnover.clinical.io import FHIR_EXTENSION, LOINC, UCUM, load_patient
from boneturnover.knowledge.markers import marker_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"
CASES = [("fhir_bundle.json", "2024-06-01"), ("denosumab_rebound.toml", "2024-03-15")]


def _run(tmp_path: Path, name: str, today: str, fmt: str, lang: str = "en") -> str:
    out = tmp_path / f"{name}.{fmt}"
    assert main(["interpret", str(EXAMPLES / name), "--today", today, "--format", fmt,
                 "--lang", lang, "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def _report(bundle: dict) -> dict:
    reports = [e["resource"] for e in bundle["entry"]
               if e["resource"]["resourceType"] == "DiagnosticReport"]
    assert len(reports) == 1
    return reports[0]


@pytest.mark.parametrize(("name", "today"), CASES)
def test_bundle_holds_a_diagnostic_report(tmp_path, name, today):
    bundle = json.loads(_run(tmp_path, name, today, "fhir"))
    plain = json.loads(_run(tmp_path, name, today, "json"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    dr = _report(bundle)
    # required R4 fields
    assert dr["status"] == "final"
    assert dr["code"]["text"] == "Bone turnover marker interpretation"
    assert dr["code"]["coding"][0]["system"] == REPORT_SYSTEM
    assert dr["category"][0]["coding"][0]["code"] == "LAB"
    patients = [e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == 1
    assert dr["subject"]["reference"] == f"Patient/{patients[0]['id']}"
    assert dr["effectiveDateTime"] == today
    assert dr["issued"].endswith("+00:00")
    # every finding of the JSON report, in order, with severity and sources
    findings = plain["findings"]
    assert findings, "the example should give findings"
    codes = [cc["coding"][0]["code"] for cc in dr["conclusionCode"]]
    assert codes == [f["code"] for f in findings]
    for cc, f in zip(dr["conclusionCode"], findings, strict=True):
        assert cc["coding"][0]["system"] == REPORT_SYSTEM
        assert cc["coding"][0]["display"]
        ext = {e["url"]: e for e in cc["extension"]}
        assert ext[FHIR_EXTENSION + "severity"]["valueCode"] == f["severity"]
        cited = [e["valueString"] for e in cc["extension"]
                 if e["url"] == FHIR_EXTENSION + "source"]
        assert cited == [s["citation"] for s in f["sources"]]
    assert "cannot diagnose osteoporosis" in dr["conclusion"]
    assert "seed:B18" not in dr["conclusion"]  # rendered as a readable citation
    assert "Cheng et al. 2022" in dr["conclusion"]


def test_fhir_input_references_the_original_observations(tmp_path):
    name, today = CASES[0]
    bundle = json.loads(_run(tmp_path, name, today, "fhir"))
    dr = _report(bundle)
    source = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    ids = {f"Observation/{e['resource']['id']}" for e in source["entry"]
           if e["resource"]["resourceType"] == "Observation"}
    refs = [r["reference"] for r in dr["result"]]
    used = [m.source for m in load_patient(EXAMPLES / name).measurements]
    assert refs == used and set(refs) <= ids
    assert "Observation/ctx-1" in refs
    # nothing copied: the original Observations stay in the source bundle
    assert not [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def test_other_input_bundles_its_observations(tmp_path):
    name, today = CASES[1]
    bundle = json.loads(_run(tmp_path, name, today, "fhir"))
    dr = _report(bundle)
    obs = {f"Observation/{e['resource']['id']}": e["resource"] for e in bundle["entry"]
           if e["resource"]["resourceType"] == "Observation"}
    refs = [r["reference"] for r in dr["result"]]
    assert refs and set(refs) == set(obs)
    for e in bundle["entry"]:
        if e["resource"]["resourceType"] == "Observation":
            assert e["fullUrl"].endswith(f"Observation/{e['resource']['id']}")
    catalog = marker_catalog()
    measurements = load_patient(EXAMPLES / name).measurements
    assert len(refs) == len(measurements)
    for ref, m in zip(refs, measurements, strict=True):
        o = obs[ref]
        assert o["status"] == "final"
        assert o["subject"] == dr["subject"]
        assert o["effectiveDateTime"] == m.date
        loinc = [c["code"] for c in o["code"]["coding"] if c["system"] == LOINC]
        assert loinc == list(catalog[catalog.find(m.marker)].loinc) and loinc
        q = o["valueQuantity"]
        assert q["value"] == m.value and q["code"] == m.unit and q["system"] == UCUM
        assert "comparator" not in q


def test_comparator_and_chinese(tmp_path):
    from boneturnover.clinical.engine import interpret
    from boneturnover.clinical.fhir_out import report_to_fhir
    from boneturnover.clinical.records import Measurement

    patient = load_patient(EXAMPLES / "denosumab_rebound.toml")
    m = patient.measurements[0]
    censored = Measurement(date=m.date, marker=m.marker, value="<30", unit=m.unit,
                           source="measurements[1]")
    patient = dataclasses.replace(patient, measurements=(censored, *patient.measurements[1:]))
    report = interpret(patient, today="2024-03-15")
    bundle = report_to_fhir(report, patient, "zh", issued="2024-03-15T12:00:00+00:00")
    dr = _report(bundle)
    first = next(e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "Observation")
    assert first["valueQuantity"]["comparator"] == "<"
    assert first["valueQuantity"]["value"] == 30.0
    assert dr["issued"] == "2024-03-15T12:00:00+00:00"
    assert "骨转换标志物不能诊断骨质疏松症" in dr["conclusion"]
    assert dr["conclusionCode"][0]["text"] in dr["conclusion"]


@pytest.mark.skipif(importlib.util.find_spec("fhir") is None,
                    reason="fhir.resources is not installed")
@pytest.mark.parametrize(("name", "today"), CASES)
def test_validates_with_fhir_resources(tmp_path, name, today):  # pragma: no cover
    from fhir.resources.R4B.bundle import Bundle

    Bundle.parse_obj(json.loads(_run(tmp_path, name, today, "fhir")))
