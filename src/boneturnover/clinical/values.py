"""Record fields as the engine reads them, without pandas or numpy.

Dates are integer days since 1970-01-01 (the proleptic Gregorian calendar, year 0000 to
9999 as ``YYYY-MM-DD``), booleans are 1/0, times are minutes after midnight, a censored
result keeps its comparator. The ranges a record field can take (:data:`LIMITS`) are
data with their sources. Both paths of the engine read fields through these definitions
(or, for a cohort's columns, their vectorised equivalents in
:mod:`boneturnover.clinical.tables`, which ``tests/clinical`` keeps equal to them).

Examples
--------
>>> to_day("2024-07-20"), day_to_iso(19924)
(19924, '2024-07-20')
>>> parse_date("2024-02-30") is None, parse_bool("yes"), parse_time("08:30")
(True, 1.0, 510.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

__all__ = ["RAW_COLUMNS", "REQUIRED", "COMPARATORS", "Limit", "LIMITS", "SUPPLEMENT_MIN_MG_D",
           "DAYS_PER_YEAR",
           "to_day", "day_to_iso", "parse_date", "parse_bool", "parse_time", "comparator_of",
           "split_comparator", "text_of", "numbers"]

#: Columns of the raw frames (CSV headers; missing optional columns are added empty).
RAW_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "patients": ("patient_id", "birth_date", "ckd", "glucocorticoids",
                 "calcium_supplement_mg_d", "magnesium_supplement_mg_d"),
    "measurements": ("patient_id", "source", "date", "marker", "value", "unit", "fasting",
                     "time", "comparator", "preliminary"),
    "treatments": ("patient_id", "source", "drug", "dose", "dose_unit", "interval", "route",
                   "start", "stop", "last_dose"),
}
REQUIRED = {
    "patients": ("patient_id",),
    "measurements": ("patient_id", "date", "marker", "value", "unit"),
    "treatments": ("patient_id", "drug", "start"),
}

#: Comparators of a censored result, as written -> as stored.
COMPARATORS: Mapping[str, str] = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "≤": "<=",
                                  "≥": ">=", "=<": "<=", "=>": ">="}


@dataclass(frozen=True)
class Limit:
    """The range a record field can take; beyond it the value is an entry error."""

    low: float
    high: float
    unit: str
    cite: str
    evidence: str


#: Ranges of record fields, each with its source and evidence level.
LIMITS: Mapping[str, Limit] = {
    "age_years": Limit(18.0, 120.0, "years", "the engine's intervals and rules are for adult "
                       "(postmenopausal) women; no verified human age exceeds 122 years",
                       "expert-opinion"),
    "calcium_supplement_mg_d": Limit(0.0, 20000.0, "mg/d", "ten times the tolerable upper "
                                     "intake level of calcium for adults over 50, 2000 mg/d "
                                     "(Ross et al., IOM 2011, ross2011)", "expert-opinion"),
    "magnesium_supplement_mg_d": Limit(0.0, 3500.0, "mg/d", "ten times the tolerable upper "
                                       "intake level of magnesium from supplements, 350 mg/d "
                                       "(NIH ODS magnesium fact sheet)", "expert-opinion"),
    "interval_days": Limit(0.25, 730.5, "d", "the catalogue's regimens run from once daily to "
                           "once yearly (drugs.toml); glucocorticoids may be split up to four "
                           "times a day; a longer gap is a stop, not an interval",
                           "expert-opinion"),
    "dose_mg": Limit(0.0, 10000.0, "mg", "the largest labelled single dose of the catalogue "
                     "is elemental calcium (hundreds of mg); 10 g per dose is beyond any",
                     "expert-opinion"),
}
#: The smallest supplement amount (mg/d) that is one: a positive amount below it is an
#: entry or export error (1e-9 mg/d gave a Ca/Mg ratio of 1.2e12, 1e-320 an infinite one),
#: as for the magnesium intake of a scenario.
SUPPLEMENT_MIN_MG_D = 0.001
#: Days per year: the Julian year of UCUM ("a").
DAYS_PER_YEAR = 365.25

# -- dates ---------------------------------------------------------------------------------
# Days from the civil date and back (H. Hinnant, "chrono-compatible low-level date
# algorithms": days_from_civil, civil_from_days), the calendar numpy's datetime64 uses.

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def parse_date(text: str) -> float | None:
    """``YYYY-MM-DD`` -> days since 1970-01-01 (a float); NaN for ``""``, None if invalid."""
    if text == "":
        return math.nan
    m = _DATE.fullmatch(text)
    if not m:
        return None
    y, mo, d = int(m[1]), int(m[2]), int(m[3])
    if not 1 <= mo <= 12 or d < 1 or d > (29 if mo == 2 and _leap(y) else _MONTH_DAYS[mo - 1]):
        return None
    return float(_days_from_civil(y, mo, d))


def to_day(value: object) -> int:
    """Parse an ISO date (``YYYY-MM-DD``) into days since 1970-01-01."""
    day = parse_date(str(value).strip())
    if day is None or math.isnan(day):
        raise InputError(f"date {value!r} is not an ISO date YYYY-MM-DD")
    return int(day)


def day_to_iso(day: float) -> str:
    """Days since 1970-01-01 -> ``YYYY-MM-DD``."""
    y, m, d = _civil_from_days(int(day))
    return f"{y:04d}-{m:02d}-{d:02d}"


# -- other fields ----------------------------------------------------------------------------

_TRUE = {"true", "yes", "y", "1", "t", "是"}
_FALSE = {"false", "no", "n", "0", "f", "否"}
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::\d{2})?\s*$")
_COMP_RE = re.compile(r"^\s*(<=|>=|=<|=>|<|>|≤|≥)\s*(.*?)\s*$")


def text_of(x: object) -> str:
    """A raw cell as the text that is parsed: stripped, ``""`` for None and NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return str(x).strip()


def parse_bool(text: str) -> float | None:
    """``true``/``yes``/``1``/``是`` -> 1.0, ``false``/... -> 0.0, ``""`` -> NaN, else None."""
    t = text.lower()
    return 1.0 if t in _TRUE else 0.0 if t in _FALSE else math.nan if t == "" else None


def parse_time(text: str) -> float | None:
    """``HH:MM`` -> minutes after midnight; ``""`` -> NaN; None if invalid."""
    if text == "":
        return math.nan
    m = _TIME.match(text)
    if m and int(m[1]) < 24 and int(m[2]) < 60:
        return float(int(m[1]) * 60 + int(m[2]))
    return None


def comparator_of(x: object) -> str | None:
    """A comparator column entry -> stored comparator ("" exact), None if invalid."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    text = str(x).strip()
    return COMPARATORS.get(text) if text else ""


def split_comparator(value: object) -> tuple[str, object]:
    """``"<0.03"`` -> ``("<", "0.03")``; anything else -> ``("", value)``.

    Examples
    --------
    >>> split_comparator("< 0.03"), split_comparator("≥2000"), split_comparator(0.5)
    (('<', '0.03'), ('>=', '2000'), ('', 0.5))
    """
    if isinstance(value, str):
        m = _COMP_RE.match(value)
        if m:
            return COMPARATORS[m[1]], m[2]
    return "", value


# -- numbers ----------------------------------------------------------------------------------
# A column of cells -> floats, as the table path reads it (pandas.to_numeric of the
# stripped texts): decimal numbers in ASCII digits, "inf"/"infinity" (refused later as not
# finite); whole numbers are read as integers unless another cell of the column needs a
# float (the only visible difference: "-0" reads as 0.0 among integers, -0.0 otherwise).

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INF = re.compile(r"[+-]?inf(?:inity)?", re.IGNORECASE)
_I64 = (-(2 ** 63), 2 ** 63 - 1)
_U64 = 2 ** 64 - 1


def _column_numbers(texts: Sequence[str | None]) -> list[float]:
    kinds: list[tuple[str, Any]] = []
    ints: list[int] = []
    floaty = False
    for t in texts:
        if t is None:
            kinds.append(("na", None))
        elif _INT.fullmatch(t):
            v = int(t)
            ints.append(v)
            kinds.append(("int", v))
        elif _FLOAT.fullmatch(t):
            floaty = True
            kinds.append(("float", float(t)))
        elif _INF.fullmatch(t):
            floaty = True
            kinds.append(("float", -math.inf if t.startswith("-") else math.inf))
        else:
            kinds.append(("na", None))
    if ints and not floaty:
        lo, hi = min(ints), max(ints)
        floaty = not ((_I64[0] <= lo and hi <= _I64[1]) or (lo >= 0 and hi <= _U64))
    out = []
    for (kind, v), t in zip(kinds, texts, strict=True):
        if kind == "na":
            out.append(math.nan)
        elif kind == "int":
            out.append(float(t) if floaty else float(v))
        else:
            out.append(v)
    return out


def numbers(cells: Sequence[object]) -> tuple[list[float], list[bool], list[bool]]:
    """-> (floats, blank, bad); NaN, infinities and booleans are bad, not blank."""
    is_bool = [isinstance(x, bool) for x in cells]
    is_nan = [isinstance(x, float) and not math.isfinite(x) for x in cells]
    texts = [None if x is None else str(x).strip() for x in cells]
    blank = [(t is None or t == "") and not n for t, n in zip(texts, is_nan, strict=True)]
    v = _column_numbers([None if (t is None or t == "") else t for t in texts])
    bad = [(not b and not math.isfinite(x)) or ib or n
           for x, b, ib, n in zip(v, blank, is_bool, is_nan, strict=True)]
    return [math.nan if b else x for x, b in zip(v, bad, strict=True)], blank, bad


# -- messages -----------------------------------------------------------------------------------


def slip_message(r: Mapping[str, Any], catalog: Any) -> str:
    """The message of an implausible result, naming a unit slip when another accepted unit
    makes the value plausible."""
    m = catalog.resolve(str(r["marker"]).strip())
    v = float(split_comparator(r["value"])[1])  # "<0.03" is its bound
    canon = m.to_canonical(v, str(r["unit"]).strip())
    given = str(r["unit"]).strip()
    shown = "" if given == m.canonical_unit else f" ({_fmt(canon)} {m.canonical_unit})"
    where = (f"value {r['value']} {r['unit']}{shown} is outside "
             f"what {m.id} can be ({_fmt(m.plausible_low)} to {_fmt(m.plausible_high)} "
             f"{m.canonical_unit})")
    lo = m.ri.low if m.ri and m.ri.low else m.plausible_low
    hi = m.ri.high if m.ri and m.ri.high else m.plausible_high
    for u in m.units:
        alt = m.to_canonical(v, u)
        if lo / 10 <= alt <= hi * 10 and u != str(r["unit"]).strip():
            return (f"{where}: likely a unit slip, the value fits {u} ({_fmt(alt)} "
                    f"{m.canonical_unit}); correct the unit or the value")
    return f"{where}; check the value and its unit"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


_MG: dict[str, float] = {}


def mg_factor(unit: str) -> float:
    """Multiplier from a dose unit to mg (UnitError if the unit is not a mass)."""
    if unit not in _MG:
        from ..units import convert

        _MG[unit] = convert(1.0, unit, "mg")
    return _MG[unit]
