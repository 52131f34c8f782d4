"""The report's input summary: the results and courses read, the censored results among
them, and what the input held that the engine does not use (a FHIR bundle's haemoglobin
Observation, a Condition, a Practitioner, a statement of a drug not taken), in every
output format (text, JSON, HTML and the PDF printed from it, FHIR).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from boneturnover.cli import main
from boneturnover.clinical import interpret, load_patient, render
from boneturnover.clinical.fhir_out import report_to_fhir

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"
TODAY = "2024-08-01"
CONDITION = {"resourceType": "Condition", "id": "htn-1",
             "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003",
                                  "display": "Hypertensive disorder"}]}}


@pytest.fixture()
def bundle(tmp_path) -> Path:
    b = json.loads((DATA / "fhir_real_lab.json").read_text("utf-8"))
    b["entry"].append({"resource": CONDITION})
    f = tmp_path / "bundle.json"
    f.write_text(json.dumps(b), "utf-8")
    return f


def expected_ignored(path: Path) -> dict[str, str]:
    """resource -> code of what the loader left unused, read from the bundle itself."""
    b = json.loads(path.read_text("utf-8"))
    used = {"Patient", "Specimen", "Medication"}
    out = {}
    for e in b["entry"]:
        r = e["resource"]
        if r["resourceType"] in used:
            continue
        out[f"{r['resourceType']}/{r['id']}"] = r
    return out


def test_report_lists_unused_resources_and_censored_results(bundle):
    p = load_patient(bundle)
    r = interpret(p, today=TODAY)
    ignored = {i.label(): i for i in r.inputs.ignored}
    in_bundle = expected_ignored(bundle)
    used = {m.source for m in p.measurements} | {t.source for t in p.treatments}
    assert set(ignored) == set(in_bundle) - used
    assert {"Observation/hb-1", "Condition/htn-1", "Practitioner/dr-1"} <= set(ignored)
    hb, cond = ignored["Observation/hb-1"], ignored["Condition/htn-1"]
    assert (hb.resource_type, hb.id) == ("Observation", "hb-1")
    assert "718-7" in hb.code and "Hemoglobin" in hb.code
    assert cond.code == "38341003 Hypertensive disorder"
    assert "not used" in cond.reason
    # the censored 6-month CTX-I, in the canonical unit
    (c,) = r.inputs.censored
    assert (c.row, c.marker, c.comparator, c.value, c.unit) == (
        "Observation/ctx-6m", "CTX_I", "<", pytest.approx(30.0), "ng/L")
    assert (r.inputs.n_measurements, r.inputs.n_treatments) == (len(p.measurements),
                                                                 len(p.treatments))


def test_text_json_and_html_carry_the_summary(bundle):
    r = interpret(load_patient(bundle), today=TODAY)
    text = r.to_text()
    summary = text[text.index("Input summary"):text.index("\nSources")]
    assert "Observation/hb-1 (718-7 Hemoglobin" in summary
    assert "Condition/htn-1 (38341003 Hypertensive disorder)" in summary
    assert "CTX-I <30 ng/L  [Observation/ctx-6m]" in summary
    zh = r.to_text("zh")
    assert "输入摘要" in zh and "Condition/htn-1" in zh and "截尾结果" in zh
    d = json.loads(r.to_json())["inputs"]
    assert {"resource_type": "Condition", "id": "htn-1",
            "code": "38341003 Hypertensive disorder",
            "reason": "Condition resources are not used by the engine"} in d["ignored"]
    assert d["censored"][0]["comparator"] == "<" and d["censored"][0]["value"] == 30.0
    page = r.to_html(plot=False)
    sec = page[page.index("<section class='inputs'>"):]
    sec = sec[:sec.index("</section>")]
    assert "Condition/htn-1" in sec and "Observation/hb-1" in sec
    assert "&lt;30 ng/L" in sec and "Observation/ctx-6m" in sec


def test_a_toml_patient_lists_nothing_unused():
    p = load_patient(EXAMPLES / "bisphosphonate_responder.toml")
    r = interpret(p, today="2024-07-20")
    assert r.inputs.ignored == () and r.inputs.censored == ()
    text = r.to_text()
    assert "Nothing in the input was left unused." in text and "No censored result." in text


def test_fhir_output_lists_the_summary_as_extensions(bundle):
    p = load_patient(bundle)
    r = interpret(p, today=TODAY)
    out = report_to_fhir(r, p, issued="2024-08-01T00:00:00+00:00")
    dr = out["entry"][-1]["resource"]
    ext = [x for x in dr["extension"] if x["url"].endswith("/ignored-input")]
    got = {tuple(sorted((s["url"], s["valueString"]) for s in x["extension"])) for x in ext}
    assert (("code", "38341003 Hypertensive disorder"), ("id", "htn-1"),
            ("reason", "Condition resources are not used by the engine"),
            ("resourceType", "Condition")) in got
    assert len(ext) == len(r.inputs.ignored)
    # no empty strings (FHIR forbids them): the Practitioner has no code
    assert all(s["valueString"] for x in ext for s in x["extension"])
    (cens,) = [x for x in dr["extension"] if x["url"].endswith("/censored-result")]
    q = next(s["valueQuantity"] for s in cens["extension"] if s["url"] == "value")
    assert (q["comparator"], q["value"], q["code"]) == ("<", 30.0, "ng/L")


def test_cli_json_has_the_summary(bundle, capsys):
    assert main(["interpret", str(bundle), "--today", TODAY, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert any(i["id"] == "hb-1" for i in d["inputs"]["ignored"])


try:
    CHROMIUM: str | None = render.find_chromium()
except render.BrowserNotFoundError:
    CHROMIUM = None


@pytest.mark.skipif(CHROMIUM is None or not shutil.which("pdftotext"),
                    reason="headless Chromium and pdftotext (poppler-utils) are needed")
def test_pdf_lists_the_summary(bundle, tmp_path):
    out = tmp_path / "r.pdf"
    assert main(["interpret", str(bundle), "--today", TODAY, "--format", "pdf",
                 "--out", str(out)]) == 0
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Input summary" in text and "Condition/htn-1" in text and "Observation/hb-1" in text
