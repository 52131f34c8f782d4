"""CLI commands of the mechanistic model: demo, simulate, outputs, parameters.

Output files follow :mod:`boneturnover.files`: checked before the computation (folder
exists, not an input, an existing file replaced only with ``--force``), written atomically.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes, atomic_write_csv, check_output

__all__ = ["register", "read_population", "ProgressBar"]

DEMO_YEARS = (0, 1, 2, 5, 10)
DEMO_PLOT = "boneturnover_demo.png"
DEMO_COLUMNS = ("ctx_ng_l", "p1np_ug_l", "bsap_ug_l", "osteocalcin_ug_l", "pth_pg_ml",
                "calcium_mmol_l", "bmd_spine_g_cm2", "bmd_hip_g_cm2", "t_score_spine")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulate a representative woman through menopause")
    p.add_argument("--plot", default=None, help="PNG file to write (default "
                   f"{DEMO_PLOT}, which the demo replaces each run)")
    p.add_argument("--force", action="store_true", help="replace the PNG file if it exists")
    p.set_defaults(func=_demo)
    p = sub.add_parser("simulate", help="simulate a scenario file (TOML) to a CSV table, or a "
                       "virtual population to parquet partitions")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--out", required=True, help="CSV file to write (one row per output time); "
                   "with --population, a folder: outputs/part-NNNNN.parquet (one row per "
                   "subject and output time) and status.csv (one row per subject)")
    p.add_argument("--population", default=None, metavar="POP.csv|POP.parquet",
                   help="virtual population: one row per subject, columns named after model "
                   "parameters (see `boneturnover parameters`)")
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler "
                   "(tcp://host:8786) whose workers run the population's chunks; the --out "
                   "folder must be visible to them")
    p.add_argument("--chunk", type=int, default=None, metavar="N",
                   help="subjects per chunk (one batch solve, one partition; default 256 or "
                   "fewer)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (it is shown only when stderr is a terminal)")
    p.add_argument("--force", action="store_true",
                   help="replace the CSV file, or the results in the --out folder, if present")
    p.set_defaults(func=_simulate)
    p = sub.add_parser("outputs", help="list every model output with unit, meaning and source")
    p.set_defaults(func=_outputs)
    p = sub.add_parser("parameters", help="list every model parameter with value, unit, source")
    p.set_defaults(func=_parameters)


def _demo(args: argparse.Namespace) -> int:
    from ..knowledge.sources import render_sources
    from ..plots import plot_trajectories
    from ..scenario import Patient, Scenario
    from ..simulation import simulate

    # the default plot is the demo's own product: each run replaces it
    plot = check_output(args.plot or DEMO_PLOT, force=args.force or args.plot is None,
                        what="--plot")
    sc = Scenario(patient=Patient(age_y=51.0, menopause_age_y=51.0), years=10.0)
    df = simulate(sc).frame
    print("Representative woman, final menstrual period at 51 (time 0), untreated.")
    print("Markers scaled to premenopausal reference centres; see `boneturnover outputs`.")
    print(render_sources("Bone turnover markers cannot diagnose osteoporosis (seed:B18).\n"))
    rows = df.set_index("time_d")
    table = rows.loc[[round(y * 365.25) for y in DEMO_YEARS], list(DEMO_COLUMNS)]
    table.index = [f"FMP+{y}y" for y in DEMO_YEARS]
    print(table.round(3).to_string())
    png = io.BytesIO()
    plot_trajectories(df, png, title="Menopause at 51, untreated")  # type: ignore[arg-type]
    atomic_write_bytes(plot, png.getvalue())
    print(f"\nplot written to {plot}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..scenario import load_scenario
    from ..simulation import simulate

    if args.population is None:
        if args.scheduler is not None or args.chunk is not None:
            flag = "--scheduler" if args.scheduler is not None else "--chunk"
            raise InputError(f"{flag} runs a population; expected --population POP.csv too")
        out = check_output(args.out, inputs=[args.scenario], force=args.force)
        sc = load_scenario(args.scenario)
        for line in sc.warnings:
            print(f"warning: {line}", file=sys.stderr)
        res = simulate(sc)
        for line in res.warnings:
            print(f"warning: {line}", file=sys.stderr)
        atomic_write_csv(out, res.frame)
        print(f"{len(res.frame)} rows written to {out}")
        return 0
    return _simulate_population(args)


def _simulate_population(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..population import PARTITIONS, STATUS_FILE, population_values, prepare_out_folder
    from ..scenario import check_magnesium_floor, load_scenario
    from ..simulation import active_model, simulate

    if args.chunk is not None and args.chunk < 1:
        raise InputError(f"--chunk {args.chunk} is not a number of subjects; expected an "
                         "integer of 1 or more")
    folder = prepare_out_folder(args.out, inputs=[args.scenario, args.population],
                                force=args.force, create=False)
    sc = load_scenario(args.scenario)
    pop = read_population(args.population)
    try:
        values = population_values(pop, active_model())
        for row, v in enumerate(values.get("mg_intake_mg_day", ())):
            check_magnesium_floor(float(v), f"population: column 'mg_intake_mg_day' row {row}",
                                  InputError)
    except InputError as exc:
        raise InputError(f"--population {args.population!r}: "
                         f"{str(exc).removeprefix('population: ')}") from None
    for line in sc.warnings:
        print(f"warning: {line}", file=sys.stderr)
    client = None
    if args.scheduler is not None:
        from ..cluster import connect

        client = connect(args.scheduler, what="--scheduler")
    bar = ProgressBar(sys.stderr, enabled=not args.quiet)
    bar(0, len(pop))
    try:
        res = simulate(sc, population=pop, throw=False, out=folder, force=True, client=client,
                       chunk_subjects=args.chunk, progress=bar)
    finally:
        bar.close()
        if client is not None:
            client.close()
    for line in res.warnings:
        print(f"warning: {line}", file=sys.stderr)
    failed = sum(bool(r) for r in res.reasons)
    if failed:
        print(f"warning: {failed} of {len(pop)} subject(s) failed (NaN outputs); their "
              f"reasons are in {folder / STATUS_FILE}", file=sys.stderr)
    parts = len(list((folder / PARTITIONS).glob("part-*.parquet")))
    print(f"{len(pop)} subject(s) written to {folder / PARTITIONS} ({parts} parquet "
          f"partition(s)); status in {folder / STATUS_FILE}")
    return 0


def read_population(path: str) -> Any:
    """A population table from a CSV or parquet file (one row per subject).

    Raises
    ------
    InputError
        A missing file, an unknown file type, or a file that cannot be read as its type.
    """
    import pandas as pd

    from ..errors import InputError

    p = Path(path)
    shown = f"--population {str(path)!r}"
    suffix = p.suffix.lower()
    kinds = {".csv": "CSV", ".parquet": "parquet", ".pq": "parquet"}
    if suffix not in kinds:
        raise InputError(f"{shown}: unknown file type {suffix or '(none)'!r}; expected a .csv "
                         "or .parquet table")
    if not p.is_file():
        raise InputError(f"{shown}: no such file; expected a {kinds[suffix]} table with one "
                         "row per subject")
    try:
        if suffix == ".csv":
            _check_csv_rows(p, shown)
        # an empty cell stays '' (not NaN), so that a message shows what the cell holds;
        # index_col=False: a row's extra fields are never taken as an index
        frame = (pd.read_csv(p, keep_default_na=False, index_col=False) if suffix == ".csv"
                 else pd.read_parquet(p))
    except InputError:
        raise
    except (ValueError, OSError) as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(f"{shown} cannot be read as {kinds[suffix]}: {why}; expected a "
                         "header of parameter names and one row per subject") from None
    if len(frame) == 0:
        raise InputError(f"{shown}: the table has no rows; expected a header of parameter "
                         "names and one row per subject")
    return frame


def _check_csv_rows(path: Path, shown: str) -> None:
    """Refuse a CSV row with more or fewer fields than the header (pandas would take a
    longer first row's extra fields as an index and shift every value to another column).

    Raises
    ------
    InputError
        Naming the line, its number of fields and the header's.
    """
    import csv

    from ..errors import InputError

    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return  # pandas refuses an empty file
            for row in reader:
                if row and len(row) != len(header):
                    raise InputError(
                        f"{shown} line {reader.line_num}: {len(row)} field(s), the header "
                        f"has {len(header)}; expected one value per column "
                        f"({', '.join(header)[:120]})")
        except csv.Error as exc:
            raise ValueError(f"line {reader.line_num}: {exc}") from None


class ProgressBar:
    """A one-line progress bar (subjects done, rate, time left), silent unless a terminal.

    Parameters
    ----------
    stream
        Where to draw (the command's stderr); nothing is written unless it is a terminal.
    enabled
        False for ``--quiet``.
    """

    def __init__(self, stream: Any, enabled: bool = True) -> None:
        isatty = getattr(stream, "isatty", None)
        self.stream = stream
        self.enabled = bool(enabled and isatty is not None and isatty())
        self.t0 = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Draw ``done`` of ``total`` subjects."""
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = done / elapsed
        left = "--" if done == 0 else _duration((total - done) / rate)
        width = 24
        filled = int(width * done / max(total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                          f"subjects  {rate:.2f}/s  {left} left ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """End the line."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``12s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def _outputs(args: argparse.Namespace) -> int:
    from ..knowledge.sources import render_sources
    from .outputs import output_table

    for row in output_table():
        print(f"{row['name']:<20} {row['unit']:<7} {render_sources(row['meaning'])}")
        if row["source"]:
            print(f"{'':<28}source: {render_sources(row['source'])}")
    return 0


def _parameters(args: argparse.Namespace) -> int:
    from ..knowledge.sources import render_sources as cited
    from .spec import load_model

    spec = load_model()
    for p in spec.parameters:
        sym = f" [{p.symbol}]" if p.symbol else ""
        print(f"{p.name:<28} {p.value:<14.6g} {p.unit:<10} {p.bounds.text:<10} "
              f"{p.evidence:<12} {p.source}{sym}: {cited(p.meaning)}")
        if p.calibrated:
            print(f"{'':<28} calibrated to: {cited('; '.join(p.calibrated_to))}")
        if p.method:
            print(f"{'':<28} method: {cited(p.method)}")
    n_cal = sum(p.calibrated for p in spec.parameters)
    print(f"\n{n_cal} of {len(spec.parameters)} parameters are calibrated (chosen to reproduce "
          "the data named under 'calibrated to'; checks of those data are not independent, "
          "see docs/CALIBRATION.md)")
    print("\nsources:")
    for key, text in spec.sources.items():
        print(f"  {key}: {cited(text)}")
    return 0
