"""CLI command ``export-sbml``: a scenario's subject as an SBML Level 3 file.

The output file follows :mod:`boneturnover.files`: checked before the computation
(folder exists, not the input, an existing file replaced only with ``--force``), written
atomically.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-sbml", help="write the assembled model, at a scenario's parameters and with "
        "its doses as events, as SBML Level 3 Version 2 (COPASI, tellurium, AMICI)",
        description="Write one scenario's subject as SBML L3V2: states as rate rules "
        "starting from the state at the scenario's time 0 (after the untreated history), "
        "terms as assignment rules, derived constants as numbers, doses as events. "
        "Without SCENARIO: a woman of 70 with menopause at 51, untreated, bundled "
        "parameter values. See docs/SBML.md.")
    p.add_argument("scenario", nargs="?", default=None,
                   help="scenario TOML file (default: untreated woman of 70, menopause at 51)")
    p.add_argument("--out", required=True, help="SBML file to write (e.g. model.xml)")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    p.set_defaults(func=_export_sbml)


def _export_sbml(args: argparse.Namespace) -> int:
    from ..files import atomic_write_text, check_output
    from ..scenario import load_scenario
    from . import to_sbml

    inputs = [] if args.scenario is None else [args.scenario]
    out = check_output(args.out, inputs=inputs, force=args.force)
    sc = None
    if args.scenario is not None:
        sc = load_scenario(args.scenario)
        for line in sc.warnings:
            print(f"warning: {line}", file=sys.stderr)
    text = to_sbml(sc)
    atomic_write_text(out, text)
    events = text.count("<event ")
    print(f"SBML Level 3 Version 2 model written to {out} ({events} dose event(s))")
    return 0
