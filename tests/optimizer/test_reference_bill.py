"""The reference bill is grid energy at the same prices, ignoring the import limit; the design says
whether the grid alone could have served the site."""

from __future__ import annotations

import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios


def _design(make_trace_site, firm_mw):
    engine = {"kind": "gas_engine", "unit_mw": 10, "existing_units": 5, "max_new_units": 0, "fuel_usd_per_mwh": 80,
              "min_load_fraction": 0, "start_cost_usd": 0, "ramp_mw_per_s": 10}
    site = make_trace_site([(0, 100), (86399, 100)], {"grid": {"firm_import_mw": firm_mw}, "generation": [engine]})
    return optimize(site, generate_scenarios(site), explain=False).design


def test_grid_alone_short_of_the_load(make_trace_site):
    """100 MW flat against 60 MW of import: the grid alone is 40 MW short; the reference bill still
    prices all 876,000 MWh at 60 USD/MWh = 52.56 M USD/year, under both keys."""
    c = _design(make_trace_site, 60).cost
    assert c.grid_only_feasible is False and c.grid_only_shortfall_mw == pytest.approx(40.0)
    assert c.grid_energy_reference_usd == c.grid_only_bill_usd == pytest.approx(100 * 8760 * 60, rel=1e-6)
    assert "could not serve this site (net load up to 40.0 MW above the import limit)" in c.reference_text()


def test_grid_alone_enough(make_trace_site):
    c = _design(make_trace_site, 1000).cost
    assert c.grid_only_feasible is True and c.grid_only_shortfall_mw == 0.0
    assert "could not serve" not in c.reference_text()
