"""The command line: `boneturnover drugs`, refusals (exit 2, one line), warnings, a short run."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from boneturnover.cli import COMMAND_MODULES, main

from .helpers import scenario, to_toml
from .test_treatments import BAD


def test_drugs_command_is_registered_and_lists_the_library(capsys):
    assert "boneturnover.drugs.commands" in COMMAND_MODULES
    assert main(["drugs"]) == 0
    text = capsys.readouterr().out
    for word in ("alendronate", "阿仑膦酸钠", "denosumab", "地舒单抗", "romosozumab",
                 "210 mg every 1 mo", "zoledronate_iv", "carbonate 40.0%", "FORTEO_LABEL",
                 "Cheng et al. 2022, section 4.2: Denosumab", "NIH_ODS_MAGNESIUM",
                 "glucocorticoid", "(clinical context only)",
                 "brands: Prolia", "maximal change by day 1 (resorption), 91 (formation)"):
        assert word in text
    assert "seed:" not in text  # facts render as citations


def test_drugs_json(capsys):
    assert main(["drugs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 11
    den = next(r for r in rows if r["drug"] == "denosumab")
    assert den["name_zh"] == "地舒单抗" and den["class_en"] == "RANKL antibody"
    assert den["rule_class"] == "denosumab" and den["brands"] == ["Prolia", "普罗力"]
    assert den["retest"]["off_first_days"] == 270 and "tsourdi2021" in den["retest"]["cite"]
    assert den["routes"]["sc"]["regimens"][0] == {
        "dose": "60 mg", "every": "6 mo", "name": "every 6 months", "source": "PROLIA_LABEL"}
    assert "Prolia" in den["sources"]["PROLIA_LABEL"]


@pytest.mark.parametrize("entries,needles",
                         [b for b in BAD if all(isinstance(e, dict) for e in b[0])])
def test_bad_treatment_file_exits_2_with_one_line(tmp_path, capsys, entries, needles):
    path = tmp_path / "bad.toml"
    path.write_text(to_toml(scenario(*entries, years=1)), encoding="utf-8")
    assert main(["simulate", str(path), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ScenarioError: [[treatment]] #")
    for needle in needles:
        assert needle in err
    assert not (tmp_path / "r.csv").exists()


def test_exit_status_of_the_installed_command(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(to_toml(scenario({"drug": "denosumab", "dose": "60 mg",
                                      "adherence": 2}, years=1)), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "boneturnover", "simulate", str(path), "--out",
                           str(tmp_path / "r.csv")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "ScenarioError: [[treatment]] #1 (denosumab): adherence 2 must be a fraction of doses "
        "taken, 0 to 1"]


def test_simulate_a_treatment_scenario_end_to_end(tmp_path, capsys):
    data = scenario({"drug": "denosumab", "dose": "60 mg", "every": "4 months"},
                    {"drug": "calcium", "dose": "1250 mg", "salt": "carbonate", "every": "1 d"},
                    years=1, output_every="7 d")
    path = tmp_path / "treated.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    out = tmp_path / "r.csv"
    assert main(["simulate", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: [[treatment]] #1 (denosumab): interval 4 months is unlike" in err
    df = pd.read_csv(out)
    assert len(df) == 53 and df["time_d"].iloc[-1] == 364
    # denosumab suppresses resorption within days (seed:B31)
    assert df["ctx_ng_l"].iloc[4] < 0.5 * df["ctx_ng_l"].iloc[0]
