"""The compiled time loop of the dispatch controller (DESIGN section 7).

One call replays one scenario step by step. The controller sees only the present step and the
past, plus what is announced (a curtailment notice carries its start time: ``notice_left_s``).
Priorities, checked in this order at every step:

1. **Loss of grid or a sag** (``grid_available == 0``): the POI carries nothing; the battery serves
   the load down to the nameplate floor ``F`` (every reserve may be used), generation is ordered to
   start at once; flexible load is shed before load goes unserved.
2. **POI ramp and import limits**: the POI follows the shared policy ``poi_step`` (imported from
   ``bess_size.scenarios.poi_policy``, never copied), fed with the net load after generation and the
   battery's *actual* stored-energy deviation from its setpoint. When the battery cannot take the
   policy's residual (PCS power, inverter apparent power, or stored energy), the POI takes the rest
   (a counted violation, its cause recorded); PV is curtailed before the POI drops faster than allowed.
3. **Curtailment**: from the notice on, the import cap falls to ``firm + time_left * r`` (the grid
   pre-ramps down within its ramp limits so it reaches the firm import at the event start), units
   are committed to cover the expected deficit, and the battery draws its curtailment reserve
   (its floor in the notice, event and recovery phases is the top of the ride-through reserve);
   in the recovery (and in the recovery from a loss of grid), generation refills the reserves back to
   the operating band where the import cap leaves no room for it.
4. **SoC recovery**: the policy's recovery term steers the deviation back to zero.
5. **Economics**: the setpoint moves inside the operating band with the price relative to its
   causal daily mean (cheap: up, dear: down); units whose fuel costs less than the present price
   run instead of import, committed for the recent peak and raised no faster than the POI's
   steady ramp rate (so the POI can follow them down).

In normal running, units the import limit no longer needs (and economics does not keep) hand their
load back at the POI's steady rate down to their minimum load, idle there for the longest start
time of the site's units (a need that returns within it finds them running), then unload at the
same rate and stop.

After an outage longer than a sag (a dip touches at most ``ceil(dip_max / dt) + 1`` steps),
import returns at ``reconnect_ramp_mw_per_min`` (and never faster than the policy's ramp limits)
while generation hands the load back at the POI's steady rate (never faster than the reconnection
cap lets import return; down to what economics keeps running), refilling the ride-through reserve
first. Until then the site is *restoring*: load the battery cannot carry is held back (counted as
unserved, attributed to the outage) instead of forcing the POI past its rules. A sag is invisible
to the POI's ramp history: import resumes where it was; the unit starts it ordered are cancelled,
and so are those ordered before it, except for a curtailment call announced or under way (the
call still needs them, at the time its notice ordered them).

Physical model per step (``dt`` in hours for energies)::

    discharge b > 0:  e' = e - b dt / eta_dis          charge b < 0:  e' = e + eta_ch |b| dt
    |b| <= min(P_pcs, sqrt(S^2 - Q^2)),   S = inverters * inverter_rating_mva
    Q = max(0, Q_load - p tan(acos(pf_poi_min)))   connected;   Q = Q_load islanded
    load - shed - unserved = p + g + pv_used + b

The replay runs at end of life: stored energy lives in ``[F, F + U]``,
``U = end_of_life_fraction (soc_max - soc_min) E`` (the span the bands were stacked in).

Code: :func:`simulate_chunk` replays consecutive steps from a state vector (``ST_*``) and the
workspace arrays, so a trace can be fed in chunks (``controller.Replay``); each step calls small
compiled functions, one per priority (``_signals``, ``_import_cap``, ``_unit_goals`` +
``_dispatch_units``, ``_floor``, ``_shortfall``/``_surplus``, ``_stored_energy``) and per metric
group (``_turning_point``, ``_import_metrics``, ``_ramp_violation``, ``_band_metrics``,
``_outage_metrics``, ...); :func:`finish` closes the trace. Everything is compiled without numba's
reference counting (``_nrt=False``): nothing here allocates, and counting references to the arrays
handed to each helper costs atomic instructions every step. Helpers LLVM would not inline on its
own are inlined by numba (``inline="always"``): a call passing arrays costs more than the work.
The arithmetic is that of the one-function kernel it replaced, operation for operation (where a
shortcut skips a root or a quotient, it is one that cannot change the result), so the results are
the same bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# The compiled loop holds its own copy of the policy's machine code, and numba's cache knows it by
# this file's content (a hash), not by poi_policy.py's: after editing the policy, change this file
# too (this line will do), or cached replays keep the old policy code (scenarios/transient.py has
# the same line). Policy revision: 4.
from ..scenarios.poi_policy import poi_commit, poi_reset, poi_step, window_push, window_read, window_restart

# --- controller parameters (float64 array `cp`) --------------------------------------------
C_DT_S = 0
C_E_MWH = 1  # nameplate energy
C_FLOOR_MWH = 2  # F = soc_min * E: floor in contingencies
C_TOP_MWH = 3  # F + U: ceiling
C_RT_TOP_MWH = 4  # F + X_rt: floor while grid-connected (ride-through reserve kept)
C_NORMAL_FLOOR_MWH = 5  # F + X_rt + X_cu: band floor outside curtailment (excursion below counts)
C_OP_LO_MWH = 6  # operating band
C_OP_HI_MWH = 7
C_PCS_MW = 8
C_S_MVA = 9  # inverters x rating
C_TAN_LOAD = 10  # Q/P of the load
C_TAN_POI = 11  # Q/P the POI may carry at poi_power_factor_min
C_ETA_CH = 12
C_ETA_DIS = 13
C_FIRM_MW = 14
C_FLEX_FRACTION = 15  # sheddable share of the load (0 without load.flexible)
C_PRERAMP_MW_PER_S = 16  # rate the grid pre-ramps at during a notice
C_RECONNECT_MW_PER_S = 17
C_HANDBACK_MW_PER_S = 18  # generation hands load back to the grid at this rate
C_SAG_STEPS = 19  # outages of at most this many steps are sags (POI resumes where it was)
C_RT_STEPS = 20  # ride-through duration in steps
C_RT_LOAD_FRACTION = 21
C_RECOVERY_S = 22
C_PRICE_ALPHA = 23  # EMA weight per step of the causal mean price (a day)
C_ARB_GAIN = 24  # setpoint moves by this share of the half band per mean-abs-deviation of price
C_TP_HYST_MWH = 25  # turning-point hysteresis for the rainflow reduction
C_RAMP_MW_PER_S = 26
C_RAMP_MW_PER_MIN = 27
C_WINDOW_STEPS = 28
C_PEAK_DECAY = 29  # decay per step of the peak estimate toward the present net load (an hour)
C_TOL_MW = 30
C_ISLAND_SHED_FRACTION = 31  # share of the load an island sheds (reliability.islanding.shed_flexible_load)
C_ISLAND_SHED_STEPS = 32  # ... once it has lasted this many steps (ride-through and flexible_shed_delay_s)
C_PEAK_DECAY_DAY = 33  # ... toward the present over a day (units committed on economics)
C_DT_H = 34  # the step in hours
C_DIS_LOSS = 35  # 1 / eta_dis - 1: losses per MW discharged
N_CP = 36

# --- generator arrays (float64, shape (n_types, N_GEN)) -----------------------------------
G_UNIT_MW = 0
G_UNITS = 1
G_MIN_FRACTION = 2
G_RAMP_MW_PER_S = 3  # per unit
G_START_STEPS = 4
G_FUEL_USD_PER_MWH = 5
G_START_USD = 6
N_GEN = 7

# --- metrics (float64 array `m`) ----------------------------------------------------------
M_STEPS = 0
M_RAMP_VIOL_STEPS = 1  # steps where either ramp rule was broken
M_RAMP_VIOL_MW_S = 2  # sum over steps of the excess MW times dt
M_RAMP_WORST_MW_PER_S = 3  # largest one-second |dPOI|/dt
M_RAMP_WORST_MW_PER_MIN = 4  # largest POI change within a 60 s window
M_RAMP1_VIOL_STEPS = 5
M_RAMP60_VIOL_STEPS = 6
M_IMPORT_VIOL_STEPS = 7
M_IMPORT_VIOL_MW_S = 8
M_IMPORT_WORST_MW = 9  # largest import above the limit
M_EXPORT_WORST_MW = 10  # largest export when export is not allowed
M_UNSERVED_MWH = 11
M_SHED_MWH = 12
M_PV_CURTAILED_MWH = 13
M_IMPORT_MWH = 14
M_EXPORT_MWH = 15
M_GEN_MWH = 16
M_CHARGE_AC_MWH = 17
M_DISCHARGE_AC_MWH = 18
M_DISCHARGE_STORED_MWH = 19  # stored energy drawn (for equivalent full cycles)
M_LOSS_MWH = 20
M_ENERGY_COST_USD = 21
M_FUEL_COST_USD = 22
M_STARTS = 23
M_START_COST_USD = 24
M_BAND_EXCURSION_S = 25
M_BAND_EXCURSION_WORST_MWH = 26
M_E_MIN_MWH = 27
M_E_MAX_MWH = 28
M_E_START_MWH = 29
M_E_END_MWH = 30
M_Q_SHORT_WORST_MVAR = 31
M_Q_SHORT_STEPS = 32
M_CAUSE_POWER = 33  # violation steps with the battery at its power limit that step
M_CAUSE_ENERGY = 34  # ... at its stored-energy limit
M_CAUSE_IMPORT = 35  # ... with the import cap falling faster than the ramp rules allow
M_CAUSE_AFTERMATH = 36  # ... within 60 s after such a forced step (the window remembers it)
M_CAUSE_NONE = 37  # unexplained violations (must stay 0)
M_N_OUTAGES = 38
M_N_TP = 39
M_TP_HYST_MWH = 40  # hysteresis actually used (doubles if the turning-point buffer fills)
M_IMPORT_PEAK_MW = 41
M_T_WORST_RAMP = 42  # step of the worst ramp violation (largest excess), -1 if none
M_T_WORST_IMPORT = 43
M_T_FIRST_UNSERVED = 44
M_T_WORST_BAND = 45
M_RAMP_WORST_EXCESS_MW = 46
M_T_MAX_DP = 47  # step of the largest one-second |dPOI|
M_SUBSTEP_SHORT_WORST_MW = 48  # largest within-step swing (bin min/max) the PCS could not follow
M_SUBSTEP_SHORT_STEPS = 49
M_S_NEED_WORST_MVA = 50  # largest apparent power the battery was asked for: sqrt(b^2 + Q_need^2)
M_RAMP_NEED_WORST_MW_PER_S = 51  # largest one-step POI change the battery's limits forced (0: it could hold)
M_RAMP_NEED_WORST_MW_PER_MIN = 52  # ... the same against the 60 s window
M_BAND_LOW_MARGIN_MWH = 53  # lowest (stored energy the controller wanted) - (band floor of its mode)
M_BAND_HIGH_MARGIN_MWH = 54  # lowest (top of the span) - (stored energy the controller wanted)
M_BAND_PINNED_STEPS = 55  # grid-connected steps the battery was held at a band edge (energy-limited)
M_GRID_ONLY_COST_USD = 56  # the trace's net load bought from the grid alone at its prices (the reference bill)
M_BAND_TOP_FORCED_MWH = 57  # surplus the POI had to take because the battery was full (PV and units could not)
N_M = 58

# --- outage records (float64, shape (max_outages, N_O)) -----------------------------------
O_START = 0  # step index
O_STEPS = 1  # length in steps
O_UNSERVED_MWH = 2  # during the outage and its reconnection
O_SHED_MWH = 3
O_RT_ACHIEVED_S = 4  # time the ride-through share was carried (capped at the requirement)
O_RT_OK = 5
O_ISLAND_OK = 6
O_E_MIN_MWH = 7
O_E_START_MWH = 8
O_RECONNECT_STEPS = 9  # steps from the grid's return until import and generation are back to normal
O_MIN_SERVED_FRACTION = 10  # lowest share of the load served in the first ride-through period
O_STARTS = 11  # unit starts during the outage and its reconnection
O_FUEL_USD = 12  # fuel burnt during the outage and its reconnection
O_GEN_MWH = 13
O_NEED_MW = 14  # largest battery power the ride-through share needed in the first duration_s (lf L_max - g)
O_NEED_MWH = 15  # stored energy that need draws in the first duration_s (sum of need dt / eta_dis)
O_AVAIL_MW = 16  # lowest real power the battery could deliver in the first duration_s (PCS, C-rate, inverters)
O_RESERVE_MWH = 17  # stored energy above the floor F at the outage's start
O_SUB_SHORT_MWH = 18  # within-step swings the PCS could not follow in the island (MW x dt, an upper bound)
N_O = 19

# --- hourly aggregates (float64, shape (hours, N_H)) ---------------------------------------
H_COUNT = 0
H_LOAD = 1
H_POI = 2
H_BESS = 3
H_GEN = 4
H_PV = 5
H_SOC = 6
H_SOC_MIN = 7
H_SOC_MAX = 8
H_RAMP_MAX = 9
H_UNSERVED = 10
H_LIMIT = 11
H_PRICE = 12
N_H = 13

# --- recorded steps (float64, shape (windows, length, N_R)) -------------------------------
R_LOAD = 0
R_POI = 1
R_LIMIT = 2  # the trace's import limit
R_BESS = 3  # discharge positive
R_GEN = 4
R_PV = 5  # PV used
R_STORED_BEFORE = 6
R_STORED = 7  # after the step
R_UNSERVED = 8
R_SHED = 9
R_Q_BESS = 10
R_Q_SHORT = 11
R_CAUSE = 12  # 0 none, 1 power, 2 energy, 3 import cap, 4 aftermath (only on violation steps)
R_VIOLATION_MW = 13  # ramp excess this step
R_CHARGE_MW = 14
R_DISCHARGE_MW = 15
R_LOSS_MW = 16
R_SETPOINT = 17
R_GRID = 18
R_P_AVAIL = 19  # discharge/charge power limit this step (PCS and apparent power)
R_PHASE = 20
N_R = 21

RAMP_BINS = 61  # |dPOI|/dt histogram: 60 bins of r_s/20 up to 3 r_s, then one overflow bin

# --- controller state carried from one chunk to the next (float64 array `st`, layout ST_*) ---
# Everything the loop remembers between steps that is not in the workspace arrays or the outputs:
# a trace replayed in chunks continues exactly where the previous chunk stopped.
ST_T = 0  # global index of the next step
ST_STEPS = 1  # the whole trace's length in steps (its last step flushes the last hour)
ST_READY = 2  # 0 until the first step set the steady initial state
ST_E_MWH = 3  # stored energy
ST_E_START_MWH = 4
ST_PK_MW = 5  # causal peak estimate of net load (an hour)
ST_PK_DAY_MW = 6  # ... over a day
ST_PRICE_MEAN = 7  # causal daily mean price [USD/MWh]
ST_PRICE_MAD = 8  # ... and mean absolute deviation
ST_P_PREV_MW = 9  # the POI at the last connected step
ST_STARTED = 10  # 1 once the policy was started (first connected step)
ST_IN_OUTAGE = 11
ST_RECONNECTING = 12  # import returning after a loss of grid
ST_RECOVERING = 13  # refilling what an outage drew from the bands
ST_RC_CAP_MW = 14  # the reconnection ramp's import cap
ST_OUT_I = 15  # row of the present (or last) outage record, -1 before the first
ST_OUT_START = 16  # step the present (or last) outage began
ST_LAST_FORCED = 17  # last step the battery's limits forced the POI
ST_G_TOTAL_MW = 18  # generation output
ST_UNITS_ACTIVE = 19  # 1 while generation needs dispatching
ST_N_TP = 20  # turning points kept
ST_TP_DIR = 21  # direction of the present swing (+1, -1, 0 before the first)
ST_TP_CAND_MWH = 22  # the present swing's extreme
ST_TP_HYST_MWH = 23  # turning-point hysteresis in use
ST_W_REC = 24  # first recorded window not finished
ST_STRESS_I = 25  # next row of the stress points
ST_WIN_POS = 26  # the measured POI's window (poi_policy.window_read): the next step's slot,
ST_WIN_LO_MW = 27  # and the lowest and highest POI of the block so far
ST_WIN_HI_MW = 28
ST_A_UNSERVED = 29  # sums over steps [MW]; times dt_h at the end
ST_A_SHED = 30
ST_A_GEN = 31
ST_A_FUEL = 32
ST_A_IMPORT = 33
ST_A_EXPORT = 34
ST_A_COST = 35
ST_A_CH = 36
ST_A_DIS = 37
ST_A_LOSS = 38
ST_A_GRID_ONLY = 39
ST_E_MIN_MWH = 40
ST_E_MAX_MWH = 41
ST_P_PEAK_MW = 42
ST_P_EXPORT_MW = 43
ST_DP_WORST_MW = 44  # largest one-step |dPOI|
ST_T_DP_WORST = 45
ST_SWING_WORST_MW = 46  # largest POI change within the 60 s window
ST_DP_NEED_WORST_MW = 47  # largest one-step POI change the battery's limits forced
ST_S2_NEED_WORST = 48  # largest square of the apparent power asked of the battery [MVA^2]
ST_SW_NEED_WORST_MW = 49  # ... within the 60 s window
ST_SUB_WORST_MW = 50  # largest within-step swing the PCS could not follow (starts at -1e300)
ST_UNNEEDED_SINCE = 51  # the step since which running units are not needed (-1: needed), see _unit_goals
ST_HOUR = 52  # the hour being aggregated
ST_NEXT_HOUR = 53  # its end (first step of the next hour)
ST_H = 54  # the hour's running aggregates, in the hourly layout H_* (H_RAMP_MAX in MW per step)
N_ST = ST_H + N_H


@njit(cache=True, _nrt=False)
def _tp_compact(tp, n, h):
    """Re-filter turning points with hysteresis ``h`` in place; return the new count."""
    if n < 3:
        return n
    out = 1
    direction = 0
    cand = tp[1]
    first = tp[0]
    for i in range(1, n):
        x = tp[i]
        if direction == 0:
            if x - first >= h:
                direction = 1
                cand = x
            elif first - x >= h:
                direction = -1
                cand = x
        elif direction > 0:
            if x > cand:
                cand = x
            elif cand - x >= h:
                tp[out] = cand
                out += 1
                direction = -1
                cand = x
        else:
            if x < cand:
                cand = x
            elif x - cand >= h:
                tp[out] = cand
                out += 1
                direction = 1
                cand = x
    if direction != 0:
        tp[out] = cand
        out += 1
    return out


@njit(cache=True, _nrt=False)
def _p_available(pcs_mw, s_mva, q_mvar):
    """Real power the battery may carry: ``min(P_pcs, sqrt(S^2 - Q^2))`` (0 when Q >= S)."""
    rest = s_mva * s_mva - q_mvar * q_mvar
    if rest >= pcs_mw * pcs_mw and pcs_mw > 1e-100:
        # no root needed: sqrt(fl(P^2)) == P in binary floating point (P^2 not subnormal), and
        # sqrt is monotonic
        return pcs_mw
    p_s = math.sqrt(rest) if rest > 0.0 else 0.0
    return p_s if p_s < pcs_mw else pcs_mw


@njit(cache=True, inline="always", _nrt=False)
def _tick_orders(gp, n_on, starting, orders, timer, m):
    """Start orders, one per decision, each with its own timer: a unit ordered at step t with start
    time S steps runs from step t + S, whatever was ordered before it. Orders are kept oldest first
    in ``orders[k, :]`` (units) and ``timer[k, :]`` (steps left); ``starting[k]`` is their sum."""
    for k in range(gp.shape[0]):
        if starting[k] <= 0:
            continue
        n = orders.shape[1]
        done = 0
        for j in range(n):
            if orders[k, j] <= 0:
                break
            timer[k, j] -= 1.0
            if timer[k, j] <= 0.0:
                done += 1
        for j in range(done):
            n_on[k] += orders[k, j]
            starting[k] -= orders[k, j]
            m[M_STARTS] += orders[k, j]
            m[M_START_COST_USD] += orders[k, j] * gp[k, G_START_USD]
        if done > 0:
            for j in range(n):
                src = j + done
                orders[k, j] = orders[k, src] if src < n else 0.0
                timer[k, j] = timer[k, src] if src < n else 0.0


@njit(cache=True, _nrt=False)
def _add_order(k, units, steps, starting, orders, timer, ordered):
    """Order ``units`` of type k to start in ``steps``; ``ordered[k]`` counts every unit ever ordered."""
    ordered[k] += units
    n = orders.shape[1]
    for j in range(n):
        if orders[k, j] <= 0:
            orders[k, j] = units
            timer[k, j] = steps
            starting[k] += units
            return
    # more orders than units (cannot happen: every order is at least one unit): join the newest
    orders[k, n - 1] += units
    starting[k] += units


@njit(cache=True, _nrt=False)
def _cancel_orders(k, units, starting, orders, timer):
    """Cancel up to ``units`` pending starts of type k, newest first."""
    for j in range(orders.shape[1] - 1, -1, -1):
        if units <= 0:
            break
        if orders[k, j] > 0:
            c = min(orders[k, j], units)
            orders[k, j] -= c
            starting[k] -= c
            units -= c
            if orders[k, j] <= 0:
                orders[k, j] = 0.0
                timer[k, j] = 0.0


@njit(cache=True, inline="always", _nrt=False)
def _commit_units(gp, n_on, starting, orders, timer, ordered, g, want_mw, hold, m):
    """The commitment of :func:`_dispatch_units`: start orders synchronise, then units in list order
    cover ``want_mw``; with ``hold`` none leave."""
    _tick_orders(gp, n_on, starting, orders, timer, m)
    remaining = want_mw
    for k in range(gp.shape[0]):
        unit = gp[k, G_UNIT_MW]
        avail = gp[k, G_UNITS]
        need = 0.0
        if remaining > 1e-9 and avail > 0:
            need = min(avail, np.ceil(remaining / unit - 1e-9))
        remaining -= need * unit
        have = n_on[k] + starting[k]
        if hold and need < have:
            need = have
        if need > have:
            if gp[k, G_START_STEPS] <= 0:
                n_on[k] += need - have
                m[M_STARTS] += need - have
                m[M_START_COST_USD] += (need - have) * gp[k, G_START_USD]
            else:
                # the start is counted (and costed) when the unit synchronises
                _add_order(k, need - have, gp[k, G_START_STEPS], starting, orders, timer, ordered)
        elif need < have:
            _cancel_orders(k, min(starting[k], have - need), starting, orders, timer)
            if n_on[k] > need:
                # stop surplus units; their output drops to what the rest can carry
                n_on[k] = need
                g[k] = min(g[k], need * unit)


@njit(cache=True, _nrt=False)
def _any_starting(starting):
    """Whether a start order of any type is pending."""
    for k in range(starting.shape[0]):
        if starting[k] > 0:
            return True
    return False


@njit(cache=True, inline="always", _nrt=False)
def _dispatch_units(gp, n_on, starting, orders, timer, ordered, g, want_mw, target_mw, keep_min, hold, dt, m,
                    steady):
    """Commit units in list order to cover ``want_mw`` of capacity and move output toward
    ``target_mw`` within the online units' ramps, min load and rating; return total output [MW].

    A unit ordered to start joins after its start time. With ``hold`` (a curtailment or an
    outage in progress) the commitment only grows, so load swings cannot start and stop units
    every few seconds; otherwise units leave in reverse order as the want falls (the hand-back
    lowers it steadily).

    ``steady``: the last call had the same want and hold, nothing is starting and nothing else
    changed the commitment since. The commitment is then already where they put it (a commitment
    with nothing left starting is a fixed point of the same want and hold), so only the output moves.
    """
    ng = gp.shape[0]
    if not steady:
        _commit_units(gp, n_on, starting, orders, timer, ordered, g, want_mw, hold, m)
    # output: split the target over types in list order, each within ramp, min load and rating
    total = 0.0
    rest = target_mw
    for k in range(ng):
        unit = gp[k, G_UNIT_MW]
        cap = n_on[k] * unit
        if cap <= 0.0:
            g[k] = 0.0
            continue
        ramp = n_on[k] * gp[k, G_RAMP_MW_PER_S] * dt
        lo_k = n_on[k] * gp[k, G_MIN_FRACTION] * unit if keep_min else 0.0
        want_k = min(max(rest, lo_k), cap)
        gk = min(max(want_k, g[k] - ramp), g[k] + ramp)
        gk = min(max(gk, 0.0), cap)
        g[k] = gk
        rest -= gk
        total += gk
    return total


@njit(cache=True, _nrt=False)
def _bin_flows(b_mw, up_mw, dn_mw):
    """Mean discharge and charge [MW] of a step whose load swings within it from its mean ``L`` up
    to ``L + up`` and down to ``L - dn`` (the bin's max and min), which the battery follows.

    Two levels (at ``b + up`` for a share ``w = dn / (up + dn)`` of the step, at ``b - dn`` for the
    rest: mean ``b``): a swing across zero charges and discharges within the step, and its
    efficiency losses reach stored energy. No swing: ``(max(b, 0), max(-b, 0))``.
    """
    if up_mw < 0.0:
        up_mw = 0.0
    if dn_mw < 0.0:
        dn_mw = 0.0
    span = up_mw + dn_mw
    if span <= 1e-12 or (b_mw - dn_mw >= 0.0) or (b_mw + up_mw <= 0.0):
        return max(b_mw, 0.0), max(-b_mw, 0.0)
    w = dn_mw / span
    hi = b_mw + up_mw
    lo = b_mw - dn_mw
    return w * hi, -(1.0 - w) * lo


@njit(cache=True, _nrt=False)
def _stress_state(gp, n_on, starting, orders, timer, g, need_mw):
    """Generation cold except the units that must run for firm reasons: ``need_mw`` (net load
    above the import limit) carried in list order by as few units as cover it, at least at their
    minimum load; every other unit stopped and every start order cancelled. Returns the output [MW]."""
    total = 0.0
    for k in range(gp.shape[0]):
        unit = gp[k, G_UNIT_MW]
        nk = 0.0
        if need_mw > 1e-9 and unit > 0.0:
            nk = min(gp[k, G_UNITS], math.ceil(need_mw / unit - 1e-9))
        n_on[k] = nk
        _cancel_orders(k, starting[k], starting, orders, timer)
        gk = min(max(need_mw, nk * gp[k, G_MIN_FRACTION] * unit), nk * unit) if nk > 0 else 0.0
        g[k] = gk
        need_mw -= gk
        total += gk
    return total


def workspace(cp, gp, poi_state) -> tuple:
    """The kernel's zeroed working arrays: a copy of the policy state, per generator type its units
    on, starting and (per start order) units and timers, its output, the blocks of the window of
    the POI as measured (``poi_policy.window_read``; empty), and per type the units ever ordered to start, now and
    when the present outage began. Allocated here, not in the compiled
    loop: compiled code that allocates also compiles numba's error-message machinery."""
    ng = gp.shape[0]
    max_orders = max([1] + [int(gp[k, G_UNITS]) + 1 for k in range(ng)])
    W = max(1, int(cp[C_WINDOW_STEPS]))
    win = np.repeat([np.inf, -np.inf, np.inf, -np.inf], W)  # empty
    return (np.zeros_like(poi_state), np.zeros(ng), np.zeros(ng), np.zeros((ng, max_orders)),
            np.zeros((ng, max_orders)), np.zeros(ng), win, np.zeros(ng), np.zeros(ng))


@njit(cache=True, _nrt=False)
def _copy_into(dst, src):
    """``dst[:] = src`` for arrays of one length, as a loop: the slice assignment checks shapes
    and brings numba's error-message machinery into the compiled kernel."""
    for j in range(src.shape[0]):
        dst[j] = src[j]


def new_state(steps: int) -> np.ndarray:
    """A state vector (layout ``ST_*``) for a trace of ``steps`` steps, before its first step."""
    st = np.zeros(N_ST)
    st[ST_STEPS] = steps
    return st


@njit(cache=True, _nrt=False)
def _init_state(L0, pv0, lim0, price0, cp, gp, st, work, m, tp):
    """Steady operation at the first step: stored energy mid-band, the peak estimates at the net
    load, units running that the import limit cannot do without and those cheaper than the first
    price (carrying up to the net load); the metrics' running extremes at their neutral values."""
    n_on, g = work[1], work[5]
    ng = gp.shape[0]
    dt = cp[C_DT_S]
    N0 = L0 - pv0
    mid = 0.5 * (cp[C_OP_LO_MWH] + cp[C_OP_HI_MWH])
    g_total = 0.0
    need = max(N0 - lim0, 0.0)
    cheap = 0.0
    for k in range(ng):
        if gp[k, G_FUEL_USD_PER_MWH] < price0:
            cheap += gp[k, G_UNITS] * gp[k, G_UNIT_MW]
    need = max(need, min(cheap, max(N0, 0.0)))
    if ng > 0 and need > 0.0:
        for k in range(ng):
            unit = gp[k, G_UNIT_MW]
            nk = min(gp[k, G_UNITS], math.ceil(max(need, 0.0) / unit - 1e-9))
            n_on[k] = nk
            g[k] = min(need, nk * unit)
            need -= g[k]
            g_total += g[k]
    st[ST_READY] = 1.0
    st[ST_E_MWH] = mid
    st[ST_E_START_MWH] = mid
    st[ST_PK_MW] = N0
    st[ST_PK_DAY_MW] = N0
    st[ST_PRICE_MEAN] = price0
    st[ST_PRICE_MAD] = 0.0
    st[ST_OUT_I] = -1.0
    st[ST_LAST_FORCED] = -1e9
    st[ST_G_TOTAL_MW] = g_total
    st[ST_UNITS_ACTIVE] = 1.0 if g_total > 0.0 else 0.0
    st[ST_N_TP] = 1.0
    st[ST_WIN_LO_MW] = np.inf
    st[ST_WIN_HI_MW] = -np.inf
    st[ST_UNNEEDED_SINCE] = -1.0
    tp[0] = mid
    st[ST_TP_CAND_MWH] = mid
    st[ST_TP_HYST_MWH] = cp[C_TP_HYST_MWH]
    st[ST_E_MIN_MWH] = mid
    st[ST_E_MAX_MWH] = mid
    st[ST_NEXT_HOUR] = int(math.ceil(3600.0 / dt - 1e-9))
    st[ST_H + H_SOC_MIN] = 1e300
    st[ST_H + H_SOC_MAX] = -1e300
    m[M_TP_HYST_MWH] = cp[C_TP_HYST_MWH]
    m[M_T_WORST_RAMP] = -1.0
    m[M_T_WORST_IMPORT] = -1.0
    m[M_T_FIRST_UNSERVED] = -1.0
    m[M_T_WORST_BAND] = -1.0
    m[M_BAND_LOW_MARGIN_MWH] = 1e300
    st[ST_SUB_WORST_MW] = -1e300
    m[M_BAND_HIGH_MARGIN_MWH] = 1e300


# ============================================================================ controller, by priority


@njit(cache=True, _nrt=False)
def _signals(cp, N, pr, pk, pk_day, price_mean, price_mad):
    """(5) Economics' causal signals: the net load's peak estimates (decaying toward the present over
    an hour and over a day), the price's daily mean and mean absolute deviation; returns them and the
    arbitrage setpoint [MWh] inside the operating band (cheap: up, dear: down)."""
    if N > pk:
        pk = N
    else:
        pk += (N - pk) * cp[C_PEAK_DECAY]
    # over a day: for committing units that run on economics (no start-stop per stall)
    if N > pk_day:
        pk_day = N
    else:
        pk_day += (N - pk_day) * cp[C_PEAK_DECAY_DAY]
    a_price = cp[C_PRICE_ALPHA]
    price_mean += a_price * (pr - price_mean)
    price_mad += a_price * (abs(pr - price_mean) - price_mad)
    z = 0.0
    if price_mad > 1e-9:
        z = -(pr - price_mean) / (2.0 * price_mad) * cp[C_ARB_GAIN]
        if z > 1.0:
            z = 1.0
        elif z < -1.0:
            z = -1.0
    op_lo = cp[C_OP_LO_MWH]
    op_hi = cp[C_OP_HI_MWH]
    return pk, pk_day, price_mean, price_mad, 0.5 * (op_lo + op_hi) + z * 0.5 * (op_hi - op_lo)


@njit(cache=True, _nrt=False)
def _outage_opens(outages, m, out_i, t, e, floor_mwh):
    """(1) A loss of grid or a sag begins at step t: its record opens (while rows last); returns its row."""
    if out_i + 1 < outages.shape[0]:
        out_i += 1
        outages[out_i, O_START] = t
        outages[out_i, O_RT_OK] = 1.0
        outages[out_i, O_ISLAND_OK] = 1.0
        outages[out_i, O_E_MIN_MWH] = e
        outages[out_i, O_E_START_MWH] = e
        outages[out_i, O_RT_ACHIEVED_S] = -1.0
        outages[out_i, O_MIN_SERVED_FRACTION] = 1.0
        outages[out_i, O_AVAIL_MW] = 1e300
        outages[out_i, O_RESERVE_MWH] = e - floor_mwh
    m[M_N_OUTAGES] += 1.0
    return out_i


@njit(cache=True, _nrt=False)
def _grid_returns(cp, gp, pp, poi_state, work, outages, out_i, n_out, started, N, g_total, ph):
    """(1) The grid is back after ``n_out`` steps. After a sag the grid carries on: starts not yet
    synchronised are cancelled, but for a curtailment call announced or under way (``ph`` 1 or 2)
    only those the sag ordered: the call still needs the units its notice ordered, at the time it
    ordered them. After a loss of grid they go on (import returns only at the reconnection ramp,
    and the units take the load meanwhile; the hand-back stops what is not needed), the policy and
    the measurement history restart at the outage's zero import.
    Returns whether it was a loss of grid (a reconnection follows)."""
    starting, orders, timer, ordered, ordered_at_outage = work[2], work[3], work[4], work[7], work[8]
    if out_i >= 0:
        outages[out_i, O_STEPS] = n_out
    if n_out <= cp[C_SAG_STEPS]:
        for k in range(gp.shape[0]):
            cancel = starting[k]
            if ph == 1 or ph == 2:
                # orders are synchronised oldest first and cancelled newest first: the sag's are the newest
                cancel = min(starting[k], ordered[k] - ordered_at_outage[k])
            _cancel_orders(k, cancel, starting, orders, timer)
        return False
    if started:
        poi_reset(poi_state, pp, N - g_total, 0.0)
    return True


@njit(cache=True, _nrt=False)
def _import_cap(cp, lim, ph, notice_left_s, reconnecting, rc_cap):
    """(2)(3) The import cap the POI works to while connected: the trace's limit, during a notice
    falling so the grid reaches the firm import at the event start, after a loss of grid the
    reconnection ramp. Returns (cap, reconnection cap)."""
    lim_eff = lim
    if ph == 1:
        cap_pre = cp[C_FIRM_MW] + notice_left_s * cp[C_PRERAMP_MW_PER_S]
        if cap_pre < lim_eff:
            lim_eff = cap_pre
    if reconnecting:
        rc_cap += cp[C_RECONNECT_MW_PER_S] * cp[C_DT_S]
        if rc_cap < lim_eff:
            lim_eff = rc_cap
    return lim_eff, rc_cap


@njit(cache=True, inline="always", _nrt=False)
def _econ_capacity(gp, price):
    """(5) Capacity [MW] of the unit types whose fuel costs less than the present price."""
    cap = 0.0
    for k in range(gp.shape[0]):
        if gp[k, G_FUEL_USD_PER_MWH] < price:
            cap += gp[k, G_UNITS] * gp[k, G_UNIT_MW]
    return cap


@njit(cache=True, inline="always", _nrt=False)
def _unit_goals(cp, gp, connected, reconnecting, recovering, ph, N, e, dev, g_total, rc_cap, pk, pk_day, lim, lim_eff,
                econ_cap, t, unneeded_since, idle_steps):
    """(1)(3)(5) What generation is asked for: (want [MW] of committed capacity, target [MW] of
    output, keep units at their minimum load, hold the commitment, the step since which running
    units are not needed (-1: they are)).

    In normal running a unit the import limit no longer needs hands its load back to the POI, then
    idles at its minimum load for ``idle_steps`` (the longest start time of the site's units: a
    need that comes back within it finds the unit running, as it would have waited that long for
    a cold start), then unloads to zero at the hand-back rate and stops. Units running on
    economics keep their minimum load while they are cheaper than the grid."""
    dt = cp[C_DT_S]
    r_hb = cp[C_HANDBACK_MW_PER_S]
    hold = False
    needed = True
    if not connected:
        # every installed unit starts: the design's bridge to the island counts on all of them
        want = 0.0
        for k in range(gp.shape[0]):
            want += gp[k, G_UNITS] * gp[k, G_UNIT_MW]
        want = max(want, N)
        target = N
        keep_min = False
        hold = True
    elif reconnecting:
        # hand the load back at the POI's steady rate (the policy follows it), never faster
        # than the reconnection cap lets import return, refilling the ride-through reserve first
        refill = 0.0
        rt_top = cp[C_RT_TOP_MWH]
        if e < rt_top:
            refill = (rt_top - e) / cp[C_ETA_CH] * 3600.0 / cp[C_RECOVERY_S]
        target = max(g_total - r_hb * dt, N - rc_cap + refill)
        want = max(target, 0.0)
        keep_min = False
    elif ph == 1 or ph == 2:
        # commit to cover the expected deficit below the firm import
        want = max(pk - cp[C_FIRM_MW], N - lim_eff, 0.0)
        refill = 0.0
        if dev < 0.0:
            refill = -dev / cp[C_ETA_CH] * 3600.0 / cp[C_RECOVERY_S]
        # never let generation fall faster than the POI can follow (as in normal running):
        # a dip in load during a call must not hand the load to the shrinking import cap
        target = max(g_total - r_hb * dt, N - lim_eff + refill, 0.0)
        keep_min = True
        hold = True
    else:
        need = N - lim_eff
        if (ph == 3 or recovering) and e < cp[C_OP_LO_MWH]:
            # after a call or a loss of grid: the refill of the reserves it drew (back to the operating
            # band, at the policy's recovery rate) that the import cap leaves no room for, from generation
            need += (cp[C_OP_LO_MWH] - e) / cp[C_ETA_CH] * 3600.0 / cp[C_RECOVERY_S]
        target = max(g_total - r_hb * dt, need)
        want = max(target, pk - lim, 0.0)
        if want <= 1e-9:
            want = 0.0
        needed = max(need, pk - lim) > 1e-9
        if not needed and unneeded_since < 0:
            unneeded_since = t
        # (the hand-back's target, output less r dt, never reaches zero at minimum load: without
        # the idle time's end a unit would idle there for ever)
        keep_min = want > 0.0 and (needed or t - unneeded_since < idle_steps)
    if econ_cap > 0.0:
        # cover the net load up to the cheap capacity, rising no faster than the POI can
        # follow down (the steady ramp rate); commit for the recent peak so swings do not
        # start and stop units
        econ = min(econ_cap, max(N, 0.0), g_total + r_hb * dt)
        if econ > target:
            target = econ
        want = max(want, min(econ_cap, pk_day))
        keep_min = True
        needed = True
    if needed:
        unneeded_since = -1
    return want, target, keep_min, hold, unneeded_since


@njit(cache=True, _nrt=False)
def _units_busy(n_on, starting):
    """Whether any unit runs or is starting (generation still needs dispatching)."""
    for k in range(n_on.shape[0]):
        if n_on[k] > 0 or starting[k] > 0:
            return True
    return False


@njit(cache=True, _nrt=False)
def _floor(cp, connected, reconnecting, recovering, e, ph):
    """(1)(4) The stored-energy floor the battery may draw to this step [MWh] (the nameplate floor
    in an outage and until what it drew is back, else the top of the ride-through reserve), and
    whether the recovery from an outage goes on."""
    rt_top = cp[C_RT_TOP_MWH]
    floor_now = rt_top
    if not connected or reconnecting or recovering:
        floor_now = cp[C_FLOOR_MWH]
    if recovering and not reconnecting and connected and e >= rt_top:
        # the ride-through reserve is back, so it is held again; the recovery from the loss of
        # grid lasts until what the outage drew from the bands above it is back too (outside
        # calls: up to the operating band, the up-ramp buffer included, so the swings of the
        # next steps do not dip below the normal floor): until then the band checks do not
        # judge it as normal running
        floor_now = rt_top
        if e >= (cp[C_OP_LO_MWH] if ph == 0 else rt_top):
            recovering = False
    return floor_now, recovering


@njit(cache=True, _nrt=False)
def _reactive_need(cp, q_load, p):
    """Reactive power [Mvar] the battery must supply: the load's less what the POI may carry at its
    minimum power factor for an import ``p``."""
    q = q_load - max(p, 0.0) * cp[C_TAN_POI]
    if q < 0.0:
        q = 0.0
    return q


@njit(cache=True, _nrt=False)
def _energy_power(e, floor_now, top, eta_dis, eta_ch, dt_h, dis_room_mwh, ch_room_mwh):
    """The power [MW] the stored energy allows for one step: (discharge to the floor, charge to the
    top). Far from an edge, where it exceeds the PCS rating (``*_room_mwh``: the energy of a step
    at that rating, with a margin), +inf stands for it: it is only ever compared with powers
    within the rating, so the quotient need not be formed."""
    if e - floor_now >= dis_room_mwh:
        dis_e = np.inf
    else:
        dis_e = max(0.0, e - floor_now) * eta_dis / dt_h
    if top - e >= ch_room_mwh:
        ch_e = np.inf
    else:
        ch_e = max(0.0, top - e) / eta_ch / dt_h
    return dis_e, ch_e


@njit(cache=True, _nrt=False)
def _shortfall(b, dis_max, p_avail, dis_e, connected, restoring, lim, p, flex_mw, isl_shed_mw, shed):
    """(2) The battery cannot discharge the ``b`` [MW] asked of it: the POI takes the rest up to the
    import limit, then flexible load is shed (in an island only what the spec lets it), then the POI
    goes above the limit (a counted import violation); while restoring after a loss of grid, load
    comes back only as import returns and the battery refills: the deficit is held back (unserved).
    Returns (b, p, shed, unserved, limit cause: 1 power, 2 energy)."""
    short = b - dis_max
    b = dis_max
    limit_cause = 1 if p_avail <= dis_e else 2
    unserved = 0.0
    if not restoring:
        room = max(lim - p, 0.0)
        take = min(short, room)
        p += take
        short -= take
    if short > 0.0:
        # an island sheds only what the spec lets it (grid-connected: the flexible share)
        more = max(min(short, (flex_mw if connected else isl_shed_mw) - shed), 0.0)
        shed += more
        short -= more
    if short > 0.0:
        if not restoring:
            p += short  # above the import limit: counted as an import violation
        else:
            unserved = short
    return b, p, shed, unserved, limit_cause


@njit(cache=True, _nrt=False)
def _surplus(b, ch_max, p_avail, ch_e, pv, g, g_total, p, connected, dt_h, m):
    """(2) The battery cannot charge the ``-b`` [MW] asked of it: PV is curtailed, then generation
    trips below its plan, before the POI drops faster than allowed. Returns
    (b, PV used, generation, p, limit cause: 1 power, 2 energy)."""
    surplus = -ch_max - b
    b = -ch_max
    limit_cause = 1 if p_avail <= ch_e else 2
    cut = min(surplus, pv)
    pv_used = pv - cut
    surplus -= cut
    m[M_PV_CURTAILED_MWH] += cut * dt_h
    if surplus > 0.0 and g_total > 0.0:
        cutg = min(surplus, g_total)
        scale = (g_total - cutg) / g_total
        for k in range(g.shape[0]):
            g[k] *= scale
        g_total -= cutg
        surplus -= cutg
    if surplus > 0.0:
        p -= surplus
        if limit_cause == 2 and connected:
            # full: what neither PV curtailment nor generation could take went to the POI
            m[M_BAND_TOP_FORCED_MWH] += surplus * dt_h
    return b, pv_used, g_total, p, limit_cause


@njit(cache=True, inline="always", _nrt=False)
def _stored_energy(cp, e, b, up_mw, dn_mw, floor_now):
    """Stored energy [MWh] after a step whose battery power is ``b`` (discharge positive) with the
    load's within-step swing; returns (e, mean discharge, mean charge, losses [MW])."""
    dt_h = cp[C_DT_H]
    eta_ch = cp[C_ETA_CH]
    eta_dis = cp[C_ETA_DIS]
    top = cp[C_TOP_MWH]
    floor_f = cp[C_FLOOR_MWH]
    dis, ch = _bin_flows(b, up_mw, dn_mw)
    e_try = e - dis * dt_h / eta_dis + ch * dt_h * eta_ch
    if (dis > 0.0 and ch > 0.0) and (e_try < floor_now - 1e-12 or e_try > top + 1e-12):
        # at a stored-energy edge the cells cannot follow the swing's losses too: mean flow only
        dis, ch = max(b, 0.0), max(-b, 0.0)
        e_try = e - dis * dt_h / eta_dis + ch * dt_h * eta_ch
    e = e_try
    loss = dis * cp[C_DIS_LOSS] + ch * (1.0 - eta_ch)
    if e < floor_f and e > floor_f - 1e-9:
        e = floor_f
    if e > top and e < top + 1e-9:
        e = top
    return e, dis, ch, loss


# ============================================================================ metrics, by group


@njit(cache=True, inline="always", _nrt=False)
def _turning_point(tp, n_tp, tp_dir, tp_cand, h_tp, e, m):
    """Turning points of stored energy (hysteresis ``h_tp``) for the rainflow count; when the buffer
    fills, the hysteresis doubles and the points are filtered again. Returns the new
    (count, direction, candidate, hysteresis)."""
    # (the swing's extreme follows e as a select: e turns every few steps, so a branch on it would
    # be mispredicted often; the turn itself, by the hysteresis or more, is rare. When e passes the
    # extreme, the turn's test is false whatever h_tp > 0, as the branch had it.)
    if tp_dir > 0:
        turned = tp_cand - e >= h_tp
        tp_cand = e if e > tp_cand else tp_cand
        if turned:
            tp[n_tp] = tp_cand
            n_tp += 1
            tp_dir = -1
            tp_cand = e
    elif tp_dir < 0:
        turned = e - tp_cand >= h_tp
        tp_cand = e if e < tp_cand else tp_cand
        if turned:
            tp[n_tp] = tp_cand
            n_tp += 1
            tp_dir = 1
            tp_cand = e
    else:
        if e - tp[0] >= h_tp:
            tp_dir = 1
            tp_cand = e
        elif tp[0] - e >= h_tp:
            tp_dir = -1
            tp_cand = e
    if n_tp >= tp.shape[0] - 2:
        h_tp *= 2.0
        n_tp = _tp_compact(tp, n_tp, h_tp)
        m[M_TP_HYST_MWH] = h_tp
    return n_tp, tp_dir, tp_cand, h_tp


@njit(cache=True, _nrt=False)
def _ramp_need(Nn, dis_max, flex_mw, ch_max, pv, g_total, p_prev, lim_eff, wmin, wmax):
    """The POI motion the battery's limits force (0 when it could hold the POI still): the figure the
    ramp checks compare with their limits. Returns the one-step change and the change within the
    60 s window [MW]."""
    need_lo = Nn - dis_max - flex_mw
    need_hi = Nn + ch_max + pv + g_total
    dp_need = max(need_lo - p_prev, p_prev - need_hi, p_prev - lim_eff, 0.0)
    sw_need = max(need_lo - wmin, wmax - need_hi, wmax - lim_eff, 0.0)
    return dp_need, sw_need


@njit(cache=True, _nrt=False)
def _substep_metrics(m, outages, sub, tol, connected, out_i, in_rt, dt_h):
    """Swings faster than the step the PCS could not follow (``sub`` MW, above ``tol``): counted,
    and in an island they fail its ride-through (within its duration) and islanding."""
    if sub > tol:
        m[M_SUBSTEP_SHORT_STEPS] += 1.0
        if not connected and out_i >= 0:
            outages[out_i, O_SUB_SHORT_MWH] += sub * dt_h
            if in_rt:
                outages[out_i, O_RT_OK] = 0.0
            outages[out_i, O_ISLAND_OK] = 0.0


@njit(cache=True, _nrt=False)
def _import_metrics(m, p, lim, tol, dt, t):
    """Import above the limit: steps, MW-seconds, the worst and its step."""
    over = p - lim
    if over > tol:
        m[M_IMPORT_VIOL_STEPS] += 1.0
        m[M_IMPORT_VIOL_MW_S] += over * dt
        if over > m[M_IMPORT_WORST_MW]:
            m[M_IMPORT_WORST_MW] = over
            m[M_T_WORST_IMPORT] = t


@njit(cache=True, _nrt=False)
def _ramp_violation(m, ex1, ex60, thr, dt, limit_cause, forced_import, aftermath, t):
    """A step that broke a ramp rule (excess over the one-second or the 60 s rule above ``thr``):
    counted with its cause. Returns (excess [MW], cause: 0 none, 1 power, 2 energy, 3 import cap,
    4 aftermath, 5 unexplained)."""
    if not (ex1 > thr or ex60 > thr):
        return 0.0, 0
    viol = max(ex1, ex60)
    if ex1 > thr:
        m[M_RAMP1_VIOL_STEPS] += 1.0
    if ex60 > thr:
        m[M_RAMP60_VIOL_STEPS] += 1.0
    m[M_RAMP_VIOL_STEPS] += 1.0
    m[M_RAMP_VIOL_MW_S] += viol * dt
    if limit_cause == 1:
        cause = 1
        m[M_CAUSE_POWER] += 1.0
    elif limit_cause == 2:
        cause = 2
        m[M_CAUSE_ENERGY] += 1.0
    elif forced_import:
        cause = 3
        m[M_CAUSE_IMPORT] += 1.0
    elif aftermath:
        cause = 4
        m[M_CAUSE_AFTERMATH] += 1.0
    else:
        cause = 5
        m[M_CAUSE_NONE] += 1.0
    if viol > m[M_RAMP_WORST_EXCESS_MW]:
        m[M_RAMP_WORST_EXCESS_MW] = viol
        m[M_T_WORST_RAMP] = t
    return viol, cause


@njit(cache=True, _nrt=False)
def _band_metrics(cp, m, b_req, p_avail, e_before, e, ph, limit_cause, normal, band_floor, t):
    """Band margins in normal running (the stored energy the controller wanted this step, its power
    limits applied but not its energy limits, against the band floor of the mode and the top of the
    span; negative when a band edge held the battery back) and excursions below the floor of the
    present mode."""
    dt = cp[C_DT_S]
    if normal:
        dt_h = cp[C_DT_H]
        b_e = min(max(b_req, -p_avail), p_avail)
        e_want = e_before - b_e * dt_h / cp[C_ETA_DIS] if b_e > 0.0 else e_before - b_e * dt_h * cp[C_ETA_CH]
        fl = cp[C_NORMAL_FLOOR_MWH] if ph == 0 else cp[C_RT_TOP_MWH]
        if e_want - fl < m[M_BAND_LOW_MARGIN_MWH]:
            m[M_BAND_LOW_MARGIN_MWH] = e_want - fl
        if cp[C_TOP_MWH] - e_want < m[M_BAND_HIGH_MARGIN_MWH]:
            m[M_BAND_HIGH_MARGIN_MWH] = cp[C_TOP_MWH] - e_want
        if limit_cause == 2:
            m[M_BAND_PINNED_STEPS] += 1.0
    if e < band_floor - 1e-9:
        m[M_BAND_EXCURSION_S] += dt
        if band_floor - e > m[M_BAND_EXCURSION_WORST_MWH]:
            m[M_BAND_EXCURSION_WORST_MWH] = band_floor - e
            m[M_T_WORST_BAND] = t


@njit(cache=True, _nrt=False)
def _outage_metrics(cp, gp, g, outages, o, in_outage, k_in, L, L_max, g_total, shed, unserved, e, p_avail):
    """The record of the outage in progress (or its reconnection): energy unserved and shed,
    generation and its fuel, lowest stored energy, and in its first ride-through period the
    power and energy the ride-through share needed, the power available, the share served and
    whether the ride-through held."""
    dt_h = cp[C_DT_H]
    outages[o, O_UNSERVED_MWH] += unserved * dt_h
    outages[o, O_SHED_MWH] += shed * dt_h
    if g_total > 0.0:
        outages[o, O_GEN_MWH] += g_total * dt_h
        for k in range(gp.shape[0]):
            outages[o, O_FUEL_USD] += g[k] * dt_h * gp[k, G_FUEL_USD_PER_MWH]
    if e < outages[o, O_E_MIN_MWH]:
        outages[o, O_E_MIN_MWH] = e
    if unserved > 1e-9:
        outages[o, O_ISLAND_OK] = 0.0
    if not in_outage:
        outages[o, O_RECONNECT_STEPS] += 1.0
        return
    if k_in < cp[C_RT_STEPS]:
        rt_lf = cp[C_RT_LOAD_FRACTION]
        need_rt = rt_lf * L_max - g_total  # the within-step peak, not the mean
        if need_rt > outages[o, O_NEED_MW]:
            outages[o, O_NEED_MW] = need_rt
        need_e = rt_lf * L - g_total  # energy: the step's mean
        if need_e > 0.0:
            outages[o, O_NEED_MWH] += need_e * dt_h / cp[C_ETA_DIS]
        if p_avail < outages[o, O_AVAIL_MW]:
            outages[o, O_AVAIL_MW] = p_avail
        if L > 0.0:
            served = (L - shed - unserved) / L
            if served < outages[o, O_MIN_SERVED_FRACTION]:
                outages[o, O_MIN_SERVED_FRACTION] = served
        if outages[o, O_RT_OK] == 1.0:
            if shed + unserved > (1.0 - rt_lf) * L + 1e-9:
                outages[o, O_RT_OK] = 0.0
                outages[o, O_RT_ACHIEVED_S] = k_in * cp[C_DT_S]


@njit(cache=True, _nrt=False)
def _record_step(x, L, p, lim, b, g_total, pv_used, e_before, e, unserved, shed, q_bess, q_short, cause,
                 viol, ch, dis, loss, e_set, ga, p_avail, ph):
    """One step of a recorded window (row ``x``, layout ``R_*``)."""
    x[R_LOAD] = L
    x[R_POI] = p
    x[R_LIMIT] = lim
    x[R_BESS] = b
    x[R_GEN] = g_total
    x[R_PV] = pv_used
    x[R_STORED_BEFORE] = e_before
    x[R_STORED] = e
    x[R_UNSERVED] = unserved
    x[R_SHED] = shed
    x[R_Q_BESS] = q_bess
    x[R_Q_SHORT] = q_short
    x[R_CAUSE] = cause
    x[R_VIOLATION_MW] = viol
    x[R_CHARGE_MW] = ch
    x[R_DISCHARGE_MW] = dis
    x[R_LOSS_MW] = loss
    x[R_SETPOINT] = e_set
    x[R_GRID] = ga
    x[R_P_AVAIL] = p_avail
    x[R_PHASE] = ph


@njit(cache=True, _nrt=False)
def _input_sums(load_mw, pv_mw, limit_mw, price, i0, i1, count, load, limit, price_sum, grid_only):
    """Add steps ``i0 .. i1 - 1`` of the chunk's inputs to the hour's count and sums of load, import
    limit and price, and to the grid-only bill's sum (net load bought at the price)."""
    for i in range(i0, i1):
        count += 1.0
        load += load_mw[i]
        limit += limit_mw[i]
        price_sum += price[i]
        grid_only += max(load_mw[i] - pv_mw[i], 0.0) * price[i]
    return count, load, limit, price_sum, grid_only


@njit(cache=True, _nrt=False)
def _hour_row(x, count, load, poi, bess, gen, pv, soc, soc_min, soc_max, ramp_max, unserved, limit, price):
    """An hour's aggregates (row ``x``, layout ``H_*``): sums over its steps, extremes."""
    x[H_COUNT] = count
    x[H_LOAD] = load
    x[H_POI] = poi
    x[H_BESS] = bess
    x[H_GEN] = gen
    x[H_PV] = pv
    x[H_SOC] = soc
    x[H_SOC_MIN] = soc_min
    x[H_SOC_MAX] = soc_max
    x[H_RAMP_MAX] = ramp_max
    x[H_UNSERVED] = unserved
    x[H_LIMIT] = limit
    x[H_PRICE] = price


@njit(cache=True, _nrt=False)
def simulate_chunk(
    load_mw, load_min_mw, load_max_mw, pv_mw, limit_mw, phase, grid, price, notice_left_s,
    cp, gp, pp, poi_state, st, work,
    m, hourly, ramp_hist, tp, outages, rec_start, rec, stress,
):
    """Replay the next ``load_mw.shape[0]`` steps of a trace from the state ``st`` (see
    :func:`new_state`; updated in place) and add them to the metric, hourly, histogram,
    turning-point, outage and recording arrays (see the layout constants). Chunks replayed one
    after the other give the whole trace's replay bit for bit.

    The input arrays are the chunk's steps; ``rec_start`` (first step of each recorded window,
    length ``rec.shape[1]``, sorted) and ``stress`` (rows ``(step, stored_mwh[, limit_mw])``, sorted by step:
    the stress state at those steps, see ``_stress_state``) count steps from the trace's start;
    pass empty arrays for none. ``work``: the working arrays from :func:`workspace`, carried
    from chunk to chunk like ``st`` and ``poi_state``; call :func:`finish` after the last chunk.

    Within the chunk the state lives in locals (registers: each step reads most of it), loaded
    from ``st`` here and stored back at the end."""
    n = load_mw.shape[0]
    if n == 0:
        return
    if st[ST_READY] == 0.0:
        _init_state(load_mw[0], pv_mw[0], limit_mw[0], price[0], cp, gp, st, work, m, tp)
    T = int(st[ST_STEPS])
    t0 = int(st[ST_T])
    dt = cp[C_DT_S]
    dt_h = cp[C_DT_H]
    E = cp[C_E_MWH]
    floor_f = cp[C_FLOOR_MWH]
    top = cp[C_TOP_MWH]
    rt_top = cp[C_RT_TOP_MWH]
    normal_floor = cp[C_NORMAL_FLOOR_MWH]
    pcs = cp[C_PCS_MW]
    s_mva = cp[C_S_MVA]
    tan_load = cp[C_TAN_LOAD]
    eta_ch = cp[C_ETA_CH]
    eta_dis = cp[C_ETA_DIS]
    flex = cp[C_FLEX_FRACTION]
    r_hb = cp[C_HANDBACK_MW_PER_S]
    r_m = cp[C_RAMP_MW_PER_MIN]
    W = int(cp[C_WINDOW_STEPS])
    tol = cp[C_TOL_MW]
    isl_shed = cp[C_ISLAND_SHED_FRACTION]
    isl_shed_steps = cp[C_ISLAND_SHED_STEPS]
    rt_steps = cp[C_RT_STEPS]
    ng = gp.shape[0]
    idle_steps = 0.0  # see _unit_goals
    for k in range(ng):
        idle_steps = max(idle_steps, gp[k, G_START_STEPS])
    state_copy, n_on, starting, orders, timer, g, win, ordered, ordered_at_outage = work
    Wn = win.shape[0] // 4  # the window's block: W steps (1 when W is 0, which gives the same values)
    n_rec = rec_start.shape[0]
    rec_len = rec.shape[1]
    n_hours = hourly.shape[0]
    bin_w = cp[C_RAMP_MW_PER_S] / 20.0
    inv_E = 1.0 / E if E > 0.0 else 0.0
    r_step = cp[C_RAMP_MW_PER_S] * dt
    n_stress = stress.shape[0]
    # stored energy above the floor (below the top) that certainly lets the battery discharge
    # (charge) at its PCS rating for a whole step: 1e-12 above the exact figure, far more than
    # the roundings of the quotients it stands for
    dis_room_mwh = pcs * dt_h / eta_dis * (1.0 + 1e-12) if pcs > 1e-100 else np.inf  # (no underflow)
    ch_room_mwh = pcs * dt_h * eta_ch * (1.0 + 1e-12) if pcs > 1e-100 else np.inf

    # the state this chunk starts from
    e = st[ST_E_MWH]
    pk = st[ST_PK_MW]
    pk_day = st[ST_PK_DAY_MW]
    price_mean = st[ST_PRICE_MEAN]
    price_mad = st[ST_PRICE_MAD]
    p_prev = st[ST_P_PREV_MW]
    started = st[ST_STARTED] != 0.0
    in_outage = st[ST_IN_OUTAGE] != 0.0
    reconnecting = st[ST_RECONNECTING] != 0.0
    recovering = st[ST_RECOVERING] != 0.0
    rc_cap = st[ST_RC_CAP_MW]
    out_i = int(st[ST_OUT_I])
    out_start = int(st[ST_OUT_START])
    last_forced = int(st[ST_LAST_FORCED])
    g_total = st[ST_G_TOTAL_MW]
    units_active = st[ST_UNITS_ACTIVE] != 0.0
    n_tp = int(st[ST_N_TP])
    tp_dir = int(st[ST_TP_DIR])
    tp_cand = st[ST_TP_CAND_MWH]
    h_tp = st[ST_TP_HYST_MWH]
    w_rec = int(st[ST_W_REC])
    s_i = int(st[ST_STRESS_I])
    unneeded_since = int(st[ST_UNNEEDED_SINCE])
    w_pos = int(st[ST_WIN_POS])
    w_lo = st[ST_WIN_LO_MW]
    w_hi = st[ST_WIN_HI_MW]
    a_unserved = st[ST_A_UNSERVED]
    a_shed = st[ST_A_SHED]
    a_gen = st[ST_A_GEN]
    a_fuel = st[ST_A_FUEL]
    a_import = st[ST_A_IMPORT]
    a_export = st[ST_A_EXPORT]
    a_cost = st[ST_A_COST]
    a_ch = st[ST_A_CH]
    a_dis = st[ST_A_DIS]
    a_loss = st[ST_A_LOSS]
    a_grid_only = st[ST_A_GRID_ONLY]
    e_min = st[ST_E_MIN_MWH]
    e_max = st[ST_E_MAX_MWH]
    p_peak = st[ST_P_PEAK_MW]
    p_export = st[ST_P_EXPORT_MW]
    dp_worst = st[ST_DP_WORST_MW]
    t_dp_worst = int(st[ST_T_DP_WORST])
    swing_worst = st[ST_SWING_WORST_MW]
    dp_need_worst = st[ST_DP_NEED_WORST_MW]
    s2_worst = st[ST_S2_NEED_WORST]
    sw_need_worst = st[ST_SW_NEED_WORST_MW]
    sub_worst = st[ST_SUB_WORST_MW]
    hr = int(st[ST_HOUR])
    next_hour = int(st[ST_NEXT_HOUR])
    h_n = st[ST_H + H_COUNT]
    h_load = st[ST_H + H_LOAD]
    h_poi = st[ST_H + H_POI]
    h_bess = st[ST_H + H_BESS]
    h_gen = st[ST_H + H_GEN]
    h_pv = st[ST_H + H_PV]
    h_soc = st[ST_H + H_SOC]
    h_soc_min = st[ST_H + H_SOC_MIN]
    h_soc_max = st[ST_H + H_SOC_MAX]
    h_ramp = st[ST_H + H_RAMP_MAX]
    h_uns = st[ST_H + H_UNSERVED]
    h_lim = st[ST_H + H_LIMIT]
    h_price = st[ST_H + H_PRICE]
    h_i0 = 0  # first step of the chunk whose inputs are not yet in the hour's sums
    # the want and hold of the last commitment (nan: none known; see _dispatch_units's ``steady``)
    commit_want = np.nan
    commit_hold = False

    for i in range(n):
        t = t0 + i
        L = load_mw[i]
        pv = pv_mw[i]
        lim = limit_mw[i]
        ph = phase[i]
        ga = grid[i]
        pr = price[i]
        N = L - pv
        q_load = L * tan_load
        e_before = e
        pk, pk_day, price_mean, price_mad, e_set = _signals(cp, N, pr, pk, pk_day, price_mean, price_mad)

        # (0) the stress state: where a contingency's requirement is defined, stored energy at the
        # lowest level the bands allow, generation cold but for the firm need; the POI carried the rest
        if s_i < n_stress and stress[s_i, 0] <= t:
            while s_i < n_stress and stress[s_i, 0] < t:
                s_i += 1
            if s_i < n_stress and stress[s_i, 0] == t:
                if e > stress[s_i, 1]:
                    e = stress[s_i, 1]
                    e_before = e
                # the firm need against the import limit before a call (the row's third column): a
                # call without notice starts its units cold, as the screening does
                lim_s = stress[s_i, 2] if stress.shape[1] > 2 else lim
                g_total = _stress_state(gp, n_on, starting, orders, timer, g, max(N - lim_s, 0.0))
                commit_want = np.nan  # the commitment changed outside the dispatch
                units_active = True
                if not in_outage and not reconnecting:
                    p0 = min(max(N - g_total, 0.0), lim)
                    poi_reset(poi_state, pp, N - g_total, p0)
                    started = True
                    p_prev = p0
                    w_pos, w_lo, w_hi = window_restart(win, 0, Wn, p0, t - 1)
                s_i += 1

        # (1) grid state: an outage begins or ends
        if ga == 0:
            if not in_outage:
                in_outage = True
                out_start = t
                units_active = True
                out_i = _outage_opens(outages, m, out_i, t, e, floor_f)
                _copy_into(ordered_at_outage, ordered)
        elif in_outage:
            in_outage = False
            commit_want = np.nan  # its cancelled starts change the commitment outside the dispatch
            if _grid_returns(cp, gp, pp, poi_state, work, outages, out_i, t - out_start, started, N, g_total, ph):
                reconnecting = True
                rc_cap = 0.0
                # the measurement history restarts at the outage's zero import
                w_pos, w_lo, w_hi = window_restart(win, 0, Wn, 0.0, t - 1)
                p_prev = 0.0
            recovering = True

        # (1)(3)(5) generation
        dev = e - e_set
        lim_eff = lim
        connected = ga == 1
        if connected:
            lim_eff, rc_cap = _import_cap(cp, lim, ph, notice_left_s[i], reconnecting, rc_cap)
            if ph == 1 or ph == 2 or N > lim_eff or pk > lim or ((ph == 3 or recovering) and e < cp[C_OP_LO_MWH]):
                units_active = True
        econ_cap = 0.0
        if ng > 0 and connected:
            econ_cap = _econ_capacity(gp, pr)
            if econ_cap > 0.0:
                units_active = True
        if ng > 0 and units_active:
            want, target, keep_min, hold, unneeded_since = _unit_goals(cp, gp, connected, reconnecting, recovering, ph,
                                                                       N, e, dev, g_total, rc_cap, pk, pk_day, lim,
                                                                       lim_eff, econ_cap, t, unneeded_since,
                                                                       idle_steps)
            starts_before = m[M_STARTS]
            steady = want == commit_want and hold == commit_hold and not _any_starting(starting)
            g_total = _dispatch_units(gp, n_on, starting, orders, timer, ordered, g, want, target, keep_min, hold, dt,
                                      m, steady)
            commit_want = want
            commit_hold = hold
            if out_i >= 0 and (in_outage or reconnecting):
                outages[out_i, O_STARTS] += m[M_STARTS] - starts_before
            if g_total <= 0.0 and want <= 0.0:
                units_active = _units_busy(n_on, starting)
                if not units_active:
                    unneeded_since = -1

        # (2) POI and battery
        Nn = N - g_total
        floor_now, recovering = _floor(cp, connected, reconnecting, recovering, e, ph)
        p = 0.0
        p_pol = 0.0
        forced_import = False
        snap = False
        wmin = 0.0
        wmax = 0.0
        dis_e, ch_e = _energy_power(e, floor_now, top, eta_dis, eta_ch, dt_h, dis_room_mwh, ch_room_mwh)
        if connected:
            if not started:
                p0 = min(max(Nn, 0.0), lim_eff)
                poi_reset(poi_state, pp, Nn, p0)
                started = True
                p_prev = p0
                w_pos, w_lo, w_hi = window_restart(win, 0, Wn, p0, t - 1)
            # the ramp envelope of the true history: the rules the POI is measured against
            # (empty: the last value, as the window's steady history stands for)
            wmin, wmax = window_read(win, 0, Wn, w_pos, w_lo, w_hi)
            wmin = wmin if wmin < np.inf else p_prev
            wmax = wmax if wmax > -np.inf else p_prev
            lo_r = max(p_prev - r_step, wmax - r_m)
            hi_r = min(p_prev + r_step, wmin + r_m)
            if lim_eff < lo_r - tol:
                forced_import = True
            # can the policy's answer, anywhere in the envelope, overrun the battery? Then keep a
            # copy of the policy state so a forced POI can replace the policy's own value.
            p_lo = min(lo_r, lim_eff)
            p_hi = min(max(hi_r, lo_r), lim_eff)
            q_chk = _reactive_need(cp, q_load, p_lo)
            pa_chk = _p_available(pcs, s_mva, q_chk)
            if Nn - p_lo > min(pa_chk, dis_e) - 1e-9 or Nn - p_hi < -min(pa_chk, ch_e) + 1e-9:
                snap = True
                _copy_into(state_copy, poi_state)
            # (4) its pull back to the setpoint asks at most P - R of the battery: controller.design_poi_params
            p_pol = poi_step(poi_state, pp, Nn, lim_eff, dev)
            p = p_pol
            q_need = _reactive_need(cp, q_load, p)
            p_avail = pa_chk if q_need == q_chk else _p_available(pcs, s_mva, q_need)
        else:
            q_need = q_load
            p_avail = _p_available(pcs, s_mva, q_need)
        dis_max = min(p_avail, dis_e)
        ch_max = min(p_avail, ch_e)
        # an island past the ride-through period sheds the flexible load while generation does not
        # carry the rest, saving stored energy for the bridge to the engines (as the design assumed)
        shed_pre = 0.0
        if in_outage and isl_shed > 0.0 and t - out_start >= isl_shed_steps and Nn > 0.0:
            shed_pre = min(isl_shed * L, Nn)
        b = Nn - p - shed_pre
        b_req = b  # what the policy asked of the battery, before its limits
        if connected and not reconnecting:
            # (not while restoring after a loss of grid: load the battery cannot carry is held back
            # then, not forced on the POI)
            dp_need, sw_need = _ramp_need(Nn, dis_max, flex * L, ch_max, pv, g_total, p_prev, lim_eff, wmin, wmax)
            if dp_need > dp_need_worst:
                dp_need_worst = dp_need
            if sw_need > sw_need_worst:
                sw_need_worst = sw_need
        shed = shed_pre
        unserved = 0.0
        pv_used = pv
        limit_cause = 0
        if b > dis_max + 1e-12:
            b, p, shed, unserved, limit_cause = _shortfall(b, dis_max, p_avail, dis_e, connected,
                                                           reconnecting or not connected, lim, p, flex * L,
                                                           isl_shed * L, shed)
        elif b < -ch_max - 1e-12:
            b, pv_used, g_total, p, limit_cause = _surplus(b, ch_max, p_avail, ch_e, pv, g, g_total, p, connected,
                                                           dt_h, m)
        if connected:
            if p != p_pol:
                # the policy's history must hold what the POI really did: back to the state
                # before its step, then record the forced value (filter advanced as usual)
                if snap:
                    _copy_into(poi_state, state_copy)
                    poi_commit(poi_state, pp, Nn, p)
                else:
                    poi_reset(poi_state, pp, Nn, p)
            if limit_cause > 0:
                last_forced = t
            q_need = _reactive_need(cp, q_load, p)
        # apparent power asked of the inverters: the real power wanted (up to the PCS rating, whose
        # own shortfall is the power checks' business) with the reactive power the site needs
        # (its square: the worst's root is taken at the end)
        b_s = min(abs(b_req), pcs)
        s2_need = b_s * b_s + q_need * q_need
        if s2_need > s2_worst:
            s2_worst = s2_need
        # swings faster than the step (the bin's min/max around its mean): the battery must follow
        # them within the step or the POI sees them; what the PCS cannot carry is counted
        # (in an island too: there nothing else can follow them, and what the PCS misses is load lost);
        # the worst figure keeps its sign, so a negative one is the PCS headroom the swings left
        L_max = load_max_mw[i]
        L_min = load_min_mw[i]
        sub = L_max - L + b - p_avail
        sub_dn = L - L_min - b - p_avail
        if sub_dn > sub:
            sub = sub_dn
        if sub > sub_worst:
            sub_worst = sub
        _substep_metrics(m, outages, sub, tol, connected, out_i, t - out_start < rt_steps, dt_h)
        # apparent power: real power first, reactive power with what is left
        q_bess = q_need
        if q_need > 0.0:
            rest2 = s_mva * s_mva - b * b
            q_room = math.sqrt(rest2) if rest2 > 0.0 else 0.0
            q_bess = q_need if q_need < q_room else q_room
        q_short = q_need - q_bess
        if q_short > 1e-9:
            m[M_Q_SHORT_STEPS] += 1.0
            if q_short > m[M_Q_SHORT_WORST_MVAR]:
                m[M_Q_SHORT_WORST_MVAR] = q_short

        # energy
        e, dis, ch, loss = _stored_energy(cp, e, b, L_max - L, L - L_min, floor_now)
        a_ch += ch
        a_dis += dis
        a_loss += loss
        if e < e_min:
            e_min = e
        if e > e_max:
            e_max = e
        n_tp, tp_dir, tp_cand, h_tp = _turning_point(tp, n_tp, tp_dir, tp_cand, h_tp, e, m)

        # ---------------------------------------------------------------- metrics
        a_unserved += unserved
        a_shed += shed
        if g_total > 0.0:
            a_gen += g_total
            for k in range(ng):
                a_fuel += g[k] * gp[k, G_FUEL_USD_PER_MWH]
        if unserved > 1e-9 and m[M_T_FIRST_UNSERVED] < 0:
            m[M_T_FIRST_UNSERVED] = t
        viol = 0.0
        cause = 0
        adp = 0.0
        if connected:
            if p > 0.0:
                a_import += p
            else:
                a_export -= p
            a_cost += p * pr
            if p > p_peak:
                p_peak = p
            if -p > p_export:
                p_export = -p
            _import_metrics(m, p, lim, tol, dt, t)
            # ramp rules against the true history of connected steps (window evicted above)
            adp = abs(p - p_prev)
            swing = p - wmin
            if wmax - p > swing:
                swing = wmax - p
            if adp > dp_worst:
                dp_worst = adp
                t_dp_worst = t
            if swing > swing_worst:
                swing_worst = swing
            viol, cause = _ramp_violation(m, adp - r_step, swing - r_m, tol + 1e-9 * abs(p), dt, limit_cause,
                                          forced_import, t - last_forced <= W, t)
            if forced_import:
                last_forced = t
            w_pos, w_lo, w_hi = window_push(win, 0, Wn, w_pos, w_lo, w_hi, p, p)
            p_prev = p
            b_idx = int(adp / (dt * bin_w))
            if b_idx >= RAMP_BINS - 1:
                b_idx = RAMP_BINS - 1
            ramp_hist[b_idx] += dt
        else:
            w_pos, w_lo, w_hi = window_push(win, 0, Wn, w_pos, w_lo, w_hi, np.inf, -np.inf)  # not measured

        # band margins in normal running, excursions below the floor of the present mode
        normal = connected and not reconnecting and not recovering
        if not normal:
            band_floor = floor_f
        elif ph == 0:
            band_floor = normal_floor
        else:
            band_floor = rt_top
        _band_metrics(cp, m, b_req, p_avail, e_before, e, ph, limit_cause, normal, band_floor, t)

        # outages: ride-through, islanding, lowest stored energy
        if out_i >= 0 and (in_outage or reconnecting):
            _outage_metrics(cp, gp, g, outages, out_i, in_outage, t - out_start, L, L_max, g_total, shed, unserved,
                            e, p_avail)
        if reconnecting and connected:
            # reconnection ends once import may carry the whole limit, generation is back to what
            # economics keeps running, and the ride-through reserve is refilled
            econ_level = min(econ_cap, max(N, 0.0))
            if rc_cap >= lim and g_total <= econ_level + r_hb * dt + 1e-9 and (e >= rt_top - 1e-9 or E <= 0.0):
                reconnecting = False

        # hourly aggregates (flushed when the hour ends; the sums of the inputs alone are formed
        # then, from the input arrays, in the same order)
        soc = e * inv_E
        h_poi += p
        h_bess += b
        h_gen += g_total
        h_pv += pv_used
        h_soc += soc
        if soc < h_soc_min:
            h_soc_min = soc
        if soc > h_soc_max:
            h_soc_max = soc
        if adp > h_ramp:
            h_ramp = adp
        h_uns += unserved
        if t + 1 == next_hour or t + 1 == T:
            h_n, h_load, h_lim, h_price, a_grid_only = _input_sums(load_mw, pv_mw, limit_mw, price, h_i0, i + 1, h_n,
                                                                   h_load, h_lim, h_price, a_grid_only)
            h_i0 = i + 1
            if hr < n_hours:
                _hour_row(hourly[hr], h_n, h_load, h_poi, h_bess, h_gen, h_pv, h_soc, h_soc_min, h_soc_max,
                          h_ramp / dt, h_uns, h_lim, h_price)
            hr += 1
            next_hour = int(math.ceil((hr + 1) * 3600.0 / dt - 1e-9))
            h_n = 0.0
            h_load = 0.0
            h_poi = 0.0
            h_bess = 0.0
            h_gen = 0.0
            h_pv = 0.0
            h_soc = 0.0
            h_soc_min = 1e300
            h_soc_max = -1e300
            h_ramp = 0.0
            h_uns = 0.0
            h_lim = 0.0
            h_price = 0.0

        # recording
        if n_rec > 0:
            for w in range(w_rec, n_rec):
                j = t - rec_start[w]
                if j < 0:
                    break
                if j < rec_len:
                    _record_step(rec[w, j], L, p, lim, b, g_total, pv_used, e_before, e, unserved, shed, q_bess,
                                 q_short, cause, viol, ch, dis, loss, e_set, ga, p_avail, ph)
                elif w == w_rec:
                    w_rec += 1

    h_n, h_load, h_lim, h_price, a_grid_only = _input_sums(load_mw, pv_mw, limit_mw, price, h_i0, n, h_n, h_load,
                                                           h_lim, h_price, a_grid_only)

    # the state the next chunk starts from
    st[ST_T] = t0 + n
    st[ST_E_MWH] = e
    st[ST_PK_MW] = pk
    st[ST_PK_DAY_MW] = pk_day
    st[ST_PRICE_MEAN] = price_mean
    st[ST_PRICE_MAD] = price_mad
    st[ST_P_PREV_MW] = p_prev
    st[ST_STARTED] = 1.0 if started else 0.0
    st[ST_IN_OUTAGE] = 1.0 if in_outage else 0.0
    st[ST_RECONNECTING] = 1.0 if reconnecting else 0.0
    st[ST_RECOVERING] = 1.0 if recovering else 0.0
    st[ST_RC_CAP_MW] = rc_cap
    st[ST_OUT_I] = out_i
    st[ST_OUT_START] = out_start
    st[ST_LAST_FORCED] = last_forced
    st[ST_G_TOTAL_MW] = g_total
    st[ST_UNITS_ACTIVE] = 1.0 if units_active else 0.0
    st[ST_N_TP] = n_tp
    st[ST_TP_DIR] = tp_dir
    st[ST_TP_CAND_MWH] = tp_cand
    st[ST_TP_HYST_MWH] = h_tp
    st[ST_W_REC] = w_rec
    st[ST_STRESS_I] = s_i
    st[ST_UNNEEDED_SINCE] = unneeded_since
    st[ST_WIN_POS] = w_pos
    st[ST_WIN_LO_MW] = w_lo
    st[ST_WIN_HI_MW] = w_hi
    st[ST_A_UNSERVED] = a_unserved
    st[ST_A_SHED] = a_shed
    st[ST_A_GEN] = a_gen
    st[ST_A_FUEL] = a_fuel
    st[ST_A_IMPORT] = a_import
    st[ST_A_EXPORT] = a_export
    st[ST_A_COST] = a_cost
    st[ST_A_CH] = a_ch
    st[ST_A_DIS] = a_dis
    st[ST_A_LOSS] = a_loss
    st[ST_A_GRID_ONLY] = a_grid_only
    st[ST_E_MIN_MWH] = e_min
    st[ST_E_MAX_MWH] = e_max
    st[ST_P_PEAK_MW] = p_peak
    st[ST_P_EXPORT_MW] = p_export
    st[ST_DP_WORST_MW] = dp_worst
    st[ST_T_DP_WORST] = t_dp_worst
    st[ST_SWING_WORST_MW] = swing_worst
    st[ST_DP_NEED_WORST_MW] = dp_need_worst
    st[ST_S2_NEED_WORST] = s2_worst
    st[ST_SW_NEED_WORST_MW] = sw_need_worst
    st[ST_SUB_WORST_MW] = sub_worst
    st[ST_HOUR] = hr
    st[ST_NEXT_HOUR] = next_hour
    st[ST_H + H_COUNT] = h_n
    st[ST_H + H_LOAD] = h_load
    st[ST_H + H_POI] = h_poi
    st[ST_H + H_BESS] = h_bess
    st[ST_H + H_GEN] = h_gen
    st[ST_H + H_PV] = h_pv
    st[ST_H + H_SOC] = h_soc
    st[ST_H + H_SOC_MIN] = h_soc_min
    st[ST_H + H_SOC_MAX] = h_soc_max
    st[ST_H + H_RAMP_MAX] = h_ramp
    st[ST_H + H_UNSERVED] = h_uns
    st[ST_H + H_LIMIT] = h_lim
    st[ST_H + H_PRICE] = h_price


@njit(cache=True, _nrt=False)
def finish(cp, st, m, tp, outages):
    """After the trace's last step: close the last swing and a running outage; fill the metrics
    the state accumulated (sums times dt in hours, extremes, counts)."""
    dt = cp[C_DT_S]
    dt_h = dt / 3600.0
    eta_dis = cp[C_ETA_DIS]
    T = int(st[ST_T])
    n_tp = int(st[ST_N_TP])
    if st[ST_TP_DIR] != 0.0:
        tp[n_tp] = st[ST_TP_CAND_MWH]
        n_tp += 1
    out_i = int(st[ST_OUT_I])
    if st[ST_IN_OUTAGE] != 0.0 and out_i >= 0:
        outages[out_i, O_STEPS] = T - int(st[ST_OUT_START])
    m[M_N_TP] = n_tp
    m[M_STEPS] = T
    m[M_E_START_MWH] = st[ST_E_START_MWH]
    m[M_E_END_MWH] = st[ST_E_MWH]
    m[M_E_MIN_MWH] = st[ST_E_MIN_MWH]
    m[M_E_MAX_MWH] = st[ST_E_MAX_MWH]
    m[M_UNSERVED_MWH] = st[ST_A_UNSERVED] * dt_h
    m[M_SHED_MWH] = st[ST_A_SHED] * dt_h
    m[M_GEN_MWH] = st[ST_A_GEN] * dt_h
    m[M_FUEL_COST_USD] = st[ST_A_FUEL] * dt_h
    m[M_IMPORT_MWH] = st[ST_A_IMPORT] * dt_h
    m[M_EXPORT_MWH] = st[ST_A_EXPORT] * dt_h
    m[M_ENERGY_COST_USD] = st[ST_A_COST] * dt_h
    m[M_GRID_ONLY_COST_USD] = st[ST_A_GRID_ONLY] * dt_h
    m[M_CHARGE_AC_MWH] = st[ST_A_CH] * dt_h
    m[M_DISCHARGE_AC_MWH] = st[ST_A_DIS] * dt_h
    m[M_DISCHARGE_STORED_MWH] = st[ST_A_DIS] * dt_h / eta_dis
    m[M_LOSS_MWH] = st[ST_A_LOSS] * dt_h
    m[M_IMPORT_PEAK_MW] = st[ST_P_PEAK_MW]
    m[M_EXPORT_WORST_MW] = st[ST_P_EXPORT_MW]
    m[M_RAMP_WORST_MW_PER_S] = st[ST_DP_WORST_MW] / dt
    m[M_T_MAX_DP] = st[ST_T_DP_WORST]
    m[M_RAMP_WORST_MW_PER_MIN] = st[ST_SWING_WORST_MW]
    # the worst of dp / dt and of sqrt(s2) are those of the worst dp and s2 (both monotonic)
    m[M_RAMP_NEED_WORST_MW_PER_S] = st[ST_DP_NEED_WORST_MW] / dt
    m[M_S_NEED_WORST_MVA] = math.sqrt(st[ST_S2_NEED_WORST])
    m[M_RAMP_NEED_WORST_MW_PER_MIN] = st[ST_SW_NEED_WORST_MW]
    m[M_SUBSTEP_SHORT_WORST_MW] = st[ST_SUB_WORST_MW]
