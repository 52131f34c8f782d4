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

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "boneturnover.model.commands",
    "boneturnover.clinical.commands",
    "boneturnover.drugs.commands",
    "boneturnover.validation.commands",
    "boneturnover.knowledge.commands",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argparse tree from every module in :data:`COMMAND_MODULES`."""
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
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    parser = build_parser()
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
