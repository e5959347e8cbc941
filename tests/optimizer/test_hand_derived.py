"""The optimizer against closed-form sizing (issue 4, point 6), through the whole front end:
a measured trace (``load.trace``, held between its points) and explicit ``grid.events`` go through
``generate_scenarios`` (the shared POI policy screens the trace, the energy layer keeps the event
day as a period of its own), then ``optimize``.

Each test states its derivation and which limit binds. Continuous figures are asserted to 0.5%,
integers exactly. Unless a test says otherwise the site has: efficiencies 0.94/0.94, SoC 5-95%,
end of life 0.8 (so the bands' usable span is U = 0.8 x 0.9 E = 0.72 E), inverters of 4.2 MVA at
no cost, power factors 1 (no reactive power), max C-rate 20 (not binding), no generation, a flat
60 USD/MWh price, an import limit far above the load, no POI smoothing, one scenario of one day.

The POI policy is discrete (1 s steps, and it answers a step within the same second), so a ramp
triangle sums to sum_{k=1}^{n} (dP - r k) = n dP - r n (n + 1) / 2 instead of dP^2 / (2 r): for
150 MW at 0.5 MW/s, 22,425 MW s instead of 22,500 (0.33% less) and a largest residual of 149.5 MW
instead of 150. The closed forms below are the continuous ones; the 0.5% tolerance covers that.
"""

from __future__ import annotations

import math

import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.solvers.errors import InfeasibleError

ETA = 0.94
UF = 0.8 * 0.9  # usable fraction of nameplate at end of life
DAY = 86400


def close(a, b, rel=0.005):
    return a == pytest.approx(b, rel=rel, abs=1e-6)


def flat(load_mw):
    return [(0, load_mw), (DAY - 1, load_mw)]


def solve_site(site, **kw):
    return optimize(site, generate_scenarios(site), **kw)


def test_load_step_under_ramp_limit(make_trace_site):
    """A 150 MW load step at a POI ramp limit of 0.5 MW/s (datasheet U1), no generation.

    The POI ramps 0 -> 150 MW over 150 / 0.5 = 300 s while the battery covers the rest: the largest
    residual is the whole step, 150 MW, and the energy is the ramp triangle 150 x 300 / 2 =
    22,500 MW s = 6.25 MWh at the terminals, 6.25 / 0.94 = 6.649 MWh stored (the screening's
    deficit). So R_up = P = 150 MW (the PCS headroom binds), X_up = 6.649 MWh, and E = X_up / 0.72
    = 9.235 MWh (the band binds: the C-rate needs only 150 / 20 = 7.5 MWh); N_inv = ceil(150 / 4.2) = 36.
    """
    site = make_trace_site([(0, 100), (DAY / 2, 250), (DAY - 1, 250)],
                           {"grid": {"ramp_limit_mw_per_s": 0.5, "ramp_limit_mw_per_min": 30}})
    b = solve_site(site).design.bess
    assert close(b.pcs_power_mw, 150.0)
    assert close(b.headroom_mw.up, 150.0)
    assert close(b.bands_mwh.up_ramp_buffer, 6.25 / ETA)
    assert close(b.energy_mwh, 6.25 / ETA / UF)
    assert b.inverters == 36


def test_load_drop_down_ramp_headroom(make_trace_site):
    """A 150 MW load drop (a job stall) at 0.5 MW/s: the mirror of the step.

    The battery absorbs the 150 MW residual and the triangle's 6.25 MWh at the terminals, stored
    at 0.94: 5.875 MWh (the screening's surplus). R_dn = P = 150 MW, X_dn = 5.875 MWh at the top of
    the band stack, E = 5.875 / 0.72 = 8.160 MWh. The up side only sees the policy returning the
    stored energy to its setpoint afterwards (a few tens of MW, not the drop).
    """
    site = make_trace_site([(0, 250), (DAY / 2, 100), (DAY - 1, 100)],
                           {"grid": {"ramp_limit_mw_per_s": 0.5, "ramp_limit_mw_per_min": 30}})
    b = solve_site(site).design.bess
    assert close(b.pcs_power_mw, 150.0)
    assert close(b.headroom_mw.down, 150.0)
    # after the drop the POI undershoots to bring the stored energy back: a small discharge
    assert b.headroom_mw.up < 0.25 * 150
    assert close(b.bands_mwh.down_ramp_headroom, 6.25 * ETA)
    assert close(b.energy_mwh, 6.25 * ETA / UF)
    # the operating band ends where the down-ramp headroom starts: F + U - X_dn
    assert b.bands_mwh.operating[1] == pytest.approx(
        0.05 * b.energy_mwh + UF * b.energy_mwh - b.bands_mwh.down_ramp_headroom, abs=1e-5)


def test_ride_through_of_a_given_load(make_trace_site):
    """Ride through 120 MW for 600 s after a loss of grid (a 700 s outage), no generation.

    The BESS carries the whole load for duration_s (72,000 MW s); the design outage then ends and
    import returns at reconnect_ramp_mw_per_min = 20 MW/min = 1/3 MW/s, the battery carrying the
    rest: sum_{b=1}^{359} (120 - b/3) = 43,080 - 21,540 = 21,540 MW s. P = 120 MW,
    X_rt = 93,540 / 3600 / 0.94 = 27.642 MWh stored, E = X_rt / 0.72 = 38.39 MWh (the C-rate asks
    only 120 / 20 = 6 MWh). The sampled outage's last 100 s lie beyond the ride-through time: that
    load is dropped and comes back with import, so its window asks less.
    """
    site = make_trace_site(flat(120), {"grid": {"loss_of_grid": {"duration_s": 700}},
                                       "reliability": {"ride_through": {"duration_s": 600, "load_fraction": 1.0}}})
    res = solve_site(site)
    # the design contingency at peak load plus the trace's sampled loss of grid and sag sequence
    assert res.model_stats["windows"] == 3
    b = res.design.bess
    x_rt = (120 * 600 + 359 * 120 - 359 * 360 / 2 / 3) / 3600 / ETA
    assert close(b.pcs_power_mw, 120.0)
    assert close(b.bands_mwh.ride_through_reserve, x_rt)
    assert close(b.energy_mwh, x_rt / UF)
    assert b.inverters == math.ceil(120 / 4.2)  # 28.57 -> 29
    assert close(res.design.promises["ride_through_mw"], 120.0)


def test_inverter_count_from_real_and_reactive_power(make_trace_site):
    """100 MW of ride-through at a load power factor of 0.8, the POI allowed no reactive power.

    Q = 100 tan(acos 0.8) = 75 Mvar both grid-connected (the POI carries none) and islanded, so the
    inverters must cover S = 125 MVA. Polygon: N x 4.2 cos(pi/64) >= max_k (100 cos th_k + 75 sin th_k),
    th_k = (2k+1) pi/64; the nearest facet (36.5625 deg) is 0.31 deg from the point's 36.87 deg, so
    the right side is 125 cos(0.31 deg) = 124.998 and N >= 124.998 / 4.1949 = 29.80 -> 30. The exact
    circle gives 125 / 4.2 = 29.76 -> 30 as well; the crude P + Q would give 175 / 4.2 -> 42.
    """
    site = make_trace_site(flat(100), {"load": {"power_factor": 0.8}, "grid": {"loss_of_grid": {"duration_s": 60}},
                                       "reliability": {"ride_through": {"duration_s": 30, "load_fraction": 1.0}}})
    b = solve_site(site).design.bess
    assert close(b.pcs_power_mw, 100.0)
    th = [(2 * k + 1) * math.pi / 64 for k in range(16)]
    need = max(100 * math.cos(t) + 75 * math.sin(t) for t in th) / (4.2 * math.cos(math.pi / 64))
    assert 29 < need < 30
    assert b.inverters == 30


CURTAILED = {"grid": {"firm_import_mw": 200, "nonfirm_import_mw": 800,
                     "events": [{"kind": "curtailment", "start_s": 36000, "duration_s": 7200,
                                 "occurrences_per_year": 1}]}}


def curtailment_site(make_trace_site, extra=None):
    """Load 250 MW flat; an explicit curtailment 10:00-12:00 (hard, once a year) to the 200 MW firm
    import, no notice, 6 h recovery; otherwise 1000 MW may be imported."""
    over = {k: dict(v) for k, v in CURTAILED.items()}
    for k, v in (extra or {}).items():
        over[k] = {**over.get(k, {}), **v} if isinstance(v, dict) else v
    return make_trace_site(flat(250), over)


def test_curtailment_event_without_generation(make_trace_site):
    """A 2 h curtailment 50 MW deep (250 MW load, 200 MW firm), no notice, no generation, hard.

    The battery delivers 50 MW for 2 h: P = 50 MW, 100 MWh at the terminals, 100 / 0.94 = 106.38 MWh
    stored, all of it from the curtailment reserve (no notice to charge in): X_cu = 106.38 MWh and
    E = 106.38 / 0.72 = 147.75 MWh (the band stack binds; C-rate needs 2.5 MWh).
    """
    res = solve_site(curtailment_site(make_trace_site))
    b = res.design.bess
    assert close(b.pcs_power_mw, 50.0)
    assert close(b.bands_mwh.curtailment_reserve, 100 / ETA)
    assert close(b.energy_mwh, 100 / ETA / UF)
    assert res.design.promises["unserved_energy_mwh_per_year"] == pytest.approx(0.0, abs=1e-6)
    # the objective is the decision: total annualized cost minus the grid-only bill, which is
    # 250 MW x 60 USD/MWh x 24 h x 365 days (364 ordinary days + the event day) = 131.4 M USD
    cost = res.design.cost
    assert cost.grid_only_bill_usd == pytest.approx(250 * 60 * 24 * 365, rel=1e-9)
    assert cost.total_annualized_usd == pytest.approx(cost.annualized_capex_usd + cost.expected_annual_opex_usd, abs=0.02)
    assert cost.breakdown["decision_objective_usd"] == pytest.approx(cost.total_annualized_usd - cost.grid_only_bill_usd,
                                                                     abs=0.02)
    # the solver's objective is that decision (plus the reserves' 1 USD/MWh tie-break: 106 USD)
    assert res.model_stats["objective_usd"] == pytest.approx(cost.breakdown["decision_objective_usd"] + 106.4, abs=1.0)
    # capex: CRF(8%, 15 y) = 0.11683 x (147.75 MWh x 200k + 50 MW x 60k) = 3.80 M USD/year
    crf = 0.08 * 1.08 ** 15 / (1.08 ** 15 - 1)
    assert cost.annualized_capex_usd == pytest.approx(crf * (100 / ETA / UF * 200_000 + 50 * 60_000), rel=0.005)


def test_curtailment_event_with_a_cheap_gas_engine(make_trace_site):
    """The same event with one 30 MW gas engine allowed at 100k USD/MW (fuel 80 > price 60, so it
    runs only when needed).

    The engine (3 M USD) is far cheaper than the battery it saves, so it is built. The energy layer
    lets it carry 30 MW of the 50 MW gap from the call's start; the other 20 MW are the curtailment
    reserve's: X_cu = 20 x 2 h / 0.94 = 42.55 MWh. The call has no notice and the engine is cold when
    it comes (the call's stress state): ordered at the call's first second, it syncs 300 s later and
    ramps at 0.5 MW/s to 30 MW in 60 s. That bridge is the transient screening's, in the up-ramp
    buffer (not counted in X_cu again):
    X_up = (30 x 300 + sum_{k=1}^{60} (30 - 0.5 k)) / 3600 / 0.94 = (9,000 + 885) / 3384 = 2.921 MWh.
    P = 20 (the energy layer's draw) + 30 (the bridge's headroom) = 50 MW and
    E = (42.55 + 2.92) / 0.72 = 63.15 MWh (from 147.75 without the engine; counting the engine from
    the call's first second, as if warm, would give X_up = 0, and the replay would import 30 MW over
    firm for the engine's first 300 s).
    """
    engine = {"kind": "gas_engine", "unit_mw": 30, "existing_units": 0, "max_new_units": 1,
              "capex_usd_per_mw": 100_000, "fuel_usd_per_mwh": 80, "start_cost_usd": 0,
              "min_load_fraction": 0.3, "ramp_mw_per_s": 0.5, "start_time_s": 300}
    res = solve_site(curtailment_site(make_trace_site, {"generation": [engine]}))
    b = res.design.bess
    x_cu = 20 * 2 / ETA
    x_up = (30 * 300 + 30 * 60 - 0.5 * 60 * 61 / 2) / 3600 / ETA
    assert res.design.generation[0].new_units == 1
    assert close(b.pcs_power_mw, 50.0)
    assert close(b.bands_mwh.curtailment_reserve, x_cu)
    assert close(b.bands_mwh.up_ramp_buffer, x_up)
    assert close(b.energy_mwh, (x_cu + x_up) / UF)


def test_containers_round_up(make_trace_site):
    """The curtailment event with 20 MWh containers: 147.75 MWh needs ceil(147.75 / 20) = 8
    containers, E = 160 MWh; the reserve stays at what the event needs, 106.38 MWh."""
    b = solve_site(curtailment_site(make_trace_site, {"bess": {"container_mwh": 20}})).design.bess
    assert b.containers == 8
    assert b.energy_mwh == pytest.approx(160.0, abs=1e-9)
    assert close(b.bands_mwh.curtailment_reserve, 100 / ETA)


def test_c_rate_binds(make_trace_site):
    """Ride-through of 120 MW for 30 s at max_c_rate 2, then the reconnection at 1/3 MW/s
    (sum_{b=1}^{359} (120 - b/3) = 21,540 MW s): X_rt = (3,600 + 21,540) / 3600 / 0.94 = 7.429 MWh
    would need only 10.3 MWh of nameplate, but P = 120 MW needs E >= 120 / 2 = 60 MWh: the C-rate binds."""
    site = make_trace_site(flat(120), {"bess": {"max_c_rate": 2.0}, "grid": {"loss_of_grid": {"duration_s": 60}},
                                       "reliability": {"ride_through": {"duration_s": 30, "load_fraction": 1.0}}})
    b = solve_site(site).design.bess
    assert close(b.pcs_power_mw, 120.0)
    assert close(b.energy_mwh, 60.0)
    assert close(b.bands_mwh.ride_through_reserve, (120 * 30 + 21540) / 3600 / ETA)


def test_soc_window_binds(make_trace_site):
    """The curtailment event with SoC 20-80% and no fading (end_of_life 1.0): U = 0.6 E, so
    E = 106.38 / 0.6 = 177.3 MWh; the operating band is empty (X_cu fills U)."""
    site = curtailment_site(make_trace_site, {"bess": {"soc_min_fraction": 0.2, "soc_max_fraction": 0.8,
                                                        "end_of_life_fraction": 1.0}})
    b = solve_site(site).design.bess
    assert close(b.energy_mwh, 100 / ETA / 0.6)
    lo, hi = b.bands_fraction.operating
    assert lo == pytest.approx(0.8, abs=1e-4) and hi == pytest.approx(0.8, abs=1e-4)


def test_infeasible_site_names_requirement_and_field(make_trace_site):
    """Ride-through of a 345 MW load needs 345 MW of PCS; bess.max_power_mw = 300 cannot give it.
    The diagnosis (elastic re-solve) must say so in the site's terms."""
    site = make_trace_site(flat(345), {"bess": {"max_power_mw": 300}, "grid": {"loss_of_grid": {"duration_s": 60}},
                                       "reliability": {"ride_through": {"duration_s": 30, "load_fraction": 1.0}}})
    with pytest.raises(InfeasibleError) as err:
        solve_site(site)
    msg = str(err.value)
    assert "ride-through" in msg
    assert "needs 345.0 MW of PCS but bess.max_power_mw is 300" in msg


def test_strict_dispatch_gives_the_same_design(make_trace_site):
    """Where simultaneous charge and discharge is never optimal (losses cost energy), binary
    exclusivity changes nothing: the curtailment design again, P = 50 MW, E = 147.75 MWh."""
    site = curtailment_site(make_trace_site)
    sc = generate_scenarios(site)
    default = optimize(site, sc).design.bess
    strict = optimize(site, sc, strict_dispatch=True)
    assert strict.model_stats["integers"] > 48  # a binary per step, plus the inverter count
    b = strict.design.bess
    assert close(b.pcs_power_mw, default.pcs_power_mw)
    assert close(b.energy_mwh, default.energy_mwh)
    assert b.inverters == default.inverters


def test_notice_charging_is_not_credited_against_the_curtailment_reserve(make_trace_site):
    """The curtailment event announced 60 min ahead (phase 1 during hour 9).

    The replay's controller does not charge for a call in its notice, so the energy layer credits
    no charging in it: the call's draw is measured from its start, and the event still needs
    X_cu = 106.38 MWh stored, E = 106.38 / 0.72 = 147.75 MWh, P = 50 MW (the event's depth), as
    without notice. Crediting the notice (up to 0.94 x P x 1 h = 47 MWh charged in it) would have
    promised X_cu = 59.38 MWh, which a battery announced the call at that reserve's top cannot serve.
    """
    site = curtailment_site(make_trace_site, {"grid": {"curtailment": {"events_per_year": 0, "notice_min": 60,
                                                                       "recovery_h": 6}}})
    sc = generate_scenarios(site)
    assert list(sc.energy["curtailment_phase"].values[0, -1, 8:13]) == [0, 1, 2, 2, 3]
    b = optimize(site, sc).design.bess
    assert close(b.pcs_power_mw, 50.0)
    assert close(b.energy_mwh, 100 / ETA / UF)
    assert close(b.bands_mwh.curtailment_reserve, 100 / ETA)


def test_infeasible_curtailment_names_the_energy_limit(make_trace_site):
    """The hard curtailment event needs E = 106.38 / 0.72 = 147.75 MWh; bess.max_energy_mwh = 100
    cannot hold it, and the diagnosis says so (rather than only "load unserved")."""
    site = curtailment_site(make_trace_site, {"bess": {"max_energy_mwh": 100}})
    with pytest.raises(InfeasibleError) as err:
        solve_site(site)
    msg = str(err.value)
    assert "curtailment reserve" in msg
    assert "needs 147.8 MWh of nameplate energy" in msg and "bess.max_energy_mwh is 100" in msg
