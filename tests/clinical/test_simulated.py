"""A simulated trajectory is interpreted like the same numbers entered as lab results."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from boneturnover.cli import main
from boneturnover.clinical import (
    CATALOG,
    TreatmentRecord,
    interpret,
    load_patient,
    patient_from_simulation,
    read_simulation,
)
from boneturnover.clinical.simulated import default_sample_days
from boneturnover.errors import InputError
from boneturnover.model.outputs import OUTPUTS
from boneturnover.scenario import scenario_from_dict
from boneturnover.simulation import simulate

START = "2023-01-02"
SCENARIO = {"patient": {"age": 65, "menopause_age": 51}, "years": 1.5,
            "treatment": [{"drug": "denosumab", "dose": "60 mg"},
                          {"drug": "calcium", "dose": "1250 mg", "salt": "carbonate"}]}
#: A name a laboratory might print for each simulated marker (aliases of the catalogue).
LAB_NAMES = {"CTX_I": "beta-CTX", "P1NP_TOTAL": "PINP", "BALP": "bone ALP",
             "OC": "osteocalcin", "TRAP5B": "TRACP-5b", "CA": "calcium", "PTH": "iPTH",
             "MG": "magnesium"}


@pytest.fixture(scope="module")
def run():
    sc = scenario_from_dict(SCENARIO)
    return sc, simulate(sc).frame


def _key(f):
    nums = tuple(sorted((k, round(v, 9) if isinstance(v, float) else v)
                        for k, v in f.numbers.items()))
    return (f.rule_id, f.code, f.severity, f.marker, f.date, f.drug,
            None if f.value is None else round(f.value, 9), nums)


def _as_lab_file(patient, path: Path) -> Path:
    """The same record written by hand: marker names as a laboratory prints them."""
    lines = ["[patient]", f'id = "{patient.patient_id}"', f'birth_date = "{patient.birth_date}"',
             f"calcium_supplement_mg_d = {patient.calcium_supplement_mg_d!r}"]
    for m in patient.measurements:
        lines += ["[[measurements]]", f'date = "{m.date}"', f'marker = "{LAB_NAMES[m.marker]}"',
                  f"value = {m.value!r}", f'unit = "{m.unit}"', "fasting = true"]
    for mid, ov in patient.assay.items():
        lines += [f"[assay.{mid}]", f'interval = "{ov["interval"]}"']
    names = {"denosumab": "Prolia", "calcium": "calcium carbonate"}
    for t in patient.treatments:
        lines += ["[[treatments]]", f'drug = "{names[t.drug]}"', f'start = "{t.start}"',
                  f'route = "{t.route}"', f"dose = {t.dose!r}", f'dose_unit = "{t.dose_unit}"',
                  f'interval = "{"6 mo" if t.drug == "denosumab" else "1 d"}"',
                  f'last_dose = "{t.last_dose}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_model_outputs_map_to_markers_in_their_unit():
    units = {o.name: o.unit for o in OUTPUTS}
    assert dict(CATALOG.model_outputs) == {
        "ctx_ng_l": "CTX_I", "trap5b_u_l": "TRAP5B", "p1np_ug_l": "P1NP_TOTAL",
        "bsap_ug_l": "BALP", "osteocalcin_ug_l": "OC", "calcium_mmol_l": "CA",
        "pth_pg_ml": "PTH", "magnesium_mmol_l": "MG"}
    for col, mid in CATALOG.model_outputs.items():
        assert units[col] == CATALOG[mid].canonical_unit, col


def test_simulated_trajectory_gives_the_findings_of_the_same_lab_results(run, tmp_path):
    sc, frame = run
    sim = patient_from_simulation(frame, start_date=START, treatments=sc.treatments)
    lab = load_patient(_as_lab_file(sim, tmp_path / "lab.toml"))
    today = max(m.date for m in sim.measurements)
    a, b = interpret(sim, today=today), interpret(lab, today=today)
    assert [_key(f) for f in a.findings] == [_key(f) for f in b.findings]
    codes = set(a.codes)
    assert {"RESPONSE_ADEQUATE", "NOT_DIAGNOSTIC"} <= codes  # denosumab suppresses CTX-I
    ctx = [f for f in a.by_code("RESPONSE_ADEQUATE") if f.marker == "CTX_I"]
    assert ctx and ctx[-1].numbers["change_pct"] < -80  # seed:B31
    assert "DENOSUMAB_OVERDUE" not in codes  # the scenario's doses are all on time
    ctx_band = next(s for s in a.series if s.marker == "CTX_I")
    assert (ctx_band.ri_low, ctx_band.ri_high) == (114.0, 628.0)  # the model's interval


def test_intervals_are_the_models_or_the_clinical_defaults(run):
    _, frame = run
    model = patient_from_simulation(frame, start_date=START, sample_days=[0])
    assert model.assay["OC"] == {"interval": "elecsys_nmid"} and "CA" not in model.assay
    default = patient_from_simulation(frame, start_date=START, sample_days=[0],
                                      intervals="default")
    assert default.assay == {}
    # day 0, untreated: osteocalcin is inside the interval of the assay the model is
    # calibrated to (11-43 ug/L), above the clinical default (6.73-24.27 ug/L)
    assert 24.27 < frame["osteocalcin_ug_l"].iloc[0] < 43.0
    high = {k: {f.marker for f in interpret(p, today=START).by_code("TURNOVER_HIGH")}
            for k, p in (("model", model), ("default", default))}
    assert "OC" in high["default"] and "OC" not in high["model"]


def test_samples_are_baseline_and_every_three_months(run):
    sc, frame = run
    p = patient_from_simulation(frame, start_date=START, treatments=sc.treatments)
    days = default_sample_days(frame["time_d"].max())
    assert days == [0, 91, 183, 274, 365, 457]  # 1.5 years: day 0 to 547
    ctx = [m for m in p.measurements if m.marker == "CTX_I"]
    assert [m.date for m in ctx][:2] == [START, "2023-04-03"]
    assert ctx[0].value == frame["ctx_ng_l"].iloc[0] and all(m.fasting for m in ctx)
    assert {m.marker for m in p.measurements} == set(CATALOG.model_outputs.values())
    assert p.birth_date == "1958-01-02"  # 65 years before day 0


def test_scenario_treatments_become_courses(run):
    sc, frame = run
    p = patient_from_simulation(frame, start_date=START, treatments=sc.treatments)
    den, ca = p.treatments
    assert (den.drug, den.start, den.stop, den.route) == ("denosumab", START, None, "sc")
    assert den.interval == "182.625 d" and den.last_dose == "2024-01-02"  # third dose, day 365
    assert (ca.drug, ca.dose, ca.dose_unit) == ("calcium", 1250.0, "mg")
    assert p.calcium_supplement_mg_d == pytest.approx(500.0)  # carbonate is 40% calcium
    stopped = scenario_from_dict({**SCENARIO, "treatment": [
        {"drug": "denosumab", "dose": "60 mg", "stop": "12 months"}]})
    (course,) = patient_from_simulation(frame, start_date=START,
                                        treatments=stopped.treatments).treatments
    assert course.stop == "2023-07-03"  # the last dose before the stop: day 182
    given = TreatmentRecord("alendronate", "2020-01-01", "2022-12-01")
    assert patient_from_simulation(frame, treatments=[given]).treatments == (given,)


def test_sampling_choices(run):
    _, frame = run
    every = patient_from_simulation(frame, sample_days="all", markers=["CTX"])
    assert len(every.measurements) == len(frame)
    some = patient_from_simulation(frame, sample_days=[0, 30.2, 400], markers=["P1NP"])
    assert [m.source for m in some.measurements] == ["simulation day 0", "simulation day 30",
                                                     "simulation day 400"]
    for kwargs, message in (({"sample_days": [900]}, "outside the simulation"),
                            ({"markers": ["ALP"]}, "not in the simulation"),
                            ({"start_date": "soon"}, "not a date")):
        with pytest.raises(InputError, match=message):
            patient_from_simulation(frame, **kwargs)
    with pytest.raises(InputError, match="no marker column"):
        patient_from_simulation(frame[["time_d", "age_y", "bmd_spine_g_cm2"]])
    two = pd.concat([frame.assign(subject=0), frame.assign(subject=1)])
    with pytest.raises(InputError, match="2 subjects"):
        patient_from_simulation(two)
    assert patient_from_simulation(two, subject=1).measurements


def test_interpret_simulated_on_the_command_line(run, tmp_path, capsys):
    sc, frame = run
    scenario = tmp_path / "s.toml"
    scenario.write_text('years = 1.5\n[patient]\nage = 65\nmenopause_age = 51\n'
                        '[[treatment]]\ndrug = "denosumab"\ndose = "60 mg"\n'
                        '[[treatment]]\ndrug = "calcium"\ndose = "1250 mg"\nsalt = "carbonate"\n',
                        encoding="utf-8")
    csv = tmp_path / "sim.csv"
    assert main(["simulate", str(scenario), "--out", str(csv)]) == 0
    capsys.readouterr()
    assert main(["interpret", "--simulated", str(csv), "--scenario", str(scenario),
                 "--start-date", START, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    sim = patient_from_simulation(read_simulation(csv), start_date=START,
                                  treatments=sc.treatments)
    expected = interpret(sim, today=max(m.date for m in sim.measurements))
    assert out["today"] == expected.today == "2024-04-03"  # the last sample, day 457
    assert [f["code"] for f in out["findings"]] == [f.code for f in expected.findings]
    assert main(["interpret", "--simulated", str(csv), "--sample-days", "0,365",
                 "--markers", "CTX_I,P1NP_TOTAL", "--patient-age", "70"]) == 0
    text = capsys.readouterr().out
    assert "simulated" in text and "Bone turnover marker interpretation" in text


def test_interpret_simulated_usage_errors(tmp_path, capsys):
    for argv, needle in ((["interpret", "--simulated", str(tmp_path / "none.csv")], "no such"),
                         (["interpret", "--scenario", "s.toml", "x.toml"], "--scenario goes"),
                         (["interpret", "x.toml", "--simulated", "y.csv"], "exactly one")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("InputError: ") and needle in err and err.count("\n") == 1
