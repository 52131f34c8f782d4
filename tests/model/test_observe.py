"""The output columns computed inside the compiled solve equal the same outputs computed
from the solved states with independent NumPy formulas."""

from __future__ import annotations

import numpy as np
import pytest

from boneturnover.dosing import realize
from boneturnover.model.indices import HOURS_PER_YEAR, S
from boneturnover.model.outputs import calibration, observation
from boneturnover.model.system import EventTable, get_model
from boneturnover.scenario import scenario_from_dict


def _reference_columns(y, y_base, rec, c):
    """The outputs by hand, from the states (the formulas of docs/MODEL.md)."""
    def resorption(v):
        oc = np.maximum(v[..., S.osteoclasts], 1e-300)
        rr = np.maximum(v[..., S.rank_rankl], 0.0)
        g = float(rec["j14_oc_gamma"])
        hill = oc**g / (oc**g + float(rec["j14oc50"]) ** g)
        amounts = {d: float(rec[f"{d}_potency"])
                   * np.maximum(v[..., getattr(S, f"bp_surface_{d}_nmol")], 0.0)
                   for d in ("aln", "iba", "ris", "zol")}
        total = sum(amounts.values())
        occ = (total + (float(rec["zol_efficacy"]) - 1) * amounts["zol"]) / (
            total + float(rec["bp_ec50_nmol"]))
        act = np.maximum(1 - float(rec["bp_act_imax"]) * occ, 0.0)
        return act * hill * ((rr / oc) / float(rec["moc_ratio0"])) ** float(
            rec["rank_rankl_oc_gamma"])

    ob = (y[:, S.osteoblasts_fast] + y[:, S.osteoblasts_slow] + y[:, S.osteoblasts_modeling])
    ob_base = y_base[S.osteoblasts_fast] + y_base[S.osteoblasts_slow]
    rel = {"resorption": resorption(y) / resorption(y_base),
           "osteoclasts": y[:, S.osteoclasts] / y_base[S.osteoclasts], "osteoblasts": ob / ob_base}
    names = observation().constants
    const = dict(zip(names, c, strict=True))
    out = {col: m["centre"] * rel[m["state_basis"]] for col, m in calibration()["markers"].items()}
    v = float(rec["v_ecf_l"])
    out["pth_pg_ml"] = y[:, S.pth_pmol] / v * const["pth_pg_per_pmol"]
    out["calcium_mmol_l"] = y[:, S.plasma_ca_mmol] / v
    out["bmd_spine_g_cm2"] = y[:, S.bmd_spine_rel] * const["bmd_premenopausal_spine_g_cm2"]
    out["t_score_hip"] = (y[:, S.bmd_hip_rel] * const["bmd_premenopausal_hip_g_cm2"]
                          - const["hip_young_mean_g_cm2"]) / const["hip_young_sd_g_cm2"]
    out["denosumab_ng_ml"] = np.maximum(y[:, S.denosumab_central_ng], 0) / float(rec["den_vc"])
    out["magnesium_mmol_l"] = y[:, S.plasma_mg_mmol] / v
    return out


@pytest.mark.parametrize("regimen", ["denosumab", "zoledronate", "alendronate"])
def test_compiled_columns_equal_formulas_on_the_states(regimen):
    model = get_model()
    sc = scenario_from_dict({"patient": {"age": 60, "menopause_age": 51}, "years": 1,
                             "regimen": regimen}, regimen)
    rec = model.records(1)
    rec["age0_y"], rec["menopause_age_y"] = 55.0, 51.0
    y0, _ = model.prepare(rec)
    hist_h = 5 * HOURS_PER_YEAR
    index = {s.name: s.index for s in model.spec.states}
    ev = EventTable.from_rows([realize(list(sc.doses), HOURS_PER_YEAR, rec[0], index,
                                       offset_h=hist_h)])
    t = hist_h + np.arange(0.0, HOURS_PER_YEAR, 24.0 * 7)
    c = model.observation.constant_values(1.1, 0.9)
    y, st, _ = model.solve(rec, y0, t, events=ev)
    base = model.baseline(rec, y0)
    cols, y_end, st2, _ = model.observe(rec, y0, t, base, c, events=ev)
    assert st[0] == 0 and st2[0] == 0
    np.testing.assert_allclose(y_end[0], y[0, -1], rtol=1e-12)
    ref = _reference_columns(y[0], y0[0], rec[0], c)
    names = model.generated.COLUMNS
    assert set(ref) <= set(names)
    for name, expected in ref.items():
        got = cols[0, :, names.index(name)]
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14, err_msg=name)
    # the outputs move under the drug (a zero column would pass the comparison trivially)
    ctx = cols[0, :, names.index("ctx_ng_l")]
    assert ctx.min() < 0.8 * ctx[0]


def test_observation_names_every_compiled_column_once():
    obs = observation()
    assert len(set(obs.column_names)) == len(obs.column_names)
    assert "ca_mg_intake_ratio" not in obs.column_names
    assert len(obs.constant_values()) == len(obs.constants)
