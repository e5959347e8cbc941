"""One small failing case per check: the smallest trace and design that make it FAIL, derived by
hand, with the measured figure crossing its limit by the derived amount.

Sites: 100 MW IT, no smoothing (the POI policy follows the load within its ramp limits), ramp
limits 2 MW/s and 20 MW/min, import limit 120 MW, charge 0.96 / discharge 0.92 (unequal on
purpose), and ``target_success_rate`` 0.2 so a single trace can prove or refute it
(Wilson lower bound of 1/1 is 1 / (1 + 1.96^2) = 0.206).
"""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.simulator import simulate
from bess_size.simulator import kernel as K
from bess_size.simulator.checks import Check
from bess_size.simulator.controller import TraceArrays, replay_arrays, run_kernel
from bess_size.simulator.validation import build_checks

from .helpers import make_design, make_site, make_trace

ETA_CH, ETA_DIS = 0.96, 0.92


def site(**over):
    rel = {"target_success_rate": 0.2, "ride_through": {"duration_s": 30, "load_fraction": 1.0},
           "islanding": {"required": True}}
    return make_site(reliability=rel, bess={"charge_efficiency": ETA_CH, "discharge_efficiency": ETA_DIS}, **over)


def check(v, name) -> Check:
    return next(c for c in v.checks if c.requirement == name)


def flat(n=600, mw=50.0):
    return np.full(n, mw)


def test_poi_ramp_limit_fails_on_a_step_the_pcs_cannot_take():
    """50 -> 60 MW at t = 300 s with a 2 MW PCS: the POI may move 2 MW in the step and the battery
    can take 2 MW, so the POI is forced up 10 - 2 = 8 MW in one second: 8 MW/s > 2 MW/s."""
    s = site()
    load = flat()
    load[300:] = 60.0
    v = simulate(s, make_design(s, pcs_mw=2.0, units=0), held_out=[make_trace(load)])
    c = check(v, "poi_ramp_limit")
    assert c.status == "fail" and c.measured == pytest.approx(8.0, abs=1e-6) and c.margin == pytest.approx(-6.0, abs=1e-6)


def test_poi_ramp_limit_per_min_fails_on_a_sustained_ramp():
    """50 -> 95 MW at 1.5 MW/s (30 s): within the one-second rule, but 45 MW in half a minute; a
    2 MW PCS leaves at least 45 - 2 = 43 MW of POI change within the 60 s window (> 20 MW/min)."""
    s = site()
    load = flat()
    load[300:330] = 50.0 + 1.5 * np.arange(1, 31)
    load[330:] = 95.0
    v = simulate(s, make_design(s, pcs_mw=2.0, units=0), held_out=[make_trace(load)])
    c = check(v, "poi_ramp_limit_per_min")
    assert c.status == "fail" and c.measured == pytest.approx(43.0, abs=1e-6)
    assert check(v, "poi_ramp_limit").passed  # the one-second rule held


def test_import_limit_fails_when_the_pcs_cannot_cover_the_gap():
    """125 MW of load against a 120 MW import limit, no units, a 2 MW PCS: the POI carries
    125 - 2 = 123 MW, 3 MW above the limit."""
    s = site()
    v = simulate(s, make_design(s, pcs_mw=2.0, units=0), held_out=[make_trace(flat(mw=125.0))])
    c = check(v, "import_limit")
    assert c.status == "fail" and c.measured == pytest.approx(3.0, abs=1e-6)


def test_no_export_is_not_applicable_without_pv_and_fails_on_export():
    """No PV: nothing can push power out of the POI, so the check is N/A, never a PASS. With PV the
    controller curtails PV before the POI could export, so only a controller fault fails it: a
    scenario row exporting 1 MW fails it with measured 1 MW."""
    s = site()
    v = simulate(s, make_design(s, units=0), held_out=[make_trace(flat())])
    assert "no_export" in v.not_applicable and all(c.requirement != "no_export" for c in v.checks)
    pv_site = site(generation=[{"kind": "gas_engine", "unit_mw": 10, "max_new_units": 12, "fuel_usd_per_mwh": 80},
                               {"kind": "pv", "capacity_mw": 40}])
    design = make_design(pv_site, units=0)
    row = v.scenarios[0] | {"export_worst_mw": 1.0}
    checks, _, na = build_checks(pv_site, design, [row])
    c = next(c for c in checks if c.requirement == "no_export")
    assert "no_export" not in na and c.status == "fail" and c.measured == 1.0


def test_sub_step_buffering_fails_when_swings_exceed_the_pcs():
    """Bin mean 50 MW swinging 35..65 MW within each second; a 10 MW PCS misses at least
    65 - 50 - 10 = 5 MW of it."""
    s = site()
    v = simulate(s, make_design(s, pcs_mw=10.0, units=0),
                 held_out=[make_trace(flat(), load_min_mw=35.0, load_max_mw=65.0)])
    c = check(v, "sub_step_buffering")
    assert c.status == "fail" and c.measured >= 5.0 - 1e-9


def sag_trace(n=600):
    grid = np.ones(n, np.int8)
    grid[300] = 0
    ev = [{"kind": "voltage_sag", "start_s": 300.0, "duration_s": 1.0, "source": "contingency", "dips": [[300.0, 0.4]]}]
    return make_trace(flat(n), grid=grid, events=ev)


def test_voltage_sag_ride_through_fails_with_a_small_pcs():
    """A one-second dip at 50 MW: with the engines cold the battery alone must deliver 50 MW; a
    20 MW PCS (40 MWh, so the C-rate allows 80 MW) delivers 20: measured 50 MW > 20 MW."""
    s = site()
    v = simulate(s, make_design(s, pcs_mw=20.0, units=3), held_out=[sag_trace()])
    c = check(v, "voltage_sag_ride_through")
    assert c.status == "fail" and c.unit == "MW"
    assert c.measured == pytest.approx(50.0) and c.limit == pytest.approx(20.0)


def test_reactive_power_fails_with_too_few_inverters_in_an_island():
    """In the sag's island the load's 50 MW at power factor 0.95 needs Q = 50 tan(acos 0.95) =
    16.43 Mvar from the battery as well: S = sqrt(50^2 + 16.43^2) = 52.63 MVA against 12 x 4.2 =
    50.4 MVA of inverters."""
    s = site()
    v = simulate(s, make_design(s, pcs_mw=60.0, inverters=12, units=3), held_out=[sag_trace()])
    c = check(v, "reactive_power")
    q = 50.0 * np.tan(np.arccos(0.95))
    assert c.status == "fail" and c.limit == pytest.approx(50.4)
    assert c.measured == pytest.approx(np.hypot(50.0, q), rel=1e-6)


def test_unserved_energy_fails_when_an_outage_outlasts_the_battery():
    """600 s without grid at 50 MW, no units: the 10 MWh battery starts mid-band (6.85 MWh stored,
    floor 0.5) and can give (6.85 - 0.5) x 0.92 = 5.84 MWh, i.e. 421 s; the last 179 s at least,
    2.49 MWh, go unserved (more while import returns at 20 MW/min)."""
    s = site()
    grid = np.ones(1200, np.int8)
    grid[300:900] = 0
    ev = [{"kind": "loss_of_grid", "start_s": 300.0, "duration_s": 600.0, "source": "contingency"}]
    d = make_design(s, energy_mwh=10.0, pcs_mw=20.0, units=0, rt=5.0, up=0.5, cu=0.5, dn=0.5)
    v = simulate(s, d, held_out=[make_trace(flat(1200), grid=grid, events=ev)])
    c = check(v, "unserved_energy")
    lower = 50.0 * (600 - (6.85 - 0.5) * ETA_DIS / 50.0 * 3600) / 3600
    assert c.status == "fail" and c.measured >= lower - 1e-6


def test_soc_bands_fails_when_a_full_battery_makes_the_poi_take_a_surplus():
    """The operating band sits 0.075 MWh under the top (E = 10: F = 0.5, top = 7.7, band
    [7.6, 7.65]). The load falls 50 -> 10 MW at once; the POI may fall only 20 MW a minute, so the
    battery must store about 40 x 60 / 2 x ... far more than 0.075 MWh: it fills and the POI takes
    the rest."""
    s = site()
    load = flat()
    load[300:] = 10.0
    d = make_design(s, energy_mwh=10.0, pcs_mw=50.0, units=0, rt=5.0, up=0.5, cu=1.6, dn=0.05)
    v = simulate(s, d, held_out=[make_trace(load)])
    c = check(v, "soc_bands")
    assert c.status == "fail" and c.detail["top_surplus_to_poi_mwh"] > 0 and c.detail["top_margin_mwh"] < 0


def test_too_few_scenarios_are_inconclusive_not_a_failure():
    """Four passing scenarios cannot prove 0.95 (4 / (4 + 1.96^2) = 0.51): INCONCLUSIVE, and the
    validation does not pass; one failing scenario among them is still inconclusive (upper bound
    above 0.95), four failing ones fail."""
    s = make_site(reliability={"target_success_rate": 0.95})
    c = Check("x", "d", 0.0, 1.0, "MW", 4, 4, 0.95, "e")
    assert c.status == "inconclusive" and not c.passed
    assert Check("x", "d", 0.0, 1.0, "MW", 4, 3, 0.95, "e").status == "inconclusive"
    assert Check("x", "d", 0.0, 1.0, "MW", 4, 0, 0.95, "e").status == "fail"
    assert Check("x", "d", 0.0, 1.0, "MW", 100, 99, 0.95, "e").status == "fail"  # could have proven it
    v = simulate(s, make_design(s, units=3), held_out=[make_trace(flat(), index=i) for i in range(4)])
    assert {c.status for c in v.checks} == {"inconclusive"} and not v.passed


def test_ramp_violations_recomputed_from_the_recorded_poi():
    """The kernel's ramp counts against an independent count over its own recorded POI series:
    a step breaks the one-second rule when |p_t - p_(t-1)| > 2 MW, the minute rule when
    max over the previous 60 steps of |p_t - p_k| > 20 MW. Random +-12 MW swings on 50 MW with a
    3 MW PCS break both often."""
    s = site()
    rng = np.random.default_rng(7)
    n = 1800
    load = 50.0 + 12.0 * np.sign(np.sin(np.arange(n) * 2 * np.pi / rng.uniform(8, 30))) + rng.normal(0, 1.0, n)
    load[:120] = 50.0  # steady start: the POI's history before t = 0 is the first step's
    trace = TraceArrays.from_dataset(make_trace(load), 1.0)
    cp, gp, pp = replay_arrays(s, make_design(s, pcs_mw=3.0, units=0))
    run = run_kernel(trace, cp, gp, pp, record=[0], record_length=n)
    p = run.recorded[0][:, K.R_POI]
    tol = 1e-6
    d1 = np.abs(np.diff(p, prepend=p[0]))
    one = int(np.sum(d1 > 2.0 + tol + 1e-9 * np.abs(p)))
    sixty = 0
    for t in range(n):
        past = p[max(0, t - 60):t] if t > 0 else p[:1]
        if np.max(np.abs(p[t] - past)) > 20.0 + tol + 1e-9 * abs(p[t]):
            sixty += 1
    assert one > 0 and sixty > 0
    assert run.metric(K.M_RAMP1_VIOL_STEPS) == one
    assert run.metric(K.M_RAMP60_VIOL_STEPS) == sixty
    assert run.metric(K.M_RAMP_WORST_MW_PER_S) == pytest.approx(float(d1.max()))


def test_poi_ramp_limit_per_min_fails_on_a_sustained_drop():
    """The same ramp downwards (95 -> 50 MW at 1.5 MW/s): the 2 MW PCS can absorb 2 MW, so the POI
    must fall at least 45 - 2 = 43 MW within the 60 s window: the minute rule measures downward
    swings too."""
    s = site()
    load = flat(mw=95.0)
    load[300:330] = 95.0 - 1.5 * np.arange(1, 31)
    load[330:] = 50.0
    v = simulate(s, make_design(s, pcs_mw=2.0, units=0), held_out=[make_trace(load)])
    c = check(v, "poi_ramp_limit_per_min")
    assert c.status == "fail" and c.measured == pytest.approx(43.0, abs=1e-6)


def test_ride_through_fails_on_swings_within_a_step_in_an_island():
    """A loss of grid at 50 MW mean whose bins swing 40..60 MW: a 55 MW PCS carries the mean but not
    the 60 MW peaks within each second, which in an island nothing else can follow. The check needs
    the within-step peak, 60 MW, against 55 MW (grid-connected, the POI would have seen the rest)."""
    s = site()
    n = 900
    grid = np.ones(n, np.int8)
    grid[300:400] = 0
    ev = [{"kind": "loss_of_grid", "start_s": 300.0, "duration_s": 100.0, "source": "contingency"}]
    tr = make_trace(flat(n), grid=grid, events=ev, load_min_mw=40.0, load_max_mw=60.0)
    v = simulate(s, make_design(s, pcs_mw=55.0, units=6), held_out=[tr])
    c = check(v, "ride_through")
    assert c.status == "fail" and c.unit == "MW"
    assert c.measured == pytest.approx(60.0) and c.limit == pytest.approx(55.0)
