"""The build recipe: the two-stage stochastic MILP of DESIGN section 5, read top to bottom."""

from __future__ import annotations

import gc
from dataclasses import dataclass

import pyomo.environ as pyo

from . import bands, bess_pcs, design, emissions, generation, grid, objective, transients
from .data import ModelData
from .limits import init_limits


@dataclass(frozen=True)
class ModelOptions:
    strict_dispatch: bool = False  # binary charge/discharge exclusivity at every step
    integer_commitment: bool = False  # integer committed-unit counts (continuous by default)
    elastic: bool = False  # diagnosis: site limits relaxed with labeled slacks


def build_model(d: ModelData, options: ModelOptions = ModelOptions()) -> pyo.ConcreteModel:
    """Build the model for one site and its scenarios (see ``ModelData``)."""
    m = pyo.ConcreteModel(name=d.site.name)
    m.options = options
    m.elastic = options.elastic
    init_limits(m)
    was_enabled = gc.isenabled()
    gc.disable()  # construction makes many small objects and no cycles worth collecting
    try:
        # first stage: the design
        design.add_design_variables(m, d)
        design.add_container_constraints(m, d)
        design.add_c_rate_constraints(m, d)
        design.add_inverter_constraints(m, d)
        bands.add_band_variables(m, d)
        bands.add_band_stack_constraints(m, d)
        generation.add_islanding_capacity_constraints(m, d)

        # second stage: the energy layer, per scenario, representative day and step
        bess_pcs.add_dispatch_variables(m, d)
        grid.add_grid_variables(m, d)
        generation.add_commitment_variables(m, d)
        grid.add_power_balance_constraints(m, d)
        grid.add_explicit_event_constraints(m, d)
        grid.add_import_ramp_constraints(m, d)
        grid.add_demand_charge_constraints(m, d)
        bess_pcs.add_soc_dynamics_constraints(m, d)
        bess_pcs.add_pcs_headroom_constraints(m, d)
        bess_pcs.add_strict_dispatch_constraints(m, d)
        bands.add_soc_band_constraints(m, d)
        bands.add_curtailment_draw_constraints(m, d)
        generation.add_unit_count_constraints(m, d)
        generation.add_output_limit_constraints(m, d)
        generation.add_start_constraints(m, d)
        generation.add_generator_ramp_constraints(m, d)

        # second stage: transient requirements and contingencies, hard for every scenario
        transients.add_transient_requirement_constraints(m, d)
        transients.add_contingency_constraints(m, d)

        # emissions: what the import and the fuel emit, an optional cap
        emissions.add_emission_expressions(m, d)
        emissions.add_emission_cap_constraints(m, d)

        # objective
        objective.add_capex_expressions(m, d)
        objective.add_opex_expressions(m, d)
        objective.add_objective(m, d)
    finally:
        if was_enabled:
            gc.enable()
    return m


def model_size(m) -> dict[str, int]:
    """Variables, constraints and integer variables of a built model."""
    n_var = n_int = 0
    for v in m.component_data_objects(pyo.Var, active=True, descend_into=True):
        n_var += 1
        if v.is_integer() or v.is_binary():
            n_int += 1
    n_con = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    return {"variables": n_var, "constraints": n_con, "integers": n_int}
