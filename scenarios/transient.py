"""The transient layer (DESIGN 4, issue 3 point 5): screened requirements and evidence windows.

Per optimizer scenario the shared POI policy runs over the whole second-resolution trace (net load
= bin-mean load - PV, the import limit without curtailment: a curtailment's energy is the energy
layer's curtailment reserve, not a ramp buffer) and gives:

* ``discharge_residual_mw`` = max_t (load_max_t - pv_t - p_t): the within-bin maximum, so swings
  faster than the resolution still size the PCS; ``charge_residual_mw`` = max_t (p_t - (load_min_t - pv_t));
* ``deficit_mwh`` / ``surplus_mwh`` = the largest stored-energy deviation below / above the
  setpoint (deviation tracked with the efficiencies by the policy);
* ``fast_throughput_mwh_per_day``: energy the battery discharges per day while buffering, the
  bin-level residual plus the sub-bin swing. For a bin whose load alternates between its minimum
  and maximum with mean m, the discharged energy is (max - m)(m - min)/(max - min) x dt (exact for
  a two-level square wave of any duty: with duty D, (1-D)DX = (max-m)(m-min)/X, X = max - min).

Windows (``window_length_s`` long, at the trace resolution) for the optimizer's hard contingency
constraints and for evidence: every scenario's loss-of-grid and sag events, the worst ramp-up and
ramp-down moments (largest discharge / charge residual), and curtailment starts. The
``transient_windows`` budget is shared across kinds by ``KIND_SHARES`` (each present kind gets at
least one when the budget allows), and within a kind the most severe windows win; windows of
explicit events are always kept (they are hard requirements).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .grid_events import events_from_json
from .poi_policy import poi_params, poi_policy

KINDS = ("loss_of_grid", "voltage_sag", "ramp_up", "ramp_down", "curtailment")
# [E] share of the window budget per kind: contingencies size the PCS and the ride-through
# reserve (hard constraints), ramp and curtailment windows are evidence.
KIND_SHARES = {"loss_of_grid": 0.3, "voltage_sag": 0.2, "ramp_up": 0.2, "ramp_down": 0.2, "curtailment": 0.1}
PRE_EVENT_FRACTION = 0.1  # a window starts this share of its length before its event
RAMP_CANDIDATES_PER_SCENARIO = 3


def screen_trace(site, trace: xr.Dataset) -> dict:
    """Run the POI policy over one trace; return its requirements and the series windows need."""
    params = poi_params(site)
    load = trace["load_mw"].values
    pv = trace["pv_mw"].values
    lmin = trace["load_min_mw"].values
    lmax = trace["load_max_mw"].values
    dt = float(trace.attrs["dt_s"])
    limit = np.full(load.shape, site.grid.firm_import_mw + site.grid.nonfirm_import_mw)
    poi, res, dev = poi_policy(load - pv, limit, params)
    up = lmax - pv - poi  # discharge need with the within-bin maximum
    down = poi - (lmin - pv)  # charge need with the within-bin minimum
    width = lmax - lmin
    sub = np.divide((lmax - load) * (load - lmin), width, out=np.zeros_like(width), where=width > 1e-12)
    days = load.size * dt / 86400.0
    throughput = (np.maximum(res, 0.0).sum() + sub.sum()) * dt / 3600.0 / days
    return {
        "discharge_residual_mw": max(0.0, float(up.max())),
        "charge_residual_mw": max(0.0, float(down.max())),
        "deficit_mwh": max(0.0, float(-dev.min())),
        "surplus_mwh": max(0.0, float(dev.max())),
        "fast_throughput_mwh_per_day": float(throughput),
        "poi_mw": poi,
        "up_mw": up,
        "down_mw": down,
    }


def _top_peaks(x: np.ndarray, k: int, separation: int) -> list[int]:
    """Indices of the k largest values at least ``separation`` apart (greedy)."""
    out = []
    x = x.astype(float).copy()
    for _ in range(k):
        i = int(np.argmax(x))
        if not np.isfinite(x[i]) or x[i] <= 0:
            break
        out.append(i)
        x[max(0, i - separation): i + separation] = -np.inf
    return out


def window_candidates(site, scenario: int, trace: xr.Dataset, screened: dict) -> list[dict]:
    """Every window one scenario offers: kind, start, severity, the event it holds."""
    dt = float(trace.attrs["dt_s"])
    n = trace.sizes["time"]
    length = int(round(site.scenarios.window_length_s / dt))
    pre = int(round(PRE_EVENT_FRACTION * length))
    lmax = trace["load_max_mw"].values
    out = []

    def start_at(i_event: int) -> int:
        return int(min(max(i_event - pre, 0), max(n - length, 0)))

    for e in events_from_json(trace.attrs["events_json"]):
        i = int(np.floor(e.start_s / dt))
        if i >= n:
            continue
        s = start_at(i)
        if e.kind == "loss_of_grid":
            seg = lmax[i: min(n, i + max(1, int(np.ceil(min(e.duration_s, length * dt - pre * dt) / dt))))]
            severity = float(seg.sum() * dt)  # MW s the battery carries in the window
        elif e.kind == "voltage_sag":
            idx = [int(np.floor(a / dt)) for a, _ in e.dips if a / dt < n]
            severity = float(lmax[idx].max()) if idx else 0.0
        else:
            seg = lmax[i: min(n, i + length - pre)] - site.grid.firm_import_mw
            severity = float(max(seg.max(), 0.0)) if seg.size else 0.0
        out.append({"kind": e.kind, "scenario": scenario, "start": s, "severity": severity,
                    "event_start_s": e.start_s, "event_duration_s": e.duration_s, "explicit": e.source == "explicit"})
    for kind, key in (("ramp_up", "up_mw"), ("ramp_down", "down_mw")):
        for i in _top_peaks(screened[key], RAMP_CANDIDATES_PER_SCENARIO, length):
            out.append({"kind": kind, "scenario": scenario, "start": start_at(i), "severity": float(screened[key][i]),
                        "event_start_s": i * dt, "event_duration_s": 0.0, "explicit": False})
    for c in out:  # cut the series now, so whole traces need not be kept
        c["data"] = _window_series(trace, screened, c["start"], length)
    return out


def _window_series(trace: xr.Dataset, screened: dict, start: int, length: int) -> dict:
    sl = slice(start, start + length)
    load = trace["load_mw"].values[sl]
    pv = trace["pv_mw"].values[sl]
    ga = trace["grid_available"].values[sl]
    poi = np.where(ga == 1, screened["poi_mw"][sl], 0.0)  # no import without grid
    d = {"load_mw": load, "load_max_mw": trace["load_max_mw"].values[sl], "pv_mw": pv, "poi_mw": poi,
         "residual_mw": load - pv - poi, "grid_available": ga}
    m = load.size
    if m < length:  # a trace shorter than a window: hold the last values
        d = {k: np.concatenate([v, np.full(length - m, v[-1], dtype=v.dtype)]) for k, v in d.items()}
    return {k: v.copy() for k, v in d.items()}


def allocate(budget: int, available: dict[str, int]) -> dict[str, int]:
    """Windows per kind: shares of the budget by largest remainder, at least one per present kind
    when the budget allows, never more than a kind offers; leftovers go to kinds with spare."""
    present = [k for k in KINDS if available.get(k, 0) > 0]
    out = {k: 0 for k in KINDS}
    if budget <= 0 or not present:
        return out
    if budget >= len(present):
        for k in present:
            out[k] = 1
    rest = budget - sum(out.values())
    total_share = sum(KIND_SHARES[k] for k in present)
    raw = {k: rest * KIND_SHARES[k] / total_share for k in present}
    for k in present:
        out[k] += int(np.floor(raw[k]))
    order = sorted(present, key=lambda k: (-(raw[k] - np.floor(raw[k])), KINDS.index(k)))
    left = budget - sum(out.values())
    for k in order[:left]:
        out[k] += 1
    # cap at what is available and hand the excess to kinds with spare candidates
    spare = 0
    for k in present:
        if out[k] > available[k]:
            spare += out[k] - available[k]
            out[k] = available[k]
    for k in present:
        take = min(spare, available[k] - out[k])
        out[k] += take
        spare -= take
    return out


def select_windows(site, candidates: list[dict]) -> list[dict]:
    """Explicit-event windows (one per explicit event, from its most severe scenario), then the
    budget by kind, most severe first (ties: lower scenario, earlier start)."""
    key = lambda c: (-c["severity"], c["scenario"], c["start"])  # noqa: E731
    chosen = []
    explicit = [c for c in candidates if c["explicit"]]
    by_event: dict[tuple, dict] = {}
    for c in sorted(explicit, key=key):
        by_event.setdefault((c["kind"], c["event_start_s"], c["event_duration_s"]), c)
    chosen += list(by_event.values())
    rest = [c for c in candidates if not c["explicit"]]
    avail = {k: sum(1 for c in rest if c["kind"] == k) for k in KINDS}
    alloc = allocate(site.scenarios.transient_windows, avail)
    for k in KINDS:
        chosen += sorted((c for c in rest if c["kind"] == k), key=key)[: alloc[k]]
    return chosen


def windows_dataset(site, chosen: list[dict]) -> xr.Dataset:
    """The selected windows as a Dataset with dims (window, tau)."""
    dt = float(site.scenarios.transient_resolution_s)
    length = int(round(site.scenarios.window_length_s / dt))
    nw = len(chosen)
    arrays = {k: np.zeros((nw, length)) for k in ("load_mw", "load_max_mw", "pv_mw", "poi_mw", "residual_mw")}
    avail = np.ones((nw, length), dtype=np.int8)
    for w, c in enumerate(chosen):
        for k in arrays:
            arrays[k][w] = c["data"][k]
        avail[w] = c["data"]["grid_available"]
    units = {"load_mw": ("MW", "site load (bin mean)"), "load_max_mw": ("MW", "site load, within-bin maximum"),
             "pv_mw": ("MW", "PV output"), "poi_mw": ("MW", "POI import under the shared POI policy (0 without grid)"),
             "residual_mw": ("MW", "battery residual load - PV - POI (positive: discharge)")}
    data = {k: (("window", "tau"), arrays[k], {"units": u, "long_name": ln}) for k, (u, ln) in units.items()}
    data["grid_available"] = (("window", "tau"), avail, {"units": "1", "long_name": "grid available"})
    coords = {
        "tau": ("tau", dt * np.arange(length), {"units": "s", "long_name": "time from window start"}),
        "kind": ("window", np.array([c["kind"] for c in chosen], dtype=object), {"long_name": "window kind"}),
        "source_scenario": ("window", np.array([c["scenario"] for c in chosen], dtype=np.int64),
                            {"long_name": "optimizer scenario the window comes from"}),
        "start_s": ("window", np.array([c["start"] * dt for c in chosen], dtype=float),
                    {"units": "s", "long_name": "window start, from the trace start"}),
        "event_start_s": ("window", np.array([c["event_start_s"] for c in chosen], dtype=float),
                          {"units": "s", "long_name": "event (or worst moment) time, from the trace start"}),
        "event_duration_s": ("window", np.array([c["event_duration_s"] for c in chosen], dtype=float),
                             {"units": "s", "long_name": "event duration (0 for ramp windows)"}),
        "severity": ("window", np.array([c["severity"] for c in chosen], dtype=float),
                     {"long_name": "ranking figure: MW s carried (loss of grid), MW (others)"}),
        "explicit": ("window", np.array([int(c["explicit"]) for c in chosen], dtype=np.int8),
                     {"long_name": "1 for an explicit grid.events event"}),
    }
    return xr.Dataset(data, coords=coords, attrs={"dt_s": dt, "window_length_s": length * dt,
                                                  "kinds": json.dumps(list(KINDS))})
