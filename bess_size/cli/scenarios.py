"""`bess-size scenarios SITE -o scenarios.nc [--plot FILE.png]`: both scenario layers to netCDF."""

from __future__ import annotations

import time

import click

from .common import emit_json, say


@click.command(short_help="Generate the stochastic scenarios (energy layer, transients, windows).")
@click.argument("site_path", metavar="SITE", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="netCDF file to write (one group per layer: energy, transient, windows), atomically.")
@click.option("--stream", type=click.Choice(["optimizer", "held_out"]), default="optimizer", show_default=True,
              help="Which seed stream: the optimizer's scenarios or the held-out ones the simulator replays.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw a sample day and the selected windows to this PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON on stdout.")
def scenarios(site_path, out_path, stream, plot_path, as_json):
    """Generate the scenarios of SITE and write them to a netCDF file.

    \b
    Second-resolution traces (AI load, grid events, PV, prices) are drawn from the spec's seed,
    screened with the shared POI policy (transient requirements, windows) and reduced to
    representative days with weights (energy layer). Same seed, same file.
    Exit codes: 0 written; 2 bad input.
    """
    from ..scenarios import generate_scenarios
    from ..scenarios.generate import scenario_count
    from ..site_spec import load_site

    site = load_site(site_path)
    n = scenario_count(site, stream)
    t0 = time.perf_counter()
    from ..phases import is_phased, phased_scenarios

    if is_phased(site):  # every phase's scenarios, stacked and weighted by the phases' years (docs/economics.md)
        sset = phased_scenarios(site, stream=stream)
        n = int(sset.energy.sizes["scenario"])
    else:
        sset = _generate_with_bar(generate_scenarios, site, stream, n)
    gen_s = time.perf_counter() - t0
    try:
        sset.to_netcdf(out_path)
    except OSError as exc:
        raise click.BadParameter(f"cannot write {out_path}: {exc.strerror or exc}", param_hint="-o/--out") from None
    en, tr, win = sset.energy, sset.transient, sset.windows
    kinds = {}
    for k in (str(x) for x in win["kind"].values):
        kinds[k] = kinds.get(k, 0) + 1
    say(f"{site.name}: {n} {stream} scenarios in {gen_s:.1f} s -> {out_path}")
    say(f"  energy layer     {en.sizes['period']} periods x {en.sizes['step']} steps of {en.attrs['step_h']:g} h per scenario; "
        f"representation error: energy {en.attrs['representation_error_energy_fraction']:.2%}, "
        f"peak {en.attrs['representation_error_peak_fraction']:.2%}, "
        f"duration curve {en.attrs['representation_error_duration_curve_fraction']:.2%}")
    say(f"  transients       discharge residual up to {float(tr.discharge_residual_mw.max()):,.1f} MW, "
        f"charge {float(tr.charge_residual_mw.max()):,.1f} MW; deficit up to {float(tr.deficit_mwh.max()):,.2f} MWh, "
        f"surplus {float(tr.surplus_mwh.max()):,.2f} MWh")
    say(f"  windows          {win.sizes.get('window', 0)}: " + ", ".join(f"{v} {k}" for k, v in kinds.items()))
    if plot_path:
        from ..scenarios.plot import plot_scenarios

        try:
            plot_scenarios(site, sset, plot_path)
        except OSError as exc:
            raise click.BadParameter(f"cannot write {plot_path}: {exc.strerror or exc}", param_hint="--plot") from None
        say(f"  figure           {plot_path}")
    if as_json:
        emit_json({"site": site.name, "stream": stream, "scenarios": n, "path": str(out_path), "seconds": round(gen_s, 3),
                   "periods": int(en.sizes["period"]), "windows": kinds,
                   "representation_error_energy_fraction": en.attrs["representation_error_energy_fraction"],
                   "representation_error_peak_fraction": en.attrs["representation_error_peak_fraction"],
                   "discharge_residual_mw_max": float(tr.discharge_residual_mw.max()),
                   "charge_residual_mw_max": float(tr.charge_residual_mw.max())})


def _generate_with_bar(generate, site, stream, n):
    """A rich progress bar on stderr while the scenarios are drawn."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("scenarios"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("scenarios", total=n)
        return generate(site, stream, progress=lambda done, total: bar.update(task, completed=done))
