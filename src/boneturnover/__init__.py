"""boneturnover: bone turnover in postmenopausal osteoporosis.

A mechanistic model of bone remodelling and mineral homeostasis (Peterson & Riggs,
Bone 2010; Riggs & Peterson, CPT Pharmacometrics Syst Pharmacol 2012; extended with
the drugs and magnesium) that produces the markers and BMD a clinic measures, and a
clinical engine that interprets a patient's marker results and treatments, each finding
with its source. Decision support and research software: bone turnover markers cannot
diagnose osteoporosis; DXA BMD does (Cheng et al. 2022, the review this package
implements).

The public surface is this namespace. Names load on first use, so importing the
package reads no file and compiles nothing.

Examples
--------
Simulate a woman of 65 (menopause at 51) on denosumab for one year:

>>> import boneturnover as bt
>>> sc = bt.scenario_from_dict({"patient": {"age": 65, "menopause_age": 51},
...                             "years": 1, "regimen": "denosumab"})
>>> result = bt.simulate(sc)
>>> ctx = result.frame["ctx_ng_l"]
>>> bool(ctx.iloc[30] < 0.5 * ctx.iloc[0])   # CTX-I suppressed within a month
True

Every error the package raises on purpose is a :class:`BoneTurnoverError`:

>>> try:
...     bt.scenario_from_dict({"patient": {"age": 12}})
... except bt.ScenarioError as exc:
...     print(exc)
patient.age = 12 is out of range; expected an adult woman's age in years (18 to 100)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    BoneTurnoverError,
    DataError,
    InputError,
    ScenarioError,
    SolverError,
    UnitError,
)
from .version import __version__

#: Public name -> the module that defines it (imported on first use).
_LAZY: dict[str, str] = {
    # model and simulation
    "simulate": "boneturnover.simulation",
    "SimulationResult": "boneturnover.simulation",
    "Scenario": "boneturnover.scenario",
    "Patient": "boneturnover.scenario",
    "load_scenario": "boneturnover.scenario",
    "scenario_from_dict": "boneturnover.scenario",
    "load_model": "boneturnover.model.spec",
    "ModelSpec": "boneturnover.model.spec",
    "BoneModel": "boneturnover.model.system",
    "get_model": "boneturnover.model.system",
    "Status": "boneturnover.solve.results",
    # knowledge base
    "cite": "boneturnover.knowledge.sources",
    "render_sources": "boneturnover.knowledge.sources",
    "regimen": "boneturnover.knowledge.regimens",
    "regimens": "boneturnover.knowledge.regimens",
    "marker_catalogue": "boneturnover._catalogues",
    "marker_calibration": "boneturnover._catalogues",
    "magnesium_reference": "boneturnover._catalogues",
    # clinical engine
    "interpret": "boneturnover.clinical.engine",
    "load_patient": "boneturnover.clinical.io",
    "load_fhir_bundle": "boneturnover.clinical.io",
    "load_cohort": "boneturnover.clinical.io",
    "interpret_cohort": "boneturnover.clinical.cohort",
    "Report": "boneturnover.clinical.report",
    "Finding": "boneturnover.clinical.report",
}

__all__ = [
    "__version__",
    "BoneTurnoverError",
    "InputError",
    "ScenarioError",
    "UnitError",
    "DataError",
    "SolverError",
    "simulate",
    "SimulationResult",
    "Scenario",
    "Patient",
    "load_scenario",
    "scenario_from_dict",
    "load_model",
    "ModelSpec",
    "BoneModel",
    "get_model",
    "Status",
    "cite",
    "render_sources",
    "regimen",
    "regimens",
    "marker_catalogue",
    "marker_calibration",
    "magnesium_reference",
    "interpret",
    "load_patient",
    "load_fhir_bundle",
    "load_cohort",
    "interpret_cohort",
    "Report",
    "Finding",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._catalogues import magnesium_reference as magnesium_reference
    from ._catalogues import marker_calibration as marker_calibration
    from ._catalogues import marker_catalogue as marker_catalogue
    from .clinical.cohort import interpret_cohort as interpret_cohort
    from .clinical.engine import interpret as interpret
    from .clinical.io import load_cohort as load_cohort
    from .clinical.io import load_fhir_bundle as load_fhir_bundle
    from .clinical.io import load_patient as load_patient
    from .clinical.report import Finding as Finding
    from .clinical.report import Report as Report
    from .knowledge.regimens import regimen as regimen
    from .knowledge.regimens import regimens as regimens
    from .knowledge.sources import cite as cite
    from .knowledge.sources import render_sources as render_sources
    from .model.spec import ModelSpec as ModelSpec
    from .model.spec import load_model as load_model
    from .model.system import BoneModel as BoneModel
    from .model.system import get_model as get_model
    from .scenario import Patient as Patient
    from .scenario import Scenario as Scenario
    from .scenario import load_scenario as load_scenario
    from .scenario import scenario_from_dict as scenario_from_dict
    from .simulation import SimulationResult as SimulationResult
    from .simulation import simulate as simulate
    from .solve.results import Status as Status


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'boneturnover' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
