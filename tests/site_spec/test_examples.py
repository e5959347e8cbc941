"""The bundled sites: every one loads, passes the checks, and round-trips through dump_site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bess_size.examples import DEFAULT, names, path, summary_line, text
from bess_size.site_spec import Site, dump_site, load_site, validate_site
from bess_size.site_spec.checks import cross_field_problems

REPO = Path(__file__).resolve().parents[2]


def test_three_or_more_examples_with_the_default_first():
    assert len(names()) >= 3
    assert names()[0] == DEFAULT == "campus-300mw"
    assert {"campus-300mw", "inference-100mw-pv", "campus-1gw"} <= set(names())


def test_repo_examples_folder_is_the_package_data():
    """examples/ at the top is a link to bess_size/examples, so both show the same files."""
    top = REPO / "examples"
    assert top.is_symlink()
    assert top.resolve() == (REPO / "bess_size" / "examples").resolve()
    for n in names():
        assert (top / f"{n}.yaml").read_text() == text(n)


@pytest.mark.parametrize("name", names())
def test_example_loads_and_passes_checks(name):
    site = load_site(path(name))
    assert isinstance(site, Site)
    assert site.name == name
    assert cross_field_problems(site) == []


@pytest.mark.parametrize("name", names())
def test_example_round_trips(name):
    """load -> dump_site -> validate_site gives an equal Site, also through JSON text."""
    site = load_site(path(name))
    dumped = dump_site(site)
    assert validate_site(dumped, "dumped") == site
    assert validate_site(json.loads(json.dumps(dumped)), "json") == site
    assert validate_site(yaml.safe_load(yaml.safe_dump(dumped)), "yaml") == site


@pytest.mark.parametrize("name", names())
def test_example_header_explains_and_cites(name):
    """A comment header with a one-line situation, a 'where the numbers come from' part citing the
    data sheet's sections, and small scenario settings (a later `run` must finish in minutes)."""
    body = text(name)
    header = [ln for ln in body.splitlines() if ln.startswith("#")]
    assert len(header) >= 15
    assert summary_line(name).startswith("~")
    assert "domain-datasheet.md" in body
    assert sum("§" in ln for ln in header) >= 8
    sc = load_site(path(name)).scenarios
    assert sc.count <= 8 and sc.held_out <= 100 and sc.trace_days <= 1
    assert sc.representative_days <= 6 and sc.transient_windows <= 12


@pytest.mark.parametrize("name", names())
def test_example_held_out_count_can_reach_the_target(name):
    """A check passes when the two-sided 95 % Wilson lower bound of its held-out success rate reaches
    target_success_rate. With every one of n scenarios passing, that bound is n / (n + 1.96^2), so n
    must be at least 1.96^2 x t / (1 - t) (73 for t = 0.95); fewer and even a perfect design fails."""
    from bess_size.site_spec.phases import phases

    site = load_site(path(name))
    n, t, z2 = site.scenarios.held_out, site.reliability.target_success_rate, 1.959964**2
    n *= len(phases(site))  # a phased site replays held_out scenarios per phase
    assert n / (n + z2) >= t


def test_default_scenarios_are_the_agreed_small_settings():
    sc = load_site(path(DEFAULT)).scenarios
    assert (sc.count, sc.trace_days, sc.representative_days, sc.transient_windows) == (8, 1, 6, 12)


def test_examples_cover_the_three_situations():
    campus = load_site(path("campus-300mw"))
    assert campus.load.peak_mw == pytest.approx(345.0)
    assert (campus.grid.firm_import_mw, campus.grid.nonfirm_import_mw) == (200, 150)
    assert [g.unit_mw for g in campus.thermal] == [18]
    assert campus.reliability.islanding.required

    pv = load_site(path("inference-100mw-pv"))
    assert 90 <= pv.load.it_capacity_mw <= 110
    assert pv.thermal == [] and pv.pv and not pv.reliability.islanding.required
    assert pv.grid.ramp_limit_mw_per_min < campus.grid.ramp_limit_mw_per_min
    assert {w.kind for w in pv.load.workloads} == {"inference"}

    big = load_site(path("campus-1gw"))
    assert 900 <= big.load.peak_mw <= 1100
    assert len(big.load.workloads) >= 3  # several tenants


@pytest.mark.parametrize("name", names())
def test_examples_validate_against_the_published_json_schema(name):
    """`bess-size schema` is what editors check files with: it must accept the bundled sites and
    reject what the loader rejects field by field (a typo'd key, a value out of range)."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(Site.model_json_schema())
    data = yaml.safe_load(text(name))
    assert list(validator.iter_errors(data)) == []
    data["grid"]["firm_imprt_mw"] = 3
    data["load"]["pue"] = 0.5
    data["load"]["workloads"][0]["swing_period_s"] = [0.01, 2]
    assert len(list(validator.iter_errors(data))) == 3
