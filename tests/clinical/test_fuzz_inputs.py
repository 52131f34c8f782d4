"""Fuzzing every clinical input: patient TOML and JSON, FHIR bundles, cohort CSV folders.

About half of the generated inputs are plausible (realistic patients, which must be
interpreted) and the others plausible ones with one to three mutations. Each is either
interpreted or refused with an InputError subclass (the CLI's exit 2, one line): never
another exception, never NaN or infinity in a finding or "nan", "inf", "∞", "None" in its
message, never a finding dated outside the record or built on an impossible dosing
interval. The fast profile runs by default; the
long one (``pytest -m fuzz``) tries ``BONETURNOVER_FUZZ_EXAMPLES`` (default 2000) cases per
kind and, with ``BONETURNOVER_FUZZ_STATS=FILE``, writes how many were interpreted, refused,
crashed, hung or silently accepted (merged with the counts already in FILE, so that the
scenario fuzz can write to the same file); ``BONETURNOVER_FUZZ_MESSAGES=FILE`` writes the
distinct refusal messages of the cohort cases, to read them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boneturnover.cli import main as cli_main
from boneturnover.clinical import interpret, load_cohort, load_patient
from boneturnover.clinical import io as io_mod
from boneturnover.clinical.catalog import CATALOG, DRUGS
from boneturnover.clinical.cohort import interpret_cohort
from boneturnover.clinical.tables import LIMITS, RAW_COLUMNS, REQUIRED
from boneturnover.errors import InputError
from fuzz_support import fuzz_case, write_stats

DATA = Path(__file__).resolve().parent / "data"
TODAY = "2025-01-01"
FAST = 50  # examples per kind (a cohort case costs more: a quarter of these)
LONG = int(os.environ.get("BONETURNOVER_FUZZ_EXAMPLES", "2000"))
#: Seconds after which a cohort case counts as a hang (one takes about 1 s).
HANG_S = 60.0
STATS: Counter = Counter()
MESSAGES: Counter = Counter()


def _settings(n: int):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much])


def _finite(x) -> bool:
    return not isinstance(x, float) or math.isfinite(x)


def _check_report(report) -> None:
    for f in report.findings:
        assert _finite(f.value), (f.code, f.value)
        for k, v in (f.numbers or {}).items():
            assert _finite(v), (f.code, k, v)
            if k in ("interval_days",):
                lim = LIMITS["interval_days"]
                assert lim.low <= v <= lim.high, (f.code, k, v)


def _outcome(kind: str, fn) -> str:
    STATS[(kind, "cases")] += 1
    try:
        out = fn()
    except InputError as exc:
        assert "Traceback" not in str(exc) and str(exc).strip()
        STATS[(kind, "refused")] += 1
        return "refused"
    except AssertionError:
        STATS[(kind, "silent")] += 1
        raise
    except Exception:
        STATS[(kind, "crash")] += 1
        raise
    STATS[(kind, "interpreted")] += 1
    return out


# -- strategies --------------------------------------------------------------------------

def _deep(n: int):
    v: object = 1
    for _ in range(n):
        v = [v]
    return v


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "<0.03", ">2000", "0 d", "6 s", "1 wk", "6 mo", "kg", "h", "ng/ml",
                     "µg/L", "2024-02-30", "1800-01-01", "2024-05-01", "08:00", "25:99",
                     "CTX", "P1NP", "alendronate", "Prolia", "nan", "inf", "-1", "1e12"]),
)
JSONISH = st.recursive(SCALARS, lambda c: st.one_of(
    st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c, max_size=3)),
    max_leaves=8) | st.sampled_from([_deep(40), _deep(1000), {"a": _deep(60)}])


def _field(valid):
    return st.one_of(st.just(valid), st.just(valid), JSONISH)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}"
                               for k, x in v.items()) + "}"
    return json.dumps(str(v))


def _paths(v, prefix=(), depth: int = 12):
    """The paths of the elements of ``v`` (down to ``depth`` levels)."""
    yield prefix
    if depth == 0:
        return
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, (*prefix, k), depth - 1)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, (*prefix, i), depth - 1)



# -- cohort CSV folders ------------------------------------------------------------------
#
# Each case is a folder: patients A and C are fixed and valid and must be interpreted
# whatever the other rows hold; one to four generated patients (B1 ...) have plausible
# rows (about half of the cases: markers in their units and usual ranges, catalogue drugs
# with labelled doses and intervals) or mutated ones (junk cells, ragged rows, bad bytes,
# unbalanced quotes, huge and negative values, wrong units, duplicate ids, rows of
# patients not in patients.csv); a few cases also mangle a file (unknown, duplicate or
# missing columns, reordered columns, a byte-order mark, CRLF, a missing or empty file).

CELL = st.one_of(st.sampled_from(["", "A", "B", "2024-05-01", "CTX_I", "300", "<30", "ng/L",
                                  "true", "08:00", "alendronate", "1 wk", "0 d", "nan", "inf",
                                  "1e12", "kg", "1800-01-01", '"', '"x', "a,b", "µg/L", "-5",
                                  "1e400", "-0", "0", "99999999999999999999", "2024-13-01",
                                  "24:00", "=cmd()", " 300 ", "300,5", "３００", "NaN", "TRUE",
                                  "yes", "2024/05/01", "05/01/2024", "<", ">=", "1e-320"]),
                 st.text(st.characters(blacklist_characters="\r\n\x85\u2028\u2029"),
                         max_size=6))
MARKERS = [k for k in CATALOG.keys()]
HEADERS = {k: list(v) for k, v in RAW_COLUMNS.items()}
for _k in HEADERS:
    if "source" in HEADERS[_k]:
        HEADERS[_k].remove("source")
DRUG_KEYS = [k for k in DRUGS.keys()]


def _marker_range(key: str) -> tuple[float, float]:
    m = CATALOG[key]
    ri = getattr(m, "ri", None)
    low, high = max(m.plausible_low or 0.01, 1e-3), min(m.plausible_high or 100.0, 1e4)
    if ri is not None and ri.low is not None and ri.high is not None and ri.high > 0:
        return max(ri.low * 0.3, low), min(ri.high * 2.0, high)
    return low, high


DATES = st.dates(dt.date(2018, 1, 1), dt.date(2024, 12, 31)).map(str)


@st.composite
def _meas_row(draw, pid: str) -> dict:
    key = draw(st.sampled_from(MARKERS))
    m = CATALOG[key]
    low, high = _marker_range(key)
    value = draw(st.floats(low, high))
    row = {"patient_id": pid, "date": draw(DATES), "_key": key,
           "marker": draw(st.sampled_from([key, key, key, *m.aliases[:2]])),
           "value": draw(st.sampled_from([f"{value:.4g}", f"{value:.2f}", f"{value:g}"])),
           "unit": m.canonical_unit}
    if draw(st.integers(0, 3)) == 0:
        row["comparator"] = draw(st.sampled_from(["<", ">", "<=", ""]))
    if draw(st.booleans()):
        row["fasting"] = draw(st.sampled_from(["true", "false", "", "TRUE", "yes", "no"]))
        row["time"] = draw(st.sampled_from(["08:00", "07:30", "10:15", "14:00", ""]))
    if draw(st.integers(0, 5)) == 0:
        row["preliminary"] = draw(st.sampled_from(["true", "false", ""]))
    return row


@st.composite
def _treat_row(draw, pid: str, key: str) -> dict:
    drug = DRUGS[key]
    start = draw(st.dates(dt.date(2018, 1, 1), dt.date(2024, 12, 31)))
    row = {"patient_id": pid, "drug": draw(st.sampled_from([key, key, *drug.aliases[:1]])),
           "start": str(start)}
    routes = [r for r in drug.routes.values() if r.regimens]
    if routes and draw(st.integers(0, 4)):
        route = draw(st.sampled_from(routes))
        reg = draw(st.sampled_from(list(route.regimens)))
        row.update(dose=f"{reg.amount:g}", dose_unit=reg.unit, interval=reg.every,
                   route=route.key)
    end = dt.date.fromisoformat(TODAY)
    if start < end and draw(st.integers(0, 2)) == 0:
        end = draw(st.dates(start + dt.timedelta(days=1), end))
        row["stop"] = str(end)
    if draw(st.integers(0, 2)) == 0:
        row["last_dose"] = str(draw(st.dates(start, max(start, end - dt.timedelta(days=1)))))
    return row


@st.composite
def _patient_row(draw, pid: str) -> dict:
    row = {"patient_id": pid, "birth_date": str(draw(st.dates(dt.date(1925, 1, 1),
                                                                dt.date(1980, 12, 31))))}
    if draw(st.booleans()):
        row["ckd"] = draw(st.sampled_from(["true", "false", ""]))
        row["glucocorticoids"] = draw(st.sampled_from(["true", "false", ""]))
    if draw(st.booleans()):
        row["calcium_supplement_mg_d"] = draw(st.sampled_from(["", "500", "1000", "1200.5"]))
        row["magnesium_supplement_mg_d"] = draw(st.sampled_from(["", "250", "0"]))
    return row


def _cells(row: dict, header: list[str]) -> list[str]:
    return [row.get(h, "") for h in header]


@st.composite
def _mutate_row(draw, cells: list[str], header: list[str]) -> list[str]:
    """One row made wrong: a junk cell, a ragged row, a quote, a huge or negative value."""
    cells = list(cells)
    if len(cells) < 2:  # a row already cut short (a row can be mutated twice)
        cells.append("")
    kind = draw(st.sampled_from(["cell", "cell", "cell", "unit", "value", "ragged", "quote",
                                 "empty", "spaces"]))
    column = {h: i for i, h in enumerate(header) if i < len(cells)}
    if kind == "cell":
        cells[draw(st.integers(1, len(cells) - 1))] = draw(CELL)
    elif kind == "unit" and "unit" in column:
        cells[column["unit"]] = draw(st.sampled_from(
            ["mg/L", "mmol/L", "ng/mL", "ug/L", "pg/mL", "U/L", "kg", "", "%", "nmol/L BCE"]))
    elif kind == "value":
        i = column["value"] if "value" in column else draw(st.integers(1, len(cells) - 1))
        cells[i] = draw(st.sampled_from(["-5", "1e308", "1e400", "-1e308", "0", "1e-320",
                                         "99999999999999999999", "nan", "inf", "-inf",
                                         "<-3", ">1e400", "1_000", "0x1F"]))
    elif kind == "ragged":
        if draw(st.booleans()) and len(cells) > 2:
            cells = cells[:draw(st.integers(1, len(cells) - 1))]
        else:
            cells += draw(st.lists(CELL, min_size=1, max_size=3))
    elif kind == "quote":
        i = draw(st.integers(1, len(cells) - 1))
        cells[i] = draw(st.sampled_from(['"', '"x', 'x"', '"a,b"', '"a""b"', '""']))
    elif kind == "empty":
        cells = [cells[0]] + [""] * (len(cells) - 1)
    else:
        cells = [f" {c} " for c in cells]
    return cells


@st.composite
def _patient_rows(draw, pid: str, headers: dict[str, list[str]], plausible: bool):
    """patients.csv, measurements.csv and treatments.csv rows of one generated patient."""
    prow = _cells(draw(_patient_row(pid)), headers["patients"])
    rows = {}
    for _ in range(draw(st.integers(0, 5))):
        r = draw(_meas_row(pid))
        rows.setdefault((r["_key"], r["date"]), r)  # one result per marker and date
    meas = [_cells(r, headers["measurements"]) for r in rows.values()]
    treat = [_cells(draw(_treat_row(pid, key)), headers["treatments"])
             for key in draw(st.lists(st.sampled_from(DRUG_KEYS), max_size=3, unique=True))]
    pats = [prow]
    extra = b""
    if not plausible:
        for _ in range(draw(st.integers(1, 3))):
            what = draw(st.sampled_from(["meas", "meas", "treat", "treat", "patient",
                                         "duplicate", "orphan", "bytes", "junk"]))
            if what == "meas" and meas:
                i = draw(st.integers(0, len(meas) - 1))
                meas[i] = draw(_mutate_row(meas[i], headers["measurements"]))
            elif what == "treat" and treat:
                i = draw(st.integers(0, len(treat) - 1))
                treat[i] = draw(_mutate_row(treat[i], headers["treatments"]))
            elif what == "patient":
                pats[0] = draw(_mutate_row(pats[0], headers["patients"]))
            elif what == "duplicate":
                pats.append(_cells(draw(_patient_row(pid)), headers["patients"]))
            elif what == "orphan":
                meas.append(_cells(draw(_meas_row(pid + "_unlisted")),
                                   headers["measurements"]))
            elif what == "bytes":
                extra += draw(st.sampled_from([
                    f"{pid},2024-05-01,CTX_I,3\xff0,ng/L,true,08:00\n".encode("latin-1"),
                    f'{pid},"2024-05-01,CTX_I,300,ng/L\n'.encode(),
                    b"\xff\xfe\n", f"{pid},\x00,\x00\n".encode(),
                    f"{pid}\r\n".encode()]))
            else:
                meas.append([pid, *draw(st.lists(CELL, min_size=3, max_size=9))])
    return pats, meas, treat, extra


@st.composite
def cohorts(draw):
    """``(origin, files)``: file name -> bytes (None: the file is absent)."""
    plausible = draw(st.integers(0, 99)) < 50
    headers = {k: list(v) for k, v in HEADERS.items()}
    if draw(st.integers(0, 3)) == 0:  # the columns in another order (still valid)
        for k in headers:
            headers[k] = draw(st.permutations(headers[k]))
    n = draw(st.integers(1, 4))
    pats = [_cells({"patient_id": "A", "birth_date": "1950-01-01"}, headers["patients"]),
            _cells({"patient_id": "C", "birth_date": "1950-01-01"}, headers["patients"])]
    meas = [_cells({"patient_id": "A", "date": "2024-05-01", "marker": "CTX_I", "value": "300",
                    "unit": "ng/L", "fasting": "true", "time": "08:00"},
                   headers["measurements"]),
            _cells({"patient_id": "C", "date": "2024-05-01", "marker": "CTX_I", "value": "900",
                    "unit": "ng/L", "fasting": "true", "time": "08:00"},
                   headers["measurements"])]
    treat: list[list[str]] = []
    extra = b""
    for i in range(n):
        p, m, t, e = draw(_patient_rows(f"B{i + 1}", headers, plausible))
        pats += p
        meas[1:1] = m
        treat += t
        extra += e
    tables = {"patients.csv": ("patients", pats), "measurements.csv": ("measurements", meas),
              "treatments.csv": ("treatments", treat)}
    strict = True  # A and C must be interpreted
    how = None
    if not plausible and draw(st.integers(0, 4)) == 0:
        name = draw(st.sampled_from(sorted(tables)))
        kind, rows = tables[name]
        how = draw(st.sampled_from(["unknown", "duplicate", "drop_required", "drop_optional",
                                    "bom", "crlf", "absent", "empty", "header_only",
                                    "bad_header", "blank_lines"]))
        head = headers[kind]
        if how == "unknown":
            head.append("weight_kg")
            rows[:] = [[*r, "60"] for r in rows]
        elif how == "duplicate":
            col = draw(st.integers(0, len(head) - 1))
            head.append(head[col])
            rows[:] = [[*r, r[col] if col < len(r) else ""] for r in rows]
        elif how in ("drop_required", "drop_optional"):
            pool = [h for h in head if (h in REQUIRED[kind]) == (how == "drop_required")]
            if pool:
                col = head.index(draw(st.sampled_from(pool)))
                head.pop(col)
                rows[:] = [r[:col] + r[col + 1:] for r in rows]
        strict = how in ("drop_optional", "bom", "crlf", "blank_lines") or (
            name == "treatments.csv" and how in ("absent", "header_only"))
    files: dict[str, bytes | None] = {
        "patients.csv": _csv([headers["patients"], *pats]),
        "measurements.csv": _csv([headers["measurements"], *meas]) + extra,
        "treatments.csv": _csv([headers["treatments"], *treat])}
    if how is not None:
        text = files[name]
        head_b, _, body = text.partition(b"\n")
        if how == "bom":
            files[name] = b"\xef\xbb\xbf" + text
        elif how == "crlf":
            files[name] = text.replace(b"\n", b"\r\n")
        elif how == "blank_lines":
            files[name] = text.replace(b"\n", b"\n\n")
        elif how == "absent":
            files[name] = None
        elif how == "empty":
            files[name] = b""
        elif how == "header_only":
            files[name] = head_b + b"\n"
        elif how == "bad_header":
            files[name] = b"\xff" + head_b + b"\n" + body
    return ("plausible" if plausible else "mutated"), files, strict


def _csv(rows) -> bytes:
    return "".join(",".join(r) + "\n" for r in rows).encode("utf-8", "surrogatepass")


def _check_cohort(res, strict: bool) -> None:
    """What an interpreted cohort must hold; a breach is a silent acceptance (``strict``:
    no file was mangled, so the fixed patients A and C must be interpreted)."""
    status = res.status.set_index("patient_id")
    assert {"A", "C"} <= set(status.index), "patient A or C is missing from the status"
    assert status["state"].isin(["interpreted", "failed"]).all(), set(status["state"])
    assert status["error"].notna().eq(status["state"] == "failed").all(), \
        "an error without a failed state, or a failed state without an error"
    if strict:
        assert status.loc[["A"], "state"].eq("interpreted").all(), status.loc[["A"], "error"]
        assert status.loc[["C"], "state"].eq("interpreted").all(), status.loc[["C"], "error"]
    for col in ("latest_ctx_i_ng_l", "latest_p1np_ug_l"):
        v = status[col].dropna().to_numpy(dtype=float)
        assert np.isfinite(v).all() and (v >= 0).all(), (col, v)
    values = res.tables.meas["value"].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values >= 0).all(), \
        ("a measurement value that is not a finite non-negative number", values)
    td = res.tables.treat["interval_days"].dropna()
    lim = LIMITS["interval_days"]
    assert ((td >= lim.low) & (td <= lim.high)).all(), ("impossible interval", td.tolist())
    fi = res.findings
    for col in fi.columns:
        if pd.api.types.is_float_dtype(fi[col]):
            v = fi[col].to_numpy(dtype=float)
            if col == "ratio" and "mg_mg_d" in fi.columns:
                # documented: a calcium supplement with no magnesium is an infinite ratio
                v = v[~((fi["code"] == "CA_MG_RATIO_HIGH") & (fi["mg_mg_d"] == 0)).to_numpy()]
            assert not np.isinf(v).any(), ("an infinite number in findings", col)
    if "interval_days" in fi.columns:
        v = fi["interval_days"].dropna()
        assert ((v >= lim.low) & (v <= lim.high)).all(), ("finding on an impossible interval",
                                                          v.tolist())


def _fuzz_cohort(tmp_path, case):
    origin, files, strict = case
    for name, data in files.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    kind = "cohort CSV"
    with fuzz_case(STATS, kind, origin, HANG_S) as case:
        try:
            res = interpret_cohort(load_cohort(tmp_path), today=TODAY)
        except InputError as exc:
            text = str(exc)
            assert "Traceback" not in text and text.strip() and "\n" not in text, text
            case.outcome = "refused"
            MESSAGES[(kind, text[:300])] += 1
            return
        case.returned()
        case.outcome = "silent"
        _check_cohort(res, strict)
        case.outcome = "interpreted"
        st_ = res.status.set_index("patient_id")["state"]
        for pid, state in st_.items():
            if str(pid).startswith("B"):
                STATS[(kind, f"{origin} generated patients {state}")] += 1
        if origin == "plausible":
            for msg in res.status.loc[res.status["state"] == "failed", "error"]:
                MESSAGES[(kind + " plausible failed", str(msg)[:300])] += 1


# -- patient JSON / TOML and FHIR bundles ----------------------------------------------
#
# About half of the cases are plausible: a woman of 50-90 on the evaluation date, 1-12
# results over a few years of the catalogue's markers (values inside or near their
# reference intervals, in their accepted units and laboratory spellings, optional
# comparators, fasting flags and times), 0-3 courses of the drug catalogue (labelled
# doses, intervals and routes; start, stop and last-dose dates consistent with the
# results), supplements, glucocorticoid and CKD context, an optional laboratory interval
# and an ``as_of`` (else ``--today``). The others are plausible ones with one to three
# mutations (wrong types, deep nesting, extreme numbers, wrong units, junk fields,
# out-of-range values, bad or impossible dates, duplicates, unknown markers and drugs,
# missing fields). FHIR bundles are the same patients as Patient, Observation (LOINC or
# marker-system codes, UCUM valueQuantity, statuses, fasting in the standard places) and
# MedicationStatement resources (RxNorm codes or names, dosage, effectivePeriod), with
# unrelated resources the loader must ignore; mutated bundles get the same kinds of
# mutations, at the FHIR elements.

D = dt.date
MICRO = ("µ", "μ")  # micro sign, Greek mu: laboratory spellings of UCUM "u"
#: Days per unit of a UCUM duration (for FHIR timing).
INJECTABLE = {"zoledronate", "denosumab", "romosozumab", "teriparatide"}


def _ri(key: str) -> tuple[float, float]:
    """Where a plausible result of ``key`` lies (canonical unit): around its reference
    interval, within what the marker can be."""
    m = CATALOG[key]
    ri = m.ri or next(iter(m.intervals.values()), None)
    lo_p, hi_p = m.plausible_low or 0.01, m.plausible_high or 1e4
    if key == "EGFR":
        lo, hi = 20.0, 110.0
    elif ri is not None and ri.low is not None and ri.high is not None:
        lo, hi = ri.low * 0.6, ri.high * 1.5
    else:
        lo, hi = lo_p * 3, hi_p / 3
    return max(lo, lo_p * 1.05), min(hi, hi_p * 0.95)


def _unit_spellings(unit: str) -> list[str]:
    out = [unit]
    if "ug" in unit:
        out += [unit.replace("ug", mu + "g") for mu in MICRO]
    if "mL" in unit:
        out.append(unit.replace("mL", "ml"))
    if unit.endswith("/L") and not unit.endswith("mol/L"):
        out.append(unit[:-1] + "l")
    return out


def _num3(x: float) -> float:
    return float(f"{x:.3g}")


@st.composite
def plausible_measurement(draw, key: str, day: D) -> dict:
    m = CATALOG[key]
    lo, hi = _ri(key)
    canon = draw(st.floats(lo, hi))
    unit = draw(st.sampled_from(list(m.units)))
    value = _num3(m.from_canonical(canon, unit))
    row: dict = {"date": str(day), "marker": draw(st.sampled_from([key, key, *m.aliases[:3]])),
                 "value": value, "unit": draw(st.sampled_from(_unit_spellings(unit)))}
    if draw(st.integers(0, 5)) == 0:  # a result the laboratory reports censored
        row["comparator"] = draw(st.sampled_from(["<", "<=", ">", ">="]))
    elif draw(st.integers(0, 5)) == 0:
        row["value"] = draw(st.sampled_from([f"{value:g}", f"<{value:g}", f">= {value:g}"]))
    if draw(st.booleans()):
        row["fasting"] = draw(st.sampled_from([True, True, False, "yes", "no"]))
    if draw(st.booleans()):
        row["time"] = draw(st.sampled_from(["07:45", "08:00", "08:30", "09:55", "11:20",
                                            "14:05"]))
    return row


@st.composite
def plausible_treatment_rec(draw, key: str, first: D, today: D) -> dict:
    drug = DRUGS[key]
    start = draw(st.dates(first - dt.timedelta(days=730), today - dt.timedelta(days=1)))
    row: dict = {"drug": draw(st.sampled_from([key, key, *drug.aliases[:2], *drug.brands[:1]])),
                 "start": str(start)}
    routes = [r for r in drug.routes.values() if r.regimens]
    if routes and draw(st.integers(0, 4)):
        route = draw(st.sampled_from(routes))
        reg = draw(st.sampled_from(list(route.regimens)))
        row.update(dose=reg.amount, dose_unit=reg.unit, interval=reg.every)
        if len(drug.routes) > 1 or draw(st.booleans()):
            row["route"] = route.key
    elif key == "glucocorticoid" and draw(st.booleans()):
        row.update(dose=draw(st.sampled_from([2.5, 5, 7.5, 10])), dose_unit="mg",
                   interval="1 d")
    end = today
    if draw(st.integers(0, 2)) == 0:
        end = draw(st.dates(start + dt.timedelta(days=1), today))
        row["stop"] = str(end)
    if key in INJECTABLE or row.get("route") == "iv":
        if draw(st.booleans()):
            row["last_dose"] = str(draw(st.dates(start, end)))
    return row


@st.composite
def plausible_patient(draw) -> tuple[dict, str]:
    """``(record, today)``: a plausible patient in the TOML/JSON layout."""
    today = draw(st.dates(D(2019, 1, 1), D(2026, 11, 30)))
    age_days = draw(st.integers(int(50.05 * 365.25), int(89.95 * 365.25)))
    birth = today - dt.timedelta(days=age_days)
    years = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 5.0]))
    first = today - dt.timedelta(days=int(years * 365.25))
    pat: dict = {"id": draw(st.sampled_from(["p1", "patient-7", "MRN 000123", "王芳", "A"])),
                 "birth_date": str(birth)}
    if draw(st.booleans()):
        pat["ckd"] = draw(st.sampled_from([True, False, "yes", "no"]))
    if draw(st.booleans()):
        pat["glucocorticoids"] = draw(st.sampled_from([True, False]))
    if draw(st.booleans()):
        pat["calcium_supplement_mg_d"] = draw(st.sampled_from([500, 600, 1000, 1200, 1500.0,
                                                               "800"]))
        if draw(st.integers(0, 3)):
            pat["magnesium_supplement_mg_d"] = draw(st.sampled_from([0, 150, 250, 300.0,
                                                                     500]))
    meas, seen = [], set()
    for _ in range(draw(st.integers(1, 12))):
        key = draw(st.sampled_from(MARKERS))
        day = draw(st.dates(first, today))
        if (key, day) in seen:  # one result per marker and day
            continue
        seen.add((key, day))
        meas.append(draw(plausible_measurement(key, day)))
    d: dict = {"patient": pat, "measurements": meas}
    keys = draw(st.lists(st.sampled_from(DRUG_KEYS), max_size=3, unique=True))
    if keys:
        d["treatments"] = [draw(plausible_treatment_rec(k, first, today)) for k in keys]
    if draw(st.integers(0, 4)) == 0:
        key = draw(st.sampled_from(["CTX_I", "P1NP_TOTAL", "OC", "TRAP5B"]))
        m = CATALOG[key]
        if draw(st.booleans()) and m.intervals:
            d["assay"] = {key: {"interval": draw(st.sampled_from(sorted(m.intervals)))}}
        else:
            lo, hi = _ri(key)
            d["assay"] = {key: {"ri_low": _num3(lo / 0.6), "ri_high": _num3(hi / 1.5),
                                "unit": m.canonical_unit, "population": "local laboratory"}}
    if draw(st.integers(0, 3)):
        d["as_of"] = str(today)
    return d, str(today)


JUNK_NUMBERS = st.sampled_from([-5, 0, -0.0, 1e308, -1e308, 1e-320, 10**30, 2**63,
                                float("nan"), float("inf"), "-1", "1e400", "0x1F", "1_000",
                                "３００", "300,5", " ", "nan"])
BAD_DATES = st.sampled_from(["2024-02-30", "2024-13-01", "1800-01-01", "2999-01-01",
                             "24-05-01", "2024/05/01", "05/01/2024", "", "yesterday",
                             "2024-05-01T08:00:00Z", "0000-00-00", "2024-5-1"])
BAD_UNITS = st.sampled_from(["kg", "%", "", "mmol", "ng", "mg/L/L", "U/L", "mmol/L",
                             "nmol/L", "ng/mL", "mg/dL", "pg/mL", "µg", "g/dL", "ng/dl"])
BAD_INTERVALS = st.sampled_from(["0 d", "-1 wk", "0", "1000 a", "1 s", "6 s", "weekly",
                                 "1 wk 1 d", "nan d", "inf d", "1e400 d", "", "1/wk",
                                 "0.0001 d", "1 fortnight"])
JUNK_KEYS = st.sampled_from(["weight_kg", "Date", "marker ", "", "patient", "é", "x" * 50,
                             "menopause_age", "notes"])


def _pick(draw, d: dict, section: str):
    """A random entry (dict) of a list section, or None."""
    rows = d.get(section)
    if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
        return draw(st.sampled_from(rows))
    return None


MUTATIONS = ["type", "type", "deep", "number", "number", "unit", "junk_field", "range",
             "date", "date", "order", "duplicate", "marker", "drug", "missing", "comparator",
             "fasting", "time", "interval", "structure", "assay"]


@st.composite
def mutate_patient(draw, d: dict, today: str) -> None:
    """One mutation of a patient record (in place)."""
    what = draw(st.sampled_from(MUTATIONS))
    m = _pick(draw, d, "measurements")
    t = _pick(draw, d, "treatments")
    pat = d["patient"]
    if what == "type":
        target = draw(st.sampled_from([x for x in (pat, m, t, d) if x is not None]))
        key = draw(st.sampled_from(sorted(target))) if target else "x"
        target[key] = draw(JSONISH)
    elif what == "deep":
        target = draw(st.sampled_from([x for x in (pat, m, t, d) if x is not None]))
        key = draw(st.sampled_from(sorted(target)))
        target[key] = draw(st.sampled_from([_deep(40), _deep(1000), {"a": _deep(60)}]))
    elif what == "number":
        if m is not None and draw(st.booleans()):
            m["value"] = draw(JUNK_NUMBERS)
        elif t is not None and draw(st.booleans()):
            t["dose"] = draw(JUNK_NUMBERS)
        else:
            pat[draw(st.sampled_from(["calcium_supplement_mg_d",
                                      "magnesium_supplement_mg_d"]))] = draw(JUNK_NUMBERS)
    elif what == "unit":
        if t is not None and draw(st.integers(0, 2)) == 0:
            t["dose_unit"] = draw(BAD_UNITS)
        elif m is not None:
            m["unit"] = draw(BAD_UNITS)
    elif what == "junk_field":
        target = draw(st.sampled_from([x for x in (pat, m, t, d) if x is not None]))
        target[draw(JUNK_KEYS)] = draw(SCALARS)
    elif what == "range":
        choice = draw(st.integers(0, 3))
        if choice == 0:  # an age no adult patient has, or a birth after the results
            pat["birth_date"] = draw(st.sampled_from(["1850-01-01", "2020-01-01", today,
                                                      "2999-01-01"]))
        elif choice == 1:
            pat["calcium_supplement_mg_d"] = draw(st.sampled_from([50000, -1, 1e9]))
        elif choice == 2:
            pat["magnesium_supplement_mg_d"] = draw(st.sampled_from([5000, -250, 1e-9]))
        elif m is not None:  # a value beyond what the marker can be
            key = CATALOG.find(str(m["marker"])) or "CTX_I"
            hi = CATALOG[key].plausible_high or 1e4
            m["value"], m["unit"] = hi * 1000, CATALOG[key].canonical_unit
            m.pop("comparator", None)
    elif what == "date":
        target = draw(st.sampled_from([x for x in (m, t, d, pat) if x is not None]))
        field = {id(m): "date", id(d): "as_of", id(pat): "birth_date"}.get(
            id(target), draw(st.sampled_from(["start", "stop", "last_dose"])))
        target[field] = draw(BAD_DATES)
    elif what == "order" and t is not None:  # stop before start, last dose outside
        start = D.fromisoformat(str(t["start"]))
        if draw(st.booleans()):
            t["stop"] = str(start - dt.timedelta(days=draw(st.integers(1, 400))))
        else:
            t["last_dose"] = str(start - dt.timedelta(days=draw(st.integers(1, 400))))
    elif what == "order" and m is not None:  # a result after the evaluation date
        m["date"] = str(D.fromisoformat(today) + dt.timedelta(days=draw(st.integers(1, 900))))
    elif what == "duplicate" and m is not None:
        twin = dict(m)
        if isinstance(twin.get("value"), int | float) and not isinstance(twin["value"], bool):
            twin["value"] = twin["value"] * draw(st.sampled_from([1, 2, 0.5]))
        d["measurements"].append(twin)
    elif what == "duplicate":
        d["patient"] = [pat, dict(pat)]
    elif what == "marker" and m is not None:
        m["marker"] = draw(st.sampled_from(["CTX-II", "haemoglobin", "", "ctx_i ", "P1NP?",
                                            "HbA1c", "41171-0", "CTX_I,P1NP"]))
    elif what == "drug":
        row = t if t is not None else {"start": today}
        row["drug"] = draw(st.sampled_from(["metformin", "alendronat", "", "Fosamax 70",
                                            "denosumab denosumab", "aspirin"]))
        d.setdefault("treatments", [row]) if t is None else None
    elif what == "missing":
        target = draw(st.sampled_from([x for x in (pat, m, t) if x is not None]))
        required = {id(pat): ["id", "birth_date"], id(m): ["date", "marker", "value", "unit"],
                    id(t): ["drug", "start"]}[id(target)]
        target.pop(draw(st.sampled_from(required)), None)
    elif what == "comparator" and m is not None:
        m["comparator"] = draw(st.sampled_from(["~", "=", "<<", "less", "", "≈", "> ="]))
    elif what == "fasting" and m is not None:
        m["fasting"] = draw(st.sampled_from(["maybe", 2, "fasted?", [], "真"]))
    elif what == "time" and m is not None:
        m["time"] = draw(st.sampled_from(["25:99", "8", "08:60", "noon", "-01:00",
                                          "08:00:00:00", ""]))
    elif what == "interval":
        row = t if t is not None else {"drug": "alendronate", "start": today}
        row["interval"] = draw(BAD_INTERVALS)
        if t is None:
            d.setdefault("treatments", []).append(row)
    elif what == "structure":
        key = draw(st.sampled_from(["measurements", "treatments", "patient", "assay"]))
        d[key] = draw(st.sampled_from([{}, [], "x", 5, [[]], [None], {"a": {"b": 1}}]))
    elif what == "assay":
        key = draw(st.sampled_from(["CTX_I", "CTX", "XYZ", "MG"]))
        d["assay"] = {key: draw(st.sampled_from([
            {"ri_low": 500, "ri_high": 100, "unit": "ng/L"},
            {"ri_low": -1, "ri_high": 10, "unit": CATALOG["CTX_I"].canonical_unit},
            {"ri_low": 1, "ri_high": 2, "unit": "kg"}, {"interval": "nowhere"},
            {"ri_high": float("inf")}, {"cva_pct": -5}, {"lsc_pct": 0}, 5]))}
    return what


@st.composite
def patient_cases(draw) -> tuple[str, dict, str | None, list[str]]:
    """``(origin, record, today, mutations)``: ``today`` is passed as ``--today`` when the
    record has no ``as_of``; about half plausible, the rest with one to three mutations."""
    plausible = draw(st.integers(0, 99)) < 50
    d, today = draw(plausible_patient())
    stored = "as_of" in d  # the case's own evaluation date, else --today (before mutations)
    done = []
    if not plausible:
        for _ in range(draw(st.integers(1, 3))):
            try:
                done.append(draw(mutate_patient(d, today)))
            except (TypeError, KeyError, AttributeError, ValueError, IndexError, RecursionError):
                pass  # an earlier mutation left nothing this one can change
    return ("plausible" if plausible else "mutated"), d, (None if stored else today), done


def _toml_key(k) -> str:
    k = str(k)
    return k if k and all(c.isalnum() or c in "_-" for c in k) and k.isascii() else \
        json.dumps(k)


def _toml_date(v, bare: bool) -> str:
    """A date as a bare TOML date when it is one (and ``bare``), else a string."""
    if bare and isinstance(v, str) and len(v) == 10:
        try:
            D.fromisoformat(v)
            return v
        except ValueError:
            pass
    return _toml_value(v)


def _to_toml(d: dict, bare_dates: bool = True) -> str:
    """The TOML a laboratory export would write: [patient], [[measurements]],
    [[treatments]], [assay.X]; dates and times as TOML values or strings. What TOML cannot
    express (a None, a list of patients) becomes invalid or differently-typed TOML, also a
    case."""
    def value(k, v):
        if k in ("date", "start", "stop", "last_dose", "birth_date", "as_of"):
            return _toml_date(v, bare_dates)
        if k == "time" and bare_dates and isinstance(v, str) and len(v) == 5 \
                and v[2] == ":" and v[:2].isdigit() and v[3:].isdigit() \
                and int(v[:2]) < 24 and int(v[3:]) < 60:
            return v + ":00"
        return _toml_value(v)

    def table(rows: dict) -> list[str]:
        return [f"{_toml_key(k)} = {value(k, v)}" for k, v in rows.items() if v is not None]

    lines = []
    for k, v in d.items():  # top-level scalars first
        if not isinstance(v, dict | list) or k not in ("patient", "measurements",
                                                        "treatments", "assay"):
            if v is not None:
                lines.append(f"{_toml_key(k)} = {value(k, v)}")
    for k, v in d.items():
        if k not in ("patient", "measurements", "treatments", "assay"):
            continue
        if isinstance(v, dict) and k != "assay":
            lines += ["", f"[{k}]", *table(v)]
        elif isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()):
            for name, rows in v.items():
                lines += ["", f"[assay.{_toml_key(name)}]", *table(rows)]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for rows in v:
                lines += ["", f"[[{k}]]", *table(rows)]
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


# -- FHIR ---------------------------------------------------------------------------------

_RXNORM = {key: [c.code for c in DRUGS[key].rxnorm] for key in DRUG_KEYS}
_ROUTE_SNOMED = {"oral": "26643006", "iv": "47625008", "sc": "34206005"}
_FASTING_PLACES = ("extension", "component", "specimen", "contained")


def _duration(text: str) -> tuple[float, str]:
    n, unit = text.split()
    return float(n), unit


@st.composite
def _observation(draw, i: int, m: dict) -> list[dict]:
    key = CATALOG.find(m["marker"])
    cat = CATALOG[key]
    coding = []
    if cat.loinc and draw(st.integers(0, 3)):
        coding.append({"system": io_mod.LOINC, "code": draw(st.sampled_from(list(cat.loinc))),
                       "display": cat.symbol})
    else:
        coding.append({"system": io_mod.MARKER_SYSTEM, "code": key, "display": m["marker"]})
    value = m["value"]
    comparator = m.get("comparator")
    if isinstance(value, str):  # "<12" in the layout is valueQuantity with comparator
        from boneturnover.clinical.values import split_comparator
        comparator, value = split_comparator(value)
        comparator = comparator or None
        value = float(value)
    ucum = io_mod.UCUM
    unit_code = m["unit"].replace("µ", "u").replace("μ", "u")
    q = {"value": value, "unit": m["unit"], "system": ucum, "code": unit_code}
    if comparator:
        q["comparator"] = comparator
    if draw(st.integers(0, 3)) == 0:
        q.pop(draw(st.sampled_from(["unit", "system"])))
    when = m["date"]
    if m.get("time") and draw(st.booleans()):
        when += "T" + m["time"] + ":00" + draw(st.sampled_from(["", "Z", "+08:00", "-05:00"]))
    obs = {"resourceType": "Observation", "id": f"obs-{i}",
           "status": draw(st.sampled_from(["final", "final", "amended", "corrected",
                                           "preliminary"])),
           "code": {"coding": coding}, "subject": {"reference": "Patient/p"},
           draw(st.sampled_from(["effectiveDateTime", "effectiveDateTime",
                                 "effectiveInstant"])) if "T" in when else
           "effectiveDateTime": when,
           "valueQuantity": q}
    out = [obs]
    fasting = m.get("fasting")
    if isinstance(fasting, bool):
        place = draw(st.sampled_from(_FASTING_PLACES))
        concept = {"coding": [{"system": io_mod.V2_0916, "code": "F" if fasting else "NF"}]}
        if place == "extension":
            obs["extension"] = [{"url": io_mod.FHIR_EXTENSION + "fasting",
                                 "valueBoolean": fasting}]
        elif place == "component":
            obs["component"] = [{"code": {"coding": [{"system": io_mod.LOINC,
                                                      "code": io_mod.LOINC_FASTING}]},
                                 "valueBoolean": fasting}]
        elif place == "specimen":
            out.append({"resourceType": "Specimen", "id": f"sp-{i}",
                        "collection": {"fastingStatusCodeableConcept": concept}})
            obs["specimen"] = {"reference": f"Specimen/sp-{i}"}
        else:
            obs["contained"] = [{"resourceType": "Specimen", "id": "sp",
                                 "collection": {"fastingStatusDuration": {
                                     "value": 10 if fasting else 2, "code": "h",
                                     "system": ucum}}}]
            obs["specimen"] = {"reference": "#sp"}
    return out


@st.composite
def _medication(draw, i: int, t: dict) -> dict:
    key = DRUGS.find(t["drug"])
    how = draw(st.sampled_from(["rxnorm", "text", "display"]))
    if how == "rxnorm" and _RXNORM.get(key):
        concept = {"coding": [{"system": io_mod.RXNORM,
                               "code": draw(st.sampled_from(_RXNORM[key])),
                               "display": str(t["drug"])}]}
    elif how == "display":
        concept = {"coding": [{"system": io_mod.RXNORM, "code": "0",
                               "display": f"{t['drug']} {t.get('dose', '')} MG Oral Tablet"}]}
    else:
        concept = {"text": str(t["drug"])}
    period = {"start": t["start"]}
    if t.get("stop"):
        period["end"] = t["stop"]
    res = {"resourceType": "MedicationStatement", "id": f"med-{i}",
           "status": draw(st.sampled_from(["active", "completed"] if not t.get("stop")
                                          else ["completed", "stopped"])),
           "medicationCodeableConcept": concept, "subject": {"reference": "Patient/p"},
           "effectivePeriod": period}
    if t.get("interval"):
        n, unit = _duration(t["interval"])
        dosage = {"timing": {"repeat": {"frequency": 1, "period": n, "periodUnit": unit}}}
        if t.get("dose") is not None:
            dosage["doseAndRate"] = [{"doseQuantity": {"value": t["dose"],
                                                       "unit": t["dose_unit"],
                                                       "system": io_mod.UCUM,
                                                       "code": t["dose_unit"]}}]
        if t.get("route"):
            dosage["route"] = draw(st.sampled_from([
                {"coding": [{"system": io_mod.SNOMED, "code": _ROUTE_SNOMED[t["route"]]}]},
                {"text": t["route"]}]))
        res["dosage"] = [dosage]
    if t.get("last_dose"):
        res["extension"] = [{"url": io_mod.FHIR_EXTENSION + "last-dose",
                             "valueString": t["last_dose"]}]
    return res


_EXT_BOOL = {"ckd": "ckd", "glucocorticoids": "glucocorticoids"}


@st.composite
def plausible_bundle(draw) -> tuple[dict, str]:
    """``(bundle, today)``: a plausible patient as a FHIR R4 Bundle."""
    d, today = draw(plausible_patient())
    pat = d["patient"]
    ext = []
    for k in ("ckd", "glucocorticoids"):
        if isinstance(pat.get(k), bool):
            ext.append({"url": io_mod.FHIR_EXTENSION + k, "valueBoolean": pat[k]})
    for k, url in (("calcium_supplement_mg_d", "calcium-supplement-mg-d"),
                   ("magnesium_supplement_mg_d", "magnesium-supplement-mg-d")):
        if isinstance(pat.get(k), int | float):
            ext.append({"url": io_mod.FHIR_EXTENSION + url, "valueDecimal": pat[k]})
    patient = {"resourceType": "Patient", "id": "p", "gender": "female",
               "birthDate": pat["birth_date"]}
    if ext:
        patient["extension"] = ext
    entries: list[dict] = [patient]
    for i, m in enumerate(d["measurements"]):
        entries += draw(_observation(i, m))
    for i, t in enumerate(d.get("treatments", [])):
        entries.append(draw(_medication(i, t)))
    for extra in draw(st.lists(st.sampled_from(["hb", "error", "not-taken", "other"]),
                               max_size=2, unique=True)):
        day = draw(st.sampled_from([m["date"] for m in d["measurements"]]))
        if extra == "hb":  # an unrelated result: ignored
            entries.append({"resourceType": "Observation", "id": "hb", "status": "final",
                            "code": {"coding": [{"system": io_mod.LOINC, "code": "718-7",
                                                 "display": "Hemoglobin"}]},
                            "effectiveDateTime": day,
                            "valueQuantity": {"value": 12.8, "code": "g/dL",
                                              "system": io_mod.UCUM}})
        elif extra == "error":  # a result entered in error: ignored
            entries.append({"resourceType": "Observation", "id": "ctx-err",
                            "status": "entered-in-error",
                            "code": {"coding": [{"system": io_mod.LOINC, "code": "41171-0"}]},
                            "effectiveDateTime": day,
                            "valueQuantity": {"value": 9.9, "code": "ng/mL"}})
        elif extra == "not-taken":
            entries.append({"resourceType": "MedicationStatement", "id": "dmab-no",
                            "status": "not-taken",
                            "medicationCodeableConcept": {"text": "Prolia 60 mg"},
                            "effectivePeriod": {"start": day}})
        else:
            entries.append({"resourceType": draw(st.sampled_from(
                ["Practitioner", "Encounter", "Condition"])), "id": "x1"})
    order = draw(st.permutations(range(len(entries))))
    return {"resourceType": "Bundle", "type": draw(st.sampled_from(
        ["collection", "searchset", "transaction"])),
        "entry": [{"resource": entries[i]} for i in order]}, today


FHIR_MUTATIONS = ["path", "path", "path", "loinc", "status", "unit", "value", "date",
                  "patients", "period", "deep", "junk", "drop"]


def _resources(b: dict, rt: str) -> list[dict]:
    return [e["resource"] for e in b.get("entry", []) if isinstance(e, dict)
            and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == rt]


@st.composite
def mutate_bundle(draw, b: dict) -> None:
    what = draw(st.sampled_from(FHIR_MUTATIONS))
    obs = [o for o in _resources(b, "Observation") if o.get("id", "").startswith("obs-")]
    meds = _resources(b, "MedicationStatement")
    o = draw(st.sampled_from(obs)) if obs else None
    med = draw(st.sampled_from(meds)) if meds else None
    if what == "path":  # any element replaced by junk
        path = draw(st.sampled_from(list(_paths(b))))
        node = b
        try:
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = draw(JSONISH)
        except (KeyError, IndexError, TypeError):
            pass
    elif what == "loinc" and o is not None:
        o["code"]["coding"][0].update(system=io_mod.LOINC, code=draw(st.sampled_from(
            ["41171-1", "77370-0", "0000-0", "41171", "", "LP12345-6"])))
    elif what == "status":
        target = o if o is not None and draw(st.booleans()) else med
        if target is not None:
            target["status"] = draw(st.sampled_from(["done", "FINAL", "", "taken", "active ",
                                                     "registered", "cancelled"]))
    elif what == "unit" and o is not None:
        o["valueQuantity"].update(code=draw(BAD_UNITS), unit=draw(BAD_UNITS))
    elif what == "value" and o is not None:
        o["valueQuantity"]["value"] = draw(JUNK_NUMBERS)
    elif what == "date":
        target = draw(st.sampled_from([x for x in (o, med) if x is not None]
                                      or [_resources(b, "Patient")[0]]))
        if target.get("resourceType") == "Observation":
            target.pop("effectiveInstant", None)
            target["effectiveDateTime"] = draw(BAD_DATES)
        elif target.get("resourceType") == "MedicationStatement":
            target["effectivePeriod"][draw(st.sampled_from(["start", "end"]))] = \
                draw(BAD_DATES)
        else:
            target["birthDate"] = draw(BAD_DATES)
    elif what == "patients":
        p = _resources(b, "Patient")[0]
        b["entry"].append({"resource": dict(p, id=draw(st.sampled_from(["p", "p2"])))})
    elif what == "period" and med is not None:
        med["dosage"] = [{"timing": {"repeat": draw(st.sampled_from([
            {"frequency": 0, "period": 1, "periodUnit": "d"},
            {"frequency": 1, "period": 0, "periodUnit": "d"},
            {"frequency": 1, "period": -1, "periodUnit": "wk"},
            {"frequency": 1, "period": 1, "periodUnit": "fortnight"},
            {"frequency": 1e308, "period": 1, "periodUnit": "d"},
            {"frequency": 1, "period": 1e308, "periodUnit": "a"},
            {"frequency": 1, "period": 1e-300, "periodUnit": "s"}]))}}]
    elif what == "deep":
        target = draw(st.sampled_from([x for x in (o, med) if x is not None]
                                      or [_resources(b, "Patient")[0]]))
        target[draw(st.sampled_from(["code", "valueQuantity", "dosage", "extension",
                                     "meta"]))] = _deep(draw(st.sampled_from([40, 1000])))
    elif what == "junk":
        target = draw(st.sampled_from([x for x in (o, med) if x is not None]
                                      or [_resources(b, "Patient")[0]]))
        target[draw(st.sampled_from(["valueString", "note", "_status", "x"]))] = \
            draw(SCALARS)
    elif what == "drop" and b.get("entry"):
        b["entry"].pop(draw(st.integers(0, len(b["entry"]) - 1)))
    return what


@st.composite
def bundle_cases(draw) -> tuple[str, dict, str, list[str]]:
    """``(origin, bundle, today, mutations)``, about half plausible."""
    plausible = draw(st.integers(0, 99)) < 50
    b, today = draw(plausible_bundle())
    done = []
    if not plausible:
        for _ in range(draw(st.integers(1, 3))):
            try:
                done.append(draw(mutate_bundle(b)))
            except (TypeError, KeyError, AttributeError, ValueError, IndexError, RecursionError):
                pass  # an earlier mutation left nothing this one can change
    return ("plausible" if plausible else "mutated"), b, today, done


# -- running a patient case -------------------------------------------------------------

#: Seconds after which a patient case counts as a hang (one takes a few milliseconds).
PATIENT_HANG_S = 10.0
#: Words that must not stand for a number in a finding's message: Python's texts of NaN,
#: infinity, None and booleans, and the infinity sign.
_NONSENSE = re.compile(r"(?<![\w.-])(nan|NaN|inf|Infinity|None|True|False)(?![\w.-])|∞")
_ERROR_LINE = re.compile(r"^(InputError|DataError|UnitError|LimitError|KnowledgeBaseError): \S")


class Silent(AssertionError):
    """An interpreted result that breaks an invariant (a silent acceptance)."""


def _record_dates(p) -> list[str]:
    days = [m.date[:10] for m in p.measurements]
    for t in p.treatments:
        days += [x[:10] for x in (t.start, t.stop, t.last_dose) if x]
    return [x for x in days if _is_date(x)]


def _is_date(x) -> bool:
    try:
        D.fromisoformat(str(x))
        return len(str(x)) == 10
    except ValueError:
        return False


def _check_patient_report(p, report, today: str, text: str) -> None:
    """The invariants of an interpreted patient (``text``: the CLI's text report)."""
    days = _record_dates(p)
    lim = LIMITS["interval_days"]
    # what the user wrote may hold any word; take it out before looking for nonsense
    given = {p.patient_id, *(m.source for m in p.measurements),
             *(t.source for t in p.treatments), *(str(m.marker) for m in p.measurements),
             *(str(t.drug) for t in p.treatments), *(str(m.value) for m in p.measurements)}
    given |= {str(i.get("code", "")) for i in p.ignored} | {
        str(i.get("resource", "")) for i in p.ignored}
    for f in report.findings:
        if not _finite(f.value):
            raise Silent(f"{f.code}: value {f.value!r}")
        for lang in ("en", "zh"):
            msg = getattr(f.message, lang)
            for g in sorted((x for x in given if len(x) >= 3), key=len, reverse=True):
                msg = msg.replace(g, "")
            hit = _NONSENSE.search(msg)
            if hit:
                raise Silent(f"{f.code}: {hit[0]!r} in the message: {getattr(f.message, lang)}")
        if f.date is not None:
            if not _is_date(f.date) or not days or not (min(days) <= f.date <= max(days)):
                raise Silent(f"{f.code}: date {f.date!r} outside the record {min(days or [''])}"
                             f" .. {max(days or [''])}")
            if f.date > today:
                raise Silent(f"{f.code}: date {f.date} after the evaluation date {today}")
        for k, v in (f.numbers or {}).items():
            if v is None or isinstance(v, str):
                if isinstance(v, str) and (k.endswith("_date") or k == "last_dose") \
                        and not _is_date(v):
                    raise Silent(f"{f.code}: {k} = {v!r} is not a date")
                if k in ("start_date", "stop_date", "last_dose", "last_date") and v \
                        and not (min(days) <= v <= max(days)):
                    raise Silent(f"{f.code}: {k} {v} outside the record")
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise Silent(f"{f.code}: {k} = {v!r} is not a finite number")
            if k == "interval_days" and not lim.low <= v <= lim.high:
                raise Silent(f"{f.code}: a finding on an impossible interval ({v} days)")
            if k in ("days_on", "days_off", "nadir_days", "grace_days") and v < 0:
                raise Silent(f"{f.code}: {k} = {v} is negative")
    for line in text.splitlines():
        if re.search(r"(?<![\w.-])(nan|inf)(?![\w.-])|∞", line) and not any(
                g and g in line for g in given):
            raise Silent(f"the text report prints {line.strip()!r}")


def _cli(path: Path, today: str | None) -> tuple[int, str, str]:
    argv = ["interpret", str(path)] + (["--today", today] if today else [])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_main(argv)
    return rc, out.getvalue(), err.getvalue()


def _run_patient(path: Path, kind: str, origin: str, today: str | None,
                 mutations: list[str]) -> None:
    """Interpret one file through the command line; count and assert its outcome: exit 0
    with a report whose findings hold the invariants, or exit 2 with one line naming what
    is wrong; a plausible record must be interpreted."""
    with fuzz_case(STATS, kind, origin, PATIENT_HANG_S) as case:
        rc, out, err = _cli(path, today)
        case.returned()
        lines = err.splitlines()
        if rc == 2:
            assert len(lines) == 1 and _ERROR_LINE.match(lines[0]), err
            assert "Traceback" not in err, err
            case.outcome = "refused"
            MESSAGES[(kind + f" {origin}", lines[0][:300])] += 1
            assert origin != "plausible", f"a plausible record was refused: {lines[0]}"
            return
        assert rc == 0, (rc, err)
        case.outcome = "silent"
        assert out.strip() and not err.strip(), err
        p = load_patient(path)
        when = today or p.as_of or dt.date.today().isoformat()
        _check_patient_report(p, interpret(p, today=when), when, out)
        case.outcome = "interpreted"
        for m in set(mutations):
            STATS[(kind, f"mutation {m} interpreted")] += 1


def _fuzz_json(tmp_path, case):
    origin, d, today, mutations = case
    f = tmp_path / "p.json"
    try:
        text = json.dumps(d, allow_nan=True, default=str, ensure_ascii=False)
    except RecursionError:
        text = '{"patient": ' + "[" * 1000 + "]" * 1000 + "}"
    f.write_bytes(text.encode("utf-8", "surrogatepass"))
    _run_patient(f, "patient JSON", origin, today, mutations)


def _fuzz_toml(tmp_path, case, bare: bool):
    origin, d, today, mutations = case
    f = tmp_path / "p.toml"
    try:
        text = _to_toml(d, bare_dates=bare)
    except RecursionError:
        text = "x = " + "[" * 1000 + "]" * 1000
    f.write_bytes(text.encode("utf-8", "surrogatepass"))
    _run_patient(f, "patient TOML", origin, today, mutations)


def _fuzz_fhir(tmp_path, case):
    origin, b, today, mutations = case
    f = tmp_path / "b.json"
    try:
        text = json.dumps(b, allow_nan=True, default=str, ensure_ascii=False)
    except RecursionError:
        text = '{"resourceType": "Bundle", "entry": ' + "[" * 1000 + "]" * 1000 + "}"
    f.write_bytes(text.encode("utf-8", "surrogatepass"))
    _run_patient(f, "FHIR bundle", origin, today, mutations)


# -- the two profiles --------------------------------------------------------------------

def _tests(n: int, mark=None):
    @_settings(n)
    @given(c=patient_cases())
    def json_case(tmp_path_factory, c):
        _fuzz_json(tmp_path_factory.mktemp("j"), c)

    @_settings(n)
    @given(c=patient_cases(), bare=st.booleans())
    def toml_case(tmp_path_factory, c, bare):
        _fuzz_toml(tmp_path_factory.mktemp("t"), c, bare)

    @_settings(n)
    @given(c=bundle_cases())
    def fhir_case(tmp_path_factory, c):
        _fuzz_fhir(tmp_path_factory.mktemp("f"), c)

    @_settings(n if mark else max(12, n // 4))
    @given(c=cohorts())
    def cohort_case(tmp_path_factory, c):
        _fuzz_cohort(tmp_path_factory.mktemp("c"), c)

    out = [json_case, toml_case, fhir_case, cohort_case]
    return [mark(t) if mark else t for t in out]


test_patient_json, test_patient_toml, test_fhir_bundle, test_cohort_csv = _tests(FAST)
(test_patient_json_long, test_patient_toml_long, test_fhir_bundle_long,
 test_cohort_csv_long) = _tests(LONG, pytest.mark.fuzz)


def test_known_crashers_are_refused(tmp_path):
    """The cases fuzzing first found, kept as fixed examples."""
    cases = {
        "deep.json": '{"patient": {"id": "x"}, "measurements": ' + "[" * 1000 + "]" * 1000
                     + "}",
        "deep.toml": '[patient]\nid = "x"\nv = ' + "[" * 1000 + "]" * 1000 + "\n",
        "nan.json": '{"patient": {"id": "x", "calcium_supplement_mg_d": NaN}}',
        "bool.json": json.dumps({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Patient", "id": True}}]}),
        "entry.json": json.dumps({"resourceType": "Bundle", "entry": ["x"]}),
        "entries.json": json.dumps({"resourceType": "Bundle", "entry": 5}),
        "code.json": json.dumps({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "Observation", "code": "CTX"}}]}),
        "coding.json": json.dumps({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "Observation", "code": {"coding": 5}}}]}),
        "ext.json": json.dumps({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "extension": ["x"]}}]}),
        "dosage.json": json.dumps({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "MedicationStatement",
                          "medicationCodeableConcept": {"text": "alendronate"},
                          "dosage": {"a": 1}}}]}),
        "period.json": json.dumps({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "MedicationStatement",
                          "medicationCodeableConcept": {"text": "alendronate"},
                          "effectivePeriod": "2023"}}]}),
        "resource.json": json.dumps({"resourceType": "Bundle", "entry": [{"resource": []}]}),
    }
    for name, text in cases.items():
        f = tmp_path / name
        f.write_text(text, "utf-8")
        with pytest.raises(InputError):
            interpret(load_patient(f), today=TODAY)


def _bundle_with(dosage_repeat: dict) -> dict:
    return {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01"}},
        {"resource": {"resourceType": "Observation", "id": "o", "status": "final",
                      "code": {"coding": [{"system": io_mod.LOINC, "code": "41171-0"}]},
                      "effectiveDateTime": "2024-06-01",
                      "valueQuantity": {"value": 300, "code": "ng/L"}}},
        {"resource": {"resourceType": "MedicationStatement", "id": "m", "status": "active",
                      "medicationCodeableConcept": {"text": "alendronate"},
                      "effectivePeriod": {"start": "2024-01-01"},
                      "dosage": [{"timing": {"repeat": dosage_repeat}}]}}]}


_PATIENT = {"patient": {"id": "x", "birth_date": "1950-01-01"},
            "measurements": [{"date": "2024-01-01", "marker": "CTX", "value": 300,
                              "unit": "ng/L"}]}


@pytest.mark.parametrize("name, data, argv, expected", [
    # a duration beyond the largest float was an OverflowError traceback (units.convert)
    ("huge.json", dict(_PATIENT, treatments=[{"drug": "prednisone", "start": "2020-01-01",
                                              "interval": "1e+308 a"}]), [],
     r"^DataError: .*treatments\[1\]: interval '1e\+308 a' is not a duration"),
    ("huge.json", _bundle_with({"frequency": 1, "period": 1e308, "periodUnit": "a"}), [],
     r"^DataError: .*MedicationStatement/m: interval '1e\+308 a'"),
    # a FHIR frequency that is no positive whole number was ignored or divided the period
    ("freq.json", _bundle_with({"frequency": 0, "period": 1, "periodUnit": "wk"}), [],
     r"^DataError: MedicationStatement/m\.dosage\[0\]\.timing\.repeat\.frequency 0: "
     r"expected a positive whole number"),
    ("freq.json", _bundle_with({"frequency": 2.5, "period": 1, "periodUnit": "wk"}), [],
     r"frequency 2\.5: expected a positive whole number"),
    # a period without its unit was dropped, and the usual interval used instead
    ("unit.json", _bundle_with({"frequency": 1, "period": 1}), [],
     r"repeat\.period 1 has no periodUnit; expected one of a, d, h"),
    # a magnesium supplement of 1e-9 mg/d gave a Ca/Mg ratio of 1.2e12, 1e-320 an infinite one
    ("mg.json", {**_PATIENT, "patient": {"id": "x", "calcium_supplement_mg_d": 1200,
                                         "magnesium_supplement_mg_d": 1e-9}}, [],
     r"^DataError: .*magnesium_supplement_mg_d 1e-09 must be a number from 0 to 3500 \(mg "
     r"per day, 0 or at least 0\.001"),
    # an as_of or --today that is no date did not name the field
    ("asof.json", dict(_PATIENT, as_of="2024-05-01T08:00:00Z"), [],
     r"^DataError: asof\.json: as_of = '2024-05-01T08:00:00Z' must be a date YYYY-MM-DD"),
    # an [assay] key holding a line break split the one-line message
    ("assay.json", dict(_PATIENT, assay={"\n": None}), [],
     r"^DataError: assay\.json: \[assay\]: '\\n' = None must be a table such as "
     r"\[assay\.CTX_I\]"),
    # an [assay] marker that is none did not say where it was
    ("assay.json", dict(_PATIENT, assay={"XYZ": {"ri_low": 1, "ri_high": 2}}), [],
     r"^KnowledgeBaseError: assay\.XYZ: unknown marker 'XYZ'; expected one of CTX_I"),
    # a FHIR resource other than a Bundle was read as the patient layout ("unknown fields")
    ("patient.json", {"resourceType": "Patient", "id": "p"}, [],
     r"^DataError: patient\.json: resourceType = 'Patient': expected 'Bundle'"),
    ("today.json", _PATIENT, ["--today", "2024-02-30"],
     r"^InputError: --today '2024-02-30': expected a date YYYY-MM-DD$"),
])
def test_fuzz_findings_are_refused_with_one_line(tmp_path, name, data, argv, expected):
    """What the plausible-and-mutated patient fuzz found, kept as fixed examples."""
    f = tmp_path / name
    f.write_text(json.dumps(data), "utf-8")
    rc, out, err = _cli(f, None) if not argv else _cli_argv([str(f), *argv])
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert re.search(expected, err.strip()), err


def _cli_argv(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_main(["interpret", *args])
    return rc, out.getvalue(), err.getvalue()


def test_calcium_without_magnesium_prints_no_infinity(tmp_path):
    """A calcium supplement with 0 mg/d magnesium: the ratio has no finite value; the
    finding's ``ratio`` is null and the message says so in words (no "inf" or "∞")."""
    f = tmp_path / "p.json"
    f.write_text(json.dumps({**_PATIENT, "patient": {
        "id": "x", "calcium_supplement_mg_d": 1200, "magnesium_supplement_mg_d": 0}}), "utf-8")
    rc, out, err = _cli(f, TODAY)
    assert rc == 0, err
    assert "calcium with no magnesium (not a finite ratio)" in out and "∞" not in out
    r = interpret(load_patient(f), today=TODAY)
    (hit,) = [x for x in r.findings if x.code == "CA_MG_RATIO_HIGH"]
    assert hit.numbers["ratio"] is None and "只补钙不补镁" in hit.message.zh
    _check_patient_report(load_patient(f), r, TODAY, out)


@pytest.fixture(autouse=True)
def _write_stats():
    yield
    target = os.environ.get("BONETURNOVER_FUZZ_STATS")
    if target and STATS:
        write_stats(target, STATS, ("interpreted", "refused", "crash", "hang", "silent"))
    target = os.environ.get("BONETURNOVER_FUZZ_MESSAGES")
    if target and MESSAGES:
        Path(target).write_text("".join(f"{n}\t{k}\t{m}\n" for (k, m), n
                                        in MESSAGES.most_common()), "utf-8")
