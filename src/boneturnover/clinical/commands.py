"""``boneturnover interpret``: the clinical engine's sub-command (thin over the API)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from .cohort import interpret_cohort
from .engine import interpret
from .io import load_cohort, load_patient
from .rules import RULESETS

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``interpret`` sub-command."""
    p = subparsers.add_parser(
        "interpret",
        help="interpret bone turnover markers of a patient or a cohort",
        description=(
            "Interpret a patient's bone turnover markers and treatment history against "
            "cited rules. Decision support: markers cannot diagnose osteoporosis."
        ),
    )
    p.add_argument("file", nargs="?", help="patient file: .toml, .json or FHIR R4 Bundle .json")
    p.add_argument("--cohort", metavar="DIR",
                   help="directory with patients.csv, measurements.csv, treatments.csv")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument("--ruleset", choices=tuple(RULESETS), default="paper")
    p.add_argument("--out", metavar="PATH", help="output file (cohort: .parquet or .csv)")
    p.add_argument("--today", metavar="YYYY-MM-DD", help="evaluation date (default: today)")
    p.add_argument("--plot", metavar="PNG", help="text format: also write the marker plot")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.file) == bool(args.cohort):
        raise InputError("give either a patient FILE or --cohort DIR (not both)")
    if args.cohort:
        return _run_cohort(args)
    report = interpret(load_patient(args.file), ruleset=args.ruleset, today=args.today)
    if args.format == "json":
        text = report.to_json() + "\n"
    elif args.format == "html":
        text = report.to_html(args.lang)
    else:
        plot = args.plot or (str(Path(args.out).with_suffix(".png")) if args.out else None)
        if plot and report.series:
            Path(plot).write_bytes(report.plot_png(args.lang))
        text = report.to_text(args.lang, plot if report.series else None)
    _emit(text, args.out)
    return 0


def _run_cohort(args: argparse.Namespace) -> int:
    if not args.out:
        raise InputError("--cohort needs --out PATH (.parquet or .csv)")
    result = interpret_cohort(load_cohort(args.cohort), ruleset=args.ruleset, today=args.today)
    out = Path(args.out)
    if out.suffix == ".parquet":
        result.status.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        result.status.to_csv(out, index=False)
    else:
        raise InputError(f"--out {out}: expected a .parquet or .csv file")
    bad = result.status["error"].notna().sum()
    print(f"{len(result.status)} patients, {len(result.findings)} findings, {bad} with errors "
          f"-> {out}", file=sys.stderr)
    return 0


def _emit(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, "utf-8")
    else:
        sys.stdout.write(text)
