"""Lifetime cash flows against closed forms: the annuity and growing-annuity formulas, replacement
years from cycling and calendar ageing, payback; and cashflows.csv beside design.json."""

from __future__ import annotations

import math

import pytest

from bess_size.cashflows import cash_flows, replacement_years, years_to_end_of_life
from bess_size.site_spec import Design, validate_site

R, N = 0.08, 15
CAPEX = 100 * 200_000 + 50 * 60_000 + 13 * 150_000  # E, P, inverters at the spec's costs: 24.95 M USD


def annuity(r, n):
    """Present value of 1 USD a year for n years: (1 - (1 + r)^-n) / r."""
    return (1 - (1 + r) ** -n) / r


def site(**economics):
    eco = {"discount_rate": R, "lifetime_years": N, "bess_calendar_fade_fraction_per_year": 0.0, **economics}
    return validate_site({"load": {}, "grid": {}, "bess": {"energy_cost_usd_per_mwh": 200_000, "pcs_cost_usd_per_mw": 60_000,
                                   "inverter_cost_usd": 150_000}, "economics": eco}, "<test>")


def design(energy_usd=10e6, reference_energy_usd=12e6, fuel_usd=0.0):
    """100 MWh, 50 MW, 13 inverters; a year of 10 M USD energy against a 12 M USD grid-only bill."""
    bands = {"ride_through_reserve": 0, "up_ramp_buffer": 0, "curtailment_reserve": 0, "down_ramp_headroom": 0,
             "operating": [5, 77]}
    return Design.model_validate({
        "site": "t", "bess": {"energy_mwh": 100, "pcs_power_mw": 50, "inverters": 13, "inverter_rating_mva": 4.2,
                              "headroom_mw": {"up": 0, "down": 0}, "bands_mwh": bands, "bands_fraction": bands},
        "cost": {"annualized_capex_usd": 0, "expected_annual_opex_usd": energy_usd + fuel_usd,
                 "grid_only_bill_usd": reference_energy_usd, "total_annualized_usd": 0,
                 "grid_only_energy_usd": reference_energy_usd, "grid_only_demand_charge_usd": 0.0,
                 "breakdown": {"opex_energy_usd": energy_usd, "opex_fuel_usd": fuel_usd,
                               "opex_throughput_usd": 1e6}}})


def test_npv_of_a_constant_cash_flow_is_the_annuity():
    """Capital 24.95 M in year 0, then 2 M a year saved for 15 years at 8%:
    NPV = -24.95 M + 2 M x (1 - 1.08^-15) / 0.08 = -24.95 + 17.119 = -7.831 M USD; the life-cycle
    cost is 24.95 M + 10 M x 8.5595 = 110.54 M (the throughput cost is left out: wear is the
    replacement); cumulative savings reach the capital in year 13 (26 M >= 24.95 M; 24 M in year 12)."""
    cf = cash_flows(site(), design())
    assert cf.npv_vs_reference_usd == pytest.approx(-CAPEX + 2e6 * annuity(R, N), rel=1e-9)
    assert cf.life_cycle_cost_usd == pytest.approx(CAPEX + 10e6 * annuity(R, N), rel=1e-9)
    assert cf.reference_life_cycle_cost_usd == pytest.approx(12e6 * annuity(R, N), rel=1e-9)
    assert cf.simple_payback_years == 13
    assert cf.replacement_years == []
    assert len(cf.rows) == N + 1 and cf.rows[0]["capex_usd"] == pytest.approx(-CAPEX)


def test_escalation_is_a_growing_annuity():
    """Energy prices rising 3% a year: the 2 M saving grows too, PV = 2 M / (r - g) x (1 - ((1 + g) / (1 + r))^N)."""
    g = 0.03
    cf = cash_flows(site(energy_price_escalation_fraction_per_year=g), design())
    assert cf.npv_vs_reference_usd == pytest.approx(-CAPEX + 2e6 / (R - g) * (1 - ((1 + g) / (1 + R)) ** N), rel=1e-9)
    assert cf.rows[2]["energy_usd"] == pytest.approx(-10e6 * 1.03)


def test_replacement_when_cycling_and_calendar_ageing_reach_end_of_life():
    """Calendar fade 2%/year to an end of life at 80% is 0.2 / 0.02 = 10 years alone; with 5% of the
    cycle life used a year, life = 1 / (0.05 + 0.1) = 6.67 years: the energy (100 MWh x 200,000 USD)
    is replaced in years ceil(6.67) = 7 and ceil(13.33) = 14 of 15."""
    s = site(bess_calendar_fade_fraction_per_year=0.02)
    assert years_to_end_of_life(s, 0.05) == pytest.approx(1 / 0.15)
    cf = cash_flows(s, design(), cycle_life_used_per_year=0.05)
    assert cf.replacement_years == [7, 14]
    base = cash_flows(site(), design())
    assert base.npv_vs_reference_usd - cf.npv_vs_reference_usd == pytest.approx(20e6 * (1.08 ** -7 + 1.08 ** -14), rel=1e-9)
    # a battery that ages out exactly at the end of the life is not replaced
    assert replacement_years(7.5, 15) == [8]
    assert replacement_years(15.0, 15) == []


def test_a_design_that_never_pays_back():
    cf = cash_flows(site(), design(energy_usd=12e6))
    assert cf.simple_payback_years is None
    assert cf.npv_vs_reference_usd == pytest.approx(-CAPEX)
    assert math.isfinite(cf.life_cycle_cost_usd)


def test_csv_has_one_row_per_year():
    text = cash_flows(site(), design()).to_csv().splitlines()
    assert text[0].startswith("year,capex_usd,")
    assert len(text) == N + 2
    assert text[1].split(",")[1] == f"{-CAPEX:.2f}"


def test_time_to_power_break_even_by_hand():
    """100 MW of IT (PUE 1) worth 20,000 USD/MW-month = 24 M USD a year. Years 1-2: 50 MW firm + 100 MW
    non-firm (the battery makes it work); from year 3: 150 MW firm, enough alone. Energize now: 24.95 M
    of battery, then 24 M of IT value less 10 M of operating cost a year for 15 years:
    NPV_now = -24.95 + 14 x 8.5595 = 94.883 M. Wait for firm: nothing until year 3, then 24 M less
    the 12 M grid-only bill: NPV_wait = 12 x (8.5595 - 1.7833) = 81.315 M. The battery buys 24 months
    (2,400 IT MW-months); the two break even at a battery capital of 24.95 + 94.883 - 81.315 = 38.518 M USD.
    """
    from bess_size.cashflows import time_to_power

    s = validate_site({"load": {"it_capacity_mw": 100, "pue": 1.0, "min_load_mw": 0},
                       "grid": {"firm_import_mw": 50, "nonfirm_import_mw": 100,
                                "phases": [{"from_year": 3, "firm_import_mw": 150, "nonfirm_import_mw": 0}]},
                       "bess": {"energy_cost_usd_per_mwh": 200_000, "pcs_cost_usd_per_mw": 60_000, "inverter_cost_usd": 150_000},
                       "economics": {"discount_rate": R, "lifetime_years": N, "bess_calendar_fade_fraction_per_year": 0.0,
                                     "it_capacity_value_usd_per_mw_month": 20_000}}, "<test>")
    d = design()
    annual = {"opex_energy_usd": 10e6, "grid_only_energy_usd": 12e6, "grid_only_demand_charge_usd": 0.0}
    d.phases = [{"from_year": 1, "to_year": 2, "annual_usd": annual}, {"from_year": 3, "to_year": 15, "annual_usd": annual}]
    ttp = time_to_power(s, d, cash_flows(s, d))
    a15, a2 = annuity(R, 15), annuity(R, 2)
    assert ttp["firm_year"] == 3 and ttp["months_gained"] == 24 and ttp["it_mw_months_gained"] == 2400
    assert ttp["npv_energize_now_usd"] == pytest.approx(-CAPEX + 14e6 * a15, rel=1e-9)
    assert ttp["npv_wait_for_firm_usd"] == pytest.approx(12e6 * (a15 - a2), rel=1e-9)
    assert ttp["break_even_bess_capital_usd"] == pytest.approx(CAPEX + (-CAPEX + 14e6 * a15) - 12e6 * (a15 - a2), rel=1e-9)
    assert ttp["break_even_bess_capital_usd"] == pytest.approx(38.518e6, rel=1e-4)
    assert ttp["break_even_bess_usd_per_mwh"] == pytest.approx(ttp["break_even_bess_capital_usd"] / 100)
