"""The calibration data set (validation/data/calibration.toml): schema, split, coverage."""

import pytest

from boneturnover.model.outputs import output_table
from boneturnover.validation import run_definitions
from boneturnover.validation.dataset import QUANTITIES, calibration_set, parse_series
from boneturnover.validation.measures import CheckDefinitionError

#: The drug of each named regimen of the runs the set reads (combinations left out).
DRUGS = ("alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
         "raloxifene", "teriparatide", "romosozumab")


def _drug(run: str) -> str | None:
    regimen = run_definitions()[run].get("regimen")
    if regimen is None:
        return None
    return next((d for d in DRUGS if regimen.startswith(d)), regimen)


def test_bundled_set_reads_and_names_model_outputs():
    series = calibration_set()
    outputs = {row["name"] for row in output_table()}
    assert len(series) >= 30
    for s in series:
        assert s.output in outputs, s.id
        assert s.source.strip() and s.population.strip() and s.se_basis.strip(), s.id


def test_every_drug_keeps_a_validation_series():
    by_drug: dict[str | None, set[str]] = {}
    for s in calibration_set():
        by_drug.setdefault(_drug(s.run), set()).add(s.split)
    for drug in (*DRUGS, None):
        assert "validation" in by_drug.get(drug, set()), f"{drug or 'untreated'}"


def test_both_splits_are_used_and_the_fit_has_targets():
    splits = [s.split for s in calibration_set()]
    assert splits.count("calibration") >= 10 and splits.count("validation") >= 10


def _entry(**changes):
    entry = dict(id="x", study="S", source="a source", population="women", quantity="adjusted",
                 output="ctx_ng_l", run="alendronate", unit="%", split="calibration",
                 se_basis="assumed", points=[{"day": 30, "value": -50.0, "se": 5.0}])
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def test_a_good_entry_becomes_measures():
    (s,) = parse_series([_entry()])
    assert s.measure(s.points[0]) == {"measure": "adjusted_change", "run": "alendronate",
                                      "output": "ctx_ng_l", "day": 30.0,
                                      "reference": "untreated"}
    (r,) = parse_series([_entry(quantity="loss_rate", run="untreated",
                                points=[{"from_age": 70, "to_age": 75, "value": 1.0,
                                         "se": 0.2}])])
    assert r.measure(r.points[0])["measure"] == QUANTITIES["loss_rate"]
    assert r.runs == ("untreated",)


@pytest.mark.parametrize("changes, words", [
    ({"study": None}, "missing study"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"quantity": "slope"}, "quantity 'slope'"),
    ({"split": "test"}, "split 'test'"),
    ({"run": "no_such_run"}, "run 'no_such_run'"),
    ({"run": "trio_alendronate"}, "population run"),
    ({"points": []}, "at least one point"),
    ({"points": [{"day": 30, "value": -50.0, "se": 0.0}]}, "se = 0.0"),
    ({"points": [{"day": 30, "value": float("nan"), "se": 1.0}]}, "value = nan"),
    ({"points": [{"day": -1, "value": 1.0, "se": 1.0}]}, "day = -1"),
    ({"points": [{"value": 1.0, "se": 1.0}]}, "day = None"),
    ({"scale": 1000.0}, "decline_rate"),
    ({"quantity": "loss_rate", "points": [{"from_age": 70, "to_age": 60, "value": 1,
                                           "se": 1}]}, "not above"),
])
def test_a_bad_entry_is_refused_with_its_key(changes, words):
    with pytest.raises(CheckDefinitionError, match="calibration series 'x'") as err:
        parse_series([_entry(**changes)])
    assert words in str(err.value)


def test_duplicate_ids_are_refused():
    with pytest.raises(CheckDefinitionError, match="used twice"):
        parse_series([_entry(), _entry()])
