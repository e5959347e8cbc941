"""Trade-off sweeps: the pipeline over a grid of spec values, through the batch machinery.

``--vary grid.nonfirm_import_mw=0:150:50`` sets one dotted key of the spec to 0, 50, 100, 150
(STOP included when the steps land on it); several ``--vary`` make the full grid. Every point is
validated by the site spec's own loader before anything runs, so a key that does not exist or a
value out of range is one clear error naming the key and the value (exit code 2), not a failed
task. The points then run as a batch (one Dask task each, resumable, fault-isolated); the table
goes to ``sweep.csv`` and the trade-off figure to ``sweep.png``.
"""

from __future__ import annotations

import copy
import itertools
import math
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .batch_runner import PASSED, REQUIREMENT_FAILED, SiteJob, fingerprint, run_jobs, safe_name, summary_frame
from .site_spec.load import set_dotted, split_key as _split_key  # noqa: F401 (set_dotted stays importable here)

# --------------------------------------------------------------------------- the grid


def parse_values(text: str) -> list[float]:
    """``START:STOP:STEP`` (STOP included when reached, within 1e-9 of a step), ``a,b,c`` or one number.

    >>> parse_values("0:150:50")
    [0.0, 50.0, 100.0, 150.0]
    """
    text = text.strip()
    try:
        if ":" in text:
            parts = [float(x) for x in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0 or not all(map(math.isfinite, parts)):
                raise ValueError("STEP must be a positive number")
            if stop < start:
                raise ValueError("STOP must not be below START")
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            if n > 10000:
                raise ValueError(f"{n} values; at most 10000")
            # start + i*step, rounded so 0.1 steps print as 0.3, not 0.30000000000000004
            return [float(round(start + i * step, 12)) for i in range(n)]
        values = [float(x) for x in text.split(",") if x.strip()]
        if not values or not all(map(math.isfinite, values)):
            raise ValueError
        return values
    except ValueError as exc:
        why = f" ({exc})" if str(exc) else ""
        raise ValueError(f"{text!r} is not START:STOP:STEP, a comma-separated list or a number{why}") from None


def parse_vary(option: str) -> tuple[str, list[float]]:
    """``KEY=START:STOP:STEP`` -> (key, values)."""
    key, sep, spec = option.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"{option!r}: expected KEY=START:STOP:STEP, e.g. grid.nonfirm_import_mw=0:150:50")
    try:
        return key, parse_values(spec)
    except ValueError as exc:
        raise ValueError(f"--vary {key}: {exc}") from None


def _values(v) -> list:
    if isinstance(v, str):
        return parse_values(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return [v]
    return list(v)


def sweep_points(vary: Mapping[str, object]) -> list[dict[str, float]]:
    """The full grid: every combination of the varied keys' values, the first key varying slowest."""
    keys = list(vary)
    lists = [_values(vary[k]) for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*lists)]


# --------------------------------------------------------------------------- setting a dotted key


def _to_number(x):
    """Integral values as int so integer fields (counts, seeds) accept them; others as float."""
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def format_value(x) -> str:
    """Shortest exact text of a number: 50, 0.25, 1e-06."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return np.format_float_positional(x, trim="-") if 1e-4 <= abs(x) < 1e15 else repr(x)


def field_unit(key: str) -> str:
    """The unit a spec key is in (from the Site models), '' when it has none."""
    from pydantic import BaseModel

    from .site_spec import Site

    def members(tp):
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return members(typing.get_args(tp)[0])
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) or origin in (list, tuple):
            return [m for a in typing.get_args(tp) for m in members(a)]
        return [tp]

    models = [Site]
    unit = ""
    try:
        parts = [p for p in _split_key(key) if isinstance(p, str)]
    except KeyError:
        return ""
    for part in parts:
        found = [m.model_fields[part] for m in models if isinstance(m, type) and issubclass(m, BaseModel) and part in m.model_fields]
        if not found:
            return ""
        extra = found[0].json_schema_extra
        unit = extra.get("unit", "") if isinstance(extra, dict) else ""
        models = [m for f in found for m in members(f.annotation)]
    return unit


# --------------------------------------------------------------------------- validating the points


def plan_sweep(site, vary: Mapping[str, object]) -> tuple[list[SiteJob], list[str]]:
    """Validate every grid point; return one job per point and the varied keys.

    Raises ``SiteSpecError`` listing every problem of every point (key, value, what is expected)
    before anything runs.
    """
    from .site_spec import Problem, Site, SiteSpecError, dump_site, load_site, validate_site
    from .site_spec.load import apply_values

    if not vary:
        raise SiteSpecError("sweep", [Problem("--vary", "", "at least one KEY=START:STOP:STEP to vary")])
    if isinstance(site, (str, Path)):
        path = Path(site).absolute()
        base_site, source, base_dir = load_site(path), str(site), path.parent
    else:
        base_site = site if isinstance(site, Site) else validate_site(dict(site), "<site>", ".")
        source, base_dir = base_site.name, Path(".").absolute()
    base = dump_site(base_site)
    try:
        points = sweep_points(vary)
    except ValueError as exc:
        raise SiteSpecError(source, [Problem("--vary", "", str(exc))]) from None
    keys = list(vary)

    # problems grouped by (field, what is expected): the values and points it happened at
    found: dict[tuple[str, str, str], tuple[list, list[str]]] = {}
    jobs = []
    for point in points:
        data = copy.deepcopy(base)
        label = ", ".join(f"{k}={format_value(v)}" for k, v in point.items())
        bad = []
        try:
            apply_values(data, {k: _to_number(v) for k, v in point.items()}, f"{source} [{label}]", base_dir)
        except SiteSpecError as err:
            bad = err.problems
        for p in bad:
            values, labels = found.setdefault((p.path, p.reason, p.expected), ([], []))
            if not isinstance(p.value, (dict, list)) and p.value not in values:
                values.append(p.value)
            labels.append(label)
        if bad:
            continue
        name = safe_name("-".join(f"{k.split('.')[-1]}={format_value(v)}" for k, v in point.items()))
        jobs.append(SiteJob(name=name, spec=data, source=f"{source} [{label}]", spec_sha256=fingerprint(data),
                            base_dir=str(base_dir), extra={k: float(v) for k, v in point.items()}))
    if found:
        problems = []
        for (path, reason, expected), (values, labels) in found.items():
            value = values[0] if len(values) == 1 else (values or "<section>")
            where = "; ".join(labels[:3]) + (f"; ... ({len(labels)} points)" if len(labels) > 3 else "")
            where = f"at sweep point{'s' if len(labels) > 1 else ''} {where}"
            problems.append(Problem(path, value, expected, reason=f"{reason} ({where})" if reason else where))
        raise SiteSpecError(f"{source} (sweep over {', '.join(keys)})", problems)
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):  # two keys with the same last part: number the points instead
        jobs = [SiteJob(name=f"p{i:03d}-{j.name}", spec=j.spec, source=j.source, spec_sha256=j.spec_sha256,
                        base_dir=j.base_dir, extra=j.extra) for i, j in enumerate(jobs)]
    return jobs, keys


# --------------------------------------------------------------------------- the table and the figure


def mark_cost_optimal(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``cost_optimal``: the lowest total annualized cost among points that passed validation;
    no point is marked when none passed (a design that failed its checks is no optimum)."""
    df = df.copy()
    pool = df[(df["status"] == PASSED) & df["total_annualized_usd"].notna()]
    df["cost_optimal"] = False
    if len(pool):
        df.loc[pool["total_annualized_usd"].astype(float).idxmin(), "cost_optimal"] = True
    return df


def plot_sweep(df: pd.DataFrame, keys: Sequence[str], path: str | Path) -> None:
    """Total annualized cost, BESS energy and PCS power against the first varied key (PNG, Agg).

    One line per combination of the other keys. Points whose held-out validation failed get a red
    cross, points that did not run a grey triangle at the bottom, the cost-optimal point a star.
    """
    # the object API, not pyplot + matplotlib.use("Agg"): switching the caller's backend would stop a
    # notebook's inline figures after the first sweep
    import matplotlib
    from matplotlib.figure import Figure

    from .io import atomic_path

    x_key, others = keys[0], list(keys[1:])
    unit = field_unit(x_key)
    panels = [("total_annualized_usd", 1e-6, "total annualized cost [M USD/yr]"),
              ("energy_mwh", 1.0, "BESS energy [MWh]"),
              ("pcs_power_mw", 1.0, "PCS power [MW]")]
    fig = Figure(figsize=(7.5, 8.5), layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True)
    groups = [((), df)] if not others else list(df.groupby(others, sort=True))
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    cross_labelled = False
    for gi, (gkey, g) in enumerate(groups):
        g = g.sort_values(x_key)
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        label = ", ".join(f"{k.split('.')[-1]}={format_value(v)}" for k, v in zip(others, gkey)) or None
        color = colors[gi % len(colors)]
        ran = g[g["status"].isin([PASSED, REQUIREMENT_FAILED])]
        for ax, (col, scale, _) in zip(axes, panels):
            y = ran[col].astype(float) * scale
            ax.plot(ran[x_key], y, "o-", color=color, label=label if ax is axes[0] else None, ms=5)
            bad = ran[ran["status"] == REQUIREMENT_FAILED]
            first = ax is axes[0] and len(bad) and not cross_labelled
            ax.plot(bad[x_key], bad[col].astype(float) * scale, "x", color="tab:red", ms=11, mew=2.2,
                    label="fails held-out validation" if first else None)
            cross_labelled = cross_labelled or bool(first)
    for ax, (col, scale, ylabel) in zip(axes, panels):
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        opt = df[df["cost_optimal"]]
        if len(opt):
            ax.plot(opt[x_key], opt[col].astype(float) * scale, "*", color="gold", mec="black", ms=17, zorder=5,
                    label="cost-optimal (passes validation)" if ax is axes[0] else None)
        if col == "total_annualized_usd" and df["grid_only_bill_usd"].notna().any():
            bill = df.groupby(x_key)["grid_only_bill_usd"].mean().dropna() * scale
            ax.plot(bill.index, bill.values, "--", color="grey", lw=1, label="grid-only bill" if ax is axes[0] else None)
        failed = df[~df["status"].isin([PASSED, REQUIREMENT_FAILED])]
        if len(failed):
            ax.plot(failed[x_key], np.zeros(len(failed)), "v", color="grey", ms=8, clip_on=False,
                    transform=ax.get_xaxis_transform(), label="did not run (see sweep.csv)" if ax is axes[0] else None)
            if ax is axes[0]:  # say why: infeasible, timeout, ...
                for x, status in zip(failed[x_key], failed["status"]):
                    ax.annotate(str(status), (x, 0), xycoords=ax.get_xaxis_transform(), xytext=(0, 7),
                                textcoords="offset points", ha="center", fontsize=7, color="dimgrey")
    axes[-1].set_xlabel(f"{x_key} [{unit}]" if unit else x_key)
    axes[0].set_title(f"Trade-off over {x_key}" + (f" (lines: {', '.join(others)})" if others else ""), fontsize=10)
    axes[0].legend(fontsize=8, loc="best")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


# --------------------------------------------------------------------------- the public API


def sweep(site, vary: Mapping[str, object], out_dir: str | Path, workers: int | None = None, scheduler=None, *,
          timeout_per_site_s: float | None = None, retries: int = 2, progress: bool = True) -> pd.DataFrame:
    """Run the pipeline over a grid of spec values; return the table (also OUTDIR/sweep.csv, sweep.png).

    Parameters
    ----------
    site : a spec file path, a ``Site`` or a site mapping.
    vary : dotted key -> ``"START:STOP:STEP"``, a list of values or one value, e.g.
        ``{"grid.nonfirm_import_mw": "0:150:50"}``; several keys make the full grid.
    out_dir, workers, scheduler, timeout_per_site_s, retries, progress : as for ``bess_size.batch``.

    Raises ``SiteSpecError`` before anything runs when a key does not exist or a value is out of
    range. Each point's outputs land in OUTDIR/<key=value>/; OUTDIR/summary.csv and .parquet
    hold the same rows as sweep.csv (without ``cost_optimal``).
    """
    jobs, keys = plan_sweep(site, vary)
    rows = run_jobs(jobs, out_dir, workers=workers, scheduler=scheduler, timeout_per_site_s=timeout_per_site_s,
                    retries=retries, progress=progress, label="points")
    df = mark_cost_optimal(summary_frame(rows, keys))
    out_root = Path(out_dir)
    from .io import atomic_path

    with atomic_path(out_root / "sweep.csv") as tmp:
        df.to_csv(tmp, index=False)
    plot_sweep(df, keys, out_root / "sweep.png")
    return df


__all__ = ["sweep", "parse_vary", "parse_values", "plan_sweep", "plot_sweep", "set_dotted"]
