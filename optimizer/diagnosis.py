"""Why a site is infeasible, in the site's own terms.

First the instant screen (``site_spec.screen``, the rules `bess-size check` runs) on the scenarios'
own figures: the peak load, the screened ramp residuals and the explicit curtailment draws; it
needs no solve. Past it, the model is rebuilt in elastic mode (every site limit gets a labeled slack, see limits.py) and
solved for the least violation; each limit that had to move is explained by the requirement that
pushed it, e.g. "ride-through needs 345 MW of PCS but bess.max_power_mw is 300".
"""

from __future__ import annotations

from dataclasses import replace

import pyomo.environ as pyo

from bess_size.site_spec.screen import CurtailmentDraw, Needs, feasibility_problems, generation_mw
from bess_size.solvers import solve

from .bands import usable_fraction
from .data import ModelData
from .generation import islanding_load_mw
from .model import ModelOptions, build_model

TOL = 1e-4


def screen_needs(d: ModelData) -> Needs:
    """The screen's figures from the optimizer's data: peak, screened ramp residuals, explicit curtailments.

    An explicit curtailment's draw in each step is (1 - flexible.max_fraction) L - PV - the import
    limit - all generation allowed (what nothing else can carry), summed over the event / eta_dis.
    """
    site = d.site
    fl = site.load.flexible
    keep = 1.0 - (fl.max_fraction if fl else 0.0)
    gen = generation_mw(site)
    by_event: dict[tuple[int, int], list[float]] = {}
    for i in range(d.n):
        if d.explicit_event[i] and d.phase[i] == 2:
            need = keep * d.load_mw[i] - d.pv_mw[i] - d.import_limit_mw[i] - gen
            by_event.setdefault((d.scenario_of[i], d.period_of[i]), []).append(max(0.0, need))
    draws = [CurtailmentDraw(d.explicit_event_field.get(key, "grid.events"), max(p),
                             sum(p) * d.step_h / site.bess.discharge_efficiency)
             for key, p in by_event.items() if max(p) > 0]
    # the largest draw per event field is the one to report
    worst: dict[str, CurtailmentDraw] = {}
    for c in draws:
        if c.where not in worst or c.stored_mwh > worst[c.where].stored_mwh:
            worst[c.where] = c
    tr = d.transient
    return Needs(peak_load_mw=d.peak_load_mw, ramp_discharge_mw=max(tr["discharge_residual_mw"] + [0.0]),
                 ramp_charge_mw=max(tr["charge_residual_mw"] + [0.0]), curtailment=list(worst.values()))


def _explain_screen(problems) -> str | None:
    if not problems:
        return None
    return "the site's requirements cannot be met:\n  - " + "\n  - ".join(p.reason or p.expected for p in problems)


def screen(d: ModelData) -> str | None:
    """The instant screen on the optimizer's data: the explanation, or None when nothing is out of reach."""
    return _explain_screen(feasibility_problems(d.site, screen_needs(d)))


def screen_site(site) -> str | None:
    """The same screen on the spec alone (what `check` runs), before any scenario is generated."""
    return _explain_screen(feasibility_problems(site))


def _v(x) -> float:
    val = pyo.value(x, exception=False)
    return 0.0 if val is None else float(val)


def diagnose(d: ModelData, options: ModelOptions, *, solver: str = "highs", time_limit_s: float | None = None) -> str:
    """Re-solve with labeled elastic slacks; return the explanation (one line per violated limit)."""
    m = build_model(d, replace(options, elastic=True, strict_dispatch=False))
    res = solve(m, solver=solver, time_limit_s=time_limit_s, mip_gap=1e-4)
    if not res.has_solution:
        return ("the site's requirements cannot all be met, and relaxing its limits (bess.max_power_mw, "
                "bess.max_energy_mwh, bess.max_c_rate, generation[*].max_new_units, explicit grid.events) "
                f"does not help either ({res.message}); check the load against the import limits")
    lines = []
    for name, lim in m.limits.items():
        s = _v(m.slack[name])
        if s <= TOL * max(1.0, abs(lim.value)):
            continue
        lines.append(_explain(m, d, name, lim, s))
    if not lines:
        return "the solver reported the model infeasible, but no site limit had to be relaxed (a numerical problem?)"
    return "the site's requirements cannot be met:\n  - " + "\n  - ".join(lines)


def _power_requirements(m, d: ModelData) -> dict[str, float]:
    """PCS power each requirement asks for, at the elastic solution [MW]."""
    rel = d.site.reliability
    out = {}
    if d.windows:
        need = max(max([w.fixed_max_mw for w in d.windows] + [0.0]),
                   max([_v(x) for x in m.contingency_residual_mw.values()] + [0.0]) if hasattr(m, "contingency_residual_mw") else 0.0)
        what = "islanding bridge" if rel.islanding.required else "ride-through"
        lf = rel.ride_through.load_fraction
        out[f"{what} ({lf:.0%} of the {d.peak_load_mw:.0f} MW peak load for {rel.ride_through.duration_s:g} s, "
            f"reliability.ride_through)"] = need
    tr = d.transient
    out["POI ramp buffering (largest screened battery residual under grid.ramp_limit_mw_per_s / _per_min)"] = max(
        tr["discharge_residual_mw"] + tr["charge_residual_mw"] + [0.0])
    disp = max([_v(m.discharge_mw[i]) - _v(m.charge_mw[i]) + _v(m.headroom_up_mw) for i in range(d.n)]
               + [_v(m.charge_mw[i]) - _v(m.discharge_mw[i]) + _v(m.headroom_down_mw) for i in range(d.n)] + [0.0])
    out["the energy layer's dispatch plus transient headroom (import limits, curtailment events)"] = disp
    return out


def _energy_requirements(m, d: ModelData) -> dict[str, float]:
    """Nameplate energy each requirement asks for, at the elastic solution [MWh]."""
    uf = usable_fraction(d)
    names = {"ride-through reserve (reliability.ride_through)": m.ride_through_reserve_mwh,
             "up-ramp buffer (screened POI deficit)": m.up_ramp_buffer_mwh,
             "curtailment reserve (curtailment events)": m.curtailment_reserve_mwh,
             "down-ramp headroom (screened POI surplus)": m.down_ramp_headroom_mwh}
    out = {k: _v(x) / uf for k, x in names.items()}
    out["the bands together"] = sum(_v(x) for x in names.values()) / uf
    c = d.site.bess.max_c_rate
    out[f"the PCS power at bess.max_c_rate = {c:g}"] = _v(m.pcs_power_mw) / c
    return out


def _largest(reqs: dict[str, float]) -> tuple[str, float]:
    return max(reqs.items(), key=lambda kv: kv[1])


def _binding(reqs: dict[str, float], value: float) -> str:
    """The requirement that sets ``value``: the largest one not above it (others were relaxed)."""
    below = {k: v for k, v in reqs.items() if v <= value * (1 + 1e-6) + 1e-9}
    return _largest(below or reqs)[0]


def _explain(m, d: ModelData, name: str, lim, slack: float) -> str:
    b = d.site.bess
    if name == "max_power":
        need = _v(m.pcs_power_mw)
        req = _binding(_power_requirements(m, d), need)
        return f"{req} needs {need:.1f} MW of PCS but {lim.field} is {lim.value:g}"
    if name == "max_energy":
        need = _v(m.energy_mwh)
        req = _binding(_energy_requirements(m, d), need)
        uf = usable_fraction(d)
        return (f"{req} needs {need:.1f} MWh of nameplate energy (bands must fit the end-of-life usable span, "
                f"{uf:.0%} of nameplate) but {lim.field} is {lim.value:g}")
    if name == "c_rate":
        P, E = _v(m.pcs_power_mw), _v(m.energy_mwh)
        req, _ = _largest(_power_requirements(m, d))
        return (f"{req} needs {P:.1f} MW of PCS on at most {E:.1f} MWh of energy, a C-rate of "
                f"{P / max(E, 1e-9):.2f} 1/h, but {lim.field} is {lim.value:g}")
    if name.startswith("max_new_units"):
        g = int(name.rsplit("_", 1)[1])
        u = d.site.thermal[g]
        need_units = lim.value + slack
        why = (f"islanding (reliability.islanding.required) needs {islanding_load_mw(d):.1f} MW of onsite generation "
               + ("(peak load x (1 - load.flexible.max_fraction), shed in an island)"
                  if d.site.reliability.islanding.shed_fraction(d.site.load) > 0 else "(the peak load)")
               if d.site.reliability.islanding.required
               else "the requirements need more onsite generation")
        return (f"{why}: {u.existing_units + need_units:.0f} units of {u.unit_mw:g} MW, "
                f"but {lim.field} is {lim.value:g} (with {u.existing_units} existing)")
    if name.startswith("explicit_event"):
        _, _, sc, p = name.rsplit("_", 3)
        where = d.explicit_event_field.get((int(sc), int(p)), "grid.events")
        mwh = slack * d.step_h
        return (f"the explicit curtailment {where} leaves {mwh:.1f} MWh of load unserved (scenario {sc}): "
                f"grid.firm_import_mw = {d.site.grid.firm_import_mw:g} plus the BESS (bess.max_power_mw = "
                f"{b.max_power_mw:g}, bess.max_energy_mwh = {b.max_energy_mwh:g}) and onsite generation cannot carry it")
    if name == "import_ramp":
        return (f"following the load between energy-layer steps needs {lim.value:g} + {slack:.1f} MW per step of import "
                f"change but {lim.field} is {d.site.grid.ramp_limit_mw_per_min:g}")
    return f"{lim.what} must exceed {lim.field} = {lim.value:g} by {slack:.2f} {lim.unit}"
