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


def test_after_a_call_generation_refills_what_the_import_cap_cannot():
    """Flat 90 MW on 60 MW firm + 30 MW non-firm: the import limit equals the load, so after a
    call import has no room to refill the battery. Engines of 10 MW with a 1,800 s start: the
    three the call orders at its start (gap 90 - 60 = 30 MW) would join only after the 1,200 s call
    (300..1500 s, no notice) is over; the battery carries it all: 30 x 1200 / 3600 / 0.92 =
    10.870 MWh from the middle of the operating band.

    E = 40 MWh: F = 2, span U = 0.8 x 0.9 x 40 = 28.8, X_rt = 5, X_up = 1, X_cu = 11, X_dn = 3:
    operating band [19, 27.8], middle 23.4, so the call leaves 23.4 - 10.870 = 12.530 MWh, below
    the floor outside calls F + X_rt + X_cu = 18. In the recovery (2 h from 1500 s) generation
    must refill it: the refill back to the band's low edge at the policy's rate,
    (19 - 12.530) / 0.96 x 3600 / 900 = 26.96 MW, needs ceil(2.696) = 3 engines: the orders
    stand, the engines join at 300 + 1800 = 2100 s (3 starts, 3 x 500 USD), and the battery is
    back at the band's low edge before the recovery ends (8700 s); in the normal running after
    it the soc_bands figure (wanted stored energy above the floor of its mode) stays >= 0.
    Without the refill the orders are cancelled when the call ends, nothing starts, and the
    battery stays 5.5 MWh under that floor."""
    site = make_site(grid={"nonfirm_import_mw": 30}, generation=[{**ENGINE, "start_time_s": 1800}])
    design = make_design(site, energy_mwh=40.0, pcs_mw=30.0, units=3, rt=5.0, up=1.0, cu=11.0, dn=3.0)
    n = 9600
    phase = np.zeros(n, np.int8)
    phase[300:1500] = 2
    phase[1500:8700] = 3
    limit = np.where(phase == 2, 60.0, 90.0)
    trace = TraceArrays.from_dataset(make_trace(np.full(n, 90.0), limit_mw=limit, phase=phase), 1.0)
    cp, gp, pp = replay_arrays(site, design)
    run = run_kernel(trace, cp, gp, pp, record=[0], record_length=n)
    rec = run.recorded[0]
    stored = rec[:, K.R_STORED]
    assert stored[1499] == pytest.approx(23.4 - 30.0 * 1200 / 3600 / 0.92, abs=1e-6)
    assert np.all(rec[:2100, K.R_GEN] == 0.0) and rec[2100, K.R_GEN] > 20.0
    assert run.metric(K.M_STARTS) == 3
    assert run.metric(K.M_START_COST_USD) == pytest.approx(3 * 500.0)
    assert stored[8699] >= 19.0 - 1e-6  # back at the operating band before the recovery ends
    assert np.all(rec[:, K.R_POI] <= limit + 1e-9)
    assert run.metric(K.M_BAND_LOW_MARGIN_MWH) >= -1e-6
    assert run.metric(K.M_BAND_EXCURSION_S) == 0.0


def test_after_a_loss_of_grid_generation_refills_what_the_import_cap_cannot():
    """Flat 90 MW on 60 + 30 MW import (the limit equals the load), engines of 10 MW with a 300 s
    start: the grid is lost for 600 s at 300 s. E = 40 MWh (C-rate 4: 95 MW of PCS usable), X_rt = 0.5,
    X_up = 1, X_cu = 11,
    X_dn = 3: operating band [14.5, 27.8], the replay starts mid-band at 21.15 MWh. The engines
    ordered at the outage's first step join 300 s later and take the load within the step
    (10 MW/s each); the battery bridges 90 MW x 300 s / 3600 / 0.92 = 8.152 MWh, leaving about
    13.0 MWh, below the band. After reconnection import has no room to refill it, so generation
    must (the reconnection itself refills only the ride-through reserve): by the end of the trace
    (6 h) it is back at the band's low edge, the recovery ends and normal running judges it
    (soc_bands figure >= 0). Without the refill it would stay below, the recovery never ending."""
    site = make_site(grid={"nonfirm_import_mw": 30}, generation=[{**ENGINE, "start_time_s": 300}],
                     bess={"max_c_rate": 4.0})
    design = make_design(site, energy_mwh=40.0, pcs_mw=95.0, units=10, rt=0.5, up=1.0, cu=11.0, dn=3.0)
    n = 6 * 3600
    grid = np.ones(n, np.int8)
    grid[300:900] = 0
    trace = TraceArrays.from_dataset(make_trace(np.full(n, 90.0), limit_mw=90.0, grid=grid), 1.0)
    cp, gp, pp = replay_arrays(site, design)
    run = run_kernel(trace, cp, gp, pp, record=[0], record_length=n)
    rec = run.recorded[0]
    stored = rec[:, K.R_STORED]
    op_lo = 2.0 + 0.5 + 1.0 + 11.0
    assert stored[899] == pytest.approx(0.5 * (op_lo + 27.8) - 90.0 * 300 / 3600 / 0.92, abs=1e-6)
    assert stored[-1] >= op_lo - 1e-6
    assert np.all(rec[900:, K.R_POI] <= 90.0 + 1e-9)
    assert run.metric(K.M_BAND_LOW_MARGIN_MWH) >= -1e-6
    assert run.metric(K.M_UNSERVED_MWH) == 0.0
    assert run.metric(K.M_STARTS) == 11  # the island's 10 and the refill's 1 (ceil((14.5 - 13.0) / 0.96 x 4 / 10))
