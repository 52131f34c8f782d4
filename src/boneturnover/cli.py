"""Command-line interface: ``boneturnover <command> ...``.

Thin over the Python API. Each command lives in the module that owns it and
registers itself through a ``register(subparsers)`` function listed in
``COMMAND_MODULES``. Errors a user caused print ``Type: message`` on one line
and exit with status 2; a numerical failure on valid input (``SolverError``) prints
the same way and exits with status 3 (``boneturnover.errors.EXIT_CODES``); a
traceback is a bug.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import EXIT_CODES, BoneTurnoverError, InputError, SolverError

__all__ = ["main", "build_parser", "COMMAND_MODULES", "COMMAND_NAMES"]

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "boneturnover.model.commands",
    "boneturnover.sbml.commands",
    "boneturnover.clinical.commands",
    "boneturnover.drugs.commands",
    "boneturnover.validation.commands",
    "boneturnover.knowledge.commands",
    "boneturnover.web.commands",
)


#: Sub-command -> the module of :data:`COMMAND_MODULES` that registers it, so that a run
#: of one command imports only its own module (``tests/cli`` keeps this equal to what the
#: modules register).
COMMAND_NAMES: dict[str, str] = {
    "demo": "boneturnover.model.commands",
    "simulate": "boneturnover.model.commands",
    "outputs": "boneturnover.model.commands",
    "parameters": "boneturnover.model.commands",
    "export-sbml": "boneturnover.sbml.commands",
    "interpret": "boneturnover.clinical.commands",
    "drugs": "boneturnover.drugs.commands",
    "validate": "boneturnover.validation.commands",
    "calibrate": "boneturnover.validation.commands",
    "sources": "boneturnover.knowledge.commands",
    "serve": "boneturnover.web.commands",
}


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """Build the argparse tree from ``modules`` (default: every module in
    :data:`COMMAND_MODULES`)."""
    parser = argparse.ArgumentParser(
        prog="boneturnover",
        description=(
            "Bone turnover in postmenopausal osteoporosis: mechanistic model and "
            "marker interpretation. Decision support and research software; bone "
            "turnover markers cannot diagnose osteoporosis (Cheng et al. 2022, §3.2)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"boneturnover {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def _modules_for(argv: Sequence[str]) -> Sequence[str]:
    """Only the module of the sub-command named first in ``argv``; every module for
    anything else (``--help``, ``--version``, an unknown command: argparse lists them)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in COMMAND_NAMES and argv and argv[0] == first:
        return (COMMAND_NAMES[first],)
    return COMMAND_MODULES


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_modules_for(argv))
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except InputError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_CODES["bad input"]
    except SolverError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_CODES["numerical failure"]
    except BoneTurnoverError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
