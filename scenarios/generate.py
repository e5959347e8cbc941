"""generate_scenarios: both layers of DESIGN 4 for one stream, as a ScenarioSet."""

from __future__ import annotations

import json
from typing import Callable

import numpy as np
import xarray as xr

from .dataset import ScenarioSet
from .energy_layer import representative_periods
from .grid_events import events_to_json, explicit_events
from .rng import stream_id
from .trace import trace_start_day
from .transient import full_fleet, screen_scenario, select_windows, windows_dataset

TRANSIENT_VARS = {
    "discharge_residual_mw": ("MW", "largest battery discharge under the POI policy (within-bin maximum load)"),
    "charge_residual_mw": ("MW", "largest battery charge under the POI policy (within-bin minimum load)"),
    "deficit_mwh": ("MWh", "largest stored-energy deviation below the setpoint"),
    "surplus_mwh": ("MWh", "largest stored-energy deviation above the setpoint"),
    "fast_throughput_mwh_per_day": ("MWh/day", "energy discharged per day by transient buffering"),
}


def scenario_count(site, stream: str) -> int:
    """How many scenarios a stream has: ``count`` (optimizer) or ``held_out``; one for a measured
    trace used as given (its load is deterministic)."""
    if site.load.trace is not None and site.load.trace_mode == "as_given":
        return 1
    return site.scenarios.count if stream == "optimizer" else site.scenarios.held_out


def generate_scenarios(site, stream: str = "optimizer", progress: Callable[[int, int], None] | None = None,
                       count: int | None = None, client=None) -> ScenarioSet:
    """The energy layer, transient requirements and windows of ``count`` scenarios of ``stream``.

    ``progress(done, total)`` is called after each scenario (after each chunk with a client).
    ``client``: a Dask client (``bess_size.parallel.client``) whose workers generate the scenarios
    in chunks. Same seed -> identical datasets, with or without a client.
    """
    from ..parallel import chunks, map_in_order

    stream_id(stream)
    n = scenario_count(site, stream) if count is None else int(count)
    fleet = full_fleet(site)
    parts = chunks(range(n), client)
    done = [0]

    def on_done(k):
        done[0] += len(parts[k])
        progress(done[0], n)

    per_scenario = progress if client is None else None
    results = map_in_order(_scenarios_part, [(site, stream, idx, fleet, per_scenario) for idx in parts], client,
                           on_done if progress is not None and client is not None else None)
    energy_parts, transient_rows, candidates = [], [], []
    use = None
    for part in results:  # in scenario order, as the serial loop built them
        for row, one_use, cands, energy in part:
            transient_rows.append(row)
            use = merge_fleet_use(use, one_use)
            candidates += cands
            energy_parts.append(energy)
    energy = energy_dataset(site, energy_parts)
    transient = transient_dataset(transient_rows, fleet, use)
    windows = windows_dataset(site, select_windows(site, candidates))
    attrs = {"site": site.name, "stream": stream, "seed": int(site.scenarios.seed), "scenarios": n,
             "trace_days": float(site.scenarios.trace_days), "dt_s": float(site.scenarios.transient_resolution_s)}
    return ScenarioSet(energy=energy, transient=transient, windows=windows, attrs=attrs)


def _scenarios_part(site, stream: str, indices: list[int], fleet: list[int], progress=None) -> list[tuple]:
    """(transient row, fleet use, window candidates, energy periods) of each scenario in
    ``indices``: one task of :func:`generate_scenarios`. Each trace is generated and screened a chunk
    (a day) at a time (``transient.screen_scenario``): a year at 1 s never needs its 1.8 GB at once."""
    out = []
    for j, i in enumerate(indices):
        screened, cands = screen_scenario(site, stream, i, fleet)
        out.append(([screened[k] for k in TRANSIENT_VARS], {k: screened[k] for k in FLEET_USE}, cands,
                     representative_periods(site, i, trace_start_day(site, stream, i), stream)))
        if progress is not None:
            progress(j + 1, len(indices))
    return out


FLEET_USE = ("fleet_sensitive", "units_committed_max", "fleet_short", "steady_gap_max_mw")


def merge_fleet_use(use: dict | None, one: dict | None) -> dict | None:
    """How the screening used the fleet over the traces so far and one more (``screen_trace``'s
    ``FLEET_USE`` keys): any gap, the most units of each type committed, any shortfall, the largest
    steady gap."""
    if use is None or one is None:
        return one if use is None else use
    return {"fleet_sensitive": bool(use["fleet_sensitive"] or one["fleet_sensitive"]),
            "units_committed_max": [max(a, b) for a, b in zip(use["units_committed_max"], one["units_committed_max"])],
            "fleet_short": bool(use["fleet_short"] or one["fleet_short"]),
            "steady_gap_max_mw": max(use["steady_gap_max_mw"], one["steady_gap_max_mw"])}


def transient_dataset(rows: list[list[float]], fleet: list[int], use: dict | None) -> xr.Dataset:
    """Per-scenario screened figures; attrs ``screened_fleet_units`` (JSON list, units per thermal
    type the screening assumed installed), ``fleet_sensitive`` (1 if any step had a gap above the
    import cap for generation to carry, so another fleet could change the figures) and what
    :func:`fleet_changes_figures` reads: ``fleet_units_committed_max`` (JSON list), ``fleet_short``,
    ``steady_gap_max_mw``."""
    tr = np.array(rows, dtype=float).reshape(len(rows), len(TRANSIENT_VARS))
    use = use or {"fleet_sensitive": False, "units_committed_max": [0] * len(fleet), "fleet_short": False,
                  "steady_gap_max_mw": float("-inf")}
    return xr.Dataset(
        {k: ("scenario", tr[:, j], {"units": u, "long_name": ln}) for j, (k, (u, ln)) in enumerate(TRANSIENT_VARS.items())},
        coords={"scenario": ("scenario", np.arange(len(rows), dtype=np.int64))},
        attrs={"screened_fleet_units": json.dumps([int(x) for x in fleet]),
               "fleet_sensitive": int(use["fleet_sensitive"]),
               "fleet_units_committed_max": json.dumps([int(x) for x in use["units_committed_max"]]),
               "fleet_short": int(use["fleet_short"]),
               "steady_gap_max_mw": float(use["steady_gap_max_mw"])},
    )


def fleet_use_of(transient: xr.Dataset) -> dict | None:
    """The fleet use a transient dataset's attrs record (None for sets written before it was)."""
    a = transient.attrs
    if any(k not in a for k in ("fleet_sensitive", "fleet_units_committed_max", "fleet_short", "steady_gap_max_mw")):
        return None
    return {"fleet_sensitive": bool(int(a["fleet_sensitive"])),
            "units_committed_max": json.loads(a["fleet_units_committed_max"]),
            "fleet_short": bool(int(a["fleet_short"])), "steady_gap_max_mw": float(a["steady_gap_max_mw"])}


def set_fleet_use(transient: xr.Dataset, use: dict | None) -> None:
    """Write ``use`` into a transient dataset's attrs, in place (the screened fleet stays)."""
    if use is None:
        return
    fleet = transient.attrs.get("screened_fleet_units", "[]")
    transient.attrs.update(transient_dataset([], [], use).attrs)
    transient.attrs["screened_fleet_units"] = fleet


def fleet_changes_figures(transient: xr.Dataset, site, fleet: list[int]) -> bool:
    """Whether screening with ``fleet`` would change the figures screened with the set's fleet.

    They are the same when no step had a gap for generation, or when the screened fleet never fell
    short of a commitment, ``fleet`` has of each type at least the most units ever committed, and
    both fleets' capacities cover the largest steady gap (no energy-layer share in either): every
    commitment and output is then the same, step by step. Sets written without these attrs: changed.
    """
    a = transient.attrs
    if not int(a.get("fleet_sensitive", 0)):
        return False
    use = fleet_use_of(transient)
    if use is None or use["fleet_short"]:
        return True
    most = use["units_committed_max"]
    if any(n < m for n, m in zip(fleet, most)):
        return True
    th = site.thermal
    caps = [sum(n * g.unit_mw for n, g in zip(f, th)) for f in (fleet, screened_fleet(transient, site))]
    return use["steady_gap_max_mw"] > min(caps) + 1e-9


def screened_fleet(transient: xr.Dataset, site) -> list[int]:
    """The fleet a transient dataset was screened with (the full fleet for sets written before it was recorded)."""
    text = transient.attrs.get("screened_fleet_units")
    return [int(x) for x in json.loads(text)] if text else full_fleet(site)


def rescreen(site, scenarios, fleet: list[int]):
    """The ScenarioSet with its transient figures screened again with ``fleet`` (units per thermal
    type): the optimizer scenarios' traces are regenerated (same seed, same traces) and, for a set
    refined with held-out scenarios, their figures raise the rows again as refinement did."""
    stream = scenarios.attrs.get("stream", "optimizer")
    n = int(scenarios.transient.sizes["scenario"])
    rows, use = [], None
    # a phased set (bess_size/phases.py): each phase's scenarios are that phase's site's traces
    sources = [(site, 0, n)]
    if scenarios.attrs.get("phases_json"):
        from bess_size.site_spec import validate_site

        sources = [(validate_site(m["site"], "phase"), *m["scenarios"]) for m in json.loads(scenarios.attrs["phases_json"])]
    for src, lo, hi in sources:
        for i in range(hi - lo):
            sc, _ = screen_scenario(src, stream, i, fleet, windows=False)
            use = merge_fleet_use(use, {k: sc[k] for k in FLEET_USE})
            rows.append([sc[k] for k in TRANSIENT_VARS])
    for i in json.loads(scenarios.attrs.get("refined_with_held_out", "[]")):
        sc, _ = screen_scenario(site, "held_out", int(i), fleet, windows=False)
        use = merge_fleet_use(use, {k: sc[k] for k in FLEET_USE})
        for row in rows:
            for j, k in enumerate(TRANSIENT_VARS):
                if k != "fast_throughput_mwh_per_day":
                    row[j] = max(row[j], sc[k])
    transient = transient_dataset(rows, fleet, use)
    return type(scenarios)(energy=scenarios.energy, transient=transient, windows=scenarios.windows,
                           attrs=dict(scenarios.attrs))


def energy_dataset(site, parts: list[dict]) -> xr.Dataset:
    """Stack the scenarios' representative periods into the (scenario, period, step) Dataset."""
    n = len(parts)
    step_s = parts[0]["step_s"]
    spd = parts[0]["load_mw"].shape[1]
    stack = lambda k: np.stack([p[k] for p in parts])  # noqa: E731
    cube = ("scenario", "period", "step")
    per = ("scenario", "period")
    ds = xr.Dataset(
        {
            "load_mw": (cube, stack("load_mw"), {"units": "MW", "long_name": "site load"}),
            "pv_mw": (cube, stack("pv_mw"), {"units": "MW", "long_name": "PV output"}),
            "price_usd_per_mwh": (cube, stack("price_usd_per_mwh"), {"units": "USD/MWh", "long_name": "energy price"}),
            "import_limit_mw": (cube, stack("import_limit_mw"),
                                {"units": "MW", "long_name": "POI import limit, step average (firm for the exact part of "
                                                             "the step a curtailment call covers)"}),
            "curtailment_phase": (cube, stack("curtailment_phase"),
                                  {"units": "1", "long_name": "curtailment phase", "flag_values": "0 1 2 3",
                                   "flag_meanings": "none notice active recovery"}),
            "weight_days_per_year": (per, stack("weight_days_per_year"),
                                     {"units": "day/year", "long_name": "days a year the period stands for"}),
            "explicit_event": (per, stack("explicit_event"),
                               {"units": "1", "long_name": "1 where the period carries an explicit grid.events event"}),
            "continues_into_next": (per, stack("continues_into_next"),
                                    {"units": "1", "long_name": "1 where stored energy runs on into the next period "
                                                                "(the days of an event that crosses midnight)"}),
            "event_index": (per, stack("event_index"),
                            {"units": "1", "long_name": "index in grid.events of the period's explicit event (-1: none)"}),
            "period_kind": (per, stack("period_kind"),
                            {"long_name": "typical | peak | curtailment | explicit_curtailment"}),
            "day_of_year": (per, stack("day_of_year"), {"units": "day", "long_name": "day of the synthetic year"}),
            "calendar_days": (("scenario", "period", "month", "day_type"), stack("calendar_days"),
                              {"units": "day", "long_name": "calendar days of each month and day type the period stands for",
                               "day_type": "0 Monday-Friday, 1 Saturday-Sunday (January 1 is a Monday)"}),
            "scenario_probability": ("scenario", np.full(n, 1.0 / n), {"units": "1", "long_name": "scenario probability"}),
            "representation_error_energy_fraction": ("scenario", np.array([p["error_energy"] for p in parts], dtype=float),
                                                     {"units": "1", "long_name": "relative error of annual energy"}),
            "representation_error_peak_fraction": ("scenario", np.array([p["error_peak"] for p in parts], dtype=float),
                                                   {"units": "1", "long_name": "relative error of annual peak load"}),
            "energy_rescale_fraction": ("scenario", np.array([p["energy_rescale"] for p in parts], dtype=float),
                                        {"units": "1", "long_name": "typical days' load scaled by 1 + this to reproduce the annual energy"}),
            "representation_error_duration_curve_fraction": (
                "scenario", np.array([p["error_duration_curve"] for p in parts], dtype=float),
                {"units": "1", "long_name": "RMS error of the load-duration curve over its mean"}),
        },
        coords={
            "scenario": ("scenario", np.arange(n, dtype=np.int64)),
            "month": ("month", np.arange(1, 13, dtype=np.int64)),
            "day_type": ("day_type", np.arange(2, dtype=np.int64)),
            "step": ("step", np.arange(spd, dtype=np.int64)),
            "time_of_day_h": ("step", step_s / 3600.0 * np.arange(spd), {"units": "h", "long_name": "start of the step"}),
        },
        attrs={
            "step_h": step_s / 3600.0,
            "representation_error_energy_fraction": float(max(p["error_energy"] for p in parts)),
            "representation_error_peak_fraction": float(max(p["error_peak"] for p in parts)),
            "representation_error_duration_curve_fraction": float(max(p["error_duration_curve"] for p in parts)),
            "events_json": events_to_json([e for e in explicit_events(site)]),
        },
    )
    return ds
