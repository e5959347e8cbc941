"""First stage: the design shared by every scenario (energy, containers, PCS power, inverters, new units)."""

from __future__ import annotations

import math

import pyomo.environ as pyo

from .data import ModelData
from .limits import Limit, relaxed, upper_limit

N_FACETS = 16  # facets of the inverter polygon in the first quadrant


def add_design_variables(m, d: ModelData) -> None:
    """E [MWh] nameplate energy, P [MW] PCS rating, N_inv inverters, n_g new units of each thermal type."""
    b = d.site.bess
    m.energy_mwh = pyo.Var(domain=pyo.NonNegativeReals)
    m.pcs_power_mw = pyo.Var(domain=pyo.NonNegativeReals)
    m.inverters = pyo.Var(domain=pyo.NonNegativeIntegers)
    upper_limit(m, m.energy_mwh, Limit("max_energy", "bess.max_energy_mwh", b.max_energy_mwh, "MWh", "nameplate energy"))
    upper_limit(m, m.pcs_power_mw, Limit("max_power", "bess.max_power_mw", b.max_power_mw, "MW", "PCS power"))
    m.thermal_types = pyo.Set(initialize=range(len(d.site.thermal)), ordered=True)
    m.new_units = pyo.Var(m.thermal_types, domain=pyo.NonNegativeIntegers)
    for g, unit in enumerate(d.site.thermal):
        upper_limit(m, m.new_units[g], Limit(f"max_new_units_{g}", f"generation[{_gen_index(d, g)}].max_new_units",
                                             unit.max_new_units, "units", f"new {unit.kind} units"))


def _gen_index(d: ModelData, g: int) -> int:
    """Position of the g-th thermal type in the spec's generation list (for field paths)."""
    thermal = [i for i, x in enumerate(d.site.generation) if x.kind != "pv"]
    return thermal[g]


def units_installed(m, d: ModelData, g: int):
    """N_g = existing_units + n_g."""
    return d.site.thermal[g].existing_units + m.new_units[g]


def add_container_constraints(m, d: ModelData) -> None:
    """E = n_cont * container_mwh, n_cont integer (only when bess.container_mwh is set)."""
    c = d.site.bess.container_mwh
    if not c:
        return
    m.containers = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.container_energy = pyo.Constraint(expr=m.energy_mwh == c * m.containers)


def add_c_rate_constraints(m, d: ModelData) -> None:
    """P <= max_c_rate * E."""
    b = d.site.bess
    lim = Limit("c_rate", "bess.max_c_rate", b.max_c_rate, "1/h", "PCS power per MWh of nameplate energy")
    m.c_rate = pyo.Constraint(expr=m.pcs_power_mw <= b.max_c_rate * m.energy_mwh + relaxed(m, lim, 0.0))


def facet_angles() -> list[float]:
    """th_k = (2k + 1) pi / 64, k = 0..15: the facet normals of the first-quadrant polygon."""
    return [(2 * k + 1) * math.pi / (4 * N_FACETS) for k in range(N_FACETS)]


def add_inverter_constraints(m, d: ModelData) -> None:
    """N_inv * S * cos(pi/64) >= P cos(th_k) + Q sin(th_k), k = 0..15, for each operating point (P, Q).

    The 16 facets circumscribe the quarter circle of radius N_inv * S: exact on both axes and at
    most 1/cos(pi/64) - 1 = 0.12% above the circle in between (never the crude P + Q).
    Operating points (P, Q): grid-connected at full discharge, Q = max(0, L tan phi_L - (L - P)
    tan phi_POI) for L in [P, L_pk] (the POI carries reactive power down to poi_power_factor_min of
    what it imports), linear in L, so the points (P, 0) [the max(0, .)],
    (P, L_pk (tan phi_L - tan phi_POI) + P tan phi_POI) [L = L_pk] and (P, P tan phi_L) [L = P];
    islanded (when there are contingency windows), Q = load_fraction L_pk tan phi_L.
    """
    S = d.site.bess.inverter_rating_mva
    cap = S * math.cos(math.pi / (4 * N_FACETS))
    points = {"grid_active": (0.0, 0.0), "grid": (d.q_grid_fixed_mvar, d.q_grid_per_mw),
              "grid_no_import": (0.0, d.q_load_per_mw)}
    if d.windows:
        points["island"] = (d.q_island_mvar, 0.0)
    m.inverter_points = pyo.Set(initialize=list(points), ordered=True)
    m.inverter_facets = pyo.Set(initialize=range(N_FACETS), ordered=True)
    th = facet_angles()

    def rule(m, p, k):
        q0, q_per_p = points[p]
        c, s = math.cos(th[k]), math.sin(th[k])
        return cap * m.inverters >= (c + s * q_per_p) * m.pcs_power_mw + s * q0

    m.inverter_polygon = pyo.Constraint(m.inverter_points, m.inverter_facets, rule=rule)


def reactive_power_mvar(d: ModelData, p_mw: float) -> dict[str, float]:
    """Q at each operating point for a PCS rating p_mw (for reports and tests)."""
    out = {"grid": max(0.0, d.q_grid_fixed_mvar + d.q_grid_per_mw * p_mw, d.q_load_per_mw * p_mw)}
    if d.windows:
        out["island"] = d.q_island_mvar
    return out
