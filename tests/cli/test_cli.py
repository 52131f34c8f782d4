"""The command line: main jobs and one-line errors with exit code 2."""

import pandas as pd
import pytest

from boneturnover.cli import main

REQUIRED = ["time_d", "ctx_ng_l", "p1np_ug_l", "bsap_ug_l", "osteocalcin_ug_l", "trap5b_u_l",
            "pth_pg_ml", "calcium_mmol_l", "phosphate_mmol_l", "calcitriol_pmol_l",
            "bmd_spine_g_cm2", "bmd_hip_g_cm2"]


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_simulate_writes_daily_csv(tmp_path):
    sc = _write(tmp_path, "years = 2\n[patient]\nage = 70\nmenopause_age = 51\n")
    out = tmp_path / "r.csv"
    assert main(["simulate", str(sc), "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns[:1]) == ["time_d"] and set(REQUIRED) <= set(df.columns)
    assert len(df) == 731 and (df["time_d"].diff().dropna() == 1.0).all()
    # a 70-year-old starts from her untreated postmenopausal history, not premenopause
    assert df["ctx_ng_l"].iloc[0] > 1.4 * 312
    assert df["bmd_spine_g_cm2"].iloc[0] < 1.047


def test_demo_prints_table_and_writes_plot(tmp_path, capsys):
    png = tmp_path / "demo.png"
    assert main(["demo", "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    for label in ("FMP+0y", "FMP+1y", "FMP+2y", "FMP+5y", "FMP+10y", "ctx_ng_l"):
        assert label in text
    assert png.stat().st_size > 10_000


def test_outputs_lists_every_output_with_unit(capsys):
    assert main(["outputs"]) == 0
    text = capsys.readouterr().out
    for col in REQUIRED:
        assert col in text
    assert "source:" in text


@pytest.mark.parametrize("text,needle", [
    ("years = 1\n[patient]\nage = 50\ncolour = 'red'\n", "unknown key 'colour'"),
    ("years = 1\n[patient]\nage = -4\n", "patient.age = -4"),
    ("years = 1\n[patient]\nage = 50\nmenopause_age = 25\n", "patient.menopause_age = 25"),
    ("years = 1\n[patient]\nage = 50\nmenopause_age = 70\n", "patient.menopause_age = 70"),
    ("years = 1\n[patient\nage = 50\n", "not valid TOML"),
    ("years = 1\nbogus = 3\n[patient]\nage = 50\n", "unknown key 'bogus'"),
    ("years = 1\n[patient]\nage = 50\n[parameters]\nnope = 1\n", "unknown parameter 'nope'"),
    ("years = 1\n[patient]\nage = 50\n[[dose]]\ncompartment = 'denosumab_sc'\n"
     "amount = '60 mg'\nevery = '0 d'\n", "longer than zero"),
])
def test_bad_scenarios_give_one_line_errors(tmp_path, capsys, text, needle):
    sc = _write(tmp_path, text)
    assert main(["simulate", str(sc), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_missing_file_is_exit_2(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "nope.toml"), "--out", "x.csv"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_command_names_match_what_the_modules_register():
    from boneturnover.cli import COMMAND_MODULES, COMMAND_NAMES, build_parser

    for module in COMMAND_MODULES:
        parser = build_parser((module,))
        sub = next(a for a in parser._actions if a.dest == "command")
        assert {n for n, m in COMMAND_NAMES.items() if m == module} == set(sub.choices), module
