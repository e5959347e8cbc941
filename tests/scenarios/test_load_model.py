"""The AI-load model: statistics over many simulated days against the spec, and the bounds.

Tolerances are stated per test: event counts are compared with their Poisson standard deviation
(a renewal process whose down times are bounded is less dispersed than Poisson, so 4 sigma is
conservative: a false failure has probability < 1e-4); deterministic parts (checkpoint clock,
square-wave swing, diurnal cosine) are compared exactly or to the bias that binning introduces.
"""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.scenarios.load_model import (
    COMPUTE_DUTY,
    inference_bins,
    job_weights,
    model_load_bins,
    plan_training_jobs,
    render_job,
)

from .conftest import make_site

DAY = 86400.0


def training(site):
    return site.load.workloads[0]


def test_stall_rate_over_two_thousand_days(site):
    """Spec: 12 stalls/day for the workload, split over 2 jobs by size (2/3, 1/3): 8 and 4 per day.
    Over 2000 days the expected counts are 16000 and 8000; Poisson sigma 126 and 89 (0.8 %, 1.1 %)."""
    w = training(site)
    ss = np.random.SeedSequence(1)
    plans = plan_training_jobs(w, 80.0, 2000 * DAY, ss)
    for plan, wt in zip(plans, job_weights(w.jobs)):
        expected = w.stalls_per_day * wt * 2000
        got = np.count_nonzero((plan.stall_s >= 0) & (plan.stall_s < 2000 * DAY))
        assert abs(got - expected) <= 4 * np.sqrt(expected), (got, expected)


def test_checkpoint_interval_exact_between_interruptions(site):
    """Checkpoints come every checkpoint_interval_min (30 min) of uninterrupted running: every gap
    between consecutive checkpoints with no stall or stop between them is exactly 1800 s; the
    checkpoint count matches running time / interval to within one per running stretch."""
    w = training(site)
    (plan, _) = plan_training_jobs(w, 80.0, 200 * DAY, np.random.SeedSequence(2))
    ck = plan.checkpoint_s
    interrupts = np.sort(np.concatenate([plan.stall_s, plan.stop_s]))
    gaps = np.diff(ck)
    between = np.searchsorted(interrupts, ck[1:]) - np.searchsorted(interrupts, ck[:-1])
    clean = gaps[between == 0]
    assert clean.size > 1000
    np.testing.assert_allclose(clean, w.checkpoint_interval_min * 60.0, atol=1e-6)
    assert np.all(gaps[between > 0] > w.checkpoint_interval_min * 60.0)  # the clock restarts


def _detect(plan, w, dt, days):
    n = int(days * DAY / dt)
    mean, lo, hi = render_job(plan, w.swing_fraction, 0.0, dt, n)
    return mean / plan.peak_mw, lo / plan.peak_mw, hi / plan.peak_mw


def test_rendered_signal_shows_the_recorded_stalls_and_checkpoints(site):
    """Measured from the 1-s signal (not the event list): a stall is a bin fully at idle
    (0.25) entered from a running level within 2 s (job stops ramp over 10 s instead);
    a checkpoint dip is a run of bins at 1 - depth = 0.4. Counts equal the recorded events in
    the horizon (those ending inside it), onsets within one bin of the recorded times."""
    w = make_site(**{"load.workloads": [{**site.load.workloads[0].model_dump(), "job_ramp_s": 60, "share": 1.0}]}).load.workloads[0]
    (plan, _) = plan_training_jobs(w, 100.0, 3 * DAY, np.random.SeedSequence(3))
    p, _, _ = _detect(plan, w, 1.0, 3)
    idle = np.isclose(p, w.idle_fraction)
    run_before = np.r_[False, False, p[:-2] >= 1 - w.swing_fraction - 1e-9]
    onset = np.flatnonzero(idle & ~np.r_[False, idle[:-1]] & run_before)
    rec = plan.stall_s[(plan.stall_s > 2) & (plan.stall_s < 3 * DAY - 2)]
    assert onset.size == rec.size > 10
    assert np.all(np.abs(onset - np.ceil(rec)) <= 1)
    dip = np.isclose(p, 1 - w.checkpoint_depth_fraction)
    dstart = np.flatnonzero(dip & ~np.r_[True, dip[:-1]])  # a dip already under way at t = 0 is not an onset
    rec_ck = plan.checkpoint_s[(plan.checkpoint_s > 1) & (plan.checkpoint_s + w.checkpoint_duration_s < 3 * DAY)]
    assert dstart.size == rec_ck.size > 20
    assert np.all(np.abs(dstart - np.ceil(rec_ck)) <= 1)


def test_swing_amplitude_and_duty():
    """At 0.1 s bins (finer than any edge of a 2-6 s period) running bins sit at 1 or 1 - 0.4:
    measured peak-to-trough = swing_fraction exactly; the time share at the low level, from the
    exact bin means, is 1 - duty = 0.25 up to one partial period in the ~300 the horizon holds
    (tolerance 2 %, relative)."""
    site = make_site(**{"load.workloads": [{"kind": "training", "share": 1.0, "stalls_per_day": 0,
                                            "swing_fraction": 0.4, "swing_period_s": [2, 6]}]})
    w = site.load.workloads[0]
    for j, plan in enumerate(plan_training_jobs(w, 100.0, 0.2 * DAY, np.random.SeedSequence(4))):
        p, lo, hi = _detect(plan, w, 0.1, 0.02)
        vals = p[p > 0.55]  # running (checkpoint dips go to 0.4)
        assert vals.max() == pytest.approx(1.0) and vals.min() == pytest.approx(0.6)
        share_low = np.mean((1.0 - vals) / 0.4)
        assert share_low == pytest.approx(1 - COMPUTE_DUTY, rel=0.02)
        # 1-s bins: the within-bin extremes still carry the whole swing
        p1, lo1, hi1 = _detect(plan, w, 1.0, 0.02)
        r = (hi1 > 0.99) & (lo1 > 0.55)  # running bins without a checkpoint edge
        assert (hi1[r] - lo1[r]).max() == pytest.approx(0.4)


def test_inference_peak_to_trough_weekend_and_peak_hour(site):
    """Spec: peak/trough 2.0 at 14:00, weekend mean 0.85 of weekday mean. Over 8 weeks of 1-min
    bins the average weekday profile of hourly means has max/min = (1 + a s)/(1 - a s) with
    a = 1/3 and s = sinc(pi/24) = 0.9971 (the hourly mean of the cosine), i.e. 1.996; noise
    (sigma 3 %, 5 s) averages to < 0.1 % per hour and bursts add < 1 %: tolerance 2 %."""
    w = site.load.workloads[1]
    n = 56 * 1440
    mean, lo, hi = inference_bins(w, 20.0, 0.0, 60.0, n, np.random.SeedSequence(5))
    hourly = mean.reshape(56, 24, 60).mean(axis=2)
    dow = np.arange(56) % 7
    weekday = hourly[dow < 5].mean(axis=0)
    weekend = hourly[dow >= 5].mean(axis=0)
    a = 1 / 3
    s = np.sin(np.pi / 24) / (np.pi / 24)
    assert weekday.max() / weekday.min() == pytest.approx((1 + a * s) / (1 - a * s), rel=0.02)
    assert abs(int(np.argmax(weekday)) + 0.5 - w.peak_hour) <= 1.0
    assert weekend.mean() / weekday.mean() == pytest.approx(w.weekend_factor, rel=0.02)
    assert np.all((lo <= mean + 1e-12) & (mean <= hi + 1e-12)) and mean.min() >= 0 and hi.max() <= 20.0 + 1e-9


@pytest.mark.parametrize("overrides", [
    {},
    {"load.min_load_mw": 100.0, "load.workloads": [{"kind": "training", "share": 1.0, "swing_fraction": 1.0,
                                                    "idle_fraction": 0.0, "stalls_per_day": 200}]},
    {"load.workloads": [{"kind": "inference", "share": 1.0, "noise_fraction": 0.5, "bursts_per_day": 500,
                         "burst_fraction": 1.0}], "load.cooling_lag_s": 0},
])
def test_load_stays_within_min_load_and_peak(overrides):
    """Whatever the workload does, bin mean and extremes stay in [min_load_mw, it_capacity x pue]."""
    site = make_site(**overrides)
    lb = model_load_bins(site, 3 * DAY, 1.0, int(DAY), np.random.SeedSequence(6))
    lo, hi = site.load.min_load_mw, site.load.peak_mw
    for a in (lb.mean_mw, lb.min_mw, lb.max_mw):
        assert a.min() >= lo - 1e-9 and a.max() <= hi + 1e-9
    assert np.all(lb.min_mw <= lb.mean_mw + 1e-9) and np.all(lb.mean_mw <= lb.max_mw + 1e-9)
    assert lb.max_mw.max() > lb.min_mw.min()  # not clipped flat


def test_cooling_follows_it_through_the_lag():
    """Non-IT = (pue - 1) x lag(IT): after an IT step the non-IT part closes 1 - e^-1 of the gap
    in one cooling_lag_s (exact discretisation)."""
    from bess_size.scenarios.load_model import cooling_lag

    it = np.r_[np.full(10, 50.0), np.full(2000, 100.0)]
    y = cooling_lag(it, 300.0, 1.0)
    assert y[9] == pytest.approx(50.0)
    assert y[9 + 300] == pytest.approx(100 - 50 * np.exp(-1), rel=1e-9)
