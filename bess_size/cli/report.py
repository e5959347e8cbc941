"""`bess-size report DIR`: (re)write report.html from an output folder of `bess-size run`."""

from __future__ import annotations

import click

from .common import EXIT_BAD_INPUT, emit_json, say


@click.command(short_help="Write report.html from an output folder of `run`.")
@click.argument("out_dir", metavar="DIR")
@click.option("--site", "site_path", metavar="SITE", default=None,
              help="Site spec (YAML/JSON) to use when DIR has no site.json.")
@click.option("--json", "as_json", is_flag=True, help="Print the report's path and the checks' verdict as JSON on stdout.")
def report(out_dir: str, site_path: str | None, as_json: bool) -> None:
    """Regenerate DIR/report.html from what `bess-size run` wrote into DIR.

    Reads design.json, validation.json, timeseries.nc, scenarios.nc (optional) and site.json (or
    --site). The report is one self-contained HTML file: figures embedded, nothing loaded from the
    network, so it can be mailed or archived as is. A missing or incomplete folder exits with code 2.
    """
    from ..report import ReportInputError, load_outputs
    from ..report.page import render
    from ..io import write_atomic
    from ..site_spec import load_site

    site = load_site(site_path) if site_path else None
    try:
        data = load_outputs(out_dir, site=site)
    except ReportInputError as err:
        say(f"error: {err}", fg="red")
        raise click.exceptions.Exit(EXIT_BAD_INPUT) from None
    target = data.out_dir / "report.html"
    write_atomic(target, render(data))
    checks = data.checks
    failed = [c.get("requirement") for c in checks if not c.get("passed")]
    say(f"wrote {target} ({len(checks) - len(failed)} of {len(checks)} checks passed)")
    if as_json:
        emit_json({"report": str(target), "checks": len(checks), "failed": failed})
