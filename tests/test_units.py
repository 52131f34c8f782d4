"""UCUM units through one pint registry."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boneturnover.errors import UnitError
from boneturnover.units import convert, parse_ucum


@pytest.mark.parametrize("src,dst,value,expected", [
    ("ng/mL", "ng/L", 0.312, 312.0),
    ("ug/L", "ng/mL", 35.0, 35.0),
    ("mg/dL", "mmol/L", 9.4, 2.3454),
    ("g/cm2", "mg/cm2", 1.0, 1000.0),
    ("mo", "d", 6.0, 182.625),
    ("a", "h", 1.0, 8766.0),
])
def test_known_conversions(src, dst, value, expected):
    mm = 40.078 if "mmol" in dst and "mg" in src else None
    assert convert(value, src, dst, molar_mass_g_mol=mm) == pytest.approx(expected, rel=1e-4)


def test_pth_pmol_to_pg_needs_molar_mass():
    with pytest.raises(UnitError, match="molar mass"):
        convert(1.0, "pmol/L", "pg/mL")
    assert convert(1.0, "pmol/L", "pg/mL", molar_mass_g_mol=9425) == pytest.approx(9.425)


@pytest.mark.parametrize("bad", ["", "furlong", "ng/", "mg/xx"])
def test_unknown_units_are_named(bad):
    with pytest.raises(UnitError):
        parse_ucum(bad)


@given(st.floats(1e-6, 1e6), st.sampled_from([("ng/L", "ug/L"), ("mmol/L", "umol/L"),
                                              ("g/cm2", "mg/cm2"), ("d", "h")]))
def test_round_trip(value, pair):
    a, b = pair
    assert convert(convert(value, a, b), b, a) == pytest.approx(value, rel=1e-12)
