"""Drug library: a catalogue of osteoporosis drugs and supplements with their labelled
regimens (``catalog.toml``, with sources), and the ``[[treatment]]`` entries of a
scenario that turn a drug and a regimen into model dose records.

See ``docs/DRUGS.md``.
"""

from __future__ import annotations

from .catalog import Catalog as Catalog
from .catalog import Drug as Drug
from .catalog import load_catalog as load_catalog
from .treatments import Treatment as Treatment
from .treatments import parse_treatments as parse_treatments

__all__ = ["Catalog", "Drug", "Treatment", "load_catalog", "parse_treatments"]
