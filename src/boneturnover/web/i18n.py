"""The clinic's words in English and Simplified Chinese.

Report terms (the disclaimer, finding titles, severities, marker names) come from the
clinical package's own tables (:data:`boneturnover.clinical.report._UI`,
:data:`~boneturnover.clinical.report.CODE_TITLE`,
:data:`~boneturnover.clinical.report.SEVERITY_LABEL` and the marker catalogue), so that a
page and a report say the same thing; :data:`UI` holds only what the clinic adds.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..clinical.catalog import CATALOG, DRUGS
from ..clinical.report import _UI as REPORT_UI
from ..clinical.report import SEVERITY_LABEL, code_title

__all__ = ["LANGS", "UI", "t", "Words"]

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

    def drug(self, key: str) -> str:
        d = DRUGS.get(DRUGS.find(key) or key)
        return key if d is None else d.name[self.lang]


def t(lang: str) -> Words:
    return Words(lang)
