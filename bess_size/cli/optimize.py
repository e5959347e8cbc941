"""`bess-size optimize SITE -o DIR`: scenarios -> the two-stage MILP -> DIR/design.json."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .common import design_line, emit_json, say, say_binding, say_energy_mix, say_island, say_solver_warning
from .spec import say_before_start


def _scenarios(site, path, progress):
    from .. import scenarios as sc

    if path is not None:
        return sc.ScenarioSet.from_netcdf(path)
    from ..phases import is_phased, phased_scenarios

    if is_phased(site):  # every phase's scenarios, weighted by its years (docs/economics.md)
        return phased_scenarios(site)
    gen = getattr(sc, "generate_scenarios", None)
    if gen is None:
        raise click.UsageError("this installation cannot generate scenarios yet; pass --scenarios FILE.nc")
    return gen(site, progress=progress) if progress else gen(site)


@click.command()
@click.argument("site_path", metavar="SITE", type=click.Path(dir_okay=False))
@click.option("-o", "--out-dir", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder; design.json is written there atomically.")
@click.option("--scenarios", "scenarios_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Use this scenarios.nc (from `bess-size scenarios`) instead of generating the scenarios.")
@click.option("--solver", default="highs", show_default=True,
              help="MILP solver: highs (bundled) or any Pyomo solver installed here (gurobi, cplex, scip, cbc, ...).")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Stop the solver after S seconds and keep its best design (with its gap).")
@click.option("--mip-gap", type=click.FloatRange(min=0, max=1), default=0.01, show_default=True, metavar="G",
              help="Relative MIP gap on the decision objective (cost minus the grid-only bill).")
@click.option("--threads", type=click.IntRange(min=1), default=None, metavar="N", help="Solver threads.")
@click.option("--strict-dispatch", is_flag=True,
              help="Binary charge/discharge exclusivity at every step (slower; warm-started from the default).")
@click.option("--integer-commitment", is_flag=True, help="Integer committed-unit counts (continuous by default).")
@click.option("--json", "as_json", is_flag=True, help="Print design.json on stdout as well.")
def optimize(site_path, out_dir, scenarios_path, solver, time_limit_s, mip_gap, threads, strict_dispatch,
             integer_commitment, as_json):
    """Co-design BESS energy, PCS power, inverters, SoC bands and new generation for SITE.

    \b
    Writes DIR/design.json (docs/design-json.md). The solver log streams to stderr.
    Exit codes: 0 a design was found (with a time limit: a warning when its gap is above --mip-gap);
    2 bad input (or an unavailable solver); 3 the site is infeasible (the message names the
    requirement and the spec field) or the solver failed; 4 the time limit ran out before the
    solver found any design.
    """
    from ..io import write_atomic
    from ..optimizer import optimize as run_optimize
    from ..site_spec import load_site
    from ..solvers.backends import require_solver
    from ..solvers.errors import SolverUnavailableError

    site = load_site(site_path)
    say_before_start(site)
    try:
        require_solver(solver)  # before the scenarios: a typo should not cost a minute
    except SolverUnavailableError as exc:
        raise click.UsageError(str(exc)) from None
    from ..optimizer.diagnosis import screen_site
    from ..solvers.errors import InfeasibleError

    why = screen_site(site)  # what `check` finds out of reach stops here, before the scenarios
    if why is not None:
        raise InfeasibleError(f"site {site.name!r}: {why}")
    t0 = time.perf_counter()
    say(f"scenarios for {site.name} ...")
    scen = _scenarios(site, scenarios_path, None)
    say(f"scenarios ready in {time.perf_counter() - t0:.1f} s; optimizing with {solver}")
    try:
        from ..phases import envelope_site, is_phased, phases

        model_site = envelope_site(site, phases(site)) if is_phased(site) else site
        res = run_optimize(model_site, scen, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads,
                           strict_dispatch=strict_dispatch, integer_commitment=integer_commitment,
                           progress=lambda line: say("  " + line, dim=True))
    except SolverUnavailableError as exc:
        raise click.UsageError(str(exc)) from None
    target = Path(out_dir) / "design.json"
    write_atomic(target, res.design.to_json() + "\n")
    d = res.design
    say(f"{res.status}: {design_line(d)}")
    if d.cost is not None:
        say(f"total {d.cost.total_annualized_usd / 1e6:,.2f} M USD/year ({d.cost.reference_text()}); "
            f"gap {res.model_stats['gap'] if res.model_stats['gap'] is not None else float('nan'):.4f}; "
            f"build {res.model_stats['build_s']:.1f} s, solve {res.model_stats['solve_s']:.1f} s")
    say_solver_warning(d)
    say_energy_mix(d)
    say_island(d, site)
    say_binding(d)
    say(f"wrote {target}")
    if as_json:
        emit_json(d.model_dump(mode="json"))
    return 0
