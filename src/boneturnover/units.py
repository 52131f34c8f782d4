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

import re
from functools import lru_cache

import pint

from .errors import UnitError

__all__ = ["UREG", "Q_", "parse_ucum", "convert", "is_convertible", "DAYS_PER_YEAR"]

UREG = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
# UCUM symbols that pint does not define, or defines differently.
UREG.define("enzyme_unit = micromole / minute = U")  # UCUM "U" (catalytic activity)
UREG.define("international_unit_placeholder = [iu] = IU")  # UCUM "[iU]"; substance-specific
UREG.define("mo_ucum = 30.4375 * day")  # UCUM "mo" (mean Julian month)
UREG.define("a_ucum = 365.25 * day")  # UCUM "a" (Julian year)
Q_ = UREG.Quantity

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
        return UREG.dimensionless
    result = UREG.dimensionless
    for i, factor in enumerate(text.split("/")):
        for term in factor.split("."):
            m = _ATOM.match(term)
            if m is None or (m.group("atom") not in _UCUM_ATOMS):
                raise UnitError(
                    f"unknown unit {code!r} (part {term!r}); expected a UCUM unit such as "
                    "'ng/L', 'ug/L', 'pmol/L', 'mmol/L', 'U/L', 'g/cm2', 'mg/d'"
                )
            unit = UREG.Unit(_UCUM_ATOMS[m.group("atom")])
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


def convert(
    value: float,
    src: str,
    dst: str,
    *,
    molar_mass_g_mol: float | None = None,
) -> float:
    """Convert ``value`` from UCUM unit ``src`` to UCUM unit ``dst``.

    Mass <-> amount-of-substance conversions need the analyte's molar mass
    (``molar_mass_g_mol``, g/mol); without it they raise.

    Raises
    ------
    UnitError
        If either unit is unknown or the dimensions do not match.
    """
    u_src, u_dst = parse_ucum(src), parse_ucum(dst)
    q = Q_(value, u_src)
    try:
        return float(q.to(u_dst).magnitude)
    except pint.DimensionalityError:
        pass
    if molar_mass_g_mol is not None:
        mm = Q_(molar_mass_g_mol, "g/mol")
        for candidate in (q / mm, q * mm):
            try:
                return float(candidate.to(u_dst).magnitude)
            except pint.DimensionalityError:
                continue
    hint = "" if molar_mass_g_mol is not None else " (a molar mass is needed for mass <-> mol)"
    raise UnitError(f"cannot convert {src!r} to {dst!r}{hint}")
