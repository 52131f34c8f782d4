"""The clinical report cites the source reviews readably (text, HTML, JSON; en and zh)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boneturnover.clinical import interpret
from boneturnover.clinical.io import load_patient
from boneturnover.knowledge.sources import cite

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"


@pytest.fixture(scope="module")
def report():
    return interpret(load_patient(EXAMPLES / "low_magnesium.toml"), today="2024-07-20")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_text_and_html_show_no_bare_fact_key(report, lang):
    for out in (report.to_text(lang), report.to_html(lang)):
        assert "seed:" not in out


def test_text_report_cites_review_section_and_claim(report):
    text = report.to_text("en")
    assert "cannot diagnose osteoporosis (Cheng et al. 2022, §3.2)." in text
    assert "Magnesium review, §2.2 (review)" in text  # a finding's sources, with evidence
    assert cite("seed:B18") in text and cite("seed:M10") in text  # the sources list
    assert "Cheng et al. 2022: Cheng Y, et al. Clinical application" in text
    assert "costello2016: Costello RB" in text  # other sources as before


def test_zh_report_cites_in_chinese(report):
    text = report.to_text("zh")
    assert "骨质疏松症（程亚军等 2022，第 3.2 节）" in text
    assert cite("seed:B18", "zh") in text
    assert "程亚军等 2022：程亚军，等．骨转换标志物在绝经后骨质疏松症中的临床应用" in text
    assert "镁与骨质疏松综述，第二部分第 2 节 (review)" in text


def test_json_keeps_the_key_and_adds_the_citation(report):
    d = json.loads(report.to_json())
    src = [s for f in d["findings"] for s in f["sources"]]
    b18 = next(s for s in src if s["ref"] == "seed:B18")
    assert b18["evidence"] == "review"
    assert b18["citation"] == cite("seed:B18") and b18["citation_zh"] == cite("seed:B18", "zh")
    other = next(s for s in src if s["ref"] == "costello2016")
    assert other["citation"].startswith("Costello RB")
