"""The clinic's words in English and Simplified Chinese.

Report terms (the disclaimer, finding titles, severities, marker names) come from the
clinical package's own tables (:data:`boneturnover.clinical.report._UI`,
:data:`~boneturnover.clinical.report.CODE_TITLE`,
:data:`~boneturnover.clinical.report.SEVERITY_LABEL` and the marker catalogue), so that a
page and a report say the same thing; :data:`UI` holds only what the clinic adds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..clinical.catalog import CATALOG, DRUGS
from ..clinical.report import _UI as REPORT_UI
from ..clinical.report import SEVERITY_LABEL, code_title

__all__ = ["LANGS", "UI", "t", "Words", "error_text", "FIELD_ZH", "ZH_FALLBACK"]

LANGS = ("en", "zh")

UI: Mapping[str, Mapping[str, str]] = {
    "en": {
        "clinic": "Bone turnover clinic", "login": "Sign in", "logout": "Sign out",
        "username": "User name", "password": "Password", "worklist": "Worklist",
        "patients": "Patients", "new_patient": "New patient", "upload": "Upload",
        "admin": "Administration", "audit": "Audit log", "language": "Language",
        "switch": "中文", "save": "Save", "add": "Add", "patient_id": "Patient id",
        "ckd": "Chronic kidney disease", "glucocorticoids": "Glucocorticoids",
        "ca_supp": "Calcium supplement (mg/d)", "mg_supp": "Magnesium supplement (mg/d)",
        "unknown": "not recorded", "yes": "yes", "no": "no",
        "needs_action": "Patients needing action, most urgent first",
        "all_patients": "All patients of the site", "no_action": "No patient needs action.",
        "group": "Group", "filter": "Filter by finding", "all": "all", "apply": "Apply",
        "cat_denosumab": "Denosumab overdue or rebound risk",
        "cat_inadequate": "Inadequate response", "cat_retest": "Retest due",
        "cat_magnesium": "Low magnesium", "cat_contraindication": "Contraindication",
        "add_result": "Add a result", "add_treatment": "Add a treatment course",
        "results": "Results", "treatments": "Treatments", "comparator": "Comparator",
        "fasting": "Fasting", "time": "Time", "specimen": "Specimen", "assay": "Assay",
        "lab": "Laboratory", "drug": "Drug", "dose": "Dose", "dose_unit": "Dose unit",
        "interval": "Interval (UCUM, e.g. 6 mo)", "route": "Route",
        "last_dose": "Last dose", "unit": "Unit", "upload_fhir": "Patient file",
        "upload_fhir_note": "A FHIR R4 Bundle (.json) or a patient file of the clinical "
                            "layout (.toml or .json); all of it is stored, or nothing.",
        "upload_cohort": "Cohort CSVs",
        "upload_cohort_note": "patients.csv and measurements.csv; treatments.csv and "
                              "assays.toml (the laboratory's [assay.<MARKER>] values for "
                              "every patient of the cohort) optional; one refused row and "
                              "nothing is stored.",
        "imported": "Imported", "download_pdf": "PDF report",
        "download_fhir": "FHIR DiagnosticReport", "next_dates": "Next dates",
        "snapshot": "Interpretation", "ruleset_version": "Rule-set version",
        "correct": "Correct", "reason": "Reason", "history": "History",
        "superseded": "corrected", "entered": "Entered", "by": "by",
        "users": "Users", "role": "Role", "site": "Site", "tokens": "API tokens",
        "token_name": "Token name", "new_token": "New token (shown once)",
        "assay_settings": "Laboratory assay settings", "unlock": "Unlock",
        "locked": "locked", "error": "Error", "back": "Back", "action": "Action",
        "at": "Time", "user": "User", "detail": "Detail", "post_results": "Post results",
        "lab_note": "Results for a patient of the site (the laboratory role).",
        "findings_sources": "Findings and their sources", "plot_alt": "Marker timeline",
        "no_results": "No results yet.", "evaluated": "Evaluated on",
        "account": "My account", "current_password": "Current password",
        "new_password": "New password", "password_changed": "Password changed.",
        "active": "active", "inactive": "deactivated", "deactivate": "Deactivate",
        "activate": "Reactivate", "what_if": "What if",
        "what_if_note": "Add a hypothetical result or course and see the findings it would "
                        "give; nothing is stored.",
        "what_if_banner": "Hypothetical: these findings include the entries below, which "
                          "are not stored.",
        "new_finding": "new", "show": "Show",
        "withdraw": "Withdraw", "withdrawn": "withdrawn",
        "withdraw_note": "A course entered in error: it is kept in the history, and the "
                         "interpretation no longer reads it.",
        "retired_treatments": "Corrected and withdrawn courses (kept, not interpreted)",
        "edit_facts": "Edit the patient's facts",
        "edit_facts_note": "A changed fact keeps its earlier value in the history below, "
                           "with who changed it, when and why. An empty field is not "
                           "recorded.",
        "fact_history": "Changes of the patient's facts", "field": "Field",
        "old_value": "Before", "new_value": "After",
        "no_fact_changes": "No fact was changed since the patient was entered.",
    },
    "zh": {
        "clinic": "骨转换门诊", "login": "登录", "logout": "退出登录", "username": "用户名",
        "password": "密码", "worklist": "待办列表", "patients": "患者",
        "new_patient": "新建患者", "upload": "上传", "admin": "系统管理", "audit": "审计日志",
        "language": "语言", "switch": "English", "save": "保存", "add": "添加",
        "patient_id": "患者编号", "ckd": "慢性肾脏病", "glucocorticoids": "糖皮质激素",
        "ca_supp": "钙补充剂（毫克/天）", "mg_supp": "镁补充剂（毫克/天）",
        "unknown": "未记录", "yes": "是", "no": "否",
        "needs_action": "需处理的患者（按紧急程度排序）", "all_patients": "本机构全部患者",
        "no_action": "暂无需处理的患者。", "group": "类别", "filter": "按结论筛选",
        "all": "全部", "apply": "筛选",
        "cat_denosumab": "地舒单抗逾期或反弹风险", "cat_inadequate": "治疗反应不充分",
        "cat_retest": "应复查", "cat_magnesium": "低镁", "cat_contraindication": "禁忌",
        "add_result": "添加检测结果", "add_treatment": "添加治疗疗程", "results": "检测结果",
        "treatments": "治疗", "comparator": "比较符", "fasting": "空腹", "time": "时间",
        "specimen": "标本", "assay": "检测方法", "lab": "实验室", "drug": "药物",
        "dose": "剂量", "dose_unit": "剂量单位", "interval": "给药间隔（UCUM，如 6 mo）",
        "route": "给药途径", "last_dose": "末次给药", "unit": "单位",
        "upload_fhir": "患者文件",
        "upload_fhir_note": "FHIR R4 Bundle（.json）或临床格式的患者文件（.toml 或 .json）；"
                            "要么全部保存，要么全部不保存。",
        "upload_cohort": "队列 CSV 文件",
        "upload_cohort_note": "patients.csv 和 measurements.csv；treatments.csv 和 "
                              "assays.toml（本队列全部患者所用实验室的 [assay.<MARKER>] "
                              "设置）可选；任何一行被拒绝则全部不保存。",
        "imported": "已导入", "download_pdf": "PDF 报告",
        "download_fhir": "FHIR 诊断报告", "next_dates": "后续日期",
        "snapshot": "解读记录", "ruleset_version": "规则集版本", "correct": "更正",
        "reason": "原因", "history": "修改历史", "superseded": "已更正", "entered": "录入",
        "by": "录入人", "users": "用户", "role": "角色", "site": "机构",
        "tokens": "API 令牌", "token_name": "令牌名称", "new_token": "新令牌（仅显示一次）",
        "assay_settings": "实验室检测设置", "unlock": "解锁", "locked": "已锁定",
        "error": "错误", "back": "返回", "action": "操作", "at": "时间", "user": "用户",
        "detail": "详情", "post_results": "提交检测结果",
        "lab_note": "为本机构患者提交检测结果（实验室角色）。",
        "findings_sources": "结论及文献依据", "plot_alt": "标志物时间线",
        "no_results": "暂无检测结果。", "evaluated": "评估日期",
        "account": "我的账户", "current_password": "当前密码", "new_password": "新密码",
        "password_changed": "密码已修改。", "active": "启用", "inactive": "已停用",
        "deactivate": "停用", "activate": "重新启用", "what_if": "假设分析",
        "what_if_note": "添加一个假设的检测结果或疗程，查看其对应的结论；不会保存任何内容。",
        "what_if_banner": "假设分析：以下结论包含下列未保存的假设条目。",
        "new_finding": "新增", "show": "查看",
        "withdraw": "撤销", "withdrawn": "已撤销",
        "withdraw_note": "误录的疗程：保留在修改历史中，解读不再使用。",
        "retired_treatments": "已更正和已撤销的疗程（保留，不参与解读）",
        "edit_facts": "修改患者基本信息",
        "edit_facts_note": "修改后的信息会在下方历史中保留原值，以及修改人、时间和原因。"
                           "留空表示未记录。",
        "fact_history": "患者基本信息修改历史", "field": "项目",
        "old_value": "修改前", "new_value": "修改后",
        "no_fact_changes": "录入以来未修改过患者基本信息。",
    },
}


class Words:
    """What a template reads: ``w.ui("worklist")``, ``w.report("disclaimer")``,
    ``w.code("DENOSUMAB_REBOUND")``, ``w.severity("alert")``, ``w.marker("CTX_I")``."""

    def __init__(self, lang: str):
        self.lang = lang if lang in LANGS else "en"

    def ui(self, key: str) -> str:
        return UI[self.lang][key]

    def report(self, key: str) -> str:
        return REPORT_UI[self.lang][key]

    def code(self, code: str) -> str:
        return code_title(code, self.lang)

    def severity(self, s: str) -> str:
        return SEVERITY_LABEL[self.lang].get(s, s)

    def marker(self, mid: str) -> str:
        m = CATALOG.get(CATALOG.find(mid) or mid)
        return mid if m is None else f"{m.symbol} — {m.name[self.lang]}"

    def error(self, message: str) -> str:
        """A refusal in this language (:func:`error_text`)."""
        return error_text(message, self.lang)

    def drug(self, key: str) -> str:
        d = DRUGS.get(DRUGS.find(key) or key)
        return key if d is None else d.name[self.lang]


def t(lang: str) -> Words:
    return Words(lang)


# -- refusals in Chinese ---------------------------------------------------------------------
#
# The engine and the clinic write refusals in English, one line naming where (the patient,
# the file and line, the row), the field, the value and what was expected. For a user whose
# language is zh, :func:`error_text` reads those structured parts back and fills a Chinese
# template per kind of refusal; the values (ids, numbers, units, dates, file names) are
# carried over as they were written. A refusal with no template is shown whole, in
# English, after a Chinese lead-in (:data:`ZH_FALLBACK`), so nothing is ever lost.

#: Field names of the clinical layout and of the clinic's forms, in Chinese.
FIELD_ZH: Mapping[str, str] = {
    "value": "数值", "unit": "单位", "date": "日期", "marker": "标志物",
    "comparator": "比较符", "fasting": "空腹", "time": "时间", "birth_date": "出生日期",
    "ckd": "慢性肾脏病", "glucocorticoids": "糖皮质激素",
    "calcium_supplement_mg_d": "钙补充剂", "magnesium_supplement_mg_d": "镁补充剂",
    "drug": "药物", "start": "开始日期", "stop": "停止日期", "dose": "剂量",
    "dose_unit": "剂量单位", "interval": "给药间隔", "route": "给药途径",
    "last_dose": "末次给药", "reason": "原因", "patient_id": "患者编号",
    "ri_low": "参考区间下限", "ri_high": "参考区间上限", "cva_pct": "分析变异系数",
    "cvi_pct": "个体内变异系数", "lsc_pct": "最小显著变化", "password": "密码",
    "username": "用户名",
}

#: Shown before a refusal that has no Chinese template (the English original follows).
ZH_FALLBACK = "输入被拒绝（此提示尚无中文版本，以下为英文原文）："

_FILE = r"[\w.-]+\.(?:csv|toml|json)"
#: Where a refusal happened (read off its start, one after the other): pattern, template.
_WHERE: tuple[tuple[str, str], ...] = (
    (r"patient (?P<pid>[^:;]+?): ", "患者 {pid}："),
    (rf"(?P<file>{_FILE}) line (?P<line>\d+): ", "{file} 第 {line} 行："),
    (r"measurements\[(?P<i>\d+)\]: ", "第 {i} 条检测结果："),
    (r"treatments\[(?P<i>\d+)\]: ", "第 {i} 个疗程："),
    (r"\[patient\] row \d+: ", "患者信息："),
    (r"\[assay\] (?P<m>\w+): ", "[assay] {m}："),
    (r"assay\.(?P<m>\w+): ", "[assay.{m}]："),
    (rf"(?P<file>{_FILE}): ", "{file}："),
    (r"(?P<what>result|treatment) (?P<n>\d+): ", "{what} {n}："),
)
#: What a refusal ends with, read off its end: pattern, template.
_TAIL: tuple[tuple[str, str], ...] = (
    (r"; nothing was imported$", "；未导入任何内容"),
    (r" \((?P<n>\d+) more(?: problem\(s\))?\)$", "（另有 {n} 个问题）"),
)
#: The refusal itself (after where, before the tail): a full match, and its template;
#: ``{field}`` is shown as the Chinese field name with the field's own name.
_BODY: tuple[tuple[str, str], ...] = (
    (r"value (?P<value>.+?) is outside what (?P<marker>\S+) can be \((?P<lo>\S+) to "
     r"(?P<hi>\S+) (?P<unit>[^)]+)\): likely a unit slip, the value fits (?P<fits>\S+) "
     r"\((?P<conv>[^)]*)\); correct the unit or the value",
     "数值 {value} 超出 {marker} 的可能范围（{lo} 至 {hi} {unit}）：很可能是单位写错，"
     "按 {fits} 该数值合理（{conv}）；请更正单位或数值"),
    (r"value (?P<value>.+?) is outside what (?P<marker>\S+) can be \((?P<lo>\S+) to "
     r"(?P<hi>\S+) (?P<unit>[^)]+)\)(?P<rest>.*)",
     "数值 {value} 超出 {marker} 的可能范围（{lo} 至 {hi} {unit}）；请检查数值和单位"),
    (r"(?P<field>\w+) (?P<value>.+?) is in the future", "{field} {value} 是将来的日期"),
    (r"(?P<field>\w+) (?P<value>.+?) is not a date YYYY-MM-DD",
     "{field} {value} 不是 YYYY-MM-DD 格式的日期"),
    (r"(?P<field>\w+) (?P<value>.+?) is not a number \(a finite number, optionally after "
     r"<, <=, > or >=\)", "{field} {value} 不是数字（应为有限数值，前面可带 <、<=、> 或 >=）"),
    (r"(?P<field>\w+) (?P<value>.+?) is not true/false", "{field} {value} 不是 true/false"),
    (r"unit (?P<value>.+?) is not accepted for (?P<marker>\S+); expected one of (?P<list>.+)",
     "单位 {value} 不适用于 {marker}；应为以下之一：{list}"),
    (r"(?P<field>\w+) = (?P<value>.+?) must be a finite number",
     "{field} = {value} 必须是有限数值"),
    (r"(?P<field>\w+) (?P<value>.+?) must be a number from (?P<lo>\S+) to (?P<hi>\S+) "
     r"\((?P<why>.*)\)", "{field} {value} 必须是 {lo} 至 {hi} 之间的数字（依据：{why}）"),
    (r"unknown field\(s\) (?P<got>\[.*?\]); expected (?P<list>\[.*\])",
     "未知字段 {got}；可用字段：{list}"),
    (r"unit (?P<value>'[^']*') is not accepted for (?P<marker>\w+); expected one of "
     r"(?P<list>.+)", "单位 {value} 不适用于 {marker}；应为以下之一：{list}"),
    (r"ri_low (?P<lo>\S+) must be below ri_high (?P<hi>\S+)",
     "参考区间下限 {lo} 必须低于上限 {hi}"),
    (r"unknown marker (?P<m>'[^']*'); expected one of (?P<list>.+)",
     "未知标志物 {m}；应为以下之一：{list}"),
    (r"unknown table\(s\) (?P<got>\[.*?\]); expected \[assay\.<MARKER>\]",
     "未知的表 {got}；应为 [assay.<MARKER>]"),
    (r"(?P<field>\w+): empty; .*", "{field}为空；请填写"),
    (r"(?P<field>\w+) = (?P<value>.+?) differs from the stored (?P<old>.+?); expected the "
     r"stored value or none \(.*\)",
     "{field} = {value} 与已保存的 {old} 不同；导入只添加检测结果和疗程，不修改已保存的"
     "患者信息：请在患者页面用“修改患者基本信息”表单修改"),
    (r"the facts given are the stored ones; expected at least one changed fact",
     "所填信息与已保存的相同；请至少修改一项"),
    (r"no such patient at your site", "本机构没有此患者"),
    (r"no such (?:result|treatment course) at your site", "本机构没有此记录"),
    (r"already corrected; .*", "已被更正；请更正当前的记录"),
    (r"withdrawn \((?P<why>.*)\); expected a current course to \w+",
     "已撤销（原因：{why}）；只能处理当前的疗程"),
    (r"wrong user name or password", "用户名或密码错误"),
    (r"this user is locked out after (?P<n>\d+) failed sign-ins until (?P<until>.+?) UTC; "
     r"an administrator can unlock it",
     "该用户连续 {n} 次登录失败，已锁定至 {until}（UTC）；管理员可提前解锁"),
    (r"more than (?P<n>\d+) sign-in attempts in a minute from this address; wait a minute",
     "此地址一分钟内的登录尝试超过 {n} 次；请等待一分钟后再试"),
    (r"sign-in refused: the form was sent from (?P<origin>.+?), not from this clinic's own "
     r"sign-in page", "登录被拒绝：表单来自 {origin}，而不是本门诊自己的登录页"),
    (r"the form's CSRF token is missing or wrong; reload the page and try again",
     "表单的 CSRF 令牌缺失或错误；请刷新页面后重试"),
    (r"current password: wrong; nothing was changed", "当前密码错误；未作任何修改"),
    (r"password: (?P<n>\d+) characters; expected at least (?P<min>\d+) \(.*\)",
     "密码只有 {n} 个字符；至少需要 {min} 个字符"),
)
_WHERE_RE = tuple((re.compile(p), t) for p, t in _WHERE)
_TAIL_RE = tuple((re.compile(p), t) for p, t in _TAIL)
_BODY_RE = tuple((re.compile(p, re.S), t) for p, t in _BODY)


def _fill(template: str, m: re.Match) -> str:
    parts = {k: v or "" for k, v in m.groupdict().items()}
    if "field" in parts and parts["field"] in FIELD_ZH:
        parts["field"] = f"{FIELD_ZH[parts['field']]}（{parts['field']}）"
    return template.format(**parts)


def error_text(message: str, lang: str) -> str:
    """A refusal in the user's language: English as written; Chinese from the templates
    above (where, refusal, tail), or :data:`ZH_FALLBACK` and the English original."""
    if lang != "zh" or not message:
        return message
    rest, where, tail = message.strip(), [], []
    while True:
        for rx, tpl in _WHERE_RE:
            m = rx.match(rest)
            if m:
                where.append(_fill(tpl, m))
                rest = rest[m.end():]
                break
        else:
            break
    found = True
    while found:
        found = False
        for rx, tpl in _TAIL_RE:
            m = rx.search(rest)
            if m:
                tail.insert(0, _fill(tpl, m))
                rest = rest[:m.start()]
                found = True
    for rx, tpl in _BODY_RE:
        m = rx.fullmatch(rest)
        if m:
            return "".join(where) + _fill(tpl, m) + "".join(tail) + "。"
    return ZH_FALLBACK + message
