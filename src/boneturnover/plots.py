"""Plots of simulated trajectories (matplotlib, Agg backend: works without a screen)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .model.outputs import calibration  # noqa: E402

__all__ = ["plot_trajectories", "plot_drug_validation"]


def plot_trajectories(df: pd.DataFrame, path: Path, *, title: str = "") -> Path:
    """Markers (with premenopausal reference bands), PTH/calcium and BMD against time."""
    cal = calibration()["markers"]
    years = df["time_d"] / 365.25
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), constrained_layout=True)
    for ax, name in zip(axes.flat[:4], ("ctx_ng_l", "p1np_ug_l", "bsap_ug_l",
                                         "osteocalcin_ug_l"), strict=True):
        m = cal[name]
        ax.axhspan(m["ri_low"], m["ri_high"], color="tab:green", alpha=0.12,
                   label="premenopausal RI")
        ax.plot(years, df[name], color="tab:blue")
        ax.set_title(f"{name.split('_')[0].upper()} ({m['unit']})")
        ax.set_xlabel("years")
    axes.flat[0].legend(loc="lower right", fontsize=8)
    ax = axes.flat[4]
    ax.plot(years, df["pth_pg_ml"], color="tab:purple")
    ax.set_title("PTH (pg/mL)")
    ax.set_xlabel("years")
    ax = axes.flat[5]
    ax.plot(years, df["bmd_spine_g_cm2"], label="lumbar spine")
    ax.plot(years, df["bmd_hip_g_cm2"], label="total hip")
    ax.set_title("BMD (g/cm2)")
    ax.set_xlabel("years")
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_drug_validation(
    name: str,
    treated: pd.DataFrame,
    untreated: pd.DataFrame,
    published: list[tuple[float, str, float, str]],
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
