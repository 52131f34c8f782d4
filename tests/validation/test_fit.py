"""The joint calibration (validation/fit.py): recovery of known values, the split, ranges."""

import math

import numpy as np
import pytest
import tomli_w

import boneturnover as bt
from boneturnover.cli import main
from boneturnover.validation.checks import Check
from boneturnover.validation.dataset import parse_series
from boneturnover.validation.fit import (
    ONE_SIDED_SCALE,
    band_residuals,
    calibrate,
    constraint_checks,
    evaluate_series,
    fit_parameters,
    parse_fit_parameters,
    read_fitted_values,
    result_document,
)
from boneturnover.validation.measures import CheckDefinitionError

pytestmark = pytest.mark.slow

TRUE = {"bp_emax": 3.1, "bp_ec50_nmol": 900.0}
RANGES = {"bp_emax": {"low": 0.8, "high": 6.0, "reason": "test"},
          "bp_ec50_nmol": {"low": 150.0, "high": 2400.0, "reason": "test"}}
COMMON = dict(study="synthetic", source="simulated at known values", population="model",
              run="alendronate", unit="%", se_basis="assumed: 1 %")


def _synthetic(split="calibration", offset=0.0, sid="ctx", se=1.0):
    """CTX-I and P1NP on alendronate, simulated at TRUE (plus ``offset``)."""
    raw = [dict(id=f"{sid}_ctx", quantity="adjusted", output="ctx_ng_l", split=split,
                points=[{"day": d, "value": 0.0, "se": se} for d in (14, 30, 90, 365)],
                **COMMON),
           dict(id=f"{sid}_p1np", quantity="adjusted", output="p1np_ug_l", split=split,
                points=[{"day": d, "value": 0.0, "se": se} for d in (90, 365, 730)],
                **COMMON)]
    sim = evaluate_series([TRUE], parse_series(raw))[0]
    k = 0
    for entry in raw:
        for p in entry["points"]:
            p["value"] = float(sim[k]) + offset
            k += 1
    return raw


@pytest.fixture(scope="module")
def recovered():
    series = parse_series(_synthetic() + _synthetic("validation", offset=40.0, sid="held"))
    return calibrate(parameters=parse_fit_parameters(RANGES), series=series, starts=2,
                     constraints=())


def test_known_values_are_recovered_from_two_starts(recovered):
    for name, value in TRUE.items():
        assert recovered.values[name] == pytest.approx(value, rel=1e-3), name
    assert len(recovered.starts) == 2
    assert recovered.starts[0].start == {"bp_emax": pytest.approx(2.284),
                                         "bp_ec50_nmol": pytest.approx(600.0)}
    assert recovered.cost("after", "calibration") < 1e-6
    assert recovered.cost("before", "calibration") > 1.0
    assert [recovered.determined(i) for i in range(2)] == ["yes", "yes"]


def test_validation_series_never_enter_the_fit(recovered):
    # the held-out series are 40 % off: fitted to, they would pull the values away
    assert recovered.cost("after", "validation") > 0.5 * 7 * 40.0 ** 2 * 0.9
    assert [s.split for s in recovered.validation] == ["validation", "validation"]


def test_a_parameter_no_point_depends_on_is_not_determined():
    ranges = {**RANGES, "romo_ec50_ng_ml": {"low": 500.0, "high": 8000.0, "reason": "t"}}
    result = calibrate(parameters=parse_fit_parameters(ranges),
                       series=parse_series(_synthetic()), starts=1, max_evaluations=6,
                       constraints=())
    names = [p.name for p in result.parameters]
    assert result.determined(names.index("romo_ec50_ng_ml")) == "no"
    assert any("rank 2 of 3" in note for note in result.notes)


def test_fitted_values_round_trip_through_the_file(recovered, tmp_path):
    path = tmp_path / "fitted.toml"
    path.write_bytes(tomli_w.dumps(result_document(recovered)).encode())
    assert read_fitted_values(str(path)) == pytest.approx(dict(recovered.values))


@pytest.mark.parametrize("entry, words", [
    ({"no_such_parameter": {"low": 1, "high": 2, "reason": "r"}}, "not a model parameter"),
    ({"bp_emax": {"low": 3.0, "high": 6.0, "reason": "r"}}, "bundled value 2.284"),
    ({"bp_uptake_floor": {"low": 0.1, "high": 2.0, "scale": "linear", "reason": "r"}},
     "declared bounds [0, 1]"),
    ({"bp_uptake_floor": {"low": 0.0, "high": 0.5, "reason": "r"}}, "scale 'log'"),
    ({"bp_emax": {"low": 1, "high": 6, "scale": "cubic", "reason": "r"}}, "scale 'cubic'"),
    ({"bp_emax": {"low": 1, "high": 6}}, "reason"),
])
def test_bad_search_ranges_are_refused(entry, words):
    with pytest.raises(CheckDefinitionError) as err:
        parse_fit_parameters(entry)
    assert words in str(err.value)


def test_bundled_ranges_hold_their_values():
    spec = bt.load_model()
    assert len(fit_parameters()) >= 20
    for p in fit_parameters():
        assert p.low <= spec.parameter(p.name).value <= p.high, p.name
        assert spec.parameter(p.name).bounds.contains(p.low), p.name
        assert math.isfinite(p.high) and p.reason, p.name


def test_cli_no_fit_prints_both_splits(capsys):
    assert main(["calibrate", "--no-fit"]) == 0
    out = capsys.readouterr().out
    assert "calibration:" in out and "validation:" in out and "root mean square z" in out


@pytest.mark.parametrize("argv, words", [
    (["calibrate", "--starts", "0"], "--starts 0"),
    (["calibrate", "--parameters", "bp_emax,nonsense"], "'nonsense'"),
])
def test_cli_refuses_bad_options(argv, words, capsys):
    assert main(argv) == 2
    assert words in capsys.readouterr().err


def test_validate_values_refuses_a_file_without_parameters(tmp_path, capsys):
    bad = tmp_path / "fitted.toml"
    bad.write_text("[fit]\nstarts = 1\n")
    assert main(["validate", "--values", str(bad)]) == 2
    assert "[parameters]" in capsys.readouterr().err


def _check(low, high, day=90):
    return Check(id="c", description="d", source="s", target="t", low=low, high=high,
                 unit="%", role="calibration",
                 value={"measure": "adjusted_change", "run": "alendronate",
                        "output": "ctx_ng_l", "day": day})


def test_band_residuals_are_zero_inside_and_grow_outside():
    two = _check(-60.0, -40.0)
    one = _check(-1e9, -56.0)
    near_zero = _check(-1e9, 0.0)
    r = band_residuals(np.array([-50.0, -30.0, -70.0, -60.0, -46.0, 5.0]),
                       [two, two, two, one, one, near_zero])
    assert r == pytest.approx([0.0, 1.0, -1.0, 0.0, 10.0 / 56.0, 5.0 / ONE_SIDED_SCALE])


def test_a_constraint_pulls_the_fit_off_data_that_break_it():
    # the data (simulated at bp_emax 3.1, loose: se 20 %) give CTX-I -82.8 % at day 90;
    # the check wants -92 to -88 %: the fit must move bp_emax up, towards the band
    result = calibrate(parameters=parse_fit_parameters({"bp_emax": RANGES["bp_emax"]}),
                       series=parse_series(_synthetic(se=20.0)), starts=1,
                       max_evaluations=20, constraints=[_check(-92.0, -88.0)])
    assert result.values["bp_emax"] > 1.05 * TRUE["bp_emax"]
    assert result.checks_after[0] < -86.0 < -82.8
    assert result.cost("after", "checks") < result.cost("before", "checks")


def test_the_default_constraints_are_the_calibration_checks():
    ids = {c.id for c in constraint_checks()}
    assert {"b21_resorption_nadir", "b31_den_p1np_no_early_rise", "fpt_ls_bmd_21mo"} <= ids
    assert all(c.role == "calibration" for c in constraint_checks())
