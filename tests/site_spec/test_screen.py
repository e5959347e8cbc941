"""The instant feasibility screen (site_spec/screen.py) on the spec alone, and through `check`.

Sites are the documented defaults (300 MW IT x PUE 1.15 = 345 MW peak, ride-through 30 s of the
whole load, efficiencies 0.94, SoC 5-95 %, end of life 0.8: usable span U = 0.72 E) unless a test
says otherwise.
"""

from __future__ import annotations

import json

import pytest
import yaml

from bess_size.examples import DEFAULT, text
from bess_size.site_spec import validate_site
from bess_size.site_spec.screen import Needs, feasibility_problems

from .test_strict_input import run, write


def site_with(**sections):
    data = {"load": {}, "grid": {}}
    for k, v in sections.items():
        data[k] = v
    return validate_site(data, "t")


def reasons(site, needs=None):
    return {p.path: p.reason for p in feasibility_problems(site, needs)}


def test_pcs_cap_below_the_ride_through_power():
    """Ride-through of 345 MW needs 345 MW of PCS: 344 fails naming both figures, 345 passes."""
    got = reasons(site_with(bess={"max_power_mw": 344}))
    assert got == {"bess.max_power_mw": "ride-through (100% of the 345 MW peak load for 30 s, reliability.ride_through) "
                                        "needs 345.0 MW of PCS but bess.max_power_mw is 344"}
    assert reasons(site_with(bess={"max_power_mw": 345})) == {}
    # half the load for the ride-through: 172.5 MW is enough
    assert reasons(site_with(bess={"max_power_mw": 173}, reliability={"ride_through": {"load_fraction": 0.5}})) == {}


def test_c_rate_times_energy_caps_the_pcs_too():
    """max_c_rate 1 x max_energy_mwh 300 = 300 MW of PCS at most, under the 345 MW ride-through."""
    got = reasons(site_with(bess={"max_power_mw": 600, "max_energy_mwh": 300, "max_c_rate": 1}))
    assert "needs 345.0 MW of PCS but bess.max_c_rate x bess.max_energy_mwh = 1 x 300 = 300 MW" in got["bess.max_energy_mwh"]


def test_islanding_bridge_without_ride_through_sheds_the_flexible_share_only_when_asked():
    """No ride-through, islanding with 20 % flexible load: by default nothing is shed and the bridge
    needs the 345 MW peak; with shed_flexible_load at once (delay 0) it needs 0.8 x 345 = 276 MW."""
    gens = [{"kind": "gas_engine", "unit_mw": 18, "max_new_units": 21, "start_time_s": 300}]  # N+1: (345 + 18) / 18 -> 21
    common = dict(load={"flexible": {"max_fraction": 0.2}}, generation=gens)
    plain = {"ride_through": {"duration_s": 0}, "islanding": {"required": True}}
    shed = {"ride_through": {"duration_s": 0},
            "islanding": {"required": True, "shed_flexible_load": True, "flexible_shed_delay_s": 0}}
    got = reasons(site_with(bess={"max_power_mw": 340}, reliability=plain, **common))
    assert "islanding bridge" in got["bess.max_power_mw"] and "needs 345.0 MW of PCS" in got["bess.max_power_mw"]
    got = reasons(site_with(bess={"max_power_mw": 270}, reliability=shed, **common))
    assert "islanding bridge" in got["bess.max_power_mw"] and "needs 276.0 MW of PCS" in got["bess.max_power_mw"]
    assert reasons(site_with(bess={"max_power_mw": 276}, reliability=shed, **common)) == {}


def test_a_generator_that_starts_at_once_leaves_no_fixed_pcs_need():
    gens = [{"kind": "gas_engine", "unit_mw": 18, "max_new_units": 30, "start_time_s": 0}]
    assert reasons(site_with(bess={"max_power_mw": 10}, generation=gens)) == {}


def test_energy_cap_below_the_ride_through_reserve():
    """A 600 s ride-through of 345 MW: 345 x 600 / 3600 / 0.94 = 61.17 MWh stored, / 0.72 = 84.96 MWh
    nameplate (the PCS cap, 20 x 85 = 1700 MW, is out of the way): 84.9 fails, 85 passes."""
    common = dict(bess={"max_c_rate": 20, "max_power_mw": 600}, reliability={"ride_through": {"duration_s": 600}})
    got = reasons(site_with(**{**common, "bess": {**common["bess"], "max_energy_mwh": 84.9}}))
    assert set(got) == {"bess.max_energy_mwh"}
    assert "ride-through reserve" in got["bess.max_energy_mwh"] and "needs 85.0 MWh of nameplate energy" in got["bess.max_energy_mwh"]
    assert reasons(site_with(**{**common, "bess": {**common["bess"], "max_energy_mwh": 85}})) == {}
    # an engine starting after 300 s halves what the battery alone must hold
    gens = [{"kind": "gas_engine", "unit_mw": 18, "max_new_units": 30, "start_time_s": 300}]
    assert reasons(site_with(**{**common, "bess": {**common["bess"], "max_energy_mwh": 43}}, generation=gens)) == {}


def test_explicit_curtailment_draw_from_the_minimum_load():
    """min_load 200 MW, firm 100 MW, no generation or PV: an explicit 2 h curtailment takes at least
    100 MW for its whole duration = 200 MWh, / 0.94 = 212.77 stored, / 0.72 = 295.5 MWh, whether it
    starts on the hour or at 00:30 (the energy layer models a call at its real times)."""
    def site(start_s, energy):
        return site_with(load={"min_load_mw": 200}, grid={"firm_import_mw": 100, "events": [
            {"kind": "curtailment", "start_s": start_s, "duration_s": 7200}]},
            bess={"max_energy_mwh": energy, "max_c_rate": 20})
    got = reasons(site(3600, 295))
    assert "grid.events[0]" in got["bess.max_energy_mwh"] and "needs 295.5 MWh" in got["bess.max_energy_mwh"]
    assert reasons(site(3600, 296)) == {}
    assert "needs 295.5 MWh" in reasons(site(1800, 295))["bess.max_energy_mwh"]


def test_ramp_need_from_screened_scenarios():
    got = reasons(site_with(bess={"max_power_mw": 400}), Needs(peak_load_mw=None, ramp_discharge_mw=450.0))
    assert got == {"bess.max_power_mw": "POI ramp buffering (largest screened battery discharge under "
                                        "grid.ramp_limit_mw_per_s / _per_min) needs 450.0 MW of PCS but bess.max_power_mw is 400"}


def test_a_trace_peak_is_unknown_to_check(tmp_path):
    (tmp_path / "t.csv").write_text("time_s,load_mw\n0,100\n60,120\n")
    site = validate_site({"load": {"trace": "t.csv", "min_load_mw": 200},
                          "grid": {"firm_import_mw": 100, "events": [{"kind": "curtailment", "start_s": 0, "duration_s": 7200}]},
                          "bess": {"max_power_mw": 1, "max_energy_mwh": 1}}, "t", tmp_path)
    assert reasons(site) == {}  # the optimizer screens it with the trace's own peak and loads


def test_check_exits_2_naming_the_fields(tmp_path):
    data = yaml.safe_load(text(DEFAULT))
    data["bess"]["max_power_mw"] = 100
    path = write(tmp_path, data)
    r = run("check", "--json", str(path))
    assert r.code == 2
    (p,) = json.loads(r.stdout)["problems"]
    assert p["path"] == "bess.max_power_mw" and p["value"] == 100 and p["line"] is not None
    assert "needs 345.0 MW of PCS but bess.max_power_mw is 100" in p["reason"]
    assert "reliability.ride_through" in r.stderr


@pytest.mark.parametrize("name", ["campus-300mw", "campus-1gw", "inference-100mw-pv"])
def test_bundled_sites_pass_the_screen(name):
    from bess_size.examples import path
    from bess_size.site_spec import load_site

    assert feasibility_problems(load_site(path(name))) == []


@pytest.mark.parametrize("command", ["run", "optimize"])
def test_run_and_optimize_stop_before_any_scenario(tmp_path, monkeypatch, command):
    """The same spec as above: `run` and `optimize` say check's words at once (exit 3: infeasible)."""
    import bess_size.scenarios

    def refuse(*a, **k):
        raise AssertionError("scenarios were generated for a site the spec alone shows infeasible")

    monkeypatch.setattr(bess_size.scenarios, "generate_scenarios", refuse)
    data = yaml.safe_load(text(DEFAULT))
    data["bess"]["max_power_mw"] = 100
    r = run(command, str(write(tmp_path, data)), "-o", str(tmp_path / "out"))
    assert r.code == 3, r.stderr
    assert "needs 345.0 MW of PCS but bess.max_power_mw is 100" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out" / "design.json").exists()
