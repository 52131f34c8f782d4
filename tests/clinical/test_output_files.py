"""interpret's outputs: never an input, never an existing file without --force, atomic."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from boneturnover.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"


def test_cohort_output_that_is_a_cohort_file_is_refused_before_any_work(tmp_path, capsys):
    cohort = tmp_path / "cohort"
    shutil.copytree(EXAMPLES / "cohort", cohort)
    before = (cohort / "measurements.csv").read_bytes()
    status = main(["interpret", "--cohort", str(cohort), "--out",
                   str(cohort / "measurements.csv"), "--force"])
    assert status == 2
    assert "is the input file" in capsys.readouterr().err
    assert (cohort / "measurements.csv").read_bytes() == before


def test_existing_output_needs_force_and_then_is_replaced(tmp_path, capsys):
    out = tmp_path / "status.csv"
    out.write_text("old\n")
    assert main(["interpret", "--cohort", str(EXAMPLES / "cohort"), "--out", str(out),
                 "--today", "2024-09-01"]) == 2
    assert "add --force" in capsys.readouterr().err
    assert out.read_text() == "old\n"
    assert main(["interpret", "--cohort", str(EXAMPLES / "cohort"), "--out", str(out),
                 "--today", "2024-09-01", "--force"]) == 0
    status = pd.read_csv(out)
    assert len(status) >= 4 and not list(tmp_path.glob(".*.tmp"))


def test_report_into_a_missing_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "missing" / "r.json"
    assert main(["interpret", str(EXAMPLES / "bisphosphonate_responder.toml"), "--format",
                 "json", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cohort_status_cells_cannot_run_as_formulas(tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(EXAMPLES / "cohort", cohort)
    for name in ("patients.csv", "measurements.csv", "treatments.csv"):
        path = cohort / name
        path.write_text(path.read_text(encoding="utf-8").replace("C001", "=C001"),
                        encoding="utf-8")
    out = tmp_path / "status.csv"
    assert main(["interpret", "--cohort", str(cohort), "--out", str(out),
                 "--today", "2024-09-01"]) == 0
    ids = pd.read_csv(out)["patient_id"].astype(str)
    assert "'=C001" in set(ids) and not any(i.startswith("=") for i in ids)
