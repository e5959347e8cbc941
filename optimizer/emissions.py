"""CO2: what the grid import and the onsite fuel emit a year, its price and an optional cap."""

from __future__ import annotations

import pyomo.environ as pyo

from .data import ModelData
from .limits import Limit, relaxed


def add_emission_expressions(m, d: ModelData) -> None:
    """co2_grid = sum_i w_i dt f_grid g(i);  co2_g = sum_i w_i dt f_g gen_g(i);  co2 = co2_grid + sum_g co2_g [t/year].

    f_grid = grid.co2_t_per_mwh, f_g = the unit's emission factor (natural gas at its efficiency by
    default). Exported energy (g < 0, where allowed) counts as emissions avoided at the grid's factor.
    """
    wdt = [w * d.step_h for w in d.annual_weight]
    f_grid = d.site.grid.co2_t_per_mwh
    th = d.site.thermal
    m.co2_grid_t = pyo.Expression(expr=pyo.quicksum(f_grid * wdt[i] * m.import_mw[i] for i in range(d.n)))
    m.co2_generation_t = pyo.Expression(m.thermal_types, rule=lambda m, g: pyo.quicksum(
        th[g].emission_factor_t_per_mwh * wdt[i] * m.gen_mw[g, i] for i in range(d.n)))
    m.co2_t = pyo.Expression(expr=m.co2_grid_t + sum(m.co2_generation_t[g] for g in m.thermal_types))


def add_emission_cap_constraints(m, d: ModelData) -> None:
    """co2 <= economics.co2_cap_t_per_year (only when the spec sets a cap)."""
    cap = d.site.economics.co2_cap_t_per_year
    if cap is None:
        return
    lim = Limit("co2_cap", "economics.co2_cap_t_per_year", cap, "t/year", "CO2 emitted a year")
    m.co2_cap = pyo.Constraint(expr=m.co2_t <= relaxed(m, lim, cap))
