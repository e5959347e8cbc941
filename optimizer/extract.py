"""From a solved model to the Design (design.json, DESIGN section 9) and the optimizer's promises."""

from __future__ import annotations

import pyomo.environ as pyo

from bess_size.site_spec.design import Bands, BessDesign, Cost, Design, GenerationDesign, Headroom, SolverInfo
from bess_size.site_spec.screen import redundancy_mw

from .bands import usable_fraction
from .data import ModelData
from .design import reactive_power_mvar
from .generation import islanding_load_mw
from .objective import CAPEX_PARTS, OPEX_PARTS, demand_charges_usd


def _v(x) -> float:
    """Value of a Pyomo component as a float, tiny solver noise below zero clipped."""
    val = pyo.value(x, exception=False)
    val = 0.0 if val is None else float(val)
    return 0.0 if abs(val) < 1e-9 else val


def _r(x: float, nd: int = 6) -> float:
    return max(0.0, round(x, nd))


def extract_design(m, d: ModelData, solver_info: SolverInfo | None) -> Design:
    """Round integers, recompute E from whole containers, express bands as MWh and fractions of E."""
    b = d.site.bess
    if hasattr(m, "containers"):
        containers = int(round(_v(m.containers)))
        E = containers * b.container_mwh
    else:
        containers, E = None, _r(_v(m.energy_mwh))
    F = b.soc_min_fraction * E
    U = usable_fraction(d) * E
    x = {"ride_through_reserve": _r(_v(m.ride_through_reserve_mwh)), "up_ramp_buffer": _r(_v(m.up_ramp_buffer_mwh)),
         "curtailment_reserve": _r(_v(m.curtailment_reserve_mwh)),
         "down_ramp_headroom": _r(_v(m.down_ramp_headroom_mwh))}
    low = F + x["ride_through_reserve"] + x["up_ramp_buffer"] + x["curtailment_reserve"]
    high = max(low, F + U - x["down_ramp_headroom"])
    bands_mwh = Bands(**x, operating=(round(low, 6), round(high, 6)))
    frac = (lambda v: round(v / E, 6)) if E > 0 else (lambda v: 0.0)
    bands_fraction = Bands(**{k: frac(v) for k, v in x.items()}, operating=(frac(low), frac(high)))
    bess = BessDesign(
        energy_mwh=round(E, 6), containers=containers, pcs_power_mw=_r(_v(m.pcs_power_mw)),
        inverters=int(round(_v(m.inverters))), inverter_rating_mva=b.inverter_rating_mva,
        headroom_mw=Headroom(up=_r(_v(m.headroom_up_mw)), down=_r(_v(m.headroom_down_mw))),
        bands_mwh=bands_mwh, bands_fraction=bands_fraction)
    gens = [GenerationDesign(kind=u.kind, existing_units=u.existing_units, new_units=int(round(_v(m.new_units[g]))),
                             unit_mw=u.unit_mw) for g, u in enumerate(d.site.thermal)]
    return Design(site=d.site.name, solver=solver_info, bess=bess, generation=gens, cost=extract_cost(m, d),
                  promises=extract_promises(m, d, gens), energy_mix=extract_energy_mix(m, d, gens))


def extract_energy_mix(m, d: ModelData, gens: list[GenerationDesign]) -> dict:
    """The optimizer's expected year: energy by source, CO2, capacity factors (site_spec/energy_mix.py)."""
    from bess_size.site_spec.energy_mix import energy_mix

    wdt = [w * d.step_h for w in d.annual_weight]
    steps = range(d.n)
    annual = lambda var: sum(wdt[i] * _v(var[i]) for i in steps)  # noqa: E731  [MWh/year]
    curtailed = annual(m.pv_curtailed_mw)
    pv = sum(wdt[i] * d.pv_mw[i] for i in steps)
    return energy_mix(
        d.site, [g.units for g in gens], grid_import_mwh=annual(m.import_mw),
        generation_mwh=[sum(wdt[i] * _v(m.gen_mw[g, i]) for i in steps) for g in m.thermal_types],
        pv_used_mwh=pv - curtailed, pv_curtailed_mwh=curtailed, bess_discharge_mwh=annual(m.discharge_mw),
        unserved_mwh=annual(m.shed_mw), flexible_shed_mwh=annual(m.flexible_mw) if hasattr(m, "flexible_mw") else 0.0)


def extract_cost(m, d: ModelData | None = None) -> Cost:
    capex = {k: _v(getattr(m, k)) for k in CAPEX_PARTS}
    opex = {k: _v(getattr(m, k)) for k in OPEX_PARTS}
    total_capex, total_opex = sum(capex.values()), sum(opex.values())
    total = total_capex + total_opex
    breakdown = {**{f"annualized_{k}": round(v, 2) for k, v in capex.items()}, **{k: round(v, 2) for k, v in opex.items()},
                 "grid_only_bill_usd": round(m.grid_only_bill_usd, 2), "total_annualized_usd": round(total, 2),
                 "decision_objective_usd": round(total - m.grid_only_bill_usd, 2)}
    by_month = []
    if d is not None and d.demand_groups:
        by_month = [round(x, 2) for x in demand_charges_usd(d, [_v(m.import_mw[i]) for i in range(d.n)])]
    return Cost(annualized_capex_usd=round(total_capex, 2), expected_annual_opex_usd=round(total_opex, 2),
                grid_only_bill_usd=round(m.grid_only_bill_usd, 2), total_annualized_usd=round(total, 2),
                breakdown=breakdown, demand_charge_by_month_usd=by_month,
                grid_only_energy_usd=round(m.grid_only_energy_usd, 2),
                grid_only_demand_charge_usd=round(m.grid_only_demand_charge_usd, 2),
                grid_energy_reference_usd=round(m.grid_only_bill_usd, 2),
                **({} if d is None else grid_only_shortfall(d)))


def grid_only_shortfall(d: ModelData) -> dict:
    """Could the grid alone serve the site? The largest net load above the import limit: max over the
    energy layer's steps of L - pv - limit, and the peak above the lowest limit (firm import: a
    curtailment call may come at the peak) [MW]."""
    over = [a - b - c for a, b, c in zip(d.load_mw, d.pv_mw, d.import_limit_mw)]
    short = max(max(over, default=0.0), d.peak_load_mw - min(d.import_limit_mw, default=0.0), 0.0)
    return {"grid_only_feasible": short <= 1e-6, "grid_only_shortfall_mw": round(short, 6)}


def extract_promises(m, d: ModelData, gens: list[GenerationDesign]) -> dict[str, float]:
    """What the optimizer claims, in the units the simulator's checks measure (annual expectations)."""
    wdt = [w * d.step_h for w in d.annual_weight]
    steps = range(d.n)
    annual = lambda var: sum(wdt[i] * _v(var[i]) for i in steps)  # noqa: E731  [MWh/year]
    shed = annual(m.shed_mw)
    dis = annual(m.discharge_mw)
    flex = annual(m.flexible_mw) if hasattr(m, "flexible_mw") else 0.0
    gen = sum(wdt[i] * _v(m.gen_mw[g, i]) for g in m.thermal_types for i in steps)
    starts = sum(d.annual_weight[i] * _v(m.started_units[g, i]) for g in m.thermal_types for i in steps)
    rel = d.site.reliability
    usable = usable_fraction(d) * _v(m.energy_mwh)
    tr = d.transient
    throughput = dis + d.fast_throughput_mwh_per_year
    r6 = lambda x: round(x, 6)  # noqa: E731
    out = {
        "poi_ramp_violation_mw_s_per_year": r6(poi_ramp_violation_mw_s(m, d)),
        "import_limit_violation_mw_s_per_year": r6(import_limit_violation_mw_s(m, d)),
        "fast_cycling_loss_mwh_per_year": r6(sum(d.annual_weight[i] * 24.0 * d.fast_loss_mw[d.scenario_of[i]]
                                                  for i in range(0, d.n, d.n_steps))),
        "unserved_energy_mwh_per_year": r6(shed),
        "flexible_load_shed_mwh_per_year": r6(flex),
        "grid_import_mwh_per_year": r6(annual(m.import_mw)),
        "generation_mwh_per_year": r6(gen),
        "pv_curtailed_mwh_per_year": r6(annual(m.pv_curtailed_mw)),
        "energy_cost_usd_per_year": round(_v(m.opex_energy_usd), 2),
        "fuel_cost_usd_per_year": round(_v(m.opex_fuel_usd), 2),
        "start_cost_usd_per_year": round(_v(m.opex_starts_usd), 2),
        "generator_starts_per_year": r6(starts),
        "bess_throughput_mwh_per_year": r6(throughput),
        "equivalent_full_cycles_per_year": r6(throughput / usable) if usable > 0 else 0.0,
        "ride_through_mw": r6(max((w.peak_covered_mw for w in d.windows), default=0.0)),
        "ride_through_s": rel.ride_through.duration_s,
        "islanding_capacity_mw": r6(sum(g.units * g.unit_mw for g in gens)),
        "islanding_required_mw": r6(islanding_load_mw(d)) if rel.islanding.required else 0.0,
        # N+k: the capacity left with the k largest units out, and its margin over what the island needs
        "islanding_redundancy_mw": r6(redundancy_mw(d.site)),
        "islanding_margin_mw": r6(sum(g.units * g.unit_mw for g in gens) - redundancy_mw(d.site)
                                  - islanding_load_mw(d)) if rel.islanding.required else 0.0,
        "curtailment_reserve_mwh": r6(_v(m.curtailment_reserve_mwh)),
        "discharge_residual_mw": r6(max(tr["discharge_residual_mw"], default=0.0)),
        "charge_residual_mw": r6(max(tr["charge_residual_mw"], default=0.0)),
        "deficit_mwh": r6(max(tr["deficit_mwh"], default=0.0)),
        "surplus_mwh": r6(max(tr["surplus_mwh"], default=0.0)),
        "inverter_capacity_mva": r6(round(_v(m.inverters)) * d.site.bess.inverter_rating_mva),
    }
    # the reactive power the inverters were sized for, with the PCS at its rating
    for point, q in reactive_power_mvar(d, _v(m.pcs_power_mw)).items():
        out[f"reactive_power_{point}_mvar"] = r6(q)
    return out


def import_limit_violation_mw_s(m, d: ModelData) -> float:
    """Expected MW s a year the solution imports above the limit: sum_i w_i max(0, g_i - limit_i) dt_s
    (w_i in days a year; the bound holds unless the model was relaxed)."""
    dt_s = d.step_h * 3600.0
    return sum(d.annual_weight[i] * max(0.0, _v(m.import_mw[i]) - d.import_limit_mw[i]) * dt_s for i in range(d.n))


def poi_ramp_violation_mw_s(m, d: ModelData) -> float:
    """Expected MW s a year of POI ramping beyond the limits in the solution: between energy-layer
    steps, sum_i w_i max(0, |g_i - g_prev(i)| - r dt_min) dt_s [the step means of a signal held to
    r MW/min differ by at most r dt_min], plus what the screened transients ask of the battery
    beyond its PCS headroom, once a day at the worst second (the POI would have to move faster than
    allowed): 365 sum_s prob_s (max(0, up_s - R_up) + max(0, down_s - R_dn)) x 1 s."""
    gr = d.site.grid
    r = min(60.0 * gr.ramp_limit_mw_per_s, gr.ramp_limit_mw_per_min) * d.step_h * 60.0
    dt_s = d.step_h * 3600.0
    ramp = sum(d.annual_weight[i] * max(0.0, abs(_v(m.import_mw[i]) - _v(m.import_mw[d.prev[i]])) - r)
               * dt_s for i in range(d.n))
    return (ramp + _headroom_shortfall_mw_s(m, d, "discharge_residual_mw", m.headroom_up_mw)
            + _headroom_shortfall_mw_s(m, d, "charge_residual_mw", m.headroom_down_mw))


def _headroom_shortfall_mw_s(m, d: ModelData, key: str, headroom) -> float:
    need = d.transient[key]
    prob = d.scenario_probability if len(need) == d.n_scenarios else [1.0 / max(len(need), 1)] * len(need)
    return 365.0 * sum(p * max(0.0, x - _v(headroom)) for p, x in zip(prob, need))


def dispatch_dataset(m, d: ModelData):
    """Energy-layer results on the scenarios' (scenario, period, step) grid, units in attributes."""
    import numpy as np
    import xarray as xr

    shape = (d.n_scenarios, d.n_periods, d.n_steps)
    dims = ("scenario", "period", "step")

    def cube(var, units, long_name):
        vals = np.array([_v(var[i]) for i in range(d.n)]).reshape(shape)
        return xr.DataArray(vals, dims=dims, attrs={"units": units, "long_name": long_name})

    ds = xr.Dataset({
        "load_mw": xr.DataArray(np.reshape(d.load_mw, shape), dims=dims, attrs={"units": "MW", "long_name": "site load"}),
        "import_mw": cube(m.import_mw, "MW", "grid import"),
        "charge_mw": cube(m.charge_mw, "MW", "BESS charge (AC)"),
        "discharge_mw": cube(m.discharge_mw, "MW", "BESS discharge (AC)"),
        "stored_mwh": cube(m.stored_mwh, "MWh", "stored energy at the end of the step"),
        "shed_mw": cube(m.shed_mw, "MW", "unserved load"),
    }, attrs={"step_h": d.step_h})
    for g, unit in enumerate(d.site.thermal):
        ds[f"gen_{g}_mw"] = xr.DataArray(
            np.array([_v(m.gen_mw[g, i]) for i in range(d.n)]).reshape(shape), dims=dims,
            attrs={"units": "MW", "long_name": f"{unit.kind} output (generation[{g}] of the thermal types)"})
    return ds
