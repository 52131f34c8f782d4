"""The osteomorph research variant (tools/variants/osteomorphs.toml, docs/CALIBRATION.md):
it assembles as one module on the bundled model, its pool fills while denosumab blocks
RANKL and re-fuses when the drug wears off, so resorption returns sooner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import boneturnover as bt
from boneturnover.model.system import BoneModel

VARIANT = Path(__file__).resolve().parents[2] / "tools" / "variants" / "osteomorphs.toml"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def variant():
    return BoneModel.with_modules(VARIANT)


def test_the_pool_is_a_state_after_the_bundled_ones(variant):
    bundled = bt.load_model()
    assert variant.spec.state_names[:len(bundled.states)] == bundled.state_names
    assert variant.spec.state_names[-1] == "osteomorphs"
    y0, status = variant.prepare(variant.records(1))
    assert status[0] == 0
    assert y0[0, variant.spec.state("osteomorphs").index] > 0


def test_the_pool_returns_resorption_sooner_after_a_denosumab_dose(variant):
    sc = bt.scenario_from_dict({"years": 1.5, "patient": {"age": 60, "menopause_age": 51},
                                "dose": [{"compartment": "denosumab_sc", "amount": "60 mg",
                                          "time": "0 d"}]})
    off = bt.simulate(sc).frame
    on = bt.simulate(sc, model=variant).frame
    day = off["time_d"].to_numpy()
    ctx_off, ctx_on = off["ctx_ng_l"].to_numpy(), on["ctx_ng_l"].to_numpy()
    # the same deep suppression in the first month; 230 days after the dose the pool's
    # osteoclasts have returned resorption to baseline, the bundled model's to about 60 %
    first_month = day <= 30
    assert ctx_on[first_month].min() < 0.02 * ctx_on[0]
    assert ctx_off[first_month].min() < 0.02 * ctx_off[0]
    i = int(np.argmin(abs(day - 230)))
    assert ctx_on[i] / ctx_on[0] > 1.3 * ctx_off[i] / ctx_off[0]
