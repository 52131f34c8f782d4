"""Every parameter declares bounds with a reason, and every route that sets a value checks them."""

from __future__ import annotations

import math
import tomllib

import pandas as pd
import pytest

import boneturnover as bt
from boneturnover.errors import InputError, ScenarioError
from boneturnover.model.assembly import BUNDLED_MODULES, MODULE_DIR
from boneturnover.model.spec import BOUND_KINDS, Bounds, load_model
from boneturnover.validation.commands import parse_overrides

PATIENT = {"age": 60, "menopause_age": 51}


def _declared():
    for name in BUNDLED_MODULES:
        text = (MODULE_DIR / f"{name}.toml").read_text(encoding="utf-8")
        for key, entry in tomllib.loads(text).get("parameters", {}).items():
            yield name, key, entry


def test_every_parameter_declares_bounds_that_hold_its_value():
    entries = list(_declared())
    assert len(entries) == len(load_model().parameters) > 200
    missing = [f"{f}.toml: {k}" for f, k, e in entries if "bounds" not in e]
    assert not missing, missing
    for p in load_model().parameters:
        assert p.bounds.reason and p.bounds.reason != "undeclared", p.name
        assert p.bounds.contains(p.value), (p.name, p.value, p.bounds.text)


def test_bounds_follow_meaning():
    spec = load_model()
    for name in ("v_ecf_l", "den_vc", "k_rank_off", "ral_k_el", "aoh_pth_ec50", "oc_rankl_gamma"):
        assert spec.parameter(name).bounds.text == "(0, inf)", name
    for name in ("den_f", "aln_f_oral", "frac_ob_fast", "rankl_osteocyte_frac"):
        assert spec.parameter(name).bounds.text == "[0, 1]", name
    assert spec.parameter("phos_pth_gamma").bounds.text == "[0, inf)"  # an exponent that is 0
    assert spec.parameter("mg_intake_mg_day").bounds.text == "[0, 5000]"


def test_bounds_parse_and_refuse():
    assert Bounds.parse("positive", None, "w").contains(1e-9)
    assert not Bounds.parse("positive", None, "w").contains(0.0)
    assert Bounds.parse("nonnegative", None, "w").contains(0.0)
    assert not Bounds.parse("integer", None, "w").contains(1.5)
    assert Bounds.parse("(0, 1]", None, "w").contains(1.0)
    assert not Bounds.parse("(0, 1]", None, "w").contains(0.0)
    assert not Bounds.parse("[0, 1)", None, "w").contains(1.0)
    assert Bounds.parse([-2, 3], "a reason", "w").contains(-2.0)
    for raw, reason in ((["a", 1], None), ("positiv", None), ([2, 1], "r"), ([-2, 3], None)):
        with pytest.raises(InputError, match="bounds"):
            Bounds.parse(raw, reason, "w")
    assert set(BOUND_KINDS) == {"positive", "nonnegative", "integer"}


@pytest.mark.parametrize("name, value", [("k_rank_off", 0), ("v_ecf_l", -14), ("den_vc", -2340),
                                         ("den_f", 1.5), ("mg_intake_mg_day", -320),
                                         ("ral_k_el", -1)])
def test_scenario_parameters_checked(name, value):
    with pytest.raises(ScenarioError, match=rf"\[parameters\]\.{name} = .* out of range"):
        bt.scenario_from_dict({"patient": PATIENT, "parameters": {name: value}})


@pytest.mark.parametrize("value", ["1", [1], {"a": 1}, math.inf, 10**5000, True],
                         ids=["text", "list", "table", "inf", "5000 digits", "bool"])
def test_scenario_parameter_types_checked(value):
    with pytest.raises(ScenarioError, match="v_ecf_l"):
        bt.scenario_from_dict({"patient": PATIENT, "parameters": {"v_ecf_l": value}})


def test_with_values_checked():
    spec = load_model()
    with pytest.raises(InputError, match="v_ecf_l = -14 is out of range.*'L'"):
        spec.with_values({"v_ecf_l": -14})
    assert spec.with_values({"v_ecf_l": 15}).parameter("v_ecf_l").value == 15.0


def test_validate_set_checked():
    with pytest.raises(InputError, match="--set k_rank_off = 0.0 is out of range"):
        parse_overrides(["k_rank_off=0"])
    assert parse_overrides(["bp_emax=3.1"]) == {"bp_emax": 3.1}


def test_population_columns_checked():
    sc = bt.scenario_from_dict({"patient": PATIENT, "years": 0.01})
    with pytest.raises(InputError, match="column 'v_ecf_l' row 1 = -1.0 is out of range"):
        bt.simulate(sc, population=pd.DataFrame({"v_ecf_l": [14.0, -1.0]}))
    with pytest.raises(InputError, match="column 'den_vc' row 0 = 'a' is not a number"):
        bt.simulate(sc, population=pd.DataFrame({"den_vc": ["a"]}))


def test_magnesium_routes_share_one_range():
    with pytest.raises(ScenarioError, match="both set"):
        bt.scenario_from_dict({"patient": PATIENT, "magnesium": {"intake_mg_day": 100},
                               "parameters": {"mg_intake_mg_day": 200}})
    with pytest.raises(ScenarioError, match="0 to 5000"):
        bt.scenario_from_dict({"patient": PATIENT, "magnesium": {"intake_mg_day": 6000}})


def test_zero_magnesium_intake_gives_no_infinite_ratio():
    sc = bt.scenario_from_dict({"patient": PATIENT, "years": 0.05,
                                "magnesium": {"intake_mg_day": 0}})
    res = bt.simulate(sc)
    assert res.frame["ca_mg_intake_ratio"].isna().all()
    assert any("ca_mg_intake_ratio" in w for w in res.warnings)
    numeric = res.frame.drop(columns="ca_mg_intake_ratio").to_numpy(dtype=float)
    assert not (~pd.isna(numeric) & ~pd.notna(numeric)).any() and pd.notna(numeric).all()
