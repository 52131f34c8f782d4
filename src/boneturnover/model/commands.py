"""CLI commands of the mechanistic model: demo, simulate, outputs, parameters, validate."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import InputError

__all__ = ["register"]

DEMO_YEARS = (0, 1, 2, 5, 10)
DEMO_COLUMNS = ("ctx_ng_l", "p1np_ug_l", "bsap_ug_l", "osteocalcin_ug_l", "pth_pg_ml",
                "calcium_mmol_l", "bmd_spine_g_cm2", "bmd_hip_g_cm2", "t_score_spine")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulate a representative woman through menopause")
    p.add_argument("--plot", default="boneturnover_demo.png", help="PNG file to write")
    p.set_defaults(func=_demo)
    p = sub.add_parser("simulate", help="simulate a scenario file (TOML) to a CSV table")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--out", required=True, help="CSV file to write (one row per output time)")
    p.set_defaults(func=_simulate)
    p = sub.add_parser("outputs", help="list every model output with unit, meaning and source")
    p.set_defaults(func=_outputs)
    p = sub.add_parser("parameters", help="list every model parameter with value, unit, source")
    p.set_defaults(func=_parameters)
    p = sub.add_parser("validate", help="run the validation checks and print the report")
    p.add_argument("--plots", default=None, metavar="DIR",
                   help="also write one plot per drug (markers and spine BMD vs time, "
                        "published points overlaid) into DIR")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   dest="overrides",
                   help="replace a model parameter's value (in its unit, see `boneturnover "
                        "parameters`) for every check; repeat for several. For sensitivity "
                        "and calibration work: the bundled values are what is validated")
    p.set_defaults(func=_validate)


def _demo(args: argparse.Namespace) -> int:
    from ..plots import plot_trajectories
    from ..scenario import Patient, Scenario
    from ..simulate import simulate

    sc = Scenario(patient=Patient(age_y=51.0, menopause_age_y=51.0), years=10.0)
    df = simulate(sc).frame
    print("Representative woman, final menstrual period at 51 (time 0), untreated.")
    print("Markers scaled to premenopausal reference centres; see `boneturnover outputs`.")
    print("Bone turnover markers cannot diagnose osteoporosis (seed:B18).\n")
    rows = df.set_index("time_d")
    table = rows.loc[[round(y * 365.25) for y in DEMO_YEARS], list(DEMO_COLUMNS)]
    table.index = [f"FMP+{y}y" for y in DEMO_YEARS]
    print(table.round(3).to_string())
    path = plot_trajectories(df, Path(args.plot), title="Menopause at 51, untreated")
    print(f"\nplot written to {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from ..scenario import load_scenario
    from ..simulate import simulate

    sc = load_scenario(args.scenario)
    for line in sc.warnings:
        print(f"warning: {line}", file=sys.stderr)
    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise InputError(f"--out {str(out)!r} is a directory; expected a CSV file path")
    res = simulate(sc)
    res.frame.to_csv(out, index=False)
    print(f"{len(res.frame)} rows written to {out}")
    return 0


def _outputs(args: argparse.Namespace) -> int:
    from .outputs import output_table

    for row in output_table():
        print(f"{row['name']:<20} {row['unit']:<7} {row['meaning']}")
        if row["source"]:
            print(f"{'':<28}source: {row['source']}")
    return 0


def _parameters(args: argparse.Namespace) -> int:
    from .spec import load_model

    spec = load_model()
    for p in spec.parameters:
        sym = f" [{p.symbol}]" if p.symbol else ""
        print(f"{p.name:<28} {p.value:<14.6g} {p.unit:<10} {p.evidence:<12} {p.source}{sym}: "
              f"{p.meaning}")
    print("\nsources:")
    for key, text in spec.sources.items():
        print(f"  {key}: {text}")
    return 0


def parse_overrides(items: list[str]) -> dict[str, float]:
    """``["bp_emax=3.1", ...]`` -> ``{"bp_emax": 3.1}``; names checked against the model."""
    from .spec import load_model

    spec = load_model()
    out: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"--set {item!r}: expected NAME=VALUE, e.g. --set bp_emax=3.1")
        if name not in spec.parameter_names:
            raise InputError(f"--set {item!r}: {name!r} is not a model parameter; see "
                             "`boneturnover parameters` for the list")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InputError(f"--set {item!r}: value {text.strip()!r} is not a finite "
                             f"number; expected {name} as a number in unit "
                             f"{spec.parameter(name).unit!r}")
        if name in out:
            raise InputError(f"--set {item!r}: {name} is already set to {out[name]:g}")
        out[name] = value
    return out


def _validate(args: argparse.Namespace) -> int:
    from ..validate import format_table, overridden_model, run_validation
    from .spec import load_model

    overrides = parse_overrides(args.overrides)
    if overrides:
        spec = load_model()
        print("parameters replaced (bundled value in brackets): " + ", ".join(
            f"{k}={v:g} [{spec.parameter(k).value:g}]" for k, v in overrides.items()) + "\n")
    with overridden_model(overrides):
        results = run_validation()
        print(format_table(results))
        if args.plots:
            _validation_plots(Path(args.plots))
    sys.stdout.flush()
    return 0 if all(r.passed for r in results) else 1


def _validation_plots(folder: Path) -> None:
    from ..plots import plot_drug_validation
    from ..validate_drugs import PUBLISHED, drug_run, untreated_run

    if folder.exists() and not folder.is_dir():
        raise InputError(f"--plots {str(folder)!r} is a file; expected a directory")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
                 "denosumab_stop", "raloxifene", "teriparatide", "romosozumab"):
        path = plot_drug_validation(name, drug_run(name), untreated_run(),
                                    PUBLISHED.get(name, []), folder / f"{name}.png")
        print(f"plot written to {path}")
