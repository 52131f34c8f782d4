"""The validation report as text."""

from __future__ import annotations

from collections.abc import Sequence

import boneturnover as bt

from .checks import ROLES, CheckResult

__all__ = ["format_table"]


def format_table(results: Sequence[CheckResult]) -> str:
    """Plain-text table: check, source, target, simulated value, result, role.

    Sources are rendered as readable citations (``boneturnover sources`` lists them). The
    summary counts the checks by role (calibration targets are not independent tests),
    the failed ones by role, and the absolute single-patient checks apart.
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
    lines.append(f"\n{len(results) - n_fail} passed, {n_fail} failed")
    lines.append("roles: " + _roles(results) + " (docs/CALIBRATION.md)")
    failed = [r for r in results if not r.passed]
    if failed:
        lines.append("failed: " + _roles(failed))
    absolute = [r for r in results if r.check.absolute]
    if absolute:
        n_abs = sum(r.passed for r in absolute)
        lines.append(f"absolute single-patient checks: {n_abs} of {len(absolute)} pass "
                     "(the woman's own course, not placebo-adjusted; docs/VALIDATION.md)")
    return "\n".join(lines)


def _roles(results: Sequence[CheckResult]) -> str:
    """Counts by role: "40 validation (predictions), 28 calibration targets (...), ..."."""
    n = {role: sum(r.check.role == role for r in results) for role in ROLES}
    return (f"{n['validation']} validation (predictions), {n['calibration']} calibration "
            f"targets (not independent), {n['partial']} partly calibrated, "
            f"{n['construction']} by construction")
