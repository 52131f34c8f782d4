"""Findings and reports: bilingual messages, JSON, text and HTML (print-ready; the PDF is
printed from it by :mod:`.render`) with marker trend plots (:mod:`.plots`)."""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..knowledge.sources import Fact, cite, references, render_sources, resolve
from .catalog import DRUGS, Citation, Text
from .values import day_to_iso

if TYPE_CHECKING:
    import pandas as pd

    from .conditions import Context
    from .rules import Rule

__all__ = ["Finding", "Report", "TimelineEvent", "MarkerSeries", "Course", "build_report",
           "assemble_report",
           "InputSummary", "IgnoredInput", "CensoredInput",
           "format_message", "code_title", "NUMBER_FIELDS", "CODE_TITLE", "SEVERITY_LABEL",
           "EVIDENCE_LABEL"]

#: Numbers reported with each finding (JSON ``numbers``), where applicable.
NUMBER_FIELDS = ("baseline", "change_pct", "change_abs", "lsc_pct", "target", "days_on",
                 "nadir_days", "ref", "ref_low", "ref_high", "reference", "days_off",
                 "days_late", "interval_days", "grace_days", "ratio", "threshold", "ca_mg_d",
                 "mg_mg_d", "egfr", "window_days", "change_pct_min", "change_pct_max")
_DATE_FIELDS = {"due_date": "due", "start_date": "start", "stop_date": "stop",
                "last_dose": "last_dose", "holiday_start": "holiday_start",
                "last_date": "last_day"}
_WITH_UNIT = {"value", "baseline", "target", "ref", "ref_low", "ref_high", "reference",
              "change_abs"}
_NA = {"en": "n/a", "zh": "无"}
#: The calcium/magnesium ratio of calcium taken with no magnesium: it has no finite value,
#: and the message says so in words rather than print an infinity as if it were measured.
_NO_MAGNESIUM = {"en": "calcium with no magnesium (not a finite ratio)",
                 "zh": "只补钙不补镁（比值无有限值）"}
_UI = {
    "en": {"title": "Bone turnover marker interpretation", "patient": "Patient",
           "birth_date": "Date of birth",
           "ruleset": "Rule set", "today": "Date of evaluation", "findings": "Findings",
           "timeline": "Timeline", "sources": "Sources", "plot": "Marker plot",
           "disclaimer": "Decision support only: bone turnover markers cannot diagnose "
                         "osteoporosis (seed:B18).",
           "start": "start", "stop": "stop", "band": "reference interval",
           "lsc": "baseline +/- LSC", "none": "No findings.",
           "summary": "Summary", "conclusion": "Conclusion", "actions": "What to do",
           "retest": "When to retest", "no_actions": "No alert or warning.",
           "no_retest": "No retest date follows from the record.",
           "overdue": "overdue", "due": "due", "latest": "Latest results",
           "marker": "Marker", "value": "Result", "date": "Date", "ri": "Reference interval",
           "target": "Target", "trends": "Marker trends",
           "trends_note": "Each panel: results over the whole history, the premenopausal "
                          "reference band (green), the treatment target (red dashed), the "
                          "baseline and its ± LSC band (blue); treatment courses as bars "
                          "on top.",
           "severity": "Severity", "code": "Code", "finding": "Finding",
           "row": "Source row", "event": "Event", "page": "Page",
           "generated": "boneturnover clinical report",
           "see_findings": "Sources of each statement: see Findings and sources.",
           "findings_full": "Findings and sources",
           "inputs": "Input summary",
           "inputs_used": "Read: {m} result(s), {t} treatment course(s).",
           "censored": "Censored results (the laboratory reported a bound)",
           "no_censored": "No censored result.",
           "ignored": "Not used (read from the input but not interpreted)",
           "no_ignored": "Nothing in the input was left unused.",
           "resource": "Resource", "reason": "Reason"},
    "zh": {"title": "骨转换标志物解读报告", "patient": "患者", "birth_date": "出生日期",
           "ruleset": "规则集",
           "today": "评估日期", "findings": "结论", "timeline": "时间线", "sources": "文献依据",
           "plot": "标志物趋势图",
           "disclaimer": "仅供临床决策参考：骨转换标志物不能诊断骨质疏松症（seed:B18）。",
           "start": "开始", "stop": "停用", "band": "参考区间", "lsc": "基线±LSC",
           "none": "无结论。",
           "summary": "摘要", "conclusion": "结论", "actions": "处理建议",
           "retest": "复查时间", "no_actions": "无警报或警告。",
           "no_retest": "根据现有记录无法确定复查日期。",
           "overdue": "已逾期", "due": "应复查", "latest": "最近检测结果",
           "marker": "标志物", "value": "结果", "date": "日期", "ri": "参考区间",
           "target": "治疗目标", "trends": "标志物趋势",
           "trends_note": "每个子图：全部病程的检测结果、绝经前女性参考区间（绿色）、治疗目标"
                          "（红色虚线）、基线及其±LSC范围（蓝色）；上方横条为各治疗疗程。",
           "severity": "级别", "code": "代码", "finding": "结论",
           "row": "来源行", "event": "事件", "page": "页",
           "generated": "boneturnover 临床报告",
           "see_findings": "各条结论的文献依据见“详细结论与文献依据”。",
           "findings_full": "详细结论与文献依据",
           "inputs": "输入摘要",
           "inputs_used": "已读取：检测结果{m}项，治疗疗程{t}个。",
           "censored": "截尾结果（实验室仅报告界值）",
           "no_censored": "无截尾结果。",
           "ignored": "未使用的输入（已读取但未解读）",
           "no_ignored": "输入内容均已使用。",
           "resource": "资源", "reason": "原因"},
}
#: Severities as printed.
SEVERITY_LABEL = {"en": {"alert": "alert", "warning": "warning", "info": "info"},
                  "zh": {"alert": "警报", "warning": "警告", "info": "提示"}}
#: Evidence levels as printed (the JSON keeps the English keys).
EVIDENCE_LABEL = {
    "en": {},
    "zh": {"guideline": "指南", "RCT": "随机对照试验", "cohort": "队列研究", "review": "综述",
           "expert-opinion": "专家意见", "animal": "动物研究",
           "small-uncontrolled": "小样本非对照研究", "lab-reference": "实验室参考值",
           "label": "药品说明书"},
}
#: A short title of each finding code (summary and findings of the HTML/PDF report).
CODE_TITLE: dict[str, tuple[str, str]] = {
    "NOT_DIAGNOSTIC": ("Markers cannot diagnose osteoporosis", "标志物不能诊断骨质疏松症"),
    "TURNOVER_HIGH": ("High bone turnover", "高骨转换"),
    "TURNOVER_NORMAL": ("Bone turnover within the reference interval", "骨转换在参考区间内"),
    "TURNOVER_LOW": ("Low bone turnover", "低骨转换"),
    "MARKER_CHOICE": ("Choice of markers", "标志物选择"),
    "SECONDARY_CAUSE_CHECK": ("Check for secondary causes", "排查继发性原因"),
    "RESPONSE_ADEQUATE": ("Adequate treatment response", "治疗反应充分"),
    "RESPONSE_INADEQUATE": ("Inadequate treatment response", "治疗反应不充分"),
    "TESTED_TOO_EARLY": ("Tested before the expected nadir", "检测早于预期最低点"),
    "ADHERENCE_CONCERN": ("Adherence concern", "依从性存疑"),
    "BASELINE_MISSING": ("No pre-treatment baseline", "缺少治疗前基线"),
    "HOLIDAY_REASSESS": ("Reassess the drug holiday", "需重新评估药物假期"),
    "DENOSUMAB_OVERDUE": ("Denosumab injection overdue", "地舒单抗注射逾期"),
    "DENOSUMAB_REBOUND": ("Rebound of turnover after stopping denosumab",
                          "地舒单抗停药后骨转换反弹"),
    "DENOSUMAB_STOPPED_NO_TRANSITION": ("Denosumab stopped without transition therapy",
                                        "地舒单抗停药后未序贯治疗"),
    "ANABOLIC_RESPONSE": ("P1NP response to anabolic therapy", "促骨形成治疗P1NP应答"),
    "ANABOLIC_NO_RESPONSE": ("No P1NP response to anabolic therapy",
                             "促骨形成治疗P1NP无应答"),
    "ANABOLIC_AFTER_BISPHOSPHONATE": ("Anabolic therapy after a bisphosphonate",
                                      "双膦酸盐治疗后的促骨形成治疗"),
    "ROMOSOZUMAB_PATTERN_ATYPICAL": ("Atypical marker pattern on romosozumab",
                                     "罗莫佐单抗治疗中标志物变化不典型"),
    "MAGNESIUM_LOW": ("Low serum magnesium", "血清镁偏低"),
    "CA_MG_RATIO_HIGH": ("High calcium to magnesium supplement ratio", "钙镁补充比例过高"),
    "HYPOCALCAEMIA_LOW_MAGNESIUM": ("Hypocalcaemia with low magnesium", "低钙血症伴低镁"),
    "PREANALYTICAL_WARNING": ("Pre-analytical issue", "分析前因素"),
    "RETEST_DUE": ("Retest of bone turnover markers", "骨转换标志物复查"),
    "SECONDARY_CAUSE_EXPLAINED": ("Explained by glucocorticoid therapy",
                                  "可由糖皮质激素治疗解释"),
    "ANABOLIC_NOT_ASSESSED": ("Too early to judge the P1NP response",
                              "过早，尚不能评估P1NP应答"),
    "LABEL_LIMIT_EXCEEDED": ("Labelled duration exceeded", "超过说明书规定的使用期限"),
    "TRANSITION_ADVICE": ("Plan the follow-on antiresorptive", "计划后续抗骨吸收治疗"),
    "HOLIDAY_CONSIDER": ("Consider a drug holiday", "考虑药物假期"),
    "CONTRAINDICATION_RENAL": ("Renal function below the labelled limit", "肾功能低于说明书限值"),
    "CONTRAINDICATION_HYPOCALCAEMIA": ("Hypocalcaemia before the next injection",
                                       "下次注射前存在低钙血症"),
    "DENOSUMAB_NEXT_DOSE": ("Next denosumab injection", "下次地舒单抗注射"),
    "HYPERPARATHYROIDISM_PATTERN": ("Pattern of primary hyperparathyroidism",
                                    "符合原发性甲状旁腺功能亢进症表现"),
    "PTH_EVALUATED": ("Work-up of raised PTH", "PTH升高的进一步评估"),
    "CENSORED_RESULT": ("Censored result: not concluded", "截尾结果：未作结论"),
}
_ROUTE = {"oral": "口服", "iv": "静脉", "sc": "皮下"}
#: Codes left out of the summary's conclusion (shown elsewhere on the page).
_NOT_CONCLUSIONS = frozenset({"NOT_DIAGNOSTIC", "RETEST_DUE"})


def code_title(code: str, lang: str) -> str:
    """Short title of a finding code (the code itself if it has none)."""
    t = CODE_TITLE.get(code)
    return code if t is None else t[1 if lang == "zh" else 0]


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
    comparator : str or None
        ``<``, ``<=``, ``>`` or ``>=`` when ``value`` is a censored result (the bound the
        laboratory reported); then ``numbers`` has no ``change_pct`` but its bounds,
        ``change_pct_max`` (the change lies below it) or ``change_pct_min`` (above it).
    baseline_row : str or None
        The source row of the baseline result a change is measured from (``numbers``
        has ``baseline``), when the record holds it.
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
    comparator: str | None = None
    baseline_row: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "severity": self.severity, "rule_id": self.rule_id,
            "marker": self.marker, "value": self.value, "comparator": self.comparator,
            "unit": self.unit, "date": self.date,
            "row": self.row, "baseline_row": self.baseline_row, "drug": self.drug,
            "numbers": dict(self.numbers),
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
    """One marker's results with its reference band, target and LSC band (canonical unit).

    ``label`` is the marker's short name in English and Chinese; ``target`` the rule
    set's treatment target for the marker, if it has one.
    """

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
    target: float | None = None
    label: Text | None = None
    comparators: tuple[str, ...] = ()

    def shown(self, i: int) -> str:
        """Result ``i`` as printed: ``<30`` for a censored one, ``180`` for an exact one."""
        comp = self.comparators[i] if self.comparators else ""
        return f"{comp}{_fmt(self.values[i])}"

    def name(self, lang: str = "en") -> str:
        return self.label[lang] if self.label is not None else self.symbol


@dataclass(frozen=True)
class Course:
    """One treatment course: ``stop`` None while it goes on."""

    drug: str
    name: Text
    start: str
    stop: str | None
    route: str
    row: str


@dataclass(frozen=True)
class IgnoredInput:
    """Something the loader read but the engine does not use (a FHIR resource unrelated
    to bone turnover, a result entered in error, a statement of a drug not taken)."""

    resource_type: str
    id: str
    code: str
    reason: str

    @classmethod
    def from_record(cls, d: Mapping[str, str]) -> IgnoredInput:
        """From an entry of ``PatientRecord.ignored`` (``resource`` = ``Type/id``)."""
        rtype, _, rid = str(d.get("resource", "")).partition("/")
        return cls(rtype, rid, str(d.get("code", "")), str(d.get("reason", "")))

    def to_dict(self) -> dict[str, str]:
        return {"resource_type": self.resource_type, "id": self.id, "code": self.code,
                "reason": self.reason}

    def label(self) -> str:
        return f"{self.resource_type}/{self.id}" if self.id else self.resource_type


@dataclass(frozen=True)
class CensoredInput:
    """A result reported as a bound (``<30 ng/L``): ``value`` in the canonical ``unit``."""

    row: str
    marker: str
    date: str
    comparator: str
    value: float
    unit: str
    symbol: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "marker": self.marker, "symbol": self.symbol, "date": self.date,
                "comparator": self.comparator, "value": self.value, "unit": self.unit}


@dataclass(frozen=True)
class InputSummary:
    """What the report was based on: counts of results and courses read, the censored
    results among them, and what the input held that was not used."""

    n_measurements: int = 0
    n_treatments: int = 0
    censored: tuple[CensoredInput, ...] = ()
    ignored: tuple[IgnoredInput, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"measurements": self.n_measurements, "treatments": self.n_treatments,
                "censored": [c.to_dict() for c in self.censored],
                "ignored": [i.to_dict() for i in self.ignored]}

    def lines(self, lang: str) -> list[str]:
        """The summary as text lines (text report)."""
        ui = _UI[lang]
        out = [ui["inputs_used"].format(m=self.n_measurements, t=self.n_treatments),
               ui["censored"] + ("：" if lang == "zh" else ":")]
        out += [f"  {c.date}  {c.symbol or c.marker} {c.comparator}{_fmt(c.value)} {c.unit}"
                f"  [{c.row}]"
                for c in self.censored] or [f"  {ui['no_censored']}"]
        out.append(ui["ignored"] + ("：" if lang == "zh" else ":"))
        out += [f"  {i.label()}" + (f" ({i.code})" if i.code else "") + f": {i.reason}"
                for i in self.ignored] or [f"  {ui['no_ignored']}"]
        return out


@dataclass(frozen=True)
class Report:
    """Interpretation of one patient (see :func:`boneturnover.clinical.interpret`)."""

    patient_id: str
    ruleset: str
    today: str
    findings: tuple[Finding, ...]
    timeline: tuple[TimelineEvent, ...] = ()
    series: tuple[MarkerSeries, ...] = field(default=())
    courses: tuple[Course, ...] = ()
    birth_date: str | None = None
    inputs: InputSummary = field(default_factory=InputSummary)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def to_dict(self) -> dict[str, Any]:
        return {"patient_id": self.patient_id, "ruleset": self.ruleset, "today": self.today,
                "findings": [f.to_dict() for f in self.findings],
                "inputs": self.inputs.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, allow_nan=False)

    # -- rendering -----------------------------------------------------------------------
    def to_text(self, lang: str = "en", plot_path: str | None = None) -> str:
        ui = _UI[lang]
        sev = SEVERITY_LABEL[lang]
        lines = [ui["title"], "=" * len(ui["title"]),
                 f"{ui['patient']}: {self.patient_id}    {ui['ruleset']}: {self.ruleset}    "
                 f"{ui['today']}: {self.today}", render_sources(ui["disclaimer"], lang), "",
                 ui["findings"],
                 "-" * len(ui["findings"])]
        for f in self.findings:
            lines.append(f"[{sev[f.severity].upper()}] {f.code}"
                         + (f" ({f.marker})" if f.marker else ""))
            lines.append(f"    {render_sources(f.message[lang], lang)}")
            lines.append("    " + _SEP[lang].join(_short(f.sources, lang)))
        if not self.findings:
            lines.append(ui["none"])
        lines += ["", ui["timeline"], "-" * len(ui["timeline"])]
        lines += [f"{e.date}  {e.label[lang]}  [{e.row}]" for e in self.timeline]
        lines += ["", ui["inputs"], "-" * len(ui["inputs"])]
        lines += self.inputs.lines(lang)
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

    def plot_png(self, lang: str = "en", *, dpi: int = 110) -> bytes:
        """PNG of each marker over the whole history: reference band, target, baseline
        ± LSC band and the treatment courses as bars (:mod:`.plots`). Chinese labels
        need a CJK font; without one they fall back to English with a warning."""
        from .plots import marker_trends_png  # matplotlib only when a plot is drawn

        return marker_trends_png(self, lang, dpi=dpi)

    def retests(self) -> list[Finding]:
        """The ``RETEST_DUE`` findings, earliest due date first."""
        return sorted(self.by_code("RETEST_DUE"), key=lambda f: f.numbers.get("due_date", ""))

    def to_html(self, lang: str = "en", *, plot: bool = True) -> str:
        """The report as one self-contained HTML page (print-friendly).

        A one-page summary (patient, conclusion, what to do, when to retest, latest
        results) comes first; then the findings with their sources, the marker trends
        (an embedded PNG), the timeline and the sources in full.
        """
        ui = _UI[lang]
        sev = SEVERITY_LABEL[lang]
        e = html.escape

        def msg(f: Finding) -> str:
            return e(_units(render_sources(f.message[lang], lang)))

        def srcs(f: Finding) -> str:
            return e(_SEP[lang].join(_short(f.sources, lang, localise=True)))

        def badge(severity: str) -> str:
            return f"<span class='sev {e(severity)}'>{e(sev[severity])}</span>"

        # summary: conclusion (one line per code), actions, retest, latest results
        heads: dict[str, tuple[str, dict[str, None]]] = {}
        for f in self.findings:
            if f.code in _NOT_CONCLUSIONS:
                continue
            _, marks = heads.setdefault(f.code, (f.severity, {}))
            if f.marker:
                marks[self._marker_name(f.marker, lang)] = None
        sep = "、" if lang == "zh" else ", "
        concl = "".join(
            f"<li>{badge(sv)} <b>{e(code_title(c, lang))}</b>"
            + (f" ({e(sep.join(m))})" if m and lang != "zh" else
               f"（{e(sep.join(m))}）" if m else "") + "</li>"
            for c, (sv, m) in heads.items()) or f"<li>{e(ui['none'])}</li>"
        acts = [f for f in self.findings
                if f.severity in ("alert", "warning") and f.code not in _NOT_CONCLUSIONS]
        actions = "".join(f"<li>{badge(f.severity)} {msg(f)}</li>" for f in acts
                          ) or f"<li>{e(ui['no_actions'])}</li>"
        retest = "".join(
            f"<li><b class='due'>{e(f.numbers.get('due_date', ''))}</b> "
            + (f"<span class='sev warning'>{e(ui['overdue'])}</span>" if f.severity != "info"
               else f"<span class='sev info'>{e(ui['due'])}</span>")
            + f" {msg(f)}</li>"
            for f in self.retests()) or f"<li>{e(ui['no_retest'])}</li>"
        latest = "".join(
            f"<tr><td>{e(s.name(lang))}</td><td class='num'>{e(s.shown(-1))} "
            f"{e(_unit(s.unit))}</td><td>{e(s.dates[-1])}</td><td>"
            + (e(f"{_fmt(s.ri_low)}–{_fmt(s.ri_high)}") if s.ri_low is not None
               and s.ri_high is not None else "—")
            + "</td><td>" + (e(f"< {_fmt(s.target)}") if s.target is not None else "—")
            + "</td></tr>" for s in self.series)
        latest_tab = (f"<h3>{e(ui['latest'])}</h3><table class='grid'><tr>"
                      + "".join(f"<th>{e(ui[k])}</th>" for k in ("marker", "value", "date",
                                                                    "ri", "target"))
                      + f"</tr>{latest}</table>") if self.series else ""
        patient = (f"<table class='facts'><tr><th>{e(ui['patient'])}</th><td><b>"
                   f"{e(self.patient_id)}</b></td>"
                   + (f"<th>{e(ui['birth_date'])}</th><td>{e(self.birth_date)}</td>"
                      if self.birth_date else "")
                   + f"</tr><tr><th>{e(ui['today'])}</th><td>{e(self.today)}</td>"
                   f"<th>{e(ui['ruleset'])}</th><td>{e(self.ruleset)}</td></tr></table>")
        summary = (
            f"<section class='summary' id='summary'><h1>{e(ui['title'])}</h1>{patient}"
            f"<p class='disclaimer'>{e(render_sources(ui['disclaimer'], lang))}</p>"
            f"<h2>{e(ui['conclusion'])}</h2><ul class='concl'>{concl}</ul>"
            f"<h2>{e(ui['actions'])}</h2><ul>{actions}</ul>"
            f"<h2>{e(ui['retest'])}</h2><ul class='retest'>{retest}</ul>{latest_tab}"
            f"<p class='note'>{e(ui['see_findings'])}</p></section>")
        rows = "".join(
            f"<tr class='{e(f.severity)}'><td>{badge(f.severity)}</td><td>"
            f"<b>{e(code_title(f.code, lang))}</b><br><code>{e(f.code)}</code>"
            + (f"<br>{e(self._marker_name(f.marker, lang))}" if f.marker else "")
            + f"</td><td>{msg(f)}<div class='src'>{srcs(f)}</div></td></tr>"
            for f in self.findings)
        findings = (f"<section class='findings'><h2>{e(ui['findings_full'])}</h2>"
                    f"<table class='grid'><tr><th>{e(ui['severity'])}</th>"
                    f"<th>{e(ui['finding'])}</th><th>{e(ui['sources'])}</th></tr>"
                    f"{rows or '<tr><td>' + e(ui['none']) + '</td></tr>'}</table></section>")
        img = ""
        if plot and self.series:
            b64 = base64.b64encode(self.plot_png(lang, dpi=130)).decode("ascii")
            img = (f"<section class='trends'><h2>{e(ui['trends'])}</h2>"
                   f"<p class='note'>{e(ui['trends_note'])}</p>"
                   f"<img alt='{e(ui['plot'])}' src='data:image/png;base64,{b64}'/></section>")
        tl = "".join(f"<tr><td>{e(t.date)}</td><td>{e(_units(t.label[lang]))}</td>"
                     f"<td><code>{e(t.row)}</code></td></tr>" for t in self.timeline)
        timeline = (f"<section class='timeline'><h2>{e(ui['timeline'])}</h2><table class='grid'>"
                    f"<tr><th>{e(ui['date'])}</th><th>{e(ui['event'])}</th>"
                    f"<th>{e(ui['row'])}</th></tr>{tl}</table></section>")
        inp = self.inputs
        cens = "".join(
            f"<tr><td>{e(c.date)}</td><td>{e(self._marker_name(c.marker, lang))}</td>"
            f"<td class='num'>{e(c.comparator + _fmt(c.value))} {e(_unit(c.unit))}</td>"
            f"<td><code>{e(c.row)}</code></td></tr>" for c in inp.censored)
        ign = "".join(
            f"<tr><td><code>{e(i.label())}</code></td><td>{e(i.code)}</td>"
            f"<td>{e(i.reason)}</td></tr>" for i in inp.ignored)
        inputs = (
            f"<section class='inputs'><h2>{e(ui['inputs'])}</h2>"
            f"<p>{e(ui['inputs_used'].format(m=inp.n_measurements, t=inp.n_treatments))}</p>"
            f"<h3>{e(ui['censored'])}</h3>"
            + (f"<table class='grid censored'><tr><th>{e(ui['date'])}</th>"
               f"<th>{e(ui['marker'])}</th><th>{e(ui['value'])}</th><th>{e(ui['row'])}</th>"
               f"</tr>{cens}</table>" if cens else f"<p>{e(ui['no_censored'])}</p>")
            + f"<h3>{e(ui['ignored'])}</h3>"
            + (f"<table class='grid ignored'><tr><th>{e(ui['resource'])}</th>"
               f"<th>{e(ui['code'])}</th><th>{e(ui['reason'])}</th></tr>{ign}</table>"
               if ign else f"<p>{e(ui['no_ignored'])}</p>")
            + "</section>")
        src = "".join(f"<li>{e(x)}</li>" for x in _source_lines(self.all_sources(), lang))
        return (
            f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head>"
            f"<meta charset='utf-8'><title>{e(ui['title'])} · {e(self.patient_id)}</title>"
            f"<style>{_CSS}</style></head><body>{summary}{findings}{img}{timeline}{inputs}"
            f"<section class='sources'><h2>{e(ui['sources'])}</h2><ol>{src}</ol></section>"
            f"<footer>{e(ui['generated'])} · {e(self.patient_id)} · {e(self.today)}</footer>"
            "</body></html>\n"
        )

    def _marker_name(self, marker: str, lang: str) -> str:
        s = next((s for s in self.series if s.marker == marker), None)
        return s.name(lang) if s is not None else marker


_CSS = (
    "@page{size:A4;margin:14mm 13mm 16mm 13mm}"
    "html{font-family:'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC',"
    "'WenQuanYi Zen Hei','Microsoft YaHei','PingFang SC',sans-serif;font-size:10.5pt;"
    "color:#111;line-height:1.4}"
    "body{max-width:62em;margin:auto;padding:0 1em}"
    "h1{font-size:1.5em;margin:.2em 0 .5em}h2{font-size:1.2em;margin:1em 0 .4em;"
    "border-bottom:1px solid #999}h3{font-size:1.05em;margin:.8em 0 .3em}"
    "table{border-collapse:collapse}td,th{vertical-align:top;padding:3px 6px;text-align:left}"
    "table.grid{width:100%}table.grid tr{border-bottom:1px solid #ddd}"
    "table.grid th{background:#f0f0f0}table.facts th{font-weight:normal;color:#444}"
    "td.num{white-space:nowrap}code{font-size:.85em;color:#444}"
    ".sev{display:inline-block;min-width:3.5em;text-align:center;border-radius:3px;"
    "padding:0 .3em;font-weight:bold;color:#fff;font-size:.85em}"
    ".sev.alert{background:#b00020}.sev.warning{background:#b36b00}.sev.info{background:#345}"
    ".src{color:#555;font-size:.85em}.note{color:#444;font-size:.9em}"
    ".disclaimer{font-style:italic;color:#333}.due{white-space:nowrap}"
    "ul{padding-left:1.2em}li{margin:.25em 0}"
    "img{max-width:100%;height:auto}footer{margin-top:2em;color:#777;font-size:.8em}"
    "section.summary{break-after:page;page-break-after:always}"
    "section.summary li,section.summary td{font-size:.93em}"
    "section.trends{break-before:page;page-break-before:always}"
    "tr,li,img{break-inside:avoid;page-break-inside:avoid}h2,h3{break-after:avoid}"
    "@media print{body{max-width:none;padding:0}a{color:inherit;text-decoration:none}"
    ".sev,table.grid th{-webkit-print-color-adjust:exact;print-color-adjust:exact}}"
)


def _unit(unit: str) -> str:
    from .plots import display_unit

    return display_unit(unit)


_UNIT_WORD = re.compile(r"(?<![\w/])u(g/L|g/mL|mol/L|mol/mol)")


def _units(text: str) -> str:
    """Micro units of a message as µ (ug/L -> µg/L) for the printed report."""
    return _UNIT_WORD.sub(r"µ\1", text)


# -- citations: a fact of the source reviews ("seed:B18") is shown readably ----------------

_SEP = {"en": "; ", "zh": "；"}


def _is_fact(c: Citation) -> bool:
    return c.ref.startswith("seed:")


def _full(c: Citation, lang: str) -> str:
    """The citation in full: review, section and claim for a fact, else the source text."""
    return cite(c.ref, lang) if _is_fact(c) else render_sources(c.text, lang)


def _short(cits: Sequence[Citation], lang: str, *, localise: bool = False) -> list[str]:
    """Short forms with evidence, facts grouped by review: 'Cheng et al. 2022, §2 (cohort),
    §3.1 (cohort)'; other sources by id: 'kdigo2012 (guideline)'. ``localise``: evidence
    levels in the report language, in its brackets ('（综述）')."""
    groups: dict[str, dict[str, None]] = {}

    def ev(c: Citation) -> str:
        if not localise or lang != "zh":
            return f" ({c.evidence})"
        return f"（{EVIDENCE_LABEL['zh'].get(c.evidence, c.evidence)}）"

    for c in cits:
        fact = resolve(c.ref) if _is_fact(c) else None
        if isinstance(fact, Fact):
            rev = references()[fact.review]
            sec = rev.section(fact.section).ref(lang, short=True)
            groups.setdefault(rev.label(lang), {})[f"{sec}{ev(c)}"] = None
        else:
            groups.setdefault(f"{c.ref}{ev(c)}", {})
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


def format_message(rule: Rule, row: Mapping[str, Any], ctx: Any, lang: str) -> str:
    """Fill a rule's message template in ``lang`` from one findings row (``ctx``: the
    engine's context, or the marker catalogue it holds)."""
    cat = getattr(ctx, "catalog", ctx)
    mid = row.get("marker") if isinstance(row.get("marker"), str) else None
    unit = cat[mid].display_unit if mid in cat else ""
    na = _NA[lang]
    fields: dict[str, str] = {}
    comps = {"value": _text(row.get("comparator")),
             "baseline": _text(row.get("baseline_comparator")),
             "reference": _text(row.get("reference_comparator"))}
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
        if k == "ratio" and math.isinf(v):
            fields[k] = _NO_MAGNESIUM[lang]
            continue
        s = _fmt(v)
        if k == "change_abs":
            s = f"{v:+.3g}"
        if k in _WITH_UNIT and unit:
            s = f"{s} {unit}"
        if k == "egfr":
            s = f"{s} mL/min/1.73 m²"
        fields[k] = comps.get(k, "") + s
    for k in ("change_pct", "lsc_pct"):
        v = _num(row.get(k))
        fields[k] = na if v is None else (f"{v:+.0f}%" if k == "change_pct" else f"{v:.0f}%")
    if _num(row.get("change_pct")) is None:
        bound = _change_bound(_num(row.get("change_pct_min")), _num(row.get("change_pct_max")),
                              lang)
        fields["change_pct"] = bound or fields["change_pct"]
    fields["change_pct_min"] = fields["change_pct_max"] = fields["change_pct"]
    about = _text(row.get("about"))
    fields["about"] = ("、" if lang == "zh" else "; ").join(
        code_title(c, lang) for c in about.split(",")) if about else na
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


def _text(x: Any) -> str:
    return x if isinstance(x, str) else ""


#: How the bound of a change from a censored result reads (rounded outwards, so that it
#: stays true: a change below -93.3% is "a decrease of at least 93%").
_BOUND = {"en": {"dec_least": "a decrease of at least {n}%", "below": "less than {n:+d}%",
                 "inc_more": "an increase of more than {n}%", "above": "more than {n:+d}%"},
          "zh": {"dec_least": "降幅至少{n}%", "below": "低于{n:+d}%",
                 "inc_more": "升幅超过{n}%", "above": "高于{n:+d}%"}}


def _change_bound(low: float | None, high: float | None, lang: str) -> str:
    """The change of a censored pair as its bound in words; ``""`` when none is known."""
    t = _BOUND[lang]
    if high is not None:
        return (t["dec_least"].format(n=math.floor(-high)) if high <= 0
                else t["below"].format(n=math.ceil(high)))
    if low is not None:
        return (t["inc_more"].format(n=math.floor(low)) if low >= 0
                else t["above"].format(n=math.floor(low)))
    return ""


def build_report(ctx: Context, frame: pd.DataFrame, pid: int, rules: Sequence[Rule],
                 ignored: Sequence[Mapping[str, str]] = ()) -> Report:
    """Turn the findings rows of patient ``pid`` into a :class:`Report`; ``ignored`` is
    what the loader read but did not use (``PatientRecord.ignored``)."""
    t = ctx.tables
    cb = ctx.course_btm
    cb = cb[(cb["pid"] == pid) & cb["baseline"].notna()]
    info = ctx.marker_info
    return assemble_report(
        frame.to_dict("records"), catalog=ctx.catalog, ruleset=ctx.ruleset, today=t.today,
        patient=t.patients[t.patients["pid"] == pid].iloc[0].to_dict(),
        meas=ctx.meas[ctx.meas["pid"] == pid].to_dict("records"),
        treat=t.treat[t.treat["pid"] == pid].to_dict("records"),
        baselines=cb[["marker", "start", "baseline", "baseline_day"]].to_dict("records"),
        lsc={mid: float(v) for mid, v in info["lsc_pct"].items()}, rules=rules,
        ignored=ignored)


def assemble_report(rows: Sequence[Mapping[str, Any]], *, catalog: Any, ruleset: Any,
                    today: int, patient: Mapping[str, Any],
                    meas: Sequence[Mapping[str, Any]], treat: Sequence[Mapping[str, Any]],
                    baselines: Sequence[Mapping[str, Any]], lsc: Mapping[str, float],
                    rules: Sequence[Rule], ignored: Sequence[Mapping[str, str]] = (),
                    ) -> Report:
    """The :class:`Report` of one patient from plain rows, whichever path of the engine
    made them.

    ``rows``: the findings (columns of the engine's findings, in report order); ``patient``:
    the patient's row of the tables; ``meas``: the measurements in (marker, day, source)
    order; ``treat``: the treatment courses; ``baselines``: the (course, measurement) pairs
    with a baseline (``marker``, ``start``, ``baseline``, ``baseline_day``); ``lsc``: the LSC
    in use per marker.
    """
    cat = catalog
    # the source row of each (marker, course start) baseline, for the findings that
    # compare with it
    base_day = {(b["marker"], _num(b["start"])): _num(b["baseline_day"]) for b in baselines}
    source_at = {(r["marker"], _num(r["day"])): r["source"] for r in meas
                 if isinstance(r.get("source"), str)}
    findings = []
    for row in rows:
        rule = rules[int(row["rule"])]
        mid = row["marker"] if isinstance(row.get("marker"), str) else None
        numbers: dict[str, Any] = {k: _num(row.get(k)) for k in NUMBER_FIELDS}
        numbers = {k: (None if v is not None and math.isinf(v) else v) for k, v in numbers.items()
                   if v is not None}
        numbers.update({k: day_to_iso(v) for k, col in _DATE_FIELDS.items()
                        if (v := _num(row.get(col))) is not None})
        d = _num(row.get("day"))
        baseline_row = None
        if mid and _num(row.get("baseline")) is not None:
            bday = base_day.get((mid, _num(row.get("start"))))
            baseline_row = None if bday is None else source_at.get((mid, bday))
        findings.append(Finding(
            code=rule.code, severity=rule.severity, rule_id=rule.id, marker=mid,
            value=_num(row.get("value")), unit=cat[mid].display_unit if mid else None,
            date=None if d is None else day_to_iso(d),
            row=row["source"] if isinstance(row.get("source"), str) else None,
            drug=row["drug"] if isinstance(row.get("drug"), str) else None,
            numbers=numbers,
            message=Text(format_message(rule, row, cat, "en"),
                         format_message(rule, row, cat, "zh")),
            sources=rule.cite, comparator=_text(row.get("comparator")) or None,
            baseline_row=baseline_row,
        ))
    events = []
    for r in meas:
        m = cat[r["marker"]]
        label = f"{m.symbol} {r['comparator']}{_fmt(r['value'])} {m.display_unit}"
        events.append(TimelineEvent(day_to_iso(r["day"]), "measurement", Text(label, label),
                                    r["source"]))
    courses = []
    for r in treat:
        dr = DRUGS[r["drug"]]
        route, stop = r["route"], r["stop"]
        route_zh = _ROUTE.get(route, route)
        events.append(TimelineEvent(day_to_iso(r["start"]), "start",
                                    Text(f"start {dr.name.en} ({route})",
                                         f"开始{dr.name.zh}（{route_zh}）"), r["source"]))
        if not math.isnan(stop):
            events.append(TimelineEvent(day_to_iso(stop), "stop",
                                        Text(f"stop {dr.name.en}", f"停用{dr.name.zh}"),
                                        r["source"]))
        courses.append(Course(drug=r["drug"], name=Text(dr.name.en, dr.name.zh),
                              start=day_to_iso(r["start"]),
                              stop=None if math.isnan(stop) else day_to_iso(stop),
                              route=route, row=r["source"]))
    courses.sort(key=lambda c: (c.start, c.row))
    events.sort(key=lambda e: (e.date, e.kind != "start", e.row))
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in meas:
        groups.setdefault(r["marker"], []).append(r)
    series = []
    for mid, g in groups.items():
        m = cat[mid]
        if not m.is_bone_turnover_marker and mid != "MG":
            continue
        b = sorted((x for x in baselines if x["marker"] == mid), key=lambda x: x["start"])
        base = _num(b[-1]["baseline"]) if b else None
        bday = _num(b[-1]["baseline_day"]) if b else None
        series.append(MarkerSeries(
            marker=mid, symbol=m.symbol, unit=m.display_unit,
            dates=tuple(day_to_iso(x["day"]) for x in g),
            values=tuple(float(x["value"]) for x in g),
            ri_low=m.ri.low if m.ri else None, ri_high=m.ri.high if m.ri else None,
            baseline=base, baseline_date=None if bday is None else day_to_iso(bday),
            lsc_pct=float(lsc[mid]),
            target=target.value if (target := ruleset.targets.get(mid)) else None,
            label=_marker_label(m), comparators=tuple(_text(x["comparator"]) for x in g),
        ))
    birth = _num(patient.get("birth_day"))
    inputs = InputSummary(
        n_measurements=len(meas), n_treatments=len(treat),
        censored=tuple(CensoredInput(str(r["source"]), str(r["marker"]), day_to_iso(r["day"]),
                                     str(r["comparator"]), float(r["value"]),
                                     cat[r["marker"]].display_unit, cat[r["marker"]].symbol)
                       for r in meas if _text(r["comparator"]) != ""),
        ignored=tuple(IgnoredInput.from_record(d) for d in ignored))
    return Report(
        patient_id=str(patient["patient_id"]), ruleset=ruleset.id,
        today=day_to_iso(today), findings=tuple(findings), timeline=tuple(events),
        series=tuple(series), courses=tuple(courses),
        birth_date=None if birth is None else day_to_iso(birth), inputs=inputs,
    )


def _marker_label(m: Any) -> Text:
    """Short marker name: the symbol, and in Chinese the short form the catalogue gives
    in brackets ('完整P1NP'), else the Chinese name ('血清镁')."""
    zh = m.name.zh
    if zh.endswith("）") and "（" in zh:
        zh = zh[zh.rindex("（") + 1:-1].split("，")[0]
    return Text(m.symbol, zh)
