"""SoC bands as energies, stacked inside the end-of-life usable span, and the limits they put on e(i).

From the floor F = soc_min E upwards: X_rt ride-through/islanding reserve, X_up up-ramp buffer,
X_cu curtailment reserve, the operating band (arbitrage), X_dn down-ramp headroom at the top of
U = end_of_life_fraction (soc_max - soc_min) E. Bands are energies [MWh], never a fraction times E,
so the model stays linear. R_up, R_dn [MW] are the PCS power kept free for transients.
"""

from __future__ import annotations

import math

import numpy as np
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
    """e(i) >= e(n) - X_cu + B for every step i of an active curtailment, n the notice start, B the
    cold units' bridge (``call_bridge_mwh``; 0 without units or with notice enough).

    No foresight beyond the notice: measured from the event's start, the draw is at most X_cu plus
    what the battery charged during the notice, e(start) - e(i) <= X_cu + (e(start) - e(n)).
    """
    if not d.event_ref:
        return
    ref = d.event_ref
    e = m.stored_mwh
    bridge = call_bridge_mwh(d.site, d.peak_load_mw)[0]  # the cold units' start and ramp, B
    m.event_steps = pyo.Set(initialize=sorted(ref), ordered=True)
    m.curtailment_draw = pyo.Constraint(
        m.event_steps, rule=lambda m, i: e[i] - e[ref[i]] + m.curtailment_reserve_mwh >= bridge)


def call_bridge_mwh(site, peak_mw: float) -> tuple[float, float]:
    """What a call met in its stress state asks of the battery while the units it starts cold
    start and ramp, beyond what the energy layer sees (DESIGN section 5: generation start times).

    At the notice (tau = 0) every unit is cold. The call starts n_g = ceil(gap / unit_mw) units per
    type in list order for the gap ``G = (1 - flexible) L_pk - firm``; a unit gives
    ``c(tau) = min(unit_mw, ramp (tau - start_time))^+``; together they carry at most
    ``G_u = min(G, sum_g n_g unit_mw)``, which the energy layer lets them carry at once. The import
    cap falls from ``firm + nonfirm`` at the controller's pre-ramp rate rho (0.95 x the steady POI
    rate) to ``firm`` at the call's start tau = notice. Second by second over notice + longest call:

        B = sum_tau (min(G_u, (1 - f) L_pk - cap(tau)) - sum_g n_g c_g(tau))^+ / (3600 eta_dis)

    No charge during the notice is credited against B (the replay's controller does not charge
    for the call in its notice). P_c = the largest of those seconds' shortfalls + (G - G_u), the
    gap no unit carries. Returns (B [MWh], P_c [MW]), zeros when the site has no call.
    """
    g = site.grid
    c = g.curtailment
    explicit = [e.duration_s for e in g.events if e.kind == "curtailment"]
    sampled = g.nonfirm_import_mw > 0 and c.events_per_year > 0
    if not explicit and not sampled:
        return 0.0, 0.0
    dur_s = max(explicit + ([c.duration_h[1] * 3600.0] if sampled else []))
    flex = site.load.flexible.max_fraction if site.load.flexible else 0.0
    load = (1.0 - flex) * peak_mw
    gap = load - g.firm_import_mw
    if gap <= 0.0:
        return 0.0, 0.0
    notice_s = c.notice_min * 60.0
    tau = np.arange(int(math.ceil(notice_s + dur_s)), dtype=float) + 1.0  # end of each second
    rate = 0.95 * min(g.ramp_limit_mw_per_s, g.ramp_limit_mw_per_min / 60.0)
    cap = g.firm_import_mw + np.clip((notice_s - tau) * rate, 0.0, g.nonfirm_import_mw)
    gen = np.zeros_like(tau)
    rest = gap
    for u in site.thermal:
        n = min(u.existing_units + u.max_new_units, math.ceil(rest / u.unit_mw - 1e-9)) if rest > 1e-9 else 0
        rest -= n * u.unit_mw
        gen += n * np.clip(u.ramp_mw_per_s * (tau - u.start_time_s), 0.0, u.unit_mw)
    full = min(gap - max(rest, 0.0), gap)  # what the started units carry once ramped
    short = np.maximum(np.minimum(load - cap, full) - gen, 0.0)
    return float(short.sum() / 3600.0 / site.bess.discharge_efficiency), float(short.max() + max(rest, 0.0))


def add_curtailment_bridge_constraints(m, d: ModelData) -> None:
    """X_cu >= B and P >= P_c (``call_bridge_mwh``): the units a call starts are cold at its notice.
    Where the energy layer models calls, B adds to each call's draw there (see
    ``add_curtailment_draw_constraints``): the layer sees the units carry their share at once."""
    need, power = call_bridge_mwh(d.site, d.peak_load_mw)
    if need <= 0.0:
        return
    if not d.event_ref:
        m.curtailment_bridge = pyo.Constraint(expr=m.curtailment_reserve_mwh >= need)
    m.curtailment_bridge_power = pyo.Constraint(expr=m.pcs_power_mw >= power)
