"""The validation report as text."""

from __future__ import annotations

from collections.abc import Sequence

import boneturnover as bt

from .checks import CheckResult

__all__ = ["format_table"]


def format_table(results: Sequence[CheckResult]) -> str:
    """Plain-text table: check, source, target, simulated value, result, role.

    Sources are rendered as readable citations (``boneturnover sources`` lists them).
    """
    rows = [("check", "source", "target", "simulated", "result", "role")]
    for r in results:
        rows.append((r.check.id, bt.render_sources(r.check.source)[:60], r.check.target,
                     f"{r.value:.4g} {r.check.unit}", "PASS" if r.passed else "FAIL",
                     r.check.role))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n_fail = sum(not r.passed for r in results)
    n_cal = sum(r.check.role == "calibration" for r in results)
    lines.append(f"\n{len(results) - n_fail} passed, {n_fail} failed "
                 f"({n_cal} of the checks are calibration targets, not independent tests)")
    return "\n".join(lines)
