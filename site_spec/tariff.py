"""The site's electricity tariff as arrays: energy price and demand charges by month, day type, hour.

A tariff comes from the spec's keys (``grid.energy_price_usd_per_mwh``, ``grid.tou_energy_prices``,
``grid.demand_charge_usd_per_mw_month``, ``grid.tou_demand_charges``) or from an OpenEI URDB rate
JSON file on disk (``grid.tariff_file``). Either way it becomes a :class:`Tariff`:

* ``energy_usd_per_mwh[month, day_type, hour]``: the energy price where a time-of-use rate sets
  one, NaN where ``energy_price_usd_per_mwh`` (a number or a CSV over time) applies;
* ``demand_charges``: each a rate [USD/MW-month] and a mask over (month, day_type, hour); the
  charge is ``rate x`` the month's peak import within the mask, for every month where the mask has
  hours (so a demand charge is billed on each month's own peak, never 12 x the annual one).

Calendar: day ``d`` (0 = January 1) of a 365-day year; Jan 1 is a Monday, so day type 1 (weekend)
is ``d % 7 >= 5`` (the load model's convention); no holidays. URDB rates are USD/kWh and USD/kW:
x 1000 gives USD/MWh and USD/MW-month. URDB periods and months are zero-indexed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import Problem

DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MONTH_START_DAY = np.concatenate([[0], np.cumsum(DAYS_IN_MONTH)])  # 13 entries, last = 365
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAY, WEEKEND = 0, 1
KWH_PER_MWH = 1000.0


def month_of_day(day) -> np.ndarray:
    """Month index 0..11 of day(s) ``day`` (0 = January 1; the calendar repeats every 365 days)."""
    return np.searchsorted(MONTH_START_DAY, np.asarray(day) % 365, side="right") - 1


def day_type_of_day(day) -> np.ndarray:
    """0 for Monday..Friday, 1 for Saturday and Sunday (January 1 is a Monday)."""
    return (np.asarray(day) % 7 >= 5).astype(np.int64)


@dataclass
class DemandCharge:
    label: str
    usd_per_mw_month: float
    mask: np.ndarray  # bool (12, 2, 24): month, day type, hour

    def months(self) -> list[int]:
        return [m for m in range(12) if self.mask[m].any()]


@dataclass
class Tariff:
    energy_usd_per_mwh: np.ndarray  # (12, 2, 24); NaN: the spec's energy_price_usd_per_mwh applies
    demand_charges: list[DemandCharge] = field(default_factory=list)
    source: str = "spec"

    @property
    def has_tou_energy(self) -> bool:
        return bool(np.isfinite(self.energy_usd_per_mwh).any())

    def price_at(self, t_s: np.ndarray, base: np.ndarray) -> np.ndarray:
        """The energy price at times ``t_s`` [s from Jan 1], ``base`` where no time-of-use rate applies."""
        if not self.has_tou_energy:
            return base
        t = np.asarray(t_s, dtype=float)
        day = np.floor(t / 86400.0).astype(np.int64)
        hour = np.floor((t % 86400.0) / 3600.0).astype(np.int64).clip(0, 23)
        tou = self.energy_usd_per_mwh[month_of_day(day), day_type_of_day(day), hour]
        return np.where(np.isfinite(tou), tou, base)


def window_mask(months, days: str, hours) -> np.ndarray:
    """(12, 2, 24) bool mask of a spec time-of-use window."""
    mask = np.zeros((12, 2, 24), dtype=bool)
    h = np.zeros(24, dtype=bool)
    a, b = int(hours[0]), int(hours[1])
    if a <= b:
        h[a:b] = True
    else:  # wraps past midnight
        h[a:] = True
        h[:b] = True
    types = {"all": (WEEKDAY, WEEKEND), "weekdays": (WEEKDAY,), "weekends": (WEEKEND,)}[days]
    for m in months:
        for dt in types:
            mask[m - 1, dt] = h
    return mask


def spec_tariff(grid) -> Tariff:
    """The tariff the spec's grid keys describe (the first matching energy window wins)."""
    energy = np.full((12, 2, 24), np.nan)
    for w in grid.tou_energy_prices:
        mask = window_mask(w.months, w.days, w.hours) & np.isnan(energy)
        energy[mask] = w.usd_per_mwh
    charges = []
    if grid.demand_charge_usd_per_mw_month > 0:
        charges.append(DemandCharge("monthly peak", grid.demand_charge_usd_per_mw_month, np.ones((12, 2, 24), dtype=bool)))
    for i, w in enumerate(grid.tou_demand_charges):
        if w.usd_per_mw_month > 0:
            charges.append(DemandCharge(f"tou_demand_charges[{i}]", w.usd_per_mw_month, window_mask(w.months, w.days, w.hours)))
    return Tariff(energy, charges, "spec")


def site_tariff(site) -> Tariff:
    """The site's tariff: from ``grid.tariff_file`` when set (already validated at load), else the spec keys."""
    g = site.grid
    if g.tariff_file is None:
        return spec_tariff(g)
    tariff, problems = read_urdb(g.tariff_file, "grid.tariff_file")
    if problems:  # validated at load; a file changed since then
        from .errors import SiteSpecError

        raise SiteSpecError(str(g.tariff_file), problems)
    return tariff


# --------------------------------------------------------------------------- URDB


def _rate_of(periods, k: int, where: str, what: str, problem) -> float | None:
    """rate + adj of period ``k``'s single tier, in USD per kWh or kW."""
    if not isinstance(periods, list) or not 0 <= k < len(periods):
        problem(f"{where} refers to period {k}, but {what} has {len(periods) if isinstance(periods, list) else 0} periods")
        return None
    tiers = periods[k]
    if not isinstance(tiers, list) or not tiers:
        problem(f"{what}[{k}] is not a list of tiers")
        return None
    if len(tiers) > 1:
        problem(f"{what}[{k}] has {len(tiers)} tiers; tiered (block) rates are not modelled: keep one tier per period "
                "(for a site of tens of MW the last tier is usually the one that applies)")
        return None
    tier = tiers[0]
    if not isinstance(tier, dict):
        problem(f"{what}[{k}][0] is not an object with a rate")
        return None
    unit = tier.get("unit")
    if what == "energyratestructure" and unit not in (None, "kWh"):
        problem(f"{what}[{k}][0].unit is {unit!r}; only rates per kWh are modelled")
        return None
    total = 0.0
    for key in ("rate", "adj"):
        v = tier.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            problem(f"{what}[{k}][0].{key} is {v!r}, not a number [USD per kWh or kW]")
            return None
        total += float(v)
    return total


def _schedule(rate: dict, key: str, problem) -> np.ndarray | None:
    s = rate.get(key)
    ok = (isinstance(s, list) and len(s) == 12 and all(isinstance(r, list) and len(r) == 24 for r in s)
          and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for r in s for x in r))
    if not ok:
        problem(f"{key} must be 12 rows (months) of 24 period indices (hours), whole numbers >= 0")
        return None
    return np.array(s, dtype=np.int64)


def parse_urdb(rate: dict, field_path: str, source: str) -> tuple[Tariff | None, list[Problem]]:
    """A URDB rate (one item of the API's ``items``) as a Tariff; every problem of the file at once."""
    problems: list[Problem] = []
    expected = ("expected an OpenEI URDB rate JSON (one rate, or an API response with one item in `items`): "
                "energyratestructure with energyweekdayschedule and energyweekendschedule, and optionally "
                "flatdemandstructure with flatdemandmonths and demandratestructure with demandweekdayschedule "
                "and demandweekendschedule")

    def problem(reason: str):
        problems.append(Problem(field_path, source, expected, reason=reason))

    energy = np.full((12, 2, 24), np.nan)
    if "energyratestructure" in rate:
        wd = _schedule(rate, "energyweekdayschedule", problem)
        we = _schedule(rate, "energyweekendschedule", problem)
        structure = rate["energyratestructure"]
        if wd is not None and we is not None:
            for dt, sched in ((WEEKDAY, wd), (WEEKEND, we)):
                for k in np.unique(sched):
                    r = _rate_of(structure, int(k), f"energy{'weekday' if dt == WEEKDAY else 'weekend'}schedule",
                                 "energyratestructure", problem)
                    if r is not None:
                        energy[:, dt, :][sched == k] = r * KWH_PER_MWH
    charges: list[DemandCharge] = []
    if "flatdemandstructure" in rate:
        months = rate.get("flatdemandmonths")
        if not (isinstance(months, list) and len(months) == 12 and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                                                                        for x in months)):
            problem("flatdemandmonths must list 12 period indices (one per month), whole numbers >= 0")
        else:
            for k in sorted(set(months)):
                r = _rate_of(rate["flatdemandstructure"], k, "flatdemandmonths", "flatdemandstructure", problem)
                if r is not None and r > 0:
                    mask = np.zeros((12, 2, 24), dtype=bool)
                    mask[[m for m in range(12) if months[m] == k]] = True
                    charges.append(DemandCharge(f"flat demand period {k}", r * KWH_PER_MWH, mask))
    if "demandratestructure" in rate:
        wd = _schedule(rate, "demandweekdayschedule", problem)
        we = _schedule(rate, "demandweekendschedule", problem)
        if wd is not None and we is not None:
            for k in sorted(set(np.unique(wd)) | set(np.unique(we))):
                r = _rate_of(rate["demandratestructure"], int(k), "demandweekdayschedule", "demandratestructure", problem)
                if r is not None and r > 0:
                    mask = np.stack([wd == k, we == k], axis=1)  # (12, 2, 24)
                    charges.append(DemandCharge(f"time-of-use demand period {k}", r * KWH_PER_MWH, mask))
    if not problems and np.isnan(energy).any() and "energyratestructure" in rate:
        problem("the energy schedules leave hours without a rate")
    if "energyratestructure" not in rate and not charges and not problems:
        problem("the rate has neither energyratestructure nor demand charges")
    if problems:
        return None, problems
    return Tariff(energy, charges, f"URDB {rate.get('label', '')} {rate.get('name', '')}".strip()), []


def read_urdb(path: str | Path, field_path: str = "grid.tariff_file") -> tuple[Tariff | None, list[Problem]]:
    """Read a URDB rate JSON file (a single rate, a list of one, or ``{"items": [rate]}``)."""
    p = Path(path)
    src = str(path)

    def fail(reason: str):
        return None, [Problem(field_path, src, "expected the path of an OpenEI URDB rate JSON file "
                              "(relative paths are relative to the spec file)", reason=reason)]

    if not p.exists():
        return fail(f"file not found (looked for {p})")
    if p.is_dir():
        return fail(f"is a directory ({p})")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return fail("not a text file")
    except json.JSONDecodeError as exc:
        return fail(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
    except OSError as exc:
        return fail(f"could not be read ({exc.strerror or exc})")
    if isinstance(data, dict) and "items" in data:
        data = data["items"]
    if isinstance(data, list):
        if len(data) != 1:
            return fail(f"holds {len(data)} rates; give a file with exactly one")
        data = data[0]
    if not isinstance(data, dict):
        return fail("the JSON is not a rate object")
    return parse_urdb(data, field_path, src)
