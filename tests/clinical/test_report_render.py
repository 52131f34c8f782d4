"""The filed report: HTML and PDF (headless Chromium), Chinese glyphs, atomic writes."""

from __future__ import annotations

import html as html_lib
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from boneturnover.cli import main
from boneturnover.clinical import interpret, load_patient, plots, render
from boneturnover.clinical.report import _UI, CODE_TITLE, EVIDENCE_LABEL, SEVERITY_LABEL
from boneturnover.clinical.rules import FINDING_CODES, RULES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"
DMAB = str(EXAMPLES / "denosumab_rebound.toml")
DMAB_TODAY = "2024-03-15"
DMAB_RETEST = "2024-05-31"  # RETEST_DUE of the example: 91 days after the last result

try:
    CHROMIUM: str | None = render.find_chromium()
except render.BrowserNotFoundError:
    CHROMIUM = None
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install "
                             "chromium; .ci/run installs it)")
needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdffonts")),
    reason="poppler-utils (pdftotext, pdffonts) is not installed")
needs_cjk = pytest.mark.skipif(
    plots.cjk_font() is None, reason="no CJK font is installed (Debian: fonts-noto-cjk)")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def dmab():
    return interpret(load_patient(DMAB), today=DMAB_TODAY)


@pytest.fixture(scope="module")
def pages(dmab):
    return {lang: dmab.to_html(lang) for lang in ("en", "zh")}


def _visible(page: str) -> str:
    """The text a reader sees: no style, no tags, no embedded image."""
    body = re.sub(r"<style>.*?</style>|<title>.*?</title>", "", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", body))


def _pdftext(path: Path, first: int | None = None, last: int | None = None) -> str:
    cmd = ["pdftotext", "-enc", "UTF-8"]
    cmd += ["-f", str(first)] if first else []
    cmd += ["-l", str(last)] if last else []
    return subprocess.run([*cmd, str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _pdfpages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


# -- HTML --------------------------------------------------------------------------------

def test_summary_comes_first_then_findings_with_sources_and_trends(pages):
    page = pages["en"]
    order = [page.index(f"<section class='{c}'") for c in ("summary", "findings", "trends",
                                                           "timeline", "sources")]
    assert order == sorted(order)
    summary = _visible(page[order[0]:order[1]])
    assert "example-denosumab-rebound" in summary and "1948-06-30" in summary
    assert "Rebound of turnover after stopping denosumab" in summary  # the conclusion
    assert "Start or adjust transition therapy" in summary  # what to do
    assert f"{DMAB_RETEST}" in summary and "When to retest" in summary
    assert "1150 ng/L" in summary and "< 312" in summary  # latest results with the target
    findings = _visible(page[order[1]:order[2]])
    assert "tsourdi2017 (guideline)" in findings and "DENOSUMAB_REBOUND" in findings
    assert "data:image/png;base64," in page[order[2]:order[3]]


def test_html_is_print_ready(pages):
    page = pages["en"]
    assert "@page{size:A4" in page and "@media print" in page
    assert re.search(r"section\.summary\{break-after:page", page)


def test_zh_html_is_chinese_throughout(pages, dmab):
    text = _visible(pages["zh"])
    for heading in ("骨转换标志物解读报告", "结论", "处理建议", "复查时间", "最近检测结果",
                    "详细结论与文献依据", "标志物趋势", "时间线", "文献依据"):
        assert heading in text, heading
    assert "警报" in text and "警告" in text and "提示" in text
    assert not re.search(r"\b(alert|warning|info|overdue)\b", text, re.I)
    assert "（指南）" in text and "（随机对照试验）" in text and "（综述）" in text
    assert not re.search(r"\((guideline|RCT|review|cohort|expert-opinion)\)", text)
    assert "µg/L" in text and not re.search(r"(?<![µ\w])ug/L", text)
    assert "开始地舒单抗（皮下）" in text
    english = {v for k, v in _UI["en"].items() if k not in ("disclaimer",)}
    leaked = sorted(v for v in english if len(v) > 3 and v in text)
    assert not leaked, leaked


def test_every_finding_code_and_evidence_level_has_chinese():
    for code in FINDING_CODES:
        assert code in CODE_TITLE and CJK.search(CODE_TITLE[code][1]), code
    for rule in RULES:
        for c in rule.cite:
            assert CJK.search(EVIDENCE_LABEL["zh"][c.evidence]), c.evidence
    assert all(CJK.search(v) for v in SEVERITY_LABEL["zh"].values())


def test_json_report_does_not_import_matplotlib():
    code = ("import sys; from boneturnover.cli import main; "
            f"main(['interpret', {DMAB!r}, '--today', {DMAB_TODAY!r}, '--format', 'json']); "
            "print('matplotlib' in sys.modules, 'boneturnover.clinical.plots' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


# -- the plot ----------------------------------------------------------------------------

@needs_cjk
def test_zh_plot_has_every_glyph(dmab):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" fails the test
        png = dmab.plot_png("zh")
    assert png[:4] == b"\x89PNG"
    # and the font covers every character of the Chinese labels
    from matplotlib import font_manager as fm
    from matplotlib.ft2font import FT2Font

    path = fm.findfont(fm.FontProperties(family=plots.cjk_font()), fallback_to_default=False)
    charmap = FT2Font(path).get_charmap()
    labels = "".join(plots.PLOT_UI["zh"].values()) + "".join(
        s.name("zh") for s in dmab.series) + "".join(c.name.zh for c in dmab.courses)
    missing = sorted({ch for ch in labels if ord(ch) not in charmap})
    assert not missing, missing


def test_the_glyph_check_would_see_a_font_without_chinese(dmab, monkeypatch):
    monkeypatch.setattr(plots, "cjk_font", lambda: "DejaVu Sans")
    with pytest.warns(UserWarning, match="missing from font"):
        dmab.plot_png("zh")


def test_plot_falls_back_to_english_without_a_cjk_font(dmab, monkeypatch):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        png = dmab.plot_png("zh")
    kinds = [w.category for w in seen]
    assert plots.CJKFontWarning in kinds and png[:4] == b"\x89PNG"
    assert not [w for w in seen if "missing from font" in str(w.message)]


# -- PDF through headless Chromium ---------------------------------------------------------

@needs_chromium
@needs_poppler
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pdf_puts_the_summary_alone_on_page_one(tmp_path, lang):
    out = tmp_path / f"r-{lang}.pdf"
    assert main(["interpret", DMAB, "--today", DMAB_TODAY, "--format", "pdf", "--lang", lang,
                 "--out", str(out)]) == 0
    assert out.read_bytes()[:5] == b"%PDF-"
    ui = _UI[lang]
    first = _pdftext(out, 1, 1)
    for key in ("title", "conclusion", "actions", "retest"):
        assert ui[key] in first, key
    assert "example-denosumab-rebound" in first and DMAB_RETEST in first
    assert _pdfpages(out) >= 2
    assert _pdftext(out, 2, 2).lstrip().startswith(ui["findings_full"])  # then the findings
    rest = _pdftext(out, 2)
    assert ui["findings_full"] in rest and ui["trends"] in rest and ui["timeline"] in rest
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


@needs_chromium
@needs_poppler
@needs_cjk
def test_zh_pdf_carries_chinese_text_and_embeds_its_fonts(tmp_path):
    out = tmp_path / "r.pdf"
    assert main(["interpret", DMAB, "--today", DMAB_TODAY, "--format", "pdf", "--lang", "zh",
                 "--out", str(out)]) == 0
    text = _pdftext(out)
    for s in ("骨转换标志物解读报告", "地舒单抗停药后骨转换反弹", "处理建议", "随机对照试验"):
        assert s in text, s
    rows = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True,
                          check=True).stdout.splitlines()[2:]
    assert rows
    # columns: name type encoding emb sub uni object-id gen; every font embedded, with a
    # Unicode map (Chromium embeds CFF-based CJK fonts as Type 3: no name to check)
    flags = [r.split()[-5:-2] for r in rows]
    assert all(f[0] == "yes" and f[2] == "yes" for f in flags), rows


@needs_cjk
def test_page_font_covers_every_character_of_the_zh_report(pages):
    """The first family of the page's font stack that fontconfig has covers all text."""
    from matplotlib.ft2font import FT2Font

    fc = shutil.which("fc-match")
    if fc is None:
        pytest.skip("fontconfig (fc-match) is not installed")
    stack = re.search(r"html\{font-family:([^;]+);", pages["zh"]).group(1)
    families = [f.strip("'\" ") for f in stack.split(",")]
    for fam in families:
        found = subprocess.run([fc, "-f", "%{family}\n%{file}", fam], capture_output=True,
                               text=True, check=True).stdout.splitlines()
        if fam in found[0].split(","):
            path = found[1]
            break
    else:
        pytest.fail(f"none of {families} is installed")
    charmap = FT2Font(path).get_charmap()
    text = _visible(pages["zh"])
    missing = sorted({ch for ch in text if not ch.isspace() and ord(ch) not in charmap})
    assert not missing, (fam, missing)


@needs_chromium
def test_chromium_draws_chinese_glyphs_not_boxes(tmp_path, pages):
    """A Chinese line and a line of unassigned code points (always boxes) render differently;
    were the Chinese boxes too, both images would be the same."""
    from matplotlib.image import imread

    style = re.search(r"<style>(.*?)</style>", pages["zh"], re.S).group(1)

    def shot(text: str, name: str):
        page = (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><style>{style}"
                f"</style></head><body><p style='font-size:40px'>{text}</p></body></html>")
        return imread(render.html_to_png(page, tmp_path / name, width=600, height=200))

    chinese = shot("骨转换标志物解读", "zh.png")
    boxes = shot("\u0378" * 8, "boxes.png")
    other = shot("地舒单抗停药反弹", "zh2.png")
    assert chinese.shape == boxes.shape
    assert (chinese != boxes).any() and (chinese != other).any()


# -- errors and atomic writes ----------------------------------------------------------------

def _one_line_error(capsys, argv, prefix, status=2):
    assert main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith(prefix) and err.count("\n") == 1, err
    return err


def test_missing_browser_is_a_one_line_error_and_keeps_the_old_file(tmp_path, capsys,
                                                                     monkeypatch):
    out = tmp_path / "r.pdf"
    out.write_text("old")
    monkeypatch.setenv(render.CHROMIUM_ENV, str(tmp_path / "no-such-chromium"))
    argv = ["interpret", DMAB, "--today", DMAB_TODAY, "--format", "pdf", "--out", str(out),
            "--force"]
    err = _one_line_error(capsys, argv, "BrowserNotFoundError: ")
    assert render.CHROMIUM_ENV in err
    monkeypatch.delenv(render.CHROMIUM_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    err = _one_line_error(capsys, argv, "BrowserNotFoundError: ")
    assert "apt-get install chromium" in err and "--format html" in err
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf"]


def test_pdf_needs_out(capsys):
    _one_line_error(capsys, ["interpret", DMAB, "--today", DMAB_TODAY, "--format", "pdf"],
                    "InputError: --format pdf needs --out")


def test_out_in_a_missing_folder_is_an_input_error(tmp_path, capsys):
    _one_line_error(capsys, ["interpret", DMAB, "--today", DMAB_TODAY, "--format", "json",
                             "--out", str(tmp_path / "nowhere" / "r.json")],
                    "OutputPathError: ")


def test_a_browser_that_writes_nothing_is_a_render_error(tmp_path, capsys, monkeypatch):
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'it broke' >&2\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv(render.CHROMIUM_ENV, str(fake))
    out = tmp_path / "r.pdf"
    out.write_bytes(b"%PDF-old")
    _one_line_error(capsys, ["interpret", DMAB, "--today", DMAB_TODAY, "--format", "pdf",
                             "--out", str(out), "--force"], "RenderError: ", status=1)
    assert out.read_bytes() == b"%PDF-old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-chromium", "r.pdf"]


def test_write_atomic_replaces_whole_files_only(tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    render.write_atomic(out, "one")
    render.write_atomic(out, "two ✓")
    assert out.read_text("utf-8") == "two ✓"

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        render.write_atomic(out, "three")
    assert out.read_text("utf-8") == "two ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
