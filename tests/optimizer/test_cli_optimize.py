"""`bess-size optimize` through the CLI edge (``bess_size.cli.main``): exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bess_size.cli import main

DEFAULT_SITE = Path(__file__).resolve().parents[2] / "examples" / "campus-300mw.yaml"


def run(*args: str):
    runner = CliRunner()
    with runner.isolation(color=False) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_missing_solver_is_bad_input(tmp_path):
    code, out, err = run("optimize", str(DEFAULT_SITE), "-o", str(tmp_path), "--solver", "no-such-solver")
    assert code == 2
    assert "no-such-solver" in err and "not available" in err
    assert "Traceback" not in out + err
    assert not (tmp_path / "design.json").exists()


def test_bad_mip_gap_is_bad_input(tmp_path):
    code, out, err = run("optimize", str(DEFAULT_SITE), "-o", str(tmp_path), "--mip-gap", "2")
    assert code == 2 and "--mip-gap" in err


def test_help_names_every_option():
    code, out, err = run("optimize", "--help")
    assert code == 0
    for opt in ("--solver", "--time-limit", "--mip-gap", "--threads", "--strict-dispatch", "--integer-commitment", "--json"):
        assert opt in out


CONTRACT = {
    "site": None,
    "solver": {"name", "status", "mip_gap", "build_s", "solve_s"},
    "bess": {"energy_mwh", "containers", "pcs_power_mw", "inverters", "inverter_rating_mva", "headroom_mw",
             "bands_mwh", "bands_fraction"},
    "generation": None,
    "cost": {"annualized_capex_usd", "expected_annual_opex_usd", "grid_only_bill_usd", "total_annualized_usd", "breakdown"},
    "promises": {"poi_ramp_violation_mw_s_per_year", "unserved_energy_mwh_per_year"},
}
BANDS = {"ride_through_reserve", "up_ramp_buffer", "curtailment_reserve", "down_ramp_headroom", "operating"}


@pytest.mark.slow
def test_default_example_writes_the_design_contract(tmp_path):
    """`bess-size optimize examples/campus-300mw.yaml -o DIR --json`: every key of DESIGN 9, bands
    inside the end-of-life usable span, fractions consistent with the MWh figures, integers whole."""
    code, out, err = run("optimize", str(DEFAULT_SITE), "-o", str(tmp_path), "--json")
    assert code == 0, err
    d = json.loads((tmp_path / "design.json").read_text())
    assert json.loads(out) == d
    for key, sub in CONTRACT.items():
        assert key in d
        if sub:
            assert sub <= set(d[key]), (key, sub - set(d[key]))
    b = d["bess"]
    assert set(b["bands_mwh"]) == BANDS == set(b["bands_fraction"])
    assert b["energy_mwh"] == pytest.approx(b["containers"] * 5.0)
    u = 0.8 * (0.95 - 0.05) * b["energy_mwh"]
    stacked = sum(b["bands_mwh"][k] for k in BANDS - {"operating"})
    lo, hi = b["bands_mwh"]["operating"]
    assert stacked + (hi - lo) == pytest.approx(u, rel=1e-6)
    for k in BANDS - {"operating"}:
        assert b["bands_fraction"][k] == pytest.approx(b["bands_mwh"][k] / b["energy_mwh"], abs=1e-6)
    assert d["solver"]["status"] == "optimal" and d["solver"]["mip_gap"] <= 0.01
    assert d["cost"]["total_annualized_usd"] == pytest.approx(
        d["cost"]["annualized_capex_usd"] + d["cost"]["expected_annual_opex_usd"], abs=0.05)
    assert "wrote" in err
    # what an engineer asks first, on stderr: what sized what, the energy mix, the island's N+1 margin
    assert "PCS power 345 MW: ride-through of 100% of the 345 MW peak for 30 s" in err
    assert "one more MW of it costs" in err and "energy mix, optimizer:" in err and "CO2" in err
    assert "with the largest unit out (N+1)" in err and "the grid alone could not serve this site" in err
    assert {e["quantity"] for e in d["binding"]} >= {"energy_mwh", "pcs_power_mw", "inverters", "generation[0].units"}


def _trace_site_yaml(tmp_path, load_mw, extra: dict) -> Path:
    csv = tmp_path / "load.csv"
    csv.write_text(f"time_s,load_mw\n0,{load_mw}\n86399,{load_mw}\n")
    spec = {
        "name": "cli-trace", "load": {"it_capacity_mw": 400, "pue": 1.0, "min_load_mw": 0, "power_factor": 1.0,
                                      "trace": str(csv)},
        "grid": {"firm_import_mw": 1000, "nonfirm_import_mw": 0, "smoothing_time_constant_s": 0,
                 "poi_power_factor_min": 1.0, "curtailment": {"events_per_year": 0},
                 "loss_of_grid": {"events_per_year": 0, "duration_s": 60}, "voltage_sags": {"events_per_year": 0}},
        "reliability": {"ride_through": {"duration_s": 30, "load_fraction": 1.0}, "islanding": {"required": False}},
        "scenarios": {"count": 1, "trace_days": 1, "representative_days": 1, "transient_windows": 2},
    }
    for k, v in extra.items():
        spec[k] = {**spec.get(k, {}), **v}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_scenarios_file_and_infeasible_exit_code(tmp_path):
    """A scenarios.nc from `bess-size scenarios` is used as given; a site whose 345 MW ride-through
    cannot fit bess.max_power_mw = 300 exits 3 naming both, and writes no design.json."""
    site = _trace_site_yaml(tmp_path, 345, {"bess": {"max_power_mw": 300}})
    from bess_size.scenarios import generate_scenarios
    from bess_size.site_spec import load_site

    nc = tmp_path / "scenarios.nc"
    generate_scenarios(load_site(site)).to_netcdf(nc)
    code, out, err = run("optimize", str(site), "-o", str(tmp_path / "out"), "--scenarios", str(nc))
    assert code == 3
    assert "ride-through" in err and "bess.max_power_mw is 300" in err and "345.0 MW" in err
    assert "Traceback" not in out + err
    assert not (tmp_path / "out" / "design.json").exists()
