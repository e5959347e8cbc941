"""What every command shares: the error edge, exit codes, output helpers."""

from __future__ import annotations

import json
import sys

import click

from ..site_spec import SiteSpecError

EXIT_OK, EXIT_REQUIREMENT_FAILED, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_TIME_LIMIT = 0, 1, 2, 3, 4


def say(message: str = "", **style) -> None:
    """Human output: always stderr, so stdout stays machine-readable."""
    click.secho(message, err=True, **style)


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=float))


def run_cli(group: click.Group, argv=None) -> int:
    """Run the group; turn errors a user can cause into a message and an exit code."""
    from ..malloc import keep_freed_memory

    keep_freed_memory()
    try:
        rv = group.main(args=argv, prog_name="bess-size", standalone_mode=False)
    except SiteSpecError as err:
        say(f"error: {err}", fg="red")
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        say("aborted")
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(EXIT_BAD_INPUT if err.exit_code == 2 else err.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader went away (`bess-size example | head -1`): stop quietly, as cat does
        _silence_stdout()
        sys.exit(EXIT_OK)
    except Exception as err:
        # InfeasibleError is looked up only if its module was loaded: importing bess_size.solvers here
        # would make every command (even `check`) pay for Pyomo
        solver_errors = sys.modules.get("bess_size.solvers.errors")
        if solver_errors is not None and isinstance(err, solver_errors.InfeasibleError):
            say(f"error: {err}", fg="red")
            sys.exit(EXIT_INFEASIBLE)
        if solver_errors is not None and isinstance(err, solver_errors.SolverTimeLimitError):
            say(f"error: {err}", fg="red")
            sys.exit(EXIT_TIME_LIMIT)
        raise
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail on the closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass


def say_solver_warning(design) -> None:
    """A design a time limit left above the requested gap says so, in yellow, after its figures."""
    warning = design.solver.warning if design.solver is not None else None
    if warning:
        say(f"warning: {warning}", fg="yellow")


def design_line(design) -> str:
    """One line a user reads first: energy, containers, PCS, inverters, generation."""
    b = design.bess
    gens = ", ".join(f"{g.units} x {g.unit_mw:g} MW {g.kind} ({g.new_units} new)" for g in design.generation) or "none"
    return (f"{b.energy_mwh:.1f} MWh" + (f" ({b.containers} containers)" if b.containers is not None else "")
            + f", PCS {b.pcs_power_mw:.1f} MW, {b.inverters} x {b.inverter_rating_mva:g} MVA inverters; generation: {gens}")


def say_binding(design) -> None:
    """What sized each first-stage quantity (design.json ``binding``), two lines each."""
    if not design.binding:
        return
    say("what sized what (the requirement that sets each quantity; the next one below it):")
    for entry in design.binding:
        head, nxt = entry.sentences()
        say(f"  {head}")
        if nxt:
            say(f"      {nxt}", dim=True)


def mix_line(mix: dict) -> str:
    """Energy by source, CO2 and capacity factors of one year, on one line (design.json ``energy_mix``)."""
    gen = mix.get("generation_mwh_per_year", {})
    cf = mix.get("capacity_factor", {})
    parts = [f"grid {mix['grid_import_mwh_per_year']:,.0f}"]
    parts += [f"{k} {v:,.0f} (capacity factor {cf.get(k, 0):.0%})" for k, v in gen.items()]
    parts += [f"PV {mix['pv_used_mwh_per_year']:,.0f}", f"battery discharge {mix['bess_discharge_mwh_per_year']:,.0f}"]
    co2 = mix.get("co2_t_per_year", {})
    return (", ".join(parts) + f" MWh/year; PV curtailed {mix['pv_curtailed_mwh_per_year']:,.0f}, load unserved "
            f"{mix['unserved_energy_mwh_per_year']:,.0f}, flexible load shed {mix['flexible_load_shed_mwh_per_year']:,.0f} "
            f"MWh/year; CO2 {co2.get('total', 0):,.0f} t/year ({mix.get('co2_t_per_mwh_supplied', 0):.3f} t/MWh)")


def say_island(design, site) -> None:
    """The island's N+k margin (design.json promises), when the site must island."""
    from ..site_spec.design import island_margin_text

    text = island_margin_text(design, site)
    if text:
        say(text)


def say_energy_mix(design, replay: dict | None = None) -> None:
    """The optimizer's expected year and, after a replay, the held-out replay's."""
    if design.energy_mix:
        say(f"energy mix, optimizer: {mix_line(design.energy_mix)}")
    if replay:
        say(f"energy mix, replay:    {mix_line(replay)}")
