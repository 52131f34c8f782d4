"""Integrator candidates on the model's own generated equations, side by side.

Every candidate integrates the same generated right-hand side (``generated.rhs``) and,
where it takes one, the same analytic Jacobian (``generated.jac``) of the bundled model
(67 states), from the same start, through the same doses:

* case ``denosumab``: a woman aged 70, menopause at 51, 60 mg denosumab every 6 months
  for 10 years (20 doses);
* case ``teriparatide``: the same woman, 20 ug teriparatide daily for 10 years (3,653
  doses: the regimen's own schedule over the whole run).

The common start is the state at scenario time 0, after the untreated history from the
premenopausal steady state (solved once by the project's RODAS4, as ``simulate`` does),
so only the 10 treated years are integrated, with outputs every day. Between doses each
candidate integrates segment by segment; a bolus is added to its state at the dose time
and a zero-order input (none in these cases) goes into an input vector added to dy/dt,
as ``solve/rodas.py`` does. An output at a dose time is the state just before the dose.

Candidates (a missing library is reported as "not installed"):

* the project's compiled Rosenbrock solver (``BoneModel.solve``) with its RODAS4, and
  compiled with each other method of ``solve/tableaux.py`` (``BoneModel(method=...)``:
  Rodas4P2, Rodas5P, ROS4, RODAS3, ROS3);
* CVODE BDF (SUNDIALS, through scikit-sundae), numba rhs and analytic Jacobian behind
  Python callbacks, dense and sparse (SuperLU_MT) linear solvers;
* LSODA through numbalsoda: a numba ``cfunc`` rhs, the segment loop compiled too; no
  Jacobian interface (finite differences inside LSODA); numbalsoda takes one scalar
  atol, so it integrates the states scaled by their nominal sizes, which makes its
  scalar atol the project's per-state one;
* SciPy ``solve_ivp`` BDF and LSODA with the numba rhs and analytic Jacobian.

Every candidate uses the project's absolute tolerance rule, atol = 1e-3 * rtol * nominal
state size. For each: warm wall time (minimum of 3 runs after a warm-up run), steps and
rhs/Jacobian evaluations where the library reports them, and the error against a RODAS4
solve at rtol 1e-10: the largest relative difference of CTX-I, P1NP and spine BMD over
every daily output ("err out"), and over all states relative to max(|y|, 1e-3 * nominal)
("err y"). Each library is tried at rtol 1e-4, 3e-5, 1e-5 (then 3e-6, 1e-6) until its
output error is within 1e-4; the fastest setting that meets 1e-4 is marked ``*``. A run
whose 10-year time would pass 60 s is measured over the first year and scaled by 10
(marked ``1y x10``).
"ratio" is the time over RODAS4's at its default rtol (3e-5) on the same case.

Run (one core is enough; numba threads do not matter for one subject)::

    BONETURNOVER_CACHE_DIR=... python bench/bench_integrators.py          # about 10 min
    python bench/bench_integrators.py --quick   # 1 year per case, one timed run

Libraries: ``pip install scikit-sundae numbalsoda`` (numbalsoda builds from source and
needs a Fortran compiler, e.g. ``apt-get install gfortran``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numba as nb
import numpy as np

import boneturnover as bt
from boneturnover.dosing import realize
from boneturnover.model.indices import HOURS_PER_YEAR
from boneturnover.model.system import BoneModel, EventTable
from boneturnover.population import history_start_age, output_times_h
from boneturnover.solve.tableaux import DEFAULT_METHOD

MARKERS = ("ctx_ng_l", "p1np_ug_l", "bmd_spine_g_cm2")
TARGET_ERR = 1e-4  #: output error a setting must meet
TIME_BOX_S = 60.0  #: a longer 10-year run is measured over one year and scaled
RTOLS = (1e-4, 3e-5, 1e-5, 3e-6, 1e-6)  #: tried in order until the output error meets 1e-4
REF_RTOL = 1e-10
PATIENT = {"age": 70, "menopause_age": 51}


# --------------------------------------------------------------------------------------
# the cases
@dataclass(frozen=True)
class Case:
    """One subject, from scenario time 0 (model time ``t0``), with its doses."""

    name: str
    rec: np.ndarray  # one parameter record (array of length 1)
    y_base: np.ndarray  # premenopausal steady state (markers are relative to it)
    y_start: np.ndarray  # state at scenario time 0
    t0: float  # model time (h) of scenario time 0
    t_out: np.ndarray  # daily output times, model hours
    ev_t: np.ndarray
    ev_kind: np.ndarray
    ev_state: np.ndarray
    ev_value: np.ndarray
    outputs: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
    years: float

    def first_years(self, years: float) -> Case:
        """The same case over its first ``years`` years."""
        end = self.t0 + years * HOURS_PER_YEAR
        keep = self.ev_t < end
        return replace(self, t_out=self.t_out[self.t_out <= end + 1e-9], ev_t=self.ev_t[keep],
                       ev_kind=self.ev_kind[keep], ev_state=self.ev_state[keep],
                       ev_value=self.ev_value[keep], years=years)

    def events(self) -> EventTable:
        return EventTable(self.ev_t, self.ev_kind, self.ev_state, self.ev_value,
                          np.array([0, self.ev_t.shape[0]], np.int64))


def _output_function(model: BoneModel, pat, rec: np.ndarray, y_base: np.ndarray):
    """``f(y, t_h) -> {output: column}`` for states y (times, states) of this subject."""
    constants = model.observation.constant_values(pat.premenopausal_bmd_spine_g_cm2,
                                                  pat.premenopausal_bmd_hip_g_cm2)
    return lambda y, t: model.outputs_of_states(y, y_base, rec[0], constants, t)


def build_case(model: BoneModel, regimen: str, years: float) -> Case:
    """The scenario's subject as ``population.solve_chunk`` builds it, at scenario time 0."""
    sc = bt.scenario_from_dict({"patient": dict(PATIENT), "years": years, "regimen": regimen},
                               regimen)
    pat = sc.patient
    rec = model.records(1)
    for key, value in sc.parameters.items():
        rec[key] = value
    start_age = history_start_age(pat.age_y, pat.menopause_age_y,
                                  float(rec["est_ref_age_offset_y"][0]))
    rec["age0_y"] = start_age
    rec["menopause_age_y"] = math.nan if pat.menopause_age_y is None else pat.menopause_age_y
    hist_h = (pat.age_y - start_age) * HOURS_PER_YEAR
    y0s, status = model.prepare(rec)
    assert status[0] == 0, "steady state failed"
    # the untreated history at the reference magnesium intake (as population._history)
    rec_hist = rec.copy()
    rec_hist["mg_intake_mg_day"] = rec_hist["mg_intake_ref_mg_day"]
    yh, st, _ = model.solve(rec_hist, y0s, np.array([hist_h]), max_steps=200_000)
    assert st[0] == 0, "history failed"
    end_h = sc.years * HOURS_PER_YEAR
    index = {s.name: s.index for s in model.spec.states}
    rows = sorted(realize(list(sc.doses), end_h, rec[0], index, offset_h=float(hist_h)))
    ev = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return Case(regimen, rec, y0s[0].copy(), yh[0, -1].copy(), float(hist_h),
                output_times_h(sc) + hist_h, ev[:, 0].copy(), ev[:, 1].astype(np.int64),
                ev[:, 2].astype(np.int64), ev[:, 3].copy(),
                _output_function(model, pat, rec, y0s[0].copy()), float(years))


# --------------------------------------------------------------------------------------
# segment driver shared by the Python-level candidates
def drive(case: Case, advance) -> np.ndarray:
    """Integrate ``case`` dose to dose with ``advance(a, b, y, u, t_eval) -> rows``.

    ``rows`` holds the states at ``t_eval`` (the outputs in (a, b]) followed by the state
    at ``b``. Mirrors ``solve/rodas.py``: events at or before the current time are applied
    first; an output at an event time is the state before the event.
    """
    t_out = case.t_out
    n_out, n = t_out.shape[0], case.y_start.shape[0]
    y = case.y_start.copy()
    u = np.zeros(n)
    out = np.empty((n_out, n))
    iout = 0
    while iout < n_out and t_out[iout] <= case.t0:
        out[iout] = y
        iout += 1
    t, t_end = case.t0, t_out[-1]
    iev, n_ev = 0, case.ev_t.shape[0]
    while t < t_end:
        while iev < n_ev and case.ev_t[iev] <= t:
            if case.ev_kind[iev] == 0:
                y[case.ev_state[iev]] += case.ev_value[iev]
            else:
                u[case.ev_state[iev]] += case.ev_value[iev]
            iev += 1
        t_seg = min(t_end, case.ev_t[iev]) if iev < n_ev else t_end
        j = iout
        while j < n_out and t_out[j] <= t_seg:
            j += 1
        rows = advance(t, t_seg, y, u, t_out[iout:j])
        out[iout:j] = rows[:j - iout]
        y = np.array(rows[-1], dtype=np.float64)
        iout, t = j, t_seg
    return out


def _wrappers(model: BoneModel):
    """njit wrappers taking the record as a 1-element array (a record scalar passed from
    Python costs ~45 us of argument typing per call; an array ~1 us)."""
    rhs, jac = model.generated.rhs, model.generated.jac

    @nb.njit
    def rhs_u(t, y, r, u, dy):
        rhs(t, y, r[0], dy)
        for i in range(dy.shape[0]):
            dy[i] += u[i]

    @nb.njit
    def jac_z(t, y, r, J, ft):
        J[:, :] = 0.0
        jac(t, y, r[0], J, ft)

    @nb.njit
    def jac_csc(t, y, r, J, ft, rows, cols, out):
        J[:, :] = 0.0
        jac(t, y, r[0], J, ft)
        for k in range(rows.shape[0]):
            out[k] = J[rows[k], cols[k]]

    return rhs_u, jac_z, jac_csc


def _tspan(a: float, b: float, t_eval: np.ndarray) -> np.ndarray:
    """[a, outputs in (a, b]..., b] without repeating b."""
    ts = [a, *t_eval.tolist()]
    if ts[-1] != b:
        ts.append(b)
    return np.array(ts)


# --------------------------------------------------------------------------------------
# candidates: each returns (states at t_out, {"steps", "rhs", "jac"}) or raises
@dataclass
class Runner:
    model: BoneModel
    models: dict[tuple[str, float], BoneModel]

    def atol(self, rtol: float) -> np.ndarray:
        return 1e-3 * rtol * self.model.scale

    def rodas(self, case: Case, rtol: float, method: str = DEFAULT_METHOD):
        m = self.models.get((method, rtol))
        if m is None:
            m = self.models[(method, rtol)] = BoneModel(rtol=rtol, method=method)
        steps = 400_000_000 if rtol < 1e-8 else 5_000_000
        y, status, stats = m.solve(case.rec, case.y_start[None, :], case.t_out,
                                   t_start_h=np.array([case.t0]), events=case.events(),
                                   max_steps=steps)
        if status[0] != 0:
            raise RuntimeError(f"Rosenbrock status {int(status[0])}")
        acc, rej, nfev = (int(v) for v in stats[0, :3])
        return y[0], {"steps": acc, "rej": rej, "rhs": nfev, "jac": acc + case.ev_t.size}


def make_cvode(runner: Runner, linsolver: str):
    from sksundae.cvode import CVODE

    warnings.filterwarnings("ignore", message="Custom sparse Jacobian approximation")

    model = runner.model
    rhs_u, jac_z, jac_csc = _wrappers(model)
    n = model.y_ref.shape[0]
    pattern = np.asarray(model.generated.PATTERN, bool) | np.eye(n, dtype=bool)
    cols, rows = np.nonzero(pattern.T)  # compressed sparse column order

    def run(case: Case, rtol: float, count_steps: bool = False):
        rec = case.rec
        u_now = np.zeros(n)
        jd = np.zeros((n, n))
        ft = np.zeros(n)

        def f(t, y, yp):
            rhs_u(t, y, rec, u_now, yp)

        if linsolver == "sparse":
            def jf(t, y, yp, jj):
                jac_csc(t, y, rec, jd, ft, rows, cols, jj)
            opts = {"linsolver": "sparse", "sparsity": pattern.astype(float)}
        else:
            def jf(t, y, yp, jj):
                jac_z(t, y, rec, jj, ft)
            opts = {"linsolver": "dense"}
        solver = CVODE(f, jacfn=jf, method="BDF", rtol=rtol, atol=runner.atol(rtol),
                       max_num_steps=1_000_000, **opts)
        tally = {"steps": 0, "rhs": 0, "jac": 0}

        def advance(a, b, y, u, t_eval):
            u_now[:] = u
            if count_steps:  # internal steps kept: count them (not timed)
                res = solver.solve(np.array([a, b]), y)
                tally["steps"] += res.t.shape[0] - 1
            ts = _tspan(a, b, t_eval)
            res = solver.solve(ts, y)
            if not res.success:
                raise RuntimeError(f"CVODE: {res.message}")
            tally["rhs"] += int(res.nfev)
            tally["jac"] += int(res.njev)
            if ts.shape[0] == 2:
                return res.y[-1:] if t_eval.size == 0 else np.vstack([res.y[-1], res.y[-1]])
            return res.y[1:]

        y = drive(case, advance)
        if not count_steps:
            tally["steps"] = None
        return y, tally

    return run


def make_numbalsoda(runner: Runner):
    from numba import types
    from numba.core import cgutils
    from numbalsoda import lsoda

    model = runner.model
    rhs = model.generated.rhs
    n = model.y_ref.shape[0]
    rec_dtype = model.records(1).dtype
    nf = len(rec_dtype.names)
    assert rec_dtype.itemsize == 8 * nf  # every field a float64
    nominal = model.scale.astype(np.float64)

    @nb.extending.intrinsic
    def as_voidptr(typingctx, src):
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], cgutils.voidptr_t)
        return types.voidptr(src), codegen

    # data = [record fields (nf), input rates u (n), nominal sizes (n), rhs count]
    sig = types.void(types.double, types.CPointer(types.double), types.CPointer(types.double),
                     types.CPointer(types.double))

    @nb.cfunc(sig)
    def f(t, z_, dz_, d_):
        r = nb.carray(as_voidptr(d_), 1, dtype=rec_dtype)
        d = nb.carray(d_, nf + 2 * n + 1)
        z = nb.carray(z_, n)
        dz = nb.carray(dz_, n)
        y = np.empty(n)
        for i in range(n):
            y[i] = z[i] * d[nf + n + i]
        rhs(t, y, r[0], dz)
        for i in range(n):
            dz[i] = (dz[i] + d[nf + i]) / d[nf + n + i]
        d[nf + 2 * n] += 1.0

    fptr = f.address

    @nb.njit
    def drive_lsoda(fptr, z0, t_out, t0, ev_t, ev_kind, ev_state, ev_value, data, rtol, atol,
                    out):
        n_out = t_out.shape[0]
        z = z0.copy()
        iout = 0
        while iout < n_out and t_out[iout] <= t0:
            out[iout, :] = z
            iout += 1
        t = t0
        t_end = t_out[n_out - 1]
        iev = 0
        n_ev = ev_t.shape[0]
        calls = 0
        while t < t_end:
            while iev < n_ev and ev_t[iev] <= t:
                s = ev_state[iev]
                if ev_kind[iev] == 0:
                    z[s] += ev_value[iev] / data[nf + n + s]
                else:
                    data[nf + s] += ev_value[iev]
                iev += 1
            t_seg = t_end
            if iev < n_ev and ev_t[iev] < t_seg:
                t_seg = ev_t[iev]
            j = iout
            while j < n_out and t_out[j] <= t_seg:
                j += 1
            extra = 1 if (j == iout or t_out[j - 1] != t_seg) else 0
            ts = np.empty(1 + j - iout + extra)
            ts[0] = t
            ts[1:1 + j - iout] = t_out[iout:j]
            if extra:
                ts[-1] = t_seg
            usol, ok = lsoda(fptr, z, ts, data, rtol, atol, 10_000_000)
            calls += 1
            if not ok:
                return -1
            out[iout:j, :] = usol[1:1 + j - iout, :]
            z = usol[usol.shape[0] - 1].copy()
            iout = j
            t = t_seg
        return calls

    def run(case: Case, rtol: float):
        data = np.concatenate([case.rec.view(np.float64), np.zeros(n), nominal, [0.0]])
        out = np.empty((case.t_out.shape[0], n))
        calls = drive_lsoda(fptr, case.y_start / nominal, case.t_out, case.t0, case.ev_t,
                            case.ev_kind, case.ev_state, case.ev_value, data, rtol,
                            1e-3 * rtol, out)
        if calls < 0:
            raise RuntimeError("numbalsoda LSODA failed")
        return out * nominal, {"steps": None, "rhs": int(data[-1]), "jac": None}

    return run


def make_scipy(runner: Runner, method: str):
    from scipy.integrate import solve_ivp

    model = runner.model
    rhs_u, jac_z, _ = _wrappers(model)
    n = model.y_ref.shape[0]

    def run(case: Case, rtol: float):
        rec = case.rec
        ft = np.zeros(n)
        u_now = np.zeros(n)
        atol = runner.atol(rtol)
        tally = {"steps": None, "rhs": 0, "jac": 0}

        def fun(t, y):
            dy = np.empty(n)
            rhs_u(t, y, rec, u_now, dy)
            return dy

        def jacf(t, y):
            jj = np.empty((n, n))
            jac_z(t, y, rec, jj, ft)
            return jj

        def advance(a, b, y, u, t_eval):
            u_now[:] = u
            ts = _tspan(a, b, t_eval)
            sol = solve_ivp(fun, (a, b), y, method=method, t_eval=ts[1:], rtol=rtol,
                            atol=atol, jac=jacf)
            if not sol.success:
                raise RuntimeError(f"solve_ivp {method}: {sol.message}")
            tally["rhs"] += int(sol.nfev)
            tally["jac"] += int(sol.njev)
            return sol.y.T

        return drive(case, advance), tally

    return run


# --------------------------------------------------------------------------------------
# measurement
def errors(case: Case, y: np.ndarray, ref: np.ndarray, ref_out: dict[str, np.ndarray],
           nominal: np.ndarray) -> tuple[float, float]:
    """(largest relative output difference, largest state difference with a floor)."""
    k = y.shape[0]
    out = case.outputs(y, case.t_out[:k])
    e_out = max(float(np.max(np.abs(out[m] - ref_out[m][:k]) / np.abs(ref_out[m][:k])))
                for m in MARKERS)
    floor = 1e-3 * nominal
    e_y = float(np.max(np.abs(y - ref[:k]) / np.maximum(np.abs(ref[:k]), floor)))
    return e_out, e_y


def callback_costs(model: BoneModel, case: Case) -> str:
    """Cost of one Python-level rhs and Jacobian callback (as CVODE and SciPy make them)
    against the same calls made from compiled code."""
    rhs_u, jac_z, _ = _wrappers(model)
    n = case.y_start.shape[0]
    y, u, dy, jj, ft = case.y_start.copy(), np.zeros(n), np.zeros(n), np.zeros((n, n)), np.zeros(n)

    @nb.njit
    def inner(k, y, r, u, dy, jj, ft):
        for _ in range(k):
            rhs_u(0.0, y, r, u, dy)
        for _ in range(k):
            jac_z(0.0, y, r, jj, ft)

    def f(t, y, yp):
        rhs_u(t, y, case.rec, u, yp)

    def jf(t, y, yp, jj):
        jac_z(t, y, case.rec, jj, ft)

    k = 20_000
    inner(1, y, case.rec, u, dy, jj, ft)
    f(0.0, y, dy)
    jf(0.0, y, dy, jj)
    t = time.perf_counter()
    inner(k, y, case.rec, u, dy, jj, ft)
    t_c = (time.perf_counter() - t) / k * 1e6
    t = time.perf_counter()
    for _ in range(k):
        f(0.0, y, dy)
    t_f = (time.perf_counter() - t) / k * 1e6
    t = time.perf_counter()
    for _ in range(k):
        jf(0.0, y, dy, jj)
    t_j = (time.perf_counter() - t) / k * 1e6
    rec0 = case.rec[0]
    t = time.perf_counter()
    for _ in range(k // 10):
        model.generated.rhs(0.0, y, rec0, dy)
    t_r = (time.perf_counter() - t) / (k // 10) * 1e6
    return (f"callbacks: compiled rhs + jac {t_c:.1f} us per pair; from Python: rhs "
            f"{t_f:.1f} us, jac {t_j:.1f} us (the record passed as a scalar: {t_r:.0f} us "
            "per rhs call)")


def timed(fn, case: Case, rtol: float, repeats: int):
    fn(case, rtol)  # warm-up
    best, result = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn(case, rtol)
        best = min(best, time.perf_counter() - t)
    return best, result


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:,}" if isinstance(v, int) else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 year per case, one timed run, rtol 1e-4 only (and 1e-3, 3e-4 for "
                         "the other Rosenbrock methods)")
    ap.add_argument("--cases", default="denosumab,teriparatide")
    ap.add_argument("--only", default="",
                    help="comma-separated parts of integrator names to run (RODAS4 always)")
    args = ap.parse_args()
    years = 1.0 if args.quick else 10.0
    repeats = 1 if args.quick else 3
    rtols = (1e-4,) if args.quick else RTOLS

    model = BoneModel()
    runner = Runner(model, {(DEFAULT_METHOD, model.rtol): model})
    versions = {"numpy": np.__version__, "numba": nb.__version__}
    candidates: list[tuple[str, Callable | None, tuple[float, ...]]] = [
        ("RODAS4 (project)", runner.rodas, (model.rtol, 1e-4))]
    for method in ("rodas4p2", "rodas5p", "ros4", "rodas3", "ros3"):
        label = f"{method} (project)"
        if args.only and not any(w.strip().lower() in label.lower()
                                 for w in args.only.split(",")):
            continue
        candidates.append((label, lambda case, rtol, m=method: runner.rodas(case, rtol, m),
                           (1e-3, 3e-4) + rtols))
    for label, dist, factory in [
            ("CVODE BDF dense", "scikit-sundae", lambda: make_cvode(runner, "dense")),
            ("CVODE BDF sparse", "scikit-sundae", lambda: make_cvode(runner, "sparse")),
            ("LSODA numbalsoda", "numbalsoda", lambda: make_numbalsoda(runner)),
            ("scipy BDF", "scipy", lambda: make_scipy(runner, "BDF")),
            ("scipy LSODA", "scipy", lambda: make_scipy(runner, "LSODA"))]:
        try:
            versions[dist] = importlib.metadata.version(dist)
            fn = factory()
        except (ImportError, importlib.metadata.PackageNotFoundError):
            fn = None
        if args.only and not any(w.strip().lower() in label.lower()
                                 for w in args.only.split(",")):
            continue
        candidates.append((label, fn, rtols))
    try:
        import sksundae
        versions["SUNDIALS"] = sksundae.SUNDIALS_VERSION
    except ImportError:
        pass
    print("versions:", ", ".join(f"{k} {v}" for k, v in versions.items()))

    header = (f"{'case':<13} {'integrator':<18} {'rtol':>6} {'time s':>9} {'steps':>9} "
              f"{'rhs':>10} {'jac':>8} {'err out':>8} {'err y':>8} {'ratio':>7}  note")
    lines = [header, "-" * len(header)]
    notes: list[str] = []
    for case_name in args.cases.split(","):
        full = build_case(model, case_name, years)
        one_year = full.first_years(1.0)
        refs: dict[float, tuple[np.ndarray, dict[str, np.ndarray]]] = {}

        def reference(case: Case, refs=refs):
            if case.years not in refs:
                t = time.perf_counter()
                y, info = runner.rodas(case, REF_RTOL)
                refs[case.years] = (y, case.outputs(y, case.t_out))
                notes.append(f"{case.name} reference: RODAS4 rtol {REF_RTOL:g}, "
                             f"{case.years:g} y, {info['steps']:,} steps, "
                             f"{time.perf_counter() - t:.1f} s")
            return refs[case.years]

        base_time = None
        for label, fn, tols in candidates:
            if fn is None:
                lines.append(f"{case_name:<13} {label:<18} {'':>6} {'not installed':>9}")
                continue
            for rtol in tols:
                try:
                    fn(full.first_years(0.1), rtol)  # compiles what is compiled lazily
                    t1 = time.perf_counter()
                    fn(one_year, rtol)  # warm-up and a time estimate
                    t1 = time.perf_counter() - t1
                    scaled = full.years > 1.0 and t1 * full.years > TIME_BOX_S
                    case = one_year if scaled else full
                    wall, (y, info) = timed(fn, case, rtol, 1 if scaled else repeats)
                except Exception as exc:  # a failing library is reported, not fatal
                    lines.append(f"{case_name:<13} {label:<18} {rtol:>6.0e} failed: "
                                 f"{type(exc).__name__}: {str(exc)[:60]}")
                    break
                if label.startswith("CVODE"):
                    info["steps"] = fn(case, rtol, count_steps=True)[1]["steps"]
                ref_y, ref_out = reference(case)
                e_out, e_y = errors(case, y, ref_y, ref_out, model.scale)
                factor = full.years / case.years
                wall10 = wall * factor
                if label.startswith("RODAS4") and rtol == model.rtol:
                    base_time = wall10
                ratio = f"{wall10 / base_time:7.2f}" if base_time else f"{'':>7}"
                note = "1y x10" if scaled else ""
                steps = None if info["steps"] is None else int(info["steps"] * factor)
                rhs = None if info["rhs"] is None else int(info["rhs"] * factor)
                jac = None if info["jac"] is None else int(info["jac"] * factor)
                lines.append(f"{case_name:<13} {label:<18} {rtol:>6.0e} {wall10:>9.3f} "
                             f"{_fmt(steps):>9} {_fmt(rhs):>10} {_fmt(jac):>8} "
                             f"{e_out:>8.1e} {e_y:>8.1e} {ratio}  {note}")
                print(lines[-1], flush=True)
                if not label.startswith("RODAS4") and e_out <= TARGET_ERR:
                    lines[-1] += " *"
                    break
            # RODAS4 first so the ratio column has its base
        lines.append("")
        if case_name == args.cases.split(",")[0]:
            notes.append(callback_costs(model, full))
    print()
    print("\n".join(lines))
    for line in notes:
        print(line)
    print("* fastest rtol tried meeting output error <= 1e-4; err out: CTX-I, P1NP, spine "
          "BMD; err y: all states, relative to max(|y|, 1e-3 nominal)")


if __name__ == "__main__":
    main()
