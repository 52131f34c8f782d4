"""The facts of the two source reviews and the package's bibliographies, made readable.

Code, rules and data cite a fact of the reviews as ``seed:B18`` (Cheng et al. 2022,
facts B1-B38) or ``seed:M10`` (the magnesium review, facts M1-M19). The facts ship in
``knowledge/data/facts.toml`` and the two reviews in ``knowledge/data/references.toml``;
every other bibliography of the package (a ``[sources]`` table in any packaged TOML
file: the clinical engine, the drug catalogue, the model library) is found as well.

:func:`cite` turns a key into a citation a reader can follow, :func:`render_sources`
does so for every fact key in a piece of text (short form, ``Cheng et al. 2022, §3.2``),
:func:`resolve` returns the entry itself. Nothing is read at import time: the data load
on first use and are cached.

Examples
--------
>>> from boneturnover.knowledge.sources import cite, render_sources
>>> cite("seed:B18", short=True)
'Cheng et al. 2022, §3.2'
>>> render_sources("markers cannot diagnose osteoporosis (seed:B18)", "zh")
'markers cannot diagnose osteoporosis (程亚军等 2022，第 3.2 节)'
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any

from ..errors import DataError, InputError
from ..files import load_toml_cached

__all__ = ["Fact", "Reference", "Section", "LANGS", "EVIDENCE", "facts", "references",
           "bibliographies", "resolve", "cite", "render_sources", "fact_ids", "all_sources",
           "bibliography"]

#: Languages of claims and citations.
LANGS = ("en", "zh")
#: Evidence levels of a fact: what the claim rests on.
EVIDENCE = frozenset({"review", "small-uncontrolled", "animal"})

_FACT = re.compile(r"^(?:seed:)?([BM])(\d+)$")
_ITEM = r"(?:seed:)?[BM]\d+(?:\s*[-–]\s*(?:seed:)?[BM]\d+)?"
#: A run of fact keys in free text: "seed:B18", "seed:B11, seed:B12", "seed:B2/B3",
#: "seed:M12-M14", "seed:B27 and B26".
_GROUP = re.compile(rf"seed:[BM]\d+(?:\s*[-–]\s*(?:seed:)?[BM]\d+)?"
                    rf"(?:(?:\s*[,/&]\s*|,?\s+and\s+){_ITEM})*")
_KEY = re.compile(r"([BM])(\d+)(?:\s*[-–]\s*(?:seed:)?([BM])(\d+))?")
_SEP = {"en": (", ", ": ", "; ", ", "), "zh": ("，", "：", "；", "、")}


@dataclass(frozen=True)
class Section:
    """A section of a review: ``id`` as facts name it ("3.2", "introduction")."""

    id: str
    title_en: str
    title_zh: str
    ref_en: str
    ref_zh: str

    def title(self, lang: str = "en") -> str:
        """The section's title (English) or its heading as printed (Chinese)."""
        return self.title_zh if _lang(lang) == "zh" else self.title_en

    def ref(self, lang: str = "en", short: bool = False) -> str:
        """How a citation names it: "section 3.2" ("§3.2" if short), "第 3.2 节"."""
        if _lang(lang) == "zh":
            return self.ref_zh
        return f"§{self.id}" if short and self.id[:1].isdigit() else self.ref_en


@dataclass(frozen=True)
class Fact:
    """One claim of a source review, cited as ``seed:<id>``.

    Attributes
    ----------
    id : str
        "B1"-"B38" (Cheng et al. 2022) or "M1"-"M19" (magnesium review).
    review : str
        Key of the review in :func:`references`.
    section : str
        The review's section the claim comes from (a key of its sections).
    claim_en, claim_zh : str
        The claim in English and in the review's own (Chinese) wording.
    evidence : str
        One of :data:`EVIDENCE`.
    """

    id: str
    review: str
    section: str
    claim_en: str
    claim_zh: str
    evidence: str

    @property
    def key(self) -> str:
        return f"seed:{self.id}"

    def claim(self, lang: str = "en") -> str:
        return self.claim_zh if _lang(lang) == "zh" else self.claim_en


@dataclass(frozen=True)
class Reference:
    """One bibliography entry: a source review, or a source id of a package bibliography.

    ``bibliography`` names where it is defined ("reviews" for the two source reviews,
    "clinical", "drugs", "model.drugs", ...); ``key`` ("clinical:vasikaran2011") names it
    unambiguously. Only the reviews have labels, sections and bibliographic fields.
    """

    id: str
    bibliography: str
    text: str
    text_zh: str = ""
    label_en: str = ""
    label_zh: str = ""
    facts: str = ""
    authors: tuple[str, ...] = ()
    zh_authors: tuple[str, ...] = ()
    title_en: str = ""
    title_zh: str = ""
    journal: str = ""
    journal_zh: str = ""
    year: int | None = None
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    language: str = ""
    note: str = ""
    note_zh: str = ""
    sections: tuple[Section, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.bibliography}:{self.id}"

    def label(self, lang: str = "en") -> str:
        """Short name for running text; the id where the entry has none."""
        return (self.label_zh if _lang(lang) == "zh" else self.label_en) or self.id

    def citation(self, lang: str = "en") -> str:
        """The full bibliographic citation."""
        return (self.text_zh if _lang(lang) == "zh" else "") or self.text

    def notes(self, lang: str = "en") -> str:
        """What a reader should know about the source (reviews only)."""
        return self.note_zh if _lang(lang) == "zh" else self.note

    def section(self, sid: str) -> Section:
        for s in self.sections:
            if s.id == sid:
                return s
        raise DataError(f"{self.key}: no section {sid!r} (sections: "
                        f"{', '.join(s.id for s in self.sections)})")


# -- loading ----------------------------------------------------------------------------


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}: expected one of {', '.join(LANGS)}")
    return lang


def _read(res: Traversable, where: str) -> dict[str, Any]:
    try:
        return load_toml_cached(res.read_text(encoding="utf-8"), where)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{where}: cannot be read: {exc}") from exc


def _str(d: Mapping[str, Any], name: str, where: str, required: bool = True) -> str:
    v = d.get(name, "")
    if not isinstance(v, str) or (required and not v.strip()):
        raise DataError(f"{where}: {name!r} must be a non-empty string, got {v!r}")
    return v


def _pair(d: Mapping[str, Any], name: str, where: str) -> tuple[str, str]:
    v = d.get(name, {})
    if not isinstance(v, Mapping):
        raise DataError(f"{where}: {name!r} must be a table {{ en = ..., zh = ... }}")
    return _str(v, "en", f"{where}.{name}", False), _str(v, "zh", f"{where}.{name}", False)


def _text_en(r: Reference, et_al: bool, descriptive: bool) -> str:
    authors = ", ".join(r.authors) + (", et al" if et_al and r.authors else "")
    missing = [n for n, v in (("authors", r.authors), ("journal", r.journal), ("year", r.year))
               if not v]
    title = r.title_en + (f" (descriptive title; not given in the text: {', '.join(missing)})"
                          if descriptive else "")
    issue = r.volume + (f"({r.issue})" if r.issue else "")
    where = ";".join(x for x in (str(r.year or ""), issue) if x) + (f":{r.pages}" if r.pages
                                                                       else "")
    source = " ".join(x for x in (r.journal, where) if x)
    lang = {"zh": "In Chinese", "en": "", "": ""}.get(r.language, f"In {r.language}")
    parts = (authors, title, source, f"doi:{r.doi}" if r.doi else "", lang)
    return ". ".join(x for x in parts if x) + "."


def _text_zh(r: Reference, et_al: bool) -> str:
    authors = "，".join(r.zh_authors) + ("，等" if et_al and r.zh_authors else "")
    title = r.title_zh + ("[J]" if r.journal_zh else "（描述性标题）")
    issue = r.volume + (f"({r.issue})" if r.issue else "")
    source = "，".join(x for x in (r.journal_zh, str(r.year or ""), issue) if x)
    return "．".join(x for x in (authors, title, source + (f"：{r.pages}" if r.pages else ""))
                     if x) + "．"


def _review(rid: str, d: Mapping[str, Any]) -> Reference:
    where = f"knowledge/data/references.toml: reviews.{rid}"
    label, title, journal, note = (_pair(d, k, where)
                                   for k in ("label", "title", "journal", "note"))
    if not label[0] or not label[1]:
        raise DataError(f"{where}: 'label' needs both en and zh")
    authors = d.get("authors", {})
    secs = []
    for sid, s in d.get("sections", {}).items():
        sw = f"{where}.sections.{sid}"
        secs.append(Section(sid, _str(s, "en", sw), _str(s, "zh", sw),
                            _str(s, "ref_en", sw, False) or f"section {sid}",
                            _str(s, "ref_zh", sw, False) or f"第 {sid} 节"))
    year = d.get("year")
    r = Reference(
        id=rid, bibliography="reviews", text="", label_en=label[0], label_zh=label[1],
        facts=_str(d, "facts", where), authors=tuple(authors.get("en", ())),
        zh_authors=tuple(authors.get("zh", ())), title_en=title[0], title_zh=title[1],
        journal=journal[0], journal_zh=journal[1], year=year if isinstance(year, int) else None,
        volume=str(d.get("volume", "")), issue=str(d.get("issue", "")),
        pages=str(d.get("pages", "")), doi=str(d.get("doi", "")),
        language=_str(d, "language", where, False), note=note[0], note_zh=note[1],
        sections=tuple(secs))
    et_al, descriptive = bool(d.get("et_al")), bool(d.get("descriptive_title"))
    return replace(r, text=_text_en(r, et_al, descriptive), text_zh=_text_zh(r, et_al))


def _data(name: str) -> Traversable:
    return resources.files("boneturnover").joinpath("knowledge", "data", name)


@cache
def references() -> Mapping[str, Reference]:
    """The two source reviews, by key ("cheng2022", "magnesium_review").

    >>> references()["cheng2022"].label("en")
    'Cheng et al. 2022'
    """
    raw = _read(_data("references.toml"), "knowledge/data/references.toml")
    return MappingProxyType({k: _review(k, v) for k, v in raw.get("reviews", {}).items()})


@cache
def facts() -> Mapping[str, Fact]:
    """Every fact of the two reviews, by id ("B18"), in the order of the reviews.

    >>> facts()["M10"].review
    'magnesium_review'
    """
    raw = _read(_data("facts.toml"), "knowledge/data/facts.toml")
    revs = references()
    out: dict[str, Fact] = {}
    for i, d in enumerate(raw.get("facts", ()), start=1):
        where = f"knowledge/data/facts.toml: facts[{i}]"
        fid = _str(d, "id", where)
        where = f"knowledge/data/facts.toml: fact {fid}"
        claim = d.get("claim", {})
        f = Fact(fid, _str(d, "review", where), _str(d, "section", where),
                 _str(claim, "en", f"{where}: claim"), _str(claim, "zh", f"{where}: claim"),
                 _str(d, "evidence", where))
        m = _FACT.match(fid)
        if m is None or fid in out or f.review not in revs or revs[f.review].facts != m[1]:
            raise DataError(f"{where}: id must be a new B<n> or M<n> of a review of "
                            f"references.toml with that letter (review {f.review!r})")
        if f.evidence not in EVIDENCE:
            raise DataError(f"{where}: evidence {f.evidence!r}, expected one of "
                            f"{', '.join(sorted(EVIDENCE))}")
        revs[f.review].section(f.section)
        out[fid] = f
    return MappingProxyType(out)


def _tomls(node: Traversable, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                           Traversable]]:
    for child in sorted(node.iterdir(), key=lambda t: t.name):
        if child.name.startswith(("_", ".")):
            continue
        if child.is_dir():
            yield from _tomls(child, (*parts, child.name))
        elif child.name.endswith(".toml"):
            yield (*parts, child.name), child


def _bib_name(parts: tuple[str, ...]) -> str:
    names = [p.removesuffix(".toml") for p in parts if p not in ("data", "library")]
    if len(names) > 1 and names[-1] in ("sources", "catalog"):
        names.pop()
    return ".".join(names)


@cache
def bibliographies() -> Mapping[str, Mapping[str, Reference]]:
    """Every ``[sources]`` table of the package's TOML files, by bibliography name.

    Names come from the file's place: ``clinical/data/sources.toml`` -> "clinical",
    ``knowledge/data/drugs.toml`` -> "knowledge.drugs",
    ``model/library/drugs.toml`` -> "model.drugs".

    >>> r = resolve("vasikaran2011")
    >>> bibliographies()[r.bibliography][r.id] is r
    True
    """
    out: dict[str, Mapping[str, Reference]] = {}
    for parts, res in _tomls(resources.files("boneturnover")):
        where = "/".join(parts)
        if "[sources" not in res.read_text(encoding="utf-8"):
            continue
        table = _read(res, where).get("sources")
        if not isinstance(table, Mapping):
            continue
        name = _bib_name(parts)
        if name in out:  # two files with the same place name: use the path
            name = where.removesuffix(".toml")
        entries = {}
        for sid, v in table.items():
            text = v.get("citation") if isinstance(v, Mapping) else v
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{where}: sources.{sid} must be a citation string")
            entries[sid] = Reference(id=sid, bibliography=name, text=text)
        out[name] = MappingProxyType(entries)
    return MappingProxyType(out)


# -- resolving and citing -----------------------------------------------------------------


def _fact_range() -> str:
    ids = list(facts())
    firsts = [i for n, i in enumerate(ids) if n == 0 or ids[n - 1][0] != i[0]]
    lasts = [i for n, i in enumerate(ids) if n == len(ids) - 1 or ids[n + 1][0] != i[0]]
    return ", ".join(f"{a}-{b}" for a, b in zip(firsts, lasts, strict=True))


def resolve(key: str) -> Fact | Reference:
    """The fact or bibliography entry a citation key names.

    Accepts a fact ("seed:B18" or "B18"), a review ("cheng2022"; "seed:B" and "seed:M"
    name the reviews of the B and M facts), or a source id of any package bibliography,
    bare ("vasikaran2011") or qualified by its bibliography ("clinical:vasikaran2011"). A
    bare id defined in several bibliographies resolves to the first in the order of
    :func:`bibliographies`.

    Raises
    ------
    InputError
        If the key names nothing; the message names the key and what was expected.

    Examples
    --------
    >>> resolve("seed:B18").section
    '3.2'
    >>> resolve("vasikaran2011").text[:13]
    'Vasikaran S, '
    """
    k = key.strip() if isinstance(key, str) else ""
    m = _FACT.match(k)
    if m:
        if (fid := f"{m[1]}{m[2]}") in facts():
            return facts()[fid]
        raise InputError(f"unknown fact {key!r}: the facts are {_fact_range()} "
                         "(list them with `boneturnover sources`)")
    revs, bibs = references(), bibliographies()
    for r in revs.values():
        if k == f"seed:{r.facts}":
            return r
    if k in revs:
        return revs[k]
    bib, sep, sid = k.rpartition(":")
    if sep and bib in bibs and sid in bibs[bib]:
        return bibs[bib][sid]
    if sep and bib == "reviews" and sid in revs:
        return revs[sid]
    for entries in bibs.values():
        if k in entries:
            return entries[k]
    raise InputError(
        f"unknown source {key!r}: expected a fact (seed:B18 or B18; {_fact_range()}), a "
        f"review ({', '.join(revs)}) or a source id of a package bibliography "
        f"({', '.join(bibs)}), e.g. vasikaran2011 or clinical:vasikaran2011; "
        "list them with `boneturnover sources`")


def cite(key: str, lang: str = "en", *, short: bool = False) -> str:
    """A readable citation of ``key`` (see :func:`resolve` for the keys accepted).

    A fact: review label, section and claim; with ``short``, label and section only. A
    review: its full reference (``short``: its label). Another bibliography entry: its
    citation text, fact keys in it rendered (``short``: its id).

    Examples
    --------
    >>> print(cite("seed:B18"))  # doctest: +NORMALIZE_WHITESPACE
    Cheng et al. 2022, section 3.2: DXA BMD is the gold standard for diagnosing
    osteoporosis; bone turnover markers cannot diagnose it. In the TRIO study only 20% of
    women with osteoporosis on DXA had serum CTX-I above the upper reference limit.
    >>> cite("seed:M10", "zh", short=True)
    '镁与骨质疏松综述，第二部分第 2 节'
    """
    sep, colon = _SEP[_lang(lang)][:2]
    item = resolve(key)
    if isinstance(item, Fact):
        rev = references()[item.review]
        head = f"{rev.label(lang)}{sep}{rev.section(item.section).ref(lang, short)}"
        return head if short else f"{head}{colon}{item.claim(lang)}"
    if short:
        return item.label(lang)
    return item.citation(lang) if item.bibliography == "reviews" else render_sources(
        item.text, lang)


def fact_ids(text: str) -> list[str]:
    """The fact ids cited in ``text``, ranges ("seed:M12-M14") expanded, in order, once.

    >>> fact_ids("see seed:B2/B3 and seed:M12-M14, seed:B2")
    ['B2', 'B3', 'M12', 'M13', 'M14']
    """
    out: dict[str, None] = {}
    for group in _GROUP.finditer(text):
        for m in _KEY.finditer(group[0]):
            a, b = int(m[2]), int(m[4]) if m[4] else None
            if b is not None and m[3] == m[1] and a <= b:
                out.update(dict.fromkeys(f"{m[1]}{n}" for n in range(a, b + 1)))
            else:
                out[f"{m[1]}{a}"] = None
                if b is not None:
                    out[f"{m[3]}{b}"] = None
    return list(out)


def _render_group(ids: list[str], lang: str) -> str:
    _, _, between, within = _SEP[lang]
    by_review: dict[str, dict[str, None]] = {}
    for fid in ids:
        f = facts().get(fid)
        if f is None:
            resolve(fid)  # raises, naming the key
            continue
        by_review.setdefault(f.review, {})[f.section] = None
    parts = []
    for rid, secs in by_review.items():
        rev = references()[rid]
        refs = within.join(rev.section(s).ref(lang, short=True) for s in secs)
        parts.append(f"{rev.label(lang)}{_SEP[lang][0]}{refs}")
    return between.join(parts)


def render_sources(text: str, lang: str = "en") -> str:
    """Replace every run of fact keys in ``text`` by its short readable citation.

    "seed:B18" becomes "Cheng et al. 2022, §3.2"; a run ("seed:B22, seed:B25",
    "seed:M4, M7", "seed:B2/B3", "seed:M12-M14") becomes one citation per review with its
    sections. Other text, and other source ids, are left as they are.

    Raises
    ------
    InputError
        If a key names no fact.

    Examples
    --------
    >>> render_sources("(seed:B22, seed:B25; seed:M4, M7)")
    '(Cheng et al. 2022, §4.1; Magnesium review, §1.1, §1.4)'
    """
    _lang(lang)
    return _GROUP.sub(lambda m: _render_group(fact_ids(m[0]), lang), text)


def all_sources() -> tuple[Fact | Reference, ...]:
    """Every fact, then the two reviews, then every entry of every package bibliography.

    >>> [type(x).__name__ for x in all_sources()][:1]
    ['Fact']
    """
    bibs = [r for entries in bibliographies().values() for r in entries.values()]
    return (*facts().values(), *references().values(), *bibs)


def bibliography(lang: str = "en") -> str:
    """The two source reviews, one line each: label, full reference and note.

    >>> bibliography().splitlines()[0][:40]
    'Cheng et al. 2022: Cheng Y, et al. Clini'
    """
    colon = _SEP[_lang(lang)][1]
    lines = []
    for r in references().values():
        note = r.notes(lang)
        gap = " " if note and lang == "en" else ""
        lines.append(f"{r.label(lang)}{colon}{r.citation(lang)}{gap}{note}")
    return "\n".join(lines)
