"""Solver outcomes as data (one status per subject, so a failed subject does not stop a batch)."""

from __future__ import annotations

import enum

__all__ = ["Status"]


class Status(enum.IntEnum):
    """Outcome of integrating one subject."""

    OK = 0
    MAX_STEPS = 1
    STEP_TOO_SMALL = 2
    NONFINITE = 3
    SINGULAR = 4
    STEADY_STATE_FAILED = 5

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Status.OK: "integration reached the end time",
    Status.MAX_STEPS: "the solver took the maximum number of steps; try increasing `max_steps`",
    Status.STEP_TOO_SMALL: "the step size collapsed; the parameters may make the system "
    "ill-posed (check extreme parameter values)",
    Status.NONFINITE: "the state became NaN or infinite; check parameter values",
    Status.SINGULAR: "the iteration matrix was singular; check parameter values",
    Status.STEADY_STATE_FAILED: "no steady state was found for these parameters",
}
