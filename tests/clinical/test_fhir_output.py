"""``interpret --format fhir``: a FHIR R4 Bundle with one DiagnosticReport."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from boneturnover.cli import main
from boneturnover.clinical.engine import interpret
from boneturnover.clinical.fhir_out import FHIR_BASE, REPORT_SYSTEM, report_to_fhir
from boneturnover.clinical.io import FHIR_EXTENSION, LOINC, UCUM, load_patient
from boneturnover.knowledge.markers import marker_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"
CASES = [("fhir_bundle.json", "2024-06-01"), ("denosumab_rebound.toml", "2024-03-15")]
#: Every example patient (the FHIR one included), evaluated on its stored date.
PATIENTS = sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".toml", ".json"))


def _run(tmp_path: Path, name: str, today: str, fmt: str, lang: str = "en") -> str:
    out = tmp_path / f"{name}.{fmt}"
    assert main(["interpret", str(EXAMPLES / name), "--today", today, "--format", fmt,
                 "--lang", lang, "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def _report(bundle: dict) -> dict:
    return _one(bundle, "DiagnosticReport")


def _one(bundle: dict, rtype: str) -> dict:
    found = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]
    assert len(found) == 1
    return found[0]


def _bundle_of(name: str, lang: str = "en") -> tuple[dict, object, object]:
    patient = load_patient(EXAMPLES / name)
    report = interpret(patient, today=patient.as_of or max(m.date for m in patient.measurements))
    return (report_to_fhir(report, patient, lang, issued="2024-12-31T08:00:00+00:00"),
            report, patient)


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
    read = [m.source for m in load_patient(EXAMPLES / name).measurements]
    # result: the results the findings are about; the eGFR no finding is about is left out
    assert refs == ["Observation/ctx-1", "Observation/balp-1"] and set(refs) <= ids
    assert "Observation/egfr-1" in read
    # every result read is an entity of the Provenance of the report
    prov = _one(bundle, "Provenance")
    assert [e["what"]["reference"] for e in prov["entity"]] == read
    assert {e["role"] for e in prov["entity"]} == {"source"}
    assert prov["target"] == [{"reference": f"DiagnosticReport/{dr['id']}"}]
    # nothing copied: the original Observations stay in the source bundle
    assert not [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def test_other_input_bundles_its_observations(tmp_path):
    name, today = CASES[1]
    bundle = json.loads(_run(tmp_path, name, today, "fhir"))
    dr = _report(bundle)
    obs = {f"Observation/{e['resource']['id']}": e["resource"] for e in bundle["entry"]
           if e["resource"]["resourceType"] == "Observation"}
    refs = [r["reference"] for r in dr["result"]]
    assert refs and set(refs) <= set(obs)
    for e in bundle["entry"]:
        assert e["fullUrl"] == f"{FHIR_BASE}{e['resource']['resourceType']}/{e['resource']['id']}"
    catalog = marker_catalog()
    measurements = load_patient(EXAMPLES / name).measurements
    read = [e["what"]["reference"] for e in _one(bundle, "Provenance")["entity"]]
    assert len(read) == len(measurements) and set(read) == set(obs)
    for ref, m in zip(read, measurements, strict=True):
        o = obs[ref]
        assert o["status"] == "final"
        assert o["subject"] == dr["subject"]
        assert o["effectiveDateTime"] == m.date
        loinc = [c["code"] for c in o["code"]["coding"] if c["system"] == LOINC]
        assert loinc == list(catalog[catalog.find(m.marker)].loinc) and loinc
        q = o["valueQuantity"]
        assert q["value"] == m.value and q["code"] == m.unit and q["system"] == UCUM
        assert "comparator" not in q


@pytest.mark.parametrize("name", PATIENTS)
def test_result_is_the_observations_the_findings_used(name):
    bundle, report, patient = _bundle_of(name)
    dr = _report(bundle)
    used = {f.row for f in report.findings} | {f.baseline_row for f in report.findings}
    read = [e["what"]["reference"] for e in _one(bundle, "Provenance")["entity"]]
    expected = [ref for ref, m in zip(read, patient.measurements, strict=True)
                if m.source in used]
    assert expected, "the example's findings should be about some results"
    assert [r["reference"] for r in dr["result"]] == expected
    assert len(read) == len(patient.measurements)


def test_denosumab_result_is_the_findings_results_and_their_baselines():
    """The rebound and response findings compare CTX-I and P1NP with the pre-treatment
    samples (measurements[1] and [2]): those baselines are results the report used."""
    bundle, report, patient = _bundle_of("denosumab_rebound.toml")
    refs = {r["reference"] for r in _report(bundle)["result"]}
    pid = _one(bundle, "Patient")["id"]
    rebound = [f for f in report.findings if f.code == "DENOSUMAB_REBOUND"]
    assert {f.baseline_row for f in rebound} == {"measurements[1]", "measurements[2]"}
    rows = {f.row for f in report.findings} | {f.baseline_row for f in report.findings}
    for i, m in enumerate(patient.measurements, 1):
        assert (f"Observation/{pid}-obs-{i}" in refs) == (m.source in rows), m.source
    assert f"Observation/{pid}-obs-1" in refs and f"Observation/{pid}-obs-2" in refs


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


# -- an outside validator: fhir.resources (R4B models; R4 has none, see below) ----------
#
# fhir.resources 8.x models FHIR R5 by default, R4B (4.3.0) under fhir.resources.R4B and
# STU3; there is no R4 (4.0.1) package. R4B changed only the medication definition,
# evidence-based medicine and subscription resources and added the Bundle type
# "subscription-notification"; Patient, Observation, DiagnosticReport, Provenance and the
# datatypes are the same as in R4, so the R4B models check our R4 output for structure,
# cardinality, primitive formats and unknown elements. They check no value set binding
# and no invariant: _conformance below checks the few our output depends on.

_R4_CODES = {  # required bindings (R4) of the coded elements we write
    ("Bundle", "type"): {"collection"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended",
                                "corrected", "cancelled", "entered-in-error", "unknown"},
    ("DiagnosticReport", "status"): {"registered", "partial", "preliminary", "final",
                                     "amended", "corrected", "appended", "cancelled",
                                     "entered-in-error", "unknown"},
}
_COMPARATORS = {"<", "<=", ">=", ">"}
#: R4 Bundle: the RESTful form of a fullUrl ([base]/[type]/[id]).
_RESTFUL = re.compile(r"^(https?://\S+/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")


def _walk(node, path="$"):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def _external(name: str) -> set[str]:
    """The original Observations of a FHIR input (referenced, not in the bundle)."""
    return {m.source for m in load_patient(EXAMPLES / name).measurements
            if m.source.startswith("Observation/")}


def _conformance(bundle: dict, external: set[str] = frozenset()) -> list[str]:
    """What the models do not check: no null or empty value (FHIR JSON), the required
    bindings above, ext-1 (an extension has a value or extensions, not both), RESTful
    fullUrls that agree with the ids, and that every reference other than to an
    ``external`` input resolves inside the bundle (R4 Bundle rules)."""
    bad = []
    for path, node in _walk(bundle):
        if node is None or node in ("", [], {}):
            bad.append(f"{path}: empty")
        if isinstance(node, dict) and "url" in node and path.rsplit(".", 1)[-1].startswith(
                "extension["):
            values = [k for k in node if k.startswith("value")]
            if len(values) + bool(node.get("extension")) != 1:
                bad.append(f"{path}: ext-1")
        if isinstance(node, dict) and "comparator" in node and "value" in node:
            if node["comparator"] not in _COMPARATORS:
                bad.append(f"{path}.comparator: {node['comparator']!r}")
    if bundle["type"] not in _R4_CODES[("Bundle", "type")]:
        bad.append(f"Bundle.type {bundle['type']!r}")
    full = {}
    for e in bundle["entry"]:
        r = e["resource"]
        m = _RESTFUL.match(e["fullUrl"])
        if not m or (m[2], m[3]) != (r["resourceType"], r.get("id")):
            bad.append(f"fullUrl {e['fullUrl']!r} is not RESTful or disagrees with the id")
        full[e["fullUrl"]] = r
        allowed = _R4_CODES.get((r["resourceType"], "status"))
        if allowed is not None and r["status"] not in allowed:
            bad.append(f"{r['resourceType']}.status {r['status']!r}")
    for path, node in _walk(bundle):
        ref = node.get("reference") if isinstance(node, dict) else None
        if isinstance(ref, str) and ref not in external and FHIR_BASE + ref not in full:
            bad.append(f"{path}: {ref} does not resolve in the bundle")
    return bad


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", PATIENTS)
def test_every_resource_validates_with_fhir_resources(name, lang):
    pytest.importorskip("fhir.resources", reason="fhir.resources (the test extra) is needed")
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    bundle, _, _ = _bundle_of(name, lang)
    Bundle.model_validate(bundle)
    kinds = []
    for e in bundle["entry"]:
        r = e["resource"]
        get_fhir_model_class(r["resourceType"]).model_validate(r)
        kinds.append(r["resourceType"])
    assert {"Patient", "DiagnosticReport", "Provenance"} <= set(kinds)
    assert _conformance(bundle, _external(name)) == []


@pytest.mark.parametrize(("name", "today"), CASES)
def test_cli_output_validates_with_fhir_resources(tmp_path, name, today):
    pytest.importorskip("fhir.resources", reason="fhir.resources (the test extra) is needed")
    from fhir.resources.R4B.bundle import Bundle

    bundle = json.loads(_run(tmp_path, name, today, "fhir"))
    Bundle.model_validate(bundle)
    assert _conformance(bundle, _external(name)) == []


def test_fhir_input_example_validates_with_fhir_resources():
    pytest.importorskip("fhir.resources", reason="fhir.resources (the test extra) is needed")
    from fhir.resources.R4B.bundle import Bundle

    source = json.loads((EXAMPLES / "fhir_bundle.json").read_text(encoding="utf-8"))
    Bundle.model_validate(source)


def test_conformance_check_finds_what_the_models_miss():
    bundle, _, _ = _bundle_of("denosumab_rebound.toml")
    bad = json.loads(json.dumps(bundle))
    obs = next(e for e in bad["entry"] if e["resource"]["resourceType"] == "Observation")
    obs["resource"]["status"] = "done"
    obs["resource"]["valueQuantity"]["comparator"] = None
    obs["fullUrl"] = "urn:boneturnover:" + obs["fullUrl"].removeprefix(FHIR_BASE)
    problems = "\n".join(_conformance(bad))
    assert "Observation.status 'done'" in problems and ": empty" in problems
    assert "is not RESTful" in problems and "does not resolve in the bundle" in problems
