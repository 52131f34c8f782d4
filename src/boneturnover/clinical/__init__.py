"""Clinical engine: interpret bone turnover markers against cited rules.

A clinician or laboratory physician gives a patient's marker results and treatment
history; :func:`interpret` answers what the seed facts (seed:B7-B38, seed:M3-M11) and
the cited guidelines say should be concluded, each finding with its sources. It is
decision support: bone turnover markers cannot diagnose osteoporosis (seed:B18), and
every report says so (``NOT_DIAGNOSTIC``).

Knowledge is data: the marker catalogue (:data:`CATALOG`) and the drug catalogue
(:data:`DRUGS`) are the shared knowledge base (:mod:`boneturnover.knowledge`, also read by
the model); the rule sets (:data:`RULESETS`: ``paper`` and ``iof-ects-2017``) and the
rules (:data:`RULES`) are ``data/*.toml`` here, each number with a citation and an
evidence level. A simulated trajectory is interpreted like lab results through
:func:`patient_from_simulation`.

Examples
--------
>>> from boneturnover.clinical import Measurement, PatientRecord, TreatmentRecord, interpret
>>> p = PatientRecord("demo", measurements=(
...     Measurement("2024-01-05", "CTX_I", 650, "ng/L", fasting=True),
...     Measurement("2024-01-05", "P1NP", 70, "ug/L"),
...     Measurement("2024-07-10", "CTX_I", 180, "ng/L", fasting=True),
...     Measurement("2024-07-10", "P1NP", 30, "ug/L")),
...     treatments=(TreatmentRecord("alendronate", "2024-01-08"),))
>>> r = interpret(p, today="2024-07-20")
>>> [f.numbers["change_pct"] for f in r.by_code("RESPONSE_ADEQUATE") if f.marker == "CTX_I"]
[-72.3076923076923]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it (imported on first use, so that reading one
#: patient imports neither the cohort path nor pandas).
_LAZY: dict[str, str] = {
    "Citation": "boneturnover.knowledge.markers",
    "KnowledgeBaseError": "boneturnover.knowledge.markers",
    "Marker": "boneturnover.knowledge.markers",
    "MarkerCatalog": "boneturnover.knowledge.markers",
    "least_significant_change": "boneturnover.knowledge.markers",
    "CATALOG": "boneturnover.clinical.catalog",
    "DRUGS": "boneturnover.clinical.catalog",
    "MAGNESIUM_REFERENCE": "boneturnover.clinical.catalog",
    "CohortResult": "boneturnover.clinical.cohort",
    "interpret_cohort": "boneturnover.clinical.cohort",
    "interpret": "boneturnover.clinical.engine",
    "Cohort": "boneturnover.clinical.io",
    "load_cohort": "boneturnover.clinical.io",
    "load_fhir_bundle": "boneturnover.clinical.io",
    "load_patient": "boneturnover.clinical.io",
    "Measurement": "boneturnover.clinical.records",
    "PatientRecord": "boneturnover.clinical.records",
    "TreatmentRecord": "boneturnover.clinical.records",
    "Finding": "boneturnover.clinical.report",
    "Report": "boneturnover.clinical.report",
    "RULES": "boneturnover.clinical.rules",
    "RULESETS": "boneturnover.clinical.rules",
    "patient_from_simulation": "boneturnover.clinical.simulated",
    "read_simulation": "boneturnover.clinical.simulated",
}

__all__ = [
    "CATALOG", "DRUGS", "MAGNESIUM_REFERENCE", "RULES", "RULESETS", "Citation", "Cohort",
    "CohortResult", "Finding", "KnowledgeBaseError", "Marker", "MarkerCatalog",
    "Measurement", "PatientRecord", "Report", "TreatmentRecord", "interpret",
    "interpret_cohort", "least_significant_change", "load_cohort", "load_fhir_bundle",
    "load_patient", "patient_from_simulation", "read_simulation",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ..knowledge.markers import Citation as Citation
    from ..knowledge.markers import KnowledgeBaseError as KnowledgeBaseError
    from ..knowledge.markers import Marker as Marker
    from ..knowledge.markers import MarkerCatalog as MarkerCatalog
    from ..knowledge.markers import least_significant_change as least_significant_change
    from .catalog import CATALOG as CATALOG
    from .catalog import DRUGS as DRUGS
    from .catalog import MAGNESIUM_REFERENCE as MAGNESIUM_REFERENCE
    from .cohort import CohortResult as CohortResult
    from .cohort import interpret_cohort as interpret_cohort
    from .engine import interpret as interpret
    from .io import Cohort as Cohort
    from .io import load_cohort as load_cohort
    from .io import load_fhir_bundle as load_fhir_bundle
    from .io import load_patient as load_patient
    from .records import Measurement as Measurement
    from .records import PatientRecord as PatientRecord
    from .records import TreatmentRecord as TreatmentRecord
    from .report import Finding as Finding
    from .report import Report as Report
    from .rules import RULES as RULES
    from .rules import RULESETS as RULESETS
    from .simulated import patient_from_simulation as patient_from_simulation
    from .simulated import read_simulation as read_simulation


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'boneturnover.clinical' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
