"""The validation report: checks as data, evaluated over named runs."""

import re
from pathlib import Path

import pytest

import boneturnover as bt
from boneturnover.cli import main
from boneturnover.knowledge.sources import fact_ids, resolve
from boneturnover.validation import Runs, checks, format_table, run_definitions, run_validation
from boneturnover.validation.dataset import calibration_set
from boneturnover.validation.measures import CheckDefinitionError, evaluate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    return Runs(bt.get_model())


@pytest.fixture(scope="module")
def results(runs):
    return {r.check.id: r for r in run_validation(runs=runs)}


def all_checks():
    return checks()


@pytest.mark.parametrize("check_id", [
    "steady_state", "remodelling_doubles", "ctx_rises", "ctx_stays_high", "p1np_rises",
    "p1np_levels", "p1np_above_pre", "spine_loss_transition", "hip_slower",
    "formation_declines_with_age", "baseline_ctx_ng_l", "baseline_p1np_ug_l",
])
def test_menopause_checks_pass(results, check_id):
    r = results[check_id]
    assert r.passed, f"{check_id}: {r.value} not in [{r.check.low}, {r.check.high}]"


def test_every_check_names_a_source_a_role_and_known_runs():
    names = set(run_definitions())
    for c in all_checks():
        assert c.source and c.target
        assert c.role in ("calibration", "partial", "construction", "validation")
        assert c.low <= c.high, c.id
        assert set(c.runs) <= names, (c.id, set(c.runs) - names)


def test_check_ids_are_unique():
    ids = [c.id for c in all_checks()]
    assert len(ids) == len(set(ids))


def test_trial_endpoint_band_is_derived_from_the_published_value():
    c = next(c for c in all_checks() if c.id == "horizon_ls_bmd_36mo")
    assert c.published == 6.7
    assert (c.low, c.high) == pytest.approx((0.75 * 6.7, 1.25 * 6.7))
    assert c.target == "+6.7 % (+/-25 %)"


def test_lsc_band_comes_from_the_marker_catalogue():
    lsc = bt.marker_catalogue()["CTX_I"].lsc_pct
    c = next(c for c in all_checks() if c.id == "b23_alendronate_ctx_beyond_lsc")
    assert c.high == -lsc
    assert f"{lsc:g} %" in c.description


def test_an_unknown_measure_is_a_named_error(runs):
    with pytest.raises(CheckDefinitionError, match="unknown measure 'nosuch'"):
        evaluate(runs, {"measure": "nosuch"})
    with pytest.raises(CheckDefinitionError, match="terms"):
        evaluate(runs, {"measure": "difference", "terms": [{"measure": "last"}]})


def test_combinators_compose_measures(runs):
    a = {"measure": "at_day", "run": "premenopausal", "output": "ctx_ng_l", "day": 10}
    b = {"measure": "at_day", "run": "premenopausal", "output": "ctx_ng_l", "day": 0}
    va, vb = evaluate(runs, a), evaluate(runs, b)
    assert evaluate(runs, {"measure": "difference", "terms": [a, b]}) == va - vb
    assert evaluate(runs, {"measure": "ratio", "terms": [a, b]}) == va / vb
    assert evaluate(runs, {"measure": "max", "terms": [a, b]}) == max(va, vb)


def test_validate_prints_every_check_and_writes_one_plot_per_drug(capsys, tmp_path):
    status = main(["validate", "--plots", str(tmp_path)])
    out = capsys.readouterr().out
    for c in all_checks():
        assert c.id in out
    assert ("FAIL" in out) == (status == 1)
    names = {p.stem for p in tmp_path.glob("*.png")}
    assert {"alendronate", "zoledronate", "denosumab", "raloxifene", "teriparatide",
            "romosozumab"} <= names
    # and one per series of the calibration set, each a PNG image
    assert {f"series_{s.id}" for s in calibration_set()} <= names
    for s in calibration_set():
        assert (tmp_path / f"series_{s.id}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_validate_plots_into_a_file_is_refused_before_any_work(capsys, tmp_path):
    target = tmp_path / "file.png"
    target.write_text("x")
    assert main(["validate", "--plots", str(target)]) == 2
    assert "is a file; expected a directory" in capsys.readouterr().err


# Checks that pass (regression guard). The misses that `boneturnover validate` reports
# (FREEDOM extension spine BMD at 10 years, SWAN early/late ratio, four magnesium
# checks) are documented in docs/CALIBRATION.md, not asserted away.
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


def _check(check_id):
    return next(c for c in all_checks() if c.id == check_id)


def test_a_model_variant_changes_the_checks_and_leaves_the_bundled_model(runs):
    check = _check("b23_alendronate_ctx_beyond_lsc")
    bundled = check.compute(runs)
    variant = Runs(bt.BoneModel(bt.load_model().with_values({"bp_emax": 1.0})))
    weaker = check.compute(variant)
    # a third of the maximal effect: alendronate suppresses CTX-I far less
    assert weaker > bundled + 20.0, (bundled, weaker)
    assert check.compute(Runs(bt.get_model())) == pytest.approx(bundled, abs=1e-9)


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


# Every check that passed before the absolute single-patient checks were added (79 of the
# then 85), by id: the new checks, runs and measures must leave each of them passing.
PASSING_BEFORE_ABSOLUTE = (
    "steady_state",
    "baseline_ctx_ng_l",
    "baseline_p1np_ug_l",
    "baseline_bsap_ug_l",
    "baseline_osteocalcin_ug_l",
    "baseline_trap5b_u_l",
    "remodelling_doubles",
    "ctx_rises",
    "ctx_stays_high",
    "p1np_rises",
    "p1np_levels",
    "p1np_above_pre",
    "spine_loss_transition",
    "hip_slower",
    "formation_declines_with_age",
    "freedom_ctx_1mo",
    "freedom_ls_bmd_36mo",
    "horizon_ls_bmd_36mo",
    "horizon_p1np_12mo",
    "more_ls_bmd_36mo",
    "fpt_ls_bmd_21mo",
    "frame_ls_bmd_12mo",
    "den_stop_ctx_above_baseline",
    "den_stop_p1np_above_baseline",
    "den_stop_ctx_rising_3mo",
    "den_stop_bmd_near_baseline",
    "b21_resorption_nadir",
    "b21_formation_nadir",
    "b23_alendronate_ctx_beyond_lsc",
    "b23_ibandronate_ctx_beyond_lsc",
    "b23_responders_pooled",
    "b23_alendronate_p1np_beyond_lsc",
    "b23_order",
    "b26_zol_faster",
    "b26_zol_further_resorption",
    "b26_zol_further_p1np",
    "b27_zol_pause",
    "b27_zol_pause_small_rise",
    "b31_den_ctx_days",
    "b31_den_p1np_nadir",
    "b31_den_p1np_no_early_rise",
    "b31_den_sustained",
    "b32_den_vs_zol_ctx",
    "b32_den_vs_zol_bmd",
    "b35_ral_smaller",
    "b35_ral_slower",
    "b36_teri_p1np_early",
    "b36_teri_ctx_later",
    "b36_teri_p1np_10ug",
    "b36_teri_plus_den",
    "b36_after_bp",
    "b37_romo_p1np_1mo",
    "b37_romo_p1np_3mo",
    "b37_romo_p1np_6mo",
    "b37_romo_ctx_low",
    "mg_adequate_serum",
    "mg_adequate_core_unchanged",
    "mg_m18_osteocalcin",
    "mg_m18_p1np",
    "mg_m18_ctx",
    "mg_m18_serum",
    "mg_fatemi_serum",
    "mg_fatemi_calcitriol",
    "mg_fatemi_calcium",
    "mg_fatemi_pth",
    "mg_low_serum",
    "mg_low_calcitriol",
    "mg_low_uncoupling",
    "mg_low_bmd",
    "mg_severe_pth",
    "mg_severe_calcium",
    "mg_supp250_serum",
    "mg_supp250_calcitriol",
    "mg_supp250_ctx",
    "mg_supp250_bmd_vs_depleted",
    "mg_supp600_serum",
    "mg_supp600_calcitriol",
    "mg_supp600_ctx",
    "mg_supp600_bmd_vs_depleted",
)

# The absolute single-patient checks (and hip endpoints) that pass on the bundled model.
ABSOLUTE_PASSING = (
    "abs_swan_ls_10y", "abs_zol_ctx_in_pre_ri", "abs_zol_p1np_in_pre_ri",
    "horizon_hip_bmd_36mo", "abs_ca_low_alendronate", "abs_ca_low_risedronate",
    "abs_ca_low_ibandronate", "abs_ca_low_zoledronate", "abs_ca_low_raloxifene",
    "abs_ca_low_teriparatide", "abs_ca_low_romosozumab", "abs_ca_high_any_drug",
)


@pytest.mark.parametrize("check_id", PASSING_BEFORE_ABSOLUTE + ABSOLUTE_PASSING)
def test_checks_that_passed_still_pass(results, check_id):
    r = results[check_id]
    assert r.passed, f"{check_id}: {r.value} not in [{r.check.low}, {r.check.high}]"


def test_every_miss_is_documented(results):
    """A check that fails is listed, by id, in docs/VALIDATION.md or docs/CALIBRATION.md."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "VALIDATION.md").read_text("utf-8") + (docs / "CALIBRATION.md").read_text(
        "utf-8")
    undocumented = [i for i, r in results.items() if not r.passed and f"`{i}`" not in text]
    assert not undocumented, undocumented


def test_every_calibration_target_is_named_in_calibration_md():
    text = (Path(__file__).resolve().parents[2] / "docs" / "CALIBRATION.md").read_text("utf-8")
    missing = [c.id for c in all_checks() if c.role == "calibration" and c.id not in text]
    assert not missing, missing


def test_every_source_renders_and_its_fact_keys_resolve():
    for c in all_checks():
        text = bt.render_sources(c.source)  # raises on an unknown fact key
        assert "seed:" not in text, c.id
        for fid in fact_ids(c.source):
            assert resolve(fid).id == fid, (c.id, fid)


def test_absolute_checks_carry_a_dated_source_and_a_role():
    absolute = [c for c in all_checks() if c.absolute]
    assert len(absolute) >= 30
    for c in absolute:
        assert c.id.startswith("abs_"), c.id
        assert re.search(r"\b(19|20)\d\d\b", c.source) or fact_ids(c.source), c.id
        assert c.role in ("calibration", "partial", "validation"), c.id
    assert not any(c.absolute for c in all_checks() if not c.id.startswith("abs_"))


def test_report_counts_roles_failures_and_absolute_checks(results):
    table = format_table(list(results.values()))
    n_abs = sum(r.check.absolute for r in results.values())
    n_abs_pass = sum(r.check.absolute and r.passed for r in results.values())
    assert f"absolute single-patient checks: {n_abs_pass} of {n_abs} pass" in table
    n_fail = sum(not r.passed for r in results.values())
    assert f"{len(results) - n_fail} passed, {n_fail} failed" in table
    assert "failed: " in table and "calibration targets (not independent)" in table


def test_reference_interval_limits_come_from_the_marker_catalogue():
    ca = bt.marker_catalogue()["CA"].ri
    c = _check("abs_ca_low_denosumab")
    assert (c.low, c.high) == (ca.low, ca.high)
    assert f"{ca.low:g}-{ca.high:g} mmol/L" in c.target
