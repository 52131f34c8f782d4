"""Exceptions raised by boneturnover.

Every error the package raises on purpose derives from :class:`BoneTurnoverError`.
Errors caused by what a user gave us (a file, a value, a unit) also derive from
:class:`ValueError` so that generic code can catch them; the CLI prints them as
``Type: message`` on one line and exits with status 2. A solver failure on input that
passed every check is not bad input: the CLI prints it the same way and exits with
status 3 (:data:`EXIT_CODES`)::

    BoneTurnoverError
    ├── InputError (ValueError)          bad input: names the field, the value, what was expected
    │   ├── ScenarioError                a scenario file (TOML) that cannot be used
    │   ├── UnitError                    an unknown unit or one that cannot convert
    │   ├── DataError                    a measurement/treatment record that cannot be used
    │   ├── LimitError                   a run beyond a resource limit (boneturnover.limits)
    │   ├── OutputPathError              an output path that cannot or may not be written
    │   └── ModelError                   a model module that cannot be assembled
    └── SolverError (RuntimeError)       the numerical solver failed on valid input: names the
                                         subject, the time and the likely cause

Exit status of the command line: 0 done, 1 done with failed checks (``validate``) or
another :class:`BoneTurnoverError`, 2 bad input (:class:`InputError`), 3 a numerical
failure (:class:`SolverError`).
"""

from __future__ import annotations

__all__ = [
    "BoneTurnoverError",
    "InputError",
    "ScenarioError",
    "UnitError",
    "DataError",
    "LimitError",
    "OutputPathError",
    "ModelError",
    "SolverError",
    "EXIT_CODES",
]


class BoneTurnoverError(Exception):
    """Root of every exception raised by boneturnover on purpose."""


class InputError(BoneTurnoverError, ValueError):
    """Something a user supplied cannot be used; the message says what and why."""


class ScenarioError(InputError):
    """A scenario file or scenario value is invalid."""


class UnitError(InputError):
    """A unit string is unknown, or cannot be converted to the unit needed."""


class DataError(InputError):
    """A patient record (measurement, treatment, patient fact) is invalid."""


class LimitError(InputError):
    """A run would exceed a named resource limit; the message gives the figure and the limit."""


class OutputPathError(InputError):
    """An output path is missing its folder, is a folder, is an input, or exists without --force."""


class ModelError(InputError):
    """A model module cannot be read or assembled (an unknown name, a missing rate, a cycle)."""


class SolverError(BoneTurnoverError, RuntimeError):
    """The ODE solver did not reach the end time, or gave values it cannot (NaN, negative).

    The message names the subject, the time and the likely cause (the subject's parameter
    overrides, or its doses).
    """


#: Exit status of the command line per outcome (``boneturnover.cli``).
EXIT_CODES = {"ok": 0, "failed checks or other error": 1, "bad input": 2,
              "numerical failure": 3}
