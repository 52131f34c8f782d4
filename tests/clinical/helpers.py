"""Builders shared by the clinical tests."""

from __future__ import annotations

from boneturnover.clinical import Measurement, PatientRecord, TreatmentRecord, interpret


def m(date, marker, value, unit=None, fasting=True, time=None):
    units = {"CTX_I": "ng/L", "P1NP_TOTAL": "ug/L", "P1NP": "ug/L", "P1NP_INTACT": "ug/L",
             "BALP": "ug/L", "OC": "ug/L", "MG": "mmol/L", "CA": "mmol/L", "EGFR": "mL/min",
             "VITD25": "nmol/L", "ALP": "U/L", "TRAP5B": "U/L", "PTH": "pg/mL"}
    return Measurement(date, marker, value, unit or units[marker], fasting=fasting, time=time)


def t(drug, start, stop=None, **kw):
    return TreatmentRecord(drug, start, stop, **kw)


def patient(*measurements, treatments=(), **facts):
    return PatientRecord("p1", measurements=tuple(measurements), treatments=tuple(treatments),
                         **facts)


def run(*measurements, treatments=(), today="2025-01-01", ruleset="paper", **facts):
    return interpret(patient(*measurements, treatments=treatments, **facts), today=today,
                     ruleset=ruleset)


def find(report, code, marker=None):
    out = [f for f in report.findings if f.code == code and (marker is None or f.marker == marker)]
    return out
