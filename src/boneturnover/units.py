"""Units: one pint registry for the whole package, read from UCUM strings.

Every quantity that crosses an API boundary carries a unit written in UCUM
(https://ucum.org), e.g. ``"ng/L"``, ``"ug/L"``, ``"pmol/L"``, ``"g/cm2"``,
``"U/L"``, ``"mg/d"``. This module is the only place where units are converted.

Examples
--------
>>> from boneturnover.units import convert
>>> round(convert(0.5, "ng/mL", "ng/L"), 6)
500.0
>>> round(convert(36.19, "pg/mL", "pmol/L", molar_mass_g_mol=9425.0), 3)
3.84
"""

from __future__ import annotations

import math
import re
import reprlib
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pint

from .errors import InputError, UnitError

__all__ = ["registry", "parse_ucum", "check_ucum", "convert", "is_convertible",
           "parse_duration_h",
           "parse_amount", "shown", "DAYS_PER_YEAR"]

@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """The package's one pint registry, built on first use (pint reads its definitions)."""
    import pint

    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    # UCUM symbols that pint does not define, or defines differently.
    ureg.define("enzyme_unit = micromole / minute = U")  # UCUM "U" (catalytic activity)
    ureg.define("international_unit_placeholder = [iu] = IU")  # UCUM "[iU]"
    ureg.define("mo_ucum = 30.4375 * day")  # UCUM "mo" (mean Julian month)
    ureg.define("a_ucum = 365.25 * day")  # UCUM "a" (Julian year)
    return ureg

#: Days in a Julian year (UCUM ``a``); used for every age/years conversion.
DAYS_PER_YEAR = 365.25

_UCUM_ATOMS = {
    "a": "a_ucum",
    "mo": "mo_ucum",
    "wk": "week",
    "d": "day",
    "h": "hour",
    "min": "minute",
    "s": "second",
    "[iU]": "IU",
    "[IU]": "IU",
    "ug": "microgram",
    "mg": "milligram",
    "ng": "nanogram",
    "pg": "picogram",
    "g": "gram",
    "kg": "kilogram",
    "L": "liter",
    "dL": "deciliter",
    "mL": "milliliter",
    "mol": "mole",
    "mmol": "millimole",
    "umol": "micromole",
    "nmol": "nanomole",
    "pmol": "picomole",
    "U": "enzyme_unit",
    "cm": "centimeter",
    "m": "meter",
    "1": "dimensionless",
    "%": "percent",
}
_ATOM = re.compile(r"^(?P<atom>\[[A-Za-z]+\]|[A-Za-z%]+|1)(?P<exp>-?\d+)?$")


@lru_cache(maxsize=512)
def parse_ucum(code: str) -> pint.Unit:
    """Parse a UCUM unit string into a pint unit.

    Supports the subset used in bone and mineral medicine: products (``.``),
    one or more divisions (``/``), integer exponents (``cm2``), curly-brace
    annotations (``nmol/mmol{creat}``, ignored for conversion) and prefixes on
    the listed atoms.

    Raises
    ------
    UnitError
        If the string is empty or contains an atom we do not know.
    """
    if not isinstance(code, str) or not code.strip():
        raise UnitError(f"unit {code!r} is empty; expected a UCUM unit such as 'ng/L'")
    text = re.sub(r"\{[^}]*\}", "", code.strip())
    if text == "":
        return registry().dimensionless
    result = registry().dimensionless
    for i, factor in enumerate(text.split("/")):
        for term in factor.split("."):
            m = _ATOM.match(term)
            if m is None or (m.group("atom") not in _UCUM_ATOMS):
                raise UnitError(
                    f"unknown unit {code!r} (part {term!r}); expected a UCUM unit such as "
                    "'ng/L', 'ug/L', 'pmol/L', 'mmol/L', 'U/L', 'g/cm2', 'mg/d'"
                )
            unit = registry().Unit(_UCUM_ATOMS[m.group("atom")])
            exp = int(m.group("exp") or 1)
            unit = unit**exp
            result = result / unit if i > 0 else result * unit
    return result


def is_convertible(src: str, dst: str, *, molar_mass_g_mol: float | None = None) -> bool:
    """Return whether ``src`` can be converted to ``dst`` (with a molar mass if given)."""
    try:
        convert(1.0, src, dst, molar_mass_g_mol=molar_mass_g_mol)
    except UnitError:
        return False
    return True


# -- fast path: the common UCUM atoms without loading pint --------------------------------
# Each atom of _UCUM_ATOMS as (exact factor, dimension) over gram, mole, metre, second and
# the international unit; the same definitions as the pint registry above (UCUM "mo" and
# "a" Julian, "U" = umol/min). Factors are exact fractions, so a conversion is rounded
# once; tests/test_units.py checks the fast path against pint for every unit spelling
# of the marker and drug catalogues.
_G, _MOL, _M, _S, _IU = range(5)
_DAY = Fraction(86400)
_FAST_ATOMS: dict[str, tuple[Fraction, tuple[int, ...]]] = {}


def _atom(name: str, factor: Fraction | int | str, **dims: int) -> None:
    vec = [0] * 5
    for k, v in dims.items():
        vec[{"g": _G, "mol": _MOL, "m": _M, "s": _S, "iu": _IU}[k]] = v
    _FAST_ATOMS[name] = (Fraction(factor), tuple(vec))


for _n, _f in (("a", Fraction("365.25") * _DAY), ("mo", Fraction("30.4375") * _DAY),
               ("wk", 7 * _DAY), ("d", _DAY), ("h", 3600), ("min", 60), ("s", 1)):
    _atom(_n, _f, s=1)
for _n, _f in (("ug", "1e-6"), ("mg", "1e-3"), ("ng", "1e-9"), ("pg", "1e-12"), ("g", 1),
               ("kg", 1000)):
    _atom(_n, _f, g=1)
for _n, _f in (("L", "1e-3"), ("dL", "1e-4"), ("mL", "1e-6")):
    _atom(_n, _f, m=3)
for _n, _f in (("mol", 1), ("mmol", "1e-3"), ("umol", "1e-6"), ("nmol", "1e-9"),
               ("pmol", "1e-12")):
    _atom(_n, _f, mol=1)
_atom("U", Fraction("1e-6") / 60, mol=1, s=-1)
_atom("[iU]", 1, iu=1)
_atom("[IU]", 1, iu=1)
_atom("cm", "1e-2", m=1)
_atom("m", 1, m=1)
_atom("1", 1)
_atom("%", Fraction(1, 100))
assert set(_FAST_ATOMS) == set(_UCUM_ATOMS)


@lru_cache(maxsize=512)
def _fast_unit(code: str) -> tuple[Fraction, tuple[int, ...]] | None:
    """``(factor, dimension)`` of a UCUM string of the listed atoms, or None (unknown
    atom: pint's parser gives the error)."""
    if not isinstance(code, str) or not code.strip():
        return None
    text = re.sub(r"\{[^}]*\}", "", code.strip())
    factor, dims = Fraction(1), [0] * 5
    if text == "":
        return factor, tuple(dims)
    for i, part in enumerate(text.split("/")):
        for term in part.split("."):
            m = _ATOM.match(term)
            if m is None or m.group("atom") not in _FAST_ATOMS:
                return None
            f, d = _FAST_ATOMS[m.group("atom")]
            exp = int(m.group("exp") or 1) * (-1 if i > 0 else 1)
            factor *= f ** exp
            dims = [a + b * exp for a, b in zip(dims, d, strict=True)]
    return factor, tuple(dims)


def check_ucum(code: str) -> None:
    """Raise :class:`UnitError` unless ``code`` is a UCUM unit this package reads (pint
    is loaded only for what the fast path does not know)."""
    if _fast_unit(code) is None:
        parse_ucum(code)


def _float(q: Fraction) -> float:
    """An exact result as a float; beyond the largest float, infinity of its sign (what
    float arithmetic gives, and what callers refuse as not finite), not an OverflowError."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def _fast_convert(value: float, src: str, dst: str, molar_mass_g_mol: float | None,
                  ) -> float | None:
    """:func:`convert` without pint, or None when it cannot decide (pint decides)."""
    a, b = _fast_unit(src), _fast_unit(dst)
    if a is None or b is None:
        return None
    (fa, da), (fb, db) = a, b
    if da == db:
        return _float(Fraction(value) * fa / fb) if math.isfinite(value) else value * float(
            fa / fb)
    if molar_mass_g_mol is None or not math.isfinite(molar_mass_g_mol):
        return None
    mm = Fraction(molar_mass_g_mol)
    for sign in (-1, 1):  # q / mm (mass -> amount), then q * mm (amount -> mass)
        moved = list(da)
        moved[_G] += sign
        moved[_MOL] -= sign
        if tuple(moved) == db and math.isfinite(value):
            return _float(Fraction(value) * fa * mm ** sign / fb)
    return None


def convert(
    value: float,
    src: str,
    dst: str,
    *,
    molar_mass_g_mol: float | None = None,
) -> float:
    """Convert ``value`` from UCUM unit ``src`` to UCUM unit ``dst``.

    Mass <-> amount-of-substance conversions need the analyte's molar mass
    (``molar_mass_g_mol``, g/mol); without it they raise. The common atoms
    (:data:`_UCUM_ATOMS`) are converted exactly without loading pint; anything else, and
    every error message, goes through the pint registry.

    Raises
    ------
    UnitError
        If either unit is unknown or the dimensions do not match.
    """
    fast = _fast_convert(value, src, dst, molar_mass_g_mol)
    if fast is not None:
        return fast
    return _pint_convert(value, src, dst, molar_mass_g_mol=molar_mass_g_mol)


def _pint_convert(value: float, src: str, dst: str, *,
                  molar_mass_g_mol: float | None = None) -> float:
    """:func:`convert` through the pint registry."""
    u_src, u_dst = parse_ucum(src), parse_ucum(dst)
    import pint

    q = registry().Quantity(value, u_src)
    try:
        return float(q.to(u_dst).magnitude)
    except pint.DimensionalityError:
        pass
    if molar_mass_g_mol is not None:
        mm = registry().Quantity(molar_mass_g_mol, "g/mol")
        for candidate in (q / mm, q * mm):
            try:
                return float(candidate.to(u_dst).magnitude)
            except pint.DimensionalityError:
                continue
    hint = "" if molar_mass_g_mol is not None else " (a molar mass is needed for mass <-> mol)"
    raise UnitError(f"cannot convert {src!r} to {dst!r}{hint}")


_DURATION_WORDS = {"day": "d", "days": "d", "week": "wk", "weeks": "wk", "month": "mo",
                   "months": "mo", "year": "a", "years": "a", "y": "a", "hour": "h",
                   "hours": "h"}
_GLUED = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)([A-Za-z]+)$")


def _split(text: str) -> list[str]:
    parts = text.strip().split()
    if len(parts) == 1:
        m = _GLUED.match(parts[0])
        if m:
            return [m[1], m[2]]
    return parts


def parse_duration_h(text: Any, field: str, *, error: type[InputError] = InputError) -> float:
    """Parse a written duration (``"6 mo"``, ``"1 week"``, ``"36 months"``, ``"12h"``) into hours.

    Units are UCUM (``h``, ``d``, ``wk``, ``mo`` = 30.4375 d, ``a`` = 365.25 d) or the
    words hour, day, week, month, year (singular or plural).

    Parameters
    ----------
    text
        The duration as written.
    field
        What the value is, for messages (``"every"``, ``"[[dose]] #2.time"``).
    error
        The exception class to raise (a :class:`~boneturnover.errors.InputError`).

    Raises
    ------
    InputError
        (or ``error``) naming the field, the value and what was expected.

    Examples
    --------
    >>> parse_duration_h("1 week", "every"), parse_duration_h("6 mo", "every")
    (168.0, 4383.0)
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise error(f"{field}: {shown(text)} is not a duration; expected e.g. '6 months'")
    if isinstance(text, int | float):
        example = f"{text:g} d" if 0 < text < 1e6 else "6 months"
        raise error(f"{field}: {shown(text)} has no unit; expected a duration with its unit, "
                    f"e.g. '{example}'")
    parts = _split(text)
    if len(parts) != 2:
        raise error(f"{field}: {shown(text)} is not '<number> <unit>', e.g. '6 months'")
    try:
        value = float(parts[0])
    except ValueError:
        raise error(f"{field}: {shown(parts[0])} in {shown(text)} is not a number; expected "
                    "'<number> <unit>', e.g. '6 months'") from None
    try:
        hours = convert(value, _DURATION_WORDS.get(parts[1], parts[1]), "h")
    except UnitError:
        raise error(f"{field}: unit {parts[1]!r} in {text!r} is not a time unit; use h, d, "
                    "week, month or year") from None
    if not math.isfinite(hours) or hours < 0:
        raise error(f"{field}: {text!r} must be a finite, non-negative duration")
    return hours


def parse_amount(text: Any, field: str, *, error: type[InputError] = InputError,
                 ) -> tuple[float, str]:
    """Split a written amount ``"60 mg"`` into ``(60.0, "mg")``.

    The unit is checked where it is converted, not here.

    Raises
    ------
    InputError
        (or ``error``) if ``text`` is not ``'<number> <unit>'``.

    Examples
    --------
    >>> parse_amount("2.5 mg", "dose")
    (2.5, 'mg')
    """
    if not isinstance(text, str) or len(_split(text)) != 2:
        raise error(f"{field}: {shown(text)} is not '<number> <unit>', e.g. '60 mg'")
    num, unit = _split(text)
    try:
        return float(num), unit
    except ValueError:
        raise error(f"{field}: {shown(text)} does not start with a number; expected "
                    "'<number> <unit>', e.g. '60 mg'") from None


def shown(value: Any) -> str:
    """A value for a message: its repr, at most 60 characters (a long table or list by
    kind; :mod:`reprlib` bounds the work for a large or deep one)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, list | dict):
        text = reprlib.repr(value)
        if len(text) <= 60 and "..." not in text:
            return text
        return f"a {'table' if isinstance(value, dict) else 'list'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
