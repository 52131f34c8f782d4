"""The ``validate`` and ``calibrate`` commands.

``validate`` prints every check, its source, target, value and verdict; ``calibrate``
fits the calibrated parameters jointly to the calibration set (:mod:`.fit`) and prints
the residuals of both splits and what the data determine.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import boneturnover as bt
from boneturnover.files import atomic_write_bytes, check_output, check_output_folder

from .checks import calibration_points, checks, run_validation
from .dataset import Series, calibration_set, predictions, published_values
from .report import format_table
from .runs import Runs

__all__ = ["register", "parse_overrides", "PLOTTED_RUNS", "format_fit"]

#: Runs drawn by ``validate --plots``, one PNG each.
PLOTTED_RUNS = ("alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
                "denosumab_stop", "raloxifene", "teriparatide", "romosozumab")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="run the validation checks and print the report")
    p.add_argument("--plots", default=None, metavar="DIR",
                   help="also write into DIR one plot per drug (markers and spine BMD vs "
                        "time, published points overlaid) and one per series of the "
                        "calibration set (its simulated course, the published points with "
                        "95 %% intervals)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   dest="overrides",
                   help="replace a model parameter's value (in its unit, see `boneturnover "
                        "parameters`) for every check; repeat for several. For sensitivity "
                        "and calibration work: the bundled values are what is validated")
    p.add_argument("--values", default=None, metavar="FILE",
                   help="replace the values of the parameters a `calibrate --out` FILE "
                        "holds (with --set on top)")
    p.add_argument("--force", action="store_true",
                   help="replace plot files that already exist in the --plots folder")
    p.set_defaults(func=_validate)
    p = sub.add_parser("calibrate", help="fit the calibrated parameters jointly to the "
                       "calibration set; print fit and validation residuals")
    p.add_argument("--starts", type=int, default=3, metavar="N",
                   help="starts: the bundled values, then N-1 Latin hypercube points over "
                        "the search ranges (default 3)")
    p.add_argument("--max-evaluations", type=int, default=40, metavar="N",
                   help="most residual evaluations of each start (default 40)")
    p.add_argument("--seed", type=int, default=2010, help="seed of the Latin hypercube")
    p.add_argument("--parameters", default=None, metavar="A,B,...",
                   help="fit only these parameters of validation/data/fit.toml")
    p.add_argument("--no-fit", action="store_true",
                   help="only print the residuals of the bundled values")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the fitted values, their ranges, intervals and targets as "
                        "TOML (read back by `validate --values FILE`)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=_calibrate)


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
    from .fit import read_fitted_values

    overrides = parse_overrides(args.overrides)
    if args.values is not None:
        fitted = read_fitted_values(args.values)
        parse_overrides([f"{k}={v!r}" for k, v in fitted.items()])  # names and bounds
        overrides = {**fitted, **overrides}
    series = calibration_set()
    folder = None if args.plots is None else check_output_folder(
        args.plots, [f"{name}.png" for name in PLOTTED_RUNS]
        + [f"series_{s.id}.png" for s in series], force=args.force)
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
        _series_plots(runs, series, folder)
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


def _series_plots(runs: Runs, series: Sequence[Series], folder: Path) -> None:
    from .plots import plot_series

    for s in series:
        png = io.BytesIO()
        plot_series(s, runs, predictions(runs, [s]), png)  # type: ignore[arg-type]
        path = folder / f"series_{s.id}.png"
        atomic_write_bytes(path, png.getvalue())
    print(f"{len(series)} calibration-set plots written to {folder} (series_*.png)")


def _count(value: int, name: str) -> int:
    if value < 1:
        raise bt.InputError(f"{name} {value}: expected a whole number of at least 1")
    return value


def _calibrate(args: argparse.Namespace) -> int:
    from .fit import calibrate, evaluate_series, fit_parameters, result_document

    starts = _count(args.starts, "--starts")
    evaluations = _count(args.max_evaluations, "--max-evaluations")
    out = None if args.out is None else check_output(args.out, force=args.force)
    parameters = fit_parameters()
    if args.parameters is not None:
        wanted = [n.strip() for n in args.parameters.split(",") if n.strip()]
        known = {p.name: p for p in parameters}
        for name in wanted:
            if name not in known:
                raise bt.InputError(f"--parameters {name!r}: not a parameter of the fit; "
                                    f"expected some of {', '.join(known)}")
        parameters = tuple(known[n] for n in dict.fromkeys(wanted))
    series = calibration_set()
    if args.no_fit:
        sim = evaluate_series([{}], series)[0]
        print(format_residuals(series, sim, None))
        return 0
    print(f"fitting {len(parameters)} parameters to "
          f"{sum(len(s.points) for s in series if s.split == 'calibration')} calibration "
          f"points, {starts} start(s)", flush=True)
    result = calibrate(parameters=parameters, series=series, starts=starts,
                       max_evaluations=evaluations, seed=args.seed,
                       progress=lambda line: print(line, flush=True))
    print(format_fit(result))
    if out is not None:
        import tomli_w

        atomic_write_bytes(out, tomli_w.dumps(result_document(result)).encode("utf-8"))
        print(f"\nfitted values written to {out}")
    return 0


def format_residuals(series: Sequence[Series], before: np.ndarray,
                     after: np.ndarray | None) -> str:
    """Every point: series, split, where, published +/- se, simulated, standardised residual."""
    published, se = published_values(series)
    sims = {"bundled": before} if after is None else {"bundled": before, "fitted": after}
    z = {label: (sim - published) / se for label, sim in sims.items()}
    head = ["series", "split", "point", "published", "bundled", "z"]
    if after is not None:
        head += ["fitted", "z fitted"]
    rows = [tuple(head)]
    points = [(s, p) for s in series for p in s.points]
    for k, (s, p) in enumerate(points):
        row = [s.id, s.split, p.label, f"{p.value:.4g} +/- {p.se:.2g} {s.unit}"]
        for label, sim in sims.items():
            row += [f"{sim[k]:.4g}", f"{z[label][k]:+.2f}"]
        rows.append(tuple(row))
    lines = _columns(rows)
    splits = np.array([s.split for s, _ in points])
    for split in ("calibration", "validation"):
        for label, zs in z.items():
            part = np.nan_to_num(zs[splits == split], nan=np.inf)
            if part.size:
                lines.append(f"{split}: {part.size} points, root mean square z "
                             f"{float(np.sqrt(np.mean(part ** 2))):.3g} ({label} values)")
    return "\n".join(lines)


def format_fit(result: Any) -> str:
    """The residual table of both splits, the costs, the fitted values and what the data
    determine."""
    lines = [format_residuals(result.series, result.before, result.after), ""]
    if result.constraints:
        rows = [("calibration check (constraint)", "band", "bundled", "fitted", "inside")]
        for c, b, a in zip(result.constraints, result.checks_before, result.checks_after,
                           strict=True):
            rows.append((c.id, f"{c.low:.4g} - {c.high:.4g} {c.unit}", f"{b:.4g}",
                         f"{a:.4g}", f"{_inside(c, b)} -> {_inside(c, a)}"))
        lines += [*_columns(rows), ""]
    for split in ("calibration", "validation", "checks"):
        lines.append(f"{split} cost (half the sum of squared residuals): bundled "
                     f"{result.cost('before', split):.4g}, fitted "
                     f"{result.cost('after', split):.4g}")
    lines.append(f"fit took {result.seconds:.0f} s, {len(result.starts)} start(s): costs "
                 + ", ".join(f"{s.cost:.4g}" for s in result.starts))
    rows = [("parameter", "bundled", "fitted", "95 % interval", "range", "determined")]
    for i, p in enumerate(result.parameters):
        lo, hi = result.interval(i)
        rows.append((p.name, f"{result.bundled[p.name]:.4g}", f"{result.values[p.name]:.4g}",
                     f"{lo:.3g} - {hi:.3g}", f"{p.low:g} - {p.high:g} {p.unit}",
                     result.determined(i)))
    lines += ["", *_columns(rows)]
    n = len(result.parameters)
    pairs = sorted(((abs(result.correlation[i, j]), i, j) for i in range(n)
                    for j in range(i + 1, n) if np.isfinite(result.correlation[i, j])),
                   reverse=True)[:10]
    if pairs:
        lines += ["", "most correlated fitted parameters (Wald correlation at the best fit):"]
        lines += [f"  {result.parameters[i].name} ~ {result.parameters[j].name}: "
                  f"{result.correlation[i, j]:+.3f}" for _, i, j in pairs]
    lines += [f"note: {note}" for note in result.notes]
    lines.append("determined: 'no' where the 95 % interval crosses both ends of the search "
                 "range (Raue A et al. Bioinformatics 2009;25:1923-1929)")
    return "\n".join(lines)


def _inside(check: Any, value: float) -> str:
    return "yes" if check.low <= value <= check.high else "no"


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
