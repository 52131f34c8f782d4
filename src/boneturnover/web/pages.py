"""Server-rendered pages (Jinja2, no JavaScript): sign-in, worklist, patient page,
entry forms, uploads, the laboratory's result form, administration and the audit log.

Every form carries the login's CSRF token; every page of patient data is read through
:mod:`.store` (site isolation and the audit log there). The PDF and the FHIR report are
made as ``boneturnover interpret --format pdf|fhir`` makes them.
"""

# ruff: noqa: B008 - FastAPI declares a parameter's source by its default (Depends, Form)

from __future__ import annotations

import json
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clinical.catalog import CATALOG, DRUGS
from ..errors import InputError
from . import accounts
from .deps import COOKIE, KEY_MAX, Key, actor, check_csrf, get_db, optional_actor, today
from .i18n import Words
from .models import ApiToken, AssaySetting, AuditEntry, ImportRecord, Site, User
from .security import LIMITS, Forbidden
from .store import (
    EDITABLE_FACTS,
    WORKLIST_CATEGORIES,
    Actor,
    add_entries,
    correct_measurement,
    correct_treatment,
    current_measurements,
    current_treatments,
    edit_patient_facts,
    fact_history,
    get_patient,
    import_cohort,
    import_patient_file,
    measurement_history,
    patients_of_site,
    report_for,
    retired_treatments,
    treatment_history,
    what_if,
    withdraw_treatment,
    worklist,
)

__all__ = ["router", "templates", "MAX_UPLOAD", "read_upload"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(resources.files("boneturnover.web") / "templates"))

#: Largest upload accepted, per file.
MAX_UPLOAD = {"value": 50 * 1024 * 1024, "unit": "B",
              "why": "a cohort of ~100,000 results is about 5 MB of CSV; ten times that "
                     "bounds the memory one upload can take"}


def render(request: Request, name: str, who: Actor | None, status_code: int = 200,
           **ctx: Any) -> HTMLResponse:
    lang = who.lang if who else request.cookies.get("bt_lang", "en")
    lang = lang if lang in ("en", "zh") else "en"
    return templates.TemplateResponse(request, name, {
        "w": Words(lang), "lang": lang, "who": who,
        "csrf": who.csrf_token if who else "", **ctx}, status_code=status_code)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def read_upload(f: UploadFile | None) -> bytes:
    if f is None:
        return b""
    data = f.file.read(MAX_UPLOAD["value"] + 1)
    if len(data) > MAX_UPLOAD["value"]:
        raise InputError(f"{f.filename}: larger than {MAX_UPLOAD['value'] // 2**20} MiB "
                         f"({MAX_UPLOAD['why']})")
    return data


# -- sign-in -------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, lang: str | None = None,
               who: Actor | None = Depends(optional_actor)):
    if who is not None:
        return _redirect("/")
    if lang in ("en", "zh"):  # before signing in, the language is the browser's cookie
        resp = _redirect("/login")
        resp.set_cookie("bt_lang", lang, httponly=True, samesite="lax", path="/",
                        max_age=365 * 86400)
        return resp
    return render(request, "login.html", None)


@router.post("/login")
def login(request: Request, username: str = Form(..., max_length=200),
          password: str = Form(..., max_length=1000), db: Session = Depends(get_db)):
    client = request.client.host if request.client else ""
    if not _same_origin(request):
        # login CSRF: no login cookie exists yet to carry a token, so the browser's Origin
        # header is checked (OWASP CSRF Prevention Cheat Sheet, "Verifying Origin with
        # standard headers"); a client that sends none (no browser) is not at risk
        return render(request, "login.html", None, status_code=403, error=(
            f"sign-in refused: the form was sent from {request.headers['origin']!r}, not "
            "from this clinic's own sign-in page"))
    if not request.app.state.login_limiter.hit(db, client):
        return render(request, "login.html", None, status_code=429, error=(
            f"more than {LIMITS['login_attempts_per_minute']['value']} sign-in attempts in a "
            "minute from this address; wait a minute"))
    try:
        user, token, _ = accounts.sign_in(db, username, password, client=client)
    except accounts.SignInRefused as exc:
        return render(request, "login.html", None, status_code=401, error=str(exc))
    resp = _redirect("/")
    resp.set_cookie(COOKIE, token, httponly=True, samesite="lax",
                    secure=request.app.state.secure_cookies or request.url.scheme == "https",
                    max_age=LIMITS["login_hours"]["value"] * 3600, path="/")
    return resp


def _same_origin(request: Request) -> bool:
    """Whether a browser's ``Origin`` (when sent) names the host the request came to."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    from urllib.parse import urlsplit

    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form(""), who: Actor = Depends(actor),
           db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    accounts.sign_out(db, request.cookies.get(COOKIE))
    resp = _redirect("/login")
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.post("/lang")
def switch_lang(request: Request, lang: str = Form(...), csrf_token: str = Form(""),
                who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    accounts.set_lang(db, who, lang)
    back = request.headers.get("referer") or "/"
    return _redirect(back if back.startswith(str(request.base_url)) else "/")


@router.get("/")
def home(who: Actor = Depends(actor)):
    return _redirect({"admin": "/admin", "lab": "/lab"}.get(who.role, "/worklist"))


# -- worklist and patient page -------------------------------------------------------------

@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, finding: str | None = None, category: str | None = None,
                  who: Actor = Depends(actor), db: Session = Depends(get_db)):
    finding = finding or None
    category = category or None
    items = worklist(db, who, today=today(request), finding=finding, category=category)
    everyone = patients_of_site(db, who)
    from ..clinical.rules import RULES

    codes = sorted({r.code for r in RULES})
    return render(request, "worklist.html", who, items=items, everyone=everyone,
                  categories=[k for k, _, _ in WORKLIST_CATEGORIES], codes=codes,
                  finding=finding, category=category, today=today(request))


def _units() -> dict[str, tuple[str, ...]]:
    return {mid: m.units for mid, m in CATALOG.items()}


@router.get("/patients/new", response_class=HTMLResponse)
def new_patient_page(request: Request, who: Actor = Depends(actor)):
    who.require("write")
    return render(request, "patient_new.html", who)


def _fact_form(birth_date: str, ckd: str, glucocorticoids: str, ca: str, mg: str):
    out: dict[str, Any] = {}
    if birth_date.strip():
        out["birth_date"] = birth_date.strip()
    for k, v in (("ckd", ckd), ("glucocorticoids", glucocorticoids)):
        if v in ("true", "false"):
            out[k] = v == "true"
    for k, v in (("calcium_supplement_mg_d", ca), ("magnesium_supplement_mg_d", mg)):
        if v.strip():
            out[k] = v.strip()
    return out


@router.post("/patients/new")
def new_patient(request: Request, patient_id: str = Form(..., max_length=200),
                birth_date: str = Form(""), ckd: str = Form(""),
                glucocorticoids: str = Form(""), calcium_supplement_mg_d: str = Form(""),
                magnesium_supplement_mg_d: str = Form(""), csrf_token: str = Form(""),
                who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    pid = patient_id.strip()
    if not pid:
        raise InputError("patient_id: empty; give the patient an id")
    facts = _fact_form(birth_date, ckd, glucocorticoids, calcium_supplement_mg_d,
                       magnesium_supplement_mg_d)
    add_entries(db, who, pid, patient=facts, kind="form", today=today(request))
    p = get_patient(db, who, patient_id=pid)
    return _redirect(f"/patients/{p.id}")


@router.get("/patients/{key}", response_class=HTMLResponse)
def patient_page(request: Request, key: Key, who: Actor = Depends(actor),
                 db: Session = Depends(get_db)):
    p = get_patient(db, who, key)
    report, _, snap = report_for(db, who, p, today=today(request))
    data = report.to_dict()
    next_dates = [f for f in data["findings"]
                  if f["code"] in ("RETEST_DUE", "DENOSUMAB_NEXT_DOSE")
                  and f["numbers"].get("due_date")]
    w = Words(who.lang)
    fact_names = {k: w.report("birth_date") if k == "birth_date" else w.ui(
        {"calcium_supplement_mg_d": "ca_supp", "magnesium_supplement_mg_d": "mg_supp"}
        .get(k, k)) for k in EDITABLE_FACTS}
    return render(request, "patient.html", who, p=p, report=data, snap=snap,
                  results=current_measurements(db, p), treatments=current_treatments(db, p),
                  retired=retired_treatments(db, p), facts_history=fact_history(db, p),
                  fact_names=fact_names, users=_usernames(db, who),
                  next_dates=next_dates, units=_units(), markers=list(CATALOG),
                  drugs=list(DRUGS), has_series=bool(report.series), today=today(request))


def _usernames(db: Session, who: Actor) -> dict[int, str]:
    """User names of the asking user's site (who entered or changed what)."""
    return {u.id: u.username for u in db.scalars(select(User).where(
        User.site_id == who.site_id))}


@router.post("/patients/{key}/facts")
def edit_facts(request: Request, key: Key, birth_date: str = Form(""), ckd: str = Form(""),
               glucocorticoids: str = Form(""), calcium_supplement_mg_d: str = Form(""),
               magnesium_supplement_mg_d: str = Form(""), reason: str = Form(""),
               csrf_token: str = Form(""), who: Actor = Depends(actor),
               db: Session = Depends(get_db)):
    """Change the patient's stored facts; every field of the form is the new value (an
    empty one: not recorded)."""
    check_csrf(request, who, csrf_token)
    p = get_patient(db, who, key, permission="write")
    facts: dict[str, Any] = {"birth_date": birth_date.strip(),
                             "calcium_supplement_mg_d": calcium_supplement_mg_d.strip(),
                             "magnesium_supplement_mg_d": magnesium_supplement_mg_d.strip()}
    for k, v in (("ckd", ckd), ("glucocorticoids", glucocorticoids)):
        if v not in ("", "true", "false"):
            raise InputError(f"{k} = {v!r}: expected true, false or empty (not recorded)")
        facts[k] = "" if v == "" else v == "true"
    edit_patient_facts(db, who, p, facts, reason, today=today(request))
    return _redirect(f"/patients/{p.id}")


@router.post("/patients/{key}/what-if", response_class=HTMLResponse)
def patient_what_if(request: Request, key: Key, date: str = Form(""), marker: str = Form(""),
                    value: str = Form(""), unit: str = Form(""), comparator: str = Form(""),
                    fasting: str = Form(""), drug: str = Form(""), start: str = Form(""),
                    csrf_token: str = Form(""), who: Actor = Depends(actor),
                    db: Session = Depends(get_db)):
    """The findings with a hypothetical result and/or course added; nothing is stored."""
    check_csrf(request, who, csrf_token)
    p = get_patient(db, who, key)
    meas = [_result_form(date, marker, value, unit, comparator, fasting, "", "", "", "")
            ] if value.strip() else []
    for m in meas:
        for k in ("specimen", "assay", "lab", "time"):
            m.pop(k, None)
    treats = [{"drug": drug, "start": start.strip()}] if drug and start.strip() else []
    if not meas and not treats:
        raise InputError("what-if: give a result (value, unit, date) or a course (drug, "
                         "start)")
    report = what_if(db, who, p, today=today(request), measurements=meas, treatments=treats)
    base, _, _ = report_for(db, who, p, today=today(request), audit_action=None)
    before = {(f["code"], f.get("marker")) for f in base.to_dict()["findings"]}
    data = report.to_dict()
    return render(request, "what_if.html", who, p=p, report=data, before=before,
                  meas=meas, treats=treats)


@router.get("/patients/{key}/plot.png")
def patient_plot(request: Request, key: Key, who: Actor = Depends(actor),
                 db: Session = Depends(get_db)):
    p = get_patient(db, who, key)
    report, _, _ = report_for(db, who, p, today=today(request), audit_action="read-plot")
    return Response(report.plot_png(who.lang), media_type="image/png")


@router.get("/patients/{key}/report.pdf")
def patient_pdf(request: Request, key: Key, who: Actor = Depends(actor),
                db: Session = Depends(get_db)):
    from ..clinical.render import find_chromium, html_to_pdf

    p = get_patient(db, who, key)
    report, _, _ = report_for(db, who, p, today=today(request), audit_action="download-pdf")
    find_chromium()
    with tempfile.TemporaryDirectory(prefix="boneturnover-pdf-") as work:
        out = html_to_pdf(report.to_html(who.lang), Path(work) / "report.pdf")
        data = out.read_bytes()
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{_safe(p.patient_id)}.pdf"'})


@router.get("/patients/{key}/report.fhir.json")
def patient_fhir(request: Request, key: Key, who: Actor = Depends(actor),
                 db: Session = Depends(get_db)):
    from ..clinical.fhir_out import report_to_fhir

    p = get_patient(db, who, key)
    report, record, _ = report_for(db, who, p, today=today(request),
                                   audit_action="download-fhir")
    text = json.dumps(report_to_fhir(report, record, who.lang), indent=2,
                      ensure_ascii=False, allow_nan=False) + "\n"
    return Response(text.encode("utf-8"), media_type="application/fhir+json", headers={
        "Content-Disposition": f'attachment; filename="{_safe(p.patient_id)}.fhir.json"'})


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:80] or "patient"


def _result_form(date: str, marker: str, value: str, unit: str, comparator: str,
                 fasting: str, time: str, specimen: str, assay: str, lab: str
                 ) -> dict[str, Any]:
    row: dict[str, Any] = {"date": date.strip(), "marker": marker, "value": value.strip(),
                           "unit": unit}
    if comparator:
        row["comparator"] = comparator
    if fasting in ("true", "false"):
        row["fasting"] = fasting == "true"
    for k, v in (("time", time), ("specimen", specimen), ("assay", assay), ("lab", lab)):
        if v.strip():
            row[k] = v.strip()
    return row


@router.post("/patients/{key}/results")
def add_result(request: Request, key: Key, date: str = Form(...), marker: str = Form(...),
               value: str = Form(...), unit: str = Form(...), comparator: str = Form(""),
               fasting: str = Form(""), time: str = Form(""), specimen: str = Form(""),
               assay: str = Form(""), lab: str = Form(""), csrf_token: str = Form(""),
               who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    p = get_patient(db, who, key, permission="write")
    row = _result_form(date, marker, value, unit, comparator, fasting, time, specimen,
                       assay, lab)
    add_entries(db, who, p.patient_id, measurements=[row], kind="form", today=today(request))
    return _redirect(f"/patients/{p.id}")


@router.post("/patients/{key}/treatments")
def add_treatment(request: Request, key: Key, drug: str = Form(...), start: str = Form(...),
                  stop: str = Form(""), dose: str = Form(""), dose_unit: str = Form(""),
                  interval: str = Form(""), route: str = Form(""), last_dose: str = Form(""),
                  csrf_token: str = Form(""), who: Actor = Depends(actor),
                  db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    p = get_patient(db, who, key, permission="write")
    row = {"drug": drug, "start": start.strip()}
    for k, v in (("stop", stop), ("dose", dose), ("dose_unit", dose_unit),
                 ("interval", interval), ("route", route), ("last_dose", last_dose)):
        if v.strip():
            row[k] = v.strip()
    add_entries(db, who, p.patient_id, treatments=[row], kind="form", today=today(request))
    return _redirect(f"/patients/{p.id}")


@router.get("/results/{result_id}", response_class=HTMLResponse)
def result_page(request: Request, result_id: Key, who: Actor = Depends(actor),
                db: Session = Depends(get_db)):
    rows = measurement_history(db, who, result_id)
    users = {u.id: u.username for u in db.scalars(select(User))}
    return render(request, "result.html", who, rows=rows, users=users, units=_units(),
                  current=rows[0], patient_key=rows[0].patient_fk)


@router.post("/results/{result_id}")
def correct_result(request: Request, result_id: Key, value: str = Form(...),
                   unit: str = Form(...), date: str = Form(...), reason: str = Form(...),
                   csrf_token: str = Form(""), who: Actor = Depends(actor),
                   db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    new = correct_measurement(db, who, result_id, {"value": value.strip(), "unit": unit,
                                                   "date": date.strip()}, reason,
                              today=today(request))
    return _redirect(f"/results/{new.id}")


@router.get("/treatments/{treatment_id}", response_class=HTMLResponse)
def treatment_page(request: Request, treatment_id: Key, who: Actor = Depends(actor),
                   db: Session = Depends(get_db)):
    rows = treatment_history(db, who, treatment_id)
    return render(request, "treatment.html", who, rows=rows, users=_usernames(db, who),
                  drugs=list(DRUGS), current=rows[0], patient_key=rows[0].patient_fk)


@router.post("/treatments/{treatment_id}")
def correct_course(request: Request, treatment_id: Key, drug: str = Form(...),
                   start: str = Form(...), stop: str = Form(""), dose: str = Form(""),
                   dose_unit: str = Form(""), interval: str = Form(""), route: str = Form(""),
                   last_dose: str = Form(""), reason: str = Form(""),
                   csrf_token: str = Form(""), who: Actor = Depends(actor),
                   db: Session = Depends(get_db)):
    """Correct a course: every field of the form is the new value (empty: none)."""
    check_csrf(request, who, csrf_token)
    fields = {"drug": drug, "start": start.strip(), "stop": stop.strip(),
              "dose": dose.strip(), "dose_unit": dose_unit.strip(),
              "interval": interval.strip(), "route": route.strip(),
              "last_dose": last_dose.strip()}
    new = correct_treatment(db, who, treatment_id, fields, reason, today=today(request))
    return _redirect(f"/treatments/{new.id}")


@router.post("/treatments/{treatment_id}/withdraw")
def withdraw_course(request: Request, treatment_id: Key, reason: str = Form(""),
                    csrf_token: str = Form(""), who: Actor = Depends(actor),
                    db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    old = withdraw_treatment(db, who, treatment_id, reason)
    return _redirect(f"/patients/{old.patient_fk}")


# -- uploads -------------------------------------------------------------------------------

@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, who: Actor = Depends(actor), db: Session = Depends(get_db)):
    who.require("write")
    recent = list(db.scalars(select(ImportRecord).where(ImportRecord.site_id == who.site_id)
                             .order_by(ImportRecord.id.desc()).limit(20)))
    return render(request, "upload.html", who, recent=recent)


@router.post("/upload/file")
def upload_file(request: Request, file: UploadFile, csrf_token: str = Form(""),
                who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    imp = import_patient_file(db, who, read_upload(file), file.filename or "",
                              today=today(request))
    return _imported(request, who, db, imp)


@router.post("/upload/cohort")
def upload_cohort(request: Request, patients: UploadFile, measurements: UploadFile,
                  treatments: UploadFile | None = None, assays: UploadFile | None = None,
                  csrf_token: str = Form(""), who: Actor = Depends(actor),
                  db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    files = {"patients.csv": read_upload(patients),
             "measurements.csv": read_upload(measurements),
             "treatments.csv": read_upload(treatments) if treatments is not None and
             treatments.filename else b"",
             "assays.toml": read_upload(assays) if assays is not None and assays.filename
             else b""}
    imp = import_cohort(db, who, files, today=today(request))
    return _imported(request, who, db, imp)


def _imported(request: Request, who: Actor, db: Session, imp: ImportRecord):
    recent = list(db.scalars(select(ImportRecord).where(ImportRecord.site_id == who.site_id)
                             .order_by(ImportRecord.id.desc()).limit(20)))
    return render(request, "upload.html", who, recent=recent, done=imp)


# -- laboratory ----------------------------------------------------------------------------

@router.get("/lab", response_class=HTMLResponse)
def lab_page(request: Request, who: Actor = Depends(actor)):
    who.require("post_results")
    return render(request, "lab.html", who, units=_units(), markers=list(CATALOG))


@router.post("/lab")
def lab_post(request: Request, patient_id: str = Form(...), date: str = Form(...),
             marker: str = Form(...), value: str = Form(...), unit: str = Form(...),
             comparator: str = Form(""), fasting: str = Form(""), time: str = Form(""),
             specimen: str = Form(""), assay: str = Form(""), lab: str = Form(""),
             csrf_token: str = Form(""), who: Actor = Depends(actor),
             db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    row = _result_form(date, marker, value, unit, comparator, fasting, time, specimen,
                       assay, lab)
    imp = add_entries(db, who, patient_id.strip(), measurements=[row], kind="lab-form",
                      today=today(request), create=False, permission="post_results")
    return render(request, "lab.html", who, units=_units(), markers=list(CATALOG), done=imp)


# -- administration ------------------------------------------------------------------------

def _admin(request: Request, who: Actor, db: Session, **ctx: Any) -> HTMLResponse:
    who.require("admin")
    users = list(db.scalars(select(User).where(User.site_id == who.site_id)
                            .order_by(User.username)))
    names = {u.id: u.username for u in users}
    tokens = [t for t in db.scalars(select(ApiToken).order_by(ApiToken.id)) if t.user_id in names]
    assays = list(db.scalars(select(AssaySetting).where(AssaySetting.site_id == who.site_id)
                             .order_by(AssaySetting.marker)))
    site = db.get(Site, who.site_id)
    return render(request, "admin.html", who, users=users, names=names, tokens=tokens,
                  assays=assays, site=site, markers=list(CATALOG), units=_units(),
                  limits=LIMITS, **ctx)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, who: Actor = Depends(actor), db: Session = Depends(get_db)):
    return _admin(request, who, db)


@router.post("/admin/users")
def admin_add_user(request: Request, username: str = Form(...), password: str = Form(...),
                   role: str = Form(...), lang: str = Form("en"), csrf_token: str = Form(""),
                   who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    who.require("admin")
    accounts.create_user(db, who, username, password, role, db.get(Site, who.site_id), lang)
    return _redirect("/admin")


@router.post("/admin/users/{user_id}/unlock")
def admin_unlock(request: Request, user_id: Key, csrf_token: str = Form(""),
                 who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    accounts.unlock(db, who, user_id)
    return _redirect("/admin")


@router.post("/admin/users/{user_id}/active")
def admin_set_active(request: Request, user_id: Key, active: str = Form(...),
                     csrf_token: str = Form(""), who: Actor = Depends(actor),
                     db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    accounts.set_active(db, who, user_id, active == "true")
    return _redirect("/admin")


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, who: Actor = Depends(actor)):
    return render(request, "account.html", who, limits=LIMITS)


@router.post("/account/password")
def account_password(request: Request, current: str = Form(..., max_length=1000),
                     new: str = Form(..., max_length=1000), csrf_token: str = Form(""),
                     who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    accounts.change_password(db, who, current, new)
    return render(request, "account.html", who, limits=LIMITS, done=True)


@router.post("/admin/tokens")
def admin_add_token(request: Request, user_id: int = Form(..., ge=1, le=KEY_MAX),
                    name: str = Form(..., max_length=200),
                    csrf_token: str = Form(""), who: Actor = Depends(actor),
                    db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    token = accounts.create_token(db, who, user_id, name)
    return _admin(request, who, db, new_token=token)


@router.post("/admin/tokens/{token_id}/revoke")
def admin_revoke_token(request: Request, token_id: Key, csrf_token: str = Form(""),
                       who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    accounts.revoke_token(db, who, token_id)
    return _redirect("/admin")


@router.post("/admin/assays")
def admin_set_assay(request: Request, marker: str = Form(...), lab: str = Form(""),
                    ri_low: str = Form(""), ri_high: str = Form(""), unit: str = Form(""),
                    cva_pct: str = Form(""), cvi_pct: str = Form(""), lsc_pct: str = Form(""),
                    csrf_token: str = Form(""), who: Actor = Depends(actor),
                    db: Session = Depends(get_db)):
    check_csrf(request, who, csrf_token)
    numbers: dict[str, Any] = {}
    for k, v in (("ri_low", ri_low), ("ri_high", ri_high), ("cva_pct", cva_pct),
                 ("cvi_pct", cvi_pct), ("lsc_pct", lsc_pct)):
        if v.strip():
            try:
                numbers[k] = float(v)
            except ValueError:
                raise InputError(f"{k} = {v.strip()!r}: expected a number") from None
    accounts.set_assay(db, who, marker, lab, unit=unit or None, **numbers)
    return _redirect("/admin")


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request, who: Actor = Depends(actor), db: Session = Depends(get_db)):
    if who.role != "admin":
        raise Forbidden(f"role {who.role!r} may not read the audit log")
    rows = list(db.scalars(select(AuditEntry).where(AuditEntry.site_id == who.site_id)
                           .order_by(AuditEntry.id.desc()).limit(500)))
    return render(request, "audit.html", who, rows=rows)

