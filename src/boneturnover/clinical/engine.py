"""The rule engine's entry point for one patient: :func:`interpret`.

Every rule of the selected rule set is evaluated for the patient and the hits become a
:class:`~boneturnover.clinical.report.Report`. One patient goes through the
single-patient engine: :mod:`boneturnover.clinical.single` (the patient's rows),
:mod:`boneturnover.clinical.single_kinds` (the kinds over them) and
:func:`evaluate_records` here, plain Python without pandas or numpy. A cohort goes
through the vectorised engine (:func:`boneturnover.clinical.frames.evaluate`, pandas)
with the same rules; both give the same findings for the same patient
(``tests/clinical``). Both are pure: no I/O, results depend only on the inputs (and on
``today``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..errors import DataError
from ..knowledge.drugs import DrugCatalog
from ..knowledge.markers import MarkerCatalog
from .catalog import CATALOG, DRUGS
from .kinds import CENSORED, HIT_COLUMNS
from .records import PatientRecord
from .report import Report, assemble_report
from .rules import RULES, SEVERITIES, Rule, Ruleset, get_ruleset
from .single import RecordContext, Row, na, normalise_records, ordered
from .single_kinds import RECORD_KINDS
from .values import to_day

__all__ = ["interpret", "resolve_today", "evaluate_records", "report_of_patient",
           "FINDING_COLUMNS"]

#: Columns of the findings frame :func:`evaluate` returns.
FINDING_COLUMNS = ("pid", "rule", "rule_id", "code", "severity", *HIT_COLUMNS[1:])
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def resolve_today(today: str | dt.date | None) -> int:
    """``today`` as days since 1970-01-01 (None: the current date)."""
    if today is None:
        today = dt.date.today()
    if isinstance(today, dt.date):
        return today.toordinal() - _EPOCH_ORDINAL
    return to_day(today)


def interpret(
    patient: PatientRecord,
    *,
    ruleset: str | Ruleset = "paper",
    today: str | dt.date | None = None,
    catalog: MarkerCatalog | None = None,
) -> Report:
    """Interpret one patient's markers and treatment history.

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
    return report_of_patient(patient, catalog=cat, drugs=DRUGS, ruleset=rs,
                             today=resolve_today(today), rules=RULES)


# ---------------------------------------------------------------------------------------
# the single-patient engine


_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_ORDER = ("pid", "_sev", "rule", "marker", "day", "drug", "start", "source")


def _tag(hit: Row, i: int, rule: Rule) -> Row:
    out = {k: hit[k] for k in HIT_COLUMNS if k in hit}
    out.update(rule=i, rule_id=rule.id, code=rule.code, severity=rule.severity)
    return out


def evaluate_records(ctx: RecordContext, rules: Sequence[Rule]) -> list[Row]:
    """Evaluate ``rules`` (those of ``ctx.ruleset``) for the patient; the findings rows in
    the order of :func:`boneturnover.clinical.frames.evaluate` (severity, rule, marker,
    date, drug, start, row)."""
    found: list[Row] = []
    undecided: list[Row] = []
    sinks = [(i, r) for i, r in enumerate(rules)
             if r.kind == "censored" and r.applies_to(ctx.ruleset.id)]
    for i, rule in enumerate(rules):
        if not rule.applies_to(ctx.ruleset.id):
            continue
        for hit in RECORD_KINDS[rule.kind](ctx, rule.params):
            if hit.get(CENSORED):
                undecided.append({**hit, "about": rule.code})
            else:
                found.append(_tag(hit, i, rule))
    if undecided and sinks:
        found += _caveats(undecided, sinks)
    for f in found:
        f["_sev"] = _SEV_RANK[f["severity"]]
    found = ordered(found, _ORDER)
    for f in found:
        del f["_sev"]
    return found


def _caveats(hits: list[Row], sinks: Sequence[tuple[int, Rule]]) -> list[Row]:
    """One caveat per censored result and ``censored`` rule (``frames._caveats``)."""
    def sink_of(code: str) -> int | None:
        for k, (_, r) in enumerate(sinks):
            if code in r.params.get("codes", ()):
                return k
        return next((k for k, (_, r) in enumerate(sinks) if "codes" not in r.params), None)

    by_sink: dict[int, list[Row]] = {}
    for h in hits:
        k = sink_of(h["about"])
        if k is not None:
            by_sink.setdefault(k, []).append(h)
    out = []
    cols = ("value", "day", "comparator", "drug", "change_pct_min", "change_pct_max")
    for k in sorted(by_sink):
        groups: dict[tuple, list[Row]] = {}
        for h in by_sink[k]:
            key = (h["pid"], "" if na(h.get("source")) else h["source"],
                   "" if na(h.get("marker")) else h["marker"])
            groups.setdefault(key, []).append(h)
        i, rule = sinks[k]
        for (pid, source, marker), g in groups.items():
            row: Row = {"pid": pid, "source": source or None, "marker": marker or None}
            for c in cols:
                if any(c in h for h in g):
                    row[c] = next((h[c] for h in g if not na(h.get(c))), None)
            row["about"] = ",".join(dict.fromkeys(h["about"] for h in g))
            out.append(_tag(row, i, rule))
    return out


def report_of_patient(patient: PatientRecord, *, catalog: MarkerCatalog, drugs: DrugCatalog,
                      ruleset: Ruleset, today: int, rules: Sequence[Rule]) -> Report:
    """Check, evaluate and report one patient (:func:`boneturnover.clinical.interpret`)."""
    records, errors = normalise_records(patient, catalog=catalog, drugs=drugs, today=today)
    if errors:
        more = f" ({len(errors) - 1} more problem(s) in this patient)" if len(errors) > 1 else ""
        raise DataError(f"patient {patient.patient_id}: {errors[0][3]}{more}")
    assert records is not None
    ctx = RecordContext(records, catalog, drugs, ruleset)
    rows = evaluate_records(ctx, rules)
    info = ctx.marker_info
    return assemble_report(
        rows, catalog=catalog, ruleset=ruleset, today=records.today, patient=records.patient,
        meas=ctx.meas, treat=records.treat,
        baselines=[j for j in ctx.course_btm if not na(j["baseline"])],
        lsc={mid: v["lsc_pct"] for mid, v in info.items()}, rules=rules,
        ignored=patient.ignored)
