"""Cohort interpretation: every patient at once, one status row per patient.

The vectorised engine (:func:`boneturnover.clinical.frames.evaluate`) runs over the
whole cohort's tables, with the same rules and results as for one patient; a patient
with invalid records (or a CSV row that could not be read) is reported with ``state``
``failed`` and the reason in the ``error`` column, and the others are still interpreted
(``state`` ``interpreted``). Notices (identical repeated results counted once) are in
``notes``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..knowledge.markers import MarkerCatalog
from .catalog import CATALOG, DRUGS
from .conditions import OSTEOPOROSIS_CLASSES, Context, join_by_group
from .engine import resolve_today
from .frames import evaluate
from .io import Cohort
from .rules import Ruleset, get_ruleset
from .tables import Tables, days_to_iso, normalise

__all__ = ["CohortResult", "interpret_cohort", "STATUS_COLUMNS"]

#: Columns of the per-patient status table (``--cohort DIR --out status.parquet``).
STATUS_COLUMNS = (
    "patient_id", "state", "error", "notes", "n_measurements", "n_findings", "latest_ctx_i_ng_l",
    "latest_ctx_i_date", "latest_p1np_ug_l", "latest_p1np_date", "turnover", "current_drug",
    "response", "retest_due_date", "retest_overdue", "alerts", "warnings", "codes",
)


@dataclass(frozen=True)
class CohortResult:
    """Findings of all valid patients, the status table, and the error table."""

    findings: pd.DataFrame
    status: pd.DataFrame
    errors: pd.DataFrame
    tables: Tables


def interpret_cohort(
    cohort: Cohort,
    *,
    ruleset: str | Ruleset = "paper",
    today: str | dt.date | None = None,
    catalog: MarkerCatalog | None = None,
) -> CohortResult:
    """Interpret every patient of ``cohort`` (pure; no I/O).

    Returns
    -------
    CohortResult
        ``findings``: one row per finding with ``patient_id``; ``status``: one row per
        patient (:data:`STATUS_COLUMNS`); ``errors``: every problem found in the records.
    """
    rs = get_ruleset(ruleset)
    cat = (catalog or CATALOG).with_overrides(cohort.assay)
    tables, errors = normalise(
        cohort.patients, cohort.measurements, cohort.treatments, catalog=cat, drugs=DRUGS,
        today=resolve_today(today),
        labels={"patients": "patients.csv", "measurements": "measurements.csv",
                "treatments": "treatments.csv"},
        extra_errors=cohort.row_errors,
    )
    ctx = Context(tables, cat, DRUGS, rs)
    findings = evaluate(ctx)
    findings.insert(0, "patient_id", tables.patients["patient_id"].to_numpy()[
        findings["pid"].to_numpy(dtype=np.int64)] if len(findings) else [])
    status = _status(cohort, tables, ctx, findings, errors)
    return CohortResult(findings, status, errors, tables)


def _status(cohort: Cohort, tables: Tables, ctx: Context, f: pd.DataFrame,
            errors: pd.DataFrame) -> pd.DataFrame:
    pats = tables.patients
    out = pd.DataFrame({"pid": pats["pid"], "patient_id": pats["patient_id"]})
    n = tables.meas.groupby("pid").size()
    out["n_measurements"] = out["pid"].map(n).fillna(0).astype(np.int64)
    out["n_findings"] = out["pid"].map(f.groupby("pid").size()).fillna(0).astype(np.int64)
    lat = ctx.latest
    for col, markers in (("ctx_i_ng_l", ["CTX_I"]), ("p1np_ug_l", ["P1NP_TOTAL", "P1NP_INTACT"])):
        x = lat[lat["marker"].isin(markers)].sort_values(["pid", "day"]).drop_duplicates(
            "pid", keep="last").set_index("pid")
        out[f"latest_{col}"] = out["pid"].map(x["value"]).astype(float)
        name = "latest_ctx_i_date" if col.startswith("ctx") else "latest_p1np_date"
        out[name] = days_to_iso(out["pid"].map(x["day"]).astype(float))
    turn = f[f["code"].isin(["TURNOVER_HIGH", "TURNOVER_LOW", "TURNOVER_NORMAL"])
             & f["marker"].isin(["CTX_I", "P1NP_TOTAL", "P1NP_INTACT"])]
    rank = turn["code"].map({"TURNOVER_HIGH": 0, "TURNOVER_LOW": 1, "TURNOVER_NORMAL": 2})
    best = turn.assign(r=rank).sort_values(["pid", "r"]).drop_duplicates("pid")
    out["turnover"] = out["pid"].map(best.set_index("pid")["code"].str.removeprefix(
        "TURNOVER_").str.lower())
    c = ctx.courses
    cur = c[c["stop"].isna() & c["klass"].isin(OSTEOPOROSIS_CLASSES)].sort_values(["pid", "start"])
    out["current_drug"] = out["pid"].map(cur.drop_duplicates("pid", keep="last")
                                         .set_index("pid")["drug"])
    resp = f[f["code"].isin(["RESPONSE_INADEQUATE", "TESTED_TOO_EARLY", "RESPONSE_ADEQUATE",
                             "ANABOLIC_NO_RESPONSE", "ANABOLIC_RESPONSE"])]
    rr = resp["code"].map({"RESPONSE_INADEQUATE": 0, "ANABOLIC_NO_RESPONSE": 0,
                           "TESTED_TOO_EARLY": 1, "RESPONSE_ADEQUATE": 2, "ANABOLIC_RESPONSE": 2})
    rbest = resp.assign(r=rr).sort_values(["pid", "r"]).drop_duplicates("pid").set_index("pid")
    out["response"] = out["pid"].map(rbest["r"].map({0: "inadequate", 1: "too_early",
                                                     2: "adequate"}))
    rt = f[f["code"] == "RETEST_DUE"].sort_values(["pid", "due"]).drop_duplicates("pid")
    rt = rt.set_index("pid")
    out["retest_due_date"] = days_to_iso(out["pid"].map(rt["due"]).astype(float))
    out["retest_overdue"] = out["pid"].isin(rt.index[(rt["severity"] == "warning").to_numpy()])
    for col, sev in (("alerts", "alert"), ("warnings", "warning")):
        s = f[f["severity"] == sev].drop_duplicates(["pid", "code"])
        out[col] = out["pid"].map(join_by_group(s["pid"], s["code"], ";")).astype(object) \
            .fillna("")
    u = f.drop_duplicates(["pid", "code"])
    allc = join_by_group(u["pid"], u["code"], ";")
    out["codes"] = out["pid"].map(allc).astype(object).fillna("")
    out["error"] = None
    out["state"] = "interpreted"
    notes = tables.notices
    if len(notes):
        cnt = notes.groupby("patient_id").size()
        out["notes"] = out["patient_id"].map(
            lambda p: f"{cnt[p]} repeated result(s) counted once" if p in cnt.index else "")
    else:
        out["notes"] = ""
    out = out.drop(columns="pid")
    if len(errors):
        first = errors.drop_duplicates("patient_id")
        count = errors.groupby("patient_id").size()
        bad = pd.DataFrame({
            "patient_id": first["patient_id"].to_numpy(),
            "error": [m + (f" (+{count[p] - 1} more)" if count[p] > 1 else "")
                      for p, m in zip(first["patient_id"], first["message"], strict=True)],
        })
        bad["n_measurements"] = bad["patient_id"].map(
            cohort.measurements["patient_id"].astype(str).value_counts()).fillna(0).astype(np.int64)
        bad["n_findings"] = 0
        bad["retest_overdue"] = False
        bad["state"] = "failed"
        for col in ("alerts", "warnings", "codes", "notes"):
            bad[col] = ""
        out = pd.concat([out, bad], ignore_index=True)
    return out.reindex(columns=list(STATUS_COLUMNS))
