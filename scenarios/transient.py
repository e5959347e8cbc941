"""The transient layer (DESIGN 4): screened requirements and evidence windows.

Per optimizer scenario the shared POI policy runs over the whole second-resolution trace (net load
``n = L - pv`` with ``L`` the bin-mean load, the import limit without curtailment: a curtailment's
energy is the energy layer's curtailment reserve, not a ramp buffer). The screening sees the whole
site: with ``p_t`` the policy's POI, ``f_t`` its low-pass target and ``c_t`` its recovery term,

* **generation** carries the steady gap the POI cannot import, following it at its ramp rate within
  the screened fleet (``N_g`` units of each thermal type, capacity ``G = sum N_g unit_mw_g``, ramp
  ``R = sum N_g ramp_mw_per_s_g``)::

      g*_t = min(G, max(0, f_t + c_t - limit_t)),   g_t = clip(g*_t, g_{t-1} - R dt, g_{t-1} + R dt)

  from a steady start ``g_{-1} = g*_0``;
* **PV that cannot be exported is curtailed before it is stored**: a charging residual beyond what
  refills a deficit (``-d / (eta_ch dt)``) is cut by up to ``pv_t`` (the spec has no price for
  curtailed PV, so curtailing is free);
* the battery residual is ``r_t = n_t - p_t - g_t`` (after the PV cut), and the stored-energy
  deviation ``d`` follows it with the efficiencies.

Figures per scenario:

* ``discharge_residual_mw`` = max_t (load_max_t - pv_t - p_t - g_t): the within-bin maximum, so
  swings faster than the resolution still size the PCS; ``charge_residual_mw`` =
  max_t max(-r_t, p_t + g_t - load_min_t) (PV can be curtailed at the within-bin minimum too);
* ``deficit_mwh`` / ``surplus_mwh`` = the largest stored-energy deviation below / above the
  setpoint;
* ``fast_throughput_mwh_per_day``: energy the battery discharges per day while buffering, the
  bin-level residual plus the sub-bin swing. For a bin whose load alternates between its minimum
  and maximum with mean m, the discharged energy is (max - m)(m - min)/(max - min) x dt (exact for
  a two-level square wave of any duty: with duty D, (1-D)DX = (max-m)(m-min)/X, X = max - min).

The fleet is a first-stage decision: scenarios are screened with the largest fleet the spec allows
(existing + max_new units) and the optimizer re-screens with its solved fleet until the fleet is
stable (:func:`rescreen`); ``fleet_sensitive`` says whether any step had a gap for generation to carry
(if none, the fleet cannot change the figures).

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
from numba import njit

from .grid_events import events_from_json
from .poi_policy import (P_CH_MWH_PER_MW, P_DT_S, S_F_PREV, deviation_update, new_poi_state, poi_params, poi_step,
                         recovery_term_mw)

KINDS = ("loss_of_grid", "voltage_sag", "ramp_up", "ramp_down", "curtailment")
# [E] share of the window budget per kind: contingencies size the PCS and the ride-through
# reserve (hard constraints), ramp and curtailment windows are evidence.
KIND_SHARES = {"loss_of_grid": 0.3, "voltage_sag": 0.2, "ramp_up": 0.2, "ramp_down": 0.2, "curtailment": 0.1}
PRE_EVENT_FRACTION = 0.1  # a window starts this share of its length before its event
RAMP_CANDIDATES_PER_SCENARIO = 3


def full_fleet(site) -> list[int]:
    """The largest fleet the spec allows: existing + max_new units of each thermal type."""
    return [g.existing_units + g.max_new_units for g in site.thermal]


def fleet_capacity(site, fleet) -> tuple[float, float]:
    """(G [MW], R [MW/s]) of a fleet: its capacity and its ramp rate, all units together."""
    th = site.thermal
    return (float(sum(n * g.unit_mw for n, g in zip(fleet, th))),
            float(sum(n * g.ramp_mw_per_s for n, g in zip(fleet, th))))


@njit(cache=True)
def _screen(net, pv, limit, params, state, gen_cap_mw, gen_ramp_mw_per_s, poi, gen, res, dev):
    """The policy with generation following the steady gap and free PV curtailment (module doc),
    from the fresh policy ``state``. Returns 1 if any step had a gap for generation to carry."""
    dt = params[P_DT_S]
    ch_gain = params[P_CH_MWH_PER_MW]  # stored MWh per MW charged for one step
    d = 0.0
    g_prev = min(gen_cap_mw, max(0.0, net[0] - limit[0]))
    gap_seen = 0
    for t in range(net.shape[0]):
        p = poi_step(state, params, net[t], limit[t], d)
        x = state[S_F_PREV] + recovery_term_mw(params, d)
        if x - limit[t] > 1e-9:
            gap_seen = 1
        g_star = min(gen_cap_mw, max(0.0, x - limit[t]))
        g = min(max(g_star, g_prev - gen_ramp_mw_per_s * dt), g_prev + gen_ramp_mw_per_s * dt)
        r = net[t] - p - g
        if r < 0.0 and pv[t] > 0.0:
            refill_mw = max(0.0, -d) / ch_gain  # charging that only brings d back to zero
            cut = min(max(-r - refill_mw, 0.0), pv[t])
            r += cut
        d = deviation_update(params, d, r)
        g_prev = g
        poi[t] = p
        gen[t] = g
        res[t] = r
        dev[t] = d
    return gap_seen


def screen_trace(site, trace: xr.Dataset, fleet: list[int] | None = None) -> dict:
    """Run the screening over one trace with ``fleet`` (default :func:`full_fleet`); return its
    requirements and the series windows need."""
    params = poi_params(site)
    load = trace["load_mw"].values
    pv = np.ascontiguousarray(trace["pv_mw"].values, dtype=np.float64)
    lmin = trace["load_min_mw"].values
    lmax = trace["load_max_mw"].values
    dt = float(trace.attrs["dt_s"])
    limit = np.full(load.shape, site.grid.firm_import_mw + site.grid.nonfirm_import_mw)
    cap, ramp = fleet_capacity(site, full_fleet(site) if fleet is None else fleet)
    net = np.ascontiguousarray(load - pv, dtype=np.float64)
    poi, gen, res, dev = (np.empty_like(net) for _ in range(4))
    gap = _screen(net, pv, limit, params, new_poi_state(params), cap, ramp, poi, gen, res, dev)
    up = lmax - pv - poi - gen  # discharge need with the within-bin maximum
    down = np.maximum(-res, poi + gen - lmin)  # charge need with the within-bin minimum, PV curtailed
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
        "fleet_sensitive": bool(gap),
        "poi_mw": poi,
        "gen_mw": gen,
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
    series = {k: trace[k].values for k in ("load_mw", "load_max_mw", "pv_mw", "grid_available")}
    for c in out:  # cut the series now, so whole traces need not be kept
        c["data"] = _window_series(series, screened, c["start"], length)
    return out


def _window_series(series: dict, screened: dict, start: int, length: int) -> dict:
    sl = slice(start, start + length)
    load = series["load_mw"][sl]
    pv = series["pv_mw"][sl]
    ga = series["grid_available"][sl]
    poi = np.where(ga == 1, screened["poi_mw"][sl], 0.0)  # no import without grid
    gen = np.where(ga == 1, screened["gen_mw"][sl], 0.0)
    d = {"load_mw": load, "load_max_mw": series["load_max_mw"][sl], "pv_mw": pv, "poi_mw": poi,
         "residual_mw": load - pv - poi - gen, "grid_available": ga}
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
             "residual_mw": ("MW", "battery residual load - PV - POI - generation (positive: discharge)")}
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
