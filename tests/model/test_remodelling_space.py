"""Remodelling space: the reversible part of BMD change follows the resorption rate."""

import numpy as np
import pytest

from boneturnover.model.indices import S
from boneturnover.model.system import get_model

DEN_NG = 60.0e6  # 60 mg denosumab SC


def _denosumab_run(rec, days: float = 730.0, **solve_values: float):
    """One denosumab dose at the premenopausal steady state; daily states.

    ``solve_values`` are parameters changed after the steady state is found.
    """
    m = get_model()
    y0, status = m.prepare(rec)
    assert status[0] == 0
    for name, value in solve_values.items():
        rec[name] = value
    y0[0, S.denosumab_sc_ng] = DEN_NG
    t = np.arange(0.0, days + 1.0) * 24.0
    y, st_, _ = m.solve(rec, y0, t)
    assert st_[0] == 0
    return y[0]


def test_without_balance_terms_bmd_moves_only_with_the_remodelling_space():
    """Remodelling balance and modelling off: BMD + rs x (relative space) is conserved.

    The remodelling space fills when denosumab stops resorption and opens again as
    resorption returns, so the BMD change is exactly minus its size change.
    """
    m = get_model()
    rec = m.records(1)
    rs = float(rec["bmd_spine_remodelling_space"][0])
    assert rs > 0.0
    y = _denosumab_run(rec, k_bmd_spine=0.0, k_bmd_modeling=0.0)
    space = y[:, S.remodelling_space_rel]
    bmd = y[:, S.bmd_spine_rel]
    # to integration accuracy (rtol 1e-6 over two years): 0.5 % of the transient's size
    np.testing.assert_allclose(bmd - bmd[0], -rs * (space - space[0]), atol=5e-3 * rs)
    # the space shrinks while resorption is blocked (within 6 months) and reopens after
    low = int(np.argmin(space))
    assert 60 < low < 400
    assert space[low] < 0.5 * space[0]
    assert bmd[low] - bmd[0] > 0.5 * rs * space[0]
    assert space[-1] > space[low] + 0.5 * (space[0] - space[low])


def test_default_model_has_the_remodelling_space_on_spine_and_hip():
    """The bundled weights: spine 1 % of BMD, the hip half of it (docs/CALIBRATION.md)."""
    m = get_model()
    rec = m.records(1)
    spine = float(rec["bmd_spine_remodelling_space"][0])
    hip = float(rec["bmd_hip_remodelling_space"][0])
    assert 0.0 < hip < spine


def test_remodelling_space_is_at_its_reference_before_any_drug():
    """Premenopausal steady state: the relative space equals the relative resorption (1)."""
    m = get_model()
    rec = m.records(1)
    y0, status = m.prepare(rec)
    assert status[0] == 0
    assert y0[0, S.remodelling_space_rel] == pytest.approx(1.0, abs=0.02)
    y, st_, _ = m.solve(rec, y0, np.array([0.0, 24.0 * 3650.0]))
    assert st_[0] == 0
    assert y[0][-1, S.remodelling_space_rel] == pytest.approx(y0[0, S.remodelling_space_rel],
                                                              rel=1e-6)
    assert y[0][-1, S.bmd_spine_rel] == pytest.approx(y0[0, S.bmd_spine_rel], rel=1e-6)
