"""A curtailment call in the transient screening (DESIGN section 4): the units the call starts cold at
its notice join after their start time and ramp; the battery bridges them, and the screened deficit
(so the up-ramp buffer X_up) holds exactly that bridge. The energy gap the screened fleet cannot carry
at all is the energy layer's curtailment reserve X_cu; neither term counts the other's MWh.

Every site: 150 MW flat (a measured trace, no POI smoothing), 100 MW firm import, efficiencies
eta_ch = 0.96 / eta_dis = 0.92, U = 0.72 E, max C-rate 20, one explicit 1 h call (hard, once a year),
units existing (none new) whose fuel (80 USD/MWh) is dearer than import (60): they run only for the
call. A call steps the limit to the firm import for exactly its duration; during its notice the cap
falls at rho = 0.95 x the POI's steady rate min(r_s, r_m / 60), so it is the firm import at the call's
start: at a notice step with ``left`` seconds to go, cap = min(firm + nonfirm, 100 + rho x left).

At the notice's first step (the call's first, without notice) the call's units are ordered (list order, ceil(gap / unit) of them for the
gap 150 - 100 = 50 MW) and join ``start_time_s`` later, at 1 s steps: ordered at step i, online at
i + start_time_s, the first online step already ramped by one second's ramp. Sums are the discrete
ones the 1 s policy gives (a ramp of slope a over n steps: sum_{k=1}^{n} (G - a k) = n G - a n (n+1) / 2).
"""

from __future__ import annotations

import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios

ETA_CH, ETA_DIS = 0.96, 0.92
UF = 0.72
DAY = 86400
MWS_TO_STORED_MWH = 1 / (3600 * ETA_DIS)  # MW s at the terminals -> MWh stored


def ramp_sum(gap_mw, slope_mw_per_s, steps):
    """sum_{k=1}^{steps} (gap - slope k) [MW s]."""
    return steps * gap_mw - slope_mw_per_s * steps * (steps + 1) / 2


def _site(make_trace_site, *, start_s, notice_min, units, nonfirm_mw, ramp_limits=(100, 6000), kind="gas_engine"):
    """``units`` = (count, unit_mw, ramp_mw_per_s, start_time_s) of one existing thermal type."""
    n, unit_mw, ramp, start_time = units
    r_s, r_m = ramp_limits
    return make_trace_site([(0, 150), (DAY - 1, 150)], {
        "scenarios": {"trace_days": 2},
        "bess": {"charge_efficiency": ETA_CH, "discharge_efficiency": ETA_DIS},
        "generation": [{"kind": kind, "unit_mw": unit_mw, "existing_units": n, "max_new_units": 0,
                        "min_load_fraction": 0.3, "ramp_mw_per_s": ramp, "start_time_s": start_time,
                        "fuel_usd_per_mwh": 80}],
        "grid": {"firm_import_mw": 100, "nonfirm_import_mw": nonfirm_mw,
                 "ramp_limit_mw_per_s": r_s, "ramp_limit_mw_per_min": r_m,
                 "curtailment": {"events_per_year": 0, "notice_min": notice_min, "recovery_h": 1},
                 "events": [{"kind": "curtailment", "start_s": start_s, "duration_s": 3600,
                             "occurrences_per_year": 1}]}})


def _design(site):
    sc = generate_scenarios(site)
    return sc.transient, optimize(site, sc).design.bess


# --- the fleet carries the whole gap once ramped: only the bridge remains ---------------------------
# 60 MW non-firm; POI limits 0.25 MW/s and 15 MW/min: steady rate 0.25 MW/s, rho = 0.2375 MW/s.
# Six 10 MW engines at 0.1 MW/s each, start 1,900 s; the call at 10:30 with a 30 min notice.
RHO = 0.95 * 0.25
PRE_STEPS = 210  # notice steps with a gap: 100 + rho left < 150  <=>  left < 50 / rho = 210.5
LATE_S = 1900 - 1800  # the 5 engines (ceil(50 / 10)) join 100 s after the call's start
B_FULL = ramp_sum(50, RHO, PRE_STEPS) + 50 * LATE_S + ramp_sum(50, 5 * 0.1, 100)  # 12,713.19 MW s


def test_fleet_carries_the_gap_so_only_the_bridge_remains(make_trace_site):
    """Pre-ramp: the cap falls below the load 210 s before the call (the POI follows it: rho is under
    both ramp limits) and nothing is online yet, so the battery covers
    sum_{left=1}^{210} (50 - rho left) = 5,238.19 MW s; from the call's start the whole 50 MW for
    100 s (5,000); then 5 engines ramp at 0.5 MW/s: sum_{k=1}^{100} (50 - 0.5 k) = 2,475. After that
    the engines carry the gap (5 x 10 = 50 MW) and at the call's end hand it back at 0.25 MW/s,
    as fast as the POI takes it (no draw, no surplus). So

        B = 12,713.19 MW s,  deficit = X_up = B / (3600 eta_dis) = 3.8386 MWh stored,
        R_up = P = 50 MW (the call's first second), X_cu = 0 (the energy layer's engines carry the
        call), X_dn = 0, E = X_up / 0.72 = 5.331 MWh (the C-rate needs 50 / 20 = 2.5).

    Ignoring the start time gives B = 0 (the engines follow the pre-ramp from the notice's start);
    swapping the efficiencies gives B / 3600 / 0.96, 4 % less.
    """
    site = _site(make_trace_site, start_s=10.5 * 3600, notice_min=30, units=(6, 10, 0.1, 1900), nonfirm_mw=60,
                 ramp_limits=(0.25, 15))
    tr, b = _design(site)
    x_up = B_FULL * MWS_TO_STORED_MWH
    assert float(tr["deficit_mwh"][0]) == pytest.approx(x_up, rel=1e-3)
    assert float(tr["surplus_mwh"][0]) == pytest.approx(0.0, abs=1e-3)
    assert float(tr["discharge_residual_mw"][0]) == pytest.approx(50.0, rel=1e-3)
    assert b.bands_mwh.up_ramp_buffer == pytest.approx(x_up, rel=0.005)
    assert b.bands_mwh.curtailment_reserve == pytest.approx(0.0, abs=1e-3)
    assert b.bands_mwh.down_ramp_headroom == pytest.approx(0.0, abs=1e-3)
    assert b.pcs_power_mw == pytest.approx(50.0, rel=0.005)
    assert b.energy_mwh == pytest.approx(x_up / UF, rel=0.005)


def test_call_and_notice_across_midnight_bridge(make_trace_site):
    """The same call at 23:30 (notice from 23:00, the call ending at 00:30 on the trace's second day):
    the same bridge, B = 12,713.19 MW s, X_up = 3.8386 MWh, X_cu = 0, E = X_up / 0.72."""
    site = _site(make_trace_site, start_s=23.5 * 3600, notice_min=30, units=(6, 10, 0.1, 1900), nonfirm_mw=60,
                 ramp_limits=(0.25, 15))
    tr, b = _design(site)
    x_up = B_FULL * MWS_TO_STORED_MWH
    assert float(tr["deficit_mwh"][0]) == pytest.approx(x_up, rel=1e-3)
    assert b.bands_mwh.up_ramp_buffer == pytest.approx(x_up, rel=0.005)
    assert b.bands_mwh.curtailment_reserve == pytest.approx(0.0, abs=1e-3)
    assert b.energy_mwh == pytest.approx(x_up / UF, rel=0.005)


def test_notice_longer_than_start_and_ramp_needs_no_bridge(make_trace_site):
    """The same site with a 600 s start: the engines are online 1,200 s before the call, before the
    pre-ramp opens a gap, and follow the cap down (0.5 MW/s > rho): B = 0, so X_up = 0, E = 0."""
    site = _site(make_trace_site, start_s=10.5 * 3600, notice_min=30, units=(6, 10, 0.1, 600), nonfirm_mw=60,
                 ramp_limits=(0.25, 15))
    tr, b = _design(site)
    assert float(tr["deficit_mwh"][0]) == pytest.approx(0.0, abs=1e-6)
    assert b.energy_mwh == pytest.approx(0.0, abs=1e-6)


# --- the fleet is too small: X_cu carries the rest ------------------------------------------------
# 50 MW non-firm; fast POI (100 MW/s: the limit's steps are followed within a second). Two 15 MW gas
# turbines at 0.2 MW/s each, start 600 s. The call comes without notice (with one, charging in the
# notice is not credited against X_cu: tests/optimizer/test_curtailment_notice.py): the turbines are
# cold at the call's start, ordered then, join 600 s later and ramp at 0.4 MW/s for 75 s.
G_SMALL = 30.0
B_SMALL = G_SMALL * 600 + ramp_sum(G_SMALL, 2 * 0.2, 75)  # 19,110 MW s
X_CU_SMALL = (50 - G_SMALL) * 1.0 / ETA_DIS  # the 20 MW no unit carries, for the 1 h call [MWh stored]


def _small_fleet_site(make_trace_site, start_s):
    return _site(make_trace_site, start_s=start_s, notice_min=0, units=(2, 15, 0.2, 600), nonfirm_mw=50,
                 kind="gas_turbine")


def _assert_small_fleet(tr, b):
    x_up = B_SMALL * MWS_TO_STORED_MWH
    assert float(tr["deficit_mwh"][0]) == pytest.approx(x_up, rel=1e-3)
    assert float(tr["discharge_residual_mw"][0]) == pytest.approx(G_SMALL, rel=1e-3)
    assert b.bands_mwh.up_ramp_buffer == pytest.approx(x_up, rel=0.005)
    assert b.bands_mwh.curtailment_reserve == pytest.approx(X_CU_SMALL, rel=0.005)
    assert b.pcs_power_mw == pytest.approx(50.0, rel=0.005)
    assert b.energy_mwh == pytest.approx((x_up + X_CU_SMALL) / UF, rel=0.005)


def test_fleet_too_small_leaves_the_rest_to_the_curtailment_reserve(make_trace_site):
    """The two turbines (G = 30 MW) can carry 30 of the 50 MW gap; the other 20 MW are the energy
    layer's for the whole call: X_cu = 20 x 1 h / eta_dis = 21.739 MWh stored. The screening leaves
    those 20 MW out and keeps the bridge of the 30 MW the turbines carry once ramped:

        B = 30 x 600 + sum_{k=1}^{75} (30 - 0.4 k) = 18,000 + 1,110 = 19,110 MW s,
        X_up = B / (3600 eta_dis) = 5.770 MWh, R_up = 30 MW, P = 20 (energy layer) + 30 = 50 MW,
        E = (X_up + X_cu) / 0.72 = 38.208 MWh.

    Counting the bridge in X_cu as well would add 5.77 MWh; counting the 20 MW in the screening too
    would add 21.7 MWh to X_up.
    """
    tr, b = _design(_small_fleet_site(make_trace_site, 10.5 * 3600))
    _assert_small_fleet(tr, b)


def test_call_across_midnight(make_trace_site):
    """The same call from 23:30 to 00:30: the screening runs over the two-day
    trace and the energy layer chains the two days, so both terms see the whole call: the same
    X_up = 5.770, X_cu = 21.739 and E = 38.208 MWh (cut at midnight, X_cu would be half)."""
    tr, b = _design(_small_fleet_site(make_trace_site, 23.5 * 3600))
    _assert_small_fleet(tr, b)
