"""Resource limits of a run, each with its figure and its reason.

A scenario or population that would exceed one of these is refused before anything is
allocated or computed, with :class:`~boneturnover.errors.LimitError` giving the figure the
input asks for and the limit (docs/SCENARIOS.md, "Limits"). The limits bound memory and
time; none of them is reached by a clinical regimen.

Examples
--------
>>> from boneturnover.limits import MAX_OUTPUT_ROWS, check
>>> check(MAX_OUTPUT_ROWS, 3_650)
>>> check(MAX_OUTPUT_ROWS, 10 * 365.25 * 24 * 3600)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
boneturnover.errors.LimitError: output rows: the run asks for 315,576,000 rows; the ...
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import LimitError

__all__ = ["Limit", "LIMITS", "check", "MAX_OUTPUT_ROWS", "MAX_DOSES_PER_SUBJECT",
           "MAX_EVENTS", "MAX_SUBJECTS", "MAX_YEARS", "MIN_DOSE_INTERVAL_H",
           "MIN_OUTPUT_INTERVAL_H", "MAX_NESTING", "MAX_TEXT_CHARS", "MAX_INTEGER",
           "MAX_SCENARIO_BYTES"]


@dataclass(frozen=True)
class Limit:
    """One named limit.

    Attributes
    ----------
    name
        What is counted (``"output rows"``).
    value
        The limit.
    unit
        Unit of ``value`` (``"rows"``, ``"h"``).
    low
        True when the limit is a minimum (an interval no shorter than ``value``).
    reason
        Why this figure.
    """

    name: str
    value: float
    unit: str
    reason: str
    low: bool = False


#: Rows of the output table (times x subjects).
MAX_OUTPUT_ROWS = Limit(
    "output rows", 5_000_000, "rows",
    "about 20 output columns of 8 bytes: 0.8 GB in memory and about 2 GB of CSV; daily "
    "output over 60 years is 21,916 rows a subject")
#: Administrations of one subject inside the simulated time (each is a solver stop).
MAX_DOSES_PER_SUBJECT = Limit(
    "doses per subject", 100_000, "doses",
    "each administration stops and restarts the stiff solver; four daily medicines over 60 "
    "years are 87,664 administrations")
#: Dose events of all subjects together (32 bytes each in the event table).
MAX_EVENTS = Limit(
    "dose events of all subjects", 20_000_000, "events",
    "the event table holds 32 bytes an event (640 MB at the limit)")
#: Subjects of a virtual population.
MAX_SUBJECTS = Limit(
    "subjects", 100_000, "subjects",
    "each subject's state trajectory is held in memory (states x output times x 8 bytes); "
    "larger populations are run in batches")
#: Simulated years after time 0.
MAX_YEARS = Limit(
    "simulated years", 60.0, "years",
    "from the earliest menopause (30 years) to the oldest age accepted (100 years) is 70 "
    "years; 60 years of treatment covers any clinical question")
#: Shortest interval between repeated administrations.
MIN_DOSE_INTERVAL_H = Limit(
    "dose interval", 1.0, "h",
    "the shortest labelled interval is daily (24 h); hourly still covers divided doses, "
    "shorter repeats are no regimen and make one solver stop each", low=True)
#: Shortest interval between output times.
MIN_OUTPUT_INTERVAL_H = Limit(
    "output interval", 1.0 / 60.0, "h",
    "one minute resolves the fastest kinetics of the model (PTH elimination, 7 per hour; "
    "teriparatide half-life about 1 h)", low=True)
#: Depth of tables and lists in a scenario file.
MAX_NESTING = Limit(
    "nesting depth", 8, "levels",
    "the deepest value a scenario holds is [[treatment]] -> missed = [...], 3 levels")
#: Characters of one text value of a scenario file.
MAX_TEXT_CHARS = Limit(
    "text length", 1_000, "characters",
    "the longest text a scenario holds is a name or a drug alias; messages quote values")
#: Largest integer a scenario value may be (counts, seeds, ages).
MAX_INTEGER = Limit(
    "integer size", 2**63 - 1, "",
    "a 64-bit integer (NumPy's seeds and counts); larger ones are no count or age")
#: Size of a scenario file.
MAX_SCENARIO_BYTES = Limit(
    "scenario file size", 1_048_576, "bytes",
    "a scenario written by hand is a few kilobytes; 1 MiB leaves room for long dose lists")

#: Every limit, by attribute name (docs/SCENARIOS.md lists them).
LIMITS: dict[str, Limit] = {k: v for k, v in dict(globals()).items()
                            if isinstance(v, Limit)}


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() and abs(x) >= 1 else f"{x:g}"


def check(limit: Limit, figure: float, what: str = "the run") -> None:
    """Refuse ``figure`` beyond ``limit``.

    Parameters
    ----------
    limit
        One of this module's limits.
    figure
        What the input asks for, in ``limit.unit``.
    what
        Who asks (``"[[dose]] #2"``, ``"the scenario"``), for the message.

    Raises
    ------
    LimitError
        ``figure`` above the limit (below it for a minimum), naming both and the reason.
    """
    beyond = figure < limit.value if limit.low else figure > limit.value
    if beyond:
        unit = f" {limit.unit}" if limit.unit else ""
        side = "at least" if limit.low else "at most"
        raise LimitError(
            f"{limit.name}: {what} asks for {_fmt(figure)}{unit}; the limit is {side} "
            f"{_fmt(limit.value)}{unit} ({limit.reason})")
