"""Energy mix and emissions, against hand derivations on a flat 100 MW load served by the grid or by
ten existing 10 MW gas engines (no minimum load, no start cost), fuel 50 USD/MWh, grid 60 USD/MWh."""

from __future__ import annotations

import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.site_spec.energy_mix import energy_mix, replay_energy_mix
from bess_size.site_spec.models import MMBTU_PER_MWH, NATURAL_GAS_T_CO2_PER_MMBTU

YEAR_MWH = 100.0 * 8760  # the flat load's year
ENGINE_T_PER_MWH = NATURAL_GAS_T_CO2_PER_MMBTU * MMBTU_PER_MWH / 0.416  # 0.4352: datasheet 8,200 Btu/kWh


def _site(make_trace_site, **extra):
    engine = {"kind": "gas_engine", "unit_mw": 10, "existing_units": 10, "max_new_units": 0, "fuel_usd_per_mwh": 50,
              "min_load_fraction": 0, "start_cost_usd": 0, "ramp_mw_per_s": 10}
    over = {"generation": [engine], "bess": {"max_energy_mwh": 1, "max_power_mw": 1}}
    for k, v in extra.items():
        over.setdefault(k, {}).update(v)
    return make_trace_site([(0, 100), (86399, 100)], over)


def _mix(site):
    return optimize(site, generate_scenarios(site), explain=False).design


def test_default_factors_and_the_cheaper_source_runs(make_trace_site):
    """Fuel at 50 USD/MWh beats the grid at 60: the engines carry the whole 876,000 MWh/year at a
    capacity factor of 100 MW / (10 x 10 MW) = 1.0, emitting 876,000 x 0.05306 x 3.412142 / 0.416
    = 381,246 t/year (natural gas at the data sheet's 8,200 Btu/kWh); the grid emits nothing."""
    d = _mix(_site(make_trace_site))
    mix = d.energy_mix
    assert mix["generation_mwh_per_year"]["gas_engine"] == pytest.approx(YEAR_MWH, rel=1e-4)
    assert mix["grid_import_mwh_per_year"] == pytest.approx(0.0, abs=1.0)
    assert mix["capacity_factor"]["gas_engine"] == pytest.approx(1.0, rel=1e-4)
    assert mix["co2_t_per_year"]["total"] == pytest.approx(YEAR_MWH * ENGINE_T_PER_MWH, rel=1e-4)
    assert ENGINE_T_PER_MWH == pytest.approx(0.4352, abs=1e-4)


@pytest.mark.parametrize("price, runs", [(100, "gas_engine"), (200, "grid")])
def test_a_co2_price_moves_the_dispatch(make_trace_site, price, runs):
    """With a CO2 price p the engines cost 50 + 0.4352 p and the grid 60 + 0.367 p per MWh: they
    break even at p = 10 / 0.0682 = 146.6 USD/t. At 100 USD/t the engines still run; at 200 the grid
    serves the load and the bill carries 200 x 876,000 x 0.367 = 64.3 M USD/year of CO2."""
    d = _mix(_site(make_trace_site, economics={"co2_price_usd_per_t": price}))
    mix = d.energy_mix
    if runs == "grid":
        assert mix["grid_import_mwh_per_year"] == pytest.approx(YEAR_MWH, rel=1e-4)
        assert d.cost.breakdown["opex_co2_usd"] == pytest.approx(200 * YEAR_MWH * 0.367, rel=1e-4)
    else:
        assert mix["generation_mwh_per_year"]["gas_engine"] == pytest.approx(YEAR_MWH, rel=1e-4)


def test_an_emissions_cap_is_held(make_trace_site):
    """Grid at 0.1 t/MWh, cap 200,000 t/year: the engines (cheaper, 0.4352 t/MWh) run until the cap
    binds: 0.4352 x + 0.1 (876,000 - x) = 200,000 -> x = 112,400 / 0.3352 = 335,300 MWh/year."""
    d = _mix(_site(make_trace_site, grid={"co2_t_per_mwh": 0.1}, economics={"co2_cap_t_per_year": 200_000}))
    mix = d.energy_mix
    gas = (200_000 - 0.1 * YEAR_MWH) / (ENGINE_T_PER_MWH - 0.1)
    assert mix["co2_t_per_year"]["total"] == pytest.approx(200_000, rel=1e-4)
    assert mix["generation_mwh_per_year"]["gas_engine"] == pytest.approx(gas, rel=1e-3)


def test_replay_mix_splits_generation_as_planned(make_trace_site):
    """The replay reports total generation: split between types as the optimizer's dispatch splits
    it; PV used is the expected PV less what the replay curtailed."""
    site = _site(make_trace_site)
    d = _mix(site)
    results = {"grid_import_mwh_per_year": 1000.0, "generation_mwh_per_year": 800_000.0,
               "pv_curtailed_mwh_per_year": 0.0, "bess_throughput_mwh_per_year": 5.0,
               "unserved_energy_mwh_per_year": 2.0, "flexible_load_shed_mwh_per_year": 0.0}
    mix = replay_energy_mix(site, d, results)
    assert mix["generation_mwh_per_year"]["gas_engine"] == pytest.approx(800_000.0)
    assert mix["co2_t_per_year"]["grid"] == pytest.approx(1000 * 0.367)
    assert mix["capacity_factor"]["gas_engine"] == pytest.approx(800_000 / (100 * 8760))
    assert replay_energy_mix(site, d, {}) is None


def test_two_types_of_one_kind_are_named_apart(make_trace_site):
    site = _site(make_trace_site)
    two = site.model_copy(update={"generation": [site.generation[0], site.generation[0]]})
    mix = energy_mix(two, [10, 0], grid_import_mwh=0, generation_mwh=[10.0, 0.0], pv_used_mwh=0, pv_curtailed_mwh=0,
                     bess_discharge_mwh=0, unserved_mwh=0, flexible_shed_mwh=0)
    assert set(mix["generation_mwh_per_year"]) == {"gas_engine[0]", "gas_engine[1]"}
    assert mix["capacity_factor"]["gas_engine[1]"] == 0.0
