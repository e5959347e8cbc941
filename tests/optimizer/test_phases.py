"""Phases: grid.phases and load.phases validated like the spec; one first-stage design serves
every phase (each phase's scenarios stacked, weighted by its years), against hand derivations.
The sites are those of test_hand_derived.py (efficiencies 0.94/0.94, end-of-life usable span
U = 0.72 E, flat 60 USD/MWh, one 1-day scenario per phase)."""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.optimizer import optimize
from bess_size.phases import envelope_site, phased_scenarios, phases
from bess_size.site_spec import SiteSpecError, validate_site

ETA, UF, DAY = 0.94, 0.72, 86400


def close(a, b, rel=0.005):
    return a == pytest.approx(b, rel=rel, abs=1e-6)


def solve_phased(site):
    ph = phases(site)
    return optimize(envelope_site(site, ph), phased_scenarios(site, ph)), ph


CURTAILED = {"firm_import_mw": 200, "nonfirm_import_mw": 800,
             "events": [{"kind": "curtailment", "start_s": 36000, "duration_s": 7200, "occurrences_per_year": 1}]}


@pytest.mark.parametrize("tight_first", [False, True])
def test_the_design_serves_the_tighter_phase(make_trace_site, tight_first):
    """Load 250 MW flat, an explicit 2 h curtailment to the firm import, no notice, no generation.
    Firm import 200 MW in one phase (a 50 MW deficit) and 150 MW in the other (100 MW).

    The tighter phase sets the design whichever comes first: the battery delivers 100 MW for 2 h,
    P = 100 MW, 200 MWh at the terminals, X_cu = 200 / 0.94 = 212.77 MWh stored, E = X_cu / 0.72
    = 295.5 MWh. Years 1-2 and 3-15: the phases' scenarios weigh 2/15 and 13/15.
    """
    firm = (150, 200) if tight_first else (200, 150)
    site = make_trace_site([(0, 250), (DAY - 1, 250)], {"grid": {
        **CURTAILED, "firm_import_mw": firm[0], "phases": [{"from_year": 3, "firm_import_mw": firm[1],
                                                            "nonfirm_import_mw": 1000 - firm[1]}]}})
    res, ph = solve_phased(site)
    assert [(p.from_year, p.to_year) for p in ph] == [(1, 2), (3, 15)]
    b = res.design.bess
    assert close(b.pcs_power_mw, 100.0)
    assert close(b.bands_mwh.curtailment_reserve, 200 / ETA)
    assert close(b.energy_mwh, 200 / ETA / UF)
    prob = res._data.scenario_probability
    assert prob == pytest.approx([2 / 15, 13 / 15])


def test_ramp_limit_phases(make_trace_site):
    """A 150 MW load step; the POI may ramp 1 MW/s in years 1-4 and only 0.5 MW/s from year 5.
    At 0.5 MW/s the POI takes 300 s: the battery covers the 150 MW step and the ramp triangle
    150 x 300 / 2 = 6.25 MWh at the terminals (half that at 1 MW/s): X_up = 6.25 / 0.94 = 6.649 MWh,
    E = 9.235 MWh, P = 150 MW (test_hand_derived's single-phase answer at 0.5 MW/s)."""
    site = make_trace_site([(0, 100), (DAY / 2, 250), (DAY - 1, 250)],
                           {"grid": {"ramp_limit_mw_per_s": 1.0, "ramp_limit_mw_per_min": 60,
                                     "phases": [{"from_year": 5, "ramp_limit_mw_per_s": 0.5, "ramp_limit_mw_per_min": 30}]}})
    b = solve_phased(site)[0].design.bess
    assert close(b.pcs_power_mw, 150.0)
    assert close(b.bands_mwh.up_ramp_buffer, 6.25 / ETA)
    assert close(b.energy_mwh, 6.25 / ETA / UF)


def test_phases_are_validated():
    """Out-of-order years, a phase after the life and a phase that is not a valid site: all reported at once."""
    with pytest.raises(SiteSpecError) as err:
        validate_site({"load": {"phases": [{"from_year": 3, "it_capacity_mw": 10}, {"from_year": 2, "it_capacity_mw": 20}]},
                       "grid": {"phases": [{"from_year": 30, "firm_import_mw": 350}]}}, "<test>")
    text = str(err.value)
    assert "load.phases[1].from_year = 2" in text and "increasing from_year" in text
    assert "grid.phases[0].from_year = 30" in text and "economics.lifetime_years = 15" in text
    with pytest.raises(SiteSpecError, match="in the phase from year 3"):
        validate_site({"load": {"phases": [{"from_year": 3, "it_capacity_mw": 10}]}, "grid": {}}, "<test>")


def test_phase_sites_take_the_latest_entry():
    site = validate_site({"load": {"phases": [{"from_year": 3, "it_capacity_mw": 600}]},
                          "grid": {"phases": [{"from_year": 3, "firm_import_mw": 350, "nonfirm_import_mw": 0},
                                              {"from_year": 5, "ramp_limit_mw_per_s": 1}]}}, "<test>")
    got = [(p.from_year, p.to_year, p.site.grid.firm_import_mw, p.site.grid.nonfirm_import_mw,
            p.site.load.it_capacity_mw, p.site.grid.ramp_limit_mw_per_s) for p in phases(site)]
    assert got == [(1, 2, 200, 150, 300, 2), (3, 4, 350, 0, 600, 2), (5, 15, 350, 0, 600, 1)]
    env = envelope_site(site, phases(site))
    assert env.load.it_capacity_mw == 600 and env.grid.ramp_limit_mw_per_s == 1
    assert np.isclose(sum(p.years for p in phases(site)), 15)


@pytest.mark.slow  # a whole run of a two-phase site
def test_run_writes_phases_time_to_power_and_cash_flows(make_trace_site, tmp_path):
    """The whole pipeline on the two-phase curtailment site (years 1-2 firm 150 MW, then 250 MW: the
    load alone from year 3): design.json names each phase's binding requirement, validation.json merges
    both phases' replays, cashflows.csv uses each phase's own annual costs, and the time-to-power
    comparison says firm import serves the load from year 3 (24 months gained)."""
    import json

    from bess_size import pipeline

    site = make_trace_site([(0, 250), (DAY - 1, 250)], {
        "grid": {**CURTAILED, "firm_import_mw": 150, "phases": [{"from_year": 3, "firm_import_mw": 250}]},
        "economics": {"it_capacity_value_usd_per_mw_month": 10_000}})
    res = pipeline.run(site, tmp_path / "out")
    d = json.loads((tmp_path / "out" / "design.json").read_text())
    assert [p["phase"] for p in d["phases"]] == ["years 1-2", "years 3-15"]
    assert all("binding_requirement" in p and "annual_usd" in p for p in d["phases"])
    # the year-3 phase has no curtailment deficit: the battery is not discharged for it
    assert d["phases"][1]["annual_usd"]["grid_only_energy_usd"] == pytest.approx(250 * 60 * 8760, rel=1e-6)
    t = d["time_to_power"]
    assert t["firm_year"] == 3 and t["months_gained"] == 24
    assert t["break_even_bess_capital_usd"] == pytest.approx(t["bess_capital_usd"] + t["npv_gain_usd"], rel=1e-9)
    v = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert v["held_out_scenarios"] == 2 * site.scenarios.held_out  # each phase replays its own
    assert any(c["detail"].get("phases") for c in v["checks"])
    rows = (tmp_path / "out" / "cashflows.csv").read_text().splitlines()
    assert len(rows) == 2 + 15
    assert res.design.time_to_power == t
