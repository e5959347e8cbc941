"""End to end: scenarios -> optimize -> simulate held-out -> outputs, the CLI's exit codes, the
optimizer's own scenarios replayed, and --refine.

A small version of the default campus (2 optimizer scenarios, 6 held-out, 6 h traces) keeps this
to seconds; its target success rate is 0.5 so six scenarios can prove it (6/6 -> 0.61).
"""

from __future__ import annotations

import json
import math

import pytest
import xarray as xr
import yaml

from bess_size import pipeline
from bess_size.cli import main
from bess_size.scenarios import ScenarioSet, scenario_trace
from bess_size.simulator import simulate
from bess_size.site_spec import Design, validate_site
from bess_size.examples import __file__ as _examples_init
from pathlib import Path

EXAMPLE = Path(_examples_init).parent / "campus-300mw.yaml"


def small_spec() -> dict:
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["scenarios"].update(count=2, held_out=6, trace_days=0.25, representative_days=2, transient_windows=6)
    spec["reliability"]["target_success_rate"] = 0.5
    return spec


@pytest.fixture(scope="module")
def small_site():
    return validate_site(small_spec(), "small-campus", ".")


@pytest.fixture(scope="module")
def result(small_site, tmp_path_factory):
    return pipeline.run(small_site, tmp_path_factory.mktemp("run") / "out")


def undersized(design: Design, pcs_factor: float) -> Design:
    d = design.model_dump(mode="json")
    d["bess"]["pcs_power_mw"] *= pcs_factor
    return Design.model_validate(d)


def test_run_writes_every_output(result):
    out = result.out_dir
    for name in ("design.json", "validation.json", "scenarios.nc", "timeseries.nc", "site.json", "cashflows.csv"):
        assert (out / name).is_file(), name
    design = json.loads((out / "design.json").read_text())
    assert {"site", "solver", "bess", "generation", "cost", "promises"} <= set(design)
    v = json.loads((out / "validation.json").read_text())
    assert v["held_out_scenarios"] == 6 and v["target_success_rate"] == 0.5
    assert v["passed"] == result.passed == all(c["passed"] for c in v["checks"])
    assert ScenarioSet.from_netcdf(out / "scenarios.nc").transient.sizes["scenario"] == 2
    assert xr.open_dataset(out / "timeseries.nc", group="hourly", engine="h5netcdf").sizes["scenario"] == 6
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporaries
    # lifetime cash flows: one row per year of the life, their NPV in design.json and a table in the report
    flows = (out / "cashflows.csv").read_text().splitlines()
    life = json.loads((out / "site.json").read_text())["economics"]["lifetime_years"]
    assert flows[0].startswith("year,capex_usd,") and len(flows) == 2 + math.ceil(life)
    assert {"npv_vs_reference_usd", "life_cycle_cost_usd", "simple_payback_years"} <= set(design["lifetime"])
    assert "Cash flows by year" in (out / "report.html").read_text()


def test_default_design_holds_on_held_out(result):
    """The optimizer's design for the small campus passes every held-out check (or the failing
    check says by how much)."""
    failing = {c.requirement: (c.measured, c.limit, c.unit) for c in result.validation.checks if not c.passed}
    assert failing == {}, f"held-out shortfall: {failing}"


def test_optimizer_own_scenarios_replay_without_violation(result, small_site):
    """Replaying the optimizer's own scenarios (the traces its transient requirements and windows
    were screened from) must show no POI ramp violation and no unserved energy where the design
    promised none; a shortfall is reported as a number."""
    own = [scenario_trace(small_site, "optimizer", i) for i in range(small_site.scenarios.count)]
    v = simulate(small_site, result.design, held_out=own)
    promises = result.design.promises
    for key in ("poi_ramp_violation_mw_s_per_year", "unserved_energy_mwh_per_year"):
        if promises.get(key, None) == 0.0:
            assert v.results[key] == pytest.approx(0.0, abs=1e-6), f"{key}: promised 0, replay {v.results[key]:.6g}"
    assert all(r["ramp_violation_cause_none"] == 0 for r in v.scenarios)


def test_cli_simulate_exit_codes(result, small_site, tmp_path, capsys):
    site_path = tmp_path / "site.yaml"
    site_path.write_text(yaml.safe_dump(small_spec()))
    with pytest.raises(SystemExit) as ok:
        main(["simulate", str(result.out_dir / "design.json"), str(site_path), "-o", str(tmp_path / "sim"), "--json"])
    assert ok.value.code == (0 if result.passed else 1)
    assert json.loads(capsys.readouterr().out)["held_out_scenarios"] == 6
    # a deliberately undersized PCS fails the POI ramp check: exit 1
    small = tmp_path / "small.json"
    small.write_text(undersized(result.design, 0.1).to_json())
    with pytest.raises(SystemExit) as bad:
        main(["simulate", str(small), str(site_path), "-o", str(tmp_path / "sim2")])
    assert bad.value.code == 1
    v = json.loads((tmp_path / "sim2" / "validation.json").read_text())
    failed = {c["requirement"] for c in v["checks"] if not c["passed"]}
    assert "poi_ramp_limit" in failed
    # bad input: exit 2 with the file named, never a traceback
    broken = tmp_path / "broken.json"
    broken.write_text('{"site": "x", "bess": {"energy_mwh": -1}}')
    with pytest.raises(SystemExit) as err:
        main(["simulate", str(broken), str(site_path), "-o", str(tmp_path / "sim3")])
    assert err.value.code == 2
    text = capsys.readouterr().err
    assert "broken.json" in text and "Traceback" not in text


@pytest.mark.slow  # a whole `run`
def test_cli_run_json(small_site, tmp_path, capsys):
    site_path = tmp_path / "site.yaml"
    site_path.write_text(yaml.safe_dump(small_spec()))
    with pytest.raises(SystemExit) as rc:
        main(["run", str(site_path), "-o", str(tmp_path / "out"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc.value.code == (0 if summary["passed"] else 1)
    assert summary["bess"]["energy_mwh"] > 0 and len(summary["checks"]) >= 8


def test_refine_adds_failing_scenarios_and_reoptimizes(result, small_site, tmp_path, monkeypatch):
    """The first design is made deliberately too small (PCS x 0.1): the replay fails, refinement
    screens the failing held-out scenarios into the optimizer's set, and the re-optimized design
    is replayed again."""
    import bess_size.optimizer as opt

    real = opt.optimize
    calls = []

    def first_undersized(site, scenarios, **kw):
        res = real(site, scenarios, **kw)
        calls.append(scenarios)
        if len(calls) == 1:
            res.design = undersized(res.design, 0.1)
        return res

    monkeypatch.setattr(opt, "optimize", first_undersized)
    r = pipeline.run(small_site, tmp_path / "out", refine=2)
    assert r.refinements >= 1 and len(calls) == r.refinements + 1
    before, after = calls[0], calls[1]
    assert after.windows.sizes["window"] > before.windows.sizes["window"]
    assert (after.transient["discharge_residual_mw"] >= before.transient["discharge_residual_mw"]).all()
    assert after.transient["discharge_residual_mw"].attrs["units"] == "MW"
    used = json.loads(after.attrs["refined_with_held_out"])
    assert used
    assert any("refinement" in n for n in r.validation.notes)
    # the final design is judged on a fresh held-out draw: none of the scenarios refinement used
    n = small_site.scenarios.held_out
    fresh = [row["scenario"] for row in r.validation.scenarios]
    assert fresh == list(range(n, 2 * n)) and not set(fresh) & set(used)
    assert any("fresh draw" in note for note in r.validation.notes)


def test_a_failing_report_does_not_lose_the_evidence(result, small_site, tmp_path, monkeypatch):
    """write_outputs writes the report last; if drawing it fails, the other files stay and a
    warning says why."""
    def broken(out, site=None):
        raise ValueError("no figure today")

    monkeypatch.setattr(pipeline, "_report_writer", lambda: broken)
    with pytest.warns(RuntimeWarning, match="no figure today"):
        files = pipeline.write_outputs(tmp_path, small_site, result.design, result.validation, result.scenarios)
    assert {f.name for f in files} == {"site.json", "design.json", "scenarios.nc", "timeseries.nc", "validation.json",
                                       "cashflows.csv"}


def test_progress_bars_one_per_stage_and_refinement():
    from bess_size.cli.run import ProgressBars

    bars = ProgressBars(enabled=False)
    calls = [("scenarios", 1, 2), ("scenarios", 2, 2), ("optimize", 0, 1), ("optimize", 1, 1), ("simulate", 3, 3),
             ("refine", 1, 2), ("refine", 2, 2), ("optimize", 0, 1), ("optimize", 1, 1), ("simulate", 3, 3)]
    for c in calls:
        bars(*c)
    assert sorted(bars.tasks) == ["optimize#0", "optimize#1", "refine#1", "scenarios#0", "simulate#0", "simulate#1"]
