"""The marker catalogue shared by the clinical engine and the model (``data/markers.toml``).

Each laboratory marker has its units (converted only through :mod:`boneturnover.units`),
LOINC codes, named reference intervals and the default one, analytical and biological
variation, the least significant change and, for a marker the model simulates, the
model output column with the model's calibration (premenopausal centre, state basis).
Every number is stored with its citations and evidence level. The catalogue is read and
validated on first use (:func:`marker_catalog`, cached); importing this module reads no
file. A number without a citation, an unknown source or evidence level, or a unit that
cannot convert raises :class:`KnowledgeBaseError` naming the entry.

Examples
--------
>>> from boneturnover.knowledge.markers import marker_catalog
>>> ctx = marker_catalog()["CTX_I"]
>>> ctx.canonical_unit, ctx.lsc_pct, ctx.model_output
('ng/L', 56.0, 'ctx_ng_l')
>>> ctx.ri.name, ctx.ri.low, ctx.ri.high
('eu_premenopausal2012', 111.0, 791.0)
>>> ctx.model.centre, ctx.model.interval.name
(312.0, 'glover2009')
>>> marker_catalog().by_model_output("p1np_ug_l")
'P1NP_TOTAL'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..errors import DataError, InputError, UnitError
from ..files import load_toml_cached
from .sources import Fact, cite, resolve

__all__ = [
    "EVIDENCE_LEVELS", "LSC_Z", "PROCESSES", "MODEL_BASES",
    "KnowledgeBaseError", "Citation", "Text", "ReferenceInterval", "Cutoff",
    "ModelCalibration", "Marker", "MarkerCatalog", "MagnesiumReference",
    "least_significant_change", "parse_citations", "marker_sources", "marker_catalog",
    "marker_catalog_from_dict", "magnesium_reference", "alias_key", "unit_spelling",
    "loinc_valid",
]

#: Evidence levels a citation may carry (clinical studies, laboratory references, drug
#: labels and fact sheets, reference data such as atomic weights, and our assumptions).
EVIDENCE_LEVELS = frozenset({
    "guideline", "RCT", "cohort", "review", "expert-opinion", "animal",
    "small-uncontrolled", "lab-reference", "label", "fact-sheet", "reference-data",
    "assumption",
})

#: Multiplier of the LSC formula: 1.96 * sqrt(2) (95% two-sided, two measurements),
#: rounded as published (Vasikaran et al. IOF-IFCC, Osteoporos Int 2011).
LSC_Z = 2.77

#: What a marker reflects.
PROCESSES = ("resorption", "formation", "context")

#: Model quantities a simulated bone turnover marker is proportional to.
MODEL_BASES = ("resorption", "osteoclasts", "osteoblasts")

_FILE = "markers.toml"


class KnowledgeBaseError(DataError):
    """A packaged knowledge file (markers, drugs, rules) or a laboratory override is invalid."""


@dataclass(frozen=True)
class Citation:
    """One source behind a number or a rule.

    Attributes
    ----------
    ref : str
        ``seed:B25`` (a fact of the source reviews) or a source id of a bibliography
        of the package (:func:`boneturnover.knowledge.sources.resolve`).
    evidence : str
        One of :data:`EVIDENCE_LEVELS`.
    text : str
        The full citation (a fact: review, section and claim).
    """

    ref: str
    evidence: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "evidence": self.evidence, "citation": self.text}


@dataclass(frozen=True)
class Text:
    """A text in English (``en``) and Simplified Chinese (``zh``), with its sources."""

    en: str
    zh: str
    cite: tuple[Citation, ...] = ()

    def __getitem__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class ReferenceInterval:
    """A reference interval in the marker's canonical unit; ``low``/``high`` may be None.

    ``name`` is its key in the catalogue (``glover2009``) or ``laboratory``.
    """

    low: float | None
    high: float | None
    population: str
    cite: tuple[Citation, ...]
    name: str = ""


@dataclass(frozen=True)
class Cutoff:
    """A named decision limit in the marker's canonical unit."""

    value: float
    note: str
    cite: tuple[Citation, ...]


@dataclass(frozen=True)
class ModelCalibration:
    """How the model produces a bone turnover marker (``boneturnover.model.outputs``).

    Attributes
    ----------
    output : str
        Output column (``ctx_ng_l``), in the marker's canonical unit.
    basis : str
        One of :data:`MODEL_BASES`: the simulated marker is
        ``centre * basis / basis at the premenopausal steady state``.
    centre : float
        The premenopausal steady-state value; ``centre_note`` says what it is.
    interval : ReferenceInterval
        The named interval the centre sits in (drawn with simulated trajectories).
    meaning : str
        What the output is, in one line.
    """

    output: str
    basis: str
    centre: float
    centre_note: str
    centre_cite: tuple[Citation, ...]
    basis_cite: tuple[Citation, ...]
    interval: ReferenceInterval
    meaning: str


def least_significant_change(cva_pct: float, cvi_pct: float) -> float:
    """Least significant change between two results, in percent.

    ``LSC = 2.77 * sqrt(CVa**2 + CVi**2)`` with CVa the analytical and CVi the
    within-subject biological coefficient of variation, both in percent.

    Examples
    --------
    >>> round(least_significant_change(3.0, 4.0), 6)
    13.85
    """
    if cva_pct < 0 or cvi_pct < 0:
        raise ValueError(f"CVs must be >= 0, got CVa={cva_pct}, CVi={cvi_pct}")
    return LSC_Z * math.hypot(cva_pct, cvi_pct)


def parse_citations(raw: Any, where: str) -> tuple[Citation, ...]:
    """Validate a ``cite = [{ref, evidence}, ...]`` list; at least one is required.

    A ref is a fact of the source reviews (``seed:B25``) or a source id of any
    bibliography of the package, resolved by :mod:`boneturnover.knowledge.sources`.

    Raises
    ------
    KnowledgeBaseError
        If the list is missing or empty, a ref is unknown or an evidence level is invalid.
    """
    if not isinstance(raw, list) or not raw:
        raise KnowledgeBaseError(
            f"{where}: no citation; every number and rule needs cite = [{{ref, evidence}}]")
    out = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"ref", "evidence"}:
            raise KnowledgeBaseError(f"{where}: citation {item!r} must be {{ref, evidence}}")
        ref, evidence = item["ref"], item["evidence"]
        text = _resolve(str(ref), where)
        if evidence not in EVIDENCE_LEVELS:
            raise KnowledgeBaseError(
                f"{where}: evidence {evidence!r} is not one of {sorted(EVIDENCE_LEVELS)}")
        out.append(Citation(ref, evidence, text))
    return tuple(out)


def _resolve(ref: str, where: str) -> str:
    """The citation text of ``ref``, or :class:`KnowledgeBaseError` naming it."""
    try:
        item = resolve(ref)
    except InputError:
        if ref.startswith("seed:"):
            raise KnowledgeBaseError(f"{where}: {ref!r} is not a seed fact of the source "
                                     "reviews (B1-B38, M1-M19)") from None
        raise KnowledgeBaseError(f"{where}: unknown source {ref!r}; add it to a [sources] "
                                 "table (clinical/data/sources.toml for shared ones)") from None
    if ref.startswith("seed:") and not isinstance(item, Fact):
        raise KnowledgeBaseError(f"{where}: {ref!r} is not a seed fact (B1-B38, M1-M19)")
    return cite(ref) if isinstance(item, Fact) else item.text


def loinc_valid(code: str) -> bool:
    """Whether ``code`` is ``<digits>-<check digit>`` with a correct LOINC mod-10 check digit.

    From the right, every other digit (the first, third, ...) is doubled and the digits
    of all the results and of the other digits are summed; the check digit brings that
    sum up to a multiple of ten (the Luhn scheme LOINC uses).

    Examples
    --------
    >>> loinc_valid("41171-0"), loinc_valid("41171-2"), loinc_valid("12345-5")
    (True, False, True)
    """
    number, sep, check = str(code).partition("-")
    if not (sep and number.isdigit() and len(check) == 1 and check.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10 == int(check)


def alias_key(name: str) -> str:
    """How names are compared: case-folded, without spaces, ``_`` and ``-``."""
    return re.sub(r"[\s_\-]", "", str(name)).casefold()


_FACTORS: dict[tuple[str, str, str, float | None], float] = {}


def _factor(marker_id: str, unit: str, canonical: str, mm: float | None,
            accepted: Sequence[str]) -> float:
    if unit not in accepted:
        raise UnitError(f"unit {unit!r} is not accepted for {marker_id}; expected one of "
                        f"{', '.join(accepted)}")
    key = (marker_id, unit, canonical, mm)
    if key not in _FACTORS:
        from ..units import convert

        _FACTORS[key] = convert(1.0, unit, canonical, molar_mass_g_mol=mm)
    return _FACTORS[key]


_MICRO = str.maketrans({"\u00b5": "u", "\u03bc": "u"})  # micro sign and Greek mu
_LITRE = re.compile(r"(?<![A-Za-z])([munpfd]?)l(?![A-Za-z])")


def unit_spelling(unit: str) -> str:
    """A unit as laboratories write it -> its UCUM spelling, meaning unchanged.

    Only two liberties are taken: a micro sign (U+00B5 or U+03BC) is UCUM's ``u``, and a
    lone litre ``l`` (with an SI prefix: ``ml``, ``dl``) is ``L``. ``mol`` is untouched.

    Examples
    --------
    >>> [unit_spelling(u) for u in ("ng/ml", "pg/ml", "ug/l", "\u00b5g/L", "\u03bcg/L", "mmol/l")]
    ['ng/mL', 'pg/mL', 'ug/L', 'ug/L', 'ug/L', 'mmol/L']
    """
    return _LITRE.sub(lambda m: m[1] + "L", str(unit).strip().translate(_MICRO))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Marker:
    """A laboratory marker: what it reflects, units, reference values and variability.

    Attributes
    ----------
    id : str
        Catalogue id (``CTX_I``, ``P1NP_TOTAL``, ...).
    process : str
        One of :data:`PROCESSES`.
    canonical_unit : str
        UCUM unit every value is converted to; intervals, cutoffs and plausible are in it.
    units : tuple of str
        Accepted input units (UCUM).
    ri : ReferenceInterval or None
        The interval in use: the catalogue's default, a selected named one, or the
        laboratory's own.
    intervals : mapping
        Every named interval of the catalogue.
    cva_pct, cvi_pct : float
        Analytical and within-subject biological CV, percent.
    lsc_published : float or None
        A published LSC (percent) that takes precedence over the formula.
    model_output : str or None
        Output column of ``boneturnover simulate`` holding this marker.
    model : ModelCalibration or None
        How the model scales it (bone turnover markers the model simulates).
    overridden : frozenset of str
        Fields a laboratory replaced (``ri``, ``cv``, ``lsc``).
    """

    id: str
    symbol: str
    name: Text
    process: str
    specimen: str
    reflects: Text
    canonical_unit: str
    units: tuple[str, ...]
    unit_aliases: Mapping[str, str]
    molar_mass_g_mol: float | None
    molar_mass_cite: tuple[Citation, ...]
    aliases: tuple[str, ...]
    loinc: tuple[str, ...]
    loinc_note: str
    requires_fasting: bool
    morning_sample: bool
    renal_clearance: bool
    preanalytical: Text
    plausible_low: float
    plausible_high: float
    ri: ReferenceInterval | None
    intervals: Mapping[str, ReferenceInterval]
    cva_pct: float
    cvi_pct: float
    cv_cite: tuple[Citation, ...]
    lsc_published: float | None
    lsc_cite: tuple[Citation, ...]
    cutoffs: Mapping[str, Cutoff] = field(default_factory=dict)
    model_output: str | None = None
    model: ModelCalibration | None = None
    overridden: frozenset[str] = frozenset()

    @property
    def is_bone_turnover_marker(self) -> bool:
        return self.process in ("resorption", "formation")

    @property
    def lsc_pct(self) -> float:
        """LSC in percent: the published value, else ``2.77 * sqrt(CVa^2 + CVi^2)``."""
        if self.lsc_published is not None:
            return self.lsc_published
        return least_significant_change(self.cva_pct, self.cvi_pct)

    @property
    def display_unit(self) -> str:
        return "mL/min/1.73 m2" if self.id == "EGFR" else self.canonical_unit

    def normalise_unit(self, unit: str) -> str:
        """Map a written unit to the UCUM string used for conversion.

        Besides the marker's ``unit_aliases``, spellings laboratories send with the same
        meaning are accepted (:func:`unit_spelling`): ``ng/ml``, ``ug/l``, ``µg/L``.
        """
        unit = str(unit).strip()
        unit = self.unit_aliases.get(unit, unit)
        if unit not in self.units:
            spelled = unit_spelling(unit)
            unit = self.unit_aliases.get(spelled, spelled)
        return unit

    def factor(self, unit: str) -> float:
        """Multiplier from ``unit`` to the canonical unit.

        Raises
        ------
        UnitError
            If the unit is not accepted for this marker.
        """
        return _factor(self.id, self.normalise_unit(unit), self.canonical_unit,
                       self.molar_mass_g_mol, self.units)

    def to_canonical(self, value: float, unit: str) -> float:
        """Convert ``value`` in ``unit`` to :attr:`canonical_unit`."""
        return value * self.factor(unit)

    def from_canonical(self, value: float, unit: str) -> float:
        """Convert ``value`` in the canonical unit to ``unit``."""
        return value / self.factor(unit)

    def cutoff(self, name: str) -> float:
        try:
            return self.cutoffs[name].value
        except KeyError:
            raise KnowledgeBaseError(
                f"marker {self.id} has no cutoff {name!r}; known: {sorted(self.cutoffs)}"
            ) from None

    def reference_value(self, ref: str | float) -> float | None:
        """Resolve ``ri_low``, ``ri_high``, ``cutoff:<name>`` or a number (canonical unit)."""
        if isinstance(ref, int | float):
            return float(ref)
        if ref == "ri_low":
            return None if self.ri is None else self.ri.low
        if ref == "ri_high":
            return None if self.ri is None else self.ri.high
        if ref.startswith("cutoff:"):
            return self.cutoff(ref.removeprefix("cutoff:"))
        raise KnowledgeBaseError(f"reference {ref!r} is not ri_low, ri_high or cutoff:<name>")

    def with_override(self, override: Mapping[str, Any], where: str) -> Marker:
        """Return a copy with a laboratory's interval, CVs or LSC (seed:B25).

        ``override`` keys: ``interval`` (a named interval of the catalogue), or ``ri_low``,
        ``ri_high`` (in ``unit``, default canonical) and ``population``; ``cva_pct``,
        ``cvi_pct``, ``lsc_pct``.
        """
        allowed = {"ri_low", "ri_high", "cva_pct", "cvi_pct", "lsc_pct", "unit", "population",
                   "interval"}
        unknown = set(override) - allowed
        if unknown:
            raise KnowledgeBaseError(
                f"{where}: unknown override field(s) {sorted(unknown)}; expected {sorted(allowed)}")
        for nm in ("unit", "population", "interval"):
            if nm in override and not isinstance(override[nm], str):
                raise KnowledgeBaseError(
                    f"{where}: {nm} = {override[nm]!r} must be a text string")
        changes: dict[str, Any] = {}
        done = set(self.overridden)
        lab = (Citation("laboratory", "lab-reference", f"laboratory override ({where})"),)
        if "interval" in override:
            name = override["interval"]
            if name not in self.intervals:
                raise KnowledgeBaseError(
                    f"{where}: interval {name!r} is not an interval of {self.id}; expected one "
                    f"of {', '.join(self.intervals) or 'none (give ri_low/ri_high)'}")
            if {"ri_low", "ri_high"} & set(override):
                raise KnowledgeBaseError(f"{where}: give either interval or ri_low/ri_high")
            changes["ri"] = self.intervals[name]
            done.add("ri")
        try:
            factor = self.factor(override.get("unit", self.canonical_unit))
        except UnitError as exc:
            raise KnowledgeBaseError(f"{where}: {exc}") from None
        if "ri_low" in override or "ri_high" in override:
            low = override.get("ri_low", None if self.ri is None or self.ri.low is None
                               else self.ri.low / factor)
            high = override.get("ri_high", None if self.ri is None or self.ri.high is None
                                else self.ri.high / factor)
            for nm, v in (("ri_low", low), ("ri_high", high)):
                if v is not None and (not _is_number(v) or v < 0):
                    raise KnowledgeBaseError(f"{where}: {nm} = {v!r} must be a number >= 0")
            if low is not None and high is not None and low >= high:
                raise KnowledgeBaseError(f"{where}: ri_low {low} must be below ri_high {high}")
            self._check_override_unit(low, high, factor, override, where)
            changes["ri"] = ReferenceInterval(
                None if low is None else low * factor, None if high is None else high * factor,
                str(override.get("population", "laboratory interval")), lab, "laboratory")
            done.add("ri")
        for nm in ("cva_pct", "cvi_pct", "lsc_pct"):
            if nm in override and (not _is_number(override[nm]) or not 0 < override[nm] < 500):
                raise KnowledgeBaseError(f"{where}: {nm} = {override[nm]!r} must be in (0, 500)")
        if "cva_pct" in override or "cvi_pct" in override:
            changes["cva_pct"] = float(override.get("cva_pct", self.cva_pct))
            changes["cvi_pct"] = float(override.get("cvi_pct", self.cvi_pct))
            changes["cv_cite"] = lab
            if "lsc_pct" not in override:
                changes["lsc_published"] = None  # recompute from the laboratory's CVs
            done.add("cv")
        if "lsc_pct" in override:
            changes["lsc_published"] = float(override["lsc_pct"])
            changes["lsc_cite"] = lab
            done.add("lsc")
        return replace(self, overridden=frozenset(done), **changes)


    def _check_override_unit(self, low: float | None, high: float | None, factor: float,
                             override: Mapping[str, Any], where: str) -> None:
        """Refuse a laboratory interval whose numbers do not fit its unit.

        Converted to the canonical unit, both limits must lie within what the marker can
        be (``plausible``, cited in the catalogue); otherwise the unit is mistyped (a CTX-I
        interval 111-791 given as ng/mL would put every result below the interval).
        """
        unit = str(override.get("unit", self.canonical_unit))
        given = [v for v in (override.get("ri_low"), override.get("ri_high")) if v is not None]
        if all(self.plausible_low <= v * factor <= self.plausible_high for v in given):
            return
        fits = [u for u in self.units
                if all(self.plausible_low <= v * self.factor(u) <= self.plausible_high
                       for v in given)]
        hint = f"; the numbers fit {' or '.join(fits)}" if fits else ""
        shown = ", ".join(f"{v:g}" for v in given)
        raise KnowledgeBaseError(
            f"{where}: interval {shown} {unit} ({', '.join(f'{v * factor:.4g}' for v in given)} "
            f"{self.canonical_unit}) is outside what {self.id} can be "
            f"({self.plausible_low:g} to {self.plausible_high:g} {self.canonical_unit}): the "
            f"unit does not fit the numbers{hint}; correct the unit or the limits")


class MarkerCatalog(Mapping[str, Marker]):
    """Markers by id, with look-up by alias, LOINC code and model output, and overrides.

    Examples
    --------
    >>> from boneturnover.knowledge.markers import marker_catalog
    >>> cat = marker_catalog()
    >>> cat.resolve("beta-CTX").id
    'CTX_I'
    >>> cat.with_overrides({"CTX_I": {"ri_high": 0.573, "unit": "ng/mL"}})["CTX_I"].ri.high
    573.0
    >>> cat.with_overrides({"CTX_I": {"interval": "glover2009"}})["CTX_I"].ri.high
    628.0
    """

    def __init__(self, markers: Mapping[str, Marker], sources: Mapping[str, str]):
        self._markers = dict(markers)
        self.sources: Mapping[str, str] = MappingProxyType(dict(sources))
        index: dict[str, str] = {}
        outputs: dict[str, str] = {}
        for m in self._markers.values():
            for name in (m.id, m.symbol, *m.aliases):
                key = alias_key(name)
                if index.get(key, m.id) != m.id:
                    raise KnowledgeBaseError(
                        f"{_FILE}: alias {name!r} names both {index[key]} and {m.id}")
                index[key] = m.id
            if m.model_output is not None:
                if m.model_output in outputs:
                    raise KnowledgeBaseError(
                        f"{_FILE}: model_output {m.model_output!r} is given for both "
                        f"{outputs[m.model_output]} and {m.id}")
                outputs[m.model_output] = m.id
        self._alias = index
        self._outputs = outputs
        self._loinc = {code: m.id for m in self._markers.values() for code in m.loinc}

    def __getitem__(self, key: str) -> Marker:
        return self._markers[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._markers)

    def __len__(self) -> int:
        return len(self._markers)

    @cached_property
    def bone_turnover_markers(self) -> tuple[str, ...]:
        """Ids of the resorption and formation markers, in catalogue order."""
        return tuple(k for k, m in self._markers.items() if m.is_bone_turnover_marker)

    @property
    def model_outputs(self) -> Mapping[str, str]:
        """Model output column -> marker id, for every marker the model simulates."""
        return MappingProxyType(self._outputs)

    def find(self, name: str) -> str | None:
        """Return the id a marker name or alias refers to, or None."""
        return self._alias.get(alias_key(name))

    def by_loinc(self, code: str) -> str | None:
        return self._loinc.get(code)

    def by_model_output(self, column: str) -> str | None:
        """The marker id a model output column holds, or None."""
        return self._outputs.get(column)

    def resolve(self, name: str) -> Marker:
        """Return the marker a name or alias refers to.

        Raises
        ------
        DataError
            If the name is unknown; the message lists the known ids.
        """
        mid = self.find(name)
        if mid is None:
            raise DataError(f"unknown marker {name!r}; expected one of {', '.join(self)}")
        return self._markers[mid]

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None) -> MarkerCatalog:
        """Return a catalogue where a laboratory replaced intervals, CVs or LSC of markers."""
        if not overrides:
            return self
        new = dict(self._markers)
        for name, ov in overrides.items():
            if self.find(str(name)) is None:  # name the table, as for its fields
                raise KnowledgeBaseError(f"assay.{name}: unknown marker {str(name)!r}; "
                                         f"expected one of {', '.join(self)}")
            m = self.resolve(name)
            if not isinstance(ov, Mapping):
                raise KnowledgeBaseError(f"assay.{name}: expected a table, got {ov!r}")
            new[m.id] = m.with_override(ov, f"assay.{name}")
        return MarkerCatalog(new, self.sources)


def _req(d: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(d, Mapping) or key not in d:
        raise KnowledgeBaseError(f"{where}: missing {key!r}")
    return d[key]


def _text(d: Any, where: str, cited: bool = True) -> Text:
    if not isinstance(d, Mapping) or not d.get("en") or not d.get("zh"):
        raise KnowledgeBaseError(f"{where}: needs en and zh")
    cite = parse_citations(d.get("cite"), where) if cited else ()
    return Text(str(d["en"]), str(d["zh"]), cite)


def _intervals(d: Mapping[str, Any], where: str,
               ) -> tuple[dict[str, ReferenceInterval], ReferenceInterval | None]:
    out = {}
    for name, r in d.get("intervals", {}).items():
        loc = f"{where}.intervals.{name}"
        low, high = r.get("low"), r.get("high")
        for v in (low, high):
            if v is not None and (not _is_number(v) or v < 0):
                raise KnowledgeBaseError(f"{loc}: {v!r} must be a number >= 0")
        if low is not None and high is not None and not low < high:
            raise KnowledgeBaseError(f"{loc}: low must be below high")
        out[name] = ReferenceInterval(
            None if low is None else float(low), None if high is None else float(high),
            str(_req(r, "population", loc)), parse_citations(r.get("cite"), loc), name)
    default = d.get("default_interval")
    if default is not None and default not in out:
        raise KnowledgeBaseError(f"{where}: default_interval {default!r} is not one of its "
                                 f"intervals ({', '.join(out) or 'none'})")
    return out, None if default is None else out[default]


def _model(d: Mapping[str, Any], where: str, intervals: Mapping[str, ReferenceInterval],
           ) -> ModelCalibration | None:
    if "model" not in d:
        return None
    m, loc = d["model"], where + ".model"
    output = _req(d, "model_output", where)
    basis = _req(m, "basis", loc)
    if basis not in MODEL_BASES:
        raise KnowledgeBaseError(f"{loc}: basis {basis!r} is not one of {', '.join(MODEL_BASES)}")
    centre = _req(m, "centre", loc)
    value = _req(centre, "value", loc + ".centre")
    if not _is_number(value) or value <= 0:
        raise KnowledgeBaseError(f"{loc}.centre: value {value!r} must be a positive number")
    name = _req(m, "interval", loc)
    if name not in intervals:
        raise KnowledgeBaseError(f"{loc}: interval {name!r} is not one of its intervals "
                                 f"({', '.join(intervals) or 'none'})")
    return ModelCalibration(
        output=str(output), basis=basis, centre=float(value),
        centre_note=str(centre.get("note", "")),
        centre_cite=parse_citations(centre.get("cite"), loc + ".centre"),
        basis_cite=parse_citations(m.get("basis_cite"), loc + ".basis_cite"),
        interval=intervals[name], meaning=str(_req(m, "meaning", loc)))


def _marker(mid: str, d: Mapping[str, Any]) -> Marker:
    where = f"{_FILE} [markers.{mid}]"
    canonical = _req(d, "canonical_unit", where)
    mm = d.get("molar_mass_g_mol")
    units = tuple(_req(d, "units", where))
    if canonical not in units:
        raise KnowledgeBaseError(f"{where}: canonical unit {canonical!r} not in units")
    for u in units:  # every accepted unit must convert through boneturnover.units
        try:
            _factor(mid, u, canonical, mm, units)
        except UnitError as exc:
            raise KnowledgeBaseError(f"{where}: {exc}") from None
    for code in d.get("loinc", ()):
        if not loinc_valid(code):
            raise KnowledgeBaseError(f"{where}: LOINC code {code!r} has a wrong check digit "
                                     "(or is not <digits>-<digit>)")
    process = _req(d, "process", where)
    if process not in PROCESSES:
        raise KnowledgeBaseError(f"{where}: process must be one of {', '.join(PROCESSES)}")
    intervals, ri = _intervals(d, where)
    cv, lsc, plaus = _req(d, "cv", where), d.get("lsc"), _req(d, "plausible", where)
    parse_citations(plaus.get("cite"), where + ".plausible")
    output = d.get("model_output")
    return Marker(
        id=mid, symbol=_req(d, "symbol", where),
        name=_text(_req(d, "name", where), where + ".name", cited=False),
        process=process, specimen=_req(d, "specimen", where),
        reflects=_text(_req(d, "reflects", where), where + ".reflects"),
        canonical_unit=canonical, units=units,
        unit_aliases=MappingProxyType(dict(d.get("unit_aliases", {}))),
        molar_mass_g_mol=None if mm is None else float(mm),
        molar_mass_cite=(() if mm is None else parse_citations(
            d.get("molar_mass_cite"), where + ".molar_mass_cite")),
        aliases=tuple(d.get("aliases", ())), loinc=tuple(d.get("loinc", ())),
        loinc_note=d.get("loinc_note", ""),
        requires_fasting=bool(_req(d, "requires_fasting", where)),
        morning_sample=bool(_req(d, "morning_sample", where)),
        renal_clearance=bool(_req(d, "renal_clearance", where)),
        preanalytical=_text(_req(d, "preanalytical", where), where + ".preanalytical"),
        plausible_low=float(_req(plaus, "low", where + ".plausible")),
        plausible_high=float(_req(plaus, "high", where + ".plausible")),
        ri=ri, intervals=MappingProxyType(intervals),
        cva_pct=float(_req(cv, "cva_pct", where + ".cv")),
        cvi_pct=float(_req(cv, "cvi_pct", where + ".cv")),
        cv_cite=parse_citations(cv.get("cite"), where + ".cv"),
        lsc_published=None if lsc is None else float(lsc["pct"]),
        lsc_cite=parse_citations(lsc.get("cite"), where + ".lsc") if lsc else (),
        cutoffs=MappingProxyType({
            name: Cutoff(float(c["value"]), c["note"],
                         parse_citations(c.get("cite"), f"{where}.cutoffs.{name}"))
            for name, c in d.get("cutoffs", {}).items()}),
        model_output=None if output is None else str(output),
        model=_model(d, where, intervals),
    )


def marker_catalog_from_dict(data: Mapping[str, Any]) -> MarkerCatalog:
    """Validate a parsed catalogue mapping (the layout of ``data/markers.toml``).

    Citations resolve against the package's bibliographies (the packaged
    ``[sources]`` of ``data/markers.toml`` among them), not against ``data``'s own.
    """
    markers = {mid: _marker(mid, d) for mid, d in _req(data, "markers", "top level").items()}
    return MarkerCatalog(markers, {k: str(v) for k, v in data.get("sources", {}).items()})


@cache
def _data() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", _FILE).read_text("utf-8")
    return load_toml_cached(text, _FILE)


@cache
def marker_catalog() -> MarkerCatalog:
    """The packaged marker catalogue (no laboratory overrides), read on first use."""
    return marker_catalog_from_dict(_data())


def marker_sources() -> Mapping[str, str]:
    """The marker catalogue's own sources (source id -> citation), beside those it cites
    from the clinical bibliography."""
    return marker_catalog().sources


@dataclass(frozen=True)
class MagnesiumReference:
    """Serum magnesium reference values shared by the clinical engine and the model.

    All values in mmol/L, taken from the marker ``MG`` (its default interval and cutoffs).

    Attributes
    ----------
    low_mmol_l, high_mmol_l : float
        Conventional adult reference interval (0.70-1.00 mmol/L).
    deficiency_cutoff_mmol_l : float
        Evidence-based lower limit proposed by Costello et al., Adv Nutr 2016 (0.85).
    osteoporosis_mean_mmol_l : float
        Mean serum Mg of elderly osteoporotic women (seed:M11, 0.82 vs 0.87 mmol/L).
    molar_mass_g_mol : float
        For mg/dL <-> mmol/L.
    cite : tuple of Citation
    """

    low_mmol_l: float
    high_mmol_l: float
    deficiency_cutoff_mmol_l: float
    osteoporosis_mean_mmol_l: float
    molar_mass_g_mol: float
    cite: tuple[Citation, ...]


@cache
def magnesium_reference() -> MagnesiumReference:
    """Serum magnesium reference (mmol/L) from the marker ``MG``.

    Examples
    --------
    >>> ref = magnesium_reference()
    >>> ref.low_mmol_l, ref.high_mmol_l, ref.deficiency_cutoff_mmol_l
    (0.7, 1.0, 0.85)
    """
    mg = marker_catalog()["MG"]
    ri = mg.ri
    if ri is None or ri.low is None or ri.high is None or mg.molar_mass_g_mol is None \
            or mg.canonical_unit != "mmol/L":
        raise KnowledgeBaseError(f"{_FILE} [markers.MG]: needs a default interval in mmol/L "
                                 "and a molar mass")
    return MagnesiumReference(
        low_mmol_l=ri.low, high_mmol_l=ri.high,
        deficiency_cutoff_mmol_l=mg.cutoff("costello_low"),
        osteoporosis_mean_mmol_l=mg.cutoff("osteoporosis_mean"),
        molar_mass_g_mol=mg.molar_mass_g_mol,
        cite=ri.cite + mg.cutoffs["costello_low"].cite + mg.cutoffs["osteoporosis_mean"].cite,
    )
