"""The transient layer (DESIGN 4): screened requirements and evidence windows.

Per optimizer scenario the shared POI policy runs over the whole second-resolution trace (net load
``n = L - pv``, ``L`` the bin-mean load) with the trace's import limit, curtailment calls included.
The screening sees the whole site, as the replay's controller runs it:

* **the import cap** ``cap_t`` is the trace's limit (firm only while a call is active; back at
  ``firm + nonfirm`` in recovery, where the POI climbs back within its ramp limits), and during a
  call's notice the grid's pre-ramp ``min(limit, firm + left_t rho)`` (``poi_policy.notice_cap_mw``:
  ``left_t`` seconds to the call's start, ``rho`` 0.95 of the POI's steady rate), so it reaches the
  firm import at the call's start;
* **generation** carries the steady gap the POI cannot import, ``fn_t + c_t - cap_t`` (``fn`` the
  policy's low-pass of ``n``, ``c`` its recovery term), within the screened fleet (``N_g`` units of
  each thermal type). Units are committed in list order for ``max(pk - firm, n - cap)`` from a call's
  first announced step (``pk`` the causal peak of ``n``, decaying over an hour; the commitment only
  grows until the call ends) and otherwise for ``max(g_{t-1} - h dt, n - cap, pk - limit)``. A unit
  ordered to start joins ``start_time_s`` later and ramps at ``ramp_mw_per_s``; output never falls
  faster than ``h``, the POI's steady rate (it hands load back no faster than the POI can take it).
  At a call's first announced step every unit is cold but those carrying ``n - limit`` (the limit
  before the call: the call's stress state in the replay); the trace starts in steady state with
  those units running;
* **the energy layer's share**: the gap beyond the whole screened fleet's capacity
  ``G = sum N_g unit_mw_g`` as the energy layer sees it, ``u_t = max(0, m_t - limit_t - G)`` with
  ``m_t`` the mean net load over the energy layer's step holding t (``energy_step_s``), is energy the
  energy layer's dispatch draws (its curtailment reserve X_cu during a call, its operating band
  otherwise): the screening leaves it out, so no MWh is counted twice. What varies within a step
  stays in the screening (the energy layer cannot see it), and so does what the battery covers
  while committed units start and ramp (a call's *bridge*, the notice's pre-ramp included): the
  up-ramp buffer owns the bridge, since the energy layer lets generation carry its share at once;
* **PV that cannot be exported is curtailed before it is stored**: a charging residual beyond what
  refills a deficit (``-d / (eta_ch dt)``) is cut by up to ``pv_t`` (the spec has no price for
  curtailed PV, so curtailing is free);
* the POI is the shared policy fed with the net load after generation,
  ``p_t = poi_step(n_t - g_t, cap_t, d)``; the battery residual is ``r_t = n_t - g_t - p_t - u_t``
  (after the PV cut), and the stored-energy deviation ``d`` follows it with the efficiencies.

Figures per scenario:

* ``discharge_residual_mw`` = max_t (load_max_t - pv_t - p_t - g_t - u_t): the within-bin maximum, so
  swings faster than the resolution still size the PCS; ``charge_residual_mw`` =
  max_t max(-r_t, p_t + g_t + u_t - load_min_t) (PV can be curtailed at the within-bin minimum too);
* ``deficit_mwh`` / ``surplus_mwh`` = the largest stored-energy deviation below / above the
  setpoint (a call's bridge included);
* ``fast_throughput_mwh_per_day``: energy the battery discharges per day while buffering, the
  bin-level residual plus the sub-bin swing. For a bin whose load alternates between its minimum
  and maximum with mean m, the discharged energy is (max - m)(m - min)/(max - min) x dt (exact for
  a two-level square wave of any duty: with duty D, (1-D)DX = (max-m)(m-min)/X, X = max - min).

The fleet is a first-stage decision: scenarios are screened with the largest fleet the spec allows
(existing + max_new units) and the optimizer re-screens with its solved fleet until the fleet is
stable (:func:`rescreen`); ``fleet_sensitive`` says whether any step had a gap for generation to carry
(if none, the fleet cannot change the figures). The figures are the same for any fleet that has, of
each type, at least the most units ever committed, when the screened fleet never fell short of a
commitment and its capacity covered the largest steady gap ``max(m - limit)`` (no ``u``), and so
does the other fleet's: ``units_committed_max``, ``fleet_short`` and ``steady_gap_max_mw`` say so.

Windows (``window_length_s`` long, at the trace resolution) for the optimizer's hard contingency
constraints and for evidence: every scenario's loss-of-grid and sag events, the worst ramp-up and
ramp-down moments (largest discharge / charge residual), and curtailment starts. The
``transient_windows`` budget is shared across kinds by ``KIND_SHARES`` (each present kind gets at
least one when the budget allows), and within a kind the most severe windows win; windows of
explicit events are always kept (they are hard requirements).
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import xarray as xr
from numba import njit

from .energy_layer import energy_step_s
from .grid_events import PHASE_ACTIVE, PHASE_NOTICE, events_from_json
# The compiled screening holds its own copy of the policy's machine code, and numba's cache knows it
# by this file's content, not by poi_policy.py's: after editing the policy, change this file too
# (this line will do). Policy revision: 4.
from .poi_policy import (P_ALPHA, P_CH_MWH_PER_MW, P_DT_S, deviation_update, new_poi_state, notice_cap_mw,
                         poi_params, poi_step, preramp_mw_per_s, recovery_term_mw,
                         steady_ramp_mw_per_s)
from .streaming import Checkpoints, Cuts, PairwiseSum, TopPeaks

KINDS = ("loss_of_grid", "voltage_sag", "ramp_up", "ramp_down", "curtailment")
# [E] share of the window budget per kind: contingencies size the PCS and the ride-through
# reserve (hard constraints), ramp and curtailment windows are evidence.
KIND_SHARES = {"loss_of_grid": 0.3, "voltage_sag": 0.2, "ramp_up": 0.2, "ramp_down": 0.2, "curtailment": 0.1}
PRE_EVENT_FRACTION = 0.1  # a window starts this share of its length before its event
RAMP_CANDIDATES_PER_SCENARIO = 3

# fleet array columns (one row per thermal type, in the spec's order)
F_UNITS, F_UNIT_MW, F_RAMP_MW_PER_S, F_START_STEPS = 0, 1, 2, 3
# the screening's state between chunks (``_screen``'s ``carry``): started, stored-energy deviation,
# the policy's low-pass and causal peak of the net load, generation, the largest steady gap, a call
# announced at the last step, a gap seen, the last step's import limit
C_STARTED, C_D, C_FN, C_PK, C_G, C_GAP_MAX, C_ANNOUNCED, C_GAP_SEEN, C_PREV_LIMIT = range(9)


def full_fleet(site) -> list[int]:
    """The largest fleet the spec allows: existing + max_new units of each thermal type."""
    return [g.existing_units + g.max_new_units for g in site.thermal]


def fleet_array(site, fleet, dt_s: float) -> np.ndarray:
    """The screened fleet as the compiled loop reads it: per thermal type its units, unit size [MW],
    ramp per unit [MW/s] and start time in steps (``ceil(start_time_s / dt)``, as the replay's)."""
    out = np.zeros((len(site.thermal), 4))
    for k, (n, g) in enumerate(zip(fleet, site.thermal)):
        out[k] = (n, g.unit_mw, g.ramp_mw_per_s, math.ceil(g.start_time_s / dt_s - 1e-9))
    return out


@njit(cache=True)
def _count(fl, k, rest_mw, most):
    """Units of type k for ``rest_mw`` (ceil, at most the fleet's), noting the most ever asked in
    ``most[k]`` and a fleet too small in ``most[-1]`` (then another fleet would change the figures)."""
    unit = fl[k, F_UNIT_MW]
    if rest_mw <= 1e-9 or unit <= 0.0:
        return 0.0
    want = math.ceil(rest_mw / unit - 1e-9)
    if want > fl[k, F_UNITS]:
        most[most.shape[0] - 1] = 1.0
    n = min(fl[k, F_UNITS], want)
    most[k] = max(most[k], n)
    return n


@njit(cache=True)
def _commit(fl, on, pending, orders, timers, out_mw, want_mw, hold, most):
    """Units in list order for ``want_mw`` of capacity: pending starts tick first (an order joins
    when its timer runs out), new orders wait their start time (none: online at once); without
    ``hold`` the surplus goes (pending starts first, then running units). ``pending[k]``: units of
    type k ordered and not yet online."""
    rest = want_mw
    for k in range(fl.shape[0]):
        if pending[k] > 0.0:
            for j in range(orders.shape[1]):  # tick
                if orders[k, j] > 0.0:
                    timers[k, j] -= 1.0
                    if timers[k, j] <= 0.0:
                        on[k] += orders[k, j]
                        pending[k] -= orders[k, j]
                        orders[k, j] = 0.0
        unit = fl[k, F_UNIT_MW]
        need = _count(fl, k, rest, most)
        rest -= need * unit
        have = on[k] + pending[k]
        if need > have:
            if fl[k, F_START_STEPS] <= 0.0:
                on[k] += need - have
            else:
                for j in range(orders.shape[1]):
                    if orders[k, j] <= 0.0:
                        orders[k, j] = need - have
                        timers[k, j] = fl[k, F_START_STEPS]
                        pending[k] += need - have
                        break
        elif need < have and not hold:
            drop = have - need
            while drop > 0.0 and pending[k] > 0.0:  # newest pending starts first (the most time left)
                newest = -1
                for j in range(orders.shape[1]):
                    if orders[k, j] > 0.0 and (newest < 0 or timers[k, j] > timers[k, newest]):
                        newest = j
                if newest < 0:
                    break
                c = min(orders[k, newest], drop)
                orders[k, newest] -= c
                pending[k] -= c
                drop -= c
            if drop > 0.0:
                on[k] -= drop
                out_mw[k] = min(out_mw[k], on[k] * unit)


@njit(cache=True)
def _cold_start(fl, on, pending, orders, timers, out_mw, need_mw, most):
    """A call's stress state: every unit cold but as few as carry ``need_mw`` (in list order, at
    that output); pending starts cancelled. Returns the output [MW]."""
    total = 0.0
    for k in range(fl.shape[0]):
        unit = fl[k, F_UNIT_MW]
        nk = _count(fl, k, need_mw, most)
        on[k] = nk
        pending[k] = 0.0
        for j in range(orders.shape[1]):
            orders[k, j] = 0.0
        out_mw[k] = min(max(need_mw, 0.0), nk * unit)
        need_mw -= out_mw[k]
        total += out_mw[k]
    return total


@njit(cache=True)
def _dispatch(fl, on, out_mw, target_mw, dt):
    """Output toward ``target_mw``, split in list order, each type within its online units' rating
    and ramp. Returns the total [MW]."""
    total = 0.0
    rest = target_mw
    for k in range(fl.shape[0]):
        cap = on[k] * fl[k, F_UNIT_MW]
        ramp = on[k] * fl[k, F_RAMP_MW_PER_S] * dt
        gk = min(max(min(max(rest, 0.0), cap), out_mw[k] - ramp), out_mw[k] + ramp)
        gk = min(max(gk, 0.0), cap)
        out_mw[k] = gk
        rest -= gk
        total += gk
    return total


@njit(cache=True)
def _screen(net, step_mean, pv, limit, phase, left_s, firm_mw, preramp_mw_per_s, handback_mw_per_s, params, state, fl,
            on, pending, orders, timers, out_mw, most, carry, poi, gen, res, dev, share):
    """The screening of the module doc over one chunk of a trace, from the policy ``state``, the
    fleet's and ``carry`` (``C_*``; all zero: the trace's start, where the state is set up from the
    chunk's first step). Fills the POI, generation, residual, deviation and energy-layer-share
    series, and ``most`` (per type the most units ever committed, last: 1 if the fleet was ever too
    small); ``carry`` holds, after the chunk, 1 if any step had a gap for generation to carry and
    the largest steady gap max(m - limit) [MW]. Consecutive chunks give the bits of the whole."""
    dt = params[P_DT_S]
    alpha = params[P_ALPHA]
    ch_gain = params[P_CH_MWH_PER_MW]  # stored MWh per MW charged for one step
    pk_decay = min(1.0, dt / 3600.0)
    fleet_mw = 0.0
    for k in range(fl.shape[0]):
        fleet_mw += fl[k, F_UNITS] * fl[k, F_UNIT_MW]
    if carry[C_STARTED] == 0.0:
        carry[C_STARTED] = 1.0
        carry[C_D] = 0.0
        carry[C_FN] = net[0]
        carry[C_PK] = net[0]
        carry[C_G] = _cold_start(fl, on, pending, orders, timers, out_mw, net[0] - limit[0], most)  # steady start
        carry[C_GAP_MAX] = -np.inf
        carry[C_ANNOUNCED] = 0.0
        carry[C_GAP_SEEN] = 0.0
        carry[C_PREV_LIMIT] = limit[0]
    d = carry[C_D]
    fn = carry[C_FN]
    pk = carry[C_PK]
    g = carry[C_G]
    gap_max = carry[C_GAP_MAX]
    announced_before = carry[C_ANNOUNCED] != 0.0
    gap_seen = carry[C_GAP_SEEN]
    prev_limit = carry[C_PREV_LIMIT]
    for t in range(net.shape[0]):
        n = net[t]
        fn += alpha * (n - fn)
        pk = n if n > pk else pk + (n - pk) * pk_decay
        announced = phase[t] == PHASE_NOTICE or phase[t] == PHASE_ACTIVE
        cap = limit[t]
        if phase[t] == PHASE_NOTICE:
            cap = notice_cap_mw(limit[t], firm_mw, left_s[t], preramp_mw_per_s)
        if announced and not announced_before:
            # the limit before the call: a call without notice finds its units cold too
            g = _cold_start(fl, on, pending, orders, timers, out_mw, n - prev_limit, most)
        announced_before = announced
        gap = fn + recovery_term_mw(params, d) - cap
        if gap > 1e-9:
            gap_seen = 1.0
        floor_mw = g - handback_mw_per_s * dt
        if announced:
            _commit(fl, on, pending, orders, timers, out_mw, max(pk - firm_mw, n - cap, 0.0), True, most)
        else:
            _commit(fl, on, pending, orders, timers, out_mw, max(floor_mw, n - cap, pk - limit[t], 0.0), False, most)
        g = _dispatch(fl, on, out_mw, max(floor_mw, gap, 0.0), dt)
        gap_max = max(gap_max, step_mean[t] - limit[t])
        u = max(0.0, step_mean[t] - limit[t] - fleet_mw)
        p = poi_step(state, params, n - g, cap, d)
        r = n - g - p - u
        if r < 0.0 and pv[t] > 0.0:
            refill_mw = max(0.0, -d) / ch_gain  # charging that only brings d back to zero
            cut = min(max(-r - refill_mw, 0.0), pv[t])
            r += cut
        d = deviation_update(params, d, r)
        poi[t] = p
        gen[t] = g
        res[t] = r
        dev[t] = d
        share[t] = u
        prev_limit = limit[t]
    carry[C_D] = d
    carry[C_FN] = fn
    carry[C_PK] = pk
    carry[C_G] = g
    carry[C_GAP_MAX] = gap_max
    carry[C_ANNOUNCED] = 1.0 if announced_before else 0.0
    carry[C_GAP_SEEN] = gap_seen
    carry[C_PREV_LIMIT] = prev_limit


def energy_step_mean(x: np.ndarray, step_s: float, dt_s: float) -> np.ndarray:
    """Each step's value replaced by the mean over the energy layer's step holding it (the trace
    starts at midnight, and a step divides a day; a last, partial step is averaged on its own)."""
    k = max(1, int(round(step_s / dt_s)))
    n = x.size
    full = n - n % k
    out = np.empty_like(x)
    out[:full] = np.repeat(x[:full].reshape(-1, k).mean(axis=1), k)
    if full < n:
        out[full:] = x[full:].mean()
    return out


def notice_steps(phase: np.ndarray, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(steps, seconds): :func:`poi_policy.notice_left_s` at the notice steps only (it is 0 elsewhere),
    so a year's phase needs no year-long float series."""
    notice = np.flatnonzero(phase == PHASE_NOTICE)
    if notice.size == 0:
        return notice, np.zeros(0)
    active = (phase == PHASE_ACTIVE).astype(np.int8)
    onsets = np.flatnonzero(np.diff(active, prepend=np.int8(0)) == 1)  # int8: no trace-long int64 temporaries
    pos = np.searchsorted(onsets, notice)
    has = pos < onsets.size
    left = np.full(notice.size, 86400.0)
    left[has] = (onsets[pos[has]] - notice[has]) * dt_s
    return notice, left


def chunk_steps(site, dt_s: float) -> int:
    """Steps a long trace is screened at a time: a day, in whole energy-layer steps (whose means
    the screening takes), so any chunking gives the bits of the whole."""
    k = max(1, int(round(energy_step_s(site) / dt_s)))
    return max(k, int(round(86400.0 / dt_s)) // k * k)


class Screener:
    """The screening of one trace of ``n`` steps fed in order, a chunk at a time (chunks start at
    multiples of :func:`chunk_steps`; the last may be short): :meth:`feed` returns the chunk's series,
    :meth:`figures` the requirements once every step was fed. ``phase``: the trace's whole
    ``curtailment_phase`` (a notice's countdown looks ahead to its call's start)."""

    SERIES = ("poi_mw", "gen_mw", "up_mw", "down_mw", "deviation_mwh", "energy_layer_mw")

    def __init__(self, site, fleet: list[int] | None, dt_s: float, n: int, phase: np.ndarray):
        self.site, self.dt, self.n = site, float(dt_s), int(n)
        self.params = poi_params(site)
        self.state = new_poi_state(self.params)
        self.fl = fleet_array(site, full_fleet(site) if fleet is None else fleet, self.dt)
        ng = self.fl.shape[0]
        max_orders = int(max([1.0] + [u + 1.0 for u in self.fl[:, F_UNITS]]))
        self.on, self.pending, self.out_mw = np.zeros(ng), np.zeros(ng), np.zeros(ng)
        self.orders, self.timers = np.zeros((ng, max_orders)), np.zeros((ng, max_orders))
        self.most = np.zeros(ng + 1)
        self.carry = np.zeros(9)
        self.notices = notice_steps(phase, self.dt)
        self.step_s = energy_step_s(site)
        self.up_max, self.down_max, self.dev_min, self.dev_max = -np.inf, -np.inf, np.inf, -np.inf
        self.res_sum, self.sub_sum = PairwiseSum(self.n), PairwiseSum(self.n)
        self.fed = 0

    def _left_s(self, i0: int, i1: int) -> np.ndarray:
        steps, left = self.notices
        out = np.zeros(i1 - i0)
        a, b = np.searchsorted(steps, [i0, i1])
        out[steps[a:b] - i0] = left[a:b]
        return out

    def feed(self, i0: int, trace: dict) -> dict:
        """Screen steps ``i0 ..`` (``trace``: the trace's variables over them); return ``SERIES``."""
        if i0 != self.fed:
            raise ValueError(f"Screener: chunk at step {i0}, expected {self.fed}")
        load = trace["load_mw"]
        pv = np.ascontiguousarray(trace["pv_mw"], dtype=np.float64)
        lmin, lmax = trace["load_min_mw"], trace["load_max_mw"]
        limit = np.ascontiguousarray(trace["import_limit_mw"], dtype=np.float64)
        phase = np.ascontiguousarray(trace["curtailment_phase"], dtype=np.int8)
        net = np.ascontiguousarray(load - pv, dtype=np.float64)
        i1 = i0 + net.size
        poi, gen, res, dev, share = (np.empty_like(net) for _ in range(5))
        g = self.site.grid
        _screen(net, energy_step_mean(net, self.step_s, self.dt), pv, limit, phase, self._left_s(i0, i1),
                float(g.firm_import_mw), preramp_mw_per_s(g), steady_ramp_mw_per_s(g), self.params, self.state, self.fl,
                self.on, self.pending, self.orders, self.timers, self.out_mw, self.most, self.carry,
                poi, gen, res, dev, share)
        up = lmax - pv - poi - gen - share  # discharge need with the within-bin maximum
        down = np.maximum(-res, poi + gen + share - lmin)  # charge need with the within-bin minimum, PV curtailed
        width = lmax - lmin
        sub = np.divide((lmax - load) * (load - lmin), width, out=np.zeros_like(width), where=width > 1e-12)
        if net.size:
            self.up_max, self.down_max = np.maximum(self.up_max, up.max()), np.maximum(self.down_max, down.max())
            self.dev_min, self.dev_max = np.minimum(self.dev_min, dev.min()), np.maximum(self.dev_max, dev.max())
        if self.res_sum is not None:
            self.res_sum.feed(np.maximum(res, 0.0))
            self.sub_sum.feed(sub)
        self.fed = i1
        return dict(zip(self.SERIES, (poi, gen, up, down, dev, share)))

    STATE = ("state", "on", "pending", "orders", "timers", "out_mw", "most", "carry")

    def checkpoint(self) -> tuple:
        """The state before the next chunk (a few hundred bytes)."""
        return self.fed, [getattr(self, k).copy() for k in self.STATE]

    def resumed(self, checkpoint: tuple) -> "Screener":
        """A screener that goes on from ``checkpoint`` for the series only (no figures)."""
        out = copy.copy(self)
        out.fed, arrays = checkpoint
        for k, a in zip(self.STATE, arrays):
            setattr(out, k, a.copy())
        out.res_sum = out.sub_sum = None
        return out

    def figures(self) -> dict:
        """The trace's requirements and fleet use (``screen_trace``'s keys but the series)."""
        ng = self.fl.shape[0]
        days = self.n * self.dt / 86400.0
        throughput = (self.res_sum.total() + self.sub_sum.total()) * self.dt / 3600.0 / days
        return {
            "discharge_residual_mw": max(0.0, float(self.up_max)),
            "charge_residual_mw": max(0.0, float(self.down_max)),
            "deficit_mwh": max(0.0, float(-self.dev_min)),
            "surplus_mwh": max(0.0, float(self.dev_max)),
            "fast_throughput_mwh_per_day": float(throughput),
            "fleet_sensitive": bool(self.carry[C_GAP_SEEN]),
            # what another fleet must have for the same figures (generate.fleet_changes_figures)
            "units_committed_max": [int(x) for x in self.most[:ng]],
            "fleet_short": bool(self.most[ng]),
            "steady_gap_max_mw": float(self.carry[C_GAP_MAX]),
        }


def screen_trace(site, trace: xr.Dataset, fleet: list[int] | None = None) -> dict:
    """Run the screening over one whole trace with ``fleet`` (default :func:`full_fleet`); return its
    requirements and the series windows need (a long trace: :func:`screen_scenario`)."""
    phase = trace["curtailment_phase"].values
    s = Screener(site, fleet, float(trace.attrs["dt_s"]), phase.size, phase)
    series = s.feed(0, {k: trace[k].values for k in TRACE_VARS})
    return {**s.figures(), **series}


TRACE_VARS = ("load_mw", "load_min_mw", "load_max_mw", "pv_mw", "import_limit_mw", "curtailment_phase", "grid_available")
WINDOW_VARS = {"load_mw": np.float64, "load_max_mw": np.float64, "pv_mw": np.float64, "grid_available": np.int8,
               "poi_mw": np.float64, "gen_mw": np.float64}


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


class WindowCandidates:
    """Every window one scenario's trace offers (kind, start, severity, the event it holds, its
    series), gathered as the trace's chunks pass with the screening's series (:meth:`feed`).

    Events are known up front, so their windows and severities are cut as the chunks pass; the
    worst ramp moments are known only at the end (:class:`streaming.TopPeaks`), and their windows
    are cut from the last chunk when they fall in it, else from their chunks generated and screened
    again from checkpoints (:meth:`finish`)."""

    def __init__(self, site, scenario: int, n: int, dt_s: float, events_json: str):
        self.site, self.scenario, self.n, self.dt = site, int(scenario), int(n), float(dt_s)
        self.length = length = int(round(site.scenarios.window_length_s / self.dt))
        self.pre = int(round(PRE_EVENT_FRACTION * length))
        self.events = []  # (candidate without data, ranges of load_max_mw it is ranked by)
        ranges = []
        for e in events_from_json(events_json):
            i = int(np.floor(e.start_s / self.dt))
            if i >= n:
                continue
            if e.kind == "loss_of_grid":
                seg = [(i, min(n, i + max(1, int(np.ceil(min(e.duration_s, length * self.dt - self.pre * self.dt) / self.dt)))))]
            elif e.kind == "voltage_sag":
                seg = [(j, j + 1) for j in (int(np.floor(a / self.dt)) for a, _ in e.dips if a / self.dt < n)]
            else:
                seg = [(i, min(n, i + length - self.pre))]
            c = {"kind": e.kind, "scenario": self.scenario, "start": self.start_at(i), "severity": 0.0,
                 "event_start_s": e.start_s, "event_duration_s": e.duration_s, "explicit": e.source == "explicit"}
            self.events.append((c, len(ranges), len(seg)))
            ranges += seg
        self.lmax = Cuts(ranges, {"load_max_mw": np.float64})
        self.windows = Cuts([(c["start"], min(c["start"] + length, n)) for c, _, _ in self.events], WINDOW_VARS)
        self.peaks = {key: TopPeaks(RAMP_CANDIDATES_PER_SCENARIO, length) for key in ("up_mw", "down_mw")}
        self.last = None  # (i0, the last chunk's series)

    def start_at(self, i_event: int) -> int:
        return int(min(max(i_event - self.pre, 0), max(self.n - self.length, 0)))

    def feed(self, i0: int, series: dict) -> None:
        """A chunk: the trace's variables and the screening's series over steps ``i0 ..``."""
        self.lmax.feed(i0, series)
        self.windows.feed(i0, series)
        for key, p in self.peaks.items():
            p.feed(i0, series[key])
        self.last = (i0, {k: series[k] for k in WINDOW_VARS})

    def finish(self, second_pass=None) -> list[dict]:
        """The candidates with their series. ``second_pass(ranges)``: the chunks (i0, series) that
        hold the step ranges ``[a, b)`` again, in order, for ramp windows before the last chunk."""
        out = []
        for c, r0, m in self.events:
            seg = [d["load_max_mw"] for d in self.lmax.data[r0: r0 + m]]
            if c["kind"] == "loss_of_grid":
                c["severity"] = float(seg[0].sum() * self.dt)  # MW s the battery carries in the window
            elif c["kind"] == "voltage_sag":
                c["severity"] = float(np.concatenate(seg).max()) if seg else 0.0
            else:
                x = seg[0] - self.site.grid.firm_import_mw
                c["severity"] = float(max(x.max(), 0.0)) if x.size else 0.0
            out.append(c)
        data = list(self.windows.data)
        ramps = []
        for kind, key in (("ramp_up", "up_mw"), ("ramp_down", "down_mw")):
            for i, v in self.peaks[key].picks():
                ramps.append({"kind": kind, "scenario": self.scenario, "start": self.start_at(i), "severity": v,
                              "event_start_s": i * self.dt, "event_duration_s": 0.0, "explicit": False})
        cuts = Cuts([(c["start"], min(c["start"] + self.length, self.n)) for c in ramps], WINDOW_VARS)
        if self.last is not None:
            cuts.feed(*self.last)
        if ramps and min(c["start"] for c in ramps) < (self.last[0] if self.last is not None else 0):
            cuts = Cuts(cuts.ranges, WINDOW_VARS)  # a ramp window before the last chunk: cut all again
            for i0, series in second_pass(cuts.ranges):
                cuts.feed(i0, series)
        out += ramps
        data += cuts.data
        for c, d in zip(out, data):
            c["data"] = _window_series(d, self.length)
        return out


def window_candidates(site, scenario: int, trace: xr.Dataset, screened: dict) -> list[dict]:
    """Every window one whole trace offers: kind, start, severity, the event it holds, its series."""
    w = WindowCandidates(site, scenario, trace.sizes["time"], float(trace.attrs["dt_s"]), trace.attrs["events_json"])
    w.feed(0, {**{k: trace[k].values for k in TRACE_VARS}, **screened})
    return w.finish()


def _window_series(cut: dict, length: int) -> dict:
    """A window's series from its cut of the trace (``WINDOW_VARS``; shorter than ``length`` at the
    trace's end)."""
    load, pv, ga = cut["load_mw"], cut["pv_mw"], cut["grid_available"]
    poi = np.where(ga == 1, cut["poi_mw"], 0.0)  # no import without grid
    gen = np.where(ga == 1, cut["gen_mw"], 0.0)
    d = {"load_mw": load, "load_max_mw": cut["load_max_mw"], "pv_mw": pv, "poi_mw": poi,
         "residual_mw": load - pv - poi - gen, "grid_available": ga}
    m = load.size
    if m < length:  # a trace shorter than a window: hold the last values
        d = {k: np.concatenate([v, np.full(length - m, v[-1], dtype=v.dtype)]) for k, v in d.items()}
    return {k: v.copy() for k, v in d.items()}


def screen_scenario(site, stream: str, index: int, fleet: list[int] | None = None,
                    windows: bool = True) -> tuple[dict, list[dict]]:
    """(figures, window candidates) of trace ``index`` of ``stream``, generated and screened a chunk
    at a time (:func:`chunk_steps`): the bits of :func:`screen_trace` and :func:`window_candidates`
    of the whole ``scenario_trace``, with a day's series in memory instead of the trace's."""
    from .grid_events import render_grid
    from .trace import TraceRenderer

    r = TraceRenderer(site, stream, index)
    step = chunk_steps(site, r.dt)
    ranges = [(a, min(a + step, r.n)) for a in range(0, r.n, step)]
    saved = Checkpoints() if windows and len(ranges) > 1 else None  # the renderer at each chunk's start
    if saved is not None:
        saved.save(0, r)
    first = r.bins(*ranges[0]) if ranges else None
    if len(ranges) == 1:
        phase = first["curtailment_phase"]
    else:  # the notices look ahead: the whole phase first (int8, 32 MB a year at 1 s)
        phase = np.concatenate([render_grid(site, r.events, r.dt, r.n, i0=a, i1=b)[1] for a, b in ranges])
    s = Screener(site, fleet, r.dt, r.n, phase)
    w = WindowCandidates(site, index, r.n, r.dt, r.attrs()["events_json"]) if windows else None
    states = {}  # the screener at each chunk's start
    for c, (a, b) in enumerate(ranges):
        if saved is not None:
            states[c] = s.checkpoint()
            if c:
                saved.save(c, r)
        bins, first = (first, None) if first is not None else (r.bins(a, b), None)
        series = {**bins, **s.feed(a, bins)}
        del bins
        if w is not None:
            w.feed(a, series)
        del series
    figures = s.figures()
    if w is None:
        return figures, []

    def again(cut_ranges):
        """The chunks holding ``cut_ranges``, each run of consecutive ones from its checkpoints."""
        need = sorted({c for a, b in cut_ranges for c in range(a // step, (max(b, a + 1) - 1) // step + 1)})
        prev = None
        for c in need:
            if prev is None or c != prev + 1:
                renderer, screener = saved.load(c), s.resumed(states[c])
            a, b = ranges[c]
            bins = renderer.bins(a, b)
            yield a, {**bins, **screener.feed(a, bins)}
            prev = c

    return figures, w.finish(again)


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
