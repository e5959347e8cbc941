"""N+k: the island replayed with the largest units out (reliability.islanding.redundancy_units)."""

from __future__ import annotations

import numpy as np

from bess_size.simulator import simulate
from bess_size.simulator.redundancy import units_out

from .helpers import make_design, make_site, make_trace

N = 3 * 3600


def _site(k=1):
    return make_site(reliability={"target_success_rate": 0.5, "ride_through": {"duration_s": 30, "load_fraction": 1.0},
                                  "islanding": {"required": True, "redundancy_units": k}})


def _long_outages(n_traces=4):
    """A flat 50 MW load and a 2.5 h loss of grid from t = 600 s."""
    out = []
    for i in range(n_traces):
        grid = np.ones(N, np.int8)
        grid[600:9600] = 0
        out.append(make_trace(np.full(N, 50.0), grid=grid, index=i, events=[
            {"kind": "loss_of_grid", "start_s": 600.0, "duration_s": 9000.0, "source": "contingency"}]))
    return out


def test_the_island_without_a_spare_unit_fails_n_plus_1():
    """Five 10 MW engines carry the 50 MW island: islanding holds. With the largest out, four carry
    40 MW and the 10 MW gap for about 2.5 h (25 MWh) exhausts the battery's 19 MWh of bands:
    islanding_redundancy fails in every trace. Six engines (N+1) hold both."""
    site = _site()
    short = simulate(site, make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=5), held_out=_long_outages())
    checks = {c.requirement: c for c in short.checks}
    assert checks["islanding"].passed
    red = checks["islanding_redundancy"]
    assert not red.passed and red.successes == 0 and red.measured < 0
    assert red.detail == {"units_out": 1, "unit_mw": 10.0, "kind": "gas_engine"}
    spare = simulate(site, make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=6), held_out=_long_outages())
    red = {c.requirement: c for c in spare.checks}["islanding_redundancy"]
    assert red.passed and red.measured > 0


def test_no_redundancy_asked_no_check():
    site = _site(k=0)
    v = simulate(site, make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=5), held_out=_long_outages(2))
    assert "islanding_redundancy" not in {c.requirement for c in v.checks}
    assert units_out(site, make_design(site, units=5)) is None


def test_units_out_takes_new_units_first():
    site = _site(k=2)
    d = make_design(site, units=1)
    d.generation[0].existing_units = 3
    out = units_out(site, d)
    assert (out.generation[0].new_units, out.generation[0].existing_units) == (0, 2)
    assert d.generation[0].new_units == 1  # the design itself is left alone
