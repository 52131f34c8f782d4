"""Every read and write of patient data: site isolation, imports, corrections, audit,
interpretation snapshots and the worklist.

Records come in through the clinical package's own readers and checks (the FHIR and
cohort loaders of :mod:`boneturnover.clinical.io`, :meth:`PatientRecord.from_dict` and the
engine's record check :func:`~boneturnover.clinical.single.normalise_records`), so a row
the command line refuses is refused here with the same message. An import is one
transaction: every patient it touches is checked as it would be stored (what is stored
plus what comes in) before anything is written, and one refused row stores nothing.

Every function takes the :class:`Actor` asking; patients of other sites are not found
(:class:`NotFound`, never "forbidden", so that their existence does not leak), and every
read or write of patient data adds an :class:`~.models.AuditEntry`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from .. import __version__
from ..clinical.catalog import CATALOG, DRUGS
from ..clinical.records import Measurement as MeasurementRecord
from ..clinical.records import PatientRecord, TreatmentRecord
from ..clinical.values import parse_bool, split_comparator, text_of
from ..errors import BoneTurnoverError, DataError, InputError
from .models import (
    AssaySetting,
    AuditEntry,
    ImportRecord,
    Interpretation,
    Measurement,
    Patient,
    PatientFactChange,
    Treatment,
    utcnow,
)
from .security import Forbidden, allowed

__all__ = ["Actor", "NotFound", "audit", "patients_of_site", "get_patient", "record_of",
           "current_measurements", "current_treatments", "check_record", "import_records",
           "import_patient_file", "import_cohort", "add_entries", "correct_measurement",
           "measurement_history", "correct_treatment", "withdraw_treatment",
           "treatment_history", "retired_treatments", "edit_patient_facts", "fact_history",
           "EDITABLE_FACTS", "report_for", "what_if", "worklist", "WORKLIST_CATEGORIES",
           "ruleset_version", "DEFAULT_RULESET", "ENTRY_FIELDS", "MEASUREMENT_EXTRA"]

#: The rule set the clinic interprets with (``boneturnover interpret``'s default).
DEFAULT_RULESET = "paper"
#: Fields a result may carry beyond the clinical layout (stored and shown, not
#: interpreted): the specimen, the assay (method or kit) and the laboratory.
MEASUREMENT_EXTRA = ("specimen", "assay", "lab")
#: The fields of the clinical layout of a result and of a treatment course.
ENTRY_FIELDS = {
    "measurements": ("date", "marker", "value", "unit", "comparator", "fasting", "time"),
    "treatments": ("drug", "start", "stop", "dose", "dose_unit", "interval", "route",
                   "last_dose"),
}

#: Worklist groups, most urgent first: (key, finding codes, rationale). A patient is
#: listed under the first group any of their findings falls in; ``RETEST_DUE`` counts
#: only once its due date has come.
WORKLIST_CATEGORIES: tuple[tuple[str, frozenset[str], str], ...] = (
    ("denosumab", frozenset({"DENOSUMAB_OVERDUE", "DENOSUMAB_REBOUND",
                             "DENOSUMAB_STOPPED_NO_TRANSITION"}),
     "a late or stopped denosumab is followed within months by a rebound of turnover and "
     "multiple vertebral fractures (seed:B31, seed:B34): act first"),
    ("inadequate", frozenset({"RESPONSE_INADEQUATE", "ANABOLIC_NO_RESPONSE",
                              "ADHERENCE_CONCERN"}),
     "treatment is not working or not taken: the plan needs changing at the next visit"),
    ("retest", frozenset({"RETEST_DUE"}),
     "a retest date has come: order the markers"),
    ("magnesium", frozenset({"MAGNESIUM_LOW", "HYPOCALCAEMIA_LOW_MAGNESIUM",
                             "CA_MG_RATIO_HIGH"}),
     "low magnesium blunts PTH secretion and action (docs/MAGNESIUM.md): correct it"),
    ("contraindication", frozenset({"CONTRAINDICATION_RENAL",
                                    "CONTRAINDICATION_HYPOCALCAEMIA"}),
     "a labelled contraindication to check before the next dose"),
)
_NO_ACTION = len(WORKLIST_CATEGORIES)


class NotFound(InputError):
    """No such patient (or result) at the asking user's site (HTTP 404)."""


@dataclass(frozen=True)
class Actor:
    """Who is asking: a signed-in user or an API token's user."""

    user_id: int | None
    username: str
    role: str
    site_id: int
    lang: str = "en"
    client: str = ""
    csrf_token: str | None = None
    via: str = "cookie"

    def require(self, permission: str) -> None:
        if not allowed(self.role, permission):
            raise Forbidden(f"role {self.role!r} may not {permission.replace('_', ' ')}")


def audit(db: Session, actor: Actor | None, action: str, *, patient: Patient | None = None,
          detail: str = "", site_id: int | None = None) -> None:
    """Add one audit entry (committed with the change or read it records)."""
    db.add(AuditEntry(
        user_id=actor.user_id if actor else None, username=actor.username if actor else "",
        site_id=site_id if site_id is not None else (actor.site_id if actor else None),
        action=action, patient_fk=patient.id if patient else None, detail=detail[:2000],
        client=actor.client if actor else ""))


# -- reading -------------------------------------------------------------------------------

def patients_of_site(db: Session, actor: Actor) -> list[Patient]:
    actor.require("read")
    return list(db.scalars(select(Patient).where(Patient.site_id == actor.site_id)
                           .order_by(Patient.patient_id)))


def get_patient(db: Session, actor: Actor, key: int | None = None, *,
                patient_id: str | None = None, permission: str = "read") -> Patient:
    """A patient of the actor's site by database key or by patient id."""
    actor.require(permission)
    q = select(Patient).where(Patient.site_id == actor.site_id)
    q = q.where(Patient.id == key) if key is not None else q.where(
        Patient.patient_id == patient_id)
    p = db.scalars(q).first()
    if p is None:
        what = f"key {key}" if key is not None else f"id {patient_id!r}"
        raise NotFound(f"patient {what}: no such patient at your site")
    return p


def current_measurements(db: Session, patient: Patient) -> list[Measurement]:
    return list(db.scalars(select(Measurement).where(
        Measurement.patient_fk == patient.id, Measurement.superseded_at.is_(None))
        .order_by(Measurement.seq, Measurement.id)))


def current_treatments(db: Session, patient: Patient) -> list[Treatment]:
    return list(db.scalars(select(Treatment).where(
        Treatment.patient_fk == patient.id, Treatment.superseded_at.is_(None))
        .order_by(Treatment.seq, Treatment.id)))


def _assay(db: Session, site_id: int, meas: Sequence[Measurement]) -> dict[str, dict]:
    """The ``[assay]`` overrides of a patient: for each marker, the settings of the
    laboratory of its latest result, else the site's default laboratory (``lab`` "")."""
    settings = {(s.lab, s.marker): s for s in db.scalars(
        select(AssaySetting).where(AssaySetting.site_id == site_id))}
    if not settings:
        return {}
    latest: dict[str, str] = {}
    for m in sorted(meas, key=lambda m: (m.sample_date, m.id)):
        mid = CATALOG.find(m.marker) or m.marker
        latest[mid] = m.lab or ""
    out = {}
    for mid, lab in latest.items():
        s = settings.get((lab, mid)) or settings.get(("", mid))
        if s is not None:
            out[mid] = {k: getattr(s, k) for k in ("ri_low", "ri_high", "unit", "cva_pct",
                                                    "cvi_pct", "lsc_pct")
                        if getattr(s, k) is not None}
    return out


def record_of(db: Session, patient: Patient) -> PatientRecord:
    """The patient as the clinical engine reads them (current results and courses, in the
    order they were given; the laboratory settings of :func:`_assay`)."""
    meas = current_measurements(db, patient)
    return PatientRecord(
        patient_id=patient.patient_id, birth_date=patient.birth_date, ckd=patient.ckd,
        glucocorticoids=patient.glucocorticoids,
        calcium_supplement_mg_d=patient.calcium_supplement_mg_d,
        magnesium_supplement_mg_d=patient.magnesium_supplement_mg_d,
        measurements=tuple(MeasurementRecord(
            date=m.sample_date, marker=m.marker, value=json.loads(m.value_given),
            unit=m.unit, fasting=m.fasting, time=m.sample_time, source=m.source,
            comparator=m.comparator, preliminary=m.preliminary) for m in meas),
        treatments=tuple(TreatmentRecord(
            drug=t.drug, start=t.start, stop=t.stop, dose=t.dose, dose_unit=t.dose_unit,
            interval=t.interval, route=t.route, last_dose=t.last_dose, source=t.source)
            for t in current_treatments(db, patient)),
        assay={**_assay(db, patient.site_id, meas), **json.loads(patient.assay_json or "{}")},
        ignored=tuple(json.loads(patient.ignored_json or "[]")),
    )


# -- checking ------------------------------------------------------------------------------

def _today_day(today: str | dt.date) -> int:
    from ..clinical.engine import resolve_today

    return resolve_today(today)


def check_record(record: PatientRecord, today: str | dt.date) -> None:
    """Refuse a record the engine would refuse (:class:`DataError` naming the row, the
    field, the value and what was expected), with the engine's own check."""
    from ..clinical.single import normalise_records

    cat = CATALOG.with_overrides(record.assay)
    _, errors = normalise_records(record, catalog=cat, drugs=DRUGS, today=_today_day(today))
    if errors:
        more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise DataError(f"patient {record.patient_id}: {errors[0][3]}{more}")


_FACTS = ("birth_date", "ckd", "glucocorticoids", "calcium_supplement_mg_d",
          "magnesium_supplement_mg_d")


def _fact(name: str, v: Any) -> Any:
    """A patient fact as stored: booleans and numbers typed (the record was checked)."""
    t = text_of(v)
    if t == "":
        return None
    if name in ("ckd", "glucocorticoids"):
        if isinstance(v, bool):
            return v
        b = parse_bool(t)
        return None if b is None or math.isnan(b) else bool(b)
    if name.endswith("_mg_d"):
        return float(v) if not isinstance(v, str) else float(t)
    return t


def _merge(stored: PatientRecord | None, new: PatientRecord,
           own_assay: Mapping[str, Any], retired: Iterable[tuple] = ()) -> PatientRecord:
    """What the patient would be after the import; a fact or a patient's own laboratory
    value (``own_assay``) that differs from the stored one is refused. A course that was
    corrected or withdrawn (``retired``, keys of :func:`_tkey`) is not added again when a
    file that holds it is uploaded again."""
    if stored is None:
        return new
    for marker, values in new.assay.items():
        if marker in own_assay and dict(own_assay[marker]) != dict(values):
            raise DataError(f"patient {new.patient_id}: [assay.{marker}] = {dict(values)!r} "
                            f"differs from the stored {dict(own_assay[marker])!r}; expected "
                            "the stored values or none (a patient file's [assay] tables and "
                            "a cohort's assays.toml are stored with each patient)")
    facts = {}
    for name in _FACTS:
        old, got = getattr(stored, name), _fact(name, getattr(new, name))
        if got is not None and old is not None and got != old:
            raise DataError(f"patient {new.patient_id}: {name} = {getattr(new, name)!r} "
                            f"differs from the stored {old!r}; expected the stored value or "
                            "none (an import adds results and courses; it does not change "
                            "a stored fact: change it with the patient page's form "
                            "'Edit the patient's facts')")
        facts[name] = old if old is not None else getattr(new, name)
    seen_m = {_mkey(m) for m in stored.measurements}
    seen_t = {_tkey(t) for t in stored.treatments} | set(retired)
    return replace(
        stored, **facts,
        assay={**stored.assay, **new.assay},
        measurements=stored.measurements + tuple(m for m in new.measurements
                                                 if _mkey(m) not in seen_m),
        treatments=stored.treatments + tuple(t for t in new.treatments
                                             if _tkey(t) not in seen_t),
        ignored=stored.ignored + tuple(i for i in new.ignored if i not in stored.ignored))


def _mkey(m: MeasurementRecord) -> tuple:
    return (m.date, CATALOG.find(m.marker) or m.marker, text_of(m.value), m.unit,
            text_of(m.time), text_of(m.comparator))


def _tkey(t: TreatmentRecord) -> tuple:
    return (DRUGS.find(t.drug) or t.drug, t.start, text_of(t.stop), text_of(t.last_dose),
            text_of(t.interval), text_of(t.route))


# -- writing -------------------------------------------------------------------------------

def _value_number(m: MeasurementRecord) -> tuple[float | None, str | None]:
    """(the value as a number in its unit, its comparator) of a checked result."""
    comp, rest = split_comparator(m.value)
    try:
        num = float(rest) if not isinstance(rest, bool) else None
    except (TypeError, ValueError):
        num = None
    return num, (m.comparator or comp or None)


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool) or v is None:
        return v
    b = parse_bool(text_of(v))
    return None if b is None or math.isnan(b) else bool(b)


def _float(v: Any) -> float | None:
    t = text_of(v)
    return None if t == "" else float(v) if not isinstance(v, str) else float(t)


def _text(v: Any) -> str | None:
    t = text_of(v)
    return t or None


def import_records(db: Session, actor: Actor, records: Sequence[PatientRecord], *,
                   kind: str, filename: str = "", today: str | dt.date,
                   extras: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
                   create: bool = True, permission: str = "write") -> ImportRecord:
    """Store ``records`` (new patients, or new rows of stored ones) in one transaction.

    Every record is checked merged with what is stored before anything is written; the
    first refusal raises :class:`DataError` naming the patient, the row and the field,
    and nothing is stored. ``extras`` maps (patient id, row source) to the fields of
    :data:`MEASUREMENT_EXTRA`. With ``create=False`` an unknown patient is refused
    (results posted by a laboratory are for known patients).
    """
    actor.require(permission)
    ids = [r.patient_id for r in records]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise DataError(f"patient id(s) {dup} appear more than once in the import; expected "
                        "one entry per patient")
    plan = []
    for rec in records:
        stored = db.scalars(select(Patient).where(Patient.site_id == actor.site_id,
                                                  Patient.patient_id == rec.patient_id)).first()
        if stored is None and not create:
            raise NotFound(f"patient_id {rec.patient_id!r}: no such patient at your site; "
                           "expected a patient entered at the clinic first")
        before = record_of(db, stored) if stored is not None else None
        own = json.loads(stored.assay_json or "{}") if stored is not None else {}
        retired = [_tkey(t) for t in retired_treatments(db, stored)] if stored else []
        merged = _merge(before, rec, own, retired)
        check_record(merged, today)
        plan.append((stored, before, merged, {**own, **rec.assay}))
    imp = ImportRecord(site_id=actor.site_id, user_id=actor.user_id, kind=kind,
                       filename=filename[:300])
    db.add(imp)
    db.flush()
    extras = extras or {}
    for stored, before, merged, own in plan:
        if stored is None:
            stored = Patient(site_id=actor.site_id, patient_id=merged.patient_id,
                             created_by=actor.user_id, version=1)
            db.add(stored)
        else:
            stored.version += 1
        for name in _FACTS:
            setattr(stored, name, _fact(name, getattr(merged, name)))
        stored.ignored_json = json.dumps(list(merged.ignored), ensure_ascii=False)
        stored.assay_json = json.dumps(own, ensure_ascii=False, allow_nan=False)
        db.flush()
        n_old_m = len(before.measurements) if before else 0
        n_old_t = len(before.treatments) if before else 0
        new_m, new_t = merged.measurements[n_old_m:], merged.treatments[n_old_t:]
        for seq, m in enumerate(new_m, n_old_m + 1):
            num, comp = _value_number(m)
            extra = extras.get((merged.patient_id, m.source), {})
            db.add(Measurement(
                patient_fk=stored.id, import_id=imp.id, seq=seq, sample_date=m.date,
                sample_time=_text(m.time), marker=m.marker,
                value_given=json.dumps(m.value, ensure_ascii=False), value=num, unit=m.unit,
                comparator=comp if m.comparator is None else m.comparator,
                fasting=_bool(m.fasting), preliminary=bool(m.preliminary),
                specimen=_text(extra.get("specimen")), assay=_text(extra.get("assay")),
                lab=_text(extra.get("lab")), source=m.source, entered_by=actor.user_id))
        for seq, t in enumerate(new_t, n_old_t + 1):
            db.add(Treatment(
                patient_fk=stored.id, import_id=imp.id, seq=seq, drug=t.drug, start=t.start,
                stop=_text(t.stop), dose=_float(t.dose), dose_unit=_text(t.dose_unit),
                interval=_text(t.interval), route=_text(t.route),
                last_dose=_text(t.last_dose), source=t.source, entered_by=actor.user_id))
        imp.n_patients += 1
        imp.n_measurements += len(new_m)
        imp.n_treatments += len(new_t)
        audit(db, actor, f"import-{kind}", patient=stored,
              detail=f"import {imp.id} {filename}: {len(new_m)} result(s), "
                     f"{len(new_t)} course(s)")
    db.commit()
    return imp


def _upload_name(filename: str, suffixes: tuple[str, ...], default: str) -> str:
    name = Path(filename or default).name
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-100:] or default
    if not safe.lower().endswith(suffixes):
        raise InputError(f"{name}: expected a {' or '.join(suffixes)} file")
    return safe


@contextmanager
def _named_as_uploaded(work: str):
    """The loaders name files by their path: name an upload by its own name instead of
    the temporary folder it was read from."""
    try:
        yield
    except InputError as exc:
        text = str(exc).replace(f"{work}/", "").replace(work, "the upload")
        raise type(exc)(text) from None


def import_patient_file(db: Session, actor: Actor, data: bytes, filename: str, *,
                        today: str | dt.date) -> ImportRecord:
    """Import one patient file: a FHIR R4 Bundle (``.json``) or the patient layout of
    ``docs/CLINICAL.md`` (``.toml`` or ``.json``), read by the clinical loader
    :func:`~boneturnover.clinical.io.load_patient`."""
    from ..clinical.io import load_patient

    name = _upload_name(filename, (".json", ".toml"), "bundle.json")
    with tempfile.TemporaryDirectory(prefix="boneturnover-upload-") as work:
        path = Path(work) / name
        path.write_bytes(data)
        with _named_as_uploaded(work):
            record = load_patient(path)
    kind = "fhir" if record.measurements and all(
        m.source.startswith("Observation/") for m in record.measurements) else "file"
    return import_records(db, actor, [replace(record, as_of=None)], kind=kind,
                          filename=name, today=today)


#: The files of a cohort upload (``docs/CLINICAL.md``, "Cohort").
COHORT_FILES = ("patients.csv", "measurements.csv", "treatments.csv", "assays.toml")


def import_cohort(db: Session, actor: Actor, files: Mapping[str, bytes], *,
                  today: str | dt.date) -> ImportRecord:
    """Import a cohort (``patients.csv``, ``measurements.csv``, optional ``treatments.csv``
    and ``assays.toml``) read by the clinical cohort loader; all patients or none.

    ``assays.toml`` is applied as ``boneturnover cohort`` applies it: its
    ``[assay.<MARKER>]`` tables are the laboratory overrides of every patient of the
    cohort (one laboratory), stored with each patient as a patient file's own ``[assay]``
    tables are, so they win over the site's assay settings for those patients and touch
    no other patient of the site."""
    from ..clinical.io import load_cohort

    with tempfile.TemporaryDirectory(prefix="boneturnover-cohort-") as work:
        for name, data in files.items():
            if name not in COHORT_FILES:
                raise InputError(f"{name}: expected one of {', '.join(COHORT_FILES)}")
            if data:
                (Path(work) / name).write_bytes(data)
        with _named_as_uploaded(work):
            cohort = load_cohort(work)
    try:  # the catalogue's checks (accepted units, known markers, low below high)
        CATALOG.with_overrides(cohort.assay)
    except BoneTurnoverError as exc:
        raise DataError(f"assays.toml: {exc}; nothing was imported") from None
    errs = cohort.row_errors
    if len(errs):
        more = f" ({len(errs) - 1} more)" if len(errs) > 1 else ""
        raise DataError(f"{errs.iloc[0]['message']}{more}; nothing was imported")
    pids = [str(p) for p in cohort.patients["patient_id"]]
    dup = sorted({p for p in pids if pids.count(p) > 1})
    if dup:
        raise DataError(f"patients.csv: patient_id {dup[0]!r} appears more than once; "
                        "expected one row per patient")
    known = set(pids)
    for frame in (cohort.measurements, cohort.treatments):
        for pid, src in zip(frame["patient_id"], frame["source"], strict=True):
            if str(pid) not in known:
                raise DataError(f"{src}: patient_id {str(pid)!r} is not in patients.csv; "
                                "expected a patient of patients.csv")
    records = [cohort.patient(p) for p in pids]
    return import_records(db, actor, records, kind="cohort",
                          filename=", ".join(n for n in files if files[n]), today=today)


def add_entries(db: Session, actor: Actor, patient_id: str, *,
                patient: Mapping[str, Any] | None = None,
                measurements: Sequence[Mapping[str, Any]] = (),
                treatments: Sequence[Mapping[str, Any]] = (),
                kind: str = "form", today: str | dt.date, create: bool = True,
                permission: str = "write") -> ImportRecord:
    """Store entries given in the clinical layout (a form, the API): the patient's facts,
    results (with :data:`MEASUREMENT_EXTRA`) and courses, checked by
    :meth:`PatientRecord.from_dict` and the engine, all or nothing."""
    extras: dict[tuple[str, str], dict[str, Any]] = {}
    meas = []
    for i, m in enumerate(measurements, 1):
        if not isinstance(m, Mapping):
            raise DataError(f"measurements[{i}]: expected an object, got {m!r:.40}")
        extras[(patient_id, f"measurements[{i}]")] = {k: m[k] for k in MEASUREMENT_EXTRA
                                                      if k in m}
        meas.append({k: v for k, v in m.items() if k not in MEASUREMENT_EXTRA})
    layout = {"patient": {"id": patient_id, **{k: v for k, v in (patient or {}).items()
                                               if k != "id"}},
              "measurements": meas, "treatments": list(treatments)}
    record = PatientRecord.from_dict(layout, kind)
    return import_records(db, actor, [record], kind=kind, today=today, extras=extras,
                          create=create, permission=permission)


def _find_measurement(db: Session, actor: Actor, measurement_id: int) -> tuple[Measurement,
                                                                                Patient]:
    m = db.get(Measurement, measurement_id)
    p = db.get(Patient, m.patient_fk) if m is not None else None
    if m is None or p is None or p.site_id != actor.site_id:
        raise NotFound(f"result {measurement_id}: no such result at your site")
    return m, p


def correct_measurement(db: Session, actor: Actor, measurement_id: int,
                        fields: Mapping[str, Any], reason: str, *,
                        today: str | dt.date) -> Measurement:
    """Replace a result by a corrected one; the original stays, marked superseded, with
    who did it and when (:func:`measurement_history`)."""
    actor.require("write")
    old, patient = _find_measurement(db, actor, measurement_id)
    if old.superseded_at is not None:
        raise DataError(f"result {measurement_id}: already corrected; correct the current "
                        "result instead")
    if not reason or not reason.strip():
        raise DataError("reason: empty; say why the result is corrected")
    layout_fields = {k: v for k, v in fields.items() if k not in MEASUREMENT_EXTRA}
    given = {"date": old.sample_date, "marker": old.marker,
             "value": json.loads(old.value_given), "unit": old.unit,
             "comparator": old.comparator, "fasting": old.fasting, "time": old.sample_time}
    given.update(layout_fields)
    given = {k: v for k, v in given.items() if v is not None and v != ""}
    new_rec = PatientRecord.from_dict({"patient": {"id": patient.patient_id},
                                       "measurements": [given]}, "correction")
    nm = replace(new_rec.measurements[0], source=old.source)
    record = record_of(db, patient)
    keys = [m.id for m in current_measurements(db, patient)]
    rows = list(record.measurements)
    rows[keys.index(old.id)] = nm
    check_record(replace(record, measurements=tuple(rows)), today)
    num, comp = _value_number(nm)
    new = Measurement(
        patient_fk=patient.id, import_id=old.import_id, seq=old.seq, sample_date=nm.date,
        sample_time=_text(nm.time), marker=nm.marker,
        value_given=json.dumps(nm.value, ensure_ascii=False), value=num, unit=nm.unit,
        comparator=comp, fasting=_bool(nm.fasting), preliminary=old.preliminary,
        specimen=_text(fields.get("specimen", old.specimen)),
        assay=_text(fields.get("assay", old.assay)), lab=_text(fields.get("lab", old.lab)),
        source=old.source, entered_by=actor.user_id, corrects_id=old.id,
        correction_reason=reason.strip())
    db.add(new)
    old.superseded_at, old.superseded_by = utcnow(), actor.user_id
    patient.version += 1
    db.flush()
    audit(db, actor, "correct-result", patient=patient,
          detail=f"result {old.id} -> {new.id}: {reason.strip()}")
    db.commit()
    return new


def measurement_history(db: Session, actor: Actor, measurement_id: int) -> list[Measurement]:
    """The result and every earlier version it corrects, newest first."""
    actor.require("read")
    m, patient = _find_measurement(db, actor, measurement_id)
    out = [m]
    while out[-1].corrects_id is not None:
        out.append(db.get(Measurement, out[-1].corrects_id))
    later = m
    while True:
        nxt = db.scalars(select(Measurement).where(Measurement.corrects_id == later.id)).first()
        if nxt is None:
            break
        out.insert(0, nxt)
        later = nxt
    audit(db, actor, "read-history", patient=patient, detail=f"result {measurement_id}")
    db.commit()
    return out


def _find_treatment(db: Session, actor: Actor, treatment_id: int) -> tuple[Treatment, Patient]:
    t = db.get(Treatment, treatment_id)
    p = db.get(Patient, t.patient_fk) if t is not None else None
    if t is None or p is None or p.site_id != actor.site_id:
        raise NotFound(f"treatment {treatment_id}: no such treatment course at your site")
    return t, p


def _current_treatment(t: Treatment, treatment_id: int, what: str) -> None:
    if t.withdrawal_reason is not None:
        raise DataError(f"treatment {treatment_id}: withdrawn ({t.withdrawal_reason}); "
                        f"expected a current course to {what}")
    if t.superseded_at is not None:
        raise DataError(f"treatment {treatment_id}: already corrected; {what} the current "
                        "course instead")


def _reason(reason: str | None, what: str) -> str:
    if not reason or not reason.strip():
        raise DataError(f"reason: empty; say why the {what}")
    return reason.strip()


def correct_treatment(db: Session, actor: Actor, treatment_id: int,
                      fields: Mapping[str, Any], reason: str, *,
                      today: str | dt.date) -> Treatment:
    """Replace a treatment course by a corrected one (drug, dates, dose, ...; a field
    given as ``""`` is cleared, one not given keeps its value). The original stays,
    marked superseded with who and when (:func:`treatment_history`); the corrected record
    is checked by the engine as any entry."""
    actor.require("write")
    old, patient = _find_treatment(db, actor, treatment_id)
    _current_treatment(old, treatment_id, "correct")
    why = _reason(reason, "course is corrected")
    unknown = sorted(set(fields) - set(ENTRY_FIELDS["treatments"]))
    if unknown:
        raise DataError(f"treatment {treatment_id}: unknown field(s) {unknown}; expected "
                        f"{', '.join(ENTRY_FIELDS['treatments'])}")
    given = {k: getattr(old, k) for k in ENTRY_FIELDS["treatments"]}
    given.update(fields)
    given = {k: v for k, v in given.items() if v is not None and v != ""}
    new_rec = PatientRecord.from_dict({"patient": {"id": patient.patient_id},
                                       "treatments": [given]}, "correction")
    nt = replace(new_rec.treatments[0], source=old.source)
    record = record_of(db, patient)
    keys = [t.id for t in current_treatments(db, patient)]
    rows = list(record.treatments)
    rows[keys.index(old.id)] = nt
    check_record(replace(record, treatments=tuple(rows)), today)
    new = Treatment(
        patient_fk=patient.id, import_id=old.import_id, seq=old.seq, drug=nt.drug,
        start=nt.start, stop=_text(nt.stop), dose=_float(nt.dose),
        dose_unit=_text(nt.dose_unit), interval=_text(nt.interval), route=_text(nt.route),
        last_dose=_text(nt.last_dose), source=old.source, entered_by=actor.user_id,
        corrects_id=old.id, correction_reason=why)
    db.add(new)
    old.superseded_at, old.superseded_by = utcnow(), actor.user_id
    patient.version += 1
    db.flush()
    audit(db, actor, "correct-treatment", patient=patient,
          detail=f"treatment {old.id} -> {new.id}: {why}")
    db.commit()
    return new


def withdraw_treatment(db: Session, actor: Actor, treatment_id: int, reason: str) -> Treatment:
    """Withdraw a course entered in error: it stays, marked superseded (by nothing) with
    who, when and why, and the interpretation no longer reads it."""
    actor.require("write")
    old, patient = _find_treatment(db, actor, treatment_id)
    _current_treatment(old, treatment_id, "withdraw")
    why = _reason(reason, "course is withdrawn")
    old.superseded_at, old.superseded_by = utcnow(), actor.user_id
    old.withdrawal_reason = why
    patient.version += 1
    audit(db, actor, "withdraw-treatment", patient=patient,
          detail=f"treatment {old.id}: {why}")
    db.commit()
    return old


def treatment_history(db: Session, actor: Actor, treatment_id: int) -> list[Treatment]:
    """The course and every version of it, before and after, newest first."""
    actor.require("read")
    t, patient = _find_treatment(db, actor, treatment_id)
    out = [t]
    while out[-1].corrects_id is not None:
        out.append(db.get(Treatment, out[-1].corrects_id))
    later = t
    while True:
        nxt = db.scalars(select(Treatment).where(Treatment.corrects_id == later.id)).first()
        if nxt is None:
            break
        out.insert(0, nxt)
        later = nxt
    audit(db, actor, "read-history", patient=patient, detail=f"treatment {treatment_id}")
    db.commit()
    return out


def retired_treatments(db: Session, patient: Patient) -> list[Treatment]:
    """The patient's courses that were corrected or withdrawn (kept, not interpreted)."""
    return list(db.scalars(select(Treatment).where(
        Treatment.patient_fk == patient.id, Treatment.superseded_at.is_not(None))
        .order_by(Treatment.seq, Treatment.id)))


#: The patient facts a clinician may edit (:func:`edit_patient_facts`): every fact the
#: patient table keeps, as the clinical layout's ``[patient]`` table names them.
EDITABLE_FACTS = _FACTS


def edit_patient_facts(db: Session, actor: Actor, patient: Patient,
                       facts: Mapping[str, Any], reason: str, *,
                       today: str | dt.date) -> list[PatientFactChange]:
    """Change stored facts of a patient (a fact given as ``None`` or ``""`` becomes not
    recorded; one not given keeps its value). Each changed fact keeps its earlier value
    in ``patient_fact_history`` with who, when and why (:func:`fact_history`); the new
    facts are checked as the clinical layout's ``[patient]`` table and by the engine."""
    actor.require("write")
    if patient.site_id != actor.site_id:
        raise NotFound(f"patient key {patient.id}: no such patient at your site")
    unknown = sorted(set(facts) - set(EDITABLE_FACTS))
    if unknown:
        raise DataError(f"patient {patient.patient_id}: unknown fact(s) {unknown}; expected "
                        f"{', '.join(EDITABLE_FACTS)}")
    why = _reason(reason, "facts are changed")
    given = {k: (None if v == "" else v) for k, v in facts.items()}
    PatientRecord.from_dict({"patient": {"id": patient.patient_id, **{
        k: v for k, v in given.items() if v is not None}}}, "facts")
    raw = {k: given[k] if k in given else getattr(patient, k) for k in EDITABLE_FACTS}
    check_record(replace(record_of(db, patient), **raw), today)
    after = {k: _fact(k, v) for k, v in raw.items()}
    changed = [k for k in EDITABLE_FACTS if after[k] != getattr(patient, k)]
    if not changed:
        raise DataError(f"patient {patient.patient_id}: the facts given are the stored "
                        "ones; expected at least one changed fact")
    rows = []
    for k in changed:
        rows.append(PatientFactChange(
            patient_fk=patient.id, field=k,
            old_value=json.dumps(getattr(patient, k), ensure_ascii=False),
            new_value=json.dumps(after[k], ensure_ascii=False), reason=why,
            changed_by=actor.user_id))
        setattr(patient, k, after[k])
    db.add_all(rows)
    patient.version += 1
    audit(db, actor, "edit-facts", patient=patient, detail="; ".join(
        f"{r.field}: {r.old_value} -> {r.new_value}" for r in rows) + f" ({why})")
    db.commit()
    return rows


def fact_history(db: Session, patient: Patient) -> list[PatientFactChange]:
    """Every change of the patient's facts, newest first (read with the patient page)."""
    return list(db.scalars(select(PatientFactChange).where(
        PatientFactChange.patient_fk == patient.id)
        .order_by(PatientFactChange.id.desc())))


# -- interpretation ------------------------------------------------------------------------

@cache
def ruleset_version(ruleset: str = DEFAULT_RULESET) -> str:
    """The rule set, the package version and a digest of the rule and knowledge data the
    engine reads (``paper 0.1.0 sha256:...``): two snapshots with the same version were
    made by the same rules."""
    h = hashlib.sha256()
    for pkg in ("boneturnover.clinical", "boneturnover.knowledge"):
        folder = resources.files(pkg) / "data"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                h.update(entry.name.encode())
                h.update(entry.read_bytes())
    return f"{ruleset} {__version__} sha256:{h.hexdigest()[:16]}"


def _urgency(findings: Iterable[Mapping[str, Any]], today: str) -> int:
    best = _NO_ACTION
    for f in findings:
        for rank, (key, codes, _) in enumerate(WORKLIST_CATEGORIES):
            if f["code"] not in codes:
                continue
            if key == "retest":
                due = (f.get("numbers") or {}).get("due_date")
                if not due or due > today:
                    continue
            best = min(best, rank)
    return best


def report_for(db: Session, actor: Actor, patient: Patient, *, today: str,
               ruleset: str = DEFAULT_RULESET, audit_action: str | None = "read-patient"):
    """(report, snapshot): the engine's report of the patient's current data on ``today``
    and the snapshot that records it (made now unless one of the same data version, date
    and rule set exists)."""
    from ..clinical.engine import interpret

    actor.require("read")
    record = record_of(db, patient)
    report = interpret(record, ruleset=ruleset, today=today)
    snap = _snapshot(db, actor, patient, today, ruleset, report=report)
    if audit_action:
        audit(db, actor, audit_action, patient=patient, detail=f"snapshot {snap.id}")
    db.commit()
    return report, record, snap


def _snapshot(db: Session, actor: Actor, patient: Patient, today: str, ruleset: str, *,
              report=None) -> Interpretation:
    version = ruleset_version(ruleset)
    snap = db.scalars(select(Interpretation).where(
        Interpretation.patient_fk == patient.id,
        Interpretation.patient_version == patient.version,
        Interpretation.today == today, Interpretation.ruleset_version == version)
        .order_by(Interpretation.id.desc())).first()
    if snap is not None:
        return snap
    error = None
    if report is None:
        from ..clinical.engine import interpret

        try:
            report = interpret(record_of(db, patient), ruleset=ruleset, today=today)
        except InputError as exc:
            error = str(exc)
    data = report.to_dict() if report is not None else {"findings": []}
    snap = Interpretation(
        patient_fk=patient.id, patient_version=patient.version, today=today,
        ruleset=ruleset, ruleset_version=version,
        report_json=json.dumps(data, ensure_ascii=False, allow_nan=False),
        codes=",".join(dict.fromkeys(f"{f['code']}:{f['severity']}"
                                     for f in data["findings"])),
        urgency=0 if error else _urgency(data["findings"], today), error=error,
        created_by=actor.user_id)
    db.add(snap)
    db.flush()
    return snap


def what_if(db: Session, actor: Actor, patient: Patient, *, today: str,
            measurements: Sequence[Mapping[str, Any]] = (),
            treatments: Sequence[Mapping[str, Any]] = (),
            ruleset: str = DEFAULT_RULESET):
    """The report the patient would have with ``measurements`` and ``treatments`` added
    (the clinical layout; checked as any entry): nothing is stored but the audit entry."""
    from ..clinical.engine import interpret

    actor.require("read")
    extra = PatientRecord.from_dict({"patient": {"id": patient.patient_id},
                                     "measurements": list(measurements),
                                     "treatments": list(treatments)}, "what-if")
    record = record_of(db, patient)
    n = len(record.measurements)
    hypo = replace(record,
                   measurements=record.measurements + tuple(
                       replace(m, source=f"what-if {m.source}") for m in extra.measurements),
                   treatments=record.treatments + tuple(
                       replace(t, source=f"what-if {t.source}") for t in extra.treatments))
    check_record(hypo, today)
    report = interpret(hypo, ruleset=ruleset, today=today)
    audit(db, actor, "what-if", patient=patient,
          detail=f"{len(hypo.measurements) - n} result(s), {len(extra.treatments)} course(s)")
    db.commit()
    return report


@dataclass(frozen=True)
class WorkItem:
    patient: Patient
    category: str | None
    rank: int
    findings: tuple[Mapping[str, Any], ...]
    snapshot: Interpretation


def worklist(db: Session, actor: Actor, *, today: str, finding: str | None = None,
             category: str | None = None, ruleset: str = DEFAULT_RULESET,
             everyone: bool = False) -> list[WorkItem]:
    """The site's patients needing action, most urgent first (:data:`WORKLIST_CATEGORIES`;
    then alerts before warnings, then patient id). ``finding`` keeps patients with that
    finding code, ``category`` those of one group; ``everyone`` lists patients needing no
    action too (last)."""
    actor.require("read")
    keys = [k for k, _, _ in WORKLIST_CATEGORIES]
    if category is not None and category not in keys:
        raise InputError(f"category {category!r}: expected one of {', '.join(keys)}")
    if finding is not None and finding not in _codes():
        raise InputError(f"finding {finding!r}: not a finding code; expected one of "
                         f"{', '.join(sorted(_codes()))}")
    items = []
    patients = patients_of_site(db, actor)
    version = ruleset_version(ruleset)
    made: dict[tuple[int, int], Interpretation] = {}
    for snap in db.scalars(select(Interpretation).join(
            Patient, Patient.id == Interpretation.patient_fk).where(
            Patient.site_id == actor.site_id, Interpretation.today == today,
            Interpretation.ruleset_version == version).order_by(Interpretation.id)
            .options(defer(Interpretation.report_json))):
        made[(snap.patient_fk, snap.patient_version)] = snap
    for p in patients:
        snap = made.get((p.id, p.version)) or _snapshot(db, actor, p, today, ruleset)
        findings = tuple({"code": c, "severity": sv} for c, _, sv in
                         (x.partition(":") for x in snap.codes.split(",") if x))
        if finding and all(f["code"] != finding for f in findings):
            continue
        rank = snap.urgency
        cat = keys[rank] if rank < _NO_ACTION else None
        if category and cat != category:
            continue
        if rank == _NO_ACTION and not (everyone or finding):
            continue
        items.append(WorkItem(p, cat, rank, findings, snap))
    sev = {"alert": 0, "warning": 1, "info": 2}
    items.sort(key=lambda w: (w.rank, min((sev.get(f["severity"], 3) for f in w.findings),
                                          default=3), w.patient.patient_id))
    audit(db, actor, "read-worklist", detail=f"{len(items)} patient(s)")
    db.commit()
    return items


@cache
def _codes() -> frozenset[str]:
    from ..clinical.rules import RULES

    return frozenset(r.code for r in RULES)


def now_date(clock: Callable[[], dt.datetime] | None = None) -> str:
    return (clock or utcnow)().date().isoformat()
