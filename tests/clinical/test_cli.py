"""``boneturnover interpret`` through ``boneturnover.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from boneturnover.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clinical"
RESPONDER = str(EXAMPLES / "bisphosphonate_responder.toml")


def test_json_output(capsys):
    assert main(["interpret", RESPONDER, "--today", "2024-07-20", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["patient_id"] == "example-bp-responder"
    f = next(x for x in d["findings"] if x["code"] == "RESPONSE_ADEQUATE")
    assert set(f) >= {"code", "severity", "marker", "value", "message", "sources", "numbers"}
    assert set(f["message"]) == {"en", "zh"} and f["numbers"]["lsc_pct"] in (56.0, 38.0)


def test_text_zh_with_plot(tmp_path, capsys):
    out = tmp_path / "r.txt"
    assert main(["interpret", RESPONDER, "--today", "2024-07-20", "--lang", "zh",
                 "--out", str(out)]) == 0
    text = out.read_text("utf-8")
    assert "骨转换标志物解读报告" in text and "治疗反应充分" in text
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_html_embeds_png(tmp_path):
    out = tmp_path / "r.html"
    assert main(["interpret", RESPONDER, "--today", "2024-07-20", "--format", "html",
                 "--ruleset", "iof-ects-2017", "--out", str(out)]) == 0
    html = out.read_text("utf-8")
    assert "data:image/png;base64," in html and "iof-ects-2017" in html


def _one_line_error(capsys, argv, prefix):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(prefix) and err.count("\n") == 1, err
    return err


def test_bad_record_exits_2(tmp_path, capsys):
    f = tmp_path / "p.toml"
    f.write_text('[patient]\nid="x"\n[[measurements]]\ndate=2024-01-01\nmarker="CTX_I"\n'
                 'value=-3\nunit="ng/L"\n')
    err = _one_line_error(capsys, ["interpret", str(f), "--today", "2024-02-01"], "DataError: ")
    assert "measurements[1]" in err and "negative" in err


def test_missing_file_and_usage_errors(tmp_path, capsys):
    _one_line_error(capsys, ["interpret", str(tmp_path / "none.toml")], "InputError: ")
    _one_line_error(capsys, ["interpret"], "InputError: give either")
    _one_line_error(capsys, ["interpret", RESPONDER, "--today", "soon"], "InputError: ")
    _one_line_error(capsys, ["interpret", "--cohort", str(EXAMPLES / "cohort")],
                    "InputError: --cohort needs --out")


def test_cohort_parquet(tmp_path, capsys):
    out = tmp_path / "status.parquet"
    assert main(["interpret", "--cohort", str(EXAMPLES / "cohort"), "--out", str(out),
                 "--today", "2024-09-01"]) == 0
    s = pd.read_parquet(out)
    assert len(s) == 4 and s["error"].notna().sum() == 1
    assert "1 with errors" in capsys.readouterr().err


def test_unknown_ruleset_rejected_by_argparse():
    with pytest.raises(SystemExit):
        main(["interpret", RESPONDER, "--ruleset", "nice"])
