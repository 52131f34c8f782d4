"""A clinician in a real browser: Playwright drives Debian's Chromium (never a browser
that Playwright downloads) against the clinic served by uvicorn.

Sign in, add a patient by the form, upload a FHIR bundle, find the patient on the
worklist and the findings on the patient page, switch to Chinese, and download the PDF.

What the glyph check proves: Chromium reports (DevTools ``CSS.getPlatformFontsForNode``)
the fonts it actually rendered each element's text with; every character on the Chinese
page must be in the character map of one of those fonts (read with fontTools from the
files fontconfig names). A character no font has would be drawn as a missing-glyph box
by a font that lacks it and fail the check, unless another font used elsewhere on the
page has it (then the page could still show one box: the check covers fonts, not pixels).
The screenshot is kept for a person to look at.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from .conftest import EXAMPLES, PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BUNDLE = Path(__file__).parent / "data" / "denosumab_rebound_bundle.json"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(shutil.which("fc-match") is None, reason="needs fontconfig"),
]


def _font_chars(family: str) -> set[str]:
    """Characters of the font file fontconfig picks for ``family``."""
    from fontTools.ttLib import TTCollection, TTFont

    out = subprocess.run(["fc-match", "-f", "%{file}\n%{index}", family], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    path, index = out[0], int(out[1] or 0)
    if path.lower().endswith((".ttc", ".otc")):
        font = TTCollection(path).fonts[index]
    else:
        font = TTFont(path, fontNumber=index)
    return {chr(c) for c in font.getBestCmap()}


def _rendered_fonts(page) -> set[str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    ids = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": "body *"})["nodeIds"]
    families = set()
    for nid in ids:
        for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": nid})["fonts"]:
            if f["glyphCount"]:
                families.add(f["familyName"])
    return families


def test_a_clinician_in_the_browser(live_server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    clinic, base = live_server
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "doc")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/worklist")

            # a patient by the form, then a result with a unit the marker accepts
            page.goto(f"{base}/patients/new")
            page.fill("input[name=patient_id]", "browser-1")
            page.fill("input[name=birth_date]", "1951-04-02")
            page.click("#new-patient button[type=submit]")
            page.wait_for_url(f"{base}/patients/*")
            page.fill("#add-result input[name=date]", "2024-08-01")
            page.select_option("#add-result select[name=marker]", "CTX_I")
            page.fill("#add-result input[name=value]", "0.45")
            page.select_option("#add-result select[name=unit]", "ng/mL")
            page.click("#add-result button[type=submit]")
            assert "0.45 ng/mL" in page.inner_text("#results")

            # a FHIR bundle
            page.goto(f"{base}/upload")
            page.set_input_files("#upload-file input[name=file]", str(BUNDLE))
            page.click("#upload-file button[type=submit]")
            assert "denosumab_rebound_bundle.json" in page.inner_text("#imported")

            # the worklist entry and the findings
            page.goto(f"{base}/worklist")
            row = page.locator("#worklist tr", has_text="fhir-denosumab")
            assert "Denosumab overdue or rebound risk" in row.inner_text()
            row.locator("a").click()
            page.wait_for_function("() => { const i = document.querySelector('img.plot');"
                                   " return i && i.complete && i.naturalWidth > 0; }",
                                   timeout=30_000)
            findings = page.inner_text("#findings")
            assert "Rebound of turnover after stopping denosumab" in findings
            assert "seed:B31" in findings
            assert "cannot diagnose osteoporosis" in page.inner_text("#disclaimer")

            # Chinese, and no character without a glyph
            with page.expect_navigation():
                page.click("#switch-lang")
            assert "地舒单抗停药后骨转换反弹" in page.inner_text("#findings")
            page.wait_for_function("() => { const i = document.querySelector('img.plot');"
                                   " return i && i.complete && i.naturalWidth > 0; }",
                                   timeout=30_000)  # the marker timeline plot, drawn
            shot = tmp_path / "patient_zh.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
            text = page.inner_text("body")
            chars = {c for c in text if not c.isspace() and ord(c) > 0x7F
                     and unicodedata.category(c)[0] != "C"}
            assert any("\u4e00" <= c <= "\u9fff" for c in chars)
            families = _rendered_fonts(page)
            assert any("CJK" in f or "Han" in f for f in families), families
            covered = set().union(*(_font_chars(f) for f in families))
            missing = sorted(chars - covered)
            assert not missing, f"characters no rendered font has: {missing[:20]}"

            # the PDF, as the command line makes it
            with page.expect_download() as dl:
                page.click("#download-pdf")
            pdf = tmp_path / "report.pdf"
            dl.value.save_as(pdf)
            assert pdf.read_bytes()[:5] == b"%PDF-"
        finally:
            browser.close()
    assert (EXAMPLES / "fhir_bundle.json").is_file()
