"""The validation report: menopause behaviour of seed:B10-B14, with numbers."""

import pytest

from boneturnover.cli import main
from boneturnover.validate import all_checks, run_validation


@pytest.fixture(scope="module")
def results():
    return {r.check.id: r for r in run_validation()}


@pytest.mark.parametrize("check_id", [
    "steady_state", "remodelling_doubles", "ctx_rises", "ctx_stays_high", "p1np_rises",
    "p1np_levels", "p1np_above_pre", "spine_loss_transition", "hip_slower",
    "formation_declines_with_age", "baseline_ctx_ng_l", "baseline_p1np_ug_l",
])
def test_menopause_checks_pass(results, check_id):
    r = results[check_id]
    assert r.passed, f"{check_id}: {r.value} not in [{r.check.low}, {r.check.high}]"


def test_every_check_names_a_source():
    for c in all_checks():
        assert c.source and c.target


def test_validate_prints_every_check(capsys):
    status = main(["validate"])
    out = capsys.readouterr().out
    for c in all_checks():
        assert c.id in out
    assert ("FAIL" in out) == (status == 1)


# Drug checks that pass today (regression guard). The misses reported by
# `boneturnover validate` (FREEDOM extension spine BMD at 10 years, SWAN early/late
# ratio, four magnesium checks)
# are listed in the closing notes and docs, not asserted away.
@pytest.mark.parametrize("check_id", [
    "freedom_ctx_1mo", "freedom_ls_bmd_36mo", "horizon_ls_bmd_36mo", "more_ls_bmd_36mo",
    "fpt_ls_bmd_21mo", "den_stop_ctx_above_baseline", "den_stop_p1np_above_baseline",
    "den_stop_ctx_rising_3mo", "den_stop_bmd_near_baseline", "b21_formation_nadir",
    "b23_alendronate_ctx_beyond_lsc", "b23_order", "b26_zol_faster", "b32_den_vs_zol_ctx",
    "b32_den_vs_zol_bmd", "b35_ral_smaller", "b35_ral_slower", "b36_teri_p1np_early",
    "b36_teri_ctx_later", "b36_teri_p1np_10ug", "b36_teri_plus_den", "b36_after_bp",
    "b37_romo_p1np_1mo", "b37_romo_p1np_3mo", "b37_romo_p1np_6mo", "b37_romo_ctx_low",
    "b31_den_ctx_days", "b31_den_sustained", "b31_den_p1np_nadir",
    "b31_den_p1np_no_early_rise", "b27_zol_pause", "b27_zol_pause_small_rise",
    "b23_ibandronate_ctx_beyond_lsc", "b23_alendronate_p1np_beyond_lsc",
    "b23_responders_pooled", "b21_resorption_nadir", "b26_zol_further_resorption",
    "b26_zol_further_p1np", "spine_loss_transition", "frame_ls_bmd_12mo",
    "horizon_p1np_12mo", "remodelling_doubles",
])
def test_drug_checks_pass(results, check_id):
    r = results[check_id]
    assert r.passed, f"{check_id}: {r.value} not in [{r.check.low}, {r.check.high}]"


def test_validate_writes_one_plot_per_drug(tmp_path):
    assert main(["validate", "--plots", str(tmp_path)]) in (0, 1)
    names = {p.stem for p in tmp_path.glob("*.png")}
    assert {"alendronate", "zoledronate", "denosumab", "raloxifene", "teriparatide",
            "romosozumab"} <= names


def _check(check_id):
    return next(c for c in all_checks() if c.id == check_id)


def test_overridden_model_changes_the_checks_and_then_restores_the_bundled_model():
    from boneturnover.validate import overridden_model

    check = _check("b23_alendronate_ctx_beyond_lsc")
    bundled = check.compute()
    with overridden_model({"bp_emax": 1.0}):
        weaker = check.compute()
    # a third of the maximal effect: alendronate suppresses CTX-I far less
    assert weaker > bundled + 20.0, (bundled, weaker)
    assert check.compute() == pytest.approx(bundled, abs=1e-9)


@pytest.mark.parametrize("args, message", [
    (["--set", "nosuch=1"], "'nosuch' is not a model parameter"),
    (["--set", "bp_emax"], "expected NAME=VALUE"),
    (["--set", "bp_emax=abc"], "'abc' is not a finite number"),
    (["--set", "bp_emax=nan"], "'nan' is not a finite number"),
    (["--set", "bp_emax=1", "--set", "bp_emax=2"], "already set"),
])
def test_validate_set_refuses_bad_overrides(capsys, args, message):
    assert main(["validate", *args]) == 2
    assert message in capsys.readouterr().err
