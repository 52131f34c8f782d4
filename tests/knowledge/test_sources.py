"""The facts of the two source reviews, the bibliographies, and readable citations."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from boneturnover.cli import COMMAND_MODULES, build_parser, main
from boneturnover.errors import InputError
from boneturnover.knowledge.sources import (
    EVIDENCE,
    Fact,
    Reference,
    all_sources,
    bibliographies,
    bibliography,
    cite,
    fact_ids,
    facts,
    references,
    render_sources,
    resolve,
)

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "boneturnover"
EXPECTED = [f"B{i}" for i in range(1, 39)] + [f"M{i}" for i in range(1, 20)]
CJK = re.compile(r"[\u4e00-\u9fff]")
KEY = re.compile(r"seed:[BM]\d+")


# -- the facts and the reviews ------------------------------------------------------------


def test_every_fact_is_present_with_claims_and_a_section():
    assert list(facts()) == EXPECTED
    for fid, f in facts().items():
        assert f.id == fid and f.key == f"seed:{fid}"
        assert f.claim_en.strip() and f.claim_zh.strip(), fid
        assert CJK.search(f.claim_zh) and not CJK.search(f.claim_en), fid
        assert f.evidence in EVIDENCE, fid
        review = references()[f.review]
        assert review.facts == fid[0]
        assert review.section(f.section).title("en"), fid


def test_sections_and_evidence_follow_the_reviews():
    sec = {fid: f.section for fid, f in facts().items()}
    assert sec["B1"] == "introduction" and sec["B18"] == "3.2" and sec["B21"] == "4.1"
    assert (sec["B31"], sec["B35"], sec["B36"], sec["B37"], sec["B38"]) == (
        "4.2", "4.3", "4.4", "4.5", "5")
    assert sec["M10"] == "2.2" and sec["M18"] == "4.2" and sec["M19"] == "conclusion"
    ev = {fid: f.evidence for fid, f in facts().items()}
    assert {ev[f"B{i}"] for i in range(1, 39)} == {"review"}
    assert {ev[m] for m in ("M12", "M13", "M14")} == {"animal"}
    assert {ev[m] for m in ("M6", "M7", "M11", "M16", "M17", "M18")} == {"small-uncontrolled"}


def test_claims_keep_the_numbers_of_the_reviews():
    f = facts()
    assert "35 μg/L" in f["B25"].claim_en and "312 ng/L" in f["B25"].claim_zh
    assert "8 周" in f["B21"].claim_zh and "26 周" in f["B21"].claim_zh
    assert "误印" in f["B36"].claim_zh and "misprint" in f["B36"].claim_en  # mg/L for μg/L
    assert "0.82" in f["M11"].claim_zh and "15 mmol/d" in f["M18"].claim_zh


def test_the_bibliography_gives_only_what_the_texts_give():
    cheng, mg = references()["cheng2022"], references()["magnesium_review"]
    assert (cheng.year, cheng.volume, cheng.issue) == (2022, "43", "2")
    assert cheng.journal_zh == "海军军医大学学报" and cheng.zh_authors == ("程亚军",)
    assert cheng.title_zh == "骨转换标志物在绝经后骨质疏松症中的临床应用"
    assert cheng.citation("en").startswith("Cheng Y, et al. Clinical application of bone")
    assert "2022;43(2)" in cheng.citation("en")
    assert "海军军医大学学报，2022，43(2)" in cheng.citation("zh")
    # the magnesium review's text names no authors, journal or year: none is made up
    assert (mg.authors, mg.journal, mg.year, mg.volume, mg.pages) == ((), "", None, "", "")
    assert "descriptive title" in mg.citation("en") and "small or uncontrolled" in mg.notes("en")
    lines = bibliography().splitlines()
    assert lines[0].startswith("Cheng et al. 2022: Cheng Y, et al.") and len(lines) == 2
    assert bibliography("zh").startswith("程亚军等 2022：程亚军，等．")


# -- resolve, cite, render ----------------------------------------------------------------


def test_resolve_accepts_facts_reviews_and_every_bibliography():
    assert resolve("seed:B18") is resolve("B18") is facts()["B18"]
    assert resolve("seed:B") is resolve("cheng2022") is references()["cheng2022"]
    assert resolve("seed:M") is references()["magnesium_review"]
    assert resolve("reviews:cheng2022") is references()["cheng2022"]
    bibs = bibliographies()
    assert len(bibs) >= 4 and any(n.startswith("model.") for n in bibs)
    for key in ("vasikaran2011", "PROLIA_LABEL", "TRIO", "DIMAI1998", "GLOVER2009", "SWAN"):
        r = resolve(key)
        assert isinstance(r, Reference) and r.text and r.id == key
    first: dict[str, str] = {}
    for name, entries in bibs.items():
        for sid, r in entries.items():
            assert r.bibliography == name and r.text.strip()
            assert resolve(f"{name}:{sid}") is r  # qualified: the one named
            first.setdefault(sid, name)
    for sid, name in first.items():  # bare: the first bibliography that has it
        assert resolve(sid) is bibs[name][sid]


@pytest.mark.parametrize("key", ["seed:B39", "B0", "seed:M20", "nope", "clinical:nope",
                                 "seed:X1", ""])
def test_unknown_key_names_it_and_what_was_expected(key):
    with pytest.raises(InputError) as exc:
        resolve(key)
    assert repr(key) in str(exc.value) and "B1-B38, M1-M19" in str(exc.value)
    with pytest.raises(InputError):
        cite(key)


def test_cite_is_readable():
    assert cite("seed:B18").startswith(
        "Cheng et al. 2022, section 3.2: DXA BMD is the gold standard for diagnosing "
        "osteoporosis; bone turnover markers cannot diagnose it")
    assert cite("B18") == cite("seed:B18")
    zh = cite("seed:B18", "zh")
    assert zh.startswith("程亚军等 2022，第 3.2 节：") and "金标准" in zh
    assert cite("seed:B18", short=True) == "Cheng et al. 2022, §3.2"
    assert cite("seed:B1", short=True) == "Cheng et al. 2022, introduction"
    assert cite("seed:M10").startswith("Magnesium review, section 2.2: A high Ca/Mg ratio")
    assert cite("seed:M10", "zh", short=True) == "镁与骨质疏松综述，第二部分第 2 节"
    assert cite("cheng2022") == references()["cheng2022"].citation("en")
    assert cite("cheng2022", short=True) == "Cheng et al. 2022"
    assert cite("vasikaran2011").startswith("Vasikaran S, Eastell R")
    assert cite("vasikaran2011", short=True) == "vasikaran2011"
    # a source text citing a fact is rendered too
    assert cite("model.outputs:MG_RATIO").startswith("Magnesium review, §2.2 (a high Ca/Mg")
    with pytest.raises(InputError, match="language 'fr'"):
        cite("seed:B18", "fr")


@pytest.mark.parametrize("text,en,zh", [
    ("cannot diagnose osteoporosis (seed:B18).",
     "cannot diagnose osteoporosis (Cheng et al. 2022, §3.2).",
     "cannot diagnose osteoporosis (程亚军等 2022，第 3.2 节)."),
    ("(seed:B11, seed:B12)", "(Cheng et al. 2022, §2)", "(程亚军等 2022，第 2 节)"),
    ("seed:B2/B3", "Cheng et al. 2022, §1", "程亚军等 2022，第 1 节"),
    ("seed:B22, B25 and seed:B31", "Cheng et al. 2022, §4.1, §4.2",
     "程亚军等 2022，第 4.1 节、第 4.2 节"),
    ("seed:M12-M14; x", "Magnesium review, §3.2; x", "镁与骨质疏松综述，第三部分第 2 节; x"),
    ("seed:B21, seed:M3", "Cheng et al. 2022, §4.1; Magnesium review, introduction",
     "程亚军等 2022，第 4.1 节；镁与骨质疏松综述，引言"),
    ("seed:M11, 0.82 vs 0.87", "Magnesium review, §3.1, 0.82 vs 0.87",
     "镁与骨质疏松综述，第三部分第 1 节, 0.82 vs 0.87"),
    ("no key, vasikaran2011", "no key, vasikaran2011", "no key, vasikaran2011"),
])
def test_render_sources(text, en, zh):
    assert render_sources(text) == en
    assert render_sources(text, "zh") == zh


def test_render_sources_rejects_an_unknown_fact():
    with pytest.raises(InputError, match="seed:B39|B39"):
        render_sources("see seed:B39")


def test_fact_ids_expands_runs_and_ranges():
    assert fact_ids("seed:B2/B3, seed:M12-M14 and seed:B27 and B26") == [
        "B2", "B3", "M12", "M13", "M14", "B27", "B26"]
    assert fact_ids("seed:B1-B38") == [f"B{i}" for i in range(1, 39)]
    assert fact_ids("no keys; B18 without the prefix") == []


def test_all_sources_lists_facts_then_references():
    items = all_sources()
    assert [x.id for x in items[:len(EXPECTED)]] == EXPECTED
    assert all(isinstance(x, Reference) for x in items[len(EXPECTED):])
    keys = {x.key for x in items}
    assert {"reviews:cheng2022", "clinical:vasikaran2011", "model.drugs:TRIO"} <= keys


def test_importing_reads_no_file():
    code = ("import boneturnover.knowledge.sources as s, boneturnover.cli, "
            "boneturnover.knowledge.commands; "
            "assert s.facts.cache_info().currsize == 0; "
            "assert s.references.cache_info().currsize == 0; "
            "assert s.bibliographies.cache_info().currsize == 0")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- every key the package cites resolves -------------------------------------------------


def _package_files(ext):
    return sorted(p for p in PACKAGE.rglob(f"*{ext}") if "__pycache__" not in p.parts)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


@pytest.mark.parametrize("path", _package_files(".toml") + _package_files(".py"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_fact_key_in_the_package_resolves(path):
    text = path.read_text(encoding="utf-8")
    keys = set(KEY.findall(text)) | {f"seed:{i}" for i in fact_ids(text)}
    bad = []
    for key in sorted(keys):
        try:
            assert isinstance(resolve(key), Fact)
        except InputError:
            bad.append(key)
    assert not bad, f"{path.relative_to(PACKAGE)} cites facts that do not exist: {bad}"


@pytest.mark.parametrize("path", _package_files(".toml"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_seed_list_and_cited_ref_in_the_data_resolves(path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for table in _walk(data):
        seed = table.get("seed")
        if isinstance(seed, list):  # drugs catalogue: seed = ["B21", ...]
            for fid in seed:
                assert isinstance(resolve(fid), Fact), (path.name, fid)
        ref = table.get("ref")
        if isinstance(ref, str) and "evidence" in table:  # cite = [{ ref, evidence }]
            resolve(ref)


# -- the command and the user-facing output -----------------------------------------------


def test_sources_command_lists_everything(capsys):
    assert "boneturnover.knowledge.commands" in COMMAND_MODULES
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    for needle in ("B1  Cheng et al. 2022, introduction", "M19  Magnesium review, conclusion",
                   "Cheng et al. 2022, §3.2 (Diagnosis of osteoporosis) [review]",
                   "reviews:cheng2022  Cheng et al. 2022"):
        assert needle in out
    lines = set(out.splitlines())
    for x in all_sources():  # every fact and every reference, each on its own line
        head = f"{x.id}  " if isinstance(x, Fact) else x.key
        assert any(line.startswith(head) for line in lines), head


def test_sources_command_keys_json_and_zh(capsys):
    assert main(["sources", "--json", "seed:B18", "M10", "vasikaran2011"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in rows] == ["seed:B18", "seed:M10", "clinical:vasikaran2011"]
    b18 = rows[0]
    assert b18["kind"] == "fact" and b18["review"] == "cheng2022" and b18["section"] == "3.2"
    assert b18["citation"] == cite("seed:B18") and b18["claim_zh"] == facts()["B18"].claim_zh
    assert rows[2]["kind"] == "reference" and rows[2]["bibliography"] == "clinical"
    assert main(["sources", "--lang", "zh", "B18"]) == 0
    out = capsys.readouterr().out
    assert "程亚军等 2022，第 3.2 节（3.2 骨质疏松症诊断）" in out and "金标准" in out


def test_sources_command_unknown_key_exits_2(capsys):
    assert main(["sources", "B18", "seed:B99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("InputError: unknown fact 'seed:B99'") and err.count("\n") == 1


def test_cli_description_cites_readably():
    text = build_parser().description
    assert "seed:" not in text and "Cheng et al. 2022, §3.2" in text
