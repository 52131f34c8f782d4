"""The JSON API (``/api/v1``), documented by the app's OpenAPI schema (``/openapi.json``).

It mirrors the Python API: ``POST /api/v1/interpret`` takes the patient layout of
``docs/CLINICAL.md`` and answers what ``bt.interpret(...).to_dict()`` answers (the JSON of
``boneturnover interpret --format json``); stored patients have the same report, and
``/report.fhir`` the FHIR Bundle of ``--format fhir``. A laboratory system posts results
with a bearer token (``POST /api/v1/results``). Bad input is HTTP 422 with one message
naming the field, the value and what was expected.
"""

# ruff: noqa: B008 - FastAPI declares a parameter's source by its default (Depends, Form)

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from .. import __version__
from .deps import Key, actor, check_csrf, get_db, today
from .store import (
    DEFAULT_RULESET,
    WORKLIST_CATEGORIES,
    Actor,
    add_entries,
    audit,
    correct_measurement,
    correct_treatment,
    current_measurements,
    current_treatments,
    edit_patient_facts,
    fact_history,
    get_patient,
    import_patient_file,
    import_records,
    measurement_history,
    patients_of_site,
    record_of,
    report_for,
    ruleset_version,
    treatment_history,
    withdraw_treatment,
    worklist,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["api"])

_Lang = Literal["en", "zh"]
_Ruleset = Literal["paper", "iof-ects-2017"]
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class Result(BaseModel):
    """One laboratory result (the ``[[measurements]]`` layout plus specimen, assay, lab)."""

    model_config = ConfigDict(extra="forbid")
    date: str = Field(description="sampling date YYYY-MM-DD", examples=["2024-03-01"])
    marker: str = Field(description="marker id or alias of the catalogue", examples=["CTX_I"])
    value: float | str = Field(description="the result in `unit`; text may carry a "
                               "comparator such as '<0.03'", examples=[450])
    unit: str = Field(description="UCUM unit, one the marker accepts", examples=["ng/L"])
    comparator: Literal["<", "<=", ">", ">="] | None = None
    fasting: bool | None = None
    time: str | None = Field(None, description="sampling time HH:MM")
    specimen: str | None = Field(None, max_length=100)
    assay: str | None = Field(None, max_length=200)
    lab: str | None = Field(None, max_length=200)


class Results(BaseModel):
    """Results of one known patient of the caller's site: all are stored or none."""

    model_config = ConfigDict(extra="forbid")
    patient_id: str = Field(min_length=1, max_length=200)
    measurements: list[Result] = Field(min_length=1, max_length=5000)


class Correction(BaseModel):
    """New values of a result (fields not given keep theirs) and why."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    date: str | None = None
    marker: str | None = None
    value: float | str | None = None
    unit: str | None = None
    comparator: Literal["<", "<=", ">", ">="] | None = None
    fasting: bool | None = None
    time: str | None = None
    specimen: str | None = None
    assay: str | None = None
    lab: str | None = None


class TreatmentCorrection(BaseModel):
    """New values of a treatment course (fields not given keep theirs; ``""`` clears one)
    and why."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    drug: str | None = Field(None, examples=["denosumab"])
    start: str | None = Field(None, description="YYYY-MM-DD")
    stop: str | None = Field(None, description="YYYY-MM-DD, or '' for none")
    dose: float | str | None = None
    dose_unit: str | None = None
    interval: str | None = Field(None, description="UCUM, e.g. '6 mo'")
    route: str | None = None
    last_dose: str | None = Field(None, description="YYYY-MM-DD, or '' for none")


class Withdrawal(BaseModel):
    """Why a course entered in error is withdrawn."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class FactChange(BaseModel):
    """New values of a patient's facts (fields not given keep theirs; ``null`` makes one
    not recorded) and why."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    birth_date: str | None = Field(None, description="YYYY-MM-DD")
    ckd: bool | None = None
    glucocorticoids: bool | None = None
    calcium_supplement_mg_d: float | None = None
    magnesium_supplement_mg_d: float | None = None


def _import_summary(imp) -> dict[str, Any]:
    return {"import_id": imp.id, "kind": imp.kind, "patients": imp.n_patients,
            "measurements": imp.n_measurements, "treatments": imp.n_treatments}


@router.get("/health", summary="liveness and versions (no sign-in needed)")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__,
            "ruleset_version": ruleset_version(DEFAULT_RULESET)}


@router.post("/interpret", summary="interpret a patient given in the request (not stored)")
def interpret_patient(
    request: Request,
    patient: dict[str, Any] = Body(..., description="the patient layout of docs/CLINICAL.md: "
                                   "{patient, measurements, treatments, assay}"),
    ruleset: _Ruleset = DEFAULT_RULESET,
    on: str | None = Query(None, pattern=_DATE, description="evaluation date (default today)"),
    who: Actor = Depends(actor), db: Session = Depends(get_db),
) -> dict[str, Any]:
    from ..clinical.engine import interpret
    from ..clinical.records import PatientRecord

    who.require("read")
    check_csrf(request, who)
    record = PatientRecord.from_dict(patient, "request")
    report = interpret(record, ruleset=ruleset, today=on or today(request))
    audit(db, who, "interpret-unsaved", detail=f"patient id {record.patient_id!r}")
    db.commit()
    return report.to_dict()


@router.get("/patients", summary="the patients of your site")
def list_patients(who: Actor = Depends(actor), db: Session = Depends(get_db)):
    out = [{"key": p.id, "patient_id": p.patient_id, "birth_date": p.birth_date,
            "version": p.version} for p in patients_of_site(db, who)]
    audit(db, who, "list-patients", detail=f"{len(out)} patient(s)")
    db.commit()
    return out


@router.post("/patients", status_code=201,
             summary="store a patient (new, or new rows of a stored one); all or nothing")
def create_patient(
    request: Request,
    patient: dict[str, Any] = Body(..., description="the patient layout of docs/CLINICAL.md"),
    who: Actor = Depends(actor), db: Session = Depends(get_db),
) -> dict[str, Any]:
    from ..clinical.records import PatientRecord

    check_csrf(request, who)
    who.require("write")
    record = PatientRecord.from_dict(patient, "request")
    return _import_summary(import_records(db, who, [record], kind="api", today=today(request)))


@router.post("/imports/fhir", status_code=201,
             summary="store the patient of a FHIR R4 Bundle; all or nothing")
def import_bundle(request: Request, bundle: dict[str, Any] = Body(...),
                  who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who)
    data = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    return _import_summary(import_patient_file(db, who, data, "bundle.json",
                                               today=today(request)))


@router.post("/imports/file", status_code=201,
             summary="store the patient of an uploaded file: a FHIR R4 Bundle (.json) or the "
                     "patient layout (.toml or .json); all or nothing")
def import_file(request: Request, file: UploadFile, who: Actor = Depends(actor),
                db: Session = Depends(get_db)):
    from .pages import read_upload

    check_csrf(request, who)
    return _import_summary(import_patient_file(db, who, read_upload(file),
                                               file.filename or "", today=today(request)))


@router.post("/results", status_code=201,
             summary="a laboratory posts results of a known patient; all or nothing")
def post_results(request: Request, results: Results, who: Actor = Depends(actor),
                 db: Session = Depends(get_db)):
    check_csrf(request, who)
    rows = [r.model_dump(exclude_none=True) for r in results.measurements]
    imp = add_entries(db, who, results.patient_id, measurements=rows, kind="api-results",
                      today=today(request), create=False, permission="post_results")
    return _import_summary(imp)


def _layout(db: Session, p) -> dict[str, Any]:
    rec = record_of(db, p)
    pa, me, tr = rec.raw_rows()
    keys = [m.id for m in current_measurements(db, p)]
    for row, m, key in zip(me, current_measurements(db, p), keys, strict=True):
        row.update(result_id=key, specimen=m.specimen, assay=m.assay, lab=m.lab)
    for row, t in zip(tr, current_treatments(db, p), strict=True):
        row.update(treatment_id=t.id)
    history = [{"field": h.field, "before": json.loads(h.old_value or "null"),
                "after": json.loads(h.new_value or "null"), "reason": h.reason,
                "changed_at": h.changed_at.isoformat(), "changed_by": h.changed_by}
               for h in fact_history(db, p)]
    return {"key": p.id, "patient": pa[0], "measurements": me, "treatments": tr,
            "assay": rec.assay, "version": p.version, "fact_history": history}


@router.get("/patients/{key}", summary="a stored patient: facts, current results, courses")
def read_patient(key: Key, who: Actor = Depends(actor), db: Session = Depends(get_db)):
    p = get_patient(db, who, key)
    out = _layout(db, p)
    audit(db, who, "read-patient-record", patient=p)
    db.commit()
    return out


@router.get("/patients/{key}/report",
            summary="the report of a stored patient (as `boneturnover interpret --format json`)")
def patient_report(request: Request, key: Key, ruleset: _Ruleset = DEFAULT_RULESET,
                   who: Actor = Depends(actor), db: Session = Depends(get_db)):
    p = get_patient(db, who, key)
    report, _, snap = report_for(db, who, p, today=today(request), ruleset=ruleset)
    return {**report.to_dict(), "snapshot": {"id": snap.id, "ruleset_version":
                                             snap.ruleset_version,
                                             "patient_version": snap.patient_version}}


@router.get("/patients/{key}/report.fhir",
            summary="the report as a FHIR R4 Bundle (as `boneturnover interpret --format fhir`)")
def patient_report_fhir(request: Request, key: Key, lang: _Lang = "en",
                        ruleset: _Ruleset = DEFAULT_RULESET,
                        who: Actor = Depends(actor), db: Session = Depends(get_db)):
    from ..clinical.fhir_out import report_to_fhir

    p = get_patient(db, who, key)
    report, record, _ = report_for(db, who, p, today=today(request), ruleset=ruleset,
                                   audit_action="download-fhir")
    return JSONResponse(report_to_fhir(report, record, lang),
                        media_type="application/fhir+json")


@router.put("/results/{result_id}", summary="correct a result; the original is kept")
def correct_result(request: Request, result_id: Key, correction: Correction,
                   who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who)
    fields = correction.model_dump(exclude_none=True)
    reason = fields.pop("reason")
    new = correct_measurement(db, who, result_id, fields, reason, today=today(request))
    return {"result_id": new.id, "corrects": new.corrects_id}


@router.get("/results/{result_id}/history",
            summary="a result and its earlier versions, newest first")
def result_history(result_id: Key, who: Actor = Depends(actor),
                   db: Session = Depends(get_db)):
    rows = measurement_history(db, who, result_id)
    return [{"result_id": m.id, "date": m.sample_date, "marker": m.marker,
             "value": json.loads(m.value_given), "unit": m.unit, "comparator": m.comparator,
             "entered_at": m.entered_at.isoformat(), "entered_by": m.entered_by,
             "corrects": m.corrects_id, "reason": m.correction_reason,
             "superseded_at": m.superseded_at.isoformat() if m.superseded_at else None}
            for m in rows]


@router.patch("/patients/{key}/facts",
              summary="change a patient's stored facts; the earlier values are kept")
def change_facts(request: Request, key: Key, change: FactChange,
                 who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who)
    p = get_patient(db, who, key, permission="write")
    facts = change.model_dump(exclude_unset=True)
    reason = facts.pop("reason")
    rows = edit_patient_facts(db, who, p, facts, reason, today=today(request))
    return {"key": p.id, "version": p.version,
            "changed": [{"field": r.field, "before": json.loads(r.old_value or "null"),
                         "after": json.loads(r.new_value or "null")} for r in rows]}


def _course(t) -> dict[str, Any]:
    return {"treatment_id": t.id, "drug": t.drug, "start": t.start, "stop": t.stop,
            "dose": t.dose, "dose_unit": t.dose_unit, "interval": t.interval,
            "route": t.route, "last_dose": t.last_dose,
            "entered_at": t.entered_at.isoformat(), "entered_by": t.entered_by,
            "corrects": t.corrects_id, "reason": t.correction_reason,
            "superseded_at": t.superseded_at.isoformat() if t.superseded_at else None,
            "withdrawn": t.withdrawal_reason is not None,
            "withdrawal_reason": t.withdrawal_reason}


@router.put("/treatments/{treatment_id}",
            summary="correct a treatment course; the original is kept")
def correct_course(request: Request, treatment_id: Key, correction: TreatmentCorrection,
                   who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who)
    fields = correction.model_dump(exclude_none=True)
    reason = fields.pop("reason")
    new = correct_treatment(db, who, treatment_id, fields, reason, today=today(request))
    return {"treatment_id": new.id, "corrects": new.corrects_id}


@router.post("/treatments/{treatment_id}/withdraw",
             summary="withdraw a course entered in error; it is kept, not interpreted")
def withdraw_course(request: Request, treatment_id: Key, withdrawal: Withdrawal,
                    who: Actor = Depends(actor), db: Session = Depends(get_db)):
    check_csrf(request, who)
    return _course(withdraw_treatment(db, who, treatment_id, withdrawal.reason))


@router.get("/treatments/{treatment_id}/history",
            summary="a treatment course and its other versions, newest first")
def course_history(treatment_id: Key, who: Actor = Depends(actor),
                   db: Session = Depends(get_db)):
    return [_course(t) for t in treatment_history(db, who, treatment_id)]


_CATEGORY = Literal[tuple(k for k, _, _ in WORKLIST_CATEGORIES)]  # type: ignore[valid-type]


@router.get("/worklist", summary="patients needing action, most urgent first")
def read_worklist(request: Request, finding: str | None = Query(None, max_length=60),
                  category: _CATEGORY | None = None,  # type: ignore[valid-type]
                  who: Actor = Depends(actor), db: Session = Depends(get_db)):
    items = worklist(db, who, today=today(request), finding=finding, category=category)
    return [{"key": w.patient.id, "patient_id": w.patient.patient_id,
             "category": w.category,
             "codes": list(dict.fromkeys(f["code"] for f in w.findings)),
             "snapshot": w.snapshot.id} for w in items]
