"""Commands about the site spec itself: `check`, `schema`, `example`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..examples import DEFAULT, names, summary_line, text
from ..site_spec import Site, SiteSpecError, read_document, validate_site
from ..site_spec.errors import show_value
from ..site_spec.load import defaulted_values, locate
from ..site_spec.plausible import unit_slips
from ..site_spec.screen import feasibility_problems
from ..site_spec.summary import estimated_work, summarize
from .common import emit_json, say


@click.command(short_help="Validate a site spec and show derived figures.")
@click.argument("site", metavar="SITE")
@click.option("--json", "as_json", is_flag=True,
              help="Also print the derived figures (or, for bad input, the problems) as JSON on stdout.")
def check(site: str, as_json: bool) -> None:
    """Validate the site spec SITE (YAML or JSON) and show derived figures.

    Every problem in the file is listed at once, each with the field's path, the value given and
    what is expected (range and unit); bad input exits with code 2. On success a short summary goes
    to stderr: peak site load, import headroom, ride-through and islanding energy, curtailment
    exposure, onsite generation, notes worth knowing, and every value that came from a default
    (not written in the file). A problem in a default says "default, not in the file". Values that
    look like unit slips (a per-kWh cost in a per-MWh field, a per-minute ramp below the per-second
    one, a PUE or load far outside the data sheet's ranges) are warned about; they do not fail.

    \b
    The instant feasibility screen the optimizer also runs is part of the check: a cap below what a
    requirement needs (bess.max_power_mw under the ride-through power, bess.max_energy_mwh under
    the ride-through reserve or an explicit curtailment's draw, generation below the island) exits
    2 naming both fields.
    """
    slips: list = []
    try:
        data = read_document(site)
        spec = validate_site(data, site, Path(site).resolve().parent)
        slips = [locate(p, data) for p in unit_slips(spec)]
        # what the optimizer would find infeasible from the spec alone, named now (exit 2)
        infeasible = [locate(p, data) for p in feasibility_problems(spec)]
        if infeasible:
            _say_warnings(slips)  # a slip may be why (e.g. a PUE that raises the peak)
            raise SiteSpecError(site, infeasible)
    except SiteSpecError as err:
        if as_json:  # machine readers get the problems too; the edge still prints them and exits 2
            emit_json({"ok": False, "source": site, "problems": [_problem_json(p) for p in err.problems],
                       "warnings": [_problem_json(p) for p in slips]})
        raise
    figures = summarize(spec)
    defaults = [{"path": path, "value": value} for path, value in defaulted_values(spec, data)]
    for line in format_summary(figures, site) + format_defaults(defaults):
        say(line)
    _say_warnings(slips)
    if as_json:
        emit_json({"ok": True, "source": site, **figures, "defaults": defaults, "warnings": [_problem_json(p) for p in slips]})


def say_before_start(site) -> None:
    """What `run` and `optimize` say before they start: unit-slip warnings and, for a spec that
    would take long, its estimated work (the same texts as `check`)."""
    for p in unit_slips(site):
        say(f"warning: {p.path} = {show_value(p.value)}: {p.reason} (`bess-size check` shows the data sheet's range)",
            fg="yellow")
    work = estimated_work(site)
    if work["long"]:
        say(f"estimated work: {work['text']}", fg="yellow")


def _say_warnings(slips) -> None:
    if slips:
        say(f"warnings ({len(slips)}: values that look like unit slips; they do not fail the check):", fg="yellow")
        for p in slips:
            say(p.render(), fg="yellow")


def _problem_json(p) -> dict:
    return {"path": p.path, "value": _jsonable(p.value), "reason": p.reason, "expected": p.expected, "line": p.line,
            "default": p.default}


def _jsonable(value):
    """The value as strict JSON can carry it (YAML dates, inf and nan become text)."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return str(value)


def _mw(x: float) -> str:
    return f"{x:,.1f} MW"


def _mwh(x: float) -> str:
    return f"{x:,.1f} MWh" if x >= 10 else f"{x:,.2f} MWh"


def format_summary(f: dict, source: str) -> list[str]:
    """The human summary of ``check``: one figure per line, each with its derivation."""
    rt, cu, gen, bl, sc = f["ride_through"], f["curtailment"], f["generation"], f["bess_limits"], f["scenarios"]
    peak = f["peak_site_load_mw"]
    lines = [
        click.style(f"{f['site']}: valid", fg="green", bold=True) + f"  ({source})",
        f"  peak site load        {_mw(peak)} = {f['it_capacity_mw']:g} MW IT x PUE {f['pue']:g}; minimum {f['min_load_mw']:g} MW",
        f"  firm import           {_mw(f['firm_import_mw'])}, headroom vs peak {f['firm_headroom_mw']:+,.1f} MW",
        f"  firm + non-firm       {_mw(f['firm_import_mw'] + f['nonfirm_import_mw'])}, headroom vs peak "
        f"{f['total_import_headroom_mw']:+,.1f} MW",
        f"  POI ramp limits       {f['ramp_limit_mw_per_s']:g} MW/s, {f['ramp_limit_mw_per_min']:g} MW/min",
        f"  ride-through          {_mw(rt['power_mw'])} for {rt['duration_s']:g} s = {_mwh(rt['delivered_energy_mwh'])} delivered, "
        f"{_mwh(rt['stored_energy_mwh'])} from the cells",
    ]
    br = f["islanding_bridge"]
    if br is not None:
        lines.append(f"  islanding bridge      {_mw(br['power_mw'])} until {br['generation_kind']} units start ({br['start_time_s']:g} s) "
                     f"and ramp in ({br['ramp_in_s']:g} s): ~{_mwh(br['delivered_energy_mwh'])} delivered, "
                     f"{_mwh(br['stored_energy_mwh'])} from the cells (indicative)")
    else:
        lines.append(f"  islanding             {'required' if f['islanding_required'] else 'not required'}")
    shed = f.get("island_flexible_shed")
    if shed is not None:
        lines.append(f"  flexible load, island {shed['fraction']:.0%} shed from {shed['after_s']:g} s after the grid loss; "
                     f"generation must carry {_mw(shed['island_load_mw'])}" if shed["shed"] else
                     f"  flexible load, island not shed (reliability.islanding.shed_flexible_load: false); "
                     f"generation must carry {_mw(shed['island_load_mw'])}")
    if cu["nonfirm_import_mw"] > 0 and cu["events_per_year"] > 0:
        lines.append(f"  curtailment exposure  {cu['nonfirm_import_mw']:g} MW non-firm x {cu['mean_duration_h']:g} h mean x "
                     f"{cu['events_per_year']:g} events/yr = {cu['exposure_mwh_per_year']:,.0f} MWh/yr")
        lines.append(f"  curtailment at peak   {_mw(cu['depth_at_peak_mw'])} above firm import to cover, "
                     f"{_mwh(cu['longest_event_at_peak_mwh'])} over the longest event ({cu['longest_duration_h']:g} h, "
                     f"{cu['notice_min']:g} min notice)")
    else:
        lines.append("  curtailment           none (no non-firm import or no curtailment events)")
    units = "; ".join(f"{t['kind']} {t['existing_units']} existing + up to {t['max_new_units']} new x {t['unit_mw']:g} MW"
                      f" = {t['max_mw']:g} MW" for t in gen["thermal"]) or "none dispatchable"
    lines.append(f"  onsite generation     {units}" + (f"; PV {gen['pv_mw']:g} MW" if gen["pv_mw"] else ""))
    lines.append(f"  BESS limits           up to {bl['max_energy_mwh']:g} MWh and {bl['max_power_mw']:g} MW; usable "
                 f"{bl['usable_fraction']:.0%} of nameplate ({bl['usable_fraction_end_of_life']:.0%} at end of life), "
                 f"round trip {bl['round_trip_efficiency']:.1%}")
    lines.append(f"  scenarios             {sc['count']} for the optimizer + {sc['held_out']} held out, "
                 f"{sc['trace_days']:g}-day traces ({sc['steps_per_trace']:,} steps), {sc['representative_days']} "
                 f"representative days, {sc['transient_windows']} transient windows")
    if f["work"]["long"]:
        lines.append(click.style(f"  work                  {f['work']['text']}", fg="yellow"))
    if f["notes"]:
        lines.append("notes:")
        lines += [f"  - {n}" for n in f["notes"]]
    return lines


def _short(value) -> str:
    """30 not 30.0, [1, 4] not [1.0, 4.0]; other values as the file would spell them."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    return show_value(value, 40)


def format_defaults(defaults: list[dict], width: int = 110) -> list[str]:
    """The values not written in the file, one wrapped line group per top-level section."""
    if not defaults:
        return []
    by_section: dict[str, list[str]] = {}
    for d in defaults:
        section, _, rest = d["path"].partition(".")
        by_section.setdefault(section, []).append(f"{rest or section} {_short(d['value'])}")
    lines = [f"defaults (not in the file, {len(defaults)} value{'s' if len(defaults) != 1 else ''}):"]
    for section, items in by_section.items():
        line = f"  {section:<11} "  # a name longer than the column (generation[0]) still gets its space
        for k, item in enumerate(items):
            piece = item + (", " if k < len(items) - 1 else "")
            if len(line) + len(piece) > width and line.strip() != section:
                lines.append(line.rstrip())
                line = " " * 14
            line += piece
        lines.append(line.rstrip())
    return lines


@click.command(short_help="Print the JSON Schema of the site spec.")
def schema() -> None:
    """Print the JSON Schema of the site spec on stdout.

    Every field carries its description, default, range and unit ("unit" key), so editors with
    YAML language servers can complete and check site files.
    """
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", **Site.model_json_schema()}
    doc["title"] = "bess-size site spec"
    emit_json(doc)


@click.command(short_help="Print a bundled example site (default: campus-300mw).")
@click.argument("name", required=False, metavar="[NAME]")
@click.option("--list", "list_names", is_flag=True, help="List the bundled sites with a one-line description.")
def example(name: str | None, list_names: bool) -> None:
    """Print a bundled example site spec (YAML, comment header included) on stdout.

    Without NAME, prints the default site (campus-300mw). Start a new site with
    `bess-size example > site.yaml` and edit it.
    """
    if list_names:
        for n in names():
            click.echo(f"{n:<22}{'(default) ' if n == DEFAULT else ''}{summary_line(n)}")
        return
    try:
        body = text(name or DEFAULT)
    except KeyError:
        raise click.BadParameter(f"unknown example {json.dumps(name)}; bundled sites: {', '.join(names())}",
                                 param_hint="NAME") from None
    click.echo(body, nl=False)
