"""A curtailment call with a notice and spare generation in it: the curtailment reserve X_cu is the
call's draw from its start; what the energy layer could charge in the notice is not credited, because
the replay's controller does not charge for a call in its notice (docs/interfaces.md). The promise and
the replay agree: the stress replay (the call announced with the battery at X_cu's top, units cold)
serves the call from X_up + X_cu, and a reserve that credited the notice's charge does not.

Site (tests/optimizer/test_curtailment_bridge.py's small fleet, with a notice): 150 MW flat (a
measured trace, no POI smoothing), 100 MW firm + 50 MW non-firm import, fast POI (100 MW/s),
eta_ch = 0.96 / eta_dis = 0.92, U = 0.72 E, two existing 15 MW gas turbines (0.2 MW/s each, 600 s
start, fuel 80 USD/MWh dearer than the 60 USD/MWh import), one explicit 1 h call at 10:30 (hard, once
a year) announced 30 min ahead.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.scenarios.trace import scenario_trace
from bess_size.simulator import kernel as K
from bess_size.simulator.controller import BandEnergies, TraceArrays, replay_arrays, run_kernel, stress_points
from bess_size.simulator.metrics import curtailment_response

ETA_CH, ETA_DIS = 0.96, 0.92
DAY = 86400
START_S = int(10.5 * 3600)


def _site(make_trace_site):
    return make_trace_site([(0, 150), (DAY - 1, 150)], {
        "scenarios": {"trace_days": 2},
        "bess": {"charge_efficiency": ETA_CH, "discharge_efficiency": ETA_DIS},
        "generation": [{"kind": "gas_turbine", "unit_mw": 15, "existing_units": 2, "max_new_units": 0,
                        "min_load_fraction": 0.3, "ramp_mw_per_s": 0.2, "start_time_s": 600,
                        "fuel_usd_per_mwh": 80}],
        "grid": {"firm_import_mw": 100, "nonfirm_import_mw": 50,
                 "curtailment": {"events_per_year": 0, "notice_min": 30, "recovery_h": 1},
                 "events": [{"kind": "curtailment", "start_s": START_S, "duration_s": 3600,
                             "occurrences_per_year": 1}]}})


def _stress_over_firm(site, design, x_cu=None):
    """The largest import above firm (and the MWh unserved) while the call is active, in the calls'
    stress replay of a held-out trace; ``x_cu`` replaces the design's curtailment reserve (the band
    stack keeps E: the operating band takes the difference)."""
    if x_cu is not None:
        bands = design.bess.bands_mwh.model_copy(update={"curtailment_reserve": x_cu})
        design = design.model_copy(update={"bess": design.bess.model_copy(update={"bands_mwh": bands})})
    dt = float(site.scenarios.transient_resolution_s)
    # the held-out trace without the contingency every trace carries (a loss of grid earlier that day
    # would leave the battery below X_cu's top: the call is judged alone)
    ds = scenario_trace(site, "held_out", 0)
    ds["grid_available"][:] = 1
    ds.attrs["events_json"] = json.dumps([e for e in json.loads(ds.attrs["events_json"]) if e["kind"] == "curtailment"])
    trace = TraceArrays.from_dataset(ds, dt)
    rows = stress_points(trace, BandEnergies.from_design(site, design), calls_only=True)
    cp, gp, pp = replay_arrays(site, design)
    a0, n = int(START_S / dt), int(3600 / dt)
    run = run_kernel(trace, cp, gp, pp, record=[a0], record_length=n, stress=rows)
    assert np.all(run.recorded[0][:, K.R_PHASE] == 2)  # the recorded steps are the call's
    r = curtailment_response(run.recorded[0], site.grid.firm_import_mw, dt, float(cp[K.C_TOL_MW]))
    return r["import_over_firm_mw"], r["unserved_mwh"]


def test_notice_charging_is_not_credited_and_the_replay_serves_the_call(make_trace_site):
    """The turbines carry G = 30 MW of the 50 MW gap once ramped; the other 20 MW are the battery's
    for the whole 1 h call:

        X_cu = 20 MW x 1 h / eta_dis = 21.739 MWh stored

    (with the notice credited, the energy layer charged the turbines' 30 MW for the 30 min notice,
    30 x 0.5 x 0.96 = 14.4 MWh, and promised 21.739 - 14.4 = 7.339 MWh; swapping the efficiencies
    would give 20 / 0.96 = 20.833). In the stress replay
    (stored energy at F + X_rt + X_up + X_cu when the call is announced, turbines cold, ordered then,
    online 600 s later, 1,200 s before the call) the battery carries the 20 MW from X_cu and the
    turbines' ramp from X_up: import stays at the firm 100 MW. With X_cu at the credited 7.339 MWh
    (or 1 MWh short of 21.739) the stored energy runs out before the call ends and import exceeds firm.
    """
    site = _site(make_trace_site)
    design = optimize(site, generate_scenarios(site)).design
    x_cu = design.bess.bands_mwh.curtailment_reserve
    assert x_cu == pytest.approx(20.0 / ETA_DIS, rel=0.005)
    over, unserved = _stress_over_firm(site, design)
    assert over <= 1e-6 and unserved <= 1e-6
    for short in (20.0 / ETA_DIS - 30 * 0.5 * ETA_CH, x_cu - 1.0):
        over, _ = _stress_over_firm(site, design, short)
        assert over > 1.0, short
