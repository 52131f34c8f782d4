"""Fuzzing every clinical input: patient TOML and JSON, FHIR bundles, cohort CSV folders.

Each generated input is either interpreted or refused with an InputError subclass (the
CLI's exit 2): never another exception, never NaN or infinity in a finding, never a
finding built on an impossible dosing interval. The fast profile runs by default; the
long one (``pytest -m fuzz``) tries thousands of cases per kind and, with
``BONETURNOVER_FUZZ_STATS=FILE``, writes how many were interpreted and refused.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boneturnover.clinical import interpret, load_cohort, load_patient
from boneturnover.clinical.cohort import interpret_cohort
from boneturnover.clinical.tables import LIMITS
from boneturnover.errors import InputError

DATA = Path(__file__).resolve().parent / "data"
TODAY = "2025-01-01"
FAST = 50  # examples per kind (a cohort case costs more: a third of these)
LONG = int(os.environ.get("BONETURNOVER_FUZZ_EXAMPLES", "2000"))
STATS: Counter = Counter()


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
    try:
        out = fn()
    except InputError as exc:
        assert "Traceback" not in str(exc) and str(exc).strip()
        STATS[(kind, "refused")] += 1
        return "refused"
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


CELL = st.one_of(st.sampled_from(["", "A", "B", "2024-05-01", "CTX_I", "300", "<30", "ng/L",
                                  "true", "08:00", "alendronate", "1 wk", "0 d", "nan", "inf",
                                  "1e12", "kg", "1800-01-01", '"', '"x', "a,b", "µg/L"]),
                 st.text(st.characters(blacklist_characters="\r\n\x85\u2028\u2029"),
                         max_size=6))
# generated rows belong to patient B (A and C must be interpreted whatever B's rows are)
ROWS = st.lists(st.lists(CELL, min_size=4, max_size=8).map(lambda r: ["B", *r]), max_size=6)


@st.composite
def cohorts(draw):
    pat = [["A", "1950-01-01"], ["B", draw(CELL)], ["C", "1950-01-01"]]
    meas = [["A", "2024-05-01", "CTX_I", "300", "ng/L", "true", "08:00"],
            *draw(ROWS), ["C", "2024-05-01", "CTX_I", "900", "ng/L", "true", "08:00"]]
    treat = draw(ROWS)
    junk = draw(st.sampled_from([b"", b"B,2024-05-01,CTX_I,3\xff0,ng/L,true,08:00\n",
                                 b'B,"2024-05-01,CTX_I,300,ng/L\n', b"\xff\xfe\n"]))
    return pat, meas, treat, junk


def _csv(rows) -> bytes:
    return "".join(",".join(r) + "\n" for r in rows).encode("utf-8", "surrogatepass")


def _fuzz_cohort(tmp_path, case):
    pat, meas, treat, junk = case
    (tmp_path / "patients.csv").write_bytes(
        b"patient_id,birth_date\n" + _csv(pat))
    (tmp_path / "measurements.csv").write_bytes(
        b"patient_id,date,marker,value,unit,fasting,time\n" + _csv(meas) + junk)
    (tmp_path / "treatments.csv").write_bytes(
        b"patient_id,drug,dose,dose_unit,interval,route,start,stop,last_dose\n" + _csv(treat))

    def go():
        res = interpret_cohort(load_cohort(tmp_path), today=TODAY)
        status = res.status.set_index("patient_id")
        assert {"A", "B", "C"} <= set(status.index)
        assert status["state"].isin(["interpreted", "failed"]).all()
        assert status["error"].notna().eq(status["state"] == "failed").all()
        assert status.loc["A", "state"] == "interpreted"  # never lost to another's bad row
        assert status.loc["C", "state"] == "interpreted"
        for col in ("latest_ctx_i_ng_l", "latest_p1np_ug_l"):
            v = status[col].dropna()
            assert v.map(math.isfinite).all()
        td = res.tables.treat["interval_days"]
        lim = LIMITS["interval_days"]
        assert ((td >= lim.low) & (td <= lim.high)).all()
    _outcome("cohort CSV", go)


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

    @_settings(max(12, n // 4))
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
        Path(target).write_text(json.dumps(
            {f"{k} {o}": n for (k, o), n in sorted(STATS.items())}, indent=1), "utf-8")
