"""Clinical outputs: model states -> markers, minerals and BMD in clinical units.

The markers the model produces are declared in the marker catalogue
(:mod:`boneturnover.knowledge.markers`: each marker's ``model_output`` column and its
``model`` calibration, with sources); minerals and BMD references in
``library/outputs.toml``. :data:`OUTPUTS` lists every output column with unit, meaning
and source, and :func:`compute_outputs` evaluates them for arrays of states.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from ..knowledge.markers import Citation, Marker, magnesium_reference, marker_catalog
from ..units import convert
from .equations import S, bp_occupancy, resorption_activity

__all__ = ["OutputDef", "OUTPUTS", "calibration", "compute_outputs", "output_table"]


@dataclass(frozen=True)
class OutputDef:
    """One output column."""

    name: str
    unit: str
    meaning: str
    source: str


def _cited(cites: tuple[Citation, ...], note: str = "") -> str:
    """``note (seed:B25)``: a seed fact by its key, another source by its citation."""
    refs = "; ".join(c.ref if c.ref.startswith("seed:") else c.text for c in cites)
    return f"{note} ({refs})" if note else refs


def _marker_calibration(m: Marker) -> dict[str, Any]:
    cal = m.model
    assert cal is not None
    return {
        "marker": m.id, "meaning": cal.meaning, "unit": m.canonical_unit,
        "state_basis": cal.basis, "centre": cal.centre,
        "ri_low": cal.interval.low, "ri_high": cal.interval.high, "ri_name": cal.interval.name,
        "centre_source": _cited(cal.centre_cite, cal.centre_note),
        "ri_source": _cited(cal.interval.cite), "basis_source": _cited(cal.basis_cite),
        "evidence": ", ".join(dict.fromkeys(c.evidence for c in cal.centre_cite)),
    }


@cache
def calibration() -> dict[str, Any]:
    """Calibration constants of the outputs, with sources.

    Returns
    -------
    dict
        ``markers``: output column (``ctx_ng_l``) -> ``marker`` (catalogue id),
        ``meaning``, ``unit``, ``state_basis``, ``centre``, ``ri_low``/``ri_high`` and
        ``ri_name`` (the interval the centre sits in), the source texts
        ``centre_source``, ``ri_source``, ``basis_source`` and ``evidence``, from the
        marker catalogue; ``minerals``, ``bmd`` and ``sources`` from
        ``library/outputs.toml``.
    """
    res = resources.files("boneturnover.model.library").joinpath("outputs.toml")
    with res.open("rb") as fh:
        data = tomllib.load(fh)
    data["markers"] = {m.model.output: _marker_calibration(m)
                       for m in marker_catalog().values() if m.model is not None}
    return data


@cache
def _molar_mass_g_mol(marker: str) -> float:
    """Molar mass of a mineral output's analyte, from the marker catalogue."""
    mm = marker_catalog()[marker].molar_mass_g_mol
    assert mm is not None
    return mm


def _mineral_source(marker: str, model_text: str) -> str:
    m = marker_catalog()[marker]
    ri = m.ri
    text = model_text
    if ri is not None:
        text += (f"; reference interval {ri.low:g}-{ri.high:g} {m.canonical_unit} "
                 f"(marker catalogue {m.id}: {_cited(ri.cite)})")
    if m.molar_mass_cite:
        text += f"; molar mass {m.molar_mass_g_mol:g} g/mol ({_cited(m.molar_mass_cite)})"
    return text


def _mg_reference_text() -> str:
    """The serum magnesium interval and cut-off, from the marker catalogue (one place)."""
    ref = magnesium_reference()
    return (f"adult interval {ref.low_mmol_l:g}-{ref.high_mmol_l:g} mmol/L, deficiency "
            f"cut-off {ref.deficiency_cutoff_mmol_l:g} mmol/L (marker catalogue, MG)")


def _defs() -> tuple[OutputDef, ...]:
    cal = calibration()
    src = cal["sources"]
    out = [OutputDef("time_d", "d", "time since the start of the scenario (patient at `age`)", "")]
    out.append(OutputDef("age_y", "a", "age", ""))
    for name, m in cal["markers"].items():
        out.append(OutputDef(
            name, m["unit"], m["meaning"] + f"; premenopausal centre {m['centre']} {m['unit']}",
            f"{m['centre_source']}; basis: {m['basis_source']}"))
    lab = src["LAB_MINERAL"]
    out += [
        OutputDef("pth_pg_ml", "pg/mL", "serum intact PTH",
                  _mineral_source("PTH", src["PR2010_BASELINE"])),
        OutputDef("calcium_mmol_l", "mmol/L", "serum total calcium",
                  _mineral_source("CA", src["PR2010_BASELINE"])),
        OutputDef("phosphate_mmol_l", "mmol/L", "serum phosphate",
                  f"{src['PR2010_BASELINE']}; {lab}"),
        OutputDef("calcitriol_pmol_l", "pmol/L", "serum 1,25-dihydroxyvitamin D",
                  f"{src['PR2010_BASELINE']}; {lab}"),
        OutputDef("bmd_spine_g_cm2", "g/cm2", "lumbar spine (L1-L4) areal BMD",
                  f"Riggs & Peterson 2012 (relative BMD); {src['HOLOGIC']}"),
        OutputDef("bmd_hip_g_cm2", "g/cm2", "total hip areal BMD (femoral-neck dynamics)",
                  f"Riggs & Peterson 2012 (relative BMD); {src['NHANES']}"),
        OutputDef("t_score_spine", "1", "lumbar spine T-score", src["HOLOGIC"]),
        OutputDef("t_score_hip", "1", "total hip T-score", src["NHANES"]),
        OutputDef("estrogen_rel", "1", "oestrogen effect relative to premenopause",
                  "Riggs & Peterson 2012"),
        OutputDef("osteoclasts_rel", "1", "active osteoclasts relative to premenopause",
                  "Peterson & Riggs 2010"),
        OutputDef("osteoblasts_rel", "1", "active osteoblasts relative to premenopause",
                  "Peterson & Riggs 2010"),
        OutputDef("denosumab_ng_ml", "ng/mL", "serum denosumab", "Peterson et al. 2004"),
        OutputDef("urine_ca_cum_mmol", "mmol", "cumulative urinary calcium since time 0",
                  "Peterson & Riggs 2010"),
        # --- magnesium ---
        OutputDef("magnesium_mmol_l", "mmol/L", "serum total magnesium (extracellular Mg / V1)",
                  f"{src['MG_MODEL']}; reference: {_mg_reference_text()}"),
        OutputDef("bone_magnesium_mmol", "mmol", "bone magnesium content (about 60% of body "
                  "magnesium at adequate intake, seed:M2)", src["MG_MODEL"]),
        OutputDef("ca_mg_intake_ratio", "1", "calcium/magnesium intake mass ratio, diet plus "
                  "supplements (each regular dose spread over its interval; a single dose over "
                  "one day); seed:M10", src["MG_RATIO"]),
    ]
    return tuple(out)


OUTPUTS: tuple[OutputDef, ...] = _defs()


def _resorption_activity(y: np.ndarray, record: np.void) -> np.ndarray:
    """Osteoclastic bone resorption (relative units), as in the model's bone calcium release.

    Collagen degradation products (CTX-I) follow this rate, so they fall within hours of
    RANKL blockade while osteoclast number (TRAP5b) falls over days.
    """
    # the equations' formula (plain NumPy here: no compilation per array shape)
    return resorption_activity.py_func(
        np.maximum(y[..., S.osteoclasts], 1e-300), np.maximum(y[..., S.rank_rankl], 0.0),
        bp_activity(y, record), float(record["j14_oc_gamma"]), float(record["j14oc50"]),
        float(record["moc_ratio0"]), float(record["rank_rankl_oc_gamma"]))


def bp_activity(y: np.ndarray, record: np.void) -> np.ndarray:
    """Resorbing activity per osteoclast left by surface-bound bisphosphonate (1 = none)."""
    amounts = {d: float(record[f"{d}_potency"])
               * np.maximum(y[..., getattr(S, f"bp_surface_{d}_nmol")], 0.0)
               for d in ("aln", "iba", "ris", "zol")}
    # the same formula as the equations (plain NumPy here: no compilation per array shape)
    occ = bp_occupancy.py_func(sum(amounts.values()), amounts["zol"],
                               float(record["zol_efficacy"]), float(record["bp_ec50_nmol"]))
    return np.maximum(1.0 - float(record["bp_act_imax"]) * occ, 0.0)


def compute_outputs(
    y: np.ndarray,
    y_base: np.ndarray,
    record: np.void,
    bmd_base_spine_g_cm2: float,
    bmd_base_hip_g_cm2: float,
    supplement_mmol_h: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Clinical outputs for states ``y`` (..., n_states).

    Parameters
    ----------
    y
        States in model units, any leading shape.
    y_base
        The subject's premenopausal steady state (n_states,): markers are scaled
        relative to it.
    record
        The subject's parameter record (volumes convert amounts to concentrations).
    bmd_base_spine_g_cm2, bmd_base_hip_g_cm2
        Premenopausal BMD (g/cm2) that relative BMD 1.0 stands for.
    supplement_mmol_h
        Optional supplement intake rates (mmol/h) per dose target, ``"gut_calcium"`` and
        ``"gut_magnesium"``, aligned with the leading axis of ``y`` (see
        :func:`boneturnover.magnesium.supplement_rates_mmol_h`); missing: diet only.
    """
    cal = calibration()
    v_ecf_l = float(record["v_ecf_l"])
    oc = y[..., S.osteoclasts] / y_base[S.osteoclasts]
    # formation markers count remodelling and modelling-based osteoblasts
    ob_now = (y[..., S.osteoblasts_fast] + y[..., S.osteoblasts_slow]
              + y[..., S.osteoblasts_modeling])
    ob = ob_now / (y_base[S.osteoblasts_fast] + y_base[S.osteoblasts_slow])
    rel = {"osteoclasts": oc, "osteoblasts": ob,
           "resorption": _resorption_activity(y, record) / _resorption_activity(y_base, record)}
    out: dict[str, np.ndarray] = {}
    for name, m in cal["markers"].items():
        out[name] = m["centre"] * rel[m["state_basis"]]
    mw = _molar_mass_g_mol("PTH")
    pg_per_pmol = convert(1.0, "pmol/L", "pg/mL", molar_mass_g_mol=mw)
    out["pth_pg_ml"] = y[..., S.pth_pmol] / v_ecf_l * pg_per_pmol
    out["calcium_mmol_l"] = y[..., S.plasma_ca_mmol] / v_ecf_l
    out["phosphate_mmol_l"] = y[..., S.ecf_phosphate_mmol] / v_ecf_l
    out["calcitriol_pmol_l"] = y[..., S.calcitriol_pmol] / v_ecf_l
    bmd = cal["bmd"]
    out["bmd_spine_g_cm2"] = y[..., S.bmd_spine_rel] * bmd_base_spine_g_cm2
    out["bmd_hip_g_cm2"] = y[..., S.bmd_hip_rel] * bmd_base_hip_g_cm2
    out["t_score_spine"] = (out["bmd_spine_g_cm2"] - bmd["spine_young_mean_g_cm2"]) / bmd[
        "spine_young_sd_g_cm2"
    ]
    out["t_score_hip"] = (out["bmd_hip_g_cm2"] - bmd["hip_young_mean_g_cm2"]) / bmd[
        "hip_young_sd_g_cm2"
    ]
    out["estrogen_rel"] = y[..., S.estrogen]
    out["osteoclasts_rel"] = oc
    out["osteoblasts_rel"] = ob
    out["denosumab_ng_ml"] = np.maximum(y[..., S.denosumab_central_ng], 0.0) / float(
        record["den_vc"]
    )
    out["urine_ca_cum_mmol"] = y[..., S.urine_ca_cum_mmol]
    # --- magnesium ---
    out["magnesium_mmol_l"] = y[..., S.plasma_mg_mmol] / v_ecf_l
    out["bone_magnesium_mmol"] = y[..., S.bone_mg_mmol]
    supp = supplement_mmol_h or {}
    ca_mmol_h = float(record["oral_calcium"]) + supp.get("gut_calcium", 0.0)
    mg_mmol_h = float(record["mg_intake_mg_day"]) / (24.0 * float(record["mg_molar_mass"])) + (
        supp.get("gut_magnesium", 0.0))
    ca_mg = ca_mmol_h * _molar_mass_g_mol("CA")
    mg_mg = mg_mmol_h * float(record["mg_molar_mass"])
    ratio = np.where(mg_mg > 0, ca_mg / np.where(mg_mg > 0, mg_mg, 1.0), np.inf)
    out["ca_mg_intake_ratio"] = np.broadcast_to(ratio, y.shape[:-1]).astype(float)
    return out


def output_table() -> list[dict[str, str]]:
    """Rows of name, unit, meaning and source for every output (for ``boneturnover outputs``)."""
    return [{"name": o.name, "unit": o.unit, "meaning": o.meaning, "source": o.source}
            for o in OUTPUTS]
