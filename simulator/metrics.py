"""Per-scenario metrics from a kernel run: violations, energy, contingencies, cycling, cost.

The kernel accumulates; this module attributes outages to the trace's events, counts cycles
with the ``rainflow`` library on the kernel's turning points and estimates degradation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from . import kernel as K
from .controller import sag_steps

def cycle_damage(turning_points_mwh: np.ndarray, usable_mwh: float, bess=None) -> tuple[float, float, int]:
    """Rainflow-counted fatigue damage of a stored-energy history (Miner's rule on a Woehler curve).

    ``damage = sum_i n_i (DoD_i / D_ref)^k / N_ref`` over the cycles (range ``DoD_i`` as a fraction
    of usable energy, count ``n_i`` in halves and wholes) that ``rainflow.count_cycles`` finds in
    the turning points; ``N_ref`` = ``bess.cycle_life_cycles`` at depth ``D_ref`` =
    ``bess.cycle_life_depth_fraction``, ``k`` = ``bess.cycle_life_exponent`` (spec defaults when
    ``bess`` is None). Damage 1 means the cycle life is used up (end of life).
    Returns (damage, full-cycle-equivalent count of the counted cycles, number of cycle records).
    """
    if usable_mwh <= 0 or turning_points_mwh.size < 2:
        return 0.0, 0.0, 0
    if bess is None:
        from ..site_spec.models import BESS

        bess = BESS()
    n_ref, d_ref, k = bess.cycle_life_cycles, bess.cycle_life_depth_fraction, bess.cycle_life_exponent
    tp = np.ascontiguousarray(turning_points_mwh, dtype=np.float64)
    damage, efc, n = _rainflow_damage(tp, float(usable_mwh), float(d_ref), float(k), float(n_ref),
                                      np.empty(tp.shape[0]), np.empty(tp.shape[0]))
    return float(damage), float(efc), int(n)


@njit(cache=True)
def _rainflow_damage(x, usable, d_ref, k, n_ref, stack, rev):
    """ASTM E1049-85 rainflow counting (the ``rainflow`` library's rule: three-point stack, the
    starting point's half cycles, residue as half cycles) on reversals ``x``, with Miner's sum
    accumulated as cycles close: (damage, sum of count x depth, cycle records).
    Compiled because a day at one second has tens of thousands of reversals. ``stack`` and ``rev``:
    workspace as long as ``x``, allocated by the caller (allocating compiled code also compiles
    numba's error-message machinery)."""
    n = 0
    damage = 0.0
    efc = 0.0
    records = 0
    # reversals only (drop points that continue the same direction)
    m = 0
    for i in range(x.shape[0]):
        if m >= 2 and (x[i] - rev[m - 1]) * (rev[m - 1] - rev[m - 2]) > 0.0:
            rev[m - 1] = x[i]
        elif m >= 1 and x[i] == rev[m - 1]:
            continue
        else:
            rev[m] = x[i]
            m += 1
    for i in range(m):
        stack[n] = rev[i]
        n += 1
        while n >= 3:
            X = abs(stack[n - 1] - stack[n - 2])
            Y = abs(stack[n - 2] - stack[n - 3])
            if X < Y:
                break
            dod = min(Y / usable, 1.0)
            if n == 3:
                damage += 0.5 * (dod / d_ref) ** k / n_ref
                efc += 0.5 * dod
                records += 1
                stack[0] = stack[1]
                stack[1] = stack[2]
                n = 2
            else:
                damage += (dod / d_ref) ** k / n_ref
                efc += dod
                records += 1
                stack[n - 3] = stack[n - 1]
                n -= 2
    for i in range(n - 1):
        dod = min(abs(stack[i + 1] - stack[i]) / usable, 1.0)
        damage += 0.5 * (dod / d_ref) ** k / n_ref
        efc += 0.5 * dod
        records += 1
    return damage, efc, records


def calendar_life_used_per_year(site) -> float:
    """Share of the life to end of life that calendar ageing uses per year:
    ``economics.bess_calendar_fade_fraction_per_year / (1 - bess.end_of_life_fraction)``."""
    room = 1.0 - site.bess.end_of_life_fraction
    return site.economics.bess_calendar_fade_fraction_per_year / room if room > 0 else float("inf")


@dataclass
class Outage:
    kind: str  # loss_of_grid | voltage_sag
    source: str  # sampled | explicit | contingency | unmatched
    start_s: float
    duration_s: float
    unserved_mwh: float
    shed_mwh: float
    ride_through_ok: bool
    min_served_fraction: float
    islanding_ok: bool
    lowest_stored_mwh: float
    reconnect_s: float
    starts: float
    fuel_usd: float
    generation_mwh: float
    need_mw: float = 0.0  # battery power the ride-through share needed in the first duration_s
    need_mwh: float = 0.0  # stored energy that need draws
    avail_mw: float = 0.0  # lowest real power the battery could deliver meanwhile
    reserve_mwh: float = 0.0  # stored energy above the floor at the start
    start_stored_mwh: float = 0.0
    sub_short_mwh: float = 0.0


def classify_outages(run, events: list[dict], dt_s: float, sag_steps: float) -> list[Outage]:
    """Attach each outage the kernel saw to the trace event it belongs to (a sag sequence has
    several dips); an outage no event explains is classed by its length."""
    grid_events = [e for e in events if e.get("kind") in ("loss_of_grid", "voltage_sag")]
    out = []
    for row in run.outages:
        start_s = row[K.O_START] * dt_s
        kind, source = None, "unmatched"
        for ev in grid_events:
            s0 = float(ev.get("start_s", 0.0))
            s1 = s0 + float(ev.get("duration_s", 0.0))
            if s0 - dt_s <= start_s <= s1 + dt_s:
                kind, source = ev["kind"], ev.get("source", "sampled")
                break
        if kind is None:
            kind = "loss_of_grid" if row[K.O_STEPS] > sag_steps else "voltage_sag"
        out.append(Outage(
            kind=kind, source=source, start_s=start_s, duration_s=row[K.O_STEPS] * dt_s,
            unserved_mwh=float(row[K.O_UNSERVED_MWH]), shed_mwh=float(row[K.O_SHED_MWH]),
            ride_through_ok=bool(row[K.O_RT_OK]), min_served_fraction=float(row[K.O_MIN_SERVED_FRACTION]),
            islanding_ok=bool(row[K.O_ISLAND_OK]), lowest_stored_mwh=float(row[K.O_E_MIN_MWH]),
            reconnect_s=float(row[K.O_RECONNECT_STEPS]) * dt_s,
            starts=float(row[K.O_STARTS]), fuel_usd=float(row[K.O_FUEL_USD]), generation_mwh=float(row[K.O_GEN_MWH]),
            need_mw=float(row[K.O_NEED_MW]), need_mwh=float(row[K.O_NEED_MWH]),
            avail_mw=float(min(row[K.O_AVAIL_MW], 1e300)), reserve_mwh=float(row[K.O_RESERVE_MWH]),
            start_stored_mwh=float(row[K.O_E_START_MWH]), sub_short_mwh=float(row[K.O_SUB_SHORT_MWH]),
        ))
    return out


def explicit_occurrences(site, outage: Outage) -> float | None:
    """``occurrences_per_year`` of the explicit ``grid.events`` entry an outage belongs to."""
    for ev in site.grid.events:
        if ev.kind == outage.kind and ev.start_s - 1e-6 <= outage.start_s <= ev.start_s + ev.duration_s + 1e-6:
            return float(ev.occurrences_per_year)
    return None


# kernel metrics whose change a contingency curtailment causes, annualized at its natural rate
CURTAILMENT_DELTAS = {
    "unserved_mwh": K.M_UNSERVED_MWH,
    "starts": K.M_STARTS,
    "fuel_usd": K.M_FUEL_COST_USD,
    "generation_mwh": K.M_GEN_MWH,
    "import_mwh": K.M_IMPORT_MWH,
    "energy_cost_usd": K.M_ENERGY_COST_USD,
    "flexible_load_shed_mwh": K.M_SHED_MWH,
}


def contingency_curtailment(events: list[dict]) -> dict | None:
    """The trace's contingency curtailment call (``source == "contingency"``), if it has one."""
    return next((e for e in events if e.get("kind") == "curtailment" and e.get("source") == "contingency"), None)


def active_steps(event: dict, dt_s: float, n: int) -> tuple[int, int]:
    """(first step, steps) of a curtailment's active period: the bins overlapping
    ``[start_s, start_s + duration_s)``, clipped to the trace (as the trace renders it)."""
    a = max(int(math.floor(float(event["start_s"]) / dt_s)), 0)
    b = min(int(math.ceil((float(event["start_s"]) + float(event["duration_s"])) / dt_s)), n)
    return min(a, n), max(b - a, 0)


#: per-scenario figures (summarize keys) that annual results scale to a year
ANNUAL_KEYS = ("unserved_mwh", "flexible_load_shed_mwh", "import_mwh", "generation_mwh", "energy_cost_usd",
               "fuel_cost_usd", "start_cost_usd", "generator_starts", "bess_discharge_mwh", "equivalent_full_cycles",
               "cycle_damage", "pv_curtailed_mwh", "ramp_violation_mw_s", "ramp_violation_steps",
               "import_violation_mw_s")


def natural_rate(site, event: dict) -> float | None:
    """Occurrences a year of an event every trace carries whatever its rate (a sampled contingency:
    the kind's ``events_per_year``; an explicit event: its ``occurrences_per_year``); None for
    events sampled at their natural rate (they count with the trace)."""
    g, kind, source = site.grid, event.get("kind"), event.get("source", "sampled")
    if source == "contingency":
        return {"loss_of_grid": g.loss_of_grid.events_per_year, "voltage_sag": g.voltage_sags.events_per_year,
                "curtailment": g.curtailment.events_per_year}.get(kind)
    if source == "explicit":
        for ev in g.events:
            if ev.kind == kind and abs(ev.start_s - float(event["start_s"])) < 1e-6:
                return float(ev.occurrences_per_year)
        return 1.0
    return None


def forced_events(site, events: list[dict]) -> list[dict]:
    """The trace's events every trace carries whatever their rate (a contingency or explicit loss of
    grid, sag sequence or curtailment call), whose part of the annual figures counts at
    :func:`natural_rate`."""
    return [ev for ev in events if ev.get("kind") in ("loss_of_grid", "voltage_sag", "curtailment")
            and natural_rate(site, ev) is not None]


def natural_rate_parts(row: dict, trace, site, without: dict) -> list[dict]:
    """What each forced event (:func:`forced_events`) added to the trace's :data:`ANNUAL_KEYS`: the
    actual row minus the row replayed without that event (``without`` maps ``id(event)`` to it),
    with the event's natural rate a year."""
    return [{"kind": ev["kind"], "source": ev.get("source"), "rate_per_year": float(natural_rate(site, ev)),
             "delta": {k: float(row[k] - without[id(ev)][k]) for k in ANNUAL_KEYS}}
            for ev in forced_events(site, trace.events)]


def curtailment_response(recorded: np.ndarray, firm_mw: float, dt_s: float, tol_mw: float) -> dict:
    """What a curtailment call's active period asked of the design, from its recorded steps.

    ``import_over_firm_mw`` = max over connected steps of (POI import - firm import), floored at 0;
    ``unserved_mwh`` = sum over connected steps of unserved load x dt (load lost while the grid is
    down belongs to the outage checks). ``ok`` when the import stays within ``firm + tol_mw`` and
    no more than 1e-6 MWh goes unserved (the tolerances of the import-limit and unserved checks).
    """
    if recorded.shape[0] == 0:
        return {"ok": None, "import_over_firm_mw": None, "unserved_mwh": None}
    up = recorded[:, K.R_GRID] > 0
    over = float(np.max(recorded[up, K.R_POI] - firm_mw, initial=0.0))
    unserved = float(recorded[up, K.R_UNSERVED].sum() * dt_s / 3600.0)
    return {"ok": over <= tol_mw and unserved <= 1e-6, "import_over_firm_mw": over, "unserved_mwh": unserved}


def curtailment_row(site, event: dict | None, recorded: np.ndarray | None, run=None, counterfactual=None,
                    dt_s: float = 1.0, tol_mw: float = 1e-6) -> dict:
    """Per-scenario figures of the contingency curtailment call: the response during its active
    period (``recorded``: its steps) and, per ``CURTAILMENT_DELTAS`` key, actual minus
    counterfactual replay (what the call cost, counted at its natural rate a year)."""
    resp = curtailment_response(recorded, site.grid.firm_import_mw, dt_s, tol_mw) if event is not None else \
        {"ok": None, "import_over_firm_mw": None, "unserved_mwh": None}
    row = {f"curtailment_response_{k}": v for k, v in resp.items()}
    for key, col in CURTAILMENT_DELTAS.items():
        row[f"contingency_curtailment_{key}"] = (
            float(run.metrics[col] - counterfactual.metrics[col]) if event is not None else 0.0)
    return row


def _island_margin(o: Outage, eta_dis: float) -> float:
    short = o.unserved_mwh + o.sub_short_mwh
    if short > 1e-9 or not o.islanding_ok:
        return -max(short, 1e-9) / eta_dis
    return o.lowest_stored_mwh - (o.start_stored_mwh - o.reserve_mwh)


def contingency_figures(outages: list[Outage], E: float, eta_dis: float) -> dict:
    """Per-scenario figures of the losses of grid and sags of one replay (natural or stress)."""
    log = [o for o in outages if o.kind == "loss_of_grid"]
    sags = [o for o in outages if o.kind == "voltage_sag"]
    return {
        "loss_of_grid_events": len(log),
        "voltage_sag_dips": len(sags),
        "unserved_loss_of_grid_mwh": sum(o.unserved_mwh for o in log),
        "ride_through_ok": all(o.ride_through_ok for o in log) if log else None,
        "ride_through_min_served_fraction": min((o.min_served_fraction for o in log), default=None),
        "ride_through_need_mw": max((o.need_mw for o in log), default=None),
        "ride_through_need_mwh": max((o.need_mwh for o in log), default=None),
        "ride_through_avail_mw": min((o.avail_mw for o in log), default=None),
        "ride_through_reserve_mwh": min((o.reserve_mwh for o in log), default=None),
        "islanding_ok": all(o.islanding_ok for o in log) if log else None,
        # stored energy left above the floor in the worst outage; where load was lost (unserved, or
        # within-step swings the PCS missed), minus that energy as drawn from the cells
        "islanding_margin_mwh": min((_island_margin(o, eta_dis) for o in log), default=None),
        "sag_ok": all(o.ride_through_ok for o in sags) if sags else None,
        "sag_min_served_fraction": min((o.min_served_fraction for o in sags), default=None),
        "sag_need_mw": max((o.need_mw for o in sags), default=None),
        "sag_need_mwh": max((o.need_mwh for o in sags), default=None),
        "sag_reserve_mwh": min((o.reserve_mwh for o in sags), default=None),
        "sag_avail_mw": min((o.avail_mw for o in sags), default=None),
        "lowest_soc_contingency_fraction": (
            min(o.lowest_stored_mwh for o in outages) / E if outages and E > 0 else None
        ),
    }


def summarize(run, trace, site, design) -> dict:
    """One row of per-scenario figures (trace totals, not annualized)."""
    m = run.metrics
    dt = trace.dt_s
    b = site.bess
    E = float(design.bess.energy_mwh)
    usable = (b.soc_max_fraction - b.soc_min_fraction) * E
    outages = classify_outages(run, trace.events, dt, sag_steps(site))
    log = [o for o in outages if o.kind == "loss_of_grid"]
    sags = [o for o in outages if o.kind == "voltage_sag"]
    damage, rf_efc, n_cycles = cycle_damage(run.turning_points, usable, b)
    days = trace.steps * dt / 86400.0
    curtailment_events = [e for e in trace.events if e.get("kind") == "curtailment"]
    row = {
        "scenario": trace.index,
        "days": days,
        "ramp_violation_steps": m[K.M_RAMP_VIOL_STEPS],
        "ramp_violation_mw_s": m[K.M_RAMP_VIOL_MW_S],
        "ramp_1s_violation_steps": m[K.M_RAMP1_VIOL_STEPS],
        "ramp_60s_violation_steps": m[K.M_RAMP60_VIOL_STEPS],
        "ramp_worst_mw_per_s": m[K.M_RAMP_WORST_MW_PER_S],
        "ramp_worst_mw_per_min": m[K.M_RAMP_WORST_MW_PER_MIN],
        "ramp_violation_cause_power": m[K.M_CAUSE_POWER],
        "ramp_violation_cause_energy": m[K.M_CAUSE_ENERGY],
        "ramp_violation_cause_import_cap": m[K.M_CAUSE_IMPORT],
        "ramp_violation_cause_aftermath": m[K.M_CAUSE_AFTERMATH],
        "ramp_violation_cause_none": m[K.M_CAUSE_NONE],
        "import_violation_steps": m[K.M_IMPORT_VIOL_STEPS],
        "import_violation_mw_s": m[K.M_IMPORT_VIOL_MW_S],
        "import_worst_excess_mw": m[K.M_IMPORT_WORST_MW],
        "export_worst_mw": m[K.M_EXPORT_WORST_MW],
        "import_peak_mw": m[K.M_IMPORT_PEAK_MW],
        "unserved_mwh": m[K.M_UNSERVED_MWH],
        "unserved_loss_of_grid_mwh": sum(o.unserved_mwh for o in log),
        "unserved_contingency_loss_of_grid_mwh": sum(o.unserved_mwh for o in log if o.source == "contingency"),
        "unserved_contingency_sag_mwh": sum(o.unserved_mwh for o in sags if o.source == "contingency"),
        # explicit events happen once in every trace but are costed occurrences_per_year times a year
        "unserved_explicit_mwh": sum(o.unserved_mwh for o in outages if o.source == "explicit"),
        "unserved_explicit_mwh_per_year": sum(o.unserved_mwh * (explicit_occurrences(site, o) or 0.0)
                                              for o in outages if o.source == "explicit"),
        # what the one sampled contingency of every trace (present for evidence) cost, so the
        # annual figures can count it at its natural rate rather than once per trace
        "contingency_loss_of_grid_starts": sum(o.starts for o in log if o.source == "contingency"),
        "contingency_loss_of_grid_fuel_usd": sum(o.fuel_usd for o in log if o.source == "contingency"),
        "contingency_loss_of_grid_generation_mwh": sum(o.generation_mwh for o in log if o.source == "contingency"),
        "contingency_sag_starts": sum(o.starts for o in sags if o.source == "contingency"),
        "contingency_sag_fuel_usd": sum(o.fuel_usd for o in sags if o.source == "contingency"),
        "contingency_sag_generation_mwh": sum(o.generation_mwh for o in sags if o.source == "contingency"),
        "flexible_load_shed_mwh": m[K.M_SHED_MWH],
        "pv_curtailed_mwh": m[K.M_PV_CURTAILED_MWH],
        "import_mwh": m[K.M_IMPORT_MWH],
        "export_mwh": m[K.M_EXPORT_MWH],
        "generation_mwh": m[K.M_GEN_MWH],
        "bess_charge_mwh": m[K.M_CHARGE_AC_MWH],
        "bess_discharge_mwh": m[K.M_DISCHARGE_AC_MWH],
        "bess_loss_mwh": m[K.M_LOSS_MWH],
        "equivalent_full_cycles": m[K.M_DISCHARGE_STORED_MWH] / usable if usable > 0 else 0.0,
        "rainflow_cycles": n_cycles,
        "rainflow_equivalent_cycles": rf_efc,
        "cycle_damage": damage,
        "energy_cost_usd": m[K.M_ENERGY_COST_USD],
        "grid_only_energy_cost_usd": m[K.M_GRID_ONLY_COST_USD],
        "fuel_cost_usd": m[K.M_FUEL_COST_USD],
        "start_cost_usd": m[K.M_START_COST_USD],
        "generator_starts": m[K.M_STARTS],
        "band_excursion_s": m[K.M_BAND_EXCURSION_S],
        "band_excursion_worst_mwh": m[K.M_BAND_EXCURSION_WORST_MWH],
        "substep_shortfall_worst_mw": m[K.M_SUBSTEP_SHORT_WORST_MW],
        "substep_shortfall_steps": m[K.M_SUBSTEP_SHORT_STEPS],
        "reactive_shortfall_worst_mvar": m[K.M_Q_SHORT_WORST_MVAR],
        "reactive_shortfall_steps": m[K.M_Q_SHORT_STEPS],
        "stored_min_mwh": m[K.M_E_MIN_MWH],
        "stored_max_mwh": m[K.M_E_MAX_MWH],
        "stored_start_mwh": m[K.M_E_START_MWH],
        "stored_end_mwh": m[K.M_E_END_MWH],
        "restoration_max_s": max((o.reconnect_s for o in log), default=0.0),
        "curtailment_events": len(curtailment_events),
        "ramp_need_worst_mw_per_s": m[K.M_RAMP_NEED_WORST_MW_PER_S],
        "ramp_need_worst_mw_per_min": m[K.M_RAMP_NEED_WORST_MW_PER_MIN],
        "apparent_power_need_worst_mva": m[K.M_S_NEED_WORST_MVA],
        "band_low_margin_mwh": m[K.M_BAND_LOW_MARGIN_MWH] if m[K.M_BAND_LOW_MARGIN_MWH] < 1e299 else None,
        "band_high_margin_mwh": m[K.M_BAND_HIGH_MARGIN_MWH] if m[K.M_BAND_HIGH_MARGIN_MWH] < 1e299 else None,
        "band_pinned_steps": m[K.M_BAND_PINNED_STEPS],
        "band_top_forced_mwh": m[K.M_BAND_TOP_FORCED_MWH],
    }
    row.update(contingency_figures(outages, E, b.discharge_efficiency))
    return row


def stress_row(run, trace, site, design) -> dict:
    """The contingency figures of the stress replay (``stress_`` + the keys of :func:`contingency_figures`),
    with the reactive-power figures, which the larger island draws of the stress state raise."""
    outages = classify_outages(run, trace.events, trace.dt_s, sag_steps(site))
    row = {f"stress_{k}": v for k, v in contingency_figures(outages, float(design.bess.energy_mwh),
                                                            site.bess.discharge_efficiency).items()}
    m = run.metrics
    row["stress_apparent_power_need_worst_mva"] = m[K.M_S_NEED_WORST_MVA]
    row["stress_reactive_shortfall_steps"] = m[K.M_Q_SHORT_STEPS]
    row["stress_reactive_shortfall_worst_mvar"] = m[K.M_Q_SHORT_WORST_MVAR]
    row["stress_substep_shortfall_steps"] = m[K.M_SUBSTEP_SHORT_STEPS]
    row["stress_unserved_mwh"] = m[K.M_UNSERVED_MWH]
    return row
