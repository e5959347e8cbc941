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
from bess_size.solvers.errors import InfeasibleError

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


def optimize(site: Site, scenarios, *, solver: str = "highs", time_limit_s: float | None = None,
             mip_gap: float = 0.01, threads: int | None = None, strict_dispatch: bool = False,
             integer_commitment: bool = False, progress: Callable[[str], None] | None = None) -> OptimizationResult:
    """Co-design BESS energy, PCS power, inverters, SoC bands and new generation for ``site``.

    ``scenarios`` is a ScenarioSet (``energy``, ``transient``, ``windows`` datasets,
    docs/interfaces.md). ``progress`` receives human-readable lines (build steps, the solver log).
    With ``strict_dispatch`` the model gets binary charge/discharge exclusivity and is warm-started
    from the solution without it.
    """
    t0 = time.perf_counter()
    d = model_data(site, scenarios)
    options = ModelOptions(strict_dispatch=strict_dispatch, integer_commitment=integer_commitment)
    m = build_model(d, options)
    build_s = time.perf_counter() - t0
    stats = model_size(m)
    _say(progress, f"model built in {build_s:.2f} s: {stats['variables']} variables ({stats['integers']} integer), "
                   f"{stats['constraints']} constraints")
    kw = dict(solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads, progress=progress)
    t1 = time.perf_counter()
    if strict_dispatch:
        res = _solve_strict(m, kw)
    else:
        res = solve(m, **kw)
    # the hand-over to the solver counts as building: it is what a faster build would shorten
    handoff_s = getattr(m, "handoff_s", 0.0) + res.handoff_s
    solve_s = time.perf_counter() - t1 - handoff_s
    build_s += handoff_s
    if res.status == "infeasible":
        _say(progress, "the model is infeasible; re-solving with labeled elastic slacks to find out why")
        from .diagnosis import diagnose

        raise InfeasibleError(f"site {site.name!r}: " + diagnose(d, options, solver=solver, time_limit_s=time_limit_s))
    if not res.ok:
        raise InfeasibleError(f"site {site.name!r}: the solver {res.solver!r} found no design: {res.message}"
                              + (" (try a longer --time-limit)" if res.status == "time_limit" else ""))
    info = SolverInfo(name=res.solver, status=res.status, mip_gap=None if res.gap is None else round(res.gap, 6),
                      build_s=round(build_s, 3), solve_s=round(solve_s, 3))
    from .extract import extract_design

    design = extract_design(m, d, info)
    unscale = lambda x: None if x is None else x / m.objective_scale  # noqa: E731
    stats.update(build_s=build_s, handoff_s=handoff_s, solve_s=solve_s, gap=res.gap, objective_usd=unscale(res.objective),
                 bound_usd=unscale(res.bound),
                 steps=d.n, scenarios=d.n_scenarios, periods=d.n_periods, windows=len(d.windows))
    return OptimizationResult(design=design, status=res.status, model_stats=stats, solve=res, model=m, _data=d)


def _solve_strict(m, kw) -> SolveResult:
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
    return solve(m, **kw, warm_start=first.has_solution)
