"""`bess-size run SITE -o DIR` (the whole job) and `bess-size simulate DESIGN SITE -o DIR` (replay only)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .common import EXIT_OK, EXIT_REQUIREMENT_FAILED, design_line, emit_json, say, say_binding, say_energy_mix, say_island, say_solver_warning
from .spec import say_before_start

STAGE_LABELS = {
    "scenarios": "generating optimizer scenarios",
    "optimize": "optimizing the design",
    "simulate": "replaying held-out scenarios",
    "refine": "screening failing held-out scenarios",
}


def _warnings_to_stderr():
    """Show the pipeline's warnings (e.g. a report that could not be drawn) as one line on stderr."""
    import warnings

    warnings.showwarning = lambda message, *a, **k: say(f"warning: {message}", fg="yellow")


class ProgressBars:
    """``progress(stage, done, total)`` drawn as rich progress bars on stderr (one per stage)."""

    def __init__(self, enabled: bool = True):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.console, transient=False, disable=not enabled,
        )
        self.tasks: dict[str, int] = {}
        self.solves = 0

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "optimize" and done == 0:
            self.solves += 1
        # refinement r screens failing scenarios, then solves and replays again
        rnd = self.solves if stage == "refine" else max(self.solves - 1, 0)
        key = f"{stage}#{rnd}"
        if key not in self.tasks:
            label = STAGE_LABELS.get(stage, stage)
            if rnd and stage in ("refine", "optimize", "simulate"):
                label += f" (refinement {rnd})"
            self.tasks[key] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[key], completed=done, total=total)

    def log(self, line: str) -> None:
        self.progress.console.print(line, style="dim", markup=False, highlight=False)


def _verdict(validation) -> str:
    """One phrase for the outcome: held, FAILED, or not proven (only inconclusive checks: too few scenarios)."""
    if validation.passed:
        return "all requirements held"
    if all(c.status != "fail" for c in validation.checks):
        return "NOT PROVEN: too few held-out scenarios to reach the target (INCONCLUSIVE), none failed"
    return "a requirement FAILED"


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def _print_checks(validation) -> None:
    say()
    say(f"held-out replay: {validation.held_out_scenarios} scenarios of {validation.trace_days:g} day{'' if validation.trace_days == 1 else 's'}; "
        f"a check passes when the 95% lower bound of its success rate reaches {validation.target_success_rate:g}; "
        "contingencies are judged in the stress state (battery down to the top of the reserve the contingency may draw, generation cold)")
    width = max(len(c.requirement) for c in validation.checks) if validation.checks else 10
    colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
    for c in validation.checks:
        rate = "n/a" if c.success_rate is None else f"{c.success_rate:.3f}"
        nat = c.detail.get("natural") if isinstance(c.detail, dict) else None
        nat_txt = ""
        if nat and nat.get("scenarios"):
            nat_rate = nat["successes"] / nat["scenarios"] if nat.get("scenarios") else None
            nat_txt = f"; natural state success {_fmt(nat_rate)}"
        failed = "" if c.successes is None or c.successes == c.scenarios else \
            f" ({c.scenarios - c.successes} failed)"
        say(f"  {c.status.upper():<12} {c.requirement:<{width}}  worst {_fmt(c.measured)} {c.unit} {c.comparator} "
            f"{c.limit:.4g} (margin {_fmt(c.margin)}) [{c.state}]; success {rate}, lower bound "
            f"{c.success_rate_lower_95:.3f} over {c.scenarios}{failed}{nat_txt}", fg=colour[c.status])
    for name, why in validation.not_applicable.items():
        say(f"  {'N/A':<12} {name:<{width}}  not applicable: {why}", dim=True)
    for name in validation.not_exercised:
        say(f"  {'----':<12} {name:<{width}}  not exercised by any held-out scenario", dim=True)
    for note in validation.notes:
        say(f"  note: {note}", dim=True)


def _print_design(design) -> None:
    say(f"design: {design_line(design)}")
    if design.cost is not None:
        c = design.cost
        say(f"cost: {c.total_annualized_usd / 1e6:,.2f} M USD/year ({c.reference_text()})")
    life = design.lifetime
    if life:
        pay = life.get("simple_payback_years")
        say(f"lifetime: NPV against grid only {life['npv_vs_reference_usd'] / 1e6:,.2f} M USD, life-cycle cost "
            f"{life['life_cycle_cost_usd'] / 1e6:,.2f} M USD, payback "
            + ("never" if pay is None else f"{pay:g} years") + " (cashflows.csv)")
    for row in design.phases or []:
        say(f"phase {row['phase']}: IT {row['it_capacity_mw']:g} MW on {row['firm_import_mw']:g} MW firm + "
            f"{row['nonfirm_import_mw']:g} MW non-firm; binding: {row.get('binding_requirement', '-')}")
    t = design.time_to_power
    if t:
        firm = "never" if t["firm_year"] is None else f"year {t['firm_year']}"
        say(f"time to power: energize now {t['npv_energize_now_usd'] / 1e6:,.1f} M USD vs wait for firm ({firm}) "
            f"{t['npv_wait_for_firm_usd'] / 1e6:,.1f} M USD NPV; {t['months_gained']:g} months of IT capacity gained; "
            f"break-even battery capital {t['break_even_bess_capital_usd'] / 1e6:,.1f} M USD")
    say_solver_warning(design)


@click.command()
@click.argument("site_path", metavar="SITE", type=click.Path(dir_okay=False))
@click.option("-o", "--out-dir", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Output folder: design.json, validation.json, scenarios.nc, timeseries.nc, report.html.")
@click.option("--refine", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="While a held-out check fails, add the failing scenarios' windows and transient figures to "
                   "the optimizer's and re-optimize, at most N times.")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Stop the solver after S seconds and keep its best design (with its gap).")
@click.option("--solver", default="highs", show_default=True, help="MILP solver (highs is bundled).")
@click.option("--mip-gap", type=click.FloatRange(min=0, max=1), default=0.01, show_default=True, metavar="G",
              help="Relative MIP gap on the decision objective.")
@click.option("--threads", type=click.IntRange(min=1), default=None, metavar="N", help="Solver threads.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Spread scenario generation and the held-out replay over N local worker processes (Dask); "
                   "the outputs are the same as with one, bit for bit. [default: 1, no cluster]")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Spread them over the running Dask scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786) instead.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine summary on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="Stream the solver's log to stderr.")
def run(site_path, out_dir, refine, time_limit_s, solver, mip_gap, threads, workers, scheduler, as_json, verbose):
    """Size a BESS for SITE and prove it: scenarios -> optimize -> replay on held-out scenarios -> outputs.

    \b
    Writes into DIR (each file atomically): design.json, validation.json, scenarios.nc,
    timeseries.nc, cashflows.csv, site.json and report.html.
    Exit codes: 0 every requirement held on the held-out scenarios; 1 a requirement failed
    (the design is still written); 2 bad input; 3 infeasible site or solver failure; 4 the time
    limit ran out before the solver found any design.
    """
    from .. import pipeline
    from ..parallel import ClusterUnavailable
    from ..site_spec import load_site
    from ..solvers.errors import SolverUnavailableError

    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers and --scheduler exclude each other: the scheduler's cluster has its own workers")
    site = load_site(site_path)
    _warnings_to_stderr()
    if scheduler is None and (workers or 1) <= 1:
        from ..simulator import warmup

        warmup.start()  # compiles the replay kernel on the other core while scenarios and the optimizer run
    t0 = time.perf_counter()
    say(f"{site.name}: {site.scenarios.count} optimizer scenarios, {site.scenarios.held_out} held-out, "
        f"{site.scenarios.trace_days:g} day{'' if site.scenarios.trace_days == 1 else 's'} at {site.scenarios.transient_resolution_s:g} s")
    say_before_start(site)
    try:
        with ProgressBars() as bars:
            result = pipeline.run(site, out_dir, refine=refine, progress=bars, log=bars.log if verbose else None,
                                  solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads,
                                  workers=workers, scheduler=scheduler)
    except (SolverUnavailableError, ClusterUnavailable) as exc:
        raise click.UsageError(str(exc)) from None
    _print_design(result.design)
    _print_checks(result.validation)
    if result.refinements:
        say(f"refinements: {result.refinements}")
    say()
    from ..site_spec.energy_mix import replay_energy_mix

    say_energy_mix(result.design, replay_energy_mix(site, result.design, result.validation.results))
    say_island(result.design, site)
    say_binding(result.design)
    say(f"{_verdict(result.validation)}; "
        f"wrote {', '.join(p.name for p in result.files)} to {out_dir} in {time.perf_counter() - t0:.1f} s",
        fg="green" if result.passed else "red")
    if as_json:
        emit_json(result.summary())
    return EXIT_OK if result.passed else EXIT_REQUIREMENT_FAILED


@click.command()
@click.argument("design_path", metavar="DESIGN", type=click.Path(dir_okay=False))
@click.argument("site_path", metavar="SITE", type=click.Path(dir_okay=False))
@click.option("-o", "--out-dir", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Output folder: validation.json, timeseries.nc, design.json, site.json, report.html.")
@click.option("--held-out", "held_out", type=click.IntRange(min=1), default=None, metavar="N",
              help="Replay N held-out scenarios (default: scenarios.held_out of the site).")
@click.option("--json", "as_json", is_flag=True, help="Print validation.json's checks on stdout.")
def simulate(design_path, site_path, out_dir, held_out, as_json):
    """Replay a DESIGN (design.json from any source) on SITE's held-out scenarios and check every requirement.

    \b
    DESIGN may be minimal (a vendor's proposal): bess.energy_mwh, bess.pcs_power_mw, bess.inverters,
    optionally bess.containers and generation; bands and headroom it leaves out are derived by the
    optimizer with its sizes fixed (docs/design-json.md). Its cost is recomputed from SITE's prices
    and the replay, whatever the file says.
    The controller has no foresight: it sees the past and announced curtailment notices only.
    Exit codes: 0 every requirement held; 1 a requirement failed; 2 bad input; 3 the sizes cannot meet
    a hard requirement even with the best bands (when they had to be derived).
    """
    from ..design_check import complete_design, needs_completion, replay_cost, with_site_defaults
    from ..pipeline import write_outputs
    from ..simulator import simulate as run_simulate
    from ..site_spec import Design, load_site

    design = Design.from_json_file(design_path)
    site = load_site(site_path)
    _warnings_to_stderr()
    if design.site != site.name:
        say(f"warning: {design_path} was made for site {design.site!r}, replaying it on {site.name!r}", fg="yellow")
    design = with_site_defaults(site, design, design_path)
    if needs_completion(design):
        say("the design gives no bands or headroom: deriving them with the optimizer, its sizes fixed")
        design = complete_design(site, design)
    n = held_out or site.scenarios.held_out
    t0 = time.perf_counter()
    with ProgressBars() as bars:
        from ..phases import binding_by_phase, is_phased, phases, simulate_phases

        if is_phased(site):  # each phase's held-out scenarios with its own site, merged
            plist = phases(site)
            validation, per_phase = simulate_phases(site, design, plist, held_out=n,
                                                    progress=lambda d, t: bars("simulate", d, t))
            design.phases = binding_by_phase(per_phase, plist)
        else:
            validation = run_simulate(site, design, held_out=n, progress=lambda d, t: bars("simulate", d, t))
    design.cost = replay_cost(site, design, validation)
    validation.design = design
    validation.notes.append("cost recomputed from the site's prices for this design's sizes and from this replay's "
                            "annual results (the design file's own cost is used only for whether the grid alone "
                            "could serve the site)")
    files = write_outputs(Path(out_dir), site, design, validation)
    _print_design(design)
    _print_checks(validation)
    say(f"{_verdict(validation)}; "
        f"wrote {', '.join(p.name for p in files)} to {out_dir} in {time.perf_counter() - t0:.1f} s",
        fg="green" if validation.passed else "red")
    if as_json:
        d = validation.to_dict()
        emit_json({k: d[k] for k in ("site", "held_out_scenarios", "target_success_rate", "checks", "passed", "results")})
    return EXIT_OK if validation.passed else EXIT_REQUIREMENT_FAILED
