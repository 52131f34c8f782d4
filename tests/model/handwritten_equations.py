"""A hand-written implementation of the bundled model's equations, compiled with numba.

It is the independent reference that the code generated from the module files is checked
against (``test_generated.py``: the same rates to 1e-10 relative on random states and
parameters); the package itself runs only the generated code.

The equations follow Peterson & Riggs (Bone 2010) with the oestrogen/menopause and
BMD extensions of Riggs & Peterson (2012); every constant is a named parameter of
``library/peterson_riggs.toml``. Model time is in hours. Differences from the
published implementation, all deliberate and documented in ``docs/MODEL.md``:

* switch-like terms (urinary calcium and phosphate excretion clipped at zero, the
  phosphate effect on 1-alpha-hydroxylase, the RUNX2 step at BCL2 = 105) are
  smoothed over a small declared width so that the stiff solver keeps its step;
* the oestrogen age term is 1 before the reference age, and the age clock uses
  Julian years (365.25 d), not 8736 h;
* formation capacity declines slowly with age after menopause (seed:B14);
* the denosumab nonlinear clearance uses max(C, 0), so concentrations do not go
  negative after the drug is gone;
* the latent (matrix) TGF-beta pool is bounded (``tgfb_matrix_gamma``; 0 restores the
  published model);
* the osteoblast apoptosis exponent ``ob_apop_tgfb_gamma`` is re-calibrated (4, the
  published fit is 2.92375) so formation follows suppressed resorption as in the trials.

Parameters arrive as one NumPy structured record (see :func:`record_dtype`),
whose fields are the spec's parameters, per-subject covariates and quantities
derived once from them (:func:`derive`).
"""

from __future__ import annotations

import enum
import math
from functools import cache

import numba as nb
import numpy as np

from boneturnover.model.spec import ModelSpec, load_model

__all__ = [
    "S",
    "COVARIATES",
    "DERIVED",
    "record_dtype",
    "make_records",
    "derive",
    "rhs",
    "HOURS_PER_YEAR",
]

HOURS_PER_YEAR = 24.0 * 365.25

_SPEC = load_model("peterson_riggs")

#: State indices, usable inside numba code as compile-time constants.
S = enum.IntEnum("S", {s.name: s.index for s in _SPEC.states})

#: Per-subject covariates stored beside the parameters: (name, default, unit, meaning).
COVARIATES: tuple[tuple[str, float, str, str], ...] = (
    ("age0_y", 50.0, "a", "age at model time 0"),
    ("menopause_age_y", math.nan, "a", "age at the final menstrual period (NaN: premenopausal)"),
)

#: Quantities computed once per subject from parameters and the reference state.
DERIVED: tuple[str, ...] = (
    "ca_conc0", "pth_conc0", "calcitriol_conc0", "ob0", "oc0", "rob0", "m0", "l0", "o0",
    "rnk0", "q0", "qbone0", "tgfb0", "tgfbact0", "obfast0", "gut_ca0", "rx2_0", "creb0",
    "t13", "t15", "j14oc50", "kin_rnk", "moc_ratio0", "big_db", "kin_tgf", "kout_tgf_act",
    "e0_pic_rob", "ec50_pic_rob", "dr", "e0_pic_ob", "ec50_pic_ob", "ec50_meff_oc",
    "e0_pic_oc", "ec50_pic_oc", "pil0", "ec50_surv", "t66", "k15a", "k_ls_hap", "k_hap_in",
    "kin_l_base", "pth50_l", "po_base", "rx2_kin", "ec50_pth_rx2", "ec50_pth_creb",
    "creb_kin0", "phos_eff_max", "mtm_est", "t17", "e0_pic_ob_kb", "emax_pic_ob_kb",
    "ec50_pic_ob_kb", "e0_runx2_kb", "run_kb_max", "run_kb50", "t29", "ctriol50", "t60",
    "age_ref_y", "age_onset_y",
    # --- magnesium ---
    "mg_c0", "mg_i_ref", "mg_kp", "mg_vmax", "mg_km", "mg_k_endo", "mg_c_thr", "mg_k_bone",
    "mg_k_soft", "mg_bone0", "mg_soft0", "mg_k_adapt", "mg_cell_thr_rel", "mg_cell_thr_shift",
)


@cache
def record_dtype(spec: ModelSpec | None = None) -> np.dtype:
    """Structured dtype of one subject's parameter record (the assembled model's fields)."""
    from .assembly import assemble

    spec = spec or _SPEC
    model = assemble([s.name for s in spec.states], spec.parameter_names)
    return np.dtype([(n, np.float64) for n in model.record_fields])


def make_records(n: int, spec: ModelSpec | None = None) -> np.ndarray:
    """``n`` parameter records filled with the spec's values and default covariates."""
    spec = spec or _SPEC
    rec = np.zeros(n, dtype=record_dtype(spec))
    for p in spec.parameters:
        rec[p.name] = p.value
    for name, default, _unit, _meaning in COVARIATES:
        rec[name] = default
    return rec


@nb.njit(cache=True)
def _root(x: float, gam: float) -> float:
    return math.exp(math.log(x) / gam)


@nb.njit(cache=True)
def derive(p, y0):  # noqa: C901 - one line per derived quantity
    """Fill the derived fields of record ``p`` from its parameters and reference state ``y0``."""
    p.ca_conc0 = y0[S.plasma_ca_mmol] / p.v_ecf_l
    p.pth_conc0 = y0[S.pth_pmol] / p.v_ecf_l
    p.calcitriol_conc0 = y0[S.calcitriol_pmol] / p.v_ecf_l
    p.ob0 = y0[S.osteoblasts_fast] + y0[S.osteoblasts_slow]
    p.oc0 = y0[S.osteoclasts]
    p.rob0 = y0[S.responding_osteoblasts]
    p.m0 = y0[S.rank_rankl]
    p.l0 = y0[S.rankl]
    p.o0 = y0[S.opg]
    p.rnk0 = y0[S.rank]
    p.q0 = y0[S.exchangeable_bone_ca_mmol]
    p.qbone0 = y0[S.bone_ca_mmol]
    p.tgfb0 = y0[S.tgfb_latent]
    p.tgfbact0 = y0[S.tgfb_active]
    p.obfast0 = y0[S.osteoblasts_fast]
    p.gut_ca0 = y0[S.gut_ca_mmol]
    p.rx2_0 = y0[S.runx2]
    p.creb0 = y0[S.creb]
    pic0 = p.tgfb_pic_0

    p.t13 = (p.ca_bone_flux_day / 24.0) / p.q0
    p.t15 = p.ca_bone_flux_day / (p.ca_conc0 * p.v_ecf_l * 24.0)
    g = p.j14_oc_gamma
    p.j14oc50 = _root(p.j14_oc_max * p.oc0**g / p.t13 - p.oc0**g, g)
    p.kin_rnk = (p.k_rank_out * p.rnk0 + p.k_rank_on * p.rnk0 * p.l0 - p.k_rank_off * p.m0) / (
        p.tgfbact0**p.rank_tgfb_gamma
    )
    p.moc_ratio0 = p.m0 / p.oc0
    p.big_db = p.k_ob_removal * p.ob0 * pic0 / p.rob0
    p.kin_tgf = p.k_tgfb_out * p.tgfb0
    p.kout_tgf_act = p.k_tgfb_out * 1000.0

    g = p.rob_tgfb_gamma
    p.e0_pic_rob = p.rob_tgfb_frac * pic0
    p.ec50_pic_rob = _root(
        p.rob_tgfb_emax * p.tgfbact0**g / (pic0 - p.e0_pic_rob) - p.tgfbact0**g, g
    )
    p.dr = p.k_ob_removal * p.ob0 / pic0
    g = p.ob_tgfb_gamma_diff
    p.e0_pic_ob = p.ob_tgfb_frac * pic0
    p.ec50_pic_ob = _root(
        p.ob_tgfb_emax * p.tgfbact0**g / (pic0 - p.e0_pic_ob) - p.tgfbact0**g, g
    )
    g = p.oc_rankl_gamma
    p.ec50_meff_oc = _root(p.m0**g * p.oc_rankl_emax / (1.0 - p.oc_rankl_e0) - p.m0**g, g)
    g = p.oc_tgfb_gamma
    p.e0_pic_oc = p.oc_tgfb_frac * pic0
    p.ec50_pic_oc = _root(
        p.oc_tgfb_emax * p.tgfbact0**g / (pic0 - p.e0_pic_oc) - p.tgfbact0**g, g
    )
    p.pil0 = (p.k_rank_on / p.k_rank_off) * p.l0
    g = p.oc_surv_gamma
    p.ec50_surv = _root(
        (p.oc_surv_e0 - p.oc_surv_emax) * (p.pil0**g / (p.oc_surv_e0 - 1.0)) - p.pil0**g, g
    )
    g = p.aoh_pth_gamma
    p.t66 = (p.aoh_pth_ec50**g + p.pth_conc0**g) / p.pth_conc0**g
    p.k15a = p.k_bone_ca_release * p.qbone0 / p.q0
    p.k_ls_hap = 1.0 / p.hap_mrt_h
    p.k_hap_in = p.k_ls_hap / p.ob0
    p.kin_l_base = p.k_rankl_out * p.l0
    p.pth50_l = p.rankl_pth_emax * p.pth_conc0 - p.pth_conc0
    p.po_base = p.k_opg_out * p.o0
    p.rx2_kin = p.k_runx2_out_0 * p.rx2_0
    p.ec50_pth_rx2 = p.runx2_pth_emax * p.pth_conc0 / (p.k_runx2_out_0 - p.runx2_out_e0) - (
        p.pth_conc0
    )
    p.ec50_pth_creb = p.creb_pth_emax * p.pth_conc0 / (1.0 - p.creb_in_e0) - p.pth_conc0
    p.creb_kin0 = p.k_creb_out * p.creb0
    g = p.phos_eff_gamma
    top = (p.phos_eff_0 - 1.0) * (1.2**g + p.phos_eff_50**g)
    p.phos_eff_max = top / (p.phos_eff_0 * 1.2**g)
    p.mtm_est = (1.0 - p.kidney_est_tmax) / (1.0 - 0.1)
    p.t17 = p.pth_conc0 * p.pth_reabs_emax - p.pth_conc0
    p.e0_pic_ob_kb = p.ob_apop_tgfb_mult * pic0
    p.emax_pic_ob_kb = p.ob_apop_tgfb_frac * pic0
    g = p.ob_apop_tgfb_gamma
    p.ec50_pic_ob_kb = _root(
        (p.e0_pic_ob_kb - p.emax_pic_ob_kb) * p.tgfbact0**g / (p.e0_pic_ob_kb - pic0)
        - p.tgfbact0**g,
        g,
    )
    p.e0_runx2_kb = p.ob_apop_runx2_e0_fact * p.k_ob_removal
    p.run_kb_max = p.e0_runx2_kb * p.ob_apop_runx2_max_fact
    g = p.ob_apop_runx2_gamma
    p.run_kb50 = _root(
        p.run_kb_max * p.runx2_ref**g / (p.e0_runx2_kb - p.k_ob_removal) - p.runx2_ref**g, g
    )
    p.t29 = (p.ca_abs_active_max * p.gut_ca0 - p.ca_abs_active_frac * p.gut_ca0) / (
        p.ca_abs_active_frac
    )
    g = p.calcitriol_pt_gamma
    p.ctriol50 = _root(
        (p.calcitriol_pt_max - p.calcitriol_pt_min) * p.calcitriol_conc0**g
        / (p.calcitriol_pt_max - 1.0)
        - p.calcitriol_conc0**g,
        g,
    )
    g = p.pth_secr_ca_gamma
    p.t60 = _root(
        (p.pth_secr_max - p.pth_secr_min) * p.ca_conc0**g / (p.pth_secr_max - p.pth_secr_base)
        - p.ca_conc0**g,
        g,
    )
    p.age_ref_y = p.menopause_age_y - p.est_ref_age_offset_y
    p.age_onset_y = p.menopause_age_y - p.meno_duration_y
    # --- magnesium: constants that make the reference state (adequate intake) steady ---
    _derive_magnesium(p, y0)


# --- magnesium -------------------------------------------------------------------------
@nb.njit(cache=True)
def _mg_gut_absorption(intake, vmax, km, kp, kf):
    """Steady gut magnesium (mmol) and absorption (mmol/h) at a constant intake (mmol/h)."""
    a = kp + kf
    b = vmax + a * km - intake
    g = (-b + math.sqrt(b * b + 4.0 * a * intake * km)) / (2.0 * a)
    return g, (vmax / (km + g) + kp) * g


@nb.njit(cache=True)
def _derive_magnesium(p, y0):
    """Derived magnesium constants (docs/MAGNESIUM.md).

    Absorption: saturable (vmax, km) plus passive (kp) against faecal transit (kf), from
    the fractional absorption at low, reference and very high intake (Fine 1991). The
    endogenous loss rate makes balance zero at ``mg_balance_zero_intake_mg_day`` with
    normal plasma Mg and maximal renal conservation (Hunt & Johnson 2006); the renal
    threshold makes the reference state (reference intake) an exact steady state.
    """
    mg_per_mmol_day = p.mg_molar_mass * 24.0  # mg/d per mmol/h
    p.mg_c0 = y0[S.plasma_mg_mmol] / p.v_ecf_l
    p.mg_bone0 = y0[S.bone_mg_mmol]
    p.mg_soft0 = y0[S.soft_mg_mmol]
    p.mg_i_ref = p.mg_intake_ref_mg_day / mg_per_mmol_day
    kf = p.mg_gut_transit
    p.mg_kp = kf * p.mg_abs_frac_passive / (1.0 - p.mg_abs_frac_passive)
    a_low = kf * p.mg_abs_frac_low / (1.0 - p.mg_abs_frac_low) - p.mg_kp  # vmax / km
    r_ref = kf * p.mg_abs_frac_ref / (1.0 - p.mg_abs_frac_ref) - p.mg_kp  # vmax/(km+G)
    g_ref = p.mg_i_ref / (r_ref + p.mg_kp + kf)
    p.mg_km = r_ref * g_ref / (a_low - r_ref)
    p.mg_vmax = a_low * p.mg_km
    i_zero = p.mg_balance_zero_intake_mg_day / mg_per_mmol_day
    _g, abs_zero = _mg_gut_absorption(i_zero, p.mg_vmax, p.mg_km, p.mg_kp, kf)
    gfr0 = y0[S.gfr_l_h]
    floor0 = gfr0 * p.mg_ultrafiltrable_frac * p.mg_fe_min * p.mg_c0
    p.mg_k_endo = (abs_zero - floor0) / y0[S.plasma_mg_mmol]
    urine0 = p.mg_abs_frac_ref * p.mg_i_ref - p.mg_k_endo * y0[S.plasma_mg_mmol]
    a_u = urine0 / (gfr0 * p.mg_ultrafiltrable_frac) - p.mg_fe_min * p.mg_c0
    w = p.mg_smooth_width_renal
    p.mg_c_thr = p.mg_c0 - (a_u - w * w / (4.0 * a_u))  # inverse of the smooth max
    p.mg_k_bone = math.log(2.0) / (24.0 * p.mg_bone_half_life_d)
    p.mg_k_soft = math.log(2.0) / (24.0 * p.mg_soft_half_life_d)
    p.mg_k_adapt = math.log(2.0) / (24.0 * p.mg_rep_adapt_half_life_d)
    # bone-cell depletion threshold, relative to the reference plasma Mg, and the value of
    # its smooth max at the reference (subtracted so the effect is exactly 0 there)
    p.mg_cell_thr_rel = p.mg_cell_dep_thr_mmol_l / p.mg_c0
    p.mg_cell_thr_shift = _smooth_pos(p.mg_cell_thr_rel - 1.0, p.mg_blend_width)


@nb.njit(cache=True, inline="always")
def _mg_effect(x, s_dep, e_dep, s_rep, e_rep, w):
    """Fractional change of a magnesium coupling at relative plasma Mg ``1 + x``.

    Depletion side (x < 0): ``e_dep * tanh(s_dep * x / e_dep)``; repletion side (x > 0)
    likewise with ``s_rep, e_rep``; blended smoothly over ``w``. Exactly 0 at x = 0.
    Signed slopes: a negative slope raises the multiplier when magnesium falls.
    """
    y_dep = e_dep * math.tanh(s_dep * x / e_dep) if e_dep > 0.0 else 0.0
    y_rep = e_rep * math.tanh(s_rep * x / e_rep) if e_rep > 0.0 else 0.0
    sig = 0.5 * (1.0 + math.tanh(x / w))
    return sig * y_rep + (1.0 - sig) * y_dep


@nb.njit(cache=True, inline="always")
def _smooth_pos(x, w):
    """Smooth max(0, x) over width w."""
    return 0.5 * (x + math.sqrt(x * x + w * w))


@nb.njit(cache=True, inline="always")
def _smooth_excess(x, w):
    """Smooth max(0, x) over width w, shifted to be exactly 0 at x = 0 (steady state)."""
    return _smooth_pos(x, w) - 0.5 * w


@nb.njit(cache=True, inline="always")
def _hill(x, ec50, gam):
    xg = x**gam
    return xg / (xg + ec50**gam)


@nb.njit(cache=True, inline="always")
def bp_occupancy(total, zol, zol_efficacy, ec50):
    """Bisphosphonate occupancy weighted by each drug's maximal effect (alendronate = 1).

    ``total`` is the potency-weighted surface amount of all bisphosphonates and ``zol``
    zoledronate's part of it (nmol); floats or arrays.
    """
    return (total + (zol_efficacy - 1.0) * zol) / (total + ec50)


@nb.njit(cache=True, inline="always")
def resorption_activity(oc, rank_rankl, bp_act, oc_gamma, oc50, moc_ratio0, moc_gamma):
    """Osteoclastic bone resorption per unit of its maximal rate (PR2010; floats or arrays).

    A Hill function of osteoclast number (``oc``, pmol/L) times RANK-RANKL signalling per
    osteoclast (``(rank_rankl / oc) / moc_ratio0`` to ``moc_gamma``), times the activity
    per osteoclast left by bisphosphonate (``bp_act``, 1 without drug). The bone calcium
    release, the remodelling space and CTX-I all follow it.
    """
    hill = oc**oc_gamma / (oc**oc_gamma + oc50**oc_gamma)
    return bp_act * hill * ((rank_rankl / oc) / moc_ratio0) ** moc_gamma


@nb.njit(cache=True, inline="always")
def _bp_pools(plasma, surface, buried, k_bury, k_res, k_des, k_uptake, k_renal):
    """Derivatives of one bisphosphonate's plasma, surface and buried pools (nmol/h).

    Plasma drug binds to bone surfaces (``k_uptake``) or is excreted in urine
    (``k_renal``). Surface drug is buried by formation (``k_bury``) and desorbs to
    plasma (``k_des``); buried drug is released to plasma by resorption (``k_res``).
    """
    desorbed = k_des * surface
    released = k_res * buried
    bound = k_uptake * plasma
    d_plasma = desorbed + released - bound - k_renal * plasma
    d_surface = bound - desorbed - k_bury * surface
    d_buried = k_bury * surface - released
    return d_plasma, d_surface, d_buried


@nb.njit(cache=True)
def estrogen_input(t_h, p):
    """Oestrogen production (relative, 1/h) at model time ``t_h`` (RP2012 form).

    Returns the steady-state value ``k_est_out`` (oestrogen = 1) for a
    premenopausal subject (``menopause_age_y`` is NaN) and before the reference age.
    """
    if math.isnan(p.menopause_age_y):
        return p.k_est_out
    age = p.age0_y + t_h / HOURS_PER_YEAR_NB
    age_term = (max(age, p.age_ref_y) / p.age_ref_y) ** p.est_age_gamma
    x = age - p.age_onset_y
    if x <= 0.0:
        return p.k_est_out * age_term
    half = 0.5 * p.meno_duration_y
    return p.k_est_out * age_term * (1.0 - p.est_meno_drop * x * x / (half * half + x * x))


HOURS_PER_YEAR_NB = HOURS_PER_YEAR


@nb.njit(cache=True)
def formation_age_factor(t_h, p):
    """Relative osteoblast differentiation capacity with age after menopause (seed:B14)."""
    if math.isnan(p.menopause_age_y):
        return 1.0
    years_post = p.age0_y + t_h / HOURS_PER_YEAR_NB - p.menopause_age_y
    if years_post <= 0.0:
        return 1.0
    return max(0.5, 1.0 - p.ob_age_decline_per_y * years_post)


@nb.njit(cache=True)
def rhs(t, y, p, dy):  # noqa: C901 - the model is one system of equations
    """Evaluate dy/dt (per hour) at time ``t`` (h) for state ``y`` and record ``p``."""
    v1 = p.v_ecf_l
    pth = y[S.pth_pmol]
    pth_c = pth / v1
    ca_c = y[S.plasma_ca_mmol] / v1
    phos_c = y[S.ecf_phosphate_mmol] / v1
    ctriol_c = y[S.calcitriol_pmol] / v1
    oc = y[S.osteoclasts]
    rob = y[S.responding_osteoblasts]
    ob_fast = y[S.osteoblasts_fast]
    ob_slow = y[S.osteoblasts_slow]
    ob = ob_fast + ob_slow
    tgfb = y[S.tgfb_latent]
    tgfb_act = y[S.tgfb_active]
    rankl = y[S.rankl]
    rnk = y[S.rank]
    opg = y[S.opg]
    m = y[S.rank_rankl]
    n = y[S.opg_rankl]
    q = y[S.exchangeable_bone_ca_mmol]
    qbone = y[S.bone_ca_mmol]
    est = y[S.estrogen]
    gfr = y[S.gfr_l_h]
    gut_ca = y[S.gut_ca_mmol]
    r_abs = y[S.ca_absorption_state]
    pic0 = p.tgfb_pic_0

    # --- magnesium: plasma Mg relative to reference -> coupling multipliers (1 at ref) --
    mg_p = y[S.plasma_mg_mmol]
    mg_c = mg_p / v1
    mg_rel = max(mg_c / p.mg_c0, 1e-9)
    mg_x = mg_rel - 1.0
    wb = p.mg_blend_width
    g = p.mg_pth_impair_gamma
    mg_m50g = p.mg_pth_impair_m50**g
    # parathyroid cell function impaired by depletion (1 at reference magnesium)
    mg_pt_impair = p.mg_pth_impair_floor + (1.0 - p.mg_pth_impair_floor) * (
        (1.0 + mg_m50g) * mg_rel**g / (mg_rel**g + mg_m50g))
    mg_pth_secr = (1.0 + _mg_effect(mg_x, -p.mg_pth_stim_dep_slope, p.mg_pth_stim_dep_max,
                                    -p.mg_pth_stim_rep_slope, p.mg_pth_stim_rep_max, wb)
                   ) * mg_pt_impair
    # the gland's hyperplastic response to low calcitriol needs the same magnesium-dependent
    # cell function (assumption, docs/MAGNESIUM.md): a weight of the impairment, <= 1 only
    mg_pt_growth = 1.0 - p.mg_pt_growth_gate * (1.0 - min(mg_pt_impair, 1.0))
    mg_aoh = 1.0 + _mg_effect(mg_x, p.mg_aoh_dep_slope, p.mg_aoh_dep_max, 0.0, 0.0, wb)
    mg_pth_sens = 1.0 + _mg_effect(mg_x, p.mg_pth_sens_dep_slope, p.mg_pth_sens_dep_max,
                                   0.0, 0.0, wb)
    mg_vd_sens = 1.0 + _mg_effect(mg_x, p.mg_vd_sens_dep_slope, p.mg_vd_sens_dep_max,
                                  0.0, 0.0, wb)
    # bone cells: the depletion side follows plasma Mg; the repletion side (supplement
    # suppression, seed:M18) follows the rise of plasma Mg above both the reference and the
    # level the cells have adapted to (mg_adapted_rel), so it fades under a sustained supply
    mg_a = y[S.mg_adapted_rel]
    # bone-cell depletion effects act below the lower reference limit (hypomagnesaemia):
    # relative distance below it, smooth, shifted to be exactly 0 at the reference
    if p.mg_cell_thr_rel < 1.0:
        mg_xc = p.mg_cell_thr_shift - _smooth_pos(p.mg_cell_thr_rel - mg_rel, wb)
    else:
        mg_xc = mg_x
    mg_xr = mg_rel - 1.0 - _smooth_excess(mg_a - 1.0, p.mg_smooth_width_adapt)
    mg_oc = 1.0 + _mg_effect(mg_xc, -p.mg_oc_dep_slope, p.mg_oc_dep_max, 0.0, 0.0, wb) + (
        _mg_effect(mg_xr, 0.0, 0.0, -p.mg_oc_rep_slope, p.mg_oc_rep_max, wb))
    mg_ob = 1.0 + _mg_effect(mg_xc, p.mg_ob_dep_slope, p.mg_ob_dep_max, 0.0, 0.0, wb) + (
        _mg_effect(mg_xr, 0.0, 0.0, -p.mg_ob_rep_slope, p.mg_ob_rep_max, wb))
    pth_c = pth_c * mg_pth_sens  # end-organ PTH resistance: bone and kidney see less PTH
    # magnesium fluxes (mmol/h)
    mg_gut = y[S.gut_mg_mmol]
    mg_in = p.mg_intake_mg_day / (24.0 * p.mg_molar_mass)
    mg_abs = (p.mg_vmax / (p.mg_km + max(mg_gut, 0.0)) + p.mg_kp) * mg_gut
    mg_fec = p.mg_gut_transit * mg_gut + p.mg_k_endo * mg_p
    mg_urine = gfr * p.mg_ultrafiltrable_frac * (
        p.mg_fe_min * mg_c + _smooth_pos(mg_c - p.mg_c_thr, p.mg_smooth_width_renal))
    mg_to_bone = p.mg_k_bone * (p.mg_bone0 * mg_rel - y[S.bone_mg_mmol])
    mg_to_soft = p.mg_k_soft * (p.mg_soft0 * mg_rel**p.mg_soft_gamma - y[S.soft_mg_mmol])

    # --- oestrogen effect in bone; raloxifene is a partial agonist there (not in kidney) --
    ral = max(y[S.raloxifene_body_ug], 0.0)
    ral_occ = ral / (ral + p.ral_ec50_ug)
    est_b = est + p.ral_emax * ral_occ * max(1.0 - est, 0.0)
    inv_est = 1.0 / est_b

    # --- bisphosphonate on bone surfaces (alendronate-equivalent amount, occupancy) -----
    s_aln = p.aln_potency * max(y[S.bp_surface_aln_nmol], 0.0)
    s_iba = p.iba_potency * max(y[S.bp_surface_iba_nmol], 0.0)
    s_ris = p.ris_potency * max(y[S.bp_surface_ris_nmol], 0.0)
    s_zol = p.zol_potency * max(y[S.bp_surface_zol_nmol], 0.0)
    bp_occ = bp_occupancy(s_aln + s_iba + s_ris + s_zol, s_zol, p.zol_efficacy, p.bp_ec50_nmol)
    # resorbing activity per osteoclast (FPPS inhibition: no ruffled border; OURS_BP_ACT);
    # 1 without drug, so the published model is unchanged
    bp_act = max(1.0 - p.bp_act_imax * bp_occ, 0.0)

    # --- bone calcium release (resorption) and uptake -------------------------------
    res_oc = p.j14_oc_max * resorption_activity(
        oc, m, bp_act, p.j14_oc_gamma, p.j14oc50, p.moc_ratio0, p.rank_rankl_oc_gamma)
    j14 = p.t13 * p.q0 * (1.0 - p.frac_resorption_oc) + res_oc * p.q0 * p.frac_resorption_oc
    j41 = 0.464 * j14  # molar P/Ca ratio of hydroxyapatite
    j15 = p.t15 * y[S.plasma_ca_mmol] * (
        1.0 - p.frac_uptake_hap + p.frac_uptake_hap * y[S.hydroxyapatite]
    )
    j42 = 0.464 * j15
    j14a = p.k_bone_ca_release * qbone
    j15a = p.k15a * q

    # --- TGF-beta --------------------------------------------------------------------
    kout_tgf = p.k_tgfb_out * (tgfb / p.tgfb0) ** p.tgfb_out_gamma
    kout_tgf_eqn = kout_tgf * tgfb * (bp_act * oc / p.oc0) ** p.tgfb_act_oc_gamma

    # --- osteoblast lineage ----------------------------------------------------------
    pic_rob = p.e0_pic_rob + p.rob_tgfb_emax * _hill(tgfb_act, p.ec50_pic_rob, p.rob_tgfb_gamma)
    rob_in = p.dr * pic_rob
    pic_ob = p.e0_pic_ob + p.ob_tgfb_emax * _hill(tgfb_act, p.ec50_pic_ob, p.ob_tgfb_gamma_diff)
    kpt = p.big_db / pic_ob

    # --- modelling-based formation drives: sclerostin blockade (Wnt) and PTH peaks --------
    # romosozumab binds sclerostin; PTH above its recent (adapted) level, as at teriparatide
    # peaks, is anabolic, while a sustained rise (secondary hyperparathyroidism) adapts
    # within about a day. Both formation responses adapt to a sustained signal.
    romo_cp = max(y[S.romosozumab_central_ng], 0.0) / p.romo_v_ml  # ng/mL
    romo_occ = romo_cp / (romo_cp + p.romo_ec50_ng_ml)
    wnt = romo_occ
    wnt_adapt = y[S.wnt_adaptation]
    w = p.smooth_width_anabolic
    wnt_drive = p.wnt_formation_emax * _smooth_excess(wnt - wnt_adapt, w)
    pth_excess = max(_smooth_excess(pth_c - y[S.pth_adapted_pmol_l], w), 0.0)
    pth_drive = p.pth_anabolic_emax * _hill(pth_excess, p.pth_anabolic_ec50, p.pth_anabolic_gamma)
    obm_rankl_share = (pth_drive + p.obm_rankl_floor) / (
        wnt_drive + pth_drive + p.obm_rankl_floor)

    # --- osteoclasts -----------------------------------------------------------------
    meff_oc = p.oc_rankl_e0 + p.oc_rankl_emax * _hill(m, p.ec50_meff_oc, p.oc_rankl_gamma)
    kin_oc = p.oc_apoptosis_base * pic0 * meff_oc * p.oc0
    pic_oc = p.e0_pic_oc + p.oc_tgfb_emax * _hill(tgfb_act, p.ec50_pic_oc, p.oc_tgfb_gamma)
    pil = m / 10.0
    lsurv_oc = p.oc_surv_e0 - (p.oc_surv_e0 - p.oc_surv_emax) * _hill(
        pil, p.ec50_surv, p.oc_surv_gamma
    )
    kls_oc = p.oc_apoptosis_base * pic_oc * lsurv_oc

    # --- RANKL / OPG -----------------------------------------------------------------
    # osteoblast-lineage RANKL: remodelling osteoblasts, plus the PTH-driven modelling
    # osteoblasts through a delayed state (their RANKL, and that of the osteocytes they
    # become, follows them over weeks: CTX-I rises after P1NP, seed:B36); Wnt-driven
    # osteoblasts raise OPG, not RANKL. A share of basal RANKL comes from osteocytes, not
    # from the active osteoblasts (OURS_OCY); oestrogen deficiency raises it
    ob_eff = (ob / p.ob0) ** p.rankl_ob_gamma
    obm_l = max(y[S.rankl_pth_lineage], 0.0)
    osteo_eff = p.rankl_osteocyte_frac * inv_est**p.rankl_ocy_est_gamma + (
        1.0 - p.rankl_osteocyte_frac) * ob_eff + p.rankl_pth_lineage_weight * (
        (ob / p.ob0 + obm_l) ** p.rankl_ob_gamma - ob_eff)
    lpth_eff = p.rankl_pth_emax * pth_c / (p.pth50_l * osteo_eff + pth_c)
    kin_l = p.kin_l_base * osteo_eff * lpth_eff
    rob_rel = rob / p.rob0
    p_opg = p.po_base * rob_rel * ((pth_c + p.opg_pth_50 * rob_rel) / (2.0 * pth_c))

    # --- intracellular PTH signalling --------------------------------------------------
    rx2_kout = p.runx2_out_e0 + p.runx2_pth_emax * pth_c / (pth_c + p.ec50_pth_rx2)
    creb_kin = p.creb_kin0 * (p.creb_in_e0 + p.creb_pth_emax * pth_c / (pth_c + p.ec50_pth_creb))

    # --- phosphate and 1-alpha-hydroxylase ---------------------------------------------
    po4_inh = (phos_c / 1.2) ** p.phos_pth_gamma
    g = p.phos_eff_gamma
    phos_eff = p.phos_eff_0 - p.phos_eff_max * p.phos_eff_0 * _hill(phos_c, p.phos_eff_50, g)
    w = p.smooth_width_phos_eff
    phos_effect = 0.5 * (phos_eff + 1.0 - math.sqrt((phos_eff - 1.0) ** 2 + w * w)) + 0.5 * w
    g = p.aoh_pth_gamma
    t68 = p.t66 * pth_c**g / (p.aoh_pth_ec50**g * po4_inh + pth_c**g)
    se = p.aoh_in_max * t68 * phos_effect

    # --- calcitriol-dependent gut absorption capacity ----------------------------------
    hc = _hill(ctriol_c, p.ca_abs_calcitriol_50, p.ca_abs_calcitriol_gamma)
    t36 = p.ca_abs_on_min + (p.ca_abs_on_max - p.ca_abs_on_min) * hc
    t37 = p.ca_abs_on_max - (p.ca_abs_on_max - p.ca_abs_on_min) * hc

    # --- renal calcium handling (50% of filtered Ca reabsorbed PTH-independently) -----
    ca_filt = 0.6 * 0.5 * gfr * ca_c
    tm_est = 1.0 - p.mtm_est + p.mtm_est * est
    reabs_max = (
        tm_est * (0.3 * gfr * p.ca_conc0 - 0.149997) * (p.reabs_50 + p.ca_conc0) / p.ca_conc0
    )
    reabs_pth = p.pth_reabs_emax * pth_c / (pth_c + p.t17)
    ca_reabs_active = reabs_max * ca_c / (p.reabs_50 + ca_c) * reabs_pth
    t10 = p.ca_excr_calcitriol_max * ctriol_c / (ctriol_c + p.ca_excr_calcitriol_50)
    j27 = _smooth_pos((2.0 - t10) * (ca_filt - ca_reabs_active), p.smooth_width_ca_flux)

    # --- parathyroid gland pool ---------------------------------------------------------
    sca_eff = (p.ca_conc0 / ca_c) ** p.pth_ca_gamma
    t73 = p.pt_pool_calcitriol_slope * (ctriol_c - 90.0 * sca_eff)
    t74 = math.tanh(t73)
    t75 = p.pt_pool_rate * (0.85 * (1.0 + t74) + 0.15)
    t76 = p.pt_pool_rate * (0.85 * (1.0 - t74) + 0.15)

    # --- renal and intestinal phosphate ----------------------------------------------------
    j48 = _smooth_pos(
        0.88 * gfr * phos_c - p.phos_renal_threshold * 0.88 * gfr, p.smooth_width_phos_flux
    )
    j53 = p.k_phos_gut * y[S.gut_phosphate_mmol]
    j54 = p.k_phos_cell_in * phos_c
    j56 = p.k_phos_cell_out * y[S.intracellular_phosphate_mmol]

    # --- osteoblast apoptosis (TGF-beta, oestrogen, PTH via RUNX2/BCL2) -------------------
    g = p.ob_apop_tgfb_gamma
    pic_ob_kb = p.e0_pic_ob_kb - (p.e0_pic_ob_kb - p.emax_pic_ob_kb) * _hill(
        tgfb_act, p.ec50_pic_ob_kb, g
    )
    pic_ob_kb_eff = (pic_ob_kb / pic0) * inv_est**p.ob_est_gamma
    bcl2 = y[S.bcl2]
    sw = 1.0 / (1.0 + math.exp(-(bcl2 - p.runx2_bcl2_threshold) / p.smooth_width_runx2))
    runx2_sig = 10.0 + sw * (bcl2 - 100.0)
    runx2_kb = p.run_kb_max * _hill(runx2_sig, p.run_kb50, p.ob_apop_runx2_gamma)
    kbprime = p.e0_runx2_kb * pic_ob_kb_eff - runx2_kb
    kbslow = kbprime * p.frac_kb_slow
    kbfast = (p.k_ob_removal * p.ob0 + kbslow * p.obfast0 - kbslow * p.ob0) / p.obfast0
    frackb2 = kbfast / kbprime

    # --- gut calcium -------------------------------------------------------------------------
    t31 = p.ca_abs_active_max * gut_ca / (gut_ca + p.t29)
    j40 = t31 * gut_ca * (r_abs / 0.5) / (gut_ca + p.ca_abs_r_50) + p.ca_abs_passive * gut_ca
    t85 = p.ca_bioav_max * _hill(r_abs, p.ca_abs_r_50, p.ca_bioav_gamma)
    ca_in = p.oral_calcium * t85

    # --- calcitriol and parathyroid capacity ---------------------------------------------
    ctriol_pt_eff = p.calcitriol_pt_max - (p.calcitriol_pt_max - p.calcitriol_pt_min) * _hill(
        ctriol_c, p.ctriol50, p.calcitriol_pt_gamma
    )
    fctd = (y[S.pt_gland_active] / 0.5) * y[S.pt_gland_capacity]
    t63 = p.pth_secr_max - (p.pth_secr_max - p.pth_secr_min) * _hill(
        ca_c, p.t60, p.pth_secr_ca_gamma
    )
    teri_in = y[S.teriparatide_sc_pmol] * p.teri_cl / p.teri_vc

    # --- magnesium: couplings applied (PTH secretion, 1-alpha-hydroxylase, bone cells) --
    t63 = t63 * mg_pth_secr
    se = se * mg_aoh
    kin_oc = kin_oc * mg_oc
    rob_in = rob_in * mg_ob
    # end-organ vitamin D resistance: the gut absorption capacity sees less calcitriol
    hc = _hill(ctriol_c * mg_vd_sens, p.ca_abs_calcitriol_50, p.ca_abs_calcitriol_gamma)
    t36 = p.ca_abs_on_min + (p.ca_abs_on_max - p.ca_abs_on_min) * hc
    t37 = p.ca_abs_on_max - (p.ca_abs_on_max - p.ca_abs_on_min) * hc

    # --- denosumab PK and RANKL binding ------------------------------------------------------
    den_cp = y[S.denosumab_central_ng] / p.den_vc  # ng/mL
    den_pm = max(den_cp, 0.0) * 1.0e6 / p.den_mw  # pmol/L
    den_clnl = p.den_vmax / (p.den_km + max(den_cp, 0.0))

    # --- oestrogen and ageing ----------------------------------------------------------------
    age_f = formation_age_factor(t, p)

    # --- bisphosphonate on bone surfaces: raises osteoclast removal (apoptosis) ---------
    kls_oc = kls_oc * (1.0 + p.bp_emax * bp_occ)

    obm = y[S.osteoblasts_modeling]
    kin_l = kin_l * (1.0 - p.romo_rankl_imax * romo_occ)

    # ===== derivatives =====
    dy[S.pth_pmol] = t63 * fctd - p.k_pth_out * pth + teri_in
    dy[S.pt_gland_active] = (1.0 - y[S.pt_gland_active]) * t76 - y[S.pt_gland_active] * t75
    # magnesium: the capacity's growth above 1 (hyperplasia) is gated by mg_pt_growth
    ctriol_pt_eff = ctriol_pt_eff + min(mg_pt_growth - 1.0, 0.0) * max(ctriol_pt_eff - 1.0, 0.0)
    dy[S.pt_gland_capacity] = p.k_pt_capacity * ctriol_pt_eff - p.k_pt_capacity * y[
        S.pt_gland_capacity
    ]
    dy[S.calcitriol_pmol] = y[S.alpha_hydroxylase] - p.k_calcitriol_out * y[S.calcitriol_pmol]
    dy[S.alpha_hydroxylase] = se - p.k_aoh_out * y[S.alpha_hydroxylase]
    dy[S.plasma_ca_mmol] = j14 - j15 - j27 + j40
    dy[S.gut_phosphate_mmol] = p.oral_phosphate * p.f_phosphate - j53
    dy[S.intracellular_phosphate_mmol] = j54 - j56
    dy[S.ecf_phosphate_mmol] = j41 - j42 - j48 + j53 - j54 + j56
    dy[S.gut_ca_mmol] = ca_in - j40
    dy[S.ca_absorbed_cum_mmol] = ca_in
    dy[S.ca_absorption_state] = t36 * (1.0 - r_abs) - t37 * r_abs
    dy[S.hydroxyapatite] = p.k_hap_in * ob - p.k_ls_hap * y[S.hydroxyapatite]
    dy[S.estrogen] = estrogen_input(t, p) - p.k_est_out * est
    ob_in = kpt * rob * age_f
    dy[S.osteoblasts_fast] = ob_in * p.frac_ob_fast * frackb2 - kbfast * ob_fast
    dy[S.osteoblasts_slow] = ob_in * (1.0 - p.frac_ob_fast) * p.frac_kb_slow - kbslow * ob_slow
    dy[S.osteoclasts] = kin_oc - kls_oc * oc
    dy[S.responding_osteoblasts] = rob_in * inv_est**p.rob_est_gamma - kpt * rob
    dy[S.tgfb_latent] = p.kin_tgf * (ob / p.ob0) ** p.ob_tgfb_gamma * inv_est**p.tgfb_est_gamma * (
        p.tgfb0 / tgfb) ** p.tgfb_matrix_gamma - (
        kout_tgf_eqn * est_b**p.tgfb_act_est_gamma
    )
    dy[S.tgfb_active] = kout_tgf_eqn * est_b**p.tgfb_act_est_gamma - p.kout_tgf_act * tgfb_act
    ob_rel = ob / p.ob0
    oc_rel = bp_act * oc / p.oc0  # resorbing osteoclasts (bisphosphonate-inactivated excluded)
    obm_rel = obm / p.ob0
    # remodelling space (OURS_RS): the osteoclastic resorption rate averaged over the
    # remodelling period, relative to the premenopausal reference. It is bone excavated
    # and not yet refilled, so measured BMD moves opposite to it (the remodelling
    # transient), weighted by bmd_*_remodelling_space
    res_rel = res_oc / p.t13  # osteoclastic resorption rate (CTX-I basis), 1 at ref
    d_rs = p.k_remodelling_space * (res_rel - y[S.remodelling_space_rel])
    dy[S.remodelling_space_rel] = d_rs
    # spine: remodelling balance (formation by active osteoblasts vs resorption of the
    # bone present) plus modelling-based formation on quiescent surfaces (ours)
    dy[S.bmd_spine_rel] = p.k_bmd_spine * (
        ob_rel**p.bmd_spine_ob_gamma * est_b**p.bmd_spine_est_gamma
        - oc_rel**p.bmd_spine_oc_gamma * y[S.bmd_spine_rel]
    ) + p.k_bmd_modeling * obm_rel - p.bmd_spine_remodelling_space * d_rs
    dy[S.bmd_spine_denfit_rel] = p.k_bmd_spine_den * (
        ob_rel**p.bmd_ob_gamma - oc_rel**p.bmd_spine_den_oc_gamma * y[S.bmd_spine_denfit_rel]
    )
    dy[S.bmd_hip_rel] = p.k_bmd_hip * (
        ob_rel**p.bmd_ob_gamma - oc_rel**p.bmd_hip_oc_gamma * y[S.bmd_hip_rel]
    ) + p.k_bmd_modeling * p.bmd_modeling_hip_frac * obm_rel - (
        p.bmd_hip_remodelling_space * d_rs)
    dy[S.rankl] = (
        kin_l - p.k_rankl_out * rankl - p.k_opg_on * opg * rankl + p.k_opg_off * n
        - p.k_rank_on * rnk * rankl + p.k_rank_off * m - p.k_den_rankl * den_pm * rankl
    )
    dy[S.rank] = (
        p.kin_rnk * tgfb_act**p.rank_tgfb_gamma - p.k_rank_out * rnk
        - p.k_rank_on * rnk * rankl + p.k_rank_off * m
    )
    dy[S.rank_rankl] = p.k_rank_on * rnk * rankl - p.k_rank_off * m
    dy[S.opg_rankl] = p.k_opg_on * opg * rankl - p.k_opg_off * n
    dy[S.opg] = p_opg - p.k_opg_on * opg * rankl + p.k_opg_off * n - p.k_opg_out * opg
    dy[S.exchangeable_bone_ca_mmol] = j15 - j14 + j14a - j15a
    dy[S.bone_ca_mmol] = j15a - j14a
    dy[S.runx2] = p.rx2_kin - rx2_kout * y[S.runx2]
    dy[S.creb] = creb_kin - p.k_creb_out * y[S.creb]
    dy[S.bcl2] = p.k_bcl2_out * y[S.creb] * y[S.runx2] - p.k_bcl2_out * bcl2
    dy[S.teriparatide_sc_pmol] = -teri_in
    dy[S.denosumab_sc_ng] = -p.den_ka * y[S.denosumab_sc_ng]
    dy[S.denosumab_central_ng] = (
        p.den_ka * y[S.denosumab_sc_ng] + p.den_q * y[S.denosumab_peripheral_ng] / p.den_vp
        - (p.den_q + p.den_cl + den_clnl) * den_cp
    )
    dy[S.denosumab_peripheral_ng] = p.den_q * den_cp - p.den_q * y[
        S.denosumab_peripheral_ng
    ] / p.den_vp
    dy[S.gfr_l_h] = -p.k_gfr_decline * gfr
    dy[S.urine_ca_cum_mmol] = j27
    # bisphosphonates: surface (active) and buried pools, with recycling (OURS_BP)
    k_bury = p.bp_k_bury * ob_rel
    k_res = p.bp_k_resorb * oc_rel
    # plasma drug binds to bone where bone is remodelling (OURS_BP_UPTAKE): the uptake
    # rate scales with the remodelling surface; the renal rate does not
    surf = p.bp_uptake_floor + (1.0 - p.bp_uptake_floor) * (
        p.bp_uptake_ob_frac * ob_rel + (1.0 - p.bp_uptake_ob_frac) * oc_rel)
    k_up = p.bp_k_plasma * surf
    for d_p, d_s, d_b, k_des, f_b in (
            (S.bp_plasma_aln_nmol, S.bp_surface_aln_nmol, S.bp_buried_aln_nmol,
             p.bp_k_desorb, p.aln_f_bone),
            (S.bp_plasma_iba_nmol, S.bp_surface_iba_nmol, S.bp_buried_iba_nmol,
             p.bp_k_desorb * p.aln_affinity / p.iba_affinity, p.iba_f_bone),
            (S.bp_plasma_ris_nmol, S.bp_surface_ris_nmol, S.bp_buried_ris_nmol,
             p.bp_k_desorb * p.aln_affinity / p.ris_affinity, p.ris_f_bone),
            (S.bp_plasma_zol_nmol, S.bp_surface_zol_nmol, S.bp_buried_zol_nmol,
             p.bp_k_desorb * p.aln_affinity / p.zol_affinity, p.zol_f_bone)):
        dy[d_p], dy[d_s], dy[d_b] = _bp_pools(
            y[d_p], y[d_s], y[d_b], k_bury, k_res, k_des, k_up * f_b,
            p.bp_k_plasma * (1.0 - f_b))
    dy[S.raloxifene_body_ug] = -p.ral_k_el * y[S.raloxifene_body_ug]
    dy[S.romosozumab_sc_ng] = -p.romo_ka * y[S.romosozumab_sc_ng]
    dy[S.romosozumab_central_ng] = p.romo_ka * y[S.romosozumab_sc_ng] - (
        p.romo_cl_ml_h / p.romo_v_ml) * y[S.romosozumab_central_ng]
    dy[S.wnt_adaptation] = p.wnt_k_adapt * (wnt - wnt_adapt)
    dy[S.pth_adapted_pmol_l] = p.k_pth_adapt * (pth_c - y[S.pth_adapted_pmol_l])
    dy[S.rankl_pth_lineage] = p.k_rankl_pth_lineage * (obm * obm_rankl_share / p.ob0 - obm_l)
    dy[S.osteoblasts_modeling] = p.k_obm_out * (
        p.ob0 * (wnt_drive + pth_drive) - obm)
    # --- magnesium ---
    dy[S.gut_mg_mmol] = mg_in - mg_abs - p.mg_gut_transit * mg_gut
    dy[S.plasma_mg_mmol] = mg_abs - mg_urine - p.mg_k_endo * mg_p - mg_to_bone - mg_to_soft
    dy[S.bone_mg_mmol] = mg_to_bone
    dy[S.soft_mg_mmol] = mg_to_soft
    dy[S.mg_adapted_rel] = p.mg_k_adapt * (mg_rel - mg_a)
    dy[S.mg_intake_cum_mmol] = mg_in
    dy[S.mg_urine_cum_mmol] = mg_urine
    dy[S.mg_faecal_cum_mmol] = mg_fec
