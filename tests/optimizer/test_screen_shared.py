"""The optimizer screens a site with the rules `check` runs (site_spec.screen), before building a model.

An infeasible cap is named at once, in the words `check` uses; no model is built or solved. The
sites are the trace sites of test_hand_derived.py (efficiencies 0.94, U = 0.72 E, no generation).
"""

from __future__ import annotations

import pytest

import bess_size.optimizer as optimizer
from bess_size.scenarios import generate_scenarios
from bess_size.site_spec.screen import Needs, feasibility_problems
from bess_size.solvers.errors import InfeasibleError

DAY = 86400


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the optimizer gets as far as building its model."""
    def refuse(*a, **k):
        raise AssertionError("the model was built: the screen should have stopped the site first")

    monkeypatch.setattr(optimizer, "build_model", refuse)


def test_ride_through_cap_named_without_a_solve_in_checks_words(make_trace_site, no_model):
    """A flat 345 MW trace with a 30 s ride-through of the whole load: 345 MW of PCS, capped at 300."""
    site = make_trace_site([(0, 345), (DAY - 1, 345)], {"bess": {"max_power_mw": 300},
                                                        "reliability": {"ride_through": {"duration_s": 30, "load_fraction": 1.0}}})
    sc = generate_scenarios(site)
    with pytest.raises(InfeasibleError) as err:
        optimizer.optimize(site, sc)
    (p,) = feasibility_problems(site, Needs(peak_load_mw=345.0))  # what check says of a 345 MW peak
    assert p.reason in str(err.value)


def test_ramp_buffering_above_the_pcs_cap(make_trace_site, no_model):
    """A 150 MW step at 0.5 MW/s: the screened discharge residual is 149.5 MW (test_hand_derived), so
    bess.max_power_mw = 100 cannot buffer it."""
    site = make_trace_site([(0, 100), (DAY / 2, 250), (DAY - 1, 250)],
                           {"grid": {"ramp_limit_mw_per_s": 0.5, "ramp_limit_mw_per_min": 30},
                            "bess": {"max_power_mw": 100}})
    with pytest.raises(InfeasibleError) as err:
        optimizer.optimize(site, generate_scenarios(site))
    msg = str(err.value)
    assert "POI ramp buffering" in msg and "needs 149.5 MW of PCS but bess.max_power_mw is 100" in msg


def test_explicit_curtailment_energy_cap(make_trace_site, no_model):
    """250 MW flat, an explicit 2 h curtailment to the 200 MW firm import: 100 MWh delivered, 106.38
    stored, / 0.72 = 147.75 MWh of nameplate, over bess.max_energy_mwh = 100."""
    site = make_trace_site([(0, 250), (DAY - 1, 250)], {
        "grid": {"firm_import_mw": 200, "nonfirm_import_mw": 800,
                 "events": [{"kind": "curtailment", "start_s": 36000, "duration_s": 7200}]},
        "bess": {"max_energy_mwh": 100}})
    with pytest.raises(InfeasibleError) as err:
        optimizer.optimize(site, generate_scenarios(site))
    msg = str(err.value)
    assert "grid.events[0]" in msg and "needs 147.8 MWh of nameplate energy" in msg and "bess.max_energy_mwh is 100" in msg
