"""Validation and normalisation of patient records into the engine's tables.

Raw records (from a :class:`~boneturnover.clinical.records.PatientRecord`, CSV files or a FHIR
bundle) arrive as three data frames of text/number columns (:data:`RAW_COLUMNS`).
:func:`normalise` checks every row, vectorised so that a cohort of a million rows is
checked in seconds, and returns

* :class:`Tables`: one integer ``pid`` per patient, dates as integer days since
  1970-01-01, marker values in the catalog's canonical unit; and
* an error table (``patient_id``, ``source``, ``field``, ``message``): every problem
  found, each message naming the row, the field, the value and what was expected.

A patient with any error is left out of the tables (the cohort path reports it; the
single-patient path raises the first error as :class:`~boneturnover.errors.DataError`).
Ranges a field can take (age, supplements, dosing interval, dose) are data with their
sources (:data:`LIMITS`). Identical repeated results are counted once and reported in
``Tables.notices``. A censored result (``<0.03``, ``comparator`` ``<``) keeps its
comparator in ``meas.comparator``; ``meas.value`` is then the bound it was reported
against (the true value lies on the comparator's side of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError, UnitError
from ..knowledge.drugs import ROUTES, DrugCatalog, parse_duration_h
from ..knowledge.markers import MarkerCatalog
from ..units import check_ucum
from .values import (
    COMPARATORS,
    DAYS_PER_YEAR,
    LIMITS,
    RAW_COLUMNS,
    REQUIRED,
    SUPPLEMENT_MIN_MG_D,
    Limit,
    day_to_iso,
    split_comparator,
    to_day,
)
from .values import comparator_of as _comparator_of
from .values import mg_factor as _mg_factor
from .values import parse_bool as _parse_bool
from .values import parse_date as _parse_date
from .values import parse_time as _parse_time
from .values import slip_message as _slip_message

__all__ = ["Tables", "RAW_COLUMNS", "LIMITS", "Limit", "COMPARATORS", "normalise", "to_day",
           "day_to_iso", "empty_raw", "split_comparator"]

_EPOCH = np.datetime64("1970-01-01", "D")
_DAYS_PER_YEAR = DAYS_PER_YEAR


@dataclass(frozen=True)
class Tables:
    """Validated, normalised records of one or many patients.

    Attributes
    ----------
    patients : DataFrame
        ``pid``, ``patient_id``, ``birth_day``, ``ckd``, ``glucocorticoids`` (1/0/NaN),
        ``ca_supp_mg_d``, ``mg_supp_mg_d`` (mg/d).
    meas : DataFrame
        ``pid``, ``source``, ``day``, ``marker``, ``value`` (canonical unit), ``fasting``
        (1/0/NaN), ``time_min`` (minutes after midnight or NaN).
    treat : DataFrame
        ``pid``, ``source``, ``drug``, ``klass``, ``route``, ``start``, ``stop``,
        ``last_dose`` (days; NaN when absent), ``interval_days``.
    today : int
        The evaluation date in days since 1970-01-01.
    notices : DataFrame
        What was accepted but should be seen (``patient_id``, ``source``, ``field``,
        ``message``): identical repeated results counted once.

    ``meas`` also has ``comparator`` (``""`` for an exact result, else ``<``, ``<=``,
    ``>``, ``>=``) and ``preliminary`` (1/0).
    """

    patients: pd.DataFrame
    meas: pd.DataFrame
    treat: pd.DataFrame
    today: int
    notices: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["patient_id", "source", "field", "message"]))


def days_to_iso(days: pd.Series) -> pd.Series:
    """Vectorised :func:`day_to_iso`; NaN -> None."""
    v = days.to_numpy(dtype=float)
    ok = ~np.isnan(v)
    out = np.full(len(v), None, dtype=object)
    out[ok] = (_EPOCH + v[ok].astype(np.int64).astype("timedelta64[D]")).astype(str)
    return pd.Series(out, index=days.index, dtype=object)


def empty_raw(kind: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in RAW_COLUMNS[kind]})


class _Errors:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, frame: pd.DataFrame, mask: pd.Series | np.ndarray, field: str, make) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        sub = frame[mask]
        for _, r in sub.iterrows():
            self.rows.append((str(r["patient_id"]), str(r["source"]), field,
                              f"{r['source']}: {make(r)}"))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["patient_id", "source", "field", "message"])


def _dates(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """-> (days as float with NaN for blank, bad mask for non-blank unparsable)."""
    return _per_category(s, _parse_date)


def _bools(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """-> (1/0/NaN floats, bad mask)."""
    if s.dtype == bool:
        return s.to_numpy(dtype=float), np.zeros(len(s), dtype=bool)
    return _per_category(s, _parse_bool)


def _numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (floats, blank mask, bad mask); NaN, infinities and booleans are bad, not blank."""
    if pd.api.types.is_numeric_dtype(s) and s.dtype != bool:
        v = s.to_numpy(dtype=float)
        return v, np.zeros(len(s), dtype=bool), ~np.isfinite(v)
    obj = s.astype(object)
    is_bool = obj.map(lambda x: isinstance(x, bool | np.bool_)).to_numpy(dtype=bool)
    is_nan = obj.map(lambda x: isinstance(x, float) and not np.isfinite(x)).to_numpy(dtype=bool)
    text = obj.map(lambda x: None if x is None else str(x)).astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy() & ~is_nan
    v = pd.to_numeric(text.where(~text.isna() & (text != "")), errors="coerce").to_numpy(float)
    bad = (~blank & ~np.isfinite(v)) | is_bool | is_nan
    v = np.where(bad, np.nan, v)
    return v, blank, bad


def _prepare(frame: pd.DataFrame | None, kind: str, file_label: str) -> pd.DataFrame:
    if frame is None:
        return empty_raw(kind)
    missing = [c for c in REQUIRED[kind] if c not in frame.columns]
    if missing:
        raise InputError(f"{file_label}: missing column(s) {missing}; expected "
                         f"{list(RAW_COLUMNS[kind])}")
    f = frame.reset_index(drop=True).copy()
    for c in RAW_COLUMNS[kind]:
        if c not in f.columns:
            f[c] = pd.Series([None] * len(f), dtype=object)
    if "source" in RAW_COLUMNS[kind]:
        src = f["source"].astype("string")
        default = pd.Series([f"{file_label} row {i + 1}" for i in range(len(f))], dtype="string")
        f["source"] = src.fillna(default).astype(str) if len(f) else src.astype(object)
    f["patient_id"] = f["patient_id"].astype("string").str.strip()
    return f


def normalise(
    patients: pd.DataFrame | None,
    measurements: pd.DataFrame | None,
    treatments: pd.DataFrame | None,
    *,
    catalog: MarkerCatalog,
    drugs: DrugCatalog,
    today: int,
    labels: Mapping[str, str] | None = None,
    extra_errors: pd.DataFrame | None = None,
) -> tuple[Tables, pd.DataFrame]:
    """Check and normalise raw records; see the module docstring.

    Parameters
    ----------
    patients, measurements, treatments : DataFrame or None
        Raw frames with the columns of :data:`RAW_COLUMNS` (text or numbers).
    catalog, drugs
        Marker catalog (with laboratory overrides) and drug table.
    today : int
        Evaluation date, days since 1970-01-01; later dates are errors.
    labels : mapping, optional
        File labels used in row names (``measurements`` -> ``"measurements.csv"``).
    extra_errors : DataFrame, optional
        Problems found before (rows of a CSV that could not be read: ``patient_id``,
        ``source``, ``field``, ``message``); their patients are left out too.

    Returns
    -------
    (Tables, DataFrame)
        The tables of the patients without errors, and the error table.
    """
    labels = {"patients": "patients", "measurements": "measurements",
              "treatments": "treatments", **(labels or {})}
    pa = _prepare(patients, "patients", labels["patients"])
    me = _prepare(measurements, "measurements", labels["measurements"])
    tr = _prepare(treatments, "treatments", labels["treatments"])
    err = _Errors()
    pa["source"] = [f"{labels['patients']} row {i + 1}" for i in range(len(pa))]

    # -- patients ------------------------------------------------------------------------
    pid_blank = pa["patient_id"].isna() | (pa["patient_id"] == "")
    err.add(pa, pid_blank, "patient_id", lambda r: "patient_id is empty; give each patient an id")
    dup = pa["patient_id"].duplicated(keep=False) & ~pid_blank
    err.add(pa, dup, "patient_id",
            lambda r: f"patient_id {r['patient_id']!r} appears more than once")
    birth, bad = _dates(pa["birth_date"])
    err.add(pa, bad, "birth_date",
            lambda r: f"birth_date {r['birth_date']!r} is not a date YYYY-MM-DD")
    err.add(pa, birth > today, "birth_date",
            lambda r: f"birth_date {r['birth_date']} is in the future")
    age = (today - birth) / _DAYS_PER_YEAR
    lim = LIMITS["age_years"]
    err.add(pa, (birth <= today) & ((age < lim.low) | (age > lim.high)), "birth_date",
            lambda r: f"birth_date {r['birth_date']} gives an age of "
            f"{(today - to_day(r['birth_date'])) / _DAYS_PER_YEAR:.1f} years on "
            f"{day_to_iso(today)}; expected {lim.low:g} to {lim.high:g} years "
            f"({lim.cite}; {lim.evidence})")
    flags = {}
    for col in ("ckd", "glucocorticoids"):
        flags[col], bad = _bools(pa[col])
        err.add(pa, bad, col, lambda r, c=col: f"{c} {r[c]!r} is not true/false")
    supp = {}
    for col in ("calcium_supplement_mg_d", "magnesium_supplement_mg_d"):
        v, _, bad = _numbers(pa[col])
        lim = LIMITS[col]
        err.add(pa, bad | (v < lim.low) | (v > lim.high) | ((v > 0) & (v < SUPPLEMENT_MIN_MG_D)),
                col, lambda r, c=col, lim=lim: f"{c} {r[c]!r} must be a number from "
                f"{lim.low:g} to {lim.high:g} (mg per day, 0 or at least "
                f"{SUPPLEMENT_MIN_MG_D:g}; {lim.cite}; {lim.evidence})")
        supp[col] = v
    ids = pa["patient_id"][~pid_blank]
    pid_of = {p: i for i, p in enumerate(pd.unique(ids))}
    birth_of = dict(zip(pa["patient_id"], birth, strict=True))

    # -- measurements --------------------------------------------------------------------
    known_pid = me["patient_id"].isin(pid_of.keys()).to_numpy()
    err.add(me, ~known_pid, "patient_id",
            lambda r: f"patient_id {r['patient_id']!r} is not in {labels['patients']}")
    mcat = me["marker"].astype("string").str.strip().fillna("").astype("category")
    mid_lut = {c: catalog.find(c) for c in mcat.cat.categories}
    marker_id = mcat.map(mid_lut).astype(object)
    unknown = marker_id.isna().to_numpy()
    err.add(me, unknown, "marker",
            lambda r: f"marker {r['marker']!r} is unknown; expected one of "
            f"{', '.join(catalog)} (or an alias such as CTX, PINP, bone ALP)")
    ucat = me["unit"].astype("string").str.strip().fillna("").astype("category")
    factor = np.full(len(me), np.nan)
    if len(me):
        mcodes = pd.Categorical(marker_id.fillna(""), categories=[*catalog, ""]).codes
        ucodes = ucat.cat.codes.to_numpy()
        combo = mcodes.astype(np.int64) * (len(ucat.cat.categories) + 1) + ucodes
        uniq, inv = np.unique(combo, return_inverse=True)
        lut = np.full(len(uniq), np.nan)
        ids_list = [*catalog, ""]
        ucats = list(ucat.cat.categories)
        for k, key in enumerate(uniq):
            mi, ui = divmod(int(key), len(ucats) + 1)
            mid = ids_list[mi]
            if mid and ui < len(ucats):
                try:
                    lut[k] = catalog[mid].factor(ucats[ui])
                except UnitError:
                    pass
        factor = lut[inv]
    bad_unit = ~unknown & np.isnan(factor)
    err.add(me, bad_unit, "unit",
            lambda r: f"unit {r['unit']!r} is not accepted for {catalog.find(r['marker'])}; "
            f"expected one of {', '.join(catalog[catalog.find(r['marker'])].units)}")
    comp_in_value = me["value"].map(split_comparator)
    comp_v = comp_in_value.map(lambda x: x[0])
    comp_c = me["comparator"].map(_comparator_of)
    bad_comp = comp_c.isna().to_numpy()
    err.add(me, bad_comp, "comparator", lambda r: f"comparator {r['comparator']!r} must be "
            "one of <, <=, >, >= (or empty for an exact result)")
    comp_c = comp_c.fillna("")
    clash = ((comp_v != "") & (comp_c != "") & (comp_v != comp_c)).to_numpy()
    err.add(me, clash, "comparator", lambda r: f"value {r['value']!r} and comparator "
            f"{r['comparator']!r} disagree; give the comparator once")
    comparator = comp_v.where(comp_v != "", comp_c).to_numpy(dtype=object)
    value, blank, bad = _numbers(comp_in_value.map(lambda x: x[1]).astype(object))
    err.add(me, blank | bad, "value", lambda r: f"value {r['value']!r} is not a number"
            + (" (a finite number, optionally after <, <=, > or >=)" if r["value"] is not None
               else ""))
    preliminary, bad = _bools(me["preliminary"])
    err.add(me, bad, "preliminary",
            lambda r: f"preliminary {r['preliminary']!r} is not true/false")
    neg = value < 0
    err.add(me, neg, "value", lambda r: f"value {r['value']} is negative; a "
            f"{r['marker']} result cannot be below 0")
    canon = value * factor
    phi = _map_attr(marker_id, catalog, "plausible_high")
    plo = _map_attr(marker_id, catalog, "plausible_low")
    implausible = ~neg & ~np.isnan(canon) & ((canon < plo) | (canon > phi))
    err.add(me, implausible, "value", lambda r: _slip_message(r, catalog))
    day, bad = _dates(me["date"])
    err.add(me, bad | np.isnan(day) & ~bad, "date",
            lambda r: f"date {r['date']!r} is not a date YYYY-MM-DD")
    err.add(me, day > today, "date",
            lambda r: f"date {r['date']} is in the future (after {day_to_iso(today)})")
    bday = me["patient_id"].map(birth_of).to_numpy(dtype=float)
    err.add(me, day < bday, "date",
            lambda r: f"date {r['date']} is before the patient's birth date")
    fasting, bad = _bools(me["fasting"])
    err.add(me, bad, "fasting", lambda r: f"fasting {r['fasting']!r} is not true/false")
    tmin, bad = _times(me["time"])
    err.add(me, bad, "time", lambda r: f"time {r['time']!r} is not HH:MM")
    ok_rows = ~(np.isnan(canon) | np.isnan(day))
    dup_key = pd.DataFrame({"p": me["patient_id"], "m": marker_id, "d": day, "v": canon,
                            "c": comparator})[ok_rows]
    repeat = np.zeros(len(me), dtype=bool)
    notices: list[tuple[str, str, str, str]] = []
    if len(dup_key):
        same = dup_key.duplicated(["p", "m", "d", "v", "c"], keep="first")
        if same.any():
            first_src = me["source"][ok_rows].groupby(
                [dup_key["p"], dup_key["m"], dup_key["d"], dup_key["v"], dup_key["c"]],
                sort=False).transform("first")
            repeat[dup_key.index[same.to_numpy()]] = True
            for idx in dup_key.index[same.to_numpy()]:
                notices.append((str(me.at[idx, "patient_id"]), str(me.at[idx, "source"]),
                                "value", f"{me.at[idx, 'source']}: repeats {first_src[idx]} "
                                f"(same marker, date and result); counted once"))
        dup_key = dup_key[~same]
    if len(dup_key):
        if dup_key.duplicated(["p", "m", "d"]).any():
            grp = dup_key.groupby(["p", "m", "d"], sort=False)["v"]
            g = grp.transform("max") - grp.transform("min")
        else:
            g = pd.Series(0.0, index=dup_key.index)
        conflict = np.zeros(len(me), dtype=bool)
        conflict[dup_key.index[((g > 1e-9 * dup_key["v"].abs().clip(lower=1))
                                | (dup_key.groupby(["p", "m", "d"], sort=False)["c"]
                                   .transform("nunique") > 1)).to_numpy()]] = True
        err.add(me, conflict, "value",
                lambda r: f"{r['marker']} on {r['date']} has conflicting results; "
                "keep one result per marker and date")

    # -- treatments ----------------------------------------------------------------------
    known = tr["patient_id"].isin(pid_of.keys()).to_numpy()
    err.add(tr, ~known, "patient_id",
            lambda r: f"patient_id {r['patient_id']!r} is not in {labels['patients']}")
    dcat = tr["drug"].astype("string").str.strip().fillna("").astype("category")
    drug_id = dcat.map({c: drugs.find(c) for c in dcat.cat.categories}).astype(object)
    bad_drug = drug_id.isna().to_numpy()
    def _unknown_drug(r: pd.Series) -> str:
        close = drugs.suggest(str(r["drug"]))
        hint = f" (did you mean {close!r}?)" if close else ""
        return (f"drug {r['drug']!r} is unknown{hint}; expected one of {', '.join(drugs)} "
                "(generic, brand or Chinese name)")

    err.add(tr, bad_drug, "drug", _unknown_drug)
    route = tr["route"].astype("string").str.strip().str.lower()
    default_route = drug_id.map(lambda d: drugs[d].default_route if isinstance(d, str) else None)
    route = route.where(route.notna() & (route != ""), default_route.astype("string"))
    err.add(tr, ~bad_drug & ~route.isin(ROUTES).to_numpy(), "route",
            lambda r: f"route {r['route']!r} must be one of {', '.join(ROUTES)}")
    start, bad = _dates(tr["start"])
    err.add(tr, bad | np.isnan(start) & ~bad, "start",
            lambda r: f"start {r['start']!r} is not a date YYYY-MM-DD")
    stop, bad = _dates(tr["stop"])
    err.add(tr, bad, "stop", lambda r: f"stop {r['stop']!r} is not a date YYYY-MM-DD")
    last, bad = _dates(tr["last_dose"])
    err.add(tr, bad, "last_dose",
            lambda r: f"last_dose {r['last_dose']!r} is not a date YYYY-MM-DD")
    for name, arr in (("start", start), ("stop", stop), ("last_dose", last)):
        err.add(tr, arr > today, name, lambda r, n=name: f"{n} {r[n]} is in the future (after "
                f"{day_to_iso(today)}); leave stop empty for an ongoing course")
    err.add(tr, stop < start, "stop",
            lambda r: f"stop {r['stop']} precedes start {r['start']}")
    err.add(tr, (last < start) | (last > stop), "last_dose",
            lambda r: f"last_dose {r['last_dose']} lies outside the course {r['start']} to "
            f"{r['stop'] if isinstance(r['stop'], str) and r['stop'] else 'ongoing'}")
    interval = np.full(len(tr), np.nan)
    for i, (txt, d, r) in enumerate(zip(tr["interval"], drug_id, route, strict=True)):
        if not isinstance(d, str):
            continue
        if txt is None or (isinstance(txt, float) and np.isnan(txt)) or str(txt).strip() == "":
            interval[i] = drugs[d].interval_days(r if isinstance(r, str) else None)
        else:
            try:
                interval[i] = parse_duration_h(str(txt), "interval") / 24.0
            except InputError:
                pass
    err.add(tr, ~bad_drug & np.isnan(interval), "interval",
            lambda r: f"interval {r['interval']!r} is not a duration such as '6 mo', '1 wk', "
            "'1 a'")
    lim = LIMITS["interval_days"]
    err.add(tr, ~np.isnan(interval) & ((interval < lim.low) | (interval > lim.high)),
            "interval", lambda r: f"interval {r['interval']!r} must lie between {lim.low:g} "
            f"and {lim.high:g} days ({lim.cite}; {lim.evidence})")
    dose, _, bad = _numbers(tr["dose"])
    dose_mg = dose.copy()
    for i, u in enumerate(tr["dose_unit"]):
        if u is None or (isinstance(u, float) and np.isnan(u)) or not str(u).strip():
            continue
        try:
            check_ucum(str(u).strip())
            dose_mg[i] = dose[i] * _mg_factor(str(u).strip())
        except UnitError as exc:
            err.rows.append((str(tr["patient_id"][i]), str(tr["source"][i]), "dose_unit",
                             f"{tr['source'][i]}: dose_unit {str(u)!r}: {exc}; expected a mass "
                             "unit such as mg or ug"))
    lim = LIMITS["dose_mg"]
    err.add(tr, bad | (dose < 0) | (dose_mg > lim.high), "dose",
            lambda r: f"dose {r['dose']!r} must be a number from 0 to {lim.high:g} mg "
            f"({lim.cite}; {lim.evidence})")
    ov = pd.DataFrame({"p": tr["patient_id"], "d": drug_id, "s": start, "e": stop,
                       "src": tr["source"]}).dropna(subset=["d", "s"])
    if len(ov) > 1:
        ov = ov.sort_values(["p", "d", "s"], kind="stable")
        prev_end = ov.groupby(["p", "d"])["e"].shift().fillna(np.inf)
        prev_start = ov.groupby(["p", "d"])["s"].shift()
        prev_src = ov.groupby(["p", "d"])["src"].shift()
        clash = prev_start.notna() & (ov["s"] <= prev_end)
        for idx in ov.index[clash.to_numpy()]:
            r = tr.loc[idx]
            err.rows.append((str(r["patient_id"]), str(r["source"]), "start",
                             f"{r['source']}: course of {drug_id[idx]} starting {r['start']} "
                             f"overlaps the course in {prev_src[idx]}; merge them or set the "
                             "earlier stop"))

    errors = err.frame()
    if extra_errors is not None and len(extra_errors):
        errors = pd.concat([extra_errors.reindex(columns=errors.columns).astype(str), errors],
                           ignore_index=True)
    bad_ids = set(errors["patient_id"])
    keep_p = [p for p in pid_of if p not in bad_ids]
    pid_new = {p: i for i, p in enumerate(keep_p)}
    pmask = pa["patient_id"].isin(pid_new.keys()).to_numpy() & ~dup.to_numpy()
    patients_t = pd.DataFrame({
        "pid": pa["patient_id"][pmask].map(pid_new).to_numpy(dtype=np.int64),
        "patient_id": pa["patient_id"][pmask].astype(str).to_numpy(),
        "birth_day": birth[pmask],
        "ckd": flags["ckd"][pmask],
        "glucocorticoids": flags["glucocorticoids"][pmask],
        "ca_supp_mg_d": supp["calcium_supplement_mg_d"][pmask],
        "mg_supp_mg_d": supp["magnesium_supplement_mg_d"][pmask],
    })
    mmask = me["patient_id"].isin(pid_new.keys()).to_numpy() & ~repeat
    meas_t = pd.DataFrame({
        "pid": me["patient_id"][mmask].map(pid_new).to_numpy(dtype=np.int64),
        "source": me["source"][mmask].to_numpy(dtype=object),
        "day": day[mmask].astype(np.int64),
        "marker": marker_id[mmask].to_numpy(dtype=object),
        "value": canon[mmask],
        "fasting": fasting[mmask],
        "time_min": tmin[mmask],
        "comparator": comparator[mmask],
        "preliminary": np.nan_to_num(preliminary[mmask], nan=0.0),
    })
    tmask = tr["patient_id"].isin(pid_new.keys()).to_numpy()
    did = drug_id[tmask]
    treat_t = pd.DataFrame({
        "pid": tr["patient_id"][tmask].map(pid_new).to_numpy(dtype=np.int64),
        "source": tr["source"][tmask].to_numpy(dtype=object),
        "drug": did.to_numpy(dtype=object),
        "klass": did.map(lambda d: drugs[d].rule_class).to_numpy(dtype=object),
        "route": route[tmask].to_numpy(dtype=object),
        "start": start[tmask].astype(np.int64),
        "stop": stop[tmask],
        "last_dose": last[tmask],
        "interval_days": interval[tmask],
    })
    note_frame = pd.DataFrame(notices, columns=["patient_id", "source", "field", "message"])
    note_frame = note_frame[note_frame["patient_id"].isin(pid_new.keys())].reset_index(drop=True)
    return Tables(patients_t, meas_t, treat_t, int(today), note_frame), errors


def _map_attr(marker_id: pd.Series, catalog: MarkerCatalog, attr: str) -> np.ndarray:
    lut = {m: float(getattr(catalog[m], attr)) for m in catalog}
    return marker_id.map(lut).to_numpy(dtype=float)


def _per_category(s: pd.Series, parse) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``parse(text) -> float | None (bad) | nan (blank)`` once per distinct value."""
    cat = s.astype("string").str.strip().fillna("").astype("category")
    cats = list(cat.cat.categories)
    vals = np.array([parse(c) for c in cats] + [np.nan], dtype=object)
    codes = cat.cat.codes.to_numpy()
    picked = vals[np.where(codes < 0, len(cats), codes)]
    bad = np.array([v is None for v in picked], dtype=bool)
    out = np.array([np.nan if v is None else v for v in vals], dtype=float)
    return out[np.where(codes < 0, len(cats), codes)], bad


def _times(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """-> (minutes after midnight or NaN, bad mask)."""
    return _per_category(s, _parse_time)
