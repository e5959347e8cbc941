"""Fast cycling's round-trip losses reach the energy balance and the cost; the violation promises
are computed from the solution, not written as constants."""

from __future__ import annotations

import pytest

from bess_size.optimizer import optimize
from bess_size.optimizer.extract import extract_promises
from bess_size.scenarios import generate_scenarios

ETA_CH, ETA_DIS = 0.96, 0.92
DAY = 86400


def _step_site(make_trace_site):
    """100 MW until noon, 250 MW after, POI ramp 0.5 MW/s: the battery buffers the 150 MW step."""
    return make_trace_site([(0, 100), (DAY / 2, 250), (DAY - 1, 250)], {
        "bess": {"charge_efficiency": ETA_CH, "discharge_efficiency": ETA_DIS},
        "grid": {"ramp_limit_mw_per_s": 0.5, "ramp_limit_mw_per_min": 30}})


def test_fast_cycling_losses_are_bought_from_the_grid(make_trace_site):
    """The step's ramp triangle is discharged once a day: X = sum_{k=1}^{299} (150 - 0.5 k) / 3600
    = 22,425 / 3600 = 6.229 MWh at the terminals (the screened fast throughput, plus the small
    discharges of the refill). Putting it back takes X / (0.96 x 0.92) from the grid, so the site
    buys X (1 / 0.8832 - 1) = 0.1322 X MWh a day more than its load: the import is
    365 x (100 x 12 + 250 x 12) MWh + 365 x 0.1322 X, and the energy cost 60 USD/MWh of that."""
    site = _step_site(make_trace_site)
    sc = generate_scenarios(site)
    x = float(sc.transient["fast_throughput_mwh_per_day"].values[0])
    assert x == pytest.approx(22425 / 3600, rel=0.01)
    loss = 365 * x * (1 / (ETA_CH * ETA_DIS) - 1)
    d = optimize(site, sc).design
    assert d.promises["fast_cycling_loss_mwh_per_year"] == pytest.approx(loss, rel=1e-6)
    assert d.promises["grid_import_mwh_per_year"] == pytest.approx(365 * 4200 + loss, rel=1e-6)
    assert d.cost.breakdown["opex_energy_usd"] == pytest.approx(60 * (365 * 4200 + loss), rel=1e-6)


def test_violation_promises_come_from_the_solution(make_trace_site):
    """The solved design covers the screened 150 MW residual (R_up = 150 MW): no violation is
    planned. With R_up cut to 100 MW in the solution, the POI would take the other 50 MW faster
    than allowed once a day: 365 x 50 MW x 1 s = 18,250 MW s a year."""
    site = _step_site(make_trace_site)
    res = optimize(site, generate_scenarios(site))
    assert res.design.promises["poi_ramp_violation_mw_s_per_year"] == pytest.approx(0.0, abs=1e-6)
    assert res.design.promises["import_limit_violation_mw_s_per_year"] == pytest.approx(0.0, abs=1e-6)
    m = res.model
    up = m.headroom_up_mw.value
    m.headroom_up_mw.set_value(up - 50.0)
    p = extract_promises(m, res._data, res.design.generation)
    assert p["poi_ramp_violation_mw_s_per_year"] == pytest.approx(365 * 50.0, rel=1e-3)
    first = next(iter(m.import_mw))
    m.import_mw[first].set_value(res._data.import_limit_mw[first] + 10.0)
    p = extract_promises(m, res._data, res.design.generation)
    w = res._data.annual_weight[first]
    assert p["import_limit_violation_mw_s_per_year"] == pytest.approx(w * 10.0 * 3600.0, rel=1e-6)
