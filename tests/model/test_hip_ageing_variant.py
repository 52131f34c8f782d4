"""The hip-ageing research variant (tools/variants/hip_ageing.toml, docs/CALIBRATION.md):
it fills the bundled model's `hip_formation_capacity` hook, leaves the premenopausal
state and the spine alone, and makes untreated hip loss speed up in old age instead of
slowing down."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import boneturnover as bt
from boneturnover.model.system import BoneModel

VARIANT = Path(__file__).resolve().parents[2] / "tools" / "variants" / "hip_ageing.toml"
pytestmark = pytest.mark.slow
SIZES = {"hip_deficit_max": 0.5, "hip_deficit_a50_y": 88.0, "hip_deficit_gamma": 24.0}


@pytest.fixture(scope="module")
def variant():
    m = BoneModel.with_modules(VARIANT)
    return BoneModel(m.spec.with_values(SIZES), modules=m.modules)


def _decline_mg_per_year(frame, a, b):
    age, hip = frame["age_y"].to_numpy(), frame["bmd_hip_g_cm2"].to_numpy()
    i, j = int(np.argmin(abs(age - a))), int(np.argmin(abs(age - b)))
    return 1000 * (hip[i] - hip[j]) / (age[j] - age[i])


def test_hip_loss_speeds_up_with_age_only_with_the_variant(variant):
    sc = bt.scenario_from_dict({"years": 25, "patient": {"age": 66, "menopause_age": 51},
                                "output_every": "30 d"})
    off = bt.simulate(sc).frame
    on = bt.simulate(sc, model=variant).frame
    ratio_off = _decline_mg_per_year(off, 85, 89) / _decline_mg_per_year(off, 67, 70)
    ratio_on = _decline_mg_per_year(on, 85, 89) / _decline_mg_per_year(on, 67, 70)
    assert ratio_off < 1.0  # the bundled hip balance relaxes to its equilibrium
    assert ratio_on > 2.0
    # the spine does not read the hook: it differs only by the integrator's steps, which
    # the hip's own error now helps to choose (tolerance 1e-4, docs/ENGINE.md)
    np.testing.assert_allclose(on["bmd_spine_g_cm2"], off["bmd_spine_g_cm2"], rtol=1e-4)


def test_the_premenopausal_woman_is_unchanged(variant):
    sc = bt.scenario_from_dict({"years": 1, "patient": {"age": 35}})
    off = bt.simulate(sc).frame
    on = bt.simulate(sc, model=variant).frame
    np.testing.assert_allclose(on["bmd_hip_g_cm2"], off["bmd_hip_g_cm2"], rtol=1e-5)
