"""The model assembled from modules and its generated code.

The generated right-hand side equals the hand-written one of ``handwritten_equations.py`` on
random states and parameters; the analytic Jacobian equals central differences of the
generated right-hand side, and every entry that differences find lies in the structural
pattern read from the expressions.
"""

from __future__ import annotations

import math
import shutil

import handwritten_equations as equations
import numpy as np
import pytest

from boneturnover.errors import ModelError
from boneturnover.model import codegen
from boneturnover.model.assembly import MODULE_DIR, assemble, bundled_modules, load_module
from boneturnover.model.spec import load_model
from boneturnover.model.system import BoneModel, compiled

SPEC = load_model("peterson_riggs")
STATES = [s.name for s in SPEC.states]
N = len(STATES)
IDX = {s: i for i, s in enumerate(STATES)}


def _random_case(rng: np.random.Generator, model: BoneModel):
    """A record with parameters within 2 % of their values, a state within 30 % of the
    reference (drug states random and positive) and a time within 40 years."""
    rec = model.records(1)
    for p in SPEC.parameters:
        if p.name in ("mg_intake_mg_day",):
            continue
        rec[p.name] = p.value * (1 + 0.02 * rng.uniform(-1, 1))
    rec["mg_intake_mg_day"] = rec["mg_intake_ref_mg_day"]
    rec["menopause_age_y"] = 51.0 if rng.random() < 0.7 else math.nan
    rec["age0_y"] = 45.0
    y = np.abs(model.y_ref * (1 + 0.3 * rng.standard_normal(N))) + model.scale * (
        model.y_ref == 0) * rng.uniform(0.1, 1.0, N)
    return rec, y, rng.uniform(0.0, 40 * 8766.0)


@pytest.fixture(scope="module")
def model():
    return BoneModel()


def test_generated_rhs_equals_the_hand_written_one(model):
    gen = compiled()
    rng = np.random.default_rng(20100101)
    worst, cases = 0.0, 0
    for _ in range(300):
        rec, y, t = _random_case(rng, model)
        old, new = rec.copy(), rec.copy()
        equations.derive(old[0], model.y_ref)
        gen.derive(new[0], model.y_ref)
        for name in equations.DERIVED:
            a, b = float(old[name][0]), float(new[name][0])
            assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-11 * abs(a), name
        d_old, d_new = np.zeros(N), np.zeros(N)
        equations.rhs(t, y, old[0], d_old)
        gen.rhs(t, y, new[0], d_new)
        if not np.all(np.isfinite(d_old)):
            assert np.array_equal(np.isfinite(d_old), np.isfinite(d_new))
            continue
        cases += 1
        diff = np.abs(d_new - d_old)
        # urinary calcium is a smoothed max(0, x) of the filtered minus the reabsorbed
        # load (about 0.3 mmol/h each): where x < 0 both forms of it are a cancellation
        # whose rounding is about 1e-16 mmol/h, whatever its size
        diff[IDX["urine_ca_cum_mmol"]] = max(diff[IDX["urine_ca_cum_mmol"]] - 1e-15, 0.0)
        rel = diff / np.maximum(np.abs(d_old), 1e-300)
        worst = max(worst, float(rel.max()))
    assert cases > 200, cases
    assert worst < 1e-10, worst


def test_analytic_jacobian_equals_central_differences(model):
    gen = compiled()
    rng = np.random.default_rng(7)
    for _ in range(8):
        rec, y, t = _random_case(rng, model)
        gen.derive(rec[0], model.y_ref)
        f0 = np.zeros(N)
        gen.rhs(t, y, rec[0], f0)
        if not np.all(np.isfinite(f0)):
            continue
        jac, ft = np.zeros((N, N)), np.zeros(N)
        gen.jac(t, y, rec[0], jac, ft)
        fd = np.zeros((N, N))
        for j in range(N):
            h = 1e-6 * max(abs(y[j]), model.scale[j])
            yp, ym = y.copy(), y.copy()
            yp[j] += h
            ym[j] -= h
            fp, fm = np.zeros(N), np.zeros(N)
            gen.rhs(t, yp, rec[0], fp)
            gen.rhs(t, ym, rec[0], fm)
            fd[:, j] = (fp - fm) / (2 * h)
        row = np.abs(fd).max(axis=1, keepdims=True) + 1e-300
        assert np.max(np.abs(jac - fd) / row) < 1e-4
        assert not np.any((fd != 0) & ~gen.PATTERN), "an entry outside the structural pattern"
        dt = 1e-3 * max(t, 1.0)
        fp, fm = np.zeros(N), np.zeros(N)
        gen.rhs(t + dt, y, rec[0], fp)
        gen.rhs(t - dt, y, rec[0], fm)
        assert np.allclose(ft, (fp - fm) / (2 * dt), rtol=1e-4, atol=1e-12 * np.abs(f0).max())


def test_pattern_is_structural_not_probed():
    """The bisphosphonate surface states act on osteoclasts even where bp_act_imax is 0."""
    pattern = compiled().PATTERN
    for drug in ("aln", "iba", "ris", "zol"):
        assert pattern[IDX["osteoclasts"], IDX[f"bp_surface_{drug}_nmol"]]
        assert pattern[IDX["plasma_ca_mmol"], IDX[f"bp_surface_{drug}_nmol"]]
    assert pattern[IDX["rankl"], IDX["denosumab_central_ng"]]
    assert np.all(np.diag(pattern))


def test_every_state_has_one_rate_from_one_module():
    model = assemble(STATES, SPEC.parameter_names)
    owners = model.module_of_state()
    assert sorted(owners) == sorted(STATES)
    assert owners["estrogen"] == "menopause"
    assert owners["denosumab_central_ng"] == "denosumab"
    assert owners["bmd_spine_rel"] == "bmd"


def test_drug_modules_touch_the_core_only_through_hooks():
    core = next(m for m in bundled_modules() if m.name == "core")
    core_text = core.path.read_text("utf-8")
    for m in bundled_modules():
        if m.kind != "drug":
            continue
        for state in m.states:
            assert state not in core_text, (m.name, state)


def _modules_without(name: str):
    return [m for m in bundled_modules() if m.name != name]


def test_a_state_without_a_rate_is_refused():
    with pytest.raises(ModelError, match="no module gives a rate for state.*gfr_l_h"):
        assemble(STATES, SPEC.parameter_names, _modules_without("kidney"))


def test_a_module_whose_requirement_is_missing_is_refused():
    with pytest.raises(ModelError, match="romosozumab.*needs module.*modelling"):
        assemble(STATES, SPEC.parameter_names, _modules_without("modelling"))


def _edited(tmp_path, name, old, new):
    src = MODULE_DIR / f"{name}.toml"
    dst = tmp_path / f"{name}.toml"
    text = src.read_text("utf-8")
    assert old in text
    dst.write_text(text.replace(old, new), "utf-8")
    mods = [load_module(dst) if m.name == name else m for m in bundled_modules()]
    return mods


def test_unknown_names_and_cycles_are_refused(tmp_path):
    mods = _edited(tmp_path, "kidney", "(k_gfr_decline * gfr_above_floor",
                   "(k_gfr_declin * gfr_above_floor")
    with pytest.raises(ModelError, match=r"kidney \[rates\]\.gfr_l_h: unknown name.*k_gfr_declin"):
        assemble(STATES, SPEC.parameter_names, mods)
    mods = _edited(tmp_path, "denosumab", 'den_cp = "denosumab_central_ng / den_vc"',
                   'den_cp = "denosumab_central_ng / den_vc + den_clnl"')
    with pytest.raises(ModelError, match="cycle: .*den_cp"):
        assemble(STATES, SPEC.parameter_names, mods)
    mods = _edited(tmp_path, "teriparatide", "pth_input = ", "pth_inputs = ")
    with pytest.raises(ModelError, match="'pth_inputs' is not a hook"):
        assemble(STATES, SPEC.parameter_names, mods)


def test_an_edited_equation_gets_a_new_generated_module(tmp_path):
    spec_files = sorted((MODULE_DIR.parent / "library").glob("*.toml"))
    base = assemble(STATES, SPEC.parameter_names)
    shutil.copy(MODULE_DIR / "kidney.toml", tmp_path / "kidney.toml")
    same = [load_module(tmp_path / "kidney.toml") if m.name == "kidney" else m
            for m in bundled_modules()]
    assert codegen.module_name(assemble(STATES, SPEC.parameter_names, same), spec_files) == (
        codegen.module_name(base, spec_files))
    mods = _edited(tmp_path, "kidney", "(k_gfr_decline * gfr_above_floor",
                   "(2 * k_gfr_decline * gfr_above_floor")
    edited = assemble(STATES, SPEC.parameter_names, mods)
    assert codegen.module_name(edited, spec_files) != codegen.module_name(base, spec_files)
    old, new = codegen.generate(base), codegen.generate(edited)
    assert "2.0*p.k_gfr_decline" in new.replace(" ", "")
    assert "2.0*p.k_gfr_decline" not in old.replace(" ", "")
