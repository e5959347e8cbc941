"""Islanding with generators starting cold, integer commitment, and conservation in every scenario,
through measured traces, explicit events and ``generate_scenarios``."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios

DAY = 86400
EVENT = {"grid": {"firm_import_mw": 200, "nonfirm_import_mw": 800,
                  "events": [{"kind": "curtailment", "start_s": 36000, "duration_s": 7200, "occurrences_per_year": 1}]}}

ETA = 0.94


def _engine(**kw):
    e = {"kind": "gas_engine", "unit_mw": 30, "existing_units": 0, "max_new_units": 5, "capex_usd_per_mw": 100_000,
         "fuel_usd_per_mwh": 80, "start_cost_usd": 0, "min_load_fraction": 0.3, "ramp_mw_per_s": 1.0,
         "start_time_s": 60}
    e.update(kw)
    return e


def test_islanding_bridge_until_engines_carry_the_load(make_trace_site):
    """90 MW load, islanding required, 30 MW engines that start in 60 s and then ramp at 1 MW/s.

    Islanding capacity: N x 30 >= 90 -> N = 3 (a fourth unit would save 0.1 MWh of battery, worth
    far less than 3 M USD). The BESS carries 90 MW for the first 60 s (5,400 MW s), then
    u = 90 - 3 min(30, t - 60), falling to 0 at t = 90 s: sum_{k=0}^{29} (90 - 3k) = 1,395 MW s.
    X_rt = (5,400 + 1,395) / 3600 / 0.94 = 2.008 MWh stored; P = 90 MW.
    """
    site = make_trace_site([(0, 90), (DAY - 1, 90)], {
        "load": {"it_capacity_mw": 90}, "generation": [_engine()],
        "reliability": {"ride_through": {"duration_s": 10, "load_fraction": 1.0}, "islanding": {"required": True, "redundancy_units": 0}}})
    res = optimize(site, generate_scenarios(site))
    d = res.design
    assert d.generation[0].new_units == 3
    assert d.bess.pcs_power_mw == pytest.approx(90.0, rel=0.005)
    assert d.bess.bands_mwh.ride_through_reserve == pytest.approx((5400 + 1395) / 3600 / ETA, rel=0.005)
    assert d.promises["islanding_capacity_mw"] == pytest.approx(90.0)


def test_integer_commitment_gives_whole_units(make_trace_site):
    """Curtailment to 200 MW of a 250 MW load for 2 h with two 30 MW engines allowed: with
    --integer-commitment every committed count is a whole number."""
    site = make_trace_site([(0, 250), (DAY - 1, 250)], {**EVENT, "generation": [_engine(max_new_units=2, start_time_s=300)]})
    res = optimize(site, generate_scenarios(site), integer_commitment=True)
    m = res.model
    on = [pyo.value(m.committed_units[0, i]) for i in m.steps]
    assert all(abs(x - round(x)) < 1e-6 for x in on)
    assert max(on) >= 1  # the engines do help in the event


def test_energy_balance_closes_in_every_scenario(make_trace_site):
    """For the curtailment design: every step balances (import + BESS + shedding = load) and every
    representative day's stored energy returns to its start (sum (eta_ch p_ch - p_dis / eta_dis) dt = 0)."""
    site = make_trace_site([(0, 250), (DAY - 1, 250)], EVENT)
    sc = generate_scenarios(site)
    limit = sc.energy["import_limit_mw"].values[0, 1].tolist()
    assert limit[10] == limit[11] == 200.0
    m = optimize(site, sc).model
    for day in range(2):
        idx = range(24 * day, 24 * day + 24)
        net = sum(0.94 * pyo.value(m.charge_mw[i]) - pyo.value(m.discharge_mw[i]) / 0.94 for i in idx)
        assert net == pytest.approx(0.0, abs=1e-6)
        for i in idx:
            supply = pyo.value(m.import_mw[i] + m.discharge_mw[i] - m.charge_mw[i] + m.shed_mw[i])
            assert supply == pytest.approx(250.0, abs=1e-6)
            assert pyo.value(m.import_mw[i]) <= limit[i - 24 * day] + 1e-6 if day == 1 else True


def test_n_plus_1_island_holds_with_the_largest_unit_out(make_trace_site):
    """The 90 MW island of the test above with N+1 (reliability.islanding.redundancy_units = 1):
    capacity N x 30 - 30 >= 90 -> N = 4. The bridge assumes the largest unit never comes: 3 units
    ramp in, so the reserve is the N = 3 bridge, (5,400 + 1,395) / 3600 / 0.94 MWh, and the island
    margin with one unit out is 4 x 30 - 30 - 90 = 0 MW. Without redundancy the same site needs 3."""
    site = make_trace_site([(0, 90), (DAY - 1, 90)], {
        "load": {"it_capacity_mw": 90}, "generation": [_engine()],
        "reliability": {"ride_through": {"duration_s": 10, "load_fraction": 1.0},
                        "islanding": {"required": True, "redundancy_units": 1}}})
    d = optimize(site, generate_scenarios(site)).design
    assert d.generation[0].new_units == 4
    assert d.bess.bands_mwh.ride_through_reserve == pytest.approx((5400 + 1395) / 3600 / ETA, rel=0.005)
    assert d.promises["islanding_redundancy_mw"] == pytest.approx(30.0)
    assert d.promises["islanding_margin_mw"] == pytest.approx(0.0, abs=1e-6)
    units = next(e for e in d.binding if e.quantity == "generation[0].units")
    assert units.binding.requirement == "islanding" and "N+1" in units.binding.text
