"""The drug catalogue (``catalog.toml``) as validated, immutable records.

Each drug has names (English and Simplified Chinese), a class, a mechanism, the
seed facts about its marker response, and per route the model dose target and the
labelled regimens, each with its source. Supplements carry their salts (elemental
fraction by mass); oral bisphosphonates carry the intake conditions (factor on the
label bioavailability). Nothing here needs the model: a route whose dose target
the model lacks (``gut_magnesium`` before the magnesium model) still loads.

Examples
--------
>>> from boneturnover.drugs.catalog import load_catalog
>>> cat = load_catalog()
>>> cat.drugs["denosumab"].routes["sc"].regimens[0].dose
'60 mg'
>>> cat.lookup("Prolia").key
'denosumab'
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..dosing import parse_duration_h
from ..errors import DataError

__all__ = ["Text", "Regimen", "Intake", "Salt", "Limit", "Route", "Drug", "Catalog",
           "load_catalog", "parse_amount"]


@dataclass(frozen=True)
class Text:
    """A name in English and Simplified Chinese."""

    en: str
    zh: str


@dataclass(frozen=True)
class Regimen:
    """A labelled regimen: ``dose`` (``"70 mg"``) every ``every`` (``"1 wk"``).

    Attributes
    ----------
    dose, every
        Amount with its unit, and the interval as a UCUM duration, as written.
    amount, unit
        ``dose`` split into number and unit.
    every_h
        ``every`` in hours.
    name, source
        Words (``"once weekly"``) and the key of the source.
    """

    dose: str
    every: str
    amount: float
    unit: str
    every_h: float
    name: str
    source: str


@dataclass(frozen=True)
class Intake:
    """An intake condition of an oral bisphosphonate (factor on the label bioavailability)."""

    key: str
    factor: float
    meaning: str
    source: str
    evidence: str


@dataclass(frozen=True)
class Salt:
    """A supplement salt: ``fraction`` of its mass is the element."""

    key: str
    fraction: float
    formula: str
    molar_mass_g_mol: float
    source: str


@dataclass(frozen=True)
class Limit:
    """A labelled limit of use: a course duration (h) or a number of doses."""

    course_h: float | None
    doses: int | None
    meaning: str
    source: str


@dataclass(frozen=True)
class Route:
    """One route of a drug: the model dose target and the labelled regimens.

    Attributes
    ----------
    key
        ``"oral"``, ``"iv"`` or ``"sc"``.
    target
        Dose target (key of :data:`boneturnover.dosing.COMPARTMENTS` once the model has it).
    regimens
        Labelled regimens, the usual one first.
    intake
        Intake conditions (oral bisphosphonates only; empty otherwise).
    infusion_default_h, infusion_minimum_h
        Default and minimal infusion duration (h) of an IV route (None: bolus / no minimum).
    """

    key: str
    target: str
    regimens: tuple[Regimen, ...]
    intake: dict[str, Intake]
    infusion_default_h: float | None = None
    infusion_minimum_h: float | None = None

    @property
    def max_dose(self) -> Regimen:
        """The regimen with the largest single dose (compared in its own unit)."""
        return max(self.regimens, key=lambda r: r.amount)


@dataclass(frozen=True)
class Drug:
    """A drug or supplement of the catalogue."""

    key: str
    name: Text
    aliases: tuple[str, ...]
    drug_class: Text
    mechanism: str
    dose_as: str
    seed: tuple[str, ...]
    sources: tuple[str, ...]
    evidence: str
    routes: dict[str, Route]
    salts: dict[str, Salt]
    limit: Limit | None = None
    model: str | None = None
    element_molar_mass_g_mol: float | None = None

    @property
    def default_route(self) -> str:
        """The first route listed in the catalogue."""
        return next(iter(self.routes))


@dataclass(frozen=True)
class Catalog:
    """All drugs, by key, and the source texts."""

    drugs: dict[str, Drug]
    sources: dict[str, str]

    def lookup(self, name: str) -> Drug | None:
        """Find a drug by key, English name or alias (case-insensitive); None if unknown."""
        wanted = name.strip().casefold()
        for drug in self.drugs.values():
            names = (drug.key, drug.name.en, drug.name.zh, *drug.aliases)
            if wanted in {n.casefold() for n in names}:
                return drug
        return None

    def suggest(self, name: str) -> str | None:
        """The closest known drug key or alias to ``name``, if any is close."""
        names = {n.casefold(): d.key for d in self.drugs.values()
                 for n in (d.key, d.name.en, *d.aliases)}
        hit = difflib.get_close_matches(name.strip().casefold(), list(names), n=1, cutoff=0.6)
        return names[hit[0]] if hit else None


def parse_amount(text: Any, field: str) -> tuple[float, str]:
    """Split ``"60 mg"`` into ``(60.0, "mg")``; raise :class:`DataError` otherwise."""
    if not isinstance(text, str) or len(text.split()) != 2:
        raise DataError(f"{field}: {text!r} is not '<number> <unit>', e.g. '60 mg'")
    num, unit = text.split()
    try:
        return float(num), unit
    except ValueError:
        raise DataError(f"{field}: {text!r} does not start with a number") from None


def _req(d: dict[str, Any], key: str, loc: str) -> Any:
    if key not in d:
        raise DataError(f"drug catalogue {loc}: missing {key!r}")
    return d[key]


def _source(key: str, sources: dict[str, str], loc: str) -> str:
    if key not in sources:
        raise DataError(f"drug catalogue {loc}: source {key!r} is not in [sources]")
    return key


def _route(key: str, d: dict[str, Any], sources: dict[str, str], loc: str) -> Route:
    regimens = []
    for i, r in enumerate(_req(d, "regimens", loc), start=1):
        rloc = f"{loc}.regimens[{i}]"
        amount, unit = parse_amount(_req(r, "dose", rloc), f"{rloc}.dose")
        regimens.append(Regimen(
            dose=r["dose"], every=_req(r, "every", rloc), amount=amount, unit=unit,
            every_h=parse_duration_h(r["every"], f"{rloc}.every"), name=_req(r, "name", rloc),
            source=_source(_req(r, "source", rloc), sources, rloc)))
    if not regimens:
        raise DataError(f"drug catalogue {loc}: needs at least one regimen")
    intake = {}
    for ik, v in d.get("intake", {}).items():
        iloc = f"{loc}.intake.{ik}"
        factor = float(_req(v, "factor", iloc))
        if not 0 < factor <= 1:
            raise DataError(f"drug catalogue {iloc}: factor {factor!r} must be in (0, 1]")
        intake[ik] = Intake(ik, factor, _req(v, "meaning", iloc),
                            _source(_req(v, "source", iloc), sources, iloc),
                            _req(v, "evidence", iloc))
    inf_def = d.get("infusion_default")
    inf_min = d.get("infusion_minimum")
    return Route(
        key=key, target=_req(d, "target", loc), regimens=tuple(regimens), intake=intake,
        infusion_default_h=None if inf_def is None else parse_duration_h(inf_def, loc),
        infusion_minimum_h=None if inf_min is None else parse_duration_h(inf_min, loc))


def _drug(key: str, d: dict[str, Any], sources: dict[str, str]) -> Drug:
    loc = f"[drugs.{key}]"
    name, cls = _req(d, "name", loc), _req(d, "class", loc)
    routes = {rk: _route(rk, rv, sources, f"{loc}.routes.{rk}")
              for rk, rv in _req(d, "routes", loc).items()}
    if not routes:
        raise DataError(f"drug catalogue {loc}: needs at least one route")
    salts = {}
    for sk, sv in d.get("salts", {}).items():
        sloc = f"{loc}.salts.{sk}"
        fraction = float(_req(sv, "fraction", sloc))
        if not 0 < fraction <= 1:
            raise DataError(f"drug catalogue {sloc}: fraction {fraction!r} must be in (0, 1]")
        salts[sk] = Salt(sk, fraction, _req(sv, "formula", sloc),
                         float(_req(sv, "molar_mass_g_mol", sloc)),
                         _source(_req(sv, "source", sloc), sources, sloc))
    limit = None
    if "limit" in d:
        lim = d["limit"]
        lloc = f"{loc}.limit"
        limit = Limit(
            course_h=None if "course" not in lim else parse_duration_h(lim["course"], lloc),
            doses=lim.get("doses"), meaning=_req(lim, "meaning", lloc),
            source=_source(_req(lim, "source", lloc), sources, lloc))
    mm = d.get("element_molar_mass_g_mol")
    return Drug(
        key=key, name=Text(name["en"], name["zh"]), aliases=tuple(d.get("aliases", ())),
        drug_class=Text(cls["en"], cls["zh"]), mechanism=_req(d, "mechanism", loc),
        dose_as=_req(d, "dose_as", loc), seed=tuple(d.get("seed", ())),
        sources=tuple(_source(s, sources, loc) for s in _req(d, "sources", loc)),
        evidence=_req(d, "evidence", loc), routes=routes, salts=salts, limit=limit,
        model=d.get("model"), element_molar_mass_g_mol=None if mm is None else float(mm))


def catalog_from_dict(data: dict[str, Any]) -> Catalog:
    """Validate a parsed catalogue mapping (the layout of ``catalog.toml``)."""
    sources = dict(_req(data, "sources", "top level"))
    drugs = {k: _drug(k, v, sources) for k, v in _req(data, "drugs", "top level").items()}
    return Catalog(drugs=drugs, sources=sources)


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Load the packaged ``catalog.toml`` (cached)."""
    text = resources.files(__package__).joinpath("catalog.toml").read_text(encoding="utf-8")
    return catalog_from_dict(tomllib.loads(text))
