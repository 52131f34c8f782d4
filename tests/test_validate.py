"""The validation report: menopause behaviour of seed:B10-B14, with numbers."""

import pytest

from boneturnover.cli import main
from boneturnover.validate import CHECKS, run_validation


@pytest.fixture(scope="module")
def results():
    return {r.check.id: r for r in run_validation()}


@pytest.mark.parametrize("check_id", [
    "steady_state", "remodelling_doubles", "ctx_rises", "ctx_stays_high", "p1np_rises",
    "p1np_levels", "p1np_above_pre", "spine_loss_fastest_early", "hip_slower",
    "formation_declines_with_age", "baseline_ctx_ng_l", "baseline_p1np_ug_l",
])
def test_menopause_checks_pass(results, check_id):
    r = results[check_id]
    assert r.passed, f"{check_id}: {r.value} not in [{r.check.low}, {r.check.high}]"


def test_every_check_names_a_source():
    for c in CHECKS:
        assert c.source and c.target


def test_validate_prints_every_check(capsys):
    status = main(["validate"])
    out = capsys.readouterr().out
    for c in CHECKS:
        assert c.id in out
    assert ("FAIL" in out) == (status == 1)
