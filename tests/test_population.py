"""Virtual populations: one batch solve per chunk, one long table, failures as status rows,
parquet partitions, and the same run on a Dask cluster."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import boneturnover as bt
from boneturnover.cluster import warm_up
from boneturnover.errors import InputError, OutputPathError, SolverError
from boneturnover.population import PARTITIONS, STATUS_FILE, chunk_size
from boneturnover.simulation import clear_history_cache

PATIENT = {"age": 66, "menopause_age": 51}
#: five subjects: two untreated-path parameters and two drug parameters varied
POP5 = pd.DataFrame({
    "k_ob_removal": [0.00055, 0.0006, 0.00065, 0.0006, 0.00058],
    "v_ecf_l": [13.0, 14.0, 13.5, 13.8, 13.2],
    "den_vc": [2000.0, 2340.0, 2700.0, 3000.0, 2500.0],
    "k_den_rankl": [0.8, 1.0, 1.2, 1.0, 0.9],
})
#: a drug parameter that makes the scenario's solve fail (the step size collapses)
FAILING = {"k_den_rankl": 1e30}


def _scenario(years: float = 0.5, **extra) -> bt.Scenario:
    return bt.scenario_from_dict({"patient": PATIENT, "years": years, "regimen": "denosumab",
                                  **extra})


def _subject(frame: pd.DataFrame, i: int) -> pd.DataFrame:
    return frame[frame["subject"] == i].drop(columns="subject").reset_index(drop=True)


def _same(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-9) -> None:
    assert list(a.columns) == list(b.columns)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=rtol, atol=0.0)


def test_batch_of_five_equals_five_single_runs():
    sc = _scenario()
    res = bt.simulate(sc, population=POP5)
    assert res.ok and res.reasons == ("",) * 5
    assert res.frame.columns[0] == "subject" and res.frame["subject"].dtype == np.int64
    n_times = len(res.frame) // 5
    assert n_times == 183 and res.frame["subject"].tolist() == np.repeat(
        np.arange(5), n_times).tolist()
    for i, row in POP5.iterrows():
        clear_history_cache()
        single = bt.simulate(_scenario(parameters=row.to_dict()))
        _same(_subject(res.frame, i), single.frame)
    # the subjects differ (the table is not one subject repeated)
    last = res.frame.groupby("subject")["bmd_spine_g_cm2"].last()
    assert last.nunique() == 5


def test_chunks_give_the_same_table_as_one_batch():
    sc = _scenario()
    whole = bt.simulate(sc, population=POP5)
    chunked = bt.simulate(sc, population=POP5, chunk_subjects=2)
    _same(chunked.frame, whole.frame)
    seen = []
    bt.simulate(sc, population=POP5, chunk_subjects=2, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_history_length_per_subject():
    """A subject's own oestrogen offset sets her history start (solved in its own group)."""
    sc = _scenario()
    pop = pd.DataFrame({"est_ref_age_offset_y": [10.0, 8.0]})
    res = bt.simulate(sc, population=pop)
    for i, row in pop.iterrows():
        _same(_subject(res.frame, i), bt.simulate(_scenario(parameters=row.to_dict())).frame)


def test_failed_subject_is_a_status_row_not_a_lost_batch():
    sc = _scenario()
    pop = POP5.copy()
    pop.loc[1, "k_den_rankl"] = FAILING["k_den_rankl"]
    pop.loc[3, "k_ob_removal"] = 1e30  # no steady state
    res = bt.simulate(sc, population=pop, throw=False)
    assert [s.name for s in res.status] == ["OK", "STEP_TOO_SMALL", "OK",
                                            "STEADY_STATE_FAILED", "OK"]
    assert res.reasons[1].startswith("subject 1: the step size collapsed") and \
        "after time 0" in res.reasons[1] and "k_den_rankl = 1e+30" in res.reasons[1]
    assert res.reasons[3].startswith("subject 3: no steady state") and res.reasons[0] == ""
    table = res.status_frame
    assert list(table.columns) == ["subject", "status", "reason"]
    assert table["status"].tolist()[1] == "STEP_TOO_SMALL"
    assert len(res.frame) == 5 * 183
    for i in (1, 3):
        rows = _subject(res.frame, i)
        assert rows["time_d"].notna().all() and rows.drop(columns=["time_d", "age_y"]).isna(
        ).all().all()
    ok = bt.simulate(sc, population=POP5.iloc[[0, 2, 4]].reset_index(drop=True))
    for j, i in enumerate((0, 2, 4)):
        _same(_subject(res.frame, i), _subject(ok.frame, j))
    with pytest.raises(SolverError, match=r"^subject 1: the step size collapsed"):
        bt.simulate(sc, population=pop)


def test_out_folder_gets_partitions_and_status(tmp_path):
    sc = _scenario()
    pop = POP5.copy()
    pop.loc[2, "k_den_rankl"] = FAILING["k_den_rankl"]
    in_memory = bt.simulate(sc, population=pop, throw=False)
    folder = tmp_path / "run"
    res = bt.simulate(sc, population=pop, throw=False, out=folder, chunk_subjects=2)
    assert res.out == folder and len(res.frame) == 0 and "subject" in res.frame.columns
    parts = sorted(p.name for p in (folder / PARTITIONS).iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    back = pd.read_parquet(folder / PARTITIONS).sort_values(["subject", "time_d"])
    _same(back.reset_index(drop=True), in_memory.frame)
    status = pd.read_csv(folder / STATUS_FILE, keep_default_na=False)
    assert status["status"].tolist() == ["OK", "OK", "STEP_TOO_SMALL", "OK", "OK"]
    assert status["reason"][2].startswith("subject 2:")
    with pytest.raises(OutputPathError, match="not empty; add --force"):
        bt.simulate(sc, population=pop, out=folder)
    # replacing with larger chunks leaves no partition of the earlier run
    bt.simulate(sc, population=pop, throw=False, out=folder, force=True)
    assert [p.name for p in (folder / PARTITIONS).iterdir()] == ["part-00000.parquet"]
    with pytest.raises(SolverError, match=r"subject 2: .*status\.csv"):
        bt.simulate(sc, population=pop, out=folder, force=True)
    with pytest.raises(OutputPathError, match="does not exist"):
        bt.simulate(sc, population=pop, out=tmp_path / "no" / "run")


def test_chunk_size_is_bounded_by_memory():
    assert chunk_size(10_000, 366, 67) == 256
    assert chunk_size(10_000, 3653, 67) == 137  # 10 years daily: 256 MiB of states
    assert chunk_size(10_000, 21_916, 67) * 21_916 * 67 * 8 <= 256 * 2**20
    assert chunk_size(5, 100, 67) == 5 and chunk_size(100, 100, 67, requested=7) == 7
    assert chunk_size(1000, 366, 67, tasks=8, minimum=16) == 125
    assert chunk_size(100, 366, 67, tasks=8, minimum=64) == 64


# -- on a Dask cluster -----------------------------------------------------------------
@pytest.fixture(scope="module")
def distributed():
    return pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client(distributed):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as cl:
        yield cl


def _pop6() -> pd.DataFrame:
    pop = pd.DataFrame({"den_vc": np.linspace(2000.0, 3000.0, 6),
                        "den_ka": np.linspace(0.006, 0.01, 6),
                        "k_ob_removal": [0.00055, 0.0006, 0.00062, 0.0006, 0.00058, 0.00061]})
    pop.loc[4, "k_den_rankl"] = FAILING["k_den_rankl"]
    pop["k_den_rankl"] = pop["k_den_rankl"].fillna(1.0)
    return pop


def test_dask_equals_local(client):
    sc = _scenario(years=1.0)
    pop = _pop6()
    local = bt.simulate(sc, population=pop, throw=False)
    seen = []
    remote = bt.simulate(sc, population=pop, throw=False, client=client, chunk_subjects=2,
                         progress=lambda d, n: seen.append(d))
    _same(remote.frame, local.frame, rtol=1e-12)
    assert sorted(seen) == [2, 4, 6]
    # the failing subject is a status row there too
    assert [s.name for s in remote.status] == ["OK"] * 4 + ["STEP_TOO_SMALL", "OK"]
    assert remote.reasons == local.reasons and remote.reasons[4].startswith("subject 4:")
    assert remote.frame.loc[remote.frame["subject"] == 4, "ctx_ng_l"].isna().all()


def test_dask_by_address_writes_partitions(client, tmp_path):
    sc = _scenario(years=1.0)
    pop = _pop6()
    local = bt.simulate(sc, population=pop, throw=False)
    folder = tmp_path / "run"
    bt.simulate(sc, population=pop, throw=False, out=folder, chunk_subjects=4,
                cluster=client.scheduler.address)
    assert len(list((folder / PARTITIONS).glob("part-*.parquet"))) == 2
    back = pd.read_parquet(folder / PARTITIONS).sort_values(["subject", "time_d"])
    _same(back.reset_index(drop=True), local.frame, rtol=1e-12)
    status = pd.read_csv(folder / STATUS_FILE, keep_default_na=False)
    assert status["status"][4] == "STEP_TOO_SMALL" and (status["status"] == "OK").sum() == 5


def test_model_with_changed_values_runs_on_workers(client):
    spec = bt.load_model().with_values({"k_ob_removal": 0.00062})
    model = bt.BoneModel(spec)
    sc = _scenario(years=0.2)
    pop = pd.DataFrame({"den_vc": [2200.0, 2600.0]})
    _same(bt.simulate(sc, population=pop, model=model, client=client).frame,
          bt.simulate(sc, population=pop, model=model).frame, rtol=1e-12)


def test_the_recipe_carries_the_tolerance_and_the_method():
    from boneturnover.cluster import _worker_model, model_recipe

    model = bt.BoneModel(rtol=1e-5)
    assert model_recipe(model) == ("peterson_riggs", (), 1e-5, "rodas4")
    rebuilt = _worker_model(model_recipe(model))
    assert (rebuilt.rtol, rebuilt.method) == (1e-5, "rodas4")


def _kernels_loaded() -> tuple[int, int]:
    import numba

    from boneturnover.model.system import kernel

    return kernel.cache_info().currsize, numba.config.NUMBA_NUM_THREADS


def test_worker_processes_load_the_kernel_themselves(distributed):
    sc = _scenario(years=0.2)
    pop = _pop6()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as cl:
        pids = cl.run(os.getpid)
        assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
        remote = bt.simulate(sc, population=pop, throw=False, client=cl, chunk_subjects=3)
        # each worker process loaded the integrator itself, with a pool of one numba thread
        # (its Dask threads)
        pool = int(os.environ.get("NUMBA_NUM_THREADS", "1"))  # an explicit value is kept
        assert set(cl.run(_kernels_loaded).values()) == {(1, pool)}
        names = warm_up(cl)
        assert len(names) == 2 and all(v.startswith("boneturnover_rodas_") for v in names.values())
    _same(remote.frame, bt.simulate(sc, population=pop, throw=False).frame, rtol=1e-12)


def test_unreachable_scheduler_is_bad_input(distributed):
    sc = _scenario(years=0.1)
    pop = pd.DataFrame({"den_vc": [2200.0]})
    with pytest.raises(InputError, match="not a scheduler address"):
        bt.simulate(sc, population=pop, cluster="nowhere")
    with pytest.raises(InputError, match="cluster and client"):
        bt.simulate(sc, population=pop, cluster="tcp://x:1", client=object())


def test_chunks_written_into_one_block_keep_failures_and_history_groups():
    """Chunks held in memory write into one column-major block: a failed subject's NaN
    rows and chunks whose subjects need different untreated histories (here two history
    lengths) give the same table as one batch."""
    sc = _scenario()
    pop = POP5.copy()
    pop.loc[1, "k_den_rankl"] = FAILING["k_den_rankl"]
    pop["est_ref_age_offset_y"] = [0.0, 0.0, 2.0, 0.0, 2.0]
    whole = bt.simulate(sc, population=pop, throw=False)
    chunked = bt.simulate(sc, population=pop, throw=False, chunk_subjects=2)
    assert [s.name for s in chunked.status] == [s.name for s in whole.status]
    assert chunked.status[1].name == "STEP_TOO_SMALL"
    _same(chunked.frame, whole.frame)
    assert _subject(chunked.frame, 1).drop(columns=["time_d", "age_y"]).isna().all().all()
