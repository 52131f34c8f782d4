"""Plots of simulated trajectories (matplotlib, Agg backend: works without a screen)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .model.outputs import calibration  # noqa: E402

__all__ = ["plot_trajectories"]


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
