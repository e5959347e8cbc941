"""What sized what: for each first-stage quantity, the requirement that sets it and what it costs.

Read from the LP at the solution (``solvers.sensitivity``): generator units and dispatch binaries
fixed where the MILP left them, container and inverter counts continuous (they only round E and the
inverter capacity up). For a quantity x and a row of that LP in which x appears,

    a x + rest >= lower  (a > 0)  or  a x + rest <= upper  (a < 0)

the row asks for at least ``x - slack / |a|`` of x (its *need*), and ``|dual| |a|`` is what one more
unit of that need costs per year. Rows of one constraint family form one requirement (e.g. every
second of every contingency window); its need is the largest of its rows, its marginal value the
sum. The binding requirement is the one whose need reaches the design (a requirement before a
row of the dispatch; the largest marginal value among several); the runner-up is the largest need
among the others. For generator units (held fixed) the reduced cost says whether a unit pays for
itself: when it does not, the hard requirement (islanding capacity) sets the count; when it does,
economics does.
"""

from __future__ import annotations

import math

from bess_size.site_spec.design import BindingRequirement, RequirementFigure
from bess_size.site_spec.screen import redundancy_unit

from .bands import usable_fraction
from .data import ModelData
from .generation import islanding_load_mw
from .objective import TIE_BREAK_USD

# rows that are how the design is used, not what it must cover: they reach the design whenever the
# dispatch runs against a limit it already has, so they bind only with a dual behind them
DISPATCH = {"soc_ceiling", "pcs_headroom_up", "pcs_headroom_down", "commitment_limit", "gen_ramp_up",
            "gen_ramp_down", "contingency_residual", "gen_max", "gen_min", "container_energy"}


def _where(d: ModelData, i: int) -> str:
    h = (i % d.n_steps) * d.step_h
    return f"scenario {d.scenario_of[i]}, representative day {d.period_of[i]}, {int(h):02d}:{int(round(h % 1 * 60)):02d}"


def _window_text(d: ModelData, w: int, mw: float) -> tuple[str, str]:
    """The contingency behind a window's need of ``mw`` MW, in the site's terms (and its spec field)."""
    win = d.windows[w]
    rel = d.site.reliability
    lf, dur = rel.ride_through.load_fraction, rel.ride_through.duration_s
    where = "" if win.source_scenario < 0 else f" ({win.label})"
    if win.source_scenario < 0 and dur > 0 and mw >= lf * d.peak_load_mw - 1e-6:
        return (f"ride-through of {lf:.0%} of the {d.peak_load_mw:.4g} MW peak for {dur:g} s",
                "reliability.ride_through")
    if win.kind == "voltage_sag":
        return f"ride-through of a voltage-sag sequence{where}", "grid.voltage_sags"
    if rel.islanding.required:
        return f"islanding bridge after a loss of grid{where}", "reliability.islanding"
    return f"ride-through of a loss of grid{where}", "reliability.ride_through"


def _describe(d: ModelData, family: str, index, need: float, sol: dict) -> tuple[str, str, str]:
    """(requirement key, spec field, text in the site's terms) of one row family."""
    b, g = d.site.bess, d.site.grid
    if family in ("contingency_power", "contingency_fixed_power"):
        w = index[0] if isinstance(index, tuple) else index
        text, fld = _window_text(d, w, need)
        return "contingency", fld, f"{text}: {need:.1f} MW"
    if family == "contingency_energy":
        win = d.windows[index]
        rel = d.site.reliability
        if rel.islanding.required:
            starts = ", ".join(f"{u.kind} {u.start_time_s:g} s" for u in d.site.thermal)
            text = (f"bridge a loss of grid at {win.peak_covered_mw:.0f} MW for "
                    f"{rel.ride_through.duration_s:g} s, then the island until the units start ({starts}) and ramp in")
            fld = "reliability.islanding"
        else:
            text = (f"ride-through of {rel.ride_through.load_fraction:.0%} of {win.peak_covered_mw:.0f} MW "
                    f"for {rel.ride_through.duration_s:g} s, then the load until import returns at "
                    f"{d.site.grid.reconnect_ramp_mw_per_min:g} MW/min (grid.reconnect_ramp_mw_per_min)")
            fld = "reliability.ride_through"
        if win.source_scenario >= 0:
            text += f" ({win.label})"
        return "contingency", fld, f"{text}: {need:.2f} MWh stored"
    if family == "c_rate":
        return "c_rate", "bess.max_c_rate", (f"PCS {sol['pcs_power_mw']:.1f} MW at no more than "
                                             f"{b.max_c_rate:g} MW per MWh (bess.max_c_rate): {need:.1f} MWh")
    if family == "band_stack":
        return "band_stack", "bess.end_of_life_fraction", (
            f"the reserve bands ({sol['bands_mwh']:.1f} MWh) within the end-of-life usable "
            f"{usable_fraction(d):.0%} of nameplate: {need:.1f} MWh")
    if family == "soc_ceiling":
        return "dispatch", "bess.soc_max_fraction", (
            f"stored energy the dispatch plans (curtailment cover, arbitrage) under the SoC ceiling, "
            f"{_where(d, index)}: {need:.1f} MWh")
    if family in ("pcs_headroom_up", "pcs_headroom_down"):
        side = "discharge" if family.endswith("up") else "charge"
        kept = sol["headroom_up_mw" if side == "discharge" else "headroom_down_mw"]
        if need - kept < 0.05:
            return "poi_ramp", "grid.ramp_limit_mw_per_s", (
                f"the PCS power kept free for {side} transients under the POI ramp limits: {need:.1f} MW")
        return "dispatch", "grid", (f"the {side} the dispatch plans ({need - kept:.1f} MW, {_where(d, index)}) plus the "
                                    f"{kept:.1f} MW kept free for transients: {need:.1f} MW")
    if family == "inverter_polygon":
        point = index[0]
        if point == "grid":
            return ("inverters_grid", "grid.poi_power_factor_min", (
                f"grid-connected at full discharge with the reactive power the POI may not carry "
                f"(POI power factor >= {g.poi_power_factor_min:g}): {need:.2f} inverters of {b.inverter_rating_mva:g} MVA"))
        return ("inverters_island", "load.power_factor", (
            f"islanded, the load's reactive power at power factor {d.site.load.power_factor:g}: "
            f"{need:.2f} inverters of {b.inverter_rating_mva:g} MVA"))
    if family == "transient_headroom_up":
        return "poi_ramp", "grid.ramp_limit_mw_per_s", (
            f"largest discharge the POI ramp limits leave to the battery (scenario {index}): {need:.1f} MW")
    if family == "transient_headroom_down":
        return "poi_ramp", "grid.ramp_limit_mw_per_s", (
            f"largest charge the POI ramp limits leave to the battery (scenario {index}): {need:.1f} MW")
    if family == "transient_up_buffer":
        return "poi_ramp", "grid.ramp_limit_mw_per_min", (
            f"largest stored-energy deficit under the POI ramp limits, a curtailment call's bridge included "
            f"(scenario {index}): {need:.2f} MWh")
    if family == "transient_down_headroom":
        return "poi_ramp", "grid.ramp_limit_mw_per_min", (
            f"largest stored-energy surplus under the POI ramp limits (scenario {index}): {need:.2f} MWh")
    if family == "curtailment_draw":
        return "curtailment", "grid.curtailment", (
            f"stored energy a curtailment call draws from its start (the gap generation does not carry), "
            f"{_where(d, index)}: {need:.1f} MWh")
    if family == "islanding_capacity":
        share = d.site.reliability.islanding.shed_fraction(d.site.load)
        of = (f"the {d.peak_load_mw:.4g} MW peak x (1 - flexible share {share:g} shed in an island)" if share
              else f"the whole {d.peak_load_mw:.4g} MW peak")
        k = d.site.reliability.islanding.redundancy_units
        big = redundancy_unit(d.site)
        spare = (f", with {k} x {big.unit_mw:g} MW {big.kind} out (N+{k}, reliability.islanding.redundancy_units)"
                 if k and big is not None else "")
        return ("islanding", "reliability.islanding",
                f"islanding: units carry {islanding_load_mw(d):.4g} MW = {of}{spare}: {need:.2f} units")
    if family == "commitment_limit":
        u = d.site.thermal[index[0]]
        price = sum(d.price_usd_per_mwh) / max(len(d.price_usd_per_mwh), 1)
        return "economics", f"generation[{index[0]}].fuel_usd_per_mwh", (
            f"units the dispatch runs at once (fuel {u.fuel_usd_per_mwh:g} USD/MWh against grid energy at "
            f"{price:.0f} USD/MWh on average): {need:.2f}")
    if family == "contingency_residual":
        return "economics", "generation", f"units that shorten the battery's contingency bridge: {need:.2f}"
    return family, "", f"{family}: {need:.3f}"


class _Group:
    def __init__(self, key, fld, text, need, marginal, dispatch):
        self.key, self.field, self.text, self.need, self.marginal, self.dispatch = key, fld, text, need, marginal, dispatch

    def figure(self) -> RequirementFigure:
        return RequirementFigure(requirement=self.key, field=self.field, text=self.text, needs=round(self.need, 6),
                                 marginal_usd_per_year=round(self.marginal, 2))


def _groups(d: ModelData, col, scale: float, sol: dict) -> list[_Group]:
    """Rows of one column that ask for more of it, merged per requirement."""
    x = col.value
    by_key: dict[str, dict] = {}
    for r in col.rows:
        a = r.coef
        if a > 0 and math.isfinite(r.lower):
            slack = r.activity - r.lower
        elif a < 0 and math.isfinite(r.upper):
            slack = r.upper - r.activity
        else:
            continue
        need = x - max(slack, 0.0) / abs(a)
        con = r.constraint
        family = con.parent_component().local_name
        if family == "container_energy":  # E's own rounding to whole containers, reported apart
            continue
        marginal = abs(r.dual) * abs(a) / scale
        g = by_key.setdefault(family, {"need": -math.inf, "marginal": 0.0, "index": con.index(), "family": family})
        g["marginal"] += marginal
        if need > g["need"] + 1e-9:
            g["need"], g["index"] = need, con.index()
    merged: dict[str, _Group] = {}
    for fam, g in by_key.items():
        key, fld, text = _describe(d, fam, g["index"], g["need"], sol)
        old = merged.get(key)
        if old is None:
            merged[key] = _Group(key, fld, text, g["need"], g["marginal"], fam in DISPATCH)
        else:
            old.marginal += g["marginal"]
            if g["need"] > old.need:
                old.need, old.text, old.field = g["need"], text, fld
    return list(merged.values())


def _pick(groups: list[_Group], value: float, integer: bool, reduced_cost: float | None = None):
    """(binding, runner-up) among the groups; see the module docstring."""
    if not groups:
        return None, None
    tol = 1e-6 * max(1.0, abs(value))
    if integer:
        reaches = lambda g: math.ceil(g.need - 1e-6) >= round(value)
    else:
        reaches = lambda g: g.need >= value - tol
    if reduced_cost is not None:
        # a fixed integer: a unit that costs more than it earns is held there by a hard requirement
        pool = [g for g in groups if (not g.dispatch) == (reduced_cost > 0)] or groups
        top = max(pool, key=lambda g: g.need)
    else:
        # a requirement that reaches the design sets it; how the dispatch uses it sets it only when no
        # requirement does. Tied rows share the dual arbitrarily (a degenerate LP): the tie's sum is
        # the price of one more unit of the quantity
        tied = [g for g in groups if reaches(g)]
        hard = [g for g in tied if not g.dispatch]
        used = [g for g in tied if g.dispatch and g.marginal > 0]
        top = (max(hard, key=lambda g: (g.marginal, g.need)) if hard else
               max(used, key=lambda g: (g.marginal, g.need)) if used else max(groups, key=lambda g: g.need))
        if top in tied:
            top.marginal = sum(g.marginal for g in tied)
    rest = [g for g in groups if g is not top and g.need > 1e-9]
    return top, (max(rest, key=lambda g: g.need) if rest else None)


def binding_requirements(m, d: ModelData) -> list[BindingRequirement]:
    """The binding requirement of every first-stage quantity, [] when the LP at the solution fails."""
    from bess_size.solvers.sensitivity import lp_at_solution

    b = d.site.bess
    quantities = [("energy_mwh", "BESS energy", "MWh", m.energy_mwh, False),
                  ("pcs_power_mw", "PCS power", "MW", m.pcs_power_mw, False),
                  ("inverters", "inverters", "inverters", m.inverters, True),
                  ("bands_mwh.ride_through_reserve", "ride-through reserve", "MWh", m.ride_through_reserve_mwh, False),
                  ("bands_mwh.up_ramp_buffer", "up-ramp buffer", "MWh", m.up_ramp_buffer_mwh, False),
                  ("bands_mwh.curtailment_reserve", "curtailment reserve", "MWh", m.curtailment_reserve_mwh, False),
                  ("bands_mwh.down_ramp_headroom", "down-ramp headroom", "MWh", m.down_ramp_headroom_mwh, False),
                  ("headroom_mw.up", "PCS headroom up", "MW", m.headroom_up_mw, False),
                  ("headroom_mw.down", "PCS headroom down", "MW", m.headroom_down_mw, False)]
    for g, unit in enumerate(d.site.thermal):
        quantities.append((f"generation[{g}].units", f"{unit.kind} units", "units", m.new_units[g], True))
    lp = lp_at_solution(m, [q[3] for q in quantities], relax=("containers", "inverters"))
    if lp is None:
        return []
    scale = getattr(m, "objective_scale", 1.0)
    sol = {"pcs_power_mw": lp.column(m.pcs_power_mw).value, "headroom_up_mw": lp.column(m.headroom_up_mw).value,
           "headroom_down_mw": lp.column(m.headroom_down_mw).value,
           "bands_mwh": sum(lp.column(v).value for v in (m.ride_through_reserve_mwh, m.up_ramp_buffer_mwh,
                                                         m.curtailment_reserve_mwh, m.down_ramp_headroom_mwh))}
    out: list[BindingRequirement] = []
    for key, label, unit, var, integer in quantities:
        col = lp.column(var)
        if col is None:
            continue
        value = float(round(var.value or 0.0)) if integer else float(var.value or 0.0)
        fixed = key.startswith("generation[")
        if fixed:
            g = int(key.split("[")[1].split("]")[0])
            value += d.site.thermal[g].existing_units
            col.value += d.site.thermal[g].existing_units
        groups = _groups(d, col, scale, sol)
        if key.startswith(("bands_mwh.", "headroom_mw.")):
            for g_ in groups:  # the objective's tie-break (1 USD/year per MWh or MW) is no cost of the site's
                g_.marginal = max(0.0, g_.marginal - TIE_BREAK_USD)
        top, nxt = _pick(groups, value, integer, col.reduced_cost / scale if fixed else None)
        if top is not None and top.need <= 1e-6 and value <= 1e-6:
            top = None  # nothing asks for it
        entry = BindingRequirement(quantity=key, label=label, value=round(value, 6), unit=unit,
                                   binding=top.figure() if top else None, runner_up=nxt.figure() if nxt else None)
        if fixed and top is not None:
            # the units are held fixed in the LP: their reduced cost is the net cost of one more unit
            entry.binding.marginal_usd_per_year = round(col.reduced_cost / scale, 2)
        out.append(entry)
        if key == "energy_mwh" and b.container_mwh:
            cont = BindingRequirement(
                quantity="containers", label="containers", value=round(value / b.container_mwh), unit="containers",
                binding=None if top is None else RequirementFigure(
                    requirement=top.key, field="bess.container_mwh",
                    text=f"{top.text}, in whole containers of {b.container_mwh:g} MWh",
                    needs=round(top.need / b.container_mwh, 6),
                    marginal_usd_per_year=round(top.marginal * b.container_mwh, 2)),
                runner_up=None)
            out.append(cont)
    return out
