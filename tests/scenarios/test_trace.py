"""scenario_trace: shape, bounds, determinism and stream independence."""

from __future__ import annotations

import json

import numpy as np

from bess_size.scenarios import scenario_trace

from .conftest import make_site


def test_shape_units_and_bounds(site):
    ds = scenario_trace(site, "optimizer", 0)
    n = int(0.25 * 86400)
    assert ds.sizes["time"] == n
    assert np.all(np.diff(ds.time_s.values) == 1.0)
    for v in ds.data_vars:
        assert "units" in ds[v].attrs and "long_name" in ds[v].attrs
    lo, hi = site.load.min_load_mw, site.load.peak_mw
    load, lmin, lmax = (ds[v].values for v in ("load_mw", "load_min_mw", "load_max_mw"))
    assert np.all((lmin >= lo) & (lmax <= hi + 1e-9))
    assert np.all(lmin <= load + 1e-9) and np.all(load <= lmax + 1e-9)
    assert set(np.unique(ds.curtailment_phase.values)) <= {0, 1, 2, 3}
    ev = json.loads(ds.attrs["events_json"])
    kinds = {(e["kind"], e["source"]) for e in ev}
    assert ("loss_of_grid", "contingency") in kinds and ("voltage_sag", "contingency") in kinds
    assert (ds.grid_available.values == 0).any()


def test_same_seed_identical_other_seed_or_stream_differs(site):
    a = scenario_trace(site, "optimizer", 1)
    b = scenario_trace(site, "optimizer", 1)
    assert a.identical(b)
    assert not np.array_equal(a.load_mw.values, scenario_trace(site, "optimizer", 2).load_mw.values)
    assert not np.array_equal(a.load_mw.values, scenario_trace(site, "held_out", 1).load_mw.values)
    other = make_site(**{"scenarios.seed": 8})
    assert not np.array_equal(a.load_mw.values, scenario_trace(other, "optimizer", 1).load_mw.values)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dt=st.sampled_from([0.5, 1.0, 2.0, 5.0]),
    jobs=st.integers(1, 4),
    swing=st.floats(0, 1),
    idle=st.floats(0, 1),
    stalls=st.floats(0, 300),
    ramp=st.sampled_from([0.0, 0.3, 10.0, 600.0]),
    period=st.tuples(st.floats(0.05, 5), st.floats(0, 20)),
    share=st.floats(0, 1),
    min_load=st.floats(0, 110),
)
def test_any_valid_workload_gives_a_bounded_finite_trace(dt, jobs, swing, idle, stalls, ramp, period, share, min_load):
    """Random valid workloads: every variable finite, min <= mean <= max, the load inside
    [min_load_mw, it_capacity x pue], the import limit firm or firm + non-firm."""
    lo_p, extra = period
    site = make_site(**{
        "scenarios.transient_resolution_s": dt, "scenarios.trace_days": 0.05, "scenarios.window_length_s": 120,
        "load.min_load_mw": min_load,
        "load.workloads": [
            {"kind": "training", "share": share, "jobs": jobs, "swing_fraction": swing, "idle_fraction": idle,
             "stalls_per_day": stalls, "job_ramp_s": ramp, "swing_period_s": [lo_p, lo_p + extra],
             "checkpoint_interval_min": 5, "stall_duration_min": [0, 3]},
            {"kind": "inference", "share": 1 - share, "bursts_per_day": 200, "noise_fraction": 0.2}],
    })
    ds = scenario_trace(site, "held_out", 3)
    assert ds.sizes["time"] == round(0.05 * 86400 / dt)
    for v in ds.data_vars:
        assert np.isfinite(ds[v].values).all()
    load, lmin, lmax = ds.load_mw.values, ds.load_min_mw.values, ds.load_max_mw.values
    assert np.all(lmin <= load + 1e-9) and np.all(load <= lmax + 1e-9)
    assert lmin.min() >= min_load - 1e-9 and lmax.max() <= site.load.peak_mw + 1e-9
    assert set(np.unique(ds.import_limit_mw.values)) <= {80.0, 140.0}


# --------------------------------------------------------------------------- rendered a range at a time

import pytest  # noqa: E402

from bess_size.scenarios.trace import TraceRenderer  # noqa: E402

PV = [{"kind": "pv", "capacity_mw": 40, "profile": "clear_sky", "latitude_deg": 33.4, "cloud_variability": 0.5}]


def _chunked(site, stream, index, edges):
    r = TraceRenderer(site, stream, index)
    parts = [r.bins(a, b) for a, b in zip([0, *edges], [*edges, r.n])]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@pytest.mark.parametrize("dt, days, chunk", [(1.0, 0.6, 7919), (0.3, 0.6, 30011), (2.0, 1.3, 3600), (60.0, 3.0, 97)])
def test_a_trace_rendered_in_chunks_is_the_whole_trace_bit_for_bit(dt, days, chunk):
    """Any chunking (edges off the hour, inside stalls, calls and outages; a step of 0.3 s whose
    bin edges round; steps under and at the 60 s the clear-sky shape is evaluated at; a trace
    across midnight) gives every variable of ``scenario_trace`` to the bit: job envelopes, AR(1)
    noise of inference and clouds, the cooling lag, PV, price and the grid events."""
    site = make_site(**{"scenarios.transient_resolution_s": dt, "scenarios.trace_days": days,
                        "scenarios.window_length_s": 60 * dt, "generation": PV,
                        "grid.curtailment": {"events_per_year": 365, "notice_min": 10}})
    whole = scenario_trace(site, "held_out", 3)
    n = whole.sizes["time"]
    got = _chunked(site, "held_out", 3, list(range(chunk, n, chunk)))
    assert (whole.curtailment_phase.values == 2).any() and (whole.grid_available.values == 0).any()
    assert (whole.pv_mw.values > 0).any()
    for k, v in got.items():
        assert np.array_equal(v, whole[k].values), k


@pytest.mark.parametrize("mode, hours", [("as_given", 5), ("bootstrap", 5), ("bootstrap", 0.5)])
def test_a_measured_trace_rendered_in_chunks_is_the_whole_trace(tmp_path, mode, hours):
    """A measured trace, as given or bootstrapped from a source longer (blocks rendered one by one)
    or shorter (rendered once, indexed) than four traces: chunks give the whole trace's bits."""
    from .test_generate import _trace_site

    t = np.arange(0.0, hours * 3600, 2.5)
    v = 50 + 20 * np.sin(t / 300.0) + (t % 700 < 30) * 15
    site = _trace_site(tmp_path, t, v, **{"load.trace_mode": mode, "scenarios.trace_days": 0.05})
    whole = scenario_trace(site, "held_out", 1)
    got = _chunked(site, "held_out", 1, [1000, 1001, 2500])
    assert np.array_equal(got["load_mw"], whole.load_mw.values)
    assert np.array_equal(got["load_max_mw"], whole.load_max_mw.values)


def test_load_ranges_must_come_in_order(site):
    r = TraceRenderer(site, "optimizer", 0)
    r.bins(0, 100)
    with pytest.raises(ValueError, match="in order"):
        r.bins(200, 300)
