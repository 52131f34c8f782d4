"""Model modules and their assembly into one system of equations.

A module (``modules/*.toml``) holds one mechanism: the core Peterson & Riggs system,
menopause and ageing, BMD, kidney, magnesium, modelling-based formation, or one drug
class. It declares, as expressions over named symbols:

``[derived]``
    constants computed once per subject from parameters, covariates and the reference
    state (a state's name there means its reference value);
``[terms]``
    named intermediate quantities of the right-hand side;
``[rates]``
    the time derivative of each state it owns (state unit per hour);
``[hooks]``
    named effect slots that other modules may fill, each a ``product`` (1 when empty)
    or a ``sum`` (0 when empty);
``[effects]``
    this module's contribution to another module's hook;
``[each]``
    terms and rates repeated over a list (``{d}`` in names and expressions).

Names are global across the assembled modules. :func:`assemble` checks that every name
is known, every state has exactly one rate, effects fill declared hooks, and that terms
form no cycle; it orders derived constants and terms by dependency. Dependencies are
read from the expressions themselves (Python's :mod:`ast`), so the Jacobian's sparsity
is structural: an entry is present when the expressions say so, whatever the parameter
values. Code generation is :mod:`boneturnover.model.codegen`.

Expressions use ``+ - * / **``, numbers, comparisons inside ``where``, and the functions
of :data:`FUNCTIONS`.
"""

from __future__ import annotations

import ast
import hashlib
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..errors import ModelError

__all__ = ["Module", "Hook", "AssembledModel", "FUNCTIONS", "MODULE_DIR", "BUNDLED_MODULES",
           "load_module", "bundled_modules", "assemble", "COVARIATES", "TIME"]

MODULE_DIR = Path(__file__).parent / "modules"
#: The bundled modules, in assembly order.
BUNDLED_MODULES = ("core", "menopause", "bmd", "kidney", "modelling", "magnesium",
                   "bisphosphonates", "denosumab", "teriparatide", "raloxifene",
                   "romosozumab")
#: Functions an expression may call, with their number of arguments.
FUNCTIONS: dict[str, int] = {
    "hill": 3, "root": 2, "smooth_pos": 2, "smooth_excess": 2, "exp": 1, "log": 1,
    "sqrt": 1, "tanh": 1, "max": 2, "min": 2, "where": 3, "isnan": 1, "mg_effect": 6,
}
#: Per-subject covariates stored beside the parameters: (name, default, unit, meaning).
COVARIATES: tuple[tuple[str, float, str, str], ...] = (
    ("age0_y", 50.0, "a", "age at model time 0"),
    ("menopause_age_y", float("nan"), "a",
     "age at the final menstrual period (NaN: premenopausal)"),
)
#: The name of model time (hours) in expressions.
TIME = "t"
_COMBINE = ("product", "sum")
_ALLOWED_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant,
                  ast.Load, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd,
                  ast.Compare, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


@dataclass(frozen=True)
class Hook:
    """An effect slot: ``combine`` is ``product`` (empty: 1) or ``sum`` (empty: 0)."""

    name: str
    combine: str
    meaning: str
    module: str


@dataclass(frozen=True)
class Module:
    """One mechanism's equations (see the module docstring for the sections)."""

    name: str
    title: str
    kind: str
    source: str
    requires: tuple[str, ...]
    hooks: tuple[Hook, ...]
    derived: tuple[tuple[str, str], ...]
    terms: tuple[tuple[str, str], ...]
    effects: tuple[tuple[str, str], ...]
    rates: tuple[tuple[str, str], ...]
    path: Path | None = None

    @property
    def states(self) -> tuple[str, ...]:
        """States whose rate this module defines."""
        return tuple(name for name, _ in self.rates)


def _names(expr: str, where: str) -> set[str]:
    """Identifiers an expression reads (not the functions it calls); checks its syntax."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ModelError(f"{where}: {expr!r} is not an expression ({exc.msg})") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ModelError(f"{where}: {type(node).__name__} is not allowed in {expr!r}")
        if isinstance(node, ast.Call):
            fn = node.func.id if isinstance(node.func, ast.Name) else None
            if fn not in FUNCTIONS:
                raise ModelError(f"{where}: unknown function {fn!r} in {expr!r}; expected one "
                                 f"of {', '.join(sorted(FUNCTIONS))}")
            if len(node.args) != FUNCTIONS[fn] or node.keywords:
                raise ModelError(f"{where}: {fn} takes {FUNCTIONS[fn]} arguments in {expr!r}")
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ModelError(f"{where}: only numbers are allowed as constants in {expr!r}")
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}
    return names - calls


def _table(data: dict, key: str, where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ModelError(f"{where}: [{key}] must be a table")
    return value


def _exprs(table: dict, where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for name, expr in table.items():
        if not isinstance(expr, str):
            raise ModelError(f"{where}.{name}: expected an expression string, got {expr!r}")
        if not name.isidentifier():
            raise ModelError(f"{where}: {name!r} is not a valid name")
        out.append((name, expr))
    return tuple(out)


def load_module(path: str | Path) -> Module:
    """Read one module file (``[each]`` sections expanded)."""
    path = Path(path)
    where = path.name
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{where}: cannot be read as a module ({exc})") from None
    head = _table(data, "module", where)
    name = head.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ModelError(f"{where}: [module].name must be a name, got {name!r}")
    hooks = []
    for hook, spec in _table(data, "hooks", where).items():
        combine = spec.get("combine") if isinstance(spec, dict) else None
        if combine not in _COMBINE:
            raise ModelError(f"{where}: hook {hook!r}: combine must be one of {_COMBINE}")
        hooks.append(Hook(hook, combine, str(spec.get("meaning", "")), name))
    terms = list(_exprs(_table(data, "terms", where), f"{where} [terms]"))
    rates = list(_exprs(_table(data, "rates", where), f"{where} [rates]"))
    each = _table(data, "each", where)
    if each:
        over = each.get("over")
        if not (isinstance(over, list) and over and all(isinstance(v, str) for v in over)):
            raise ModelError(f"{where}: [each].over must be a list of names")
        for section, target in (("terms", terms), ("rates", rates)):
            table = each.get(section, {})
            if not isinstance(table, dict):
                raise ModelError(f"{where}: [each.{section}] must be a table")
            for item in over:
                for key, expr in table.items():
                    if not isinstance(expr, str):
                        raise ModelError(f"{where} [each.{section}].{key}: expected an "
                                         "expression string")
                    target.append((key.replace("{d}", item), expr.replace("{d}", item)))
    module = Module(
        name=name, title=str(head.get("title", name)), kind=str(head.get("kind", "")),
        source=str(head.get("source", "")),
        requires=tuple(head.get("requires", ())), hooks=tuple(hooks),
        derived=_exprs(_table(data, "derived", where), f"{where} [derived]"),
        terms=tuple(terms), effects=_exprs(_table(data, "effects", where), f"{where} [effects]"),
        rates=tuple(rates), path=path)
    for section in ("derived", "terms", "effects", "rates"):
        for key, expr in getattr(module, section):
            if not key.isidentifier():
                raise ModelError(f"{where} [{section}]: {key!r} is not a valid name")
            _names(expr, f"{where} [{section}].{key}")
    return module


@cache
def bundled_modules() -> tuple[Module, ...]:
    """The bundled modules, in :data:`BUNDLED_MODULES` order."""
    return tuple(load_module(MODULE_DIR / f"{name}.toml") for name in BUNDLED_MODULES)


def _order(items: dict[str, str], known: set[str], kind: str,
           owner: dict[str, str]) -> list[tuple[str, str, frozenset[str]]]:
    """Dependency order of ``items`` (name -> expression); ``known`` are free symbols."""
    deps = {}
    for name, expr in items.items():
        used = _names(expr, f"{owner[name]} [{kind}].{name}")
        unknown = sorted(used - known - set(items))
        if unknown:
            raise ModelError(f"{owner[name]} [{kind}].{name}: unknown name(s) "
                             f"{', '.join(unknown)} in {expr!r}")
        deps[name] = used
    out: list[tuple[str, str, frozenset[str]]] = []
    state: dict[str, int] = {}  # 1: visiting, 2: done

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join((*chain[chain.index(name):], name))
            raise ModelError(f"{kind}: the definitions form a cycle: {cycle}")
        state[name] = 1
        for dep in sorted(deps[name] & set(items)):
            visit(dep, (*chain, name))
        state[name] = 2
        out.append((name, items[name], frozenset(deps[name])))

    for name in items:
        visit(name, ())
    return out


@dataclass(frozen=True)
class AssembledModel:
    """The chosen modules as one system: everything code generation needs.

    Attributes
    ----------
    modules
        The modules, in assembly order.
    states
        State names in index order (from the model specification).
    parameters
        Parameter names (record fields).
    covariates
        Covariate names (record fields).
    derived
        ``(name, expression, names read)`` in evaluation order.
    terms
        ``(name, expression, names read)`` in evaluation order; hooks are terms whose
        expression combines the effects filling them.
    rates
        ``(state, expression, names read)`` in state order.
    """

    modules: tuple[Module, ...]
    states: tuple[str, ...]
    parameters: tuple[str, ...]
    covariates: tuple[str, ...]
    derived: tuple[tuple[str, str, frozenset[str]], ...]
    terms: tuple[tuple[str, str, frozenset[str]], ...]
    rates: tuple[tuple[str, str, frozenset[str]], ...]
    hooks: tuple[Hook, ...] = field(default=())

    @property
    def derived_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.derived)

    @property
    def record_fields(self) -> tuple[str, ...]:
        """Fields of a subject's parameter record: parameters, covariates, derived."""
        return self.parameters + self.covariates + self.derived_names

    def state_dependencies(self) -> dict[str, frozenset[str]]:
        """For each state's rate, the states (and ``t``) it depends on, through terms."""
        states = set(self.states)
        through: dict[str, frozenset[str]] = {}
        for name, _, used in self.terms:
            acc = set(used & (states | {TIME}))
            for dep in used:
                acc |= through.get(dep, frozenset())
            through[name] = frozenset(acc)
        out = {}
        for state, _, used in self.rates:
            acc = set(used & (states | {TIME}))
            for dep in used:
                acc |= through.get(dep, frozenset())
            out[state] = frozenset(acc)
        return out

    def module_of_state(self) -> dict[str, str]:
        return {s: m.name for m in self.modules for s in m.states}


def assemble(states: Sequence[str], parameters: Iterable[str],
             modules: Sequence[Module] | None = None,
             covariates: Iterable[str] | None = None) -> AssembledModel:
    """Assemble ``modules`` (default: the bundled ones) over the given states and parameters.

    Raises
    ------
    ModelError
        A module required but not assembled; a name defined twice; a state with no rate
        or two; an effect on an unknown hook; an unknown name; a cycle of definitions.
    """
    modules = tuple(bundled_modules() if modules is None else modules)
    chosen = {m.name for m in modules}
    for m in modules:
        missing = [r for r in m.requires if r not in chosen]
        if missing:
            raise ModelError(f"module {m.name!r} needs module(s) {', '.join(missing)}")
    states = tuple(states)
    parameters = tuple(parameters)
    covariates = tuple(c[0] for c in COVARIATES) if covariates is None else tuple(covariates)
    base = set(states) | set(parameters) | set(covariates)
    owner: dict[str, str] = {}

    def claim(name: str, module: Module, kind: str) -> None:
        if name in owner:
            raise ModelError(f"{module.name}: {kind} {name!r} is already defined by "
                             f"{owner[name]}")
        if name in base or name == TIME:
            raise ModelError(f"{module.name}: {kind} {name!r} is a state, parameter, "
                             "covariate or time")
        owner[name] = module.name

    hooks: dict[str, Hook] = {}
    derived: dict[str, str] = {}
    terms: dict[str, str] = {}
    for m in modules:
        for hook in m.hooks:
            claim(hook.name, m, "hook")
            hooks[hook.name] = hook
        for name, expr in m.derived:
            claim(name, m, "derived constant")
            derived[name] = expr
        for name, expr in m.terms:
            claim(name, m, "term")
            terms[name] = expr
    contributions: dict[str, list[tuple[str, str]]] = {h: [] for h in hooks}
    for m in modules:
        for hook, expr in m.effects:
            if hook not in hooks:
                raise ModelError(f"{m.name} [effects]: {hook!r} is not a hook of the "
                                 f"assembled modules; expected one of {', '.join(hooks)}")
            contributions[hook].append((m.name, expr))
    for hook, parts in contributions.items():
        spec = hooks[hook]
        if not parts:
            terms[hook] = "1" if spec.combine == "product" else "0"
        else:
            op = " * " if spec.combine == "product" else " + "
            terms[hook] = op.join(f"({expr})" for _, expr in parts)
    rates: dict[str, str] = {}
    rate_owner: dict[str, str] = {}
    for m in modules:
        for state, expr in m.rates:
            if state not in states:
                raise ModelError(f"{m.name} [rates]: {state!r} is not a state of the model")
            if state in rates:
                raise ModelError(f"{m.name} [rates]: state {state!r} already has a rate "
                                 f"from {rate_owner[state]}")
            rates[state] = expr
            rate_owner[state] = m.name
    missing = [s for s in states if s not in rates]
    if missing:
        raise ModelError(f"no module gives a rate for state(s) {', '.join(missing)}")
    derived_order = _order(derived, set(states) | set(parameters) | set(covariates),
                           "derived", owner)
    term_known = base | set(derived) | {TIME}
    term_order = _order(terms, term_known, "terms",
                        {**owner, **{h: hooks[h].module for h in hooks}})
    rate_rows = []
    known = term_known | set(terms)
    for state in states:
        used = _names(rates[state], f"{rate_owner[state]} [rates].{state}")
        unknown = sorted(used - known)
        if unknown:
            raise ModelError(f"{rate_owner[state]} [rates].{state}: unknown name(s) "
                             f"{', '.join(unknown)} in {rates[state]!r}")
        rate_rows.append((state, rates[state], frozenset(used)))
    return AssembledModel(modules=modules, states=states, parameters=parameters,
                          covariates=covariates, derived=tuple(derived_order),
                          terms=tuple(term_order), rates=tuple(rate_rows),
                          hooks=tuple(hooks.values()))


def files_digest(paths: Iterable[Path], *extra: str) -> str:
    """SHA-256 (hex) of ``extra`` strings and the files' names and contents, in the given order."""
    digest = hashlib.sha256()
    for part in extra:
        digest.update(part.encode())
    for path in (Path(p) for p in paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
