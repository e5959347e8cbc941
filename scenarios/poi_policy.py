"""The shared POI policy (DESIGN section 4): the one causal rule for the grid import.

Written once here, compiled with numba, and imported by the scenario screening (transient
requirements), the optimizer's requirement extraction and the simulator's controller. Never copy it.

With net load ``L_t`` (load minus PV) [MW], step ``dt`` [s]::

    f_t  = f_{t-1} + (1 - exp(-dt/tau)) * (L_t - f_{t-1})          (f_t = L_t when tau = 0)
    c_t  = -d_{t-1} / eta_ch  * 3600 / T_rec     if d_{t-1} < 0       (deficit: import more)
         = -d_{t-1} * eta_dis * 3600 / T_rec     if d_{t-1} >= 0      (surplus: import less)
    x_t  = f_t + c_t
    hi_t = min(limit_t, p_{t-1} + r_s*dt, min_{t-60s <= k < t} p_k + r_m)
    lo_t = max(0 unless export allowed, p_{t-1} - r_s*dt, max_{t-60s <= k < t} p_k - r_m)
    p_t  = clip(x_t, lo_t, hi_t);   if lo_t > hi_t: p_t = hi_t

``d`` [MWh] is the battery's stored-energy deviation from its setpoint; ``T_rec`` is
``bess.soc_recovery_time_s``. ``c_t`` is the AC power that would refill (or drain) the deviation
in ``T_rec``: a deficit of ``|d|`` stored MWh needs ``|d| / eta_ch`` MWh from the AC side, a
surplus of ``d`` delivers ``d * eta_dis``. The battery residual is ``L_t - p_t`` (positive =
discharge). No lag: ``p_t`` answers ``L_t`` in the same step.

When ``lo_t > hi_t`` the rules cannot all hold and ``hi_t`` wins. With a consistent history that
happens only when the import limit falls below ``lo_t``, and then ``hi_t = limit_t``: the import
limit is physical, so it wins (``p_t = limit_t``). The forced drop leaves a history whose spread
exceeds ``r_m``; when the limit returns, the window's lower bound (``max p_k - r_m``) may still
exceed ``hi_t``, and ``p_t = hi_t`` then climbs back at the up-ramp limits instead of jumping.

Window convention: the rolling window holds the ``W = floor(60/dt)`` previous values
``p_{t-W} .. p_{t-1}``, so any two POI values 60 s apart or closer differ by at most ``r_m``.
Before the first step the history is taken as constant at the first net load (the site was in
steady state): ``p_{-1} = f_{-1} = L_0``.

The rolling minimum and maximum are van Herk and Gil-Werman's blocks (:func:`window_read`)
inside the state array: O(1) a step whatever ``W`` is, with no data-dependent branch.

Arrays (float64, so the simulator's njit kernel can hold them):

* ``params`` from :func:`poi_params` / :func:`make_poi_params`, indexed by the ``P_*`` constants.
* ``state`` from :func:`new_poi_state`: p_prev, f_prev, step counter, and the window's blocks.

Functions callable from other njit code: :func:`poi_step`, :func:`poi_bounds`,
:func:`poi_commit`, :func:`poi_reset`, :func:`deviation_update`, :func:`notice_cap_mw`.

A curtailment call's notice lowers the import limit the policy is given: the grid pre-ramps the cap
``min(limit, firm + left * rho)`` (``left`` seconds to the call's start, :func:`notice_left_s`;
``rho`` = :func:`preramp_mw_per_s`, 0.95 of the steady rate ``min(r_s, r_m / 60)``), so it reaches
the firm import at the call's start. The screening and the replay apply this one rule.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# --- params layout (float64 array) ---------------------------------------------------------
P_DT_S = 0  # time step [s]
P_TAU_S = 1  # low-pass time constant [s] (0: none)
P_RAMP_MW_PER_S = 2  # r_s [MW/s]
P_RAMP_MW_PER_MIN = 3  # r_m: largest change within any 60 s window [MW]
P_EXPORT_ALLOWED = 4  # 1.0 if the site may export
P_ETA_CH = 5  # charge efficiency (AC -> stored)
P_ETA_DIS = 6  # discharge efficiency (stored -> AC)
P_RECOVERY_S = 7  # soc_recovery_time_s [s]
P_ALPHA = 8  # 1 - exp(-dt/tau), precomputed so a step has no exp()
P_WINDOW_STEPS = 9  # W = floor(60/dt): past values in the rolling window
# Derived gains, precomputed so the loop-carried chain d -> c -> p -> d has no division:
P_DEFICIT_GAIN = 10  # 3600 / (eta_ch * T_rec)   [MW per MWh]
P_SURPLUS_GAIN = 11  # 3600 * eta_dis / T_rec    [MW per MWh]
P_DIS_MWH_PER_MW = 12  # dt / 3600 / eta_dis    [MWh stored per MW discharged for one step]
P_CH_MWH_PER_MW = 13  # dt / 3600 * eta_ch      [MWh stored per MW charged for one step]
# the largest charge / discharge the recovery term may ask of the battery [MW] (inf: none). A design's
# replay sets them to the PCS rating less the headroom it keeps for transients, as the optimizer's
# pcs_headroom constraints do for the energy layer's dispatch: an arbitrage setpoint that jumps at a
# price change must not spend the power the within-step swings need.
P_RECOVERY_CHARGE_MAX_MW = 14
P_RECOVERY_DISCHARGE_MAX_MW = 15
N_PARAMS = 16

# --- state layout (float64 array) ----------------------------------------------------------
S_P_PREV = 0  # p_{t-1} [MW]
S_F_PREV = 1  # f_{t-1} [MW]
S_STEP = 2  # index t of the next step
S_STARTED = 3  # 0 until the first step set p and f from the first net load
S_WIN_POS = 4  # the window's slot of the next step in its block (window_read)
S_WIN_LO = 5  # the present block's lowest and highest POI so far
S_WIN_HI = 6
S_HEADER = 7
# After the header: the window's blocks, 4 x W floats (window_read).

WINDOW_S = 60.0


def make_poi_params(
    *,
    dt_s: float = 1.0,
    tau_s: float = 30.0,
    ramp_mw_per_s: float = 2.0,
    ramp_mw_per_min: float = 20.0,
    export_allowed: bool = False,
    eta_ch: float = 0.94,
    eta_dis: float = 0.94,
    soc_recovery_time_s: float = 900.0,
) -> np.ndarray:
    """Pack the policy's parameters into the float64 array the compiled functions take."""
    if dt_s <= 0 or dt_s > WINDOW_S:
        raise ValueError(f"dt_s must lie in (0, 60] s, got {dt_s}")
    p = np.zeros(N_PARAMS)
    p[P_DT_S] = dt_s
    p[P_TAU_S] = tau_s
    p[P_RAMP_MW_PER_S] = ramp_mw_per_s
    p[P_RAMP_MW_PER_MIN] = ramp_mw_per_min
    p[P_EXPORT_ALLOWED] = 1.0 if export_allowed else 0.0
    p[P_ETA_CH] = eta_ch
    p[P_ETA_DIS] = eta_dis
    p[P_RECOVERY_S] = soc_recovery_time_s
    p[P_ALPHA] = 1.0 if tau_s <= 0 else -math.expm1(-dt_s / tau_s)
    p[P_WINDOW_STEPS] = math.floor(WINDOW_S / dt_s + 1e-9)
    p[P_DEFICIT_GAIN] = 3600.0 / (eta_ch * soc_recovery_time_s)
    p[P_SURPLUS_GAIN] = 3600.0 * eta_dis / soc_recovery_time_s
    p[P_DIS_MWH_PER_MW] = dt_s / 3600.0 / eta_dis
    p[P_CH_MWH_PER_MW] = dt_s / 3600.0 * eta_ch
    p[P_RECOVERY_CHARGE_MAX_MW] = np.inf
    p[P_RECOVERY_DISCHARGE_MAX_MW] = np.inf
    return p


def poi_params(site) -> np.ndarray:
    """The policy's parameters from a Site (grid ramp limits and smoothing, BESS efficiencies)."""
    g, b = site.grid, site.bess
    return make_poi_params(
        dt_s=site.scenarios.transient_resolution_s,
        tau_s=g.smoothing_time_constant_s,
        ramp_mw_per_s=g.ramp_limit_mw_per_s,
        ramp_mw_per_min=g.ramp_limit_mw_per_min,
        export_allowed=g.export_allowed,
        eta_ch=b.charge_efficiency,
        eta_dis=b.discharge_efficiency,
        soc_recovery_time_s=b.soc_recovery_time_s,
    )


# A curtailment call's notice (DESIGN 4, "Grid events"): the grid pre-ramps the import cap down
# within its ramp limits so it reaches the firm import at the call's start. The screening
# (scenarios/transient.py) and the replay's controller apply this one rule.
PRERAMP_SHARE = 0.95  # of the steady rate: the cap must reach the firm import before the call even with rounding


def steady_ramp_mw_per_s(grid) -> float:
    """The POI's steady ramp rate ``min(r_s, r_m / 60)`` [MW/s]: the fastest it can move for minutes
    (also the rate generation hands load back to the grid at)."""
    return min(grid.ramp_limit_mw_per_s, grid.ramp_limit_mw_per_min / 60.0)


def preramp_mw_per_s(grid) -> float:
    """``rho`` [MW/s]: the rate the import cap falls at during a call's notice."""
    return PRERAMP_SHARE * steady_ramp_mw_per_s(grid)


@njit(cache=True)
def notice_cap_mw(import_limit_mw, firm_mw, notice_left_s, preramp_mw_per_s):
    """The import cap at a notice step: ``min(limit, firm + left * rho)`` [MW], ``left`` the seconds
    to the announced call start (:func:`notice_left_s`), so the cap is the firm import at the start."""
    return min(import_limit_mw, firm_mw + notice_left_s * preramp_mw_per_s)


def notice_left_s(phase: np.ndarray, dt_s: float) -> np.ndarray:
    """Seconds from each notice step (phase 1) to the announced event start (next phase 2 onset).

    A notice announces its start time, so this is what the controller knows, not foresight.
    Steps outside a notice get 0; a notice with no start inside the trace gets a day.
    """
    n = phase.shape[0]
    out = np.zeros(n)
    notice = np.flatnonzero(phase == 1)
    if notice.size == 0:
        return out
    active = (phase == 2).astype(np.int8)
    onsets = np.flatnonzero(np.diff(active, prepend=0) == 1)
    pos = np.searchsorted(onsets, notice)
    has = pos < onsets.size
    left = np.full(notice.size, 86400.0)
    left[has] = (onsets[pos[has]] - notice[has]) * dt_s
    out[notice] = left
    return out


def new_poi_state(params):
    """A fresh state; the first :func:`poi_step` (or :func:`poi_commit`) starts it at that load.

    Plain numpy, called before the compiled loops: compiled code that allocates also compiles
    numba's error-message machinery (seconds of a fresh install's first run)."""
    W = int(params[P_WINDOW_STEPS])
    s = np.zeros(S_HEADER + 4 * W)
    # an empty window (see window_read): +inf in the rows of lows, -inf in those of highs
    s[S_HEADER:].reshape(4, W)[:] = np.array([[np.inf], [-np.inf], [np.inf], [-np.inf]])
    s[S_WIN_LO], s[S_WIN_HI] = np.inf, -np.inf
    return s


# --- the 60 s window's lowest and highest value -------------------------------------------------
# A window of the W steps before step t, kept as van Herk and Gil-Werman's blocks: steps are cut
# into blocks of W (block k: steps kW .. kW + W - 1), so the window is the tail of the last whole
# block and the head of the present one. ``a[base : base + 4W]`` holds the last whole block's
# suffix lows and highs, then the present block's values (lows, highs); ``pos = t mod W``, and
# ``run_lo``, ``run_hi`` are the present block's lows and highs so far. A step is O(1) with no
# data-dependent branch (a monotone deque's evictions and pops cost a mispredicted branch a step);
# an empty step (the replay's steps not connected, history before a restart) holds +inf / -inf.
# The policy keeps one in its state; the replay's controller one of the POI as measured.


@njit(cache=True, inline="always")
def window_read(a, base, W, pos, run_lo, run_hi):
    """``(min, max)`` of the window: +inf, -inf when it is empty."""
    return min(a[base + pos], run_lo), max(a[base + W + pos], run_hi)


@njit(cache=True, inline="always")
def window_push(a, base, W, pos, run_lo, run_hi, v_lo, v_hi):
    """Add step t's value (``v_lo = v_hi``; +inf, -inf for an empty step). Returns the next
    step's ``(pos, run_lo, run_hi)``; a whole block's suffixes replace the last."""
    a[base + 2 * W + pos] = v_lo
    a[base + 3 * W + pos] = v_hi
    pos += 1
    if pos == W:
        _block_suffixes(a, base, W)
        return 0, np.inf, -np.inf
    return pos, min(run_lo, v_lo), max(run_hi, v_hi)


@njit(cache=True)
def _block_suffixes(a, base, W):
    """The present block, whole, becomes the last: its suffix lows and highs."""
    lo = np.inf
    hi = -np.inf
    for j in range(W - 1, -1, -1):
        lo = min(lo, a[base + 2 * W + j])
        hi = max(hi, a[base + 3 * W + j])
        a[base + j] = lo
        a[base + W + j] = hi


@njit(cache=True)
def window_restart(a, base, W, value, t_index):
    """A steady history: ``value`` at step ``t_index``, every step before it empty. Returns the
    next step's ``(pos, run_lo, run_hi)``."""
    for j in range(W):
        a[base + j] = np.inf
        a[base + W + j] = -np.inf
        a[base + 2 * W + j] = np.inf
        a[base + 3 * W + j] = -np.inf
    return window_push(a, base, W, t_index % W, np.inf, -np.inf, value, value)


@njit(cache=True)
def _window_restart(s, p, t_index, W):
    s[S_WIN_POS], s[S_WIN_LO], s[S_WIN_HI] = window_restart(s, S_HEADER, W, p, int(t_index))


@njit(cache=True)
def _start(s, load_mw, W):
    s[S_P_PREV] = load_mw
    s[S_F_PREV] = load_mw
    s[S_STARTED] = 1.0
    # The steady history p = L_0 over the past window is one value at step -1: it leaves the
    # window exactly when the last of those W equal values would.
    _window_restart(s, load_mw, s[S_STEP] - 1.0, W)


@njit(cache=True, inline="always")
def _window_min_max(s, W):
    """(min, max) of the window [t - W, t - 1] of the next step t (+inf, -inf when empty)."""
    return window_read(s, S_HEADER, W, int(s[S_WIN_POS]), s[S_WIN_LO], s[S_WIN_HI])


@njit(cache=True, inline="always")
def _push(s, p, W):
    """Append p as the next step's value."""
    pos, lo, hi = window_push(s, S_HEADER, W, int(s[S_WIN_POS]), s[S_WIN_LO], s[S_WIN_HI], p, p)
    s[S_WIN_POS] = pos
    s[S_WIN_LO] = lo
    s[S_WIN_HI] = hi


@njit(cache=True, inline="always")
def _limits(params, import_limit_mw, p_prev, wmin, wmax):
    """DESIGN 4's bounds: hi = min(limit, p_prev + r_s dt, min(window) + r_m),
    lo = max(p_prev - r_s dt, max(window) - r_m), and lo >= 0 unless export is allowed."""
    r_step = params[P_RAMP_MW_PER_S] * params[P_DT_S]
    r_m = params[P_RAMP_MW_PER_MIN]
    hi = min(import_limit_mw, p_prev + r_step, wmin + r_m)
    lo = max(p_prev - r_step, wmax - r_m)
    if params[P_EXPORT_ALLOWED] == 0.0:
        lo = max(lo, 0.0)
    return lo, hi


@njit(cache=True)
def poi_bounds(state, params, import_limit_mw):
    """``(lo, hi)`` [MW] the next POI value must respect, from the history only.

    Call after the state has started (after at least one :func:`poi_step`/:func:`poi_commit`);
    evicts window entries that are too old for the coming step. A controller that picks its
    own POI inside these bounds (e.g. pre-ramping for a curtailment notice) records it with
    :func:`poi_commit`.
    """
    s = state
    wmin, wmax = _window_min_max(s, int(params[P_WINDOW_STEPS]))
    return _limits(params, import_limit_mw, s[S_P_PREV], wmin, wmax)


@njit(cache=True)
def poi_commit(state, params, load_mw, poi_mw):
    """Record ``poi_mw`` as this step's POI and advance the filter with net load ``load_mw``."""
    s = state
    W = int(params[P_WINDOW_STEPS])
    if s[S_STARTED] == 0.0:
        _start(s, load_mw, W)
    s[S_F_PREV] = s[S_F_PREV] + params[P_ALPHA] * (load_mw - s[S_F_PREV])
    _push(s, poi_mw, W)
    s[S_P_PREV] = poi_mw
    s[S_STEP] += 1.0


@njit(cache=True)
def poi_reset(state, params, load_mw, poi_mw):
    """Restart the policy from ``poi_mw`` as a steady history (e.g. after an outage, when the
    POI was not under the policy's control); the filter restarts at ``load_mw``."""
    s = state
    s[S_STARTED] = 1.0
    s[S_P_PREV] = poi_mw
    s[S_F_PREV] = load_mw
    _window_restart(s, poi_mw, s[S_STEP] - 1.0, int(params[P_WINDOW_STEPS]))


@njit(cache=True)
def recovery_term_mw(params, deviation_mwh):
    """``c_t`` [MW]: AC power that steers a stored-energy deviation back to zero in T_rec, at most
    ``P_RECOVERY_CHARGE_MAX_MW`` of charge and ``P_RECOVERY_DISCHARGE_MAX_MW`` of discharge."""
    if deviation_mwh < 0.0:
        return min(-deviation_mwh * params[P_DEFICIT_GAIN], params[P_RECOVERY_CHARGE_MAX_MW])
    return max(-deviation_mwh * params[P_SURPLUS_GAIN], -params[P_RECOVERY_DISCHARGE_MAX_MW])


@njit(cache=True, inline="always")
def poi_step(state, params, load_mw, import_limit_mw, deviation_mwh):
    """One step of the policy: the POI [MW] for net load ``load_mw`` [MW] at this step.

    ``deviation_mwh`` is the stored-energy deviation from setpoint before this step.
    Updates ``state`` in place.
    """
    s = state
    W = int(params[P_WINDOW_STEPS])
    if s[S_STARTED] == 0.0:
        _start(s, load_mw, W)
    f = s[S_F_PREV] + params[P_ALPHA] * (load_mw - s[S_F_PREV])
    x = f + recovery_term_mw(params, deviation_mwh)
    wmin, wmax = _window_min_max(s, W)
    lo, hi = _limits(params, import_limit_mw, s[S_P_PREV], wmin, wmax)
    # clip x to [lo, hi]; when lo > hi, hi wins (the import limit, or after a forced drop the up-ramp
    # rule). Written as selects, not branches: which bound binds changes from step to step.
    p = lo if x < lo else x
    p = hi if (x > hi or lo > hi) else p
    _push(s, p, W)
    s[S_P_PREV] = p
    s[S_F_PREV] = f
    s[S_STEP] += 1.0
    return p


@njit(cache=True)
def deviation_update(params, deviation_mwh, residual_mw):
    """Stored-energy deviation after one step with battery residual ``residual_mw`` [MW]
    (positive = discharge): ``d - r*dt/eta_dis`` when discharging, ``d + eta_ch*|r|*dt``
    when charging (dt in hours)."""
    if residual_mw > 0.0:
        return deviation_mwh - residual_mw * params[P_DIS_MWH_PER_MW]
    return deviation_mwh - residual_mw * params[P_CH_MWH_PER_MW]


@njit(cache=True)
def _poi_policy(load_mw, import_limit_mw, params, state, poi_mw, residual_mw, deviation_mwh):
    d = 0.0
    for t in range(load_mw.shape[0]):
        p = poi_step(state, params, load_mw[t], import_limit_mw[t], d)
        r = load_mw[t] - p
        d = deviation_update(params, d, r)
        poi_mw[t] = p
        residual_mw[t] = r
        deviation_mwh[t] = d


def poi_policy(load_mw, import_limit_mw, params):
    """Run the policy over a whole trace.

    Parameters
    ----------
    load_mw : array [MW], net load (load minus PV) per step
    import_limit_mw : array [MW] or scalar, import limit per step
    params : array from :func:`poi_params`

    Returns
    -------
    poi_mw, residual_mw, deviation_mwh : arrays of the trace's length. ``residual_mw = load - poi``
        (positive: the battery discharges); ``deviation_mwh[t]`` is the stored-energy deviation
        from setpoint after step t, starting from 0, tracked with the efficiencies (no design).
    """
    load = np.ascontiguousarray(load_mw, dtype=np.float64)
    limit = np.broadcast_to(np.asarray(import_limit_mw, dtype=np.float64), load.shape)
    limit = np.ascontiguousarray(limit)
    poi = np.empty_like(load)
    res = np.empty_like(load)
    dev = np.empty_like(load)
    params = np.asarray(params, dtype=np.float64)
    _poi_policy(load, limit, params, new_poi_state(params), poi, res, dev)
    return poi, res, dev
