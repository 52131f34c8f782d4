"""The single-patient engine: one patient's records as plain Python rows.

:func:`boneturnover.clinical.interpret` (and ``boneturnover interpret FILE``) read one
patient. This module checks and normalises that patient's records and derives the rows
the condition kinds read (:class:`RecordContext`); :mod:`.single_kinds` evaluates the
kinds over them and :mod:`.engine` the rules, all without pandas or numpy, so that a
report of one patient costs milliseconds after the rules are read. The cohort path runs
the same rules vectorised over all patients at once (:mod:`boneturnover.clinical.frames`,
pandas); both read the same rules, catalogues and field definitions
(:mod:`boneturnover.clinical.values`), and ``tests/clinical`` checks that they give the
same report, the same refusal and the same message for the same patient.

Rows mirror the tables of :mod:`boneturnover.clinical.tables`: dates are days since
1970-01-01, values in the marker's canonical unit, a number not given is NaN and a text
not given is None (:func:`na`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

from ..errors import InputError, UnitError
from ..knowledge.drugs import ROUTES, DrugCatalog, parse_duration_h
from ..knowledge.markers import MarkerCatalog
from ..units import check_ucum
from .catalog import BONE_TURNOVER_MARKERS
from .kinds import OSTEOPOROSIS_CLASSES
from .records import PatientRecord
from .rules import Ruleset
from .values import (
    DAYS_PER_YEAR,
    LIMITS,
    SUPPLEMENT_MIN_MG_D,
    comparator_of,
    day_to_iso,
    mg_factor,
    numbers,
    parse_bool,
    parse_date,
    parse_time,
    slip_message,
    split_comparator,
    text_of,
    to_day,
)

__all__ = ["Records", "normalise_records", "RecordContext", "na", "ordered", "last_per",
           "first_per", "value_bounds", "interval_compare", "with_change", "change_compare"]

NAN = math.nan
INF = math.inf
Row = dict[str, Any]


def na(x: Any) -> bool:
    """Whether a cell is missing: None or NaN."""
    return x is None or (isinstance(x, float) and x != x)


# ---------------------------------------------------------------------------------------
# checking and normalising one patient's records (the rules of tables.normalise)


class Records:
    """Validated, normalised records of one patient (as :class:`~.tables.Tables`).

    ``patient`` is the patient row (``pid`` 0), ``meas`` and ``treat`` the rows in input
    order, ``today`` the evaluation date in days.
    """

    def __init__(self, patient: Row, meas: list[Row], treat: list[Row], today: int):
        self.patient = patient
        self.meas = meas
        self.treat = treat
        self.today = today


class _Missing:
    """A patient id that is not given, shown as the table path shows it."""

    def __repr__(self) -> str:
        return "<NA>"

    __str__ = __repr__


MISSING_ID = _Missing()


def _prepare(rows: Sequence[Mapping[str, Any]], label: str) -> list[Row]:
    out = []
    for i, r in enumerate(rows):
        f = dict(r)
        if "source" in f:
            f["source"] = f"{label} row {i + 1}" if na(f["source"]) else str(f["source"])
        pid = f.get("patient_id")
        f["patient_id"] = MISSING_ID if na(pid) else str(pid).strip()
        out.append(f)
    return out


def _null(v: Any) -> bool:
    return v is MISSING_ID or na(v)


def _as_shown(r: Row) -> Row:
    """The row as a message of the table path sees it: a row whose cells are all text or
    missing reads its missing cells as NaN (a pandas row of text), else as given."""
    vals = r.values()
    if any(isinstance(v, str) for v in vals) and all(isinstance(v, str) or _null(v)
                                                      for v in vals):
        return {k: NAN if _null(v) else v for k, v in r.items()}
    return r


def _col(rows: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    return [r[key] for r in rows]


def _parsed(cells: Iterable[Any], parse) -> tuple[list[float], list[bool]]:
    """``parse`` each cell's text: (values with NaN for blank, bad)."""
    vals, bad = [], []
    for x in cells:
        v = parse(text_of(x))
        bad.append(v is None)
        vals.append(NAN if v is None else v)
    return vals, bad


def normalise_records(patient: PatientRecord, *, catalog: MarkerCatalog, drugs: DrugCatalog,
                      today: int, label: str = "[patient]",
                      ) -> tuple[Records | None, list[tuple[str, str, str, str]]]:
    """Check and normalise one patient's records in the order and words of
    :func:`boneturnover.clinical.tables.normalise`.

    Returns
    -------
    (Records or None, list)
        The records (None when a problem was found) and every problem found
        (``patient_id``, ``source``, ``field``, ``message``).
    """
    raw_pa, raw_me, raw_tr = patient.raw_rows()
    pa = _prepare(raw_pa, label)
    me = _prepare(raw_me, "measurements")
    tr = _prepare(raw_tr, "treatments")
    for i, r in enumerate(pa):
        r["source"] = f"{label} row {i + 1}"
    errors: list[tuple[str, str, str, str]] = []

    def add(rows: Sequence[Row], mask: Sequence[bool], field: str, make) -> None:
        for r, m in zip(rows, mask, strict=True):
            if m:
                errors.append((str(r["patient_id"]), str(r["source"]), field,
                               f"{r['source']}: {make(_as_shown(r))}"))

    # -- patients ------------------------------------------------------------------------
    pid_blank = [r["patient_id"] is MISSING_ID or r["patient_id"] == "" for r in pa]
    add(pa, pid_blank, "patient_id", lambda r: "patient_id is empty; give each patient an id")
    counts: dict[Any, int] = {}
    for r in pa:
        counts[r["patient_id"]] = counts.get(r["patient_id"], 0) + 1
    dup = [counts[r["patient_id"]] > 1 and not b for r, b in zip(pa, pid_blank, strict=True)]
    add(pa, dup, "patient_id", lambda r: f"patient_id {r['patient_id']!r} appears more than once")
    birth, bad = _parsed(_col(pa, "birth_date"), parse_date)
    add(pa, bad, "birth_date", lambda r: f"birth_date {r['birth_date']!r} is not a date YYYY-MM-DD")
    add(pa, [b > today for b in birth], "birth_date",
        lambda r: f"birth_date {r['birth_date']} is in the future")
    lim = LIMITS["age_years"]
    age = [(today - b) / DAYS_PER_YEAR for b in birth]
    add(pa, [b <= today and (a < lim.low or a > lim.high) for b, a in zip(birth, age, strict=True)],
        "birth_date",
        lambda r: f"birth_date {r['birth_date']} gives an age of "
        f"{(today - to_day(r['birth_date'])) / DAYS_PER_YEAR:.1f} years on "
        f"{day_to_iso(today)}; expected {lim.low:g} to {lim.high:g} years "
        f"({lim.cite}; {lim.evidence})")
    flags = {}
    for col in ("ckd", "glucocorticoids"):
        flags[col], bad = _parsed(_col(pa, col), parse_bool)
        add(pa, bad, col, lambda r, c=col: f"{c} {r[c]!r} is not true/false")
    supp = {}
    for col in ("calcium_supplement_mg_d", "magnesium_supplement_mg_d"):
        v, _, bad = numbers(_col(pa, col))
        slim = LIMITS[col]
        add(pa, [b or x < slim.low or x > slim.high or 0 < x < SUPPLEMENT_MIN_MG_D
                 for x, b in zip(v, bad, strict=True)], col,
            lambda r, c=col, lim=slim: f"{c} {r[c]!r} must be a number from {lim.low:g} "
            f"to {lim.high:g} (mg per day, 0 or at least {SUPPLEMENT_MIN_MG_D:g}; "
            f"{lim.cite}; {lim.evidence})")
        supp[col] = v
    pid_of: dict[str, int] = {}
    for r, b in zip(pa, pid_blank, strict=True):
        if not b:
            pid_of.setdefault(r["patient_id"], len(pid_of))
    birth_of = {r["patient_id"]: b for r, b in zip(pa, birth, strict=True)}

    # -- measurements --------------------------------------------------------------------
    add(me, [r["patient_id"] not in pid_of for r in me], "patient_id",
        lambda r: f"patient_id {r['patient_id']!r} is not in {label}")
    marker_id = [catalog.find(text_of(r["marker"])) for r in me]
    unknown = [m is None for m in marker_id]
    add(me, unknown, "marker",
        lambda r: f"marker {r['marker']!r} is unknown; expected one of "
        f"{', '.join(catalog)} (or an alias such as CTX, PINP, bone ALP)")
    factors: dict[tuple[str, str], float] = {}
    factor = []
    for r, mid in zip(me, marker_id, strict=True):
        if mid is None:
            factor.append(NAN)
            continue
        unit = text_of(r["unit"])
        if (mid, unit) not in factors:
            try:
                factors[(mid, unit)] = catalog[mid].factor(unit)
            except UnitError:
                factors[(mid, unit)] = NAN
        factor.append(factors[(mid, unit)])
    add(me, [not u and math.isnan(f) for u, f in zip(unknown, factor, strict=True)], "unit",
        lambda r: f"unit {r['unit']!r} is not accepted for {catalog.find(r['marker'])}; "
        f"expected one of {', '.join(catalog[catalog.find(r['marker'])].units)}")
    comp_in_value = [split_comparator(r["value"]) for r in me]
    comp_v = [c for c, _ in comp_in_value]
    comp_c = [comparator_of(r["comparator"]) for r in me]
    add(me, [c is None for c in comp_c], "comparator",
        lambda r: f"comparator {r['comparator']!r} must be "
        "one of <, <=, >, >= (or empty for an exact result)")
    comp_c = ["" if c is None else c for c in comp_c]
    add(me, [v != "" and c != "" and v != c for v, c in zip(comp_v, comp_c, strict=True)],
        "comparator", lambda r: f"value {r['value']!r} and comparator "
        f"{r['comparator']!r} disagree; give the comparator once")
    comparator = [v if v != "" else c for v, c in zip(comp_v, comp_c, strict=True)]
    value, blank, bad = numbers([x for _, x in comp_in_value])
    add(me, [a or b for a, b in zip(blank, bad, strict=True)], "value",
        lambda r: f"value {r['value']!r} is not a number"
        + (" (a finite number, optionally after <, <=, > or >=)" if r["value"] is not None
           else ""))
    preliminary, bad = _parsed(_col(me, "preliminary"), parse_bool)
    add(me, bad, "preliminary", lambda r: f"preliminary {r['preliminary']!r} is not true/false")
    neg = [v < 0 for v in value]
    add(me, neg, "value", lambda r: f"value {r['value']} is negative; a "
        f"{r['marker']} result cannot be below 0")
    canon = [v * f for v, f in zip(value, factor, strict=True)]
    plo = [NAN if m is None else float(catalog[m].plausible_low) for m in marker_id]
    phi = [NAN if m is None else float(catalog[m].plausible_high) for m in marker_id]
    add(me, [not n and not math.isnan(c) and (c < lo or c > hi)
             for n, c, lo, hi in zip(neg, canon, plo, phi, strict=True)], "value",
        lambda r: slip_message(r, catalog))
    day, bad = _parsed(_col(me, "date"), parse_date)
    add(me, [b or (math.isnan(d) and not b) for d, b in zip(day, bad, strict=True)], "date",
        lambda r: f"date {r['date']!r} is not a date YYYY-MM-DD")
    add(me, [d > today for d in day], "date",
        lambda r: f"date {r['date']} is in the future (after {day_to_iso(today)})")
    bday = [birth_of.get(r["patient_id"], NAN) for r in me]
    add(me, [d < b for d, b in zip(day, bday, strict=True)], "date",
        lambda r: f"date {r['date']} is before the patient's birth date")
    fasting, bad = _parsed(_col(me, "fasting"), parse_bool)
    add(me, bad, "fasting", lambda r: f"fasting {r['fasting']!r} is not true/false")
    tmin, bad = _parsed(_col(me, "time"), parse_time)
    add(me, bad, "time", lambda r: f"time {r['time']!r} is not HH:MM")
    # an identical repeated result is counted once; different results of one marker on
    # one date conflict
    repeat = [False] * len(me)
    seen: set[tuple] = set()
    kept = []
    for i in range(len(me)):
        if math.isnan(canon[i]) or math.isnan(day[i]):
            continue
        key = (me[i]["patient_id"], marker_id[i], day[i], canon[i], comparator[i])
        if key in seen:
            repeat[i] = True
        else:
            seen.add(key)
            kept.append(i)
    groups: dict[tuple, list[int]] = {}
    for i in kept:
        groups.setdefault((me[i]["patient_id"], marker_id[i], day[i]), []).append(i)
    conflict = [False] * len(me)
    for idx in groups.values():
        vs = [canon[i] for i in idx]
        spread = max(vs) - min(vs)
        several = len({comparator[i] for i in idx}) > 1
        for i in idx:
            if spread > 1e-9 * max(abs(canon[i]), 1) or several:
                conflict[i] = True
    add(me, conflict, "value", lambda r: f"{r['marker']} on {r['date']} has conflicting results; "
        "keep one result per marker and date")

    # -- treatments ----------------------------------------------------------------------
    add(tr, [r["patient_id"] not in pid_of for r in tr], "patient_id",
        lambda r: f"patient_id {r['patient_id']!r} is not in {label}")
    drug_id = [drugs.find(text_of(r["drug"])) for r in tr]
    bad_drug = [d is None for d in drug_id]

    def unknown_drug(r: Row) -> str:
        close = drugs.suggest(str(r["drug"]))
        hint = f" (did you mean {close!r}?)" if close else ""
        return (f"drug {r['drug']!r} is unknown{hint}; expected one of {', '.join(drugs)} "
                "(generic, brand or Chinese name)")

    add(tr, bad_drug, "drug", unknown_drug)
    route = []
    for r, d in zip(tr, drug_id, strict=True):
        given = text_of(r["route"]).lower()
        route.append(given if given != "" else (drugs[d].default_route if d else None))
    add(tr, [not b and rt not in ROUTES for b, rt in zip(bad_drug, route, strict=True)], "route",
        lambda r: f"route {r['route']!r} must be one of {', '.join(ROUTES)}")
    start, bad = _parsed(_col(tr, "start"), parse_date)
    add(tr, [b or (math.isnan(s) and not b) for s, b in zip(start, bad, strict=True)], "start",
        lambda r: f"start {r['start']!r} is not a date YYYY-MM-DD")
    stop, bad = _parsed(_col(tr, "stop"), parse_date)
    add(tr, bad, "stop", lambda r: f"stop {r['stop']!r} is not a date YYYY-MM-DD")
    last, bad = _parsed(_col(tr, "last_dose"), parse_date)
    add(tr, bad, "last_dose", lambda r: f"last_dose {r['last_dose']!r} is not a date YYYY-MM-DD")
    for name, arr in (("start", start), ("stop", stop), ("last_dose", last)):
        add(tr, [x > today for x in arr], name,
            lambda r, n=name: f"{n} {r[n]} is in the future (after "
            f"{day_to_iso(today)}); leave stop empty for an ongoing course")
    add(tr, [e < s for s, e in zip(start, stop, strict=True)], "stop",
        lambda r: f"stop {r['stop']} precedes start {r['start']}")
    add(tr, [x < s or x > e for s, e, x in zip(start, stop, last, strict=True)], "last_dose",
        lambda r: f"last_dose {r['last_dose']} lies outside the course {r['start']} to "
        f"{r['stop'] if isinstance(r['stop'], str) and r['stop'] else 'ongoing'}")
    interval = []
    for r, d, rt in zip(tr, drug_id, route, strict=True):
        txt = r["interval"]
        if d is None:
            interval.append(NAN)
        elif txt is None or (isinstance(txt, float) and math.isnan(txt)) or str(txt).strip() == "":
            interval.append(drugs[d].interval_days(rt))
        else:
            try:
                interval.append(parse_duration_h(str(txt), "interval") / 24.0)
            except InputError:
                interval.append(NAN)
    add(tr, [not b and math.isnan(x) for b, x in zip(bad_drug, interval, strict=True)],
        "interval", lambda r: f"interval {r['interval']!r} is not a duration such as '6 mo', "
        "'1 wk', '1 a'")
    ilim = LIMITS["interval_days"]
    add(tr, [not math.isnan(x) and (x < ilim.low or x > ilim.high) for x in interval],
        "interval", lambda r: f"interval {r['interval']!r} must lie between {ilim.low:g} "
        f"and {ilim.high:g} days ({ilim.cite}; {ilim.evidence})")
    dose, _, bad = numbers(_col(tr, "dose"))
    dose_mg = list(dose)
    for i, r in enumerate(tr):
        u = r["dose_unit"]
        if u is None or (isinstance(u, float) and math.isnan(u)) or not str(u).strip():
            continue
        try:
            check_ucum(str(u).strip())
            dose_mg[i] = dose[i] * mg_factor(str(u).strip())
        except UnitError as exc:
            errors.append((str(r["patient_id"]), str(r["source"]), "dose_unit",
                           f"{r['source']}: dose_unit {str(u)!r}: {exc}; expected a mass "
                           "unit such as mg or ug"))
    dlim = LIMITS["dose_mg"]
    add(tr, [b or x < 0 or m > dlim.high for x, m, b in zip(dose, dose_mg, bad, strict=True)],
        "dose", lambda r: f"dose {r['dose']!r} must be a number from 0 to {dlim.high:g} mg "
        f"({dlim.cite}; {dlim.evidence})")
    ov = [i for i in range(len(tr)) if drug_id[i] is not None and not math.isnan(start[i])]
    if len(ov) > 1:
        def pid_key(i: int) -> tuple[bool, str]:
            p = tr[i]["patient_id"]
            return (True, "") if p is MISSING_ID else (False, p)

        ov.sort(key=lambda i: (pid_key(i), drug_id[i], start[i]))
        prev: dict[tuple, int] = {}
        for i in ov:
            key = (tr[i]["patient_id"], drug_id[i])
            if key[0] is MISSING_ID:
                continue
            j = prev.get(key)
            prev[key] = i
            if j is None:
                continue
            prev_end = INF if math.isnan(stop[j]) else stop[j]
            if start[i] <= prev_end:
                r = _as_shown(tr[i])
                errors.append((str(r["patient_id"]), str(r["source"]), "start",
                               f"{r['source']}: course of {drug_id[i]} starting {r['start']} "
                               f"overlaps the course in {tr[j]['source']}; merge them or set "
                               "the earlier stop"))
    if errors:
        return None, errors

    p = pa[0]
    prow = {"pid": 0, "patient_id": str(p["patient_id"]), "birth_day": birth[0],
            "ckd": flags["ckd"][0], "glucocorticoids": flags["glucocorticoids"][0],
            "ca_supp_mg_d": supp["calcium_supplement_mg_d"][0],
            "mg_supp_mg_d": supp["magnesium_supplement_mg_d"][0]}
    meas = [{"pid": 0, "source": me[i]["source"], "day": int(day[i]), "marker": marker_id[i],
             "value": canon[i], "fasting": fasting[i], "time_min": tmin[i],
             "comparator": comparator[i],
             "preliminary": 0.0 if math.isnan(preliminary[i]) else preliminary[i]}
            for i in range(len(me)) if not repeat[i]]
    treat = [{"pid": 0, "source": tr[i]["source"], "drug": drug_id[i],
              "klass": drugs[drug_id[i]].rule_class, "route": route[i], "start": int(start[i]),
              "stop": stop[i], "last_dose": last[i], "interval_days": interval[i]}
             for i in range(len(tr))]
    return Records(prow, meas, treat, int(today)), []


# ---------------------------------------------------------------------------------------
# derived rows, computed once (the cached properties of conditions.Context)


def ordered(rows: Iterable[Row], keys: Sequence[str]) -> list[Row]:
    """A stable sort by ``keys``, missing values first (pandas' ``na_position="first"``)."""
    def key(r: Row) -> tuple:
        return tuple((0, 0) if na(r.get(k)) else (1, r[k]) for k in keys)
    return sorted(rows, key=key)


def last_per(rows: Iterable[Row], keys: Sequence[str]) -> list[Row]:
    """``drop_duplicates(keys, keep="last")``: the last row of each key, in the order of
    those last rows."""
    rows = list(rows)
    last: dict[tuple, int] = {}
    for i, r in enumerate(rows):
        last[tuple(r.get(k) for k in keys)] = i
    keep = set(last.values())
    return [r for i, r in enumerate(rows) if i in keep]


def first_per(rows: Iterable[Row], keys: Sequence[str]) -> list[Row]:
    """``drop_duplicates(keys, keep="first")``."""
    seen: set[tuple] = set()
    out = []
    for r in rows:
        k = tuple(r.get(x) for x in keys)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def value_bounds(v: float, comparator: Any) -> tuple[float, float, bool, bool]:
    """The interval a result allows: ``(low, high, low_open, high_open)`` (see
    :func:`boneturnover.clinical.conditions.value_bounds`)."""
    c = "" if na(comparator) else comparator
    lo = 0.0 if c in ("<", "<=") else v
    hi = INF if c in (">", ">=") else v
    return lo, hi, c == ">", c == "<"


def interval_compare(lo: float, hi: float, lo_open: bool, hi_open: bool, op: str, r: float,
                     r2: float = NAN) -> tuple[bool, bool]:
    """Whether every value of ``[lo, hi]`` satisfies ``op`` against ``r`` and whether none
    does (:func:`boneturnover.clinical.conditions.interval_compare`)."""
    if op == ">":
        return (lo > r) or (lo == r and lo_open), hi <= r
    if op == ">=":
        return lo >= r, (hi < r) or (hi == r and hi_open)
    if op == "<":
        return (hi < r) or (hi == r and hi_open), lo >= r
    if op == "<=":
        return hi <= r, (lo > r) or (lo == r and lo_open)
    below = (hi < r) or (hi == r and hi_open)
    if op == "within":
        return lo >= r and hi <= r2, below or lo > r2 or (lo == r2 and lo_open)
    if op == "between":
        return lo >= r and ((hi < r2) or (hi == r2 and hi_open)), below or lo >= r2
    raise ValueError(f"op {op!r} unknown")


def div(a: float, b: float) -> float:
    """``a / b`` as floating point arrays divide: a division by zero is infinite or NaN."""
    try:
        return a / b
    except ZeroDivisionError:
        if math.isnan(a) or a == 0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


_CHANGE = ("change_abs", "change_pct", "change_pct_min", "change_pct_max", "censored_change_")


def with_change(r: Row, ref: str, ref_comparator: str, value: str = "value",
                comparator: str = "comparator") -> Row:
    """The row with the change of ``value`` from ``ref``
    (:func:`boneturnover.clinical.conditions.with_change`)."""
    vc = r.get(comparator)
    vc = "" if na(vc) else vc
    rc = r.get(ref_comparator)
    rc = "" if na(rc) else rc
    v, b = r[value], r[ref]
    censored = (vc != "" or rc != "") and not na(b)
    change_abs = v - b
    change_pct = div(100.0 * change_abs, b)
    vlo, vhi, _, _ = value_bounds(v, vc)
    rlo, rhi, _, _ = value_bounds(b, rc)
    top = 100.0 * (div(vhi, rlo) - 1.0) if rlo > 0 else INF
    bottom = -100.0 if math.isinf(rhi) else 100.0 * (div(vlo, rhi) - 1.0)
    top = NAN if math.isinf(top) else top
    bottom = NAN if bottom <= -100.0 else bottom
    out = dict(r)
    out.update(change_abs=NAN if censored else change_abs,
               change_pct=NAN if censored else change_pct,
               change_pct_min=bottom if censored else NAN,
               change_pct_max=top if censored else NAN, censored_change_=censored)
    return out


_BIG = 1.7976931348623157e308


def _nan_to_num(x: float, nan: float) -> float:
    if math.isnan(x):
        return nan
    if math.isinf(x):
        return math.copysign(_BIG, x)
    return x


def change_compare(r: Row, op: str, threshold: float) -> tuple[bool, bool]:
    """:func:`interval_compare` of the change from baseline (or its bounds)."""
    if r["censored_change_"]:
        lo = _nan_to_num(r["change_pct_min"], -100.0)
        hi = _nan_to_num(r["change_pct_max"], INF)
    else:
        lo = hi = r["change_pct"]
    return interval_compare(lo, hi, False, False, op, threshold)


class RecordContext:
    """Everything a condition kind may read about one patient; derived rows are computed
    once, lazily (:class:`boneturnover.clinical.conditions.Context` for rows)."""

    def __init__(self, records: Records, catalog: MarkerCatalog, drugs: DrugCatalog,
                 ruleset: Ruleset):
        self.records = records
        self.catalog = catalog
        self.drugs = drugs
        self.ruleset = ruleset
        self.today = records.today
        self.patients = [records.patient]
        self.treat = records.treat
        self.cache: dict[Any, Any] = {}

    @cached_property
    def marker_info(self) -> dict[str, dict[str, Any]]:
        out = {}
        for mid, m in self.catalog.items():
            rs_lsc = self.ruleset.lsc.get(mid)
            lsc = m.lsc_pct if (rs_lsc is None or m.overridden & {"lsc", "cv"}) else rs_lsc.pct
            tgt = self.ruleset.targets.get(mid)
            out[mid] = {
                "process": m.process,
                "ri_low": NAN if m.ri is None or m.ri.low is None else m.ri.low,
                "ri_high": NAN if m.ri is None or m.ri.high is None else m.ri.high,
                "lsc_pct": float(lsc), "target": NAN if tgt is None else tgt.value,
                "requires_fasting": m.requires_fasting, "renal_clearance": m.renal_clearance,
                "morning_sample": m.morning_sample,
            }
        return out

    def ref_value(self, marker: str, ref: Any) -> float:
        """The reference value (canonical unit) of ``marker``; NaN where it has none."""
        v = self.catalog[marker].reference_value(ref)
        return NAN if v is None else float(v)

    @cached_property
    def meas(self) -> list[Row]:
        """Measurements sorted by (marker, day, source)."""
        return ordered(self.records.meas, ("pid", "marker", "day", "source"))

    @cached_property
    def latest(self) -> list[Row]:
        """The latest measurement of each marker."""
        return last_per(self.meas, ("pid", "marker"))

    @cached_property
    def btm(self) -> list[Row]:
        return [m for m in self.meas if m["marker"] in BONE_TURNOVER_MARKERS]

    @cached_property
    def courses(self) -> list[Row]:
        """Treatment courses with class, window and retest plan under the rule set."""
        out = []
        for cid, t in enumerate(self.treat):
            c = dict(t)
            c["cid"] = cid
            drug = self.drugs[t["drug"]]
            w = self.ruleset.window_for(drug, t["route"])
            plan = self.ruleset.retest_for(drug, t["route"])
            grace = NAN if drug.overdue_grace_days is None else float(drug.overdue_grace_days)
            stopped = not math.isnan(t["stop"])
            oral = t["route"] == "oral"
            last = t["last_dose"] if not math.isnan(t["last_dose"]) else (
                t["stop"] if stopped else float(t["start"]))
            last = float(last)
            iv = t["interval_days"]
            c["last_given"] = last
            c["grace_days"] = grace
            c["due"] = NAN if oral else last + iv
            lapse = last + iv + grace if (not stopped and not oral and not math.isnan(grace)) \
                else NAN
            c["lapse_day"] = lapse
            if oral:
                c["covered_until"] = t["stop"] if stopped else INF
            else:
                c["covered_until"] = last + iv if stopped else (INF if math.isnan(lapse)
                                                                else lapse)
            c["lapsed_today"] = not math.isnan(lapse) and self.today > lapse
            c["win_resorption"] = NAN if w is None else float(w.resorption_days)
            c["win_formation"] = NAN if w is None else float(w.formation_days)
            for f in ("assess_from_days", "first_days", "monitor_days", "off_first_days",
                      "off_interval_days"):
                v = None if plan is None else getattr(plan, f)
                c[f] = NAN if v is None else float(v)
            out.append(c)
        osteo = [c for c in out if c["klass"] in OSTEOPOROSIS_CLASSES]
        anti = [c for c in osteo if c["klass"] in ("bisphosphonate", "denosumab")]
        for c in out:
            c["next_start"] = _next_start(c, osteo)
            c["next_antiresorptive"] = _next_start(c, anti)
        return out

    @cached_property
    def course_btm(self) -> list[Row]:
        """Every (course, bone turnover measurement) pair with baseline, phase and change
        (:attr:`boneturnover.clinical.conditions.Context.course_btm`)."""
        courses = [c for c in self.courses if c["klass"] in OSTEOPOROSIS_CLASSES]
        cols = ("cid", "pid", "drug", "klass", "route", "start", "stop", "win_resorption",
                "win_formation", "next_start", "last_given", "covered_until", "due",
                "grace_days", "interval_days")
        bw = self.ruleset.baseline_window_days
        info = self.marker_info
        base: dict[tuple[int, str], Row] = {}
        for c in courses:
            for m in self.btm:
                if c["start"] - bw <= m["day"] <= c["start"]:
                    base[(c["cid"], m["marker"])] = m
        out = []
        for m in self.btm:
            for c in courses:
                j = dict(m)
                j.update({k: c[k] for k in cols})
                b = base.get((c["cid"], m["marker"]))
                j["baseline"] = NAN if b is None else b["value"]
                j["baseline_day"] = NAN if b is None else b["day"]
                j["baseline_comparator"] = "" if b is None else b["comparator"]
                d = j["day"]
                if d > j["start"] and d <= j["covered_until"]:
                    phase = "on"
                elif d > j["covered_until"]:
                    phase = "off" if not math.isnan(j["stop"]) else "lapsed"
                else:
                    phase = "pre"
                j["phase"] = phase
                j["days_on"] = float(d - j["start"])
                j = with_change(j, "baseline", "baseline_comparator")
                mi = info[j["marker"]]
                j["lsc_pct"] = mi["lsc_pct"]
                j["target"] = mi["target"]
                j["process"] = mi["process"]
                j["nadir_days"] = (j["win_resorption"] if mi["process"] == "resorption"
                                   else j["win_formation"])
                out.append(j)
        return ordered(out, ("cid", "marker", "day", "source"))

    @cached_property
    def active_glucocorticoid(self) -> set[int]:
        return {t["pid"] for t in self.treat if t["klass"] == "glucocorticoid"
                and (math.isnan(t["stop"]) or t["stop"] >= self.today)}


def _next_start(c: Row, pool: Sequence[Row]) -> float:
    later = [p["start"] for p in pool if p["pid"] == c["pid"] and p["start"] > c["start"]]
    return float(min(later)) if later else NAN
