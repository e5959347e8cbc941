"""The instant feasibility screen: requirements the spec's own caps cannot meet, found without solving.

Each rule compares what a requirement certainly needs with the most the spec lets the optimizer
build, and names both fields:

* PCS power: ride-through (or the islanding bridge) and screened POI ramp buffering, against
  ``bess.max_power_mw`` and ``bess.max_c_rate x bess.max_energy_mwh``;
* nameplate energy: the ride-through reserve and the draw of hard (explicit) curtailment events,
  within the end-of-life usable span, against ``bess.max_energy_mwh``;
* onsite generation for the island, against ``generation[*].max_new_units``.

``bess-size check`` runs it on the spec alone (``spec_needs``: the peak is IT capacity x PUE, an
explicit curtailment meets at least ``load.min_load_mw``); the optimizer runs the same rules on its
scenarios' figures before it builds the model (``optimizer.diagnosis.screen``), so an infeasible
site is named in the same words by both, in an instant. It lives with the site spec because the
optimizer may import the spec, never the reverse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import Problem
from .models import Site


@dataclass(frozen=True)
class CurtailmentDraw:
    """What the battery must deliver through one hard curtailment event (whatever else runs)."""

    where: str  # the spec field of the event, e.g. "grid.events[0]"
    power_mw: float  # largest step of load - PV - firm import - all generation - flexible load
    stored_mwh: float  # the sum over the event of that power x step / discharge_efficiency


@dataclass(frozen=True)
class Needs:
    """The figures the rules compare with the caps; what is not known is left at None/empty."""

    peak_load_mw: float | None  # the load a loss of grid may meet (None: unknown, e.g. a measured trace in check)
    ramp_discharge_mw: float | None = None  # largest screened battery discharge under the POI policy
    ramp_charge_mw: float | None = None
    curtailment: list[CurtailmentDraw] = field(default_factory=list)


# --------------------------------------------------------------------------- what a requirement needs


def usable_fraction(site: Site) -> float:
    """U / E = end_of_life_fraction (soc_max - soc_min): the share of nameplate the bands may fill."""
    b = site.bess
    return b.end_of_life_fraction * (b.soc_max_fraction - b.soc_min_fraction)


def generation_mw(site: Site) -> float:
    """All dispatchable generation the spec allows: sum of (existing_units + max_new_units) x unit_mw."""
    return sum((g.existing_units + g.max_new_units) * g.unit_mw for g in site.thermal)


def first_start_s(site: Site) -> float:
    """When the fastest allowed generator can first deliver after a loss of grid (inf: none)."""
    starts = [g.start_time_s for g in site.thermal if g.existing_units + g.max_new_units > 0]
    return min(starts) if starts else math.inf


def islanding_need_mw(site: Site, peak_load_mw: float) -> float:
    """What the island must carry: the peak, or peak x (1 - load.flexible.max_fraction) when the
    spec sheds flexible load in an island (reliability.islanding.shed_flexible_load); PV counts as zero."""
    return peak_load_mw * (1.0 - site.reliability.islanding.shed_fraction(site.load))


def redundancy_unit(site: Site):
    """The largest generator unit the spec allows (the one N+k takes out), or None without generation."""
    units = [g for g in site.thermal if g.existing_units + g.max_new_units > 0]
    return max(units, key=lambda g: g.unit_mw) if units else None


def redundancy_mw(site: Site) -> float:
    """Capacity the island must hold in reserve: reliability.islanding.redundancy_units x the largest
    unit's unit_mw (N+k with the k largest units out; 0 unless islanding is required)."""
    isl = site.reliability.islanding
    big = redundancy_unit(site)
    return isl.redundancy_units * big.unit_mw if isl.required and big is not None else 0.0


def ride_through_power_mw(site: Site, peak_load_mw: float) -> float:
    """PCS power the BESS alone must give at a loss of grid at peak, before any generator can start:
    load_fraction x peak, less the flexible share only when the spec sheds it in an island at once
    (islanding without ride-through, shed_flexible_load with flexible_shed_delay_s = 0); 0 when
    nothing is required or a generator starts at once.
    """
    rel = site.reliability
    lf, rt_s = rel.ride_through.load_fraction, rel.ride_through.duration_s
    if lf == 0 or first_start_s(site) <= 0:
        return 0.0
    if rt_s > 0:
        return lf * peak_load_mw
    if not rel.islanding.required:
        return 0.0
    at_once = rel.islanding.flexible_shed_delay_s <= 0
    return lf * (islanding_need_mw(site, peak_load_mw) if at_once else peak_load_mw)


def ride_through_energy_mwh(site: Site, peak_load_mw: float) -> float:
    """Stored energy of the ride-through at peak before any generator can start:
    load_fraction x peak x min(duration_s, first start) / 3600 / discharge_efficiency [MWh]."""
    rt = site.reliability.ride_through
    seconds = min(rt.duration_s, first_start_s(site))
    return rt.load_fraction * peak_load_mw * seconds / 3600.0 / site.bess.discharge_efficiency


def explicit_curtailment_draws(site: Site) -> list[CurtailmentDraw]:
    """From the spec alone: each explicit curtailment meets at least load.min_load_mw, less the
    flexible share, all PV and generation allowed and the firm import, for its whole duration (the
    energy layer models the call at its real times, across midnight too)."""
    flex = site.load.flexible.max_fraction if site.load.flexible else 0.0
    pv_mw = sum(p.capacity_mw for p in site.pv)
    power = (1.0 - flex) * site.load.min_load_mw - pv_mw - site.grid.firm_import_mw - generation_mw(site)
    out = []
    for i, e in enumerate(site.grid.events):
        if e.kind != "curtailment" or power <= 0:
            continue
        out.append(CurtailmentDraw(f"grid.events[{i}]", power,
                                   power * e.duration_s / 3600.0 / site.bess.discharge_efficiency))
    return out


def spec_needs(site: Site) -> Needs:
    """What ``check`` knows without scenarios: the load model's peak and floor (a measured trace's
    peak is not known, and it is not clipped at load.min_load_mw)."""
    if site.load.trace is not None:
        return Needs(peak_load_mw=None)
    return Needs(peak_load_mw=site.load.peak_mw, curtailment=explicit_curtailment_draws(site))


# --------------------------------------------------------------------------- the rules


def _pcs_cap(site: Site) -> tuple[float, str]:
    """The largest PCS the spec allows, and the fields that set it."""
    b = site.bess
    by_c_rate = b.max_c_rate * b.max_energy_mwh
    if by_c_rate < b.max_power_mw:
        return by_c_rate, (f"bess.max_c_rate x bess.max_energy_mwh = {b.max_c_rate:g} x {b.max_energy_mwh:g} "
                           f"= {by_c_rate:g} MW")
    return b.max_power_mw, f"bess.max_power_mw is {b.max_power_mw:g}"


def _pcs_problem(site: Site, what: str, need_mw: float, remedy: str) -> list[Problem]:
    cap, fields = _pcs_cap(site)
    if need_mw <= cap * (1 + 1e-9) + 1e-9:
        return []
    path = "bess.max_power_mw" if fields.startswith("bess.max_power_mw") else "bess.max_energy_mwh"
    return [Problem(path, getattr(site.bess, path.split(".")[1]), f"expected at least {need_mw:.1f} MW of PCS, or {remedy}",
                    reason=f"{what} needs {need_mw:.1f} MW of PCS but {fields}")]


def _energy_problem(site: Site, what: str, stored_mwh: float, remedy: str) -> list[Problem]:
    uf = usable_fraction(site)
    need = stored_mwh / uf
    cap = site.bess.max_energy_mwh
    if need <= cap * (1 + 1e-9) + 1e-9:
        return []
    return [Problem("bess.max_energy_mwh", cap, f"expected at least {need:.1f} MWh, or {remedy}",
                    reason=f"{what} needs {need:.1f} MWh of nameplate energy (bands must fit the end-of-life usable "
                           f"span, {uf:.0%} of nameplate) but bess.max_energy_mwh is {cap:g}")]


def pcs_for_ride_through(site: Site, needs: Needs) -> list[Problem]:
    if needs.peak_load_mw is None:
        return []
    rel = site.reliability
    need = ride_through_power_mw(site, needs.peak_load_mw)
    what = "ride-through" if rel.ride_through.duration_s > 0 else "islanding bridge"
    lf = rel.ride_through.load_fraction
    return _pcs_problem(site, f"{what} ({lf:.0%} of the {needs.peak_load_mw:.0f} MW peak load for "
                              f"{rel.ride_through.duration_s:g} s, reliability.ride_through)", need,
                        "a smaller reliability.ride_through.load_fraction")


def energy_for_ride_through(site: Site, needs: Needs) -> list[Problem]:
    if needs.peak_load_mw is None:
        return []
    stored = ride_through_energy_mwh(site, needs.peak_load_mw)
    return _energy_problem(site, "ride-through reserve (reliability.ride_through)", stored,
                           "a shorter reliability.ride_through.duration_s")


def pcs_for_ramps(site: Site, needs: Needs) -> list[Problem]:
    out = []
    for need, way in ((needs.ramp_discharge_mw, "discharge"), (needs.ramp_charge_mw, "charge")):
        if need:
            out += _pcs_problem(site, f"POI ramp buffering (largest screened battery {way} under "
                                      "grid.ramp_limit_mw_per_s / _per_min)", need,
                                "looser grid.ramp_limit_mw_per_s / grid.ramp_limit_mw_per_min")
    return out[:1]  # one PCS message is enough; the larger need is the first that fails


def energy_for_curtailment(site: Site, needs: Needs) -> list[Problem]:
    out = []
    for draw in needs.curtailment:
        out += _pcs_problem(site, f"the explicit curtailment {draw.where} (firm import, all generation allowed and "
                                  "flexible load do not cover the load)", draw.power_mw,
                            "more onsite generation or firm import")
        out += _energy_problem(site, f"curtailment reserve (curtailment events: the explicit curtailment {draw.where})",
                               draw.stored_mwh, "more onsite generation or firm import")
    return out


def generation_for_island(site: Site, needs: Needs) -> list[Problem]:
    """An island must be carried by generation: sum over kinds of (existing + max_new) x unit_mw must
    reach :func:`islanding_need_mw`; PV counts as zero (it may be dark when the grid is lost)."""
    if not site.reliability.islanding.required or not site.thermal or needs.peak_load_mw is None:
        return []
    most_mw = generation_mw(site)
    need_mw = islanding_need_mw(site, needs.peak_load_mw) + redundancy_mw(site)
    if most_mw + 1e-9 >= need_mw:
        return []
    rule = ("peak x (1 - load.flexible.max_fraction)" if site.reliability.islanding.shed_fraction(site.load) > 0
            else "the peak site load")
    k = site.reliability.islanding.redundancy_units
    if k:
        rule += f" + {k} x the largest unit (reliability.islanding.redundancy_units, N+{k})"
    return [Problem("reliability.islanding.required", True,
                    f"islanding needs generation of at least {rule} = {need_mw:g} MW, "
                    f"but the generation section allows at most {most_mw:g} MW (existing_units + max_new_units) x unit_mw; "
                    "raise max_new_units, add generation, or set required: false [MW]")]


RULES = [pcs_for_ride_through, pcs_for_ramps, energy_for_ride_through, energy_for_curtailment, generation_for_island]


def feasibility_problems(site: Site, needs: Needs | None = None) -> list[Problem]:
    """Every rule on ``needs`` (default: what the spec alone says); empty when nothing is out of reach."""
    needs = spec_needs(site) if needs is None else needs
    return [p for rule in RULES for p in rule(site, needs)]
