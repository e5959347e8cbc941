"""Second stage, the grid side: import within its limits, the power balance, ramps, demand charge,
flexible load and shedding."""

from __future__ import annotations

import pyomo.environ as pyo

from .data import ModelData
from .limits import Limit, relaxed


def add_grid_variables(m, d: ModelData) -> None:
    """g(i) [MW] net import, 0 <= g(i) <= import_limit(i) (firm only during curtailment; >= -limit with
    export allowed); shed(i) >= 0 unserved load (0 in explicit-event periods: they are hard);
    flex(i) <= max_fraction L(i) curtailed flexible load; pvc(i) <= pv(i) curtailed PV."""
    limit, load, pv = d.import_limit_mw, d.load_mw, d.pv_mw
    export = d.site.grid.export_allowed
    m.import_mw = pyo.Var(m.steps, bounds=lambda m, i: (-limit[i] if export else 0.0, limit[i]))
    hard = d.explicit_event
    elastic = m.elastic
    m.shed_mw = pyo.Var(m.steps, bounds=lambda m, i: (0.0, load[i] if (elastic or not hard[i]) else 0.0))
    fl = d.site.load.flexible
    if fl is not None and fl.max_fraction > 0:
        m.flexible_mw = pyo.Var(m.steps, bounds=lambda m, i: (0.0, fl.max_fraction * load[i]))
    m.pv_curtailed_mw = pyo.Var(m.steps, bounds=lambda m, i: (0.0, pv[i]))


def add_power_balance_constraints(m, d: ModelData) -> None:
    """g(i) + p_dis(i) - p_ch(i) + sum_g gen_g(i) + shed(i) + flex(i) - pvc(i) = L(i) - pv(i) + l_fast(s(i)),

    l_fast(s) [MW] the round-trip losses of the scenario's fast cycling (transient buffering the hourly
    steps do not see), spread over the day: they are energy the site buys too."""
    loss = d.fast_loss_mw
    net = [a - b + loss[s] for a, b, s in zip(d.load_mw, d.pv_mw, d.scenario_of)]
    G = list(m.thermal_types)
    has_flex = hasattr(m, "flexible_mw")

    def rule(m, i):
        lhs = m.import_mw[i] + m.discharge_mw[i] - m.charge_mw[i] + m.shed_mw[i] - m.pv_curtailed_mw[i]
        for g in G:
            lhs = lhs + m.gen_mw[g, i]
        if has_flex:
            lhs = lhs + m.flexible_mw[i]
        return lhs == net[i]

    m.power_balance = pyo.Constraint(m.steps, rule=rule)


def add_explicit_event_constraints(m, d: ModelData) -> None:
    """Elastic mode only: sum over an explicit event's steps of shed(i) <= slack_event (normally shed = 0 there)."""
    if not m.elastic or not any(d.explicit_event):
        return
    groups: dict[tuple[int, int], list[int]] = {}
    for i, hard in enumerate(d.explicit_event):
        if hard:
            groups.setdefault((d.scenario_of[i], d.period_of[i]), []).append(i)
    m.explicit_event_keys = pyo.Set(initialize=sorted(groups), dimen=2, ordered=True)

    def rule(m, s, p):
        # relaxing a size limit explains more than leaving a hard event unserved: weigh it 100x
        lim = Limit(f"explicit_event_{s}_{p}", "grid.events", 0.0, "MW",
                    f"load left unserved in the explicit event of scenario {s}, period {p}", weight=100.0)
        return sum(m.shed_mw[i] for i in groups[s, p]) <= relaxed(m, lim, 0.0)

    m.explicit_event_served = pyo.Constraint(m.explicit_event_keys, rule=rule)


def add_import_ramp_constraints(m, d: ModelData) -> None:
    """|g(i) - g(prev(i))| <= r dt_min, r = min(60 ramp_limit_mw_per_s, ramp_limit_mw_per_min) [MW/min].

    Hourly averages of a signal that moves at most r per minute differ by at most r x 60 min.
    Skipped when no change within the limits could reach it.
    """
    gr = d.site.grid
    r = min(60.0 * gr.ramp_limit_mw_per_s, gr.ramp_limit_mw_per_min)
    step = r * d.step_h * 60.0
    span = max(d.import_limit_mw) + (max(d.import_limit_mw) if gr.export_allowed else 0.0)
    if step >= span:
        return
    prev = d.prev
    lim = Limit("import_ramp", "grid.ramp_limit_mw_per_min", gr.ramp_limit_mw_per_min, "MW per step",
                "change of import between energy-layer steps")
    m.import_ramp_up = pyo.Constraint(
        m.steps, rule=lambda m, i: m.import_mw[i] - m.import_mw[prev[i]] <= relaxed(m, lim, step))
    m.import_ramp_down = pyo.Constraint(
        m.steps, rule=lambda m, i: m.import_mw[prev[i]] - m.import_mw[i] <= relaxed(m, lim, step))


def add_demand_charge_constraints(m, d: ModelData) -> None:
    """Each demand charge k is billed on each month's own peak, per scenario s (see ``DemandGroup``):

    u(s,p,H) >= g(i) for every step i of period p whose hour is in H (the charge's hours on the day
    types p stands for in month mo), and peak(s,k,mo) >= u(s,p,H) for every period p standing for a
    day of month mo. Periods share u across charges and months with the same hours, which keeps the
    model near one constraint per step.
    """
    if not d.demand_groups:
        return
    period_peak: dict[tuple[int, ...], int] = {}
    for grp in d.demand_groups:
        for steps in grp.steps_by_period:
            period_peak.setdefault(steps, len(period_peak))
    keys = list(period_peak)
    m.period_peak_keys = pyo.RangeSet(0, len(keys) - 1)
    m.period_peak_import_mw = pyo.Var(m.period_peak_keys, domain=pyo.NonNegativeReals)
    pairs = [(j, i) for j, steps in enumerate(keys) for i in steps]
    m.period_peak_pairs = pyo.Set(initialize=pairs, dimen=2, ordered=True)
    m.period_peak_import = pyo.Constraint(
        m.period_peak_pairs, rule=lambda m, j, i: m.period_peak_import_mw[j] - m.import_mw[i] >= 0)
    m.demand_groups = pyo.RangeSet(0, len(d.demand_groups) - 1)
    m.peak_import_mw = pyo.Var(m.demand_groups, domain=pyo.NonNegativeReals)
    links = [(q, period_peak[steps]) for q, grp in enumerate(d.demand_groups) for steps in grp.steps_by_period]
    m.peak_import_links = pyo.Set(initialize=links, dimen=2, ordered=True)
    m.peak_import = pyo.Constraint(
        m.peak_import_links, rule=lambda m, q, j: m.peak_import_mw[q] - m.period_peak_import_mw[j] >= 0)
