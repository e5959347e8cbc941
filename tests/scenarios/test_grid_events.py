"""Grid events: rates, shapes and their rendering into the import limit, phases and availability."""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.scenarios.grid_events import (
    GridEvent,
    contingency_events,
    events_from_json,
    events_to_json,
    render_grid,
    sampled_events,
)

from .conftest import make_site

YEAR = 365 * 86400.0


def test_curtailment_rate_durations_and_notice(site):
    """Spec default: 25 calls/year, 1-4 h, 30 min notice. Over 200 simulated years the count is
    Poisson(5000), sigma 71 (1.4 %): the measured rate must be within 4 sigma of 25/year."""
    ev = sampled_events(site, 200 * YEAR, np.random.default_rng(11))
    cur = [e for e in ev if e.kind == "curtailment"]
    assert abs(len(cur) - 5000) <= 4 * np.sqrt(5000)
    d = np.array([e.duration_s for e in cur]) / 3600
    assert d.min() >= 1 and d.max() <= 4 and d.mean() == pytest.approx(2.5, abs=0.05)
    assert all(e.notice_s == 30 * 60 and e.recovery_s == 6 * 3600 for e in cur)
    sags = [e for e in ev if e.kind == "voltage_sag"]
    assert abs(len(sags) - 800) <= 4 * np.sqrt(800)  # 4/year
    assert all(1 <= len(e.dips) <= 6 and e.duration_s <= 82 for e in sags)
    log = [e for e in ev if e.kind == "loss_of_grid"]
    assert abs(len(log) - 100) <= 4 * np.sqrt(100)  # 0.5/year


def test_rendering_of_a_curtailment_and_outages(site):
    """A curtailment at 3600 s for 1800 s with 30 min notice and 6 h recovery: phase 1 on
    [1800, 3600), 2 on [3600, 5400) with the limit at firm (80 MW), 3 after; an outage and a sag
    dip of 0.3 s mark their bins unavailable (a partly covered bin counts)."""
    events = [GridEvent("curtailment", 3600.0, 1800.0, notice_s=1800.0, recovery_s=6 * 3600.0),
              GridEvent("loss_of_grid", 100.0, 20.0), GridEvent("voltage_sag", 500.2, 0.3, dips=[[500.2, 0.3]])]
    limit, phase, avail = render_grid(site, events, 1.0, 30000)
    assert np.all(phase[1800:3600] == 1) and np.all(phase[3600:5400] == 2) and np.all(phase[5400:27000] == 3)
    assert phase[1799] == 0 and phase[27000] == 0
    assert np.all(limit[3600:5400] == 80.0) and limit[3599] == 140.0 and limit[5400] == 140.0
    assert np.flatnonzero(avail == 0).tolist() == list(range(100, 120)) + [500]
    assert events_from_json(events_to_json(events)) == events


def test_every_trace_carries_one_contingency_apart_from_each_other():
    site = make_site(**{"scenarios.trace_days": 1.0})
    for i in range(30):
        log, sag = contingency_events(site, 86400.0, np.random.default_rng(i))
        assert log.kind == "loss_of_grid" and sag.kind == "voltage_sag"
        assert 1 <= log.duration_s <= 3600 and 300 <= log.start_s <= 86400 - 300
        assert sag.start_s + 82 + 300 < log.start_s or sag.start_s > log.start_s + log.duration_s + 300


def test_contingency_curtailment_placement_and_own_stream():
    """With non-firm import (60 MW here) every draw adds one curtailment call: duration in the
    spec's 1-4 h, 30 min notice and 6 h recovery, the notice inside the one-day trace, the active
    period ending inside it, and notice-to-end at least a window (300 s) from the outage. Its own
    generator: the outage and sag are the draws without it."""
    site = make_site(**{"scenarios.trace_days": 1.0})
    for i in range(30):
        log, sag, cur = contingency_events(site, 86400.0, np.random.default_rng(i), np.random.default_rng(1000 + i))
        assert [log, sag] == contingency_events(site, 86400.0, np.random.default_rng(i))
        assert cur.kind == "curtailment" and cur.source == "contingency"
        assert 3600 <= cur.duration_s <= 4 * 3600 and cur.notice_s == 1800 and cur.recovery_s == 6 * 3600
        assert cur.start_s - cur.notice_s >= 0 and cur.start_s + cur.duration_s <= 86400
        assert (cur.start_s + cur.duration_s + 300 < log.start_s
                or cur.start_s - cur.notice_s > log.start_s + log.duration_s + 300)


@pytest.mark.parametrize("grid, expected", [({}, 1), ({"nonfirm_import_mw": 0}, 0),
                                            ({"curtailment": {"events_per_year": 0}}, 0)])
def test_every_trace_carries_a_curtailment_call_only_with_nonfirm_import(grid, expected):
    """One contingency call per trace exactly when non-firm import can be called back; where there
    is one, the rendered limit falls to the firm 80 MW over its active period."""
    from bess_size.scenarios import scenario_trace

    site = make_site(**{f"grid.{k}": v for k, v in grid.items()})
    for i in range(3):
        ds = scenario_trace(site, "held_out", i)
        calls = [e for e in events_from_json(ds.attrs["events_json"])
                 if e.kind == "curtailment" and e.source == "contingency"]
        assert len(calls) == expected
        for e in calls:
            dt = ds.attrs["dt_s"]
            sl = slice(int(np.ceil(e.start_s / dt)), min(int(np.floor((e.start_s + e.duration_s) / dt)), ds.sizes["time"]))
            assert np.all(ds["curtailment_phase"].values[sl] == 2)
            assert np.all(ds["import_limit_mw"].values[sl] == 80.0)
