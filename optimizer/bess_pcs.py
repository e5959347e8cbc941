"""Second stage, battery and PCS: charge, discharge and stored energy on the energy layer's steps.

Index ``i`` runs over (scenario, representative day, step) flattened; ``prev(i)`` is the previous step
of the same day, cyclically, so no design gets free energy from an initial charge.
"""

from __future__ import annotations

import pyomo.environ as pyo

from .data import ModelData


def add_dispatch_variables(m, d: ModelData) -> None:
    """p_ch(i), p_dis(i) >= 0 [MW] at the AC terminals; e(i) >= 0 [MWh] stored energy at the end of step i."""
    m.steps = pyo.RangeSet(0, d.n - 1)
    pmax = None if m.elastic else d.site.bess.max_power_mw  # elastic mode may need more than the limit
    m.charge_mw = pyo.Var(m.steps, domain=pyo.NonNegativeReals, bounds=(0, pmax))
    m.discharge_mw = pyo.Var(m.steps, domain=pyo.NonNegativeReals, bounds=(0, pmax))
    m.stored_mwh = pyo.Var(m.steps, domain=pyo.NonNegativeReals)


def add_soc_dynamics_constraints(m, d: ModelData) -> None:
    """e(i) = e(prev(i)) + (eta_ch p_ch(i) - p_dis(i) / eta_dis) dt_h, cyclic per representative day."""
    b = d.site.bess
    eta_c, k_d, dt = b.charge_efficiency, 1.0 / b.discharge_efficiency, d.step_h
    prev = d.prev
    e, ch, dis = m.stored_mwh, m.charge_mw, m.discharge_mw

    def rule(m, i):
        return e[i] - e[prev[i]] - (eta_c * dt) * ch[i] + (k_d * dt) * dis[i] == 0

    m.soc_dynamics = pyo.Constraint(m.steps, rule=rule)


def add_pcs_headroom_constraints(m, d: ModelData) -> None:
    """p_dis(i) - p_ch(i) + R_up <= P and p_ch(i) - p_dis(i) + R_dn <= P: transient headroom stays free."""
    ch, dis, P = m.charge_mw, m.discharge_mw, m.pcs_power_mw
    m.pcs_headroom_up = pyo.Constraint(m.steps, rule=lambda m, i: dis[i] - ch[i] + m.headroom_up_mw - P <= 0)
    m.pcs_headroom_down = pyo.Constraint(m.steps, rule=lambda m, i: ch[i] - dis[i] + m.headroom_down_mw - P <= 0)


def add_strict_dispatch_constraints(m, d: ModelData) -> None:
    """With --strict-dispatch: b(i) binary, p_ch(i) <= M b(i), p_dis(i) <= M (1 - b(i)), M = bess.max_power_mw."""
    if not m.options.strict_dispatch:
        return
    M = d.site.bess.max_power_mw
    m.charging = pyo.Var(m.steps, domain=pyo.Binary)
    m.exclusive_charge = pyo.Constraint(m.steps, rule=lambda m, i: m.charge_mw[i] - M * m.charging[i] <= 0)
    m.exclusive_discharge = pyo.Constraint(
        m.steps, rule=lambda m, i: m.discharge_mw[i] + M * m.charging[i] <= M)
