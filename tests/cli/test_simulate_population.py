"""`boneturnover simulate SCENARIO --population POP --out DIR`: partitions, status, errors."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from boneturnover.cli import main
from boneturnover.model.commands import ProgressBar

SCENARIO = ("years = 0.3\nregimen = 'denosumab'\n[patient]\nage = 66\nmenopause_age = 51\n")


@pytest.fixture
def files(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text(SCENARIO, encoding="utf-8")
    pop = tmp_path / "pop.csv"
    pd.DataFrame({"den_vc": [2000.0, 2400.0, 2800.0],
                  "k_den_rankl": [1.0, 1e30, 1.2]}).to_csv(pop, index=False)
    return sc, pop, tmp_path


def test_population_writes_partitions_and_status(files, capsys):
    sc, pop, tmp = files
    out = tmp / "run"
    assert main(["simulate", str(sc), "--population", str(pop), "--out", str(out),
                 "--chunk", "2"]) == 0
    cap = capsys.readouterr()
    assert "3 subject(s) written to" in cap.out and "2 parquet partition(s)" in cap.out
    assert "1 of 3 subject(s) failed" in cap.err and "status.csv" in cap.err
    assert "subjects" not in cap.err.replace("subject(s)", "")  # no bar: not a terminal
    frame = pd.read_parquet(out / "outputs")
    assert sorted(frame["subject"].unique()) == [0, 1, 2] and len(frame) == 3 * 110
    assert frame.loc[frame["subject"] == 1, "ctx_ng_l"].isna().all()
    assert frame.loc[frame["subject"] != 1, "ctx_ng_l"].notna().all()
    status = pd.read_csv(out / "status.csv", keep_default_na=False)
    assert status["status"].tolist() == ["OK", "STEP_TOO_SMALL", "OK"]
    assert status["reason"][1].startswith("subject 1: the step size collapsed")
    # again without --force: refused; with it: replaced
    assert main(["simulate", str(sc), "--population", str(pop), "--out", str(out)]) == 2
    assert "not empty; add --force" in capsys.readouterr().err
    assert main(["simulate", str(sc), "--population", str(pop), "--out", str(out),
                 "--force", "--quiet"]) == 0
    assert [p.name for p in (out / "outputs").iterdir()] == ["part-00000.parquet"]


def test_parquet_population_and_scheduler(files, capsys):
    distributed = pytest.importorskip("distributed")
    sc, pop, tmp = files
    pq = tmp / "pop.parquet"
    pd.read_csv(pop).to_parquet(pq)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        assert main(["simulate", str(sc), "--population", str(pq), "--out", str(tmp / "r"),
                     "--scheduler", cluster.scheduler_address, "--chunk", "1"]) == 0
    local = tmp / "local"
    assert main(["simulate", str(sc), "--population", str(pq), "--out", str(local)]) == 0
    a = pd.read_parquet(tmp / "r" / "outputs").sort_values(["subject", "time_d"])
    b = pd.read_parquet(local / "outputs").sort_values(["subject", "time_d"])
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("case, needle", [
    ("unknown column", "column 'colour' is not a model parameter"),
    ("out of bounds", "column 'v_ecf_l' row 1 = -3.0 is out of range"),
    ("not a number", "column 'den_vc' row 0 = 'big' is not a number"),
    ("missing file", "--population"),
    ("unknown type", "unknown file type '.xlsx'"),
    ("out is the population", "is the input file"),
    ("out is the scenario", "is the input file"),
    ("out is a file", "is a file; expected a folder"),
    ("out holds the input", "holds the input file"),
    ("out parent missing", "does not exist; create it first"),
    ("scheduler without population", "--scheduler runs a population"),
    ("bad scheduler", "--scheduler 'nowhere' is not a scheduler address"),
    ("scheduler refused", "--scheduler 'tcp://127.0.0.1:1': no Dask scheduler answered"),
    ("bad chunk", "--chunk 0 is not a number of subjects"),
])
def test_bad_input_is_one_line_and_exit_2(files, capsys, monkeypatch, case, needle):
    sc, pop, tmp = files
    out = tmp / "run"
    args = ["simulate", str(sc), "--population", str(pop), "--out", str(out)]
    if case == "unknown column":
        pd.DataFrame({"den_vc": [2000.0], "colour": [1.0]}).to_csv(pop, index=False)
    elif case == "out of bounds":
        pd.DataFrame({"v_ecf_l": [14.0, -3.0]}).to_csv(pop, index=False)
    elif case == "not a number":
        pd.DataFrame({"den_vc": ["big"]}).to_csv(pop, index=False)
    elif case == "missing file":
        args[3] = str(tmp / "absent.csv")
    elif case == "unknown type":
        args[3] = str(tmp / "pop.xlsx")
    elif case == "out is the population":
        args[5] = str(pop)
    elif case == "out is the scenario":
        args[5] = str(sc)
    elif case == "out is a file":
        (tmp / "file.txt").write_text("x")
        args[5] = str(tmp / "file.txt")
    elif case == "out holds the input":
        args[5] = str(tmp)
    elif case == "out parent missing":
        args[5] = str(tmp / "no" / "run")
    elif case == "scheduler without population":
        args = ["simulate", str(sc), "--out", str(tmp / "r.csv"), "--scheduler", "tcp://x:1"]
    elif case == "bad scheduler":
        pytest.importorskip("distributed")
        args += ["--scheduler", "nowhere"]
    elif case == "scheduler refused":
        pytest.importorskip("distributed")
        monkeypatch.setattr("boneturnover.cluster.CONNECT_TIMEOUT_S", 0.5)
        args += ["--scheduler", "tcp://127.0.0.1:1"]
    elif case == "bad chunk":
        args += ["--chunk", "0"]
    before = pop.read_bytes()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.split(":")[0] in ("InputError", "OutputPathError")
    assert pop.read_bytes() == before  # the input is never touched
    assert not out.exists()  # nothing written before the inputs were checked


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_only_on_a_terminal():
    term = _Terminal()
    bar = ProgressBar(term)
    bar(0, 1000)
    bar(250, 1000)
    bar(1000, 1000)
    bar.close()
    text = term.getvalue()
    last = text.rstrip("\n").split("\r")[-1]
    assert "1000/1000 subjects" in last and "/s" in last and "0s left" in last
    assert "250/1000 subjects" in text and "--" in text.split("\r")[1]
    assert text.endswith("\n")
    plain = io.StringIO()
    for stream, enabled in ((plain, True), (_Terminal(), False)):
        bar = ProgressBar(stream, enabled=enabled)
        bar(5, 10)
        bar.close()
        assert stream.getvalue() == ""
