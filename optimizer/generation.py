"""Onsite thermal generation: commitment, output limits, ramps, starts, and the islanding capacity rule.

Commitment is a count of committed units per type and step, continuous by default (a linear
relaxation that keeps the model fast) and integer with ``--integer-commitment``. PV enters the
balance as data (its curtailment is a variable in grid.py).
"""

from __future__ import annotations

import pyomo.environ as pyo
from bess_size.site_spec.screen import islanding_need_mw, redundancy_mw

from .data import ModelData
from .design import units_installed


def add_commitment_variables(m, d: ModelData) -> None:
    """gen_g(i) >= 0 [MW], on_g(i) >= 0 committed units, start_g(i) >= 0 units started in step i."""
    dom = pyo.NonNegativeIntegers if m.options.integer_commitment else pyo.NonNegativeReals
    m.gen_mw = pyo.Var(m.thermal_types, m.steps, domain=pyo.NonNegativeReals)
    m.committed_units = pyo.Var(m.thermal_types, m.steps, domain=dom)
    m.started_units = pyo.Var(m.thermal_types, m.steps, domain=pyo.NonNegativeReals)


def add_unit_count_constraints(m, d: ModelData) -> None:
    """on_g(i) <= N_g = existing_g + n_g."""
    if not d.site.thermal:
        return
    m.commitment_limit = pyo.Constraint(
        m.thermal_types, m.steps, rule=lambda m, g, i: m.committed_units[g, i] <= units_installed(m, d, g))


def add_output_limit_constraints(m, d: ModelData) -> None:
    """min_load_fraction unit_mw on_g(i) <= gen_g(i) <= unit_mw on_g(i)."""
    if not d.site.thermal:
        return
    th = d.site.thermal
    m.gen_max = pyo.Constraint(
        m.thermal_types, m.steps, rule=lambda m, g, i: m.gen_mw[g, i] - th[g].unit_mw * m.committed_units[g, i] <= 0)
    m.gen_min = pyo.Constraint(
        m.thermal_types, m.steps,
        rule=lambda m, g, i: (m.gen_mw[g, i] - th[g].min_load_fraction * th[g].unit_mw * m.committed_units[g, i] >= 0)
        if th[g].min_load_fraction > 0 else pyo.Constraint.Skip)


def add_start_constraints(m, d: ModelData) -> None:
    """start_g(i) >= on_g(i) - on_g(prev(i)) (cyclic per day); each start costs start_cost_usd."""
    if not d.site.thermal:
        return
    prev = d.prev
    m.unit_starts = pyo.Constraint(
        m.thermal_types, m.steps,
        rule=lambda m, g, i: m.started_units[g, i] - m.committed_units[g, i] + m.committed_units[g, prev[i]] >= 0)


def add_generator_ramp_constraints(m, d: ModelData) -> None:
    """|gen_g(i) - gen_g(prev(i))| <= ramp_mw_per_s dt_s N_g, for types whose ramp could bind within a step."""
    dt_s = d.step_h * 3600.0
    binding = [g for g, u in enumerate(d.site.thermal) if u.ramp_mw_per_s * dt_s < u.unit_mw]
    if not binding:
        return
    th, prev = d.site.thermal, d.prev
    m.ramping_types = pyo.Set(initialize=binding, ordered=True)

    def up(m, g, i):
        return m.gen_mw[g, i] - m.gen_mw[g, prev[i]] <= th[g].ramp_mw_per_s * dt_s * units_installed(m, d, g)

    def down(m, g, i):
        return m.gen_mw[g, prev[i]] - m.gen_mw[g, i] <= th[g].ramp_mw_per_s * dt_s * units_installed(m, d, g)

    m.gen_ramp_up = pyo.Constraint(m.ramping_types, m.steps, rule=up)
    m.gen_ramp_down = pyo.Constraint(m.ramping_types, m.steps, rule=down)


def islanding_load_mw(d: ModelData) -> float:
    """What the island must carry: L_pk, less the flexible share only when the spec sheds it in an
    island (reliability.islanding.shed_flexible_load); the rule `check` screens too."""
    return islanding_need_mw(d.site, d.peak_load_mw)


def add_islanding_capacity_constraints(m, d: ModelData) -> None:
    """sum_g N_g unit_mw_g - k unit_mw_max >= islanding_load_mw when islanding.required: N+k, the island
    holds with the k = redundancy_units largest units out (PV counts as zero)."""
    if not d.site.reliability.islanding.required:
        return
    th = d.site.thermal
    m.islanding_capacity = pyo.Constraint(
        expr=sum(th[g].unit_mw * units_installed(m, d, g) for g in m.thermal_types)
        >= islanding_load_mw(d) + redundancy_mw(d.site))
