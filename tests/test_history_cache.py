"""The untreated history before scenario time 0 is solved once per distinct key and reused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import boneturnover as bt
from boneturnover.model.indices import HOURS_PER_YEAR
from boneturnover.model.outputs import OUTPUTS
from boneturnover.model.system import BoneModel, get_model
from boneturnover.population import HISTORY_CACHE, HistoryCache
from boneturnover.simulation import clear_history_cache, history_cache_info

PATIENT = {"age": 66, "menopause_age": 51}
SCENARIOS = {
    "untreated": {"patient": PATIENT, "years": 0.5},
    "denosumab": {"patient": PATIENT, "years": 0.5, "regimen": "denosumab"},
}
NAMES = [o.name for o in OUTPUTS]


def _scenario(kind: str, **extra) -> bt.Scenario:
    return bt.scenario_from_dict({**SCENARIOS[kind], **extra})


def _same(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-9) -> None:
    assert list(a.columns) == list(b.columns)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=rtol, atol=0.0)


@pytest.fixture(autouse=True)
def _cold():
    clear_history_cache()
    yield
    clear_history_cache()


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_cold_and_warm_cache_and_one_subject_population_agree(kind):
    sc = _scenario(kind)
    cold = bt.simulate(sc)
    info = history_cache_info()
    assert (info.misses, info.solves, info.hits, info.size) == (1, 1, 0, 1)
    warm = bt.simulate(sc)
    info = history_cache_info()
    assert (info.misses, info.hits) == (1, 1)
    _same(cold.frame, warm.frame)
    one = bt.simulate(sc, population=pd.DataFrame({"k_ob_removal": [
        get_model().spec.parameter("k_ob_removal").value]}))
    assert history_cache_info().misses == 1  # bundled value: the same key
    assert (one.frame["subject"] == 0).all()
    _same(one.frame.drop(columns="subject"), cold.frame)


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_cached_history_matches_one_continuous_solve(kind):
    """Starting the scenario from the cached state at time 0 changes nothing beyond rtol."""
    sc = _scenario(kind)
    res = bt.simulate(sc).frame
    model = get_model()
    rec = model.records(1)
    offset = float(rec["est_ref_age_offset_y"][0])
    start = min(PATIENT["age"], PATIENT["menopause_age"] - offset)
    rec["age0_y"], rec["menopause_age_y"] = start, PATIENT["menopause_age"]
    y0, st = model.prepare(rec)
    hist_h = (PATIENT["age"] - start) * HOURS_PER_YEAR
    t = np.arange(0.0, sc.years * HOURS_PER_YEAR + 1e-9, 24.0)
    index = {s.name: s.index for s in model.spec.states}
    from boneturnover.dosing import realize
    from boneturnover.model.system import EventTable

    ev = EventTable.from_rows([realize(list(sc.doses), t[-1], rec[0], index, offset_h=hist_h)])
    y, st, _ = model.solve(rec, y0, t + hist_h, events=ev)  # no stop at time 0
    assert st[0] == 0
    out = model.outputs_of_states(y[0], y0[0], rec[0], model.observation.constant_values())
    for col in ("ctx_ng_l", "p1np_ug_l", "pth_pg_ml", "bmd_spine_g_cm2", "bmd_hip_g_cm2",
                "osteoclasts_rel", "denosumab_ng_ml"):
        np.testing.assert_allclose(res[col].to_numpy(), out[col], rtol=2e-4, atol=1e-9,
                                   err_msg=col)


def test_population_varying_only_drug_parameters_solves_the_history_once(monkeypatch):
    model = BoneModel()
    calls: list[tuple[int, int]] = []  # (subjects, output times) of each solve
    solve, observe = model.solve, model.observe

    def counting(records, y0s, t_out_h, **kw):
        calls.append((records.shape[0], len(t_out_h)))
        return solve(records, y0s, t_out_h, **kw)

    def counting_observed(records, y0s, t_out_h, *args, **kw):
        calls.append((records.shape[0], len(t_out_h)))
        return observe(records, y0s, t_out_h, *args, **kw)

    monkeypatch.setattr(model, "solve", counting)
    monkeypatch.setattr(model, "observe", counting_observed)
    sc = _scenario("denosumab")
    pop = pd.DataFrame({"den_vc": [2000.0, 2340.0, 2700.0, 3000.0],
                        "den_ka": [0.005, 0.007, 0.009, 0.011],
                        "k_den_rankl": [0.5, 1.0, 1.5, 2.0]})
    assert set(pop.columns).isdisjoint(model.spec.untreated_parameter_names)
    res = bt.simulate(sc, population=pop, model=model)
    assert res.ok
    history_calls = [c for c in calls if c[1] == 1]
    assert history_calls == [(1, 1)]
    assert calls[-1] == (4, len(res.frame) // 4)
    info = history_cache_info()
    assert (info.misses, info.solves, info.hits) == (1, 1, 3)
    # the drug parameters really leave the history alone: each subject, solved cold alone
    # with its own values, gives the same outputs
    for i, row in pop.iterrows():
        clear_history_cache()
        single = bt.simulate(_scenario("denosumab", parameters=row.to_dict()), model=model)
        _same(res.frame[res.frame["subject"] == i].drop(columns="subject")
              .reset_index(drop=True), single.frame)
        assert history_cache_info().misses == 1


def test_magnesium_intake_is_the_adequate_one_during_the_history():
    """The history runs at the reference magnesium intake: a diet varying it shares one."""
    sc = _scenario("untreated")
    res = bt.simulate(sc, population=pd.DataFrame({"mg_intake_mg_day": [150.0, 320.0, 600.0]}))
    assert history_cache_info().misses == 1
    mg = res.frame.groupby("subject")["magnesium_mmol_l"].last().to_numpy()
    assert mg[0] < mg[1] < mg[2]  # the intake still applies from time 0


def test_untreated_parameters_make_distinct_histories():
    sc = _scenario("untreated")
    pop = pd.DataFrame({"k_ob_removal": [0.00055, 0.0006, 0.00055]})
    bt.simulate(sc, population=pop)
    info = history_cache_info()
    assert (info.misses, info.hits) == (2, 1)
    bt.simulate(sc, population=pop.iloc[:2])  # a later call finds both
    assert history_cache_info().misses == 2
    bt.simulate(_scenario("untreated", patient={"age": 67, "menopause_age": 51}))
    assert history_cache_info().misses == 3  # a longer history is another key
    bt.simulate(sc, model=get_model(1e-7))
    assert history_cache_info().misses == 4  # another tolerance too


def test_no_history_before_menopause():
    bt.simulate(bt.scenario_from_dict({"patient": {"age": 40, "menopause_age": 51},
                                       "years": 0.1}))
    assert history_cache_info().misses == 0


def test_cache_is_bounded_and_least_recently_used_goes_first():
    cache = HistoryCache(maxsize=2)
    entry = (np.zeros(3), 0, 1.0)
    cache.put(b"a", entry)
    cache.put(b"b", entry)
    assert cache.get(b"a") is entry  # a is now the most recent
    cache.put(b"c", entry)
    assert cache.get(b"b") is None and cache.get(b"a") is entry and cache.get(b"c") is entry
    assert cache.info().size == 2 and cache.info().maxsize == 2
    assert HISTORY_CACHE.maxsize >= 256
