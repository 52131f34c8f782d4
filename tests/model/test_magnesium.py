"""Magnesium submodel: unchanged core at adequate intake, mass balance, directions, input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boneturnover.cli import main
from boneturnover.clinical.catalog import MAGNESIUM_REFERENCE
from boneturnover.dosing import Dose
from boneturnover.errors import ScenarioError
from boneturnover.magnesium import elemental_magnesium_mg, magnesium_salts
from boneturnover.model.indices import S
from boneturnover.model.system import BoneModel, get_model
from boneturnover.scenario import Patient, Scenario, scenario_from_dict
from boneturnover.simulation import simulate

MG_POOLS = [S.gut_mg_mmol, S.plasma_mg_mmol, S.bone_mg_mmol, S.soft_mg_mmol]


def test_reference_state_is_steady_and_in_range():
    m = get_model()
    rec = m.records(1)
    y0, status = m.prepare(rec)
    assert status[0] == 0
    for k in (S.plasma_mg_mmol, S.bone_mg_mmol, S.soft_mg_mmol):
        assert y0[0, k] == pytest.approx(m.y_ref[k], rel=1e-9)
    c = y0[0, S.plasma_mg_mmol] / rec["v_ecf_l"][0]
    assert MAGNESIUM_REFERENCE.low_mmol_l <= c <= MAGNESIUM_REFERENCE.high_mmol_l


def test_core_outputs_unchanged_when_couplings_are_off():
    """At adequate intake the couplings are exactly 1: switching them off changes nothing."""
    off = {k: 0.0 for k in ("mg_pth_stim_dep_slope", "mg_pth_stim_rep_slope",
                            "mg_aoh_dep_slope", "mg_pth_sens_dep_slope", "mg_vd_sens_dep_slope",
                            "mg_oc_dep_slope", "mg_oc_rep_slope", "mg_ob_dep_slope",
                            "mg_ob_rep_slope")}
    off["mg_pth_impair_m50"] = 1e-6
    sc = dict(patient=Patient(age_y=50.0, menopause_age_y=51.0), years=5.0,
              output_every_h=24.0 * 30)
    tight = BoneModel(rtol=1e-9)  # so that solver error does not blur the comparison
    a = simulate(Scenario(**sc), model=tight).frame
    b = simulate(Scenario(**sc, parameters=off), model=tight).frame
    core = ["ctx_ng_l", "p1np_ug_l", "pth_pg_ml", "calcium_mmol_l", "calcitriol_pmol_l",
            "bmd_spine_g_cm2", "bmd_hip_g_cm2"]
    np.testing.assert_allclose(a[core].to_numpy(), b[core].to_numpy(), rtol=1e-6)
    m = get_model()
    ra, rb = m.records(1), m.records(1)
    for k, v in off.items():
        rb[k] = v
    ya, _ = m.prepare(ra)
    yb, _ = m.prepare(rb)
    np.testing.assert_allclose(ya, yb, rtol=1e-9)  # the steady state itself is identical


@pytest.mark.parametrize("switch", [{"mg_pt_growth_gate": 0.0},
                                    {"mg_cell_dep_thr_mmol_l": 0.85}])
def test_depletion_switches_are_neutral_at_reference(switch):
    """The gland-growth gate (on by default) and the bone-cell threshold change nothing
    at adequate intake when switched back to the earlier behaviour."""
    sc = dict(patient=Patient(age_y=50.0, menopause_age_y=51.0), years=5.0,
              output_every_h=24.0 * 30)
    tight = BoneModel(rtol=1e-9)
    a = simulate(Scenario(**sc), model=tight).frame
    b = simulate(Scenario(**sc, parameters=switch), model=tight).frame
    core = ["ctx_ng_l", "pth_pg_ml", "calcium_mmol_l", "calcitriol_pmol_l", "bmd_spine_g_cm2"]
    np.testing.assert_allclose(a[core].to_numpy(), b[core].to_numpy(), rtol=1e-6)


@settings(max_examples=6, deadline=None)
@given(intake=st.floats(0.0, 1500.0), scale=st.floats(0.7, 1.3),
       which=st.sampled_from(["mg_gut_transit", "mg_bone_half_life_d", "mg_fe_min"]))
def test_magnesium_mass_balance(intake, scale, which):
    """Gut + plasma + bone + soft tissue change only by dietary intake - urine - faeces."""
    m = get_model()
    rec = m.records(1)
    rec[which] *= scale
    y0, status = m.prepare(rec)
    assert status[0] == 0
    rec["mg_intake_mg_day"] = intake
    m.generated.derive(rec[0], m.y_ref)
    t = np.array([0.0, 24.0 * 365.25 * 2])
    y, st_, _ = m.solve(rec, y0, t)
    assert st_[0] == 0
    total = y[0][:, MG_POOLS].sum(axis=1)
    flow = (y[0][:, S.mg_intake_cum_mmol] - y[0][:, S.mg_urine_cum_mmol]
            - y[0][:, S.mg_faecal_cum_mmol])
    assert abs((total[1] - total[0]) - (flow[1] - flow[0])) < 1e-5 * total[0]


@pytest.fixture(scope="module")
def low_and_adequate():
    def run(intake):
        sc = Scenario(patient=Patient(age_y=65.0, menopause_age_y=51.0), years=3.0,
                      output_every_h=24.0 * 30, parameters={"mg_intake_mg_day": intake})
        return simulate(sc).frame.iloc[-1]
    return run(100.0), run(320.0)


def test_low_intake_directions(low_and_adequate):
    low, ok = low_and_adequate
    assert low["magnesium_mmol_l"] < MAGNESIUM_REFERENCE.low_mmol_l
    assert low["calcitriol_pmol_l"] < ok["calcitriol_pmol_l"]
    assert low["ctx_ng_l"] / ok["ctx_ng_l"] > low["p1np_ug_l"] / ok["p1np_ug_l"]
    assert low["bmd_spine_g_cm2"] < ok["bmd_spine_g_cm2"]
    assert low["bone_magnesium_mmol"] < ok["bone_magnesium_mmol"]


def test_supplementation_lowers_turnover_in_replete_adult():
    sc = Scenario(patient=Patient(age_y=25.0), years=30.0 / 365.25,
                  doses=(Dose("gut_magnesium", 15.0, "mmol", every_h=24.0),))
    df = simulate(sc).frame
    assert df["magnesium_mmol_l"].iloc[-1] > df["magnesium_mmol_l"].iloc[0]
    assert df["ctx_ng_l"].iloc[-1] < df["ctx_ng_l"].iloc[0]
    assert df["p1np_ug_l"].iloc[-1] < df["p1np_ug_l"].iloc[0]


def test_ca_mg_ratio_counts_supplements():
    sc = scenario_from_dict({
        "years": 0.1, "patient": {"age": 40}, "magnesium": {"intake_mg_day": 150},
        "dose": [{"compartment": "gut_magnesium", "amount": "300 mg", "every": "1 d"},
                 {"compartment": "gut_calcium", "amount": "1000 mg", "every": "1 d"}]})
    df = simulate(sc).frame
    diet_ca = 1.00229167 * 24 * 40.078
    assert df["ca_mg_intake_ratio"].iloc[5] == pytest.approx((diet_ca + 1000) / 450, rel=1e-6)


def test_salts():
    assert magnesium_salts()["oxide"] == pytest.approx(0.603, abs=1e-3)
    assert elemental_magnesium_mg(1000, "hydroxide") == pytest.approx(417, abs=1)
    with pytest.raises(ScenarioError, match="carbonate.*expected one of"):
        elemental_magnesium_mg(100, "carbonate")


@pytest.mark.parametrize("value", [-1, 5001, "lots"])
def test_bad_intake_exits_2(tmp_path, capsys, value):
    f = tmp_path / "s.toml"
    v = f'"{value}"' if isinstance(value, str) else value
    f.write_text(f"years = 1\n[patient]\nage = 60\n[magnesium]\nintake_mg_day = {v}\n")
    assert main(["simulate", str(f), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "magnesium.intake_mg_day" in err and len(err.strip().splitlines()) == 1


def _woman_6y(supplement_mg_day):
    """65-year-old woman on 100 mg/day for 5 years, then a supplement (or none) for 1 year."""
    yh = 24.0 * 365.25
    doses = ()
    if supplement_mg_day:
        doses = (Dose("gut_magnesium", supplement_mg_day, "mg", time_h=5 * yh, every_h=24.0,
                      until_h=6 * yh),)
    sc = Scenario(patient=Patient(age_y=65.0, menopause_age_y=51.0), years=6.0,
                  output_every_h=24.0 * 7, parameters={"mg_intake_mg_day": 100.0}, doses=doses)
    df = simulate(sc).frame
    t = df["time_d"].to_numpy()
    before = df.iloc[int(np.flatnonzero(t < 5 * 365.25)[-1])]
    return before, df.iloc[-1]


def test_supplementing_depleted_woman_reverses_without_collapse():
    """600 mg/day for a year: BMD better than continuing the depleted diet, serum Mg and
    calcitriol up, resorption down, and no runaway collapse of the bone cells."""
    b0, e0 = _woman_6y(0.0)
    b1, e1 = _woman_6y(600.0)
    bmd = lambda b, e: e["bmd_spine_g_cm2"] / b["bmd_spine_g_cm2"]  # noqa: E731
    assert bmd(b1, e1) > bmd(b0, e0)
    assert e1["magnesium_mmol_l"] > b1["magnesium_mmol_l"]
    assert e1["calcitriol_pmol_l"] > b1["calcitriol_pmol_l"]
    assert e1["ctx_ng_l"] < b1["ctx_ng_l"]
    assert e1["osteoclasts_rel"] / b1["osteoclasts_rel"] > 0.5
    assert e1["osteoblasts_rel"] / b1["osteoblasts_rel"] > 0.5


def test_acute_depletion_pth_not_raised_and_calcium_falls():
    """Fatemi 1991: 12 mg/day for 3 weeks, PTH flat or falling, calcium falling."""
    sc = Scenario(patient=Patient(age_y=30.0), years=21.0 / 365.25,
                  parameters={"mg_intake_mg_day": 12.0})
    df = simulate(sc).frame
    assert df["pth_pg_ml"].iloc[-1] <= 1.1 * df["pth_pg_ml"].iloc[0]
    assert df["calcium_mmol_l"].iloc[-1] < df["calcium_mmol_l"].iloc[0]


def test_chronic_low_intake_no_hypercalcaemia(low_and_adequate):
    low, ok = low_and_adequate
    assert low["calcium_mmol_l"] <= ok["calcium_mmol_l"] * 1.01
    assert low["pth_pg_ml"] < 2.0 * ok["pth_pg_ml"]


def test_bone_cell_threshold_is_the_clinical_reference_limit():
    """One place for the reference interval: the model's bone-cell threshold is the
    clinical catalog's lower limit."""
    par = get_model().spec.parameter("mg_cell_dep_thr_mmol_l")
    assert par.value == pytest.approx(MAGNESIUM_REFERENCE.low_mmol_l)
    assert par.unit == "mmol/L"


def test_supplement_250_reverses_and_in_range_intake_spares_bone_cells():
    """250 mg/day for a year: resorption falls and BMD does better than staying depleted.
    At 150 mg/day serum Mg stays in range, so osteoclast recruitment is not raised by Mg
    itself: it is the same as with the bone-cell couplings switched off."""
    b0, e0 = _woman_6y(0.0)
    b1, e1 = _woman_6y(250.0)
    bmd = lambda b, e: e["bmd_spine_g_cm2"] / b["bmd_spine_g_cm2"]  # noqa: E731
    assert bmd(b1, e1) > bmd(b0, e0)
    assert e1["ctx_ng_l"] < b1["ctx_ng_l"]
    sc = dict(patient=Patient(age_y=65.0, menopause_age_y=51.0), years=5.0,
              output_every_h=24.0 * 30)
    on = simulate(Scenario(**sc, parameters={"mg_intake_mg_day": 150.0})).frame.iloc[-1]
    off = simulate(Scenario(**sc, parameters={"mg_intake_mg_day": 150.0,
                                              "mg_oc_dep_slope": 0.0,
                                              "mg_ob_dep_slope": 0.0})).frame.iloc[-1]
    assert on["magnesium_mmol_l"] > MAGNESIUM_REFERENCE.low_mmol_l
    assert on["osteoclasts_rel"] == pytest.approx(off["osteoclasts_rel"], rel=1e-3)
