"""The single-patient engine (plain Python) and the vectorised one (pandas) agree.

``interpret`` runs one patient through :mod:`boneturnover.clinical.single`; cohorts run
through :mod:`boneturnover.clinical.frames`. For the same patient both must give the same
report (findings, numbers, messages in both languages, timeline, series, input summary)
or refuse it with the same message. Checked on every example and on generated
histories (hypothesis): valid ones that reach every rule, and ones with entry errors.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boneturnover.clinical import (
    CATALOG,
    DRUGS,
    Measurement,
    PatientRecord,
    TreatmentRecord,
    interpret,
    load_cohort,
    load_patient,
)
from boneturnover.clinical.conditions import KINDS
from boneturnover.clinical.frames import interpret_frames
from boneturnover.clinical.kinds import SPECS
from boneturnover.clinical.single_kinds import RECORD_KINDS
from boneturnover.clinical.tables import _numbers
from boneturnover.clinical.values import day_to_iso, numbers, parse_date, to_day
from boneturnover.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "clinical"
DATA = Path(__file__).resolve().parent / "data"
RULESETS = ("paper", "iof-ects-2017")
N = int(os.environ.get("BONETURNOVER_SINGLE_EXAMPLES", "60"))


def _fingerprint(fn, patient, **kw) -> str:
    try:
        r = fn(patient, **kw)
    except InputError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "\n".join((repr(r), r.to_json(), r.to_text("en"), r.to_text("zh")))


def _same(patient, **kw) -> None:
    a = _fingerprint(interpret, patient, **kw)
    b = _fingerprint(interpret_frames, patient, **kw)
    assert a == b


def test_every_kind_has_both_implementations():
    assert set(SPECS) == set(KINDS) == set(RECORD_KINDS)


def _examples():
    files = sorted([*EXAMPLES.glob("*.toml"), *EXAMPLES.glob("*.json"), *DATA.glob("*.json")])
    out = [(f.name, load_patient(f)) for f in files]
    cohort = load_cohort(EXAMPLES / "cohort")
    out += [(pid, cohort.patient(pid))
            for pid in dict.fromkeys(cohort.patients["patient_id"].astype(str))]
    return out


@pytest.mark.parametrize("ruleset", RULESETS)
@pytest.mark.parametrize("today", [None, "2025-06-01", "2031-01-01"])
def test_examples_agree(ruleset, today):
    for _, p in _examples():
        _same(p, ruleset=ruleset, today=today or p.as_of or "2025-06-01")


# -- generated histories ------------------------------------------------------------------

BASE = dt.date(2016, 1, 1)
TODAY = dt.date(2025, 6, 1)
SPAN = (TODAY - BASE).days
MARKERS = list(CATALOG)
DRUG_KEYS = list(DRUGS)


def _iso(offset: int) -> str:
    return (BASE + dt.timedelta(days=offset)).isoformat()


@st.composite
def _measurement(draw, i: int):
    mid = draw(st.sampled_from(MARKERS + ["CTX_I", "P1NP_TOTAL", "CTX_I", "PTH", "CA",
                                          "EGFR", "VITD25", "MG"]))
    m = CATALOG[mid]
    unit = draw(st.sampled_from([m.canonical_unit, m.canonical_unit, *m.units]))
    lo = m.ri.low if m.ri and m.ri.low else m.plausible_low
    hi = m.ri.high if m.ri and m.ri.high else m.plausible_high
    canon = draw(st.one_of(st.floats(lo / 4, hi * 3), st.sampled_from([lo, hi, lo * 0.5])))
    value: object = round(m.from_canonical(canon, unit), draw(st.integers(0, 3)))
    comparator = None
    if draw(st.integers(0, 7)) == 0:
        comparator = draw(st.sampled_from(["<", "<=", ">", ">=", "≤"]))
        if draw(st.booleans()):
            value, comparator = f"{comparator}{value}", None
    return Measurement(
        date=_iso(draw(st.integers(0, SPAN))), marker=mid, value=value, unit=unit,
        fasting=draw(st.sampled_from([True, True, False, None])),
        time=draw(st.sampled_from([None, "08:00", "07:30", "11:45", "14:00"])),
        source=f"measurements[{i}]", comparator=comparator,
        preliminary=draw(st.sampled_from([False, False, True])))


@st.composite
def _treatment(draw, i: int):
    drug = draw(st.sampled_from(DRUG_KEYS + ["zoledronate", "denosumab", "alendronate"]))
    d = DRUGS[drug]
    route = draw(st.sampled_from([None, *d.routes]))
    start = draw(st.integers(0, SPAN - 1))
    stop = None
    if draw(st.booleans()):
        stop = draw(st.integers(start, SPAN))
    last = None
    if draw(st.booleans()):
        last = draw(st.integers(start, SPAN if stop is None else stop))
    interval = draw(st.sampled_from([None, None, "1 wk", "1 mo", "6 mo", "1 a", "1 d"]))
    return TreatmentRecord(drug=drug, start=_iso(start),
                           stop=None if stop is None else _iso(stop),
                           interval=interval, route=route,
                           last_dose=None if last is None else _iso(last),
                           source=f"treatments[{i}]")


@st.composite
def histories(draw):
    n = draw(st.integers(0, 9))
    meas = [draw(_measurement(i)) for i in range(1, n + 1)]
    if meas and draw(st.booleans()):  # a repeated or conflicting result
        meas.append(meas[0])
    k = draw(st.integers(0, 3))
    treats = [draw(_treatment(i)) for i in range(1, k + 1)]
    return PatientRecord(
        patient_id="p1", measurements=tuple(meas), treatments=tuple(treats),
        birth_date=draw(st.sampled_from([None, "1950-03-01", "1961-07-15", "2015-01-01"])),
        ckd=draw(st.sampled_from([None, True, False])),
        glucocorticoids=draw(st.sampled_from([None, True, False])),
        calcium_supplement_mg_d=draw(st.sampled_from([None, 0, 500, 1000.0])),
        magnesium_supplement_mg_d=draw(st.sampled_from([None, 0, 100, 250.0])))


OSTEO_DRUGS = ["alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
               "raloxifene", "teriparatide", "romosozumab"]
BTM = ["CTX_I", "P1NP_TOTAL", "P1NP_INTACT", "BALP", "U_NTX", "S_NTX", "TRAP5B", "OC"]
LABS = {"PTH": (5.0, 200.0), "CA": (1.8, 3.0), "VITD25": (10.0, 150.0),
        "EGFR": (10.0, 120.0), "MG": (0.4, 1.2), "ALP": (20.0, 200.0)}


@st.composite
def scenarios(draw):
    """Valid histories: courses one after another, a baseline before each, results on
    and after treatment, laboratory context around the limits of the rules."""
    treats: list[TreatmentRecord] = []
    cur = draw(st.integers(0, 1200))
    for i, drug in enumerate(draw(st.lists(st.sampled_from(OSTEO_DRUGS), max_size=3)), 1):
        if cur >= SPAN:
            break
        d = DRUGS[drug]
        length = draw(st.integers(0, 2600))
        stop = None if draw(st.integers(0, 2)) == 0 else min(cur + length, SPAN)
        last = None
        if d.default_route != "oral" and draw(st.booleans()):
            last = draw(st.integers(cur, SPAN if stop is None else stop))
        route = draw(st.sampled_from([None, *d.routes]))
        treats.append(TreatmentRecord(drug, _iso(cur), None if stop is None else _iso(stop),
                                      route=route, last_dose=None if last is None else
                                      _iso(last), source=f"treatments[{i}]"))
        cur = (SPAN if stop is None else stop) + draw(st.integers(1, 500))
    if draw(st.booleans()):
        s = draw(st.integers(0, SPAN))
        treats.append(TreatmentRecord("glucocorticoid", _iso(s), draw(st.sampled_from(
            [None, _iso(min(SPAN, s + 200))])), source=f"treatments[{len(treats) + 1}]"))
    if draw(st.booleans()):
        treats.append(TreatmentRecord(draw(st.sampled_from(["calcium", "magnesium"])),
                                      _iso(draw(st.integers(0, SPAN))),
                                      source=f"treatments[{len(treats) + 1}]"))
    days: list[int] = []
    for t in treats[:3]:
        start = (dt.date.fromisoformat(t.start) - BASE).days
        days += [start - draw(st.integers(0, 200)), start + draw(st.integers(1, 900))]
        if t.stop:
            stop = (dt.date.fromisoformat(t.stop) - BASE).days
            days += [stop + draw(st.integers(1, 1200))]
    days += draw(st.lists(st.integers(0, SPAN), max_size=3))
    days = sorted({d for d in days if 0 <= d <= SPAN})
    markers = draw(st.lists(st.sampled_from(BTM), min_size=1, max_size=3, unique=True))
    meas = []
    base = {mid: draw(st.floats(0.4, 2.2)) for mid in markers}
    for d in days:
        for mid in markers:
            m = CATALOG[mid]
            ref = (m.ri.low + m.ri.high) / 2 if m.ri else m.plausible_high / 10
            factor = base[mid] if d == days[0] else draw(st.sampled_from(
                [0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.3, 1.8, 2.5]))
            canon = ref * factor * base[mid]
            if draw(st.integers(0, 9)):  # mostly a value the marker can take
                canon = max(canon, m.plausible_low * 1.5)
            value: object = round(canon, 2)
            comparator = None
            if draw(st.integers(0, 12)) == 0:
                comparator = draw(st.sampled_from(["<", ">"]))
            meas.append(Measurement(_iso(d), mid, value, m.canonical_unit,
                                    fasting=draw(st.sampled_from([True, True, False, None])),
                                    time=draw(st.sampled_from([None, "08:00", "11:30"])),
                                    comparator=comparator,
                                    source=f"measurements[{len(meas) + 1}]"))
        for mid in draw(st.lists(st.sampled_from(list(LABS)), max_size=3, unique=True)):
            lo, hi = LABS[mid]
            meas.append(Measurement(_iso(d), mid, round(draw(st.floats(lo, hi)), 2),
                                    CATALOG[mid].canonical_unit,
                                    source=f"measurements[{len(meas) + 1}]"))
    return PatientRecord(
        patient_id="p1", measurements=tuple(meas), treatments=tuple(treats),
        birth_date=draw(st.sampled_from([None, "1948-03-01", "1958-07-15"])),
        ckd=draw(st.sampled_from([None, True, False, False])),
        glucocorticoids=draw(st.sampled_from([None, False, True])),
        calcium_supplement_mg_d=draw(st.sampled_from([None, 0, 600, 1200.0])),
        magnesium_supplement_mg_d=draw(st.sampled_from([None, 0, 100, 400.0])))


_SETTINGS = settings(max_examples=N, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_SETTINGS
@given(histories(), st.sampled_from(RULESETS), st.integers(0, 400))
def test_generated_histories_agree(patient, ruleset, later):
    _same(patient, ruleset=ruleset, today=(TODAY + dt.timedelta(days=later)).isoformat())


@_SETTINGS
@given(scenarios(), st.sampled_from(RULESETS), st.integers(0, 400))
def test_clinical_scenarios_agree(patient, ruleset, later):
    _same(patient, ruleset=ruleset, today=(TODAY + dt.timedelta(days=later)).isoformat())


CELLS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["", " ", "<0.03", ">2000", "-0", "0.0", "1e3", "inf", "nan", "1_000",
                     "2024-02-30", "0000-01-01", "2024-05-01", "08:00", "25:99", "yes", "否",
                     "6 mo", "1 a", "0 d", "mg", "kg", "ng/ml", "µg/L", "CTX", "Prolia"]))


@_SETTINGS
@given(st.lists(st.tuples(*[CELLS] * 8), max_size=3),
       st.lists(st.tuples(*[CELLS] * 7), max_size=2), st.tuples(*[CELLS] * 6))
def test_entry_errors_agree(meas, treats, facts):
    p = PatientRecord(
        patient_id="p1",
        measurements=tuple(Measurement(date=m[0], marker=m[1] if m[7] else "CTX_I", value=m[2],
                                       unit=m[3] if m[7] else "ng/L", fasting=m[4], time=m[5],
                                       comparator=m[6], source=f"measurements[{i}]")
                           for i, m in enumerate(meas, 1)),
        treatments=tuple(TreatmentRecord(drug=t[0] if t[6] else "alendronate", start=t[1],
                                         stop=t[2], interval=t[3], route=t[4], dose=t[5],
                                         dose_unit=t[6], source=f"treatments[{i}]")
                         for i, t in enumerate(treats, 1)),
        birth_date=facts[0], ckd=facts[1], glucocorticoids=facts[2],
        calcium_supplement_mg_d=facts[3], magnesium_supplement_mg_d=facts[4])
    _same(p, today="2025-01-01")


# -- the field readers agree with the vectorised ones --------------------------------------

@_SETTINGS
@given(st.lists(CELLS, max_size=6))
def test_numbers_read_as_the_table_path_reads_them(cells):
    v, blank, bad = numbers(cells)
    ev, eblank, ebad = _numbers(pd.Series(cells, dtype=object))
    assert [math.copysign(1, x) if x == 0 else x for x in v if not math.isnan(x)] == \
        [math.copysign(1, x) if x == 0 else x for x in ev.tolist() if not math.isnan(x)]
    assert [math.isnan(x) for x in v] == np.isnan(ev).tolist()
    assert blank == eblank.tolist() and bad == ebad.tolist()


def test_dates_read_as_numpy_reads_them():
    epoch = np.datetime64("1970-01-01", "D")
    for d in range(-719528, 2932897, 997):
        iso = str(epoch + np.timedelta64(d, "D"))
        assert day_to_iso(d) == iso and parse_date(iso) == d and to_day(iso) == d
    for text in ("2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "0000-02-29",
                 "2024-04-31", "2024-13-01", "2024-00-10", "2024-1-01", "٢٠٢٤-٠١-٠١"):
        try:
            want = float((np.datetime64(text, "D") - epoch).astype(int))
        except ValueError:
            want = None
        assert parse_date(text) == want, text


# -- what one patient imports ------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "json"])
def test_one_patient_from_the_command_line_imports_no_pandas(fmt):
    """``interpret FILE --format text/json`` reads one patient without pandas, numpy, pint
    or numba (the cohort path and the model are imported only when asked for)."""
    code = ("import sys\n"
            "from boneturnover.cli import main\n"
            f"assert main(['interpret', {str(EXAMPLES / 'bisphosphonate_responder.toml')!r}, "
            f"'--format', {fmt!r}, '--today', '2024-07-20']) == 0\n"
            "assert main(['interpret', "
            f"{str(EXAMPLES / 'fhir_bundle.json')!r}, '--format', {fmt!r}]) == 0\n"
            "heavy = [m for m in ('pandas', 'numpy', 'pint', 'numba', 'scipy', 'pyarrow',"
            " 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip().splitlines()[-1] == "HEAVY []", out[-500:]
