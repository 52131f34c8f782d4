"""The validation report as text."""

from __future__ import annotations

from collections.abc import Sequence

import boneturnover as bt

from .checks import ROLES, CheckResult

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
    roles = {role: sum(r.check.role == role for r in results) for role in ROLES}
    lines.append(f"\n{len(results) - n_fail} passed, {n_fail} failed")
    lines.append(f"roles: {roles['validation']} validation (predictions), "
                 f"{roles['calibration']} calibration targets (not independent), "
                 f"{roles['partial']} partly calibrated, {roles['construction']} by "
                 "construction (docs/CALIBRATION.md)")
    return "\n".join(lines)
