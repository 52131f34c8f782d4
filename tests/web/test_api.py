"""The JSON API: it mirrors bt.interpret, takes results from a laboratory's token, and
answers bad input with 422 and one message naming the field."""

from __future__ import annotations

import json

from sqlalchemy import select

import boneturnover as bt
from boneturnover.web.models import Measurement, Patient

from .conftest import EXAMPLES, TODAY, upload

PATIENT = {"patient": {"id": "api-1", "birth_date": "1950-02-01"},
           "measurements": [
               {"date": "2024-01-05", "marker": "CTX_I", "value": 650, "unit": "ng/L",
                "fasting": True},
               {"date": "2024-07-10", "marker": "CTX_I", "value": 180, "unit": "ng/L",
                "fasting": True}],
           "treatments": [{"drug": "alendronate", "start": "2024-01-08"}]}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_interpret_answers_what_bt_interpret_answers(sqlite_clinic):
    c = sqlite_clinic.client()
    h = _bearer(sqlite_clinic.token("doc"))
    r = c.post("/api/v1/interpret", json=PATIENT, params={"on": TODAY}, headers=h)
    assert r.status_code == 200, r.text
    from boneturnover.clinical.records import PatientRecord

    expected = bt.interpret(PatientRecord.from_dict(PATIENT, "request"), today=TODAY)
    assert r.json() == json.loads(expected.to_json())


def test_bad_input_is_422_naming_the_field(sqlite_clinic):
    c = sqlite_clinic.client()
    h = _bearer(sqlite_clinic.token("doc"))
    bad = {**PATIENT, "measurements": [{**PATIENT["measurements"][0], "unit": "kg"}]}
    r = c.post("/api/v1/interpret", json=bad, headers=h)
    assert r.status_code == 422 and "measurements[1]" in r.json()["detail"]
    assert "kg" in r.json()["detail"]
    r = c.post("/api/v1/patients", json={"patient": {"id": "x"}, "nonsense": 1}, headers=h)
    assert r.status_code == 422 and "nonsense" in r.json()["detail"]
    r = c.post("/api/v1/results", json={"patient_id": "x", "measurements": [
        {"date": "2024-01-01", "marker": "CTX_I", "value": 1, "unit": "ng/L", "colour": 1}]},
        headers=h)
    assert r.status_code == 422 and "colour" in r.json()["detail"]
    r = c.post("/api/v1/patients", content=b"{not json", headers={
        **h, "content-type": "application/json"})
    assert r.status_code == 422


def test_a_laboratory_posts_results_with_its_token_all_or_nothing(sqlite_clinic):
    clinic = sqlite_clinic
    doc = clinic.client("doc")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    lab = clinic.client()
    h = _bearer(clinic.token("lab"))
    rows = [{"date": "2024-08-20", "marker": "CTX_I", "value": 900, "unit": "ng/L",
             "fasting": True, "lab": "Central lab", "assay": "IDS-iSYS", "specimen": "serum"},
            {"date": "2024-08-20", "marker": "P1NP", "value": 80, "unit": "ug/L"}]
    bad = [rows[0], {**rows[1], "unit": "mmol/L"}]
    r = lab.post("/api/v1/results", json={"patient_id": "example-denosumab-rebound",
                                           "measurements": bad}, headers=h)
    assert r.status_code == 422 and "measurements[2]" in r.json()["detail"]
    with clinic.db() as db:
        assert not db.scalars(select(Measurement).where(Measurement.lab.is_not(None))).all()
    r = lab.post("/api/v1/results", json={"patient_id": "example-denosumab-rebound",
                                           "measurements": rows}, headers=h)
    assert r.status_code == 201 and r.json()["measurements"] == 2
    with clinic.db() as db:
        m = db.scalars(select(Measurement).where(Measurement.lab == "Central lab")).one()
        assert (m.assay, m.specimen, m.value, m.unit) == ("IDS-iSYS", "serum", 900.0, "ng/L")
    r = lab.post("/api/v1/results", json={"patient_id": "nobody", "measurements": rows},
                 headers=h)
    assert r.status_code == 404
    # the laboratory posts results but reads no patient data
    assert lab.get("/api/v1/patients", headers=h).status_code == 403
    assert lab.get("/api/v1/worklist", headers=h).status_code == 403
    r = lab.get("/api/v1/patients", headers=_bearer("forged"))
    assert r.status_code == 401


def test_a_revoked_token_is_refused(sqlite_clinic):
    from boneturnover.web import accounts
    from boneturnover.web.models import ApiToken
    from boneturnover.web.store import Actor

    token = sqlite_clinic.token("doc")
    c = sqlite_clinic.client()
    assert c.get("/api/v1/patients", headers=_bearer(token)).status_code == 200
    with sqlite_clinic.db() as db:
        tid = db.scalars(select(ApiToken.id)).one()
        accounts.revoke_token(db, Actor(sqlite_clinic.users["admin"], "admin", "admin",
                                        sqlite_clinic.site_a), tid)
    assert c.get("/api/v1/patients", headers=_bearer(token)).status_code == 401


def test_stored_patients_their_report_corrections_and_history(clinic):
    c = clinic.client()
    h = _bearer(clinic.token("doc"))
    r = c.post("/api/v1/patients", json=PATIENT, headers=h)
    assert r.status_code == 201 and r.json()["measurements"] == 2
    key = c.get("/api/v1/patients", headers=h).json()[0]["key"]
    rec = c.get(f"/api/v1/patients/{key}", headers=h).json()
    assert [m["value"] for m in rec["measurements"]] == [650, 180]
    rep = c.get(f"/api/v1/patients/{key}/report", headers=h).json()
    assert "RESPONSE_ADEQUATE" in [f["code"] for f in rep["findings"]]
    assert rep["snapshot"]["ruleset_version"].startswith("paper")
    rid = rec["measurements"][1]["result_id"]
    r = c.put(f"/api/v1/results/{rid}", json={"value": 500, "reason": "wrong sample"},
              headers=h)
    assert r.status_code == 200, r.text
    new = r.json()["result_id"]
    hist = c.get(f"/api/v1/results/{new}/history", headers=h).json()
    assert [x["value"] for x in hist] == [500, 180] and hist[0]["reason"] == "wrong sample"
    assert hist[1]["superseded_at"] is not None
    rep = c.get(f"/api/v1/patients/{key}/report", headers=h).json()
    assert "RESPONSE_INADEQUATE" in [f["code"] for f in rep["findings"]]
    fhir = c.get(f"/api/v1/patients/{key}/report.fhir", headers=h)
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    assert fhir.json()["resourceType"] == "Bundle"
    with clinic.db() as db:
        assert db.scalars(select(Patient.version)).one() == 2


def test_the_openapi_schema_documents_the_api(sqlite_clinic):
    schema = sqlite_clinic.client().get("/openapi.json").json()
    paths = schema["paths"]
    for p in ("/api/v1/interpret", "/api/v1/results", "/api/v1/patients/{key}/report",
              "/api/v1/worklist"):
        assert p in paths
    assert not any(p.startswith(("/patients", "/login")) for p in paths)
    assert "Result" in schema["components"]["schemas"]


def test_the_example_patients_load_through_the_api(sqlite_clinic):
    """What README and docs/SERVICE.md tell a new user to run (curl -F file=@...)."""
    c = sqlite_clinic.client()
    h = _bearer(sqlite_clinic.token("doc"))
    files = sorted(EXAMPLES.glob("*.toml")) + [EXAMPLES / "fhir_bundle.json"]
    for f in files:
        with open(f, "rb") as fh:
            r = c.post("/api/v1/imports/file", files={"file": (f.name, fh)}, headers=h)
        assert r.status_code == 201, (f.name, r.text)
    assert len(c.get("/api/v1/patients", headers=h).json()) == len(files)
    first = c.get("/api/v1/worklist", headers=h).json()[0]
    assert first["category"] == "denosumab"
    r = c.post("/api/v1/imports/file", files={"file": ("x.csv", b"a,b\n")}, headers=h)
    assert r.status_code == 422 and ".json or .toml" in r.json()["detail"]
