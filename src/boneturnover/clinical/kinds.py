"""Condition kinds: their names, the message fields they fill and their param checks.

A rule names a condition kind (``kind = "latest_value"``) and gives it ``params``. This
module declares every kind once (:data:`SPECS`): which message placeholders its hits can
fill and how its params are checked when the rules load. It imports neither pandas nor
numpy, so that loading and checking the rules costs no more than reading them.

Each kind has two implementations of the same meaning, registered against its spec:

* vectorised over the tables of many patients (pandas), for cohorts:
  :mod:`boneturnover.clinical.conditions` and :mod:`boneturnover.clinical.safety`
  (:data:`boneturnover.clinical.conditions.KINDS`);
* over the records of one patient (plain Python), for :func:`~boneturnover.clinical.interpret`
  and the command line: :mod:`boneturnover.clinical.single_kinds`
  (:data:`boneturnover.clinical.single_kinds.RECORD_KINDS`).

``tests/clinical`` checks that both give the same findings for the same patient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..knowledge.drugs import RULE_CLASSES, parse_duration_h
from ..knowledge.markers import KnowledgeBaseError, MarkerCatalog
from .catalog import BONE_TURNOVER_MARKERS, DRUGS

__all__ = ["KindSpec", "SPECS", "NUMBER_COLUMNS", "TEXT_COLUMNS", "CENSORED", "HIT_COLUMNS",
           "COMMON_FIELDS", "ANTIRESORPTIVE_CLASSES", "OSTEOPOROSIS_CLASSES", "OUTCOMES",
           "PTH_PATTERNS", "PTH_REFS", "OPS"]

#: Numeric columns a hit may carry (NaN where not applicable).
NUMBER_COLUMNS = (
    "value", "day", "baseline", "change_pct", "change_abs", "lsc_pct", "target", "days_on",
    "nadir_days", "ref", "ref_low", "ref_high", "reference", "days_off", "last_dose", "due",
    "days_late", "interval_days", "grace_days", "ratio", "threshold", "ca_mg_d", "mg_mg_d",
    "egfr", "window_days", "start", "stop", "holiday_start", "time_min", "last_day",
    "change_pct_min", "change_pct_max",
)
#: Text columns a hit may carry: ``comparator`` of a censored result (``<``, ``<=``, ``>``,
#: ``>=``; ``""`` exact), ``baseline_comparator`` and ``reference_comparator`` of its
#: baseline and reference, ``about`` the finding codes a censored result left undecided.
TEXT_COLUMNS = ("marker", "drug", "prior_drug", "source", "recommended", "evidence",
                "comparator", "baseline_comparator", "reference_comparator", "about")
#: A hit with this column true could not be decided because a result is censored: the
#: engine turns it into the caveat of a ``censored`` rule instead of the rule's finding.
CENSORED = "censored_"
HIT_COLUMNS = ("pid", *TEXT_COLUMNS, *NUMBER_COLUMNS)
#: Placeholders every message may use.
COMMON_FIELDS = frozenset({"marker", "value", "date", "row"})

ANTIRESORPTIVE_CLASSES = ("bisphosphonate", "denosumab", "serm")
OSTEOPOROSIS_CLASSES = ("bisphosphonate", "denosumab", "serm", "pth_analogue", "romosozumab")
#: Outcomes of ``antiresorptive_response``, in the order they are tried.
OUTCOMES = ("adequate", "withheld", "too_early", "expected", "inadequate")
#: Comparisons of one value with one reference.
OPS = (">", ">=", "<", "<=")
#: Patterns ``pth_pattern`` tells apart.
PTH_PATTERNS = ("primary", "primary_inappropriate", "secondary_vitamin_d", "secondary_renal",
                "normocalcaemic", "incomplete", "normal")
#: Markers ``pth_pattern`` reads and the catalogue reference each is compared with.
PTH_REFS = {"PTH": ("ri_low", "ri_high"), "CA": ("ri_low", "ri_high"),
            "VITD25": ("ri_low", None), "EGFR": ("cutoff:ckd", None)}


@dataclass(frozen=True)
class KindSpec:
    """A condition kind: the message fields its hits fill and its param check."""

    name: str
    fields: frozenset[str]
    check: Callable[[Mapping[str, Any], MarkerCatalog], None]


#: Every condition kind, by name.
SPECS: dict[str, KindSpec] = {}


def _spec(name: str, fields: Sequence[str],
          check: Callable[[Mapping[str, Any], MarkerCatalog], None]) -> None:
    SPECS[name] = KindSpec(name, frozenset(fields) | COMMON_FIELDS, check)


# -- shared checks ---------------------------------------------------------------------


def require(params: Mapping[str, Any], keys: Sequence[str], optional: Sequence[str] = ()) -> None:
    missing = [k for k in keys if k not in params]
    extra = set(params) - set(keys) - set(optional)
    if missing or extra:
        raise KnowledgeBaseError(
            f"params {dict(params)!r}: missing {missing}, unexpected {sorted(extra)}; "
            f"expected {list(keys)} (+ optional {list(optional)})"
        )


def check_markers(markers: Sequence[str], catalog: MarkerCatalog) -> None:
    unknown = [m for m in markers if m not in catalog]
    if unknown:
        raise KnowledgeBaseError(f"unknown marker id(s) {unknown}; expected catalog ids")


def check_classes(classes: Sequence[str]) -> None:
    unknown = [c for c in classes if c not in RULE_CLASSES]
    if unknown:
        raise KnowledgeBaseError(f"unknown drug class(es) {unknown}; expected {RULE_CLASSES}")


def _check_ref(ref: Any, markers: Sequence[str], catalog: MarkerCatalog) -> None:
    for r in ref if isinstance(ref, list) else [ref]:
        for m in markers:
            catalog[m].reference_value(r)


def check_latest_value(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["markers", "op", "ref"])
    check_markers(p["markers"], cat)
    if p["op"] not in (*OPS, "within", "between"):
        raise KnowledgeBaseError(f"op {p['op']!r} unknown")
    if (p["op"] in ("within", "between")) != isinstance(p["ref"], list):
        raise KnowledgeBaseError("ops within/between take ref = [low, high]; others one ref")
    _check_ref(p["ref"], p["markers"], cat)


def check_latest_all(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["clauses"], ["max_days_apart", "untreated_only"])
    for cl in p["clauses"]:
        check_latest_value(cl, cat)


def check_selection(p: Mapping[str, Any]) -> None:
    if "classes" in p:
        check_classes(p["classes"])
    if "drugs" in p:
        unknown = [d for d in p["drugs"] if d not in DRUGS]
        if unknown:
            raise KnowledgeBaseError(f"unknown drug(s) {unknown}; expected catalogue keys")
    if "drugs" not in p and "classes" not in p:
        raise KnowledgeBaseError("give drugs = [...] or classes = [...]")


def duration_days(text: str, where: str) -> float:
    """A UCUM duration of a rule's params (``"5 a"``) in days."""
    try:
        return parse_duration_h(text, where) / 24.0
    except Exception as exc:  # InputError with the text and what was expected
        raise KnowledgeBaseError(f"{where}: {exc}") from None


# -- the kinds of conditions.py ----------------------------------------------------------


def _check_censored(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, [], ["codes"])
    if not all(isinstance(c, str) and c for c in p.get("codes", ["x"])):
        raise KnowledgeBaseError("codes must be a list of finding codes")


def _check_patient_context(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["flag", "recommend"], ["marker", "op", "ref"])
    if p["flag"] not in ("ckd", "glucocorticoids"):
        raise KnowledgeBaseError(f"flag {p['flag']!r} must be ckd or glucocorticoids")
    check_markers(p["recommend"], cat)
    if "marker" in p:
        check_latest_value({"markers": [p["marker"]], "op": p["op"], "ref": p["ref"]}, cat)


def _check_missing(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["when_any", "required"])
    check_markers(p["when_any"], cat)
    for g in p["required"]:
        check_markers(g, cat)


def _check_preanalytical(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    checks = {"fasting_false": [], "fasting_unknown": [], "late_sample": ["latest_time"],
              "renal": ["egfr_ref", "max_days_apart"]}
    if p.get("check") not in checks:
        raise KnowledgeBaseError(f"check must be one of {sorted(checks)}")
    require(p, ["check", *checks[p["check"]]])
    if p["check"] == "renal":
        cat["EGFR"].reference_value(p["egfr_ref"])


def _check_response(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["outcome"], ["classes", "routes", "markers", "latest_time"])
    if p["outcome"] not in OUTCOMES:
        raise KnowledgeBaseError(f"outcome must be one of {OUTCOMES}")
    check_classes(p.get("classes", ANTIRESORPTIVE_CLASSES))
    check_markers(p.get("markers", BONE_TURNOVER_MARKERS), cat)
    hh, _, mm = str(p.get("latest_time", "10:00")).partition(":")
    if not (hh.isdigit() and mm.isdigit()):
        raise KnowledgeBaseError("latest_time must be HH:MM")


def _check_classes_param(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["classes"])
    check_classes(p["classes"])


def _check_holiday(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["classes", "markers"])
    check_classes(p["classes"])
    check_markers(p["markers"], cat)


def _check_holiday_duration(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["drugs", "max_days"])


def _check_rebound(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["classes", "markers", "compare"], ["phase"])
    check_classes(p["classes"])
    check_markers(p["markers"], cat)
    if p["compare"] not in ("baseline", "ri_high_without_baseline"):
        raise KnowledgeBaseError("compare must be baseline or ri_high_without_baseline")
    if p.get("phase", "off") not in ("off", "lapsed"):
        raise KnowledgeBaseError("phase must be off (stopped course) or lapsed (dose overdue)")


def _check_followon(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["classes", "followon_classes"])
    check_classes(p["classes"])
    check_classes(p["followon_classes"])


def _check_change_window(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["classes", "markers", "window_days", "metric", "op", "threshold"],
            ["threshold_unit"])
    check_classes(p["classes"])
    check_markers(p["markers"], cat)
    if p["metric"] not in ("pct", "abs") or p["op"] not in OPS:
        raise KnowledgeBaseError("metric must be pct or abs, op one of > >= < <=")
    if p["metric"] == "abs":
        units = {cat[m].canonical_unit for m in p["markers"]}
        if units != {p.get("threshold_unit")}:
            raise KnowledgeBaseError(
                f"threshold_unit {p.get('threshold_unit')!r} must equal the markers' "
                f"canonical unit {sorted(units)}"
            )
    if isinstance(p["threshold"], str) and p["threshold"] != "lsc":
        raise KnowledgeBaseError("threshold must be a number or 'lsc'")


def _check_prior(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["classes", "prior_classes"])
    check_classes(p["classes"])
    check_classes(p["prior_classes"])


def _check_retest(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["phase", "state"])
    if p["phase"] not in ("on", "off", "lapsed") or p["state"] not in ("overdue", "upcoming"):
        raise KnowledgeBaseError("phase must be on/off/lapsed and state overdue/upcoming")


_spec("censored", ["about", "change_pct", "drug"], _check_censored)
_spec("always", [], lambda p, c: require(p, []))
_spec("latest_value", ["ref", "ref_low", "ref_high"], check_latest_value)
_spec("latest_all", ["evidence"], check_latest_all)
_spec("patient_context", ["recommended", "egfr"], _check_patient_context)
_spec("markers_missing", ["recommended"], _check_missing)
_spec("preanalytical", ["time", "latest_time", "egfr"], _check_preanalytical)
_spec("antiresorptive_response",
      ["drug", "baseline", "change_pct", "lsc_pct", "target", "days_on", "nadir_days",
       "evidence"], _check_response)
_spec("baseline_missing", ["drug", "start_date", "window_days"], _check_classes_param)
_spec("holiday_rise", ["drug", "reference", "change_pct", "lsc_pct", "stop_date", "days_off"],
      _check_holiday)
_spec("holiday_duration", ["drug", "stop_date", "holiday_start", "days_off"],
      _check_holiday_duration)
_spec("dose_overdue", ["drug", "last_dose", "due_date", "interval_days", "grace_days",
                       "days_late"], _check_classes_param)
_spec("off_treatment_rebound", ["drug", "reference", "change_pct", "stop_date", "days_off",
                                "last_dose", "due_date", "interval_days", "grace_days",
                                "days_late"], _check_rebound)
_spec("stopped_without_followon", ["drug", "stop_date"], _check_followon)
_spec("change_window", ["drug", "baseline", "change_pct", "change_abs", "lsc_pct", "days_on",
                        "threshold"], _check_change_window)
_spec("prior_course", ["drug", "prior_drug", "start_date"], _check_prior)
_spec("supplement_ratio", ["ratio", "threshold", "ca_mg_d", "mg_mg_d"],
      lambda p, c: require(p, ["threshold"]))
_spec("retest", ["drug", "due_date", "start_date", "stop_date", "last_date", "last_dose"],
      _check_retest)


# -- the kinds of safety.py -------------------------------------------------------------


def _check_latest_all_context(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    inner = {k: v for k, v in p.items() if k not in ("glucocorticoids", "unless_measured")}
    check_latest_all(inner, cat)
    if "glucocorticoids" in p and not isinstance(p["glucocorticoids"], bool):
        raise KnowledgeBaseError("glucocorticoids must be true or false")
    if "unless_measured" in p:
        u = p["unless_measured"]
        require(u, ["markers", "within_days"])
        check_markers(u["markers"], cat)
    if "glucocorticoids" not in p and "unless_measured" not in p:
        raise KnowledgeBaseError("give glucocorticoids = true/false or unless_measured")


def _check_window_missed(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["classes", "markers", "window_days", "side"])
    check_classes(p["classes"])
    check_markers(p["markers"], cat)
    lo, hi = p["window_days"]
    if not 0 <= lo < hi or p["side"] not in ("before", "after"):
        raise KnowledgeBaseError("window_days = [low, high] with 0 <= low < high; "
                                 "side = before or after")


def _check_label_limit(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["drugs", "limit", "op"])
    check_selection(p)
    if p["limit"] not in ("course", "doses") or p["op"] not in (">", "=="):
        raise KnowledgeBaseError("limit = course or doses; op = '>' or '=='")
    for d in p["drugs"]:
        lim = DRUGS[d].limit
        if lim is None or (lim.course_h if p["limit"] == "course" else lim.doses) is None:
            raise KnowledgeBaseError(f"drug {d!r} has no labelled {p['limit']} limit in the "
                                     "drug catalogue")


def _check_duration(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["min_duration"], ["drugs", "classes", "routes"])
    check_selection(p)
    duration_days(p["min_duration"], "min_duration")


def _check_followon_course(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["classes", "followon_classes"], ["check_days", "late"])
    check_classes(p["classes"])
    check_classes(p["followon_classes"])
    if "late" in p and not isinstance(p["late"], bool):
        raise KnowledgeBaseError("late must be true or false")


def _check_lab_on_course(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["marker", "op", "ref"], ["drugs", "classes", "routes"])
    check_selection(p)
    check_latest_value({"markers": [p["marker"]], "op": p["op"], "ref": p["ref"]}, cat)
    if p["op"] in ("within", "between"):
        raise KnowledgeBaseError("lab_on_course takes one ref and op < <= > >=")


def _check_pth(p: Mapping[str, Any], cat: MarkerCatalog) -> None:
    require(p, ["pattern", "max_days_apart"])
    if p["pattern"] not in PTH_PATTERNS:
        raise KnowledgeBaseError(f"pattern must be one of {PTH_PATTERNS}")
    for mid, refs in PTH_REFS.items():
        for r in refs:
            if r is not None and cat[mid].reference_value(r) is None:
                raise KnowledgeBaseError(f"{mid} has no {r} in the marker catalogue")


_spec("latest_all_context", ["evidence", "drug"], _check_latest_all_context)
_spec("window_missed", ["drug", "baseline", "change_abs", "days_on", "due_date", "start_date"],
      _check_window_missed)
_spec("label_limit", ["drug", "days_on", "threshold", "interval_days", "start_date",
                      "last_dose"], _check_label_limit)
_spec("course_duration", ["drug", "days_on", "threshold", "start_date"], _check_duration)
_spec("followon_course", ["drug", "prior_drug", "stop_date", "start_date", "days_off",
                          "due_date", "interval_days", "grace_days"], _check_followon_course)
_spec("lab_on_course", ["drug", "ref", "egfr", "due_date", "last_dose", "start_date"],
      _check_lab_on_course)
_spec("next_dose", ["drug", "last_dose", "due_date", "interval_days", "grace_days"],
      lambda p, c: (require(p, ["classes"]), check_classes(p["classes"])))
_spec("pth_pattern", ["evidence", "recommended", "egfr"], _check_pth)
