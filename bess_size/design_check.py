"""Judge a design from any source (`bess-size simulate`): a vendor's proposal or an edited design.json.

* :func:`with_site_defaults` - a minimal design (energy, PCS, inverters, optional containers and
  generation) gets the inverter rating and the generation entries' unit sizes from the site;
* :func:`complete_design` - bands and headroom it does not give are derived by the optimizer with
  its sizes fixed (bands it gives are kept as given: they are part of what is judged);
* :func:`replay_cost` - its cost recomputed from the site's prices for its sizes and from the
  held-out replay's annual figures, never carried over from the design file.

The simulator never imports the optimizer; this shell on top of both may.
"""

from __future__ import annotations

from typing import Callable

from .site_spec import Design, SiteSpecError
from .site_spec.design import Cost, GenerationDesign
from .site_spec.errors import Problem


def with_site_defaults(site, design: Design, path: str = "<design>") -> Design:
    """The design with ``bess.inverter_rating_mva`` and each generation entry's ``unit_mw`` taken
    from the site where it leaves them out, one entry per thermal generation type of the site
    (the site's existing units, no new ones, where the design lists none), and ``bands_fraction``
    recomputed from ``bands_mwh`` where both are given (the energies are what is replayed)."""
    d = design.model_copy(deep=True)
    if d.bess.inverter_rating_mva is None:
        d.bess.inverter_rating_mva = site.bess.inverter_rating_mva
    thermal = site.thermal
    given = [g for g in d.generation if g.kind != "pv"]
    if len(given) > len(thermal):
        raise SiteSpecError(path, [Problem("generation", len(given), f"at most {len(thermal)} thermal entries, one per "
                                           f"thermal generation type of site {site.name!r}, in its order")])
    out = []
    for k, unit in enumerate(thermal):
        g = given[k] if k < len(given) else GenerationDesign(kind=unit.kind, existing_units=unit.existing_units)
        if g.kind != unit.kind:
            raise SiteSpecError(path, [Problem(f"generation[{k}].kind", g.kind,
                                               f"{unit.kind!r}: the site's thermal generation type number {k + 1}")])
        if g.unit_mw is None:
            g.unit_mw = unit.unit_mw
        out.append(g)
    d.generation = out
    if d.bess.bands_mwh is not None:
        d.bess.bands_fraction = _fractions(d.bess.bands_mwh, float(d.bess.energy_mwh))
    return d


def _fractions(bands, energy_mwh: float):
    """``bands_fraction`` from ``bands_mwh`` (an edited design's fractions follow its energies)."""
    E = energy_mwh
    return type(bands).model_validate(
        {k: ([x / E for x in v] if isinstance(v, (list, tuple)) else v / E) if E > 0 else v
         for k, v in bands.model_dump().items()})


def needs_completion(design: Design) -> bool:
    b = design.bess
    return b.bands_mwh is None or b.headroom_mw is None or b.bands_fraction is None


def complete_design(site, design: Design, *, solver: str = "highs", progress: Callable[[str], None] | None = None,
                    scenarios=None) -> Design:
    """Bands and headroom for a design that gives only sizes: the optimizer on the site's scenarios
    with energy, PCS power, inverters and new units fixed at the design's. Bands the design gives
    are kept (and their fractions recomputed). Raises ``InfeasibleError`` naming the requirement the
    sizes cannot meet even with the best bands."""
    from .optimizer import optimize
    from .scenarios import generate_scenarios

    d = design.model_copy(deep=True)
    b = d.bess
    from .solvers.errors import InfeasibleError

    reason = _screen_sizes(site, b)
    if reason is not None:
        raise InfeasibleError(_no_bands(b, [int(g.new_units) for g in d.generation], reason))
    scen = scenarios if scenarios is not None else generate_scenarios(site)
    fixed = {"energy_mwh": float(b.energy_mwh), "pcs_power_mw": float(b.pcs_power_mw), "inverters": int(b.inverters),
             "new_units": [int(g.new_units) for g in d.generation]}
    try:
        res = optimize(site, scen, fixed=fixed, solver=solver, progress=progress, explain=False)
    except InfeasibleError as exc:
        raise InfeasibleError(_no_bands(b, fixed["new_units"], str(exc))) from None
    got = res.design.bess
    if b.headroom_mw is None:
        b.headroom_mw = got.headroom_mw
    if b.bands_mwh is None:
        b.bands_mwh = got.bands_mwh
    b.bands_fraction = _fractions(b.bands_mwh, float(b.energy_mwh))
    if b.containers is None and got.containers is not None:
        b.containers = got.containers
    if not d.promises:
        d.promises = dict(res.design.promises)
    return d


def _screen_sizes(site, b) -> str | None:
    """The instant screen (`bess-size check`'s) with the design's E and P as the site's caps: names the
    requirement the sizes cannot meet (the optimizer's diagnosis relaxes site caps, not fixed sizes)."""
    from .site_spec.screen import feasibility_problems

    try:
        capped = site.with_values({"bess.max_power_mw": float(b.pcs_power_mw), "bess.max_energy_mwh": float(b.energy_mwh)})
    except SiteSpecError:
        return None  # the caps clash with another rule of the spec: leave it to the optimizer
    problems = feasibility_problems(capped)
    if not problems:
        return None
    return ("with the design's sizes as the caps bess.max_power_mw and bess.max_energy_mwh: "
            + "; ".join(p.reason or p.expected for p in problems))


def _no_bands(b, new_units, reason: str) -> str:
    return (f"no bands can be derived for this design: with energy {b.energy_mwh:g} MWh, PCS {b.pcs_power_mw:g} MW, "
            f"{b.inverters} inverters and new units {new_units} fixed, no dispatch meets the site's hard "
            f"requirements ({reason}). Give bess.bands_mwh and bess.headroom_mw in the design to have the replay "
            "judge it anyway.")


def replay_cost(site, design: Design, validation) -> Cost:
    """The design's annual cost from the site's prices and the replay: annualized capital (capital
    recovery factor x installed cost of its sizes), expected operating cost from the held-out
    replay's annual results (energy, fuel, starts, throughput, flexible load, unserved load at VOLL,
    fixed O&M), and the reference bill of the same net load from the grid alone (energy only:
    the replay does not price demand charges). Whether the grid alone could serve the site (and by
    how much it falls short) is the site's, from its optimizer scenarios: taken from the design's
    own cost when it names this site, so a replayed design still says its reference bill is a
    yardstick where it is one."""
    b, eco, th = site.bess, site.economics, site.thermal
    crf = eco.capital_recovery_factor
    d = design.bess
    capex = {
        "annualized_capex_bess_energy_usd": crf * b.energy_cost_usd_per_mwh * d.energy_mwh,
        "annualized_capex_pcs_usd": crf * b.pcs_cost_usd_per_mw * d.pcs_power_mw,
        "annualized_capex_inverters_usd": crf * b.inverter_cost_usd * d.inverters,
        "annualized_capex_generation_usd": crf * sum(u.capex_usd_per_mw * u.unit_mw * g.new_units
                                                     for u, g in zip(th, design.generation)),
    }
    r = validation.results
    flex = site.load.flexible
    bess_capital = (b.energy_cost_usd_per_mwh * d.energy_mwh + b.pcs_cost_usd_per_mw * d.pcs_power_mw
                    + b.inverter_cost_usd * d.inverters)
    opex = {
        "opex_energy_usd": r["energy_cost_usd_per_year"],
        "opex_fuel_usd": r["fuel_cost_usd_per_year"],
        "opex_starts_usd": r["start_cost_usd_per_year"],
        "opex_throughput_usd": b.throughput_cost_usd_per_mwh * r["bess_throughput_mwh_per_year"],
        "opex_flexible_load_usd": (flex.cost_usd_per_mwh if flex else 0.0) * r["flexible_load_shed_mwh_per_year"],
        "opex_shedding_usd": site.reliability.voll_usd_per_mwh * r["unserved_energy_mwh_per_year"],
        "opex_fixed_om_usd": eco.bess_fixed_om_fraction_per_year * bess_capital + sum(
            eco.generation_fixed_om_usd_per_mw_year * u.unit_mw * g.new_units for u, g in zip(th, design.generation)),
    }
    capex_total, opex_total = sum(capex.values()), sum(opex.values())
    grid_only = r["grid_only_energy_cost_usd_per_year"]
    breakdown = {k: round(float(v), 2) for k, v in {**capex, **opex}.items()}
    breakdown["grid_only_bill_usd"] = round(float(grid_only), 2)
    prior = design.cost if design.cost is not None and design.site == site.name else None
    return Cost(annualized_capex_usd=round(capex_total, 2), expected_annual_opex_usd=round(opex_total, 2),
                grid_only_bill_usd=round(float(grid_only), 2), total_annualized_usd=round(capex_total + opex_total, 2),
                breakdown=breakdown, grid_energy_reference_usd=round(float(grid_only), 2),
                grid_only_feasible=prior.grid_only_feasible if prior else None,
                grid_only_shortfall_mw=prior.grid_only_shortfall_mw if prior else None)
