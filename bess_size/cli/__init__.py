"""The `bess-size` command line: one click group, one module per command group, loaded lazily.

Each entry of COMMANDS maps a command name to "module:attribute"; adding a command is one line
here and one module beside this file. Errors a user can cause become a message and exit code 2 at
this edge (see ``common.run_cli``), never a traceback.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

COMMANDS = {
    "check": "bess_size.cli.spec:check",
    "schema": "bess_size.cli.spec:schema",
    "example": "bess_size.cli.spec:example",
    "batch": "bess_size.cli.batch:batch",
    "sweep": "bess_size.cli.batch:sweep",
    "report": "bess_size.cli.report:report",
    "optimize": "bess_size.cli.optimize:optimize",
    "scenarios": "bess_size.cli.scenarios:scenarios",
    "run": "bess_size.cli.run:run",
    "simulate": "bess_size.cli.run:simulate",
}


class LazyGroup(click.Group):
    """Imports a command's module only when it runs, so `check` never pays for Pyomo or numba."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="bess-size")
def cli():
    """Size and design battery storage (BESS) for AI factories, and prove the design by replay.

    \b
    Typical use:
      bess-size example > site.yaml     # start from the bundled default site
      bess-size check site.yaml         # validate it, see derived figures
      bess-size run site.yaml -o out    # scenarios -> optimize -> replay -> report

    \b
    Human output goes to stderr; --json prints a machine summary on stdout.
    Exit codes: 0 ok, 1 ran but a requirement failed, 2 bad input,
                3 infeasible site or solver failure, 4 the solver's time limit
                ran out before it found any design.
    Run `bess-size COMMAND --help` for a command's options.
    """


def main(argv=None):
    from .common import run_cli

    return run_cli(cli, argv)
