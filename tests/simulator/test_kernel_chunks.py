"""A trace replayed in consecutive chunks gives the whole trace's replay bit for bit.

The trace holds what carries state across steps: a curtailment call (notice, event, recovery),
a loss of grid with the engines' start timers, reconnection and band recovery, a reclose
sequence of sags, load steps that break the 60 s ramp rule (the measurement window and the
policy's window span the boundaries), within-step swings, price moves for the arbitrage
setpoint and cheap engines, recorded windows and stress points; chunk boundaries fall inside
each of them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bess_size.simulator import kernel as K
from bess_size.simulator.controller import BandEnergies, Replay, TraceArrays, replay_arrays, run_kernel, stress_points

from .helpers import make_design, make_site, make_trace

FIELDS = ("metrics", "hourly", "ramp_hist", "turning_points", "outages", "recorded", "rec_start")


def busy_trace(dt: float):
    """Site, design and a 3.2 h trace at ``dt`` with every stateful episode, and the step indices
    of its episodes (where chunk boundaries should fall)."""
    site = make_site(generation=[{"kind": "gas_engine", "unit_mw": 10, "existing_units": 0, "max_new_units": 12,
                                  "min_load_fraction": 0.3, "ramp_mw_per_s": 0.5, "start_time_s": 60,
                                  "fuel_usd_per_mwh": 70}],
                     scenarios={"count": 2, "held_out": 4, "trace_days": 0.1, "transient_resolution_s": dt,
                                "window_length_s": 120})
    design = make_design(site, energy_mwh=60.0, pcs_mw=40.0, cu=20.0, units=6)
    n = int(3.2 * 3600 / dt)
    s = lambda sec: int(sec / dt)  # noqa: E731
    t = np.arange(n) * dt
    rng = np.random.default_rng(3)
    load = 60.0 + 15.0 * np.sign(np.sin(t / 9.0)) + rng.normal(0.0, 0.5, n)
    load[s(900):s(960)] += 45.0  # steps the 60 s window cannot follow: ramp violations
    phase = np.zeros(n, np.int8)
    limit = np.full(n, 120.0)
    phase[s(1200):s(3000)] = 1
    phase[s(3000):s(4200)] = 2
    phase[s(4200):s(5400)] = 3
    limit[phase == 2] = 60.0
    limit[s(7200):s(7320)] = 35.0  # a cap with no notice: the POI is forced down (the 60 s window's maximum)
    grid = np.ones(n, np.int8)
    grid[s(6000):s(6300)] = 0  # loss of grid
    for k in range(4):
        grid[s(8000 + 14 * k)] = 0  # reclose sags
    # dear enough for the engines' fuel early and late (economics), cheap around the loss of grid
    dear = ((t >= 300) & (t < 1100)) | (t >= 9000)
    price = np.where(dear, 90.0, 50.0) + 5.0 * np.sin(t / 700.0)
    ds = make_trace(load, pv_mw=np.clip(20.0 * np.sin(t / 4000.0), 0.0, None), limit_mw=limit, phase=phase,
                    grid=grid, price=price, load_min_mw=load - 4.0, load_max_mw=load + 4.0)
    trace = TraceArrays.from_dataset(ds, dt)
    episodes = {"ramp window": s(975), "notice": s(2000), "event": s(3500), "recovery": s(4500),
                "outage": s(6150), "engines starting": s(6030), "reconnection": s(6400), "sags": s(8020),
                "forced drop": s(7215)}
    return site, design, trace, episodes


def replay_in_chunks(trace, cp, gp, pp, bounds, **kw):
    rp = Replay(cp, gp, pp, trace.steps, **kw)
    edges = [0, *bounds, trace.steps]
    for a, b in zip(edges[:-1], edges[1:]):
        rp.feed(trace.chunk(a, b))
    return rp.result()


def assert_same(a, b):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), f


@pytest.mark.parametrize("dt", [1.0, 2.0])
@pytest.mark.parametrize("stressed", [False, True])
def test_chunks_replay_the_whole_trace_bit_for_bit(dt, stressed):
    """2, 3, 4 and 7 uneven chunks, boundaries inside the call's notice, event and recovery, the
    outage, the engines' start, the reconnection, the sags and 60 s ramp windows (a rise the
    battery cannot follow, a drop the import cap forces); and one-step chunks."""
    site, design, trace, ep = busy_trace(dt)
    cp, gp, pp = replay_arrays(site, design)
    stress = stress_points(trace, BandEnergies.from_design(site, design)) if stressed else None
    record = [ep["ramp window"] - 40, ep["notice"] - 10, ep["event"] - 50, ep["outage"] - 200, ep["sags"] - 30]
    kw = dict(record=record, record_length=int(400 / dt), stress=stress)
    whole = run_kernel(trace, cp, gp, pp, **kw)
    # the episodes happened: what the chunk boundaries cut through
    m = whole.metrics
    assert m[K.M_RAMP_VIOL_STEPS] > 0 and m[K.M_CAUSE_IMPORT] > 0 and m[K.M_N_OUTAGES] == 5 and m[K.M_STARTS] > 0
    assert whole.outages[0, K.O_STEPS] == int(300 / dt) and whole.outages[0, K.O_STARTS] > 0
    assert m[K.M_N_TP] > 10 and np.any(whole.recorded[:, :, K.R_PHASE] == 2)
    splits = {
        2: [ep["outage"]],
        4: [ep["recovery"], ep["forced drop"] - 7, ep["forced drop"] + 31],
        3: [ep["ramp window"], ep["forced drop"]],
        7: [ep["ramp window"], ep["notice"], ep["event"] + 1, ep["engines starting"], ep["reconnection"],
            ep["sags"]],
    }
    for k, bounds in splits.items():
        assert len(bounds) + 1 == k
        assert_same(replay_in_chunks(trace, cp, gp, pp, bounds, **kw), whole)
    # one step at a time around the outage's start and the window's edge
    fine = sorted(set(range(ep["engines starting"] - 70, ep["engines starting"] + 3))
                  | set(range(ep["ramp window"] - 3, ep["ramp window"] + 3))
                  | set(range(ep["forced drop"] - 2, ep["forced drop"] + 2)))
    assert_same(replay_in_chunks(trace, cp, gp, pp, fine, **kw), whole)


def test_a_replay_checks_its_chunks_cover_the_trace():
    site, design, trace, _ = busy_trace(1.0)
    cp, gp, pp = replay_arrays(site, design)
    rp = Replay(cp, gp, pp, trace.steps)
    rp.feed(trace.chunk(0, 100))
    with pytest.raises(ValueError, match="100 of the trace's"):
        rp.result()
    with pytest.raises(ValueError, match="the trace has"):
        rp.feed(trace)
    rp.feed(trace.chunk(100, trace.steps))
    assert rp.result().metrics[K.M_STEPS] == trace.steps
    with pytest.raises(ValueError, match="finished"):
        rp.feed(trace.chunk(0, 1))


# ------------------------------------------------------------------ the small functions' shortcuts


@settings(max_examples=400, deadline=None)
@given(st.floats(0.0, 500.0), st.floats(0.0, 600.0), st.floats(0.0, 600.0))
def test_available_power_needs_no_root_only_where_the_root_would_exceed_the_rating(pcs, s, q):
    """``_p_available`` skips the square root when ``S^2 - Q^2 >= P^2``; it must equal
    ``min(P, sqrt(S^2 - Q^2))`` bit for bit everywhere, at the boundary above all."""
    def exact(pcs, s, q):
        rest = s * s - q * q
        p_s = math.sqrt(rest) if rest > 0.0 else 0.0
        return p_s if p_s < pcs else pcs

    for s_ in (s, math.sqrt(pcs * pcs + q * q), math.nextafter(math.sqrt(pcs * pcs + q * q), 0.0)):
        assert K._p_available(pcs, s_, q) == exact(pcs, s_, q)


@settings(max_examples=400, deadline=None)
@given(st.floats(0.0, 400.0), st.floats(0.0, 400.0), st.floats(0.5, 1.0), st.floats(0.5, 1.0),
       st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0]), st.one_of(st.floats(0.0, 400.0), st.floats(0.0, 1e-150)))
def test_energy_power_is_infinite_only_where_it_exceeds_the_rating(x_dis, x_ch, eta_dis, eta_ch, dt, pcs):
    """Far from a band edge ``_energy_power`` returns +inf for the power the stored energy allows;
    that stands in only where the exact quotient is at least the PCS rating (it is only ever
    compared with powers within the rating), and near an edge it is the exact quotient."""
    dt_h = dt / 3600.0
    floor, top = 10.0, 10.0 + x_dis + x_ch
    e = floor + x_dis
    # as simulate_chunk forms them
    dis_room = pcs * dt_h / eta_dis * (1.0 + 1e-12) if pcs > 1e-100 else math.inf
    ch_room = pcs * dt_h * eta_ch * (1.0 + 1e-12) if pcs > 1e-100 else math.inf
    dis_e, ch_e = K._energy_power(e, floor, top, eta_dis, eta_ch, dt_h, dis_room, ch_room)
    exact_dis = max(0.0, e - floor) * eta_dis / dt_h
    exact_ch = max(0.0, top - e) / eta_ch / dt_h
    assert dis_e == exact_dis or (dis_e == math.inf and exact_dis >= pcs)
    assert ch_e == exact_ch or (ch_e == math.inf and exact_ch >= pcs)
