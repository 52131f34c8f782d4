"""Patient records: small immutable value objects (one patient, as given by a user).

Dates are ISO strings (``YYYY-MM-DD``); values carry their UCUM unit. The TOML/JSON
layout is checked here against one schema (:data:`PATIENT_SCHEMA`: the type of every
field, at the boundary, before anything is built); values, units, ranges and dates are
checked by :func:`boneturnover.clinical.tables.normalise`, for one patient and for
cohorts alike.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import DataError, InputError
from .values import RAW_COLUMNS, to_day

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Measurement", "TreatmentRecord", "PatientRecord", "PATIENT_SCHEMA", "MAX_DEPTH"]

#: Deepest nesting of lists/tables a patient file, FHIR bundle or assays file may have
#: (the layouts need at most 12; deeper input is refused before it is walked).
MAX_DEPTH = 32

# What each field of the TOML/JSON layout may be: "text", "number" (finite, not a
# boolean), "bool", "date" (a TOML date or a text), "time" (a TOML time or a text).
_DATE, _TEXT, _NUM, _BOOL, _TIME = "date", "text", "number", "bool", "time"
#: The TOML/JSON patient layout: section -> field -> allowed kinds.
PATIENT_SCHEMA: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "top": {"as_of": (_DATE,)},
    "patient": {"id": (_TEXT, _NUM), "patient_id": (_TEXT, _NUM), "birth_date": (_DATE,),
                "ckd": (_BOOL, _TEXT), "glucocorticoids": (_BOOL, _TEXT),
                "calcium_supplement_mg_d": (_NUM, _TEXT),
                "magnesium_supplement_mg_d": (_NUM, _TEXT)},
    "measurements": {"date": (_DATE,), "marker": (_TEXT,), "value": (_NUM, _TEXT),
                     "unit": (_TEXT,), "comparator": (_TEXT,), "fasting": (_BOOL, _TEXT),
                     "time": (_TIME,)},
    "treatments": {"drug": (_TEXT,), "start": (_DATE,), "stop": (_DATE,),
                   "dose": (_NUM, _TEXT), "dose_unit": (_TEXT,), "interval": (_TEXT,),
                   "route": (_TEXT,), "last_dose": (_DATE,)},
    "assay": {"ri_low": (_NUM,), "ri_high": (_NUM,), "unit": (_TEXT,), "population": (_TEXT,),
              "interval": (_TEXT,), "cva_pct": (_NUM,), "cvi_pct": (_NUM,), "lsc_pct": (_NUM,)},
}
_KIND_NAMES = {_DATE: "a date YYYY-MM-DD", _TEXT: "a text", _NUM: "a finite number",
               _BOOL: "true/false", _TIME: "a time HH:MM"}


def _is_kind(v: Any, kind: str) -> bool:
    if kind == _TEXT:
        return isinstance(v, str)
    if kind == _NUM:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    if kind == _BOOL:
        return isinstance(v, bool)
    if kind == _DATE:
        return isinstance(v, str | dt.date) and not isinstance(v, dt.time)
    if kind == _TIME:
        return isinstance(v, str | dt.time)
    raise AssertionError(kind)


def shown(v: Any, limit: int = 40) -> str:
    """A value as a message shows it: its repr, cut to ``limit`` characters."""
    text = repr(v)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_fields(d: Mapping[str, Any], section: str, where: str) -> None:
    """Check every field of ``d`` against ``PATIENT_SCHEMA[section]`` (unknown fields and
    wrong types raise :class:`DataError` naming the field, the value and what was expected).
    """
    spec = PATIENT_SCHEMA[section]
    extra = set(d) - set(spec)
    if extra:
        raise DataError(f"{where}: unknown field(s) {sorted(map(str, extra))}; expected "
                        f"{sorted(spec)}")
    for k, v in d.items():
        if v is None:
            continue
        if not any(_is_kind(v, kind) for kind in spec[k]):
            nan = isinstance(v, float) and not math.isfinite(v)
            raise DataError(
                f"{where}: {k} = {shown(v)} must be "
                f"{' or '.join(_KIND_NAMES[kind] for kind in spec[k])}"
                + ("; leave the field out when it was not recorded" if nan else ""))


def depth_exceeds(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists/tables nest deeper than ``limit`` (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, Mapping):
            children = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        if d > limit:
            return True
        stack.extend((c, d + 1) for c in children)
    return False


def _clock(v: Any) -> str | None:
    if v is None:
        return None
    return v.strftime("%H:%M") if isinstance(v, dt.time) else str(v)


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


def _as_of(v: Any, label: str) -> str | None:
    """The evaluation date stored with a case, checked here: it is no record field, so
    nothing later names it in a message."""
    text = _iso(v, f"{label}: as_of")
    if text is None:
        return None
    try:
        to_day(text)
    except InputError:
        raise DataError(f"{label}: as_of = {shown(v)} must be a date YYYY-MM-DD (the "
                        "evaluation date of the case)") from None
    return text


@dataclass(frozen=True)
class Measurement:
    """One laboratory result.

    Attributes
    ----------
    date : str
        Sampling date ``YYYY-MM-DD``.
    marker : str
        Catalog id or alias (``CTX_I``, ``CTX``, ``PINP``, ...).
    value : float or str
        Result in ``unit``; a text may carry a comparator (``"<0.03"``).
    unit : str
        UCUM unit (``ng/L``, ``ng/mL``, ``ug/L``, ``mmol/L``, ...).
    fasting : bool or None
        Whether the sample was taken fasting (None: not recorded).
    time : str or None
        Sampling time ``HH:MM``.
    source : str
        Where the row came from (used in messages: ``measurements[3]``).
    comparator : str or None
        ``<``, ``<=``, ``>`` or ``>=`` when the laboratory reported a censored result
        (below or above its measuring range): the true value lies on that side of
        ``value``. None: an exact result.
    preliminary : bool
        The laboratory flagged the result preliminary (FHIR ``status``): it is used, with
        a caveat.
    """

    date: str
    marker: str
    value: float | str
    unit: str
    fasting: bool | None = None
    time: str | None = None
    source: str = ""
    comparator: str | None = None
    preliminary: bool = False


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
        fields ``ri_low``, ``ri_high``, ``unit``, ``cva_pct``, ``cvi_pct``, ``lsc_pct``,
        or ``interval`` (a named interval of the catalogue).
    as_of : str or None
        The evaluation date stored with the case (``as_of`` in the file), so that a stored
        case gives the same answer later; ``--today`` overrides it.
    ignored : tuple of mapping
        What the loader read but did not use (FHIR resources unrelated to bone turnover,
        results entered in error, statements of drugs not taken), each
        ``{"resource", "code", "reason"}``; the report lists them in its input summary.
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
    as_of: str | None = None
    ignored: tuple[Mapping[str, str], ...] = ()

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
        if depth_exceeds(d):
            raise DataError(f"{label}: lists/tables nest deeper than {MAX_DEPTH} levels; "
                            "expected the layout of docs/CLINICAL.md")
        _no_extra(d, {"patient", "measurements", "treatments", "assay", "as_of"}, label)
        check_fields({k: v for k, v in d.items() if k == "as_of"}, "top", label)
        pat = d.get("patient", {})
        _no_extra(pat, set(PATIENT_SCHEMA["patient"]), f"{label}: [patient]")
        check_fields(pat, "patient", f"{label}: [patient]")
        pid = pat.get("id", pat.get("patient_id"))
        if pid is None or str(pid).strip() == "":
            raise DataError(f"{label}: [patient] id is missing; give the patient an id")
        meas = []
        for i, m in enumerate(_list(d.get("measurements", []), f"{label}: measurements"), 1):
            where = f"measurements[{i}]"
            check_fields(m, "measurements", where)
            meas.append(Measurement(
                date=_iso(m.get("date"), where) or "", marker=str(m.get("marker", "")),
                value=m.get("value"), unit=str(m.get("unit", "")), fasting=m.get("fasting"),
                time=_clock(m.get("time")), source=where,
                comparator=m.get("comparator")))
        treats = []
        for i, t in enumerate(_list(d.get("treatments", []), f"{label}: treatments"), 1):
            where = f"treatments[{i}]"
            check_fields(t, "treatments", where)
            treats.append(TreatmentRecord(
                drug=str(t.get("drug", "")), start=_iso(t.get("start"), where) or "",
                stop=_iso(t.get("stop"), where), dose=t.get("dose"), dose_unit=t.get("dose_unit"),
                interval=t.get("interval"), route=t.get("route"),
                last_dose=_iso(t.get("last_dose"), where), source=where))
        assay = check_assay(d.get("assay", {}), f"{label}: [assay]")
        return cls(
            patient_id=str(pid), measurements=tuple(meas), treatments=tuple(treats),
            birth_date=_iso(pat.get("birth_date"), "[patient] birth_date"),
            ckd=pat.get("ckd"), glucocorticoids=pat.get("glucocorticoids"),
            calcium_supplement_mg_d=pat.get("calcium_supplement_mg_d"),
            magnesium_supplement_mg_d=pat.get("magnesium_supplement_mg_d"),
            assay=assay, as_of=_as_of(d.get("as_of"), label),
        )

    def raw_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                list[dict[str, Any]]]:
        """The raw records as rows (patients, measurements, treatments) with the columns of
        :data:`~boneturnover.clinical.values.RAW_COLUMNS`, values as given."""
        pa = [{"patient_id": self.patient_id, "birth_date": self.birth_date, "ckd": self.ckd,
               "glucocorticoids": self.glucocorticoids,
               "calcium_supplement_mg_d": self.calcium_supplement_mg_d,
               "magnesium_supplement_mg_d": self.magnesium_supplement_mg_d}]
        me = [{"patient_id": self.patient_id, "source": m.source or f"measurements[{i}]",
               "date": m.date, "marker": m.marker, "value": m.value, "unit": m.unit,
               "fasting": m.fasting, "time": m.time, "comparator": m.comparator,
               "preliminary": m.preliminary}
              for i, m in enumerate(self.measurements, 1)]
        tr = [{"patient_id": self.patient_id, "source": t.source or f"treatments[{i}]",
               "drug": t.drug, "dose": t.dose, "dose_unit": t.dose_unit, "interval": t.interval,
               "route": t.route, "start": t.start, "stop": t.stop, "last_dose": t.last_dose}
              for i, t in enumerate(self.treatments, 1)]
        return pa, me, tr

    def raw_frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The three raw frames :func:`~boneturnover.clinical.tables.normalise` takes."""
        import pandas as pd

        pa, me, tr = self.raw_rows()
        return tuple(pd.DataFrame(rows, columns=RAW_COLUMNS[kind], dtype=object)
                     for rows, kind in ((pa, "patients"), (me, "measurements"),
                                        (tr, "treatments")))


def check_assay(assay: Any, where: str) -> dict[str, dict[str, Any]]:
    """Check an ``[assay]`` table (patient file or a cohort's ``assays.toml``)."""
    if not isinstance(assay, Mapping):
        raise DataError(f"{where}: must be a table of markers, got {shown(assay)}")
    out = {}
    for k, v in assay.items():
        # a marker key as written may hold anything (a line break): shown, as values are
        name = str(k) if str(k).isidentifier() else shown(str(k))
        if not isinstance(v, Mapping):
            example = name if str(k).isidentifier() else "CTX_I"
            raise DataError(f"{where}: {name} = {shown(v)} must be a table such as "
                            f"[assay.{example}] with ri_low, ri_high, unit")
        check_fields(v, "assay", f"{where} {name}")
        out[str(k)] = dict(v)
    return out


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
