"""Rules and rule sets, loaded from ``data/rules.toml`` and ``data/rulesets.toml``.

A :class:`Rule` is a small declarative record: id, condition kind and params, finding
code, severity, English and Chinese messages with placeholders, and citations. Loading
checks each rule: a rule without citation, with an unknown kind, with params its kind
rejects or with a placeholder its kind cannot fill fails with
:class:`~boneturnover.clinical.catalog.KnowledgeBaseError`.

Examples
--------
>>> from boneturnover.clinical.rules import RULES, RULESETS
>>> sorted(RULESETS)
['iof-ects-2017', 'paper']
>>> RULESETS["paper"].targets["CTX_I"].value, RULESETS["iof-ects-2017"].targets["CTX_I"].value
(312.0, 280.0)
>>> any(r.code == "NOT_DIAGNOSTIC" for r in RULES)
True
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import InputError
from ..knowledge.drugs import Drug
from ..knowledge.markers import MarkerCatalog
from .catalog import (
    CATALOG,
    RULE_CLASSES,
    Citation,
    KnowledgeBaseError,
    RetestPlan,
    Text,
    Window,
    load_toml,
    parse_citations,
    parse_retest,
    parse_window,
)
from .kinds import SPECS as KINDS

__all__ = ["SEVERITIES", "Target", "LscValue", "ExpectedResponse", "Ruleset", "Rule", "RULES",
           "RULESETS", "RESPONSES", "get_ruleset", "parse_rules", "FINDING_CODES"]

#: Severities, most severe first.
SEVERITIES = ("alert", "warning", "info")


@dataclass(frozen=True)
class Target:
    """A treatment target: response if the value is below it (canonical unit)."""

    value: float
    cite: tuple[Citation, ...]


@dataclass(frozen=True)
class LscValue:
    pct: float
    cite: tuple[Citation, ...]


#: How an antiresorptive response is judged (``criterion`` of ``[responses.<class>]``).
CRITERIA = ("lsc_or_target", "expected_change")


@dataclass(frozen=True)
class ExpectedResponse:
    """The response a drug class is expected to give (``rulesets.toml [responses.<class>]``).

    Attributes
    ----------
    criterion : {"lsc_or_target", "expected_change"}
        ``lsc_or_target``: a decrease beyond the LSC or a value below the target shows a
        response, anything else after the nadir is no response. ``expected_change``: the
        class lowers markers less than the LSC on average, so a decrease within the LSC is
        the expected effect and only a change above ``no_response_above_pct`` is no response.
    expected_pct : mapping
        Marker id -> mean change from baseline (%) the class gives at ``at_days``.
    """

    klass: str
    criterion: str
    expected_pct: Mapping[str, float]
    at_days: int | None
    no_response_above_pct: float | None
    cite: tuple[Citation, ...]


def _load_responses(catalog: MarkerCatalog) -> dict[str, ExpectedResponse]:
    out = {}
    for klass, d in load_toml("rulesets.toml").get("responses", {}).items():
        where = f"rulesets.toml [responses.{klass}]"
        if klass not in RULE_CLASSES:
            raise KnowledgeBaseError(f"{where}: unknown drug class {klass!r}")
        if d.get("criterion") not in CRITERIA:
            raise KnowledgeBaseError(f"{where}: criterion must be one of {CRITERIA}")
        expected = {mid: float(v) for mid, v in d.get("expected_pct", {}).items()}
        for mid in expected:
            if mid not in catalog:
                raise KnowledgeBaseError(f"{where}: unknown marker {mid!r}")
        above = d.get("no_response_above_pct")
        if d["criterion"] == "expected_change" and (above is None or not expected):
            raise KnowledgeBaseError(
                f"{where}: criterion expected_change needs expected_pct and no_response_above_pct")
        out[klass] = ExpectedResponse(
            klass=klass, criterion=d["criterion"], expected_pct=expected,
            at_days=None if d.get("at_days") is None else int(d["at_days"]),
            no_response_above_pct=None if above is None else float(above),
            cite=parse_citations(d.get("cite"), where),
        )
    return out


#: Expected response of each antiresorptive drug class, shared by every rule set.
RESPONSES: Mapping[str, ExpectedResponse] = _load_responses(CATALOG)


@dataclass(frozen=True)
class Ruleset:
    """Numbers in which published guidance differs (``rulesets.toml``).

    Attributes
    ----------
    baseline_window_days : int
        A baseline must lie within this many days before the start of a course.
    window_tolerance_days : int
        A result this many days before the expected nadir is still read as taken at it
        (clinic scheduling around a planned sampling date).
    responses : mapping
        Drug class -> :class:`ExpectedResponse`.
    targets : mapping
        Marker id -> :class:`Target` (canonical unit).
    lsc : mapping
        Marker id -> :class:`LscValue` replacing the catalog LSC (a laboratory override
        of the catalog still wins).
    windows, retests : mapping
        ``drug`` or ``class:route`` or ``class`` -> override of the drug's defaults.
    """

    id: str
    title: Text
    baseline_window_days: int
    baseline_cite: tuple[Citation, ...]
    targets: Mapping[str, Target]
    lsc: Mapping[str, LscValue]
    windows: Mapping[str, Window]
    retests: Mapping[str, RetestPlan]
    window_tolerance_days: int = 0
    window_tolerance_cite: tuple[Citation, ...] = ()
    responses: Mapping[str, ExpectedResponse] = field(default_factory=dict)

    def _lookup(self, table: Mapping[str, Any], drug: Drug, route: str) -> Any:
        for key in (drug.key, f"{drug.rule_class}:{route}", drug.rule_class):
            if key in table:
                return table[key]
        return None

    def window_for(self, drug: Drug, route: str) -> Window | None:
        """Nadir window of ``drug`` given by ``route`` under this rule set."""
        return self._lookup(self.windows, drug, route) or drug.window

    def retest_for(self, drug: Drug, route: str) -> RetestPlan | None:
        return self._lookup(self.retests, drug, route) or drug.retest


def _load_rulesets(catalog: MarkerCatalog) -> dict[str, Ruleset]:
    out = {}
    for rid, d in load_toml("rulesets.toml")["rulesets"].items():
        where = f"rulesets.toml [rulesets.{rid}]"
        targets = {}
        for mid, t in d.get("targets", {}).items():
            m = catalog[mid]
            targets[mid] = Target(m.to_canonical(float(t["value"]), t["unit"]),
                                  parse_citations(t.get("cite"), f"{where}.targets.{mid}"))
        lsc = {mid: LscValue(float(v["pct"]), parse_citations(v.get("cite"), f"{where}.lsc.{mid}"))
               for mid, v in d.get("lsc", {}).items()}
        for mid in (*targets, *lsc):
            if mid not in catalog:
                raise KnowledgeBaseError(f"{where}: unknown marker {mid!r}")
        bw = d["baseline_window_days"]
        tol = d.get("window_tolerance_days", {"value": 0, "cite": None})
        out[rid] = Ruleset(
            id=rid,
            title=Text(d["title"]["en"], d["title"]["zh"]),
            baseline_window_days=int(bw["value"]),
            baseline_cite=parse_citations(bw.get("cite"), where + ".baseline_window_days"),
            targets=targets,
            lsc=lsc,
            windows={k: parse_window(v, f"{where}.window.{k}")
                     for k, v in d.get("window", {}).items()},
            retests={k: parse_retest(v, f"{where}.retest.{k}")
                     for k, v in d.get("retest", {}).items()},
            window_tolerance_days=int(tol["value"]),
            window_tolerance_cite=(() if "window_tolerance_days" not in d else
                                   parse_citations(tol.get("cite"),
                                                   where + ".window_tolerance_days")),
            responses=MappingProxyType(dict(RESPONSES)),
        )
    return out


#: Rule sets by id; ``paper`` is the default.
RULESETS: Mapping[str, Ruleset] = _load_rulesets(CATALOG)


def get_ruleset(name: str | Ruleset) -> Ruleset:
    """Return a rule set by id.

    Raises
    ------
    InputError
        If the id is unknown.
    """
    if isinstance(name, Ruleset):
        return name
    try:
        return RULESETS[name]
    except KeyError:
        raise InputError(
            f"unknown ruleset {name!r}; expected one of {', '.join(RULESETS)}"
        ) from None


@dataclass(frozen=True)
class Rule:
    """One declarative interpretation rule (see ``data/rules.toml``)."""

    id: str
    code: str
    severity: str
    kind: str
    params: Mapping[str, Any]
    message: Text
    cite: tuple[Citation, ...]
    rulesets: tuple[str, ...] | None = None

    def applies_to(self, ruleset: str) -> bool:
        return self.rulesets is None or ruleset in self.rulesets


def _placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def parse_rules(raw: Sequence[Mapping[str, Any]], catalog: MarkerCatalog = CATALOG,
                where: str = "rules.toml") -> tuple[Rule, ...]:
    """Validate and build rules from their TOML records."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, d in enumerate(raw):
        rid = d.get("id", f"#{i + 1}")
        loc = f"{where} rule {rid!r}"
        required = {"id", "code", "severity", "kind", "message", "cite"}
        missing = required - set(d)
        if "cite" in missing:
            raise KnowledgeBaseError(f"{loc}: no citation; every rule needs cite = [...]")
        if missing:
            raise KnowledgeBaseError(f"{loc}: missing field(s) {sorted(missing)}")
        extra = set(d) - required - {"params", "rulesets"}
        if extra:
            raise KnowledgeBaseError(f"{loc}: unknown field(s) {sorted(extra)}")
        if rid in seen:
            raise KnowledgeBaseError(f"{loc}: duplicate id")
        seen.add(rid)
        if d["severity"] not in SEVERITIES:
            raise KnowledgeBaseError(f"{loc}: severity {d['severity']!r} not in {SEVERITIES}")
        kind = KINDS.get(d["kind"])
        if kind is None:
            raise KnowledgeBaseError(f"{loc}: unknown kind {d['kind']!r}; known: {sorted(KINDS)}")
        params = d.get("params", {})
        try:
            kind.check(params, catalog)
        except KnowledgeBaseError as exc:
            raise KnowledgeBaseError(f"{loc}: {exc}") from None
        msg = d["message"]
        if set(msg) != {"en", "zh"} or not all(isinstance(v, str) and v for v in msg.values()):
            raise KnowledgeBaseError(f"{loc}: message needs non-empty en and zh")
        for lang, text in msg.items():
            unknown = _placeholders(text) - kind.fields
            if unknown:
                raise KnowledgeBaseError(
                    f"{loc}: message.{lang} uses {sorted(unknown)}, which kind {kind.name!r} "
                    f"does not fill; available: {sorted(kind.fields)}"
                )
        if _placeholders(msg["en"]) != _placeholders(msg["zh"]):
            raise KnowledgeBaseError(f"{loc}: en and zh messages use different placeholders")
        rs = d.get("rulesets")
        if rs is not None:
            unknown_rs = set(rs) - set(RULESETS)
            if unknown_rs:
                raise KnowledgeBaseError(f"{loc}: unknown ruleset(s) {sorted(unknown_rs)}")
        rules.append(Rule(
            id=rid, code=d["code"], severity=d["severity"], kind=d["kind"], params=params,
            message=Text(msg["en"], msg["zh"]), cite=parse_citations(d["cite"], loc),
            rulesets=None if rs is None else tuple(rs),
        ))
    return tuple(rules)


#: The packaged rules, in evaluation (and report) order.
RULES: tuple[Rule, ...] = parse_rules(load_toml("rules.toml")["rules"])

#: Every finding code a packaged rule can emit.
FINDING_CODES: frozenset[str] = frozenset(r.code for r in RULES)
