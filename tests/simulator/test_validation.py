"""simulate(): checks per requirement over hand-made held-out traces; undersized designs fail the
right check; validation.json and timeseries.nc have the contract's shape.

The sites set ``target_success_rate`` to 0.5 so four traces can prove it (4/4 gives a Wilson
lower bound of 4 / (4 + 1.96^2) = 0.51).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from bess_size.simulator import simulate

from .helpers import make_design, make_site, make_trace

N = 1800


def site_():
    return make_site(reliability={"target_success_rate": 0.5, "ride_through": {"duration_s": 30, "load_fraction": 1.0},
                                  "islanding": {"required": True}})


def traces(swing_mw=0.0, outage_s=0, seed=0, n_traces=4):
    """Load 50 MW with a square swing of +-swing_mw (period 20 s); optionally a loss of grid at
    t = 600 s (a sampled contingency) and a one-second sag at t = 1500 s."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_traces):
        t = np.arange(N)
        load = 50 + swing_mw * np.sign(np.sin(2 * np.pi * (t + rng.integers(0, 20)) / 20)) + rng.normal(0, 0.2, N)
        grid = np.ones(N, np.int8)
        events = []
        if outage_s:
            grid[600:600 + outage_s] = 0
            grid[1500] = 0
            events = [{"kind": "loss_of_grid", "start_s": 600.0, "duration_s": float(outage_s), "source": "contingency"},
                      {"kind": "voltage_sag", "start_s": 1500.0, "duration_s": 1.0, "source": "contingency",
                       "dips": [[1500.0, 0.3]]}]
        out.append(make_trace(load, grid=grid, events=events, index=i))
    return out


def by_name(v):
    return {c.requirement: c for c in v.checks}


def test_adequate_design_passes_everything():
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=6)
    v = simulate(site, design, held_out=traces(swing_mw=5.0, outage_s=200))
    failed = [c.requirement for c in v.checks if not c.passed]
    assert failed == [], failed
    assert v.passed
    checks = by_name(v)
    assert {"poi_ramp_limit", "poi_ramp_limit_per_min", "import_limit", "ride_through",
            "voltage_sag_ride_through", "islanding", "unserved_energy", "soc_bands", "reactive_power"} <= set(checks)
    # no PV: nothing can export, so the check is not applicable (never a PASS it could not lose)
    assert "no_export" not in checks and "no_export" in v.not_applicable
    assert checks["poi_ramp_limit"].measured <= 2.0 + 1e-6
    # stress state: engines cold, the battery alone carries the 50 MW load and its +-5 MW swing
    rt = checks["ride_through"]
    assert rt.state == "stress" and rt.comparator == "<=" and rt.margin > 0
    assert rt.detail["power_needed_mw"] == pytest.approx(55.0, abs=1.0)
    assert rt.detail["natural"]["successes"] == 4
    assert "carry 100% of the load for the first 30 s" in rt.description  # a share, not "carry 1 of the load"


def test_undersized_pcs_fails_the_ramp_checks_only():
    """+-10 MW swings every 10 s need ~10 MW of PCS; 2 MW cannot hold the POI ramp."""
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=2.0, units=6)
    v = simulate(site, design, held_out=traces(swing_mw=10.0))
    failed = sorted(c.requirement for c in v.checks if not c.passed)
    # the swing's peak-to-peak (20 MW) is about the per-minute allowance: that rule may or may not
    # break, the one-second rule must, and nothing else
    assert "poi_ramp_limit" in failed and set(failed) <= {"poi_ramp_limit", "poi_ramp_limit_per_min"}
    c = by_name(v)["poi_ramp_limit"]
    assert c.measured > 2.0 and c.success_rate == 0.0 and c.failed_scenarios == [0, 1, 2, 3]
    assert c.detail["violation_causes_steps"]["power"] > 0 and c.detail["violation_causes_steps"]["none"] == 0
    assert v.results["poi_ramp_violation_mw_s_per_year"] > 0
    assert "ride_through" in v.not_exercised  # no outage in these traces


def test_c_rate_caps_a_small_battery_behind_a_large_pcs():
    """0.5 MWh behind a 70 MW PCS: at bess.max_c_rate 2 the cells give 1 MW, not 70; 30 s of the
    ~50 MW load cannot be carried, and ride_through says so by power (50+ MW needed > 1 MW)."""
    site = site_()
    design = make_design(site, energy_mwh=0.5, pcs_mw=70.0, units=6, rt=0.3, up=0.01, cu=0.01, dn=0.01)
    v = simulate(site, design, held_out=traces(outage_s=200))
    checks = by_name(v)
    rt = checks["ride_through"]
    assert rt.status == "fail" and rt.unit == "MW" and rt.margin < -40
    assert rt.limit == pytest.approx(1.0) and rt.detail["power_available_mw"] == pytest.approx(1.0)
    assert not checks["islanding"].passed and not checks["unserved_energy"].passed
    assert checks["poi_ramp_limit"].passed


def test_small_ride_through_reserve_fails_in_the_stress_state_only():
    """30 s of ~50 MW (55 MW at the swing's top) is about 50 x 30 / 3600 / 0.92 = 0.45 MWh stored. A
    40 MWh battery whose ride-through reserve is 0.2 MWh starts the stress replay at F + 0.2 MWh with
    cold engines: it runs dry after ~14 s (fail, energy binds: ~0.44 MWh needed > 0.2 MWh). The
    natural replay starts mid-band with MWh to spare and passes: the check judges the stress state."""
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=6, rt=0.2)
    v = simulate(site, design, held_out=traces(outage_s=200))
    rt = by_name(v)["ride_through"]
    assert rt.status == "fail" and rt.state == "stress"
    assert rt.unit == "MWh" and rt.limit == pytest.approx(0.2)
    assert rt.measured == pytest.approx(50 * 30 / 3600 / 0.92, rel=0.05) and rt.margin < 0
    assert rt.detail["natural"]["successes"] == rt.detail["natural"]["scenarios"] == 4


def test_islanding_without_generation_fails_islanding_not_ride_through():
    """A 30 MWh battery (60 MW at C-rate 2) carries 30 s easily from its 5 MWh reserve, but with no
    engines it runs dry in a 900 s outage (~12.5 MWh of load)."""
    site = site_()
    design = make_design(site, energy_mwh=30.0, pcs_mw=60.0, units=0, rt=5.0, up=0.5, cu=0.5, dn=0.5)
    v = simulate(site, design, held_out=traces(outage_s=900))
    checks = by_name(v)
    assert checks["ride_through"].passed
    isl = checks["islanding"]
    # stress: from F + 5 MWh, ~50 MW for 900 s (no flexible load to shed) leaves ~7.5 MWh
    # (x 1/0.92 from the cells) short; the natural replay, from mid-band, runs short too but less
    assert isl.status == "fail" and isl.comparator == ">=" and isl.measured < -5
    assert isl.detail["natural"]["margin_mwh"] > isl.measured


def test_validation_json_and_timeseries(tmp_path):
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=6)
    v = simulate(site, design, held_out=traces(swing_mw=5.0, outage_s=200))
    d = json.loads(v.to_json())
    for key in ("design", "held_out_scenarios", "target_success_rate", "checks", "passed", "results",
                "promises_vs_results"):
        assert key in d
    assert d["held_out_scenarios"] == 4 and d["passed"] is True
    assert all(c["evidence"].startswith("report.html#") for c in d["checks"])
    pvr = {r["key"]: r for r in d["promises_vs_results"]}
    assert pvr["unserved_energy_mwh_per_year"]["promised"] == 0.0
    assert pvr["unserved_energy_mwh_per_year"]["simulated"] == 0.0
    path = tmp_path / "timeseries.nc"
    v.write_timeseries(path)
    w = xr.open_dataset(path, group="windows", engine="h5netcdf")
    h = xr.open_dataset(path, group="hourly", engine="h5netcdf")
    r = xr.open_dataset(path, group="poi_ramp", engine="h5netcdf")
    assert "loss_of_grid" in list(w["kind"].values)
    assert {"load_mw", "poi_mw", "bess_mw", "soc_fraction", "unserved_mw"} <= set(w.data_vars)
    assert h.sizes["scenario"] == 4 and h.sizes["hour"] == 1
    # the histogram holds every connected second of every trace
    assert float(r["seconds"].sum()) == pytest.approx(4 * (N - 201))
    assert path.stat().st_size < 2_000_000
    df = v.to_dataframe()
    assert {"poi_ramp_limit", "poi_ramp_limit_per_min", "sub_step_buffering"} <= set(df["requirement"])


def test_replay_is_deterministic():
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=6)
    a = simulate(site, design, held_out=traces(swing_mw=5.0, outage_s=200)).to_json()
    b = simulate(site, design, held_out=traces(swing_mw=5.0, outage_s=200)).to_json()
    assert a == b


def test_explicit_events_are_annualized_at_their_occurrences():
    """An explicit loss of grid (300 s, twice a year) that no engine covers leaves unserved energy
    u in every trace; the annual figure is 2 u, not u x 365 / trace_days."""
    site = make_site(reliability={"target_success_rate": 0.5, "islanding": {"required": True}},
                     grid={"events": [{"kind": "loss_of_grid", "start_s": 600, "duration_s": 300,
                                       "occurrences_per_year": 2}]})
    design = make_design(site, energy_mwh=2.0, pcs_mw=70.0, units=0, rt=1.0, up=0.05, cu=0.05, dn=0.05)
    ts = []
    for i in range(2):
        grid = np.ones(N, np.int8)
        grid[600:900] = 0
        ts.append(make_trace(np.full(N, 50.0), grid=grid, index=i,
                             events=[{"kind": "loss_of_grid", "start_s": 600.0, "duration_s": 300.0,
                                      "source": "explicit"}]))
    v = simulate(site, design, held_out=ts)
    u = np.mean([r["unserved_mwh"] for r in v.scenarios])
    assert u > 0
    assert v.results["unserved_energy_mwh_per_year"] == pytest.approx(2 * u, rel=1e-9)
    assert not by_name(v)["islanding"].passed


# --------------------------------------------------------------------------- curtailment response

CALL = {"kind": "curtailment", "start_s": 1800.0, "duration_s": 600.0, "notice_s": 1200.0, "recovery_s": 600.0,
        "source": "contingency"}


def curtailment_traces(n_traces=4, load_mw=80.0):
    """Flat load above the 60 MW firm import; a contingency call: notice on [600, 1800) s, active
    on [1800, 2400) s (import limit 60 MW instead of 120), recovery on [2400, 3000) s."""
    n = 3600
    phase = np.zeros(n, np.int8)
    phase[600:1800], phase[1800:2400], phase[2400:3000] = 1, 2, 3
    limit = np.where(phase == 2, 60.0, 120.0)
    return [make_trace(np.full(n, load_mw), limit_mw=limit, phase=phase, events=[dict(CALL)], index=i)
            for i in range(n_traces)]


def curtail_site():
    return make_site(reliability={"target_success_rate": 0.5, "islanding": {"required": True}},
                     grid={"curtailment": {"notice_min": 20, "events_per_year": 25}})


def test_curtailment_response_adequate_design_passes():
    """20 MW above firm for 600 s is 3.33 MWh AC (3.62 MWh stored at eta_dis 0.92); a 40 MWh battery
    with an 8 MWh curtailment reserve and no engines carries it: every check passes."""
    site = curtail_site()
    v = simulate(site, make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=0), held_out=curtailment_traces())
    assert [c.requirement for c in v.checks if not c.passed] == []
    c = by_name(v)["curtailment_response"]
    assert c.scenarios == 4 and c.successes == 4 and c.measured == 0.0
    assert c.evidence == "report.html#curtailment" and c.unit == "MW" and c.limit == 0.0
    assert all(r["curtailment_response_unserved_mwh"] == 0.0 for r in v.scenarios)


def test_curtailment_response_small_reserve_fails():
    """A 6 MWh battery keeps F = 0.3 MWh and a 1 MWh ride-through reserve; above it at most
    F + U - (F + 1) = 4.32 - 1 = 3.32 MWh is stored, and the operating band starts it lower
    (setpoint mid-band, about 3.2 MWh stored, 1.9 MWh above the reserve): less than the 3.62 MWh
    the call needs, so the import must rise above firm before the call ends. The same excess is an
    import-limit violation; nothing unrelated to the call may fail."""
    site = curtail_site()
    design = make_design(site, energy_mwh=6.0, pcs_mw=70.0, units=0, rt=1.0, up=0.2, cu=0.5, dn=0.2)
    v = simulate(site, design, held_out=curtailment_traces())
    checks = by_name(v)
    c = checks["curtailment_response"]
    assert not c.passed and c.successes == 0 and c.failed_scenarios == [0, 1, 2, 3]
    # once the battery is down to its ride-through reserve the whole 80 - 60 = 20 MW comes in at the POI
    assert c.measured == pytest.approx(20.0, abs=1e-6)
    assert all(r["stored_min_mwh"] == pytest.approx(1.3) for r in v.scenarios)  # F + rt: the reserve held
    failed = {x.requirement for x in v.checks if not x.passed}
    assert "curtailment_response" in failed
    # the battery pinned at the ride-through reserve's top is also a band edge holding it back (soc_bands)
    assert failed <= {"curtailment_response", "import_limit", "poi_ramp_limit", "poi_ramp_limit_per_min",
                      "soc_bands"}, failed
    assert checks["unserved_energy"].passed
    # the reserve held (stored energy never below F + rt), but the controller wanted to go lower:
    # soc_bands shows how far below the ride-through reserve's top it would have drawn
    assert checks["soc_bands"].status == "fail" and checks["soc_bands"].measured < 0


def test_curtailment_response_absent_without_nonfirm_and_not_exercised_without_a_call():
    site = make_site(reliability={"target_success_rate": 0.5}, grid={"firm_import_mw": 120, "nonfirm_import_mw": 0})
    v = simulate(site, make_design(site), held_out=traces())
    assert "curtailment_response" not in by_name(v) and "curtailment_response" not in v.not_exercised
    site = curtail_site()
    v = simulate(site, make_design(site), held_out=traces())
    assert "curtailment_response" in v.not_exercised


def test_contingency_curtailment_is_annualized_at_its_natural_rate():
    """Engines (fuel 80 USD/MWh above the 60 USD/MWh price) run only for the call: the replay
    without the call generates nothing, so the call's part is the trace's whole generation g and
    fuel 80 g. Counted 25 times a year: generation 25 g and fuel 25 x 80 g, not 365 / d x g
    (d = 1/24 day: 8760 g)."""
    site = curtail_site()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=3, cu=0.5)
    v = simulate(site, design, held_out=curtailment_traces())
    g = float(np.mean([r["generation_mwh"] for r in v.scenarios]))
    assert g > 1.0
    for r in v.scenarios:
        assert r["contingency_curtailment_generation_mwh"] == pytest.approx(r["generation_mwh"], rel=1e-12)
    assert v.results["generation_mwh_per_year"] == pytest.approx(25 * g, rel=1e-9)
    assert v.results["fuel_cost_usd_per_year"] == pytest.approx(25 * 80 * g, rel=1e-9)
    starts = float(np.mean([r["generator_starts"] for r in v.scenarios]))
    assert starts > 0 and v.results["generator_starts_per_year"] == pytest.approx(25 * starts, rel=1e-9)


def test_annual_figures_count_a_contingency_at_its_natural_rate():
    """Each 1800 s trace carries one contingency loss of grid (200 s) in which all 6 engines start;
    nothing else starts them. A trace is 1/48 day, so counting it 365 x 48 times a year would give
    6 x 17520 starts; at its natural rate (grid.loss_of_grid.events_per_year, 0.5 by default) it is
    6 x 0.5 = 3 starts a year."""
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=6)
    v = simulate(site, design, held_out=traces(outage_s=200))
    assert all(r["generator_starts"] == 6 for r in v.scenarios)
    assert v.results["generator_starts_per_year"] == pytest.approx(6 * site.grid.loss_of_grid.events_per_year)


def test_promises_far_from_the_replay_are_flagged_with_a_cause():
    site = site_()
    design = make_design(site, energy_mwh=40.0, pcs_mw=70.0, units=6)
    v = simulate(site, design, held_out=traces(swing_mw=5.0))
    got = v.results["bess_throughput_mwh_per_year"]
    v.design.promises.update(bess_throughput_mwh_per_year=got / 2, grid_import_mwh_per_year=v.results["grid_import_mwh_per_year"] * 1.1)
    rows = {r["key"]: r for r in v.promises_vs_results()}
    tp, imp = rows["bess_throughput_mwh_per_year"], rows["grid_import_mwh_per_year"]
    assert tp["ratio"] == pytest.approx(2.0) and tp["flag"].startswith("cycling")
    assert imp["ratio"] == pytest.approx(1 / 1.1) and imp["flag"] is None  # within 25 %


def test_an_import_gap_on_a_demand_charged_site_names_the_demand_charges():
    """campus-300mw-phased: the optimizer ran its engines at 45 USD/MWh (fuel 49) to keep each month's
    peak import at 0 under demand charges of 4,500-9,000 USD/MW-month; the replay's controller runs
    them only where fuel is cheaper than the price, so it imported 13.6 x the promise. A site with
    demand charges and units gets that cause; one without keeps the generic dispatch cause."""
    from bess_size.simulator.validation import _DISPATCH, Validation, _demand_charged_units

    charged = make_site(grid={"demand_charge_usd_per_mw_month": 9000})
    plain = make_site()
    assert _demand_charged_units(charged, make_design(charged, units=3))
    assert not _demand_charged_units(charged, make_design(charged, units=0))
    assert not _demand_charged_units(plain, make_design(plain, units=3))
    design = make_design(charged, units=3)
    design.promises = {"grid_import_mwh_per_year": 63353.0, "generation_mwh_per_year": 2350336.0}
    results = {"grid_import_mwh_per_year": 863098.0, "generation_mwh_per_year": 1534040.0}
    for flagged, start in ((True, "demand charges:"), (False, "dispatch:")):
        rows = Validation("s", design, [], results, [], {}, 0.95, 1.0, demand_charged_units=flagged).promises_vs_results()
        assert all(r["flag"].startswith(start) for r in rows)
    assert _DISPATCH in rows[0]["flag"]
