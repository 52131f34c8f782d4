"""Condition kinds for safety and context: label limits, contraindications, transitions.

These kinds register into :data:`~boneturnover.clinical.conditions.KINDS` like the
others (pure functions of a :class:`~boneturnover.clinical.conditions.Context` and a
rule's ``params``, vectorised over patients). The numbers they compare with live in the
rules (``data/rules.toml``, section "safety and context", each with its citation) or in
the drug catalogue (``knowledge/data/drugs.toml``: labelled limits, dosing intervals,
grace periods), never here.

* ``latest_all_context``: :func:`~boneturnover.clinical.conditions.latest_all` limited
  by treatment context (glucocorticoid exposure at the date of the result) or by the
  absence of a result that answers the question already (PTH).
* ``window_missed``: a course whose results all lie outside the window of a rule.
* ``label_limit``: lifetime use beyond (or at) the catalogue's labelled limit.
* ``course_duration``: open courses at or beyond a duration (drug-holiday prompt).
* ``followon_course``: a stopped course followed by a course of another class.
* ``lab_on_course``: an open course with the latest result of a laboratory marker
  beyond a limit (eGFR, calcium).
* ``next_dose``: the next injection date of an open course that is not yet overdue.
* ``pth_pattern``: the latest PTH read with calcium, 25-OH vitamin D and eGFR.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .conditions import (
    CENSORED,
    KINDS,
    Context,
    _empty,
    _g,
    _kind,
    interval_compare,
    value_bounds,
)
from .kinds import PTH_PATTERNS, PTH_REFS
from .kinds import duration_days as _days

__all__ = ["SAFETY_KINDS", "PTH_PATTERNS"]


def _open_courses(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Courses of ``drugs`` / ``classes`` (optionally ``routes``) still open today."""
    c = _select(ctx.courses, params)
    return c[c["stop"].isna() | (c["stop"] >= ctx.today)]


def _select(c: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    if "drugs" in params:
        c = c[c["drug"].isin(params["drugs"])]
    if "classes" in params:
        c = c[c["klass"].isin(params["classes"])]
    if "routes" in params:
        c = c[c["route"].isin(params["routes"])]
    return c


def _keep(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Only the columns a kind reports (course tables carry more than a finding says)."""
    return frame[[c for c in ("pid", *columns) if c in frame.columns]].reset_index(drop=True)


_COURSE = ("drug", "source", "start")
_RESULT = ("marker", "value", "day", "source", "comparator", CENSORED)


# -- treatment context ------------------------------------------------------------------


@_kind("latest_all_context")
def latest_all_context(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """``latest_all`` limited by context.

    ``glucocorticoids``: true keeps patients exposed at the date of the result (patient
    fact, or a glucocorticoid course covering that date; ``drug`` names the course),
    false keeps the others. ``unless_measured = {markers, within_days}``: drops patients
    with a result of one of ``markers`` within ``within_days`` of the result (the
    question the rule would ask is answered by a rule that reads that result).
    """
    inner = {k: v for k, v in params.items() if k not in ("glucocorticoids", "unless_measured")}
    hit = KINDS["latest_all"].fn(ctx, inner)
    if hit.empty:
        return hit
    if "unless_measured" in params:
        u = params["unless_measured"]
        m = ctx.meas[ctx.meas["marker"].isin(u["markers"])][["pid", "day"]]
        j = hit[["pid", "day"]].merge(m.rename(columns={"day": "other"}), on="pid")
        near = j[(j["other"] - j["day"]).abs() <= u["within_days"]]["pid"].unique()
        hit = hit[~hit["pid"].isin(near)]
    if "glucocorticoids" in params:
        t = ctx.tables.treat
        gc = t[t["klass"] == "glucocorticoid"][["pid", "drug", "start", "stop"]]
        j = hit[["pid", "day"]].merge(gc, on="pid")
        cover = j[(j["start"] <= j["day"]) & (j["stop"].isna() | (j["stop"] >= j["day"]))]
        gc_drug = cover.drop_duplicates("pid").set_index("pid")["drug"]
        pats = ctx.tables.patients.set_index("pid")["glucocorticoids"]
        flagged = hit["pid"].map(pats).fillna(0).astype(bool)
        exposed = flagged | hit["pid"].isin(gc_drug.index)
        if params["glucocorticoids"]:
            # a recorded exposure without a course is named by the catalogue's context drug
            hit = hit[exposed]
            named = hit["pid"].map(gc_drug).astype(object)
            hit = hit.assign(drug=named.where(named.notna(), "glucocorticoid").to_numpy())
        else:
            hit = hit[~exposed]
    return _keep(hit, (*_RESULT, "evidence", "drug"))


# -- results outside the window of a rule ----------------------------------------------


@_kind("window_missed")
def window_missed(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Courses with on-treatment results of ``markers`` but none inside ``window_days``.

    The latest such result is reported when it lies ``before`` the window (``due`` =
    start + low: when the informative result can be taken) or ``after`` it.
    """
    lo, hi = params["window_days"]
    j = ctx.course_btm
    j = j[(j["phase"] == "on") & j["klass"].isin(params["classes"])
          & j["marker"].isin(params["markers"])]
    inside = (j["days_on"] >= lo) & (j["days_on"] <= hi)
    answered = j[inside][["cid", "marker"]].drop_duplicates()
    j = j.merge(answered.assign(_in=True), on=["cid", "marker"], how="left")
    j = j[j["_in"].isna()].drop(columns="_in")
    j = j.drop_duplicates(["cid", "marker"], keep="last")
    if params["side"] == "before":
        j = j[j["days_on"] < lo].assign(due=lambda d: d["start"] + lo)
    else:
        j = j[j["days_on"] > hi]
    return _keep(j, (*_RESULT, "drug", "start", "baseline", "change_abs", "days_on", "due"))


# -- labelled limits and durations -------------------------------------------------------


@_kind("label_limit")
def label_limit(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Use of a drug beyond (``op = ">"``) or at (``"=="``, open courses only) the
    labelled limit of the drug catalogue, summed over the patient's courses of it.

    ``course``: days of use (start to stop, or to today while open); ``threshold`` is
    the limit in days. ``doses``: doses counted from the start at the dosing interval up
    to the last dose or stop (rounded: doses fall on calendar dates), else up to today
    (whole intervals); ``value`` is that count, ``threshold`` the labelled number.
    """
    c = _select(ctx.courses, params).copy()
    if c.empty:
        return _empty()
    open_ = c["stop"].isna() | (c["stop"] >= ctx.today)
    if params["limit"] == "course":
        end = c["stop"].fillna(float(ctx.today)).clip(upper=float(ctx.today))
        c["amount"] = (end - c["start"]).astype(float)
        lim = {d: ctx.drugs[d].limit.course_h / 24.0 for d in params["drugs"]}
    else:
        # recorded doses (last dose, or stop = last dose) fall on calendar dates: round;
        # an open course without them is counted up to today: whole intervals only
        given = c["last_dose"].fillna(c["stop"])
        n = (given.fillna(float(ctx.today)) - c["start"]) / c["interval_days"]
        c["amount"] = np.where(given.notna(), np.round(n), np.floor(n + 1e-9)) + 1.0
        lim = {d: float(ctx.drugs[d].limit.doses) for d in params["drugs"]}
    c["open"] = open_
    g = c.sort_values("start", kind="stable").groupby(["pid", "drug"], sort=False)
    out = g.agg(amount=("amount", "sum"), start=("start", "min"), open=("open", "any"),
                interval_days=("interval_days", "last"), last_dose=("last_dose", "max"),
                source=("source", "last")).reset_index()
    out["threshold"] = out["drug"].map(lim).astype(float)
    if params["op"] == ">":
        out = out[out["amount"] > out["threshold"]]
    else:
        out = out[(out["amount"] == out["threshold"]) & out["open"]]
    out = out.assign(days_on=out["amount"] if params["limit"] == "course" else np.nan,
                     value=out["amount"] if params["limit"] == "doses" else np.nan)
    return _keep(out, (*_COURSE, "days_on", "value", "threshold", "interval_days",
                       "last_dose"))


@_kind("course_duration")
def course_duration(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Open courses that have lasted at least ``min_duration`` (a UCUM duration such as
    ``"5 a"``) by today; ``threshold`` is that duration in days."""
    c = _open_courses(ctx, params)
    limit = _days(params["min_duration"], "min_duration")
    c = c.assign(days_on=(ctx.today - c["start"]).astype(float), threshold=limit)
    return _keep(c[c["days_on"] >= limit], (*_COURSE, "days_on", "threshold"))


# -- transitions -----------------------------------------------------------------------


@_kind("followon_course")
def followon_course(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Stopped courses of ``classes`` followed by a course of ``followon_classes``.

    ``stop`` is the last dose of the stopped course, ``start`` the start of the first
    follow-on course after it, ``days_off`` the gap, ``due`` = start + ``check_days``
    (the first marker check; default 0). ``late = true``: only where the gap exceeds the stopped
    drug's interval plus its grace period (drug catalogue).
    """
    c = ctx.courses
    stopped = c[c["klass"].isin(params["classes"]) & c["stop"].notna()].copy()
    stopped["last"] = stopped["last_dose"].fillna(stopped["stop"])
    later = c[c["klass"].isin(params["followon_classes"])][["pid", "drug", "start", "source"]]
    j = stopped[["cid", "pid", "drug", "last", "interval_days"]].rename(
        columns={"drug": "prior_drug"}).merge(later, on="pid")
    j = j[j["start"] >= j["last"]].sort_values(["cid", "start"], kind="stable")
    j = j.drop_duplicates("cid", keep="first")
    grace = j["prior_drug"].map({d: ctx.drugs[d].overdue_grace_days or 0.0 for d in ctx.drugs})
    j = j.assign(stop=j["last"], days_off=(j["start"] - j["last"]).astype(float),
                 due=j["start"] + float(params.get("check_days", 0)),
                 grace_days=grace.astype(float))
    if params.get("late", False):
        j = j[j["days_off"] > j["interval_days"] + j["grace_days"]]
    return _keep(j, (*_COURSE, "prior_drug", "stop", "days_off", "due", "interval_days",
                     "grace_days"))


# -- laboratory limits on an open course -------------------------------------------------


@_kind("lab_on_course")
def lab_on_course(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Open courses while the latest result of ``marker`` is ``op`` ``ref``.

    ``due`` is the next dose (the last dose plus the interval; without a last dose, the
    next date of the schedule from the start), ``egfr`` the value when the marker is
    eGFR. One hit per course; ``source`` names the result.
    """
    c = _open_courses(ctx, params)
    lat = ctx.latest[ctx.latest["marker"] == params["marker"]]
    r = ctx.ref_series(lat["marker"], params["ref"])
    yes, no = interval_compare(*value_bounds(lat["value"], lat["comparator"]), params["op"], r)
    undecided = ~yes & ~no & r.notna().to_numpy()
    lat = lat[yes | undecided].assign(ref=r[yes | undecided], **{CENSORED: undecided[
        yes | undecided]})
    cols = ["pid", "marker", "value", "day", "source", "ref", "comparator", CENSORED]
    j = c[["pid", "drug", "start", "last_dose", "interval_days"]].merge(lat[cols], on="pid")
    # next dose: last dose + interval; without a recorded last dose, the next date of the
    # schedule from the start on or after today
    steps = np.ceil(((ctx.today - j["start"]) / j["interval_days"]).clip(lower=0))
    due = j["last_dose"] + j["interval_days"]
    due = due.where(j["last_dose"].notna(), j["start"] + steps * j["interval_days"])
    j = j.assign(due=due, egfr=np.where(j["marker"] == "EGFR", j["value"], np.nan))
    return _keep(j, (*_RESULT, "drug", "start", "ref", "egfr", "due", "last_dose"))


@_kind("next_dose")
def next_dose(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """The next dose of each open course (last dose, or start, plus the interval) while
    it is not yet overdue (today within the due date plus the drug's grace period)."""
    c = _open_courses(ctx, params)
    grace = c["drug"].map({d: ctx.drugs[d].overdue_grace_days or 0.0 for d in ctx.drugs})
    last = c["last_dose"].fillna(c["start"])
    due = last + c["interval_days"]
    out = c.assign(last_dose=last, due=due, grace_days=grace.astype(float))
    out = out[ctx.today <= out["due"] + out["grace_days"]]
    return _keep(out, (*_COURSE, "last_dose", "due", "interval_days", "grace_days"))


# -- PTH with calcium, vitamin D and eGFR ------------------------------------------------


def _representative(values: pd.Series, comparators: pd.Series, limits: list[float],
                    ) -> pd.Series:
    """Values to classify against ``limits``: an exact result as it is; a censored one by
    a value of its interval when the whole interval lies on one side of every limit, else
    NaN (not known, as if not measured)."""
    lo, hi, lo_open, hi_open = value_bounds(values, comparators)
    one_side = np.ones(len(values), dtype=bool)
    for lim in limits:
        inside = ((lo < lim) & (hi > lim)) | ((lo == lim) & ~lo_open & (hi > lim)) | (
            (hi == lim) & ~hi_open & (lo < lim))
        one_side &= ~inside
    censored = (comparators != "").to_numpy()
    stand_in = np.where(np.isinf(hi), lo * 2.0 + 1.0, (lo + hi) / 2.0)
    v = values.to_numpy(dtype=float)
    out = np.where(censored, np.where(one_side, stand_in, np.nan), v)
    return pd.Series(out, index=values.index)


_PTH_REFS = PTH_REFS


@_kind("pth_pattern")
def pth_pattern(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """The latest PTH of each patient read with the latest calcium, 25-OH vitamin D and
    eGFR taken within ``max_days_apart`` days of it (seed:B19; Bilezikian 2022).

    high PTH = above the upper reference limit; calcium high / low against its interval;
    vitamin D low below its lower limit; eGFR low below the catalogue's CKD cut-off.

    primary: high PTH with high calcium. primary_inappropriate: high calcium with PTH
    inside its interval (not suppressed). secondary_vitamin_d / secondary_renal: high
    PTH, calcium not high, with low vitamin D / low eGFR. normocalcaemic: high PTH,
    normal calcium, vitamin D and eGFR. incomplete: high PTH, calcium not high, no
    secondary cause found and calcium, vitamin D or eGFR missing (``recommended`` lists
    them). normal: PTH and calcium inside their intervals.
    """
    lat = ctx.latest
    pth = lat[lat["marker"] == "PTH"][["pid", "value", "day", "source"]]
    if pth.empty:
        return _empty()
    out = pth.assign(marker="PTH").set_index("pid")
    cat = ctx.catalog
    vals, texts = {}, []
    for mid in _PTH_REFS:
        x = lat[lat["marker"] == mid].set_index("pid")
        x = x.reindex(out.index)
        near = (x["day"] - out["day"]).abs() <= params["max_days_apart"]
        comp = x["comparator"].fillna("")
        shown_v = x["value"].where(near)
        vals[mid] = _representative(shown_v, comp, [
            float(cat[mid].reference_value(r)) for r in _PTH_REFS[mid] if r is not None])
        sym, unit = cat[mid].symbol, cat[mid].display_unit
        texts.append(pd.Series([np.nan if pd.isna(v) else f"{sym} {c}{_g(v)} {unit}"
                                for v, c in zip(shown_v, comp, strict=True)],
                               index=shown_v.index, dtype=object))

    def ref(mid: str, i: int) -> float:
        v = cat[mid].reference_value(_PTH_REFS[mid][i])
        return np.nan if v is None else float(v)

    p, ca, vd, eg = vals["PTH"], vals["CA"], vals["VITD25"], vals["EGFR"]
    pth_high = p > ref("PTH", 1)
    pth_in = (p >= ref("PTH", 0)) & (p <= ref("PTH", 1))
    ca_high = ca > ref("CA", 1)
    ca_known_not_high = ca.notna() & ~ca_high
    ca_normal = (ca >= ref("CA", 0)) & (ca <= ref("CA", 1))
    vd_low, vd_ok = vd < ref("VITD25", 0), vd >= ref("VITD25", 0)
    eg_low, eg_ok = eg < ref("EGFR", 0), eg >= ref("EGFR", 0)
    secondary = vd_low | eg_low
    pattern = params["pattern"]
    if pattern == "primary":
        mask = pth_high & ca_high
    elif pattern == "primary_inappropriate":
        mask = pth_in & ca_high
    elif pattern == "secondary_vitamin_d":
        mask = pth_high & ca_known_not_high & vd_low
    elif pattern == "secondary_renal":
        mask = pth_high & ca_known_not_high & eg_low
    elif pattern == "normocalcaemic":
        mask = pth_high & ca_normal & vd_ok & eg_ok
    elif pattern == "incomplete":
        mask = pth_high & ~ca_high & ~secondary & (ca.isna() | vd.isna() | eg.isna())
    else:
        mask = pth_in & ca_normal
    out = out.assign(egfr=eg)
    if pattern == "incomplete":
        missing = pd.DataFrame({m: vals[m].isna() for m in ("CA", "VITD25", "EGFR")})
        out["recommended"] = [",".join(m for m in missing.columns if row[m])
                              for _, row in missing.iterrows()]
    frame = pd.concat(texts, axis=1)
    out["evidence"] = ["; ".join(t for t in row if isinstance(t, str))
                       for row in frame.itertuples(index=False)]
    out = out[mask.fillna(False).astype(bool)].reset_index()
    return _keep(out, (*_RESULT, "evidence", "recommended", "egfr"))


#: Names of the kinds this module registers.
SAFETY_KINDS = ("latest_all_context", "window_missed", "label_limit", "course_duration",
                "followon_course", "lab_on_course", "next_dose", "pth_pattern")
