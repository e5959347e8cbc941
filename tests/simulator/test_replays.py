"""The replays `simulate` makes of a held-out trace: one is skipped only where its result is known.

A curtailment call is judged in its own stress state (the calls-only stress replay): an outage
inside the call must not be stacked on it. That replay is the replay with every stress row up to
the first outage row, so where every outage comes after the call's active period the recording of
the call is taken from the replay with every row; where an outage falls inside the call it must be
replayed on its own (else the call would be judged with the outage's state stacked on it).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bess_size.simulator import simulate
from bess_size.simulator import validation as V
from bess_size.simulator.controller import BandEnergies, TraceArrays, replay_arrays, run_kernel, stress_points
from bess_size.simulator.metrics import curtailment_response

from .helpers import make_design, make_site, make_trace

CALL = {"kind": "curtailment", "start_s": 1800.0, "duration_s": 600.0, "notice_s": 1200.0, "recovery_s": 600.0,
        "source": "contingency"}


def site_():
    return make_site(reliability={"target_success_rate": 0.5, "islanding": {"required": True}},
                     grid={"curtailment": {"notice_min": 20, "events_per_year": 25}})


def call_trace(sag_s: int):
    """100 MW flat, 40 MW above the 60 MW firm import; the call: notice [600, 1800) s, active
    [1800, 2400) s, recovery [2400, 3000) s; a one-second contingency sag at ``sag_s``."""
    n = 3600
    phase = np.zeros(n, np.int8)
    phase[600:1800], phase[1800:2400], phase[2400:3000] = 1, 2, 3
    grid = np.ones(n, np.int8)
    grid[sag_s] = 0
    sag = {"kind": "voltage_sag", "start_s": float(sag_s), "duration_s": 1.0, "source": "contingency",
           "dips": [[float(sag_s), 0.3]]}
    return make_trace(np.full(n, 100.0), limit_mw=np.where(phase == 2, 60.0, 120.0), phase=phase, grid=grid,
                      events=[dict(CALL), sag])


def design_(site):
    """40 MWh (F = 2 MWh, ride-through reserve 5 MWh), no engines. In its own stress state the call
    starts at F + X_rt + X_up + X_cu = 18 MWh and draws 40 MW for 600 s (7.25 MWh stored at eta_dis
    0.92, plus the notice's pre-ramp): it holds. A sag stacked on it 100 s into the call drops stored
    energy to F + 5 = 7 MWh, and the remaining 500 s need 6.04 MWh above F's 5: the battery runs
    out before the call ends."""
    return make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=0)


def response(site, design, ds, calls_only):
    dt = 1.0
    trace = TraceArrays.from_dataset(ds, dt)
    cp, gp, pp = replay_arrays(site, design)
    a0, na = 1800, 600
    run = run_kernel(trace, cp, gp, pp, record=[a0], record_length=na,
                     stress=stress_points(trace, BandEnergies.from_design(site, design), calls_only=calls_only))
    return curtailment_response(run.recorded[0][:na], site.grid.firm_import_mw, dt, 1e-6)


def stress_variants(monkeypatch):
    """The number of stress rows of each stress replay `simulate` asks for (one list per trace)."""
    seen = []
    real = V.replay_variants

    def spy(trace, cp, gp, pp, variants, *a, **k):
        seen.append([len(v.stress) for v in variants if v.stress is not None])
        return real(trace, cp, gp, pp, variants, *a, **k)

    monkeypatch.setattr(V, "replay_variants", spy)
    return seen


@pytest.mark.parametrize("sag_s", [1900, 2700])
def test_the_call_is_judged_in_its_own_stress_state(monkeypatch, sag_s):
    """A sag inside the call (1900 s): stacked on the call it leaves 7 MWh and the POI takes the
    rest (the replay with every row fails the call), but the call's own stress state passes it, and
    `simulate` reports that: the calls-only replay was made. A sag after the call (2700 s, in its
    recovery): both replays record the same call, and one replay fewer is made."""
    site = site_()
    design = design_(site)
    ds = call_trace(sag_s)
    own, stacked = response(site, design, ds, True), response(site, design, ds, False)
    seen = stress_variants(monkeypatch)
    v = simulate(site, design, held_out=[ds])
    row = v.scenarios[0]
    assert row["stress_curtailment_response_ok"] is True
    assert row["stress_curtailment_response_import_over_firm_mw"] == own["import_over_firm_mw"] == 0.0
    if sag_s < 2400:
        assert stacked["ok"] is False  # the case the calls-only replay exists for
        assert seen == [[2, 1]]  # every row (the sag's and the call's), and the call's alone
    else:
        assert stacked == own
        assert seen == [[2]]  # every row: its recording of the call is the calls-only replay's


FIELDS = ("metrics", "hourly", "ramp_hist", "turning_points", "outages", "recorded", "rec_start")


def busy_trace():
    """The call trace with a sag in the call's recovery (2900 s) and a 60 s loss of grid in its
    notice (700 s): every forced event and stress row in one trace."""
    ds = call_trace(2900)
    grid = ds.grid_available.values.copy()
    grid[700:760] = 0
    ds["grid_available"] = ("time", grid)
    ds.attrs["events_json"] = json.dumps([
        dict(CALL), {"kind": "loss_of_grid", "start_s": 700.0, "duration_s": 60.0, "source": "contingency"},
        {"kind": "voltage_sag", "start_s": 2900.0, "duration_s": 1.0, "source": "contingency", "dips": [[2900.0, 0.3]]}])
    return ds


@pytest.mark.parametrize("chunk_s", [86400.0, 1000.0, 333.0])
def test_forked_replays_are_the_whole_replays_bit_for_bit(monkeypatch, chunk_s):
    """Each variant forked from the natural replay at its first differing step (the call's notice,
    the outage's and the sag's first bin, the first stress row), with the trace fed a chunk at a
    time (edges inside the notice, the outage and the call), gives what replaying the variant's
    whole inputs gives, every array to the bit; the natural replay too. Engines start in the outage
    and run for the call. The variants' inputs are the trace without the event."""
    from bess_size.simulator import trace_source as TS
    from bess_size.simulator.metrics import forced_events
    from bess_size.simulator.replays import replay_variants

    monkeypatch.setattr(TS, "CHUNK_S", chunk_s)
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=4, cu=2.0)
    ds = busy_trace()
    head = TS.HeldOutTrace.from_dataset(ds, 1.0)
    n = head.steps
    cp, gp, pp = replay_arrays(site, design)
    bands = BandEnergies.from_design(site, design)
    forced = forced_events(site, head.events)
    variants = [TS.without_call(head, site, e) if e["kind"] == "curtailment" else TS.without_outage(head, site, e)
                for e in forced]
    variants += [TS.stress_variant(head, stress_points(head, bands, calls_only=c)) for c in (False, True)]
    assert [v.start for v in variants] == [600, 700, 2900, 600, 600]
    natural = head.chunk(0, n)
    inputs = [v.chunk(natural, 0) for v in variants]
    no_call, no_outage, no_sag = inputs[:3]
    assert (no_call.curtailment_phase == 0).all() and (no_call.import_limit_mw == 120.0).all()
    assert (no_call.notice_left_s == 0).all() and natural.notice_left_s[600] == 1200.0
    assert (no_outage.grid_available[700:760] == 1).all() and no_outage.grid_available[2900] == 0
    assert no_sag.grid_available[2900] == 1 and (no_sag.grid_available[700:760] == 0).all()
    record = [1800]
    run, runs, _ = replay_variants(head, cp, gp, pp, variants, record, 600)
    whole = [run_kernel(x, cp, gp, pp, record=record, record_length=600, stress=v.stress)
             for v, x in zip(variants, inputs)]
    for got, want in zip([run, *runs], [run_kernel(natural, cp, gp, pp, record=record, record_length=600), *whole]):
        for f in FIELDS:
            a, b = getattr(got, f), getattr(want, f)
            assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), f
    assert all(not np.array_equal(r.metrics, run.metrics) for r in runs)  # each variant is another replay


@pytest.mark.parametrize("generated", [False, True])
def test_simulate_a_chunk_at_a_time_is_simulate_whole(monkeypatch, generated):
    """Held-out traces read a chunk at a time (edges every 1000 s or 700 s: inside the notice, the
    call, the outage and the worst windows) give validation.json and timeseries.nc of reading them
    whole, given traces and traces generated from the held-out stream (2.4 h each, with their
    contingency call, loss of grid and sag sequence)."""
    from bess_size.simulator import trace_source as TS

    if generated:
        site = make_site(reliability={"target_success_rate": 0.5, "islanding": {"required": True, "redundancy_units": 1}},
                         grid={"curtailment": {"notice_min": 20, "events_per_year": 25}})
        held_out, chunks = 2, (1000.0, 700.0)
    else:
        site, held_out, chunks = site_(), [busy_trace(), call_trace(1900)], (1000.0,)
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=4, cu=2.0)
    whole = simulate(site, design, held_out=held_out)
    for chunk_s in chunks:
        monkeypatch.setattr(TS, "CHUNK_S", chunk_s)
        v = simulate(site, design, held_out=held_out)
        assert v.to_json() == whole.to_json()
        for k, ds in whole.timeseries.items():
            assert v.timeseries[k].identical(ds), k


def test_n_plus_1_is_replayed_where_the_grid_is_lost_only(monkeypatch):
    """The N+1 replay judges the island of each loss of grid: a trace with one is replayed with the
    largest engine out (and its margin reported), a trace with a sag only is not (nothing to judge,
    its figures None as before)."""
    from bess_size.simulator import redundancy as R

    site = make_site(reliability={"target_success_rate": 0.5, "islanding": {"required": True, "redundancy_units": 1}})
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=6)
    n = 3600
    sag_only = np.ones(n, np.int8)
    sag_only[2000] = 0
    lost = sag_only.copy()
    lost[600:900] = 0
    sag = {"kind": "voltage_sag", "start_s": 2000.0, "duration_s": 1.0, "source": "contingency", "dips": [[2000.0, 0.3]]}
    log = {"kind": "loss_of_grid", "start_s": 600.0, "duration_s": 300.0, "source": "contingency"}
    traces = [make_trace(np.full(n, 50.0), grid=sag_only, events=[sag], index=0),
              make_trace(np.full(n, 50.0), grid=lost, events=[log, sag], index=1)]
    replayed = []
    real = R.Replay
    monkeypatch.setattr(R, "Replay", lambda *a, **k: replayed.append(len(replayed)) or real(*a, **k))
    v = simulate(site, design, held_out=traces)
    assert replayed == [0]  # one N+1 replay: the trace that lost the grid
    assert v.scenarios[0]["redundancy_islanding_ok"] is None and v.scenarios[0]["redundancy_islanding_margin_mwh"] is None
    assert v.scenarios[1]["redundancy_islanding_ok"] is True and v.scenarios[1]["redundancy_islanding_margin_mwh"] > 0
    assert {c.requirement: c for c in v.checks}["islanding_redundancy"].scenarios == 1


@pytest.mark.parametrize("chunk_s", [86400.0, 500.0])
def test_worst_windows_are_recorded_as_a_whole_replay_records_them(monkeypatch, chunk_s):
    """The worst windows are recorded again by replays that stop once the last window is recorded:
    each window, natural or in either stress state, is the whole replay's recording of it."""
    from bess_size.simulator import trace_source as TS

    monkeypatch.setattr(TS, "CHUNK_S", chunk_s)
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=4, cu=2.0)
    ds = busy_trace()
    starts, states = [650, 1790, 2850, 100], [True, "calls", False, "all"]
    got = V._record_scenario(site, design, 0, starts, 120, ds, states)
    trace = TraceArrays.from_dataset(ds, 1.0)
    cp, gp, pp = replay_arrays(site, design)
    bands = BandEnergies.from_design(site, design)
    for start, state, rec in zip(starts, states, got):
        stress = None if state is False else stress_points(trace, bands, calls_only=state == "calls")
        want = run_kernel(trace, cp, gp, pp, record=[start], record_length=120, stress=stress).recorded[0]
        assert np.array_equal(rec, want), (start, state)


def test_n_plus_1_without_a_unit_to_take_out_is_the_stress_replay(monkeypatch):
    """A design with no engine (the site asks for N+1 on engines): taking the largest out changes
    nothing, so the N+1 figures are the stress replay's, not replayed again."""
    from bess_size.simulator import redundancy as R

    site = make_site(reliability={"target_success_rate": 0.5, "islanding": {"required": True, "redundancy_units": 1}})
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=0)
    n = 3600
    grid = np.ones(n, np.int8)
    grid[600:900] = 0
    log = {"kind": "loss_of_grid", "start_s": 600.0, "duration_s": 300.0, "source": "contingency"}
    replayed = []
    real = R.Replay
    monkeypatch.setattr(R, "Replay", lambda *a, **k: replayed.append(1) or real(*a, **k))
    v = simulate(site, design, held_out=[make_trace(np.full(n, 50.0), grid=grid, events=[log])])
    row = v.scenarios[0]
    assert replayed == []
    assert row["redundancy_islanding_margin_mwh"] == row["stress_islanding_margin_mwh"] is not None
    assert row["redundancy_islanding_ok"] == row["stress_islanding_ok"]
