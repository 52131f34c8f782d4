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


def _message(page: str) -> str:
    import html

    m = re.search(r'id="error-message">([^<]*)<', page)
    assert m, page[-800:]
    return html.unescape(m.group(1))


def _english_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z][A-Za-z_]*", text))


def test_a_chinese_user_reads_refusals_in_chinese(clinic):
    from .conftest import EXAMPLES, PASSWORD, upload_cohort

    doc = clinic.client("doc")
    assert doc.post("/lang", data={"lang": "zh", "csrf_token": doc.csrf},
                    follow_redirects=False).status_code == 303
    files = {n: (EXAMPLES / "cohort" / n).read_bytes()
             for n in ("patients.csv", "measurements.csv", "treatments.csv")}
    r = upload_cohort(doc, files)  # C003's CTX-I in ng/L
    assert r.status_code == 422
    msg = _message(r.text)
    assert "患者 C003" in msg and "measurements.csv 第 9 行" in msg and "单位写错" in msg
    assert "0.41 ng/L" in msg and "410 ng/L" in msg  # the values, as written
    assert _english_words(msg) <= {"C", "measurements", "csv", "CTX_I", "ng", "L", "mL",
                                   "e"}, msg
    assert "likely a unit slip" not in r.text and "outside what" not in r.text
    # a bad value in a form: the field's Chinese name beside its own, the value as given
    r = doc.post("/patients/new", data={"csrf_token": doc.csrf, "patient_id": "p1"},
                 follow_redirects=False)
    key = r.headers["location"]
    r = doc.post(f"{key}/results", data={"csrf_token": doc.csrf, "date": "2024-08-01",
                                         "marker": "CTX_I", "value": "abc", "unit": "ng/L"})
    assert r.status_code == 422
    msg = _message(r.text)
    assert "第 1 条检测结果" in msg and "数值（value） 'abc' 不是数字" in msg, msg
    assert _english_words(msg) <= {"p", "value", "abc"}, msg
    assert "is not a number" not in r.text
    r = doc.post(f"{key}/facts", data={"csrf_token": doc.csrf, "birth_date": "2030-01-01",
                                       "reason": "checked"})
    msg = _message(r.text)
    assert r.status_code == 422 and "出生日期（birth_date） 2030-01-01 是将来的日期" in msg
    # the sign-in page, before signing in, in the browser's language
    c = clinic.client()
    c.get("/login?lang=zh")
    r = c.post("/login", data={"username": "doc", "password": PASSWORD + "x"})
    assert r.status_code == 401 and _message(r.text) == "用户名或密码错误。"
    assert "wrong user name" not in r.text
    # the same refusal stays English for an English user and in the API
    en = clinic.client("doc_b")
    r = upload_cohort(en, files)
    assert "likely a unit slip" in _message(r.text)


def test_a_refusal_without_a_template_is_shown_in_english_after_a_chinese_lead_in():
    from boneturnover.web.i18n import ZH_FALLBACK, error_text

    text = "measurements.csv line 3: something new went wrong"
    assert error_text(text, "zh") == ZH_FALLBACK + text
    assert error_text(text, "en") == text
    assert error_text("patients.csv line 2: unknown field(s) ['colour']; expected "
                      "['patient_id'] (2 more); nothing was imported", "zh") == (
        "patients.csv 第 2 行：未知字段 ['colour']；可用字段：['patient_id']（另有 2 个问题）"
        "；未导入任何内容。")
