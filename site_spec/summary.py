"""Derived figures of a site, computed from the spec alone (no scenarios, no optimization).

What ``bess-size check`` prints: quick hand calculations an engineer would do first, so a spec
with a typo in a big number (30 MW instead of 300) stands out before anything runs.
"""

from __future__ import annotations

from .checks import notes
from .models import Site


def _mean(span: tuple[float, float]) -> float:
    return 0.5 * (span[0] + span[1])


def ride_through(site: Site) -> dict:
    """Power and energy to carry ``load_fraction`` of the peak site load for ``duration_s``.

    P_rt = load_fraction x peak_mw [MW]; delivered E = P_rt x duration_s / 3600 [MWh];
    stored E = delivered / discharge_efficiency (what leaves the cells).
    """
    rt = site.reliability.ride_through
    power_mw = rt.load_fraction * site.load.peak_mw
    delivered_mwh = power_mw * rt.duration_s / 3600.0
    return {
        "power_mw": power_mw,
        "duration_s": rt.duration_s,
        "delivered_energy_mwh": delivered_mwh,
        "stored_energy_mwh": delivered_mwh / site.bess.discharge_efficiency,
    }


def islanding_bridge(site: Site) -> dict | None:
    """Indicative energy to bridge a loss of grid until generation carries the island.

    The BESS carries P_rt = load_fraction x peak until the fastest generation kind synchronises at
    ``start_time_s``; enough units of it then ramp in parallel at ``ramp_mw_per_s`` each and take
    over the load linearly within T = unit_mw / ramp_mw_per_s, so
    delivered E = P_rt x (start_time_s + T / 2) / 3600 [MWh]. None when islanding is not required
    or there is no dispatchable generation.
    """
    if not site.reliability.islanding.required or not site.thermal:
        return None
    fastest = min(site.thermal, key=lambda g: g.start_time_s + 0.5 * g.unit_mw / g.ramp_mw_per_s)
    ramp_in_s = fastest.unit_mw / fastest.ramp_mw_per_s
    power_mw = ride_through(site)["power_mw"]
    delivered_mwh = power_mw * (fastest.start_time_s + 0.5 * ramp_in_s) / 3600.0
    return {
        "generation_kind": fastest.kind,
        "start_time_s": fastest.start_time_s,
        "ramp_in_s": ramp_in_s,
        "power_mw": power_mw,
        "delivered_energy_mwh": delivered_mwh,
        "stored_energy_mwh": delivered_mwh / site.bess.discharge_efficiency,
    }


def island_flexible_shed(site: Site) -> dict | None:
    """Whether flexible load is shed in an island (reliability.islanding.shed_flexible_load) and
    when; None when islanding is not required or the site has no flexible load."""
    isl, fl = site.reliability.islanding, site.load.flexible
    if not isl.required or fl is None or fl.max_fraction <= 0:
        return None
    return {"shed": isl.shed_flexible_load, "fraction": fl.max_fraction,
            "after_s": max(site.reliability.ride_through.duration_s, isl.flexible_shed_delay_s),
            "island_load_mw": site.load.peak_mw * (1.0 - isl.shed_fraction(site.load))}


def curtailment(site: Site) -> dict:
    """Exposure to curtailment calls of the non-firm import.

    exposure = nonfirm_import_mw x mean event hours x events_per_year [MWh/year] (the import the
    site loses, an upper bound on what must come from elsewhere); at peak the site must cover
    depth = clip(peak - firm_import_mw, 0, nonfirm_import_mw) [MW] for up to the longest event.
    """
    g = site.grid
    c = g.curtailment
    mean_h = _mean(c.duration_h)
    depth_mw = min(max(site.load.peak_mw - g.firm_import_mw, 0.0), g.nonfirm_import_mw)
    return {
        "events_per_year": c.events_per_year,
        "mean_duration_h": mean_h,
        "longest_duration_h": c.duration_h[1],
        "nonfirm_import_mw": g.nonfirm_import_mw,
        "exposure_mwh_per_year": g.nonfirm_import_mw * mean_h * c.events_per_year,
        "depth_at_peak_mw": depth_mw,
        "longest_event_at_peak_mwh": depth_mw * c.duration_h[1],
        "notice_min": c.notice_min,
    }


def generation(site: Site) -> dict:
    thermal = [
        {"kind": g.kind, "unit_mw": g.unit_mw, "existing_units": g.existing_units, "max_new_units": g.max_new_units,
         "max_mw": (g.existing_units + g.max_new_units) * g.unit_mw, "start_time_s": g.start_time_s}
        for g in site.thermal
    ]
    return {
        "thermal": thermal,
        "thermal_existing_mw": sum(g.existing_units * g.unit_mw for g in site.thermal),
        "thermal_max_mw": sum(t["max_mw"] for t in thermal),
        "pv_mw": sum(p.capacity_mw for p in site.pv),
    }


# Rate of scenario work on the default site, from the README's end-to-end run (2 cores shared, load
# average 7-8): the optimizer scenarios (1.6 s) and the held-out replay (4.6 s) of (8 + 100) x 86,400
# steps, about 1.5 million trace steps a second. An estimate of size, not a promise.
STEPS_PER_S = 1.5e6
DEFAULT_ENERGY_STEPS = 8 * 6 * 24  # the default site's optimizer model: 8 scenarios x 6 days x 24 h, solved in ~2.5 s
LONG_RUN_S = 600.0  # above this (or 20x the default model), check and run say the work before it starts


def duration_text(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def estimated_work(site: Site) -> dict:
    """What a `run` of this spec computes, and roughly how long it takes on one core.

    trace steps = (count + held_out) x trace_days x 86400 / transient_resolution_s, each generated,
    screened or replayed at about STEPS_PER_S; the optimizer's model grows with its energy-layer steps,
    count x representative_days x 1440 / energy_resolution_min (the default site has 1,152).
    ``text`` states it in one sentence; ``long`` says whether check and run should say it.
    """
    s = site.scenarios
    per_trace = int(round(s.trace_days * 86400 / s.transient_resolution_s))
    steps = (s.count + s.held_out) * per_trace
    energy = s.count * s.representative_days * int(1440 // s.energy_resolution_min)
    seconds = steps / STEPS_PER_S
    text = (f"({s.count} + {s.held_out} scenarios) x {per_trace:,} steps ({s.trace_days:g} days at "
            f"{s.transient_resolution_s:g} s) = {steps / 1e6:,.0f} million trace steps to generate and replay, "
            f"about {duration_text(seconds)} on one core at the ~1.5 million steps/s measured on the default site; "
            f"the optimizer's model has {energy:,} energy-layer steps (the default site's has "
            f"{DEFAULT_ENERGY_STEPS:,} and solves in seconds)")
    return {"trace_steps": steps, "steps_per_trace": per_trace, "energy_layer_steps": energy,
            "estimated_trace_work_s": seconds, "long": seconds > LONG_RUN_S or energy > 20 * DEFAULT_ENERGY_STEPS,
            "text": text}


def summarize(site: Site) -> dict:
    """Every derived figure of ``bess-size check`` as a JSON-ready mapping (units in the keys)."""
    peak = site.load.peak_mw
    g = site.grid
    b = site.bess
    s = site.scenarios
    return {
        "site": site.name,
        "peak_site_load_mw": peak,
        "it_capacity_mw": site.load.it_capacity_mw,
        "pue": site.load.pue,
        "min_load_mw": site.load.min_load_mw,
        "firm_import_mw": g.firm_import_mw,
        "nonfirm_import_mw": g.nonfirm_import_mw,
        "firm_headroom_mw": g.firm_import_mw - peak,
        "total_import_headroom_mw": g.total_import_mw - peak,
        "ramp_limit_mw_per_s": g.ramp_limit_mw_per_s,
        "ramp_limit_mw_per_min": g.ramp_limit_mw_per_min,
        "ride_through": ride_through(site),
        "islanding_required": site.reliability.islanding.required,
        "islanding_bridge": islanding_bridge(site),
        "island_flexible_shed": island_flexible_shed(site),
        "curtailment": curtailment(site),
        "generation": generation(site),
        "bess_limits": {
            "max_energy_mwh": b.max_energy_mwh,
            "max_power_mw": b.max_power_mw,
            "usable_fraction": b.soc_max_fraction - b.soc_min_fraction,
            "usable_fraction_end_of_life": b.end_of_life_fraction * (b.soc_max_fraction - b.soc_min_fraction),
            "round_trip_efficiency": b.charge_efficiency * b.discharge_efficiency,
        },
        "scenarios": {
            "count": s.count,
            "held_out": s.held_out,
            "trace_days": s.trace_days,
            "steps_per_trace": int(round(s.trace_days * 86400 / s.transient_resolution_s)),
            "representative_days": s.representative_days,
            "transient_windows": s.transient_windows,
        },
        "work": estimated_work(site),
        "notes": notes(site),
    }
