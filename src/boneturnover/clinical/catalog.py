"""Knowledge the clinical engine interprets with, taken from the shared knowledge base.

The marker catalogue (:data:`CATALOG`) and the drug catalogue (:data:`DRUGS`) are those
of :mod:`boneturnover.knowledge`, which the model reads too; citations resolve through
:mod:`boneturnover.knowledge.sources` (the facts of the source reviews and every
bibliography of the package, ``data/sources.toml`` here among them). The catalogues are
loaded and validated when the engine is imported: a number without a citation, a
citation to an unknown source or an unknown evidence level makes the import fail with
:class:`KnowledgeBaseError` naming the file and the entry.

Examples
--------
>>> from boneturnover.clinical.catalog import CATALOG, DRUGS, MAGNESIUM_REFERENCE
>>> ctx = CATALOG["CTX_I"]
>>> ctx.canonical_unit, ctx.lsc_pct
('ng/L', 56.0)
>>> round(ctx.to_canonical(0.35, "ng/mL"), 6)
350.0
>>> DRUGS.resolve("Prolia").key
'denosumab'
>>> MAGNESIUM_REFERENCE.low_mmol_l, MAGNESIUM_REFERENCE.high_mmol_l
(0.7, 1.0)
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from ..files import load_toml_cached
from ..knowledge.drugs import (
    ROUTES,
    RULE_CLASSES,
    DrugCatalog,
    RetestPlan,
    Window,
    drug_catalog,
    parse_retest,
    parse_window,
)
from ..knowledge.markers import (
    EVIDENCE_LEVELS,
    Citation,
    KnowledgeBaseError,
    MagnesiumReference,
    MarkerCatalog,
    Text,
    least_significant_change,
    magnesium_reference,
    marker_catalog,
    parse_citations,
)

__all__ = [
    "EVIDENCE_LEVELS", "ROUTES", "RULE_CLASSES", "KnowledgeBaseError", "Citation", "Text",
    "Window", "RetestPlan", "least_significant_change", "load_toml", "parse_citations",
    "parse_window", "parse_retest", "CATALOG", "DRUGS", "MAGNESIUM_REFERENCE",
    "BONE_TURNOVER_MARKERS",
]


def load_toml(name: str) -> dict[str, Any]:
    """Read ``boneturnover/clinical/data/<name>`` (packaged TOML: rules, rule sets)."""
    text = resources.files("boneturnover.clinical").joinpath("data", name).read_text("utf-8")
    return load_toml_cached(text, name)


#: The packaged marker catalogue (no laboratory overrides).
CATALOG: MarkerCatalog = marker_catalog()

#: The packaged drug catalogue.
DRUGS: DrugCatalog = drug_catalog()

#: Ids of the bone turnover markers (resorption and formation), in catalogue order.
BONE_TURNOVER_MARKERS: tuple[str, ...] = CATALOG.bone_turnover_markers

#: Serum magnesium reference (mmol/L) of the marker catalogue.
MAGNESIUM_REFERENCE: MagnesiumReference = magnesium_reference()
