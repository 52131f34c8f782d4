"""The ``validate`` command: every check, its source, target, value and verdict."""

from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path

import boneturnover as bt
from boneturnover.files import atomic_write_bytes, check_output_folder

from .checks import calibration_points, checks, run_validation
from .report import format_table
from .runs import Runs

__all__ = ["register", "parse_overrides", "PLOTTED_RUNS"]

#: Runs drawn by ``validate --plots``, one PNG each.
PLOTTED_RUNS = ("alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
                "denosumab_stop", "raloxifene", "teriparatide", "romosozumab")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="run the validation checks and print the report")
    p.add_argument("--plots", default=None, metavar="DIR",
                   help="also write one plot per drug (markers and spine BMD vs time, "
                        "published points overlaid) into DIR")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   dest="overrides",
                   help="replace a model parameter's value (in its unit, see `boneturnover "
                        "parameters`) for every check; repeat for several. For sensitivity "
                        "and calibration work: the bundled values are what is validated")
    p.add_argument("--force", action="store_true",
                   help="replace plot files that already exist in the --plots folder")
    p.set_defaults(func=_validate)


def parse_overrides(items: list[str]) -> dict[str, float]:
    """``["bp_emax=3.1", ...]`` -> ``{"bp_emax": 3.1}``; names and bounds checked."""
    spec = bt.load_model()
    out: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise bt.InputError(f"--set {item!r}: expected NAME=VALUE, e.g. --set bp_emax=3.1")
        if name not in spec.parameter_names:
            raise bt.InputError(f"--set {item!r}: {name!r} is not a model parameter; see "
                                "`boneturnover parameters` for the list")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise bt.InputError(f"--set {item!r}: value {text.strip()!r} is not a finite "
                                f"number; expected {name} as a number in unit "
                                f"{spec.parameter(name).unit!r}")
        if name in out:
            raise bt.InputError(f"--set {item!r}: {name} is already set to {out[name]:g}")
        out[name] = spec.parameter(name).check(value, f"--set {name}")
    return out


def _validate(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    folder = None if args.plots is None else check_output_folder(
        args.plots, [f"{name}.png" for name in PLOTTED_RUNS], force=args.force)
    if overrides:
        spec = bt.load_model()
        print("parameters replaced (bundled value in brackets): " + ", ".join(
            f"{k}={v:g} [{spec.parameter(k).value:g}]" for k, v in overrides.items()) + "\n")
    model = (bt.BoneModel(bt.load_model().with_values(overrides)) if overrides
             else bt.get_model())
    runs = Runs(model)
    results = run_validation(runs=runs)
    print(format_table(results))
    if folder is not None:
        _plots(runs, folder)
    sys.stdout.flush()
    return 0 if all(r.passed for r in results) else 1


def _published(run: str) -> list[tuple[float, str, float, str]]:
    """Calibration points and trial endpoints of ``run``, as plot points."""
    points = [(p["day"], p["output"], p["value"], p["label"])
              for p in calibration_points() if p["run"] == run]
    for c in checks():
        if c.plot_label and c.value.get("run") == run and c.published is not None:
            points.append((c.value["day"], c.value["output"], c.published, c.plot_label))
    return points


def _plots(runs: Runs, folder: Path) -> None:
    from .plots import plot_drug_validation

    folder.mkdir(exist_ok=True)
    for name in PLOTTED_RUNS:
        png = io.BytesIO()
        plot_drug_validation(name, runs[name], runs["untreated"], _published(name),
                             png)  # type: ignore[arg-type]
        path = folder / f"{name}.png"
        atomic_write_bytes(path, png.getvalue())
        print(f"plot written to {path}")
