"""The drug catalogue shared by the treatment layer and the clinical engine (``data/drugs.toml``).

Each drug has names (English and Simplified Chinese), aliases and brands, a class, a
mechanism, the facts of the source review about its marker response, per route the model
dose target and the labelled regimens, each with its source, and what the clinical engine
needs: the class its rules use, the window to the expected maximal marker change and when
markers are due again, each with citations. Supplements carry their salts (elemental
fraction by mass); oral bisphosphonates carry the intake conditions (factor on the label
bioavailability). Glucocorticoids are clinical context only (no dose target). Each RxNorm
ingredient code a drug carries names the stored sources that state it (``rxnorm_sources``);
a code without one is refused. Nothing here needs the model: a route whose dose target the
model lacks still loads.

The catalogue is read and validated on first use (:func:`drug_catalog`, cached);
importing this module reads no file. :func:`parse_duration_h` and :func:`parse_amount`
are the package's parsers of a written duration (``"6 months"``) and amount (``"60 mg"``).

Examples
--------
>>> from boneturnover.knowledge.drugs import drug_catalog
>>> cat = drug_catalog()
>>> cat["denosumab"].routes["sc"].regimens[0].dose
'60 mg'
>>> cat.lookup("Prolia").key, cat.lookup("唑来膦酸").key
('denosumab', 'zoledronate')
>>> cat["ibandronate"].interval_days("iv"), cat["denosumab"].rule_class
(91.3125, 'denosumab')
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..errors import DataError, InputError
from ..files import load_toml_cached
from ..units import parse_amount, parse_duration_h
from .markers import (
    EVIDENCE_LEVELS,
    Citation,
    KnowledgeBaseError,
    Text,
    alias_key,
    marker_catalog,
    parse_citations,
)
from .sources import Fact, resolve

__all__ = [
    "RULE_CLASSES", "ACTIONS", "ROUTES", "LabelledRegimen", "Intake", "Salt", "Limit",
    "RxNormCode",
    "Route", "Window", "RetestPlan", "Drug", "DrugCatalog", "drug_catalog",
    "drug_catalog_from_dict", "parse_duration_h", "parse_amount", "parse_window",
    "parse_retest",
]

#: Drug classes the clinical rules distinguish.
RULE_CLASSES = ("bisphosphonate", "denosumab", "serm", "pth_analogue", "romosozumab",
                "supplement", "glucocorticoid")
#: What a drug does to bone (``context``: recorded for interpretation, not simulated).
ACTIONS = ("antiresorptive", "anabolic", "dual", "supplement", "context")
#: Routes of administration.
ROUTES = ("oral", "iv", "sc")

_FILE = "drugs.toml"
@dataclass(frozen=True)
class LabelledRegimen:
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
class RxNormCode:
    """An RxNorm ingredient code (RXCUI, term type IN) of a drug, with the ingredient's
    name and the keys of the catalogue's ``[sources]`` that state this code for it."""

    code: str
    name: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """One route of a drug: the model dose target and the labelled regimens.

    Attributes
    ----------
    key
        One of :data:`ROUTES`.
    target
        Model dose target (a key of :data:`boneturnover.dosing.COMPARTMENTS` once the
        model has it); None for a drug recorded as clinical context only.
    regimens
        Labelled regimens, the usual one first (empty for context drugs).
    intake
        Intake conditions (oral bisphosphonates only; empty otherwise).
    infusion_default_h, infusion_minimum_h
        Default and minimal infusion duration (h) of an IV route (None: bolus / no minimum).
    """

    key: str
    target: str | None
    regimens: tuple[LabelledRegimen, ...]
    intake: Mapping[str, Intake]
    infusion_default_h: float | None = None
    infusion_minimum_h: float | None = None

    @property
    def max_dose(self) -> LabelledRegimen:
        """The regimen with the largest single dose (compared in its own unit)."""
        return max(self.regimens, key=lambda r: r.amount)


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


@dataclass(frozen=True)
class Drug:
    """A drug, supplement or context drug of the catalogue.

    Attributes
    ----------
    key : str
        Catalogue key (``denosumab``).
    name, drug_class : Text
        Names in English and Chinese.
    aliases, brands : tuple of str
        Other generic or salt names, and brand names.
    rule_class : str
        One of :data:`RULE_CLASSES` (what the clinical rules key on).
    action : str
        One of :data:`ACTIONS`.
    routes : mapping
        Route key -> :class:`Route`, the usual route first.
    element, element_molar_mass_g_mol
        Supplements: marker id of the element and its molar mass (g/mol).
    window, retest
        Clinical timing of the marker response and of retests (None: not monitored).
    overdue_grace_days
        Days past the interval before a dose counts as overdue (denosumab).
    rxnorm : tuple of RxNormCode
        RxNorm ingredient codes, each with the sources that verify it.
    rxnorm_unverified : str or None
        Why the drug carries no (or not every) RxNorm code.
    """

    key: str
    name: Text
    aliases: tuple[str, ...]
    brands: tuple[str, ...]
    drug_class: Text
    rule_class: str
    action: str
    mechanism: str
    dose_as: str
    seed: tuple[str, ...]
    sources: tuple[str, ...]
    evidence: str
    routes: Mapping[str, Route]
    salts: Mapping[str, Salt]
    limit: Limit | None = None
    model: str | None = None
    element: str | None = None
    element_molar_mass_g_mol: float | None = None
    window: Window | None = None
    retest: RetestPlan | None = None
    overdue_grace_days: float | None = None
    grace_cite: tuple[Citation, ...] = ()
    interval_h: float | None = None
    rxnorm: tuple[RxNormCode, ...] = ()
    rxnorm_unverified: str | None = None

    @property
    def default_route(self) -> str:
        """The first route listed in the catalogue."""
        return next(iter(self.routes))

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the drug is known by: key, names, aliases and brands."""
        return (self.key, self.name.en, self.name.zh, *self.aliases, *self.brands)

    def interval_days(self, route: str | None = None) -> float:
        """The usual dosing interval (days) on ``route`` (default: the usual route).

        The interval of the first labelled regimen of that route, else of the usual
        route, else the catalogue's ``interval`` of a context drug.
        """
        for key in (route, self.default_route):
            r = self.routes.get(key) if key else None
            if r is not None and r.regimens:
                return r.regimens[0].every_h / 24.0
        if self.interval_h is None:
            raise KnowledgeBaseError(f"{_FILE} [drugs.{self.key}]: no interval")
        return self.interval_h / 24.0


class DrugCatalog(Mapping[str, Drug]):
    """All drugs by key, with look-up by any name, and the source texts.

    Attributes
    ----------
    sources : mapping
        Source id -> citation of the drug catalogue (labels, fact sheets, positions).
    """

    def __init__(self, drugs: Mapping[str, Drug], sources: Mapping[str, str]):
        self._drugs = dict(drugs)
        self.sources: Mapping[str, str] = MappingProxyType(dict(sources))
        index: dict[str, str] = {}
        codes: dict[str, str] = {}
        for d in self._drugs.values():
            for rx in d.rxnorm:
                if codes.setdefault(rx.code, d.key) != d.key:
                    raise KnowledgeBaseError(
                        f"{_FILE}: RxNorm code {rx.code} belongs to both {codes[rx.code]} "
                        f"and {d.key}")
            for name in d.names:
                key = alias_key(name)
                if index.get(key, d.key) != d.key:
                    raise KnowledgeBaseError(
                        f"{_FILE}: name {name!r} belongs to both {index[key]} and {d.key}")
                index[key] = d.key
        self._index = index

    def __getitem__(self, key: str) -> Drug:
        return self._drugs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._drugs)

    def __len__(self) -> int:
        return len(self._drugs)

    def find(self, name: str) -> str | None:
        """The key of the drug called ``name`` (any name, case and spacing ignored), or None."""
        return self._index.get(alias_key(name))

    def lookup(self, name: str) -> Drug | None:
        """The drug called ``name``, or None."""
        key = self.find(name)
        return None if key is None else self._drugs[key]

    def resolve(self, name: str) -> Drug:
        """The drug called ``name``.

        Raises
        ------
        DataError
            If no drug has that name; the message lists the keys.
        """
        drug = self.lookup(name)
        if drug is None:
            raise DataError(f"unknown drug {name!r}; expected one of {', '.join(self)}")
        return drug

    def suggest(self, name: str) -> str | None:
        """The key of the drug with the closest name to ``name``, if any is close."""
        names = {n.casefold(): d.key for d in self._drugs.values()
                 for n in (d.key, d.name.en, *d.aliases, *d.brands)}
        hit = difflib.get_close_matches(name.strip().casefold(), list(names), n=1, cutoff=0.6)
        return names[hit[0]] if hit else None


def _req(d: Any, key: str, loc: str) -> Any:
    if not isinstance(d, Mapping) or key not in d:
        raise KnowledgeBaseError(f"drug catalogue {loc}: missing {key!r}")
    return d[key]


def _source(key: str, sources: Mapping[str, str], loc: str) -> str:
    if key not in sources:
        raise KnowledgeBaseError(f"drug catalogue {loc}: source {key!r} is not in [sources]")
    return key


def _evidence(value: Any, loc: str) -> str:
    if value not in EVIDENCE_LEVELS:
        raise KnowledgeBaseError(f"drug catalogue {loc}: evidence {value!r} is not one of "
                                 f"{sorted(EVIDENCE_LEVELS)}")
    return str(value)


def _duration(text: Any, loc: str) -> float:
    return parse_duration_h(text, f"drug catalogue {loc}", error=KnowledgeBaseError)


def parse_window(d: Mapping[str, Any], where: str) -> Window:
    """A ``window = {resorption_days, formation_days, cite}`` table."""
    return Window(int(_req(d, "resorption_days", where)), int(_req(d, "formation_days", where)),
                  parse_citations(d.get("cite"), where))


def parse_retest(d: Mapping[str, Any], where: str) -> RetestPlan:
    """A ``retest = {assess_from_days, first_days, monitor_days, off_..., cite}`` table."""
    return RetestPlan(
        int(_req(d, "assess_from_days", where)), int(_req(d, "first_days", where)),
        int(_req(d, "monitor_days", where)),
        None if d.get("off_first_days") is None else int(d["off_first_days"]),
        None if d.get("off_interval_days") is None else int(d["off_interval_days"]),
        parse_citations(d.get("cite"), where))


def _regimen(r: Mapping[str, Any], sources: Mapping[str, str], loc: str) -> LabelledRegimen:
    dose = _req(r, "dose", loc)
    amount, unit = parse_amount(dose, f"drug catalogue {loc}.dose", error=KnowledgeBaseError)
    every = _req(r, "every", loc)
    return LabelledRegimen(dose=dose, every=every, amount=amount, unit=unit,
                           every_h=_duration(every, f"{loc}.every"), name=_req(r, "name", loc),
                           source=_source(_req(r, "source", loc), sources, loc))


def _route(key: str, d: Mapping[str, Any], sources: Mapping[str, str], loc: str,
           context: bool) -> Route:
    if key not in ROUTES:
        raise KnowledgeBaseError(f"drug catalogue {loc}: route must be one of {', '.join(ROUTES)}")
    if context and not d:
        return Route(key=key, target=None, regimens=(), intake=MappingProxyType({}))
    regimens = tuple(_regimen(r, sources, f"{loc}.regimens[{i}]")
                     for i, r in enumerate(_req(d, "regimens", loc), start=1))
    if not regimens:
        raise KnowledgeBaseError(f"drug catalogue {loc}: needs at least one regimen")
    intake = {}
    for ik, v in d.get("intake", {}).items():
        iloc = f"{loc}.intake.{ik}"
        factor = float(_req(v, "factor", iloc))
        if not 0 < factor <= 1:
            raise KnowledgeBaseError(f"drug catalogue {iloc}: factor {factor!r} must be in (0, 1]")
        intake[ik] = Intake(ik, factor, _req(v, "meaning", iloc),
                            _source(_req(v, "source", iloc), sources, iloc),
                            _evidence(_req(v, "evidence", iloc), iloc))
    inf_def, inf_min = d.get("infusion_default"), d.get("infusion_minimum")
    return Route(
        key=key, target=str(_req(d, "target", loc)), regimens=regimens,
        intake=MappingProxyType(intake),
        infusion_default_h=None if inf_def is None else _duration(inf_def, loc),
        infusion_minimum_h=None if inf_min is None else _duration(inf_min, loc))


def _salts(d: Mapping[str, Any], sources: Mapping[str, str], loc: str) -> dict[str, Salt]:
    salts = {}
    for sk, sv in d.get("salts", {}).items():
        sloc = f"{loc}.salts.{sk}"
        fraction = float(_req(sv, "fraction", sloc))
        if not 0 < fraction <= 1:
            raise KnowledgeBaseError(
                f"drug catalogue {sloc}: fraction {fraction!r} must be in (0, 1]")
        salts[sk] = Salt(sk, fraction, _req(sv, "formula", sloc),
                         float(_req(sv, "molar_mass_g_mol", sloc)),
                         _source(_req(sv, "source", sloc), sources, sloc))
    return salts


def _limit(d: Mapping[str, Any], sources: Mapping[str, str], loc: str) -> Limit | None:
    if "limit" not in d:
        return None
    lim, lloc = d["limit"], f"{loc}.limit"
    return Limit(course_h=None if "course" not in lim else _duration(lim["course"], lloc),
                 doses=lim.get("doses"), meaning=_req(lim, "meaning", lloc),
                 source=_source(_req(lim, "source", lloc), sources, lloc))


def _rxnorm(d: Mapping[str, Any], sources: Mapping[str, str], loc: str
            ) -> tuple[RxNormCode, ...]:
    """``rxnorm`` (codes) with ``rxnorm_sources`` (per code: name, sources): every code
    needs at least one source of ``[sources]``, and no source entry may lack its code."""
    codes = d.get("rxnorm", [])
    if not isinstance(codes, list) or not all(
            isinstance(c, str) and c.isdigit() and c[0] != "0" for c in codes):
        raise KnowledgeBaseError(f"drug catalogue {loc}: rxnorm must be a list of RxNorm "
                                 f"codes written as digit strings, got {codes!r}")
    verified = d.get("rxnorm_sources", {})
    extra = sorted(set(verified) - set(codes))
    if extra:
        raise KnowledgeBaseError(f"drug catalogue {loc}: rxnorm_sources for {extra} not in "
                                 "rxnorm")
    out = []
    for code in codes:
        rloc = f"{loc}.rxnorm_sources.{code}"
        entry = verified.get(code)
        if not isinstance(entry, Mapping) or not entry.get("sources"):
            raise KnowledgeBaseError(
                f"drug catalogue {rloc}: RxNorm code {code} has no verifying source; give "
                "the ingredient name and the [sources] that state the code, or leave it out")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise KnowledgeBaseError(f"drug catalogue {rloc}: needs the ingredient name")
        out.append(RxNormCode(code, name, tuple(_source(s, sources, rloc)
                                                for s in entry["sources"])))
    if len({c.code for c in out}) != len(out):
        raise KnowledgeBaseError(f"drug catalogue {loc}: rxnorm lists a code twice")
    return tuple(out)


def _choice(d: Mapping[str, Any], key: str, allowed: tuple[str, ...], loc: str) -> str:
    value = _req(d, key, loc)
    if value not in allowed:
        raise KnowledgeBaseError(f"drug catalogue {loc}: {key} {value!r} is not one of "
                                 f"{', '.join(allowed)}")
    return str(value)


def _element(d: Mapping[str, Any], loc: str) -> tuple[str | None, float | None]:
    element = d.get("element")
    if element is None:
        return None, None
    markers = marker_catalog()
    mm = markers[element].molar_mass_g_mol if element in markers else None
    if mm is None:
        raise KnowledgeBaseError(f"drug catalogue {loc}: element {element!r} is not a marker "
                                 "with a molar mass")
    return str(element), mm


def _seed(seed: Any, loc: str) -> tuple[str, ...]:
    out = tuple(str(s) for s in seed)
    for s in out:
        try:
            ok = isinstance(resolve(f"seed:{s}"), Fact)
        except InputError:
            ok = False
        if not ok:
            raise KnowledgeBaseError(f"drug catalogue {loc}: seed {s!r} is not a seed fact "
                                     "(B1-B38, M1-M19)")
    return out


def _drug(key: str, d: Mapping[str, Any], own: Mapping[str, str]) -> Drug:
    loc = f"[drugs.{key}]"
    name, cls = _req(d, "name", loc), _req(d, "class", loc)
    action = _choice(d, "action", ACTIONS, loc)
    context = action == "context"
    routes = {rk: _route(rk, rv, own, f"{loc}.routes.{rk}", context)
              for rk, rv in _req(d, "routes", loc).items()}
    if not routes:
        raise KnowledgeBaseError(f"drug catalogue {loc}: needs at least one route")
    if context and "interval" not in d and not any(r.regimens for r in routes.values()):
        raise KnowledgeBaseError(f"drug catalogue {loc}: a context drug without regimens "
                                 "needs `interval`")
    seed = _seed(d.get("seed", ()), loc)
    grace = d.get("overdue_grace_days")
    element, element_mm = _element(d, loc)
    dose_as = str(d.get("dose_as", "")) if context else str(_req(d, "dose_as", loc))
    return Drug(
        key=key, name=Text(_req(name, "en", loc), _req(name, "zh", loc)),
        aliases=tuple(d.get("aliases", ())), brands=tuple(d.get("brands", ())),
        drug_class=Text(_req(cls, "en", loc), _req(cls, "zh", loc)),
        rule_class=_choice(d, "rule_class", RULE_CLASSES, loc), action=action,
        mechanism=_req(d, "mechanism", loc), dose_as=dose_as, seed=seed,
        sources=tuple(_source(s, own, loc) for s in _req(d, "sources", loc)),
        evidence=_evidence(_req(d, "evidence", loc), loc), routes=MappingProxyType(routes),
        salts=MappingProxyType(_salts(d, own, loc)), limit=_limit(d, own, loc),
        model=d.get("model"), element=element, element_molar_mass_g_mol=element_mm,
        window=None if "window" not in d else parse_window(d["window"], loc + ".window"),
        retest=None if "retest" not in d else parse_retest(d["retest"], loc + ".retest"),
        overdue_grace_days=None if grace is None else float(_req(grace, "value", loc)),
        grace_cite=() if grace is None else parse_citations(grace.get("cite"), loc + ".grace"),
        interval_h=None if "interval" not in d else _duration(d["interval"], loc + ".interval"),
        rxnorm=_rxnorm(d, own, loc), rxnorm_unverified=d.get("rxnorm_unverified"),
    )


def drug_catalog_from_dict(data: Mapping[str, Any]) -> DrugCatalog:
    """Validate a parsed catalogue mapping (the layout of ``data/drugs.toml``).

    Regimens, intake conditions, salts and limits name a key of the catalogue's own
    ``[sources]`` (labels, fact sheets); clinical citations (window, retest, grace) and
    seed facts resolve against every bibliography of the package
    (:mod:`boneturnover.knowledge.sources`).
    """
    own = {str(k): str(v) for k, v in _req(data, "sources", "top level").items()}
    drugs = {k: _drug(k, v, own) for k, v in _req(data, "drugs", "top level").items()}
    return DrugCatalog(drugs, own)


@cache
def drug_catalog() -> DrugCatalog:
    """The packaged drug catalogue, read on first use."""
    text = resources.files(__package__).joinpath("data", _FILE).read_text(encoding="utf-8")
    return drug_catalog_from_dict(load_toml_cached(text, _FILE))
