"""Plausibility warnings (unit slips) and the estimated work of a spec: in check, --json, run and optimize."""

from __future__ import annotations

import json

import pytest
import yaml

from bess_size.examples import DEFAULT, names, path, text
from bess_size.site_spec import load_site, validate_site
from bess_size.site_spec.plausible import unit_slips
from bess_size.site_spec.summary import STEPS_PER_S, estimated_work

from .test_strict_input import run, write


def site_with(**sections):
    data = yaml.safe_load(text(DEFAULT))
    for section, values in sections.items():
        if isinstance(values, dict):
            data[section].update(values)
        else:
            data[section] = values
    return validate_site(data, "t")


def slips(site):
    return {p.path: p for p in unit_slips(site)}


@pytest.mark.parametrize("name", names())
def test_bundled_sites_raise_no_warning(name):
    assert unit_slips(load_site(path(name))) == []


@pytest.mark.parametrize("section, key, slip, fine", [
    ("bess", "energy_cost_usd_per_mwh", 190, 190_000),  # $190/kWh written per MWh
    ("bess", "pcs_cost_usd_per_mw", 200, 200_000),
    ("bess", "throughput_cost_usd_per_mwh", 0.04, 40),
    ("grid", "energy_price_usd_per_mwh", 0.055, 55),
    ("grid", "ramp_limit_mw_per_min", 1.5, 35),  # below the 2 MW/s per-second limit
    ("load", "pue", 1.02, 1.15),
])
def test_each_slip_is_warned_and_the_data_sheet_value_is_not(section, key, slip, fine):
    got = slips(site_with(**{section: {key: slip}}))
    assert set(got) == {f"{section}.{key}"}, got
    assert "datasheet" in got[f"{section}.{key}"].expected  # the range it was compared with is cited
    assert slips(site_with(**{section: {key: fine}})) == {}


def test_per_kwh_cost_says_what_it_would_be_per_mwh():
    p = slips(site_with(bess={"energy_cost_usd_per_mwh": 190}))["bess.energy_cost_usd_per_mwh"]
    assert "per-kWh" in p.reason and "125,000-300,000 USD/MWh" in p.expected and "190,000 USD/MWh" in p.expected


def test_generation_fuel_and_ramp_slips():
    gen = yaml.safe_load(text(DEFAULT))["generation"]
    gen[0].update(fuel_usd_per_mwh=0.045, ramp_mw_per_s=18)  # 18 MW/min written per second, for an 18 MW unit
    got = slips(site_with(generation=gen))
    assert set(got) == {"generation[0].fuel_usd_per_mwh", "generation[0].ramp_mw_per_s"}


def test_load_far_outside_the_data_sheet():
    assert "load.it_capacity_mw" in slips(site_with(load={"it_capacity_mw": 0.3, "min_load_mw": 0.1}))
    assert "load.it_capacity_mw" in slips(site_with(load={"it_capacity_mw": 8000, "min_load_mw": 2000},
                                                    grid={"firm_import_mw": 6000, "nonfirm_import_mw": 4000},
                                                    bess={"max_power_mw": 10000, "max_energy_mwh": 20000},
                                                    reliability={"islanding": {"required": False}}))
    assert "grid.firm_import_mw" in slips(site_with(grid={"firm_import_mw": 200_000}))  # kW in an MW field


def test_check_prints_and_json_lists_warnings_and_still_passes(tmp_path):
    data = yaml.safe_load(text(DEFAULT))
    data["bess"]["energy_cost_usd_per_mwh"] = 190
    site = write(tmp_path, data)
    r = run("check", "--json", str(site))
    assert r.code == 0
    (w,) = json.loads(r.stdout)["warnings"]
    assert w["path"] == "bess.energy_cost_usd_per_mwh" and w["value"] == 190 and w["line"] is not None
    assert "warnings (1: values that look like unit slips" in r.stderr
    assert f"bess.energy_cost_usd_per_mwh = 190    (line {w['line']})" in r.stderr


def test_run_and_optimize_say_them_before_starting(capsys):
    from bess_size.cli.spec import say_before_start

    say_before_start(site_with(grid={"ramp_limit_mw_per_min": 1.5}))
    err = capsys.readouterr().err
    assert err.startswith("warning: grid.ramp_limit_mw_per_min = 1.5: the per-minute limit is below the per-second one")
    say_before_start(site_with())
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- estimated work


def test_estimated_work_by_hand():
    """(200 + 1000) scenarios x 7 days x 86,400 s at 1 s = 725,760,000 trace steps; the optimizer's
    model 200 x 6 days x 24 h = 28,800 energy-layer steps, 25x the default site's 1,152: long."""
    w = estimated_work(site_with(scenarios={"count": 200, "held_out": 1000, "trace_days": 7}))
    assert w["trace_steps"] == 725_760_000 and w["energy_layer_steps"] == 28_800
    assert w["estimated_trace_work_s"] == pytest.approx(725_760_000 / STEPS_PER_S)
    assert w["long"]
    # the default: (8 + 100) x 86,400 = 9,331,200 steps, seconds of work
    assert not estimated_work(site_with())["long"]
    # half-second steps double the trace work
    half = estimated_work(site_with(scenarios={"transient_resolution_s": 0.5}))
    assert half["trace_steps"] == 2 * 9_331_200


def test_check_and_run_state_the_work_of_a_long_spec(tmp_path, capsys):
    from bess_size.cli.spec import say_before_start

    data = yaml.safe_load(text(DEFAULT))
    data["scenarios"].update(count=8, held_out=20000, trace_days=30)  # 20,008 x 2,592,000 steps: hours
    site = write(tmp_path, data)
    r = run("check", "--json", str(site))
    assert r.code == 0
    assert json.loads(r.stdout)["work"]["long"] is True
    (line,) = [ln for ln in r.stderr.splitlines() if ln.strip().startswith("work ")]
    assert "= 51,861 million trace steps" in line and " h on one core" in line
    say_before_start(load_site(site))
    assert "estimated work: (8 + 20000 scenarios)" in capsys.readouterr().err
    r = run("check", str(path(DEFAULT)))
    assert not any(ln.strip().startswith("work ") for ln in r.stderr.splitlines())
