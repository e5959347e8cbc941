"""How the optimizer reads contingency windows: which seconds the BESS must cover, and how much."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bess_size.optimizer import model_data
from bess_size.scenarios import ScenarioSet, generate_scenarios


def _windows(rows):
    """rows: (kind, load_mw, unavailable seconds) over a 120 s window at 1 s."""
    n = 120
    avail = np.ones((len(rows), n), dtype=np.int8)
    for w, (_, _, off) in enumerate(rows):
        avail[w, list(off)] = 0
    load = np.array([[r[1]] * n for r in rows], dtype=float)
    return xr.Dataset(
        {"load_mw": (("window", "tau"), load), "grid_available": (("window", "tau"), avail),
         "poi_mw": (("window", "tau"), load), "residual_mw": (("window", "tau"), 0 * load)},
        coords={"tau": np.arange(n, dtype=float), "kind": ("window", [r[0] for r in rows]),
                "source_scenario": ("window", [0] * len(rows)), "start_s": ("window", [0.0] * len(rows)),
                "event_duration_s": ("window", [float(len(r[2])) for r in rows])})


def test_sag_dips_and_ride_through_time(make_trace_site):
    """Ride-through of 30 s, no islanding, 100 MW load:
    a sag sequence with dips of 1, 2 and 1 s is covered dip by dip: 4 s x 100 MW = 400 MW s;
    a 60 s loss of grid is covered for its first 30 s only: 3,000 MW s;
    the design contingency at the 100 MW peak: 30 s, 3,000 MW s, then the reconnection (import back
    at 20 MW/min = 1/3 MW/s): sum_{b=1}^{299} (100 - b/3) = 29,900 - 14,950 = 14,950 MW s; the
    sampled 60 s outage was not carried to its end (the load beyond 30 s was dropped and returns
    with import), so it has no reconnection term. All at 100 MW, no generation."""
    site = make_trace_site([(0, 100), (86399, 100)],
                           {"reliability": {"ride_through": {"duration_s": 30, "load_fraction": 1.0}}})
    sc = generate_scenarios(site)
    hand = ScenarioSet(energy=sc.energy, transient=sc.transient, windows=_windows([
        ("voltage_sag", 100.0, [10, 40, 41, 100]),
        ("loss_of_grid", 100.0, range(5, 65)),
        ("ramp_up", 100.0, []),  # evidence only: not a contingency
    ]), attrs=sc.attrs)
    d = model_data(site, hand)
    by_kind = {w.label.split(" ")[0]: w for w in d.windows}
    assert [w.kind for w in d.windows] == ["loss_of_grid", "voltage_sag", "loss_of_grid"]
    assert by_kind["design"].fixed_energy_mws == pytest.approx(3000.0 + 14950.0)
    assert by_kind["voltage_sag"].fixed_energy_mws == pytest.approx(400.0)
    assert by_kind["loss_of_grid"].fixed_energy_mws == pytest.approx(3000.0)
    assert all(w.fixed_max_mw == pytest.approx(100.0) for w in d.windows)
    assert all(not w.var_load_mw for w in d.windows)  # no generation: nothing depends on unit counts
