"""Knowledge the clinical engine interprets with: sources, markers and drugs.

Everything here is loaded from the TOML files in ``boneturnover/clinical/data`` and
validated at import: a number without a citation, a citation to an unknown source, an
unknown evidence level or a unit that :mod:`boneturnover.units` cannot convert makes the
import fail with :class:`KnowledgeBaseError` naming the file and the entry.

Examples
--------
>>> from boneturnover.clinical.catalog import CATALOG, MAGNESIUM_REFERENCE
>>> ctx = CATALOG["CTX_I"]
>>> ctx.canonical_unit, ctx.lsc_pct
('ng/L', 56.0)
>>> round(ctx.to_canonical(0.35, "ng/mL"), 6)
350.0
>>> MAGNESIUM_REFERENCE.low_mmol_l, MAGNESIUM_REFERENCE.high_mmol_l
(0.7, 1.0)
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources
from typing import Any

from ..errors import DataError, UnitError
from ..units import convert

__all__ = [
    "EVIDENCE_LEVELS",
    "LSC_Z",
    "KnowledgeBaseError",
    "Citation",
    "Text",
    "ReferenceInterval",
    "Cutoff",
    "Marker",
    "Catalog",
    "Window",
    "RetestPlan",
    "Drug",
    "MagnesiumReference",
    "least_significant_change",
    "load_toml",
    "parse_citations",
    "SOURCES",
    "CATALOG",
    "DRUGS",
    "MAGNESIUM_REFERENCE",
    "BONE_TURNOVER_MARKERS",
]

#: Evidence levels a citation may carry.
EVIDENCE_LEVELS = frozenset(
    {
        "guideline",
        "RCT",
        "cohort",
        "review",
        "expert-opinion",
        "animal",
        "small-uncontrolled",
        "lab-reference",
    }
)

#: Multiplier of the LSC formula: 1.96 * sqrt(2) (95% two-sided, two measurements),
#: rounded as published (Vasikaran et al. IOF-IFCC, Osteoporos Int 2011).
LSC_Z = 2.77

_SEED = re.compile(r"^seed:(?P<paper>[BM])(?P<n>\d+)$")
_SEED_RANGE = {"B": range(1, 39), "M": range(1, 20)}


class KnowledgeBaseError(DataError):
    """A knowledge file (catalog, drugs, rule sets, rules) or an override is invalid."""


def load_toml(name: str) -> dict[str, Any]:
    """Read ``boneturnover/clinical/data/<name>`` (packaged TOML)."""
    text = resources.files("boneturnover.clinical").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class Citation:
    """One source behind a number or a rule.

    Attributes
    ----------
    ref : str
        ``seed:B25`` (a fact of the seed papers) or a source id of ``sources.toml``.
    evidence : str
        One of :data:`EVIDENCE_LEVELS`.
    text : str
        The full bibliographic citation.
    """

    ref: str
    evidence: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "evidence": self.evidence, "citation": self.text}


def _load_sources() -> dict[str, str]:
    raw = load_toml("sources.toml")
    out = {f"seed:{k}": v["citation"] for k, v in raw["seed"].items()}
    out.update({k: v["citation"] for k, v in raw["sources"].items()})
    return out


#: Source id -> full citation (``seed:B`` and ``seed:M`` name the two seed papers).
SOURCES: Mapping[str, str] = _load_sources()


def parse_citations(raw: Any, where: str) -> tuple[Citation, ...]:
    """Validate a ``cite = [{ref, evidence}, ...]`` list; at least one is required.

    Raises
    ------
    KnowledgeBaseError
        If the list is missing or empty, a ref is unknown or an evidence level is invalid.
    """
    if not isinstance(raw, list) or not raw:
        raise KnowledgeBaseError(
            f"{where}: no citation; every number and rule needs cite = [{{ref, evidence}}]"
        )
    out = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"ref", "evidence"}:
            raise KnowledgeBaseError(f"{where}: citation {item!r} must be {{ref, evidence}}")
        ref, evidence = item["ref"], item["evidence"]
        m = _SEED.match(ref)
        if m:
            if int(m["n"]) not in _SEED_RANGE[m["paper"]]:
                raise KnowledgeBaseError(f"{where}: {ref!r} is not a seed fact (B1-B38, M1-M19)")
            text = f"{SOURCES['seed:' + m['paper']]}, fact {m['paper']}{m['n']}"
        elif ref in SOURCES:
            text = SOURCES[ref]
        else:
            raise KnowledgeBaseError(f"{where}: unknown source {ref!r}; add it to sources.toml")
        if evidence not in EVIDENCE_LEVELS:
            raise KnowledgeBaseError(
                f"{where}: evidence {evidence!r} is not one of {sorted(EVIDENCE_LEVELS)}"
            )
        out.append(Citation(ref, evidence, text))
    return tuple(out)


@dataclass(frozen=True)
class Text:
    """A bilingual text with its sources (``en``: English, ``zh``: Simplified Chinese)."""

    en: str
    zh: str
    cite: tuple[Citation, ...] = ()

    def __getitem__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class ReferenceInterval:
    """Reference interval in the marker's canonical unit; ``low``/``high`` may be None."""

    low: float | None
    high: float | None
    population: str
    cite: tuple[Citation, ...]


@dataclass(frozen=True)
class Cutoff:
    """A named decision limit in the marker's canonical unit."""

    value: float
    note: str
    cite: tuple[Citation, ...]


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


@dataclass(frozen=True)
class Marker:
    """A laboratory marker: what it reflects, units, reference values and variability.

    Attributes
    ----------
    id : str
        Catalog id (``CTX_I``, ``P1NP_TOTAL``, ...).
    process : str
        ``resorption``, ``formation`` or ``context`` (calcium, PTH, ...).
    canonical_unit : str
        UCUM unit every value is converted to; ri, cutoffs and plausible are in it.
    units : tuple of str
        Accepted input units (UCUM).
    cva_pct, cvi_pct : float
        Analytical and within-subject biological CV, percent.
    lsc_published : float or None
        A published LSC (percent) that takes precedence over the formula.
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
    cva_pct: float
    cvi_pct: float
    cv_cite: tuple[Citation, ...]
    lsc_published: float | None
    lsc_cite: tuple[Citation, ...]
    cutoffs: Mapping[str, Cutoff] = field(default_factory=dict)
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
        """Map a written unit to the UCUM string used for conversion."""
        unit = unit.strip()
        return self.unit_aliases.get(unit, unit)

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
        """Return a copy with a laboratory's own ri, CVs or LSC (seed:B25).

        ``override`` keys: ``ri_low``, ``ri_high`` (in ``unit``, default canonical),
        ``cva_pct``, ``cvi_pct``, ``lsc_pct``, ``unit``, ``population``.
        """
        allowed = {"ri_low", "ri_high", "cva_pct", "cvi_pct", "lsc_pct", "unit", "population"}
        unknown = set(override) - allowed
        if unknown:
            raise KnowledgeBaseError(
                f"{where}: unknown override field(s) {sorted(unknown)}; expected {sorted(allowed)}"
            )
        changes: dict[str, Any] = {}
        done = set(self.overridden)
        lab = (Citation("laboratory", "lab-reference", f"laboratory override ({where})"),)
        unit = override.get("unit", self.canonical_unit)
        factor = self.factor(unit)
        if "ri_low" in override or "ri_high" in override:
            low = override.get("ri_low", None if self.ri is None else self.ri.low / factor)
            high = override.get("ri_high", None if self.ri is None else self.ri.high / factor)
            for nm, v in (("ri_low", low), ("ri_high", high)):
                if v is not None and (not _is_number(v) or v < 0):
                    raise KnowledgeBaseError(f"{where}: {nm} = {v!r} must be a number >= 0")
            if low is not None and high is not None and low >= high:
                raise KnowledgeBaseError(f"{where}: ri_low {low} must be below ri_high {high}")
            changes["ri"] = ReferenceInterval(
                None if low is None else low * factor,
                None if high is None else high * factor,
                str(override.get("population", "laboratory interval")),
                lab,
            )
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


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


_FACTORS: dict[tuple[str, str], float] = {}


def _factor(
    marker_id: str, unit: str, canonical: str, mm: float | None, accepted: Sequence[str]
) -> float:
    key = (marker_id, unit)
    if key not in _FACTORS:
        if unit not in accepted:
            raise UnitError(
                f"unit {unit!r} is not accepted for {marker_id}; expected one of "
                f"{', '.join(accepted)}"
            )
        _FACTORS[key] = convert(1.0, unit, canonical, molar_mass_g_mol=mm)
    return _FACTORS[key]


class Catalog(Mapping[str, Marker]):
    """Markers by id, with alias look-up and laboratory overrides.

    Examples
    --------
    >>> from boneturnover.clinical.catalog import CATALOG
    >>> CATALOG.resolve("beta-CTX").id
    'CTX_I'
    >>> lab = CATALOG.with_overrides({"CTX_I": {"ri_high": 0.573, "unit": "ng/mL"}})
    >>> lab["CTX_I"].ri.high
    573.0
    """

    def __init__(self, markers: Mapping[str, Marker]):
        self._markers = dict(markers)
        index: dict[str, str] = {}
        for m in self._markers.values():
            for name in (m.id, m.symbol, *m.aliases):
                key = _alias_key(name)
                if index.get(key, m.id) != m.id:
                    raise KnowledgeBaseError(
                        f"markers.toml: alias {name!r} names both {index[key]} and {m.id}"
                    )
                index[key] = m.id
        self._alias = index
        self._loinc = {code: m.id for m in self._markers.values() for code in m.loinc}

    def __getitem__(self, key: str) -> Marker:
        return self._markers[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._markers)

    def __len__(self) -> int:
        return len(self._markers)

    @cached_property
    def bone_turnover_markers(self) -> tuple[str, ...]:
        return tuple(k for k, m in self._markers.items() if m.is_bone_turnover_marker)

    def find(self, name: str) -> str | None:
        """Return the id a marker name or alias refers to, or None."""
        return self._alias.get(_alias_key(name))

    def by_loinc(self, code: str) -> str | None:
        return self._loinc.get(code)

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

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None) -> Catalog:
        """Return a catalog where a laboratory replaced ri, CVs or LSC of some markers."""
        if not overrides:
            return self
        new = dict(self._markers)
        for name, ov in overrides.items():
            m = self.resolve(name)
            if not isinstance(ov, Mapping):
                raise KnowledgeBaseError(f"assay.{name}: expected a table, got {ov!r}")
            new[m.id] = m.with_override(ov, f"assay.{name}")
        return Catalog(new)


def _alias_key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name)).casefold()


def _load_catalog() -> Catalog:
    raw = load_toml("markers.toml")["markers"]
    markers = {}
    for mid, d in raw.items():
        where = f"markers.toml [markers.{mid}]"
        canonical = d["canonical_unit"]
        mm = d.get("molar_mass_g_mol")
        units = tuple(d["units"])
        if canonical not in units:
            raise KnowledgeBaseError(f"{where}: canonical unit {canonical!r} not in units")
        for u in units:  # every accepted unit must convert through boneturnover.units
            try:
                _factor(mid, u, canonical, mm, units)
            except UnitError as exc:
                raise KnowledgeBaseError(f"{where}: {exc}") from None
        ri = None
        if "ri" in d:
            r = d["ri"]
            ri = ReferenceInterval(r.get("low"), r.get("high"), r["population"],
                                   parse_citations(r.get("cite"), where + ".ri"))
            if ri.low is not None and ri.high is not None and not ri.low < ri.high:
                raise KnowledgeBaseError(f"{where}: ri low must be below high")
        cv = d["cv"]
        lsc = d.get("lsc")
        cutoffs = {
            name: Cutoff(c["value"], c["note"],
                         parse_citations(c.get("cite"), f"{where}.cutoffs.{name}"))
            for name, c in d.get("cutoffs", {}).items()
        }
        plaus = d["plausible"]
        parse_citations(plaus.get("cite"), where + ".plausible")
        markers[mid] = Marker(
            id=mid,
            symbol=d["symbol"],
            name=Text(d["name"]["en"], d["name"]["zh"]),
            process=d["process"],
            specimen=d["specimen"],
            reflects=Text(d["reflects"]["en"], d["reflects"]["zh"],
                          parse_citations(d["reflects"].get("cite"), where + ".reflects")),
            canonical_unit=canonical,
            units=units,
            unit_aliases=dict(d.get("unit_aliases", {})),
            molar_mass_g_mol=mm,
            aliases=tuple(d.get("aliases", ())),
            loinc=tuple(d.get("loinc", ())),
            loinc_note=d.get("loinc_note", ""),
            requires_fasting=bool(d["requires_fasting"]),
            morning_sample=bool(d["morning_sample"]),
            renal_clearance=bool(d["renal_clearance"]),
            preanalytical=Text(
                d["preanalytical"]["en"], d["preanalytical"]["zh"],
                parse_citations(d["preanalytical"].get("cite"), where + ".preanalytical")),
            plausible_low=float(plaus["low"]),
            plausible_high=float(plaus["high"]),
            ri=ri,
            cva_pct=float(cv["cva_pct"]),
            cvi_pct=float(cv["cvi_pct"]),
            cv_cite=parse_citations(cv.get("cite"), where + ".cv"),
            lsc_published=None if lsc is None else float(lsc["pct"]),
            lsc_cite=parse_citations(lsc.get("cite"), where + ".lsc") if lsc else (),
            cutoffs=cutoffs,
        )
        if d["process"] not in ("resorption", "formation", "context"):
            raise KnowledgeBaseError(f"{where}: process must be resorption, formation or context")
    return Catalog(markers)


#: The packaged marker catalog (no laboratory overrides).
CATALOG: Catalog = _load_catalog()

#: Ids of the bone turnover markers (resorption and formation), in catalog order.
BONE_TURNOVER_MARKERS: tuple[str, ...] = CATALOG.bone_turnover_markers


@dataclass(frozen=True)
class Window:
    """Days from the start of a course to the expected maximal change (nadir/peak)."""

    resorption_days: int
    formation_days: int
    cite: tuple[Citation, ...]

    def for_process(self, process: str) -> int:
        return self.resorption_days if process == "resorption" else self.formation_days


@dataclass(frozen=True)
class RetestPlan:
    """When markers are due again; ``off_*`` is None where no off-treatment plan exists."""

    assess_from_days: int
    first_days: int
    monitor_days: int
    off_first_days: int | None
    off_interval_days: int | None
    cite: tuple[Citation, ...]


def parse_window(d: Mapping[str, Any], where: str) -> Window:
    return Window(int(d["resorption_days"]), int(d["formation_days"]),
                  parse_citations(d.get("cite"), where))


def parse_retest(d: Mapping[str, Any], where: str) -> RetestPlan:
    return RetestPlan(
        int(d["assess_from_days"]),
        int(d["first_days"]),
        int(d["monitor_days"]),
        None if d.get("off_first_days") is None else int(d["off_first_days"]),
        None if d.get("off_interval_days") is None else int(d["off_interval_days"]),
        parse_citations(d.get("cite"), where),
    )


@dataclass(frozen=True)
class Drug:
    """A drug the engine knows (``drugs.toml``).

    Attributes
    ----------
    klass : str
        ``bisphosphonate``, ``denosumab``, ``serm``, ``pth_analogue``, ``romosozumab``
        or ``glucocorticoid``.
    interval_days : float
        Default dosing interval in days.
    overdue_grace_days : float or None
        Days past the interval before a dose counts as overdue (denosumab).
    """

    id: str
    klass: str
    mechanism: str
    route: str
    interval: str
    interval_days: float
    name: Text
    aliases: tuple[str, ...]
    window: Window | None
    retest: RetestPlan | None
    overdue_grace_days: float | None
    grace_cite: tuple[Citation, ...]


DRUG_CLASSES = ("bisphosphonate", "denosumab", "serm", "pth_analogue", "romosozumab",
                "glucocorticoid")
ROUTES = ("oral", "iv", "sc")


def duration_days(text: str, where: str) -> float:
    """Parse a UCUM duration such as ``"6 mo"`` or ``"1 wk"`` into days."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", str(text))
    if m is None:
        raise DataError(f"{where}: interval {text!r} is not a duration such as '6 mo' or '1 wk'")
    try:
        return convert(float(m[1]), m[2], "d")
    except UnitError as exc:
        raise UnitError(f"{where}: interval {text!r}: {exc}") from None


class DrugTable(Mapping[str, Drug]):
    """Drugs by id with alias look-up (brand and Chinese names)."""

    def __init__(self, drugs: Mapping[str, Drug]):
        self._drugs = dict(drugs)
        self._alias = {
            _alias_key(n): d.id for d in self._drugs.values()
            for n in (d.id, d.name.en, d.name.zh, *d.aliases)
        }

    def __getitem__(self, key: str) -> Drug:
        return self._drugs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._drugs)

    def __len__(self) -> int:
        return len(self._drugs)

    def find(self, name: str) -> str | None:
        return self._alias.get(_alias_key(name))

    def resolve(self, name: str) -> Drug:
        did = self.find(name)
        if did is None:
            raise DataError(f"unknown drug {name!r}; expected one of {', '.join(self)}")
        return self._drugs[did]


def _load_drugs() -> DrugTable:
    raw = load_toml("drugs.toml")["drugs"]
    out = {}
    for did, d in raw.items():
        where = f"drugs.toml [drugs.{did}]"
        if d["class"] not in DRUG_CLASSES or d["route"] not in ROUTES:
            raise KnowledgeBaseError(f"{where}: class {d['class']!r} or route {d['route']!r}")
        grace = d.get("overdue_grace_days")
        out[did] = Drug(
            id=did,
            klass=d["class"],
            mechanism=d["mechanism"],
            route=d["route"],
            interval=d["interval"],
            interval_days=duration_days(d["interval"], where),
            name=Text(d["name"]["en"], d["name"]["zh"]),
            aliases=tuple(d.get("aliases", ())),
            window=parse_window(d["window"], where + ".window") if "window" in d else None,
            retest=parse_retest(d["retest"], where + ".retest") if "retest" in d else None,
            overdue_grace_days=None if grace is None else float(grace["value"]),
            grace_cite=parse_citations(grace["cite"], where + ".grace") if grace else (),
        )
    return DrugTable(out)


#: The packaged drug table.
DRUGS: DrugTable = _load_drugs()


@dataclass(frozen=True)
class MagnesiumReference:
    """Serum magnesium reference values shared by the clinical engine and the model.

    All values in mmol/L (``MG`` in ``markers.toml`` is the single source).

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


def _magnesium_reference(cat: Catalog) -> MagnesiumReference:
    mg = cat["MG"]
    assert mg.ri is not None and mg.ri.low is not None and mg.ri.high is not None
    assert mg.canonical_unit == "mmol/L" and mg.molar_mass_g_mol is not None
    return MagnesiumReference(
        low_mmol_l=mg.ri.low,
        high_mmol_l=mg.ri.high,
        deficiency_cutoff_mmol_l=mg.cutoff("costello_low"),
        osteoporosis_mean_mmol_l=mg.cutoff("osteoporosis_mean"),
        molar_mass_g_mol=mg.molar_mass_g_mol,
        cite=mg.ri.cite + mg.cutoffs["costello_low"].cite + mg.cutoffs["osteoporosis_mean"].cite,
    )


#: Serum magnesium reference (mmol/L); import this from the model side too.
MAGNESIUM_REFERENCE: MagnesiumReference = _magnesium_reference(CATALOG)
