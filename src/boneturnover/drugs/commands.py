"""CLI command of the drug catalogue: ``boneturnover drugs [--json]``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..knowledge.drugs import Drug, DrugCatalog, drug_catalog
from ..knowledge.sources import cite, render_sources

__all__ = ["register", "catalog_rows"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("drugs", help="list the drug catalogue: names, class, routes, labelled "
                       "regimens, clinical timing, sources")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_drugs)


def _row(drug: Drug, cat: DrugCatalog) -> dict[str, Any]:
    routes = {}
    for rk, r in drug.routes.items():
        routes[rk] = {
            "target": r.target,
            "regimens": [{"dose": g.dose, "every": g.every, "name": g.name, "source": g.source}
                         for g in r.regimens],
            "intake": {k: {"factor": v.factor, "meaning": v.meaning, "source": v.source,
                           "evidence": v.evidence} for k, v in r.intake.items()},
            "infusion_default_min": (None if r.infusion_default_h is None
                                     else r.infusion_default_h * 60),
        }
    return {
        "drug": drug.key, "name_en": drug.name.en, "name_zh": drug.name.zh,
        "class_en": drug.drug_class.en, "class_zh": drug.drug_class.zh,
        "rule_class": drug.rule_class, "action": drug.action,
        "mechanism": drug.mechanism, "dose_as": drug.dose_as, "aliases": list(drug.aliases),
        "brands": list(drug.brands), "routes": routes,
        "salts": {k: {"fraction": s.fraction, "formula": s.formula, "source": s.source}
                  for k, s in drug.salts.items()},
        "limit": None if drug.limit is None else drug.limit.meaning,
        "window_days": None if drug.window is None else {
            "resorption": drug.window.resorption_days, "formation": drug.window.formation_days,
            "cite": [c.ref for c in drug.window.cite]},
        "retest": None if drug.retest is None else {
            "assess_from_days": drug.retest.assess_from_days,
            "first_days": drug.retest.first_days, "monitor_days": drug.retest.monitor_days,
            "off_first_days": drug.retest.off_first_days,
            "off_interval_days": drug.retest.off_interval_days,
            "cite": [c.ref for c in drug.retest.cite]},
        "seed": [f"seed:{s}" for s in drug.seed],
        "seed_citations": [cite(f"seed:{s}") for s in drug.seed],
        "seed_citations_zh": [cite(f"seed:{s}", "zh") for s in drug.seed],
        "evidence": drug.evidence,
        "sources": {k: cat.sources[k] for k in drug.sources},
    }


def catalog_rows() -> list[dict[str, Any]]:
    """One JSON-ready mapping per drug of the catalogue."""
    cat = drug_catalog()
    return [_row(d, cat) for d in cat.values()]


def _drugs(args: argparse.Namespace) -> int:
    rows = catalog_rows()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        print(f"{r['drug']}  ({r['name_en']} / {r['name_zh']})  {r['class_en']} / "
              f"{r['class_zh']}")
        print(f"    {r['mechanism']}")
        for rk, route in r["routes"].items():
            regs = "; ".join(f"{g['dose']} every {g['every']}" for g in route["regimens"])
            target = route["target"] or "(clinical context only)"
            print(f"    {rk:<5} -> {target:<18} {regs}")
            if route["intake"]:
                print("          intake: " + ", ".join(
                    f"{k} x{v['factor']:g}" for k, v in route["intake"].items()))
        if r["salts"]:
            print("    salts: " + ", ".join(f"{k} {v['fraction']:.1%}"
                                            for k, v in r["salts"].items()))
        if r["limit"]:
            print(f"    limit: {r['limit']}")
        if r["brands"]:
            print(f"    brands: {', '.join(r['brands'])}")
        clinical = f"    clinical: rule class {r['rule_class']}"
        if r["window_days"]:
            w = r["window_days"]
            clinical += f"; maximal change by day {w['resorption']} (resorption), " \
                        f"{w['formation']} (formation)"
        if r["retest"]:
            clinical += f"; markers due from day {r['retest']['first_days']}, then every " \
                        f"{r['retest']['monitor_days']} d"
        print(clinical)
        print(f"    sources: {', '.join(r['sources'])}")
        for text in r["seed_citations"]:
            print(f"      {text}")
    print("\nsources:")
    for key, text in drug_catalog().sources.items():
        print(f"  {key}: {render_sources(text)}")
    return 0
