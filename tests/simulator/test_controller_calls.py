"""The controller around curtailment calls: the stress state of a call without notice, the refill
after a call. Hand-made sites and traces (tests/simulator/helpers.py), every step recorded."""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.simulator import kernel as K
from bess_size.simulator.controller import BandEnergies, TraceArrays, replay_arrays, run_kernel, stress_points

from .helpers import make_design, make_site, make_trace

ENGINE = {"kind": "gas_engine", "unit_mw": 10, "existing_units": 0, "max_new_units": 12, "min_load_fraction": 0.3,
          "ramp_mw_per_s": 10.0, "start_time_s": 120, "fuel_usd_per_mwh": 80}


def test_a_call_without_notice_starts_its_units_cold_in_the_stress_state():
    """Flat 90 MW on 60 MW firm + 60 MW non-firm; engines of 10 MW, 120 s start, 10 MW/s each
    (full output within the step they join). A call with no notice from 300 s: the gap is
    90 - 60 = 30 MW, so ceil(30 / 10) = 3 engines are ordered at 300 s and synchronise at
    300 + 120 = 420 s. Before the call the 120 MW limit needs no unit: in the stress state they
    are cold (the firm need is measured against the limit before the call, 120 MW, not the call's
    60 MW, which would have them running warm at 30 MW and the battery idle).

    The battery bridges the 30 MW for the 120 steps 300..419: stored energy drawn
    30 x 120 / 3600 / 0.92 = 1.086957 MWh (discharge efficiency 0.92; charge 0.96 plays no part).
    From 420 s the engines carry the gap and import stays at the firm 60 MW throughout."""
    site = make_site(generation=[ENGINE])
    design = make_design(site, energy_mwh=40.0, units=4, rt=5.0, up=3.0, cu=8.0)
    n = 900
    phase = np.zeros(n, np.int8)
    phase[300:800] = 2
    limit = np.where(phase == 2, 60.0, 120.0)
    trace = TraceArrays.from_dataset(make_trace(np.full(n, 90.0), limit_mw=limit, phase=phase), 1.0)
    bands = BandEnergies.from_design(site, design)
    rows = stress_points(trace, bands, calls_only=True)
    np.testing.assert_allclose(rows, [[300, bands.call_floor_mwh, 120.0]])
    cp, gp, pp = replay_arrays(site, design)
    run = run_kernel(trace, cp, gp, pp, record=[0], record_length=n, stress=rows)
    rec = run.recorded[0]
    assert np.all(rec[300:420, K.R_GEN] == 0.0)  # cold: nothing runs before the ordered units join
    assert rec[420, K.R_GEN] == pytest.approx(30.0)
    assert run.metric(K.M_STARTS) == 3
    np.testing.assert_allclose(rec[300:420, K.R_BESS], 30.0, atol=1e-9)
    assert np.all(rec[300:800, K.R_POI] <= 60.0 + 1e-9)
    drawn = rec[300, K.R_STORED_BEFORE] - rec[300:800, K.R_STORED].min()
    assert rec[300, K.R_STORED_BEFORE] == pytest.approx(bands.call_floor_mwh)
    assert drawn == pytest.approx(30.0 * 120 / 3600 / 0.92, abs=1e-6)
