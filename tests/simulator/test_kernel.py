"""The controller kernel step by step: conservation, limits, priorities, hand-derived responses.

Traces and designs are hand-made (tests/simulator/helpers.py); every step is recorded and checked.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bess_size.simulator import kernel as K
from bess_size.simulator.controller import TraceArrays, replay_arrays, run_kernel

from .helpers import make_design, make_site, make_trace


# 10 MW gas engines, minimum load 3 MW, 0.5 MW/s, 60 s start, fuel 45 USD/MWh
ENGINES_45_USD = {"kind": "gas_engine", "unit_mw": 10, "existing_units": 0, "max_new_units": 12,
                  "min_load_fraction": 0.3, "ramp_mw_per_s": 0.5, "start_time_s": 60, "fuel_usd_per_mwh": 45}


def replay(site, design, ds):
    """Run the kernel over the whole trace, recording every step."""
    trace = TraceArrays.from_dataset(ds, float(site.scenarios.transient_resolution_s))
    cp, gp, pp = replay_arrays(site, design)
    run = run_kernel(trace, cp, gp, pp, record=[0], record_length=trace.steps)
    return run, run.recorded[0], cp


def assert_invariants(site, design, run, rec, cp):
    """Conservation and limits that must hold at every step of any replay."""
    dt_h = cp[K.C_DT_S] / 3600.0
    eta_ch, eta_dis = cp[K.C_ETA_CH], cp[K.C_ETA_DIS]
    e0, e1 = rec[:, K.R_STORED_BEFORE], rec[:, K.R_STORED]
    ch, dis, loss = rec[:, K.R_CHARGE_MW], rec[:, K.R_DISCHARGE_MW], rec[:, K.R_LOSS_MW]
    scale = max(1.0, float(np.max(np.abs(e1))))
    # energy: AC in - AC out - losses = change of stored energy, every step
    np.testing.assert_allclose((ch - dis - loss) * dt_h, e1 - e0, rtol=0, atol=1e-9 * scale)
    # and the losses are those of the efficiencies
    np.testing.assert_allclose(loss, ch * (1 - eta_ch) + dis * (1 / eta_dis - 1), rtol=1e-12, atol=1e-12)
    # (these traces have no within-step swing: only a swing across zero charges and discharges in one step)
    assert np.all((ch == 0) | (dis == 0)), "charge and discharge in the same step"
    # site power balance: load - shed - unserved = POI + generation + PV used + BESS
    lhs = rec[:, K.R_LOAD] - rec[:, K.R_SHED] - rec[:, K.R_UNSERVED]
    rhs = rec[:, K.R_POI] + rec[:, K.R_GEN] + rec[:, K.R_PV] + rec[:, K.R_BESS]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-9 * max(1.0, float(np.max(rec[:, K.R_LOAD]))))
    # stored energy within [F, F + U]
    assert np.all(e1 >= cp[K.C_FLOOR_MWH] - 1e-9) and np.all(e1 <= cp[K.C_TOP_MWH] + 1e-9)
    # PCS power and inverter apparent power
    b, q = rec[:, K.R_BESS], rec[:, K.R_Q_BESS]
    assert np.all(np.abs(b) <= cp[K.C_PCS_MW] * (1 + 1e-12) + 1e-9)
    assert np.all(b * b + q * q <= cp[K.C_S_MVA] ** 2 * (1 + 1e-9) + 1e-9)
    assert np.all(q >= 0) and np.all(rec[:, K.R_Q_SHORT] >= -1e-12)
    # no export when not allowed; nothing through the POI while the grid is down
    if not site.grid.export_allowed:
        assert np.all(rec[:, K.R_POI] >= -1e-9)
    assert np.all(rec[rec[:, K.R_GRID] == 0, K.R_POI] == 0)
    assert np.all(rec[:, K.R_UNSERVED] >= 0) and np.all(rec[:, K.R_SHED] >= 0)
    assert np.all(rec[:, K.R_PV] >= -1e-12) and np.all(rec[:, K.R_GEN] >= -1e-12)
    # every ramp violation has a cause: the battery at a limit (now or within the 60 s the
    # window remembers) or an import cap falling faster than the ramp rules; never none
    assert run.metric(K.M_CAUSE_NONE) == 0
    viol = rec[:, K.R_VIOLATION_MW] > 0
    assert np.all(rec[viol, K.R_CAUSE] >= 1) and np.all(rec[viol, K.R_CAUSE] <= 4)
    # independent of the kernel's own cause code: at or within 60 s before every violation the
    # recorded steps show the battery at its power limit or at a stored-energy limit, or the
    # import cap falling (a notice's pre-ramp or a drop of the trace's limit)
    at_power = np.abs(np.abs(b) - rec[:, K.R_P_AVAIL]) <= 1e-9
    at_energy = ((e1 <= cp[K.C_RT_TOP_MWH] + 1e-9) | (e1 <= cp[K.C_FLOOR_MWH] + 1e-9)
                 | (e1 >= cp[K.C_TOP_MWH] - 1e-9) | (e0 <= cp[K.C_RT_TOP_MWH] + 1e-9) | (e0 >= cp[K.C_TOP_MWH] - 1e-9))
    cap_falls = (rec[:, K.R_PHASE] == 1) | (np.diff(rec[:, K.R_LIMIT], prepend=rec[0, K.R_LIMIT]) < 0)
    evidence = at_power | at_energy | cap_falls
    for t in np.flatnonzero(viol):
        assert evidence[max(0, t - 60): t + 1].any(), f"ramp violation at step {t} with the battery free"


def test_steady_load_is_quiet():
    """A flat load: POI equals the load, the battery idles at its setpoint, nothing is violated."""
    site = make_site()
    design = make_design(site)
    run, rec, cp = replay(site, design, make_trace(np.full(600, 50.0)))
    assert_invariants(site, design, run, rec, cp)
    np.testing.assert_allclose(rec[:, K.R_POI], 50.0)
    assert np.all(np.abs(rec[:, K.R_BESS]) < 1e-9)
    assert run.metric(K.M_RAMP_VIOL_STEPS) == 0 and run.metric(K.M_UNSERVED_MWH) == 0


def test_load_step_follows_the_ramp_triangle():
    """A +30 MW step at t = 100 s (smoothing 0, r_s = 2 MW/s, r_m = 20 MW per 60 s, no lag).

    Hand derivation: the POI answers in the same step, p_100 = 42, and rises 2 MW/s to
    p_109 = 60 (the per-minute allowance, 20 MW above the window minimum 40); the battery gives
    28, 26, ..., 10 (190 MW s). The POI holds 60 until the 40s leave the 60 s window: t = 110..159,
    10 MW for 50 s (500 MW s). From t = 160 the window minimum is p_100 = 42, so p = 62, 64, 66,
    68, 70 (battery 8, 6, 4, 2, 0: 20 MW s). The recovery term cannot act: the policy's target is
    above the ramp bound throughout. Total 710 MW s = 0.19722 MWh AC, 0.21437 MWh stored
    (eta_dis = 0.92). Afterwards the deviation d decays as d' = -d / T_rec (T_rec = 900 s), so at
    the last step (t = 1199) it is 0.21437 * exp(-(1199 - 164) / 900).
    """
    site = make_site()
    design = make_design(site)
    load = np.full(1200, 40.0)
    load[100:] = 70.0
    run, rec, cp = replay(site, design, make_trace(load))
    assert_invariants(site, design, run, rec, cp)
    p = rec[:, K.R_POI]
    assert run.metric(K.M_RAMP_VIOL_STEPS) == 0
    np.testing.assert_allclose(p[100:110], 42.0 + 2.0 * np.arange(10), atol=1e-9)
    np.testing.assert_allclose(p[110:160], 60.0, atol=1e-9)
    np.testing.assert_allclose(p[160:165], [62, 64, 66, 68, 70], atol=1e-9)
    delivered_mw_s = rec[100:165, K.R_DISCHARGE_MW].sum()
    assert delivered_mw_s == pytest.approx(710.0, abs=1e-9)
    drop = rec[99, K.R_STORED] - rec[164, K.R_STORED]
    assert drop == pytest.approx(710.0 / 3600.0 / 0.92, rel=1e-12)
    # continuous-time decay vs the discrete steps: within 0.5 % of the derivation
    expected_left = drop * math.exp(-(1199 - 164) / 900.0)
    assert rec[99, K.R_STORED] - rec[1199, K.R_STORED] == pytest.approx(expected_left, rel=5e-3)


def test_five_second_steps():
    """At dt = 5 s the per-step ramp allowance is 10 MW and the window holds 12 steps: a +30 MW
    step is met by 10 MW per step up to the 20 MW per-minute allowance (two steps), then held."""
    site = make_site(scenarios={"transient_resolution_s": 5})
    design = make_design(site, pcs_mw=40.0)
    load = np.full(200, 40.0)
    load[20:] = 70.0
    grid = np.ones(200, np.int8)
    grid[100] = 0  # one 5 s step: still a sag (ceil(0.5 / 5) + 1 = 2 steps)
    run, rec, cp = replay(site, design, make_trace(load, grid=grid))
    assert_invariants(site, design, run, rec, cp)
    p = rec[:, K.R_POI]
    np.testing.assert_allclose(p[20:22], [50.0, 60.0], atol=1e-9)
    assert np.all(p[22:32] <= 60.0 + 1e-9)
    assert run.metric(K.M_RAMP_VIOL_STEPS) == 0
    assert run.hourly.shape[0] == 1 and run.hourly[0, K.H_COUNT] == 200


def test_undersized_pcs_violates_the_ramp_only_at_its_limit():
    """A 30 MW step with a 5 MW PCS: the POI must jump; every violation step has the battery at
    its power limit that step or within the last 60 s."""
    site = make_site()
    design = make_design(site, pcs_mw=5.0)
    load = np.full(600, 40.0)
    load[100:] = 70.0
    run, rec, cp = replay(site, design, make_trace(load))
    assert_invariants(site, design, run, rec, cp)
    viol = np.flatnonzero(rec[:, K.R_VIOLATION_MW] > 0)
    assert viol.size > 0
    assert run.metric(K.M_CAUSE_POWER) > 0
    at_power = np.flatnonzero(np.abs(np.abs(rec[:, K.R_BESS]) - rec[:, K.R_P_AVAIL]) < 1e-9)
    for t in viol:
        assert at_power[(at_power <= t) & (at_power >= t - 60)].size > 0, t


def test_empty_battery_violates_by_energy():
    """A long deficit drains a small battery: violations then carry the energy cause (C-rate 20, so
    the 2 MWh cells do not cap the 30 MW PCS first)."""
    site = make_site(bess={"max_c_rate": 20})
    design = make_design(site, energy_mwh=2.0, pcs_mw=30.0, rt=0.1, up=0.1, cu=0.1, dn=0.1)
    load = np.full(1800, 40.0)
    load[100:] = 100.0
    run, rec, cp = replay(site, design, make_trace(load))
    assert_invariants(site, design, run, rec, cp)
    assert run.metric(K.M_CAUSE_ENERGY) > 0
    # connected, the battery stops at the top of the ride-through reserve, not the floor
    assert rec[:, K.R_STORED].min() >= cp[K.C_RT_TOP_MWH] - 1e-9


def test_loss_of_grid_ride_through_generation_and_reconnection():
    """Grid lost for 300 s at 50 MW: the battery carries the load, three 10 MW engines start
    (60 s) and ramp at 0.5 MW/s each, then import returns at reconnect_ramp (20 MW/min) while
    generation hands the load back."""
    site = make_site()
    design = make_design(site, energy_mwh=40.0, pcs_mw=60.0, units=5)
    n = 1800
    grid = np.ones(n, np.int8)
    grid[200:500] = 0
    run, rec, cp = replay(site, design, make_trace(np.full(n, 50.0), grid=grid))
    assert_invariants(site, design, run, rec, cp)
    assert run.metric(K.M_UNSERVED_MWH) == 0
    o = run.outages[0]
    assert o[K.O_START] == 200 and o[K.O_STEPS] == 300 and o[K.O_RT_OK] == 1 and o[K.O_ISLAND_OK] == 1
    gen = rec[:, K.R_GEN]
    assert np.all(gen[200:260] == 0)  # start time 60 s
    assert gen[400] == pytest.approx(50.0)  # generation carries the island
    p = rec[:, K.R_POI]
    assert np.all(np.diff(p[500:900]) <= 20.0 / 60.0 + 1e-9)  # reconnect ramp
    # generation has handed the load back; import carries it and refills the battery
    assert gen[-1] == pytest.approx(0.0, abs=1e-9)
    assert p[-1] >= 50.0 and rec[-1, K.R_BESS] <= 0.0
    assert run.metric(K.M_RAMP_VIOL_STEPS) == 0


def test_cheap_engines_replace_import_within_the_ramp_rules():
    """Fuel 45 USD/MWh; the grid price rises from 40 to 80 USD/MWh at t = 100 s (and falls back at
    t = 900 s) on a flat 50 MW load.
    Engines (6 x 10 MW, 60 s start) are ordered at the price change, run from t = 160 s, reach
    their minimum load (5 x 3 MW) at their own ramp (5 x 0.5 MW/s; the battery takes that faster
    step) and then rise no faster than the POI's steady rate (min(2 MW/s, 20 MW/min / 60) = 1/3
    MW/s), so import falls within the ramp rules and ends at ~0. When the price falls back below
    the fuel cost, they hand the load back at the same rate."""
    site = make_site(generation=[ENGINES_45_USD])
    design = make_design(site, units=6)
    n = 1500
    price = np.where((np.arange(n) >= 100) & (np.arange(n) < 900), 80.0, 40.0)
    run, rec, cp = replay(site, design, make_trace(np.full(n, 50.0), price=price))
    assert_invariants(site, design, run, rec, cp)
    assert run.metric(K.M_RAMP_VIOL_STEPS) == 0
    gen = rec[:, K.R_GEN]
    assert np.all(gen[:160] == 0) and gen[160] > 0 and np.all(np.diff(gen) <= 2.5 + 1e-9)
    above_min = gen[:-1] >= 15.0 - 1e-9
    assert np.all(np.diff(gen)[above_min] <= 1 / 3 + 1e-9)
    assert gen[899] == pytest.approx(50.0) and rec[899, K.R_POI] == pytest.approx(0.0, abs=1e-6)
    assert run.metric(K.M_STARTS) == 5  # ceil(50 / 10), started once
    assert gen[-1] < gen[899] and np.all(np.diff(gen[900:]) >= -1 / 3 - 1e-9)  # handed back steadily
    # ...through their minimum load (nothing else needs them, and they idled there longer than their
    # 60 s start time) to zero at t = 899 + 50 / (1/3) = 1049 s, and stop
    np.testing.assert_allclose(gen[900:1049], 50.0 - (np.arange(900, 1049) - 899) / 3.0, atol=1e-6)
    assert np.all(gen[1049:] <= 1e-9)


def test_a_unit_no_longer_needed_idles_for_its_start_time_then_stops():
    """50 MW flat load, import limit 45 MW until t = 600 s, then 1000 MW; fuel dearer than the
    grid. One 10 MW engine (minimum load 3 MW, start time 60 s) carries the 5 MW gap from the
    start. At t = 600 nothing needs it: it hands its load back at the POI's steady rate
    r = min(2 MW/s, 20 MW/min / 60) = 1/3 MW/s, 5 - (t - 599) / 3, down to its minimum load at
    t = 605; idles there while t - 600 < 60 (a need returning within its start time finds it
    running); then unloads at r, 3 - (t - 659) / 3, to zero at t = 668, and stops. Before, it idled
    at 3 MW for ever (the hand-back's target, output less r dt, never reached zero)."""
    site = make_site(generation=[ENGINES_45_USD])
    design = make_design(site, units=6)
    n = 1200
    limit = np.where(np.arange(n) < 600, 45.0, 1000.0)
    run, rec, cp = replay(site, design, make_trace(np.full(n, 50.0), limit_mw=limit, price=40.0))
    assert_invariants(site, design, run, rec, cp)
    gen = rec[:, K.R_GEN]
    assert np.all(gen[:600] == pytest.approx(5.0))
    t = np.arange(600, 606)
    np.testing.assert_allclose(gen[t], 5.0 - (t - 599) / 3.0, atol=1e-9)
    np.testing.assert_allclose(gen[605:660], 3.0, atol=1e-9)
    t = np.arange(660, 669)
    np.testing.assert_allclose(gen[t], 3.0 - (t - 659) / 3.0, atol=1e-9)
    assert np.all(gen[668:] <= 1e-9)
    assert run.metric(K.M_STARTS) == 0 and run.metric(K.M_RAMP_VIOL_STEPS) == 0


def test_cheap_engines_already_run_at_the_start():
    """A trace starts in steady state: engines cheaper than the first price already carry the load."""
    site = make_site(generation=[ENGINES_45_USD])
    run, rec, cp = replay(site, make_design(site, units=6), make_trace(np.full(300, 50.0)))
    assert np.all(rec[:, K.R_GEN] == pytest.approx(50.0)) and np.all(np.abs(rec[:, K.R_POI]) < 1e-9)
    assert run.metric(K.M_STARTS) == 0


def test_sag_is_invisible_to_the_ramp_history():
    """A dip of at most 0.5 s that straddles a bin boundary (two 1 s bins): the battery carries
    it and import resumes where it was, no violation (a longer outage would restore at the
    reconnection ramp)."""
    site = make_site()
    design = make_design(site, pcs_mw=60.0)
    grid = np.ones(300, np.int8)
    grid[99:101] = 0
    run, rec, cp = replay(site, design, make_trace(np.full(300, 50.0), grid=grid))
    assert_invariants(site, design, run, rec, cp)
    assert rec[100, K.R_BESS] == pytest.approx(50.0)
    assert 50.0 - 1e-9 <= rec[101, K.R_POI] <= 50.0 + 2.0  # resumes (plus a little to refill)
    assert run.metric(K.M_RAMP_VIOL_STEPS) == 0 and run.metric(K.M_UNSERVED_MWH) == 0


def test_curtailment_uses_its_notice():
    """A curtailment (limit 120 -> 60 MW) announced 1800 s ahead, at 100 MW load: the grid
    pre-ramps down so it reaches the firm import by the start, engines are committed in the
    notice, and neither the import limit nor the ramp rules are broken."""
    site = make_site()
    design = make_design(site, energy_mwh=60.0, pcs_mw=50.0, cu=20.0, units=4)
    n = 7200
    phase = np.zeros(n, np.int8)
    phase[600:2400] = 1
    phase[2400:4200] = 2
    phase[4200:6000] = 3
    limit = np.where(phase == 2, 60.0, 120.0)
    run, rec, cp = replay(site, design, make_trace(np.full(n, 100.0), limit_mw=limit, phase=phase))
    assert_invariants(site, design, run, rec, cp)
    assert run.metric(K.M_IMPORT_VIOL_STEPS) == 0
    assert run.metric(K.M_RAMP_VIOL_STEPS) == 0
    assert rec[2399, K.R_POI] <= 60.0 + cp[K.C_PRERAMP_MW_PER_S] + 1e-9  # one second of pre-ramp left
    assert rec[2400, K.R_POI] <= 60.0 + 1e-9
    assert rec[2400, K.R_GEN] > 0  # committed in the notice, running at the start
    assert run.metric(K.M_UNSERVED_MWH) == 0


def test_curtailment_without_notice_is_the_import_caps_fault():
    """The limit falls 60 MW at once with no notice: the POI must drop faster than its ramp
    rules; the violation is attributed to the import cap, not left unexplained."""
    site = make_site()
    design = make_design(site, energy_mwh=60.0, pcs_mw=80.0, cu=20.0)
    n = 600
    phase = np.zeros(n, np.int8)
    phase[300:] = 2
    limit = np.where(phase == 2, 60.0, 120.0)
    run, rec, cp = replay(site, design, make_trace(np.full(n, 100.0), limit_mw=limit, phase=phase))
    assert_invariants(site, design, run, rec, cp)
    assert run.metric(K.M_CAUSE_IMPORT) >= 1
    assert rec[300, K.R_CAUSE] == 3


def test_swings_within_a_step_need_pcs_power():
    """Bin mean 50 MW, within-bin extremes 35..65 MW (a swing faster than the 1 s step): the
    battery must move +-15 MW inside the step. A 10 MW PCS leaves 5 MW for the POI to see; a
    20 MW PCS follows it (hand derivation: 65 - 50 - 10 = 5, plus the charging that replaces the
    swing's losses, below their 0.77 MW rate: see the next test)."""
    site = make_site()
    n = 300
    ds = make_trace(np.full(n, 50.0), load_min_mw=35.0, load_max_mw=65.0)
    run, rec, cp = replay(site, make_design(site, pcs_mw=10.0), ds)
    assert 5.0 - 1e-9 <= run.metric(K.M_SUBSTEP_SHORT_WORST_MW) <= 5.0 + 0.77
    assert run.metric(K.M_SUBSTEP_SHORT_STEPS) == n
    run, rec, cp = replay(site, make_design(site, pcs_mw=20.0), ds)
    assert run.metric(K.M_SUBSTEP_SHORT_STEPS) == 0


def test_swings_within_a_step_lose_energy():
    """The same +-15 MW swing around a 50 MW mean the POI carries: the battery discharges 15 MW for
    half of each step and charges 15 MW for the other half (mean 0). Hand derivation of the loss,
    charge 0.96 and discharge 0.92 (unequal on purpose): 0.5 x 15 x (1/0.92 - 1) + 0.5 x 15 x
    (1 - 0.96) = 0.652 + 0.300 = 0.952 MW, i.e. the first step (POI steady at 50 MW, battery at
    mean 0) loses 0.952 / 3600 MWh of stored energy; the charge and discharge both show."""
    site = make_site(bess={"charge_efficiency": 0.96, "discharge_efficiency": 0.92})
    ds = make_trace(np.full(60, 50.0), load_min_mw=35.0, load_max_mw=65.0)
    run, rec, cp = replay(site, make_design(site, pcs_mw=20.0), ds)
    first = rec[0]
    assert first[K.R_BESS] == pytest.approx(0.0, abs=1e-9)
    assert first[K.R_DISCHARGE_MW] == pytest.approx(7.5) and first[K.R_CHARGE_MW] == pytest.approx(7.5)
    assert first[K.R_LOSS_MW] == pytest.approx(0.5 * 15 * (1 / 0.92 - 1) + 0.5 * 15 * (1 - 0.96))
    assert first[K.R_STORED_BEFORE] - first[K.R_STORED] == pytest.approx(0.952 / 3600, rel=1e-3)
    # over the minute the lost energy is made up from the grid: stored energy returns toward its setpoint
    assert run.metric(K.M_LOSS_MWH) == pytest.approx(float(rec[:, K.R_LOSS_MW].sum()) / 3600)


def test_pv_surplus_is_curtailed_not_exported():
    """PV above load with no export: the battery charges up to its power, PV is curtailed, the
    POI never goes negative."""
    site = make_site()
    design = make_design(site, pcs_mw=10.0)
    n = 900
    pv = np.zeros(n)
    pv[100:] = 60.0
    run, rec, cp = replay(site, design, make_trace(np.full(n, 30.0), pv_mw=pv))
    assert_invariants(site, design, run, rec, cp)
    assert run.metric(K.M_PV_CURTAILED_MWH) > 0
    assert run.metric(K.M_EXPORT_WORST_MW) == 0


def test_no_battery_design_replays():
    """E = 0, P = 0 (a grid-and-engines-only design): the replay runs, the POI takes every swing."""
    site = make_site()
    design = make_design(site, energy_mwh=1.0, pcs_mw=0.0, inverters=0, rt=0.0, up=0.0, cu=0.0, dn=0.0)
    d = design.model_dump(mode="json")
    d["bess"]["energy_mwh"] = 0.0
    d["bess"]["bands_mwh"]["operating"] = [0.0, 0.0]
    from bess_size.site_spec import Design

    design = Design.model_validate(d)
    load = np.full(600, 40.0)
    load[300:] = 60.0
    run, rec, cp = replay(site, design, make_trace(load))
    assert_invariants(site, design, run, rec, cp)
    assert np.all(rec[:, K.R_BESS] == 0) and run.metric(K.M_CAUSE_POWER) > 0
    assert run.metric(K.M_UNSERVED_MWH) == 0  # the import limit (120 MW) can carry it, just too fast


def test_turning_points_are_the_stored_energy_extremes():
    """Turning points alternate and bracket the recorded stored energy."""
    site = make_site()
    design = make_design(site)
    t = np.arange(3600)
    load = 50 + 20 * np.sign(np.sin(2 * np.pi * t / 600))
    run, rec, cp = replay(site, design, make_trace(load))
    tp = run.turning_points
    assert tp.size >= 6
    d = np.diff(tp[1:])
    assert np.all(d[1:] * d[:-1] < 0)  # alternate up/down
    assert tp.min() >= rec[:, K.R_STORED].min() - 1e-12 and tp.max() <= rec[:, K.R_STORED].max() + 1e-12


@st.composite
def random_case(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(200, 1500))
    load = np.clip(60 + np.cumsum(rng.normal(0, draw(st.floats(0.1, 4.0)), n)), 10, 100)
    if draw(st.booleans()):  # a stall-like drop and restart
        a = int(rng.integers(0, n - 50))
        load[a:a + int(rng.integers(5, 50))] *= 0.4
    pv = np.clip(rng.normal(draw(st.floats(0, 40)), 5, n), 0, None) if draw(st.booleans()) else 0.0
    grid = np.ones(n, np.int8)
    if draw(st.booleans()):
        a = int(rng.integers(0, n - 10))
        grid[a:a + int(rng.integers(1, min(400, n - a)))] = 0
    phase = np.zeros(n, np.int8)
    limit = np.full(n, 120.0)
    if draw(st.booleans()):
        a = int(rng.integers(0, n // 2))
        notice = int(rng.integers(0, 300))
        dur = int(rng.integers(10, 400))
        phase[a:a + notice] = 1
        phase[a + notice:a + notice + dur] = 2
        phase[a + notice + dur:a + notice + dur + 100] = 3
        limit[phase == 2] = 60.0
    export = draw(st.booleans())
    fuel = draw(st.sampled_from([30.0, 80.0]))  # engines cheaper or dearer than the 60 USD/MWh grid
    site = make_site(grid={"export_allowed": export, "smoothing_time_constant_s": draw(st.sampled_from([0, 5, 30])),
                           "ramp_limit_mw_per_s": draw(st.floats(0.5, 5)),
                           "ramp_limit_mw_per_min": draw(st.floats(5, 60))},
                     generation=[{"kind": "gas_engine", "unit_mw": 10, "existing_units": 0, "max_new_units": 12,
                                  "min_load_fraction": draw(st.floats(0.0, 0.6)), "ramp_mw_per_s": draw(st.floats(0.05, 2)),
                                  "start_time_s": draw(st.sampled_from([0, 10, 60, 300])), "fuel_usd_per_mwh": fuel}])
    e = draw(st.floats(1.0, 80.0))
    span = 0.8 * 0.9 * e
    parts = np.array([draw(st.floats(0.01, 1)) for _ in range(5)])
    parts = parts / parts.sum() * span * draw(st.floats(0.1, 0.99))
    design = make_design(site, energy_mwh=e, pcs_mw=draw(st.floats(1.0, 80.0)), units=draw(st.integers(0, 6)),
                         rt=parts[0], up=parts[1], cu=parts[2], dn=parts[3],
                         inverters=draw(st.integers(0, 30)))
    return site, design, make_trace(load, pv_mw=pv, limit_mw=limit, phase=phase, grid=grid)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_case())
def test_invariants_hold_on_random_traces_and_designs(case):
    site, design, ds = case
    run, rec, cp = replay(site, design, ds)
    assert_invariants(site, design, run, rec, cp)
    # metrics agree with the recorded steps
    assert run.metric(K.M_UNSERVED_MWH) == pytest.approx(rec[:, K.R_UNSERVED].sum() / 3600.0, rel=1e-9, abs=1e-12)
    assert run.metric(K.M_RAMP_VIOL_STEPS) == np.count_nonzero(rec[:, K.R_VIOLATION_MW] > 0)
    assert math.isfinite(run.metric(K.M_ENERGY_COST_USD))


def test_units_ordered_later_keep_their_own_start_timer():
    """Import limit 120 MW, 10 MW engines starting in 60 s, fuel dearer than the grid. The load
    steps to 135 MW at t = 10 (15 MW over: 2 units ordered) and to 165 MW at t = 30 (45 MW over:
    3 more): the first two run from t = 70, the other three from t = 90, not with the earlier
    order. So at t = 89 the output is the two units' 20 MW (ramping 1 MW/s from t = 70), and only
    then do the other three add theirs (had all five joined the first timer, t = 89 would see
    min(45, 2.5 x 20) = 45 MW)."""
    site = make_site()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=8)
    load = np.full(400, 100.0)
    load[10:] = 135.0
    load[30:] = 165.0
    run, rec, cp = replay(site, design, make_trace(load))
    assert_invariants(site, design, run, rec, cp)
    gen = rec[:, K.R_GEN]
    assert np.all(gen[:70] == 0.0) and gen[70] > 0.0
    assert gen[89] == pytest.approx(20.0, abs=1e-9)
    assert gen[95] > 25.0


def test_rainflow_damage_matches_the_library_and_the_spec_curve():
    """The compiled count gives the rainflow library's cycles (ASTM E1049) and Miner's sum on the
    spec's curve: with exponent 1 every cycle's damage is its depth / (N_ref x D_ref), so the damage
    is the counted full-cycle equivalents / (6000 x 0.8)."""
    import rainflow

    from bess_size.simulator.metrics import cycle_damage
    from bess_size.site_spec.models import BESS

    x = np.cumsum(np.random.default_rng(3).normal(size=5000)) + 500.0
    usable = 100.0
    bess = BESS(cycle_life_cycles=4000, cycle_life_depth_fraction=0.6, cycle_life_exponent=1.7)
    ref = sum(c * (min(r / usable, 1.0) / 0.6) ** 1.7 for r, c in rainflow.count_cycles(x.tolist())) / 4000
    damage, efc, n = cycle_damage(x, usable, bess)
    assert damage == pytest.approx(ref, rel=1e-12)
    assert n == sum(1 for _ in rainflow.extract_cycles(x.tolist()))
    linear, efc1, _ = cycle_damage(x, usable, BESS())
    assert linear == pytest.approx(efc1 / (6000 * 0.8), rel=1e-12)


def test_stress_points_at_each_contingency_start():
    """A loss of grid at 100 s, a sag sequence with dips at 300 s and 320 s, a call announced at
    500 s: the stress state is set at 100 and 300 (the ride-through reserve's top, F + X_rt; the
    second dip meets what the first left) and at 500 (F + X_rt + X_up + X_cu)."""
    from bess_size.simulator.controller import BandEnergies, stress_points

    site = make_site()
    design = make_design(site, energy_mwh=40.0, rt=5.0, up=3.0, cu=8.0)
    n = 900
    grid = np.ones(n, np.int8)
    grid[100:110] = 0
    grid[300] = 0
    grid[320] = 0
    phase = np.zeros(n, np.int8)
    phase[500:510] = 1
    phase[510:600] = 2
    ev = [{"kind": "loss_of_grid", "start_s": 100.0, "duration_s": 10.0, "source": "contingency"},
          {"kind": "voltage_sag", "start_s": 300.0, "duration_s": 20.4, "source": "contingency",
           "dips": [[300.0, 0.3], [320.0, 0.4]]}]
    trace = TraceArrays.from_dataset(make_trace(np.full(n, 50.0), grid=grid, phase=phase, events=ev), 1.0)
    bands = BandEnergies.from_design(site, design)
    F = 0.05 * 40.0
    assert bands.rt_top_mwh == pytest.approx(F + 5.0) and bands.call_floor_mwh == pytest.approx(F + 16.0)
    np.testing.assert_allclose(stress_points(trace, bands)[:, :2], [[100, F + 5.0], [300, F + 5.0], [500, F + 16.0]])
    # the replay from there: stored energy at the reserve's top when the grid goes, engines cold
    cp, gp, pp = replay_arrays(site, design)
    run = run_kernel(trace, cp, gp, pp, record=[0], record_length=n, stress=stress_points(trace, bands))
    rec = run.recorded[0]
    assert rec[100, K.R_STORED_BEFORE] == pytest.approx(F + 5.0) and rec[100, K.R_GEN] == 0.0
    assert run.outages[0][K.O_E_START_MWH] == pytest.approx(F + 5.0)
    assert rec[500, K.R_STORED_BEFORE] <= F + 16.0 + 1e-9


def test_restoration_after_a_loss_of_grid_is_not_a_forced_ramp():
    """No islanding, no generation: a 50 MW load through a 3000 s loss of grid empties the battery
    (25 MWh asked of 40 x 0.8 x 0.9 usable, less the ride-through top it starts at) and load goes
    unserved. When the grid returns, import comes back at reconnect_ramp (20 MW/min) and the load
    the empty battery cannot carry is held back (restoration, judged by ride-through and unserved
    energy), not forced onto the POI: the ramp checks' figure of forced POI motion stays 0, not the
    50 MW/s a one-step return to full load would be."""
    site = make_site(generation=[], reliability={"islanding": {"required": False}})
    design = make_design(site, energy_mwh=40.0, pcs_mw=60.0, units=0)
    n = 6000
    grid = np.ones(n, np.int8)
    grid[200:3200] = 0
    run, rec, cp = replay(site, design, make_trace(np.full(n, 50.0), grid=grid))
    assert_invariants(site, design, run, rec, cp)
    assert run.metric(K.M_UNSERVED_MWH) > 0  # the battery did run out
    p = rec[:, K.R_POI]
    assert np.all(np.diff(p[3200:3400]) <= 20.0 / 60.0 + 1e-9)  # import returns at the reconnect ramp
    assert run.metric(K.M_RAMP_VIOL_STEPS) == 0
    assert run.metric(K.M_RAMP_NEED_WORST_MW_PER_S) <= site.grid.ramp_limit_mw_per_s
    assert run.metric(K.M_RAMP_NEED_WORST_MW_PER_MIN) <= site.grid.ramp_limit_mw_per_min


def test_a_call_is_judged_in_its_own_stress_state_not_a_sag_stacked_on_it():
    """Flat 90 MW on 60 MW firm + 60 MW non-firm; 4 engines of 10 MW, 200 s start, 0.5 MW/s each.
    A call announced at 100 s, active from 280 s (180 s notice, shorter than the 200 s start); a
    one-second sag at 150 s, inside the notice.

    The call's own stress state (``calls_only``): stored energy at F + X_rt + X_up + X_cu at 100 s,
    engines cold; the call orders ceil(30 / 10) = 3 engines, online at 300 s, at 30 MW by ~320 s:
    the battery carries the 30 MW gap for ~40 s (~0.33 MWh / 0.92 from the cells), well inside
    X_cu = 8 MWh, so import stays at the firm 60 MW.

    Stacked on the sag's stress state (battery reset to F + X_rt, the call's start orders cancelled
    at 150 s) the call starts with nothing above the grid-connected floor and engines that only
    come at ~351 s: import exceeds firm by about the 30 MW gap, whatever X_cu is. That stacked
    state is no requirement's; the sag is judged in its own state by the replay with every row."""
    from bess_size.simulator.controller import BandEnergies, stress_points
    from bess_size.simulator.metrics import curtailment_response

    site = make_site(generation=[{"kind": "gas_engine", "unit_mw": 10, "existing_units": 0, "max_new_units": 12,
                                  "min_load_fraction": 0.3, "ramp_mw_per_s": 0.5, "start_time_s": 200,
                                  "fuel_usd_per_mwh": 80}])
    design = make_design(site, energy_mwh=40.0, units=4, rt=5.0, up=3.0, cu=8.0)
    n = 900
    grid = np.ones(n, np.int8)
    grid[150] = 0
    phase = np.zeros(n, np.int8)
    phase[100:280] = 1
    phase[280:800] = 2
    limit = np.full(n, 120.0)
    limit[280:800] = 60.0
    ev = [{"kind": "voltage_sag", "start_s": 150.0, "duration_s": 0.5, "source": "contingency",
           "dips": [[150.0, 0.5]]}]
    trace = TraceArrays.from_dataset(make_trace(np.full(n, 90.0), limit_mw=limit, grid=grid, phase=phase,
                                                events=ev), 1.0)
    bands = BandEnergies.from_design(site, design)
    F = 0.05 * 40.0
    np.testing.assert_allclose(stress_points(trace, bands)[:, :2], [[100, F + 16.0], [150, F + 5.0]])
    np.testing.assert_allclose(stress_points(trace, bands, calls_only=True)[:, :2], [[100, F + 16.0]])
    cp, gp, pp = replay_arrays(site, design)
    over = {}
    for name, pts in (("own", stress_points(trace, bands, calls_only=True)), ("stacked", stress_points(trace, bands))):
        run = run_kernel(trace, cp, gp, pp, record=[280], record_length=520, stress=pts)
        over[name] = curtailment_response(run.recorded[0], 60.0, 1.0, 1e-6)["import_over_firm_mw"]
    assert over["own"] == 0.0
    assert 20.0 < over["stacked"] <= 30.0 + 1e-6


def test_setpoint_recovery_leaves_the_transient_headroom_free():
    """A price drop moves the arbitrage setpoint to the top of the operating band; the pull back
    to it must not spend the PCS headroom the design keeps for swings (campus-300mw-phased, years
    3-20: at the 21:00 TOU change the battery charged 300 of its 345 MW and the within-step swings
    found no PCS left).

    E = 40 MWh: F = 2, span U = 0.8 x 0.9 x 40 = 28.8, operating band [2+5+3+8, 2+28.8-3] =
    [18, 27.8], so the setpoint jumps from the middle 22.9 to 27.8: a 4.9 MWh deficit, recovery
    term 4.9 x 3600 / (0.96 x 900 s) = 20.4 MW of charge (no smoothing, flat 50 MW load: the
    charge is the recovery term). P = 30 MW, headroom down R = 18 MW: the recovery may charge at
    most P - R = 12 MW. Swings of +-14 MW inside each step: at 12 MW of charge they need 26 <= 30
    MW; at 20 MW they would need 34 > 30 MW (the shortfall the check counts).
    """
    site = make_site()
    design = make_design(site, pcs_mw=30.0, units=0)
    design.bess.headroom_mw = design.bess.headroom_mw.model_copy(update={"up": 5.0, "down": 18.0})
    n = 1800
    price = np.where(np.arange(n) < 600, 60.0, 30.0)
    ds = make_trace(np.full(n, 50.0), load_min_mw=36.0, load_max_mw=64.0, price=price)
    run, rec, cp = replay(site, design, ds)
    setpoint = rec[:, K.R_SETPOINT]
    assert setpoint[0] == pytest.approx(22.9) and setpoint[700] == pytest.approx(27.8)
    charge = -rec[600:, K.R_BESS]
    assert charge.max() == pytest.approx(12.0, abs=0.8)  # plus the swings' losses made good (< 0.8 MW)
    assert run.metric(K.M_SUBSTEP_SHORT_STEPS) == 0


def test_recovery_from_a_loss_of_grid_refills_the_bands_before_normal_running():
    """The grid is lost for 600 s at 50 MW with no engines: the battery draws 50 x 600 / 3600 /
    0.92 = 9.06 MWh from the middle of the band (22.9) and more while import returns at 20 MW/min
    (150 s, about 1.1 MWh): about 12.7 MWh, below the normal floor F + X_rt + X_cu = 15 MWh but
    above the ride-through top F + X_rt = 7. Until the refill is back at the operating band
    (18 MWh), the running is recovery, not normal running: the soc_bands figure (stored energy
    the controller wanted above the normal floor) stays >= 0 while the battery only charges."""
    site = make_site()
    design = make_design(site, pcs_mw=60.0, units=0)
    n = 3600
    grid = np.ones(n, np.int8)
    grid[200:800] = 0
    run, rec, cp = replay(site, design, make_trace(np.full(n, 50.0), grid=grid))
    stored = rec[:, K.R_STORED]
    assert 12.0 < stored.min() < 13.5
    assert stored[-1] >= 18.0 - 1e-6  # refilled to the operating band
    assert run.metric(K.M_BAND_LOW_MARGIN_MWH) >= 0.0


def test_a_sag_in_a_notice_keeps_the_calls_unit_starts():
    """A curtailment (limit 120 -> 60 MW at 100 MW load) announced 1800 s ahead: its notice orders
    ceil((100 - 60) / 10) = 4 engines at once (t = 600 s), which synchronise after their 60 s start,
    at t = 660 s. A sag at t = 620-621 s (the island orders every other engine too) must not cancel
    the call's starts: they still synchronise at 660 s, as without the sag; only the sag's own
    orders are cancelled, so 4 engines start in all, not 6."""
    site = make_site()
    design = make_design(site, energy_mwh=60.0, pcs_mw=50.0, cu=20.0, units=6)
    n = 3000
    phase = np.zeros(n, np.int8)
    phase[600:2400] = 1
    phase[2400:2700] = 2
    limit = np.where(phase == 2, 60.0, 120.0)
    grid = np.ones(n, np.int8)
    grid[620:622] = 0
    first = {}
    for name, g in (("sag", grid), ("no sag", None)):
        run, rec, cp = replay(site, design, make_trace(np.full(n, 100.0), limit_mw=limit, phase=phase, grid=g))
        assert_invariants(site, design, run, rec, cp)
        assert run.outages.shape[0] == (1 if g is not None else 0)
        first[name] = int(np.flatnonzero(rec[:, K.R_GEN] > 0)[0])
        assert run.metric(K.M_STARTS) == 4, name
    assert first == {"sag": 660, "no sag": 660}
