"""SoC bands as energies, stacked inside the end-of-life usable span, and the limits they put on e(i).

From the floor F = soc_min E upwards: X_rt ride-through/islanding reserve, X_up up-ramp buffer,
X_cu curtailment reserve, the operating band (arbitrage), X_dn down-ramp headroom at the top of
U = end_of_life_fraction (soc_max - soc_min) E. Bands are energies [MWh], never a fraction times E,
so the model stays linear. R_up, R_dn [MW] are the PCS power kept free for transients.
"""

from __future__ import annotations

import pyomo.environ as pyo

from bess_size.site_spec.screen import usable_fraction as site_usable_fraction

from .data import ModelData

BANDS = ("ride_through_reserve", "up_ramp_buffer", "curtailment_reserve", "down_ramp_headroom")


def add_band_variables(m, d: ModelData) -> None:
    """X_rt, X_up, X_cu, X_dn >= 0 [MWh]; R_up, R_dn >= 0 [MW]."""
    nn = pyo.NonNegativeReals
    m.ride_through_reserve_mwh = pyo.Var(domain=nn)
    m.up_ramp_buffer_mwh = pyo.Var(domain=nn)
    m.curtailment_reserve_mwh = pyo.Var(domain=nn)
    m.down_ramp_headroom_mwh = pyo.Var(domain=nn)
    m.headroom_up_mw = pyo.Var(domain=nn)
    m.headroom_down_mw = pyo.Var(domain=nn)


def usable_fraction(d: ModelData) -> float:
    """U / E = end_of_life_fraction (soc_max - soc_min)."""
    return site_usable_fraction(d.site)


def add_band_stack_constraints(m, d: ModelData) -> None:
    """X_rt + X_up + X_cu + X_dn <= U = end_of_life_fraction (soc_max - soc_min) E."""
    m.band_stack = pyo.Constraint(expr=m.ride_through_reserve_mwh + m.up_ramp_buffer_mwh + m.curtailment_reserve_mwh
                                  + m.down_ramp_headroom_mwh <= usable_fraction(d) * m.energy_mwh)


def add_soc_band_constraints(m, d: ModelData) -> None:
    """e(i) <= F + U - X_dn;  e(i) >= F + X_rt + X_up + X_cu outside [start - notice, end + recovery],
    e(i) >= F + X_rt + X_up inside (phase 1, 2, 3), with F = soc_min E."""
    b = d.site.bess
    f = b.soc_min_fraction
    top = f + usable_fraction(d)
    e, E = m.stored_mwh, m.energy_mwh
    phase = d.phase
    m.soc_ceiling = pyo.Constraint(m.steps, rule=lambda m, i: e[i] - top * E + m.down_ramp_headroom_mwh <= 0)

    def floor(m, i):
        reserve = m.ride_through_reserve_mwh + m.up_ramp_buffer_mwh
        if phase[i] == 0:
            reserve = reserve + m.curtailment_reserve_mwh
        return e[i] - f * E - reserve >= 0

    m.soc_floor = pyo.Constraint(m.steps, rule=floor)


def add_curtailment_draw_constraints(m, d: ModelData) -> None:
    """e(i) >= e(s) - X_cu for every step i of an active curtailment, s the step whose end is the
    call's start: the call's draw is at most X_cu.

    Charging in the notice is not credited (measured from the notice's start the draw could be X_cu
    plus that charge): the replay's controller does not charge for a call in its notice, so the
    stress replay, which announces the call with the battery at X_cu's top, gets no more.
    X_cu owns the energy gap the energy layer's dispatch leaves to the battery during the call (its
    generation carries its share from the call's first step). The bridge while the units the call
    starts cold start and ramp is the transient screening's (``scenarios/transient.py``): it is in
    the screened deficit, so in X_up, and not counted here again.
    """
    if not d.event_ref:
        return
    ref = d.event_ref
    e = m.stored_mwh
    m.event_steps = pyo.Set(initialize=sorted(ref), ordered=True)
    m.curtailment_draw = pyo.Constraint(
        m.event_steps, rule=lambda m, i: e[i] - e[ref[i]] + m.curtailment_reserve_mwh >= 0)
