"""Imports all-or-nothing, merges, corrections with history, site isolation, the audit
log and snapshots: through the pages and the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from boneturnover.clinical import interpret, load_patient
from boneturnover.web.models import AuditEntry, Interpretation, Measurement, Patient, Treatment
from boneturnover.web.store import Actor, NotFound, get_patient, record_of, worklist

from .conftest import EXAMPLES, TODAY, good_cohort, upload, upload_cohort


def _count(clinic, model) -> int:
    with clinic.db() as db:
        return db.scalar(select(func.count()).select_from(model))


def test_a_patient_file_is_stored_as_given_and_read_back_the_same(clinic):
    doc = clinic.client("doc")
    names = ("denosumab_rebound.toml", "fhir_bundle.json", "non_adherent.toml",
             "low_magnesium.toml")  # the last with its own laboratory's CTX-I interval
    for name in names:
        r = upload(doc, EXAMPLES / name)
        assert r.status_code == 200 and 'id="imported"' in r.text, r.text[-400:]
    with clinic.db() as db:
        for name in names:
            given = load_patient(EXAMPLES / name)
            p = db.scalars(select(Patient).where(Patient.patient_id == given.patient_id)).one()
            stored = record_of(db, p)
            assert stored.measurements == given.measurements
            assert stored.ignored == given.ignored and stored.assay == given.assay
            assert interpret(stored, today=TODAY).to_dict() == \
                interpret(given, today=TODAY).to_dict()


def test_a_cohort_with_one_refused_row_stores_nothing_and_names_the_row(clinic):
    doc = clinic.client("doc")
    files = {n: (EXAMPLES / "cohort" / n).read_bytes()
             for n in ("patients.csv", "measurements.csv", "treatments.csv")}
    r = upload_cohort(doc, files)
    assert r.status_code == 422
    assert "measurements.csv line 9" in r.text and "unit" in r.text
    assert _count(clinic, Patient) == 0 and _count(clinic, Measurement) == 0
    r = upload_cohort(doc, good_cohort())
    assert r.status_code == 200 and 'id="imported"' in r.text, r.text[-500:]
    with clinic.db() as db:
        assert db.scalar(select(func.count()).select_from(Patient)) == 4
        assert db.scalar(select(func.count()).select_from(Treatment)) >= 2


def test_rows_of_a_patient_not_in_patients_csv_are_refused(clinic):
    doc = clinic.client("doc")
    files = good_cohort()
    files["measurements.csv"] += b"X999,2024-01-05,CTX_I,650,ng/L,true,08:00\n"
    r = upload_cohort(doc, files)
    assert r.status_code == 422 and "X999" in r.text and "patients.csv" in r.text
    assert _count(clinic, Patient) == 0


def test_a_second_upload_adds_only_new_rows_and_a_conflicting_fact_is_refused(clinic, tmp_path):
    doc = clinic.client("doc")
    path = EXAMPLES / "denosumab_rebound.toml"
    assert upload(doc, path).status_code == 200
    n = _count(clinic, Measurement)
    assert upload(doc, path).status_code == 200  # the same file again: nothing new
    assert _count(clinic, Measurement) == n
    changed = tmp_path / "changed.toml"
    changed.write_text(path.read_text().replace("birth_date = 1948-06-30",
                                                "birth_date = 1949-06-30"))
    r = upload(doc, changed)
    assert r.status_code == 422 and "birth_date" in r.text and "differs" in r.text


def test_a_refused_measurement_names_its_field_and_stores_nothing(clinic):
    doc = clinic.client("doc")
    r = doc.post("/patients/new", data={"csrf_token": doc.csrf, "patient_id": "p1"},
                 follow_redirects=False)
    key = r.headers["location"].rsplit("/", 1)[1]
    r = doc.post(f"/patients/{key}/results", data={
        "csrf_token": doc.csrf, "date": "2024-08-01", "marker": "CTX_I", "value": "0.5",
        "unit": "mmol/L"})
    assert r.status_code == 422
    assert "measurements[1]" in r.text and "mmol/L" in r.text
    assert _count(clinic, Measurement) == 0


def test_a_correction_keeps_the_original_with_who_and_when(clinic):
    doc = clinic.client("doc")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    with clinic.db() as db:
        m = db.scalars(select(Measurement).order_by(Measurement.id)).first()
    r = doc.post(f"/results/{m.id}", data={"csrf_token": doc.csrf, "value": "500",
                                           "unit": m.unit, "date": m.sample_date,
                                           "reason": "transcription error"},
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    new_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = doc.get(f"/results/{new_id}").text
    assert "transcription error" in page and "480" in page and "500" in page
    with clinic.db() as db:
        old, new = db.get(Measurement, m.id), db.get(Measurement, new_id)
        assert old.superseded_at is not None and old.superseded_by == clinic.users["doc"]
        assert new.corrects_id == old.id and json.loads(new.value_given) == "500"
        assert db.get(Patient, old.patient_fk).version == 2
        rec = record_of(db, db.get(Patient, old.patient_fk))
        assert [x.value for x in rec.measurements][0] == "500"
    r = doc.post(f"/results/{m.id}", data={"csrf_token": doc.csrf, "value": "1",
                                           "unit": m.unit, "date": m.sample_date,
                                           "reason": "again"})
    assert r.status_code == 422 and "already corrected" in r.text


def test_nobody_sees_another_sites_patients(clinic):
    doc, doc_b = clinic.client("doc"), clinic.client("doc_b")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    with clinic.db() as db:
        key = db.scalars(select(Patient.id)).one()
    for path in (f"/patients/{key}", f"/patients/{key}/plot.png",
                 f"/patients/{key}/report.fhir.json", f"/api/v1/patients/{key}",
                 f"/api/v1/patients/{key}/report"):
        assert doc_b.get(path).status_code == 404, path
        assert doc.get(path).status_code == 200, path
    assert "example-denosumab-rebound" not in doc_b.get("/worklist").text
    assert doc_b.get("/api/v1/worklist").json() == []
    assert doc_b.get("/api/v1/patients").json() == []
    r = doc_b.post(f"/patients/{key}/results", data={
        "csrf_token": doc_b.csrf, "date": "2024-08-01", "marker": "CTX_I", "value": "100",
        "unit": "ng/L"})
    assert r.status_code == 404
    # the same patient id at site B is a different patient
    assert upload(doc_b, EXAMPLES / "denosumab_rebound.toml").status_code == 200
    assert len(doc_b.get("/api/v1/patients").json()) == 1
    with clinic.db() as db:
        assert db.scalar(select(func.count()).select_from(Patient)) == 2
        with pytest.raises(NotFound):
            get_patient(db, Actor(clinic.users["doc_b"], "doc_b", "clinician",
                                  clinic.site_b), key)


def test_every_read_and_write_of_patient_data_is_audited(clinic):
    doc = clinic.client("doc")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    with clinic.db() as db:
        key = db.scalars(select(Patient.id)).one()
    doc.get(f"/patients/{key}")
    doc.get(f"/patients/{key}/report.fhir.json")
    doc.get("/worklist")
    doc.get(f"/api/v1/patients/{key}")
    with clinic.db() as db:
        rows = list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    actions = [(a.action, a.username, a.patient_fk) for a in rows]
    for action in ("import-file", "read-patient", "download-fhir", "read-worklist",
                   "read-patient-record"):
        assert any(a == action and u == "doc" for a, u, _ in actions), (action, actions)
    assert all(p == key for a, _, p in actions if a.startswith(("read-patient", "download")))
    assert ("sign-in", "doc", None) in actions


def test_snapshots_record_the_findings_and_the_rule_set_version(clinic):
    doc = clinic.client("doc")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    doc.get("/worklist")
    doc.get("/worklist")  # the same data, the same day: no second snapshot
    with clinic.db() as db:
        snaps = list(db.scalars(select(Interpretation)))
        assert len(snaps) == 1
        s = snaps[0]
        assert s.ruleset == "paper" and s.ruleset_version.startswith("paper 0.")
        assert "sha256:" in s.ruleset_version
        data = json.loads(s.report_json)
        rebound = [f for f in data["findings"] if f["code"] == "DENOSUMAB_REBOUND"]
        assert rebound and rebound[0]["rule_id"] and rebound[0]["sources"]


def test_the_worklist_is_sorted_by_urgency_and_filters_by_finding(clinic):
    doc = clinic.client("doc")
    for name in ("denosumab_rebound.toml", "non_adherent.toml", "low_magnesium.toml",
                 "bisphosphonate_responder.toml"):
        assert upload(doc, EXAMPLES / name).status_code == 200
    items = doc.get("/api/v1/worklist").json()
    cats = [i["category"] for i in items]
    order = ["denosumab", "inadequate", "retest", "magnesium", "contraindication"]
    assert cats == sorted(cats, key=order.index), cats
    assert items[0]["patient_id"] == "example-denosumab-rebound"
    only = doc.get("/api/v1/worklist", params={"finding": "MAGNESIUM_LOW"}).json()
    assert only and all("MAGNESIUM_LOW" in i["codes"] for i in only)
    r = doc.get("/api/v1/worklist", params={"finding": "NOPE"})
    assert r.status_code == 422 and "NOPE" in r.json()["detail"]
    with clinic.db() as db:
        who = Actor(clinic.users["doc"], "doc", "clinician", clinic.site_a)
        assert [w.patient.patient_id for w in worklist(db, who, today=TODAY)] == \
            [i["patient_id"] for i in items]


def test_a_refused_upload_is_named_by_its_own_file_name(sqlite_clinic):
    doc = sqlite_clinic.client("doc")
    r = doc.post("/upload/file", data={"csrf_token": doc.csrf},
                 files={"file": ("mine.json", b"\xff\xfe not text")})
    assert r.status_code == 422 and "mine.json: not UTF-8" in r.text
    assert "boneturnover-upload" not in r.text and "/tmp" not in r.text
    r = upload_cohort(doc, {"patients.csv": b"patient_id,colour\nA,red\n",
                            "measurements.csv": b"patient_id,date,marker,value,unit\n"})
    assert r.status_code == 422 and "colour" in r.text and "boneturnover-cohort" not in r.text


def _cohort_with_assays(client, files, assays: bytes):
    return client.post("/upload/cohort", data={"csrf_token": client.csrf}, files={
        "patients": ("patients.csv", files["patients.csv"]),
        "measurements": ("measurements.csv", files["measurements.csv"]),
        "treatments": ("treatments.csv", files["treatments.csv"]),
        "assays": ("assays.toml", assays)})


def test_a_cohorts_assays_toml_is_applied_as_the_command_line_applies_it(clinic, tmp_path):
    """assays.toml holds the laboratory values of every patient of the cohort: the
    clinic's report of each is the engine's report of the cohort loader's record."""
    import boneturnover as bt
    from boneturnover.clinical.io import load_cohort

    doc = clinic.client("doc")
    files = good_cohort()
    for bad, words in ((b'[assay.CTX_I]\nri_high = 5\nunit = "mmol/L"\n',
                        ("assays.toml", "CTX_I", "unit", "mmol/L")),
                       (b"[assay.CTX_I]\ncolour = 1\n", ("assays.toml", "CTX_I", "colour")),
                       (b"[labs]\nx = 1\n", ("assays.toml", "labs")),
                       (b"[assay.CTX_I]\nri_high = 'lots'\n",
                        ("assays.toml", "CTX_I", "ri_high", "lots"))):
        r = _cohort_with_assays(doc, files, bad)
        assert r.status_code == 422, r.text
        msg = html.unescape(re.search(r'id="error-message">([^<]*)<', r.text).group(1))
        assert all(w in msg for w in words), msg
        assert "boneturnover-cohort" not in msg
        with clinic.db() as db:
            assert db.scalars(select(Patient)).all() == []  # all or nothing
    assays = b'[assay.CTX_I]\nri_low = 100\nri_high = 500\nunit = "ng/L"\n'
    r = _cohort_with_assays(doc, files, assays)
    assert r.status_code == 200 and 'id="imported"' in r.text and "assays.toml" in r.text
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "assays.toml").write_bytes(assays)
    cohort = load_cohort(tmp_path)
    with clinic.db() as db:
        stored = {p.patient_id: (p.id, p.assay_json) for p in db.scalars(select(Patient))}
    assert set(stored) == set(cohort.patients["patient_id"])
    for pid, (key, own) in stored.items():
        assert json.loads(own) == {"CTX_I": {"ri_low": 100, "ri_high": 500, "unit": "ng/L"}}
        web = doc.get(f"/api/v1/patients/{key}/report").json()
        web.pop("snapshot")
        assert web == bt.interpret(cohort.patient(pid), today=TODAY).to_dict(), pid
    # the same cohort with another laboratory's values is refused, naming the file
    r = _cohort_with_assays(doc, files, assays.replace(b"500", b"520"))
    assert r.status_code == 422 and "assays.toml" in r.text and "CTX_I" in r.text
