"""Fuel cells as a generator kind: their defaults (no minimum stable load, slow ramp, long start),
the fuel cost from a fuel price and an efficiency, and the optimizer and the simulator dispatching
them below the minimum load an engine would need."""

from __future__ import annotations

import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.simulator import simulate
from bess_size.site_spec import SiteSpecError, validate_site

DAY = 86400
FUEL_USD_PER_MWH = 8 * 3.412142 / 0.5 + 10  # 8 USD/MMBtu at 50 % efficiency + 10 USD/MWh O&M = 64.594 USD/MWh


def unit(kind, **kw):
    return {"kind": kind, "max_new_units": 10, "fuel_price_usd_per_mmbtu": 8, "efficiency_fraction": 0.5,
            "variable_om_usd_per_mwh": 10, **kw}


def test_fuel_cell_defaults_and_fuel_cost():
    """A fuel cell by default: 10 MW blocks, no minimum stable load, 0.03 MW/s, an hour to start;
    keys the spec gives win. Fuel 4.8 USD/MMBtu at the SOFC default efficiency 0.569 + 15 USD/MWh:
    4.8 x 3.412142 / 0.569 + 15 = 43.78 USD/MWh."""
    site = validate_site({"load": {}, "grid": {}, "generation": [
        {"kind": "fuel_cell", "fuel_price_usd_per_mmbtu": 4.8, "variable_om_usd_per_mwh": 15},
        {"kind": "fuel_cell", "min_load_fraction": 0.2}, {"kind": "gas_engine"}]}, "<test>")
    fc, fc2, engine = site.thermal
    assert (fc.unit_mw, fc.min_load_fraction, fc.ramp_mw_per_s, fc.start_time_s) == (10.0, 0.0, 0.03, 3600.0)
    assert fc.fuel_usd_per_mwh == pytest.approx(4.8 * 3.412142 / 0.569 + 15)
    assert fc2.min_load_fraction == 0.2 and fc2.fuel_usd_per_mwh == 45
    assert engine.min_load_fraction == 0.3 and engine.unit_mw == 18
    with pytest.raises(SiteSpecError, match="disagrees with fuel_price_usd_per_mmbtu"):
        validate_site({"load": {}, "grid": {}, "generation": [unit("fuel_cell", fuel_usd_per_mwh=30)]}, "<test>")


@pytest.mark.slow  # the fuel-cell MILP takes tens of seconds
@pytest.mark.parametrize("kind", ["fuel_cell", "gas_engine"])
def test_fuel_cells_follow_a_gap_below_an_engines_minimum_load(make_trace_site, kind):
    """Load 100 MW for 12 h then 72 MW for 12 h, firm import 70 MW (the grid is smaller than the
    load), fuel at 64.594 USD/MWh (dearer than the grid's 60), integer commitment.

    The gap peaks at 30 MW: 3 new 10 MW units. The grid carries all it can (70 MW); generation the
    rest: 30 MW, then 2 MW. A fuel cell (no minimum load) runs 2 MW: (30 x 12 + 2 x 12) x 365 =
    140,160 MWh/year. An engine with the same figures but a 30 % minimum load cannot go below 3 MW
    per committed unit: stopping two units for the night (one left at 3 MW, 1 MW more than the gap)
    costs 2 starts x 500 x 365 + 1 MW x 12 h x 365 x (64.594 - 60) = 385,100 USD/year, keeping all
    three at 9 MW costs 7 MW x 12 h x 365 x 4.594 = 140,800, so it keeps them: (30 x 12 + 9 x 12) x 365
    = 170,820 MWh/year. The held-out replay of the fuel cell runs it
    at the same cost per MWh and near the same energy (the controller has no foresight).
    """
    extra = {} if kind == "fuel_cell" else {"unit_mw": 10, "min_load_fraction": 0.3, "ramp_mw_per_s": 0.03,
                                             "start_time_s": 3600}
    site = make_trace_site([(0, 100), (DAY / 2, 72), (DAY - 1, 72)],
                           {"grid": {"firm_import_mw": 70}, "generation": [unit(kind, **extra)],
                            "scenarios": {"held_out": 1}})
    d = optimize(site, generate_scenarios(site), integer_commitment=True).design
    assert [g.new_units for g in d.generation] == [3]
    expected = (30 * 12 + (2 if kind == "fuel_cell" else 9) * 12) * 365
    # the units' slow ramp down at noon (3 x 0.03 MW/s) is the POI's: it takes the net load after
    # generation (as the replay's controller feeds it) and may move 100 MW/s, so it imports less
    # while they ramp down; the battery buffers nothing and no fast-cycling loss is bought
    assert d.promises["fast_cycling_loss_mwh_per_year"] == pytest.approx(0.0, abs=1e-9)
    assert d.promises["generation_mwh_per_year"] == pytest.approx(expected, rel=1e-6)
    assert d.promises["fuel_cost_usd_per_year"] == pytest.approx(expected * FUEL_USD_PER_MWH, rel=1e-6)
    if kind == "fuel_cell":
        r = simulate(site, d).results
        assert r["fuel_cost_usd_per_year"] / r["generation_mwh_per_year"] == pytest.approx(FUEL_USD_PER_MWH, rel=1e-6)
        assert r["generation_mwh_per_year"] == pytest.approx(expected, rel=0.05)
        assert r["unserved_energy_mwh_per_year"] == pytest.approx(0.0, abs=1e-6)
