"""Fuzzing every clinical input: patient TOML and JSON, FHIR bundles, cohort CSV folders.

Each generated input is either interpreted or refused with an InputError subclass (the
CLI's exit 2): never another exception, never NaN or infinity in a finding, never a
finding built on an impossible dosing interval. The fast profile runs by default; the
long one (``pytest -m fuzz``) tries ``BONETURNOVER_FUZZ_EXAMPLES`` (default 2000) cases per
kind and, with ``BONETURNOVER_FUZZ_STATS=FILE``, writes how many were interpreted, refused,
crashed, hung or silently accepted (merged with the counts already in FILE, so that the
scenario fuzz can write to the same file); ``BONETURNOVER_FUZZ_MESSAGES=FILE`` writes the
distinct refusal messages of the cohort cases, to read them.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boneturnover.clinical import interpret, load_cohort, load_patient
from boneturnover.clinical.catalog import CATALOG, DRUGS
from boneturnover.clinical.cohort import interpret_cohort
from boneturnover.clinical.tables import LIMITS, RAW_COLUMNS, REQUIRED
from boneturnover.errors import InputError

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


@st.composite
def patient_dicts(draw):
    meas = [{"date": draw(_field("2024-05-01")), "marker": draw(_field("CTX_I")),
             "value": draw(_field(300)), "unit": draw(_field("ng/L")),
             "fasting": draw(_field(True)), "time": draw(_field("08:00")),
             "comparator": draw(_field(None))}
            for _ in range(draw(st.integers(0, 3)))]
    treats = [{"drug": draw(_field("alendronate")), "start": draw(_field("2024-01-01")),
               "stop": draw(_field(None)), "interval": draw(_field("1 wk")),
               "dose": draw(_field(70)), "dose_unit": draw(_field("mg")),
               "route": draw(_field("oral")), "last_dose": draw(_field(None))}
              for _ in range(draw(st.integers(0, 2)))]
    d = {"patient": {"id": draw(_field("p1")), "birth_date": draw(_field("1950-01-01")),
                     "ckd": draw(_field(False)),
                     "calcium_supplement_mg_d": draw(_field(600))},
         "measurements": draw(_field(meas)), "treatments": draw(_field(treats))}
    if draw(st.booleans()):
        d["assay"] = draw(_field({"CTX_I": {"ri_low": 111, "ri_high": 791, "unit": "ng/L"}}))
    if draw(st.booleans()):
        d["as_of"] = draw(_field(TODAY))
    for k in list(d["patient"]):
        if d["patient"][k] is None:
            del d["patient"][k]
    return d


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


def _to_toml(d) -> str:
    """A rough TOML writer: what it cannot express becomes invalid TOML (also a case)."""
    lines = [f"as_of = {_toml_value(d['as_of'])}"] if "as_of" in d else []
    for k, v in d.items():
        if k == "as_of":
            continue
        lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(x for x in lines if not x.endswith("= None")).replace("nan", "nan") + "\n"


def _run_patient_file(path: Path, kind: str) -> None:
    def go():
        p = load_patient(path)
        _check_report(interpret(p, today=TODAY))
    _outcome(kind, go)


def _fuzz_json(tmp_path, d):
    f = tmp_path / "p.json"
    try:
        f.write_text(json.dumps(d, allow_nan=True, default=str), "utf-8")
    except (RecursionError, ValueError):
        return
    _run_patient_file(f, "patient JSON")


def _fuzz_toml(tmp_path, d):
    f = tmp_path / "p.toml"
    try:
        text = _to_toml(d)
    except RecursionError:
        text = "x = " + "[" * 1000 + "]" * 1000
    f.write_text(text, "utf-8", errors="surrogatepass") if False else f.write_bytes(
        text.encode("utf-8", "surrogatepass"))
    _run_patient_file(f, "patient TOML")


BUNDLE = json.loads((DATA / "fhir_real_lab.json").read_text("utf-8"))


def _paths(v, prefix=()):
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, (*prefix, k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, (*prefix, i))


PATHS = list(_paths(BUNDLE))


@st.composite
def bundles(draw):
    b = copy.deepcopy(BUNDLE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        if not path:
            continue
        node = b
        try:
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = draw(JSONISH)
        except (KeyError, IndexError, TypeError):
            pass
    return b


def _fuzz_fhir(tmp_path, b):
    f = tmp_path / "b.json"
    try:
        f.write_text(json.dumps(b, allow_nan=True, default=str), "utf-8")
    except (RecursionError, ValueError):
        return
    _run_patient_file(f, "FHIR bundle")


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


class Hang(BaseException):
    """A cohort case ran past :data:`HANG_S` (BaseException: no handler swallows it)."""


def _alarm(signum, frame):  # pragma: no cover - only when a case hangs
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    raise Hang(f"the case ran longer than {HANG_S:g} s")


def _fuzz_cohort(tmp_path, case):
    origin, files, strict = case
    for name, data in files.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    kind = "cohort CSV"
    outcome = "crash"
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    t0 = time.perf_counter()
    try:
        try:
            res = interpret_cohort(load_cohort(tmp_path), today=TODAY)
        except InputError as exc:
            text = str(exc)
            assert "Traceback" not in text and text.strip() and "\n" not in text, text
            outcome = "refused"
            MESSAGES[(kind, text[:300])] += 1
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        if time.perf_counter() - t0 > HANG_S:
            outcome = "hang"
            raise Hang(f"the case took {time.perf_counter() - t0:.1f} s")
        outcome = "silent"
        _check_cohort(res, strict)
        outcome = "interpreted"
        st_ = res.status.set_index("patient_id")["state"]
        for pid, state in st_.items():
            if str(pid).startswith("B"):
                STATS[(kind, f"{origin} generated patients {state}")] += 1
        if origin == "plausible":
            for msg in res.status.loc[res.status["state"] == "failed", "error"]:
                MESSAGES[(kind + " plausible failed", str(msg)[:300])] += 1
    except Hang:
        outcome = "hang"
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        STATS[(kind, "cases")] += 1
        STATS[(kind, outcome)] += 1
        STATS[(kind, f"{origin} cases")] += 1
        STATS[(kind, f"{origin} {outcome}")] += 1


# -- the two profiles --------------------------------------------------------------------

def _tests(n: int, mark=None):
    @_settings(n)
    @given(d=patient_dicts())
    def json_case(tmp_path_factory, d):
        _fuzz_json(tmp_path_factory.mktemp("j"), d)

    @_settings(n)
    @given(d=patient_dicts())
    def toml_case(tmp_path_factory, d):
        _fuzz_toml(tmp_path_factory.mktemp("t"), d)

    @_settings(n)
    @given(b=bundles())
    def fhir_case(tmp_path_factory, b):
        _fuzz_fhir(tmp_path_factory.mktemp("f"), b)

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


@pytest.fixture(autouse=True)
def _write_stats():
    yield
    target = os.environ.get("BONETURNOVER_FUZZ_STATS")
    if target and STATS:
        path = Path(target)
        try:
            merged = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            merged = {}
        merged.update({f"{k} {o}": n for (k, o), n in sorted(STATS.items())})
        for kind in {k for k, _ in STATS}:  # every outcome, 0 included
            for o in ("interpreted", "refused", "crash", "hang", "silent"):
                merged.setdefault(f"{kind} {o}", 0)
        path.write_text(json.dumps(dict(sorted(merged.items())), indent=1), "utf-8")
    target = os.environ.get("BONETURNOVER_FUZZ_MESSAGES")
    if target and MESSAGES:
        Path(target).write_text("".join(f"{n}\t{k}\t{m}\n" for (k, m), n
                                        in MESSAGES.most_common()), "utf-8")
