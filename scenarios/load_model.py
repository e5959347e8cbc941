"""The AI-load model (DESIGN 4, issue 3 point 1) and measured traces (point 2).

Every function renders onto bins ``[t0 + i*dt, t0 + (i+1)*dt)`` and returns the bin mean with the
within-bin minimum and maximum, so one model serves the 1-s transient layer and the hourly energy
layer. Event-driven parts (job stalls, checkpoints, starts and stops, inference bursts) are drawn as
event lists and rendered exactly (``render.py``); the sequential parts (AR noise, the cooling
lag) are first-order linear filters run by ``scipy.signal.lfilter`` (compiled C).

Site load = IT (training jobs + inference) + non-IT, with non-IT = (pue - 1) x IT through a
first-order lag of ``cooling_lag_s``, and the total kept within [min_load_mw, it_capacity x pue].

Defaults not in the spec are engineering estimates from the domain data sheet
(../shared/reference/domain-datasheet.md, section numbers cited beside each constant).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.signal import lfilter

from .render import pwl_bins, render_pwl, steps_to_pwl, zoh_bins, zoh_breakpoints
from .rng import child

DAY_S = 86400.0

# Datasheet 5.2 "Compute duty cycle 0.75": fraction of an iteration at compute (high) power.
COMPUTE_DUTY = 0.75
# [E] a job runs this long on average before it stops (ramping down) and a new one starts.
MEAN_JOB_LENGTH_S = 48 * 3600.0
# [E] idle gap between one job's stop and the next job's start (scheduler turnaround).
JOB_GAP_S = (5 * 60.0, 60 * 60.0)
# Simulated lead-in before t0 so the jobs are in a random, stationary phase at the trace start.
WARMUP_S = 2 * DAY_S
# Datasheet 5.3 "Fast noise: AR(1), sigma = 3 %" at ~2 s; 5 s correlation keeps 2-s changes
# within the 9 % of POLCA (1c) at 3.7 sigma.
INFERENCE_NOISE_TAU_S = 5.0


def job_weights(jobs: int) -> np.ndarray:
    """Share of the workload per job, ~ 1/(j+1): datasheet 5.2 "2 concurrent jobs (one 70 %, one
    30 % of GPUs)" gives 0.67 / 0.33. Stalls are split the same way: a job's interruption rate
    grows with its GPU count (datasheet 1b, "MTTF vs job size": MTTF ~ 1/N_GPU)."""
    w = 1.0 / np.arange(1, jobs + 1)
    return w / w.sum()


# --------------------------------------------------------------------------- training


@dataclass
class JobPlan:
    """What one training job does over the horizon: its envelope, when it swings, its events."""

    peak_mw: float
    period_s: float  # iteration period
    phase_s: float  # offset of the square wave
    env_x: np.ndarray  # envelope breakpoints (fraction of peak, before the swing)
    env_y: np.ndarray
    swing_x: np.ndarray  # 1 where iterations run (swing on), 0 when stalled/idle/checkpointing
    swing_y: np.ndarray
    stall_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    checkpoint_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stop_s: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _running_stall_rate(stalls_per_day: float, weight: float, down_s: float, gap_s: float) -> float:
    """Stall rate per second of *running* time that yields ``stalls_per_day x weight`` per wall day.

    A job is up a fraction f of the time; stalls only strike a running job. With lam the wall
    rate, d the mean stall down time, mu = 1/MEAN_JOB_LENGTH_S the stop rate per running second
    and g the mean stop-to-running gap: f = 1 - lam d - mu f g  =>  f = (1 - lam d) / (1 + mu g),
    and the running-time rate is lam / f.
    """
    lam = stalls_per_day * weight / DAY_S
    if lam <= 0:
        return 0.0
    f = (1.0 - lam * down_s) / (1.0 + gap_s / MEAN_JOB_LENGTH_S)
    return lam / max(f, 0.05)  # stalls so frequent the job is mostly down: cap, stay finite


@njit(cache=True)
def _job_timeline(t_end, rate, mean_job_s, d_lo, d_hi, g_lo, g_hi, ramp, idle, interval, ck_dur, depth, ck_first,
                  e_stall, e_stop, u_down, u_gap, ex, ey, sx, sy, stalls, cks, stops):
    """The event loop of :func:`plan_training_jobs` on pre-drawn variates (Exp(1) and U(0,1)).

    Returns (breakpoints, swing breakpoints, stalls, checkpoints, stops, variates used, done);
    ``done`` is False when the variates ran out before ``t_end`` (the caller draws more).
    """
    t = -WARMUP_S
    ne = ns = nst = nck = nsp = 0
    ex[0] = t
    ey[0] = 1.0
    sx[0] = t
    sy[0] = 1.0
    ne = ns = 1
    ck_next = ck_first
    k = 0
    while k < e_stall.shape[0]:
        d_stall = e_stall[k] / rate if rate > 0 else np.inf
        d_stop = e_stop[k] * mean_job_s
        te = t + min(d_stall, d_stop)
        while ck_next + ck_dur <= te and ck_next < t_end:
            c = ck_next
            e = c + ck_dur
            ex[ne] = c
            ex[ne + 1] = c
            ex[ne + 2] = e
            ex[ne + 3] = e
            ey[ne] = 1.0
            ey[ne + 1] = 1.0 - depth
            ey[ne + 2] = 1.0 - depth
            ey[ne + 3] = 1.0
            sx[ns] = c
            sx[ns + 1] = c
            sx[ns + 2] = e
            sx[ns + 3] = e
            sy[ns] = 1.0
            sy[ns + 1] = 0.0
            sy[ns + 2] = 0.0
            sy[ns + 3] = 1.0
            ne += 4
            ns += 4
            cks[nck] = c
            nck += 1
            ck_next += interval
        if te >= t_end:
            return ne, ns, nst, nck, nsp, k + 1, True
        if d_stall < d_stop:
            down = d_lo + (d_hi - d_lo) * u_down[k]
            ex[ne] = te
            ex[ne + 1] = te
            ex[ne + 2] = te + down
            ex[ne + 3] = te + down + ramp
            ey[ne] = 1.0
            ey[ne + 1] = idle
            ey[ne + 2] = idle
            ey[ne + 3] = 1.0
            sx[ns] = te
            sx[ns + 1] = te
            sx[ns + 2] = te + down
            sx[ns + 3] = te + down
            sy[ns] = 1.0
            sy[ns + 1] = 0.0
            sy[ns + 2] = 0.0
            sy[ns + 3] = 1.0
            ne += 4
            ns += 4
            stalls[nst] = te
            nst += 1
            t = te + down + ramp
        else:
            gap = g_lo + (g_hi - g_lo) * u_gap[k]
            ex[ne] = te
            ex[ne + 1] = te + ramp
            ex[ne + 2] = te + ramp + gap
            ex[ne + 3] = te + 2 * ramp + gap
            ey[ne] = 1.0
            ey[ne + 1] = idle
            ey[ne + 2] = idle
            ey[ne + 3] = 1.0
            sx[ns] = te
            sx[ns + 1] = te + ramp
            sx[ns + 2] = te + ramp
            sx[ns + 3] = te + ramp + gap
            sx[ns + 4] = te + ramp + gap
            sy[ns] = 1.0
            sy[ns + 1] = 1.0
            sy[ns + 2] = 0.0
            sy[ns + 3] = 0.0
            sy[ns + 4] = 1.0
            ne += 4
            ns += 5
            stops[nsp] = te
            nsp += 1
            t = te + 2 * ramp + gap
        ck_next = t + interval
        k += 1
    return ne, ns, nst, nck, nsp, k, False


def plan_training_jobs(w, workload_mw: float, t_end_s: float, ss) -> list[JobPlan]:
    """Draw the event history of each job of a training workload from ``-WARMUP_S`` to ``t_end_s``.

    A running job stalls (drops to ``idle_fraction`` within a second, stays down
    ``stall_duration_min``, restarts over ``job_ramp_s``) or stops (ramps down over ``job_ramp_s``,
    idles between jobs, the next job ramps up), whichever its competing exponential clocks ring
    first. Checkpoints come every ``checkpoint_interval_min`` of uninterrupted running (the clock
    restarts after a stall or a new job) and lower the job's power by
    ``checkpoint_depth_fraction`` for ``checkpoint_duration_s`` with the swing paused.
    """
    weights = job_weights(w.jobs)
    ramp = w.job_ramp_s
    interval = w.checkpoint_interval_min * 60.0
    d_lo, d_hi = (x * 60.0 for x in w.stall_duration_min)
    down_mean = 0.5 * (d_lo + d_hi) + ramp
    gap_mean = 0.5 * sum(JOB_GAP_S) + 2 * ramp
    span = t_end_s + WARMUP_S
    plans = []
    for j, wt in enumerate(weights):
        rng = child(ss, j)
        rate = _running_stall_rate(w.stalls_per_day, wt, down_mean, gap_mean)
        period = rng.uniform(*w.swing_period_s)
        phase = rng.uniform(0, period)
        ck_first = -WARMUP_S + rng.uniform(0, interval)
        # enough variates for twice the expected number of events; more only if they run out
        size = int(2 * span * (rate + 1.0 / MEAN_JOB_LENGTH_S)) + 16
        draws = [rng.standard_exponential(size), rng.standard_exponential(size), rng.random(size), rng.random(size)]
        while True:
            n_ck = int(span / interval) + 2
            n_ev = draws[0].size
            ex, ey = np.empty(1 + 4 * (n_ev + n_ck)), np.empty(1 + 4 * (n_ev + n_ck))
            sx, sy = np.empty(1 + 5 * n_ev + 4 * n_ck), np.empty(1 + 5 * n_ev + 4 * n_ck)
            stalls, cks, stops = np.empty(n_ev), np.empty(n_ck), np.empty(n_ev)
            ne, ns, nst, nck, nsp, _, done = _job_timeline(
                t_end_s, rate, MEAN_JOB_LENGTH_S, d_lo, d_hi, JOB_GAP_S[0], JOB_GAP_S[1], ramp, w.idle_fraction,
                interval, w.checkpoint_duration_s, w.checkpoint_depth_fraction, ck_first, *draws,
                ex, ey, sx, sy, stalls, cks, stops)
            if done:
                break
            draws = [np.concatenate([d, f(size)]) for d, f in zip(
                draws, (rng.standard_exponential, rng.standard_exponential, rng.random, rng.random))]
        plans.append(JobPlan(
            peak_mw=workload_mw * wt, period_s=period, phase_s=phase,
            env_x=ex[:ne], env_y=ey[:ne], swing_x=sx[:ns], swing_y=sy[:ns],
            stall_s=stalls[:nst], checkpoint_s=cks[:nck], stop_s=stops[:nsp],
        ))
    return plans


@njit(cache=True)
def _low_time(x, period_s, duty):
    """C(x) = floor(x/T) (1-D) T + max(0, (x mod T) - D T): low-phase time of the wave in [0, x)."""
    q = np.floor(x / period_s)
    return q * ((1.0 - duty) * period_s) + max(0.0, x - q * period_s - duty * period_s)


@njit(cache=True)
def _comm_fraction(t0, dt, i0, n, period_s, phase_s, duty, out):
    """Bins ``i0 .. i0 + n - 1`` (stored from ``out[0]``) of :func:`comm_fraction`."""
    prev = _low_time(t0 + dt * i0 - phase_s, period_s, duty)  # i0 = 0: t0 + 0.0, the bits of t0
    for i in range(i0, i0 + n):
        c = _low_time(t0 + dt * (i + 1) - phase_s, period_s, duty)
        out[i - i0] = min(max((c - prev) / dt, 0.0), 1.0)
        prev = c


def comm_fraction(t0: float, dt: float, n: int, period_s: float, phase_s: float, duty: float = COMPUTE_DUTY):
    """Fraction of each bin spent in the low (communication) phase of a square wave.

    The wave is high for ``duty x period`` then low for the rest, starting high at ``phase_s``.
    Exact: with C(x) = floor(x/T) (1-D) T + max(0, (x mod T) - D T) the low time in [0, x),
    the fraction in bin [a, b) is (C(b - phase) - C(a - phase)) / dt.
    """
    out = np.empty(n)
    _comm_fraction(float(t0), float(dt), 0, int(n), float(period_s), float(phase_s), float(duty), out)
    return out


@njit(cache=True)
def _add_job(env_x, env_y, swing_x, swing_y, peak_mw, period_s, phase_s, duty, sf, t0, dt, i0, n, mean, lo, hi, scratch):
    """Add one job's (mean, min, max) MW over bins ``i0 .. i0 + n - 1`` to ``mean``, ``lo``, ``hi``
    (from index 0; see :func:`render_job`);
    ``scratch`` is (7, n) of workspace (allocated by the caller: compiled code that allocates
    also compiles numba's error-message machinery, seconds of a fresh install's first run)."""
    e_mean, e_min, e_max = scratch[0], scratch[1], scratch[2]
    a_mean, a_min, a_max = scratch[3], scratch[4], scratch[5]
    low = scratch[6]
    render_pwl(env_x, env_y, t0, dt, i0, n, e_mean, e_min, e_max)
    render_pwl(swing_x, swing_y, t0, dt, i0, n, a_mean, a_min, a_max)
    _comm_fraction(t0, dt, i0, n, period_s, phase_s, duty, low)
    for i in range(n):
        mean[i] += peak_mw * e_mean[i] * (1.0 - sf * a_mean[i] * low[i])
        lo[i] += peak_mw * e_min[i] * (1.0 - sf * (1.0 if (a_max[i] > 0 and low[i] > 0) else 0.0))
        hi[i] += peak_mw * e_max[i] * (1.0 - sf * (1.0 if (a_min[i] >= 1 and low[i] >= 1) else 0.0))


def _render_job_into(plan: JobPlan, swing_fraction: float, t0: float, dt: float, n: int, mean, lo, hi, scratch=None,
                     i0: int = 0):
    _add_job(plan.env_x, plan.env_y, plan.swing_x, plan.swing_y, float(plan.peak_mw), float(plan.period_s),
             float(plan.phase_s), COMPUTE_DUTY, float(swing_fraction), float(t0), float(dt), int(i0), int(n), mean, lo, hi,
             np.empty((7, n)) if scratch is None else scratch)


def render_job(plan: JobPlan, swing_fraction: float, t0: float, dt: float, n: int):
    """(mean, min, max) MW of one job over the bins.

    power = peak x envelope x (1 - swing_fraction x swing_on x low_phase). The bin mean uses the
    product of bin means (exact when the envelope is flat over the bin, i.e. everywhere but the
    few bins holding a job event); the extremes take the full swing whenever the bin holds any
    low phase while iterating (min) or any high phase (max).
    """
    mean, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
    _render_job_into(plan, swing_fraction, t0, dt, n, mean, lo, hi)
    return mean, lo, hi


class TrainingRenderer:
    """A training workload (the sum of its jobs) drawn up front: its job plans from ``ss`` over n
    bins from ``t0``; :meth:`bins` renders any range of bins (job times are exact breakpoints)."""

    def __init__(self, w, workload_mw: float, t0: float, dt: float, n: int, ss):
        self.plans = plan_training_jobs(w, workload_mw, t0 + n * dt, ss)
        self.swing_fraction, self.t0, self.dt = w.swing_fraction, t0, dt

    def bins(self, i0: int, i1: int):
        n = i1 - i0
        mean, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
        scratch = np.empty((7, n))
        for p in self.plans:  # job extremes need not coincide: summing them bounds the site's (conservative)
            _render_job_into(p, self.swing_fraction, self.t0, self.dt, n, mean, lo, hi, scratch, i0)
        return mean, lo, hi


def training_bins(w, workload_mw: float, t0: float, dt: float, n: int, ss):
    """Training workload (sum of its jobs): (mean, min, max) MW and the job plans."""
    r = TrainingRenderer(w, workload_mw, t0, dt, n, ss)
    return (*r.bins(0, n), r.plans)


# --------------------------------------------------------------------------- inference


def diurnal_shape(w, t_abs0: float, dt: float, n: int, i0: int = 0) -> np.ndarray:
    """Bin mean of the inference diurnal over bins ``i0 .. i0 + n - 1``, as a fraction of the
    workload's peak.

    shape(t) = (1 + a cos(2 pi (h - peak_hour) / 24)) / (1 + a), a = (R - 1) / (R + 1) with R the
    peak-to-trough ratio, so the weekday peak is 1 and the trough 1/R; weekend days (days 5 and 6
    of each week, Jan 1 a Monday) are scaled by ``weekend_factor``. The cosine's bin mean is
    integrated exactly, so the hourly energy layer carries the same daily energy.
    """
    r = w.diurnal_peak_to_trough
    a = (r - 1.0) / (r + 1.0)
    omega = 2 * np.pi / DAY_S
    edges = t_abs0 + dt * np.arange(i0, i0 + n + 1)
    ph = omega * (edges - w.peak_hour * 3600.0)
    if dt * omega < 1e-6:
        cos_mean = np.cos(0.5 * (ph[1:] + ph[:-1]))
    else:
        cos_mean = np.diff(np.sin(ph)) / (omega * dt)
    shape = (1.0 + a * cos_mean) / (1.0 + a)
    day = np.floor((edges[:-1] + 0.5 * dt) / DAY_S).astype(np.int64)
    return np.where(day % 7 >= 5, shape * w.weekend_factor, shape)


class AR1Bins:
    """Bin means of a stationary AR(1)/Ornstein-Uhlenbeck process with std ``sigma``, correlation
    time ``tau_s``, over n bins, rendered in consecutive ranges (:meth:`next`) with the bits of one
    range. Bin-mean std: sigma sqrt(2 (x - 1 + e^-x)) / x with x = dt / tau (-> sigma for
    dt << tau, -> sigma sqrt(2 tau / dt) for dt >> tau); coefficient e^-x between bins.

    The n innovations come first from ``rng``, then the start value: a range short of the whole
    skips the innovations (drawn a block at a time and dropped) to reach the start value, then
    draws them again from the saved generator state (``lfilter`` carries the filter's state)."""

    SKIP_BLOCK = 1 << 20

    def __init__(self, sigma: float, tau_s: float, dt: float, n: int, rng):
        self.n, self.rng, self.done = n, rng, 0
        self.zero = sigma <= 0 or n == 0
        if self.zero:
            return
        x = dt / tau_s
        self.s_bin = sigma * (np.sqrt(2.0 * (x - 1.0 + np.exp(-x))) / x if x > 1e-6 else 1.0)
        self.phi = np.exp(-x)
        self.zi = None

    def _start(self, whole: bool):
        if whole:  # the innovations, then the start value, as drawn
            return
        state = self.rng.bit_generator.state
        for k in range(0, self.n, self.SKIP_BLOCK):
            self.rng.standard_normal(min(self.SKIP_BLOCK, self.n - k))
        self.zi = [self.phi * (self.s_bin * self.rng.standard_normal())]
        self.rng.bit_generator.state = state

    def next(self, m: int) -> np.ndarray:
        """The next ``m`` bins."""
        if self.zero:
            return np.zeros(m)
        if self.done == 0:
            self._start(m == self.n)
        z = self.rng.standard_normal(m)
        if self.zi is None:  # the whole trace in one range
            self.zi = [self.phi * (self.s_bin * self.rng.standard_normal())]
        y, self.zi = lfilter([self.s_bin * np.sqrt(1.0 - self.phi * self.phi)], [1.0, -self.phi], z, zi=self.zi)
        self.done += m
        return y


def ar1_bins(sigma: float, tau_s: float, dt: float, n: int, rng) -> np.ndarray:
    """The n bins of :class:`AR1Bins` at once."""
    return AR1Bins(sigma, tau_s, dt, n, rng).next(n)


class InferenceRenderer:
    """Inference: diurnal x weekend + AR(1) noise + bursts, within [0, workload peak]; bursts drawn
    up front, the noise rendered in consecutive ranges (:meth:`bins` in order)."""

    def __init__(self, w, workload_mw: float, t_abs0: float, dt: float, n: int, ss):
        rng_noise, rng_burst = child(ss, 0), child(ss, 1)
        self.w, self.mw, self.t_abs0, self.dt = w, workload_mw, t_abs0, dt
        self.noise = AR1Bins(w.noise_fraction * workload_mw, INFERENCE_NOISE_TAU_S, dt, n, rng_noise)
        horizon = n * dt
        k = rng_burst.poisson(w.bursts_per_day * horizon / DAY_S)
        starts = rng_burst.uniform(0, horizon, k) + t_abs0
        ends = starts + rng_burst.uniform(*w.burst_duration_s, k)
        self.bx, self.by = steps_to_pwl(starts, ends, np.full(k, w.burst_fraction * workload_mw))

    def bins(self, i0: int, i1: int):
        n, mw = i1 - i0, self.mw
        base = mw * diurnal_shape(self.w, self.t_abs0, self.dt, n, i0)
        noise = self.noise.next(n)
        b_mean, b_min, b_max = pwl_bins(self.bx, self.by, self.t_abs0, self.dt, n, i0)
        mean = np.clip(base + noise + b_mean, 0.0, mw)
        lo = np.clip(base + noise + b_min, 0.0, mw)
        hi = np.clip(base + noise + b_max, 0.0, mw)
        return mean, lo, hi


def inference_bins(w, workload_mw: float, t_abs0: float, dt: float, n: int, ss):
    """Inference over n bins at once (see :class:`InferenceRenderer`)."""
    return InferenceRenderer(w, workload_mw, t_abs0, dt, n, ss).bins(0, n)


# --------------------------------------------------------------------------- site


class CoolingLag:
    """First-order lag y' = (x - y) / lag, exact for piecewise-constant bins:
    y_i = y_{i-1} + (1 - e^{-dt/lag}) (x_i - y_{i-1}), starting in steady state y = x_0; consecutive
    ranges through :meth:`next` (the filter's state carried) give the bits of one range."""

    def __init__(self, lag_s: float, dt: float):
        self.alpha = 1.0 if lag_s <= 0 else -np.expm1(-dt / lag_s)
        self.zi = None

    def next(self, it_mw: np.ndarray) -> np.ndarray:
        if it_mw.size == 0:
            return it_mw.copy()
        if self.zi is None:
            self.zi = [(1.0 - self.alpha) * it_mw[0]]
        y, self.zi = lfilter([self.alpha], [1.0, self.alpha - 1.0], it_mw, zi=self.zi)
        return y


def cooling_lag(it_mw: np.ndarray, lag_s: float, dt: float) -> np.ndarray:
    """:class:`CoolingLag` over one range."""
    return CoolingLag(lag_s, dt).next(it_mw)


@dataclass
class LoadBins:
    """A site load over bins: mean, within-bin extremes [MW], and what drew it."""

    mean_mw: np.ndarray
    min_mw: np.ndarray
    max_mw: np.ndarray
    it_mw: np.ndarray | None = None
    jobs: list = field(default_factory=list)  # JobPlans of the training workloads


class ModelLoad:
    """The site load of the stochastic model over n bins from absolute time ``t_abs0`` [s], drawn
    up front from ``ss`` (job plans, bursts, noise generators) and rendered in consecutive ranges:
    ``bins(0, a)``, ``bins(a, b)``, ... give the bits of ``bins(0, n)`` (the cooling lag and the
    noise carry their state, so ranges come in order).

    Workload w gets ``share x it_capacity_mw``; IT is the sum; non-IT = (pue - 1) x lag(IT);
    the total (and its within-bin extremes) is clipped into [min_load_mw, it_capacity x pue].
    """

    def __init__(self, site, t_abs0: float, dt: float, n: int, ss):
        ld = site.load
        self.site, self.next_i = site, 0
        self.parts = []
        for k, w in enumerate(ld.workloads):
            wss = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, k))
            mw = w.share * ld.it_capacity_mw
            if w.kind == "training":  # time-invariant: job times are relative to the first bin
                self.parts.append(TrainingRenderer(w, mw, 0.0, dt, n, wss))
            else:
                self.parts.append(InferenceRenderer(w, mw, t_abs0, dt, n, wss))
        self.lag = CoolingLag(ld.cooling_lag_s, dt)

    @property
    def jobs(self) -> list:
        return [p for r in self.parts if isinstance(r, TrainingRenderer) for p in r.plans]

    def bins(self, i0: int, i1: int) -> LoadBins:
        if i0 != self.next_i:
            raise ValueError(f"load bins must be rendered in order: asked from bin {i0}, next is {self.next_i}")
        self.next_i = i1
        ld, n = self.site.load, i1 - i0
        it_mean, it_min, it_max = np.zeros(n), np.zeros(n), np.zeros(n)
        for r in self.parts:
            m, a, b = r.bins(i0, i1)
            it_mean += m
            it_min += a
            it_max += b
        non_it = (ld.pue - 1.0) * self.lag.next(it_mean)
        lo_b, hi_b = ld.min_load_mw, ld.peak_mw
        return LoadBins(
            mean_mw=np.clip(it_mean + non_it, lo_b, hi_b),
            min_mw=np.clip(it_min + non_it, lo_b, hi_b),
            max_mw=np.clip(it_max + non_it, lo_b, hi_b),
            it_mw=it_mean,
            jobs=self.jobs,
        )


def model_load_bins(site, t_abs0: float, dt: float, n: int, ss) -> LoadBins:
    """The site load of the stochastic model over n bins at once (see :class:`ModelLoad`)."""
    return ModelLoad(site, t_abs0, dt, n, ss).bins(0, n)


# --------------------------------------------------------------------------- measured traces


def read_trace(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A measured trace CSV ``time_s,load_mw`` (already validated by the site spec loader)."""
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, 0].astype(float), data[:, 1].astype(float)


# [E] bootstrap block: one hour keeps job- and checkpoint-scale structure inside a block.
BOOTSTRAP_BLOCK_S = 3600.0


class MeasuredLoad:
    """The measured trace on the model's bins, any range of bins at a time (:meth:`bins`).

    Resampling: the trace is a zero-order hold of its samples; bins coarser than its step get the
    exact bin mean (and the samples' extremes), finer bins hold the sample (zero-order hold).
    Beyond its end the trace is padded with its end value, never tiled. With ``rng`` (bootstrap
    mode) the trace's own span is cut into blocks of ``BOOTSTRAP_BLOCK_S`` (or a quarter of the
    span if shorter) and blocks drawn with replacement at random offsets fill the n bins.
    PUE is not applied again: the trace is total site power.
    """

    def __init__(self, site, dt: float, n: int, rng=None):
        t, v = read_trace(site.load.trace)
        self.dt, self.t_first = dt, t[0]
        self.xs, self.ys = zoh_breakpoints(t, v)
        self.starts = self.src = None
        if rng is None:
            return
        span_s = max(t[-1] - t[0] + (np.median(np.diff(t)) if t.size > 1 else dt), dt)
        n_src = max(int(round(span_s / dt)), 1)
        self.block = max(1, min(int(round(BOOTSTRAP_BLOCK_S / dt)), max(1, n_src // 4)))
        self.starts = rng.integers(0, n_src - self.block + 1, -(-n // self.block))
        if n_src <= 4 * n:  # a short source: render it once and index the blocks out of it
            self.src = zoh_bins(t, v, t[0], dt, n_src)

    def bins(self, i0: int, i1: int) -> LoadBins:
        dt, n = self.dt, i1 - i0
        if self.starts is None:
            return LoadBins(*pwl_bins(self.xs, self.ys, 0.0, dt, n, i0))
        if self.src is not None:
            i = np.arange(i0, i1)
            idx = self.starts[i // self.block] + i % self.block
            return LoadBins(self.src[0][idx], self.src[1][idx], self.src[2][idx])
        # a long source (a year at 1 s is 31.5 million bins): render only the drawn blocks
        b0, b1 = i0 // self.block, -(-i1 // self.block)
        parts = [pwl_bins(self.xs, self.ys, self.t_first + s * dt, dt, self.block) for s in self.starts[b0:b1]]
        a = i0 - b0 * self.block
        return LoadBins(*(np.concatenate([p[j] for p in parts])[a:a + n] for j in range(3)))


def measured_load_bins(site, dt: float, n: int, rng=None) -> LoadBins:
    """The measured trace over n bins at once (see :class:`MeasuredLoad`)."""
    return MeasuredLoad(site, dt, n, rng).bins(0, n)
