"""CLI commands of the mechanistic model: demo, simulate, outputs, parameters.

Output files follow :mod:`boneturnover.files`: checked before the computation (folder
exists, not an input, an existing file replaced only with ``--force``), written atomically.
"""

from __future__ import annotations

import argparse
import io
import sys

from ..files import atomic_write_bytes, atomic_write_csv, check_output

__all__ = ["register"]

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
    p = sub.add_parser("simulate", help="simulate a scenario file (TOML) to a CSV table")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--out", required=True, help="CSV file to write (one row per output time)")
    p.add_argument("--force", action="store_true", help="replace the CSV file if it exists")
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
    from ..scenario import load_scenario
    from ..simulation import simulate

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
