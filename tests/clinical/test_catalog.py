"""Marker catalog, drugs, citations and the knowledge-base validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boneturnover.clinical import CATALOG, DRUGS, MAGNESIUM_REFERENCE, least_significant_change
from boneturnover.clinical.catalog import (
    BONE_TURNOVER_MARKERS,
    EVIDENCE_LEVELS,
    KnowledgeBaseError,
    parse_citations,
)
from boneturnover.errors import DataError, UnitError

REQUIRED_MARKERS = {"CTX_I", "P1NP_TOTAL", "P1NP_INTACT", "BALP", "OC", "TRAP5B", "S_NTX",
                    "U_NTX", "U_DPD", "U_PYD", "ICTP", "PICP", "CA", "PTH", "VITD25", "MG",
                    "CREA", "EGFR"}


def test_catalog_covers_the_required_markers():
    assert REQUIRED_MARKERS <= set(CATALOG)


@pytest.mark.parametrize("mid", sorted(CATALOG))
def test_every_number_is_cited(mid):
    m = CATALOG[mid]
    assert m.cv_cite and m.reflects.cite and m.preanalytical.cite
    assert m.lsc_published is None or m.lsc_cite
    assert m.ri is None or m.ri.cite
    for c in (*m.cv_cite, *m.lsc_cite, *(m.ri.cite if m.ri else ())):
        assert c.evidence in EVIDENCE_LEVELS and c.text
    assert m.name.en and m.name.zh and m.reflects.zh


def test_trio_lsc_and_formula():
    assert CATALOG["CTX_I"].lsc_pct == 56.0  # TRIO / IOF-ECTS 2017
    assert CATALOG["P1NP_TOTAL"].lsc_pct == 38.0
    m = CATALOG["S_NTX"]  # no published LSC: formula
    assert m.lsc_published is None
    assert m.lsc_pct == pytest.approx(2.77 * math.sqrt(6.0**2 + 11.0**2))


@pytest.mark.parametrize("mid", [m for m in CATALOG if CATALOG[m].lsc_published])
def test_published_lsc_consistent_with_cvs(mid):
    m = CATALOG[mid]  # CVi was back-calculated from the published LSC
    assert least_significant_change(m.cva_pct, m.cvi_pct) == pytest.approx(m.lsc_pct, rel=0.03)


@given(st.floats(0, 100), st.floats(0, 100), st.floats(0.01, 10))
def test_lsc_formula_properties(a, b, k):
    lsc = least_significant_change(a, b)
    assert lsc == pytest.approx(least_significant_change(b, a))
    assert lsc >= 2.77 * max(a, b) - 1e-9
    assert least_significant_change(k * a, k * b) == pytest.approx(k * lsc, rel=1e-9, abs=1e-9)


def test_lsc_rejects_negative():
    with pytest.raises(ValueError):
        least_significant_change(-1, 3)


UNIT_CASES = [(mid, u) for mid in CATALOG for u in CATALOG[mid].units]


@pytest.mark.parametrize(("mid", "unit"), UNIT_CASES)
@given(value=st.floats(1e-3, 1e5))
def test_unit_round_trip(mid, unit, value):
    m = CATALOG[mid]
    assert m.from_canonical(m.to_canonical(value, unit), unit) == pytest.approx(value, rel=1e-12)


def test_known_conversions():
    assert CATALOG["CTX_I"].to_canonical(0.5, "ng/mL") == pytest.approx(500.0)
    assert CATALOG["MG"].to_canonical(2.0, "mg/dL") == pytest.approx(0.8229, abs=1e-4)
    assert CATALOG["CA"].to_canonical(9.2, "mg/dL") == pytest.approx(2.2955, abs=1e-4)
    assert CATALOG["VITD25"].to_canonical(20, "ng/mL") == pytest.approx(49.92, abs=0.01)
    assert CATALOG["PTH"].to_canonical(5.0, "pmol/L") == pytest.approx(47.125, abs=1e-3)
    assert CATALOG["EGFR"].to_canonical(45, "mL/min/{1.73_m2}") == 45


def test_unit_not_accepted():
    with pytest.raises(UnitError, match="not accepted for CTX_I.*ng/L"):
        CATALOG["CTX_I"].to_canonical(1.0, "mmol/L")


def test_alias_and_loinc_lookup():
    assert CATALOG.resolve("PINP").id == "P1NP_TOTAL"
    assert CATALOG.resolve("bone ALP").id == "BALP"
    assert CATALOG.resolve("β-CTX").id == "CTX_I"
    assert CATALOG.by_loinc("17861-6") == "CA"
    with pytest.raises(DataError, match="unknown marker 'XYZ'"):
        CATALOG.resolve("XYZ")


def test_lab_override():
    lab = CATALOG.with_overrides({"CTX": {"ri_low": 0.1, "ri_high": 0.6, "unit": "ng/mL",
                                          "lsc_pct": 40}})
    m = lab["CTX_I"]
    assert (m.ri.low, m.ri.high, m.lsc_pct) == (pytest.approx(100.0), pytest.approx(600.0), 40.0)
    assert m.overridden == {"ri", "lsc"}
    assert CATALOG["CTX_I"].lsc_pct == 56.0  # the packaged catalog is unchanged
    cv = CATALOG.with_overrides({"P1NP_TOTAL": {"cva_pct": 3.0, "cvi_pct": 4.0}})["P1NP_TOTAL"]
    assert cv.lsc_pct == pytest.approx(13.85)


@pytest.mark.parametrize("override, message", [
    ({"ri_hi": 1}, "unknown override field"),
    ({"ri_low": 5, "ri_high": 1}, "must be below"),
    ({"lsc_pct": -3}, "must be in"),
    ({"ri_high": 1, "unit": "mmol/L"}, "not accepted"),
])
def test_lab_override_rejected(override, message):
    with pytest.raises((KnowledgeBaseError, UnitError), match=message):
        CATALOG.with_overrides({"CTX_I": override})


def test_magnesium_reference_single_source():
    mg = CATALOG["MG"]
    assert (MAGNESIUM_REFERENCE.low_mmol_l, MAGNESIUM_REFERENCE.high_mmol_l) == (0.70, 1.00)
    assert MAGNESIUM_REFERENCE.deficiency_cutoff_mmol_l == 0.85 == mg.cutoff("costello_low")
    assert MAGNESIUM_REFERENCE.osteoporosis_mean_mmol_l == 0.82
    assert any(c.ref == "costello2016" for c in MAGNESIUM_REFERENCE.cite)


def test_drugs():
    assert DRUGS.resolve("Prolia").key == "denosumab"
    assert DRUGS.resolve("唑来膦酸").key == "zoledronate"
    assert DRUGS["denosumab"].interval_days() == pytest.approx(182.625)
    assert DRUGS["denosumab"].overdue_grace_days == 28
    bp = DRUGS["alendronate"].window
    assert (bp.resorption_days, bp.formation_days) == (56, 182)  # seed:B21


def test_bone_turnover_markers():
    assert "CTX_I" in BONE_TURNOVER_MARKERS and "MG" not in BONE_TURNOVER_MARKERS


@pytest.mark.parametrize("raw, message", [
    (None, "no citation"),
    ([], "no citation"),
    ([{"ref": "nobody2020", "evidence": "RCT"}], "unknown source"),
    ([{"ref": "seed:B39", "evidence": "review"}], "not a seed fact"),
    ([{"ref": "seed:B3", "evidence": "hearsay"}], "evidence 'hearsay'"),
    ([{"ref": "seed:B3"}], "must be"),
])
def test_citation_validation(raw, message):
    with pytest.raises(KnowledgeBaseError, match=message):
        parse_citations(raw, "test")


# -- one marker catalogue for the clinic and the model --------------------------------

def test_named_intervals_each_with_its_source():
    ctx = CATALOG["CTX_I"]
    assert (ctx.ri.name, ctx.ri.low, ctx.ri.high) == ("eu_premenopausal2012", 111.0, 791.0)
    glover = ctx.intervals["glover2009"]
    assert (glover.low, glover.high) == (114.0, 628.0)
    assert [c.ref for c in glover.cite] == ["GLOVER2009"] and glover.cite[0].text
    assert ctx.model.interval is glover  # the model's centre sits in Glover's interval
    assert CATALOG["TRAP5B"].ri is None and CATALOG["TRAP5B"].intervals["halleen2000"]


def test_model_calibration_is_declared_with_the_marker():
    centres = {m.model.output: (m.id, m.model.centre, m.model.basis)
               for m in CATALOG.values() if m.model}
    assert centres == {
        "ctx_ng_l": ("CTX_I", 312.0, "resorption"), "trap5b_u_l": ("TRAP5B", 3.0, "osteoclasts"),
        "p1np_ug_l": ("P1NP_TOTAL", 35.0, "osteoblasts"),
        "bsap_ug_l": ("BALP", 8.7, "osteoblasts"),
        "osteocalcin_ug_l": ("OC", 22.0, "osteoblasts")}
    for m in CATALOG.values():
        if m.model:
            assert m.model.centre_cite and m.model.basis_cite and m.model.meaning
            lo, hi = m.model.interval.low, m.model.interval.high
            assert lo < m.model.centre < hi
    assert [c.ref for c in CATALOG["CTX_I"].model.centre_cite] == ["seed:B25"]
    assert CATALOG.by_model_output("magnesium_mmol_l") == "MG"


def test_model_reads_its_calibration_from_the_catalogue():
    from boneturnover.model.outputs import calibration

    cal = calibration()["markers"]
    assert list(cal) == ["ctx_ng_l", "trap5b_u_l", "p1np_ug_l", "bsap_ug_l", "osteocalcin_ug_l"]
    assert cal["ctx_ng_l"]["centre"] == CATALOG["CTX_I"].model.centre == 312.0
    assert (cal["ctx_ng_l"]["ri_low"], cal["ctx_ng_l"]["ri_high"]) == (114.0, 628.0)
    assert cal["ctx_ng_l"]["state_basis"] == "resorption" and cal["ctx_ng_l"]["marker"] == "CTX_I"


def test_a_laboratory_selects_a_named_interval():
    lab = CATALOG.with_overrides({"CTX": {"interval": "glover2009"}})["CTX_I"]
    assert (lab.ri.low, lab.ri.high, lab.overridden) == (114.0, 628.0, {"ri"})
    with pytest.raises(KnowledgeBaseError, match="not an interval of CTX_I"):
        CATALOG.with_overrides({"CTX_I": {"interval": "nope"}})
    with pytest.raises(KnowledgeBaseError, match="either interval or ri_low"):
        CATALOG.with_overrides({"CTX_I": {"interval": "glover2009", "ri_high": 600}})


def _one_marker(**change):
    from boneturnover.knowledge.markers import _data

    data = {"markers": {"CTX_I": {**_data()["markers"]["CTX_I"], **change}}}
    return data


@pytest.mark.parametrize("change, message", [
    ({"default_interval": "nope"}, "default_interval 'nope'"),
    ({"model": {**_one_marker()["markers"]["CTX_I"]["model"], "basis": "mood"}}, "basis 'mood'"),
    ({"model": {**_one_marker()["markers"]["CTX_I"]["model"], "interval": "x"}}, "interval 'x'"),
    ({"intervals": {"a": {"low": 5.0, "high": 1.0, "population": "p", "cite": []}},
      "default_interval": "a"}, "low must be below high"),
    ({"process": "mood"}, "process must be"),
])
def test_bad_marker_entries_are_refused(change, message):
    from boneturnover.knowledge.markers import marker_catalog_from_dict

    assert marker_catalog_from_dict(_one_marker())
    with pytest.raises(KnowledgeBaseError, match=message):
        marker_catalog_from_dict(_one_marker(**change))


def test_a_model_output_names_one_marker():
    from boneturnover.knowledge.markers import _data, marker_catalog_from_dict

    raw = _data()["markers"]
    data = {"markers": {"CTX_I": raw["CTX_I"], "S_NTX": {**raw["S_NTX"],
                                                          "model_output": "ctx_ng_l"}}}
    with pytest.raises(KnowledgeBaseError, match="given for both CTX_I and S_NTX"):
        marker_catalog_from_dict(data)
