"""The worked example of docs/ARCHITECTURE.md: a new drug added as one module file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import boneturnover as bt
from boneturnover.errors import ScenarioError
from boneturnover.model.system import BoneModel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "modules" / "abaloparatide.toml"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return BoneModel.with_modules(EXAMPLE)


def test_the_module_adds_its_state_after_the_bundled_ones(model):
    bundled = bt.load_model()
    assert model.spec.state_names[:len(bundled.states)] == bundled.state_names
    assert model.spec.state_names[-1] == "abaloparatide_sc_pmol"
    assert model.spec.parameter("abl_f").value == 0.36
    assert model.spec.dose_targets["abaloparatide_sc"].factors == ("abl_f",)
    i = model.spec.state("pth_pmol").index
    j = model.spec.state("abaloparatide_sc_pmol").index
    assert model.pattern[i, j]  # it acts on PTH through the pth_input hook


def test_without_a_dose_the_model_is_the_bundled_one():
    """Same equations for the bundled states: the same trajectory to well within the
    tolerance of two tight solves (the step sequence differs: one more state)."""
    sc = bt.scenario_from_dict({"years": 2, "patient": {"age": 55, "menopause_age": 51}})
    ours = bt.simulate(sc, model=BoneModel.with_modules(EXAMPLE, rtol=1e-9)).frame
    ref = bt.simulate(sc, model=BoneModel(rtol=1e-9)).frame
    for col in ("ctx_ng_l", "p1np_ug_l", "bmd_spine_g_cm2", "pth_pg_ml"):
        assert np.allclose(ours[col], ref[col], rtol=1e-7, atol=0), col


def test_a_daily_dose_is_anabolic(model):
    dosed = bt.scenario_from_dict(
        {"years": 0.25, "patient": {"age": 40},
         "dose": [{"compartment": "abaloparatide_sc", "amount": "80 ug", "every": "1 d"}]},
        spec=model.spec)
    untreated = bt.scenario_from_dict({"years": 0.25, "patient": {"age": 40}})
    f = bt.simulate(dosed, model=model).frame
    base = bt.simulate(untreated, model=model).frame
    ratio = f["p1np_ug_l"].to_numpy() / base["p1np_ug_l"].to_numpy()
    assert ratio[30] > 1.5 and ratio[-1] > ratio[30]


def test_the_bundled_scenarios_do_not_know_the_new_compartment():
    with pytest.raises(ScenarioError, match="abaloparatide_sc"):
        bt.scenario_from_dict({"years": 1, "patient": {"age": 40}, "dose": [
            {"compartment": "abaloparatide_sc", "amount": "80 ug", "every": "1 d"}]})


def test_the_catalogue_entry_is_valid_and_doses_the_module(model):
    """The last step of the worked example: the drug's catalogue entry, merged into the
    bundled catalogue, validates and names the module's dose target."""
    import tomllib
    from importlib import resources

    from boneturnover.knowledge.drugs import drug_catalog_from_dict

    bundled = tomllib.loads(resources.files("boneturnover.knowledge").joinpath(
        "data", "drugs.toml").read_text("utf-8"))
    entry = tomllib.loads((EXAMPLE.parent / "abaloparatide_catalogue.toml").read_text("utf-8"))
    merged = {**bundled, "sources": {**bundled["sources"], **entry["sources"]},
              "drugs": {**bundled["drugs"], **entry["drugs"]}}
    catalog = drug_catalog_from_dict(merged)
    drug = catalog.resolve("Tymlos")
    assert drug.key == "abaloparatide" and drug.rule_class == "pth_analogue"
    route = drug.routes["sc"]
    assert route.target in model.spec.dose_targets
    regimen = route.regimens[0]
    dosed = bt.scenario_from_dict(
        {"years": 0.1, "patient": {"age": 40},
         "dose": [{"compartment": route.target, "amount": regimen.dose, "every": "1 d"}]},
        spec=model.spec)
    assert bt.simulate(dosed, model=model).ok
