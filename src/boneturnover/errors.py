"""Exceptions raised by boneturnover.

Every error the package raises on purpose derives from :class:`BoneTurnoverError`.
Errors caused by what a user gave us (a file, a value, a unit) also derive from
:class:`ValueError` so that generic code can catch them; the CLI prints them as
``Type: message`` on one line and exits with status 2::

    BoneTurnoverError
    ├── InputError (ValueError)          bad input: names the field, the value, what was expected
    │   ├── ScenarioError                a scenario file (TOML) that cannot be used
    │   ├── UnitError                    an unknown unit or one that cannot convert
    │   └── DataError                    a measurement/treatment record that cannot be used
    └── SolverError (RuntimeError)       the numerical solver failed (see ``Solution.status``)
"""

from __future__ import annotations

__all__ = [
    "BoneTurnoverError",
    "InputError",
    "ScenarioError",
    "UnitError",
    "DataError",
    "SolverError",
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


class SolverError(BoneTurnoverError, RuntimeError):
    """The ODE solver did not reach the end time."""
