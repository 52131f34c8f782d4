"""Findings and reports: bilingual messages, JSON, text and HTML with marker plots."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..knowledge.sources import Fact, cite, references, render_sources, resolve
from .catalog import DRUGS, Citation, Text
from .tables import day_to_iso

if TYPE_CHECKING:
    from .conditions import Context
    from .rules import Rule

__all__ = ["Finding", "Report", "TimelineEvent", "MarkerSeries", "build_report",
           "format_message", "NUMBER_FIELDS"]

#: Numbers reported with each finding (JSON ``numbers``), where applicable.
NUMBER_FIELDS = ("baseline", "change_pct", "change_abs", "lsc_pct", "target", "days_on",
                 "nadir_days", "ref", "ref_low", "ref_high", "reference", "days_off",
                 "days_late", "interval_days", "grace_days", "ratio", "threshold", "ca_mg_d",
                 "mg_mg_d", "egfr", "window_days")
_DATE_FIELDS = {"due_date": "due", "start_date": "start", "stop_date": "stop",
                "last_dose": "last_dose", "holiday_start": "holiday_start",
                "last_date": "last_day"}
_WITH_UNIT = {"value", "baseline", "target", "ref", "ref_low", "ref_high", "reference",
              "change_abs"}
_NA = {"en": "n/a", "zh": "无"}
_UI = {
    "en": {"title": "Bone turnover marker interpretation", "patient": "Patient",
           "ruleset": "Rule set", "today": "Date of evaluation", "findings": "Findings",
           "timeline": "Timeline", "sources": "Sources", "plot": "Marker plot",
           "disclaimer": "Decision support only: bone turnover markers cannot diagnose "
                         "osteoporosis (seed:B18).",
           "start": "start", "stop": "stop", "band": "reference interval",
           "lsc": "baseline +/- LSC", "none": "No findings."},
    "zh": {"title": "骨转换标志物解读报告", "patient": "患者", "ruleset": "规则集",
           "today": "评估日期", "findings": "结论", "timeline": "时间线", "sources": "文献依据",
           "plot": "标志物趋势图",
           "disclaimer": "仅供临床决策参考：骨转换标志物不能诊断骨质疏松症（seed:B18）。",
           "start": "开始", "stop": "停用", "band": "参考区间", "lsc": "基线±LSC",
           "none": "无结论。"},
}


@dataclass(frozen=True)
class Finding:
    """One conclusion of a rule for one patient.

    Attributes
    ----------
    code, severity, rule_id : str
    marker : str or None
        Catalog id the finding is about.
    value : float or None
        The result it is about, in ``unit`` (the marker's canonical unit).
    date, row, drug : str or None
        Date of that result, its source row, and the drug of the course concerned.
    numbers : mapping
        The numbers behind it (``change_pct``, ``lsc_pct``, ``target``, ``baseline``,
        dates such as ``due_date``), units as ``unit`` for concentrations, % and days.
    message : Text
        English and Simplified Chinese.
    sources : tuple of Citation
    """

    code: str
    severity: str
    rule_id: str
    marker: str | None
    value: float | None
    unit: str | None
    date: str | None
    row: str | None
    drug: str | None
    numbers: Mapping[str, Any]
    message: Text
    sources: tuple[Citation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "severity": self.severity, "rule_id": self.rule_id,
            "marker": self.marker, "value": self.value, "unit": self.unit, "date": self.date,
            "row": self.row, "drug": self.drug, "numbers": dict(self.numbers),
            "message": {"en": self.message.en, "zh": self.message.zh},
            "sources": [{"ref": c.ref, "evidence": c.evidence, "citation": _full(c, "en"),
                         "citation_zh": _full(c, "zh")} for c in self.sources],
        }


@dataclass(frozen=True)
class TimelineEvent:
    date: str
    kind: str  # "measurement" | "start" | "stop"
    label: Text
    row: str


@dataclass(frozen=True)
class MarkerSeries:
    """One marker's results with its reference band and LSC band (canonical unit)."""

    marker: str
    symbol: str
    unit: str
    dates: tuple[str, ...]
    values: tuple[float, ...]
    ri_low: float | None
    ri_high: float | None
    baseline: float | None
    baseline_date: str | None
    lsc_pct: float


@dataclass(frozen=True)
class Report:
    """Interpretation of one patient (see :func:`boneturnover.clinical.interpret`)."""

    patient_id: str
    ruleset: str
    today: str
    findings: tuple[Finding, ...]
    timeline: tuple[TimelineEvent, ...] = ()
    series: tuple[MarkerSeries, ...] = field(default=())

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def to_dict(self) -> dict[str, Any]:
        return {"patient_id": self.patient_id, "ruleset": self.ruleset, "today": self.today,
                "findings": [f.to_dict() for f in self.findings]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, allow_nan=False)

    # -- rendering -----------------------------------------------------------------------
    def to_text(self, lang: str = "en", plot_path: str | None = None) -> str:
        ui = _UI[lang]
        lines = [ui["title"], "=" * len(ui["title"]),
                 f"{ui['patient']}: {self.patient_id}    {ui['ruleset']}: {self.ruleset}    "
                 f"{ui['today']}: {self.today}", render_sources(ui["disclaimer"], lang), "",
                 ui["findings"],
                 "-" * len(ui["findings"])]
        for f in self.findings:
            lines.append(f"[{f.severity.upper()}] {f.code}"
                         + (f" ({f.marker})" if f.marker else ""))
            lines.append(f"    {render_sources(f.message[lang], lang)}")
            lines.append("    " + _SEP[lang].join(_short(f.sources, lang)))
        if not self.findings:
            lines.append(ui["none"])
        lines += ["", ui["timeline"], "-" * len(ui["timeline"])]
        lines += [f"{e.date}  {e.label[lang]}  [{e.row}]" for e in self.timeline]
        lines += ["", ui["sources"], "-" * len(ui["sources"])]
        lines += _source_lines(self.all_sources(), lang)
        if plot_path:
            lines += ["", f"{ui['plot']}: {plot_path}"]
        return "\n".join(lines) + "\n"

    def all_sources(self) -> list[Citation]:
        seen: dict[str, Citation] = {}
        for f in self.findings:
            for c in f.sources:
                seen.setdefault(c.ref, c)
        return sorted(seen.values(), key=_order)

    def plot_png(self, lang: str = "en") -> bytes:
        """PNG of each marker against its reference band and the LSC band from baseline.

        Labels are in English whatever ``lang`` is: the default matplotlib fonts have no
        CJK glyphs.
        """
        from matplotlib.figure import Figure  # the Figure API needs no GUI backend

        ui = _UI["en"]
        n = max(1, len(self.series))
        fig = Figure(figsize=(7, 2.4 * n))
        for i, s in enumerate(self.series or ()):
            ax = fig.add_subplot(n, 1, i + 1)
            x = np.array(s.dates, dtype="datetime64[D]")
            ax.plot(x, s.values, "o-", color="black", label=s.symbol)
            if s.ri_low is not None and s.ri_high is not None:
                ax.axhspan(s.ri_low, s.ri_high, color="tab:green", alpha=0.15, label=ui["band"])
            if s.baseline is not None:
                d = s.baseline * s.lsc_pct / 100.0
                ax.axhspan(s.baseline - d, s.baseline + d, color="tab:blue", alpha=0.12,
                           label=ui["lsc"])
                ax.axhline(s.baseline, color="tab:blue", lw=0.8)
            ax.set_ylabel(f"{s.symbol} ({s.unit})")
            ax.legend(loc="upper right", fontsize=7)
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        return buf.getvalue()

    def to_html(self, lang: str = "en") -> str:
        ui = _UI[lang]
        e = html.escape
        colour = {"alert": "#b00020", "warning": "#b36b00", "info": "#245"}
        rows = "".join(
            f"<tr><td style='color:{colour[f.severity]}'><b>{e(f.severity)}</b></td>"
            f"<td><code>{e(f.code)}</code></td><td>{e(f.marker or '')}</td>"
            f"<td>{e(render_sources(f.message[lang], lang))}</td>"
            f"<td>{e(_SEP[lang].join(_short(f.sources, lang)))}</td></tr>"
            for f in self.findings)
        tl = "".join(f"<tr><td>{e(t.date)}</td><td>{e(t.label[lang])}</td><td>{e(t.row)}</td></tr>"
                     for t in self.timeline)
        src = "".join(f"<li>{e(x)}</li>" for x in _source_lines(self.all_sources(), lang))
        img = ""
        if self.series:
            b64 = base64.b64encode(self.plot_png(lang)).decode("ascii")
            img = f"<h2>{e(ui['plot'])}</h2><img alt='markers' src='data:image/png;base64,{b64}'/>"
        return (
            f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head>"
            f"<meta charset='utf-8'><title>{e(ui['title'])}</title><style>body{{font-family:"
            "sans-serif;max-width:60em;margin:auto}td{vertical-align:top;padding:2px 6px}"
            "table{border-collapse:collapse}tr{border-bottom:1px solid #ddd}</style></head><body>"
            f"<h1>{e(ui['title'])}</h1><p>{e(ui['patient'])}: <b>{e(self.patient_id)}</b> · "
            f"{e(ui['ruleset'])}: {e(self.ruleset)} · {e(ui['today'])}: {e(self.today)}</p>"
            f"<p><i>{e(render_sources(ui['disclaimer'], lang))}</i></p>"
            f"<h2>{e(ui['findings'])}</h2>"
            f"<table>{rows}</table>{img}<h2>{e(ui['timeline'])}</h2><table>{tl}</table>"
            f"<h2>{e(ui['sources'])}</h2><ul>{src}</ul></body></html>\n"
        )


# -- citations: a fact of the source reviews ("seed:B18") is shown readably ----------------

_SEP = {"en": "; ", "zh": "；"}


def _is_fact(c: Citation) -> bool:
    return c.ref.startswith("seed:")


def _full(c: Citation, lang: str) -> str:
    """The citation in full: review, section and claim for a fact, else the source text."""
    return cite(c.ref, lang) if _is_fact(c) else render_sources(c.text, lang)


def _short(cits: Sequence[Citation], lang: str) -> list[str]:
    """Short forms with evidence, facts grouped by review: 'Cheng et al. 2022, §2 (cohort),
    §3.1 (cohort)'; other sources by id: 'kdigo2012 (guideline)'."""
    groups: dict[str, dict[str, None]] = {}
    for c in cits:
        fact = resolve(c.ref) if _is_fact(c) else None
        if isinstance(fact, Fact):
            rev = references()[fact.review]
            sec = rev.section(fact.section).ref(lang, short=True)
            groups.setdefault(rev.label(lang), {})[f"{sec} ({c.evidence})"] = None
        else:
            groups.setdefault(f"{c.ref} ({c.evidence})", {})
    sep = "，" if lang == "zh" else ", "
    within = "、" if lang == "zh" else ", "
    return [head + (sep + within.join(parts) if parts else "") for head, parts in groups.items()]


def _order(c: Citation) -> tuple[int, str, int, str]:
    """Facts first (B1, B2, ..., M1, ...), then other sources by id."""
    if _is_fact(c) and c.ref[6:].isdigit():
        return (0, c.ref[5], int(c.ref[6:]), "")
    return (1, "", 0, c.ref)


def _source_lines(cits: Sequence[Citation], lang: str) -> list[str]:
    """One line per citation, then the full reference of each review a fact comes from."""
    lines = [_full(c, lang) if _is_fact(c) else f"{c.ref}: {_full(c, lang)}" for c in cits]
    reviews = dict.fromkeys(getattr(resolve(c.ref), "review", "") for c in cits if _is_fact(c))
    colon = "：" if lang == "zh" else ": "
    lines += [f"{cite(r, lang, short=True)}{colon}{cite(r, lang)}" for r in reviews if r]
    return lines


# ---------------------------------------------------------------------------------------


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _fmt(v: float) -> str:
    if math.isinf(v):
        return "∞"
    if abs(v) >= 100 or v == int(v):
        return f"{v:.0f}"
    return f"{v:.3g}"


def format_message(rule: Rule, row: Mapping[str, Any], ctx: Context, lang: str) -> str:
    """Fill a rule's message template in ``lang`` from one findings row."""
    cat = ctx.catalog
    mid = row.get("marker") if isinstance(row.get("marker"), str) else None
    unit = cat[mid].display_unit if mid in cat else ""
    na = _NA[lang]
    fields: dict[str, str] = {}
    fields["marker"] = cat[mid].symbol if mid in cat else na
    fields["row"] = str(row["source"]) if isinstance(row.get("source"), str) else na
    d = _num(row.get("day"))
    fields["date"] = day_to_iso(d) if d is not None else na
    for k in ("value", "baseline", "target", "ref", "ref_low", "ref_high", "reference",
              "change_abs", "threshold", "ratio", "ca_mg_d", "mg_mg_d", "egfr"):
        v = _num(row.get(k))
        if v is None:
            fields[k] = na
            continue
        s = _fmt(v)
        if k == "change_abs":
            s = f"{v:+.3g}"
        if k in _WITH_UNIT and unit:
            s = f"{s} {unit}"
        if k == "egfr":
            s = f"{s} mL/min/1.73 m²"
        fields[k] = s
    for k in ("change_pct", "lsc_pct"):
        v = _num(row.get(k))
        fields[k] = na if v is None else (f"{v:+.0f}%" if k == "change_pct" else f"{v:.0f}%")
    for k in ("days_on", "nadir_days", "days_off", "days_late", "interval_days", "grace_days",
              "window_days"):
        v = _num(row.get(k))
        fields[k] = na if v is None else f"{v:.0f}"
    for k, col in _DATE_FIELDS.items():
        v = _num(row.get(col))
        fields[k] = na if v is None else day_to_iso(v)
    for k in ("drug", "prior_drug"):
        dn = row.get(k)
        fields[k] = DRUGS[dn].name[lang] if isinstance(dn, str) and dn in DRUGS else na
    rec = row.get("recommended")
    sep = "、" if lang == "zh" else ", "
    fields["recommended"] = (sep.join(cat[m].symbol for m in rec.split(","))
                             if isinstance(rec, str) else na)
    fields["evidence"] = str(row["evidence"]) if isinstance(row.get("evidence"), str) else na
    t = _num(row.get("time_min"))
    fields["time"] = na if t is None else f"{int(t) // 60:02d}:{int(t) % 60:02d}"
    fields["latest_time"] = str(rule.params.get("latest_time", na))
    return rule.message[lang].format_map(fields)


def build_report(ctx: Context, frame: pd.DataFrame, pid: int, rules: Sequence[Rule]) -> Report:
    """Turn the findings rows of patient ``pid`` into a :class:`Report`."""
    t = ctx.tables
    cat = ctx.catalog
    findings = []
    for row in frame.to_dict("records"):
        rule = rules[int(row["rule"])]
        mid = row["marker"] if isinstance(row.get("marker"), str) else None
        numbers: dict[str, Any] = {k: _num(row.get(k)) for k in NUMBER_FIELDS}
        numbers = {k: (None if v is not None and math.isinf(v) else v) for k, v in numbers.items()
                   if v is not None}
        numbers.update({k: day_to_iso(v) for k, col in _DATE_FIELDS.items()
                        if (v := _num(row.get(col))) is not None})
        d = _num(row.get("day"))
        findings.append(Finding(
            code=rule.code, severity=rule.severity, rule_id=rule.id, marker=mid,
            value=_num(row.get("value")), unit=cat[mid].display_unit if mid else None,
            date=None if d is None else day_to_iso(d),
            row=row["source"] if isinstance(row.get("source"), str) else None,
            drug=row["drug"] if isinstance(row.get("drug"), str) else None,
            numbers=numbers,
            message=Text(format_message(rule, row, ctx, "en"),
                         format_message(rule, row, ctx, "zh")),
            sources=rule.cite,
        ))
    pat = t.patients[t.patients["pid"] == pid]
    meas = ctx.meas[ctx.meas["pid"] == pid]
    treat = t.treat[t.treat["pid"] == pid]
    events = []
    for r in meas.itertuples():
        m = cat[r.marker]
        label = f"{m.symbol} {_fmt(r.value)} {m.display_unit}"
        events.append(TimelineEvent(day_to_iso(r.day), "measurement", Text(label, label), r.source))
    for r in treat.itertuples():
        dr = DRUGS[r.drug]
        events.append(TimelineEvent(day_to_iso(r.start), "start",
                                    Text(f"start {dr.name.en} ({r.route})",
                                         f"开始{dr.name.zh}（{r.route}）"), r.source))
        if not math.isnan(r.stop):
            events.append(TimelineEvent(day_to_iso(r.stop), "stop",
                                        Text(f"stop {dr.name.en}", f"停用{dr.name.zh}"), r.source))
    events.sort(key=lambda e: (e.date, e.kind != "start", e.row))
    cb = ctx.course_btm
    cb = cb[(cb["pid"] == pid) & cb["baseline"].notna()]
    series = []
    info = ctx.marker_info
    for mid, g in meas.groupby("marker", sort=False):
        m = cat[mid]
        if not m.is_bone_turnover_marker and mid != "MG":
            continue
        b = cb[cb["marker"] == mid].sort_values("start")
        base = _num(b["baseline"].iloc[-1]) if len(b) else None
        bday = _num(b["baseline_day"].iloc[-1]) if len(b) else None
        series.append(MarkerSeries(
            marker=mid, symbol=m.symbol, unit=m.display_unit,
            dates=tuple(day_to_iso(x) for x in g["day"]), values=tuple(map(float, g["value"])),
            ri_low=m.ri.low if m.ri else None, ri_high=m.ri.high if m.ri else None,
            baseline=base, baseline_date=None if bday is None else day_to_iso(bday),
            lsc_pct=float(info.loc[mid, "lsc_pct"]),
        ))
    return Report(
        patient_id=str(pat["patient_id"].iloc[0]), ruleset=ctx.ruleset.id,
        today=day_to_iso(t.today), findings=tuple(findings), timeline=tuple(events),
        series=tuple(series),
    )
