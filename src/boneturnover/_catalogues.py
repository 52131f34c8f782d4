"""Accessors of the shared knowledge base for the public namespace (loaded on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["marker_catalogue", "marker_calibration", "magnesium_reference"]


def marker_catalogue() -> Mapping[str, Any]:
    """The marker catalogue: code (``CTX_I``, ``P1NP_TOTAL``, ...) -> marker entry.

    Each entry carries its LOINC code, units, named reference intervals, CVs and least
    significant change (``lsc_pct``), each with its source, and, for a marker the model
    simulates, its model output column and calibration.

    Examples
    --------
    >>> import boneturnover as bt
    >>> ctx = bt.marker_catalogue()["CTX_I"]
    >>> ctx.canonical_unit
    'ng/L'
    """
    from .knowledge.markers import marker_catalog

    return marker_catalog()


def magnesium_reference() -> Any:
    """The serum magnesium reference interval and deficiency cut-off, with sources."""
    from .knowledge.markers import magnesium_reference as reference

    return reference()


def marker_calibration() -> Mapping[str, Mapping[str, Any]]:
    """Model output column -> its calibration (``centre``, reference interval, unit)."""
    from .model.outputs import calibration

    return calibration()["markers"]
