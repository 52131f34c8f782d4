"""Loaders: one patient (TOML/JSON), a FHIR R4 Bundle, a cohort directory of CSVs.

Loaders read files and build :class:`~boneturnover.clinical.records.PatientRecord` or
:class:`Cohort` values; they never interpret. Formats: ``docs/CLINICAL.md`` and
``examples/clinical/``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError, InputError
from .catalog import CATALOG, DRUGS
from .records import Measurement, PatientRecord, TreatmentRecord
from .tables import RAW_COLUMNS

__all__ = ["load_patient", "load_fhir_bundle", "load_cohort", "Cohort", "FHIR_EXTENSION"]

#: Extension URL base for facts FHIR R4 has no element for (fasting, ckd, supplements).
FHIR_EXTENSION = "https://boneturnover.example.org/fhir/StructureDefinition/"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MARKER_SYSTEM = "https://boneturnover.example.org/fhir/CodeSystem/marker"


def _read(path: str | Path) -> tuple[Path, str]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        return p, p.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text ({exc.reason})") from None


def load_patient(path: str | Path) -> PatientRecord:
    """Load one patient from a ``.toml`` or ``.json`` file (or a FHIR Bundle ``.json``).

    Raises
    ------
    InputError
        If the file is missing or not valid TOML/JSON.
    DataError
        If its layout is wrong (unknown sections or fields).
    """
    p, text = _read(path)
    if p.suffix.lower() == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{p}: invalid TOML: {exc}") from None
    elif p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: invalid JSON: {exc}") from None
        if isinstance(data, Mapping) and data.get("resourceType") == "Bundle":
            return fhir_bundle_to_patient(data, p.name)
    else:
        raise InputError(f"{p}: expected a .toml or .json file")
    return PatientRecord.from_dict(data, p.name)


def load_fhir_bundle(path: str | Path) -> PatientRecord:
    """Load one patient from a FHIR R4 Bundle (JSON).

    Reads ``Patient`` (id, birthDate, extensions ``ckd``, ``calcium-supplement-mg-d``,
    ``magnesium-supplement-mg-d``), ``Observation`` (LOINC or marker-system code,
    ``valueQuantity`` with a UCUM ``code``, ``effectiveDateTime``, extension ``fasting``)
    and ``MedicationStatement`` (drug by coding display or text, ``effectivePeriod``,
    ``dosage[0].timing.repeat`` period as the interval, ``dosage[0].route.text``).
    """
    p, text = _read(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: invalid JSON: {exc}") from None
    return fhir_bundle_to_patient(data, p.name)


def _ext(resource: Mapping[str, Any], name: str) -> Any:
    for e in resource.get("extension", []) or []:
        if e.get("url") == FHIR_EXTENSION + name:
            for k, v in e.items():
                if k.startswith("value"):
                    return v
    return None


def fhir_bundle_to_patient(bundle: Mapping[str, Any], label: str = "bundle") -> PatientRecord:
    """Build a :class:`PatientRecord` from a parsed FHIR R4 Bundle."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise DataError(f"{label}: expected a FHIR Bundle (resourceType 'Bundle')")
    entries = [e.get("resource", {}) for e in bundle.get("entry", []) or []]
    pats = [r for r in entries if r.get("resourceType") == "Patient"]
    if len(pats) != 1:
        raise DataError(f"{label}: expected exactly one Patient resource, found {len(pats)}")
    pr = pats[0]
    meas, treats = [], []
    glucocorticoids = None
    for r in entries:
        rt = r.get("resourceType")
        rid = f"{rt}/{r.get('id', '?')}"
        if rt == "Observation":
            meas.append(_observation(r, rid))
        elif rt == "MedicationStatement":
            t = _medication(r, rid)
            if DRUGS.find(t.drug) == "glucocorticoid":
                glucocorticoids = True
            treats.append(t)
    return PatientRecord(
        patient_id=str(pr.get("id", "")),
        birth_date=pr.get("birthDate"),
        ckd=_ext(pr, "ckd"),
        glucocorticoids=_ext(pr, "glucocorticoids") or glucocorticoids,
        calcium_supplement_mg_d=_ext(pr, "calcium-supplement-mg-d"),
        magnesium_supplement_mg_d=_ext(pr, "magnesium-supplement-mg-d"),
        measurements=tuple(meas), treatments=tuple(treats),
    )


def _observation(r: Mapping[str, Any], rid: str) -> Measurement:
    marker = None
    codings = (r.get("code") or {}).get("coding", []) or []
    for c in codings:
        if c.get("system") == LOINC and CATALOG.by_loinc(str(c.get("code"))):
            marker = CATALOG.by_loinc(str(c.get("code")))
        elif c.get("system") == MARKER_SYSTEM:
            marker = str(c.get("code"))
    if marker is None:
        texts = [str(c.get("code")) + " " + str(c.get("display", "")) for c in codings]
        raise DataError(
            f"{rid}: code {texts or (r.get('code') or {}).get('text')!r} is not a known marker; "
            f"use a LOINC code of the catalog or system {MARKER_SYSTEM} with a catalog id"
        )
    q = r.get("valueQuantity")
    if not isinstance(q, Mapping) or "value" not in q:
        raise DataError(f"{rid}: valueQuantity with value and UCUM code is required")
    if q.get("system") not in (None, UCUM):
        raise DataError(f"{rid}: valueQuantity.system {q.get('system')!r} must be {UCUM}")
    unit = q.get("code") or q.get("unit")
    when = r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start") or ""
    date, _, clock = str(when).partition("T")
    return Measurement(date=date, marker=marker, value=q["value"], unit=str(unit or ""),
                       fasting=_ext(r, "fasting"), time=clock[:5] or None, source=rid)


def _medication(r: Mapping[str, Any], rid: str) -> TreatmentRecord:
    cc = r.get("medicationCodeableConcept") or {}
    names = [c.get("display") for c in cc.get("coding", []) or [] if c.get("display")]
    names += [cc.get("text")] if cc.get("text") else []
    drug = next((n for n in names if DRUGS.find(n)), names[0] if names else "")
    period = r.get("effectivePeriod") or {}
    dosage = (r.get("dosage") or [{}])[0]
    rep = ((dosage.get("timing") or {}).get("repeat") or {})
    interval = None
    if rep.get("period") is not None and rep.get("periodUnit"):
        interval = f"{rep['period']} {rep['periodUnit']}"
    route = (dosage.get("route") or {}).get("text")
    dq = ((dosage.get("doseAndRate") or [{}])[0]).get("doseQuantity") or {}
    return TreatmentRecord(
        drug=str(drug), start=str(period.get("start", ""))[:10],
        stop=str(period["end"])[:10] if period.get("end") else None,
        dose=dq.get("value"), dose_unit=dq.get("code"), interval=interval,
        route=route.lower() if isinstance(route, str) else None,
        last_dose=_ext(r, "last-dose"), source=rid,
    )


@dataclass(frozen=True)
class Cohort:
    """Raw cohort frames (text columns as read) and the laboratory's assay overrides."""

    patients: pd.DataFrame
    measurements: pd.DataFrame
    treatments: pd.DataFrame
    assay: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    directory: str = ""

    def patient(self, patient_id: str) -> PatientRecord:
        """One patient of the cohort as a :class:`PatientRecord` (same rows, same sources)."""
        pa = self.patients[self.patients["patient_id"].astype(str) == patient_id]
        if pa.empty:
            raise DataError(f"patient_id {patient_id!r} is not in patients.csv")
        prow = pa.iloc[0].to_dict()
        me = self.measurements[self.measurements["patient_id"].astype(str) == patient_id]
        tr = self.treatments[self.treatments["patient_id"].astype(str) == patient_id]

        def val(x: Any) -> Any:
            return None if x is None or (isinstance(x, float) and pd.isna(x)) or x == "" else x

        return PatientRecord(
            patient_id=patient_id,
            birth_date=val(prow.get("birth_date")), ckd=val(prow.get("ckd")),
            glucocorticoids=val(prow.get("glucocorticoids")),
            calcium_supplement_mg_d=val(prow.get("calcium_supplement_mg_d")),
            magnesium_supplement_mg_d=val(prow.get("magnesium_supplement_mg_d")),
            measurements=tuple(
                Measurement(date=r["date"], marker=r["marker"], value=r["value"], unit=r["unit"],
                            fasting=val(r.get("fasting")), time=val(r.get("time")),
                            source=r["source"])
                for r in me.to_dict("records")),
            treatments=tuple(
                TreatmentRecord(drug=r["drug"], start=r["start"], stop=val(r.get("stop")),
                          dose=val(r.get("dose")), dose_unit=val(r.get("dose_unit")),
                          interval=val(r.get("interval")), route=val(r.get("route")),
                          last_dose=val(r.get("last_dose")), source=r["source"])
                for r in tr.to_dict("records")),
            assay=self.assay,
        )


def _read_csv(path: Path, kind: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[],
                         engine="pyarrow")
    except Exception as exc:  # pyarrow/pandas raise many types for malformed CSV
        raise InputError(f"{path}: cannot read CSV: {exc}") from None
    unknown = set(df.columns) - set(RAW_COLUMNS[kind])
    if unknown:
        raise InputError(f"{path}: unknown column(s) {sorted(unknown)}; expected "
                         f"{list(RAW_COLUMNS[kind])}")
    if "source" in RAW_COLUMNS[kind] and "source" not in df.columns:
        # line numbers as in the file (header is line 1)
        df["source"] = [f"{path.name} line {i}" for i in range(2, len(df) + 2)]
    return df


def load_cohort(directory: str | Path) -> Cohort:
    """Load ``patients.csv``, ``measurements.csv``, ``treatments.csv`` (optional) and
    ``assays.toml`` (optional laboratory overrides) from ``directory``.

    Raises
    ------
    InputError
        If the directory or a required file is missing, or a CSV has unknown columns.
    """
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d}: not a directory with patients.csv and measurements.csv")
    for req in ("patients.csv", "measurements.csv"):
        if not (d / req).is_file():
            raise InputError(f"{d}: {req} is missing")
    pa = _read_csv(d / "patients.csv", "patients")
    me = _read_csv(d / "measurements.csv", "measurements")
    tr = _read_csv(d / "treatments.csv", "treatments") if (d / "treatments.csv").is_file() \
        else pd.DataFrame({c: pd.Series(dtype=str) for c in RAW_COLUMNS["treatments"]})
    if "source" not in tr.columns:
        tr["source"] = pd.Series(dtype=str)
    assay: dict[str, Any] = {}
    if (d / "assays.toml").is_file():
        try:
            assay = tomllib.loads((d / "assays.toml").read_text("utf-8")).get("assay", {})
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{d / 'assays.toml'}: invalid TOML: {exc}") from None
    return Cohort(pa, me, tr, assay, str(d))
