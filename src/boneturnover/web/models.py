"""The clinic's tables (SQLAlchemy 2 declarative models).

Every patient belongs to a site, and every query of patient data is filtered by the
site of the user asking (:mod:`.store`). Results and treatments are never updated in
place: a correction adds a new row that names the one it corrects (``corrects_id``) and
marks the original superseded, with who did it and when, so the history stays readable.
The schema is created and changed only by the Alembic migrations in
:mod:`boneturnover.web.migrations` (``tests/web/test_db.py`` checks that they match these
models).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Site", "User", "Login", "ApiToken", "Patient", "Measurement",
           "Treatment", "AssaySetting", "Interpretation", "ImportRecord", "AuditEntry",
           "PatientFactChange", "SignInAttempt", "ROLES", "utcnow"]

#: Roles: ``admin`` manages users, sites, tokens and assay settings; ``clinician`` reads,
#: enters and interprets patient data of their site; ``lab`` posts results.
ROLES = ("admin", "clinician", "lab")


def utcnow() -> dt.datetime:
    """The current time, UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    lang: Mapped[str] = mapped_column(String(5), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Login(Base):
    """One signed-in browser: the cookie holds a random token, the table its SHA-256."""

    __tablename__ = "logins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token of a user (a laboratory system); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("site_id", "patient_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    patient_id: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[str | None] = mapped_column(String(10))
    ckd: Mapped[bool | None] = mapped_column(Boolean)
    glucocorticoids: Mapped[bool | None] = mapped_column(Boolean)
    calcium_supplement_mg_d: Mapped[float | None] = mapped_column(Float)
    magnesium_supplement_mg_d: Mapped[float | None] = mapped_column(Float)
    #: What a FHIR import read but did not use (JSON list), shown in the report's input
    #: summary as the command line shows it.
    ignored_json: Mapped[str] = mapped_column(Text, default="[]")
    #: The patient file's own ``[assay]`` tables (JSON object): they win over the site's
    #: laboratory settings for this patient, as they do for ``boneturnover interpret``.
    assay_json: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    #: Raised by every change of the patient's data (snapshots name the version they read).
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ImportRecord(Base):
    """One import (a FHIR bundle, a cohort, a form, an API post): all rows or none."""

    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(300), default="")
    n_patients: Mapped[int] = mapped_column(Integer, default=0)
    n_measurements: Mapped[int] = mapped_column(Integer, default=0)
    n_treatments: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Measurement(Base):
    __tablename__ = "measurements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"))
    #: Place in the patient's record (a correction takes the place of the row it corrects).
    seq: Mapped[int] = mapped_column(Integer, default=0)
    sample_date: Mapped[str] = mapped_column(String(10))
    sample_time: Mapped[str | None] = mapped_column(String(8))
    marker: Mapped[str] = mapped_column(String(50))
    #: The value exactly as given, as a JSON literal (``0.65``, ``24``, ``"<0.03"``), so
    #: that the record read back is the record given.
    value_given: Mapped[str] = mapped_column(String(100))
    #: The value as a number in ``unit`` when it was given as one (for queries).
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(50))
    comparator: Mapped[str | None] = mapped_column(String(2))
    fasting: Mapped[bool | None] = mapped_column(Boolean)
    preliminary: Mapped[bool] = mapped_column(Boolean, default=False)
    specimen: Mapped[str | None] = mapped_column(String(100))
    assay: Mapped[str | None] = mapped_column(String(200))
    lab: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(300), default="")
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("measurements.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Treatment(Base):
    __tablename__ = "treatments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    drug: Mapped[str] = mapped_column(String(100))
    start: Mapped[str] = mapped_column(String(10))
    stop: Mapped[str | None] = mapped_column(String(10))
    dose: Mapped[float | None] = mapped_column(Float)
    dose_unit: Mapped[str | None] = mapped_column(String(50))
    interval: Mapped[str | None] = mapped_column(String(50))
    route: Mapped[str | None] = mapped_column(String(20))
    last_dose: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(300), default="")
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("treatments.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Why the course was withdrawn (entered in error): superseded with no row replacing it.
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)


class PatientFactChange(Base):
    """One change of a stored patient fact (``birth_date``, ``ckd``, ...): the value
    before and after (JSON literals; ``null`` for not recorded), why, who and when. The
    patient row holds the current value; this table keeps every earlier one."""

    __tablename__ = "patient_fact_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    field: Mapped[str] = mapped_column(String(50))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SignInAttempt(Base):
    """One sign-in attempt from a client address within the rate limit's window: the
    count lives in the database so that every server process sees the same one."""

    __tablename__ = "sign_in_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class AssaySetting(Base):
    """A laboratory's own reference interval, CVs or LSC for one marker (``lab`` ``""``:
    the site's default laboratory); the fields of an ``[assay.<MARKER>]`` table."""

    __tablename__ = "assay_settings"
    __table_args__ = (UniqueConstraint("site_id", "lab", "marker"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    lab: Mapped[str] = mapped_column(String(200), default="")
    marker: Mapped[str] = mapped_column(String(50))
    ri_low: Mapped[float | None] = mapped_column(Float)
    ri_high: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(50))
    cva_pct: Mapped[float | None] = mapped_column(Float)
    cvi_pct: Mapped[float | None] = mapped_column(Float)
    lsc_pct: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Interpretation(Base):
    """A snapshot of the engine's report for one version of a patient's data on one
    evaluation date: the findings with rule ids and sources (``report_json``, the JSON of
    ``boneturnover interpret --format json``) and the rule set's version."""

    __tablename__ = "interpretations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    patient_version: Mapped[int] = mapped_column(Integer)
    today: Mapped[str] = mapped_column(String(10))
    ruleset: Mapped[str] = mapped_column(String(50))
    ruleset_version: Mapped[str] = mapped_column(String(100))
    report_json: Mapped[str] = mapped_column(Text)
    codes: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AuditEntry(Base):
    """One read or write of patient data, a login, or an administrative change."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(100), default="")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    action: Mapped[str] = mapped_column(String(50))
    patient_fk: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(100), default="")
