"""Output files: checked before the work, replaced only with --force, atomic, CSV-safe; exit 3."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from boneturnover.cli import main
from boneturnover.errors import OutputPathError
from boneturnover.files import (
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_text,
    atomic_writer,
    check_output,
    check_output_folder,
    escape_formula_cells,
)

SCENARIO = "years = 0.05\n[patient]\nage = 60\nmenopause_age = 51\n"


@pytest.fixture
def scenario(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SCENARIO, encoding="utf-8")
    return p


def test_check_output_refusals(tmp_path, scenario):
    with pytest.raises(OutputPathError, match="is the input file"):
        check_output(scenario, inputs=[scenario], force=True)
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output(tmp_path / "missing" / "x.csv")
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputPathError, match="is a directory"):
        check_output(tmp_path / "sub")
    with pytest.raises(OutputPathError, match="exists; add --force"):
        check_output(scenario)
    assert check_output(scenario, force=True) == scenario
    assert check_output(tmp_path / "new.csv") == tmp_path / "new.csv"


def test_check_output_folder(tmp_path, scenario):
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_folder(scenario, ["a.png"])
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output_folder(tmp_path / "no" / "plots", ["a.png"])
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.png").write_bytes(b"x")
    with pytest.raises(OutputPathError, match="exists"):
        check_output_folder(tmp_path / "plots", ["a.png"])
    check_output_folder(tmp_path / "plots", ["a.png"], force=True)


def test_atomic_writes_replace_and_leave_no_temp(tmp_path):
    out = tmp_path / "o.txt"
    atomic_write_text(out, "one")
    atomic_write_bytes(out, b"two")
    assert out.read_bytes() == b"two"
    with pytest.raises(RuntimeError), atomic_writer(out) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert out.read_bytes() == b"two"
    assert sorted(os.listdir(tmp_path)) == ["o.txt"]


def test_formula_cells_escaped():
    df = pd.DataFrame({"a": ["=HYPERLINK(1)", "+1", "-1", "@x", "\tx", "\rx", "ok"],
                       "n": [-1.0, 1, 2, 3, 4, 5, 6]})
    esc = escape_formula_cells(df)
    assert esc["a"].tolist()[:6] == ["'" + v for v in df["a"].tolist()[:6]]
    assert esc["a"].iloc[6] == "ok" and esc["n"].tolist() == df["n"].tolist()


def test_csv_written_escaped(tmp_path):
    out = tmp_path / "c.csv"
    atomic_write_csv(out, pd.DataFrame({"note": ["=1+1"], "x": [-2.5]}))
    assert out.read_text().splitlines() == ["note,x", "'=1+1,-2.5"]


def test_simulate_refuses_before_computing(tmp_path, scenario, capsys):
    assert main(["simulate", str(scenario), "--out", str(scenario)]) == 2
    assert scenario.read_text() == SCENARIO
    assert "is the input file" in capsys.readouterr().err
    assert main(["simulate", str(scenario), "--out", str(tmp_path / "no" / "x.csv")]) == 2
    assert main(["simulate", str(scenario), "--out", str(tmp_path)]) == 2
    out = tmp_path / "x.csv"
    out.write_text("previous")
    assert main(["simulate", str(scenario), "--out", str(out)]) == 2
    assert out.read_text() == "previous"
    assert "add --force" in capsys.readouterr().err
    assert main(["simulate", str(scenario), "--out", str(out), "--force"]) == 0
    assert len(pd.read_csv(out)) > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml", "x.csv"]


def test_numerical_failure_exits_3(tmp_path, capsys):
    sc = tmp_path / "f.toml"
    sc.write_text(SCENARIO + "[parameters]\nk_ob_removal = 1e30\n", encoding="utf-8")
    assert main(["simulate", str(sc), "--out", str(tmp_path / "f.csv")]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("SolverError: subject 0:") and "likely cause" in err
    assert "\n" not in err and not (tmp_path / "f.csv").exists()


def test_bad_parameter_exits_2(tmp_path, capsys):
    sc = tmp_path / "b.toml"
    sc.write_text(SCENARIO + "[parameters]\nk_rank_off = 0\n", encoding="utf-8")
    assert main(["simulate", str(sc), "--out", str(tmp_path / "b.csv")]) == 2
    assert capsys.readouterr().err.startswith("ScenarioError: [parameters].k_rank_off = 0")
