"""Tariffs: time-of-use energy prices, monthly and time-of-use demand charges on each month's own
peak, and a URDB rate file, through the whole front end (a measured year -> generate_scenarios ->
optimize), against bills derived by hand.

The sites have no battery (``bess.max_energy_mwh = 0``) and no generation, so import = load and
the bill is the tariff applied to the load: what the energy layer and the demand-charge terms get
right or wrong is all that is tested. Calendar: a 365-day year, January 1 a Monday, so June 1
(day 151) is a Friday.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.scenarios.pv_price import price_bins
from bess_size.site_spec import SiteSpecError

from .conftest import merge, site_from

DAY = 86400
MARCH_11 = 31 + 28 + 10  # day 69 of the year (0 = January 1)
JUNE_1 = 151
SUMMER_WEEKDAYS = 86  # June 1 - September 30 is 122 days = 17 weeks + Fri, Sat, Sun, from a Friday


def year_trace_site(tmp_path, hourly_mw, overrides):
    """A site whose load is a measured 365-day hourly trace, used as given."""
    csv = tmp_path / "year.csv"
    t = np.arange(hourly_mw.size) * 3600
    csv.write_text("time_s,load_mw\n" + "".join(f"{a},{b:g}\n" for a, b in zip(t, hourly_mw)))
    base = {
        "load": {"trace": str(csv), "trace_mode": "as_given", "it_capacity_mw": 400},
        "grid": {"smoothing_time_constant_s": 0, "curtailment": {"events_per_year": 0},
                 "loss_of_grid": {"events_per_year": 0}, "voltage_sags": {"events_per_year": 0}},
        "bess": {"max_energy_mwh": 0},
        # shedding the peak hour must cost more than its demand charge (50 MW x 10,000 USD at the default VOLL)
        "reliability": {"voll_usd_per_mwh": 1e6},
        "scenarios": {"count": 1, "trace_days": 1, "representative_days": 3, "transient_windows": 0},
    }
    return site_from(merge(base, overrides))


def flat_year_with_peak(peak_day=MARCH_11, peak_hour=14, base_mw=100.0, peak_mw=150.0):
    load = np.full(365 * 24, base_mw)
    load[peak_day * 24 + peak_hour] = peak_mw
    return load


def test_monthly_demand_charge_on_each_months_own_peak(tmp_path):
    """Load 100 MW all year except one hour of 150 MW on March 11; 10,000 USD/MW-month.

    Each month is billed on its own peak: March 150 MW x 10,000 = 1.5 M USD, the other eleven
    months 100 MW x 10,000 = 1.0 M USD each, 12.5 M USD a year (12 x the annual peak would be
    18 M). The peak day is a period of its own in March only, so it is charged once, in March.
    """
    site = year_trace_site(tmp_path, flat_year_with_peak(), {"grid": {"demand_charge_usd_per_mw_month": 10_000}})
    cost = optimize(site, generate_scenarios(site)).design.cost
    by_month = cost.demand_charge_by_month_usd
    assert by_month[2] == pytest.approx(1.5e6, rel=1e-6)
    assert by_month[:2] + by_month[3:] == pytest.approx([1.0e6] * 11, rel=1e-6)
    assert cost.breakdown["opex_demand_charge_usd"] == pytest.approx(12.5e6, rel=1e-6)
    # no battery: the bill with the design is the grid-only bill, energy at 60 USD/MWh included
    energy = 60 * (100 * 8760 + 50)
    assert cost.grid_only_bill_usd == pytest.approx(energy + 12.5e6, rel=1e-6)


def test_peak_in_another_month_moves_the_charge(tmp_path):
    """The same peak on September 20 (day 262) is billed in September, and March falls back to 100 MW."""
    site = year_trace_site(tmp_path, flat_year_with_peak(peak_day=262),
                           {"grid": {"demand_charge_usd_per_mw_month": 10_000}})
    by_month = optimize(site, generate_scenarios(site)).design.cost.demand_charge_by_month_usd
    assert by_month[8] == pytest.approx(1.5e6, rel=1e-6)
    assert by_month[2] == pytest.approx(1.0e6, rel=1e-6)


TOU = {"tou_energy_prices": [{"usd_per_mwh": 200, "months": [6, 7, 8, 9], "days": "weekdays", "hours": [16, 21]}],
       "tou_demand_charges": [{"usd_per_mw_month": 5_000, "months": [6, 7, 8, 9], "days": "weekdays", "hours": [16, 21]}],
       "energy_price_usd_per_mwh": 50, "demand_charge_usd_per_mw_month": 2_000}


def test_tou_energy_price_by_hour_weekday_and_month():
    """200 USD/MWh on summer weekdays 16-21 h, else 50: June 1 (a Friday) at 17 h is on-peak, June 2
    (Saturday) and January 1 at 17 h and June 1 at 21 h are not."""
    site = site_from({"grid": TOU})
    at = lambda day, hour: float(price_bins(site, day * DAY + hour * 3600, 3600, 1)[0])  # noqa: E731
    assert at(JUNE_1, 17) == 200
    assert at(JUNE_1 + 1, 17) == 50
    assert at(0, 17) == 50
    assert at(JUNE_1, 21) == 50
    assert at(JUNE_1 + 3, 16) == 200  # Monday June 4
    assert at(JUNE_1 + 365, 17) == 50  # the next year's June 1 is a Saturday


def test_tou_bill_with_tou_and_monthly_demand_charges(tmp_path):
    """Constant 100 MW, with one 150 MW hour on Friday June 1 at 15 h (outside the on-peak window)
    and a 130 MW hour on Monday June 4 at 17 h (inside it).

    Energy: 100 MW x (8760 h x 50 + 86 summer weekdays x 5 h x 150 more) + 50 MWh x 50 (June 1 at
    15 h) + 30 MWh x 200 (June 4 at 17 h) = 50,250,000 + 2,500 + 6,000 USD.
    Monthly charge 2,000 USD/MW-month: June 150 MW, other months 100 MW: 2,000 x (150 + 11 x 100) =
    2.5 M. On-peak charge 5,000 USD/MW-month on the on-peak peak of June-September: June 130 MW,
    July-September 100 MW: 5,000 x 430 = 2.15 M. June's two peaks sit on different days and are
    each charged once.
    """
    load = np.full(365 * 24, 100.0)
    load[JUNE_1 * 24 + 15] = 150.0
    load[(JUNE_1 + 3) * 24 + 17] = 130.0
    site = year_trace_site(tmp_path, load, {"grid": TOU, "scenarios": {"representative_days": 6}})
    cost = optimize(site, generate_scenarios(site)).design.cost
    energy = 100 * (8760 * 50 + SUMMER_WEEKDAYS * 5 * 150) + 50 * 50 + 30 * 200
    assert cost.breakdown["opex_energy_usd"] == pytest.approx(energy, rel=1e-6)
    by_month = cost.demand_charge_by_month_usd
    assert by_month[5] == pytest.approx(2_000 * 150 + 5_000 * 130, rel=1e-6)
    assert by_month[6] == pytest.approx(2_000 * 100 + 5_000 * 100, rel=1e-6)
    assert by_month[0] == pytest.approx(2_000 * 100, rel=1e-6)
    assert sum(by_month) == pytest.approx(2.5e6 + 2.15e6, rel=1e-6)


def test_urdb_file_drives_the_bill(tmp_path):
    """The bundled example URDB rate: energy 0.045 / 0.064 / 0.121 USD/kWh (off / mid / on-peak:
    weekdays 7-23 h mid, summer weekdays 16-21 h on; weekends 7-23 h mid), flat demand 4.5 USD/kW
    (7.0 June-September), on-peak demand 9 USD/kW on summer weekdays 16-21 h.

    Constant 100 MW: 8 off-peak hours a day all year, 16 mid-peak hours on every day except the 5
    on-peak hours of the 86 summer weekdays, so energy = 100 x 1000 x (8 x 365 x 0.045 +
    (16 x 365 - 5 x 86) x 0.064 + 5 x 86 x 0.121). Demand: 100 MW x 1000 x (8 x 4.5 + 4 x 7.0 +
    4 x 9.0), the summer charges in June-September only.
    """
    tariff = tmp_path / "rate.json"
    tariff.write_text(_example_tariff().read_text())
    site = year_trace_site(tmp_path, np.full(365 * 24, 100.0),
                           {"grid": {"tariff_file": str(tariff)}, "scenarios": {"representative_days": 6}})
    cost = optimize(site, generate_scenarios(site)).design.cost
    energy = 1e5 * (8 * 365 * 0.045 + (16 * 365 - 5 * SUMMER_WEEKDAYS) * 0.064 + 5 * SUMMER_WEEKDAYS * 0.121)
    assert cost.breakdown["opex_energy_usd"] == pytest.approx(energy, rel=1e-6)
    by_month = cost.demand_charge_by_month_usd
    assert by_month[0] == pytest.approx(1e5 * 4.5, rel=1e-6)
    assert by_month[6] == pytest.approx(1e5 * (7.0 + 9.0), rel=1e-6)
    assert sum(by_month) == pytest.approx(1e5 * (8 * 4.5 + 4 * 7.0 + 4 * 9.0), rel=1e-6)


def _example_tariff():
    from importlib import resources

    return resources.files("bess_size.examples").joinpath("example-tou-tariff.json")


def test_urdb_problems_are_input_errors(tmp_path):
    """A tiered rate, a short schedule and a tariff_file beside spec demand charges: one error listing all."""
    rate = json.loads(_example_tariff().read_text())["items"][0]
    rate["energyratestructure"][1] = [{"rate": 0.05, "max": 1000}, {"rate": 0.07}]
    rate["demandweekdayschedule"] = rate["demandweekdayschedule"][:11]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rate))
    with pytest.raises(SiteSpecError) as err:
        site_from({"grid": {"tariff_file": str(bad), "demand_charge_usd_per_mw_month": 100}})
    text = str(err.value)
    assert "energyratestructure[1] has 2 tiers" in text
    assert "demandweekdayschedule must be 12 rows" in text
    assert "grid.demand_charge_usd_per_mw_month" in text and "set together with grid.tariff_file" in text
    with pytest.raises(SiteSpecError, match="file not found"):
        site_from({"grid": {"tariff_file": str(tmp_path / "missing.json")}})
