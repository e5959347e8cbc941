"""The objective: annualized capital cost + expected annual operating cost - the grid-only bill.

The grid-only bill (serving the load from the grid alone, a constant) is subtracted so the MIP gap
measures the decision, not a large constant; it is reported, with the total, in the breakdown.
A tie-break of 1 USD/year per MWh of reserve band and per MW of headroom makes the reserves exactly
as large as the requirements ask (the operating band takes the rest) without moving the design.
"""

from __future__ import annotations

import pyomo.environ as pyo

from .data import ModelData

TIE_BREAK_USD = 1.0
OBJECTIVE_SCALE = 1e-3  # the solver sees thousands of USD: cost coefficients stay within HiGHS's preferred range


def add_capex_expressions(m, d: ModelData) -> None:
    """capex = c_E E + c_P P + c_inv N_inv + sum_g capex_g unit_mw_g n_g [USD]; annualized x CRF."""
    b = d.site.bess
    th = d.site.thermal
    crf = d.site.economics.capital_recovery_factor
    m.capex_bess_energy_usd = pyo.Expression(expr=crf * b.energy_cost_usd_per_mwh * m.energy_mwh)
    m.capex_pcs_usd = pyo.Expression(expr=crf * b.pcs_cost_usd_per_mw * m.pcs_power_mw)
    m.capex_inverters_usd = pyo.Expression(expr=crf * b.inverter_cost_usd * m.inverters)
    m.capex_generation_usd = pyo.Expression(
        expr=sum(crf * th[g].capex_usd_per_mw * th[g].unit_mw * m.new_units[g] for g in m.thermal_types))


def grid_only_bill_usd(d: ModelData) -> float:
    """sum_i w_i dt price_i max(L_i - pv_i, 0) + sum_(s,k,mo) prob_s rate_k max over the group's steps of
    max(L - pv, 0) [USD/year]: the same tariff, each demand charge on each month's own peak."""
    return sum(grid_only_bill_parts_usd(d))


def grid_only_bill_parts_usd(d: ModelData) -> tuple[float, float]:
    """(energy, demand charges) of the grid-only bill [USD/year]."""
    export = d.site.grid.export_allowed
    net = [a - b if export else max(a - b, 0.0) for a, b in zip(d.load_mw, d.pv_mw)]
    energy = sum(w * d.step_h * p * x for w, p, x in zip(d.annual_weight, d.price_usd_per_mwh, net))
    return energy, sum(demand_charges_usd(d, net))


def demand_charges_usd(d: ModelData, import_mw) -> list[float]:
    """Expected demand charges by month [USD/year] for an import profile over the model's steps."""
    months = [0.0] * 12
    for grp in d.demand_groups:
        peak = max(max(import_mw[i] for i in steps) for steps in grp.steps_by_period)
        months[grp.month] += d.scenario_probability[grp.scenario] * grp.usd_per_mw_month * max(peak, 0.0)
    return months


def add_opex_expressions(m, d: ModelData) -> None:
    """Expected annual operating cost [USD/year], weights w_i = probability x days per year:
    energy sum w dt price g; demand sum_(s,k,mo) prob_s rate_k peak(s,k,mo); fuel sum w dt fuel gen; starts sum w c_start start;
    throughput c_tp (sum w dt p_dis + fast cycling); fixed O&M f_bess (BESS capital) + f_gen (new MW); flexible sum w dt c_flex flex; shedding sum w dt VOLL shed; CO2 price x co2 (emissions.py)."""
    site = d.site
    wdt = [w * d.step_h for w in d.annual_weight]
    price = d.price_usd_per_mwh
    steps = range(d.n)
    th = site.thermal
    m.opex_energy_usd = pyo.Expression(expr=pyo.quicksum(wdt[i] * price[i] * m.import_mw[i] for i in steps))
    m.opex_demand_charge_usd = pyo.Expression(expr=pyo.quicksum(
        d.scenario_probability[g.scenario] * g.usd_per_mw_month * m.peak_import_mw[q]
        for q, g in enumerate(d.demand_groups)) if d.demand_groups else 0.0)
    m.opex_fuel_usd = pyo.Expression(expr=pyo.quicksum(
        wdt[i] * th[g].fuel_usd_per_mwh * m.gen_mw[g, i] for g in m.thermal_types for i in steps))
    m.opex_starts_usd = pyo.Expression(expr=pyo.quicksum(
        d.annual_weight[i] * th[g].start_cost_usd * m.started_units[g, i] for g in m.thermal_types for i in steps))
    tc = site.bess.throughput_cost_usd_per_mwh
    m.opex_throughput_usd = pyo.Expression(
        expr=tc * d.fast_throughput_mwh_per_year + pyo.quicksum(tc * wdt[i] * m.discharge_mw[i] for i in steps))
    fl = site.load.flexible
    m.opex_flexible_load_usd = pyo.Expression(expr=pyo.quicksum(
        fl.cost_usd_per_mwh * wdt[i] * m.flexible_mw[i] for i in steps) if hasattr(m, "flexible_mw") else 0.0)
    eco = site.economics
    m.opex_fixed_om_usd = pyo.Expression(expr=eco.bess_fixed_om_fraction_per_year * (
        m.capex_bess_energy_usd + m.capex_pcs_usd + m.capex_inverters_usd) / d.site.economics.capital_recovery_factor
        + pyo.quicksum(eco.generation_fixed_om_usd_per_mw_year * th[g].unit_mw * m.new_units[g] for g in m.thermal_types))
    voll = site.reliability.voll_usd_per_mwh
    m.opex_shedding_usd = pyo.Expression(expr=pyo.quicksum(voll * wdt[i] * m.shed_mw[i] for i in steps))
    m.opex_co2_usd = pyo.Expression(expr=site.economics.co2_price_usd_per_t * m.co2_t)


CAPEX_PARTS = ("capex_bess_energy_usd", "capex_pcs_usd", "capex_inverters_usd", "capex_generation_usd")
OPEX_PARTS = ("opex_energy_usd", "opex_demand_charge_usd", "opex_fuel_usd", "opex_starts_usd",
              "opex_throughput_usd", "opex_flexible_load_usd", "opex_shedding_usd", "opex_fixed_om_usd", "opex_co2_usd")


def add_objective(m, d: ModelData) -> None:
    """min sum(capex parts) + sum(opex parts) - grid_only_bill + tie-break (see module docstring),
    handed to the solver in thousands of USD.

    In elastic (diagnosis) mode: min 1e3 sum(weight x slack) + 1e-6 x the same, so the least violation wins
    and the rest of the design stays sensible.
    """
    m.grid_only_energy_usd, m.grid_only_demand_charge_usd = grid_only_bill_parts_usd(d)
    m.grid_only_bill_usd = m.grid_only_energy_usd + m.grid_only_demand_charge_usd
    tie = TIE_BREAK_USD * (m.ride_through_reserve_mwh + m.up_ramp_buffer_mwh + m.curtailment_reserve_mwh
                           + m.down_ramp_headroom_mwh + m.headroom_up_mw + m.headroom_down_mw)
    decision = (sum(getattr(m, k) for k in CAPEX_PARTS) + sum(getattr(m, k) for k in OPEX_PARTS)
                - m.grid_only_bill_usd + tie)
    m.objective_scale = OBJECTIVE_SCALE
    if m.elastic:
        m.objective = pyo.Objective(expr=1e3 * sum(lim.weight * m.slack[k] for k, lim in m.limits.items())
                                    + 1e-6 * decision)
    else:
        m.objective = pyo.Objective(expr=OBJECTIVE_SCALE * decision)
