"""Generate a synthetic cohort for ``bench_interpret.py`` (CSV files in a directory).

Default: 100,000 patients and 1,000,000 measurement rows (10 per patient: CTX-I and
P1NP at five visits, with occasional magnesium, calcium and eGFR in place of P1NP),
about 70% with a treatment course, and 0.1% of patients given one bad row (a negative
value) so that the error path is exercised. Values are plausible, not realistic.

Usage: python bench/make_cohort.py [--patients N] [--out DIR] [--seed S]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

DRUGS = np.array(["alendronate", "risedronate", "zoledronate", "denosumab", "raloxifene",
                  "teriparatide", "romosozumab"])
VISITS = 5


def make(n_patients: int, out: Path, seed: int = 1) -> int:
    """Write patients.csv, measurements.csv, treatments.csv; return the measurement rows."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    ids = np.char.add("P", np.arange(n_patients).astype(str))
    birth = np.datetime64("1940-01-01") + rng.integers(0, 365 * 20, n_patients)
    pd.DataFrame({
        "patient_id": ids, "birth_date": birth.astype(str),
        "ckd": np.where(rng.random(n_patients) < 0.05, "true", "false"),
        "glucocorticoids": np.where(rng.random(n_patients) < 0.03, "true", "false"),
        "calcium_supplement_mg_d": rng.choice([0, 500, 600, 1000, 1200], n_patients),
        "magnesium_supplement_mg_d": rng.choice([0, 0, 250, 300, 400], n_patients),
    }).to_csv(out / "patients.csv", index=False)

    first = np.datetime64("2019-01-01") + rng.integers(0, 365 * 3, n_patients)
    gaps = rng.integers(60, 250, (n_patients, VISITS))
    gaps[:, 0] = 0
    visit_day = first[:, None] + np.cumsum(gaps, axis=1)  # (n, VISITS)
    treated = rng.random(n_patients) < 0.7
    drug = rng.choice(DRUGS, n_patients)
    start = visit_day[:, 0] + 3
    response = np.where(treated, rng.uniform(0.3, 1.1, n_patients), 1.0)
    base_ctx = rng.lognormal(np.log(450), 0.4, n_patients)
    base_p1np = rng.lognormal(np.log(55), 0.35, n_patients)
    rows = []
    for v in range(VISITS):
        factor = 1.0 if v == 0 else response
        day = visit_day[:, v].astype(str)
        rows.append(pd.DataFrame({
            "patient_id": ids, "date": day, "marker": "CTX_I",
            "value": np.round(base_ctx * factor * rng.lognormal(0, 0.15, n_patients), 1),
            "unit": "ng/L", "fasting": np.where(rng.random(n_patients) < 0.9, "true", "false"),
            "time": "08:15"}))
        other = rng.choice(["P1NP_TOTAL", "P1NP_TOTAL", "P1NP_TOTAL", "MG", "CA", "EGFR"],
                           n_patients)
        val = np.select(
            [other == "P1NP_TOTAL", other == "MG", other == "CA"],
            [base_p1np * factor * rng.lognormal(0, 0.1, n_patients),
             rng.normal(0.84, 0.08, n_patients), rng.normal(2.3, 0.1, n_patients)],
            rng.normal(75, 20, n_patients).clip(10, 140))
        unit = np.select([other == "P1NP_TOTAL", other == "EGFR"], ["ug/L", "mL/min/{1.73_m2}"],
                         "mmol/L")
        rows.append(pd.DataFrame({"patient_id": ids, "date": day, "marker": other,
                                  "value": np.round(val, 3), "unit": unit, "fasting": "",
                                  "time": ""}))
    meas = pd.concat(rows, ignore_index=True)
    bad = rng.random(len(meas)) < 0.001 / (2 * VISITS)
    meas.loc[bad, "value"] = -1.0
    meas = meas.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # unordered rows
    meas.to_csv(out / "measurements.csv", index=False)

    t = pd.DataFrame({"patient_id": ids, "drug": drug, "dose": "", "dose_unit": "",
                      "interval": "", "route": "", "start": start.astype(str),
                      "stop": "", "last_dose": ""})[treated]
    t.to_csv(out / "treatments.csv", index=False)
    return len(meas)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--out", default="/tmp/boneturnover_bench_cohort")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    n = make(a.patients, Path(a.out), a.seed)
    print(f"wrote {a.patients} patients, {n} measurement rows to {a.out}")


if __name__ == "__main__":
    main()
