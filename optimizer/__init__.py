"""bess_size.optimizer: the two-stage stochastic MILP of DESIGN section 5 and Design extraction.

``optimize(site, scenarios, ...) -> OptimizationResult`` builds the model (``model.build_model``,
one module per concern: design, bess_pcs, bands, grid, generation, transients, objective), solves
it through ``bess_size.solvers`` and returns the Design of design.json. An infeasible site raises
``InfeasibleError`` explaining which requirement cannot be met and which spec field stops it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from bess_size.site_spec import Design, Site
from bess_size.site_spec.design import SolverInfo
from bess_size.solvers import SolveResult, solve
from bess_size.solvers.errors import InfeasibleError, SolverTimeLimitError
from bess_size.solvers.results import TIME_LIMIT, TIME_LIMIT_NO_INCUMBENT

from .data import ModelData, model_data
from .model import ModelOptions, build_model, model_size

__all__ = ["ModelData", "ModelOptions", "OptimizationResult", "build_model", "model_data", "optimize"]


@dataclass
class OptimizationResult:
    design: Design
    status: str  # optimal | time_limit
    model_stats: dict = field(default_factory=dict)  # variables, constraints, integers, build_s, solve_s, gap, ...
    solve: SolveResult | None = None
    model: object = None  # the solved Pyomo model, for inspection in notebooks
    _data: ModelData | None = field(default=None, repr=False)

    def to_json(self) -> str:
        return self.design.to_json()

    def to_dataframe(self):
        """One row: the design's headline figures, costs and the solver's figures (for notebooks)."""
        import pandas as pd

        d, b = self.design, self.design.bess
        row = {"site": d.site, "status": self.status, "energy_mwh": b.energy_mwh, "containers": b.containers,
               "pcs_power_mw": b.pcs_power_mw, "inverters": b.inverters,
               **{f"{k}_mwh": v for k, v in b.bands_mwh.model_dump().items() if k != "operating"},
               **{f"new_{g.kind}_units": g.new_units for g in d.generation},
               **(d.cost.breakdown if d.cost else {}),
               **{k: self.model_stats.get(k) for k in ("variables", "constraints", "integers", "build_s", "solve_s", "gap")}}
        return pd.DataFrame([row])

    def dispatch(self):
        """The energy layer's dispatch as an xarray Dataset with dims (scenario, period, step) [MW, MWh]."""
        from .extract import dispatch_dataset

        return dispatch_dataset(self.model, self._data)


def _say(progress, text: str) -> None:
    if progress is not None:
        progress(text)


MAX_SCREENING_ROUNDS = 4  # solves at most; each round after the first is a valid design on its own


def optimize(site: Site, scenarios, *, solver: str = "highs", time_limit_s: float | None = None,
             mip_gap: float = 0.01, threads: int | None = None, strict_dispatch: bool = False,
             integer_commitment: bool = False, progress: Callable[[str], None] | None = None,
             duals: bool = False, explain: bool = True, fixed: dict | None = None) -> OptimizationResult:
    """Co-design BESS energy, PCS power, inverters, SoC bands and new generation for ``site``.

    ``scenarios`` is a ScenarioSet (``energy``, ``transient``, ``windows`` datasets,
    docs/interfaces.md). ``progress`` receives human-readable lines (build steps, the solver log).
    With ``strict_dispatch`` the model gets binary charge/discharge exclusivity and is warm-started
    from the solution without it. With ``duals`` (HiGHS), ``result.solve.duals`` maps each
    constraint of ``result.model`` to its dual in the LP with the integers fixed at the design
    (d objective / d bound, in the model's units: divide by ``result.model.objective_scale`` for USD/year).

    The transient requirements depend on the generation fleet (it carries the steady gap above the
    import limit), which is itself a decision. Round 0 uses the scenarios as screened (the largest
    fleet the spec allows). While the solved fleet differs from the screened one, the scenarios are
    screened again with the solved fleet and the model re-solved with that fleet as a lower bound
    on the units: every design from round 1 on has at least the fleet its requirements assume (more
    units only help generation follow), so it is valid even if the rounds stop before the fleet is
    stable. A solved fleet that would give the same figures (``scenarios.generate.fleet_changes_figures``:
    it has every unit the screening committed and no fleet fell short) needs no other round.
    design.json's ``transient_screening`` names the fleet the requirements were screened with.

    ``fixed`` fixes design variables (``energy_mwh``, ``pcs_power_mw``, ``inverters``, ``new_units``
    as a list per thermal type): the bands, headroom and dispatch of a design whose sizes are given.
    """
    from bess_size.scenarios.generate import fleet_changes_figures, rescreen, screened_fleet

    kw = dict(solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads,
              strict_dispatch=strict_dispatch, integer_commitment=integer_commitment, progress=progress, duals=duals,
              fixed=fixed)
    fleet = screened_fleet(scenarios.transient, site)
    current = scenarios.transient  # the figures the design in hand was solved with
    first = _optimize_once(site, scenarios, min_units=None, **kw)
    res, used, rounds = first, fleet, 1
    while (_fleet(res) != used and fleet_changes_figures(current, site, _fleet(res))
           and rounds < MAX_SCREENING_ROUNDS):
        floor = _fleet(res) if rounds == 1 else [max(a, b) for a, b in zip(_fleet(res), used)]
        _say(progress, f"re-screening transients with the solved fleet {floor} (screened with {used})")
        again = rescreen(site, scenarios, floor)
        try:
            res = _optimize_once(site, again, min_units=floor, **kw)
        except InfeasibleError:
            if rounds > 1:
                break  # the previous round's design is valid
            # the smaller fleet cannot carry the transients: keep the screened fleet as a floor
            res = _optimize_once(site, scenarios, min_units=used, **kw)
            break
        except SolverTimeLimitError:
            break  # no design within the time limit this round: the previous round's design stands
        used, rounds, current = floor, rounds + 1, again.transient
    res.design.transient_screening = {
        "fleet": [{"kind": u.kind, "units": int(n)} for u, n in zip(site.thermal, used)],
        "rounds": rounds, "stable": _fleet(res) == used or not fleet_changes_figures(current, site, _fleet(res)),
        "fleet_sensitive": bool(current.attrs.get("fleet_sensitive", 0))}
    if explain:
        from .binding import binding_requirements

        t0 = time.perf_counter()
        res.design.binding = binding_requirements(res.model, res._data)
        _say(progress, f"what sized what: the LP at the solution in {time.perf_counter() - t0:.1f} s")
    return res


def _fleet(res: OptimizationResult) -> list[int]:
    return [g.existing_units + g.new_units for g in res.design.generation]


def _optimize_once(site: Site, scenarios, *, solver: str, time_limit_s: float | None, mip_gap: float,
                   threads: int | None, strict_dispatch: bool, integer_commitment: bool,
                   progress: Callable[[str], None] | None, min_units: list[int] | None,
                   duals: bool = False, fixed: dict | None = None) -> OptimizationResult:
    """Build and solve once; ``min_units`` (installed units per thermal type) bounds the fleet below."""
    t0 = time.perf_counter()
    d = model_data(site, scenarios)
    from .diagnosis import screen

    why = screen(d)  # a requirement the spec's caps cannot meet is named now, not after a solve
    if why is not None:
        raise InfeasibleError(f"site {site.name!r}: {why}")
    options = ModelOptions(strict_dispatch=strict_dispatch, integer_commitment=integer_commitment)
    m = build_model(d, options)
    if min_units is not None:
        for g, (u, n) in enumerate(zip(site.thermal, min_units)):
            m.new_units[g].setlb(max(0, n - u.existing_units))
    for name, value in (fixed or {}).items():
        var = getattr(m, name)
        if isinstance(value, (list, tuple)):
            for g, v in enumerate(value):
                var[g].fix(v)
        else:
            var.fix(value)
    build_s = time.perf_counter() - t0
    stats = model_size(m)
    _say(progress, f"model built in {build_s:.2f} s: {stats['variables']} variables ({stats['integers']} integer), "
                   f"{stats['constraints']} constraints")
    kw = dict(solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads, progress=progress)
    t1 = time.perf_counter()
    if strict_dispatch:
        res = _solve_strict(m, kw, duals)
    else:
        res = solve(m, **kw, duals=duals)
    # the hand-over to the solver counts as building: it is what a faster build would shorten
    handoff_s = getattr(m, "handoff_s", 0.0) + res.handoff_s
    solve_s = time.perf_counter() - t1 - handoff_s
    build_s += handoff_s
    if res.status == "infeasible":
        _say(progress, "the model is infeasible; re-solving with labeled elastic slacks to find out why")
        from .diagnosis import diagnose

        raise InfeasibleError(f"site {site.name!r}: " + diagnose(d, options, solver=solver, time_limit_s=time_limit_s))
    if res.status == TIME_LIMIT_NO_INCUMBENT:
        raise SolverTimeLimitError(f"site {site.name!r}: the solver {res.solver!r} reached its time limit of "
                                   f"{time_limit_s or 0:g} s before it found any design; nothing is known about the "
                                   "site's feasibility yet: run again with a longer --time-limit (or none)")
    if not res.ok:
        raise InfeasibleError(f"site {site.name!r}: the solver {res.solver!r} found no design: {res.message}")
    warning = gap_warning(res, mip_gap, time_limit_s)
    if warning:
        _say(progress, "warning: " + warning)
    info = SolverInfo(name=res.solver, status=res.status, mip_gap=None if res.gap is None else round(res.gap, 6),
                      build_s=round(build_s, 3), solve_s=round(solve_s, 3), requested_mip_gap=mip_gap,
                      time_limit_s=time_limit_s, warning=warning)
    from .extract import extract_design

    design = extract_design(m, d, info)
    unscale = lambda x: None if x is None else x / m.objective_scale  # noqa: E731
    stats.update(build_s=build_s, handoff_s=handoff_s, solve_s=solve_s, gap=res.gap, objective_usd=unscale(res.objective),
                 bound_usd=unscale(res.bound),
                 steps=d.n, scenarios=d.n_scenarios, periods=d.n_periods, windows=len(d.windows))
    return OptimizationResult(design=design, status=res.status, model_stats=stats, solve=res, model=m, _data=d)


def gap_warning(res: SolveResult, mip_gap: float, time_limit_s: float | None) -> str | None:
    """What to tell the user when a time limit stopped the solver above the requested gap, else None."""
    if res.status != TIME_LIMIT or (res.gap is not None and res.gap <= mip_gap * (1 + 1e-6) + 1e-12):
        return None
    gap = "of unknown size" if res.gap is None else f"of {res.gap:.2%}"
    return (f"the solver stopped at its time limit of {time_limit_s or 0:g} s with a relative gap {gap}, above the "
            f"requested {mip_gap:.2%}: this design is not proven; a design cheaper by up to that share of the "
            "decision objective (cost minus the grid-only bill) may exist; run with a longer --time-limit")


def _solve_strict(m, kw, duals: bool = False) -> SolveResult:
    """Solve without exclusivity first, then with it, warm-started from that solution.

    The binaries are fixed at 0 and their constraints switched off for the first pass; the start of
    the second pass sets b(i) = 1 where the first pass charged more than it discharged.
    """
    m.exclusive_charge.deactivate()
    m.exclusive_discharge.deactivate()
    m.charging.fix(0)
    first = solve(m, **kw)
    m.handoff_s = first.handoff_s
    m.charging.unfix()
    m.exclusive_charge.activate()
    m.exclusive_discharge.activate()
    if first.has_solution:
        for i in m.steps:
            m.charging[i].set_value(1 if (m.charge_mw[i].value or 0.0) > (m.discharge_mw[i].value or 0.0) else 0)
    return solve(m, **kw, warm_start=first.has_solution, duals=duals)
