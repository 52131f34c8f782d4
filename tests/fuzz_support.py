"""What every fuzz test shares: a time limit per case, the outcome counts, the stats file.

``tests/model/test_fuzz_scenarios.py`` and ``tests/clinical/test_fuzz_inputs.py`` run each
generated case inside :func:`fuzz_case`, which counts it under its kind and origin
(plausible, mutated, example) when it ends, and :func:`write_stats` merges the counts of a
run into the JSON file named by ``BONETURNOVER_FUZZ_STATS``.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path


class Hang(BaseException):
    """A case ran past its time limit (BaseException: no library handler swallows it)."""


class Case:
    """One running case: its ``outcome`` (``"crash"`` until the test says otherwise)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.outcome = "crash"
        self._t0 = time.perf_counter()

    def returned(self) -> None:
        """The call under test returned: stop the clock; beyond the limit it is a hang (a
        call that blocks the alarm, in C code, is caught here)."""
        signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.perf_counter() - self._t0
        if took > self.limit_s:
            raise Hang(f"the case took {took:.1f} s")


@contextlib.contextmanager
def fuzz_case(stats: Counter, kind: str, origin: str, limit_s: float) -> Iterator[Case]:
    """Run one case under a ``limit_s`` alarm; count it in ``stats`` as ``(kind, "cases")``,
    ``(kind, outcome)``, ``(kind, f"{origin} cases")`` and ``(kind, f"{origin} {outcome}")``
    when it ends (a :class:`Hang` counts as ``"hang"`` and is raised on)."""
    def alarm(signum, frame):  # pragma: no cover - only when a case hangs
        signal.setitimer(signal.ITIMER_REAL, 1.0)  # again, if a callback swallows this one
        raise Hang(f"the case ran longer than {limit_s:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    case = Case(limit_s)
    try:
        yield case
    except Hang:
        case.outcome = "hang"
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        for key in ("cases", case.outcome, f"{origin} cases", f"{origin} {case.outcome}"):
            stats[(kind, key)] += 1


def write_stats(target: str, stats: Counter, outcomes: Iterable[str]) -> None:
    """Merge ``stats`` (``(kind, outcome) -> n``) into the JSON file ``target``, with every
    one of ``outcomes`` of each kind present (0 included)."""
    path = Path(target)
    try:
        merged = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        merged = {}
    merged.update({f"{k} {o}": n for (k, o), n in sorted(stats.items())})
    for kind in {k for k, _ in stats}:
        for o in outcomes:
            merged.setdefault(f"{kind} {o}", 0)
    path.write_text(json.dumps(dict(sorted(merged.items())), indent=1), "utf-8")
