"""Validation plots: placebo-adjusted change on each regimen, published points overlaid,
and each series of the calibration set over its simulated course."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .dataset import Series  # noqa: E402
from .fit import Z_95  # noqa: E402

__all__ = ["plot_drug_validation", "plot_series"]


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


def _course(series: Series, runs: Mapping[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    """The simulated quantity of ``series`` over its whole run: days and values."""
    df = runs[series.run]
    days = df["time_d"].to_numpy()
    v = df[series.output].to_numpy()
    if series.quantity == "adjusted":
        u = runs[series.reference][series.output].to_numpy()
        n = min(len(v), len(u))
        return days[:n], 100.0 * (v[:n] / u[:n] - 1.0)
    if series.quantity == "change":
        return days, 100.0 * (v / v[0] - 1.0)
    if series.quantity == "remaining":
        return days, 100.0 * v / v[0]
    return days, v


def plot_series(series: Series, runs: Mapping[str, pd.DataFrame], simulated: np.ndarray,
                path: Path) -> Path:
    """One series of the calibration set over the simulated course, with 95 % bars.

    Parameters
    ----------
    series
        The published series.
    runs
        The runs it reads (name -> simulation table).
    simulated
        The simulated value of each of its points (as the fit sees them).
    path
        PNG file (or file object) to write.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8), constrained_layout=True)
    pub = np.array([p.value for p in series.points])
    bar = Z_95 * np.array([p.se for p in series.points])
    if series.quantity in ("loss_rate", "decline_rate"):
        for k, p in enumerate(series.points):
            ax.plot([p.from_age, p.to_age], [simulated[k]] * 2, color="tab:blue", lw=2,
                    label="model" if k == 0 else None)
        mid = np.array([(p.from_age + p.to_age) / 2 for p in series.points])
        ax.errorbar(mid, pub, yerr=bar, fmt="o", color="tab:red", capsize=3,
                    label=f"{series.study} (95 % interval)")
        ax.set_xlabel("age (years)")
    else:
        days, course = _course(series, runs)
        ax.plot(days / 365.25, course, color="tab:blue", label="model")
        x = np.array([p.day for p in series.points]) / 365.25
        ax.errorbar(x, pub, yerr=bar, fmt="o", color="tab:red", capsize=3,
                    label=f"{series.study} (95 % interval)")
        ax.set_xlabel("years from the start of the run")
    ax.set_ylabel(f"{series.output}: {series.quantity} ({series.unit})")
    ax.set_title(f"{series.id} [{series.split}]", fontsize=10)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
