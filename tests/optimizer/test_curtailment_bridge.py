"""A curtailment call whose notice is shorter than the units' start plus ramp: the battery bridges
the gap from the call's start until the units it starts cold carry it (DESIGN sections 4/5).

Site: 250 MW flat, 200 MW firm + 800 MW non-firm import (POI ramp 100 MW/s, so the import cap
falls from 1000 to 200 MW in the notice's last ~8 s), 6 existing 10 MW engines, start 600 s, ramp
0.1 MW/s each, fuel dearer than import (they run only for the call); an explicit 1 h call at 10:00
with a notice of n = 300 s; efficiencies 0.96/0.92, U = 0.72 E.

In the call's stress state the engines are cold at the notice. The gap G = 250 - 200 = 50 MW
starts k = ceil(50 / 10) = 5 engines, online at s = 600 s after the notice, together ramping at
r = 5 x 0.1 = 0.5 MW/s, so they carry G after G / r = 100 s. The battery delivers G from the call
start (tau = n) to tau = s, then the triangle of the ramp (no charge in the notice is credited: the
replay's controller does not charge for the call there):

    X_cu = G (s - n + G / (2 r)) / (3600 eta_dis) = 50 (300 + 50) / (3600 x 0.92) = 5.284 MWh

(counted second by second, 5.291: the ramp's steps and the cap's last second; 0.14 % apart),
P = G = 50 MW, E = X_cu / 0.72 = 7.34 MWh. The energy layer alone lets the engines carry G the
moment the call starts: E = 0, and the held-out replay then imports 50 MW over firm.
"""

from __future__ import annotations

import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios

ETA_DIS = 0.92
UF = 0.72
DAY = 86400
G, NOTICE_S, START_S, RAMP = 50.0, 300.0, 600.0, 5 * 0.1


def _site(make_trace_site, start_time_s):
    return make_trace_site([(0, 250), (DAY - 1, 250)], {
        "scenarios": {"trace_days": 2},
        "bess": {"charge_efficiency": 0.96, "discharge_efficiency": ETA_DIS},
        "generation": [{"kind": "gas_engine", "unit_mw": 10, "existing_units": 6, "max_new_units": 0,
                        "min_load_fraction": 0.3, "ramp_mw_per_s": 0.1, "start_time_s": start_time_s,
                        "fuel_usd_per_mwh": 80}],
        "grid": {"firm_import_mw": 200, "nonfirm_import_mw": 800,
                 "curtailment": {"events_per_year": 0, "notice_min": NOTICE_S / 60, "recovery_h": 2},
                 "events": [{"kind": "curtailment", "start_s": 10 * 3600, "duration_s": 3600,
                             "occurrences_per_year": 1}]}})


def test_call_shorter_notice_than_start_and_ramp_sizes_the_bridge(make_trace_site):
    """X_cu = G (s - n + G / 2r) / (3600 eta_dis) = 5.284 MWh, E = X_cu / 0.72, P = G = 50 MW."""
    s = _site(make_trace_site, START_S)
    b = optimize(s, generate_scenarios(s)).design.bess
    x_cu = G * (START_S - NOTICE_S + G / (2 * RAMP)) / (3600 * ETA_DIS)
    assert b.bands_mwh.curtailment_reserve == pytest.approx(x_cu, rel=0.005)
    assert b.energy_mwh == pytest.approx(x_cu / UF, rel=0.005)
    assert b.pcs_power_mw == pytest.approx(G, rel=0.005)


def test_notice_longer_than_start_and_ramp_needs_no_bridge(make_trace_site):
    """Start 120 s: the engines carry G at 120 + 100 = 220 s < n = 300 s, before the call starts
    (and before the cap falls below the load in the notice's last ~0.5 s): X_cu = 0, E = 0."""
    s = _site(make_trace_site, 120.0)
    b = optimize(s, generate_scenarios(s)).design.bess
    assert b.bands_mwh.curtailment_reserve == pytest.approx(0.0, abs=1e-6)
    assert b.energy_mwh == pytest.approx(0.0, abs=1e-6)
