"""``boneturnover interpret``: the clinical engine's sub-command (thin over the API)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..files import atomic_write_csv, atomic_writer, check_output
from .catalog import CATALOG
from .engine import interpret
from .io import load_patient
from .records import PatientRecord
from .rules import RULESETS
from .simulated import DEFAULT_START_DATE
from .values import to_day

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``interpret`` sub-command."""
    p = subparsers.add_parser(
        "interpret",
        help="interpret bone turnover markers of a patient or a cohort",
        description=(
            "Interpret a patient's bone turnover markers and treatment history against "
            "cited rules. Decision support: markers cannot diagnose osteoporosis. "
            "With --simulated, the markers of a simulated trajectory (`boneturnover "
            "simulate --out`) are interpreted as if they were lab results: the marker "
            "catalogue maps each output column to its marker ("
            + ", ".join(f"{c} -> {m}" for c, m in CATALOG.model_outputs.items())
            + "); samples are taken at day 0 and every 3 months "
            "(nearest simulated row, recorded as fasting morning samples) unless "
            "--sample-days says otherwise, and judged against the reference intervals the "
            "model is calibrated to (--intervals default: the clinical defaults); "
            "--scenario adds the scenario's treatments as courses; the evaluation date "
            "defaults to the last sample."
        ),
    )
    p.add_argument("file", nargs="?", help="patient file: .toml, .json or FHIR R4 Bundle .json")
    p.add_argument("--cohort", metavar="DIR",
                   help="directory with patients.csv, measurements.csv, treatments.csv")
    p.add_argument("--simulated", metavar="CSV",
                   help="a table written by `boneturnover simulate --out`, interpreted as "
                        "one patient's lab results")
    p.add_argument("--scenario", metavar="TOML",
                   help="with --simulated: the scenario that was simulated; its "
                        "[[treatment]] entries become the patient's courses")
    p.add_argument("--start-date", metavar="YYYY-MM-DD", default=DEFAULT_START_DATE,
                   help=f"with --simulated: calendar date of day 0 (default {DEFAULT_START_DATE})")
    p.add_argument("--sample-days", metavar="DAYS",
                   help="with --simulated: comma-separated simulation days to sample (e.g. "
                        "'0,91,182,365'), or 'all' for every row (default: day 0 and every "
                        "3 months)")
    p.add_argument("--markers", metavar="IDS",
                   help="with --simulated: comma-separated markers to take (default: all the "
                        "table holds)")
    p.add_argument("--patient-age", type=float, metavar="YEARS",
                   help="with --simulated: age at day 0 (default: the table's age_y)")
    p.add_argument("--patient-id", default="simulated", metavar="ID",
                   help="with --simulated: patient id in the report (default 'simulated')")
    p.add_argument("--subject", type=int, metavar="N",
                   help="with --simulated: subject of a population run")
    p.add_argument("--intervals", choices=("model", "default"), default="model",
                   help="with --simulated: reference intervals of the simulated markers, "
                        "those the model is calibrated to (default) or the catalogue's "
                        "clinical defaults")
    p.add_argument("--format", choices=("text", "json", "html", "pdf", "fhir"), default="text",
                   help="report format (default text); fhir: a FHIR R4 Bundle with a "
                        "DiagnosticReport; html and pdf: a one-page summary, "
                        "then findings with sources and the marker trends; pdf is printed "
                        "from the html by headless Chromium and needs --out")
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument("--ruleset", choices=tuple(RULESETS), default="paper")
    p.add_argument("--out", metavar="PATH", help="output file (cohort: .parquet or .csv); "
                   "checked before any work, written atomically")
    p.add_argument("--force", action="store_true",
                   help="replace --out (and --plot) if it exists; an input is never replaced")
    p.add_argument("--today", metavar="YYYY-MM-DD",
                   help="evaluation date (default: the file's as_of, else today)")
    p.add_argument("--plot", metavar="PNG", help="text format: also write the marker plot")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if sum(map(bool, (args.file, args.cohort, args.simulated))) != 1:
        raise InputError("give either a patient FILE, --cohort DIR or --simulated CSV "
                         "(exactly one)")
    if args.scenario and not args.simulated:
        raise InputError("--scenario goes with --simulated CSV")
    _check_outputs(args)
    if args.today is not None:
        try:
            to_day(args.today)
        except InputError:
            raise InputError(f"--today {args.today!r}: expected a date YYYY-MM-DD") from None
    if args.cohort:
        return _run_cohort(args)
    if args.simulated:
        from .simulated import last_sample_date

        patient = _simulated_patient(args)
        today = args.today or last_sample_date(patient)
    else:
        patient = load_patient(args.file)
        today = args.today or patient.as_of  # a stored case keeps its evaluation date
    report = interpret(patient, ruleset=args.ruleset, today=today)
    if args.format == "pdf":
        return _write_pdf(report, args)
    if args.format == "json":
        text = report.to_json() + "\n"
    elif args.format == "html":
        text = report.to_html(args.lang)
    elif args.format == "fhir":
        import json

        from .fhir_out import report_to_fhir

        text = json.dumps(report_to_fhir(report, patient, args.lang), indent=2,
                          ensure_ascii=False, allow_nan=False) + "\n"
    else:
        plot = args.plot or (str(Path(args.out).with_suffix(".png")) if args.out else None)
        if plot and report.series:
            _write(plot, report.plot_png(args.lang))
        text = report.to_text(args.lang, plot if report.series else None)
    _emit(text, args.out)
    return 0


def _inputs(args: argparse.Namespace) -> list[Path]:
    """Every file the run reads: an output may never be one of them."""
    files = [Path(p) for p in (args.file, args.simulated, args.scenario) if p]
    if args.cohort and Path(args.cohort).is_dir():
        files += [p for p in Path(args.cohort).iterdir() if p.is_file()]
    return files


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that is an input, a folder, in a missing folder,
    or an existing file without --force (:func:`boneturnover.files.check_output`)."""
    inputs = _inputs(args)
    if args.out:
        check_output(args.out, inputs, force=args.force)
    plot = args.plot
    if not plot and args.out and args.format == "text" and not args.cohort:
        plot = str(Path(args.out).with_suffix(".png"))  # the text report's plot beside it
    if plot:
        check_output(plot, inputs, force=args.force, what="--plot")


def _simulated_patient(args: argparse.Namespace) -> PatientRecord:
    from .simulated import patient_from_simulation, read_simulation  # pandas: a table

    treatments: tuple = ()
    if args.scenario:
        from ..scenario import load_scenario  # the model side, only when asked for

        treatments = load_scenario(args.scenario).treatments
    days: list[float] | str | None = None
    if args.sample_days:
        text = args.sample_days.strip()
        try:
            days = "all" if text == "all" else [float(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--sample-days {text!r}: expected comma-separated days such as "
                             "'0,91,182' or 'all'") from None
    markers = None if not args.markers else [m.strip() for m in args.markers.split(",")]
    return patient_from_simulation(
        read_simulation(args.simulated), start_date=args.start_date, sample_days=days,
        treatments=treatments, markers=markers, patient_id=args.patient_id,
        age_y=args.patient_age, subject=args.subject, intervals=args.intervals)


def _run_cohort(args: argparse.Namespace) -> int:
    from .cohort import interpret_cohort  # the vectorised engine (pandas)
    from .io import load_cohort

    if not args.out:
        raise InputError("--cohort needs --out PATH (.parquet or .csv)")
    if Path(args.out).suffix not in (".parquet", ".csv"):
        raise InputError(f"--out {args.out}: expected a .parquet or .csv file")
    result = interpret_cohort(load_cohort(args.cohort), ruleset=args.ruleset, today=args.today)
    out = Path(args.out)
    if out.suffix == ".parquet":
        with atomic_writer(out, "wb") as fh:
            result.status.to_parquet(fh, index=False)
    elif out.suffix == ".csv":
        atomic_write_csv(out, result.status)  # text cells escaped against formula injection
    else:
        raise InputError(f"--out {out}: expected a .parquet or .csv file")
    bad = result.status["error"].notna().sum()
    print(f"{len(result.status)} patients, {len(result.findings)} findings, {bad} with errors "
          f"-> {out}", file=sys.stderr)
    return 0


def _write_pdf(report, args: argparse.Namespace) -> int:
    from .render import find_chromium, html_to_pdf

    if not args.out:
        raise InputError("--format pdf needs --out FILE.pdf")
    find_chromium()  # a missing browser is a one-line error before any work
    html_to_pdf(report.to_html(args.lang), args.out)
    return 0


def _write(path: str, data: str | bytes) -> None:
    """Write a report file atomically (a temporary file in its folder, then a rename)."""
    from .render import write_atomic

    write_atomic(path, data)


def _emit(text: str, out: str | None) -> None:
    if out:
        _write(out, text)
    else:
        sys.stdout.write(text)
