"""Fuzzing scenario files and virtual populations through the command line.

Hypothesis builds scenario TOML of two sorts, about half each:

- **plausible** scenarios: a random woman (age, menopause age, BMD), a short run (years
  mostly under 3), named regimens, ``[[treatment]]`` entries of the drug catalogue
  (labelled doses and intervals, scaled, in other units, with salts, intake conditions,
  infusions, adherence and missed doses), ``[[dose]]`` records, parameter overrides
  within their bounds and a magnesium intake; most of them run;
- **mutated** scenarios: a plausible one with a few mutations (wrong types, deep nesting,
  extreme numbers and units, junk fields, out-of-bound parameters).

Virtual populations (``simulate --population POP.csv``) get plausible scenarios and
population tables of a few subjects whose cells are plausible parameter values or junk.

Every input must either run and write finite outputs (the documented exception:
``ca_mg_intake_ratio`` without magnesium intake, warned) with no negative value where
none is possible and one row per output time, or end with one ``Type: message`` line:
exit 2 for bad input (an :class:`~boneturnover.errors.InputError`), exit 3 for a
numerical failure that names the subject and the likely cause. Outcomes are counted per
kind: ran, refused (exit 2), exit 3, crash (a traceback or another exit status), hang
(a case beyond :data:`HANG_S`), silent (ran, but an output is NaN, infinite, negative
or missing rows).

The default profile is fast; ``pytest -m fuzz`` runs the long one
(``BONETURNOVER_FUZZ_EXAMPLES=N`` scenario cases, a quarter of that for populations;
``BONETURNOVER_FUZZ_STATS=FILE`` writes the counts, merged with those already in FILE).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boneturnover.cli import main
from boneturnover.knowledge.drugs import drug_catalog
from boneturnover.knowledge.regimens import regimen_names
from boneturnover.magnesium import INTAKE_LIMITS_MG_DAY
from boneturnover.model.spec import load_model
from boneturnover.scenario import _KIDNEY_KEYS
from fuzz_support import fuzz_case, write_stats

SPEC = load_model()
PARAMS = SPEC.parameter_names
COMPARTMENTS = sorted(SPEC.dose_targets)
CATALOG = drug_catalog()
#: Catalogue drugs the model can dose (the context-only ones have no dose target).
DOSABLE = sorted(k for k, d in CATALOG.items()
                 if any(r.target in SPEC.dose_targets for r in d.routes.values()))
REGIMENS = sorted(regimen_names())
DRUGS = ["alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
         "raloxifene", "teriparatide", "romosozumab", "calcium", "magnesium", "Prolia",
         "aspirin", "glucocorticoid", ""]
UNITS = ["mg", "ug", "g", "kg", "mmol", "nmol", "mol", "L", "h", "", "furlong", "mg/d", "IU"]
TIME_UNITS = ["h", "d", "week", "month", "year", "s", "min", "ms", "mg", "", "1/h", "wk",
              "mo", "a"]
#: Seconds after which one case counts as a hang (a plausible case takes well under 1 s).
HANG_S = 30.0
#: Output columns that may be negative (T-scores are signed).
SIGNED = ("t_score_spine", "t_score_hip")
KINDS = ("scenario TOML", "population CSV")
#: The ``[kidney]`` table's keys (chronic kidney disease), when the scenario has one.
KIDNEY = sorted(_KIDNEY_KEYS)
OUTCOMES = ("ran", "refused", "exit 3", "crash", "hang", "silent")
HOURS_PER_YEAR = 365.25 * 24.0

# --- TOML text ----------------------------------------------------------------------------


class Deep:
    """Lists and tables nested ``depth`` levels, written without recursion."""

    def __init__(self, depth: int) -> None:
        self.depth = depth

    def text(self) -> str:
        opens = "".join("[" if i % 2 == 0 else "{a = " for i in range(self.depth))
        closes = "".join("]" if i % 2 == 0 else "}" for i in reversed(range(self.depth)))
        return opens + "1" + closes

    def __repr__(self) -> str:
        return f"Deep({self.depth})"


def _toml_value(v) -> str:
    if isinstance(v, Deep):
        return v.text()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{_toml_string(str(k))} = {_toml_value(x)}"
                           for k, x in v.items()) + "}"


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes, characters beyond U+FFFF as they are (JSON
    would write surrogate pairs, which TOML refuses) and DEL escaped (TOML requires it)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def to_toml(data: dict) -> str:
    """One ``key = <inline value>`` line per top-level key (valid TOML for any value)."""
    return "".join(f"{_toml_string(str(k))} = {_toml_value(v)}\n" for k, v in data.items())


# --- strategies: junk ---------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-10, 10), st.sampled_from([0, -1, 1e-300, 1e300, 2**63 - 1, -(2**63), 2**64]),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e6, 1e6))
texts = st.one_of(st.text(max_size=12), st.sampled_from(
    ["=cmd()", "\u0000", "nan", "1e999", "inf mg", "-0 d", "1,5 mg", "60mg", "60 MG", "6 mo ",
     " 1 d", "1e-400 h", "0x10 mg", "½ mg", "60 mg/kg", "1 d 2 h"]))
amounts = st.one_of(
    st.builds(lambda x, u: f"{x:g} {u}".strip(), st.one_of(st.floats(-1e9, 1e9),
              st.sampled_from([1e300, 1e-300, 0.0, -0.0, float("nan"), float("inf")])),
              st.sampled_from(UNITS)),
    st.sampled_from(["60 mg", "20 ug", "5 mg", "500 mg", "70 mg"]), numbers, texts)
durations = st.one_of(
    st.builds(lambda x, u: f"{x:g} {u}".strip(), st.one_of(
        st.floats(-100, 1e6), st.sampled_from([1e-300, 1e-9, 0.0, 1e300, float("nan"),
                                               float("inf")])),
        st.sampled_from(TIME_UNITS)),
    st.sampled_from(["1 d", "1 week", "6 months", "1 year", "1 h", "1 min", "59 min"]),
    numbers, texts)
junk = st.recursive(st.one_of(numbers, texts, st.booleans()),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=5), inner,
                                                            max_size=3)), max_leaves=8)
deep = st.builds(Deep, st.integers(5, 1000))


def _param_value(name: str, kind: str, k: int):
    v = SPEC.parameter(name).value
    return {"scale": v * 10.0**k if v else float(k), "zero": 0, "neg": -abs(v) - 1,
            "tiny": 1e-300, "huge": 1e300}[kind]


overrides = st.dictionaries(st.sampled_from(PARAMS), numbers, max_size=3)
param_overrides = st.builds(
    lambda names, kinds, ks: {n: _param_value(n, kd, k)
                              for n, kd, k in zip(names, kinds, ks, strict=False)},
    st.lists(st.sampled_from(PARAMS), max_size=3, unique=True),
    st.lists(st.sampled_from(["scale", "scale", "scale", "zero", "neg", "tiny", "huge"]),
             min_size=3, max_size=3),
    st.lists(st.integers(-3, 3), min_size=3, max_size=3))

dose = st.fixed_dictionaries(
    {"compartment": st.one_of(st.sampled_from(COMPARTMENTS), junk), "amount": amounts},
    optional={"time": durations, "every": durations, "until": durations,
              "count": st.one_of(st.integers(-2, 10**6), numbers), "duration": durations,
              "route": junk})
treatment = st.fixed_dictionaries(
    {"drug": st.one_of(st.sampled_from(DRUGS), junk), "dose": amounts},
    optional={"every": durations, "start": durations, "stop": durations,
              "route": st.one_of(st.sampled_from(["oral", "iv", "sc"]), junk),
              "intake": st.one_of(st.sampled_from(["fasting_2h", "with_food"]), junk),
              "salt": st.one_of(st.sampled_from(["carbonate", "oxide"]), junk),
              "infusion": durations, "adherence": numbers,
              "adherence_pattern": st.one_of(st.sampled_from(["even", "random"]), junk),
              "seed": numbers, "missed": st.one_of(st.lists(st.integers(-1, 30), max_size=4),
                                                  junk)})

# --- strategies: plausible scenarios ------------------------------------------------------


def _fmt(x: float, unit: str) -> str:
    return f"{x:.4g} {unit}"


@st.composite
def plausible_value(draw, name: str) -> float:
    """A value of parameter ``name`` near its bundled one and within its bounds."""
    p = SPEC.parameter(name)
    b = p.bounds
    v = p.value
    cand = v * 10.0 ** draw(st.floats(-0.5, 0.5)) if v else draw(st.floats(0.0, 1.0))
    if b.contains(cand):
        return cand
    low = b.low if math.isfinite(b.low) else min(v, 0.0) - 1.0
    high = b.high if math.isfinite(b.high) else max(v, 0.0) + 1.0
    return draw(st.floats(low, high, exclude_min=b.low_open, exclude_max=b.high_open)
                .filter(b.contains))


@st.composite
def plausible_parameters(draw) -> dict:
    names = draw(st.lists(st.sampled_from(PARAMS), max_size=3, unique=True))
    return {n: draw(plausible_value(n)) for n in names}


#: How many units of each unit a labelled amount is written in (mass units only).
MASS = {"mg": 1.0, "ug": 1000.0, "g": 0.001}


@st.composite
def amount_text(draw, amount: float, unit: str) -> str:
    """A labelled amount scaled (mostly 0.5 to 2 times) and perhaps in another mass unit."""
    x = amount * draw(st.sampled_from([1, 1, 1, 1, 0.5, 2, 0.3, 1.5, 0.25, 3]))
    if unit in MASS and draw(st.integers(0, 4)) == 0:
        new = draw(st.sampled_from(sorted(MASS)))
        return _fmt(x / MASS[unit] * MASS[new], new)
    return _fmt(x, unit)


@st.composite
def day_offset(draw, years: float) -> str:
    """A time inside the run, in days or months."""
    d = draw(st.floats(0, max(years, 0.01) * 365.25))
    return draw(st.sampled_from([f"{d:.3g} d", f"{d / 30.4375:.3g} months"]))


@st.composite
def plausible_treatment(draw, key: str, years: float) -> dict:
    drug = CATALOG[key]
    routes = sorted(r for r, ro in drug.routes.items() if ro.target in SPEC.dose_targets)
    route_key = draw(st.sampled_from(routes))
    route = drug.routes[route_key]
    reg = draw(st.sampled_from(list(route.regimens)))
    name = draw(st.sampled_from([key, key, key, key.upper(), *drug.aliases[:2]]))
    t: dict = {"drug": name}
    salts = sorted(getattr(drug, "salts", {}) or {})
    if salts and draw(st.booleans()):
        salt = draw(st.sampled_from(salts))
        t["salt"] = salt
        t["dose"] = _fmt(reg.amount / drug.salts[salt].fraction
                         * draw(st.sampled_from([1, 1, 0.5, 2])), "mg")
    else:
        t["dose"] = draw(amount_text(reg.amount, reg.unit))
    if len({r.every_h for r in route.regimens}) > 1 or draw(st.integers(0, 3)):
        t["every"] = draw(st.sampled_from([reg.every, reg.every, f"{reg.every_h / 24:g} d",
                                           f"{reg.every_h:g} h"]))
    if route_key != drug.default_route or draw(st.integers(0, 3)) == 0:
        t["route"] = route_key
    if draw(st.integers(0, 2)) == 0:
        t["start"] = draw(day_offset(years))
    if draw(st.integers(0, 3)) == 0:
        t["stop"] = f"{draw(st.floats(1.0, 1500.0)):.4g} d"
    if route.intake and draw(st.booleans()):
        t["intake"] = draw(st.sampled_from(sorted(route.intake)))
    if route_key == "iv" and draw(st.booleans()):
        t["infusion"] = draw(st.sampled_from(["15 min", "30 min", "1 h", "2 h", "0 h"]))
    if draw(st.integers(0, 3)) == 0:
        t["adherence"] = draw(st.floats(0.0, 1.0))
        t["adherence_pattern"] = draw(st.sampled_from(["even", "random"]))
        t["seed"] = draw(st.integers(0, 10**6))
    if draw(st.integers(0, 5)) == 0:
        t["missed"] = draw(st.lists(st.integers(1, 40), max_size=4, unique=True))
    return t


@st.composite
def plausible_dose(draw, years: float, targets=COMPARTMENTS) -> dict:
    """A ``[[dose]]`` record into one of ``targets``, with its label's amount and interval."""
    from boneturnover.drugs.treatments import label_for_target

    target = draw(st.sampled_from(list(targets)))
    found = label_for_target(target)
    d: dict = {"compartment": target}
    if found is None:
        d["amount"] = "1 mg"
        return d
    drug, route, _ = found
    reg = draw(st.sampled_from(list(route.regimens)))
    d["amount"] = draw(amount_text(reg.amount, reg.unit))
    if draw(st.integers(0, 4)):
        d["every"] = reg.every
        if draw(st.integers(0, 3)) == 0:
            d["count"] = draw(st.integers(1, 30))
        elif draw(st.integers(0, 3)) == 0:
            d["until"] = f"{draw(st.floats(1, 2000)):.4g} d"
    if draw(st.integers(0, 2)) == 0:
        d["time"] = draw(day_offset(years))
    if target.endswith("_iv") and draw(st.booleans()):
        d["duration"] = draw(st.sampled_from(["15 min", "30 min", "1 h"]))
    return d


@st.composite
def plausible(draw) -> dict:
    """A scenario a person could write: most of these run."""
    years = draw(st.one_of(
        st.floats(0.01, 3.0).map(lambda y: round(y, 3)), st.floats(0.01, 3.0),
        st.floats(0.01, 3.0).map(lambda y: round(y, 3)), st.sampled_from([0, 0.001, 0.5, 1, 2]),
        st.floats(3.0, 10.0).map(lambda y: round(y, 1))))
    age = draw(st.one_of(st.integers(40, 90), st.floats(18, 100)))
    data: dict = {"years": years, "patient": {"age": age}}
    if draw(st.integers(0, 3)):
        data["patient"]["menopause_age"] = draw(st.one_of(
            st.integers(45, 56), st.floats(30, 65), st.just(max(30, min(age, 51)))))
    if draw(st.integers(0, 5)) == 0:
        data["patient"]["premenopausal_bmd_spine_g_cm2"] = draw(st.floats(0.4, 1.8))
    if draw(st.integers(0, 5)) == 0:
        data["patient"]["premenopausal_bmd_hip_g_cm2"] = draw(st.floats(0.3, 1.6))
    every = draw(st.sampled_from(["1 d", "1 d", "1 d", "7 d", "12 h", "1 week", "1 month",
                                  "1 h", "30 min", 2]))
    rows = years * HOURS_PER_YEAR / {"1 h": 1.0, "30 min": 0.5, "12 h": 12.0}.get(every, 24.0)
    if rows <= 20_000 and every != "1 d":
        data["output_every"] = every
    if draw(st.integers(0, 3)) == 0:
        data["regimen"] = draw(st.one_of(st.sampled_from(REGIMENS),
                                         st.lists(st.sampled_from(REGIMENS), min_size=1,
                                                  max_size=2, unique=True)))
    keys = draw(st.lists(st.sampled_from(DOSABLE), max_size=3, unique=True))
    if "regimen" in data:  # a regimen and a treatment of the same drug are refused
        keys = [k for k in keys if k in ("calcium", "magnesium")]
    if keys:
        data["treatment"] = [draw(plausible_treatment(k, years)) for k in keys]
    if draw(st.integers(0, 4)) == 0:
        taken = {r.target for k in keys for r in CATALOG[k].routes.values()}
        if "regimen" in data:
            taken |= set(COMPARTMENTS)
        free = [c for c in COMPARTMENTS if c not in taken]
        if free:
            data["dose"] = [draw(plausible_dose(years, free))
                            for _ in range(draw(st.integers(1, 2)))]
    if draw(st.booleans()):
        params = draw(plausible_parameters())
        if params:
            data["parameters"] = params
    if draw(st.integers(0, 4)) == 0:
        low, high = INTAKE_LIMITS_MG_DAY
        data["magnesium"] = {"intake_mg_day": draw(st.one_of(
            st.floats(10, 800), st.just(0), st.floats(low, high),
            st.integers(int(math.ceil(low)), int(high))))}
    if KIDNEY and draw(st.integers(0, 4)) == 0:
        data["kidney"] = draw(st.fixed_dictionaries({}, optional={
            "decline_from_age": st.floats(30, 90), "egfr_decline_ml_min_per_year":
            st.floats(0, 10), "egfr_floor_ml_min": st.floats(5, 90)}))
    if draw(st.integers(0, 5)) == 0:
        data["name"] = draw(st.text(max_size=20))
    return data


# --- strategies: mutations of a plausible scenario ----------------------------------------


def _table(data: dict, key: str) -> dict:
    if not isinstance(data.get(key), dict):
        data[key] = {}
    return data[key]


def _list(data: dict, key: str) -> list:
    if not isinstance(data.get(key), list):
        data[key] = []
    return data[key]


EDGE = st.one_of(numbers, texts, durations, amounts, junk, st.booleans())
MUTATIONS = ["params", "params", "junk_params", "dose", "dose", "treatment", "treatment",
             "treatment_field", "treatment_field", "treatment_field", "dose_field",
             "dose_field", "drop_key", "regimen", "magnesium", "kidney", "output_every",
             "years", "age", "junk_top", "deep", "name"]


def _mutate(draw, data: dict, m: str) -> None:
    if m == "params":
        _table(data, "parameters").update(draw(param_overrides))
    elif m == "junk_params":
        _table(data, "parameters").update(draw(overrides))
    elif m == "dose":
        _list(data, "dose").append(draw(dose))
    elif m == "treatment":
        _list(data, "treatment").append(draw(treatment))
    elif m in ("treatment_field", "dose_field"):
        items = [x for x in _list(data, m.split("_")[0]) if isinstance(x, dict)]
        if not items:
            items = [draw(plausible_treatment(draw(st.sampled_from(DOSABLE)), 1.0))
                     if m == "treatment_field" else draw(plausible_dose(1.0))]
            _list(data, m.split("_")[0]).extend(items)
        item = draw(st.sampled_from(items))
        keys = sorted(item) + [
            "every", "start", "stop", "infusion", "adherence", "missed", "seed", "count",
            "until", "time", "duration", "unknown"]
        item[draw(st.sampled_from(keys))] = draw(EDGE)
    elif m == "drop_key":
        target = draw(st.sampled_from(["patient", "treatment", "dose"]))
        holder = data.get(target)
        if isinstance(holder, list) and holder and isinstance(holder[0], dict) and holder[0]:
            holder[0].pop(draw(st.sampled_from(sorted(holder[0]))))
        elif isinstance(holder, dict) and holder:
            holder.pop(draw(st.sampled_from(sorted(holder))))
        else:
            data.pop(target, None)
    elif m == "regimen":
        data["regimen"] = draw(st.one_of(st.sampled_from([*REGIMENS, "denosumb", ""]), junk))
    elif m == "magnesium":
        data["magnesium"] = draw(st.one_of(st.fixed_dictionaries({"intake_mg_day": EDGE}),
                                           junk))
    elif m == "kidney":
        data["kidney"] = draw(st.one_of(
            st.dictionaries(st.sampled_from([*KIDNEY, "egfr", "stage"]), EDGE, max_size=3),
            junk))
        if draw(st.booleans()):
            _table(data, "parameters").update(draw(param_overrides))
    elif m == "output_every":
        data["output_every"] = draw(durations)
    elif m == "years":
        data["years"] = draw(numbers)
    elif m == "age":
        _table(data, "patient")[draw(st.sampled_from(
            ["age", "menopause_age", "premenopausal_bmd_spine_g_cm2",
             "premenopausal_bmd_hip_g_cm2", "weight"]))] = draw(st.one_of(numbers, texts))
    elif m == "junk_top":
        data[draw(st.sampled_from(["patient", "parameters", "dose", "treatment", "magnesium",
                                   "kidney", "regimen", "years", "unknown"]))] = draw(junk)
    elif m == "deep":
        data[draw(st.sampled_from(["parameters", "dose", "name", "patient", "treatment"]))] = \
            draw(deep)
    elif m == "name":
        data["name"] = draw(st.one_of(texts, junk))


@st.composite
def mutated(draw) -> dict:
    """A plausible scenario with one to three mutations."""
    data = draw(plausible())
    for m in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        _mutate(draw, data, m)
    return data


@st.composite
def scenarios(draw) -> tuple[str, dict]:
    """``("plausible", data)`` or ``("mutated", data)``, about half each."""
    if draw(st.integers(0, 99)) < 50:
        return "plausible", draw(plausible())
    return "mutated", draw(mutated())


# --- strategies: populations --------------------------------------------------------------

POP_JUNK = ["", "nan", "inf", "-1", "0", "1e400", "abc", '"', '"1,5"', "1,5", "١", " 1 ",
            "1e-400", "99999999999999999999999", "True", "\xff"]


@st.composite
def populations(draw) -> tuple[str, dict, list[list[str]]]:
    """A plausible scenario and a population table (header first) as text cells: plausible
    values (about two thirds), or one kind of damage (junk cells, a ragged row, a wrong
    header, a junk row)."""
    data = draw(plausible())
    data["years"] = min(float(data["years"]), 1.0)
    data.pop("output_every", None)
    cols = draw(st.lists(st.sampled_from(PARAMS), min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 5))
    damage = draw(st.sampled_from([None, None, None, None, "cells", "ragged", "header",
                                   "junk_row"]))
    bad = damage is not None
    rows = [[repr(draw(plausible_value(c))) for c in cols] for _ in range(n)]
    header = list(cols)
    if damage == "cells":
        for row in rows:
            for i in range(len(row)):
                if draw(st.integers(0, 2)) == 0:
                    row[i] = draw(st.one_of(st.sampled_from(POP_JUNK), st.text(max_size=5)))
    elif damage == "header":
        header.append(draw(st.sampled_from(["unknown_column", "", "subject", cols[0]])))
    elif damage == "ragged":  # a row with fewer or more fields, anywhere
        row = [repr(draw(plausible_value(c))) for c in cols]
        row = row[:draw(st.integers(0, len(row) - 1))] if draw(st.booleans()) else [
            *row, *(repr(draw(plausible_value(c))) for c in draw(
                st.lists(st.sampled_from(PARAMS), min_size=1, max_size=2)))]
        rows.insert(draw(st.integers(0, len(rows))), row)
    elif damage == "junk_row":
        rows.insert(draw(st.integers(0, len(rows))), draw(
            st.lists(st.sampled_from(POP_JUNK), max_size=len(header) + 2)))
    return ("mutated" if bad else "plausible"), data, [header, *rows]


# --- running one case ---------------------------------------------------------------------

STATS: Counter = Counter()
MESSAGES: Counter = Counter()
#: The last case's stderr lines other than warnings (what the regression tests read).
LAST: dict[str, list[str]] = {"lines": []}


_WARM: list[bool] = []


def _warm_up() -> None:
    """Compile the engine once (numba, minutes on a cold cache) before any case is timed."""
    if _WARM:
        return
    from boneturnover.scenario import scenario_from_dict
    from boneturnover.simulation import simulate

    sc = scenario_from_dict({"patient": {"age": 60, "menopause_age": 51}, "years": 0.05,
                             "regimen": "zoledronate", "magnesium": {"intake_mg_day": 150}})
    simulate(sc)
    simulate(sc, population=pd.DataFrame({"v_ecf_l": [14.0, 13.0]}))
    _WARM.append(True)


class Silent(AssertionError):
    """The run succeeded but its output is nonsense."""


def _check_columns(df: pd.DataFrame, err: str, what: str) -> None:
    for col in df.columns:
        if col == "subject":
            continue
        vals = df[col].to_numpy(dtype=float)
        if col == "ca_mg_intake_ratio" and "ca_mg_intake_ratio" in err:
            continue  # undefined without magnesium intake, written empty and warned
        if not np.isfinite(vals).all():
            raise Silent(f"{what}: column {col} holds NaN or infinity")
        if col not in SIGNED and (vals < 0).any():
            raise Silent(f"{what}: column {col} is negative ({vals.min():g})")


def _expected_rows(data: dict) -> int | None:
    """Output rows of a scenario that ran (None when ``output_every`` is not plain)."""
    from boneturnover.scenario import scenario_from_dict

    sc = scenario_from_dict(data)
    return int(math.floor(sc.years * HOURS_PER_YEAR / sc.output_every_h + 1e-9)) + 1


def _check_output(csv: Path, err: str, data: dict) -> None:
    df = pd.read_csv(csv)
    rows = _expected_rows(data)
    if len(df) != rows:
        raise Silent(f"{len(df)} output rows; expected {rows}")
    t = df["time_d"].to_numpy(dtype=float)
    if t[0] != 0 or (len(t) > 1 and not (np.diff(t) > 0).all()):
        raise Silent("time_d does not start at 0 and increase")
    _check_columns(df, err, "output")


def _check_population(folder: Path, err: str, n: int) -> None:
    status = pd.read_csv(folder / "status.csv")
    if len(status) != n:
        raise Silent(f"status.csv has {len(status)} rows; expected {n} subjects")
    parts = sorted((folder / "outputs").glob("part-*.parquet"))
    df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    if sorted(df["subject"].unique()) != list(range(n)):
        raise Silent("the outputs do not hold every subject")
    failed = set()
    for i, row in status.iterrows():
        if row["status"] != "OK":
            failed.add(i)
            if not isinstance(row["reason"], str) or not row["reason"].strip():
                raise Silent(f"subject {i} failed ({row['status']}) without a reason")
    _check_columns(df[~df["subject"].isin(failed)], err, "population outputs")


def _outcome(kind: str, origin: str, fn) -> int:
    """Run ``fn`` (returns the exit status), count and assert its outcome."""
    _warm_up()
    err = io.StringIO()
    with fuzz_case(STATS, kind, origin, HANG_S) as case:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc, check = fn()
        case.returned()
        text = err.getvalue()
        lines = [line for line in text.splitlines() if not line.startswith("warning: ")]
        LAST["lines"] = lines
        if rc == 0:
            assert not lines, text
            case.outcome = "silent"
            check(text)
            case.outcome = "ran"
        else:
            assert rc in (2, 3), (rc, text)
            assert len(lines) == 1 and ": " in lines[0], text
            if rc == 2:
                assert lines[0].split(":")[0].endswith("Error"), text
                case.outcome = "refused"
                MESSAGES[lines[0][:300]] += 1
            else:
                assert lines[0].startswith("SolverError: subject") and \
                    "likely cause" in lines[0], text
                case.outcome = "exit 3"
        return rc


def run_case(data: dict, folder: Path, origin: str = "example") -> int:
    """Run one scenario through the CLI; assert and count the outcome; return the status."""
    sc = folder / "case.toml"
    out = folder / "case.csv"
    sc.write_text(to_toml(data), encoding="utf-8")

    def go():
        rc = main(["simulate", str(sc), "--out", str(out), "--force"])

        def check(err: str) -> None:
            _check_output(out, err, data)
            out.unlink()
        if rc != 0:
            assert not out.exists()
        return rc, check
    return _outcome("scenario TOML", origin, go)


def run_population(data: dict, table: list[list[str]], folder: Path,
                   origin: str = "example") -> int:
    """Run a scenario over a population table; assert and count the outcome."""
    sc = folder / "case.toml"
    pop = folder / "pop.csv"
    out = folder / "out"
    out.mkdir()
    sc.write_text(to_toml(data), encoding="utf-8")
    pop.write_bytes("".join(",".join(r) + "\n" for r in table).encode("utf-8",
                                                                       "surrogateescape"))

    def go():
        rc = main(["simulate", str(sc), "--population", str(pop), "--out", str(out),
                   "--force", "--quiet"])
        def check(err: str) -> None:
            with pop.open(newline="", encoding="utf-8") as fh:
                rows = [r for r in csv.reader(fh) if r]
            if any(len(r) != len(rows[0]) for r in rows):
                raise Silent("a row with more or fewer fields than the header was accepted")
            _check_population(out, err, len(pd.read_csv(pop, index_col=False)))
        return rc, check
    return _outcome("population CSV", origin, go)


# --- the profiles -------------------------------------------------------------------------

FAST_N = 80
LONG_N = int(os.environ.get("BONETURNOVER_FUZZ_EXAMPLES", "2000"))
FAST = settings(max_examples=FAST_N, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _long(n: int):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def _fuzz(case: tuple[str, dict]) -> None:
    origin, data = case
    with tempfile.TemporaryDirectory() as folder:
        run_case(data, Path(folder), origin)


def _fuzz_population(case) -> None:
    origin, data, table = case
    with tempfile.TemporaryDirectory() as folder:
        run_population(data, table, Path(folder), origin)


# cases fuzzing found, replayed first by the fast profile
@FAST
@given(scenarios())
def test_fuzz_scenarios_fast(case):
    _fuzz(case)


@settings(FAST, max_examples=FAST_N // 4)
@given(populations())
def test_fuzz_populations_fast(case):
    _fuzz_population(case)


@pytest.mark.fuzz
@_long(LONG_N)
@given(scenarios())
def test_fuzz_scenarios_long(case):
    _fuzz(case)


@pytest.mark.fuzz
@_long(max(12, LONG_N // 4))
@given(populations())
def test_fuzz_populations_long(case):
    _fuzz_population(case)


@pytest.mark.fuzz
def test_fuzz_report():
    """Prints the counts of the long profile (run it after the long tests)."""
    counts = {f"{k} {o}": n for (k, o), n in sorted(STATS.items())}
    print(f"\nfuzz counts: {json.dumps(counts, indent=1)}")
    target = os.environ.get("BONETURNOVER_FUZZ_MESSAGES")
    if target:
        Path(target).write_text("".join(f"{n}\t{m}\n" for m, n in MESSAGES.most_common()),
                                "utf-8")


@pytest.fixture(autouse=True)
def _write_stats():
    yield
    target = os.environ.get("BONETURNOVER_FUZZ_STATS")
    if target and STATS:
        write_stats(target, STATS, OUTCOMES)


@pytest.mark.parametrize("data", [
    {"patient": {"age": 50}, "years": 0.01, "parameters": {"k_rank_off": 0}},
    {"patient": {"age": 50}, "years": 0.01, "parameters": {"v_ecf_l": -14}},
    {"patient": {"age": 50}, "years": 0.01, "treatment": [{"drug": "denosumab",
                                                             "dose": "60 mg", "route": []}]},
    {"patient": {"age": 50}, "years": 0.01, "parameters": {"v_ecf_l": 10**30}},
    {"patient": {"age": 50}, "years": 0.01, "name": Deep(1000)},
    {"patient": {"age": 50}, "years": 10, "output_every": "1 s"},
    {"patient": {"age": 50}, "years": 0.01, "magnesium": {"intake_mg_day": 0}},
    {"patient": {"age": 50}, "years": 0.01,
     "dose": [{"compartment": "denosumab_sc", "amount": "60 mg", "every": "1 min"}]},
], ids=["zero rate", "negative volume", "list route", "huge int", "deep", "1 s output",
        "no magnesium", "dose every minute"])
def test_known_fuzz_findings(data, tmp_path):
    assert run_case(data, tmp_path) in (0, 2)


BASE = {"patient": {"age": 50}, "years": 0.01}


@pytest.mark.parametrize("extra, expected", [
    ({"output_every": 2}, "output_every: 2 has no unit; expected a duration with its unit, "
                          "e.g. '2 d'"),
    ({"output_every": -1}, "output_every: -1 has no unit; expected a duration with its unit, "
                           "e.g. '6 months'"),
    ({"dose": [{"compartment": "denosumab_sc", "amount": "60 mg", "every": 1.76}]},
     "[[dose]] #1: every: 1.76 has no unit"),
    ({"dose": [{"compartment": "denosumab_sc", "amount": -(2**63)}]},
     "dose[0].amount = -9223372036854775808 is too large in size; expected an integer from "
     "-9223372036854775807 to 9223372036854775807"),
    ({"patient": {"age": "1e-400 h"}}, "patient.age: '1e-400 h' is not a number; expected an "
                                       "adult woman's age in years (18 to 100)"),
    ({"years": {"a": 1}}, "years: a table is not a number; expected a simulated duration"),
    ({"parameters": [1]}, "[parameters] = a list must be a table of name = value"),
    ({"magnesium": 5}, "[magnesium] = 5 must be a table"),
    ({"kidney": "ckd"}, "[kidney] = 'ckd' must be a table"),
    ({"dose": 5}, "dose = 5: dose entries must be written as [[dose]] tables"),
    ({"treatment": 5}, "treatment = 5: treatment entries must be written as"),
    ({"treatment": [5]}, "[[treatment]] #1: 5 is not a table; expected a table"),
    ({"regimen": {"a": [1, 2, 3]}}, "regimen = a table: expected a regimen name"),
    ({"treatment": [{"drug": {"x" * 30: {"y" * 30: "z" * 30}}, "dose": "1 mg"}]},
     "[[treatment]] #1: drug a table must be a drug name"),
    ({"treatment": [{"drug": "denosumab", "dose": "0 mg"}]},
     "dose '0 mg' must be a positive amount, e.g. '60 mg'"),
    ({"treatment": [{"drug": "denosumab", "dose": "60 mg", "every": "0 d"}]},
     "every '0 d' must be longer than zero, e.g. '1 week'"),
    ({"treatment": [{"drug": "denosumab", "dose": "60 mg", "route": ["x" * 50]}]},
     "route must be a text (a name such as 'oral'), got a list"),
    ({"treatment": [{"drug": "denosumab", "dose": "60 mg", "seed": "x" * 80}]},
     "seed 'xxxxxxxx"),
    ({"dose": [{"compartment": "denosumab_sc", "amount": "0 mg"}]},
     "dose amount 0.0 must be a positive number, e.g. '60 mg'"),
    ({"dose": [{"compartment": "denosumab_sc", "amount": "six mg"}]},
     "'six mg' does not start with a number; expected '<number> <unit>', e.g. '60 mg'"),
    ({"magnesium": {"intake_mg_day": 1.1125369292536007e-308}},
     "magnesium.intake_mg_day = 1.1125369292536007e-308 mg/day is above 0 but below 0.001 "
     "mg/day; expected 0 (no magnesium) or at least 0.001 mg/day"),
    ({"parameters": {"mg_intake_mg_day": 1e-300}},
     "[parameters].mg_intake_mg_day = 1e-300 mg/day is above 0 but below 0.001"),
    ({"regimen": {"\r": -(2**63)}}, "regimen.\\r = -9223372036854775808 is too large in "
                                     "size"),
    ({"patient": {"age": 50, "a\nb": 2**64}}, "patient.a\\nb = an integer of about 20 "
                                                "digits"),
], ids=["int output_every", "negative output_every", "dose field named once", "int64 min",
        "age text", "years table", "parameters list", "magnesium number", "kidney text",
        "dose number", "treatment number", "treatment entry number", "regimen table",
        "drug table", "zero dose", "zero interval", "route list", "long seed", "zero amount",
        "amount word", "tiny magnesium", "tiny magnesium parameter", "key with CR",
        "key with LF"])
def test_messages_name_field_value_expected(extra, expected, tmp_path):
    """Refusals fuzzing found vague (no value, no expected value, a field named twice, a
    value printed in full, "too large" for a negative number, a key's line break splitting
    the line): one line naming all three."""
    assert run_case({**BASE, **extra}, tmp_path) == 2
    line = LAST["lines"][-1]
    assert expected in line and len(line) < 600, line


def test_text_beyond_the_basic_plane_is_written_as_toml(tmp_path):
    """The fuzz's TOML writer once wrote U+2AAD9 as a JSON surrogate pair (invalid TOML)."""
    assert run_case({**BASE, "name": "\U0002aad9\x7f"}, tmp_path) == 0


@pytest.mark.parametrize("table, expected", [
    ([["v_ecf_l", "den_vc"], ["", "3"]], "column 'v_ecf_l' row 0 = '' is not a number"),
    ([["v_ecf_l"], ["nan"]], "column 'v_ecf_l' row 0 = 'nan' is not a number"),
    ([["v_ecf_l"]], "the table has no rows; expected a header of parameter names and one "
                    "row per subject"),
    ([["v_ecf_l"], ["1", "2", "3"]], "line 2: 3 field(s), the header has 1; expected one "
                                      "value per column (v_ecf_l)"),
    ([["v_ecf_l", "den_vc"], ["1", "2", "3"], ["4", "5"]], "line 2: 3 field(s), the header "
                                                           "has 2"),
    ([["v_ecf_l", "den_vc"], ["14", "3"], ["15"]], "line 3: 1 field(s), the header has 2"),
    ([["v_ecf_l"], ['"14']], "cannot be read as CSV"),
    ([["mg_intake_mg_day"], ["300"], ["1e-308"]],
     "column 'mg_intake_mg_day' row 1 = 1e-308 mg/day is above 0 but below 0.001"),
], ids=["empty cell", "nan text", "header only", "ragged", "long first row", "short row",
        "open quote", "tiny magnesium"])
def test_population_messages(table, expected, tmp_path):
    """A population cell is shown as written (an empty cell was shown as nan); a row with
    more fields than the header is refused (pandas took its first fields as an index and
    ran the subject with the values shifted to other columns); a magnesium intake of
    1e-308 mg/day overflowed the calcium/magnesium ratio (a RuntimeWarning on stderr)."""
    assert run_population(BASE, table, tmp_path) == 2
    line = LAST["lines"][-1]
    assert line.startswith("InputError: --population ") and expected in line, line


def test_division_by_zero_in_the_solve_is_a_numerical_failure(tmp_path):
    """A valid override (bp_act_imax = 0.8, within [0, 1]) with zoledronate drives the
    resorbing activity to 0, where the BMD terms' Jacobian is infinite: the compiled solve
    once raised a SystemError from a division by zero. It follows NumPy's arithmetic now,
    so the step fails as data: exit 3 naming the subject, the time and the override."""
    data = {"patient": {"age": 60, "menopause_age": 50}, "years": 0.05,
            "regimen": "zoledronate", "parameters": {"bp_act_imax": 0.8}}
    rc = run_case(data, tmp_path)
    assert rc in (0, 3)
    if rc == 3:
        line = LAST["lines"][0]
        assert line.startswith("SolverError: subject 0: ") and " at day " in line, line
        assert "likely cause: the parameter values of this subject (bp_act_imax = 0.8)" in line
    pop = tmp_path / "pop"
    pop.mkdir()
    rc = run_population({**data, "parameters": {}}, [["bp_act_imax"], ["1.0"], ["0.1"]], pop)
    assert rc in (0, 3)
    if rc == 3:
        assert "subject 0" in " ".join(LAST["lines"]), LAST["lines"]


# --- a run killed while writing leaves the previous file -----------------------------------

def test_kill_during_write_keeps_previous_file(tmp_path):
    sc = tmp_path / "big.toml"
    sc.write_text('years = 6\noutput_every = "30 min"\n[patient]\nage = 50\n', encoding="utf-8")
    out = tmp_path / "x.csv"
    previous = b"time_d,ctx_ng_l\n0,312\n"
    out.write_bytes(previous)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "boneturnover", "simulate", str(sc),
                             "--out", str(out), "--force"], env=env,
                            stdout=subprocess.DEVNULL, stderr=errors)
    killed = False
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        if temps and temps[0].stat().st_size > 1_000_000:  # mid-write
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)
    proc.wait(timeout=60)
    errors.seek(0)
    message = errors.read()[-500:]
    errors.close()
    assert killed, f"the run ended before it could be killed: {message!r}"
    assert out.read_bytes() == previous
    left = {p.name for p in tmp_path.iterdir()} - {"x.csv", "big.toml"}
    assert left and all(n.startswith(".x.csv.") and n.endswith(".tmp") for n in left), left
