"""Lifetime cash flows of a design against the grid-only reference: NPV, life-cycle cost, payback.

Year 0 is the build; years 1..N (N = ``economics.lifetime_years``, rounded up) operate. All
figures are USD, costs negative. The design's year y (y >= 1), from the optimizer's expected
annual figures (design.json ``cost``), each with its escalation ``e`` from the spec:

* energy ``-E_energy (1 + e_energy)^(y-1)``, demand charges ``-E_demand (1 + e_demand)^(y-1)``,
  fuel and starts ``-(E_fuel + E_starts) (1 + e_fuel)^(y-1)``, fixed O&M
  ``-E_om (1 + e_om)^(y-1)``, flexible load curtailed and load shed at their prices (no escalation);
* capital in year 0: ``c_E E + c_P P + c_inv N_inv + sum_g capex_g unit_mw_g n_g``;
* battery replacement: the energy part, ``bess_replacement_cost_fraction x c_E E``, in every year
  ``ceil(k L)`` < N, k = 1, 2, ..., where ``L = 1 / (cycle life used per year + calendar fade /
  (1 - end_of_life_fraction))`` is the years to end of life (cycling from the held-out replay's
  rainflow estimate, calendar ageing from ``economics.bess_calendar_fade_fraction_per_year``).

The optimizer's throughput cost is a stand-in for wear inside one year; here wear is the
replacement, so the throughput cost is left out (it would count wear twice). No salvage value.

Reference: the same load served by the grid alone at the same tariff (the grid-only bill, energy
and demand parts escalated like the design's). ``net = design - reference``; NPV at
``economics.discount_rate``: ``sum_y net_y / (1 + r)^y``. Simple payback: the first year whose
cumulative undiscounted net reaches zero (None when it never does within the life).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

COLUMNS = ("year", "capex_usd", "bess_replacement_usd", "energy_usd", "demand_charge_usd", "fuel_usd", "fixed_om_usd",
           "curtailment_and_shedding_usd", "total_usd", "reference_energy_usd", "reference_demand_charge_usd",
           "reference_total_usd", "net_vs_reference_usd", "discount_factor", "discounted_net_vs_reference_usd",
           "cumulative_net_vs_reference_usd")


@dataclass
class CashFlows:
    rows: list[dict]
    npv_vs_reference_usd: float
    life_cycle_cost_usd: float
    reference_life_cycle_cost_usd: float
    simple_payback_years: int | None
    years_to_end_of_life: float | None
    replacement_years: list[int] = field(default_factory=list)

    def summary(self) -> dict:
        return {"npv_vs_reference_usd": round(self.npv_vs_reference_usd, 2),
                "life_cycle_cost_usd": round(self.life_cycle_cost_usd, 2),
                "reference_life_cycle_cost_usd": round(self.reference_life_cycle_cost_usd, 2),
                "simple_payback_years": self.simple_payback_years,
                "years_to_end_of_life": None if self.years_to_end_of_life is None else round(self.years_to_end_of_life, 3),
                "replacement_years": list(self.replacement_years)}

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def to_csv(self) -> str:
        lines = [",".join(COLUMNS)]
        for r in self.rows:
            lines.append(",".join(str(r["year"]) if c == "year" else f"{r[c]:.6g}" if c == "discount_factor"
                                  else f"{r[c] + 0.0:.2f}" for c in COLUMNS))
        return "\n".join(lines) + "\n"


def capital_cost_usd(site, design) -> float:
    """c_E E + c_P P + c_inv N_inv + sum_g capex_g unit_mw_g n_g [USD]."""
    b, d = site.bess, design.bess
    gen = sum(u.capex_usd_per_mw * g.unit_mw * g.new_units for u, g in zip(site.thermal, design.generation))
    return b.energy_cost_usd_per_mwh * d.energy_mwh + b.pcs_cost_usd_per_mw * d.pcs_power_mw + \
        b.inverter_cost_usd * d.inverters + gen


def years_to_end_of_life(site, cycle_life_used_per_year: float) -> float | None:
    """1 / (cycling + calendar fade / (1 - end_of_life_fraction)) [years]; None when nothing ages it."""
    eol = site.bess.end_of_life_fraction
    calendar = site.economics.bess_calendar_fade_fraction_per_year / (1.0 - eol) if eol < 1 else math.inf
    rate = max(cycle_life_used_per_year, 0.0) + calendar
    return None if rate <= 0 else 1.0 / rate


def replacement_years(life_years: float | None, horizon: int) -> list[int]:
    """Years ceil(k L) < horizon, k = 1, 2, ... (a battery that ages out in the last year is not replaced)."""
    if life_years is None or life_years <= 0:
        return []
    out, k = [], 1
    while k * life_years < horizon - 1e-9:
        out.append(max(1, math.ceil(k * life_years - 1e-9)))
        k += 1
    return sorted(set(out))


def annual_parts(design, year: int) -> dict:
    """The expected annual cost parts in ``year``: of its phase for a phased design (design.json
    ``phases[].annual_usd``), else the design's breakdown; with the grid-only bill's energy and
    demand parts under ``grid_only_energy_usd`` and ``grid_only_demand_charge_usd``."""
    for row in design.phases or []:
        if row.get("from_year", 0) <= year <= row.get("to_year", -1) and "annual_usd" in row:
            return row["annual_usd"]
    c = design.cost
    if c is None:
        return {}
    energy = c.grid_only_energy_usd if c.grid_only_energy_usd is not None else c.grid_only_bill_usd
    demand = c.grid_only_demand_charge_usd or 0.0
    return {**c.breakdown, "grid_only_energy_usd": energy, "grid_only_demand_charge_usd": demand}


def npv(values, rate: float) -> float:
    """sum_y v_y / (1 + r)^y, y = 0, 1, ..."""
    return float(sum(v / (1.0 + rate) ** y for y, v in enumerate(values)))


def cash_flows(site, design, cycle_life_used_per_year: float = 0.0) -> CashFlows:
    """The design's yearly cash flows and the reference's (see the module docstring)."""
    eco = site.economics
    n = int(math.ceil(eco.lifetime_years - 1e-9))
    r = eco.discount_rate
    capex = capital_cost_usd(site, design)
    life = years_to_end_of_life(site, cycle_life_used_per_year) if design.bess.energy_mwh > 0 else None
    repl_years = replacement_years(life, n)
    repl_cost = eco.bess_replacement_cost_fraction * site.bess.energy_cost_usd_per_mwh * design.bess.energy_mwh
    rows, cumulative = [], 0.0
    for y in range(n + 1):
        g = lambda e: (1.0 + e) ** (y - 1) if y >= 1 else 0.0  # noqa: E731
        parts = annual_parts(design, y)
        part = lambda k: float(parts.get(k, 0.0))  # noqa: E731
        ref_energy, ref_demand = part("grid_only_energy_usd"), part("grid_only_demand_charge_usd")
        row = {"year": y, "capex_usd": -capex if y == 0 else 0.0,
               "bess_replacement_usd": -repl_cost if y in repl_years else 0.0,
               "energy_usd": -part("opex_energy_usd") * g(eco.energy_price_escalation_fraction_per_year),
               "demand_charge_usd": -part("opex_demand_charge_usd") * g(eco.demand_charge_escalation_fraction_per_year),
               "fuel_usd": -(part("opex_fuel_usd") + part("opex_starts_usd")) * g(eco.fuel_price_escalation_fraction_per_year),
               "fixed_om_usd": -part("opex_fixed_om_usd") * g(eco.om_escalation_fraction_per_year),
               "curtailment_and_shedding_usd": -(part("opex_flexible_load_usd") + part("opex_shedding_usd")) * (1.0 if y else 0.0),
               "reference_energy_usd": -ref_energy * g(eco.energy_price_escalation_fraction_per_year),
               "reference_demand_charge_usd": -ref_demand * g(eco.demand_charge_escalation_fraction_per_year)}
        row["total_usd"] = sum(row[k] for k in ("capex_usd", "bess_replacement_usd", "energy_usd", "demand_charge_usd",
                                                "fuel_usd", "fixed_om_usd", "curtailment_and_shedding_usd"))
        row["reference_total_usd"] = row["reference_energy_usd"] + row["reference_demand_charge_usd"]
        row["net_vs_reference_usd"] = row["total_usd"] - row["reference_total_usd"]
        row["discount_factor"] = 1.0 / (1.0 + r) ** y
        row["discounted_net_vs_reference_usd"] = row["net_vs_reference_usd"] * row["discount_factor"]
        cumulative += row["net_vs_reference_usd"]
        row["cumulative_net_vs_reference_usd"] = cumulative
        rows.append(row)
    cum = [row["cumulative_net_vs_reference_usd"] for row in rows]
    payback = 0 if cum[0] >= 0 else next((y for y in range(1, n + 1) if cum[y] >= 0), None)
    return CashFlows(rows=rows,
                     npv_vs_reference_usd=npv([row["net_vs_reference_usd"] for row in rows], r),
                     life_cycle_cost_usd=-npv([row["total_usd"] for row in rows], r),
                     reference_life_cycle_cost_usd=-npv([row["reference_total_usd"] for row in rows], r),
                     simple_payback_years=payback, years_to_end_of_life=life,
                     replacement_years=repl_years)


def peak_load_mw(site) -> float:
    """The site's peak load: IT capacity x PUE, or the largest value of a measured trace."""
    if site.load.trace is None:
        return site.load.peak_mw
    from bess_size.scenarios.load_model import read_trace

    return float(read_trace(site.load.trace)[1].max())


def bess_capital_usd(site, design) -> float:
    b, d = site.bess, design.bess
    return b.energy_cost_usd_per_mwh * d.energy_mwh + b.pcs_cost_usd_per_mw * d.pcs_power_mw + b.inverter_cost_usd * d.inverters


def time_to_power(site, design, flows: CashFlows) -> dict:
    """Energize now (the phased design from year 1) against wait for firm (nothing built and no IT load
    until the first phase whose firm import alone carries its peak load, then the grid alone).

    With v = ``economics.it_capacity_value_usd_per_mw_month`` and IT_y the IT capacity of year y:
    NPV_now = sum_y (12 v IT_y + total_y) / (1 + r)^y (total: the design's cash flows, capital in year 0);
    NPV_wait = sum_(y >= Y_firm) (12 v IT_y + reference_y) / (1 + r)^y. Months gained = 12 (Y_firm - 1);
    IT MW-months gained = sum_(y < Y_firm) 12 IT_y. The break-even BESS capital is the battery capital
    (energy, PCS, inverters) at which NPV_now = NPV_wait: C_bess + NPV_now - NPV_wait (replacements at
    the spec's cost). Without a firm phase, waiting never energizes (NPV_wait = 0).
    """
    from bess_size.site_spec.phases import phases

    eco = site.economics
    v, r = eco.it_capacity_value_usd_per_mw_month, eco.discount_rate
    plist = phases(site)
    firm = next((p for p in plist if p.site.grid.firm_import_mw >= peak_load_mw(p.site) - 1e-9), None)
    firm_year = firm.from_year if firm is not None else None
    it = {y: p.site.load.it_capacity_mw for p in plist for y in range(p.from_year, p.to_year + 1)}
    df = lambda y: 1.0 / (1.0 + r) ** y  # noqa: E731
    value = lambda y: 12.0 * v * it.get(y, 0.0) if y >= 1 else 0.0  # noqa: E731
    now = sum((value(row["year"]) + row["total_usd"]) * df(row["year"]) for row in flows.rows)
    wait = 0.0 if firm_year is None else sum((value(row["year"]) + row["reference_total_usd"]) * df(row["year"])
                                             for row in flows.rows if row["year"] >= firm_year)
    last = max(it) if it else 0
    gained_until = firm_year if firm_year is not None else last + 1
    bess = bess_capital_usd(site, design)
    be = bess + now - wait
    return {
        "it_capacity_value_usd_per_mw_month": v,
        "firm_year": firm_year,
        "npv_energize_now_usd": round(now, 2),
        "npv_wait_for_firm_usd": round(wait, 2),
        "npv_gain_usd": round(now - wait, 2),
        "months_gained": 12 * (gained_until - 1),
        "it_mw_months_gained": round(sum(12.0 * it[y] for y in it if y < gained_until), 6),
        "bess_capital_usd": round(bess, 2),
        "break_even_bess_capital_usd": round(be, 2),
        "break_even_bess_usd_per_mwh": round(be / design.bess.energy_mwh, 2) if design.bess.energy_mwh > 0 else None,
    }
