"""boneturnover: bone turnover in postmenopausal osteoporosis.

A mechanistic calcium/bone model (Peterson & Riggs 2010, Riggs & Peterson 2012,
extended) and a clinical engine that interprets bone turnover markers.
Decision-support and research software: bone turnover markers cannot diagnose
osteoporosis (seed:B18).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
