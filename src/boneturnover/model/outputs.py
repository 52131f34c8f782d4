"""Clinical outputs: model states -> markers, minerals and BMD in clinical units.

The markers the model produces are declared in the marker catalogue
(:mod:`boneturnover.knowledge.markers`: each marker's ``model_output`` column and its
``model`` calibration, with sources); minerals and BMD references in
``library/outputs.toml``. :data:`OUTPUTS` lists every output column with unit, meaning
and source; :func:`observation` gives the expressions of the columns that the model's
generated code evaluates at the output times (:mod:`boneturnover.model.codegen`).
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

__all__ = ["OutputDef", "OUTPUTS", "Observation", "INTAKE_COLUMNS", "calibration",
           "observation", "intake_ratio", "output_table"]


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
        OutputDef("egfr_ml_min", "mL/min/{1.73_m2}", "estimated glomerular filtration rate "
                  "(the model's GFR for a woman of 1.73 m2; CKD categories of KDIGO 2012)",
                  "Peterson & Riggs 2010 (GFR 6 L/h = 100 mL/min); KDIGO 2012"),
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


@dataclass(frozen=True)
class Observation:
    """How the output columns are computed from the states: expressions for the compiler.

    Attributes
    ----------
    signals
        ``(name, expression)``: quantities the columns are built from, evaluated at each
        output time and once at the subject's premenopausal steady state (``base_<name>``).
    columns
        ``(column, expression)`` of every compiled output column, in :data:`OUTPUTS` order.
    constants
        Names of the constants the expressions read (``centre_<column>`` of each marker,
        ``library/outputs.toml`` [constants]), in the order of :meth:`constant_values`.
    """

    signals: tuple[tuple[str, str], ...]
    columns: tuple[tuple[str, str], ...]
    constants: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def text(self) -> str:
        """Every expression and name, for the generated code's hash."""
        rows = [*(f"signal {n} = {e}" for n, e in self.signals),
                *(f"column {n} = {e}" for n, e in self.columns),
                *(f"constant {n}" for n in self.constants)]
        return "\n".join(rows)

    def constant_values(self, bmd_premenopausal_spine_g_cm2: float | None = None,
                        bmd_premenopausal_hip_g_cm2: float | None = None) -> np.ndarray:
        """The constants, in :attr:`constants` order, for a patient's premenopausal BMD."""
        cal = calibration()
        bmd = cal["bmd"]
        values = {f"centre_{col}": float(m["centre"]) for col, m in cal["markers"].items()}
        values["pth_pg_per_pmol"] = convert(1.0, "pmol/L", "pg/mL",
                                            molar_mass_g_mol=_molar_mass_g_mol("PTH"))
        values["bmd_premenopausal_spine_g_cm2"] = float(
            bmd_premenopausal_spine_g_cm2 or bmd["spine_young_mean_g_cm2"])
        values["bmd_premenopausal_hip_g_cm2"] = float(
            bmd_premenopausal_hip_g_cm2 or bmd["hip_young_mean_g_cm2"])
        for key in ("spine_young_mean_g_cm2", "spine_young_sd_g_cm2", "hip_young_mean_g_cm2",
                    "hip_young_sd_g_cm2"):
            values[key] = float(bmd[key])
        return np.array([values[name] for name in self.constants], dtype=np.float64)


#: Output columns computed in Python from the intake, not from the states.
INTAKE_COLUMNS = ("ca_mg_intake_ratio",)


@cache
def observation() -> Observation:
    """The compiled outputs: ``library/outputs.toml`` [signals], [relative], [constants] and
    [columns], with one column per marker of the catalogue (centre x relative basis)."""
    cal = calibration()
    relative = cal["relative"]
    exprs: dict[str, str] = {}
    for col, m in cal["markers"].items():
        basis = m["state_basis"]
        if basis not in relative:
            raise KeyError(f"marker {m['marker']}: basis {basis!r} has no [relative] "
                           "expression in model/library/outputs.toml")
        exprs[col] = f"centre_{col} * ({relative[basis]})"
    exprs.update(cal["columns"])
    wanted = [o.name for o in OUTPUTS[2:] if o.name not in INTAKE_COLUMNS]
    missing = [c for c in wanted if c not in exprs]
    extra = [c for c in exprs if c not in wanted]
    if missing or extra:
        raise KeyError(f"model/library/outputs.toml [columns]: missing {missing}, unknown "
                       f"{extra}")
    constants = tuple([f"centre_{col}" for col in cal["markers"]] + list(cal["constants"]))
    return Observation(signals=tuple(cal["signals"].items()),
                       columns=tuple((c, exprs[c]) for c in wanted), constants=constants)


def intake_ratio(record: np.void, n_times: int,
                 supplement_mmol_h: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Calcium/magnesium intake mass ratio at each output time (inf without magnesium).

    Parameters
    ----------
    record
        The subject's parameter record (diet: ``oral_calcium``, ``mg_intake_mg_day``).
    n_times
        Output times.
    supplement_mmol_h
        Optional supplement intake rates (mmol/h) per dose target, ``"gut_calcium"`` and
        ``"gut_magnesium"``, at the output times (see
        :func:`boneturnover.magnesium.supplement_rates_mmol_h`); missing: diet only.
    """
    supp = supplement_mmol_h or {}
    ca_mmol_h = float(record["oral_calcium"]) + supp.get("gut_calcium", 0.0)
    mg_mmol_h = float(record["mg_intake_mg_day"]) / (24.0 * float(record["mg_molar_mass"])) + (
        supp.get("gut_magnesium", 0.0))
    ca_mg = ca_mmol_h * _molar_mass_g_mol("CA")
    mg_mg = mg_mmol_h * float(record["mg_molar_mass"])
    ratio = np.where(mg_mg > 0, ca_mg / np.where(mg_mg > 0, mg_mg, 1.0), np.inf)
    return np.broadcast_to(ratio, (n_times,)).astype(float)


def output_table() -> list[dict[str, str]]:
    """Rows of name, unit, meaning and source for every output (for ``boneturnover outputs``)."""
    return [{"name": o.name, "unit": o.unit, "meaning": o.meaning, "source": o.source}
            for o in OUTPUTS]
