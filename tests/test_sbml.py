"""SBML export: a valid L3V2 document whose libroadrunner simulation is boneturnover's."""

from __future__ import annotations

import numpy as np
import pytest

import boneturnover as bt
from boneturnover.cli import main
from boneturnover.errors import InputError
from boneturnover.model.outputs import INTAKE_COLUMNS, OUTPUTS
from boneturnover.model.system import BoneModel, EventTable
from boneturnover.sbml import export_subject, to_sbml

libsbml = pytest.importorskip("libsbml")
roadrunner = pytest.importorskip("roadrunner")

#: Tolerances: boneturnover's integrator and libroadrunner's CVODE (relative; absolute per
#: state, 1e-3 x relative x its nominal size, as docs/SBML.md recommends).
BT_RTOL, RR_RTOL = 1e-9, 1e-10
#: Output columns the document holds as assignment rules ``output_<column>``.
COLUMNS = tuple(o.name for o in OUTPUTS[2:] if o.name not in INTAKE_COLUMNS)
#: Measured (max relative difference, states and outputs) per case, for docs/SBML.md.
MEASURED: dict[str, tuple[float, float]] = {}


@pytest.fixture(scope="module")
def engine() -> BoneModel:
    return BoneModel(rtol=BT_RTOL)


def _scenario(regimen: str | None, years: float = 2) -> bt.Scenario:
    data = {"patient": {"age": 70, "menopause_age": 51}, "years": years}
    if regimen:
        data["regimen"] = regimen
    return bt.scenario_from_dict(data, regimen or "untreated")


def _roadrunner(xml: str, engine: BoneModel):
    rr = roadrunner.RoadRunner(xml)
    integ = rr.getIntegrator()
    integ.relative_tolerance = RR_RTOL
    integ.absolute_tolerance = 1e-3 * RR_RTOL
    for st in engine.spec.states:
        integ.setIndividualTolerance(st.name, float(1e-3 * RR_RTOL * engine.scale[st.index]))
    integ.setValue("maximum_num_steps", 200_000)
    rr.timeCourseSelections = ["time", *engine.spec.state_names,
                               *(f"output_{c}" for c in COLUMNS)]
    return rr


def _compare(engine: BoneModel, sc: bt.Scenario) -> tuple[float, float]:
    frame = bt.simulate(sc, model=engine).frame
    xml = to_sbml(sc, model=engine)
    sub = export_subject(sc, model=engine)
    t_h = frame["time_d"].to_numpy() * 24.0
    res = np.asarray(_roadrunner(xml, engine).simulate(times=t_h.tolist()))
    n = len(engine.spec.states)
    y_rr, out = res[:, 1:n + 1], res[:, n + 1:]
    # boneturnover's states from the same state at time 0, through the same doses
    rows = [(t + sub.offset_h, kind, i, v) for t, kind, i, v, _ in sub.events]
    y_bt, status, _ = engine.solve(np.array([sub.record]), sub.y0[None, :], t_h + sub.offset_h,
                                   t_start_h=np.array([sub.offset_h]),
                                   events=EventTable.from_rows([rows]))
    assert status[0] == 0
    y_bt = y_bt[0]
    # at a dose time boneturnover writes the trough, SBML the state after the event
    keep = ~np.isin(t_h, [e[0] for e in sub.events])
    floor = 1e-6 * engine.scale
    states = np.abs(y_rr - y_bt)[keep] / np.maximum(np.abs(y_bt[keep]), floor)
    # every output column against simulate's table (relative; columns that are zero, such
    # as denosumab untreated, against 1e-9 of the column's largest value)
    worst, which = 0.0, ""
    for j, name in enumerate(COLUMNS):
        ref = frame[name].to_numpy()[keep]
        floor = max(1e-9 * float(np.abs(ref).max()), 1e-300)
        diff = float(np.max(np.abs(out[keep, j] - ref) / np.maximum(np.abs(ref), floor)))
        if diff >= worst:
            worst, which = diff, name
    MEASURED[sc.name] = (float(states.max()), worst)
    print(f"\n{sc.name}: max relative difference, states {states.max():.2e}, "
          f"outputs {worst:.2e} ({which}; {int(keep.sum())} daily times, {len(sub.events)} "
          "dose rows)")
    return float(states.max()), worst


def test_the_document_is_valid_sbml_l3v2(engine):
    doc = libsbml.readSBMLFromString(to_sbml(_scenario("denosumab"), model=engine))
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    doc.checkConsistency()
    errors = [doc.getError(i) for i in range(doc.getNumErrors())]
    serious = [e.getMessage() for e in errors if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    assert not serious, serious[:3]
    print(f"\n{len(errors)} warnings (undeclared units), 0 errors")
    m = doc.getModel()
    assert m.getNumRules() > len(engine.spec.states)
    assert m.getNumEvents() == 4  # denosumab at 0, 6, 12, 18 months
    ev = m.getEvent(0)
    assert ev.getUseValuesFromTriggerTime() and ev.getTrigger().getPersistent()
    assert not ev.getTrigger().getInitialValue()
    assert "unit" in m.getParameter("osteoclasts").getNotesString()


def test_untreated_matches_boneturnover(engine):
    states, outputs = _compare(engine, _scenario(None))
    assert states < 1e-4 and outputs < 1e-4


def test_denosumab_matches_boneturnover(engine):
    states, outputs = _compare(engine, _scenario("denosumab"))
    assert states < 1e-4 and outputs < 1e-4


def test_an_infusion_matches_boneturnover(engine):
    """Zero-order input: events set rate_in_<state>, which enters the state's rate."""
    sc = bt.scenario_from_dict({
        "patient": {"age": 70, "menopause_age": 51}, "years": 1,
        "dose": [{"compartment": "zoledronate_iv", "amount": "5 mg", "time": "30 d",
                  "duration": "2 h"}]}, "infusion")
    xml = to_sbml(sc, model=engine)
    assert "rate_in_bp_plasma_zol_nmol" in xml
    states, outputs = _compare(engine, sc)
    assert states < 1e-4 and outputs < 1e-4


def test_a_premenopausal_woman_matches_boneturnover(engine):
    """isnan(menopause age) is decided at export: the premenopausal branch, no NaN."""
    sc = bt.scenario_from_dict({"patient": {"age": 40}, "years": 1}, "premenopausal")
    m = libsbml.readSBMLFromString(to_sbml(sc, model=engine)).getModel()
    assert m.getParameter("menopause_age_y") is None
    values = [m.getParameter(i).getValue() for i in range(m.getNumParameters())
              if m.getParameter(i).isSetValue()]
    assert np.all(np.isfinite(values))
    states, outputs = _compare(engine, sc)
    assert states < 1e-4 and outputs < 1e-4


def test_not_a_scenario_is_input_error():
    with pytest.raises(InputError, match="scenario"):
        export_subject(object())


# --------------------------------------------------------------------------------------
# the command
def _write(tmp_path, text="years = 1\nregimen = \"denosumab\"\n[patient]\nage = 70\n"
           "menopause_age = 51\n"):
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_export_sbml_writes_a_file(tmp_path, capsys):
    sc = _write(tmp_path)
    out = tmp_path / "m.xml"
    assert main(["export-sbml", str(sc), "--out", str(out)]) == 0
    doc = libsbml.readSBMLFromFile(str(out))
    assert doc.getModel().getNumEvents() == 2
    assert "2 dose event(s)" in capsys.readouterr().out
    assert main(["export-sbml", "--out", str(tmp_path / "default.xml")]) == 0
    assert libsbml.readSBMLFromFile(str(tmp_path / "default.xml")).getModel().getNumEvents() == 0


@pytest.mark.parametrize("case, needle", [
    ("missing folder", "does not exist"),
    ("exists", "add --force"),
    ("input", "is the input file"),
])
def test_export_sbml_refuses_bad_outputs_with_one_line(tmp_path, capsys, case, needle):
    sc = _write(tmp_path)
    out = {"missing folder": tmp_path / "no" / "m.xml", "exists": tmp_path / "m.xml",
           "input": sc}[case]
    if case == "exists":
        out.write_text("keep", encoding="utf-8")
    assert main(["export-sbml", str(sc), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and err.startswith("OutputPathError")
    if case == "exists":
        assert out.read_text(encoding="utf-8") == "keep"
    assert sc.read_text(encoding="utf-8").startswith("years")
