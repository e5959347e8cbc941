"""`bess-size simulate` on any design: a minimal design completed by the optimizer with its sizes
fixed, costs recomputed from the site, and (slow) the default site's undersized designs each failing
the check of the requirement they miss while the optimizer's own design passes.
"""

from __future__ import annotations

import json

import pytest
import yaml

from bess_size import pipeline
from bess_size.cli import main
from bess_size.design_check import complete_design, replay_cost, with_site_defaults
from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.simulator import simulate
from bess_size.site_spec import Design, SiteSpecError, validate_site

from .test_pipeline import EXAMPLE, small_spec


@pytest.fixture(scope="module")
def small():
    site = validate_site(small_spec(), "small-campus", ".")
    scen = generate_scenarios(site)
    return site, scen, optimize(site, scen, explain=False).design


def minimal_of(design: Design) -> Design:
    b = design.bess
    return Design.model_validate({
        "site": design.site,
        "bess": {"energy_mwh": b.energy_mwh, "pcs_power_mw": b.pcs_power_mw, "inverters": b.inverters},
        "generation": [{"kind": g.kind, "new_units": g.new_units} for g in design.generation]})


def test_a_minimal_design_gets_the_optimizers_bands_for_its_sizes(small):
    """With the optimizer's own sizes fixed, the optimizer must find its own bands and headroom again
    (the tie-break makes the reserves exactly what the requirements ask)."""
    site, scen, design = small
    minimal = with_site_defaults(site, minimal_of(design))
    assert minimal.bess.bands_mwh is None and minimal.bess.inverter_rating_mva == site.bess.inverter_rating_mva
    assert minimal.generation[0].unit_mw == site.thermal[0].unit_mw
    done = complete_design(site, minimal, scenarios=scen)
    got, want = done.bess.bands_mwh.model_dump(), design.bess.bands_mwh.model_dump()
    for k in ("ride_through_reserve", "up_ramp_buffer", "curtailment_reserve", "down_ramp_headroom"):
        assert got[k] == pytest.approx(want[k], rel=1e-6, abs=1e-6), k
    assert done.bess.headroom_mw.up == pytest.approx(design.bess.headroom_mw.up, rel=1e-6)
    assert done.bess.bands_fraction.ride_through_reserve == pytest.approx(want["ride_through_reserve"] / design.bess.energy_mwh)


def test_given_bands_are_kept_and_generation_must_match_the_site(small):
    site, scen, design = small
    d = design.model_dump(mode="json")
    d["bess"]["bands_mwh"]["ride_through_reserve"] = 0.0
    d["bess"].pop("headroom_mw")
    done = complete_design(site, with_site_defaults(site, Design.model_validate(d)), scenarios=scen)
    assert done.bess.bands_mwh.ride_through_reserve == 0.0  # what is judged stays as given
    assert done.bess.headroom_mw is not None
    bad = minimal_of(design).model_dump(mode="json")
    bad["generation"] = [{"kind": "fuel_cell", "new_units": 1}]
    with pytest.raises(SiteSpecError, match=r"generation\[0\]\.kind"):
        with_site_defaults(site, Design.model_validate(bad))


def test_cost_is_recomputed_for_the_design_given(small):
    """Capital cost from the site's prices for the sizes replayed: doubling PCS power and inverters
    raises the annualized capital by exactly CRF x (c_P P + c_inv N), whatever the file's cost says."""
    site, scen, design = small
    v = simulate(site, design, held_out=2)
    base = replay_cost(site, design, v)
    d = design.model_dump(mode="json")
    d["bess"]["pcs_power_mw"] *= 2
    d["bess"]["inverters"] *= 2
    bigger = Design.model_validate(d)
    cost = replay_cost(site, bigger, simulate(site, bigger, held_out=2))
    crf = site.economics.capital_recovery_factor
    extra = crf * (site.bess.pcs_cost_usd_per_mw * design.bess.pcs_power_mw + site.bess.inverter_cost_usd * design.bess.inverters)
    assert cost.annualized_capex_usd - base.annualized_capex_usd == pytest.approx(extra, rel=1e-6)
    assert cost.grid_only_bill_usd == pytest.approx(base.grid_only_bill_usd, rel=1e-9)  # the load's bill, not the design's
    assert cost.expected_annual_opex_usd == pytest.approx(sum(v for k, v in cost.breakdown.items() if k.startswith("opex_")), rel=1e-6)
    # the reference bill is named as such; whether the grid alone could serve the site comes from the
    # design's own cost (the site's optimizer scenarios), also for a design of another size
    assert cost.grid_energy_reference_usd == cost.grid_only_bill_usd
    assert design.cost is not None and design.cost.grid_only_feasible is not None
    assert (cost.grid_only_feasible, cost.grid_only_shortfall_mw) == (design.cost.grid_only_feasible,
                                                                      design.cost.grid_only_shortfall_mw)
    other = Design.model_validate({**d, "site": "another site"})
    assert replay_cost(site, other, v).grid_only_feasible is None  # not this site's: not claimed


def test_cli_simulate_accepts_a_minimal_design(small, tmp_path):
    site, scen, design = small
    spec = small_spec()
    spec["scenarios"]["held_out"] = 2
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "design.json").write_text(minimal_of(design).to_json())
    with pytest.raises(SystemExit) as rc:
        main(["simulate", str(tmp_path / "design.json"), str(tmp_path / "site.yaml"), "-o", str(tmp_path / "out")])
    assert rc.value.code in (0, 1)
    written = json.loads((tmp_path / "out" / "design.json").read_text())
    assert written["bess"]["bands_mwh"]["ride_through_reserve"] > 0 and written["cost"]["annualized_capex_usd"] > 0
    v = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert any("cost recomputed" in n for n in v["notes"])


# ----------------------------------------------------------------------------- the default site


def _edit(design: dict, **bess) -> dict:
    d = json.loads(json.dumps(design))
    for k, v in bess.items():
        if k == "ride_through_reserve":
            d["bess"]["bands_mwh"][k] = v
            d["bess"]["bands_fraction"][k] = v
        else:
            d["bess"][k] = v
    return d


@pytest.mark.slow
def test_default_site_undersized_designs_fail_the_check_they_miss(tmp_path_factory):
    """On the bundled default site the optimizer's design passes every check; each undersized
    variant exits 1 naming the requirement it misses:

    * PCS at 58% (200 MW, 52 inverters) with no ride-through reserve: ride_through (the battery
      needs ~341 MW for 30 s of a cold-engine loss of grid and has no reserve to draw);
    * inverters at half: reactive_power (~359 MVA asked in an island, half the rating installed);
    * ride-through reserve zero: ride_through in the stress state (the natural replay, which meets
      outages mid-band with engines running, would pass it).
    """
    site_dir = tmp_path_factory.mktemp("default")
    spec = yaml.safe_load(EXAMPLE.read_text())
    site = validate_site(spec, "campus-300mw", ".")
    r = pipeline.run(site, site_dir / "run")
    assert r.passed, [c.requirement for c in r.validation.failed_checks]
    (site_dir / "site.yaml").write_text(EXAMPLE.read_text())
    own = json.loads((site_dir / "run" / "design.json").read_text())
    b = own["bess"]
    cases = {
        "pcs58": (_edit(own, pcs_power_mw=200.0, inverters=52, ride_through_reserve=0.0), "ride_through"),
        "inverters_half": (_edit(own, inverters=b["inverters"] // 2), "reactive_power"),
        "no_reserve": (_edit(own, ride_through_reserve=0.0), "ride_through"),
    }
    for name, (design, check) in cases.items():
        path = site_dir / f"{name}.json"
        path.write_text(json.dumps(design))
        out = site_dir / name
        with pytest.raises(SystemExit) as rc:
            main(["simulate", str(path), str(site_dir / "site.yaml"), "-o", str(out)])
        v = json.loads((out / "validation.json").read_text())
        failed = {c["requirement"]: c for c in v["checks"] if c["status"] == "fail"}
        assert rc.value.code == 1 and check in failed, (name, sorted(failed))
        assert failed[check]["margin"] < 0
    rt = {c["requirement"]: c for c in json.loads((site_dir / "no_reserve" / "validation.json").read_text())["checks"]}
    assert rt["ride_through"]["state"] == "stress" and rt["ride_through"]["detail"]["natural"]["successes"] > 0


def test_an_edited_designs_band_fractions_follow_its_energies(small):
    site, scen, design = small
    d = design.model_dump(mode="json")
    d["bess"]["bands_mwh"]["ride_through_reserve"] = 1.0  # edited by hand; the fraction left stale
    done = with_site_defaults(site, Design.model_validate(d))
    assert done.bess.bands_fraction.ride_through_reserve == pytest.approx(1.0 / design.bess.energy_mwh)


def test_a_design_below_a_requirement_is_refused_naming_it_before_any_solve(monkeypatch):
    """PCS under the ride-through's power: the instant screen names reliability.ride_through (the
    optimizer's elastic diagnosis relaxes site caps, not fixed sizes, so it could not say which)."""
    from bess_size.solvers.errors import InfeasibleError

    site = validate_site(small_spec(), "small-campus", ".")
    rt = site.reliability.ride_through
    need_mw = site.load.peak_mw * rt.load_fraction
    assert need_mw > 2.0
    monkeypatch.setattr("bess_size.scenarios.generate_scenarios", lambda *a, **k: pytest.fail("screen first"))
    d = with_site_defaults(site, Design.model_validate({
        "site": site.name, "bess": {"energy_mwh": 4 * need_mw, "pcs_power_mw": need_mw / 2, "inverters": 100},
        "generation": [{"kind": g.kind, "new_units": 0} for g in site.thermal]}))
    with pytest.raises(InfeasibleError) as err:
        complete_design(site, d)
    msg = str(err.value)
    assert "reliability.ride_through" in msg and f"PCS {need_mw / 2:g} MW" in msg
    assert "numerical problem" not in msg
