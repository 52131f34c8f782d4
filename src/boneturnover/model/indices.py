"""Indices of the bundled model's states and the model's unit of time.

``S.osteoclasts`` is the index of a state in a state vector of the bundled model
(``library/peterson_riggs.toml`` and its modules); model time is in hours, and a year is
a Julian year.
"""

from __future__ import annotations

import enum

from .spec import load_model

__all__ = ["S", "HOURS_PER_YEAR"]

#: Hours per (Julian) year: model time is in hours.
HOURS_PER_YEAR = 24.0 * 365.25

#: State indices of the bundled model.
S = enum.IntEnum("S", {s.name: s.index for s in load_model("peterson_riggs").states})
