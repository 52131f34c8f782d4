"""The vectorised rule engine: every rule of a rule set over the tables of many patients.

:func:`evaluate` calls, for each rule, the vectorised implementation of its condition
kind (:data:`~boneturnover.clinical.conditions.KINDS`, pandas) and tags the hits with the
rule. The cohort path (:mod:`boneturnover.clinical.cohort`) runs it on all patients at
once. :func:`interpret_frames` runs it for one patient; it gives the same report as
:func:`boneturnover.clinical.interpret`, which uses the single-patient engine
(:mod:`boneturnover.clinical.single`), and ``tests/clinical`` compares the two. Pure: no
I/O, results depend only on the inputs (and on ``today``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..knowledge.markers import MarkerCatalog
from . import safety as _safety  # noqa: F401  registers the safety condition kinds
from .catalog import CATALOG, DRUGS
from .conditions import CENSORED, HIT_COLUMNS, KINDS, Context
from .engine import FINDING_COLUMNS, resolve_today
from .records import PatientRecord
from .report import Report, build_report
from .rules import RULES, SEVERITIES, Rule, Ruleset, get_ruleset
from .tables import Tables, normalise

__all__ = ["evaluate", "interpret_frames", "report_for", "FINDING_COLUMNS"]

_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def evaluate(ctx: Context, rules: Sequence[Rule] = RULES) -> pd.DataFrame:
    """Evaluate ``rules`` (those that apply to ``ctx.ruleset``) over all patients.

    Returns
    -------
    DataFrame
        One row per finding with :data:`FINDING_COLUMNS`, sorted by patient, severity
        (alert first), rule order, marker and date: independent of the input row order.
    """
    frames = []
    undecided = []
    sinks = [(i, r) for i, r in enumerate(rules)
             if r.kind == "censored" and r.applies_to(ctx.ruleset.id)]
    for i, rule in enumerate(rules):
        if not rule.applies_to(ctx.ruleset.id):
            continue
        hits = KINDS[rule.kind].fn(ctx, rule.params)
        if hits.empty:
            continue
        if CENSORED in hits:
            flagged = hits[CENSORED].fillna(False).astype(bool)
            if flagged.any():
                undecided.append(hits[flagged].assign(about=rule.code))
            hits = hits[~flagged]
            if hits.empty:
                continue
        frames.append(_tag(hits, i, rule))
    if undecided and sinks:
        frames += _caveats(pd.concat(undecided, ignore_index=True), sinks)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_COLUMNS})
    f = pd.concat(frames, ignore_index=True)
    f["pid"] = f["pid"].astype(np.int64)
    f["_sev"] = f["severity"].map(_SEV_RANK)
    f = f.sort_values(["pid", "_sev", "rule", "marker", "day", "drug", "start", "source"],
                      kind="stable", na_position="first")
    return f.drop(columns="_sev").reset_index(drop=True)


def _tag(hits: pd.DataFrame, i: int, rule: Rule) -> pd.DataFrame:
    h = hits.reindex(columns=list(HIT_COLUMNS))
    h.insert(1, "rule", i)
    h.insert(2, "rule_id", rule.id)
    h.insert(3, "code", rule.code)
    h.insert(4, "severity", rule.severity)
    return h


def _caveats(hits: pd.DataFrame, sinks: Sequence[tuple[int, Rule]]) -> list[pd.DataFrame]:
    """Hits a censored result left undecided -> one caveat per result and ``censored`` rule
    (the first whose ``codes`` list the code, else the first without ``codes``), naming
    every code it left undecided (``about``)."""
    def sink_of(code: str) -> int | None:
        for k, (_, r) in enumerate(sinks):
            if code in r.params.get("codes", ()):
                return k
        return next((k for k, (_, r) in enumerate(sinks) if "codes" not in r.params), None)

    hits = hits.assign(sink_=hits["about"].map(sink_of))
    hits = hits[hits["sink_"].notna()]
    out = []
    keys = ["pid", "source", "marker"]
    for k, g in hits.groupby("sink_", sort=True):
        g = g.assign(source=g["source"].fillna(""), marker=g["marker"].fillna(""))
        about = g.groupby(keys, sort=False)["about"].agg(lambda c: ",".join(dict.fromkeys(c)))
        first = g.groupby(keys, sort=False).first().reset_index()
        cols = ["pid", "source", "marker", "value", "day", "comparator", "drug",
                "change_pct_min", "change_pct_max"]
        first = first[[c for c in cols if c in first]]
        first["about"] = [about[tuple(r)] for r in first[keys].itertuples(index=False)]
        first["source"] = first["source"].replace("", None)
        first["marker"] = first["marker"].replace("", None)
        i, rule = sinks[int(k)]
        out.append(_tag(first, i, rule))
    return out


def interpret_frames(
    patient: PatientRecord,
    *,
    ruleset: str | Ruleset = "paper",
    today: str | dt.date | None = None,
    catalog: MarkerCatalog | None = None,
) -> Report:
    """:func:`boneturnover.clinical.interpret` through the vectorised engine (pandas).

    Parameters
    ----------
    patient : PatientRecord
        Facts, measurements (values in their UCUM units) and treatment courses.
    ruleset : {"paper", "iof-ects-2017"} or Ruleset
        Which published guidance sets targets, LSCs and timing (default: the seed paper).
    today : str, date or None
        Evaluation date ``YYYY-MM-DD`` (None: the current date). Later dates are errors.
    catalog : MarkerCatalog, optional
        Marker catalogue; the patient's ``assay`` overrides are applied on top.

    Returns
    -------
    Report
        Findings (codes, severity, numbers, bilingual messages, sources), timeline and
        marker series; always includes ``NOT_DIAGNOSTIC`` (seed:B18).

    Raises
    ------
    DataError
        If a record is invalid: the message names the row, field, value and what was
        expected (further problems are counted).
    InputError
        If the rule set or ``today`` is invalid.
    """
    rs = get_ruleset(ruleset)
    cat = (catalog or CATALOG).with_overrides(patient.assay)
    tables, errors = normalise(*patient.raw_frames(), catalog=cat, drugs=DRUGS,
                               today=resolve_today(today), labels={"patients": "[patient]"})
    if len(errors):
        more = f" ({len(errors) - 1} more problem(s) in this patient)" if len(errors) > 1 else ""
        raise DataError(f"patient {patient.patient_id}: {errors['message'].iloc[0]}{more}")
    return report_for(tables, cat, rs, 0, ignored=patient.ignored)


def report_for(tables: Tables, catalog: MarkerCatalog, ruleset: Ruleset, pid: int,
               ignored: Sequence[Mapping[str, str]] = ()) -> Report:
    """Evaluate ``tables`` and build the report of patient ``pid`` (``ignored``: what the
    loader read but did not use, listed in the report's input summary)."""
    ctx = Context(tables, catalog, DRUGS, ruleset)
    frame = evaluate(ctx)
    return build_report(ctx, frame[frame["pid"] == pid], pid, RULES, ignored)
