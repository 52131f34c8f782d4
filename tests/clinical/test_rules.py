"""Rule loading and validation: rules are data, and bad rules fail to load."""

from __future__ import annotations

import copy

import pytest

from boneturnover.clinical import RULES, RULESETS
from boneturnover.clinical.catalog import KnowledgeBaseError, load_toml
from boneturnover.clinical.rules import FINDING_CODES, get_ruleset, parse_rules
from boneturnover.errors import InputError

REQUIRED_CODES = {
    "NOT_DIAGNOSTIC", "TURNOVER_HIGH", "TURNOVER_NORMAL", "TURNOVER_LOW", "MARKER_CHOICE",
    "SECONDARY_CAUSE_CHECK", "RESPONSE_ADEQUATE", "RESPONSE_INADEQUATE", "TESTED_TOO_EARLY",
    "ADHERENCE_CONCERN", "HOLIDAY_REASSESS", "DENOSUMAB_OVERDUE", "DENOSUMAB_REBOUND",
    "ANABOLIC_RESPONSE", "ANABOLIC_NO_RESPONSE", "ANABOLIC_AFTER_BISPHOSPHONATE",
    "ROMOSOZUMAB_PATTERN_ATYPICAL", "MAGNESIUM_LOW", "CA_MG_RATIO_HIGH",
    "PREANALYTICAL_WARNING", "RETEST_DUE",
}

RAW = load_toml("rules.toml")["rules"]


def test_all_required_codes_have_rules():
    assert REQUIRED_CODES <= FINDING_CODES


def test_every_rule_cited_and_bilingual():
    for r in RULES:
        assert r.cite, r.id
        assert r.message.en and r.message.zh
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r.message.zh), r.id


def _one(**change):
    rule = copy.deepcopy(next(r for r in RAW if r["id"] == "turnover-high"))
    for k, v in change.items():
        if v is None:
            rule.pop(k)
        else:
            rule[k] = v
    return [rule]


@pytest.mark.parametrize("change, message", [
    ({"cite": None}, "no citation"),
    ({"cite": []}, "no citation"),
    ({"kind": "magic"}, "unknown kind"),
    ({"severity": "fatal"}, "severity"),
    ({"params": {"markers": ["CTX_I"], "op": ">"}}, "missing"),
    ({"params": {"markers": ["NOPE"], "op": ">", "ref": "ri_high"}}, "unknown marker"),
    ({"params": {"markers": ["CTX_I"], "op": ">", "ref": "cutoff:nope"}}, "no cutoff"),
    ({"message": {"en": "{marker} {baseline}", "zh": "{marker}"}}, "does not fill"),
    ({"message": {"en": "{marker}", "zh": "{value}"}}, "different placeholders"),
    ({"message": {"en": "x"}}, "en and zh"),
    ({"colour": "red"}, "unknown field"),
    ({"rulesets": ["nice"]}, "unknown ruleset"),
])
def test_bad_rule_fails_to_load(change, message):
    with pytest.raises(KnowledgeBaseError, match=message):
        parse_rules(_one(**change))


def test_duplicate_rule_id():
    with pytest.raises(KnowledgeBaseError, match="duplicate"):
        parse_rules(_one() + _one())


def test_rulesets():
    paper, iof = RULESETS["paper"], RULESETS["iof-ects-2017"]
    assert paper.targets["CTX_I"].value == 312.0  # seed:B25
    assert paper.targets["P1NP_TOTAL"].value == 35.0
    assert iof.targets["CTX_I"].value == 280.0  # Diez-Perez 2017
    assert (iof.lsc["CTX_I"].pct, iof.lsc["P1NP_TOTAL"].pct) == (56.0, 38.0)
    assert get_ruleset("paper") is paper
    with pytest.raises(InputError, match="unknown ruleset 'nice'"):
        get_ruleset("nice")
