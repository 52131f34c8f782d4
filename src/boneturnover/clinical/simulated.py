"""A simulated trajectory as a patient record, so the engine interprets it like lab results.

``boneturnover simulate`` writes one row per output time with a column per model output.
The marker catalogue names the column that holds each marker the model simulates
(``model_output``: ``ctx_ng_l`` is ``CTX_I``, ``p1np_ug_l`` is ``P1NP_TOTAL``, ...), in
the marker's canonical unit. :func:`patient_from_simulation` samples those columns on
chosen days and returns a :class:`~boneturnover.clinical.records.PatientRecord` whose
measurements are the simulated values and whose treatments are the scenario's; it
needs no model.

Sampling: by default at baseline (day 0) and every 3 months (day ``round(k * 91.3125)``)
up to the last simulated day, a clinic's monitoring schedule; or on given days; or every
row (``"all"``). A day takes the nearest simulated row. Simulated values stand for
fasting morning samples (the calibration is to fasting premenopausal means), so each
measurement is recorded as fasting.

Reference intervals: a simulated bone turnover marker is on the scale of the assay the
model is calibrated to, so by default the record selects, as a laboratory would for its
own assay, the named interval the model's centre sits in (``assay.CTX_I.interval =
"glover2009"``, ...); ``intervals="default"`` keeps the catalogue's clinical defaults.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"time_d": [0.0, 91.0, 182.0], "age_y": [65.0, 65.25, 65.5],
...                       "ctx_ng_l": [500.0, 90.0, 60.0], "p1np_ug_l": [55.0, 30.0, 20.0]})
>>> p = patient_from_simulation(frame, start_date="2020-01-01")
>>> [(m.date, m.marker, m.value) for m in p.measurements[:2]]
[('2020-01-01', 'CTX_I', 500.0), ('2020-01-01', 'P1NP_TOTAL', 55.0)]
>>> p.birth_date
'1955-01-01'
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError
from ..knowledge.drugs import parse_amount
from .catalog import CATALOG, DRUGS
from .records import Measurement, PatientRecord, TreatmentRecord

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_START_DATE", "SAMPLE_EVERY_DAYS", "default_sample_days", "read_simulation",
           "patient_from_simulation", "last_sample_date"]

#: Calendar date of simulation day 0 when none is given.
DEFAULT_START_DATE = "2000-01-01"
#: Default sampling interval: 3 months (a quarter of a Julian year), in days.
SAMPLE_EVERY_DAYS = 365.25 / 4
_H_PER_D = 24.0


def default_sample_days(last_day: float, every_days: float = SAMPLE_EVERY_DAYS) -> list[int]:
    """Baseline and every ``every_days`` (rounded to whole days) up to ``last_day``.

    Examples
    --------
    >>> default_sample_days(365)
    [0, 91, 183, 274, 365]
    """
    if not every_days > 0:
        raise InputError(f"sampling interval {every_days!r} d must be longer than zero")
    n = int(math.floor((last_day + 0.5) / every_days))
    return sorted({d for k in range(n + 1) if (d := int(round(k * every_days))) <= last_day})


def read_simulation(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by ``boneturnover simulate --out``.

    Raises
    ------
    InputError
        If the file is missing, unreadable or has no ``time_d`` column.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        frame = pd.read_csv(p)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{p}: cannot read CSV: {exc}") from None
    if "time_d" not in frame.columns:
        raise InputError(f"{p}: no time_d column; expected a table written by "
                         "`boneturnover simulate --out`")
    return frame


def _date(start: dt.date, day: float) -> str:
    return (start + dt.timedelta(days=int(round(day)))).isoformat()


def _start(start_date: str | dt.date) -> dt.date:
    if isinstance(start_date, dt.date):
        return start_date
    try:
        return dt.date.fromisoformat(str(start_date).strip())
    except ValueError:
        raise InputError(f"start date {start_date!r} is not a date YYYY-MM-DD") from None


def _one_subject(frame: pd.DataFrame, subject: int | None) -> pd.DataFrame:
    if "subject" not in frame.columns:
        if subject not in (None, 0):
            raise InputError(f"subject {subject}: the simulation has one subject (no subject "
                             "column)")
        return frame
    subjects = sorted(frame["subject"].unique())
    if subject is None:
        if len(subjects) > 1:
            raise InputError(f"the simulation has {len(subjects)} subjects; choose one "
                             f"(subject {subjects[0]} to {subjects[-1]})")
        subject = int(subjects[0])
    if subject not in subjects:
        raise InputError(f"subject {subject} is not in the simulation (subjects "
                         f"{subjects[0]} to {subjects[-1]})")
    return frame[frame["subject"] == subject]


def _rows(frame: pd.DataFrame, sample_days: Sequence[float] | Literal["all"] | None,
          ) -> pd.DataFrame:
    """The rows sampled: one per whole day, the row nearest each requested day."""
    import numpy as np
    import pandas as pd

    t = frame["time_d"].to_numpy(dtype=float)
    if not len(t) or not np.all(np.isfinite(t)):
        raise InputError("the simulation has no rows, or a time_d that is not a number")
    if isinstance(sample_days, str):
        if sample_days != "all":
            raise InputError(f"sample days {sample_days!r}: expected a list of days or 'all'")
        wanted = np.unique(np.round(t))
    else:
        wanted = np.asarray(default_sample_days(t.max()) if sample_days is None
                            else list(sample_days), dtype=float)
    if not len(wanted):
        raise InputError("no sampling day given; expected at least one day")
    outside = wanted[(wanted < t.min() - 0.5) | (wanted > t.max() + 0.5)]
    if len(outside):
        raise InputError(f"sampling day {outside[0]:g} is outside the simulation (days "
                         f"{t.min():g} to {t.max():g})")
    idx = sorted({int(np.argmin(np.abs(t - w))) for w in wanted})
    rows = frame.iloc[idx]
    day = pd.Series(np.round(rows["time_d"].to_numpy(dtype=float)))
    return rows[~day.duplicated().to_numpy()]


def _measurements(rows: pd.DataFrame, start: dt.date, markers: Sequence[str] | None,
                  ) -> tuple[Measurement, ...]:
    mapped = {col: mid for col, mid in CATALOG.model_outputs.items() if col in rows.columns}
    if markers is not None:
        wanted = {CATALOG.resolve(m).id for m in markers}
        missing = sorted(wanted - set(mapped.values()))
        if missing:
            raise InputError(f"marker(s) {', '.join(missing)} are not in the simulation; it "
                             f"holds {', '.join(mapped.values()) or 'none'}")
        mapped = {c: m for c, m in mapped.items() if m in wanted}
    if not mapped:
        raise InputError("the simulation has no marker column; expected columns such as "
                         f"{', '.join(CATALOG.model_outputs)}")
    out = []
    for _, r in rows.iterrows():
        day = float(r["time_d"])
        for col, mid in mapped.items():
            value = float(r[col])
            if not math.isfinite(value):
                raise InputError(f"simulation day {day:g}: {col} is {value}; the run did not "
                                 "finish for this subject")
            out.append(Measurement(_date(start, day), mid, value, CATALOG[mid].canonical_unit,
                                   fasting=True, source=f"simulation day {day:g}"))
    return tuple(out)


def _course(t: Any, start: dt.date, horizon_day: float) -> TreatmentRecord | None:
    """A scenario treatment (:class:`boneturnover.drugs.Treatment`) as a recorded course."""
    if isinstance(t, TreatmentRecord):
        return t
    horizon_h = (horizon_day + 1.0) * _H_PER_D
    taken = t.record.times_h(horizon_h)
    if t.start_h >= horizon_h:
        return None  # starts after the last sample: not yet part of the record
    ongoing = t.stop_h is None or t.stop_h >= horizon_h
    stop = None
    if not ongoing:
        n = math.ceil((t.stop_h - t.start_h) / t.every_h - 1e-9)
        stop = _date(start, math.floor((t.start_h + (n - 1) * t.every_h) / _H_PER_D))
    amount, unit = parse_amount(t.dose, f"{t.label}: dose")
    return TreatmentRecord(
        drug=t.drug, start=_date(start, math.floor(t.start_h / _H_PER_D)), stop=stop,
        dose=amount, dose_unit=unit, interval=f"{t.every_h / _H_PER_D:.10g} d", route=t.route,
        last_dose=_date(start, math.floor(taken[-1] / _H_PER_D)) if taken else None,
        source=f"scenario treatment #{t.index} ({t.drug})")


def _supplement_mg_d(treatments: Sequence[Any], element: str, horizon_day: float,
                     ) -> float | None:
    """Elemental mg/day of the supplements of ``element`` still taken at the horizon."""
    from ..units import convert

    total = None
    for t in treatments:
        if isinstance(t, TreatmentRecord) or DRUGS[t.drug].element != element:
            continue
        if t.start_h > horizon_day * _H_PER_D or (
                t.stop_h is not None and t.stop_h <= horizon_day * _H_PER_D):
            continue
        mg = convert(t.record.amount, t.record.unit, "mg") * t.record.factor
        total = (total or 0.0) + mg * _H_PER_D / t.every_h
    return total


def patient_from_simulation(
    frame: pd.DataFrame,
    *,
    start_date: str | dt.date = DEFAULT_START_DATE,
    sample_days: Sequence[float] | Literal["all"] | None = None,
    treatments: Sequence[Any] = (),
    markers: Sequence[str] | None = None,
    patient_id: str = "simulated",
    age_y: float | None = None,
    subject: int | None = None,
    intervals: Literal["model", "default"] = "model",
) -> PatientRecord:
    """A patient record from a simulated trajectory (see the module docstring).

    Parameters
    ----------
    frame : DataFrame
        ``SimulationResult.frame`` or a CSV of ``boneturnover simulate`` (:func:`read_simulation`).
    start_date : str or date
        Calendar date of simulation day 0.
    sample_days : sequence of float, "all" or None
        Simulation days to sample (nearest row); None: day 0 and every 3 months.
    treatments : sequence
        The scenario's treatments (``Scenario.treatments``) and/or recorded courses
        (:class:`TreatmentRecord`). A course is ongoing if it runs past the last sample;
        otherwise it stops at its last scheduled dose. ``last_dose`` is the last dose
        taken by the last sample. Calcium and magnesium supplements still taken at the
        last sample give the patient's supplement intake (elemental mg/day).
    markers : sequence of str, optional
        Only these markers (ids or aliases); default every marker the frame holds.
    patient_id : str
    age_y : float, optional
        Age at day 0 (default: the frame's ``age_y`` at day 0), for the birth date.
    subject : int, optional
        Which subject of a population run.
    intervals : {"model", "default"}
        Reference intervals of the simulated markers: those the model is calibrated to
        (as the record's ``assay`` selection), or the catalogue's clinical defaults.

    Returns
    -------
    PatientRecord
        Interpret it with :func:`boneturnover.clinical.interpret` and ``today`` on or
        after the last sample (the CLI uses the last sample's date).

    Raises
    ------
    InputError
        If the frame has no marker column, a sampling day lies outside it, or the run
        did not finish.
    """
    if intervals not in ("model", "default"):
        raise InputError(f"intervals {intervals!r}: expected 'model' or 'default'")
    start = _start(start_date)
    frame = _one_subject(frame, subject).sort_values("time_d", kind="stable")
    rows = _rows(frame, sample_days)
    horizon = float(rows["time_d"].max())
    if age_y is None and "age_y" in frame.columns:
        age_y = float(frame["age_y"].iloc[0]) - float(frame["time_d"].iloc[0]) / 365.25
    birth = None if age_y is None else _date(start, -age_y * 365.25)
    courses = tuple(c for c in (_course(t, start, horizon) for t in treatments) if c is not None)
    measurements = _measurements(rows, start, markers)
    assay = {} if intervals == "default" else {
        mid: {"interval": CATALOG[mid].model.interval.name}  # type: ignore[union-attr]
        for mid in dict.fromkeys(m.marker for m in measurements) if CATALOG[mid].model}
    return PatientRecord(
        patient_id=patient_id, birth_date=birth, measurements=measurements,
        treatments=courses, assay=assay,
        calcium_supplement_mg_d=_supplement_mg_d(treatments, "CA", horizon),
        magnesium_supplement_mg_d=_supplement_mg_d(treatments, "MG", horizon),
    )


def last_sample_date(patient: PatientRecord) -> str:
    """The latest measurement date of a record (the default evaluation date)."""
    return max(m.date for m in patient.measurements)
