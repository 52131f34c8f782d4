"""A report as a FHIR R4 ``Bundle`` (type ``collection``) holding one ``DiagnosticReport``.

The report's conclusion is the findings' messages; each finding is one
``conclusionCode`` in the package's report code system, with its severity and its
sources (readable citations) as extensions. ``result`` references the Observations the
findings are about; a ``Provenance`` lists every result the interpretation read. The
results are the patient's Observations: those of a FHIR input by their original ids,
otherwise new Observations in the bundle, coded by LOINC (or the package's marker code
system) with a UCUM ``valueQuantity``. Every entry's ``fullUrl`` is a RESTful URL under
:data:`FHIR_BASE`, so the relative references between the bundle's resources
(``Patient/<id>``, ``Observation/<id>``) resolve inside the bundle (FHIR R4, Bundle,
"Resolving references in Bundles").
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..errors import InputError
from ..knowledge.markers import marker_catalog
from ..knowledge.sources import cite, render_sources
from ..version import __version__
from .io import FHIR_EXTENSION, LOINC, MARKER_SYSTEM, UCUM
from .records import Measurement, PatientRecord
from .report import _UI, Report, code_title

__all__ = ["report_to_fhir", "REPORT_SYSTEM", "V2_0074", "FHIR_BASE"]

#: The package's code system of finding codes (beside its marker code system).
REPORT_SYSTEM = MARKER_SYSTEM.rsplit("/", 1)[0] + "/report"
#: Base of the bundle's ``fullUrl`` values (``<base>Patient/<id>``): the package's FHIR
#: namespace, beside its code systems and extensions.
FHIR_BASE = MARKER_SYSTEM.rsplit("/", 2)[0] + "/"
#: Diagnostic service section codes (category ``LAB``).
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
_COMPARATOR = re.compile(r"^\s*(<=|>=|<|>)\s*")
_ID_SAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _quantity(m: Measurement) -> dict[str, Any]:
    value, comparator = m.value, m.comparator
    if isinstance(value, str):
        match = _COMPARATOR.match(value)
        if match:
            comparator = comparator or match[1]
            value = value[match.end():]
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"{m.source}: value {m.value!r} is not a number") from None
    q: dict[str, Any] = {"value": value}
    if comparator:
        q["comparator"] = comparator
    q.update(unit=m.unit, system=UCUM, code=m.unit)
    return q


def _citation(c, lang: str) -> str:
    try:
        return cite(c.ref, lang)
    except (InputError, KeyError, ValueError):
        return render_sources(c.text, lang) if c.text else c.ref


def _observation(m: Measurement, oid: str, patient_ref: str, catalog) -> dict[str, Any]:
    mid = catalog.find(m.marker) or m.marker
    marker = catalog[mid] if mid in catalog else None
    coding = []
    if marker is not None:
        coding += [{"system": LOINC, "code": c} for c in marker.loinc]
        coding.append({"system": MARKER_SYSTEM, "code": mid, "display": marker.symbol})
    else:
        coding.append({"system": MARKER_SYSTEM, "code": mid})
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": oid,
        "status": "preliminary" if m.preliminary else "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": coding, "text": marker.symbol if marker is not None else mid},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": m.date,  # a time of day needs a zone in FHIR: the date only
        "valueQuantity": _quantity(m),
    }
    if m.fasting is not None:
        obs["extension"] = [{"url": FHIR_EXTENSION + "fasting", "valueBoolean": m.fasting}]
    return obs


def _input_extensions(report: Report) -> list[dict[str, Any]]:
    """The input summary as extensions of the DiagnosticReport: each censored result
    (``censored-result``: its row, marker, date and ``valueQuantity`` with the comparator,
    canonical unit) and each input left unused (``ignored-input``: resource type, id,
    code, reason)."""
    out: list[dict[str, Any]] = []
    for c in report.inputs.censored:
        out.append({"url": FHIR_EXTENSION + "censored-result", "extension": [
            {"url": "row", "valueString": c.row},
            {"url": "marker", "valueCode": c.marker},
            {"url": "date", "valueDate": c.date},
            {"url": "value", "valueQuantity": {"value": c.value, "comparator": c.comparator,
                                               "unit": c.unit, "system": UCUM,
                                               "code": c.unit}}]})
    for i in report.inputs.ignored:
        parts = (("resourceType", i.resource_type), ("id", i.id), ("code", i.code),
                 ("reason", i.reason))
        out.append({"url": FHIR_EXTENSION + "ignored-input", "extension": [
            {"url": k, "valueString": v} for k, v in parts if v]})  # FHIR: no empty strings
    return out


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"{FHIR_BASE}{resource['resourceType']}/{resource['id']}",
            "resource": resource}


def _used_sources(report: Report) -> set[str]:
    """The source rows of the results the findings are about (``Finding.row``) and of the
    baselines their changes are measured from (``Finding.baseline_row``)."""
    return ({f.row for f in report.findings if f.row}
            | {f.baseline_row for f in report.findings if f.baseline_row})


def report_to_fhir(report: Report, patient: PatientRecord, lang: str = "en", *,
                   issued: str | None = None) -> dict[str, Any]:
    """The report as a FHIR R4 Bundle (``collection``) with one ``DiagnosticReport``.

    ``result`` references the Observations of the results the findings are about (a
    finding's ``row``) and of the baselines they compare with (``baseline_row``), in the
    order of the record: the original ``Observation/<id>`` of a
    FHIR input (the bundle then holds no copy of it), else an Observation added to the
    bundle. Every result the interpretation read, used by a finding or not, is an
    ``entity`` (role ``source``) of a ``Provenance`` whose target is the report.
    ``conclusion`` joins the findings' messages in ``lang`` (sources rendered) after the
    disclaimer that markers cannot diagnose osteoporosis; ``issued`` defaults to now (UTC).
    """
    if lang not in _UI:
        raise InputError(f"lang {lang!r}: expected one of {', '.join(_UI)}")
    catalog = marker_catalog()
    pid = _ID_SAFE.sub("-", report.patient_id).strip("-")[:64] or "patient"
    patient_ref = f"Patient/{pid}"
    pat: dict[str, Any] = {"resourceType": "Patient", "id": pid,
                           "identifier": [{"value": report.patient_id}]}
    if patient.birth_date:
        pat["birthDate"] = patient.birth_date
    entries: list[dict[str, Any]] = [_entry(pat)]
    used = _used_sources(report)
    read: list[dict[str, str]] = []
    results: list[dict[str, str]] = []
    for i, m in enumerate(patient.measurements, 1):
        if m.source.startswith("Observation/") and not m.source.endswith("/?"):
            ref = m.source
        else:
            oid = f"{pid}-obs-{i}"[:64]
            entries.append(_entry(_observation(m, oid, patient_ref, catalog)))
            ref = f"Observation/{oid}"
        read.append({"reference": ref})
        if m.source in used and {"reference": ref} not in results:
            results.append({"reference": ref})
    disclaimer = render_sources(_UI[lang]["disclaimer"], lang)
    conclusion = " ".join([disclaimer] + [render_sources(f.message[lang], lang)
                                          for f in report.findings])
    codes = []
    for f in report.findings:
        ext = [{"url": FHIR_EXTENSION + "severity", "valueCode": f.severity},
               {"url": FHIR_EXTENSION + "rule", "valueString": f.rule_id}]
        ext += [{"url": FHIR_EXTENSION + "source", "valueString": _citation(c, lang)}
                for c in f.sources]
        codes.append({"extension": ext,
                      "coding": [{"system": REPORT_SYSTEM, "code": f.code,
                                  "display": code_title(f.code, lang)}],
                      "text": render_sources(f.message[lang], lang)})
    issued = issued or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    dr: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": f"{pid}-btm-report"[:64],
        "extension": [{"url": FHIR_EXTENSION + "ruleset", "valueString": report.ruleset},
                      {"url": FHIR_EXTENSION + "disclaimer", "valueString": disclaimer},
                      *_input_extensions(report)],
        "status": "final",
        "category": [{"coding": [{"system": V2_0074, "code": "LAB",
                                  "display": "Laboratory"}]}],
        "code": {"coding": [{"system": REPORT_SYSTEM, "code": "btm-interpretation",
                             "display": "Bone turnover marker interpretation"}],
                 "text": "Bone turnover marker interpretation"},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": report.today,
        "issued": issued,
        "result": results,
        "conclusion": conclusion,
        "conclusionCode": codes,
    }
    for key in ("result", "conclusionCode"):  # FHIR JSON: no empty arrays
        if not dr[key]:
            del dr[key]
    prov: dict[str, Any] = {
        "resourceType": "Provenance", "id": f"{pid}-btm-provenance"[:64],
        "target": [{"reference": f"DiagnosticReport/{dr['id']}"}],
        "recorded": issued,
        "agent": [{"who": {"display": f"boneturnover {__version__}"}}],
        "entity": [{"role": "source", "what": r} for r in read],
    }
    if not prov["entity"]:
        del prov["entity"]
    entries += [_entry(prov), _entry(dr)]  # the report last, as before the Provenance
    return {"resourceType": "Bundle", "type": "collection", "timestamp": issued,
            "entry": entries}
