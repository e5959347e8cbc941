"""Commands that run many pipelines on Dask: `batch` (many sites) and `sweep` (one site, a grid of values)."""

from __future__ import annotations

import json

import click
import pandas as pd

from .common import say

_EXIT_HELP = """
    \b
    Exit codes: 0 every site ran and passed every check; 1 at least one site failed a
    requirement or did not run (bad input, infeasible, timeout, error, worker lost: see the
    `status` and `error` columns); 2 bad use of the command itself."""


def cluster_options(fn):
    """--workers / --scheduler / --timeout-per-site / --retries / --json, shared by batch and sweep."""
    opts = [
        click.option("-o", "--out-dir", "out_dir", required=True, type=click.Path(file_okay=False),
                     help="Output folder: one subfolder per site or point, plus summary.csv and summary.parquet."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Worker processes of the local Dask cluster, one thread each. [default: CPU count]"),
        click.option("--scheduler", metavar="ADDRESS", default=None,
                     help="Use the running Dask scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786) instead of a local cluster."),
        click.option("--timeout-per-site", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=None,
                     metavar="S", help="A site still running after S seconds becomes a `timeout` row (75% of S is the "
                                       "solver's time limit)."),
        click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
                     help="Reruns of a site whose worker process died."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary rows as JSON on stdout."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _check_cluster(workers, scheduler) -> None:
    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers and --scheduler exclude each other: the scheduler's cluster has its own workers")


#: sweep: beside E, the bands and what the replay used of them [MWh], short headers
SWEEP_USE_COLUMNS = {"ride_through_reserve_mwh": "X_rt", "up_ramp_buffer_mwh": "X_up", "curtailment_reserve_mwh": "X_cu",
                     "down_ramp_headroom_mwh": "X_dn", "replay_stored_range_mwh": "replay_range",
                     "replay_ramp_window_draw_mwh": "ramp_draw"}


def _finish(df, out_dir: str, as_json: bool, extra_cols=(), use_cols=()) -> int:
    """Print the table to stderr (and JSON to stdout); return the exit code."""
    from ..batch_runner import exit_code

    cols = ["site", *extra_cols, "status", "energy_mwh", *use_cols, "pcs_power_mw", "inverters", "total_annualized_usd",
            "validation_passed", "wall_s"]
    shown = df[[c for c in cols if c in df.columns]].astype(object)
    money = lambda x: f"{x / 1e6:,.2f} M" if isinstance(x, float) else ""  # noqa: E731
    number = lambda x: f"{x:,.1f}" if isinstance(x, float) else ""  # noqa: E731
    for col, fmt in (("total_annualized_usd", money), ("energy_mwh", number), ("pcs_power_mw", number), ("wall_s", number),
                     *((c, number) for c in use_cols if c in shown.columns)):
        shown[col] = shown[col].map(lambda x, fmt=fmt: "" if pd.isna(x) else fmt(float(x)))
    shown = shown.map(lambda x: "" if x is None or (not isinstance(x, str) and pd.isna(x)) else x)
    shown = shown.rename(columns={"total_annualized_usd": "total_usd_per_yr", **SWEEP_USE_COLUMNS})
    say("")
    for line in shown.to_string(index=False, na_rep="").splitlines():
        say("  " + line)
    n_ok = int((df["status"] == "passed").sum())
    say(f"\n{n_ok} of {len(df)} passed; table in {out_dir}/summary.csv and summary.parquet")
    if as_json:
        rows = json.loads(df.to_json(orient="records"))
        click.echo(json.dumps(rows, indent=2))
    return exit_code(df)


@click.command(short_help="Evaluate many sites on a Dask cluster (resumable, fault-isolated).",
               epilog=_EXIT_HELP)
@click.argument("sites", nargs=-1, required=True, metavar="SITES...")
@cluster_options
def batch(sites, out_dir, workers, scheduler, timeout_s, retries, as_json):
    """Run the whole pipeline (scenarios -> optimize -> replay) for every site in SITES, one Dask task each.

    SITES are spec files; a folder stands for its *.yaml, *.yml and *.json site specs (a data file such
    as a tariff JSON is left out). Each site's outputs go to OUT_DIR/<site name>/, written atomically
    (OUT_DIR/<site>/summary.json last); the summary table, one row per site, to OUT_DIR/summary.csv and
    summary.parquet. A site with bad input, an infeasible site, a timeout or a crashed worker is a row
    with its error; the others go on. Running the same command again skips sites whose outputs are
    complete and redoes the rest.

    By default a local cluster of --workers processes (one thread each, loopback only) is started;
    with --scheduler the same tasks go to a running Dask cluster, whose workers must have bess-size
    installed and see OUT_DIR and the spec files at the same paths.
    """
    from ..batch_runner import batch as run_batch, expand_site_paths

    _check_cluster(workers, scheduler)
    if not expand_site_paths(sites):
        raise click.BadParameter(f"no *.yaml, *.yml or *.json site specs in {', '.join(sites)}", param_hint="SITES")
    df = run_batch(list(sites), out_dir, workers=workers, scheduler=scheduler, timeout_per_site_s=timeout_s,
                   retries=retries, progress=True)
    return _finish(df, out_dir, as_json)


@click.command(short_help="Run one site over a grid of spec values; table and trade-off figure.",
               epilog=_EXIT_HELP.replace("site", "point"))
@click.argument("site", metavar="SITE")
@click.option("--vary", "vary", multiple=True, required=True, metavar="KEY=START:STOP:STEP",
              help="A dotted spec key and its values, e.g. grid.nonfirm_import_mw=0:150:50 (STOP included), "
                   "or KEY=a,b,c. Repeat for a full grid.")
@cluster_options
def sweep(site, vary, out_dir, workers, scheduler, timeout_s, retries, as_json):
    """Run the pipeline for SITE at every point of a grid of spec values, through the batch machinery.

    \b
    Examples:
      bess-size sweep site.yaml --vary grid.nonfirm_import_mw=0:150:50 -o sweep-nonfirm
      bess-size sweep site.yaml --vary grid.ramp_limit_mw_per_min=5:20:5 \\
                                --vary bess.energy_cost_usd_per_mwh=150000,250000 -o sweep-ramp

    Every point is validated before anything runs: a key that does not exist or a value out of
    range is an error naming the key and the value (exit code 2). Writes OUT_DIR/sweep.csv (one
    row per point, the cost-optimal point marked), OUT_DIR/sweep.png (total annualized cost, BESS
    energy and PCS power against the first varied key; points that fail held-out validation and the
    cost-optimal point marked), OUT_DIR/summary.csv and .parquet, and each point's outputs in
    OUT_DIR/<key=value>/. The table shows, beside E, the SoC bands [MWh] (X_rt ride-through, X_up
    up-ramp buffer, X_cu curtailment reserve, X_dn down-ramp headroom) and what the held-out replay
    used: replay_range (highest - lowest stored energy) and ramp_draw (the largest fall of stored
    energy in its recorded ramp windows), so energy the replay never uses shows at a glance.
    """
    from ..sweep_grid import parse_vary, sweep as run_sweep

    _check_cluster(workers, scheduler)
    grid = {}
    for option in vary:
        try:
            key, values = parse_vary(option)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--vary") from None
        if key in grid:
            raise click.BadParameter(f"{key} is given twice", param_hint="--vary")
        grid[key] = values
    df = run_sweep(site, grid, out_dir, workers=workers, scheduler=scheduler, timeout_per_site_s=timeout_s,
                   retries=retries, progress=True)
    code = _finish(df, out_dir, as_json, extra_cols=list(grid), use_cols=list(SWEEP_USE_COLUMNS))
    opt = df[df["cost_optimal"]]
    if len(opt):
        r = opt.iloc[0]
        where = ", ".join(f"{k}={r[k]:g}" for k in grid)
        say(f"cost-optimal point: {where}: {r['total_annualized_usd'] / 1e6:,.2f} M USD/yr, "
            f"{r['energy_mwh']:g} MWh, {r['pcs_power_mw']:g} MW" + ("" if r["status"] == "passed" else " (fails validation)"))
    say(f"figure: {out_dir}/sweep.png; table: {out_dir}/sweep.csv")
    return code


__all__ = ["batch", "sweep"]
