"""Plausibility warnings: values inside their fields' ranges that are almost certainly unit slips.

A per-kWh cost in a per-MWh field (1000x too low), a per-minute ramp below the per-second one, a
PUE or a load far outside the data sheet's ranges. Each warning names the field, the value and the
range of /work/shared/reference/domain-datasheet.md it is compared with (section and row), so the
user can tell a slip from an unusual site. Warnings never stop a command: `check` lists them (and
`--json` carries them), `run` and `optimize` say them before they start.
"""

from __future__ import annotations

from .errors import Problem
from .models import Site, ThermalUnit

FAR = 10.0  # "far outside": a factor of ten beyond the data sheet's range, the size of a unit slip


def _per_kwh(path: str, value: float, low_mwh: float, high_mwh: float, row: str) -> list[Problem]:
    """A cost or price per MWh that reads like the same figure per kWh (or far above any quote)."""
    if 0 < value < low_mwh / FAR:
        return [Problem(path, value, f"the data sheet's range is {low_mwh:,.0f}-{high_mwh:,.0f} USD/MWh ({row}); "
                                     f"{value:g} USD/kWh would be {value * 1000:,.0f} USD/MWh",
                        reason=f"{value:g} USD/MWh is far below the data sheet's range: a per-kWh figure?")]
    if value > high_mwh * FAR:
        return [Problem(path, value, f"the data sheet's range is {low_mwh:,.0f}-{high_mwh:,.0f} USD/MWh ({row})",
                        reason=f"{value:,.0f} USD/MWh is far above the data sheet's range: a per-MWh figure x 1000?")]
    return []


def costs(site: Site) -> list[Problem]:
    b = site.bess
    out = _per_kwh("bess.energy_cost_usd_per_mwh", b.energy_cost_usd_per_mwh, 125_000, 300_000,
                   'datasheet 5.5 "Energy cost c_E", 125-300 USD/kWh')
    out += _per_kwh("bess.pcs_cost_usd_per_mw", b.pcs_cost_usd_per_mw, 100_000, 300_000,
                    'datasheet 5.5 "Power cost c_P", 100-300 USD/kW')
    out += _per_kwh("bess.throughput_cost_usd_per_mwh", b.throughput_cost_usd_per_mwh, 20, 60,
                    'datasheet 5.5 "Degradation cost", 20-60 USD/MWh')
    price = site.grid.energy_price_usd_per_mwh
    if isinstance(price, (int, float)) and 0 < price < 55 / FAR / 2:  # LMPs are volatile: only a clear slip
        out.append(Problem("grid.energy_price_usd_per_mwh", price,
                           f'the data sheet\'s default is a flat 55 USD/MWh (datasheet 5.4 "Grid energy price"); '
                           f"{price:g} USD/kWh would be {price * 1000:,.0f} USD/MWh",
                           reason=f"{price:g} USD/MWh is far below any wholesale price: a per-kWh figure?"))
    for i, g in enumerate(site.generation):
        if isinstance(g, ThermalUnit) and 0 < g.fuel_usd_per_mwh < 45 / FAR / 2:
            out.append(Problem(f"generation[{i}].fuel_usd_per_mwh", g.fuel_usd_per_mwh,
                               "the data sheet's fuel cost is 6,000-8,600 Btu/kWh x 4.8 USD/MMBtu + 6-20 USD/MWh O&M, "
                               'about 40-50 USD/MWh (datasheet 5.6 "Heat rate", "Fuel", "Variable O&M")',
                               reason=f"{g.fuel_usd_per_mwh:g} USD/MWh is far below any fuel cost: a per-kWh figure?"))
    return out


def ramps(site: Site) -> list[Problem]:
    g = site.grid
    out = []
    if g.ramp_limit_mw_per_min < g.ramp_limit_mw_per_s:
        out.append(Problem("grid.ramp_limit_mw_per_min", g.ramp_limit_mw_per_min,
                           f"a minute holds 60 seconds: at most 60 x ramp_limit_mw_per_s = {60 * g.ramp_limit_mw_per_s:g} MW/min, "
                           'utility-style 2-20 % of the peak per minute (datasheet 5.4 "POI ramp limit")',
                           reason=f"the per-minute limit is below the per-second one ({g.ramp_limit_mw_per_s:g} MW/s): "
                                  "swapped, or a per-second figure?"))
    peak = site.load.peak_mw
    per_min_pct = 100 * g.ramp_limit_mw_per_min / peak
    if per_min_pct > 20 * FAR:
        out.append(Problem("grid.ramp_limit_mw_per_min", g.ramp_limit_mw_per_min,
                           f'utility-style limits are 2-20 % of the peak per minute (datasheet 5.4 "POI ramp limit"), '
                           f"here {per_min_pct:,.0f} % of the {peak:g} MW peak",
                           reason="far above any utility's per-minute limit: a per-hour figure?"))
    for i, u in enumerate(site.generation):
        if isinstance(u, ThermalUnit) and u.ramp_mw_per_s * 3 > u.unit_mw:
            out.append(Problem(f"generation[{i}].ramp_mw_per_s", u.ramp_mw_per_s,
                               f"from zero to {u.unit_mw:g} MW in {u.unit_mw / u.ramp_mw_per_s:.1f} s; the data sheet's units "
                               'ramp about 50-100 %+ of their rating per minute (datasheet 5.6 "Ramp (spinning)")',
                               reason="a per-minute figure in a per-second field?"))
    return out


def load_size(site: Site) -> list[Problem]:
    ld = site.load
    out = []
    if ld.pue > 1.6 or ld.pue < 1.05:
        out.append(Problem("load.pue", ld.pue,
                           'liquid-cooled AI halls run at 1.10-1.25 (datasheet 5.1 "PUE (annual)", 1d), the global '
                           "average of all data centres is 1.58 (1d)",
                           reason="far outside the PUE of AI data centres"))
    if ld.trace is None and ld.it_capacity_mw < 1:
        out.append(Problem("load.it_capacity_mw", ld.it_capacity_mw,
                           "the data sheet's sites run from 20 MW (NERC's large-load threshold, datasheet 2a) to about "
                           '1.2 GW (datasheet 4 "Example site: Stargate Abilene")',
                           reason="below 1 MW of IT: a figure in GW?"))
    if ld.trace is None and ld.it_capacity_mw > 5000:
        out.append(Problem("load.it_capacity_mw", ld.it_capacity_mw,
                           'the largest campus in the data sheet is about 1.2 GW (datasheet 4 "Example site: Stargate Abilene")',
                           reason="above 5 GW of IT for one site: a figure in kW?"))
    total = site.grid.total_import_mw
    if ld.trace is None and total > FAR * ld.peak_mw:
        out.append(Problem("grid.firm_import_mw", site.grid.firm_import_mw,
                           f'the data sheet sizes the interconnection near the peak (datasheet 5.4 "Firm import limit": '
                           f"345 MW firm for a 345 MW peak); here firm + non-firm = {total:g} MW for a {ld.peak_mw:g} MW peak",
                           reason="more than ten times the site's peak: a figure in kW?"))
    return out


RULES = [costs, ramps, load_size]


def unit_slips(site: Site) -> list[Problem]:
    """Every plausibility warning of ``site`` (empty for the bundled examples)."""
    return [p for rule in RULES for p in rule(site)]
