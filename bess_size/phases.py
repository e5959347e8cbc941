"""Phased sites: one first-stage design that serves every phase (grid.phases, load.phases).

* **Scenarios.** Each phase (site_spec/phases.py) gets its own optimizer scenarios, generated
  from the phase's site; they are stacked along ``scenario`` into one ScenarioSet whose scenario
  probabilities are ``years_k / N x 1 / n_k``, so the objective's expected annual cost is the
  years-weighted mean over the life and every phase's transient requirements and windows are hard.
  ``attrs["phases_json"]`` records each phase's years, scenario range and site, so the optimizer's
  re-screening screens each phase's scenarios with that phase's site.
* **The model's site.** The constraint families read a few site figures beside the scenarios: the
  envelope is the phase with the largest load, with the tightest POI ramp limits of all phases.
* **Replay.** Each phase's held-out scenarios are replayed with the phase's own site; the checks
  are merged (scenarios and successes summed, the figure of the phase closest to its limit kept,
  each phase's figure in ``detail.phases``) and annual results weighted by years.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import xarray as xr

from .site_spec.phases import Phase, horizon_years, is_phased, phases  # noqa: F401  (re-exported)


def envelope_site(site, phase_list: list[Phase]):
    """The phase site with the largest peak load, with the tightest POI ramp limits of all phases."""
    big = max(phase_list, key=lambda p: (p.site.load.peak_mw, p.index)).site
    grid = {"ramp_limit_mw_per_s": min(p.site.grid.ramp_limit_mw_per_s for p in phase_list),
            "ramp_limit_mw_per_min": min(p.site.grid.ramp_limit_mw_per_min for p in phase_list)}
    return big.model_copy(update={"grid": big.grid.model_copy(update=grid)})


def stack_scenarios(parts: list, phase_list: list[Phase]):
    """One ScenarioSet from each phase's, scenario probabilities weighted by the phase's years."""
    from .scenarios import ScenarioSet
    from .scenarios.generate import fleet_use_of, merge_fleet_use, set_fleet_use
    from .site_spec.load import dump_site

    total = sum(p.years for p in phase_list)
    energies, transients, windows, meta, offset = [], [], [], [], 0
    for part, ph in zip(parts, phase_list):
        e, t, w = part.energy, part.transient, part.windows
        n = int(e.sizes["scenario"])
        idx = np.arange(offset, offset + n, dtype=np.int64)
        prob = np.asarray(e["scenario_probability"].values, dtype=float) * ph.years / total
        e = e.assign_coords(scenario=idx)
        e["scenario_probability"] = e["scenario_probability"].copy(data=prob)
        energies.append(e)
        transients.append(t.assign_coords(scenario=idx))
        if w.sizes.get("window", 0):
            if "source_scenario" in w.coords:
                src = np.asarray(w["source_scenario"].values)
                w = w.assign_coords(source_scenario=("window", np.where(src >= 0, src + offset, src)))
            windows.append(w)
        meta.append({"index": ph.index, "from_year": ph.from_year, "to_year": ph.to_year, "years": ph.years,
                     "scenarios": [offset, offset + n], "site": dump_site(ph.site)})
        offset += n
    energy = xr.concat(energies, dim="scenario", combine_attrs="drop_conflicts", data_vars="minimal", coords="minimal",
                       compat="override")
    # the set's attrs: the first phase's, with each representation error the largest of any phase
    energy.attrs = dict(parts[0].energy.attrs)
    for key, val in parts[0].energy.attrs.items():
        if key.startswith("representation_error"):
            energy.attrs[key] = float(max(float(p.energy.attrs.get(key, val)) for p in parts))
    transient = xr.concat(transients, dim="scenario", combine_attrs="drop_conflicts")
    transient.attrs["fleet_sensitive"] = int(any(int(t.attrs.get("fleet_sensitive", 0)) for t in transients))
    transient.attrs["screened_fleet_units"] = transients[0].attrs.get("screened_fleet_units", "[]")
    uses = [fleet_use_of(t) for t in transients]
    if all(u is not None for u in uses):
        use = None
        for u in uses:
            use = merge_fleet_use(use, u)
        set_fleet_use(transient, use)
    win = (xr.concat(windows, dim="window", combine_attrs="drop_conflicts", data_vars="minimal", coords="minimal",
                     compat="override") if len(windows) > 1 else windows[0] if windows else parts[-1].windows)
    attrs = {**parts[0].attrs, "scenarios": offset, "phases_json": json.dumps(meta)}
    return ScenarioSet(energy=energy, transient=transient, windows=win, attrs=attrs)


def phased_scenarios(site, phase_list: list[Phase] | None = None, stream: str = "optimizer", progress=None):
    """Every phase's scenarios of ``stream``, stacked (see the module docstring)."""
    from .scenarios import generate_scenarios

    phase_list = phase_list or phases(site)
    parts = []
    for k, ph in enumerate(phase_list):
        parts.append(generate_scenarios(ph.site, stream))
        if progress is not None:
            progress(k + 1, len(phase_list))
    return stack_scenarios(parts, phase_list)


def phase_sites_of(scenarios) -> list[tuple[object, int, int]]:
    """(site, first scenario, end scenario) per phase of a stacked set; [] for an unphased one."""
    from .site_spec import validate_site

    meta = json.loads(scenarios.attrs.get("phases_json", "[]") or "[]")
    return [(validate_site(m["site"], f"phase from year {m['from_year']}"), m["scenarios"][0], m["scenarios"][1])
            for m in meta]


# --------------------------------------------------------------------------- replay


def merge_validations(validations: list, phase_list: list[Phase]):
    """One Validation over every phase's held-out replay (see the module docstring)."""
    from .simulator.checks import Check

    total = sum(p.years for p in phase_list)
    last = validations[-1]
    by_req: dict[str, list[tuple[Phase, Check]]] = {}
    for ph, v in zip(phase_list, validations):
        for c in v.checks:
            by_req.setdefault(c.requirement, []).append((ph, c))
    checks = []
    for req, items in by_req.items():
        offsets = np.cumsum([0] + [len(v.scenarios) for v in validations])
        worst_ph, worst = min(items, key=lambda pc: (pc[1].passed, _rel_margin(pc[1])))
        failed = [i + int(offsets[ph.index]) for ph, c in items for i in c.failed_scenarios]
        detail = dict(worst.detail)
        detail["phases"] = [{"phase": ph.label(), "measured": c.measured, "limit": c.limit, "passed": c.passed,
                             "scenarios": c.scenarios, "successes": c.successes} for ph, c in items]
        checks.append(dataclasses.replace(worst, scenarios=sum(c.scenarios for _, c in items),
                                          successes=sum(c.successes for _, c in items), failed_scenarios=failed,
                                          detail=detail))
    results = {}
    for key in last.results:
        vals = [(ph.years, v.results.get(key)) for ph, v in zip(phase_list, validations)]
        if all(isinstance(x, (int, float)) and x is not None for _, x in vals):
            results[key] = float(sum(y * x for y, x in vals) / total)
        else:
            results[key] = last.results[key]
    rows = []
    for ph, v in zip(phase_list, validations):
        rows += [{**r, "phase": ph.label()} for r in v.scenarios]
    common = lambda attr: [x for x in getattr(last, attr) if all(x in getattr(v, attr) for v in validations)]  # noqa: E731
    notes = [f"phases: {', '.join(p.label() for p in phase_list)}; each phase's held-out scenarios replayed with its own "
             "site; a check's figure is its phase closest to the limit (detail.phases has each); annual results are "
             "weighted by the phases' years; timeseries.nc holds the last phase's windows"]
    for v in validations:
        notes += [n for n in v.notes if n not in notes]
    na = {k: why for k, why in last.not_applicable.items() if all(k in v.not_applicable for v in validations)}
    return dataclasses.replace(last, checks=checks, results=results, scenarios=rows, not_exercised=common("not_exercised"),
                               notes=notes, not_applicable=na)


def _rel_margin(c) -> float:
    m = c.margin
    if m is None:
        return np.inf
    return m / abs(c.limit) if c.limit else m


def binding_by_phase(validations: list, phase_list: list[Phase]) -> list[dict]:
    """Per phase, the first failing check, else the check whose held-out figure came closest to its
    limit (relative margin)."""
    from .cashflows import peak_load_mw

    out = []
    for ph, v in zip(phase_list, validations):
        cands = [c for c in v.checks if c.measured is not None and c.margin is not None and c.limit]
        failed = [c for c in v.checks if c.status == "fail"]
        best = failed[0] if failed else min(cands, key=_rel_margin) if cands else None
        g = ph.site.grid
        row = {"phase": ph.label(), "from_year": ph.from_year, "to_year": ph.to_year,
               "it_capacity_mw": ph.site.load.it_capacity_mw, "peak_load_mw": round(peak_load_mw(ph.site), 6),
               "firm_import_mw": g.firm_import_mw, "nonfirm_import_mw": g.nonfirm_import_mw,
               "passed": v.passed}
        if best is not None:
            rel = _rel_margin(best) if best.limit else None  # a margin against a zero limit has no fraction
            row.update(binding_requirement=best.requirement, measured=best.measured, limit=best.limit, unit=best.unit,
                       margin_fraction=round(rel, 6) if rel is not None and np.isfinite(rel) else None)
        out.append(row)
    return out


def simulate_phases(site, design, phase_list: list[Phase] | None = None, held_out=None, progress=None):
    """Replay ``design`` on every phase's held-out scenarios; (merged Validation, per-phase Validations)."""
    from .simulator import simulate

    phase_list = phase_list or phases(site)
    vals = [simulate(ph.site, design, held_out=held_out, progress=progress) for ph in phase_list]
    return merge_validations(vals, phase_list), vals


# --------------------------------------------------------------------------- costs by phase


def phase_annual_costs(result, scenarios) -> list[dict]:
    """Per phase of a stacked set, the expected annual cost parts of the solved design given that
    phase (its scenarios' weighted sums over their probability mass) and the grid-only bill's
    energy and demand parts for the same load [USD/year]."""
    import pyomo.environ as pyo

    m, d = result.model, result._data
    val = lambda x: float(pyo.value(x, exception=False) or 0.0)  # noqa: E731
    n = d.n
    wdt = [w * d.step_h for w in d.annual_weight]
    th = d.site.thermal
    imp = [val(m.import_mw[i]) for i in range(n)]
    export = d.site.grid.export_allowed
    net = [a - b if export else max(a - b, 0.0) for a, b in zip(d.load_mw, d.pv_mw)]
    fuel = [sum(th[g].fuel_usd_per_mwh * val(m.gen_mw[g, i]) for g in m.thermal_types) for i in range(n)]
    starts = [sum(th[g].start_cost_usd * val(m.started_units[g, i]) for g in m.thermal_types) for i in range(n)]
    fl = d.site.load.flexible
    flex = [fl.cost_usd_per_mwh * val(m.flexible_mw[i]) for i in range(n)] if hasattr(m, "flexible_mw") else [0.0] * n
    shed = [d.site.reliability.voll_usd_per_mwh * val(m.shed_mw[i]) for i in range(n)]
    peak_var = [val(m.peak_import_mw[q]) for q in range(len(d.demand_groups))] if d.demand_groups else []
    fixed_om = val(m.opex_fixed_om_usd)
    out = []
    for meta in json.loads(scenarios.attrs.get("phases_json", "[]")):
        lo, hi = meta["scenarios"]
        mass = sum(d.scenario_probability[lo:hi]) or 1.0
        steps = [i for i in range(n) if lo <= d.scenario_of[i] < hi]
        ssum = lambda a, per_mwh=True: sum((wdt[i] if per_mwh else d.annual_weight[i]) * a[i] for i in steps) / mass  # noqa: E731
        groups = [(q, g) for q, g in enumerate(d.demand_groups) if lo <= g.scenario < hi]
        demand = sum(d.scenario_probability[g.scenario] * g.usd_per_mw_month * peak_var[q] for q, g in groups) / mass
        ref_demand = sum(d.scenario_probability[g.scenario] * g.usd_per_mw_month
                         * max(0.0, max(max(net[i] for i in st) for st in g.steps_by_period)) for _, g in groups) / mass
        out.append({
            "opex_energy_usd": ssum([p * x for p, x in zip(d.price_usd_per_mwh, imp)]),
            "opex_demand_charge_usd": demand,
            "opex_fuel_usd": ssum(fuel),
            "opex_starts_usd": ssum(starts, per_mwh=False),
            "opex_flexible_load_usd": ssum(flex),
            "opex_shedding_usd": ssum(shed),
            "opex_fixed_om_usd": fixed_om,
            "grid_only_energy_usd": ssum([p * x for p, x in zip(d.price_usd_per_mwh, net)]),
            "grid_only_demand_charge_usd": ref_demand,
        })
    return [{k: round(v, 2) for k, v in row.items()} for row in out]
