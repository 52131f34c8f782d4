"""The assembled model as an SBML Level 3 Version 2 document (COPASI, tellurium, AMICI).

:func:`to_sbml` writes one subject of a scenario, at the scenario's parameter values, as
SBML core:

* every state is a parameter with a ``rateRule`` (its ``[rates]`` expression), started
  at the state boneturnover integrates from at scenario time 0 (the end of the untreated
  history from the premenopausal steady state);
* every term and hook is a parameter with an ``assignmentRule``; model time ``t`` (hours
  since the start of the history) is ``time + t_offset_h``, so SBML time 0 is scenario
  time 0;
* the parameters and covariates the equations read are constant parameters at the
  subject's values; the derived constants are constant parameters holding the numbers
  ``derive`` computes for the subject (their expression is in the notes);
* each dose time is one event (``time >= t``) adding the boluses to their states and the
  changes of zero-order input rates to parameters ``rate_in_<state>``, which enter that
  state's rate rule;
* ``hill``, ``smooth_pos`` and ``mg_effect`` are function definitions; ``where`` is
  ``piecewise``, ``log`` is ``ln``; ``isnan`` of a covariate is decided at export (a
  premenopausal subject keeps the premenopausal branch) and the terms no rate reads any
  more are left out.

Initial values below :data:`FLUSH_BELOW` of a state's nominal size are written as 0. A
dose at time 0 fires at SBML time 0, so a simulator's first row holds the state after it,
where boneturnover's table holds the trough before it.

The output columns of boneturnover's table (``model/library/outputs.toml``) are
assignment rules ``output_<column>`` (all but the intake ratio, which is no function of
the states): the signals are rules ``signal_<name>``, their values at the premenopausal
steady state constant parameters ``base_<name>``, and the output constants (marker
centres, BMD references, the patient's premenopausal BMD) constant parameters.

Each state, parameter, term and output carries its unit and meaning in its notes. The
subject's record, steady state, history and dose events are those
:func:`boneturnover.simulate` integrates (:func:`boneturnover.population.subject_start`,
:func:`boneturnover.dosing.realize`); docs/SBML.md shows how to simulate the file and the
agreement measured.

libsbml (``python-libsbml``, the ``sbml`` extra) is imported only when a document is
built.
"""

from __future__ import annotations

import ast
import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..dosing import realize
from ..errors import BoneTurnoverError, InputError, ModelError
from ..files import atomic_write_text, check_output
from ..model.assembly import COVARIATES, TIME
from ..model.indices import HOURS_PER_YEAR, S
from ..model.outputs import OUTPUTS
from ..model.system import BoneModel, get_model
from ..population import subject_start
from ..scenario import Scenario, scenario_from_dict

__all__ = ["to_sbml", "write_sbml", "export_subject", "default_scenario", "ExportedSubject",
           "DEFAULT_PATIENT",
           "SBML_LEVEL", "SBML_VERSION", "EXPORT_RTOL", "FLUSH_BELOW"]

SBML_LEVEL, SBML_VERSION = 3, 2
#: The patient exported when no scenario is given: (age at time 0, menopause age), years,
#: untreated, bundled parameter values.
DEFAULT_PATIENT = (70.0, 51.0)
#: Tolerance of the untreated history behind the exported state at time 0 (default
#: engine): the file is meant for integrators run at tight tolerances.
EXPORT_RTOL = 1e-9
#: Initial values below this fraction of a state's nominal size are written as 0: they
#: are round-off of states that are zero at the steady state (1e-107 of the nominal size
#: after a history), and integrators that scale a state's absolute tolerance by its
#: initial value (libroadrunner) would stall on them.
FLUSH_BELOW = 1e-30
#: Cumulative states that the outputs count from scenario time 0 (reset there).
_RESET_AT_ZERO = ("urine_ca_cum_mmol",)
_SID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
#: Function definitions of the document: (id, arguments, body as an L3 formula).
_FUNCTION_DEFS = {
    "hill": (("x", "c", "g"), "x^g / (x^g + c^g)"),
    "smooth_pos": (("x", "w"), "(x + sqrt(x^2 + w^2)) / 2"),
    "mg_effect": (("x", "s_dep", "e_dep", "s_rep", "e_rep", "w"),
                  "(1 + tanh(x / w)) / 2 * piecewise(e_rep * tanh(s_rep * x / e_rep), "
                  "e_rep > 0, 0) + (1 - (1 + tanh(x / w)) / 2) * "
                  "piecewise(e_dep * tanh(s_dep * x / e_dep), e_dep > 0, 0)"),
}
_XHTML = '<body xmlns="http://www.w3.org/1999/xhtml">{}</body>'


# --------------------------------------------------------------------------------------
# the subject: record, steady state, state at time 0, dose events
@dataclass(frozen=True)
class ExportedSubject:
    """One subject of a scenario as the SBML document holds it.

    Attributes
    ----------
    name
        The scenario's name.
    record
        The parameter record (parameters, covariates, derived constants filled).
    y_base
        The premenopausal steady state (markers are relative to it).
    y0
        The state at scenario time 0 (after the untreated history; cumulative urine
        calcium reset to 0 there, as the outputs count it; values below
        :data:`FLUSH_BELOW` of the nominal size written as 0).
    offset_h
        Model time ``t`` at scenario time 0 (hours of untreated history).
    end_h
        The scenario's length (h): doses up to it are exported.
    events
        ``(scenario time h, kind, state index, value, dose target)`` per dose row; kind
        0 is a bolus, 1 a change of a zero-order input rate (amount/h).
    bmd_premenopausal_g_cm2
        The patient's premenopausal (spine, hip) BMD, None for the young-adult means.
    """

    name: str
    record: np.void
    y_base: np.ndarray
    y0: np.ndarray
    offset_h: float
    end_h: float
    events: tuple[tuple[float, int, int, float, str], ...]
    bmd_premenopausal_g_cm2: tuple[float | None, float | None] = (None, None)


def default_scenario() -> Scenario:
    """The scenario exported when none is given: :data:`DEFAULT_PATIENT`, 10 years untreated."""
    age, menopause = DEFAULT_PATIENT
    return scenario_from_dict({"patient": {"age": age, "menopause_age": menopause},
                               "years": 10}, "untreated")


def export_subject(scenario: Scenario | None = None, *,
                   model: BoneModel | None = None) -> ExportedSubject:
    """The scenario's subject at time 0: record, steady state, state, dose events.

    The record, steady state and untreated history are those of
    :func:`boneturnover.population.subject_start`, the dose rows those of
    :func:`boneturnover.dosing.realize`: what :func:`boneturnover.simulate` integrates.

    Parameters
    ----------
    scenario
        A :class:`boneturnover.Scenario` (one patient; its ``[parameters]`` apply), or
        None for :func:`default_scenario`.
    model
        The engine (default: the shared one at :data:`EXPORT_RTOL`); its tolerance is
        the history's.

    Raises
    ------
    InputError
        Not a scenario.
    SolverError
        The steady state or the untreated history cannot be solved.
    """
    scenario = default_scenario() if scenario is None else scenario
    if not isinstance(scenario, Scenario):
        raise InputError(f"scenario: {type(scenario).__name__} is not a scenario; expected a "
                         "boneturnover Scenario (bt.load_scenario, bt.scenario_from_dict)")
    model = model or get_model(EXPORT_RTOL)
    spec = model.spec
    start = subject_start(model, scenario)
    y0 = start.y0.copy()
    for name in _RESET_AT_ZERO:
        y0[getattr(S, name)] = 0.0
    y0[np.abs(y0) < FLUSH_BELOW * model.scale] = 0.0
    end_h = scenario.years * HOURS_PER_YEAR
    index = {st.name: st.index for st in spec.states}
    targets = {}
    for key, target in spec.dose_targets.items():
        targets.setdefault(index[target.state], []).append(key)
    events = tuple(sorted(
        ((t, kind, idx, value, ", ".join(targets.get(idx, [spec.states[idx].name])))
         for t, kind, idx, value in realize(list(scenario.doses), end_h, start.record, index)),
        key=lambda e: e[0]))
    pat = scenario.patient
    bmd = (pat.premenopausal_bmd_spine_g_cm2, pat.premenopausal_bmd_hip_g_cm2)
    return ExportedSubject(name=scenario.name, record=start.record, y_base=start.y_base,
                           y0=y0, offset_h=start.history_h, end_h=end_h, events=events,
                           bmd_premenopausal_g_cm2=bmd)


# --------------------------------------------------------------------------------------
# expressions to SBML L3 infix formulas
class _Formula:
    """An expression of the modules as an L3 formula, with covariate tests decided."""

    def __init__(self, covariates: dict[str, float]) -> None:
        self.covariates = covariates
        self.functions: set[str] = set()
        self.rename: dict[str, str] = {}

    def __call__(self, expr: str, where: str, rename: dict[str, str] | None = None,
                 ) -> tuple[str, set[str], set[str]]:
        """``(formula, names read, function definitions called)``; ``rename`` maps names
        of the expression to ids of the document."""
        names: set[str] = set()
        self.functions = set()
        self.rename = rename or {}
        text, const = self._node(ast.parse(expr, mode="eval").body, names, where)
        if const is not None:
            raise ModelError(f"{where}: {expr!r} is a condition, not a number")
        return text, names, self.functions

    def _node(self, node: ast.AST, names: set[str], where: str  # noqa: C901 - one dispatch
              ) -> tuple[str, bool | None]:
        def num(n: ast.AST) -> str:
            text, const = self._node(n, names, where)
            if const is not None:
                raise ModelError(f"{where}: a condition is used as a number")
            return text

        if isinstance(node, ast.Constant):
            return repr(float(node.value)), None
        if isinstance(node, ast.Name):
            name = self.rename.get(node.id, node.id)
            names.add(name)
            return name, None
        if isinstance(node, ast.UnaryOp):
            inner = num(node.operand)
            return (f"(-{inner})" if isinstance(node.op, ast.USub) else inner), None
        if isinstance(node, ast.BinOp):
            return f"({num(node.left)} {_OPS[type(node.op)]} {num(node.right)})", None
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise ModelError(f"{where}: chained comparisons cannot be exported")
            op = _CMP[type(node.ops[0])]
            return f"({num(node.left)} {op} {num(node.comparators[0])})", None
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise ModelError(f"{where}: {type(node).__name__} cannot be exported")
        fn, args = node.func.id, node.args
        if fn == "isnan":
            arg = args[0]
            if not (isinstance(arg, ast.Name) and arg.id in self.covariates):
                raise ModelError(f"{where}: isnan() of anything but a covariate "
                                 f"({', '.join(self.covariates)}) cannot be exported")
            return ("true" if math.isnan(self.covariates[arg.id]) else "false",
                    math.isnan(self.covariates[arg.id]))
        if fn == "where":
            cond, const = self._node(args[0], names, where)
            if const is not None:  # decided at export: only the branch taken
                return num(args[1] if const else args[2]), None
            return f"piecewise({num(args[1])}, {cond}, {num(args[2])})", None
        parts = [num(a) for a in args]
        if fn == "root":
            return f"exp(ln({parts[0]}) / {parts[1]})", None
        if fn == "smooth_excess":
            self.functions.add("smooth_pos")
            return f"(smooth_pos({parts[0]}, {parts[1]}) - {parts[1]} / 2)", None
        if fn in _FUNCTION_DEFS:
            self.functions.add(fn)
        elif fn == "log":
            fn = "ln"
        elif fn not in ("exp", "sqrt", "tanh", "max", "min"):
            raise ModelError(f"{where}: function {fn!r} cannot be exported")
        return f"{fn}({', '.join(parts)})", None


# --------------------------------------------------------------------------------------
# the document
def _libsbml():
    try:
        import libsbml
    except ImportError:
        raise BoneTurnoverError("SBML export needs python-libsbml; install the `sbml` extra "
                                "(pip install 'boneturnover[sbml]')") from None
    return libsbml


def _notes(*lines: str) -> str:
    return _XHTML.format("".join(f"<p>{html.escape(line)}</p>" for line in lines if line))


def _sid(name: str, what: str) -> str:
    if not _SID.match(name):
        raise ModelError(f"{what} {name!r} is not a valid SBML identifier (letters, digits "
                         "and underscores, not starting with a digit)")
    return name


def _check(status: int, libsbml, what: str) -> None:
    if status != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise ModelError(f"SBML: {what} failed ({libsbml.OperationReturnValue_toString(status)})")


def _reachable(roots: Iterable[set[str]], reads: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [n for names in roots for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(reads.get(name, ()))
    return seen


def _model_id(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return f"boneturnover_{clean}" if clean else "boneturnover"


def to_sbml(scenario: Any = None, *, model: BoneModel | None = None) -> str:  # noqa: C901
    """The scenario's subject as an SBML Level 3 Version 2 document (XML text).

    Parameters
    ----------
    scenario
        A :class:`boneturnover.Scenario` (its patient, ``[parameters]`` and doses up to
        its end), or None: :data:`DEFAULT_PATIENT` (a woman of 70 with menopause at 51),
        untreated, at the bundled values.
    model
        The engine (default: the shared one at :data:`EXPORT_RTOL`, 1e-9); the state at
        time 0 is the end of its untreated history, solved at its tolerance.

    Raises
    ------
    InputError
        Not a scenario, or a parameter override unknown or out of bounds; a model name
        that is no SBML identifier or an expression that cannot be exported
        (:class:`~boneturnover.errors.ModelError`).
    SolverError
        The steady state or the untreated history cannot be solved.
    BoneTurnoverError
        python-libsbml is not installed (the ``sbml`` extra).
    """
    libsbml = _libsbml()
    model = model or get_model(EXPORT_RTOL)
    subject = export_subject(scenario, model=model)
    spec, asm, rec = model.spec, model.assembly, subject.record
    states = {st.name: st for st in spec.states}
    params = {p.name: p for p in spec.parameters}
    covariates = {name: float(rec[name]) for name in asm.covariates}
    formula = _Formula(covariates)

    # --- the equations as formulas; keep the terms the rates read ---
    infused = sorted({spec.states[i].name for _, kind, i, _, _ in subject.events if kind == 1})
    rates: list[tuple[str, str, set[str], set[str]]] = []
    for state, expr, _ in asm.rates:
        text, used, fns = formula(expr, f"[rates].{state}")
        if state in infused:
            text, used = f"{text} + rate_in_{state}", used | {f"rate_in_{state}"}
        rates.append((state, text, used, fns))
    terms = {name: formula(expr, f"[terms].{name}") for name, expr, _ in asm.terms}
    term_exprs = {name: expr for name, expr, _ in asm.terms}
    # --- the output columns: signals, their baseline values, constants, columns ---
    obs = model.observation
    rename: dict[str, str] = {}
    signals = []
    for name, expr in obs.signals:
        signals.append((f"signal_{name}", *formula(expr, f"outputs [signals].{name}", rename)))
        rename[name] = f"signal_{name}"
    for name, _ in obs.signals:
        rename[f"base_{name}"] = f"base_{name}"
    columns = [(f"output_{name}", *formula(expr, f"outputs column {name}", rename))
               for name, expr in obs.columns]
    base = model.baseline(np.array([rec]), subject.y_base[None, :])[0]
    constants = obs.constant_values(*subject.bmd_premenopausal_g_cm2)
    outputs = signals + columns
    needed = _reachable([r[2] for r in rates] + [o[2] for o in outputs],
                        {n: u for n, (_, u, _) in terms.items()})
    kept_terms = [(name, *terms[name]) for name, _, _ in asm.terms if name in needed]
    used_functions = set().union(*(r[3] for r in rates), *(k[3] for k in kept_terms),
                                 *(o[3] for o in outputs))
    read = needed | {n for r in rates for n in r[2]} | {n for o in outputs for n in o[2]}

    doc = libsbml.SBMLDocument(SBML_LEVEL, SBML_VERSION)
    m = doc.createModel()
    pat_age = float(rec["age0_y"]) + subject.offset_h / HOURS_PER_YEAR
    meno = covariates.get("menopause_age_y", math.nan)
    _check(m.setId(_model_id(subject.name)), libsbml, "model id")
    m.setName(f"boneturnover {spec.name}: {subject.name}")
    who = (f"a woman of {pat_age:g} at time 0, "
           + ("premenopausal" if math.isnan(meno) else f"final menstrual period at {meno:g}"))
    m.setNotes(_notes(
        f"{spec.title}, assembled from the modules "
        f"{', '.join(mod.name for mod in asm.modules)}; scenario {subject.name!r}: {who}, "
        f"{len(subject.events)} dose row(s) up to {subject.end_h / 24:g} days.",
        "Time is in hours; SBML time 0 is the scenario's time 0. The states start from "
        f"the end of the untreated history ({subject.offset_h / 24:.6g} days from the "
        "premenopausal steady state); model time t = time + t_offset_h.",
        "Derived constants are numbers computed for this subject at these parameter "
        "values: changing a parameter here does not recompute them or the initial state.",
        "Clinical outputs are assignment rules output_<column> (markers, BMD, "
        "concentrations, as boneturnover's table; not the intake ratio), built from the "
        "signals signal_<name>, their premenopausal values base_<name> and constants."))
    ud = m.createUnitDefinition()
    ud.setId("hour")
    unit = ud.createUnit()
    unit.setKind(libsbml.UNIT_KIND_SECOND)
    unit.setExponent(1)
    unit.setScale(0)
    unit.setMultiplier(3600.0)
    m.setTimeUnits("hour")

    for fid in sorted(used_functions):
        args, body = _FUNCTION_DEFS[fid]
        fd = m.createFunctionDefinition()
        _check(fd.setId(fid), libsbml, f"function {fid}")
        math_ = libsbml.parseL3Formula(f"lambda({', '.join(args)}, {body})")
        if math_ is None:
            raise ModelError(f"SBML: function {fid}: {libsbml.getLastParseL3Error()}")
        fd.setMath(math_)

    taken = set(used_functions)

    def parameter(pid: str, value: float | None, constant: bool, *notes: str) -> None:
        if pid in taken:
            raise ModelError(f"SBML: the name {pid!r} is used twice in the document (a "
                             "model name equal to a function or an added parameter); "
                             "expected distinct names")
        taken.add(pid)
        p = m.createParameter()
        _check(p.setId(_sid(pid, "name")), libsbml, f"parameter {pid}")
        p.setConstant(constant)
        if value is not None:
            if not math.isfinite(value):
                raise ModelError(f"SBML: {pid} = {value!r} is read by the equations but is not "
                                 "a finite number for this subject")
            p.setValue(float(value))
        if notes:
            p.setNotes(_notes(*notes))

    for st in spec.states:
        nominal = float(model.scale[st.index])
        parameter(st.name, float(subject.y0[st.index]), False,
                  f"state; unit {st.unit}", st.meaning,
                  f"symbol {st.symbol}, source {st.source}" if st.symbol else
                  f"source {st.source}",
                  f"nominal size {nominal:.6g} {st.unit}: absolute tolerance about "
                  "1e-3 x relative tolerance x this")
    for name in infused:
        parameter(f"rate_in_{name}", 0.0, False,
                  f"zero-order input into {name} (unit {states[name].unit}/h), set by the "
                  "dose events")
    parameter("t_offset_h", subject.offset_h, True,
              "unit h; model time t at SBML time 0: the length of the untreated history")
    parameter(TIME, None, False, "unit h; model time since the start of the untreated "
              "history (the equations' t)")
    for name in asm.parameters:
        if name in read:
            p = params[name]
            parameter(name, float(rec[name]), True, f"parameter; unit {p.unit}", p.meaning,
                      f"source {p.source}" + (f" (symbol {p.symbol})" if p.symbol else ""))
    cov_meaning = {c[0]: (c[2], c[3]) for c in COVARIATES}
    for name in asm.covariates:
        if name in read:
            unit_, meaning = cov_meaning.get(name, ("", ""))
            parameter(name, covariates[name], True, f"covariate; unit {unit_}", meaning)
    for name, expr, _ in asm.derived:
        if name in read:
            parameter(name, float(rec[name]), True,
                      f"derived constant, computed at export: {expr}",
                      "(a state's name there means its reference value)")
    for name, _, _, _ in kept_terms:
        parameter(name, None, False, "term", f"= {term_exprs[name]}")
    for k, (name, _) in enumerate(obs.signals):
        parameter(f"signal_{name}", None, False, f"output signal = {obs.signals[k][1]}")
        parameter(f"base_{name}", float(base[k]), True,
                  f"signal {name} at the premenopausal steady state (oestrogen 1, no drug)")
    for name, value in zip(obs.constants, constants, strict=True):
        parameter(name, float(value), True, "output constant")
    units = {o.name: (o.unit, o.meaning) for o in OUTPUTS}
    for name, expr in obs.columns:
        unit_, meaning = units.get(name, ("", ""))
        parameter(f"output_{name}", None, False, f"output; unit {unit_}", meaning,
                  f"= {expr}")

    def math_of(text: str, where: str):
        ast_ = libsbml.parseL3FormulaWithModel(text, m)
        if ast_ is None:
            raise ModelError(f"SBML: {where}: {libsbml.getLastParseL3Error()} in {text!r}")
        return ast_

    rule = m.createAssignmentRule()
    rule.setVariable(TIME)
    rule.setMath(math_of("time + t_offset_h", TIME))
    for name, text, _, _ in kept_terms:
        rule = m.createAssignmentRule()
        rule.setVariable(name)
        rule.setMath(math_of(text, f"[terms].{name}"))
    for name, text, _, _ in outputs:
        rule = m.createAssignmentRule()
        rule.setVariable(name)
        rule.setMath(math_of(text, name))
    for state, text, _, _ in rates:
        rule = m.createRateRule()
        rule.setVariable(state)
        rule.setMath(math_of(text, f"[rates].{state}"))

    # --- doses: one event per time, every row at that time in it ---
    by_time: dict[float, list[tuple[int, int, float, str]]] = {}
    for t, kind, idx, value, target in subject.events:
        by_time.setdefault(t, []).append((kind, idx, value, target))
    for k, (t, rows) in enumerate(sorted(by_time.items()), start=1):
        ev = m.createEvent()
        ev.setId(f"dose_{k}")
        targets = sorted({r[3] for r in rows})
        ev.setName(f"{', '.join(targets)} at day {t / 24:.6g}")
        ev.setUseValuesFromTriggerTime(True)
        trig = ev.createTrigger()
        trig.setInitialValue(False)
        trig.setPersistent(True)
        trig.setMath(math_of(f"time >= {float(t)!r}", f"event {k}"))
        total: dict[str, float] = {}
        for kind, idx, value, _ in rows:
            var = spec.states[idx].name if kind == 0 else f"rate_in_{spec.states[idx].name}"
            total[var] = total.get(var, 0.0) + value
        for var, value in total.items():
            ea = ev.createEventAssignment()
            ea.setVariable(var)
            ea.setMath(math_of(f"{var} + {value!r}", f"event {k}"))
    text = libsbml.writeSBMLToString(doc)
    if not text:
        raise ModelError("SBML: the document could not be written")
    return text


def write_sbml(path: str | Path, scenario: Any = None, *, model: BoneModel | None = None,
               force: bool = False, inputs: Sequence[str | Path] = (),
               what: str = "--out") -> Path:
    """Write :func:`to_sbml` to ``path`` atomically; return the path.

    The path is checked first (:func:`boneturnover.files.check_output`): its folder must
    exist, it may not be one of ``inputs``, and an existing file is replaced only with
    ``force``.

    Raises
    ------
    OutputPathError
        The path cannot or may not be written (before any computation).
    """
    out = check_output(path, inputs=inputs, force=force, what=what)
    atomic_write_text(out, to_sbml(scenario, model=model))
    return out
