"""Contingency terms at every resolution: the step length counted once, reactive power as operating
points, the worst window of a measured trace, the reconnection ramp, and flexible load shed in an
island only when the spec says so.

Sites as in test_hand_derived (measured trace used as given, one scenario of one day, no
generation unless stated, U = 0.72 E) with charge/discharge efficiencies 0.96/0.92: every
ride-through energy is delivered energy / 0.92 (a swapped efficiency would give / 0.96, 4% less).
The design outage is followed by the reconnection ramp (20 MW/min = 1/3 MW/s by default): after
a covered outage at load L the battery carries sum_{b=1}^{B-1} (L - b/3), B = 3 L, which is
L (B - 1) - (B - 1) B / 6.
"""

from __future__ import annotations

import math

import pytest

from bess_size.optimizer import optimize
from bess_size.optimizer.data import worst_window_start_s
from bess_size.scenarios import generate_scenarios

ETA_CH, ETA_DIS = 0.96, 0.92
DAY = 86400
EFF = {"charge_efficiency": ETA_CH, "discharge_efficiency": ETA_DIS}


def close(a, b, rel=0.005):
    return a == pytest.approx(b, rel=rel, abs=1e-6)


def reconnect_mws(load_mw, rate_mw_per_s=1 / 3):
    """sum_{b=1}^{B-1} (L - r b), B = L / r: what the battery carries while import comes back."""
    B = round(load_mw / rate_mw_per_s)
    return sum(load_mw - rate_mw_per_s * b for b in range(1, B))


def solve(site):
    return optimize(site, generate_scenarios(site))


@pytest.mark.parametrize("dt_s", [1, 60])
def test_ride_through_energy_counts_the_step_once(make_trace_site, dt_s):
    """120 MW for 600 s (a 700 s outage) at 1 s and at 60 s resolution: the same reserve.

    At 60 s, the ten bins inside the ride-through time carry 10 x 60 s x 120 MW = 72,000 MW s, as
    the 600 one-second steps do (the old rule multiplied by the 60 s step twice: 60x). With the
    reconnection after the design outage: X_rt = (72,000 + reconnect(120)) / 3600 / 0.92, with
    reconnect(120) = 359 x 120 - 359 x 360 / 6 = 21,540 MW s: 28.243 MWh.
    """
    site = make_trace_site([(0, 120), (DAY - 1, 120)], {
        "bess": EFF, "grid": {"loss_of_grid": {"duration_s": 700}},
        "reliability": {"ride_through": {"duration_s": 600, "load_fraction": 1.0}},
        "scenarios": {"transient_resolution_s": dt_s}})
    b = solve(site).design.bess
    assert reconnect_mws(120) == pytest.approx(21540)
    assert close(b.bands_mwh.ride_through_reserve, (72000 + 21540) / 3600 / ETA_DIS)
    assert close(b.pcs_power_mw, 120.0)


def test_reconnection_no_faster_than_the_poi_ramp_limit(make_trace_site):
    """Reconnection at 60 MW/min asked, but the POI may move only 30 MW/min: import returns at
    0.5 MW/s, sum_{b=1}^{239} (120 - b/2) = 28,680 - 14,340 = 14,340 MW s after the 600 s ride-through.
    X_rt = (72,000 + 14,340) / 3600 / 0.92 MWh."""
    site = make_trace_site([(0, 120), (DAY - 1, 120)], {
        "bess": EFF, "grid": {"loss_of_grid": {"duration_s": 700}, "reconnect_ramp_mw_per_min": 60,
                              "ramp_limit_mw_per_min": 30},
        "reliability": {"ride_through": {"duration_s": 600, "load_fraction": 1.0}}})
    b = solve(site).design.bess
    assert reconnect_mws(120, 0.5) == pytest.approx(14340)
    assert close(b.bands_mwh.ride_through_reserve, (72000 + 14340) / 3600 / ETA_DIS)


def test_reconnection_ramp_is_carried(make_trace_site):
    """The same 120 MW site with a faster reconnection, 60 MW/min = 1 MW/s: after the 600 s
    ride-through the battery carries sum_{b=1}^{119} (120 - b) = 7,140 MW s.
    X_rt = (72,000 + 7,140) / 3600 / 0.92 = 23.895 MWh."""
    site = make_trace_site([(0, 120), (DAY - 1, 120)], {
        "bess": EFF, "grid": {"loss_of_grid": {"duration_s": 700}, "reconnect_ramp_mw_per_min": 60},
        "reliability": {"ride_through": {"duration_s": 600, "load_fraction": 1.0}}})
    b = solve(site).design.bess
    assert close(b.bands_mwh.ride_through_reserve, (72000 + reconnect_mws(120, 1.0)) / 3600 / ETA_DIS)


def test_load_power_factor_better_than_the_poi_asks_no_reactive_power(make_trace_site):
    """100 MW ride-through, load power factor 1.0, POI minimum 0.95.

    Grid-connected Q = max(0, L x 0 - (L - P) tan(acos 0.95)) = 0 (and P tan phi_L = 0 with the
    POI carrying nothing); islanded Q = 100 x 0 = 0. So N_inv = ceil(100 / 4.2) = 24; the old split
    asked for P tan(phi_POI) = 32.9 Mvar on top: ceil(105.3 / 4.2) = 26.
    """
    site = make_trace_site([(0, 100), (DAY - 1, 100)], {
        "bess": EFF, "load": {"power_factor": 1.0}, "grid": {"poi_power_factor_min": 0.95,
                                                           "loss_of_grid": {"duration_s": 20}},
        "reliability": {"ride_through": {"duration_s": 10, "load_fraction": 1.0}}})
    res = solve(site)
    assert close(res.design.bess.pcs_power_mw, 100.0)
    assert res.design.bess.inverters == math.ceil(100 / 4.2)
    assert res.design.promises["reactive_power_grid_mvar"] == pytest.approx(0.0, abs=1e-6)


def test_load_power_factor_worse_than_the_poi(make_trace_site):
    """100 MW ride-through at load power factor 0.8, POI minimum 0.95, islanding not required but
    a sag window exists, so the island point Q = 100 x 0.75 = 75 Mvar binds: at (100, 75), 125 MVA,
    N = 30 (test_hand_derived's polygon derivation). The grid point
    L_pk (tan phi_L - tan phi_POI) + P tan phi_POI = 100 x 0.75 = 75 Mvar is the same here (P = L)."""
    site = make_trace_site([(0, 100), (DAY - 1, 100)], {
        "bess": EFF, "load": {"power_factor": 0.8}, "grid": {"poi_power_factor_min": 0.95,
                                                           "loss_of_grid": {"duration_s": 20}},
        "reliability": {"ride_through": {"duration_s": 10, "load_fraction": 1.0}}})
    res = solve(site)
    assert res.design.bess.inverters == 30
    assert res.design.promises["reactive_power_grid_mvar"] == pytest.approx(75.0, rel=1e-6)


def test_worst_window_start_of_a_held_trace():
    """100 MW with a 150 MW hour from 30,000 s: any 2 h window holding the whole hour has the most
    energy, 150 x 3600 + 100 x 3600; a 30 min window lies inside the hour."""
    t, v = [0, 30000, 33600, 86399], [100, 150, 100, 100]
    s = worst_window_start_s(t, v, 7200)
    assert 33600 - 7200 <= s <= 30000
    assert 30000 <= worst_window_start_s(t, v, 1800) <= 33600 - 1800


def test_ride_through_of_a_measured_trace_uses_its_worst_window(make_trace_site):
    """A 2 h ride-through on a measured trace: 100 MW with one 150 MW hour.

    The design outage is the trace's worst 2 h window: 150 x 3600 + 100 x 3600 = 900,000 MW s (peak
    x duration would be 1,080,000: 20% more), then the reconnection from 100 MW:
    reconnect(100) = 299 x 100 - 299 x 300 / 6 = 14,950 MW s. X_rt = 914,950 / 3600 / 0.92 =
    276.25 MWh; P = 150 MW (a grid loss may come at the peak).
    """
    site = make_trace_site([(0, 100), (30000, 150), (33600, 100), (DAY - 1, 100)], {
        "bess": EFF, "grid": {"loss_of_grid": {"duration_s": 1}},
        "reliability": {"ride_through": {"duration_s": 7200, "load_fraction": 1.0}}})
    b = solve(site).design.bess
    assert reconnect_mws(100) == pytest.approx(14950)
    assert close(b.bands_mwh.ride_through_reserve, (900000 + 14950) / 3600 / ETA_DIS)
    assert close(b.pcs_power_mw, 150.0)


def _island_site(make_trace_site, islanding):
    engine = {"kind": "gas_engine", "unit_mw": 30, "existing_units": 0, "max_new_units": 5,
              "capex_usd_per_mw": 100_000, "fuel_usd_per_mwh": 80, "start_cost_usd": 0, "min_load_fraction": 0.3,
              "ramp_mw_per_s": 1.0, "start_time_s": 60}
    return make_trace_site([(0, 90), (DAY - 1, 90)], {
        "bess": EFF, "load": {"it_capacity_mw": 90, "flexible": {"max_fraction": 0.2, "cost_usd_per_mwh": 500}},
        "generation": [engine], "grid": {"loss_of_grid": {"duration_s": 2000}},
        "reliability": {"ride_through": {"duration_s": 10, "load_fraction": 1.0},
                        "islanding": {"required": True, "redundancy_units": 0, **islanding}}})


def test_island_does_not_shed_flexible_load_by_default(make_trace_site):
    """90 MW, islanding, 20% flexible load, engines of 30 MW starting in 60 s, 1 MW/s each.

    The sampled outage (2,000 s) outlasts the bridge, so the island design window binds.
    By default nothing is shed: 3 units (90 MW) carry the island; the battery carries 90 MW for
    60 s (5,400 MW s), then sum_{k=0}^{29} (90 - 3k) = 1,395 MW s: X_rt = 6,795 / 3600 / 0.92 MWh.
    """
    d = solve(_island_site(make_trace_site, {})).design
    assert d.generation[0].new_units == 3
    assert close(d.bess.bands_mwh.ride_through_reserve, 6795 / 3600 / ETA_DIS)
    assert d.promises["islanding_required_mw"] == pytest.approx(90.0)


def test_island_sheds_flexible_load_when_the_spec_says_so(make_trace_site):
    """The same site with shed_flexible_load and a 30 s delay: 90 MW for 30 s, then 72 MW.

    The island needs 72 MW of generation (3 units of 30 MW still). The island bridge shrinks to
    90 x 30 + 72 x 30 = 4,860 MW s until the units start at 60 s, then sum_{k=0}^{23} (72 - 3k) =
    900: 5,760 MW s. Now the 10 s ride-through outage followed by the reconnection binds: 90 x 10,
    then import back at 1/3 MW/s: sum_{b=1}^{50} (90 - b/3) = 4,075 until the units start, then
    sum_{k=0}^{21} (73 - k/3 - 3k) = 1,606 - 770 = 836: 5,811 MW s. X_rt = 5,811 / 3600 / 0.92 MWh
    (6,795 without shedding); P = 90 MW.
    """
    d = solve(_island_site(make_trace_site, {"shed_flexible_load": True, "flexible_shed_delay_s": 30})).design
    assert close(d.bess.bands_mwh.ride_through_reserve, 5811 / 3600 / ETA_DIS)
    assert close(d.bess.pcs_power_mw, 90.0)
    assert d.promises["islanding_required_mw"] == pytest.approx(72.0)
