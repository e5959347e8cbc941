"""The screening of a trace generated a chunk at a time gives the bits of the whole trace's (issue 14.3)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bess_size.scenarios import generate_scenarios, scenario_trace
from bess_size.scenarios import generate, transient
from bess_size.scenarios.energy_layer import energy_step_s
from bess_size.scenarios.streaming import PairwiseSum, TopPeaks
from bess_size.scenarios.transient import full_fleet, screen_scenario, screen_trace, window_candidates
from bess_size.site_spec import validate_site

from .conftest import BASE, make_site

ENGINE = {"kind": "gas_engine", "unit_mw": 10, "existing_units": 1, "max_new_units": 5, "capex_usd_per_mw": 1_200_000,
          "fuel_usd_per_mwh": 49, "start_cost_usd": 500, "min_load_fraction": 0.35, "ramp_mw_per_s": 0.2,
          "start_time_s": 130}


def chunked_site(dt_s: float, notice_min: float = 30):
    """Grid (80 MW firm) below the load (about 120 MW) with engines and cloudy PV (its noise carried
    from chunk to chunk); unequal efficiencies; a call whose notice ends and whose active half hour
    starts at 04:00, a loss of grid from 02:59:30 for 60 s (its window 02:59:00-03:04:00), 18 hours
    at ``dt_s``."""
    return make_site(**{"grid.curtailment.notice_min": notice_min,
        "generation": [ENGINE, {"kind": "pv", "capacity_mw": 30, "cloud_variability": 0.5}],
        "bess.charge_efficiency": 0.96, "bess.discharge_efficiency": 0.92,
        "grid.events": [{"kind": "curtailment", "start_s": 14400, "duration_s": 1800},
                        {"kind": "loss_of_grid", "start_s": 10770, "duration_s": 60}],
        "scenarios.trace_days": 0.75, "scenarios.transient_resolution_s": dt_s, "scenarios.count": 3})


def hourly_chunks(site, dt_s):
    """A chunk an hour, in whole energy-layer steps (17 boundaries in the test's 18 hours)."""
    k = max(1, int(round(energy_step_s(site) / dt_s)))
    return max(k, int(round(3600 / dt_s)) // k * k)


def assert_same_candidates(a: list[dict], b: list[dict]):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert {k: v for k, v in x.items() if k != "data"} == {k: v for k, v in y.items() if k != "data"}
        assert x["data"].keys() == y["data"].keys()
        for k in x["data"]:
            assert x["data"][k].dtype == y["data"][k].dtype
            assert np.array_equal(x["data"][k], y["data"][k]), k


@pytest.mark.parametrize("dt_s, notice_min", [(1.0, 30), (2.0, 30), (2.0, 0)])
def test_chunked_screening_is_the_whole_traces_bit_for_bit(dt_s, notice_min, monkeypatch):
    """A chunk an hour: the notice (or a call without one: its units go cold for the load above the
    limit of the step before, in the chunk before) and the call, the loss of grid and its window, and
    ramp windows (cut again from their chunks' checkpoints) cross boundaries; the figures and windows are those of the
    whole trace, bit for bit."""
    site = chunked_site(dt_s, notice_min)
    monkeypatch.setattr(transient, "chunk_steps", hourly_chunks)
    step = hourly_chunks(site, dt_s)
    seen_second_pass = straddled = onset = False
    for i in range(site.scenarios.count):
        trace = scenario_trace(site, "optimizer", i)
        whole = screen_trace(site, trace, full_fleet(site))
        whole_windows = window_candidates(site, i, trace, whole)
        figures, cands = screen_scenario(site, "optimizer", i, full_fleet(site))

        # the trace crosses chunk boundaries where it matters (else the test proves nothing)
        b = int(14400 / dt_s)
        assert b % step == 0
        phase = trace.curtailment_phase.values
        onset |= phase[b - 1] != 2 and phase[b] == 2  # the call starts in the chunk after its notice or the step before
        b = int(10800 / dt_s)
        assert b % step == 0 and trace.grid_available.values[b - 1] == 0 == trace.grid_available.values[b]
        assert whole["fleet_sensitive"] and max(whole["units_committed_max"]) > 0  # generation has state to carry
        assert trace.pv_mw.values.max() > 0
        length = int(site.scenarios.window_length_s / dt_s)
        starts = [c["start"] for c in whole_windows]
        straddled |= any(s // step != (s + length - 1) // step for s in starts)
        last_chunk = (trace.sizes["time"] - 1) // step * step
        # ramp windows are cut again from their chunks' checkpoints: the PV's cloud noise among them
        seen_second_pass |= any(c["kind"].startswith("ramp") and c["start"] < last_chunk and c["data"]["pv_mw"].max() > 0
                                for c in whole_windows)

        assert figures == {k: whole[k] for k in figures}
        assert_same_candidates(cands, whole_windows)
    assert straddled and seen_second_pass and onset


def test_scenario_set_of_a_two_day_trace_is_the_same_in_days_and_whole(monkeypatch):
    """generate_scenarios with a chunk a day (the 2-day trace in two) and with one chunk for the
    whole trace (how it ran before): identical datasets."""
    site = make_site(**{"generation": [ENGINE], "scenarios.trace_days": 2, "scenarios.transient_resolution_s": 2.0,
                        "scenarios.count": 2,
                        "grid.events": [{"kind": "loss_of_grid", "start_s": 86370, "duration_s": 60}]})
    days = generate_scenarios(site)
    monkeypatch.setattr(transient, "chunk_steps", lambda site, dt_s: 10**9)
    whole = generate_scenarios(site)
    assert days.identical(whole)
    assert 86340 in days.windows.start_s.values  # the loss of grid's window straddles midnight


def test_pairwise_sum_and_top_peaks_match_numpy_in_any_chunks():
    rng = np.random.default_rng(5)
    for n in (3, 128, 129, 1000, 86_401):
        x = rng.standard_normal(n) * 10.0 ** rng.uniform(-4, 4, n)
        y = np.round(x)  # many ties
        y[n // 2] = np.nan if n > 200 else y[n // 2]
        for chunk in (1, 100, 86_400):
            s, p = PairwiseSum(n), TopPeaks(3, 40)
            for a in range(0, n, chunk):
                s.feed(x[a: a + chunk])
                p.feed(a, y[a: a + chunk])
            assert s.total() == x.sum()
            assert [i for i, _ in p.picks()] == transient._top_peaks(y, 3, 40)
    # the kept candidates are what the greedy needs: with separation 2 and 2 picks, 5 values
    p = TopPeaks(2, 2)
    p.feed(0, np.array([9.0, 8.0, 7.0, 1.0, 6.0]))
    p.feed(5, np.array([5.0, 0.5]))
    assert p.picks() == [(0, 9.0), (2, 7.0)]
    with pytest.raises(ValueError, match="expected"):
        PairwiseSum(5).total()


@pytest.mark.parametrize("mode", ["bootstrap", "as_given"])
def test_chunked_screening_of_a_measured_trace(mode, tmp_path, monkeypatch):
    """A measured load (10-s samples, 3 hours with a step up at 01:30 and a dip at 02:00:30) resampled
    or bootstrapped to 1 s over 9 hours, screened an hour at a time: the whole trace's figures and
    windows."""
    t = np.arange(0, 3 * 3600, 10.0)
    v = 90.0 + 10.0 * np.sin(t / 700.0) + np.where(t >= 5400, 25.0, 0.0) - np.where((t >= 7230) & (t < 7300), 40.0, 0.0)
    path = tmp_path / "load.csv"
    np.savetxt(path, np.column_stack([t, v]), delimiter=",", header="time_s,load_mw", comments="")
    data = copy.deepcopy(BASE)
    data["load"].update({"trace": str(path), "trace_mode": mode})
    data["scenarios"].update({"trace_days": 0.375, "count": 2})
    data["grid"]["events"] = [{"kind": "loss_of_grid", "start_s": 7190, "duration_s": 30}]
    site = validate_site(data, "<test>", tmp_path)
    monkeypatch.setattr(transient, "chunk_steps", hourly_chunks)
    for i in range(generate.scenario_count(site, "optimizer")):
        trace = scenario_trace(site, "optimizer", i)
        whole = screen_trace(site, trace, full_fleet(site))
        figures, cands = screen_scenario(site, "optimizer", i, full_fleet(site))
        assert figures == {k: whole[k] for k in figures}
        assert_same_candidates(cands, window_candidates(site, i, trace, whole))
