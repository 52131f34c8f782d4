"""[[treatment]] entries: schedules, amounts, adherence, refusals and warnings."""

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boneturnover.dosing import COMPARTMENTS, Dose, realize
from boneturnover.drugs.treatments import missed_indices, parse_treatments
from boneturnover.errors import ScenarioError
from boneturnover.scenario import load_scenario, scenario_from_dict
from boneturnover.units import DAYS_PER_YEAR

from .helpers import scenario

EXAMPLES = Path(__file__).parents[2] / "examples" / "treatments"
MONTH_D = 30.4375

# file -> per treatment: (drug, scheduled, taken, first dose (d), interval (d))
EXPECTED = {
    "alendronate": [("alendronate", 157, 126, 0, 7)],
    "risedronate": [("risedronate", 24, 23, 0, MONTH_D)],
    "ibandronate": [("ibandronate", 12, 12, 0, MONTH_D), ("ibandronate", 8, 8, 12 * MONTH_D,
                                                            3 * MONTH_D)],
    "zoledronate": [("zoledronate", 3, 3, 0, 365.25)],
    "denosumab": [("denosumab", 4, 4, 0, 182.625)],
    "raloxifene": [("raloxifene", 1096, 1096, 0, 1)],
    "teriparatide": [("teriparatide", 731, 658, 0, 1)],
    "romosozumab": [("romosozumab", 12, 12, 0, MONTH_D)],
    "calcium": [("calcium", 731, 731, 0, 1)],
    "alendronate_then_denosumab": [("alendronate", 157, 157, 0, 7),
                                   ("denosumab", 4, 4, 36 * MONTH_D, 182.625)],
    "denosumab_then_zoledronate": [("denosumab", 6, 6, 0, 182.625),
                                   ("zoledronate", 1, 1, 36 * MONTH_D, 365.25)],
    "teriparatide_plus_denosumab": [("teriparatide", 731, 731, 0, 1),
                                    ("denosumab", 4, 4, 0, 182.625)],
    "zoledronate_6y_then_pause": [("zoledronate", 6, 6, 0, 365.25)],
    "romosozumab_then_denosumab": [("romosozumab", 12, 12, 0, MONTH_D),
                                   ("denosumab", 4, 4, 12 * MONTH_D, 182.625)],
}


def _end_h(sc):
    return sc.years * DAYS_PER_YEAR * 24.0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_schedules(name):
    sc = load_scenario(EXAMPLES / f"{name}.toml")
    assert sc.warnings == ()
    assert [t.drug for t in sc.treatments] == [e[0] for e in EXPECTED[name]]
    for t, (_, scheduled, taken, first_d, every_d) in zip(sc.treatments, EXPECTED[name],
                                                          strict=True):
        times = t.record.times_h(_end_h(sc))
        assert (t.scheduled, t.taken, len(times)) == (scheduled, taken, taken)
        assert t.start_h == pytest.approx(first_d * 24) and t.every_h == pytest.approx(
            every_d * 24)
        stop = min(_end_h(sc), t.stop_h or math.inf)
        assert all(t.start_h <= x < stop for x in times)
        assert t.record in sc.doses


def test_every_drug_has_an_example():
    names = {p.stem for p in EXAMPLES.glob("*.toml")}
    assert {"alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
            "raloxifene", "teriparatide", "romosozumab", "calcium", "magnesium"} <= names


def test_magnesium_example_waits_for_the_magnesium_model():
    if "gut_magnesium" in COMPARTMENTS:
        sc = load_scenario(EXAMPLES / "magnesium.toml")
        assert sc.treatments[0].record.amount == pytest.approx(400 * 0.603)
    else:
        with pytest.raises(ScenarioError, match="magnesium requires the magnesium model"):
            load_scenario(EXAMPLES / "magnesium.toml")


def test_doses_fall_strictly_before_stop_and_no_stop_means_to_the_end():
    sc = scenario_from_dict(scenario(
        {"drug": "denosumab", "dose": "60 mg", "every": "6 months", "stop": "18 months"},
        {"drug": "zoledronate", "dose": "5 mg", "every": "1 year"}, years=3))
    den, zol = sc.treatments
    assert den.record.until_h == pytest.approx(18 * MONTH_D * 24)
    assert len(den.record.times_h(_end_h(sc))) == 3  # 0, 6, 12 months; 18 is the stop
    assert zol.stop_h is None and len(zol.record.times_h(_end_h(sc))) == 3


def test_dose_records_come_after_plain_dose_entries():
    sc = scenario_from_dict(scenario(
        {"drug": "denosumab", "dose": "60 mg"},
        dose=[{"compartment": "gut_calcium", "amount": "500 mg", "every": "1 d"}]))
    assert [d.compartment for d in sc.doses] == ["gut_calcium", "denosumab_sc"]


def test_every_defaults_to_the_single_or_matching_labelled_interval():
    sc = scenario_from_dict(scenario(
        {"drug": "denosumab", "dose": "60 mg"},
        {"drug": "alendronate", "dose": "10 mg"},
        {"drug": "risedronate", "dose": "35 mg"},
        {"drug": "ibandronate", "route": "iv", "dose": "3 mg"}))
    assert [t.every_h / 24 for t in sc.treatments] == pytest.approx(
        [182.625, 1, 7, 3 * MONTH_D])
    assert sc.warnings == ()


def test_route_defaults_to_the_first_and_iv_ibandronate_is_a_bolus():
    sc = scenario_from_dict(scenario({"drug": "ibandronate", "dose": "150 mg"},
                                     {"drug": "ibandronate", "route": "iv", "dose": "3 mg"}))
    oral, iv = sc.treatments
    assert (oral.route, oral.target, oral.intake) == ("oral", "ibandronate_oral", "fasting_2h")
    assert (iv.route, iv.target, iv.infusion_h, iv.intake) == ("iv", "ibandronate_iv", None,
                                                               None)


def _rows(dose: Dose, end_h: float = 24.0 * 400):
    from boneturnover.model.system import get_model

    m = get_model()
    rec = m.records(1)[0]
    idx = {s.name: s.index for s in m.spec.states}
    comp = COMPARTMENTS[dose.compartment]
    f = math.prod(float(rec[k]) for k in comp.factors)
    return realize([dose], end_h, rec, idx), f, idx[comp.state]


def _one(entry, years=1):
    return scenario_from_dict(scenario(entry, years=years)).treatments[0]


def test_zoledronate_5_mg_is_converted_to_nmol_with_its_molar_mass_and_infused():
    t = _one({"drug": "zoledronate", "dose": "5 mg", "every": "1 year"})
    assert t.infusion_h == pytest.approx(0.25)
    rows, f, state = _rows(t.record, 24.0 * 100)
    on, off = rows
    assert (on[1], on[2], off[1]) == (1, state, 1)
    assert off[0] - on[0] == pytest.approx(0.25)
    assert on[3] * 0.25 == pytest.approx(5e-3 / 272.1 * 1e9 * f)
    assert off[3] == pytest.approx(-on[3])


def test_intake_scales_an_oral_bisphosphonate():
    fasting = _one({"drug": "alendronate", "dose": "70 mg", "every": "1 week"})
    early = _one({"drug": "alendronate", "dose": "70 mg", "every": "1 week",
                  "intake": "fasting_30min"})
    food = _one({"drug": "alendronate", "dose": "70 mg", "every": "1 week",
                 "intake": "with_food"})
    assert (fasting.record.factor, early.record.factor, food.record.factor) == (1.0, 0.6, 0.1)
    rows, f, _ = _rows(early.record, 24.0)
    assert rows[0][3] == pytest.approx(70e-3 / 249.1 * 1e9 * f * 0.6)
    assert _one({"drug": "risedronate", "dose": "35 mg",
                 "intake": "fasting_30min"}).record.factor == 0.45


def test_teriparatide_and_salts_convert_to_the_target_unit():
    rows, f, _ = _rows(_one({"drug": "teriparatide", "dose": "20 ug"}).record, 24.0)
    assert rows[0][3] == pytest.approx(20e-6 / 4117.8 * 1e12 * f)
    carbonate = _one({"drug": "calcium", "dose": "1250 mg", "salt": "carbonate"})
    citrate = _one({"drug": "calcium", "dose": "2.38 g", "salt": "citrate"})
    elemental = _one({"drug": "calcium", "dose": "500 mg"})
    assert carbonate.record.amount == pytest.approx(500) and carbonate.record.unit == "mg"
    assert citrate.record.amount == pytest.approx(2380 * 0.211)
    rows, _, _ = _rows(elemental.record, 24.0)
    assert rows[0][3] == pytest.approx(500 / 40.078)


@pytest.mark.parametrize("n", [1, 7, 12, 52, 100, 365])
@pytest.mark.parametrize("f", [0.0, 0.25, 0.5, 0.8, 0.9, 1.0])
def test_even_adherence_takes_the_rounded_fraction(n, f):
    skip = missed_indices(n, f, "even", 0)
    assert n - len(skip) == math.floor(f * n + 0.5)
    assert all(0 <= k < n for k in skip)
    if f >= 0.5:  # misses are spread: never two in a row
        assert not any(k + 1 in skip for k in skip)


def test_random_adherence_is_reproducible_with_its_seed():
    a = missed_indices(200, 0.7, "random", 42)
    assert a == missed_indices(200, 0.7, "random", 42)
    assert a != missed_indices(200, 0.7, "random", 43)
    assert len(a) == 60
    entry = {"drug": "raloxifene", "dose": "60 mg", "adherence": 0.7,
             "adherence_pattern": "random", "seed": 3}
    assert _one(entry).record.skip == _one(entry).record.skip


def test_missed_list_and_adherence_combine():
    t = _one({"drug": "denosumab", "dose": "60 mg", "missed": [2]}, years=2)
    assert t.record.skip == {1}
    assert len(t.record.times_h(2 * 8766.0)) == 3
    t = _one({"drug": "zoledronate", "dose": "5 mg", "adherence": 0.5, "missed": [1]}, years=4)
    assert t.scheduled == 4 and t.record.skip >= {0} and t.taken == 4 - len(t.record.skip)
    assert _one({"drug": "denosumab", "dose": "60 mg", "adherence": 0}).taken == 0


DEN = {"drug": "denosumab", "dose": "60 mg"}

#: (entries, words every message must hold); each message also names the entry.
BAD = [
    ([{"drug": "denosumob", "dose": "60 mg"}],
     ["#1", "drug 'denosumob' is unknown", "did you mean 'denosumab'", "alendronate"]),
    ([{"drug": 3, "dose": "60 mg"}], ["#1", "drug 3"]),
    ([{"dose": "60 mg"}], ["#1", "missing `drug`"]),
    ([{"drug": "denosumab"}], ["#1 (denosumab)", "missing `dose`"]),
    ([{**DEN, "dose": "60 mmol"}], ["#1 (denosumab)", "dose '60 mmol'", "cannot be converted"]),
    ([{**DEN, "dose": "sixty mg"}], ["#1 (denosumab)", "'sixty mg'", "number"]),
    ([{**DEN, "dose": "-60 mg"}], ["#1 (denosumab)", "dose '-60 mg'", "positive"]),
    ([{"drug": "alendronate", "dose": "70 mg", "route": "iv"}],
     ["#1 (alendronate)", "route 'iv'", "expected one of oral"]),
    ([{"drug": "zoledronate", "dose": "60 mg"}],
     ["#1 (zoledronate)", "dose '60 mg'", "12 times the labelled maximal single dose 5 mg"]),
    ([{"drug": "teriparatide", "dose": "0.5 mg"}], ["#1 (teriparatide)", "25 times"]),
    ([{**DEN, "every": "0 d"}], ["#1 (denosumab)", "every '0 d'", "longer than zero"]),
    ([{**DEN, "every": "6"}], ["#1 (denosumab)", "every", "'6'"]),
    ([{**DEN, "start": "12 months", "stop": "6 months"}],
     ["#1 (denosumab)", "stop '6 months' must be after start '12 months'"]),
    ([{**DEN, "stop": "0 d"}], ["#1 (denosumab)", "stop '0 d'"]),
    ([DEN, {**DEN, "start": "24 months"}],
     ["[[treatment]] #2 (denosumab)", "overlaps", "[[treatment]] #1 (denosumab)"]),
    ([{**DEN, "stop": "12 months"}, {"drug": "zoledronate", "dose": "5 mg"},
      {**DEN, "start": "6 months", "stop": "18 months"}],
     ["[[treatment]] #3 (denosumab)", "[[treatment]] #1 (denosumab)", "overlaps"]),
    ([{**DEN, "adherence": 1.5}], ["#1 (denosumab)", "adherence 1.5", "0 to 1"]),
    ([{**DEN, "adherence": -0.1}], ["#1 (denosumab)", "adherence -0.1"]),
    ([{**DEN, "adherence_pattern": "weekly"}], ["adherence_pattern 'weekly'", "even, random"]),
    ([{**DEN, "seed": -1}], ["#1 (denosumab)", "seed -1"]),
    ([{**DEN, "missed": "3"}], ["#1 (denosumab)", "missed '3'", "list of dose numbers"]),
    ([{**DEN, "missed": [0]}], ["#1 (denosumab)", "missed [0]", "counted from 1"]),
    ([{**DEN, "missed": [1.5]}], ["#1 (denosumab)", "missed [1.5]"]),
    ([{**DEN, "missed": [2, 2]}], ["#1 (denosumab)", "missed [2, 2]", "twice"]),
    ([{"drug": "calcium", "dose": "1 g", "salt": "phosphate"}],
     ["#1 (calcium)", "salt 'phosphate' is unknown", "carbonate, citrate"]),
    ([{"drug": "calcium", "dose": "10 mmol", "salt": "carbonate"}],
     ["#1 (calcium)", "must be a mass of the salt"]),
    ([{**DEN, "salt": "carbonate"}], ["#1 (denosumab)", "salt 'carbonate'", "supplements"]),
    ([{"drug": "magnesium", "dose": "400 mg", "salt": "unobtainium"}],
     ["#1 (magnesium)", "salt", "unobtainium"]),
    ([{**DEN, "intake": "fasting_2h"}], ["#1 (denosumab)", "intake", "oral bisphosphonates"]),
    ([{"drug": "alendronate", "dose": "70 mg", "intake": "coffee"}],
     ["#1 (alendronate)", "intake 'coffee'", "fasting_30min"]),
    ([{**DEN, "infusion": "15 min"}], ["#1 (denosumab)", "infusion '15 min'", "IV"]),
    ([{"drug": "zoledronate", "dose": "5 mg", "every": "1 h", "infusion": "2 h"}],
     ["#1 (zoledronate)", "infusion", "shorter than the interval"]),
    ([{"drug": "alendronate", "dose": "35 mg"}],
     ["#1 (alendronate)", "missing `every`", "70 mg every 1 wk"]),
    ([{**DEN, "frequency": "6 months"}], ["#1 (denosumab)", "unknown key 'frequency'"]),
    (["denosumab"], ["#1", "expected a table"]),
]


@pytest.mark.parametrize("entries,needles", BAD)
def test_bad_treatments_are_refused_naming_entry_field_and_value(entries, needles):
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(scenario(*entries))
    msg = str(err.value)
    assert msg.startswith("[[treatment]] #")
    for needle in needles:
        assert needle in msg


def test_treatment_must_be_an_array_of_tables():
    with pytest.raises(ScenarioError, match=r"\[\[treatment\]\] tables"):
        scenario_from_dict({"patient": {"age": 65}, "treatment": {"drug": "denosumab"}})


#: (entries, years, words of the one expected warning)
WARN = [
    ([{**DEN, "dose": "180 mg"}], 1, ["#1 (denosumab)", "3 times the labelled 60 mg"]),
    ([{**DEN, "dose": "10 mg"}], 1, ["#1 (denosumab)", "0.167 times"]),
    ([{**DEN, "every": "3 months"}], 1, ["interval 3 months is unlike", "60 mg every 6 mo"]),
    ([{"drug": "teriparatide", "dose": "20 ug", "stop": "36 months"}], 4,
     ["teriparatide: courses add up to 36 months", "24 months"]),
    ([{"drug": "teriparatide", "dose": "20 ug", "stop": "18 months"},
      {"drug": "teriparatide", "dose": "20 ug", "start": "24 months"}], 3,
     ["teriparatide: courses add up to 30 months"]),
    ([{"drug": "romosozumab", "dose": "210 mg", "stop": "18 months"}], 2,
     ["romosozumab: 18 doses are taken", "12"]),
    ([{"drug": "zoledronate", "dose": "5 mg", "infusion": "5 min"}], 1,
     ["#1 (zoledronate)", "infusion", "labelled minimum of 15 min"]),
    ([{"drug": "zoledronate", "dose": "5 mg", "start": "3 years"}], 2,
     ["#1 (zoledronate)", "after the end of the simulation"]),
    ([{**DEN, "missed": [9]}], 1, ["#1 (denosumab)", "missed dose(s) [9]", "ignored"]),
]


@pytest.mark.parametrize("entries,years,needles", WARN)
def test_possible_but_unlabelled_treatments_warn(entries, years, needles):
    sc = scenario_from_dict(scenario(*entries, years=years))
    assert len(sc.warnings) == 1, sc.warnings
    for needle in needles:
        assert needle in sc.warnings[0]


def test_label_regimens_and_romosozumab_with_missed_doses_do_not_warn():
    sc = scenario_from_dict(scenario(
        {"drug": "romosozumab", "dose": "210 mg", "stop": "18 months", "adherence": 0.6},
        {"drug": "teriparatide", "dose": "20 ug", "stop": "24 months"}, years=2))
    assert sc.treatments[0].taken == 11 and sc.warnings == ()


@settings(max_examples=200, deadline=None)
@given(start_d=st.integers(0, 800), every_d=st.integers(1, 400), length_d=st.integers(1, 900),
       has_stop=st.booleans(), adherence=st.floats(0, 1),
       pattern=st.sampled_from(["even", "random"]), seed=st.integers(0, 1000),
       missed=st.lists(st.integers(1, 30), unique=True, max_size=5))
def test_schedule_property(start_d, every_d, length_d, has_stop, adherence, pattern, seed,
                           missed):
    end_d = 3 * 365.25
    entry = {"drug": "teriparatide", "dose": "20 ug", "every": f"{every_d} d",
             "start": f"{start_d} d", "adherence": adherence, "adherence_pattern": pattern,
             "seed": seed, "missed": missed}
    if has_stop:
        entry["stop"] = f"{start_d + length_d} d"
    (t,), _ = parse_treatments([entry], end_d * 24)
    stop_d = min(end_d, start_d + length_d if has_stop else math.inf)
    n = max(0, math.ceil((stop_d - start_d) / every_d))
    times = t.record.times_h(end_d * 24)
    assert t.scheduled == n
    skipped = {k for k in t.record.skip if k < n}
    assert len(times) == n - len(skipped) == t.taken
    assert len(skipped) >= n - math.floor(adherence * n + 0.5)
    assert {k - 1 for k in missed if k <= n} <= skipped
    assert all(start_d * 24 <= x < stop_d * 24 for x in times)
    assert all(((x / 24 - start_d) / every_d) % 1 == 0 for x in times)


def test_documented_treatment_examples_parse_without_warnings():
    import tomllib

    text = (Path(__file__).parents[2] / "docs" / "SCENARIOS.md").read_text(encoding="utf-8")
    section = text.split("## Treatments", 1)[1]
    block = section.split("```toml", 1)[1].split("```", 1)[0]
    entries = tomllib.loads(block)["treatment"]
    assert {e["drug"] for e in entries} == {
        "alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab", "raloxifene",
        "teriparatide", "romosozumab", "calcium", "magnesium"}
    runnable = [e for e in entries if e["drug"] != "magnesium" or "gut_magnesium" in COMPARTMENTS]
    sc = scenario_from_dict(scenario(*runnable, years=3))
    assert len(sc.treatments) == len(runnable) and sc.warnings == ()


@pytest.mark.parametrize("key, value", [("route", []), ("salt", []), ("intake", {}),
                                        ("adherence_pattern", ["even"])])
def test_a_list_where_a_name_is_expected_is_named(key, value):
    from boneturnover.drugs.treatments import parse_treatments

    with pytest.raises(ScenarioError, match=rf"#1 \(calcium\): {key} must be a text"):
        parse_treatments([{"drug": "calcium", "dose": "500 mg", key: value}], 1000.0)


def test_dose_targets_map_back_to_their_drug():
    from boneturnover.drugs.treatments import label_for_target

    assert label_for_target("denosumab_sc")[0].key == "denosumab"
    assert label_for_target("ibandronate_iv")[1].key == "iv"
    drug, _route, note = label_for_target("pth_plasma")
    assert drug.key == "teriparatide" and "teriparatide label" in note
