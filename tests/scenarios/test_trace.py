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
