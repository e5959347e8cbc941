"""Transient requirements (screened per scenario by the POI policy) and contingency windows.

Both are hard for every optimizer scenario (the scenario approach): the held-out replay measures how
well that generalises.
"""

from __future__ import annotations

import pyomo.environ as pyo

from bess_size.site_spec.screen import redundancy_unit

from .data import ModelData
from .design import units_installed


def add_transient_requirement_constraints(m, d: ModelData) -> None:
    """For every scenario s: R_up >= discharge_residual(s), R_dn >= charge_residual(s) [MW];
    X_up >= deficit(s), X_dn >= surplus(s) [MWh stored] (figures of the POI policy over the whole trace)."""
    tr = d.transient
    # one row per screened scenario (a refined set may screen more traces than it has energy scenarios)
    m.transient_scenarios = pyo.RangeSet(0, len(tr["discharge_residual_mw"]) - 1)
    m.transient_headroom_up = pyo.Constraint(
        m.transient_scenarios, rule=lambda m, s: m.headroom_up_mw >= tr["discharge_residual_mw"][s])
    m.transient_headroom_down = pyo.Constraint(
        m.transient_scenarios, rule=lambda m, s: m.headroom_down_mw >= tr["charge_residual_mw"][s])
    m.transient_up_buffer = pyo.Constraint(
        m.transient_scenarios, rule=lambda m, s: m.up_ramp_buffer_mwh >= tr["deficit_mwh"][s])
    m.transient_down_headroom = pyo.Constraint(
        m.transient_scenarios, rule=lambda m, s: m.down_ramp_headroom_mwh >= tr["surplus_mwh"][s])


def unit_contribution_mw(unit, since_s: float) -> float:
    """c_g(tau): one cold unit's output tau seconds after the grid is lost [MW].

    0 until start_time_s, then ramping at ramp_mw_per_s up to unit_mw.
    """
    if since_s < unit.start_time_s:
        return 0.0
    return min(unit.unit_mw, unit.ramp_mw_per_s * (since_s - unit.start_time_s))


def add_contingency_constraints(m, d: ModelData) -> None:
    """Loss-of-grid and sag windows, generators starting cold:

    u(w, tau) >= need(w, tau) - sum_g N_g c_g(tau) + k c_big(tau), u >= 0;  P >= u(w, tau);
    X_rt >= sum_tau u(w, tau) s(w, tau) / (3600 eta_dis)  [MWh stored], for every window w,
    s(w, tau) [s] the part of the step the battery covers (the step length counted once).
    Steps before any unit can start have u = need, a constant (no variable). With islanding required
    the k = redundancy_units largest units (type "big") are out: they never deliver (N+k).
    """
    if not d.windows:
        return
    th = d.site.thermal
    eta = d.site.bess.discharge_efficiency
    rows = [(w, k) for w, win in enumerate(d.windows) for k in range(len(win.var_load_mw))]
    m.windows = pyo.RangeSet(0, len(d.windows) - 1)
    m.window_seconds = pyo.Set(initialize=rows, dimen=2, ordered=True)
    m.contingency_residual_mw = pyo.Var(m.window_seconds, domain=pyo.NonNegativeReals)
    u = m.contingency_residual_mw
    G = list(m.thermal_types)
    isl = d.site.reliability.islanding
    big = redundancy_unit(d.site) if isl.required else None
    out_k = isl.redundancy_units if big is not None else 0

    def residual(m, w, k):
        win = d.windows[w]
        since = win.var_since_outage_s[k]
        gens = sum(unit_contribution_mw(th[g], since) * units_installed(m, d, g) for g in G)
        if out_k:
            gens = gens - out_k * unit_contribution_mw(big, since)
        return u[w, k] + gens >= win.var_load_mw[k]

    m.contingency_residual = pyo.Constraint(m.window_seconds, rule=residual)
    m.contingency_power = pyo.Constraint(m.window_seconds, rule=lambda m, w, k: m.pcs_power_mw - u[w, k] >= 0)
    m.contingency_fixed_power = pyo.Constraint(
        m.windows, rule=lambda m, w: m.pcs_power_mw >= d.windows[w].fixed_max_mw)
    by_window: dict[int, list[int]] = {}
    for w, k in rows:
        by_window.setdefault(w, []).append(k)

    def energy(m, w):
        win = d.windows[w]
        k_mwh = 1.0 / (3600.0 * eta)  # MW s at the terminals -> MWh stored
        return m.ride_through_reserve_mwh >= k_mwh * win.fixed_energy_mws + sum(
            k_mwh * win.var_covered_s[k] * u[w, k] for k in by_window.get(w, ()))

    m.contingency_energy = pyo.Constraint(m.windows, rule=energy)
