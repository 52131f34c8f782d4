"""Treatment layer: the ``[[treatment]]`` entries of a scenario, which turn a drug of the
shared drug catalogue (:mod:`boneturnover.knowledge.drugs`) and a regimen into model dose
records, and the ``boneturnover drugs`` command that lists the catalogue.

See ``docs/DRUGS.md``.
"""

from __future__ import annotations

from .treatments import Treatment as Treatment
from .treatments import parse_treatments as parse_treatments

__all__ = ["Treatment", "parse_treatments"]
