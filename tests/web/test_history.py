"""Corrections of treatment courses and changes of a patient's facts: the earlier rows
and values are kept with who and when, shown, audited, and the interpretation reads only
the current ones; another site's patient is not found."""

from __future__ import annotations

from sqlalchemy import select

from boneturnover.web.models import AuditEntry, Patient, PatientFactChange, Treatment

from .conftest import EXAMPLES, upload

DENOSUMAB = EXAMPLES / "denosumab_rebound.toml"


def _setup(clinic):
    doc = clinic.client("doc")
    assert upload(doc, DENOSUMAB).status_code == 200
    with clinic.db() as db:
        key = db.scalars(select(Patient.id)).one()
        tid = db.scalars(select(Treatment.id)).one()
    return doc, key, tid


def _codes(client, key, headers=None):
    r = client.get(f"/api/v1/patients/{key}/report", headers=headers or {})
    assert r.status_code == 200, r.text
    return {f["code"] for f in r.json()["findings"]}


def _actions(clinic) -> list[str]:
    with clinic.db() as db:
        return list(db.scalars(select(AuditEntry.action)))


def test_a_course_is_corrected_and_withdrawn_and_its_history_kept(clinic):
    doc, key, tid = _setup(clinic)
    assert "DENOSUMAB_REBOUND" in _codes(doc, key)
    form = {"drug": "alendronate", "start": "2021-03-01", "stop": "2023-03-01", "dose": "70",
            "dose_unit": "mg", "interval": "1 wk", "route": "oral", "last_dose": "",
            "reason": "the drug was entered wrongly"}
    assert doc.post(f"/treatments/{tid}", data=form).status_code == 403  # no CSRF token
    r = doc.post(f"/treatments/{tid}", data={**form, "csrf_token": doc.csrf},
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    new = int(r.headers["location"].rsplit("/", 1)[1])
    with clinic.db() as db:
        old, cur = db.get(Treatment, tid), db.get(Treatment, new)
        assert (old.drug, old.superseded_by) == ("denosumab", clinic.users["doc"])
        assert old.superseded_at is not None and old.withdrawal_reason is None
        assert (cur.drug, cur.dose, cur.last_dose, cur.corrects_id) == (
            "alendronate", 70.0, None, tid)
        assert cur.correction_reason == "the drug was entered wrongly"
    assert not _codes(doc, key) & {"DENOSUMAB_REBOUND", "DENOSUMAB_STOPPED_NO_TRANSITION"}
    page = doc.get(f"/treatments/{new}").text
    assert f"<td>{tid}</td>" in page and f"<td>{new}</td>" in page
    assert "the drug was entered wrongly" in page and 'id="withdraw-treatment"' in page
    # a bad value names the field; nothing changes
    r = doc.post(f"/treatments/{new}", data={**form, "start": "2021-13-01",
                                             "csrf_token": doc.csrf})
    assert r.status_code == 422 and "start" in r.text and "2021-13-01" in r.text
    assert doc.post(f"/treatments/{tid}", data={**form, "csrf_token": doc.csrf}
                    ).status_code == 422  # the original is no longer current
    # the API withdraws the corrected course (cookie plus CSRF header)
    r = doc.post(f"/api/v1/treatments/{new}/withdraw", json={"reason": "never given"},
                 headers={"X-CSRF-Token": doc.csrf})
    assert r.status_code == 200 and r.json()["withdrawn"], r.text
    rec = doc.get(f"/api/v1/patients/{key}").json()
    assert rec["treatments"] == []
    hist = doc.get(f"/api/v1/treatments/{tid}/history").json()
    assert [(h["treatment_id"], h["withdrawn"]) for h in hist] == [(new, True), (tid, False)]
    assert hist[0]["withdrawal_reason"] == "never given"
    page = doc.get(f"/patients/{key}").text
    assert 'id="retired-treatments"' in page and "never given" in page
    assert doc.post(f"/treatments/{new}/withdraw", data={
        "csrf_token": doc.csrf, "reason": "again"}).status_code == 422
    assert doc.post(f"/api/v1/treatments/{new}/withdraw", json={"reason": " "},
                    headers={"X-CSRF-Token": doc.csrf}).status_code == 422
    # uploading the file again does not bring the corrected course back
    assert upload(doc, DENOSUMAB).status_code == 200
    with clinic.db() as db:
        assert db.scalars(select(Treatment).where(Treatment.superseded_at.is_(None))
                          ).all() == []
    actions = _actions(clinic)
    assert "correct-treatment" in actions and "withdraw-treatment" in actions


def test_the_api_corrects_a_course_and_other_sites_do_not_find_it(clinic):
    doc, key, tid = _setup(clinic)
    h = {"Authorization": f"Bearer {clinic.token('doc')}"}
    c = clinic.client()
    r = c.put(f"/api/v1/treatments/{tid}", json={"reason": "one more dose was given",
                                                 "last_dose": "2022-09-01", "stop": ""},
              headers=h)
    assert r.status_code == 200, r.text
    new = r.json()["treatment_id"]
    assert r.json()["corrects"] == tid
    with clinic.db() as db:
        t = db.get(Treatment, new)
        assert (t.drug, t.last_dose, t.stop, t.dose) == ("denosumab", "2022-09-01", None, 60.0)
    row = c.get(f"/api/v1/patients/{key}", headers=h).json()["treatments"][0]
    assert row["treatment_id"] == new and row["last_dose"] == "2022-09-01"
    r = c.put(f"/api/v1/treatments/{new}", json={"reason": "x", "dose": "sixty"}, headers=h)
    assert r.status_code == 422 and "dose" in r.json()["detail"]
    other = {"Authorization": f"Bearer {clinic.token('doc_b')}"}
    assert c.get(f"/api/v1/treatments/{new}/history", headers=other).status_code == 404
    assert c.put(f"/api/v1/treatments/{new}", json={"reason": "x", "dose": 1},
                 headers=other).status_code == 404
    assert c.post(f"/api/v1/treatments/{new}/withdraw", json={"reason": "x"},
                  headers=other).status_code == 404
    assert clinic.client("doc_b").get(f"/treatments/{new}").status_code == 404
    lab = {"Authorization": f"Bearer {clinic.token('lab')}"}
    assert c.post(f"/api/v1/treatments/{new}/withdraw", json={"reason": "x"},
                  headers=lab).status_code == 403


def test_a_clinician_changes_a_patients_facts_and_the_earlier_values_stay(clinic):
    doc, key, _ = _setup(clinic)
    form = {"birth_date": "1950-01-01", "ckd": "true", "glucocorticoids": "",
            "calcium_supplement_mg_d": "", "magnesium_supplement_mg_d": "",
            "reason": "birth date checked against the passport"}
    assert doc.post(f"/patients/{key}/facts", data=form).status_code == 403  # no CSRF
    r = doc.post(f"/patients/{key}/facts", data={**form, "csrf_token": doc.csrf},
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    with clinic.db() as db:
        p = db.get(Patient, key)
        assert (p.birth_date, p.ckd, p.version) == ("1950-01-01", True, 2)
        rows = {h.field: h for h in db.scalars(select(PatientFactChange))}
        assert set(rows) == {"birth_date", "ckd"}
        assert (rows["birth_date"].old_value, rows["birth_date"].new_value) == (
            '"1948-06-30"', '"1950-01-01"')
        assert (rows["ckd"].old_value, rows["ckd"].changed_by) == ("null",
                                                                   clinic.users["doc"])
    page = doc.get(f"/patients/{key}").text
    assert 'id="fact-history"' in page and "1948-06-30" in page
    assert "birth date checked against the passport" in page
    assert 'name="birth_date" type="date" value="1950-01-01"' in page
    # refusals name the field and the value, and change nothing
    r = doc.post(f"/patients/{key}/facts", data={**form, "birth_date": "2030-01-01",
                                                 "csrf_token": doc.csrf})
    assert r.status_code == 422 and "birth_date" in r.text and "2030-01-01" in r.text
    r = doc.post(f"/patients/{key}/facts", data={**form, "reason": "",
                                                 "csrf_token": doc.csrf})
    assert r.status_code == 422 and "reason" in r.text
    r = doc.post(f"/patients/{key}/facts", data={**form, "csrf_token": doc.csrf})
    assert r.status_code == 422 and "expected at least one changed fact" in r.text
    # an upload with the old birth date is refused and points to the form
    r = upload(doc, DENOSUMAB)
    assert r.status_code == 422 and "Edit the patient&#39;s facts" in r.text
    # the API: a token of the site changes a fact; null makes one not recorded
    h = {"Authorization": f"Bearer {clinic.token('doc')}"}
    c = clinic.client()
    r = c.patch(f"/api/v1/patients/{key}/facts", headers=h, json={
        "reason": "supplement started", "calcium_supplement_mg_d": 500, "ckd": None})
    assert r.status_code == 200, r.text
    assert {x["field"]: x["after"] for x in r.json()["changed"]} == {
        "calcium_supplement_mg_d": 500.0, "ckd": None}
    rec = c.get(f"/api/v1/patients/{key}", headers=h).json()
    assert rec["patient"]["calcium_supplement_mg_d"] == 500.0
    assert [x["field"] for x in rec["fact_history"]][:2] in (
        ["calcium_supplement_mg_d", "ckd"], ["ckd", "calcium_supplement_mg_d"])
    assert len(rec["fact_history"]) == 4
    r = c.patch(f"/api/v1/patients/{key}/facts", headers=h, json={
        "reason": "x", "magnesium_supplement_mg_d": -3})
    assert r.status_code == 422 and "magnesium_supplement_mg_d" in r.json()["detail"]
    # another site's patient is not found; a laboratory may not
    other = {"Authorization": f"Bearer {clinic.token('doc_b')}"}
    assert c.patch(f"/api/v1/patients/{key}/facts", headers=other, json={
        "reason": "x", "ckd": True}).status_code == 404
    doc_b = clinic.client("doc_b")
    assert doc_b.post(f"/patients/{key}/facts", data={
        **form, "csrf_token": doc_b.csrf}).status_code == 404
    lab = {"Authorization": f"Bearer {clinic.token('lab')}"}
    assert c.patch(f"/api/v1/patients/{key}/facts", headers=lab, json={
        "reason": "x", "ckd": True}).status_code == 403
    assert "edit-facts" in _actions(clinic)
    with clinic.db() as db:
        assert db.get(Patient, key).ckd is None
