"""Condition kinds: the small registry of pure functions the rule engine evaluates.

A condition kind takes a :class:`Context` (normalised, validated tables for one or
many patients, the catalog and the selected rule set) and a rule's ``params`` and
returns a :class:`pandas.DataFrame` of *hits*: one row per finding, with ``pid`` and
whichever :data:`HIT_COLUMNS` the kind fills. Kinds are vectorised over patients, so
one patient and a cohort of 100,000 go through the same code (``tests/clinical``
checks that the single-patient and cohort paths agree).

Dates are integer days since 1970-01-01 (``day``); values are in the marker's
canonical unit (:mod:`boneturnover.clinical.catalog`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..knowledge.drugs import DrugCatalog
from ..knowledge.markers import KnowledgeBaseError, MarkerCatalog
from .catalog import BONE_TURNOVER_MARKERS
from .kinds import ANTIRESORPTIVE_CLASSES as _ANTI
from .kinds import CENSORED, COMMON_FIELDS, HIT_COLUMNS, NUMBER_COLUMNS, SPECS, TEXT_COLUMNS
from .kinds import OSTEOPOROSIS_CLASSES as _OSTEO
from .kinds import OUTCOMES as _OUTCOMES
from .tables import Tables

__all__ = ["Context", "Kind", "KINDS", "HIT_COLUMNS", "COMMON_FIELDS", "NUMBER_COLUMNS",
           "TEXT_COLUMNS", "CENSORED"]

ANTIRESORPTIVE_CLASSES, OSTEOPOROSIS_CLASSES = _ANTI, _OSTEO


class Context:
    """Everything a condition kind may read; derived tables are computed once, lazily.

    Parameters
    ----------
    tables : Tables
        Validated, normalised patients, measurements and treatments.
    catalog : MarkerCatalog
        Marker catalog (with any laboratory overrides).
    drugs : DrugCatalog
    ruleset : Ruleset
        The selected rule set (targets, LSCs, windows).
    """

    def __init__(self, tables: Tables, catalog: MarkerCatalog, drugs: DrugCatalog,
                 ruleset: Any):
        self.tables = tables
        self.catalog = catalog
        self.drugs = drugs
        self.ruleset = ruleset
        self.today = tables.today

    # -- marker attributes -------------------------------------------------------------
    @cached_property
    def marker_info(self) -> pd.DataFrame:
        rows = []
        for mid, m in self.catalog.items():
            rs_lsc = self.ruleset.lsc.get(mid)
            lsc = m.lsc_pct if (rs_lsc is None or m.overridden & {"lsc", "cv"}) else rs_lsc.pct
            tgt = self.ruleset.targets.get(mid)
            rows.append({
                "marker": mid, "process": m.process,
                "ri_low": np.nan if m.ri is None or m.ri.low is None else m.ri.low,
                "ri_high": np.nan if m.ri is None or m.ri.high is None else m.ri.high,
                "lsc_pct": lsc, "target": np.nan if tgt is None else tgt.value,
                "requires_fasting": m.requires_fasting, "renal_clearance": m.renal_clearance,
                "morning_sample": m.morning_sample,
            })
        return pd.DataFrame(rows).set_index("marker")

    def ref_series(self, markers: pd.Series, ref: Any) -> pd.Series:
        """Reference values (canonical unit) for each marker in ``markers``."""
        vals = {mid: self.catalog[mid].reference_value(ref) for mid in pd.unique(markers)}
        return markers.map({k: (np.nan if v is None else v) for k, v in vals.items()}).astype(float)

    # -- measurements ------------------------------------------------------------------
    @cached_property
    def meas(self) -> pd.DataFrame:
        """Measurements sorted by (pid, marker, day, source)."""
        m = self.tables.meas
        m = m.sort_values(["pid", "marker", "day", "source"], kind="stable")
        return m.reset_index(drop=True)

    @cached_property
    def latest(self) -> pd.DataFrame:
        """The latest measurement of each (pid, marker)."""
        return self.meas.drop_duplicates(["pid", "marker"], keep="last").reset_index(drop=True)

    @cached_property
    def btm(self) -> pd.DataFrame:
        m = self.meas
        return m[m["marker"].isin(BONE_TURNOVER_MARKERS)]

    # -- treatments --------------------------------------------------------------------
    @cached_property
    def courses(self) -> pd.DataFrame:
        """Treatment courses with class, window and retest plan under the rule set."""
        t = self.tables.treat.copy()
        t["cid"] = np.arange(len(t))
        win_r, win_f, plans = {}, {}, {}
        for (drug, route) in set(zip(t["drug"], t["route"], strict=True)):
            w = self.ruleset.window_for(self.drugs[drug], route)
            win_r[(drug, route)] = np.nan if w is None else w.resorption_days
            win_f[(drug, route)] = np.nan if w is None else w.formation_days
            plans[(drug, route)] = self.ruleset.retest_for(self.drugs[drug], route)
        keys = list(zip(t["drug"], t["route"], strict=True))
        # dose coverage: an oral course acts up to its stop; an injection or infusion for
        # one dosing interval after the last dose. An open course of a drug whose catalogue
        # entry has a grace period (denosumab) lapses when the next dose is that far overdue.
        grace = t["drug"].map({d: (np.nan if self.drugs[d].overdue_grace_days is None
                                   else self.drugs[d].overdue_grace_days)
                               for d in pd.unique(t["drug"])}).astype(float)
        stopped = t["stop"].notna()
        oral = (t["route"] == "oral").to_numpy()
        last = t["last_dose"].fillna(t["stop"]).fillna(t["start"]).astype(float)
        t["last_given"] = last
        t["grace_days"] = grace
        t["due"] = np.where(oral, np.nan, last + t["interval_days"])
        lapse = np.where(~stopped & ~oral & grace.notna(), last + t["interval_days"] + grace,
                         np.nan)
        t["lapse_day"] = lapse
        t["covered_until"] = np.where(
            oral, np.where(stopped, t["stop"], np.inf),
            np.where(stopped, last + t["interval_days"], np.where(np.isnan(lapse), np.inf, lapse)))
        t["lapsed_today"] = ~np.isnan(lapse) & (self.today > np.nan_to_num(lapse, nan=np.inf))
        t["win_resorption"] = [win_r[k] for k in keys]
        t["win_formation"] = [win_f[k] for k in keys]
        for f in ("assess_from_days", "first_days", "monitor_days", "off_first_days",
                  "off_interval_days"):
            t[f] = [np.nan if plans[k] is None or getattr(plans[k], f) is None
                    else getattr(plans[k], f) for k in keys]
        # next course start of any osteoporosis drug after this one (for "off" phases)
        osteo = t[t["klass"].isin(OSTEOPOROSIS_CLASSES)][["pid", "start", "cid", "klass"]]
        t["next_start"] = _next_start(t, osteo)
        t["next_antiresorptive"] = _next_start(
            t, osteo[osteo["klass"].isin(("bisphosphonate", "denosumab"))]
        )
        return t

    @cached_property
    def course_btm(self) -> pd.DataFrame:
        """Every (course, bone turnover measurement) pair of a patient, with baseline.

        Columns add ``baseline`` (latest value of that marker within the rule set's
        baseline window on or before the start), ``phase`` (``pre``; ``on`` while the
        course covers the day: up to the stop of an oral course, up to one dosing interval
        after the last injection or infusion; then ``off`` for a stopped course and
        ``lapsed`` for an open one whose next dose is overdue beyond the grace period),
        ``days_on``, ``change_abs``, ``change_pct``, ``lsc_pct``, ``target``, ``process``.
        """
        c = self.courses
        c = c[c["klass"].isin(OSTEOPOROSIS_CLASSES)]
        cols = ["cid", "pid", "drug", "klass", "route", "start", "stop", "win_resorption",
                "win_formation", "next_start", "last_given", "covered_until", "due",
                "grace_days", "interval_days"]
        j = self.btm.merge(c[cols], on="pid", how="inner")
        bw = self.ruleset.baseline_window_days
        pre = j[(j["day"] <= j["start"]) & (j["day"] >= j["start"] - bw)]
        base = pre.drop_duplicates(["cid", "marker"], keep="last")
        base = base[["cid", "marker", "value", "day", "comparator"]]
        base = base.rename(columns={"value": "baseline", "day": "baseline_day",
                                    "comparator": "baseline_comparator"})
        j = j.merge(base, on=["cid", "marker"], how="left")
        stop = j["stop"]
        on = (j["day"] > j["start"]) & (j["day"] <= j["covered_until"])
        after = j["day"] > j["covered_until"]
        j["phase"] = np.where(on, "on", np.where(after & stop.notna(), "off",
                                                 np.where(after, "lapsed", "pre")))
        j["days_on"] = (j["day"] - j["start"]).astype(float)
        j["baseline_comparator"] = j["baseline_comparator"].fillna("")
        j = with_change(j, "baseline", "baseline_comparator")
        info = self.marker_info
        j["lsc_pct"] = j["marker"].map(info["lsc_pct"]).astype(float)
        j["target"] = j["marker"].map(info["target"]).astype(float)
        j["process"] = j["marker"].map(info["process"])
        j["nadir_days"] = np.where(j["process"] == "resorption", j["win_resorption"],
                                   j["win_formation"])
        j = j.sort_values(["cid", "marker", "day", "source"], kind="stable")
        return j.reset_index(drop=True)

    @cached_property
    def active_glucocorticoid(self) -> pd.Series:
        t = self.tables.treat
        g = t[(t["klass"] == "glucocorticoid") & (t["stop"].isna() | (t["stop"] >= self.today))]
        return pd.Series(True, index=pd.Index(g["pid"].unique(), name="pid"))


# ---------------------------------------------------------------------------------------
# censored results: a value reported as "<x" or ">x" is an interval, never a number


_LOWER = ("<", "<=")  # the true value lies below the bound
_UPPER = (">", ">=")  # the true value lies above it


def value_bounds(values: pd.Series | np.ndarray, comparators: pd.Series | np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The interval each result allows: ``(low, high, low_open, high_open)``.

    An exact result is ``[v, v]``; ``<v`` is ``[0, v)`` (markers are not negative), ``<=v``
    ``[0, v]``, ``>v`` ``(v, inf)``, ``>=v`` ``[v, inf)``.
    """
    v = np.asarray(values, dtype=float)
    c = np.asarray(pd.Series(comparators, dtype=object).fillna(""), dtype=object)
    below, above = np.isin(c, _LOWER), np.isin(c, _UPPER)
    lo = np.where(below, 0.0, v)
    hi = np.where(above, np.inf, v)
    return lo, hi, c == ">", c == "<"


def interval_compare(lo: np.ndarray, hi: np.ndarray, lo_open: np.ndarray, hi_open: np.ndarray,
                     op: str, ref: Any, ref2: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Whether every value of ``[lo, hi]`` satisfies ``op`` against ``ref`` (first array)
    and whether none does (second); where neither, the interval straddles the limit and
    the comparison cannot be decided. A NaN bound or reference decides nothing.
    """
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    r = np.asarray(ref, dtype=float)
    with np.errstate(invalid="ignore"):
        if op == ">":
            yes, no = (lo > r) | ((lo == r) & lo_open), hi <= r
        elif op == ">=":
            yes, no = lo >= r, (hi < r) | ((hi == r) & hi_open)
        elif op == "<":
            yes, no = (hi < r) | ((hi == r) & hi_open), lo >= r
        elif op == "<=":
            yes, no = hi <= r, (lo > r) | ((lo == r) & lo_open)
        else:
            r2 = np.asarray(ref2, dtype=float)
            below = (hi < r) | ((hi == r) & hi_open)
            if op == "within":  # inclusive interval
                yes = (lo >= r) & (hi <= r2)
                no = below | (lo > r2) | ((lo == r2) & lo_open)
            elif op == "between":  # half-open [ref, ref2)
                yes = (lo >= r) & ((hi < r2) | ((hi == r2) & hi_open))
                no = below | (lo >= r2)
            else:
                raise KnowledgeBaseError(f"op {op!r} unknown")
    return np.asarray(yes, dtype=bool), np.asarray(no, dtype=bool)


def with_change(frame: pd.DataFrame, ref: str, ref_comparator: str,
                value: str = "value", comparator: str = "comparator") -> pd.DataFrame:
    """Add the change of ``value`` from ``ref``: ``change_abs`` and ``change_pct`` where
    both are exact; where either is censored those are NaN and ``change_pct_min`` /
    ``change_pct_max`` bound the true change (NaN where no bound follows; both NaN for
    exact pairs). ``censored_change_`` marks the censored pairs.
    """
    vc = frame[comparator].fillna("") if comparator in frame else pd.Series("", frame.index)
    rc = frame[ref_comparator].fillna("") if ref_comparator in frame else pd.Series(
        "", frame.index)
    censored = ((vc != "") | (rc != "")).to_numpy() & frame[ref].notna().to_numpy()
    change_abs = frame[value] - frame[ref]
    change_pct = 100.0 * change_abs / frame[ref]
    vlo, vhi, _, _ = value_bounds(frame[value], vc)
    rlo, rhi, _, _ = value_bounds(frame[ref], rc)
    with np.errstate(divide="ignore", invalid="ignore"):
        top = np.where(rlo > 0, 100.0 * (vhi / rlo - 1.0), np.inf)
        bottom = np.where(np.isinf(rhi), -100.0, 100.0 * (vlo / rhi - 1.0))
    top = np.where(np.isinf(top), np.nan, top)
    bottom = np.where(bottom <= -100.0, np.nan, bottom)
    return frame.assign(
        change_abs=change_abs.where(~censored), change_pct=change_pct.where(~censored),
        change_pct_min=np.where(censored, bottom, np.nan),
        change_pct_max=np.where(censored, top, np.nan), censored_change_=censored)


def change_compare(frame: pd.DataFrame, op: str, threshold: Any,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`interval_compare` of the change from baseline (``change_pct``, or the bounds
    of a censored pair from :func:`with_change`; an unbounded side is infinite)."""
    exact = frame["change_pct"].to_numpy(dtype=float)
    cens = frame["censored_change_"].to_numpy(dtype=bool)
    lo = np.where(cens, np.nan_to_num(frame["change_pct_min"].to_numpy(dtype=float),
                                      nan=-100.0), exact)
    hi = np.where(cens, np.nan_to_num(frame["change_pct_max"].to_numpy(dtype=float),
                                      nan=np.inf), exact)
    closed = np.zeros(len(frame), dtype=bool)
    return interval_compare(lo, hi, closed, closed, op, threshold)


def _next_start(t: pd.DataFrame, pool: pd.DataFrame) -> np.ndarray:
    """For each course in ``t``: the earliest start in ``pool`` (same pid) after its start."""
    if t.empty:
        return np.array([], dtype=float)
    pairs = t[["cid", "pid", "start"]].merge(
        pool[["pid", "start"]].rename(columns={"start": "other"}), on="pid"
    )
    pairs = pairs[pairs["other"] > pairs["start"]]
    nxt = pairs.groupby("cid")["other"].min()
    return t["cid"].map(nxt).to_numpy(dtype=float)


# ---------------------------------------------------------------------------------------
# kinds


@dataclass(frozen=True)
class Kind:
    """A condition kind: its function, the message fields it fills, its param check."""

    name: str
    fn: Callable[[Context, Mapping[str, Any]], pd.DataFrame]
    fields: frozenset[str]
    check: Callable[[Mapping[str, Any], MarkerCatalog], None]


KINDS: dict[str, Kind] = {}


def _kind(name: str):
    """Register the vectorised implementation of the kind ``name`` of
    :data:`boneturnover.clinical.kinds.SPECS` (its fields and param check)."""
    def deco(fn):
        spec = SPECS[name]
        KINDS[name] = Kind(name, fn, spec.fields, spec.check)
        return fn
    return deco


_OPS = {
    ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
}


def _compare(
    values: pd.Series, op: str, ref: pd.Series, ref2: pd.Series | None = None
) -> pd.Series:
    if op == "within":  # inclusive interval
        return (values >= ref) & (values <= ref2)
    if op == "between":  # half-open [ref, ref2)
        return (values >= ref) & (values < ref2)
    return pd.Series(_OPS[op](values, ref), index=values.index)


def join_by_group(keys: pd.Series, text: pd.Series, sep: str) -> pd.Series:
    """Join ``text`` per key (in the given row order), vectorised: Series indexed by key."""
    if len(keys) == 0:
        return pd.Series(dtype=object)
    k = keys.to_numpy()
    order = np.argsort(k, kind="stable")
    k = k[order]
    t = text.to_numpy(dtype=object)[order] + sep
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    joined = np.add.reduceat(t, starts)
    n = len(sep)
    return pd.Series([s[:-n] for s in joined], index=k[starts], dtype=object)


def _empty(columns: Sequence[str] = ("pid",)) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})


def _latest_compare(ctx: Context, markers: Sequence[str], op: str, ref: Any) -> pd.DataFrame:
    """Latest results of ``markers`` satisfying ``op`` against ``ref``; a censored result
    whose interval straddles the reference is kept with :data:`CENSORED` true."""
    lat = ctx.latest[ctx.latest["marker"].isin(markers)]
    lo, hi, lo_open, hi_open = value_bounds(lat["value"], lat["comparator"])
    if isinstance(ref, list):
        r1, r2 = ctx.ref_series(lat["marker"], ref[0]), ctx.ref_series(lat["marker"], ref[1])
        yes, no = interval_compare(lo, hi, lo_open, hi_open, op, r1, r2)
        known = r1.notna().to_numpy() & r2.notna().to_numpy()
    else:
        r1 = ctx.ref_series(lat["marker"], ref)
        yes, no = interval_compare(lo, hi, lo_open, hi_open, op, r1)
        known = r1.notna().to_numpy()
    undecided = known & ~yes & ~no
    out = lat[yes | undecided].copy()
    out[CENSORED] = undecided[yes | undecided]
    if isinstance(ref, list):
        out["ref_low"], out["ref_high"] = r1[out.index], r2[out.index]
    else:
        out["ref"] = r1[out.index]
    return out


def decided(hits: pd.DataFrame) -> pd.DataFrame:
    """The hits a censored result did not leave undecided."""
    return hits[~hits[CENSORED]] if CENSORED in hits else hits


@_kind("censored")
def censored(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """The caveat of results a censored value left undecided.

    Other kinds flag such hits (:data:`CENSORED`); the engine gives them to the first
    ``censored`` rule whose ``codes`` list the flagged rule's code (a rule without
    ``codes`` takes the rest), one finding per result with ``about`` the codes it left
    undecided. Evaluated on its own this kind finds nothing.
    """
    return _empty()


@_kind("always")
def always(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """One hit per patient."""
    return pd.DataFrame({"pid": ctx.tables.patients["pid"].to_numpy()})


@_kind("latest_value")
def latest_value(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Each listed marker whose latest value satisfies ``op`` against ``ref``.

    ``ref``: ``ri_low``, ``ri_high``, ``cutoff:<name>`` or a number (canonical unit);
    ``within`` (inclusive) and ``between`` (``low <= v < high``) take ``[low, high]``.
    Markers without the reference (no interval adopted) never match.
    """
    return _latest_compare(ctx, params["markers"], params["op"], params["ref"])


@_kind("latest_all")
def latest_all(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Every clause holds for some marker's latest value (one hit per patient).

    ``max_days_apart``: the matched results of different clauses lie within that many
    days of each other. ``untreated_only``: only results taken before any antiresorptive
    course started count. ``evidence`` lists the matched results.
    """
    parts = []
    untreated = params.get("untreated_only", False)
    for i, cl in enumerate(params["clauses"]):
        hit = _latest_compare(ctx, cl["markers"], cl["op"], cl["ref"])
        if untreated:
            t = ctx.tables.treat
            first = t[t["klass"].isin(ANTIRESORPTIVE_CLASSES)].groupby("pid")["start"].min()
            hit = hit[~(hit["day"] >= hit["pid"].map(first))]
        hit = hit.assign(clause=i)
        parts.append(hit)
    allm = pd.concat(parts, ignore_index=True)
    n = len(params["clauses"])
    ok = allm.groupby("pid")["clause"].nunique()
    allm = allm[allm["pid"].isin(ok[ok == n].index)]
    # a clause met only by censored results leaves the patient's hit undecided
    sure = allm[~allm[CENSORED]].groupby("pid")["clause"].nunique()
    allm = allm.assign(**{CENSORED: allm["pid"].map(sure).fillna(0).to_numpy() < n})
    if "max_days_apart" in params and n > 1:
        per = allm.drop_duplicates(["pid", "clause"], keep="last")
        span = per.groupby("pid")["day"].max() - per.groupby("pid")["day"].min()
        allm = allm[allm["pid"].map(span) <= params["max_days_apart"]]
    if allm.empty:
        return _empty()
    allm = allm.sort_values(["pid", "clause", "marker"], kind="stable")
    sym = {k: m.symbol for k, m in ctx.catalog.items()}
    unit = {k: m.display_unit for k, m in ctx.catalog.items()}
    allm["txt"] = [f"{sym[m]} {c}{_g(v)} {unit[m]}" for m, v, c in zip(
        allm["marker"], allm["value"], allm["comparator"], strict=True)]
    # the row a hit names: the first result, or for an undecided hit the censored one
    lead = allm.assign(order_=np.where(allm[CENSORED] & (allm["comparator"] != ""), 0, 1))
    lead = lead.sort_values(["pid", "order_", "clause", "marker"], kind="stable")
    first = lead.drop_duplicates("pid", keep="first")[
        ["pid", "marker", "value", "day", "source", "comparator", CENSORED]]
    ev = join_by_group(allm["pid"], allm["txt"], "; ")
    first = first.assign(evidence=first["pid"].map(ev).to_numpy())
    return first.reset_index(drop=True)


def _g(v: float) -> str:
    return f"{v:.4g}"


@_kind("patient_context")
def patient_context(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Patients with a clinical context (recorded flag, active drug, or a lab criterion).

    ``ckd``: patient fact ``ckd`` true, or the latest ``marker`` value ``op`` ``ref``.
    ``glucocorticoids``: patient fact true or an active glucocorticoid course.
    """
    pats = ctx.tables.patients
    flag = pats[params["flag"]].fillna(0).astype(bool).to_numpy()
    hit = pd.Series(flag, index=pats["pid"].to_numpy())
    if params["flag"] == "glucocorticoids":
        hit |= hit.index.isin(ctx.active_glucocorticoid.index)
    if "marker" in params:
        lab = decided(_latest_compare(ctx, [params["marker"]], params["op"], params["ref"]))
        hit |= hit.index.isin(lab["pid"])
    out = pd.DataFrame({"pid": hit.index[hit.to_numpy()]})
    out["recommended"] = ",".join(params["recommend"])
    eg = ctx.latest[ctx.latest["marker"] == "EGFR"].set_index("pid")["value"]
    out["egfr"] = out["pid"].map(eg).astype(float)
    return out


@_kind("markers_missing")
def markers_missing(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Patients with some of ``when_any`` measured but none of a ``required`` group."""
    m = ctx.latest
    relevant = pd.unique(m.loc[m["marker"].isin(params["when_any"]), "pid"])
    parts = []
    for g in params["required"]:
        have = m.loc[m["marker"].isin(g), "pid"]
        pids = np.setdiff1d(relevant, have.to_numpy())
        parts.append(pd.DataFrame({"pid": pids, "recommended": g[0], "marker": g[0]}))
    return pd.concat(parts, ignore_index=True)


@_kind("preanalytical")
def preanalytical(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Rows whose sampling conditions limit interpretation (named by ``source``).

    ``fasting_false`` / ``fasting_unknown``: markers that need fasting; ``late_sample``:
    morning markers sampled after ``latest_time``; ``renal``: renally cleared markers
    with the nearest earlier eGFR (within ``max_days_apart``) below ``egfr_ref``.
    """
    info = ctx.marker_info
    m = ctx.meas
    check = params["check"]
    if check in ("fasting_false", "fasting_unknown"):
        need = m["marker"].map(info["requires_fasting"]).fillna(False).astype(bool)
        cond = (m["fasting"] == 0) if check == "fasting_false" else m["fasting"].isna()
        return m[need & cond].reset_index(drop=True)
    if check == "late_sample":
        hh, mm = (int(x) for x in params["latest_time"].split(":"))
        need = m["marker"].map(info["morning_sample"]).fillna(False).astype(bool)
        return m[need & (m["time_min"] > hh * 60 + mm)].reset_index(drop=True)
    need = m[m["marker"].map(info["renal_clearance"]).fillna(False).astype(bool)]
    eg = m[m["marker"] == "EGFR"][["pid", "day", "value"]].rename(
        columns={"value": "egfr", "day": "egfr_day"})
    if need.empty or eg.empty:
        return _empty()
    j = need.merge(eg, on="pid")
    j = j[(j["egfr_day"] <= j["day"]) & (j["day"] - j["egfr_day"] <= params["max_days_apart"])]
    j = j.sort_values(["pid", "source", "egfr_day"], kind="stable").drop_duplicates(
        ["pid", "source", "marker", "day"], keep="last")
    cut = ctx.catalog["EGFR"].reference_value(params["egfr_ref"])
    return j[j["egfr"] < cut].drop(columns=["egfr_day"]).reset_index(drop=True)


def _pct(v: float) -> str:
    return f"{v:+.0f}%"


def change_text(pct: float, low: float, high: float) -> str:
    """A change for an evidence list: ``-72%``; for a censored pair its bound, rounded
    outwards so that it stays true (``< -93%``: the change lies below -93.3%); ``""``
    when nothing is known."""
    if not np.isnan(pct):
        return _pct(pct)
    if not np.isnan(high):
        return f"< {math.ceil(high):+d}%"
    if not np.isnan(low):
        return f"> {math.floor(low):+d}%"
    return ""


@_kind("antiresorptive_response")
def antiresorptive_response(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """One combined response conclusion per course from its latest on-treatment results.

    Each marker's latest result on the course is read against its baseline and the rule
    set's target (seed:B22, B25): *meets* = a decrease beyond the LSC or a value below the
    target. The course's conclusion then combines the markers (IOF-ECTS, Diez-Perez et al.
    2017: a decrease beyond the LSC in either CTX-I or P1NP shows the drug is taken),
    first that applies:

    adequate
        some marker meets the criterion on a sample taken as required (one hit per such
        marker).
    withheld
        only a sample taken non-fasting or after ``latest_time`` meets it: food and a late
        sample lower CTX-I, so no response is concluded from it (one hit per such marker).
    too_early
        some marker is still before its expected nadir, less the rule set's
        ``window_tolerance_days`` (one hit per such marker).
    expected
        the class's expected change is smaller than the LSC (``[responses.<class>]``
        criterion ``expected_change``, raloxifene) and the markers decreased, by no more
        than the LSC: the expected effect of the drug (one hit per course).
    inadequate
        none of these: no response on any marker (one hit per course).

    ``evidence`` lists every marker of the course's conclusion (value, change, LSC,
    target; the class's expected change where it has one). Results with neither a
    baseline nor a target are not assessed (see ``baseline_missing``).
    """
    classes = tuple(params.get("classes", ANTIRESORPTIVE_CLASSES))
    markers = tuple(params.get("markers", BONE_TURNOVER_MARKERS))
    latest_time = str(params.get("latest_time", "10:00"))
    cache = ctx.__dict__.setdefault("_responses", {})
    key = (classes, markers, latest_time)
    if key not in cache:
        cache[key] = _course_responses(ctx, classes, markers, latest_time)
    j = cache[key]
    if j.empty:
        return _empty()
    want = _OUTCOMES.index(params["outcome"])
    hit = j[(j["course_"] == want).to_numpy() & (j["status_"] == want).to_numpy()]
    if want >= 3:  # one hit per course; an undecided course names its censored result
        hit = hit.sort_values(["cid", "undecided_", "rank_"], ascending=[True, False, True],
                              kind="stable").drop_duplicates("cid", keep="first")
    if "routes" in params:  # a course is judged on all its markers, then selected by route
        hit = hit[hit["route"].isin(params["routes"])]
    return hit.drop(columns=["rank_", "status_", "course_", "expected_", "txt",
                             "undecided_"]).reset_index(drop=True)


def _course_responses(ctx: Context, classes: tuple[str, ...], markers: tuple[str, ...],
                      latest_time: str) -> pd.DataFrame:
    """Latest on-treatment result per course and marker with its status and the course's
    outcome (indexes into ``_OUTCOMES``) and the course's ``evidence`` text."""
    j = ctx.course_btm
    j = j[(j["phase"] == "on") & j["klass"].isin(classes) & j["marker"].isin(markers)]
    j = j.drop_duplicates(["cid", "marker"], keep="last")
    j = j[j["baseline"].notna() | j["target"].notna()]
    if j.empty:
        return j
    info = ctx.marker_info
    rank = {mid: i for i, mid in enumerate(BONE_TURNOVER_MARKERS)}
    j = j.assign(rank_=j["marker"].map(rank)).sort_values(["cid", "rank_"], kind="stable")
    responses = ctx.ruleset.responses
    crit = j["klass"].map({k: r.criterion for k, r in responses.items()}).fillna("lsc_or_target")
    above = j["klass"].map({k: r.no_response_above_pct for k, r in responses.items()})
    expected = pd.Series([responses[k].expected_pct.get(mid, np.nan) if k in responses else np.nan
                          for k, mid in zip(j["klass"], j["marker"], strict=True)],
                         index=j.index, dtype=float)
    # a censored result is an interval: it meets the criterion only if every value it
    # allows does, and fails it only if none does; otherwise it is undecided
    lsc_yes, lsc_no = change_compare(j, "<=", -j["lsc_pct"].to_numpy(dtype=float))
    lo, hi, lo_open, hi_open = value_bounds(j["value"], j["comparator"])
    tgt_yes, tgt_no = interval_compare(lo, hi, lo_open, hi_open, "<", j["target"])
    has_base, has_target = j["baseline"].notna().to_numpy(), j["target"].notna().to_numpy()
    by_lsc = has_base & lsc_yes
    by_target = has_target & tgt_yes
    meets = pd.Series(by_lsc | by_target, index=j.index)
    undecided = ~meets.to_numpy() & ~((~has_base | lsc_no) & (~has_target | tgt_no)) & (
        (j["comparator"] != "") | (j["baseline_comparator"] != "")).to_numpy()
    hh, mm = (int(x) for x in latest_time.split(":"))
    fasting_needed = j["marker"].map(info["requires_fasting"]).fillna(False).astype(bool)
    morning = j["marker"].map(info["morning_sample"]).fillna(False).astype(bool)
    flagged = ((fasting_needed & (j["fasting"] == 0))
               | (morning & (j["time_min"] > hh * 60 + mm)))
    early = j["days_on"] < j["nadir_days"] - float(ctx.ruleset.window_tolerance_days)
    exp_yes, exp_no = change_compare(j, "<=", above.astype(float).to_numpy())
    by_expected = (crit == "expected_change").to_numpy() & has_base
    smaller = pd.Series(by_expected & exp_yes, index=j.index)
    undecided |= by_expected & ~exp_yes & ~exp_no & ~meets.to_numpy()
    status = np.select(
        [meets & ~flagged, meets & flagged, early, smaller],
        [0, 1, 2, 3], default=4)
    j = j.assign(status_=status, expected_=expected, undecided_=undecided & (status == 4))
    j["course_"] = j.groupby("cid")["status_"].transform("min")
    # no response concluded while a censored result could still show one
    j[CENSORED] = j.groupby("cid")["undecided_"].transform("any") & (j["course_"] == 4)
    sym = {k: m.symbol for k, m in ctx.catalog.items()}
    unit = {k: m.display_unit for k, m in ctx.catalog.items()}

    def describe(r) -> str:
        parts = [f"{sym[r.marker]} {r.comparator}{_g(r.value)} {unit[r.marker]}"]
        change = change_text(r.change_pct, r.change_pct_min, r.change_pct_max)
        if change:
            parts.append(f"{change} (LSC {r.lsc_pct:.0f}%)")
        if not np.isnan(r.target):
            parts.append(f"< {_g(r.target)} {unit[r.marker]}")
        if not np.isnan(r.expected_):
            parts.append(f"~ {_pct(r.expected_)}")
        return ", ".join(parts)

    j["txt"] = [describe(r) for r in j.itertuples()]
    return j.assign(evidence=j["cid"].map(join_by_group(j["cid"], j["txt"], "; ")).to_numpy())


@_kind("baseline_missing")
def baseline_missing(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Markers measured on a course that have no baseline within the window."""
    j = ctx.course_btm
    j = j[(j["phase"] == "on") & j["klass"].isin(params["classes"]) & j["baseline"].isna()]
    j = j.drop_duplicates(["cid", "marker"], keep="first")
    out = j[["pid", "marker", "drug", "start"]].copy()
    out["window_days"] = float(ctx.ruleset.baseline_window_days)
    return out.reset_index(drop=True)


@_kind("holiday_rise")
def holiday_rise(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Off-treatment rise beyond the LSC from the last on-treatment value (seed:B27, B28).

    Only while no later osteoporosis course has started; ``days_off`` counts from the last
    dose.
    """
    j = ctx.course_btm
    j = j[j["klass"].isin(params["classes"]) & j["marker"].isin(params["markers"])]
    ref = j[j["phase"] == "on"].drop_duplicates(["cid", "marker"], keep="last")
    ref = ref[["cid", "marker", "value", "comparator"]].rename(
        columns={"value": "reference", "comparator": "reference_comparator"})
    off = j[(j["phase"] == "off") & (j["next_start"].isna() | (j["day"] < j["next_start"]))]
    off = off.drop_duplicates(["cid", "marker"], keep="last").merge(ref, on=["cid", "marker"])
    off = with_change(off.drop(columns=["change_abs", "change_pct", "change_pct_min",
                                        "change_pct_max", "censored_change_"]),
                      "reference", "reference_comparator")
    off = off.assign(days_off=(off["day"] - off["last_given"]).astype(float))
    return _with_undecided(off, *change_compare(off, ">", off["lsc_pct"].to_numpy(float)))


def _with_undecided(frame: pd.DataFrame, yes: np.ndarray, no: np.ndarray) -> pd.DataFrame:
    """The rows that hold, and those a censored result leaves undecided (flagged)."""
    undecided = ~yes & ~no & frame["censored_change_"].to_numpy(dtype=bool)
    out = frame[yes | undecided]
    return out.assign(**{CENSORED: undecided[yes | undecided]}).reset_index(drop=True)


@_kind("holiday_duration")
def holiday_duration(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Stopped courses whose holiday is longer than ``max_days``.

    The holiday starts at the last dose (``holiday_start``: the recorded last dose, else
    the stop): a yearly infusion still acts in the year after it, but that year is part
    of the holiday (seed:B27: 6 yearly infusions, then a pause of up to 3 years).
    """
    c = ctx.courses
    c = c[c["drug"].isin(params["drugs"]) & c["stop"].notna() & c["next_start"].isna()]
    c = c.assign(holiday_start=c["last_given"])
    c = c.assign(days_off=(ctx.today - c["holiday_start"]).astype(float))
    return c[c["days_off"] > params["max_days"]].reset_index(drop=True)


@_kind("dose_overdue")
def dose_overdue(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Ongoing courses whose next dose (last dose + interval + grace) is past today."""
    c = ctx.courses
    c = c[c["klass"].isin(params["classes"]) & (c["stop"].isna() | (c["stop"] >= ctx.today))]
    grace = c["drug"].map({d: ctx.drugs[d].overdue_grace_days or 0.0 for d in ctx.drugs})
    grace = grace.astype(float)
    last = c["last_dose"].fillna(c["start"])
    due = last + c["interval_days"]
    late = ctx.today - (due + grace)
    out = c.assign(last_dose=last, due=due, grace_days=grace.astype(float),
                   days_late=(ctx.today - due).astype(float))
    return out[late > 0].reset_index(drop=True)


@_kind("off_treatment_rebound")
def off_treatment_rebound(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Latest uncovered result above the pre-treatment baseline (seed:B31).

    ``phase = "off"`` (default): after a stopped course's last dose stopped acting;
    ``"lapsed"``: an open course whose next dose is overdue beyond the catalogue's grace
    period (a missed dose), with the overdue dose named (``due_date``, ``days_late`` as of
    today, ``grace_days``). ``days_off`` counts from the last dose.
    ``compare = "ri_high_without_baseline"``: courses with no baseline, against the
    premenopausal upper limit instead.
    """
    j = ctx.course_btm
    j = j[j["klass"].isin(params["classes"]) & j["marker"].isin(params["markers"])
          & (j["phase"] == params.get("phase", "off"))]
    j = j.drop_duplicates(["cid", "marker"], keep="last")
    j = j.assign(last_dose=j["last_given"], days_late=(ctx.today - j["due"]).astype(float))
    if params["compare"] == "baseline":
        j = j[j["baseline"].notna()].assign(reference=lambda d: d["baseline"],
                                            reference_comparator=lambda d: d[
                                                "baseline_comparator"])
    else:
        j = j[j["baseline"].isna()].assign(
            reference=lambda d: d["marker"].map(ctx.marker_info["ri_high"]).astype(float),
            reference_comparator="")
    j = with_change(j.drop(columns=["change_abs", "change_pct", "change_pct_min",
                                    "change_pct_max", "censored_change_"]),
                    "reference", "reference_comparator")
    j = j.assign(days_off=(j["day"] - j["last_given"]).astype(float))
    return _with_undecided(j[j["reference"].notna()], *change_compare(
        j[j["reference"].notna()], ">", 0.0))


@_kind("stopped_without_followon")
def stopped_without_followon(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Stopped courses not followed by a course of ``followon_classes``."""
    c = ctx.courses
    stopped = c[c["klass"].isin(params["classes"]) & c["stop"].notna() & (c["stop"] < ctx.today)]
    later = c[c["klass"].isin(params["followon_classes"])][["pid", "start"]]
    pairs = stopped[["cid", "pid", "stop"]].merge(later, on="pid")
    followed = pairs[pairs["start"] >= pairs["stop"]]["cid"].unique()
    return stopped[~stopped["cid"].isin(followed)].reset_index(drop=True)


@_kind("change_window")
def change_window(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Latest result in a window of days on treatment whose change from baseline ``op``
    ``threshold`` (``metric`` ``pct`` or ``abs``; threshold a number or ``"lsc"``)."""
    lo, hi = params["window_days"]
    j = ctx.course_btm
    j = j[(j["phase"] == "on") & j["klass"].isin(params["classes"])
          & j["marker"].isin(params["markers"]) & j["baseline"].notna()
          & (j["days_on"] >= lo) & (j["days_on"] <= hi)]
    j = j.drop_duplicates(["cid", "marker"], keep="last")
    thr = j["lsc_pct"] if params["threshold"] == "lsc" else float(params["threshold"])
    j = j.assign(threshold=thr)
    if params["metric"] == "pct":
        yes, no = change_compare(j, params["op"], j["threshold"].to_numpy(dtype=float))
    else:  # absolute change: value interval less baseline interval
        vlo, vhi, _, _ = value_bounds(j["value"], j["comparator"])
        blo, bhi, _, _ = value_bounds(j["baseline"], j["baseline_comparator"])
        closed = np.zeros(len(j), dtype=bool)
        yes, no = interval_compare(vlo - bhi, vhi - blo, closed, closed, params["op"],
                                   j["threshold"].to_numpy(dtype=float))
    return _with_undecided(j, yes, no)


@_kind("prior_course")
def prior_course(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Courses of ``classes`` started after a course of ``prior_classes``."""
    c = ctx.courses
    cur = c[c["klass"].isin(params["classes"])][["cid", "pid", "drug", "start"]]
    prior = c[c["klass"].isin(params["prior_classes"])][["pid", "drug", "start"]].rename(
        columns={"drug": "prior_drug", "start": "prior_start"})
    j = cur.merge(prior, on="pid")
    j = j[j["prior_start"] < j["start"]].sort_values(["cid", "prior_start"], kind="stable")
    return j.drop_duplicates("cid", keep="last").reset_index(drop=True)


@_kind("supplement_ratio")
def supplement_ratio(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """Calcium/magnesium supplement ratio above ``threshold`` (seed:M10).

    A calcium supplement with no magnesium counts as an infinite ratio.
    """
    p = ctx.tables.patients
    ca, mg = p["ca_supp_mg_d"], p["mg_supp_mg_d"].fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mg > 0, ca / mg, np.where(ca > 0, np.inf, np.nan))
    out = pd.DataFrame({"pid": p["pid"], "ratio": ratio, "ca_mg_d": ca, "mg_mg_d": mg,
                        "threshold": float(params["threshold"])})
    return out[out["ratio"] > params["threshold"]].reset_index(drop=True)


@_kind("retest")
def retest(ctx: Context, params: Mapping[str, Any]) -> pd.DataFrame:
    """When bone turnover markers are next due for each current course.

    on: course ongoing and not lapsed; due at start + ``first_days`` until a result at or
    after ``assess_from_days``, then last result + ``monitor_days``. off: course stopped
    with no later osteoporosis course; due at stop + ``off_first_days`` until a result
    after the stop, then last result + ``off_interval_days``. lapsed: an open course whose
    next dose is overdue beyond the grace period (see ``Context.courses``) today, with no
    later course: timed like a stop at the last dose.
    """
    c = ctx.courses
    c = c[c["klass"].isin(OSTEOPOROSIS_CLASSES)]
    btm = ctx.btm[["pid", "day"]]
    phase = params["phase"]
    if phase == "lapsed":
        c = c[c["lapsed_today"] & c["off_first_days"].notna()]
        c = c.assign(stop_at=c["last_given"])
    else:
        c = c.assign(stop_at=c["stop"])
    j = btm.merge(c[["cid", "pid", "start", "stop_at", "assess_from_days"]], on="pid")
    if phase == "on":
        c = c[(c["stop"].isna() | (c["stop"] >= ctx.today)) & ~c["lapsed_today"]]
        c = c[c["next_start"].isna() | (c["next_start"] > ctx.today)]
        j = j[(j["day"] >= j["start"] + j["assess_from_days"])]
        last = j.groupby("cid")["day"].max()
        lastd = c["cid"].map(last)
        due = np.where(lastd.isna(), c["start"] + c["first_days"], lastd + c["monitor_days"])
    else:
        if phase == "off":
            c = c[c["stop"].notna() & (c["stop"] < ctx.today) & c["off_first_days"].notna()]
        c = c[c["next_start"].isna()]
        j = j[j["day"] > j["stop_at"]]
        last = j.groupby("cid")["day"].max()
        lastd = c["cid"].map(last)
        due = np.where(lastd.isna(), c["stop_at"] + c["off_first_days"],
                       lastd + c["off_interval_days"])
    out = c.assign(due=due, last_day=lastd.astype(float), last_dose=c["last_given"])
    overdue = out["due"] < ctx.today
    out = out[overdue] if params["state"] == "overdue" else out[~overdue]
    return out.reset_index(drop=True)
