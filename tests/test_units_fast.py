"""The fast path of :func:`boneturnover.units.convert` (common UCUM atoms, no pint) agrees
with the pint registry for every unit spelling of the marker and drug catalogues, and
decides nothing it does not know (errors and unusual units still go through pint)."""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import pytest

from boneturnover.errors import UnitError
from boneturnover.knowledge.markers import marker_catalog
from boneturnover.units import _fast_convert, _fast_unit, _pint_convert, check_ucum, convert

#: A conversion of one value rounds once on the fast path; pint multiplies through its
#: root units and may be a few units in the last place off. Agreement within 4 ulp.
ULPS = 4


def _pairs():
    for mid, m in marker_catalog().items():
        for u in m.units:
            yield mid, u, m.canonical_unit, m.molar_mass_g_mol
            yield mid, m.canonical_unit, u, m.molar_mass_g_mol


@pytest.mark.parametrize("mid, src, dst, mm", list(_pairs()))
@pytest.mark.parametrize("value", [1.0, 0.03, 0.65, 35.0, 450.0, 1200.0])
def test_fast_path_agrees_with_pint_for_every_catalogue_unit(mid, src, dst, mm, value):
    fast = _fast_convert(value, src, dst, mm)
    assert fast is not None, (mid, src, dst)  # every catalogue unit takes the fast path
    ref = _pint_convert(value, src, dst, molar_mass_g_mol=mm)
    assert abs(fast - ref) <= ULPS * math.ulp(ref), (mid, src, dst, fast, ref)


@pytest.mark.parametrize("text", ["mg", "ug", "g", "mL", "1 wk", "6 mo", "1 a", "12 h",
                                  "30 min", "mg/d", "[iU]", "[IU]/d", "g/cm2", "U/L", "%",
                                  "nmol/mmol{creat}", "umol/mol{creat}", "mL/min"])
def test_fast_path_agrees_for_dose_duration_and_other_units(text):
    unit = text.split()[-1]
    dims = _fast_unit(unit)[1]
    checked = 0
    for target in ("mg", "h", "[iU]", "mg/d", "[IU]/d", "mg/cm2", "umol/L", "1",
                   "nmol/mmol", "mL/h", "L", "umol/min/L"):
        if _fast_unit(target)[1] != dims:
            continue
        fast = _fast_convert(2.5, unit, target, None)
        ref = _pint_convert(2.5, unit, target)
        assert abs(fast - ref) <= ULPS * math.ulp(ref), (unit, target)
        checked += 1
    assert checked, unit


def test_fast_path_is_the_exact_conversion_rounded_once():
    assert convert(0.65, "ng/mL", "ng/L") == float(Fraction(0.65) * 1000)
    assert convert(6.0, "mo", "d") == 182.625 and convert(1.0, "a", "h") == 8766.0
    assert convert(1.0, "pmol/L", "pg/mL", molar_mass_g_mol=9425) == 9.425


def test_what_the_fast_path_does_not_know_goes_to_pint():
    assert _fast_convert(1.0, "ng/L", "furlong", None) is None
    assert _fast_convert(1.0, "pmol/L", "pg/mL", None) is None  # no molar mass
    with pytest.raises(UnitError, match="molar mass"):
        convert(1.0, "pmol/L", "pg/mL")
    with pytest.raises(UnitError, match="unknown unit"):
        check_ucum("mg/xx")
    check_ucum("mg")  # no error


def test_single_patient_json_path_loads_no_pint_matplotlib_numba_or_scipy():
    code = ("import sys, io, contextlib\n"
            "from boneturnover.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    for fmt in ('json', 'text'):\n"
            "        assert main(['interpret', 'examples/clinical/bisphosphonate_responder.toml',"
            " '--format', fmt, '--today', '2024-07-20']) == 0\n"
            "heavy = [m for m in ('pint', 'matplotlib', 'numba', 'scipy') if m in sys.modules]\n"
            "own = sorted(m for m in sys.modules if m.startswith(('boneturnover.model',"
            " 'boneturnover.validation', 'boneturnover.dosing', 'boneturnover.drugs.')))\n"
            "print(heavy, own)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=_root()).stdout.strip()
    assert out == "[] []", out


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]
