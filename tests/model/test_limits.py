"""Resource limits: named, refused before allocation with the figure and the limit, documented."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

import boneturnover as bt
from boneturnover import limits
from boneturnover.errors import InputError, LimitError, ScenarioError, SolverError

ROOT = Path(__file__).resolve().parents[2]
PATIENT = {"age": 60, "menopause_age": 51}


def test_every_limit_is_documented_with_its_reason():
    doc = (ROOT / "docs" / "SCENARIOS.md").read_text(encoding="utf-8")
    assert "## Limits" in doc
    for key, lim in limits.LIMITS.items():
        assert f"`{key}`" in doc and lim.reason in doc, key
        assert len(lim.reason) > 20


@pytest.mark.parametrize("data, match", [
    ({"years": 10, "output_every": "1 s"}, "output interval"),
    ({"years": 10, "output_every": "1e-300 d"}, "output interval"),
    ({"years": 60, "output_every": "2 min"}, "output rows: .* asks for 15,778,801 rows"),
    ({"years": 1, "dose": [{"compartment": "denosumab_sc", "amount": "60 mg",
                            "every": "1e-9 h"}]}, "dose interval"),
    ({"years": 1, "dose": [{"compartment": "denosumab_sc", "amount": "60 mg",
                            "every": "1 min"}]}, "dose interval"),
    ({"years": 60, "dose": [{"compartment": "gut_calcium", "amount": "100 mg", "every": f"{h} h"}
                            for h in (1, 1.01, 1.02)]}, "doses per subject"),
])
def test_limits_refuse_quickly(data, match):
    t0 = time.perf_counter()
    with pytest.raises(LimitError, match=match):
        bt.scenario_from_dict({"patient": PATIENT, **data})
    assert time.perf_counter() - t0 < 2.0


def test_subjects_and_rows_checked_before_allocation():
    sc = bt.scenario_from_dict({"patient": PATIENT, "years": 60})
    pop = pd.DataFrame({"k_ob_removal": [0.0006] * 300})
    with pytest.raises(LimitError, match="output rows: 300 subject"):
        bt.simulate(sc, population=pop)
    big = pd.DataFrame({"k_ob_removal": [0.0006] * (int(limits.MAX_SUBJECTS.value) + 1)})
    with pytest.raises(LimitError, match="subjects"):
        bt.simulate(sc, population=big)


@pytest.mark.parametrize("data", [
    {"name": ["a"]},
    {"patient": {"age": 60, "menopause_age": 51, "x": 1}},
    {"regimen": [["denosumab"]]},
    {"treatment": [{"drug": "denosumab", "dose": "60 mg", "seed": 10**30}]},
    {"treatment": [{"drug": "denosumab", "dose": "60 mg", "route": []}]},
    {"treatment": [{"drug": "calcium", "dose": "500 mg", "salt": []}]},
    {"treatment": [{"drug": "alendronate", "dose": "70 mg", "intake": {}}]},
    {"dose": [{"compartment": [], "amount": "60 mg"}]},
    {"parameters": {"v_ecf_l": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}},
])
def test_wrong_types_and_nesting_are_named(data):
    with pytest.raises(InputError):
        bt.scenario_from_dict({"patient": PATIENT, **data})


def test_deep_nesting_and_huge_integer_in_a_file(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 1000 + "]" * 1000 + "\n[patient]\nage = 60\n")
    with pytest.raises(ScenarioError, match="nests"):
        bt.load_scenario(deep)
    huge = tmp_path / "huge.toml"
    huge.write_text("years = " + "9" * 5000 + "\n[patient]\nage = 60\n")
    with pytest.raises(ScenarioError, match="cannot be read"):
        bt.load_scenario(huge)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * int(limits.MAX_SCENARIO_BYTES.value) + "\n")
    with pytest.raises(LimitError, match="scenario file size"):
        bt.load_scenario(big)


def test_solver_failure_names_subject_time_and_cause():
    sc = bt.scenario_from_dict({"patient": PATIENT, "years": 0.05,
                                "parameters": {"k_ob_removal": 1e30}})
    with pytest.raises(SolverError, match=r"subject 0: .*steady state.*likely cause: the "
                                          r"parameter values of this subject \(k_ob_removal"):
        bt.simulate(sc)
    res = bt.simulate(sc, throw=False)
    assert not res.ok
