"""Events at their real times in the energy layer: a call covers the exact share of each hourly step,
and an event across midnight is modelled whole (its days chained so stored energy runs through).

Site: 250 MW flat, 200 MW firm + 800 MW non-firm import, no generation, no notice, an explicit
(hard) curtailment call, efficiencies 0.96/0.92, U = 0.72 E. The battery delivers the 50 MW the
firm import lacks for the call's duration D: X_cu = 50 D / 0.92 MWh stored (no notice to charge in,
and the recovery leaves room to refill), E = X_cu / 0.72, P = 50 MW.
"""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.scenarios.energy_layer import event_periods, event_phase

ETA_DIS = 0.92
UF = 0.72
DAY = 86400


def _site(make_trace_site, start_s, duration_s, recovery_h=2):
    return make_trace_site([(0, 250), (DAY - 1, 250)], {
        "scenarios": {"trace_days": 2},
        "bess": {"charge_efficiency": 0.96, "discharge_efficiency": ETA_DIS},
        "grid": {"firm_import_mw": 200, "nonfirm_import_mw": 800,
                 "curtailment": {"events_per_year": 0, "notice_min": 0, "recovery_h": recovery_h},
                 "events": [{"kind": "curtailment", "start_s": start_s, "duration_s": duration_s,
                             "occurrences_per_year": 1}]}})


def test_call_share_of_each_step():
    """A 1 h call at 10:30 on hourly steps: half of step 10 and half of step 11 at firm import."""
    phase, share = event_phase(24, 3600.0, 10.5 * 3600, 3600.0, 0.0, 0.0)
    assert share[10] == pytest.approx(0.5) and share[11] == pytest.approx(0.5)
    assert share.sum() == pytest.approx(1.0)
    assert list(np.flatnonzero(phase == 2)) == [10, 11]


def test_event_across_midnight_spans_two_chained_days():
    """A 4 h call from 22:00 with 2 h recovery: 2 h active on the first day, 2 h on the second."""
    days = event_periods(5, 22 * 3600.0, 4 * 3600.0, 0.0, 2 * 3600.0, 24, 3600.0, 365)
    assert [d for d, *_ in days] == [5, 6]
    assert [c for *_, c in days] == [1, 0]
    assert days[0][2].sum() == pytest.approx(2.0) and days[1][2].sum() == pytest.approx(2.0)


def test_one_hour_call_at_half_past_is_one_hour(make_trace_site):
    """A 1 h call at 10:30: D = 1 h, X_cu = 50 / 0.92 = 54.35 MWh (rounded to whole steps, 2 h, the
    reserve would double)."""
    b = optimize(s := _site(make_trace_site, 10.5 * 3600, 3600), generate_scenarios(s)).design.bess
    assert b.bands_mwh.curtailment_reserve == pytest.approx(50 * 1 / ETA_DIS, rel=0.005)
    assert b.energy_mwh == pytest.approx(50 / ETA_DIS / UF, rel=0.005)
    assert b.pcs_power_mw == pytest.approx(50.0, rel=0.005)


def test_call_across_midnight_is_modelled_whole(make_trace_site):
    """A 4 h call from 22:00 (to 02:00): D = 4 h, X_cu = 200 / 0.92 = 217.4 MWh (cut at midnight,
    it would be half)."""
    b = optimize(s := _site(make_trace_site, 22 * 3600, 4 * 3600), generate_scenarios(s)).design.bess
    assert b.bands_mwh.curtailment_reserve == pytest.approx(50 * 4 / ETA_DIS, rel=0.005)
    assert b.energy_mwh == pytest.approx(50 * 4 / ETA_DIS / UF, rel=0.005)
