"""The drug catalogue: complete, sourced, consistent with the model's dose targets."""

import pytest

from boneturnover.dosing import COMPARTMENTS
from boneturnover.drugs.catalog import catalog_from_dict, load_catalog
from boneturnover.errors import DataError

DRUGS = ["alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab", "raloxifene",
         "teriparatide", "romosozumab", "calcium", "magnesium"]
ELEMENT = {"calcium": 40.078, "magnesium": 24.305}


def test_every_drug_of_the_issue_is_there_with_names_class_and_sources():
    cat = load_catalog()
    assert list(cat.drugs) == DRUGS
    for d in cat.drugs.values():
        assert d.name.en and d.name.zh and d.drug_class.en and d.drug_class.zh
        assert d.mechanism and d.sources and all(s in cat.sources for s in d.sources)
        for r in d.routes.values():
            assert r.regimens and all(g.source in cat.sources for g in r.regimens)


def test_routes_feed_existing_dose_targets_except_the_pending_magnesium_model():
    cat = load_catalog()
    targets = {r.target for d in cat.drugs.values() for r in d.routes.values()}
    assert targets - set(COMPARTMENTS) <= {"gut_magnesium"}
    assert cat.drugs["magnesium"].model == "magnesium"


@pytest.mark.parametrize("drug,route,dose,every_d", [
    ("alendronate", "oral", "70 mg", 7), ("alendronate", "oral", "10 mg", 1),
    ("risedronate", "oral", "35 mg", 7), ("risedronate", "oral", "150 mg", 30.4375),
    ("risedronate", "oral", "5 mg", 1), ("ibandronate", "oral", "150 mg", 30.4375),
    ("ibandronate", "iv", "3 mg", 91.3125), ("zoledronate", "iv", "5 mg", 365.25),
    ("denosumab", "sc", "60 mg", 182.625), ("raloxifene", "oral", "60 mg", 1),
    ("teriparatide", "sc", "20 ug", 1), ("romosozumab", "sc", "210 mg", 30.4375),
])
def test_labelled_regimens(drug, route, dose, every_d):
    regs = load_catalog().drugs[drug].routes[route].regimens
    assert any(g.dose == dose and g.every_h == pytest.approx(every_d * 24) for g in regs)


def test_salt_fractions_follow_stoichiometry():
    cat = load_catalog()
    for key, mm in ELEMENT.items():
        salts = cat.drugs[key].salts
        assert salts
        for s in salts.values():
            atoms = 3 if s.formula.startswith(("Ca3", "Mg3")) else 1
            assert s.fraction == pytest.approx(atoms * mm / s.molar_mass_g_mol, abs=0.005), s
    mg = cat.drugs["magnesium"].salts
    assert {k: mg[k].fraction for k in mg} == {
        "oxide": 0.603, "hydroxide": 0.417, "citrate": 0.162, "chloride_hexahydrate": 0.120,
        "lactate": 0.120, "glycinate": 0.141, "aspartate": 0.100,
        "sulfate_heptahydrate": 0.0986}
    assert cat.drugs["calcium"].salts["carbonate"].fraction == 0.4
    assert cat.drugs["calcium"].salts["citrate"].fraction == pytest.approx(0.21, abs=0.002)


def test_intake_factors_only_on_oral_bisphosphonates():
    cat = load_catalog()
    for d in cat.drugs.values():
        for r in d.routes.values():
            has = bool(r.intake)
            assert has == (d.drug_class.en == "bisphosphonate" and r.key == "oral")
            if has:
                assert r.intake["fasting_2h"].factor == 1.0
                assert r.intake["with_food"].factor <= 0.1


def test_lookup_by_alias_and_suggestion():
    cat = load_catalog()
    assert cat.lookup("zoledronic acid").key == "zoledronate"
    assert cat.lookup("地舒单抗").key == "denosumab"
    assert cat.lookup("aspirin") is None
    assert cat.suggest("denosumb") == "denosumab"


def _minimal(**drug):
    base = {"name": {"en": "x", "zh": "x"}, "class": {"en": "c", "zh": "c"}, "mechanism": "m",
            "dose_as": "x", "sources": ["S"], "evidence": "label",
            "routes": {"sc": {"target": "denosumab_sc", "regimens": [
                {"dose": "1 mg", "every": "1 d", "name": "daily", "source": "S"}]}}}
    base.update(drug)
    return {"sources": {"S": "a source"}, "drugs": {"x": base}}


@pytest.mark.parametrize("change,match", [
    ({"sources": ["NOPE"]}, "source 'NOPE'"),
    ({"routes": {}}, "at least one route"),
    ({"routes": {"sc": {"target": "t", "regimens": []}}}, "at least one regimen"),
    ({"routes": {"sc": {"target": "t", "regimens": [
        {"dose": "lots", "every": "1 d", "name": "n", "source": "S"}]}}}, "number"),
    ({"salts": {"a": {"fraction": 1.5, "formula": "A", "molar_mass_g_mol": 1,
                      "source": "S"}}}, "fraction"),
])
def test_bad_catalogue_entries_are_refused(change, match):
    assert catalog_from_dict(_minimal())
    with pytest.raises(DataError, match=match):
        catalog_from_dict(_minimal(**change))
