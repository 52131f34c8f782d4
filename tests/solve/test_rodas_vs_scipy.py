"""The compiled RODAS4 solver agrees with a plain SciPy solve of the same (generated) equations."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from boneturnover.model.indices import S
from boneturnover.model.system import BoneModel, EventTable, compiled

TRACKED = [S.osteoclasts, S.osteoblasts_fast, S.osteoblasts_slow, S.pth_pmol,
           S.plasma_ca_mmol, S.calcitriol_pmol, S.bmd_spine_rel, S.bmd_hip_rel, S.rankl,
           S.estrogen, S.tgfb_active]


def _scipy(rec, y0, t_out, segments, method):
    """Integrate segment by segment (boluses at segment starts) with SciPy."""
    rhs, jac = compiled().rhs, compiled().jac

    def f(t, y):
        dy = np.zeros_like(y)
        rhs(t, y, rec, dy)
        return dy

    def j(t, y):
        out = np.zeros((y.shape[0], y.shape[0]))
        jac(t, y, rec, out, np.zeros(y.shape[0]))
        return out
    m = BoneModel()
    y = y0.copy()
    out = []
    for (t0, t1, bolus) in segments:
        for idx, amount in bolus:
            y[idx] += amount
        ts = t_out[(t_out > t0) & (t_out <= t1)]
        extra = {"jac": j} if method == "BDF" else {}
        sol = solve_ivp(f, (t0, t1), y, method=method, t_eval=ts, rtol=1e-10,
                        atol=1e-3 * m.atol, **extra)
        assert sol.success, sol.message
        out.append(sol.y.T)
        y = sol.y[:, -1].copy() if ts.size and ts[-1] == t1 else y
    return np.vstack(out)


@pytest.mark.parametrize("method", ["BDF", "LSODA"])
def test_menopause_run_agrees_with_scipy(method):
    m = BoneModel(rtol=1e-6)
    rec = m.records(1)
    rec["menopause_age_y"] = 51.0
    rec["age0_y"] = 48.0
    y0, _ = m.prepare(rec)
    t_out = np.arange(1, 6) * 24.0 * 365.25
    ours, status, _ = m.solve(rec, y0, t_out)
    assert status[0] == 0
    ref = _scipy(rec[0], y0[0].copy(), t_out, [(0.0, t_out[-1], [])], method)
    rel = np.abs(ours[0][:, TRACKED] / ref[:, TRACKED] - 1)
    assert rel.max() < 1e-4


def test_denosumab_dose_agrees_with_scipy():
    m = BoneModel(rtol=1e-6)
    rec = m.records(1)
    y0, _ = m.prepare(rec)
    amount = 60e6 * float(rec["den_f"][0])
    t_out = np.array([24.0, 24.0 * 30, 24.0 * 90, 24.0 * 180, 24.0 * 200, 24.0 * 365])
    ev = EventTable.from_rows([[(0.0, 0, int(S.denosumab_sc_ng), amount),
                                (24.0 * 182.625, 0, int(S.denosumab_sc_ng), amount)]])
    ours, status, _ = m.solve(rec, y0, t_out, events=ev)
    assert status[0] == 0
    segs = [(0.0, 24.0 * 182.625, [(int(S.denosumab_sc_ng), amount)]),
            (24.0 * 182.625, t_out[-1], [(int(S.denosumab_sc_ng), amount)])]
    t_all = np.concatenate([t_out[:4], [24.0 * 182.625], t_out[4:]])
    ref = _scipy(rec[0], y0[0].copy(), t_all, segs, "BDF")
    ref = np.delete(ref, 4, axis=0)
    rel = np.abs(ours[0][:, TRACKED] / ref[:, TRACKED] - 1)
    assert rel.max() < 1e-4
