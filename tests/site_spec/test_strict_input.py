"""Strict input (issue 12.4): required sections, defaults marked, validation on assignment and with_values."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import yaml
from click.testing import CliRunner

from bess_size.cli import main
from bess_size.examples import DEFAULT, text
from bess_size.site_spec import Site, SiteSpecError, load_site, validate_site
from bess_size.site_spec.load import defaulted_values


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run(*args: str) -> Result:
    runner = CliRunner()
    with runner.isolation(color=False) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


def write(tmp_path, data, name="site.yaml"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


def default_site() -> dict:
    return yaml.safe_load(text(DEFAULT))


# --------------------------------------------------------------------------- required sections


@pytest.mark.parametrize("section", ["load", "grid"])
@pytest.mark.parametrize("command", ["check", "optimize", "run"])
def test_a_spec_without_a_required_section_exits_2_naming_it(tmp_path, section, command):
    data = default_site()
    del data[section]
    site = write(tmp_path, data)
    args = [command, str(site)] + ([] if command == "check" else ["-o", str(tmp_path / "out")])
    r = run(*args)
    assert r.code == 2, r.stderr
    assert f"  {section} = <missing>" in r.stderr and f"the {section} section is required" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()  # refused before any work


# --------------------------------------------------------------------------- defaults


def test_check_lists_every_default_and_json_carries_them(tmp_path):
    """A 20 MW site that writes only its size: every other value is listed as a default."""
    site = write(tmp_path, "name: small\nload:\n  it_capacity_mw: 20\n  min_load_mw: 5\ngrid:\n  firm_import_mw: 30\n")
    r = run("check", "--json", str(site))
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    paths = {d["path"]: d["value"] for d in doc["defaults"]}
    # what the file wrote is not a default; what it left out is, with the value used
    assert "load.it_capacity_mw" not in paths and "grid.firm_import_mw" not in paths
    assert paths["grid.nonfirm_import_mw"] == 150 and paths["load.pue"] == 1.15
    assert paths["grid.curtailment.events_per_year"] == 25
    assert paths["load.workloads[0].share"] == 0.7  # default entries list their values
    assert paths["generation"] == [] and paths["load.flexible"] is None
    assert "bess.max_power_mw" in paths and "scenarios.count" in paths
    # the human output says the same: a defaults block naming the section's keys and values
    assert "defaults (not in the file," in r.stderr
    assert any(ln.strip().startswith("grid") and "nonfirm_import_mw 150" in ln for ln in r.stderr.splitlines())


def test_defaulted_values_follow_the_file_not_the_model():
    data = {"load": {"workloads": [{"kind": "inference", "share": 1.0}]}, "grid": {"curtailment": {"events_per_year": 3}}}
    site = validate_site(data, "t")
    got = dict(defaulted_values(site, data))
    assert "load.workloads[0].share" not in got and "load.workloads[0].kind" not in got
    assert got["load.workloads[0].peak_hour"] == 14
    assert "grid.curtailment.events_per_year" not in got and got["grid.curtailment.notice_min"] == 30
    assert got["scenarios.seed"] == 42
    full = default_site()
    got = dict(defaulted_values(validate_site(full, "t"), full))
    assert got["load.workloads[1].bursts_per_day"] == 4 and "load.workloads[1].share" not in got
    assert not any(p.startswith(("load.it_capacity_mw", "grid.firm_import_mw", "bess.max_power_mw")) for p in got)

def test_an_error_in_a_default_is_named_as_such(tmp_path):
    """min_load_mw (default 60 MW) above a 23 MW peak: the message must not blame the line of `load:`."""
    site = write(tmp_path, "name: small\nload:\n  it_capacity_mw: 20\ngrid:\n  firm_import_mw: 30\n")
    r = run("check", "--json", str(site))
    assert r.code == 2
    (p,) = json.loads(r.stdout)["problems"]
    assert p["path"] == "load.min_load_mw" and p["default"] is True and p["line"] is None
    assert "load.min_load_mw = 60    (default, not in the file)" in r.stderr
    assert "(line" not in r.stderr
    # written in the file, the same problem points at its line
    site = write(tmp_path, "name: small\nload:\n  it_capacity_mw: 20\n  min_load_mw: 60\ngrid:\n  firm_import_mw: 30\n")
    r = run("check", str(site))
    assert "load.min_load_mw = 60    (line 4)" in r.stderr


# --------------------------------------------------------------------------- Python: assignment, model_copy, with_values


@pytest.fixture
def site() -> Site:
    return validate_site(default_site(), "default")


def test_assignment_is_validated_with_the_fields_range_and_unit(site):
    with pytest.raises(SiteSpecError) as info:
        site.grid.ramp_limit_mw_per_s = -5
    (p,) = info.value.problems
    assert p.path == "grid.ramp_limit_mw_per_s" and p.value == -5 and "> 0 [MW/s]" in p.expected
    assert site.grid.ramp_limit_mw_per_s == 2  # unchanged
    with pytest.raises(SiteSpecError, match="load.workloads\\[\\].swing_period_s"):
        site.load.workloads[0].swing_period_s = [5, 1]
    with pytest.raises(SiteSpecError, match="scenarios.count"):
        site.scenarios.count = 2.5  # strict: a count is a whole number
    with pytest.raises(SiteSpecError, match="did you mean 'firm_import_mw'"):
        site.grid.firm_import = 100
    site.grid.ramp_limit_mw_per_s = 3  # a good value is taken
    assert site.grid.ramp_limit_mw_per_s == 3


def test_model_copy_update_no_longer_bypasses_validation(site):
    with pytest.raises(SiteSpecError, match="bess.max_power_mw"):
        site.bess.model_copy(update={"max_power_mw": -1})
    assert site.bess.model_copy(update={"max_power_mw": 10}).max_power_mw == 10


def test_with_values_runs_the_loader_and_cross_field_rules(site):
    new = site.with_values({"grid.nonfirm_import_mw": 50, "load.workloads[0].swing_period_s": [2, 4]})
    assert new.grid.nonfirm_import_mw == 50 and new.load.workloads[0].swing_period_s == (2.0, 4.0)
    assert site.grid.nonfirm_import_mw == 150  # the original is untouched
    with pytest.raises(SiteSpecError) as info:
        site.with_values({"bess.soc_min_fraction": 0.99})  # valid alone, but not below soc_max 0.95
    assert [p.path for p in info.value.problems] == ["bess.soc_min_fraction"]
    with pytest.raises(SiteSpecError) as info:
        site.with_values({"grid.nonfirm_imprt_mw": 50})
    assert "did you mean 'nonfirm_import_mw'" in str(info.value)
    with pytest.raises(SiteSpecError, match="has 2 entries"):
        site.with_values({"load.workloads[5].share": 0.5})


def test_with_values_and_vary_give_the_same_site(tmp_path):
    from bess_size.sweep_grid import plan_sweep

    path = write(tmp_path, default_site())
    jobs, _ = plan_sweep(path, {"grid.nonfirm_import_mw": [50]})
    via_vary = validate_site(jobs[0].spec, "vary", tmp_path)
    assert via_vary == load_site(path).with_values({"grid.nonfirm_import_mw": 50})


def test_run_rechecks_cross_field_rules_after_assignment(site, tmp_path, monkeypatch):
    """Assignment checks one field; bess_size.run re-runs the cross-field rules before any work."""
    import bess_size
    import bess_size.scenarios

    monkeypatch.setattr(bess_size.scenarios, "generate_scenarios", lambda *a, **k: pytest.fail("scenarios generated"))
    site.bess.soc_min_fraction = 0.96  # within its own range, but above soc_max_fraction = 0.95
    with pytest.raises(SiteSpecError) as info:
        bess_size.run(site, tmp_path / "out")
    assert [p.path for p in info.value.problems] == ["bess.soc_min_fraction"]
