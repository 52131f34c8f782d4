"""Validation of the model against published figures: checks as data.

This layer sits above the public API (``import boneturnover as bt``) and uses nothing
else of the package: the checks (``data/checks.toml``) name runs (``data/runs.toml``,
scenarios with named regimens) and measures (:mod:`.measures`); :func:`run_validation`
evaluates them on the bundled model or on a variant.

Examples
--------
>>> from boneturnover.validation import checks
>>> c = next(c for c in checks() if c.id == "freedom_ctx_1mo")
>>> c.published, c.low, c.high, c.role
(-86.0, -107.5, -64.5, 'validation')
"""

from __future__ import annotations

from .checks import Check, CheckResult, calibration_points, checks, run_validation
from .measures import MEASURES, CheckDefinitionError
from .report import format_table
from .runs import Runs, run_definitions

__all__ = ["Check", "CheckResult", "CheckDefinitionError", "MEASURES", "Runs", "checks",
           "calibration_points", "format_table", "run_definitions", "run_validation"]
