"""Loaders: one patient (TOML/JSON), a FHIR R4 Bundle, a cohort directory of CSVs.

Loaders read files and build :class:`~boneturnover.clinical.records.PatientRecord` or
:class:`Cohort` values; they never interpret. Formats: ``docs/CLINICAL.md`` and
``examples/clinical/``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError, InputError
from ..files import load_toml_cached
from ..knowledge.markers import loinc_valid
from ..units import convert
from .catalog import CATALOG, DRUGS
from .records import (
    MAX_DEPTH,
    Measurement,
    PatientRecord,
    TreatmentRecord,
    check_assay,
    depth_exceeds,
    shown,
)
from .values import RAW_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

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
        raise InputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _parse(p: Path, text: str, kind: str) -> Any:
    """Parse TOML or JSON text; syntax errors and absurd nesting are one-line InputErrors."""
    try:
        data = tomllib.loads(text) if kind == "toml" else json.loads(
            text, parse_constant=_no_constant)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: invalid {kind.upper()}: {exc}") from None
    except RecursionError:
        raise InputError(f"{p}: lists/tables nest deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # NaN/Infinity constants, huge integers
        raise InputError(f"{p}: invalid {kind.upper()}: {exc}") from None
    if depth_exceeds(data):
        raise InputError(f"{p}: lists/tables nest deeper than {MAX_DEPTH} levels")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; leave the field out when it was "
                     "not recorded")


def load_patient(path: str | Path) -> PatientRecord:
    """Load one patient from a ``.toml`` or ``.json`` file (or a FHIR Bundle ``.json``).

    Raises
    ------
    InputError
        If the file is missing or not valid TOML/JSON.
    DataError
        If its layout is wrong (unknown sections or fields, a field of the wrong type).
    """
    p, text = _read(path)
    if p.suffix.lower() == ".toml":
        data: Any = _parse(p, text, "toml")
    elif p.suffix.lower() == ".json":
        data = _parse(p, text, "json")
        if isinstance(data, Mapping) and data.get("resourceType") == "Bundle":
            return fhir_bundle_to_patient(data, p.name)
        if isinstance(data, Mapping) and "resourceType" in data:
            raise DataError(f"{p.name}: resourceType = {shown(data['resourceType'])}: expected "
                            "'Bundle' (a FHIR R4 Bundle), or the patient layout of "
                            "docs/CLINICAL.md without resourceType")
    else:
        raise InputError(f"{p}: expected a .toml or .json file")
    return PatientRecord.from_dict(data, p.name)


def load_fhir_bundle(path: str | Path) -> PatientRecord:
    """Load one patient from a FHIR R4 Bundle (JSON); see :func:`fhir_bundle_to_patient`."""
    p, text = _read(path)
    return fhir_bundle_to_patient(_parse(p, text, "json"), p.name)


# -- FHIR R4 ---------------------------------------------------------------------------
# One schema mechanism for FHIR: every element the loader reads goes through _Node, which
# checks its JSON type and names its path in the message ("Observation/ctx-1:
# code.coding[0]: expected an object, got 5"). Elements the loader does not read are
# never looked at, so unrelated content cannot break a bundle.

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
V2_0916 = "http://terminology.hl7.org/CodeSystem/v2-0916"  # relevant clinical information
V2_0136 = "http://terminology.hl7.org/CodeSystem/v2-0136"  # yes/no indicator
#: LOINC "Fasting status - Reported" (an Observation component or extension).
LOINC_FASTING = "49541-6"
#: Coded answers read as fasting (True) or not (False); others are "not recorded".
FASTING_CODES: Mapping[tuple[str, str], bool] = {
    (V2_0916, "F"): True, (V2_0916, "NF"): False, (V2_0136, "Y"): True,
    (V2_0136, "N"): False, (LOINC, "LA33-6"): True, (LOINC, "LA32-8"): False,
}
#: Specimen.collection.fastingStatusDuration at or above this many hours is fasting.
FASTING_MIN_H = {"value": 8.0, "cite": "an overnight fast (Vasikaran et al. 2011, "
                 "vasikaran2011, asks for fasting morning samples without a number of "
                 "hours); 8 h is the usual laboratory definition", "evidence": "expert-opinion"}
#: Observation.status values whose result is used; "preliminary" with a caveat.
OBS_USED = frozenset({"final", "amended", "corrected", "preliminary"})
OBS_STATUSES = OBS_USED | {"registered", "cancelled", "entered-in-error", "unknown"}
#: MedicationStatement.status values that mean the drug was (or is being) taken.
MED_TAKEN = frozenset({"active", "completed", "stopped", "on-hold", "unknown"})
MED_STATUSES = MED_TAKEN | {"entered-in-error", "intended", "not-taken"}
#: SNOMED CT route codes (Route of administration value set of FHIR R4).
ROUTE_CODES: Mapping[str, str] = {"26643006": "oral", "47625008": "iv", "34206005": "sc"}
_ROUTE_WORDS = {"oral": "oral", "po": "oral", "by mouth": "oral", "oral route": "oral",
                "iv": "iv", "intravenous": "iv", "intravenous route": "iv", "i.v.": "iv",
                "sc": "sc", "subcutaneous": "sc", "subcutaneous route": "sc", "s.c.": "sc",
                "subcut": "sc"}
_UCUM_TIME = {"s", "min", "h", "d", "wk", "mo", "a"}

_TYPES = {"object": Mapping, "array": list, "string": str, "boolean": bool}


class _Node:
    """A JSON value and its path; typed reads raise :class:`DataError` naming the path."""

    __slots__ = ("value", "where")

    def __init__(self, value: Any, where: str):
        self.value, self.where = value, where

    def _get(self, key: str, kind: str) -> Any:
        v = self.value.get(key) if isinstance(self.value, Mapping) else None
        if v is None:
            return None
        ok = (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
              if kind == "number" else isinstance(v, _TYPES[kind]))
        if not ok:
            raise DataError(f"{self.where}.{key}: expected {_ARTICLE[kind]}, got {_what(v)}")
        return v

    def obj(self, key: str) -> _Node:
        return _Node(self._get(key, "object") or {}, f"{self.where}.{key}")

    def arr(self, key: str) -> list[_Node]:
        out = []
        for i, v in enumerate(self._get(key, "array") or []):
            if not isinstance(v, Mapping):
                raise DataError(f"{self.where}.{key}[{i}]: expected an object, got {_what(v)}")
            out.append(_Node(v, f"{self.where}.{key}[{i}]"))
        return out

    def str(self, key: str) -> str | None:
        return self._get(key, "string")

    def num(self, key: str) -> float | None:
        return self._get(key, "number")

    def bool(self, key: str) -> bool | None:
        return self._get(key, "boolean")

    def has(self, key: str) -> bool:
        return isinstance(self.value, Mapping) and self.value.get(key) is not None


_ARTICLE = {"object": "an object", "array": "an array", "string": "a string",
            "boolean": "true/false", "number": "a finite number"}


def _what(v: Any) -> str:
    kind = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(v), "a number" if isinstance(v, int | float) else type(v).__name__)
    return f"{kind} {shown(v)}"


def _codings(cc: _Node) -> list[tuple[str, str, str]]:
    """(system, code, display) of a CodeableConcept's codings."""
    return [(c.str("system") or "", c.str("code") or "", c.str("display") or "")
            for c in cc.arr("coding")]


def _ext_value(res: _Node, match) -> Any:
    for e in res.arr("extension"):
        url = e.str("url") or ""
        if match(url):
            for k, v in e.value.items():
                if k.startswith("value"):
                    return k, v, e
    return None


def _ext(res: _Node, name: str, kind: str) -> Any:
    hit = _ext_value(res, lambda url: url == FHIR_EXTENSION + name)
    if hit is None:
        return None
    key, v, e = hit
    return _Node({key: v}, e.where)._get(key, kind)


def _label(rt: str, r: _Node) -> str:
    rid = r.value.get("id")
    return f"{rt}/{rid if isinstance(rid, str) and rid else '?'}"


def fhir_bundle_to_patient(bundle: Any, label: str = "bundle") -> PatientRecord:
    """Build a :class:`PatientRecord` from a parsed FHIR R4 Bundle.

    Reads ``Patient`` (id, birthDate, extensions ``ckd``, ``glucocorticoids``,
    ``calcium-supplement-mg-d``, ``magnesium-supplement-mg-d``), ``Observation`` (LOINC or
    marker-system code; ``status``; ``valueQuantity`` with ``comparator`` and a UCUM
    ``code``; ``effectiveDateTime``; fasting from ``Specimen.collection.fastingStatus[x]``,
    a component or extension coded LOINC 49541-6, or the ``fasting`` extension) and
    ``MedicationStatement`` (``status``; drug by RxNorm code, coding display, text or a
    referenced ``Medication``; ``effectivePeriod``; ``dosage[0].timing.repeat``;
    ``dosage[0].route`` coding or text). Every other resource, and every Observation or
    MedicationStatement the engine does not use, is listed in ``PatientRecord.ignored``
    with the reason.
    """
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise DataError(f"{label}: expected a FHIR Bundle (resourceType 'Bundle')")
    if depth_exceeds(bundle):
        raise DataError(f"{label}: lists/objects nest deeper than {MAX_DEPTH} levels")
    root = _Node(bundle, "Bundle")
    resources: list[tuple[str, _Node]] = []
    ignored: list[dict[str, str]] = []
    for e in root.arr("entry"):
        if not e.has("resource"):
            ignored.append({"resource": e.where, "code": "", "reason": "entry has no resource"})
            continue
        r = e.obj("resource")
        rt = r.str("resourceType")
        if rt is None:
            raise DataError(f"{r.where}.resourceType: missing; expected e.g. 'Observation'")
        rid = r.value.get("id")
        if rid is not None and not isinstance(rid, str):
            raise DataError(f"{r.where}.id: expected a string, got {_what(rid)}")
        resources.append((rt, r))
    by_ref = {f"{rt}/{r.value['id']}": r for rt, r in resources if r.value.get("id")}
    pats = [r for rt, r in resources if rt == "Patient"]
    if len(pats) != 1:
        raise DataError(f"{label}: expected exactly one Patient resource, found {len(pats)}")
    pr = pats[0]
    pid = pr.str("id")
    if not pid or not pid.strip():
        raise DataError(f"{label}: Patient.id is missing; give the patient an id")
    meas, treats = [], []
    glucocorticoids = None
    for rt, r in resources:
        rid = _label(rt, r)
        if rt == "Patient":
            continue
        if rt == "Observation":
            got = _observation(r, rid, by_ref)
            if isinstance(got, Measurement):
                meas.append(got)
            else:
                ignored.append(got)
        elif rt == "MedicationStatement":
            got = _medication(r, rid, by_ref)
            if isinstance(got, TreatmentRecord):
                if DRUGS.find(got.drug) == "glucocorticoid":
                    glucocorticoids = True
                treats.append(got)
            else:
                ignored.append(got)
        elif rt not in ("Specimen", "Medication"):
            ignored.append({"resource": rid, "code": _shown_code(r), "reason":
                            f"{rt} resources are not used by the engine"})
    pn = _Node(pr.value, f"Patient/{pid}")
    bd = pn.str("birthDate")
    return PatientRecord(
        patient_id=pid.strip(), birth_date=bd,
        ckd=_ext(pn, "ckd", "boolean"),
        glucocorticoids=_ext(pn, "glucocorticoids", "boolean") or glucocorticoids,
        calcium_supplement_mg_d=_ext(pn, "calcium-supplement-mg-d", "number"),
        magnesium_supplement_mg_d=_ext(pn, "magnesium-supplement-mg-d", "number"),
        measurements=tuple(meas), treatments=tuple(treats), ignored=tuple(ignored),
    )


def _shown_code(r: _Node) -> str:
    """The code of an unused resource as a report lists it (``code.coding`` code and
    display, or ``code.text``); ``""`` when it has none or it is not a CodeableConcept."""
    code = r.value.get("code")
    if not isinstance(code, Mapping):
        return ""
    try:
        cc = _Node(code, f"{r.where}.code")
        shown_code = "; ".join(" ".join(x for x in (c, d) if x) for _, c, d in _codings(cc))
        return shown_code or (cc.str("text") or "")
    except DataError:  # a malformed element the engine does not use
        return ""


def _ignored(rid: str, code: str, reason: str) -> dict[str, str]:
    return {"resource": rid, "code": code, "reason": reason}


def _observation(r: _Node, rid: str, by_ref: Mapping[str, _Node]) -> Measurement | dict:
    r = _Node(r.value, rid)
    code = r.obj("code")
    codings = _codings(code)
    shown_code = "; ".join(" ".join(x for x in (c, d) if x) for _, c, d in codings) \
        or (code.str("text") or "")
    marker = None
    for system, c, _ in codings:
        if system == LOINC and CATALOG.by_loinc(c):
            marker = CATALOG.by_loinc(c)
        elif system == MARKER_SYSTEM:
            if CATALOG.find(c) is None:
                raise DataError(f"{rid}: code {c!r} of {MARKER_SYSTEM} is not a catalogue "
                                f"marker; expected one of {', '.join(CATALOG)}")
            marker = CATALOG.find(c)
    if marker is None:
        wrong = [c for system, c, _ in codings if system == LOINC and not loinc_valid(c)]
        if wrong:
            return _ignored(rid, shown_code, f"{wrong[0]} is not a LOINC code (its check digit "
                            "is wrong); not a marker of the catalogue")
        return _ignored(rid, shown_code, "not a marker of the catalogue (LOINC code or "
                        "boneturnover marker code)")
    status = r.str("status")
    if status is not None and status not in OBS_STATUSES:
        raise DataError(f"{rid}.status: {status!r} is not an Observation status; expected one "
                        f"of {', '.join(sorted(OBS_STATUSES))}")
    if status is not None and status not in OBS_USED:
        return _ignored(rid, shown_code, f"status {status!r}: the result is not used")
    if not r.has("valueQuantity"):
        if r.has("dataAbsentReason"):
            why = _codings(r.obj("dataAbsentReason"))
            text = why[0][2] or why[0][1] if why else "given"
            return _ignored(rid, shown_code, f"no value (dataAbsentReason {text})")
        raise DataError(f"{rid}: valueQuantity with value and UCUM code is required")
    q = r.obj("valueQuantity")
    value = q.num("value")
    if value is None:
        raise DataError(f"{q.where}.value: missing; expected a finite number")
    system = q.str("system")
    if system not in (None, UCUM):
        raise DataError(f"{q.where}.system {system!r} must be {UCUM}")
    comparator = q.str("comparator")
    if comparator is not None and comparator not in ("<", "<=", ">", ">="):
        raise DataError(f"{q.where}.comparator {comparator!r}: expected <, <=, >= or >")
    unit = q.str("code") or q.str("unit") or ""
    when = r.str("effectiveDateTime") or r.str("effectiveInstant") \
        or r.obj("effectivePeriod").str("start") or ""
    date, _, clock = when.partition("T")
    return Measurement(date=date, marker=marker, value=value, unit=unit,
                       fasting=_fasting(r, by_ref), time=clock[:5] or None, source=rid,
                       comparator=comparator, preliminary=status == "preliminary")


def _fasting_concept(cc: _Node) -> bool | None:
    for system, code, _ in _codings(cc):
        if (system, code) in FASTING_CODES:
            return FASTING_CODES[(system, code)]
    return None


def _fasting(r: _Node, by_ref: Mapping[str, _Node]) -> bool | None:
    """Fasting status from the standard places, then the boneturnover extension."""
    # 1. the Specimen (referenced in the bundle, or contained)
    ref = r.obj("specimen").str("reference")
    spec = None
    if ref:
        if ref.startswith("#"):
            spec = next((c for c in r.arr("contained") if c.value.get("id") == ref[1:]), None)
        else:
            spec = by_ref.get(ref) or by_ref.get(ref.split("/_history")[0])
    if spec is not None:
        col = spec.obj("collection")
        if col.has("fastingStatusCodeableConcept"):
            got = _fasting_concept(col.obj("fastingStatusCodeableConcept"))
            if got is not None:
                return got
        if col.has("fastingStatusDuration"):
            d = col.obj("fastingStatusDuration")
            v, unit = d.num("value"), d.str("code") or d.str("unit") or ""
            if v is not None and unit in _UCUM_TIME:
                hours = convert(v, unit, "h")
                return hours >= FASTING_MIN_H["value"]
    # 2. a component coded LOINC 49541-6
    for comp in r.arr("component"):
        if any(s == LOINC and c == LOINC_FASTING for s, c, _ in _codings(comp.obj("code"))):
            if comp.has("valueBoolean"):
                return comp.bool("valueBoolean")
            got = _fasting_concept(comp.obj("valueCodeableConcept"))
            if got is not None:
                return got
    # 3. an extension: LOINC 49541-6 or the boneturnover fasting extension
    hit = _ext_value(r, lambda url: url == FHIR_EXTENSION + "fasting"
                     or url.rstrip("/").endswith(LOINC_FASTING))
    if hit is not None:
        key, v, e = hit
        node = _Node({key: v}, e.where)
        if key == "valueBoolean":
            return node.bool(key)
        if key == "valueCodeableConcept":
            return _fasting_concept(node.obj(key))
        raise DataError(f"{e.where}.{key}: expected valueBoolean or valueCodeableConcept")
    return None


def _drug_from_name(name: str) -> str | None:
    """The catalogue drug a written or RxNorm name refers to (``alendronate sodium 70 MG Oral
    Tablet [Fosamax]`` -> alendronate), or None."""
    if DRUGS.find(name):
        return DRUGS.find(name)
    brand = re.search(r"\[([^\]]+)\]", name)
    if brand and DRUGS.find(brand[1]):
        return DRUGS.find(brand[1])
    words = re.split(r"\s+", re.sub(r"^\d+\s*(HR|ML)\s+", "", name.strip()))
    for n in range(len(words), 0, -1):
        hit = DRUGS.find(" ".join(words[:n]))
        if hit:
            return hit
    return None


@cache
def _rxnorm() -> Mapping[str, str]:
    """RxNorm ingredient code -> drug key, from ``rxnorm`` of the drug catalogue."""
    text = resources.files("boneturnover.knowledge").joinpath("data", "drugs.toml").read_text(
        "utf-8")
    out = {}
    for key, d in load_toml_cached(text, "drugs.toml").get("drugs", {}).items():
        for code in d.get("rxnorm", ()):
            out[str(code)] = key
    return out


def _med_concept(cc: _Node) -> tuple[str | None, str]:
    names = []
    for system, code, display in _codings(cc):
        if system == RXNORM and code in _rxnorm():
            return _rxnorm()[code], display or code
        names.append(display or code)
    if cc.str("text"):
        names.append(cc.str("text") or "")
    for n in names:
        hit = _drug_from_name(n)
        if hit:
            return hit, n
    return None, "; ".join(n for n in names if n)


def _route(route: _Node) -> str | None:
    for system, code, display in _codings(route):
        if system == SNOMED and code in ROUTE_CODES:
            return ROUTE_CODES[code]
        if display.strip().lower() in _ROUTE_WORDS:
            return _ROUTE_WORDS[display.strip().lower()]
    text = route.str("text")
    if text is None:
        return None
    return _ROUTE_WORDS.get(text.strip().lower(), text.strip().lower())


def _medication(r: _Node, rid: str, by_ref: Mapping[str, _Node]) -> TreatmentRecord | dict:
    r = _Node(r.value, rid)
    status = r.str("status")
    if status is not None and status not in MED_STATUSES:
        raise DataError(f"{rid}.status: {status!r} is not a MedicationStatement status; "
                        f"expected one of {', '.join(sorted(MED_STATUSES))}")
    if r.has("medicationCodeableConcept"):
        drug, shown_code = _med_concept(r.obj("medicationCodeableConcept"))
    else:
        ref = r.obj("medicationReference").str("reference") or ""
        med = by_ref.get(ref)
        drug, shown_code = _med_concept(med.obj("code")) if med is not None else (None, ref)
    if status is not None and status not in MED_TAKEN:
        return _ignored(rid, shown_code, f"status {status!r}: not counted as taken")
    if drug is None:
        return _ignored(rid, shown_code, "not a drug of the catalogue")
    period = r.obj("effectivePeriod")
    start = period.str("start") or r.str("effectiveDateTime") or ""
    end = period.str("end")
    dosages = r.arr("dosage")
    dosage = dosages[0] if dosages else _Node({}, f"{rid}.dosage[0]")
    rep = dosage.obj("timing").obj("repeat")
    period_v, unit, freq = rep.num("period"), rep.str("periodUnit"), rep.num("frequency")
    interval = None
    if freq is not None and (freq != int(freq) or freq < 1):
        raise DataError(f"{rep.where}.frequency {freq!r}: expected a positive whole number "
                        "(times per period)")
    if period_v is not None and not unit:
        raise DataError(f"{rep.where}.period {period_v!r} has no periodUnit; expected one of "
                        f"{', '.join(sorted(_UCUM_TIME))}")
    if period_v is not None and unit:
        if unit not in _UCUM_TIME:
            raise DataError(f"{rep.where}.periodUnit {unit!r}: expected one of "
                            f"{', '.join(sorted(_UCUM_TIME))}")
        per = period_v / freq if freq and freq > 0 else period_v
        interval = f"{per:g} {unit}"
    dq = None
    rates = dosage.arr("doseAndRate")
    if rates:
        dq = rates[0].obj("doseQuantity")
    return TreatmentRecord(
        drug=drug, start=start[:10], stop=end[:10] if end else None,
        dose=None if dq is None else dq.num("value"),
        dose_unit=None if dq is None else (dq.str("code") or dq.str("unit")),
        interval=interval, route=_route(dosage.obj("route")),
        last_dose=_ext(r, "last-dose", "string"), source=rid,
    )


#: Columns of the error table of rows that could not be read.
ROW_ERROR_COLUMNS = ("patient_id", "source", "field", "message")


@dataclass(frozen=True)
class Cohort:
    """Raw cohort frames (text columns as read), the laboratory's assay overrides and the
    rows that could not be read (``row_errors``: ``patient_id``, ``source``, ``field``,
    ``message``; their patients are reported as failed, the others are interpreted)."""

    patients: pd.DataFrame
    measurements: pd.DataFrame
    treatments: pd.DataFrame
    assay: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    directory: str = ""
    row_errors: pd.DataFrame = field(default_factory=lambda: _frame(
        columns=list(ROW_ERROR_COLUMNS)))

    def patient(self, patient_id: str) -> PatientRecord:
        """One patient of the cohort as a :class:`PatientRecord` (same rows, same sources)."""
        pa = self.patients[self.patients["patient_id"].astype(str) == patient_id]
        if pa.empty:
            raise DataError(f"patient_id {patient_id!r} is not in patients.csv")
        prow = pa.iloc[0].to_dict()
        me = self.measurements[self.measurements["patient_id"].astype(str) == patient_id]
        tr = self.treatments[self.treatments["patient_id"].astype(str) == patient_id]

        def val(x: Any) -> Any:
            return None if x is None or (isinstance(x, float) and math.isnan(x)) or x == "" \
                else x

        return PatientRecord(
            patient_id=patient_id,
            birth_date=val(prow.get("birth_date")), ckd=val(prow.get("ckd")),
            glucocorticoids=val(prow.get("glucocorticoids")),
            calcium_supplement_mg_d=val(prow.get("calcium_supplement_mg_d")),
            magnesium_supplement_mg_d=val(prow.get("magnesium_supplement_mg_d")),
            measurements=tuple(
                Measurement(date=r["date"], marker=r["marker"], value=r["value"], unit=r["unit"],
                            fasting=val(r.get("fasting")), time=val(r.get("time")),
                            source=r["source"], comparator=val(r.get("comparator")),
                            preliminary=val(r.get("preliminary")) or False)
                for r in me.to_dict("records")),
            treatments=tuple(
                TreatmentRecord(drug=r["drug"], start=r["start"], stop=val(r.get("stop")),
                          dose=val(r.get("dose")), dose_unit=val(r.get("dose_unit")),
                          interval=val(r.get("interval")), route=val(r.get("route")),
                          last_dose=val(r.get("last_dose")), source=r["source"])
                for r in tr.to_dict("records")),
            assay=self.assay,
        )


def _frame(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """A DataFrame (pandas is imported by the cohort path only)."""
    import pandas as pd

    return pd.DataFrame(*args, **kwargs)


def _read_csv(path: Path, kind: str) -> tuple[pd.DataFrame, list[tuple[str, str, str, str]]]:
    """Read one cohort CSV as text columns -> (frame, rows that could not be read).

    The fast path (pyarrow) reads a well-formed file. When it refuses the file, each line
    is read on its own: a line that is not UTF-8, has an unbalanced quote or the wrong
    number of fields is reported with its file and line number (and its patient, when the
    ``patient_id`` field can still be read), and every other line is kept.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    bad: list[tuple[str, str, str, str]] = []
    _check_duplicate_header(path, raw)
    import pandas as pd

    try:
        raw.decode("utf-8")
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_values=[],
                         engine="pyarrow")
        if len(df) != sum(1 for line in raw.splitlines()[1:] if line.strip()):
            raise ValueError("a quoted field spans lines")  # read line by line instead
        df["_line"] = range(2, len(df) + 2)
    except Exception:  # noqa: BLE001 - any refusal: read line by line
        df, bad = _read_csv_lines(path, raw)
    _check_columns(path, kind, list(df.columns.drop("_line")))
    if "source" in RAW_COLUMNS[kind] and "source" not in df.columns:
        # line numbers as in the file (header is line 1)
        df["source"] = [f"{path.name} line {i}" for i in df["_line"]]
    return df.drop(columns="_line").reset_index(drop=True), bad


def _check_duplicate_header(path: Path, raw: bytes) -> None:
    """Refuse a header that names a column twice, before a reader renames the second
    (pandas reads ``patient_id,patient_id`` as ``patient_id`` and ``patient_id.1``)."""
    import csv

    first = raw.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    cols = [c.strip() for c in next(csv.reader([first]), [])]
    dup = sorted({c for c in cols if c and cols.count(c) > 1})
    if dup:
        raise InputError(f"{path} line 1: column(s) {dup} appear more than once; expected "
                         "each column once")


def _check_columns(path: Path, kind: str, cols: list[str]) -> None:
    """Refuse a column the layout does not have (a repeated one is refused from the header
    as written, :func:`_check_duplicate_header`)."""
    unknown = set(cols) - set(RAW_COLUMNS[kind])
    if unknown:
        raise InputError(f"{path}: unknown column(s) {sorted(unknown)}; expected "
                         f"{list(RAW_COLUMNS[kind])}")


def _read_csv_lines(path: Path, raw: bytes,
                    ) -> tuple[pd.DataFrame, list[tuple[str, str, str, str]]]:
    import pandas as pd

    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    if not lines:
        raise InputError(f"{path}: empty file; expected a header line")
    try:
        header = next(csv.reader([lines[0].rstrip(b"\r").decode("utf-8")], strict=True))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path} line 1: cannot read the header ({exc})") from None
    header = [h.strip() for h in header]
    pid_col = header.index("patient_id") if "patient_id" in header else None
    rows, keep_lines, bad = [], [], []
    for no, b in enumerate(lines[1:], 2):
        b = b.rstrip(b"\r")
        if not b.strip():
            continue
        where = f"{path.name} line {no}"
        problem = None
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = b.decode("utf-8", "replace")
            problem = f"not UTF-8 text (byte {exc.start + 1} of the line)"
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            fields = text.split(",")
            problem = problem or f"cannot be read as CSV ({exc}; an unbalanced quote?)"
        if problem is None and len(fields) != len(header):
            problem = f"has {len(fields)} fields; the header has {len(header)}"
        if problem is not None:
            pid = fields[pid_col].strip().strip('"') if pid_col is not None \
                and pid_col < len(fields) else ""
            bad.append((pid, where, "row", f"{where}: {problem}; the row is not used"))
            continue
        rows.append(fields)
        keep_lines.append(no)
    df = pd.DataFrame(rows, columns=header, dtype=str) if rows else pd.DataFrame(
        {h: pd.Series(dtype=str) for h in header})
    df["_line"] = keep_lines
    return df, bad


def load_cohort(directory: str | Path) -> Cohort:
    """Load ``patients.csv``, ``measurements.csv``, ``treatments.csv`` (optional) and
    ``assays.toml`` (optional laboratory overrides) from ``directory``.

    A row that cannot be read (not UTF-8, an unbalanced quote, the wrong number of fields)
    does not stop the cohort: it is listed in ``Cohort.row_errors`` with its file and line,
    and its patient is reported as failed.

    Raises
    ------
    InputError
        If the directory or a required file is missing, a header cannot be read, a CSV has
        unknown columns, or ``assays.toml`` is not valid.
    """
    import pandas as pd

    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d}: not a directory with patients.csv and measurements.csv")
    for req in ("patients.csv", "measurements.csv"):
        if not (d / req).is_file():
            raise InputError(f"{d}: {req} is missing")
    pa, bad = _read_csv(d / "patients.csv", "patients")
    me, bad_me = _read_csv(d / "measurements.csv", "measurements")
    bad += bad_me
    if (d / "treatments.csv").is_file():
        tr, bad_tr = _read_csv(d / "treatments.csv", "treatments")
        bad += bad_tr
    else:
        tr = pd.DataFrame({c: pd.Series(dtype=str) for c in RAW_COLUMNS["treatments"]})
    if "source" not in tr.columns:
        tr["source"] = pd.Series(dtype=str)
    assay: dict[str, Any] = {}
    f = d / "assays.toml"
    if f.is_file():
        p, text = _read(f)
        data = _parse(p, text, "toml")
        extra = set(data) - {"assay"}
        if extra:
            raise InputError(f"{p}: unknown table(s) {sorted(extra)}; expected [assay.<MARKER>]")
        assay = check_assay(data.get("assay", {}), f"{p.name}: [assay]")
    return Cohort(pa, me, tr, assay, str(d),
                  pd.DataFrame(bad, columns=list(ROW_ERROR_COLUMNS)))
