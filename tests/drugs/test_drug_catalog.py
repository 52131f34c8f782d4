"""The drug catalogue: complete, sourced, one for the model and the clinic, consistent with
the model's dose targets."""

import subprocess
import sys

import pytest

from boneturnover.clinical import DRUGS
from boneturnover.dosing import COMPARTMENTS
from boneturnover.errors import DataError, InputError
from boneturnover.knowledge.drugs import (
    RULE_CLASSES,
    drug_catalog,
    drug_catalog_from_dict,
    parse_amount,
    parse_duration_h,
)
from boneturnover.knowledge.markers import EVIDENCE_LEVELS, marker_catalog

SIMULATED = ["alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
             "raloxifene", "teriparatide", "romosozumab", "calcium", "magnesium"]
ELEMENT = {"calcium": 40.078, "magnesium": 24.305}


def test_every_drug_is_there_with_names_class_and_sources():
    cat = drug_catalog()
    assert list(cat) == [*SIMULATED, "glucocorticoid"]
    for d in cat.values():
        assert d.name.en and d.name.zh and d.drug_class.en and d.drug_class.zh
        assert d.rule_class in RULE_CLASSES and d.evidence in EVIDENCE_LEVELS
        assert d.mechanism and all(s in cat.sources for s in d.sources)
        if d.action == "context":
            assert d.seed and all(r.target is None for r in d.routes.values())
            continue
        assert d.sources
        for r in d.routes.values():
            assert r.regimens and all(g.source in cat.sources for g in r.regimens)


def test_the_clinic_and_the_treatment_layer_read_the_same_catalogue():
    assert DRUGS is drug_catalog()
    assert DRUGS["alendronate"].window.resorption_days == 56  # seed:B21
    assert DRUGS["denosumab"].overdue_grace_days == 28
    assert [c.ref for c in DRUGS["denosumab"].grace_cite] == ["tsourdi2017"]
    assert DRUGS["glucocorticoid"].rule_class == "glucocorticoid"
    assert DRUGS.find("prednisone") == "glucocorticoid"


def test_names_are_unique_and_the_union_of_both_former_catalogues():
    cat = drug_catalog()
    assert cat.find("罗莫索珠单抗") == cat.find("romosozumab-aqqg") == "romosozumab"
    assert cat.find("Aclasta") == "zoledronate" and cat.find("福善美") == "alendronate"
    owner: dict[str, str] = {}
    for d in cat.values():
        for name in d.names:
            assert owner.setdefault(name.casefold().replace(" ", ""), d.key) == d.key, name


def test_default_interval_follows_the_route():
    cat = drug_catalog()
    assert cat["ibandronate"].interval_days() == pytest.approx(30.4375)
    assert cat["ibandronate"].interval_days("iv") == pytest.approx(91.3125)
    assert cat["alendronate"].interval_days("iv") == pytest.approx(7)  # no iv: usual route
    assert cat["glucocorticoid"].interval_days() == 1.0


def test_routes_feed_existing_dose_targets_except_the_pending_magnesium_model():
    cat = drug_catalog()
    targets = {r.target for d in cat.values() for r in d.routes.values() if r.target}
    assert targets - set(COMPARTMENTS) <= {"gut_magnesium"}
    assert cat["magnesium"].model == "magnesium"


@pytest.mark.parametrize("drug,route,dose,every_d", [
    ("alendronate", "oral", "70 mg", 7), ("alendronate", "oral", "10 mg", 1),
    ("risedronate", "oral", "35 mg", 7), ("risedronate", "oral", "150 mg", 30.4375),
    ("risedronate", "oral", "5 mg", 1), ("ibandronate", "oral", "150 mg", 30.4375),
    ("ibandronate", "iv", "3 mg", 91.3125), ("zoledronate", "iv", "5 mg", 365.25),
    ("denosumab", "sc", "60 mg", 182.625), ("raloxifene", "oral", "60 mg", 1),
    ("teriparatide", "sc", "20 ug", 1), ("romosozumab", "sc", "210 mg", 30.4375),
])
def test_labelled_regimens(drug, route, dose, every_d):
    regs = drug_catalog()[drug].routes[route].regimens
    assert any(g.dose == dose and g.every_h == pytest.approx(every_d * 24) for g in regs)


def test_salt_fractions_follow_stoichiometry():
    cat = drug_catalog()
    for key, mm in ELEMENT.items():
        assert cat[key].element_molar_mass_g_mol == mm
        assert marker_catalog()[cat[key].element].molar_mass_g_mol == mm
        salts = cat[key].salts
        assert salts
        for s in salts.values():
            atoms = 3 if s.formula.startswith(("Ca3", "Mg3")) else 1
            assert s.fraction == pytest.approx(atoms * mm / s.molar_mass_g_mol, abs=0.005), s
    mg = cat["magnesium"].salts
    assert {k: mg[k].fraction for k in mg} == {
        "oxide": 0.603, "hydroxide": 0.417, "citrate": 0.162, "chloride_hexahydrate": 0.120,
        "lactate": 0.120, "glycinate": 0.141, "aspartate": 0.100,
        "sulfate_heptahydrate": 0.0986}
    assert cat["calcium"].salts["carbonate"].fraction == 0.4
    assert cat["calcium"].salts["citrate"].fraction == pytest.approx(0.21, abs=0.002)


def test_intake_factors_only_on_oral_bisphosphonates():
    for d in drug_catalog().values():
        for r in d.routes.values():
            has = bool(r.intake)
            assert has == (d.drug_class.en == "bisphosphonate" and r.key == "oral")
            if has:
                assert r.intake["fasting_2h"].factor == 1.0
                assert r.intake["with_food"].factor <= 0.1


def test_lookup_by_alias_and_suggestion():
    cat = drug_catalog()
    assert cat.lookup("zoledronic acid").key == "zoledronate"
    assert cat.lookup("地舒单抗").key == "denosumab"
    assert cat.lookup("Zoledronic-Acid").key == "zoledronate"
    assert cat.lookup("aspirin") is None
    assert cat.suggest("denosumb") == "denosumab"
    with pytest.raises(DataError, match="unknown drug 'aspirin'"):
        cat.resolve("aspirin")


def test_importing_reads_no_file():
    code = ("import sys, boneturnover.knowledge.drugs as d, boneturnover.knowledge.markers as m;"
            "assert d.drug_catalog.cache_info().currsize == 0;"
            "assert m.marker_catalog.cache_info().currsize == 0;"
            "assert 'pint' not in sys.modules and 'boneturnover.model.spec' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("text,hours", [("1 week", 168), ("6 mo", 4383), ("36 months", 26298),
                                        ("12h", 12), ("1 a", 8766), ("0 d", 0)])
def test_duration_parser(text, hours):
    assert parse_duration_h(text, "every") == pytest.approx(hours)


@pytest.mark.parametrize("text,message", [
    ("6", "'6' is not '<number> <unit>'"), (6, "has no unit"), ("six months", "not a number"),
    ("6 furlongs", "not a time unit"), ("-1 d", "non-negative"), (True, "not a duration")])
def test_duration_parser_messages(text, message):
    with pytest.raises(InputError, match=message):
        parse_duration_h(text, "every")


def test_amount_parser():
    assert parse_amount("60 mg", "dose") == (60.0, "mg")
    with pytest.raises(InputError, match="does not start with a number"):
        parse_amount("sixty mg", "dose")


def _minimal(**drug):
    base = {"name": {"en": "x", "zh": "x"}, "class": {"en": "c", "zh": "c"}, "mechanism": "m",
            "rule_class": "denosumab", "action": "antiresorptive",
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
    ({"rule_class": "vitamin"}, "rule_class 'vitamin'"),
    ({"evidence": "hearsay"}, "evidence 'hearsay'"),
    ({"seed": ["B99"]}, "seed 'B99'"),
    ({"aliases": ["Prolia"], "brands": ["x"]}, None),
    ({"window": {"resorption_days": 1, "formation_days": 2, "cite": []}}, "no citation"),
    ({"retest": {"assess_from_days": 1, "first_days": 2, "monitor_days": 3,
                 "cite": [{"ref": "nobody2020", "evidence": "RCT"}]}}, "unknown source"),
])
def test_bad_catalogue_entries_are_refused(change, match):
    assert drug_catalog_from_dict(_minimal())
    if match is None:  # a name may not belong to two drugs
        data = _minimal(**change)
        data["drugs"]["y"] = {**_minimal()["drugs"]["x"], "aliases": ["prolia"]}
        with pytest.raises(DataError, match="belongs to both x and y"):
            drug_catalog_from_dict(data)
        return
    with pytest.raises(DataError, match=match):
        drug_catalog_from_dict(_minimal(**change))


def test_clinical_citations_resolve_through_the_package_bibliography():
    den = drug_catalog()["denosumab"]
    assert den.retest.cite[2].text.startswith("Tsourdi E, Zillikens MC")  # clinical bibliography
    assert den.window.cite[0].text.startswith("Cheng et al. 2022, section 4.2")  # seed:B31
