"""The shared POI policy (DESIGN 4): conventions pinned on hand-made steps, drops and staircases."""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.scenarios.poi_policy import (
    make_poi_params,
    new_poi_state,
    poi_bounds,
    poi_commit,
    poi_policy,
    poi_reset,
    poi_step,
    recovery_term_mw,
    window_push,
    window_read,
    window_restart,
)

NO_RECOVERY = 1e12  # soc_recovery_time_s so long that c_t is negligible: isolates the ramp rules


def run_steps(load, limit, params, deviation=0.0):
    """poi_step over a trace with a fixed deviation (no energy feedback)."""
    s = new_poi_state(params)
    limit = np.broadcast_to(limit, np.shape(load))
    return np.array([poi_step(s, params, float(x), float(lim), deviation) for x, lim in zip(load, limit)])


def reference_policy(load, limit, params_kw):
    """Brute-force DESIGN 4 (explicit 60 s scan), tau = 0, no recovery term."""
    dt = params_kw["dt_s"]
    w = int(np.floor(60 / dt + 1e-9))
    r_s, r_m = params_kw["ramp_mw_per_s"], params_kw["ramp_mw_per_min"]
    hist = [load[0]] * w  # steady history before the start
    p_prev = load[0]
    out = []
    for x, lim in zip(load, limit):
        window = hist[-w:]
        hi = min(lim, p_prev + r_s * dt, min(window) + r_m)
        lo = max(0.0, p_prev - r_s * dt, max(window) - r_m)
        p = hi if lo > hi else min(max(x, lo), hi)
        out.append(p)
        hist.append(p)
        p_prev = p
    return np.array(out)


def test_step_up_staircase_when_minute_limit_is_tighter():
    """100 MW step, r_s = 2 MW/s, r_m = 20 MW/min (tighter than 60 x 2 = 120), tau = 0, dt = 1 s.

    Hand derivation: load 0 for t < 10, 100 from t = 10. History before t = 0 is steady at 0.
    t = 10..19: hi = p_{t-1} + 2 -> 2, 4, ..., 20. From t = 20 the window [t-60, t-1] still
    holds p_9 = 0, so hi = 0 + 20: hold at 20 until p_9 leaves the window at t = 70; then
    hi = min(p_69 + 2, p_10 + 20 = 22) -> 22, 24, ..., 40 at t = 79; hold until t = 130; ...
    Each minute the POI climbs 20 MW in 10 s and holds 50 s.
    """
    params = make_poi_params(tau_s=0, ramp_mw_per_s=2, ramp_mw_per_min=20, soc_recovery_time_s=NO_RECOVERY)
    load = np.r_[np.zeros(10), np.full(400, 100.0)]
    p = run_steps(load, 1e9, params)
    expected = np.zeros(410)
    level = 0.0
    for t in range(10, 410):
        k = (t - 10) % 60
        if k < 10:
            level = 20.0 * ((t - 10) // 60) + 2.0 * (k + 1)
        expected[t] = min(level, 100.0)
    np.testing.assert_allclose(p, expected, atol=1e-9)
    assert p[19] == pytest.approx(20) and p[69] == pytest.approx(20) and p[70] == pytest.approx(22)
    assert p[-1] == pytest.approx(100)


def test_step_drop_mirrors_the_staircase_and_respects_no_export():
    """A drop from 100 to 0: the POI falls 2/s for 10 s, holds 50 s, ... (mirror of the rise).
    Net load then goes negative (-50, PV above load): with export forbidden p stops at 0;
    with export allowed it keeps falling."""
    kw = dict(tau_s=0, ramp_mw_per_s=2, ramp_mw_per_min=20, soc_recovery_time_s=NO_RECOVERY)
    load = np.r_[np.full(5, 100.0), np.zeros(400)]
    p = run_steps(load, 1e9, make_poi_params(**kw))
    np.testing.assert_allclose(p[5:15], 100 - 2.0 * np.arange(1, 11))
    np.testing.assert_allclose(p[15:65], 80.0)
    assert p[65] == pytest.approx(78.0)
    assert p[-1] == pytest.approx(0.0)

    neg = np.r_[np.full(5, 10.0), np.full(100, -50.0)]
    p_no = run_steps(neg, 1e9, make_poi_params(**kw))
    assert p_no.min() == 0.0
    np.testing.assert_allclose(p_no[5:10], [8, 6, 4, 2, 0])
    p_ex = run_steps(neg, 1e9, make_poi_params(**kw, export_allowed=True))
    np.testing.assert_allclose(p_ex[5:15], 10 - 2.0 * np.arange(1, 11))  # down to -10 within the minute budget
    assert p_ex[20] == pytest.approx(-10.0)  # then held by the 20 MW/min window


def test_no_lag_and_tau_zero_follows_load():
    """tau = 0: f = L; small moves inside the ramp limits are followed exactly, in the same step."""
    params = make_poi_params(tau_s=0, ramp_mw_per_s=2, ramp_mw_per_min=20, soc_recovery_time_s=NO_RECOVERY)
    load = np.array([50.0, 51.0, 52.5, 52.0, 50.0, 50.3])
    p = run_steps(load, 1e9, params)
    np.testing.assert_allclose(p, load, atol=1e-9)


def test_low_pass_filter_of_a_small_step():
    """tau = 30 s, dt = 1 s, step 0 -> 1 MW at t = 1 (inside every ramp limit):
    f_0 = 0 (starts at the first load), f_t = 1 - (1 - a)^t with a = 1 - exp(-1/30)."""
    params = make_poi_params(tau_s=30, ramp_mw_per_s=2, ramp_mw_per_min=20, soc_recovery_time_s=NO_RECOVERY)
    load = np.r_[0.0, np.ones(99)]
    p = run_steps(load, 1e9, params)
    a = 1 - np.exp(-1 / 30)
    np.testing.assert_allclose(p, 1 - (1 - a) ** np.arange(100), atol=1e-9)
    assert p[30] == pytest.approx(1 - np.exp(-1), rel=1e-9)


def test_import_limit_wins_over_the_ramp_rules():
    """At 150 MW the limit falls to 100: p jumps to 100 at once (lo = 148 > hi = 100), then the
    load (150) is above the limit, so p stays at the limit; when the limit returns, p climbs
    at 2 MW/s within the minute budget again. The forced drop left 150 in the window, so
    lo = 150 - 20 = 130 > hi = 102 at t = 40: hi wins, p climbs instead of jumping to 130."""
    params = make_poi_params(tau_s=0, ramp_mw_per_s=2, ramp_mw_per_min=20, soc_recovery_time_s=NO_RECOVERY)
    load = np.full(100, 150.0)
    limit = np.r_[np.full(10, 200.0), np.full(30, 100.0), np.full(60, 200.0)]
    p = run_steps(load, limit, params)
    np.testing.assert_allclose(p[:10], 150.0)
    np.testing.assert_allclose(p[10:40], 100.0)
    np.testing.assert_allclose(p[40:50], 100 + 2.0 * np.arange(1, 11))
    assert p[55] == pytest.approx(120.0)  # window still holds 100: capped at 100 + 20


def test_recovery_term_and_deviation_tracking():
    """c_t: a deficit of 1 MWh with eta_ch = 0.9, T_rec = 900 s needs 1/0.9 MWh from the AC side
    in 0.25 h -> c = 4.444 MW more import; a surplus of 1 MWh with eta_dis = 0.8 -> c = -3.2 MW.
    Deviation: 100 MW discharged for 36 s removes 100*0.01 h/0.8 = 1.25 MWh stored;
    the same charged adds 0.9 MWh."""
    params = make_poi_params(tau_s=0, ramp_mw_per_s=100, ramp_mw_per_min=1000, eta_ch=0.9, eta_dis=0.8,
                             soc_recovery_time_s=900)
    assert recovery_term_mw(params, -1.0) == pytest.approx(1 / 0.9 * 4)
    assert recovery_term_mw(params, 1.0) == pytest.approx(-0.8 * 4)
    s = new_poi_state(params)
    poi_step(s, params, 100.0, 1e9, 0.0)
    assert poi_step(s, params, 100.0, 1e9, -1.0) == pytest.approx(100 + 4 / 0.9)

    # whole-trace deviation: load 100, limit 0 for 36 s -> the battery carries 100 MW
    p0 = make_poi_params(tau_s=0, ramp_mw_per_s=100, ramp_mw_per_min=1000, eta_ch=0.9, eta_dis=0.8,
                         soc_recovery_time_s=NO_RECOVERY)
    poi, res, dev = poi_policy(np.full(36, 100.0), np.zeros(36), p0)
    np.testing.assert_allclose(res, 100.0)
    assert dev[-1] == pytest.approx(-1.25)
    poi, res, dev = poi_policy(np.r_[0.0, np.full(36, -100.0)], 1e9, make_poi_params(
        tau_s=0, ramp_mw_per_s=100, ramp_mw_per_min=1000, eta_ch=0.9, eta_dis=0.8,
        soc_recovery_time_s=NO_RECOVERY))
    # export forbidden: p = 0, the battery absorbs the 100 MW surplus
    assert dev[-1] == pytest.approx(0.9)


def test_deficit_is_recovered_after_a_step():
    """After a 100 MW step the battery covers the ramp (deficit); once the POI reaches the load
    the recovery term imports a little more until the deviation is back near zero."""
    params = make_poi_params(tau_s=30, ramp_mw_per_s=2, ramp_mw_per_min=20, soc_recovery_time_s=900)
    load = np.r_[np.zeros(10), np.full(6 * 3600, 100.0)]
    poi, res, dev = poi_policy(load, 1e9, params)
    assert dev.min() < -0.5  # the staircase leaves a deficit of several hundred kWh...
    assert abs(dev[-1]) < 1e-3 * abs(dev.min())  # ...which is paid back
    assert res.max() == pytest.approx(98.0)  # first step: load 100, p = 2


@pytest.mark.parametrize("dt_s", [1.0, 2.0, 7.0])
def test_matches_a_brute_force_reference_and_ramp_rules_hold(dt_s):
    """Random staircase loads: the block-window implementation equals an explicit-scan reference, and
    every one-step change is <= r_s*dt, every pair <= 60 s apart differs by <= r_m."""
    rng = np.random.default_rng(7)
    n = 3000
    load = np.repeat(rng.uniform(0, 120, n // 50), 50)[:n] + rng.normal(0, 3, n)
    limit = np.where(rng.uniform(size=n) < 0.9, 200.0, 60.0)
    limit = np.repeat(limit[::100], 100)[:n]
    kw = dict(dt_s=dt_s, tau_s=0, ramp_mw_per_s=1.5, ramp_mw_per_min=25, soc_recovery_time_s=NO_RECOVERY)
    p = run_steps(load, limit, make_poi_params(**kw))
    ref = reference_policy(load, limit, kw)
    np.testing.assert_allclose(p, ref, atol=1e-9)
    # ramp rules hold wherever the import limit did not force a drop
    free = limit[1:] >= limit[:-1]
    assert np.all(np.abs(np.diff(p))[free] <= 1.5 * dt_s + 1e-9)
    w = int(60 // dt_s)
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(p, w + 1)
    lim_win = sliding_window_view(limit, w + 1)
    steady = lim_win.min(axis=1) == lim_win.max(axis=1)
    assert np.all((win.max(axis=1) - win.min(axis=1))[steady] <= 25 + 1e-9)
    assert np.all(p <= limit + 1e-12) and np.all(p >= 0)


def test_commit_bounds_and_reset():
    """poi_bounds gives the room for the next step; poi_commit records a chosen value; poi_reset
    restarts the window (after an outage the ramp history is not the policy's)."""
    params = make_poi_params(tau_s=0, ramp_mw_per_s=2, ramp_mw_per_min=20, soc_recovery_time_s=NO_RECOVERY)
    s = new_poi_state(params)
    poi_commit(s, params, 100.0, 100.0)
    assert poi_bounds(s, params, 1e9) == pytest.approx((98.0, 102.0))
    poi_commit(s, params, 100.0, 99.0)
    assert poi_bounds(s, params, 1e9) == pytest.approx((97.0, 101.0))
    assert poi_bounds(s, params, 50.0)[1] == 50.0
    poi_reset(s, params, 100.0, 0.0)  # islanded: POI 0
    lo, hi = poi_bounds(s, params, 1e9)
    assert (lo, hi) == pytest.approx((0.0, 2.0))  # no memory of the 100 MW before the outage
    assert poi_step(s, params, 100.0, 1e9, 0.0) == pytest.approx(2.0)


def test_whole_trace_driver_matches_a_plain_python_transcription_of_design_4():
    """tau = 20 s, recovery over 600 s, efficiencies 0.9/0.95, export allowed, dt = 1 s: the
    driver (poi_step + deviation feedback) equals a line-by-line transcription of DESIGN 4."""
    rng = np.random.default_rng(3)
    n = 4000
    load = np.cumsum(rng.normal(0, 2.0, n)) + 80 + 30 * (rng.uniform(size=n) < 0.002).cumsum() % 60
    limit = np.where((np.arange(n) // 500) % 4 == 3, 70.0, 150.0)
    kw = dict(dt_s=1.0, tau_s=20.0, ramp_mw_per_s=1.0, ramp_mw_per_min=15.0, export_allowed=True,
              eta_ch=0.9, eta_dis=0.95, soc_recovery_time_s=600.0)
    poi, res, dev = poi_policy(load, limit, make_poi_params(**kw))

    a = 1 - np.exp(-1 / 20)
    f = p_prev = load[0]
    hist = [load[0]] * 60
    d = 0.0
    for t in range(n):
        f = f + a * (load[t] - f)
        c = -d / 0.9 * 3600 / 600 if d < 0 else -d * 0.95 * 3600 / 600
        x = f + c
        hi = min(limit[t], p_prev + 1.0, min(hist[-60:]) + 15.0)
        lo = max(p_prev - 1.0, max(hist[-60:]) - 15.0)
        p = hi if lo > hi else min(max(x, lo), hi)
        r = load[t] - p
        d = d - r / 3600 / 0.95 if r > 0 else d - r / 3600 * 0.9
        assert poi[t] == pytest.approx(p, abs=1e-9) and dev[t] == pytest.approx(d, abs=1e-12)
        hist.append(p)
        p_prev = p
    assert res.max() > 20 and dev.min() < -0.05  # the trace exercised the limits


def test_datasheet_case_u1_ramp_limited_step():
    """Datasheet 6, U1: a 150 MW step under a 30 MW/min (0.5 MW/s) POI limit, lossless, needs
    P = 150 MW and E = dP^2 / (2 r) = 22,500 MW s = 6.25 MWh (continuous). In 1-s steps the POI
    answers in the same step (p_k = 0.5 k for k = 1..300), so the battery carries
    sum_{k=1}^{300} (150 - 0.5 k) = 45,000 - 22,575 = 22,425 MW s = 6.229 MWh: 0.33 % under the
    continuous figure, the discretisation of a same-step response."""
    params = make_poi_params(tau_s=0, ramp_mw_per_s=0.5, ramp_mw_per_min=30, eta_ch=1.0, eta_dis=1.0,
                             soc_recovery_time_s=NO_RECOVERY)
    load = np.r_[0.0, np.full(600, 150.0)]
    poi, res, dev = poi_policy(load, 1e9, params)
    assert res.max() == pytest.approx(149.5)
    assert -dev.min() == pytest.approx(22425 / 3600, rel=1e-9)
    assert -dev.min() == pytest.approx(6.25, rel=0.004)
    assert poi[300] == pytest.approx(150.0) and np.all(np.diff(poi) <= 0.5 + 1e-12)


def test_datasheet_case_u2_iteration_square_wave():
    """Datasheet 6, U2: 150 MW peak-to-peak, T = 2 s, 50 % duty, the POI must see the mean:
    P = 75 MW, energy swing dP T / 4 = 75 MW s = 0.0208 MWh. With a slow filter (tau = 600 s) and
    the wave starting from its mean, p stays within 0.2 MW of 75 over 10 minutes."""
    params = make_poi_params(tau_s=600, ramp_mw_per_s=2, ramp_mw_per_min=20, eta_ch=1.0, eta_dis=1.0,
                             soc_recovery_time_s=NO_RECOVERY)
    load = np.r_[75.0, np.tile([150.0, 0.0], 300)]
    poi, res, dev = poi_policy(load, 1e9, params)
    assert np.abs(poi - 75).max() < 0.2
    assert np.abs(res).max() == pytest.approx(75, abs=0.2)
    # one iteration moves the stored energy by 75 MW x 1 s (the filter's slow drift aside)
    assert np.abs(np.diff(dev[-100:])).max() == pytest.approx(75 / 3600, rel=0.01)


@pytest.mark.parametrize("W", [1, 2, 7, 60])
def test_block_window_is_the_min_and_max_of_the_last_w_steps(W):
    """The window of step t holds steps t - W .. t - 1: after every push, ``window_read`` equals
    the min and max over exactly those steps, brute force, bit for bit (a min is exact), with
    empty steps (+inf / -inf, a replay's steps off the grid) and restarts (one value at t - 1,
    every step before it empty) at random, also at block edges (an off-by-one in the eviction,
    the slot or the suffixes makes it fail). Offset into a larger array, as in the policy state."""
    rng = np.random.default_rng(W)
    base = 5
    a = np.full(base + 4 * W + 3, np.nan)  # NaN around the window: a stray read shows
    pos, lo, hi = window_restart(a, base, W, 0.0, -1)
    hist = {-1: 0.0}  # step -> value (missing: empty)
    for t in range(40 * W + 50):
        wl, wh = window_read(a, base, W, pos, lo, hi)
        vals = [hist[k] for k in range(t - W, t) if k in hist]
        assert (wl, wh) == ((min(vals), max(vals)) if vals else (np.inf, -np.inf)), t
        u = rng.uniform()
        if u < 0.03:  # a restart: the steady history of one value at t - 1
            v = float(rng.integers(-50, 50))
            pos, lo, hi = window_restart(a, base, W, v, t - 1)
            hist = {t - 1: v}
            wl, wh = window_read(a, base, W, pos, lo, hi)
            assert (wl, wh) == ((v, v) if W >= 1 else (np.inf, -np.inf))
        if u > 0.85:  # an empty step
            pos, lo, hi = window_push(a, base, W, pos, lo, hi, np.inf, -np.inf)
        else:
            v = float(rng.normal(0.0, 10.0))
            pos, lo, hi = window_push(a, base, W, pos, lo, hi, v, v)
            hist[t] = v
        assert pos == (t + 1) % W
    assert np.isnan(a[:base]).all() and np.isnan(a[base + 4 * W:]).all()
