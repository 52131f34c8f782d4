"""The pages: patient page, forms, language, administration, and downloads made as the
command line makes them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from boneturnover.cli import main
from boneturnover.clinical import CATALOG
from boneturnover.web.models import AssaySetting, Patient, User

from .conftest import EXAMPLES, TODAY, upload


def _key(clinic, patient_id: str) -> int:
    with clinic.db() as db:
        return db.scalars(select(Patient.id).where(Patient.patient_id == patient_id)).one()


#: The FHIR report's times of issue (the bundle's timestamp, the report's issued, the
#: provenance's recorded): the moment each was made, so not compared.
_ISSUE_TIMES = ("issued", "recorded", "timestamp")


def _strip_issued(x):
    if isinstance(x, dict):
        return {k: _strip_issued(v) for k, v in x.items() if k not in _ISSUE_TIMES}
    if isinstance(x, list):
        return [_strip_issued(v) for v in x]
    return x


@pytest.mark.parametrize("name", ["fhir_bundle.json", "denosumab_rebound.toml"])
def test_the_fhir_download_is_the_command_lines(sqlite_clinic, name, capsys, tmp_path):
    doc = sqlite_clinic.client("doc")
    assert upload(doc, EXAMPLES / name).status_code == 200
    out = tmp_path / "cli.json"
    assert main(["interpret", str(EXAMPLES / name), "--format", "fhir", "--today", TODAY,
                 "--out", str(out)]) == 0
    pid = json.loads(out.read_text())["entry"][0]["resource"]["identifier"][0]["value"]
    r = doc.get(f"/patients/{_key(sqlite_clinic, pid)}/report.fhir.json")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    assert _strip_issued(r.json()) == _strip_issued(json.loads(out.read_text()))


@pytest.mark.skipif(shutil.which("chromium") is None or shutil.which("pdftotext") is None,
                    reason="needs chromium and pdftotext")
def test_the_pdf_download_is_the_command_lines(sqlite_clinic, tmp_path):
    doc = sqlite_clinic.client("doc")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    r = doc.get(f"/patients/{_key(sqlite_clinic, 'example-denosumab-rebound')}/report.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    web = tmp_path / "web.pdf"
    web.write_bytes(r.content)
    cli = tmp_path / "cli.pdf"
    assert main(["interpret", str(EXAMPLES / "denosumab_rebound.toml"), "--format", "pdf",
                 "--today", TODAY, "--out", str(cli)]) == 0

    def text(p):
        return subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True,
                              text=True, check=True).stdout

    assert text(web) == text(cli)


def test_the_patient_page_shows_findings_sources_dates_and_the_disclaimer(clinic):
    doc = clinic.client("doc")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    key = _key(clinic, "example-denosumab-rebound")
    page = doc.get(f"/patients/{key}").text
    assert "cannot diagnose" in page and 'id="disclaimer"' in page
    assert "Rebound of turnover after stopping denosumab" in page
    assert "seed:B31" in page and "denosumab-rebound" in page  # source and rule id
    assert "2024-05-31" in page  # the retest date
    assert f'src="/patients/{key}/plot.png"' in page
    png = doc.get(f"/patients/{key}/plot.png")
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"


def test_the_result_form_offers_each_markers_accepted_units(sqlite_clinic):
    doc = sqlite_clinic.client("doc")
    r = doc.post("/patients/new", data={"csrf_token": doc.csrf, "patient_id": "p1",
                                        "birth_date": "1950-01-01", "ckd": "false"},
                 follow_redirects=False)
    page = doc.get(r.headers["location"]).text
    for mid in ("CTX_I", "P1NP_TOTAL", "MG"):
        group = re.search(rf'<optgroup label="{mid}">(.*?)</optgroup>', page).group(1)
        assert re.findall(r'<option value="([^"]+)"', group) == list(CATALOG[mid].units)
    r = doc.post(r.headers["location"] + "/results", data={
        "csrf_token": doc.csrf, "date": "2024-08-01", "marker": "CTX_I", "value": "0.9",
        "unit": "ng/mL", "fasting": "true", "lab": "Central lab"}, follow_redirects=False)
    assert r.status_code == 303
    r = doc.post(r.headers["location"] + "/treatments", data={
        "csrf_token": doc.csrf, "drug": "alendronate", "start": "2024-08-05"},
        follow_redirects=False)
    assert r.status_code == 303
    page = doc.get(r.headers["location"]).text
    assert "Central lab" in page and "alendronate" in page


def test_every_page_switches_to_chinese_per_user(sqlite_clinic):
    doc = sqlite_clinic.client("doc")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    key = _key(sqlite_clinic, "example-denosumab-rebound")
    r = doc.post("/lang", data={"lang": "zh", "csrf_token": doc.csrf}, follow_redirects=False)
    assert r.status_code == 303
    for path in ("/worklist", f"/patients/{key}", "/upload", "/patients/new", "/lab"):
        page = doc.get(path).text
        assert 'lang="zh-CN"' in page and "退出登录" in page, path
    page = doc.get(f"/patients/{key}").text
    assert "骨转换标志物不能诊断骨质疏松症" in page and "地舒单抗停药后骨转换反弹" in page
    other = sqlite_clinic.client("doc")  # the choice is the user's, on every login
    assert 'lang="zh-CN"' in other.get("/worklist").text
    with sqlite_clinic.db() as db:
        assert db.get(User, sqlite_clinic.users["doc"]).lang == "zh"


def test_admin_pages_manage_users_tokens_and_assay_settings(sqlite_clinic):
    clinic = sqlite_clinic
    admin = clinic.client("admin")
    r = admin.post("/admin/users", data={"csrf_token": admin.csrf, "username": "nurse",
                                         "password": "short", "role": "clinician"})
    assert r.status_code == 422 and "at least 12" in r.text
    r = admin.post("/admin/users", data={"csrf_token": admin.csrf, "username": "nurse",
                                         "password": "a long enough one", "role": "clinician"},
                   follow_redirects=False)
    assert r.status_code == 303
    r = admin.post("/admin/tokens", data={"csrf_token": admin.csrf, "name": "LIS",
                                          "user_id": str(clinic.users["lab"])})
    token = re.search(r'id="new-token">([^<]+)<', r.text).group(1)
    assert clinic.client().post("/api/v1/results", headers={"Authorization": f"Bearer {token}"},
                                json={"patient_id": "x", "measurements": [
                                    {"date": "2024-01-01", "marker": "CTX_I", "value": 1,
                                     "unit": "ng/L"}]}).status_code == 404
    r = admin.post("/admin/assays", data={"csrf_token": admin.csrf, "marker": "CTX_I",
                                          "ri_low": "100", "ri_high": "500", "unit": "ng/L",
                                          "lsc_pct": "30"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    r = admin.post("/admin/assays", data={"csrf_token": admin.csrf, "marker": "CTX_I",
                                          "ri_low": "1", "unit": "mmol/L"})
    assert r.status_code == 422 and "mmol/L" in r.text
    with clinic.db() as db:
        s = db.scalars(select(AssaySetting)).one()
        assert (s.marker, s.ri_high, s.lsc_pct) == ("CTX_I", 500.0, 30.0)
    doc = clinic.client("doc")
    upload(doc, EXAMPLES / "denosumab_rebound.toml")
    rep = doc.get(f"/api/v1/patients/{_key(clinic, 'example-denosumab-rebound')}/report"
                  ).json()
    high = [f for f in rep["findings"] if f["code"] == "TURNOVER_HIGH" and
            f["marker"] == "CTX_I"]
    assert high and high[0]["numbers"]["ref"] == 500.0  # the laboratory's interval
    audit = admin.get("/admin/audit").text
    for action in ("create-user", "create-token", "set-assay", "import-file"):
        assert action in audit


def test_the_sign_in_page_switches_language_before_signing_in(sqlite_clinic):
    c = sqlite_clinic.client()
    assert 'lang="en"' in c.get("/login").text
    page = c.get("/login?lang=zh").text
    assert 'lang="zh-CN"' in page and "登录" in page
    assert 'lang="en"' in c.get("/login?lang=en").text


def test_the_what_if_panel_shows_findings_and_stores_nothing(sqlite_clinic):
    from boneturnover.web.models import AuditEntry, Measurement

    doc = sqlite_clinic.client("doc")
    upload(doc, EXAMPLES / "bisphosphonate_responder.toml")
    with sqlite_clinic.db() as db:
        key = db.scalars(select(Patient.id)).one()
        n = len(db.scalars(select(Measurement)).all())
    page = doc.get(f"/patients/{key}").text
    assert 'id="what-if"' in page
    # a CTX-I far above the baseline a year on
    r = doc.post(f"/patients/{key}/what-if", data={
        "csrf_token": doc.csrf, "date": "2024-08-20", "marker": "CTX_I", "value": "900",
        "unit": "ng/L", "fasting": "true"})
    assert r.status_code == 200, r.text[-500:]
    assert 'id="what-if-banner"' in r.text and "900 ng/L" in r.text
    assert "High bone turnover" in r.text and "(new)" in r.text
    with sqlite_clinic.db() as db:
        assert len(db.scalars(select(Measurement)).all()) == n
        assert db.scalars(select(AuditEntry).where(AuditEntry.action == "what-if")).one()
    r = doc.post(f"/patients/{key}/what-if", data={"csrf_token": doc.csrf})
    assert r.status_code == 422
    r = doc.post(f"/patients/{key}/what-if", data={
        "csrf_token": doc.csrf, "date": "2024-08-20", "marker": "CTX_I", "value": "900",
        "unit": "kg"})
    assert r.status_code == 422 and "kg" in r.text
