"""Energy mix and emissions: where a year's energy comes from, what it emits, how hard the units run.

One function for the optimizer's promise and the held-out replay, so both read the same way.
"""

from __future__ import annotations

HOURS_PER_YEAR = 8760.0


def source_names(site) -> list[str]:
    """A name per thermal type: its kind, or kind[g] when a kind appears twice."""
    kinds = [u.kind for u in site.thermal]
    return [k if kinds.count(k) == 1 else f"{k}[{g}]" for g, k in enumerate(kinds)]


def energy_mix(site, units: list[int], *, grid_import_mwh: float, generation_mwh: list[float], pv_used_mwh: float,
               pv_curtailed_mwh: float, bess_discharge_mwh: float, unserved_mwh: float,
               flexible_shed_mwh: float) -> dict:
    """The mix [MWh/year], CO2 [t/year] (grid import x grid.co2_t_per_mwh, each type's output x its
    emission factor) and each type's capacity factor (output over installed MW x 8760 h)."""
    names = source_names(site)
    gen = dict(zip(names, generation_mwh))
    co2 = {"grid": grid_import_mwh * site.grid.co2_t_per_mwh}
    cf = {}
    for name, u, n, mwh in zip(names, site.thermal, units, generation_mwh):
        co2[name] = mwh * u.emission_factor_t_per_mwh
        cf[name] = mwh / (n * u.unit_mw * HOURS_PER_YEAR) if n > 0 else 0.0
    total = sum(co2.values())
    served = grid_import_mwh + sum(generation_mwh) + pv_used_mwh
    r = lambda x: round(float(x), 3)  # noqa: E731
    return {
        "grid_import_mwh_per_year": r(grid_import_mwh),
        "generation_mwh_per_year": {k: r(v) for k, v in gen.items()},
        "pv_used_mwh_per_year": r(pv_used_mwh),
        "pv_curtailed_mwh_per_year": r(pv_curtailed_mwh),
        "bess_discharge_mwh_per_year": r(bess_discharge_mwh),
        "unserved_energy_mwh_per_year": r(unserved_mwh),
        "flexible_load_shed_mwh_per_year": r(flexible_shed_mwh),
        "co2_t_per_year": {**{k: r(v) for k, v in co2.items()}, "total": r(total)},
        "co2_t_per_mwh_supplied": round(total / served, 6) if served > 0 else 0.0,
        "capacity_factor": {k: round(v, 6) for k, v in cf.items()},
    }


def replay_energy_mix(site, design, results: dict) -> dict | None:
    """The held-out replay's mix from validation.json ``results``. The replay reports generation as a
    total: it is split between thermal types as the optimizer's dispatch splits it, and PV used is the
    optimizer's expected PV output less the PV the replay curtailed."""
    promise = design.energy_mix or {}
    if not results or "grid_import_mwh_per_year" not in results:
        return None
    planned = list((promise.get("generation_mwh_per_year") or {}).values())
    total = float(results.get("generation_mwh_per_year", 0.0))
    n = len(site.thermal)
    share = ([x / sum(planned) for x in planned] if len(planned) == n and sum(planned) > 0
             else [1.0 / n] * n if n else [])
    pv_total = float(promise.get("pv_used_mwh_per_year", 0.0)) + float(promise.get("pv_curtailed_mwh_per_year", 0.0))
    curtailed = float(results.get("pv_curtailed_mwh_per_year", 0.0))
    return energy_mix(site, [g.units for g in design.generation], grid_import_mwh=float(results["grid_import_mwh_per_year"]),
                      generation_mwh=[total * s for s in share], pv_used_mwh=max(pv_total - curtailed, 0.0),
                      pv_curtailed_mwh=curtailed, bess_discharge_mwh=float(results.get("bess_throughput_mwh_per_year", 0.0)),
                      unserved_mwh=float(results.get("unserved_energy_mwh_per_year", 0.0)),
                      flexible_shed_mwh=float(results.get("flexible_load_shed_mwh_per_year", 0.0)))
