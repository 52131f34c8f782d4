"""Every word of the clinic exists in English and Simplified Chinese."""

from __future__ import annotations

import re
from importlib import resources

from boneturnover.web.i18n import UI, Words


def test_both_languages_have_the_same_words():
    assert set(UI["en"]) == set(UI["zh"])
    assert all(v.strip() for lang in UI for v in UI[lang].values())


def test_every_word_a_template_uses_exists():
    folder = resources.files("boneturnover.web") / "templates"
    used = set()
    for f in folder.iterdir():
        used |= set(re.findall(r"w\.ui\('([a-z_]+)'\)", f.read_text("utf-8")))
    assert used and used <= set(UI["en"]), used - set(UI["en"])
    w = Words("zh")
    assert w.code("DENOSUMAB_REBOUND") == "地舒单抗停药后骨转换反弹"
    assert "镁" in w.marker("MG") and w.drug("denosumab") == "地舒单抗"
    assert Words("fr").lang == "en"
