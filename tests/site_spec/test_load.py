"""The loader and its error reporting, below the CLI: paths, lines, expectations, partial checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bess_size.examples import DEFAULT, text
from bess_size.site_spec import Problem, Site, SiteSpecError, dump_site, load_site, parse_document, validate_site
from bess_size.site_spec.load import expected_text
from bess_size.site_spec.models import BESS, Grid, Load, Scenarios, TrainingWorkload
from bess_size.site_spec.summary import curtailment, islanding_bridge, ride_through


def required(data: dict) -> dict:
    """``data`` with the required sections (load, grid) present, at their defaults where not given."""
    return {"load": {}, "grid": {}, **data}


def problems_of(data: dict, base_dir: Path = Path(".")) -> list[Problem]:
    with pytest.raises(SiteSpecError) as info:
        validate_site(required(data), "t", base_dir)
    return info.value.problems


def test_load_and_grid_are_required_and_named():
    with pytest.raises(SiteSpecError) as info:
        validate_site({"bess": {"soc_min_fraction": 0.6, "soc_max_fraction": 0.6}}, "no-sections")
    probs = {p.path: p for p in info.value.problems}
    assert set(probs) == {"load", "grid", "bess.soc_min_fraction"}  # rules on the sections given still run
    assert probs["load"].value == "<missing>" and "load section is required" in probs["load"].reason
    assert "it_capacity_mw" in probs["load"].expected


def test_empty_required_sections_take_the_documented_defaults():
    assert isinstance(validate_site({"load": {}, "grid": {}}, "empty-sections"), Site)


def test_expected_text_carries_range_unit_and_meaning():
    assert expected_text(Load.model_fields["it_capacity_mw"]) == "expected a number > 0 and <= 20000 [MW] (IT nameplate)"
    assert expected_text(Scenarios.model_fields["count"]).startswith("expected a whole number >= 1 and <= 10000 [count]")
    assert expected_text(BESS.model_fields["container_mwh"]).startswith("expected a number or null > 0 [MWh]")
    assert expected_text(TrainingWorkload.model_fields["swing_period_s"]) == (
        "expected a number or [low, high] with both ends within [0.05, 600] [s] (Iteration period)")
    assert "true or false" in expected_text(Grid.model_fields["export_allowed"])
    assert "one of \"as_given\", \"bootstrap\"" in expected_text(Load.model_fields["trace_mode"])


def test_a_single_number_is_a_range_of_one_point():
    site = validate_site(required({"grid": {"curtailment": {"duration_h": 2}}}))
    assert site.grid.curtailment.duration_h == (2.0, 2.0)
    assert dump_site(site)["grid"]["curtailment"]["duration_h"] == [2.0, 2.0]


def test_strict_types_refuse_coercion():
    """YAML already types scalars: a bool, quoted text or a fractional count is a mistake, not a value."""
    got = {p.path for p in problems_of({"load": {"pue": True, "it_capacity_mw": "300"}, "scenarios": {"held_out": 4.0}})}
    assert got == {"load.pue", "load.it_capacity_mw", "scenarios.held_out"}


def test_nan_and_inf_rejected_everywhere():
    got = {p.path for p in problems_of({"grid": {"energy_price_usd_per_mwh": float("nan"),
                                                  "demand_charge_usd_per_mw_month": float("inf")}})}
    assert got == {"grid.energy_price_usd_per_mwh", "grid.demand_charge_usd_per_mw_month"}


def test_union_members_give_one_problem():
    probs = problems_of({"grid": {"energy_price_usd_per_mwh": {"a": 1}}})
    assert [p.path for p in probs] == ["grid.energy_price_usd_per_mwh"]


def test_cross_field_checks_still_run_on_valid_sections():
    """A type error in load must not hide soc_min >= soc_max in bess; rules that read load are skipped."""
    probs = problems_of({"load": {"pue": "x"}, "bess": {"soc_min_fraction": 0.6, "soc_max_fraction": 0.6}})
    assert [p.path for p in probs] == ["load.pue", "bess.soc_min_fraction"]


def test_problem_lines_point_into_the_yaml_file(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: s\nload:\n  workloads:\n    - kind: training\n      share: 0.5\n      jobs: 0\n")
    with pytest.raises(SiteSpecError) as info:
        load_site(f)
    by_path = {p.path: p for p in info.value.problems}
    assert by_path["load.workloads[0].jobs"].line == 6
    assert "(line 6)" in str(info.value)


def test_json_and_yaml_give_the_same_site(tmp_path):
    data = yaml.safe_load(text(DEFAULT))
    (tmp_path / "s.json").write_text(json.dumps(data))
    (tmp_path / "s.yaml").write_text(text(DEFAULT))
    assert load_site(tmp_path / "s.json") == load_site(tmp_path / "s.yaml")


def test_duplicate_json_key():
    with pytest.raises(SiteSpecError, match="appears twice"):
        parse_document('{"name": "a", "name": "b"}', "s.json", json_syntax=True)


def test_yaml_merge_keys_still_work():
    data = parse_document("base: &b {unit_mw: 18}\ngen: {<<: *b, max_new_units: 3}\n")
    assert data["gen"] == {"unit_mw": 18, "max_new_units": 3}


def test_valid_csvs_are_accepted_and_made_absolute(tmp_path):
    """A good trace, price and PV profile load; relative paths resolve against the spec's folder."""
    (tmp_path / "trace.csv").write_text("time_s,load_mw\n0,100\n1,120.5\n2,90\n")
    (tmp_path / "price.csv").write_text("time_s, usd_per_mwh\n0,-5\n3600,80\n")
    (tmp_path / "pv.csv").write_text("time_s,pv_mw\n0,0\n43200,30\n")
    spec = {"load": {"trace": "trace.csv", "trace_mode": "bootstrap"},
            "grid": {"energy_price_usd_per_mwh": "price.csv"},
            "generation": [{"kind": "pv", "capacity_mw": 30, "profile": "pv.csv"}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    site = load_site(tmp_path / "s.yaml")
    assert Path(site.load.trace) == tmp_path / "trace.csv" and Path(site.load.trace).is_absolute()
    assert Path(site.grid.energy_price_usd_per_mwh) == tmp_path / "price.csv"
    assert Path(site.pv[0].profile) == tmp_path / "pv.csv"
    # absolute paths round-trip from anywhere
    assert validate_site(dump_site(site), "rt", base_dir="/") == site


def test_events_inside_the_trace_are_fine_and_outside_are_not():
    ok = {"grid": {"events": [{"kind": "loss_of_grid", "start_s": 50000, "duration_s": 120}]}, "scenarios": {"trace_days": 1}}
    assert validate_site(required(ok)).grid.events[0].start_s == 50000
    bad = {"grid": {"events": [{"kind": "loss_of_grid", "start_s": 86000, "duration_s": 1000}]}, "scenarios": {"trace_days": 1}}
    (p,) = problems_of(bad)
    assert p.path == "grid.events[0].start_s" and "87000" in p.expected and "86400 [s]" in p.expected


def test_summary_figures_by_hand():
    """Site: 100 MW IT x PUE 1.2 = 120 MW peak; ride-through 50 % for 60 s = 60 MW x 60 s = 1 MWh
    delivered, / 0.9 = 1.111 MWh stored; curtailment 80 MW non-firm x mean(2, 4) = 3 h x 10/yr =
    2400 MWh/yr, depth at peak clip(120 - 50, 0, 80) = 70 MW, longest event 70 x 4 = 280 MWh;
    islanding bridge with a 10 MW engine starting at 120 s and ramping at 0.1 MW/s (T = 100 s):
    60 MW x (120 + 50) s / 3600 = 2.8333 MWh."""
    site = validate_site({
        "load": {"it_capacity_mw": 100, "pue": 1.2, "min_load_mw": 10},
        "grid": {"firm_import_mw": 50, "nonfirm_import_mw": 80,
                 "curtailment": {"events_per_year": 10, "duration_h": [2, 4]}},
        "generation": [{"kind": "gas_engine", "unit_mw": 10, "max_new_units": 20, "ramp_mw_per_s": 0.1, "start_time_s": 120}],
        "bess": {"discharge_efficiency": 0.9},
        "reliability": {"ride_through": {"duration_s": 60, "load_fraction": 0.5}, "islanding": {"required": True}},
    })
    rt = ride_through(site)
    assert rt["power_mw"] == pytest.approx(60.0)
    assert rt["delivered_energy_mwh"] == pytest.approx(1.0)
    assert rt["stored_energy_mwh"] == pytest.approx(1.0 / 0.9)
    cu = curtailment(site)
    assert cu["exposure_mwh_per_year"] == pytest.approx(2400.0)
    assert cu["depth_at_peak_mw"] == pytest.approx(70.0)
    assert cu["longest_event_at_peak_mwh"] == pytest.approx(280.0)
    br = islanding_bridge(site)
    assert br["delivered_energy_mwh"] == pytest.approx(60 * 170 / 3600)


def test_note_when_held_out_cannot_reach_the_target():
    """Wilson lower bound with n of n passing is n / (n + 1.96^2): 40 -> 0.912 < 0.95; 73 is the
    smallest n reaching 0.95 (72 -> 0.9493, 73 -> 0.9500)."""
    from bess_size.site_spec.checks import notes

    few = validate_site(required({"scenarios": {"held_out": 40}}))
    assert any("scenarios.held_out = 40" in n and "use at least 73" in n for n in notes(few))
    enough = validate_site(required({"scenarios": {"held_out": 73}}))
    assert not any("held_out" in n for n in notes(enough))
