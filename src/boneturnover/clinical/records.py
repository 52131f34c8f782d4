"""Patient records: small immutable value objects (one patient, as given by a user).

Dates are ISO strings (``YYYY-MM-DD``); values carry their UCUM unit; nothing is
converted or checked here beyond types: :func:`boneturnover.clinical.tables.normalise`
does all checks, for one patient and for cohorts alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import DataError
from .tables import RAW_COLUMNS

__all__ = ["Measurement", "TreatmentRecord", "PatientRecord"]


def _iso(v: Any, where: str) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return v.strip()
    raise DataError(f"{where}: {v!r} is not a date YYYY-MM-DD")


@dataclass(frozen=True)
class Measurement:
    """One laboratory result.

    Attributes
    ----------
    date : str
        Sampling date ``YYYY-MM-DD``.
    marker : str
        Catalog id or alias (``CTX_I``, ``CTX``, ``PINP``, ...).
    value : float
        Result in ``unit``.
    unit : str
        UCUM unit (``ng/L``, ``ng/mL``, ``ug/L``, ``mmol/L``, ...).
    fasting : bool or None
        Whether the sample was taken fasting (None: not recorded).
    time : str or None
        Sampling time ``HH:MM``.
    source : str
        Where the row came from (used in messages: ``measurements[3]``).
    """

    date: str
    marker: str
    value: float | str
    unit: str
    fasting: bool | None = None
    time: str | None = None
    source: str = ""


@dataclass(frozen=True)
class TreatmentRecord:
    """One course of a drug, as recorded for a patient.

    Attributes
    ----------
    drug : str
        Any name of the drug catalogue: generic, brand or Chinese (``alendronate``,
        ``Prolia``, ``唑来膦酸``).
    start, stop : str
        First and last dose ``YYYY-MM-DD``; ``stop`` None while ongoing.
    dose, dose_unit : float, str
        Dose and UCUM unit (informational).
    interval : str
        Dosing interval as a UCUM duration (``"1 wk"``, ``"6 mo"``, ``"1 a"``); default
        the interval of the drug's usual regimen on ``route``.
    route : str
        ``oral``, ``iv`` or ``sc``; default the drug's usual route.
    last_dose : str
        Most recent administration (injectables), ``YYYY-MM-DD``.
    """

    drug: str
    start: str
    stop: str | None = None
    dose: float | None = None
    dose_unit: str | None = None
    interval: str | None = None
    route: str | None = None
    last_dose: str | None = None
    source: str = ""


@dataclass(frozen=True)
class PatientRecord:
    """One patient's record: facts, measurements and treatments.

    Attributes
    ----------
    patient_id : str
    birth_date : str or None
    ckd, glucocorticoids : bool or None
        Recorded chronic kidney disease / glucocorticoid exposure.
    calcium_supplement_mg_d, magnesium_supplement_mg_d : float or None
        Elemental calcium and magnesium from supplements, mg per day.
    measurements, treatments : tuple
    assay : mapping
        Laboratory overrides per marker (``{"CTX_I": {"ri_high": 573, "unit": "ng/L"}}``):
        fields ``ri_low``, ``ri_high``, ``unit``, ``cva_pct``, ``cvi_pct``, ``lsc_pct``.
    """

    patient_id: str
    measurements: tuple[Measurement, ...] = ()
    treatments: tuple[TreatmentRecord, ...] = ()
    birth_date: str | None = None
    ckd: bool | None = None
    glucocorticoids: bool | None = None
    calcium_supplement_mg_d: float | None = None
    magnesium_supplement_mg_d: float | None = None
    assay: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], label: str = "patient") -> PatientRecord:
        """Build from the TOML/JSON layout documented in ``docs/CLINICAL.md``.

        Raises
        ------
        DataError
            If a section has the wrong shape or a field is unknown.
        """
        if not isinstance(d, Mapping):
            raise DataError(f"{label}: expected a table/object, got {type(d).__name__}")
        pat = d.get("patient", {})
        allowed = {"id", "patient_id", "birth_date", "ckd", "glucocorticoids",
                   "calcium_supplement_mg_d", "magnesium_supplement_mg_d"}
        _no_extra(pat, allowed, f"{label}: [patient]")
        _no_extra(d, {"patient", "measurements", "treatments", "assay"}, label)
        pid = pat.get("id", pat.get("patient_id"))
        if pid is None or str(pid).strip() == "":
            raise DataError(f"{label}: [patient] id is missing; give the patient an id")
        meas = []
        for i, m in enumerate(_list(d.get("measurements", []), f"{label}: measurements"), 1):
            where = f"measurements[{i}]"
            _no_extra(m, {"date", "marker", "value", "unit", "fasting", "time"}, where)
            meas.append(Measurement(
                date=_iso(m.get("date"), where) or "", marker=str(m.get("marker", "")),
                value=m.get("value"), unit=str(m.get("unit", "")), fasting=m.get("fasting"),
                time=None if m.get("time") is None else str(m.get("time")), source=where))
        treats = []
        for i, t in enumerate(_list(d.get("treatments", []), f"{label}: treatments"), 1):
            where = f"treatments[{i}]"
            _no_extra(t, {"drug", "start", "stop", "dose", "dose_unit", "interval", "route",
                          "last_dose"}, where)
            treats.append(TreatmentRecord(
                drug=str(t.get("drug", "")), start=_iso(t.get("start"), where) or "",
                stop=_iso(t.get("stop"), where), dose=t.get("dose"), dose_unit=t.get("dose_unit"),
                interval=t.get("interval"), route=t.get("route"),
                last_dose=_iso(t.get("last_dose"), where), source=where))
        assay = d.get("assay", {})
        if not isinstance(assay, Mapping):
            raise DataError(f"{label}: [assay] must be a table of markers")
        return cls(
            patient_id=str(pid), measurements=tuple(meas), treatments=tuple(treats),
            birth_date=_iso(pat.get("birth_date"), "[patient] birth_date"),
            ckd=pat.get("ckd"), glucocorticoids=pat.get("glucocorticoids"),
            calcium_supplement_mg_d=pat.get("calcium_supplement_mg_d"),
            magnesium_supplement_mg_d=pat.get("magnesium_supplement_mg_d"),
            assay={k: dict(v) for k, v in assay.items()},
        )

    def raw_frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The three raw frames :func:`~boneturnover.clinical.tables.normalise` takes."""
        pa = pd.DataFrame([{
            "patient_id": self.patient_id, "birth_date": self.birth_date, "ckd": self.ckd,
            "glucocorticoids": self.glucocorticoids,
            "calcium_supplement_mg_d": self.calcium_supplement_mg_d,
            "magnesium_supplement_mg_d": self.magnesium_supplement_mg_d,
        }], columns=RAW_COLUMNS["patients"], dtype=object)
        me = pd.DataFrame(
            [{"patient_id": self.patient_id, "source": m.source or f"measurements[{i}]",
              "date": m.date, "marker": m.marker, "value": m.value, "unit": m.unit,
              "fasting": m.fasting, "time": m.time}
             for i, m in enumerate(self.measurements, 1)],
            columns=RAW_COLUMNS["measurements"], dtype=object)
        tr = pd.DataFrame(
            [{"patient_id": self.patient_id, "source": t.source or f"treatments[{i}]",
              "drug": t.drug, "dose": t.dose, "dose_unit": t.dose_unit, "interval": t.interval,
              "route": t.route, "start": t.start, "stop": t.stop, "last_dose": t.last_dose}
             for i, t in enumerate(self.treatments, 1)],
            columns=RAW_COLUMNS["treatments"], dtype=object)
        return pa, me, tr


def _list(v: Any, where: str) -> Sequence[Mapping[str, Any]]:
    if not isinstance(v, list) or not all(isinstance(x, Mapping) for x in v):
        raise DataError(f"{where}: expected a list of tables/objects")
    return v


def _no_extra(d: Any, allowed: set[str], where: str) -> None:
    if not isinstance(d, Mapping):
        raise DataError(f"{where}: expected a table/object")
    extra = set(d) - allowed
    if extra:
        raise DataError(f"{where}: unknown field(s) {sorted(extra)}; expected {sorted(allowed)}")
