"""Validation plots: placebo-adjusted change on each regimen, published points overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["plot_drug_validation"]


def plot_drug_validation(
    name: str,
    treated: pd.DataFrame,
    untreated: pd.DataFrame,
    published: Sequence[tuple[float, str, float, str]],
    path: Path,
) -> Path:
    """Placebo-adjusted CTX-I, P1NP and spine BMD change (%) on a drug, published points overlaid.

    Parameters
    ----------
    name
        Regimen name (title).
    treated, untreated
        Simulation frames of the same woman with and without the drug (same days).
    published
        ``(day, column, change %, label)`` points from trials.
    path
        PNG file to write.
    """
    n = min(len(treated), len(untreated))
    years = treated["time_d"].to_numpy()[:n] / 365.25
    cols = (("ctx_ng_l", "CTX-I"), ("p1np_ug_l", "P1NP"), ("bmd_spine_g_cm2", "lumbar spine BMD"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    for ax, (col, label) in zip(axes, cols, strict=True):
        change = 100.0 * (treated[col].to_numpy()[:n] / untreated[col].to_numpy()[:n] - 1.0)
        ax.plot(years, change, color="tab:blue", label="model (vs untreated)")
        ax.axhline(0.0, color="grey", lw=0.6)
        for day, pcol, value, plabel in published:
            if pcol == col:
                ax.plot(day / 365.25, value, "o", color="tab:red", label=plabel)
        ax.set_title(f"{label}: change vs placebo (%)")
        ax.set_xlabel("years on treatment")
        ax.legend(fontsize=7)
    fig.suptitle(f"{name}: woman aged 70, menopause at 51")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
