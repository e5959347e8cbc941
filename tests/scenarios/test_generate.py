"""generate_scenarios: the two layers, determinism, held-out independence, netCDF, the CLI."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import xarray as xr
import yaml
from click.testing import CliRunner

from bess_size.cli import main
from bess_size.scenarios import ScenarioSet, generate_scenarios, scenario_trace
from bess_size.scenarios.energy_layer import candidate_days, fit_weights
from bess_size.site_spec import validate_site

from .conftest import BASE, make_site


@pytest.fixture(scope="module")
def explicit_site():
    return make_site(**{"grid.events": [
        {"kind": "curtailment", "start_s": 7200, "duration_s": 3600, "occurrences_per_year": 2},
        {"kind": "loss_of_grid", "start_s": 10000, "duration_s": 60}]})


@pytest.fixture(scope="module")
def sset(explicit_site):
    return generate_scenarios(explicit_site)


def test_energy_layer_weights_energy_peak_and_events(explicit_site, sset):
    """Per scenario: weights sum to 365 days; the weighted representative days reproduce the
    synthetic year's energy (to 1e-9) and its peak exactly; 3 sampled curtailment days weighted
    25/3 each (expected occurrences), each with one active event of 1-4 h in whole steps; the explicit
    curtailment is a period of its own with weight 2 and explicit_event = 1."""
    en = sset.energy
    assert en.sizes["scenario"] == 3
    for s in range(3):
        e = en.isel(scenario=s)
        w = e.weight_days_per_year.values
        assert w.sum() == pytest.approx(365.0, abs=1e-9)
        load, _, _, step_s = candidate_days(explicit_site, s)
        year_mwh = load.sum() * step_s / 3600
        rep_mwh = (w * e.load_mw.sum("step").values).sum() * step_s / 3600
        assert rep_mwh == pytest.approx(year_mwh, rel=1e-9)
        assert float(e.load_mw.max()) == pytest.approx(load.max())
        kind = e.period_kind.values
        cur = kind == "curtailment"
        assert cur.sum() == 3 and np.allclose(w[cur], 25 / 3)
        for p in np.flatnonzero(cur):
            active = e.curtailment_phase.values[p] == 2
            # sampled calls lie on the step grid: whole steps, 1-4 h in all
            hours = active.sum() * en.attrs["step_h"]
            assert 1 <= hours <= 4 and np.all(np.diff(np.flatnonzero(active)) == 1)
            assert np.all(e.import_limit_mw.values[p][active] == 80.0)
        ex = kind == "explicit_curtailment"
        assert ex.sum() == 1 and w[ex][0] == 2.0 and e.explicit_event.values[ex][0] == 1
        assert (e.explicit_event.values[~ex] == 0).all()
    assert en.attrs["representation_error_energy_fraction"] < 1e-9
    assert en.attrs["representation_error_peak_fraction"] == 0.0


def test_transient_requirements_match_the_policy_on_the_trace(explicit_site, sset):
    """The screened figures are the POI policy's on the scenario's own trace (recomputed here step by
    step): the import cap is the trace's limit (80 MW firm during the explicit call), pre-ramped in
    the notice as ``notice_cap_mw`` says; with no generation the whole gap above the cap, taken at the
    energy layer's step means, is the energy layer's (its curtailment reserve), not the battery's
    transient: r = n - p - u, u = max(0, m - limit)."""
    from bess_size.scenarios.energy_layer import energy_step_s
    from bess_size.scenarios.poi_policy import (deviation_update, new_poi_state, notice_cap_mw, notice_left_s,
                                                poi_params, poi_step, preramp_mw_per_s)
    from bess_size.scenarios.transient import energy_step_mean

    site = explicit_site
    tr = scenario_trace(site, "optimizer", 1)
    dt = float(tr.attrs["dt_s"])
    net = tr.load_mw.values - tr.pv_mw.values
    limit, phase = tr.import_limit_mw.values, tr.curtailment_phase.values
    left = notice_left_s(phase, dt)
    rho = preramp_mw_per_s(site.grid)
    u = np.maximum(energy_step_mean(net, energy_step_s(site), dt) - limit, 0.0)
    assert u.max() > 0  # the call has a gap no generation carries
    params = poi_params(site)
    state = new_poi_state(params)
    poi, res, dev = (np.empty_like(net) for _ in range(3))
    d = 0.0
    for t in range(net.size):
        cap = notice_cap_mw(limit[t], 80.0, left[t], rho) if phase[t] == 1 else limit[t]
        poi[t] = poi_step(state, params, net[t], cap, d)
        res[t] = net[t] - poi[t] - u[t]
        d = dev[t] = deviation_update(params, d, res[t])
    t = sset.transient.isel(scenario=1)
    assert float(t.discharge_residual_mw) == pytest.approx((tr.load_max_mw.values - tr.pv_mw.values - poi - u).max())
    assert float(t.charge_residual_mw) == pytest.approx(max((-res).max(), (poi + u - tr.load_min_mw.values).max()))
    assert float(t.deficit_mwh) == pytest.approx(-dev.min())
    assert float(t.surplus_mwh) == pytest.approx(dev.max())
    assert float(t.discharge_residual_mw) > float(res.max()) - 1e-9  # within-bin maxima count


def test_windows_allocation_and_explicit_events(sset):
    """Budget 8 windows plus the explicit loss of grid (always kept); one per present kind first."""
    win = sset.windows
    kinds = [str(k) for k in win.kind.values]
    assert win.sizes["tau"] == 300 and float(win.tau[1] - win.tau[0]) == 1.0
    assert (win.explicit.values == 1).sum() == 2  # explicit curtailment and loss of grid
    assert len(kinds) == 8 + 2
    for k in ("loss_of_grid", "voltage_sag", "ramp_up", "ramp_down"):
        assert k in kinds
    log = [i for i, k in enumerate(kinds) if k == "loss_of_grid"]
    for i in log:
        ga = win.grid_available.values[i]
        assert (ga == 0).any()
        assert np.all(win.poi_mw.values[i][ga == 0] == 0.0)


def test_determinism_and_independent_held_out_stream(explicit_site, sset):
    """Same seed -> identical datasets; held-out traces never equal an optimizer trace; another
    seed gives other scenarios."""
    again = generate_scenarios(explicit_site)
    assert again.identical(sset)
    held = generate_scenarios(explicit_site, "held_out")
    assert held.energy.sizes["scenario"] == 2
    opt = [scenario_trace(explicit_site, "optimizer", i).load_mw.values for i in range(3)]
    for j in range(2):
        h = scenario_trace(explicit_site, "held_out", j).load_mw.values
        assert not any(np.array_equal(h, o) for o in opt)
    assert not np.array_equal(held.energy.load_mw.values[0], sset.energy.load_mw.values[0])
    other = generate_scenarios(make_site(**{"scenarios.seed": 8, "scenarios.count": 1}))
    assert not np.array_equal(other.energy.load_mw.values[0], sset.energy.load_mw.values[0])


def test_netcdf_round_trip_is_exact(sset, tmp_path):
    path = tmp_path / "s.nc"
    sset.to_netcdf(path)
    back = ScenarioSet.from_netcdf(path)
    assert back.identical(sset)
    for g in ("energy", "transient", "windows"):
        assert xr.open_dataset(path, group=g, engine="h5netcdf").sizes == getattr(sset, g).sizes


def test_fit_weights_hand_example():
    """Days of 1, 2, 3 MWh with sizes 1, 1, 1: sum 3 days, target 7 MWh (6 with the sizes).
    Minimising sum (w - 1)^2 with sum w = 3, sum w e = 7 moves along (-1, 0, 1)/2: w = (0.5, 1, 1.5)."""
    w = fit_weights(np.ones(3), np.array([1.0, 2.0, 3.0]), 3.0, 7.0)
    np.testing.assert_allclose(w, [0.5, 1.0, 1.5])
    # unreachable target (above every day): sizes only rescaled, the gap stays visible
    np.testing.assert_allclose(fit_weights(np.ones(3), np.array([1.0, 2.0, 3.0]), 3.0, 10.0), [1, 1, 1])


# --------------------------------------------------------------------------- measured traces


def _trace_site(tmp_path, t, v, **over):
    path = tmp_path / "trace.csv"
    np.savetxt(path, np.column_stack([t, v]), delimiter=",", header="time_s,load_mw", comments="")
    data = copy.deepcopy(BASE)
    data["load"]["trace"] = str(path)
    for k, val in over.items():
        node = data
        *p, last = k.split(".")
        for q in p:
            node = node[q]
        node[last] = val
    return validate_site(data, "<test>", tmp_path)


def test_window_selection_finds_a_planted_worst_event(tmp_path):
    """A measured trace with noise, ten 15 MW steps and one planted 60 MW step up at 3000 s and
    one 80 MW drop at 12000 s, on a 140 MW firm import (no non-firm, so no curtailment call caps the
    POI). Under the policy (2 MW/s) the first step leaves a 58 MW residual (load 110, p = 52) and the
    drop a 78 MW charge: the top ramp_up and ramp_down windows hold exactly these moments."""
    rng = np.random.default_rng(0)
    t = np.arange(0, 21600.0)
    v = 50 + rng.normal(0, 0.3, t.size)
    for s in rng.choice(np.arange(14000, 21000, 600), 10, replace=False):
        v[int(s): int(s) + 200] += 15
    v[3000:12000] += 60
    v[12000:14000] -= 20
    s = _trace_site(tmp_path, t, v, **{"grid.firm_import_mw": 140, "grid.nonfirm_import_mw": 0})
    sset = generate_scenarios(s)
    win = sset.windows
    kinds = np.array([str(k) for k in win.kind.values])
    for kind, at, need in (("ramp_up", 3000, 58), ("ramp_down", 12000, 78)):
        idx = np.flatnonzero(kinds == kind)
        top = idx[np.argmax(win.severity.values[idx])]
        assert float(win.event_start_s[top]) == at
        assert float(win.start_s[top]) <= at < float(win.start_s[top]) + 300
        assert float(win.severity[top]) == pytest.approx(need, abs=1.5)
    assert sset.energy.sizes["scenario"] == 1  # as_given: one deterministic scenario


def test_measured_trace_resampling(tmp_path):
    """0.5-s samples alternating 10/20 MW -> 1-s bins: mean 15, min 10, max 20 (coarsening);
    10-s samples -> 1-s bins hold each sample (refining); a 1-hour trace in a 6-hour horizon is
    padded with its end value, never tiled."""
    t = np.arange(0, 3600, 0.5)
    v = np.where(np.arange(t.size) % 2 == 0, 10.0, 20.0)
    v[-2:] = 33.0
    tr = scenario_trace(_trace_site(tmp_path, t, v))
    assert np.allclose(tr.load_mw.values[:3598], 15.0)
    assert np.allclose(tr.load_min_mw.values[:3598], 10.0) and np.allclose(tr.load_max_mw.values[:3598], 20.0)
    assert np.all(tr.load_mw.values[3599:] == 33.0)  # padded with the end value
    t10 = np.arange(0, 21600, 10.0)
    v10 = np.arange(t10.size, dtype=float)
    tr10 = scenario_trace(_trace_site(tmp_path, t10, v10))
    np.testing.assert_array_equal(tr10.load_mw.values, np.repeat(v10, 10))


def test_bootstrap_blocks_are_contiguous_pieces_of_the_trace(tmp_path):
    """A ramp trace (slope 0.001 MW/s) bootstrapped: inside every one-hour block consecutive bins
    differ by exactly 0.001 MW, block starts are drawn per scenario, scenarios differ."""
    t = np.arange(0, 4 * 86400, 60.0)
    v = 10 + 0.001 * t
    s = _trace_site(tmp_path, t, v, **{"load.trace_mode": "bootstrap"})
    a = scenario_trace(s, "optimizer", 0).load_mw.values
    b = scenario_trace(s, "optimizer", 1).load_mw.values
    assert not np.array_equal(a, b)
    d = np.diff(a)
    jumps = np.flatnonzero(~np.isclose(d, 0.0) & ~np.isclose(d, 0.06))  # 60-s samples held: 0 or a step
    assert set((jumps + 1) % 3600) <= {0}  # discontinuities only at block borders
    assert v.min() - 1e-9 <= a.min() and a.max() <= v.max() + 1e-9


# --------------------------------------------------------------------------- CLI


def _cli(*args):
    runner = CliRunner()
    with runner.isolation(color=False) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_cli_writes_file_and_plot_and_rejects_bad_input(tmp_path):
    data = copy.deepcopy(BASE)
    data["scenarios"]["count"] = 2
    spec = tmp_path / "site.yaml"
    spec.write_text(yaml.safe_dump(data))
    code, out, err = _cli("scenarios", str(spec), "-o", str(tmp_path / "s.nc"), "--plot", str(tmp_path / "s.png"), "--json")
    assert code == 0, err
    assert ScenarioSet.from_netcdf(tmp_path / "s.nc").energy.sizes["scenario"] == 2
    assert (tmp_path / "s.png").stat().st_size > 10_000
    assert '"scenarios": 2' in out and "windows" in err
    data["load"]["it_capacity_mw"] = -5
    spec.write_text(yaml.safe_dump(data))
    code, out, err = _cli("scenarios", str(spec), "-o", str(tmp_path / "bad.nc"))
    assert code == 2 and "load.it_capacity_mw" in err and "Traceback" not in err
    assert not (tmp_path / "bad.nc").exists()
