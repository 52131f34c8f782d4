"""Condition kinds over one patient's rows (the single-patient engine).

Each function here is the plain-Python twin of the vectorised kind of the same name in
:mod:`boneturnover.clinical.conditions` or :mod:`boneturnover.clinical.safety`: same
params, same hits, same numbers carried by each hit (a hit carries the columns of the
rows it was made from, as a pandas hit does). The meaning of each kind is documented
there; ``tests/clinical`` checks that both give the same report for the same patient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .catalog import BONE_TURNOVER_MARKERS
from .kinds import (
    ANTIRESORPTIVE_CLASSES,
    CENSORED,
    OSTEOPOROSIS_CLASSES,
    OUTCOMES,
    PTH_REFS,
    SPECS,
    duration_days,
)
from .single import (
    _CHANGE,
    INF,
    NAN,
    RecordContext,
    Row,
    change_compare,
    first_per,
    interval_compare,
    last_per,
    na,
    ordered,
    value_bounds,
    with_change,
)

__all__ = ["RECORD_KINDS"]

Kind = Callable[[RecordContext, Mapping[str, Any]], list[Row]]
#: Kind name -> its implementation over one patient's rows.
RECORD_KINDS: dict[str, Kind] = {}


def _kind(name: str):
    def deco(fn: Kind) -> Kind:
        assert name in SPECS, name
        RECORD_KINDS[name] = fn
        return fn
    return deco


def _g(v: float) -> str:
    return f"{v:.4g}"


def _pct(v: float) -> str:
    return f"{v:+.0f}%"


def _isnan(x: Any) -> bool:
    return na(x)


def _grace(ctx: RecordContext, drug: str) -> float:
    g = ctx.drugs[drug].overdue_grace_days
    return float(g or 0.0)


def _keep(rows: list[Row], columns: Sequence[str]) -> list[Row]:
    return [{c: r[c] for c in ("pid", *columns) if c in r} for r in rows]


def _drop(r: Row, columns: Sequence[str]) -> Row:
    return {k: v for k, v in r.items() if k not in columns}


def _with_undecided(rows: list[Row], results: list[tuple[bool, bool]]) -> list[Row]:
    out = []
    for r, (yes, no) in zip(rows, results, strict=True):
        undecided = not yes and not no and bool(r["censored_change_"])
        if yes or undecided:
            out.append({**r, CENSORED: undecided})
    return out


# -- results ----------------------------------------------------------------------------


def _latest_compare(ctx: RecordContext, markers: Sequence[str], op: str, ref: Any) -> list[Row]:
    out = []
    for r in ctx.latest:
        if r["marker"] not in markers:
            continue
        lo, hi, lo_open, hi_open = value_bounds(r["value"], r["comparator"])
        if isinstance(ref, list):
            r1, r2 = ctx.ref_value(r["marker"], ref[0]), ctx.ref_value(r["marker"], ref[1])
            yes, no = interval_compare(lo, hi, lo_open, hi_open, op, r1, r2)
            known = not math.isnan(r1) and not math.isnan(r2)
        else:
            r1 = ctx.ref_value(r["marker"], ref)
            yes, no = interval_compare(lo, hi, lo_open, hi_open, op, r1)
            known = not math.isnan(r1)
        undecided = known and not yes and not no
        if yes or undecided:
            h = {**r, CENSORED: undecided}
            if isinstance(ref, list):
                h["ref_low"], h["ref_high"] = r1, r2
            else:
                h["ref"] = r1
            out.append(h)
    return out


def _decided(hits: list[Row]) -> list[Row]:
    return [h for h in hits if not h.get(CENSORED)]


@_kind("censored")
def censored(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    return []


@_kind("always")
def always(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    return [{"pid": p["pid"]} for p in ctx.patients]


@_kind("latest_value")
def latest_value(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    return _latest_compare(ctx, params["markers"], params["op"], params["ref"])


@_kind("latest_all")
def latest_all(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    untreated = params.get("untreated_only", False)
    allm: list[Row] = []
    first: dict[int, float] = {}
    if untreated:
        for t in ctx.treat:
            if t["klass"] in ANTIRESORPTIVE_CLASSES:
                first[t["pid"]] = min(first.get(t["pid"], INF), t["start"])
    for i, cl in enumerate(params["clauses"]):
        hit = _latest_compare(ctx, cl["markers"], cl["op"], cl["ref"])
        if untreated:
            hit = [h for h in hit if not (h["day"] >= first.get(h["pid"], NAN))]
        allm += [{**h, "clause": i} for h in hit]
    n = len(params["clauses"])
    clauses: dict[int, set[int]] = {}
    for h in allm:
        clauses.setdefault(h["pid"], set()).add(h["clause"])
    allm = [h for h in allm if len(clauses[h["pid"]]) == n]
    sure: dict[int, set[int]] = {}
    for h in allm:
        if not h[CENSORED]:
            sure.setdefault(h["pid"], set()).add(h["clause"])
    allm = [{**h, CENSORED: len(sure.get(h["pid"], ())) < n} for h in allm]
    if "max_days_apart" in params and n > 1:
        per = last_per(allm, ("pid", "clause"))
        span: dict[int, list[float]] = {}
        for h in per:
            span.setdefault(h["pid"], []).append(h["day"])
        allm = [h for h in allm
                if max(span[h["pid"]]) - min(span[h["pid"]]) <= params["max_days_apart"]]
    if not allm:
        return []
    allm = ordered(allm, ("pid", "clause", "marker"))
    cat = ctx.catalog
    for h in allm:
        m = cat[h["marker"]]
        h["txt"] = f"{m.symbol} {h['comparator']}{_g(h['value'])} {m.display_unit}"
    lead = ordered([{**h, "order_": 0 if (h[CENSORED] and h["comparator"] != "") else 1}
                    for h in allm], ("pid", "order_", "clause", "marker"))
    out = []
    for h in first_per(lead, ("pid",)):
        ev = "; ".join(x["txt"] for x in allm if x["pid"] == h["pid"])
        out.append({k: h[k] for k in ("pid", "marker", "value", "day", "source", "comparator",
                                      CENSORED)} | {"evidence": ev})
    return out


@_kind("patient_context")
def patient_context(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    lab: set[int] = set()
    if "marker" in params:
        lab = {h["pid"] for h in _decided(_latest_compare(
            ctx, [params["marker"]], params["op"], params["ref"]))}
    egfr = {r["pid"]: r["value"] for r in ctx.latest if r["marker"] == "EGFR"}
    out = []
    for p in ctx.patients:
        v = p[params["flag"]]
        hit = bool(0 if _isnan(v) else v)
        if params["flag"] == "glucocorticoids":
            hit = hit or p["pid"] in ctx.active_glucocorticoid
        if "marker" in params:
            hit = hit or p["pid"] in lab
        if hit:
            out.append({"pid": p["pid"], "recommended": ",".join(params["recommend"]),
                        "egfr": float(egfr.get(p["pid"], NAN))})
    return out


@_kind("markers_missing")
def markers_missing(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    m = ctx.latest
    relevant = sorted({r["pid"] for r in m if r["marker"] in params["when_any"]})
    out = []
    for g in params["required"]:
        have = {r["pid"] for r in m if r["marker"] in g}
        out += [{"pid": p, "recommended": g[0], "marker": g[0]} for p in relevant
                if p not in have]
    return out


@_kind("preanalytical")
def preanalytical(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    info = ctx.marker_info
    m = ctx.meas
    check = params["check"]
    if check in ("fasting_false", "fasting_unknown"):
        want = (lambda f: f == 0) if check == "fasting_false" else _isnan
        return [dict(r) for r in m if info[r["marker"]]["requires_fasting"] and want(r["fasting"])]
    if check == "late_sample":
        hh, mm = (int(x) for x in params["latest_time"].split(":"))
        return [dict(r) for r in m
                if info[r["marker"]]["morning_sample"] and r["time_min"] > hh * 60 + mm]
    need = [r for r in m if info[r["marker"]]["renal_clearance"]]
    eg = [r for r in m if r["marker"] == "EGFR"]
    if not need or not eg:
        return []
    j = [{**r, "egfr": e["value"], "egfr_day": e["day"]} for r in need for e in eg
         if e["pid"] == r["pid"]]
    j = [x for x in j if x["egfr_day"] <= x["day"]
         and x["day"] - x["egfr_day"] <= params["max_days_apart"]]
    j = last_per(ordered(j, ("pid", "source", "egfr_day")), ("pid", "source", "marker", "day"))
    cut = ctx.catalog["EGFR"].reference_value(params["egfr_ref"])
    return [_drop(x, ("egfr_day",)) for x in j if x["egfr"] < cut]


def change_text(pct: float, low: float, high: float) -> str:
    """See :func:`boneturnover.clinical.conditions.change_text`."""
    if not math.isnan(pct):
        return _pct(pct)
    if not math.isnan(high):
        return f"< {math.ceil(high):+d}%"
    if not math.isnan(low):
        return f"> {math.floor(low):+d}%"
    return ""


@_kind("antiresorptive_response")
def antiresorptive_response(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    classes = tuple(params.get("classes", ANTIRESORPTIVE_CLASSES))
    markers = tuple(params.get("markers", BONE_TURNOVER_MARKERS))
    latest_time = str(params.get("latest_time", "10:00"))
    key = ("responses", classes, markers, latest_time)
    if key not in ctx.cache:
        ctx.cache[key] = _course_responses(ctx, classes, markers, latest_time)
    j = ctx.cache[key]
    if not j:
        return []
    want = OUTCOMES.index(params["outcome"])
    hit = [r for r in j if r["course_"] == want and r["status_"] == want]
    if want >= 3:  # one hit per course; an undecided course names its censored result
        hit = sorted(hit, key=lambda r: (r["cid"], not r["undecided_"], r["rank_"]))
        hit = first_per(hit, ("cid",))
    if "routes" in params:
        hit = [r for r in hit if r["route"] in params["routes"]]
    return [_drop(r, ("rank_", "status_", "course_", "expected_", "txt", "undecided_"))
            for r in hit]


def _course_responses(ctx: RecordContext, classes: tuple[str, ...], markers: tuple[str, ...],
                      latest_time: str) -> list[Row]:
    j = [r for r in ctx.course_btm if r["phase"] == "on" and r["klass"] in classes
         and r["marker"] in markers]
    j = last_per(j, ("cid", "marker"))
    j = [r for r in j if not _isnan(r["baseline"]) or not _isnan(r["target"])]
    if not j:
        return j
    info = ctx.marker_info
    rank = {mid: i for i, mid in enumerate(BONE_TURNOVER_MARKERS)}
    j = sorted(({**r, "rank_": rank[r["marker"]]} for r in j),
               key=lambda r: (r["cid"], r["rank_"]))
    responses = ctx.ruleset.responses
    hh, mm = (int(x) for x in latest_time.split(":"))
    tol = float(ctx.ruleset.window_tolerance_days)
    for r in j:
        resp = responses.get(r["klass"])
        crit = resp.criterion if resp is not None else "lsc_or_target"
        above = NAN if resp is None or resp.no_response_above_pct is None \
            else float(resp.no_response_above_pct)
        expected = float(resp.expected_pct.get(r["marker"], NAN)) if resp is not None else NAN
        lsc_yes, lsc_no = change_compare(r, "<=", -r["lsc_pct"])
        lo, hi, lo_open, hi_open = value_bounds(r["value"], r["comparator"])
        tgt_yes, tgt_no = interval_compare(lo, hi, lo_open, hi_open, "<", r["target"])
        has_base, has_target = not _isnan(r["baseline"]), not _isnan(r["target"])
        meets = (has_base and lsc_yes) or (has_target and tgt_yes)
        undecided = (not meets and not ((not has_base or lsc_no) and (not has_target or tgt_no))
                     and (r["comparator"] != "" or r["baseline_comparator"] != ""))
        mi = info[r["marker"]]
        flagged = ((mi["requires_fasting"] and r["fasting"] == 0)
                   or (mi["morning_sample"] and r["time_min"] > hh * 60 + mm))
        early = r["days_on"] < r["nadir_days"] - tol
        exp_yes, exp_no = change_compare(r, "<=", above)
        by_expected = crit == "expected_change" and has_base
        smaller = by_expected and exp_yes
        undecided = undecided or (by_expected and not exp_yes and not exp_no and not meets)
        status = (0 if meets and not flagged else 1 if meets else 2 if early
                  else 3 if smaller else 4)
        r.update(status_=status, expected_=expected, undecided_=undecided and status == 4)
    by_cid: dict[int, list[Row]] = {}
    for r in j:
        by_cid.setdefault(r["cid"], []).append(r)
    cat = ctx.catalog
    for rows in by_cid.values():
        course = min(r["status_"] for r in rows)
        open_ = any(r["undecided_"] for r in rows)
        texts = []
        for r in rows:
            r["course_"] = course
            r[CENSORED] = open_ and course == 4
            m = cat[r["marker"]]
            unit = m.display_unit
            parts = [f"{m.symbol} {r['comparator']}{_g(r['value'])} {unit}"]
            change = change_text(r["change_pct"], r["change_pct_min"], r["change_pct_max"])
            if change:
                parts.append(f"{change} (LSC {r['lsc_pct']:.0f}%)")
            if not math.isnan(r["target"]):
                parts.append(f"< {_g(r['target'])} {unit}")
            if not math.isnan(r["expected_"]):
                parts.append(f"~ {_pct(r['expected_'])}")
            r["txt"] = ", ".join(parts)
            texts.append(r["txt"])
        for r in rows:
            r["evidence"] = "; ".join(texts)
    return j


@_kind("baseline_missing")
def baseline_missing(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    j = [r for r in ctx.course_btm if r["phase"] == "on" and r["klass"] in params["classes"]
         and _isnan(r["baseline"])]
    window = float(ctx.ruleset.baseline_window_days)
    return [{"pid": r["pid"], "marker": r["marker"], "drug": r["drug"], "start": r["start"],
             "window_days": window} for r in first_per(j, ("cid", "marker"))]


@_kind("holiday_rise")
def holiday_rise(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    j = [r for r in ctx.course_btm if r["klass"] in params["classes"]
         and r["marker"] in params["markers"]]
    ref = {(r["cid"], r["marker"]): r for r in last_per(
        [r for r in j if r["phase"] == "on"], ("cid", "marker"))}
    off = [r for r in j if r["phase"] == "off"
           and (_isnan(r["next_start"]) or r["day"] < r["next_start"])]
    rows = []
    for r in last_per(off, ("cid", "marker")):
        on = ref.get((r["cid"], r["marker"]))
        if on is None:
            continue
        x = _drop(r, _CHANGE)
        x["reference"], x["reference_comparator"] = on["value"], on["comparator"]
        x = with_change(x, "reference", "reference_comparator")
        x["days_off"] = float(x["day"] - x["last_given"])
        rows.append(x)
    return _with_undecided(rows, [change_compare(x, ">", x["lsc_pct"]) for x in rows])


@_kind("holiday_duration")
def holiday_duration(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    out = []
    for c in ctx.courses:
        if c["drug"] in params["drugs"] and not _isnan(c["stop"]) and _isnan(c["next_start"]):
            start = c["last_given"]  # the holiday starts at the last dose
            x = {**c, "holiday_start": start, "days_off": float(ctx.today - start)}
            if x["days_off"] > params["max_days"]:
                out.append(x)
    return out


@_kind("dose_overdue")
def dose_overdue(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    out = []
    for c in ctx.courses:
        if c["klass"] not in params["classes"] or not (_isnan(c["stop"])
                                                       or c["stop"] >= ctx.today):
            continue
        grace = _grace(ctx, c["drug"])
        last = float(c["start"]) if _isnan(c["last_dose"]) else c["last_dose"]
        due = last + c["interval_days"]
        if ctx.today - (due + grace) > 0:
            out.append({**c, "last_dose": last, "due": due, "grace_days": grace,
                        "days_late": float(ctx.today - due)})
    return out


@_kind("off_treatment_rebound")
def off_treatment_rebound(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    phase = params.get("phase", "off")
    j = [r for r in ctx.course_btm if r["klass"] in params["classes"]
         and r["marker"] in params["markers"] and r["phase"] == phase]
    rows = []
    ri_high = {mid: v["ri_high"] for mid, v in ctx.marker_info.items()}
    for r in last_per(j, ("cid", "marker")):
        x = {**r, "last_dose": r["last_given"], "days_late": float(ctx.today - r["due"])}
        if params["compare"] == "baseline":
            if _isnan(x["baseline"]):
                continue
            x["reference"], x["reference_comparator"] = x["baseline"], x["baseline_comparator"]
        else:
            if not _isnan(x["baseline"]):
                continue
            x["reference"], x["reference_comparator"] = float(ri_high[x["marker"]]), ""
        x = with_change(_drop(x, _CHANGE), "reference", "reference_comparator")
        x["days_off"] = float(x["day"] - x["last_given"])
        if not _isnan(x["reference"]):
            rows.append(x)
    return _with_undecided(rows, [change_compare(x, ">", 0.0) for x in rows])


@_kind("stopped_without_followon")
def stopped_without_followon(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    c = ctx.courses
    later = [x for x in c if x["klass"] in params["followon_classes"]]
    out = []
    for s in c:
        if s["klass"] in params["classes"] and not _isnan(s["stop"]) and s["stop"] < ctx.today:
            if not any(x["pid"] == s["pid"] and x["start"] >= s["stop"] for x in later):
                out.append(dict(s))
    return out


@_kind("change_window")
def change_window(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    lo, hi = params["window_days"]
    j = [r for r in ctx.course_btm if r["phase"] == "on" and r["klass"] in params["classes"]
         and r["marker"] in params["markers"] and not _isnan(r["baseline"])
         and r["days_on"] >= lo and r["days_on"] <= hi]
    rows = []
    results = []
    for r in last_per(j, ("cid", "marker")):
        thr = r["lsc_pct"] if params["threshold"] == "lsc" else float(params["threshold"])
        x = {**r, "threshold": thr}
        if params["metric"] == "pct":
            results.append(change_compare(x, params["op"], thr))
        else:
            vlo, vhi, _, _ = value_bounds(x["value"], x["comparator"])
            blo, bhi, _, _ = value_bounds(x["baseline"], x["baseline_comparator"])
            results.append(interval_compare(vlo - bhi, vhi - blo, False, False, params["op"],
                                            thr))
        rows.append(x)
    return _with_undecided(rows, results)


@_kind("prior_course")
def prior_course(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    c = ctx.courses
    prior = [x for x in c if x["klass"] in params["prior_classes"]]
    out = []
    for cur in c:
        if cur["klass"] not in params["classes"]:
            continue
        earlier = [p for p in prior if p["pid"] == cur["pid"] and p["start"] < cur["start"]]
        if earlier:
            p = sorted(earlier, key=lambda p: p["start"])[-1]
            out.append({"cid": cur["cid"], "pid": cur["pid"], "drug": cur["drug"],
                        "start": cur["start"], "prior_drug": p["drug"],
                        "prior_start": p["start"]})
    return out


@_kind("supplement_ratio")
def supplement_ratio(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    out = []
    for p in ctx.patients:
        ca = p["ca_supp_mg_d"]
        mg = 0.0 if _isnan(p["mg_supp_mg_d"]) else p["mg_supp_mg_d"]
        ratio = ca / mg if mg > 0 else (INF if ca > 0 else NAN)
        if ratio > params["threshold"]:
            out.append({"pid": p["pid"], "ratio": ratio, "ca_mg_d": ca, "mg_mg_d": mg,
                        "threshold": float(params["threshold"])})
    return out


@_kind("retest")
def retest(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    c = [x for x in ctx.courses if x["klass"] in OSTEOPOROSIS_CLASSES]
    phase = params["phase"]
    if phase == "lapsed":
        c = [{**x, "stop_at": x["last_given"]} for x in c
             if x["lapsed_today"] and not _isnan(x["off_first_days"])]
    else:
        c = [{**x, "stop_at": x["stop"]} for x in c]
    today = ctx.today
    out = []
    if phase == "on":
        c = [x for x in c if (_isnan(x["stop"]) or x["stop"] >= today) and not x["lapsed_today"]
             and (_isnan(x["next_start"]) or x["next_start"] > today)]
    else:
        if phase == "off":
            c = [x for x in c if not _isnan(x["stop"]) and x["stop"] < today
                 and not _isnan(x["off_first_days"])]
        c = [x for x in c if _isnan(x["next_start"])]
    for x in c:
        if phase == "on":
            days = [m["day"] for m in ctx.btm if m["pid"] == x["pid"]
                    and m["day"] >= x["start"] + x["assess_from_days"]]
        else:
            days = [m["day"] for m in ctx.btm if m["pid"] == x["pid"] and m["day"] > x["stop_at"]]
        last = float(max(days)) if days else NAN
        if phase == "on":
            due = x["start"] + x["first_days"] if math.isnan(last) else last + x["monitor_days"]
        else:
            due = x["stop_at"] + x["off_first_days"] if math.isnan(last) \
                else last + x["off_interval_days"]
        y = {**x, "due": due, "last_day": last, "last_dose": x["last_given"]}
        overdue = due < today
        if overdue == (params["state"] == "overdue"):
            out.append(y)
    return out


# -- safety and context (safety.py) ---------------------------------------------------------

_COURSE = ("drug", "source", "start")
_RESULT = ("marker", "value", "day", "source", "comparator", CENSORED)


def _select(c: list[Row], params: Mapping[str, Any]) -> list[Row]:
    return [x for x in c if ("drugs" not in params or x["drug"] in params["drugs"])
            and ("classes" not in params or x["klass"] in params["classes"])
            and ("routes" not in params or x["route"] in params["routes"])]


def _open_courses(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    return [x for x in _select(ctx.courses, params)
            if _isnan(x["stop"]) or x["stop"] >= ctx.today]


@_kind("latest_all_context")
def latest_all_context(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    inner = {k: v for k, v in params.items() if k not in ("glucocorticoids", "unless_measured")}
    hit = latest_all(ctx, inner)
    if not hit:
        return hit
    if "unless_measured" in params:
        u = params["unless_measured"]
        days = [(m["pid"], m["day"]) for m in ctx.meas if m["marker"] in u["markers"]]
        near = {h["pid"] for h in hit for p, d in days
                if p == h["pid"] and abs(d - h["day"]) <= u["within_days"]}
        hit = [h for h in hit if h["pid"] not in near]
    if "glucocorticoids" in params:
        gc = [t for t in ctx.treat if t["klass"] == "glucocorticoid"]
        gc_drug: dict[int, str] = {}
        for h in hit:
            for t in gc:
                if t["pid"] == h["pid"] and t["start"] <= h["day"] and (
                        _isnan(t["stop"]) or t["stop"] >= h["day"]):
                    gc_drug.setdefault(h["pid"], t["drug"])
        flag = {p["pid"]: p["glucocorticoids"] for p in ctx.patients}
        kept = []
        for h in hit:
            f = flag.get(h["pid"], NAN)
            exposed = bool(0 if _isnan(f) else f) or h["pid"] in gc_drug
            if params["glucocorticoids"] and exposed:
                kept.append({**h, "drug": gc_drug.get(h["pid"], "glucocorticoid")})
            elif not params["glucocorticoids"] and not exposed:
                kept.append(h)
        hit = kept
    return _keep(hit, (*_RESULT, "evidence", "drug"))


@_kind("window_missed")
def window_missed(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    lo, hi = params["window_days"]
    j = [r for r in ctx.course_btm if r["phase"] == "on" and r["klass"] in params["classes"]
         and r["marker"] in params["markers"]]
    answered = {(r["cid"], r["marker"]) for r in j if lo <= r["days_on"] <= hi}
    j = last_per([r for r in j if (r["cid"], r["marker"]) not in answered], ("cid", "marker"))
    if params["side"] == "before":
        j = [{**r, "due": r["start"] + lo} for r in j if r["days_on"] < lo]
    else:
        j = [r for r in j if r["days_on"] > hi]
    return _keep(j, (*_RESULT, "drug", "start", "baseline", "change_abs", "days_on", "due"))


@_kind("label_limit")
def label_limit(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    c = _select(ctx.courses, params)
    if not c:
        return []
    today = float(ctx.today)
    rows = []
    for x in c:
        x = dict(x)
        x["open"] = _isnan(x["stop"]) or x["stop"] >= ctx.today
        if params["limit"] == "course":
            end = min(today if _isnan(x["stop"]) else x["stop"], today)
            x["amount"] = float(end - x["start"])
        else:
            given = x["stop"] if _isnan(x["last_dose"]) else x["last_dose"]
            n = ((today if _isnan(given) else given) - x["start"]) / x["interval_days"]
            x["amount"] = (float(round(n)) if not _isnan(given)
                           else float(math.floor(n + 1e-9))) + 1.0
        rows.append(x)
    if params["limit"] == "course":
        lim = {d: ctx.drugs[d].limit.course_h / 24.0 for d in params["drugs"]}
    else:
        lim = {d: float(ctx.drugs[d].limit.doses) for d in params["drugs"]}
    groups: dict[tuple, list[Row]] = {}
    for x in sorted(rows, key=lambda x: x["start"]):
        groups.setdefault((x["pid"], x["drug"]), []).append(x)
    out = []
    for (pid, drug), g in groups.items():
        def last_valid(col: str, g: list[Row] = g) -> Any:
            vals = [x[col] for x in g if not _isnan(x[col])]
            return vals[-1] if vals else NAN

        doses = [x["last_dose"] for x in g if not _isnan(x["last_dose"])]
        amount = math.fsum(x["amount"] for x in g)
        r = {"pid": pid, "drug": drug, "amount": amount, "start": min(x["start"] for x in g),
             "open": any(x["open"] for x in g), "interval_days": last_valid("interval_days"),
             "last_dose": max(doses) if doses else NAN, "source": last_valid("source"),
             "threshold": float(lim.get(drug, NAN))}
        if params["op"] == ">":
            ok = r["amount"] > r["threshold"]
        else:
            ok = r["amount"] == r["threshold"] and r["open"]
        if ok:
            r["days_on"] = r["amount"] if params["limit"] == "course" else NAN
            r["value"] = r["amount"] if params["limit"] == "doses" else NAN
            out.append(r)
    return _keep(out, (*_COURSE, "days_on", "value", "threshold", "interval_days", "last_dose"))


@_kind("course_duration")
def course_duration(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    limit = duration_days(params["min_duration"], "min_duration")
    out = []
    for x in _open_courses(ctx, params):
        days_on = float(ctx.today - x["start"])
        if days_on >= limit:
            out.append({**x, "days_on": days_on, "threshold": limit})
    return _keep(out, (*_COURSE, "days_on", "threshold"))


@_kind("followon_course")
def followon_course(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    c = ctx.courses
    later = [x for x in c if x["klass"] in params["followon_classes"]]
    out = []
    for s in c:
        if s["klass"] not in params["classes"] or _isnan(s["stop"]):
            continue
        last = s["stop"] if _isnan(s["last_dose"]) else s["last_dose"]
        after = [x for x in later if x["pid"] == s["pid"] and x["start"] >= last]
        if not after:
            continue
        f = sorted(after, key=lambda x: x["start"])[0]
        grace = _grace(ctx, s["drug"])
        r = {"cid": s["cid"], "pid": s["pid"], "prior_drug": s["drug"], "last": last,
             "interval_days": s["interval_days"], "drug": f["drug"], "start": f["start"],
             "source": f["source"], "stop": last, "days_off": float(f["start"] - last),
             "due": f["start"] + float(params.get("check_days", 0)), "grace_days": grace}
        if params.get("late", False) and not (
                r["days_off"] > r["interval_days"] + r["grace_days"]):
            continue
        out.append(r)
    out.sort(key=lambda r: r["cid"])
    return _keep(out, (*_COURSE, "prior_drug", "stop", "days_off", "due", "interval_days",
                       "grace_days"))


@_kind("lab_on_course")
def lab_on_course(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    lat = []
    for r in ctx.latest:
        if r["marker"] != params["marker"]:
            continue
        ref = ctx.ref_value(r["marker"], params["ref"])
        yes, no = interval_compare(*value_bounds(r["value"], r["comparator"]), params["op"],
                                   ref)
        undecided = not yes and not no and not math.isnan(ref)
        if yes or undecided:
            lat.append({"pid": r["pid"], "marker": r["marker"], "value": r["value"],
                        "day": r["day"], "source": r["source"], "ref": ref,
                        "comparator": r["comparator"], CENSORED: undecided})
    out = []
    today = ctx.today
    for x in _open_courses(ctx, params):
        for r in lat:
            if r["pid"] != x["pid"]:
                continue
            iv = x["interval_days"]
            if _isnan(x["last_dose"]):
                steps = float(math.ceil(max((today - x["start"]) / iv, 0)))
                due = x["start"] + steps * iv
            else:
                due = x["last_dose"] + iv
            out.append({"pid": x["pid"], "drug": x["drug"], "start": x["start"],
                        "last_dose": x["last_dose"], "interval_days": iv, **r, "due": due,
                        "egfr": r["value"] if r["marker"] == "EGFR" else NAN})
    return _keep(out, (*_RESULT, "drug", "start", "ref", "egfr", "due", "last_dose"))


@_kind("next_dose")
def next_dose(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    out = []
    for x in _open_courses(ctx, params):
        grace = _grace(ctx, x["drug"])
        last = float(x["start"]) if _isnan(x["last_dose"]) else x["last_dose"]
        due = last + x["interval_days"]
        if ctx.today <= due + grace:
            out.append({**x, "last_dose": last, "due": due, "grace_days": grace})
    return _keep(out, (*_COURSE, "last_dose", "due", "interval_days", "grace_days"))


def _representative(v: float, comparator: str, limits: list[float]) -> float:
    lo, hi, lo_open, hi_open = value_bounds(v, comparator)
    one_side = True
    for lim in limits:
        inside = ((lo < lim and hi > lim) or (lo == lim and not lo_open and hi > lim)
                  or (hi == lim and not hi_open and lo < lim))
        one_side = one_side and not inside
    if comparator == "":
        return v
    if not one_side:
        return NAN
    return lo * 2.0 + 1.0 if math.isinf(hi) else (lo + hi) / 2.0


@_kind("pth_pattern")
def pth_pattern(ctx: RecordContext, params: Mapping[str, Any]) -> list[Row]:
    lat = ctx.latest
    pth = [r for r in lat if r["marker"] == "PTH"]
    if not pth:
        return []
    cat = ctx.catalog
    by = {mid: {r["pid"]: r for r in lat if r["marker"] == mid} for mid in PTH_REFS}

    def ref(mid: str, i: int) -> float:
        v = cat[mid].reference_value(PTH_REFS[mid][i])
        return NAN if v is None else float(v)

    pattern = params["pattern"]
    out = []
    for p in pth:
        vals, texts = {}, []
        for mid, refs in PTH_REFS.items():
            x = by[mid].get(p["pid"])
            shown = NAN
            comp = ""
            if x is not None:
                comp = x["comparator"]
                if abs(x["day"] - p["day"]) <= params["max_days_apart"]:
                    shown = x["value"]
            vals[mid] = _representative(shown, comp, [
                float(cat[mid].reference_value(r)) for r in refs if r is not None])
            if not math.isnan(shown):
                texts.append(f"{cat[mid].symbol} {comp}{_g(shown)} {cat[mid].display_unit}")
        pv, ca, vd, eg = vals["PTH"], vals["CA"], vals["VITD25"], vals["EGFR"]
        pth_high = pv > ref("PTH", 1)
        pth_in = pv >= ref("PTH", 0) and pv <= ref("PTH", 1)
        ca_high = ca > ref("CA", 1)
        ca_known_not_high = not math.isnan(ca) and not ca_high
        ca_normal = ca >= ref("CA", 0) and ca <= ref("CA", 1)
        vd_low, vd_ok = vd < ref("VITD25", 0), vd >= ref("VITD25", 0)
        eg_low, eg_ok = eg < ref("EGFR", 0), eg >= ref("EGFR", 0)
        secondary = vd_low or eg_low
        if pattern == "primary":
            mask = pth_high and ca_high
        elif pattern == "primary_inappropriate":
            mask = pth_in and ca_high
        elif pattern == "secondary_vitamin_d":
            mask = pth_high and ca_known_not_high and vd_low
        elif pattern == "secondary_renal":
            mask = pth_high and ca_known_not_high and eg_low
        elif pattern == "normocalcaemic":
            mask = pth_high and ca_normal and vd_ok and eg_ok
        elif pattern == "incomplete":
            mask = pth_high and not ca_high and not secondary and (
                math.isnan(ca) or math.isnan(vd) or math.isnan(eg))
        else:
            mask = pth_in and ca_normal
        if not mask:
            continue
        r = {"pid": p["pid"], "value": p["value"], "day": p["day"], "source": p["source"],
             "marker": "PTH", "egfr": eg, "evidence": "; ".join(texts)}
        if pattern == "incomplete":
            r["recommended"] = ",".join(m for m in ("CA", "VITD25", "EGFR")
                                        if math.isnan(vals[m]))
        out.append(r)
    return _keep(out, (*_RESULT, "evidence", "recommended", "egfr"))
