"""A small site that has every constraint family the energy layer uses: the grid is short of the
48 MW peak (25 MW firm + 10 MW non-firm) with 3 existing 5 MW engines, PV at 70 MW is above the
load, the efficiencies are unequal; tiny (2 scenarios x 2 representative days) so a solve costs
about the interpreter's start."""

from __future__ import annotations

import pytest

SMALL_SITE = """\
name: grid-short-pv-heavy
load: {it_capacity_mw: 40, pue: 1.2, min_load_mw: 10}
grid: {firm_import_mw: 25, nonfirm_import_mw: 10, ramp_limit_mw_per_s: 1, ramp_limit_mw_per_min: 6}
generation:
  - {kind: gas_engine, unit_mw: 5, existing_units: 3, max_new_units: 10}
  - {kind: pv, capacity_mw: 70, latitude_deg: 33.0}
bess: {charge_efficiency: 0.96, discharge_efficiency: 0.92, max_energy_mwh: 500, max_power_mw: 200}
scenarios: {count: 2, held_out: 4, trace_days: 1, representative_days: 2, transient_windows: 4}
"""


@pytest.fixture
def small_site_yaml(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SMALL_SITE)
    return path


@pytest.fixture(scope="module")
def small_site_and_scenarios(tmp_path_factory):
    from bess_size.scenarios import generate_scenarios
    from bess_size.site_spec import load_site

    path = tmp_path_factory.mktemp("small") / "site.yaml"
    path.write_text(SMALL_SITE)
    site = load_site(path)
    return site, generate_scenarios(site)
