"""Marker trend plots of a clinical report (matplotlib, imported only when a plot is drawn).

One panel per marker over the whole history: the results, the reference band, the
treatment target, the baseline and its ± LSC band; a strip on top draws each treatment
course as a bar. Labels follow the report language; for Chinese a CJK font is looked up
through :mod:`matplotlib.font_manager` (and, when matplotlib's font cache predates the
font, through fontconfig); without one the labels fall back to English with a
:class:`CJKFontWarning`.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["CJK_FONTS", "CJKFontWarning", "cjk_font", "marker_trends_png", "PLOT_UI"]

#: CJK fonts tried in order (Simplified Chinese first).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei",
             "PingFang SC", "Noto Sans CJK JP", "Noto Sans CJK TC")

PLOT_UI = {
    "en": {"band": "reference interval", "lsc": "baseline ± LSC", "baseline": "baseline",
           "target": "target", "courses": "treatment", "date": "date", "today": "evaluation",
           "results": "results"},
    "zh": {"band": "参考区间", "lsc": "基线±LSC", "baseline": "基线", "target": "治疗目标",
           "courses": "治疗", "date": "日期", "today": "评估日", "results": "检测结果"},
}
_COURSE_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")


class CJKFontWarning(UserWarning):
    """No font with Chinese glyphs was found: plot labels are drawn in English."""


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Family name of an installed CJK font matplotlib can use, or None."""
    from matplotlib import font_manager as fm

    names = {f.name for f in fm.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    # matplotlib's font cache may predate the font: ask fontconfig for the files.
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run([fc_list, ":lang=zh-cn", "file"], capture_output=True,
                             text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for path in sorted({line.split(":")[0].strip() for line in out.splitlines() if line}):
        try:
            fm.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue
    names = {f.name for f in fm.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def display_unit(unit: str) -> str:
    """A UCUM unit as printed: micro as µ (ug/L -> µg/L), annotations dropped."""
    u = unit.replace("{creat}", " Cr").replace("{BCE}", " BCE")
    return "µ" + u[1:] if u[:1] == "u" and len(u) > 1 and u[1] in "gmlL" else u


def marker_trends_png(report: Any, lang: str = "en", *, dpi: int = 110) -> bytes:
    """PNG of every marker of a :class:`~boneturnover.clinical.report.Report` over its
    whole history (see the module doc).

    ``lang="zh"`` labels in Chinese with a CJK font (or English and a
    :class:`CJKFontWarning` when none is installed).
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure  # the Figure API needs no GUI backend

    rc: dict[str, object] = {"font.size": 8, "axes.titlesize": 9}
    if lang == "zh":
        font = cjk_font()
        if font is None:
            warnings.warn("no CJK font found (e.g. Debian's fonts-noto-cjk): the marker plot "
                          "of the Chinese report is labelled in English", CJKFontWarning,
                          stacklevel=2)
            lang = "en"
        else:
            rc.update({"font.family": "sans-serif",
                       "font.sans-serif": [font, "DejaVu Sans"],
                       "axes.unicode_minus": False})
    ui = PLOT_UI[lang]
    series = report.series
    courses = report.courses
    day = np.timedelta64(1, "D")
    dates = [np.datetime64(d, "D") for s in series for d in s.dates]
    dates += [np.datetime64(c.start, "D") for c in courses]
    dates.append(np.datetime64(report.today, "D"))
    lo, hi = min(dates), max(dates)
    pad = max((hi - lo) // 30, 7 * day)
    with rc_context(rc):
        n = max(1, len(series))
        ratios = ([0.5 + 0.25 * len(courses)] if courses else []) + [2.2] * n
        fig = Figure(figsize=(7.2, 0.9 + sum(ratios)))
        axes = fig.subplots(len(ratios), 1, sharex=True, squeeze=False,
                            gridspec_kw={"height_ratios": ratios})[:, 0]
        if courses:
            ax = axes[0]
            for i, c in enumerate(courses):
                start = np.datetime64(c.start, "D")
                stop = np.datetime64(c.stop or report.today, "D") + day
                ax.barh(i, stop - start, left=start, height=0.6,
                        color=_COURSE_COLOURS[i % len(_COURSE_COLOURS)], alpha=0.8)
                ax.text(start, i, " " + c.name[lang] + ("" if c.stop else " →"),
                        va="center", ha="left", fontsize=7, color="white"
                        if (stop - start) > (hi - lo) // 5 else "black")
            ax.set_yticks([])
            ax.set_ylim(len(courses) - 0.4, -0.6)
            ax.set_ylabel(ui["courses"])
        for ax, s in zip(axes[len(ratios) - n:], series or (None,), strict=True):
            if s is None:
                continue
            x = np.array(s.dates, dtype="datetime64[D]")
            unit = display_unit(s.unit)
            if s.ri_low is not None and s.ri_high is not None:
                ax.axhspan(s.ri_low, s.ri_high, color="tab:green", alpha=0.15,
                           label=f"{ui['band']} {s.ri_low:g}–{s.ri_high:g}")
            if s.baseline is not None:
                d = s.baseline * s.lsc_pct / 100.0
                ax.axhspan(s.baseline - d, s.baseline + d, color="tab:blue", alpha=0.12,
                           label=f"{ui['lsc']} ({s.lsc_pct:.0f}%)")
                ax.axhline(s.baseline, color="tab:blue", lw=0.8, label=ui["baseline"])
            if s.target is not None:
                ax.axhline(s.target, color="tab:red", lw=1.0, ls="--",
                           label=f"{ui['target']} < {s.target:g}")
            ax.plot(x, s.values, "o-", color="black", ms=4, label=ui["results"])
            for c in courses:
                ax.axvline(np.datetime64(c.start, "D"), color="grey", lw=0.6, ls=":")
            ax.set_ylabel(f"{s.name(lang)}\n({unit})")
            ax.set_ylim(bottom=0)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
                      frameon=False)
        for ax in axes[len(ratios) - n:]:
            ax.axvline(np.datetime64(report.today, "D"), color="grey", lw=0.8)
        axes[-1].set_xlim(lo - pad, hi + pad)
        axes[-1].set_xlabel(ui["date"])
        for label in axes[-1].get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()
