"""The energy conventions of the tool (DESIGN section 5), applied to one design.

* ``E`` is nameplate stored energy [MWh].
* usable energy is ``E * (soc_max - soc_min)`` at beginning of life; the bands must fit the end-of-life
  span ``U = end_of_life_fraction * E * (soc_max - soc_min)`` stacked above the floor ``F = soc_min * E``.
* energy delivered at the AC terminals is stored energy times the discharge efficiency.
* duration is usable delivered energy over the PCS power ``P``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..site_spec import Design, Site

BAND_ORDER = ("ride_through_reserve", "up_ramp_buffer", "curtailment_reserve", "operating", "down_ramp_headroom")


@dataclass(frozen=True)
class BatteryFigures:
    energy_mwh: float              # E, nameplate
    power_mw: float                # P, PCS real power
    floor_mwh: float               # F = soc_min * E
    ceiling_mwh: float             # soc_max * E
    usable_bol_mwh: float          # E (soc_max - soc_min)
    usable_eol_mwh: float          # U = eol * E (soc_max - soc_min)
    delivered_bol_mwh: float       # usable_bol * eta_dis
    delivered_eol_mwh: float       # U * eta_dis
    duration_bol_h: float          # delivered_bol / P
    duration_eol_h: float          # delivered_eol / P
    ride_through_at_full_power_s: float  # X_rt * eta_dis / P, in seconds
    discharge_efficiency: float
    end_of_life_fraction: float


def battery_figures(design: Design, site: Site) -> BatteryFigures:
    b, spec = design.bess, site.bess
    E, P, eta = b.energy_mwh, b.pcs_power_mw, spec.discharge_efficiency
    usable = E * (spec.soc_max_fraction - spec.soc_min_fraction)
    U = spec.end_of_life_fraction * usable
    per_p = (lambda x: x / P) if P > 0 else (lambda x: float("nan"))
    return BatteryFigures(
        energy_mwh=E,
        power_mw=P,
        floor_mwh=spec.soc_min_fraction * E,
        ceiling_mwh=spec.soc_max_fraction * E,
        usable_bol_mwh=usable,
        usable_eol_mwh=U,
        delivered_bol_mwh=usable * eta,
        delivered_eol_mwh=U * eta,
        duration_bol_h=per_p(usable * eta),
        duration_eol_h=per_p(U * eta),
        ride_through_at_full_power_s=per_p(b.bands_mwh.ride_through_reserve * eta * 3600.0),
        discharge_efficiency=eta,
        end_of_life_fraction=spec.end_of_life_fraction,
    )


def band_slices(design: Design, site: Site) -> dict[str, list[tuple[str, float, float]]]:
    """Slices of stored energy [MWh] from 0 to E, bottom to top, at beginning and end of life.

    Bands stack from the floor F: ride-through [F, F+X_rt], up-ramp above it, curtailment above
    that; the operating band is the design's [low, high]; down-ramp headroom sits on top of it,
    ending at F + U. Beginning of life adds the span from F + U up to soc_max*E that fade takes away
    by end of life, and the ceiling above soc_max*E; at end of life everything above F + U is gone.
    """
    f = battery_figures(design, site)
    bands = design.bess.bands_mwh
    lo = f.floor_mwh
    stack = []
    for name in ("ride_through_reserve", "up_ramp_buffer", "curtailment_reserve"):
        size = getattr(bands, name)
        stack.append((name, lo, lo + size))
        lo += size
    op_lo, op_hi = bands.operating
    if op_lo > lo + 1e-9 * max(f.energy_mwh, 1.0):
        stack.append(("unassigned", lo, op_lo))
    stack.append(("operating", op_lo, op_hi))
    stack.append(("down_ramp_headroom", op_hi, op_hi + bands.down_ramp_headroom))
    top = op_hi + bands.down_ramp_headroom
    floor = [("floor", 0.0, f.floor_mwh)]
    bol = floor + stack
    if f.ceiling_mwh > top:
        bol.append(("fade", top, f.ceiling_mwh))
    bol.append(("ceiling", max(top, f.ceiling_mwh), f.energy_mwh))
    eol = floor + stack + [("faded", top, f.energy_mwh)]
    return {"bol": bol, "eol": eol}


BAND_PURPOSE = {
    "floor": "Never used: below soc_min (cell protection).",
    "ride_through_reserve": "Carries the site through a loss of grid or a voltage sag until generation takes over; always kept.",
    "up_ramp_buffer": "Covers load rising faster than the POI ramp limit lets import follow.",
    "curtailment_reserve": "Carries the load the grid stops serving during a curtailment call; kept full outside events.",
    "operating": "Where the SoC lives day to day: recovery to the setpoint and arbitrage.",
    "down_ramp_headroom": "Kept empty to absorb load dropping faster than import may fall.",
    "unassigned": "Between the reserves and the operating band: allowed, not needed.",
    "fade": "Usable at beginning of life only; capacity fade takes it by end of life, so no band relies on it.",
    "ceiling": "Never used: above soc_max.",
    "faded": "Gone at end of life (capacity fade plus the ceiling).",
}
