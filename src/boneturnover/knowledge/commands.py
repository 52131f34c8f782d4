"""``boneturnover sources``: the facts of the two source reviews and the bibliographies."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .sources import LANGS, Fact, Reference, all_sources, cite, references, resolve

__all__ = ["register", "run", "entry"]

_HEAD = {"en": {"facts": "Facts", "refs": "References"}, "zh": {"facts": "事实", "refs": "文献"}}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sources`` sub-command."""
    p = subparsers.add_parser(
        "sources",
        help="list the facts of the source reviews and the references the package cites",
        description=(
            "List every fact of the two source reviews (id, review, section, claim, "
            "evidence) and every reference of the package's bibliographies, or only the "
            "given keys: a fact (seed:B18 or B18), a review (cheng2022), a source id "
            "(vasikaran2011) or a qualified one (clinical:vasikaran2011)."
        ),
    )
    p.add_argument("keys", nargs="*", metavar="KEY", help="what to show (default: everything)")
    p.add_argument("--lang", choices=LANGS, default="en", help="language of claims")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def entry(item: Fact | Reference, lang: str = "en") -> dict[str, Any]:
    """One fact or reference as a JSON-ready dict."""
    if isinstance(item, Fact):
        sec = references()[item.review].section(item.section)
        return {"kind": "fact", "key": item.key, "id": item.id, "review": item.review,
                "section": item.section, "section_title": sec.title(lang),
                "evidence": item.evidence, "claim": item.claim(lang),
                "claim_en": item.claim_en, "claim_zh": item.claim_zh,
                "citation": cite(item.key, lang)}
    out: dict[str, Any] = {"kind": "review" if item.bibliography == "reviews" else "reference",
                           "key": item.key, "id": item.id, "bibliography": item.bibliography,
                           "label": item.label(lang), "citation": cite(item.key, lang)}
    if item.bibliography == "reviews":
        out |= {"facts": item.facts, "note": item.notes(lang)}
    return out


def _text(item: Fact | Reference, lang: str) -> str:
    if isinstance(item, Fact):
        rev = references()[item.review]
        sec = rev.section(item.section)
        title = f"（{sec.title(lang)}）" if lang == "zh" else f" ({sec.title(lang)})"
        return (f"{item.id}  {cite(item.key, lang, short=True)}{title} "
                f"[{item.evidence}]\n    {item.claim(lang)}")
    label = f"  {item.label(lang)}" if item.label(lang) != item.id else ""
    note = f"\n    {item.notes(lang)}" if item.notes(lang) else ""
    return f"{item.key}{label}\n    {cite(item.key, lang)}{note}"


def run(args: argparse.Namespace) -> int:
    items = [resolve(k) for k in args.keys] if args.keys else list(all_sources())
    if args.json:
        print(json.dumps([entry(i, args.lang) for i in items], ensure_ascii=False, indent=2))
        return 0
    head = _HEAD[args.lang]
    groups = (("facts", [i for i in items if isinstance(i, Fact)]),
              ("refs", [i for i in items if isinstance(i, Reference)]))
    blocks = []
    for name, group in groups:
        if group:
            rule = "-" * len(head[name]) * (2 if args.lang == "zh" else 1)
            blocks.append("\n".join([head[name], rule,
                                     *(_text(i, args.lang) for i in group)]))
    print("\n\n".join(blocks))
    return 0
