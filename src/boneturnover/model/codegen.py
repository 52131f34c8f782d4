"""Compiled code generated from an assembled model: derived constants, rates, Jacobian.

:func:`generate` turns an :class:`~boneturnover.model.assembly.AssembledModel` into the
source of a Python module of numba functions:

``derive(p, y0)``
    fills the derived fields of the record ``p`` from its parameters, covariates and the
    reference state ``y0``;
``rhs(t, y, p, dy)``
    the rates (state unit per hour);
``jac(t, y, p, J, ft)``
    the analytic Jacobian ``J[i, j] = d rate_i / d y_j`` at the structural entries only
    (the others are never written) and ``ft[i] = d rate_i / dt``;
``signals(t, y, p, s)``
    the quantities the output columns are built from
    (:class:`~boneturnover.model.outputs.Observation`), for the subject's baseline;
``observe(t, y, p, sb, c, o)``
    every compiled output column at one output time, from the state, the baseline
    signals ``sb`` and the output constants ``c`` (only the terms they need are computed);

and the constants ``PATTERN`` (the structural sparsity, with the diagonal), ``STATES``,
``DERIVED``, ``SIGNALS``, ``COLUMNS`` and ``CONSTANTS``. The Jacobian is forward-mode
differentiation through the terms: each
term's partial derivatives with respect to the symbols it reads are taken symbolically
(sympy), then chained in the terms' order, so no expression is expanded into its
users. Two rewrites make the code cheaper without changing what it computes:
subexpressions of parameters and derived constants alone (``c**g`` of every Hill
function, products of constant factors) are computed once per subject in ``derive``
into record fields ``hoisted_<n>`` (``HOISTED``), and the Jacobian's partial
derivatives share their common subexpressions (sympy's ``cse``); neither looks inside a
``where``, whose untaken branch is never evaluated. :func:`load` writes the module into
the cache folder under a hash of the modules, the model specification and this
generator, and imports it: an edited equation gives a new file, never stale machine code.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import ModelError
from ..solve.binding import cache_dir, writable_folder
from .assembly import TIME, AssembledModel, files_digest

if TYPE_CHECKING:
    from .outputs import Observation

__all__ = ["generate", "load", "module_name"]

_PREFIX = "boneturnover_model_"
_GENERATOR_VERSION = "5"
#: Record fields changed between ``derive`` and a solve (the steady state is taken
#: premenopausal and at the reference magnesium intake): never folded into constants.
VARIED_AFTER_DERIVE = frozenset({"menopause_age_y", "age0_y", "mg_intake_mg_day"})
#: Names of the record fields that hold constant subexpressions computed in ``derive``.
HOISTED_PREFIX = "hoisted_"


# --------------------------------------------------------------------------------------
# sympy side (imported only when a module has to be generated)
def _sympy_functions():  # noqa: C901 - the function table, defined once
    import sympy as sp

    class Hill(sp.Function):
        """x**g / (x**g + c**g), with derivatives that stay finite at x = 0 (g >= 1)."""

        nargs = 3

        def fdiff(self, argindex=1):
            x, c, g = self.args
            den = (x**g + c**g) ** 2
            if argindex == 1:
                return g * x ** (g - 1) * c**g / den
            if argindex == 2:
                return -g * c ** (g - 1) * x**g / den
            h = Hill(x, c, g)
            return h * (1 - h) * (sp.log(x) - sp.log(c))

    class HillK(sp.Function):
        """x**g / (x**g + k) with k = c**g computed once per subject (printing only)."""

        nargs = 3

    class PowX(sp.Function):
        """``b ** e`` kept whole (sympy would merge ``b**g * b**-1`` into ``b**(g - 1)``), so
        that the power is computed once and shared (printing only)."""

        nargs = 2

    class LogB(sp.Function):
        """``log(b)`` of a power's base where ``b > 0`` (else 0), computed once for all the
        powers of one base (printing only)."""

        nargs = 1

    class PowL(sp.Function):
        """``b ** e`` as ``exp(e * log(b))`` from the shared ``LogB(b)`` where ``b > 0``, else
        ``b ** e`` itself (printing only)."""

        nargs = 3

    class Where(sp.Function):
        """``a`` where ``cond`` holds, else ``b``; differentiated branch by branch."""

        nargs = 3

        @classmethod
        def eval(cls, cond, a, b):
            if cond is sp.true:
                return a
            if cond is sp.false:
                return b
            if a == b:
                return a
            return None

        def _eval_derivative(self, s):
            cond, a, b = self.args
            return Where(cond, sp.diff(a, s), sp.diff(b, s))

    class IsNan(sp.Function):
        """Whether ``x`` is NaN (used on covariates: its derivative is 0)."""

        nargs = 1

        def fdiff(self, argindex=1):
            return sp.Integer(0)

    def smooth_pos(x, w):
        return (x + sp.sqrt(x**2 + w**2)) / 2

    def smooth_excess(x, w):
        return smooth_pos(x, w) - w / 2

    def root(x, g):
        return sp.exp(sp.log(x) / g)

    def mg_effect(x, s_dep, e_dep, s_rep, e_rep, w):
        def side(s, e):
            if e == 0 or s == 0:
                return sp.Integer(0)
            return Where(e > 0, e * sp.tanh(s * x / e), 0)

        sig = (1 + sp.tanh(x / w)) / 2
        return sig * side(s_rep, e_rep) + (1 - sig) * side(s_dep, e_dep)

    table = {
        "hill": Hill, "where": Where, "isnan": IsNan, "smooth_pos": smooth_pos,
        "smooth_excess": smooth_excess, "root": root, "mg_effect": mg_effect,
        "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "max": sp.Max,
        "min": sp.Min,
    }
    Hill.K = HillK
    Hill.PowX = PowX
    Hill.LogB = LogB
    Hill.PowL = PowL
    return sp, table, Hill, Where, IsNan


def _printer(sp, names: dict[str, str], Hill, Where, IsNan):  # noqa: N803 - classes
    from sympy.printing.pycode import PythonCodePrinter

    class Printer(PythonCodePrinter):
        def __init__(self):
            super().__init__({"fully_qualified_modules": True, "strict": False})

        def _print_Symbol(self, expr):
            return names[expr.name]

        def _print_Hill(self, expr):
            x, c, g = (self._print(a) for a in expr.args)
            return f"_hill({x}, {c}, {g})"

        def _print_PowX(self, expr):
            b, e = expr.args
            return f"({self.parenthesize(b, 1000)} ** {self.parenthesize(e, 1000)})"

        def _print_LogB(self, expr):
            return f"_lg({self._print(expr.args[0])})"

        def _print_PowL(self, expr):
            b, lb, e = (self._print(a) for a in expr.args)
            return f"_pw({b}, {lb}, {e})"

        def _print_HillK(self, expr):
            x, g, k = (self._print(a) for a in expr.args)
            return f"_hillk({x}, {g}, {k})"

        def _print_Where(self, expr):
            c, a, b = (self._print(a) for a in expr.args)
            return f"(({a}) if ({c}) else ({b}))"

        def _print_IsNan(self, expr):
            return f"math.isnan({self._print(expr.args[0])})"

        def _print_Heaviside(self, expr):
            # the right derivative at 0 (states such as drug amounts start at 0 and rise)
            return f"(1.0 if ({self._print(expr.args[0])}) >= 0.0 else 0.0)"

        def _print_Max(self, expr):
            args = [self._print(a) for a in expr.args]
            out = args[0]
            for a in args[1:]:
                out = f"max({out}, {a})"
            return out

        def _print_Min(self, expr):
            args = [self._print(a) for a in expr.args]
            out = args[0]
            for a in args[1:]:
                out = f"min({out}, {a})"
            return out

        def _print_Integer(self, expr):
            return f"{int(expr)}.0"

        def _print_Rational(self, expr):
            return repr(float(expr))

        def _print_Float(self, expr):
            return repr(float(expr))

        def _print_Pow(self, expr, rational=False):
            base, exp = expr.args
            if exp == -1:
                return f"(1.0 / {self.parenthesize(base, 1000)})"
            if exp == sp.Rational(1, 2):
                return f"math.sqrt({self._print(base)})"
            if exp == 2:
                b = self.parenthesize(base, 1000)
                return f"({b} * {b})"
            return f"({self.parenthesize(base, 1000)} ** {self.parenthesize(exp, 1000)})"

    return Printer()


def _lines(model: AssembledModel, observation: Observation | None = None):  # noqa: C901
    sp, fns, Hill, Where, IsNan = _sympy_functions()
    idx = {s: i for i, s in enumerate(model.states)}
    record = set(model.parameters) | set(model.covariates) | set(model.derived_names)
    term_names = [name for name, _, _ in model.terms]
    var = {name: f"v_{name}" for name in term_names}

    def symbols(in_derive: bool) -> dict[str, str]:
        out = {}
        for s, i in idx.items():
            out[s] = f"y0[{i}]" if in_derive else f"y[{i}]"
        for r in record:
            out[r] = f"p.{r}"
        out.update(var)
        out[TIME] = "t"
        return out

    cache: dict[str, object] = {}

    def sym(name: str):
        if name not in cache:
            cache[name] = sp.Symbol(name, real=True)
        return cache[name]

    def parse(expr: str, used: frozenset[str]):
        local = {n: sym(n) for n in used}
        local.update(fns)
        return sp.sympify(expr, locals=local, rational=False)

    # --- derive ---
    dnames = symbols(True)
    dprint = _printer(sp, dnames, Hill, Where, IsNan)
    derive = [f"    p.{name} = {dprint.doprint(parse(expr, used))}"
              for name, expr, used in model.derived]
    # --- rhs ---
    names = symbols(False)
    pr = _printer(sp, names, Hill, Where, IsNan)
    constant = {n for n in set(model.parameters) | set(model.derived_names)
                if n not in VARIED_AFTER_DERIVE}
    hoisted: dict[object, object] = {}

    def hoist(e):
        """``e`` with every subexpression of constant fields replaced by a record field
        computed once in ``derive`` (never inside ``where``: an untaken branch is not
        evaluated)."""
        if e.is_Atom or isinstance(e, Where):
            return e
        free = e.free_symbols
        if free and all(f.name in constant for f in free):
            if e not in hoisted:
                name = f"{HOISTED_PREFIX}{len(hoisted) + 1}"
                hoisted[e] = sym(name)
                names[name] = dnames[name] = f"p.{name}"
            return hoisted[e]
        if isinstance(e, sp.Add | sp.Mul):
            const = [a for a in e.args
                     if a.free_symbols and all(f.name in constant for f in a.free_symbols)]
            if len(const) > 1:  # the constant factors (or addends) as one field
                rest = [hoist(a) for a in e.args if a not in const]
                return e.func(hoist(e.func(*const)), *rest, evaluate=False)
            return e.func(*[hoist(a) for a in e.args], evaluate=False)
        return e.func(*[hoist(a) for a in e.args])

    def final(e):
        """The expression as compiled: Hill functions and symbolic powers as whole powers
        (shared by the elimination of common subexpressions), constants hoisted."""
        e = e.replace(lambda x: isinstance(x, Hill),
                      lambda x: Hill.PowX(x.args[0], x.args[2]) / (
                          Hill.PowX(x.args[0], x.args[2]) + x.args[1] ** x.args[2]))
        # (``b**(g - 1)`` stays whole: ``b**g / b`` would divide by a state that is 0)
        e = e.replace(lambda x: x.is_Pow and not x.exp.is_Number,
                      lambda x: Hill.PowX(x.base, x.exp))
        e = hoist(e)
        # a power of a base that varies: exp of a logarithm shared by the base's powers
        # (one exp and a shared log cost about 40 % of a pow)
        return e.replace(lambda x: isinstance(x, Hill.PowX),
                         lambda x: Hill.PowL(x.args[0], Hill.LogB(x.args[0]), x.args[1]))

    terms_parsed = [(name, parse(expr, used), used) for name, expr, used in model.terms]
    rates_parsed = [(state, parse(expr, used), used) for state, expr, used in model.rates]
    term_final = [final(e) for _, e, _ in terms_parsed]
    plain_terms = [f"    {var[name]} = {pr.doprint(e)}"
                   for (name, _, _), e in zip(terms_parsed, term_final, strict=True)]
    rhs = _shared_lines(sp, Where, pr, names, var,
                        [(var[name], e) for (name, _, _), e in zip(terms_parsed, term_final,
                                                                  strict=True)],
                        [(f"dy[{idx[state]}]", final(e)) for state, e, _ in rates_parsed], "r")
    # --- jac: forward mode through the terms ---
    states = set(idx)
    wrt = states | {TIME}
    dvars: dict[str, dict[str, str]] = {}  # term -> {state or t: code of its derivative}
    jac: list[str] = []
    counter = [0]
    qexprs: list[object] = []  # the partial derivatives, printed after elimination

    def chain(name: str, e, used: frozenset[str]) -> tuple[list[str], dict[str, str]]:
        out: list[str] = []
        parts: dict[str, list[str]] = {}
        for dep in sorted(used):
            if dep in wrt:
                inner = {dep: None}
            elif dep in dvars:
                inner = dvars[dep]
                if not inner:
                    continue
            else:
                continue
            d = sp.diff(e, sym(dep))
            if d == 0:
                continue
            counter[0] += 1
            pname = f"q{counter[0]}"
            qexprs.append(final(d))
            out.append(f"{_Q_MARK}{len(qexprs) - 1}")
            for s, code in inner.items():
                parts.setdefault(s, []).append(pname if code is None else f"_mul({pname}, {code})")
        return out, {s: " + ".join(terms) for s, terms in parts.items()}

    for name, e, used in terms_parsed:
        body, derivs = chain(name, e, used)
        jac += body
        dvars[name] = {}
        for s, code in sorted(derivs.items()):
            v = f"d_{name}__{s}"
            jac.append(f"    {v} = {code}")
            dvars[name][s] = v
    pattern = [[i == j for j in range(len(model.states))] for i in range(len(model.states))]
    jac.append("    for i in range(ft.shape[0]):")
    jac.append("        ft[i] = 0.0")
    for state, e, used in rates_parsed:
        i = idx[state]
        body, derivs = chain(state, e, used)
        jac += body
        for s, code in sorted(derivs.items()):
            if s == TIME:
                jac.append(f"    ft[{i}] = {code}")
            else:
                jac.append(f"    J[{i}, {idx[s]}] = {code}")
                pattern[i][idx[s]] = True
    shared = _shared_lines(sp, Where, pr, names, var,
                           [(var[name], e) for (name, _, _), e in zip(terms_parsed, term_final,
                                                                     strict=True)],
                           [(f"q{k + 1}", e) for k, e in enumerate(qexprs)], "j")
    # the terms and every partial derivative first (the q's read only terms, states and
    # constants), then the chain rule in the terms' order
    jac = shared + [line for line in jac if not line.startswith(_Q_MARK)]
    signals, observe = ([], []) if observation is None else _observe_lines(
        model, observation, terms_parsed, plain_terms, parse, sp, Hill, Where,
        IsNan, symbols(False))
    derive += [f"    p.{k} = {dprint.doprint(e)}" for e, k in hoisted.items()]
    return derive, rhs, jac, pattern, signals, observe, tuple(str(k) for k in hoisted.values())


_Q_MARK = "#q:"


def _shared_lines(sp, Where, pr, names: dict[str, str], var: dict[str, str],  # noqa: N803
                  terms: list, results: list, prefix: str) -> list[str]:
    """Code of the terms, then of the results, with their common subexpressions computed
    once (sympy's ``cse``), each as soon as the terms it reads are computed.

    ``terms`` and ``results`` are ``(target code, expression)``; a term's target is its
    variable, which later expressions read as a symbol. ``where`` is kept whole: no
    subexpression of an untaken branch is ever evaluated.
    """
    term_vars = set(var.values())
    branches: dict[object, object] = {}

    def hide(e):
        if isinstance(e, Where):
            if e not in branches:
                branches[e] = sp.Symbol(f"w{prefix}_{len(branches) + 1}", real=True)
            return branches[e]
        if e.is_Atom:
            return e
        return e.func(*[hide(a) for a in e.args], evaluate=False) if isinstance(
            e, sp.Add | sp.Mul) else e.func(*[hide(a) for a in e.args])

    exprs = [hide(e) for _, e in terms] + [hide(e) for _, e in results]
    reads: dict[str, set[str]] = {}  # placeholder or temporary -> term variables it reads

    def term_reads(e) -> set[str]:
        out = set()
        for f in e.free_symbols:
            code = names.get(f.name)
            if code in term_vars:
                out.add(code)
            elif f.name in reads:
                out |= reads[f.name]
        return out

    for e, w in branches.items():
        names[w.name] = f"({pr.doprint(e)})"
        reads[w.name] = term_reads(e)
    temps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(f"c{prefix}_", real=True),
                            order="none")
    pending = []
    for t, e in temps:
        names[t.name] = t.name
        reads[t.name] = term_reads(e)
        pending.append((t.name, e))
    done: set[str] = set()
    lines: list[str] = []

    def flush() -> None:
        for item in list(pending):
            if reads[item[0]] <= done:
                lines.append(f"    {item[0]} = {pr.doprint(item[1])}")
                pending.remove(item)

    for (target, _), e in zip(terms, reduced[:len(terms)], strict=True):
        flush()
        lines.append(f"    {target} = {pr.doprint(e)}")
        done.add(target)
    flush()
    assert not pending, "a shared subexpression reads a term that is never computed"
    for (target, _), e in zip(results, reduced[len(terms):], strict=True):
        lines.append(f"    {target} = {pr.doprint(e)}")
    return lines


def _needed(names: set[str], terms_parsed) -> list[int]:
    """Indices of the terms (in order) that ``names`` read, directly or through terms."""
    used = {name: u for name, _, u in terms_parsed}
    want: set[str] = set()
    stack = [n for n in names if n in used]
    while stack:
        name = stack.pop()
        if name in want:
            continue
        want.add(name)
        stack.extend(d for d in used[name] if d in used)
    return [k for k, (name, _, _) in enumerate(terms_parsed) if name in want]


def _observe_lines(model, observation, terms_parsed, term_lines, parse, sp, Hill, Where,  # noqa: N803
                   IsNan, base_symbols):
    """Lines of ``signals`` and ``observe``: the terms they need, then their expressions."""
    from .assembly import _names

    sig_names = [n for n, _ in observation.signals]
    known = set(base_symbols)
    sym_sig = dict(base_symbols)
    sig_lines, used_all = [], set()
    for name, expr in observation.signals:
        used = _names(expr, f"outputs.toml [signals].{name}")
        unknown = sorted(used - known)
        if unknown:
            raise ModelError(f"outputs.toml [signals].{name}: unknown name(s) "
                             f"{', '.join(unknown)} in {expr!r}")
        used_all |= used
        pr = _printer(sp, sym_sig, Hill, Where, IsNan)
        sig_lines.append(f"    g_{name} = {pr.doprint(parse(expr, frozenset(used)))}")
        sym_sig[name] = f"g_{name}"
        known.add(name)
    sym_out = dict(sym_sig)
    for k, name in enumerate(sig_names):
        sym_out[f"base_{name}"] = f"sb[{k}]"
    for k, name in enumerate(observation.constants):
        if name in sym_out:
            raise ModelError(f"outputs.toml [constants]: {name!r} is already a model name")
        sym_out[name] = f"c[{k}]"
    col_lines = []
    pr = _printer(sp, sym_out, Hill, Where, IsNan)
    for k, (name, expr) in enumerate(observation.columns):
        used = _names(expr, f"outputs.toml column {name}")
        unknown = sorted(used - set(sym_out))
        if unknown:
            raise ModelError(f"outputs.toml column {name}: unknown name(s) "
                             f"{', '.join(unknown)} in {expr!r}")
        used_all |= used
        col_lines.append(f"    o[{k}] = {pr.doprint(parse(expr, frozenset(used)))}")
    terms = [term_lines[k] for k in _needed(used_all, terms_parsed)]
    signals = terms + sig_lines + [f"    s[{k}] = g_{n}" for k, n in enumerate(sig_names)]
    return signals, terms + sig_lines + col_lines


_HEADER = '''"""Generated by boneturnover.model.codegen from the assembled model; do not edit.

Modules: {modules}
"""
import math

import numba as nb
import numpy as np

STATES = {states!r}
DERIVED = {derived!r}
HOISTED = {hoisted!r}
SIGNALS = {signal_names!r}
COLUMNS = {columns!r}
CONSTANTS = {constants!r}
PATTERN = np.array({pattern!r}, dtype=np.bool_)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _hill(x, c, g):
    xg = x ** g
    return xg / (xg + c ** g)


@nb.njit(cache=True, inline="always", error_model="numpy")
def _hillk(x, g, k):
    xg = x ** g
    return xg / (xg + k)


@nb.njit(cache=True, error_model="numpy")
def _lg(b):
    return math.log(b) if b > 0.0 else 0.0


@nb.njit(cache=True, error_model="numpy")
def _pw(b, lb, g):
    # b ** g from lb = log(b), shared by every power of b; b ** g itself where b <= 0
    return math.exp(g * lb) if b > 0.0 else b ** g


@nb.njit(cache=True, error_model="numpy")
def _mul(q, d):
    # a zero partial stops the chain, even where the inner derivative is not finite (an
    # untaken branch of `where`, evaluated at NaN covariates). Inlined by LLVM: numba's
    # own inlining of its hundreds of call sites in `jac` took a minute to compile
    return 0.0 if q == 0.0 else q * d


@nb.njit(cache=True, error_model="numpy")
def derive(p, y0):
{derive}


@nb.njit(cache=True, error_model="numpy")
def rhs(t, y, p, dy):
{rhs}


@nb.njit(cache=True, error_model="numpy")
def jac(t, y, p, J, ft):
{jac}


@nb.njit(cache=True, error_model="numpy")
def signals(t, y, p, s):
{signals}


@nb.njit(cache=True, error_model="numpy")
def observe(t, y, p, sb, c, o):
{observe}
'''


def generate(model: AssembledModel, observation: Observation | None = None) -> str:
    """Source text of the compiled module for ``model`` (see the module docstring)."""
    derive, rhs, jac, pattern, signals, observe, hoisted = _lines(model, observation)
    pat = [[int(v) for v in row] for row in pattern]
    return _HEADER.format(
        modules=", ".join(m.name for m in model.modules), states=model.states,
        derived=model.derived_names, pattern=pat, derive="\n".join(derive) or "    pass",
        rhs="\n".join(rhs), jac="\n".join(jac), signals="\n".join(signals) or "    pass",
        observe="\n".join(observe) or "    pass", hoisted=hoisted,
        signal_names=() if observation is None else tuple(n for n, _ in observation.signals),
        columns=() if observation is None else observation.column_names,
        constants=() if observation is None else observation.constants)


def module_name(model: AssembledModel, spec_files: list[Path],
                observation: Observation | None = None) -> str:
    """The generated module's name: a hash of the modules, the spec, the outputs' expressions
    and the generator."""
    here = Path(__file__).parent
    files = [m.path for m in model.modules if m.path is not None] + list(spec_files) + [
        here / "codegen.py", here / "assembly.py"]
    import numba

    digest = files_digest(files, _GENERATOR_VERSION, numba.__version__, sys.version,
                          ",".join(m.name for m in model.modules),
                          "" if observation is None else observation.text())
    return f"{_PREFIX}{digest[:20]}"


def load(model: AssembledModel, spec_files: list[Path],
         observation: Observation | None = None) -> ModuleType:
    """Import the generated module for ``model``, generating it first if not cached."""
    name = module_name(model, spec_files, observation)
    if name in sys.modules:
        return sys.modules[name]
    folder = writable_folder(cache_dir())
    path = folder / f"{name}.py"
    if not path.is_file():
        source = generate(model, observation)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)  # atomic: a concurrent process sees no file or the whole one
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
