"""The report's figures, drawn with matplotlib's object API (no pyplot state, so Dask workers can
draw in parallel) and returned as ``matplotlib.figure.Figure``; ``to_data_uri`` embeds one as PNG.

Every axis names its quantity and unit; every source keeps its colour from ``palette``.
"""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from ..site_spec import Design, Site
from . import palette as pal
from .conventions import band_slices, battery_figures
from .data import finite, soc_fraction, variable

RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9,
    "legend.frameon": False,
}


def styled(draw):
    """Draw inside the report's rc settings without changing the caller's (a notebook keeps its style)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(RC):
            return draw(*args, **kwargs)

    return wrapper


def new_figure(width_in: float = 9.0, height_in: float = 4.2, layout: str | None = "constrained") -> Figure:
    return Figure(figsize=(width_in, height_in), layout=layout)


@styled
def to_data_uri(fig: Figure, dpi: int = 110) -> str:
    """PNG bytes of ``fig`` as a data: URI (self-contained HTML needs no file beside it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _musd(x, _pos=None) -> str:
    return f"{x / 1e6:,.1f}"


# --------------------------------------------------------------------------- SoC bands


@styled
def band_diagram(design: Design, site: Site) -> Figure:
    """Two stacked bars, beginning and end of life, of what each slice of stored energy is for."""
    f = battery_figures(design, site)
    slices = band_slices(design, site)
    E = f.energy_mwh
    fig = new_figure(9.0, 5.2)
    ax = fig.add_subplot()
    if E <= 0:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no battery in this design (E = 0): nothing to split into bands", ha="center", va="center")
        return fig
    x = {"bol": 0.0, "eol": 1.0}
    width = 0.5
    seen = set()
    for life, parts in slices.items():
        for name, lo, hi in parts:
            h = hi - lo
            if h <= 0:
                continue
            colour = pal.BANDS.get(name, "#FFFFFF")
            hatch = "//" if name in ("fade", "faded") else ("xx" if name == "unassigned" else None)
            label = pal.BAND_LABELS.get(name, name.replace("_", " "))
            if name == "faded":
                label = "gone at end of life (fade and ceiling)"
            ax.bar(x[life], h, width, bottom=lo, color=colour, edgecolor="#444444", linewidth=0.8, hatch=hatch,
                   label=label if label not in seen else None)
            seen.add(label)
            if E > 0 and h >= 0.035 * E:
                ax.text(x[life], lo + h / 2, f"{h:,.1f} MWh\n{h / E:.1%} of E", ha="center", va="center", fontsize=8)
    # the conventions as dimension lines to the right of the end-of-life bar, labelled along the line
    for xd, (lo, hi, text) in zip((1.5, 1.8, 2.1), (
        (0.0, E, f"nameplate E = {E:,.1f} MWh"),
        (f.floor_mwh, f.ceiling_mwh, f"usable at BOL = {f.usable_bol_mwh:,.1f} MWh"),
        (f.floor_mwh, f.floor_mwh + f.usable_eol_mwh, f"usable span at EOL U = {f.usable_eol_mwh:,.1f} MWh"),
    )):
        ax.annotate("", xy=(xd, lo), xytext=(xd, hi), arrowprops={"arrowstyle": "<->", "color": pal.LIMIT, "shrinkA": 0, "shrinkB": 0})
        ax.text(xd + 0.04, (lo + hi) / 2, text, va="center", ha="left", rotation=90, fontsize=8)
    ax.axhline(f.floor_mwh, color=pal.LIMIT, lw=0.8, ls="--")
    ax.set_xticks([0, 1], ["beginning of life", "end of life"])
    ax.set_xlim(-0.45, 2.35)
    ax.set_ylim(0, E * 1.02 if E > 0 else 1)
    ax.set_ylabel("stored energy [MWh]")
    ax.grid(axis="x", visible=False)
    if E > 0:
        sec = ax.secondary_yaxis("right", functions=(lambda y: 100 * y / E, lambda p: p * E / 100))
        sec.set_ylabel("state of charge [% of nameplate E]")
    ax.set_title(f"SoC bands of {E:,.1f} MWh / {f.power_mw:,.1f} MW: what each slice is reserved for")
    fig.legend(loc="outside right upper", fontsize=8)
    return fig


# --------------------------------------------------------------------------- cost


@styled
def cost_breakdown(design: Design) -> Figure | None:
    """Left: grid-only bill beside the design's annualized capital + operating cost. Right: the split."""
    cost = design.cost
    if cost is None:
        return None
    fig = new_figure(9.5, 4.0)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.6])
    ax1.bar(0, cost.grid_only_bill_usd, 0.6, color=pal.GRID, label="grid energy, same prices, import limit ignored")
    # capital split by what it buys when the breakdown says so: the battery's and the generators' colours
    gen_capex = sum(v for k, v in cost.breakdown.items() if "capex" in k and "generation" in k)
    stack = [(cost.annualized_capex_usd - gen_capex, pal.BESS, 1.0, "annualized capital: battery"),
             (gen_capex, pal.GENERATION, 1.0, "annualized capital: new generation"),
             (cost.expected_annual_opex_usd, pal.LIMIT, 0.6, "expected annual operating")]
    if not gen_capex:
        stack[0] = (cost.annualized_capex_usd, pal.BESS, 1.0, "annualized capital")
        del stack[1]
    bottom = 0.0
    for value, colour, alpha, label in stack:
        ax1.bar(1, value, 0.6, bottom=bottom, color=colour, alpha=alpha, label=label)
        bottom += value
    for xi, v in ((0, cost.grid_only_bill_usd), (1, cost.total_annualized_usd)):
        ax1.text(xi, v, f"{v / 1e6:,.1f}", ha="center", va="bottom", fontsize=9)
    ax1.set_xticks([0, 1], ["grid energy,\nlimit ignored", "with this design"])
    ax1.set_ylabel("cost [million USD / year]")
    ax1.yaxis.set_major_formatter(FuncFormatter(_musd))
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)  # below the two-line tick labels
    ax1.grid(axis="x", visible=False)
    items = [(k, v) for k, v in pal.cost_parts(cost.breakdown).items() if np.isfinite(v) and abs(v) > 0]
    if items:
        items.sort(key=lambda kv: kv[1])
        names = [pal.cost_label(k) for k, _ in items]
        vals = [v for _, v in items]
        ax2.barh(names, vals, color=[pal.cost_colour(k) for k, _ in items])
        for i, v in enumerate(vals):
            ax2.text(v, i, f" {v / 1e6:,.2f}", va="center", ha="left" if v >= 0 else "right", fontsize=8)
        ax2.xaxis.set_major_formatter(FuncFormatter(_musd))
        ax2.set_xlabel("annual cost [million USD / year]")
        ax2.axvline(0, color="#000000", lw=0.6)
        ax2.grid(axis="y", visible=False)
        ax2.set_title("breakdown", fontsize=10)
    else:
        ax2.set_axis_off()
        ax2.text(0.5, 0.5, "design.json carries no cost breakdown", ha="center", va="center")
    return fig


# --------------------------------------------------------------------------- dispatch windows


def poi_ramp_envelope(poi_mw: np.ndarray, dt_s: float, ramp_mw_per_s: float, ramp_mw_per_min: float,
                      import_limit_mw: np.ndarray | None = None, export_allowed: bool = False):
    """The band ``[lo_t, hi_t]`` the POI may move into at step t given its own past (DESIGN 4):

    ``hi_t = min(import_limit_t, p_{t-1} + r_s*dt, min_{t-60s <= k < t} p_k + r_m)``,
    ``lo_t = max(0 unless export allowed, p_{t-1} - r_s*dt, max_{t-60s <= k < t} p_k - r_m)``.
    The first step has no past (nan). Inside a window the 60 s look-back is cut at the window's
    start, so the envelope there is at most as tight as the controller's.
    """
    p = pd.Series(np.asarray(poi_mw, dtype=float))
    n = max(1, int(round(60.0 / dt_s)))
    prev = p.shift(1)
    roll_min = p.rolling(n, min_periods=1).min().shift(1)
    roll_max = p.rolling(n, min_periods=1).max().shift(1)
    hi = np.minimum(prev + ramp_mw_per_s * dt_s, roll_min + ramp_mw_per_min).to_numpy()
    lo = np.maximum(prev - ramp_mw_per_s * dt_s, roll_max - ramp_mw_per_min).to_numpy()
    if import_limit_mw is not None:
        hi = np.minimum(hi, np.asarray(import_limit_mw, dtype=float))
    if not export_allowed:
        lo = np.maximum(lo, 0.0)
    return lo, hi


def _tau_seconds(win: xr.Dataset, dt_s: float) -> np.ndarray:
    for name in ("tau_s", "tau"):
        if name in win.coords and np.issubdtype(win[name].dtype, np.number):
            return np.asarray(win[name].values, dtype=float)
    return np.arange(win.sizes["tau"]) * dt_s


def _window_attr(win: xr.Dataset, *names, default=None):
    for name in names:
        if name in win.coords or name in win.variables:
            v = win[name].values
            return v.item() if np.ndim(v) == 0 else v
    return default


@styled
def dispatch_window(win: xr.Dataset, design: Design, site: Site) -> Figure:
    """One window: power balance with the POI ramp envelope, battery power, SoC with its bands."""
    dt = site.scenarios.transient_resolution_s
    t = _tau_seconds(win, dt)
    # fixed margins: constrained layout would measure every polygon of these dense plots twice
    fig = new_figure(9.5, 6.6, layout=None)
    ax_p, ax_b, ax_s = fig.subplots(3, 1, sharex=True, height_ratios=[2.2, 1.2, 1.2])
    fig.subplots_adjust(left=0.09, right=0.72, top=0.95, bottom=0.08, hspace=0.12)
    load = variable(win, "load_mw")
    poi = variable(win, "poi_mw")
    lim = variable(win, "import_limit_mw")
    if poi is not None:
        p = np.asarray(poi.values, dtype=float)
        lo, hi = poi_ramp_envelope(p, dt, site.grid.ramp_limit_mw_per_s, site.grid.ramp_limit_mw_per_min,
                                   None if lim is None else lim.values, site.grid.export_allowed)
        grid_ok = variable(win, "grid_available")
        if grid_ok is not None:
            off = np.asarray(grid_ok.values) == 0
            lo, hi = np.where(off, np.nan, lo), np.where(off, np.nan, hi)
        # shade the 60 s rule's band (±r_m around the last minute): the ±r_s·dt step rule is too narrow to
        # see at this scale; violations of either rule are marked
        n60 = max(1, int(round(60.0 / dt)))
        ps = pd.Series(p)
        band_hi = (ps.rolling(n60, min_periods=1).min().shift(1) + site.grid.ramp_limit_mw_per_min).to_numpy()
        band_lo = (ps.rolling(n60, min_periods=1).max().shift(1) - site.grid.ramp_limit_mw_per_min).to_numpy()
        if lim is not None:
            band_hi = np.minimum(band_hi, np.asarray(lim.values, dtype=float))
        if not site.grid.export_allowed:
            band_lo = np.maximum(band_lo, 0.0)
        if grid_ok is not None:
            band_lo, band_hi = np.where(off, np.nan, band_lo), np.where(off, np.nan, band_hi)
        ax_p.fill_between(t, band_lo, band_hi, color=pal.GRID, alpha=0.18, lw=0, step="mid",
                          label=f"POI ramp envelope\n(±{site.grid.ramp_limit_mw_per_min:g} MW per 60 s)")
        ax_p.plot(t, p, color=pal.GRID, lw=1.6, label="POI import")
        excess = variable(win, "ramp_violation_mw")
        # the simulator's own account of the ramp rule when it wrote one (it knows reconnection), else ours
        bad = (np.asarray(excess.values) > 1e-6) if excess is not None else (p > hi + 1e-6) | (p < lo - 1e-6)
        if bad.any():
            ax_p.plot(t[bad], p[bad], "x", color=pal.VIOLATION, ms=5, label=f"outside envelope ({int(bad.sum())} s)")
    if lim is not None:
        ax_p.plot(t, lim.values, color=pal.GRID, lw=1.0, ls="--", label="import limit")
    if load is not None:
        ax_p.plot(t, load.values, color=pal.LOAD, lw=1.2, label="site load")
    gen = variable(win, "generation_mw")
    if gen is not None and np.nanmax(np.abs(gen.values), initial=0) > 0:
        ax_p.plot(t, gen.values, color=pal.GENERATION, lw=1.4, label="onsite generation")
    pv = variable(win, "pv_mw")
    if pv is not None and np.nanmax(np.abs(pv.values), initial=0) > 0:
        ax_p.plot(t, pv.values, color=pal.PV_EDGE, lw=1.4, label="PV")
    uns = variable(win, "unserved_mw")
    if uns is not None and np.nanmax(uns.values, initial=0) > 0:
        ax_p.fill_between(t, 0, uns.values, color=pal.UNSERVED, alpha=0.6, lw=0, label="unserved load")
    shed = variable(win, "flexible_shed_mw")
    if shed is not None and np.nanmax(shed.values, initial=0) > 0:
        ax_p.fill_between(t, 0, shed.values, color=pal.UNSERVED, alpha=0.3, lw=0, label="flexible load shed")
    _shade_events(win, t, (ax_p, ax_b, ax_s))
    ax_p.set_ylabel("power [MW]")
    ax_p.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    bess = variable(win, "bess_mw")
    P = design.bess.pcs_power_mw
    if bess is not None:
        b = np.asarray(bess.values, dtype=float)
        ax_b.fill_between(t, 0, b, where=b >= 0, color=pal.BESS, alpha=0.5, lw=0, step="mid", label="discharge")
        ax_b.fill_between(t, 0, b, where=b < 0, color=pal.BESS, alpha=0.25, lw=0, step="mid", label="charge")
        ax_b.plot(t, b, color=pal.BESS, lw=1.2)
    for sign in (1, -1):
        ax_b.axhline(sign * P, color=pal.LIMIT, ls="--", lw=0.8)
    ax_b.text(t[0], P, f" PCS rating ±{P:,.0f} MW", va="bottom", fontsize=8, color=pal.LIMIT)
    ax_b.set_ylabel("BESS [MW]\n(+ discharge)")
    ax_b.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    soc = soc_fraction(win, design.bess.energy_mwh)
    _shade_bands(ax_s, design, site)
    if soc is not None:
        ax_s.plot(t, 100 * np.asarray(soc.values, dtype=float), color=pal.SOC, lw=1.6, label="SoC")
    setpoint = variable(win, "setpoint_mwh")
    if setpoint is not None and design.bess.energy_mwh > 0:
        ax_s.plot(t, 100 * np.asarray(setpoint.values, dtype=float) / design.bess.energy_mwh, color=pal.SOC, lw=1.0,
                  ls="--", label="SoC setpoint")
    ax_s.set_ylabel("SoC [% of E]")
    ax_s.set_xlabel("time from window start [s]")
    ax_s.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    kind = _window_attr(win, "kind", default="window")
    scen = _window_attr(win, "scenario", "source_scenario")
    start = _window_attr(win, "start_s")
    title = str(kind).replace("_", " ")
    if scen is not None:
        title += f" — held-out scenario {int(scen)}"
    if start is not None:
        title += f", starting {float(start) / 3600:,.2f} h into the trace"
    ax_p.set_title(title)
    return fig


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the runs of True in ``mask``."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(edges[::2], edges[1::2]))


def _shade_events(win: xr.Dataset, t: np.ndarray, axes) -> None:
    """Grey where the grid was lost (outage or sag dip), pale blue while a curtailment call was active."""
    dt = float(t[1] - t[0]) if t.size > 1 else 1.0
    for name, test, colour, alpha, label in (
        ("grid_available", lambda v: v == 0, "#7F7F7F", 0.25, "grid lost"),
        ("curtailment_phase", lambda v: v == 2, pal.GRID, 0.08, "curtailment call"),
    ):
        v = variable(win, name)
        if v is None:
            continue
        for k, (a, b) in enumerate(_spans(test(np.asarray(v.values)))):
            for ax in axes:
                ax.axvspan(t[a] - dt / 2, t[b - 1] + dt / 2, color=colour, alpha=alpha, lw=0,
                           label=label if (k == 0 and ax is axes[0]) else None)


def _shade_bands(ax, design: Design, site: Site) -> None:
    """The end-of-life bands as pale horizontal spans behind an SoC curve (% of nameplate)."""
    E = design.bess.energy_mwh
    if E <= 0:
        return
    for name, lo, hi in band_slices(design, site)["eol"]:
        if hi > lo and name in pal.BANDS:
            ax.axhspan(100 * lo / E, 100 * hi / E, color=pal.BANDS[name], alpha=0.7, lw=0)
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter())


# --------------------------------------------------------------------------- held-out statistics


@styled
def soc_fan_chart(hourly: xr.Dataset | None, design: Design, site: Site) -> Figure | None:
    """Percentiles of hourly SoC over held-out scenarios, on the end-of-life bands."""
    soc = soc_fraction(hourly, design.bess.energy_mwh)
    if soc is None or "scenario" not in soc.dims:
        return None
    soc = soc.transpose("scenario", ...)
    values = 100 * np.asarray(soc.values, dtype=float)
    hours = np.asarray(hourly["hour"].values, dtype=float) if "hour" in hourly.coords else np.arange(values.shape[1])
    fig = new_figure(9.5, 4.2)
    ax = fig.add_subplot()
    _shade_bands(ax, design, site)
    q = np.nanpercentile(values, [5, 25, 50, 75, 95], axis=0)
    ax.fill_between(hours, q[0], q[4], color=pal.SOC, alpha=0.2, lw=0, label="5–95 %")
    ax.fill_between(hours, q[1], q[3], color=pal.SOC, alpha=0.4, lw=0, label="25–75 %")
    ax.plot(hours, q[2], color=pal.SOC, lw=1.8, label="median")
    low = variable(hourly, "soc_min_fraction")
    if low is None and variable(hourly, "stored_min_mwh") is not None and design.bess.energy_mwh > 0:
        low = hourly["stored_min_mwh"] / design.bess.energy_mwh
    if low is not None and "scenario" in low.dims:
        ax.plot(hours, 100 * np.nanmin(low.transpose("scenario", ...).values, axis=0), color=pal.SOC, lw=0.9, ls=":",
                label="lowest within the hour, any scenario")
    ax.set_xlabel("hour of the held-out trace [h]")
    ax.set_ylabel("state of charge [% of nameplate E]")
    ax.set_title(f"SoC over {values.shape[0]} held-out scenarios (hourly means) on the end-of-life bands")
    handles, labels = ax.get_legend_handles_labels()
    for name in ("ride_through_reserve", "up_ramp_buffer", "curtailment_reserve", "operating", "down_ramp_headroom"):
        handles.append(Patch(color=pal.BANDS[name]))
        labels.append(pal.BAND_LABELS[name])
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    return fig


def _grid_up(windows: xr.Dataset, shape) -> np.ndarray:
    """Boolean (window, tau): the grid was there (all True when the file does not say)."""
    ok = variable(windows, "grid_available")
    if ok is None:
        return np.ones(shape, dtype=bool)
    return np.asarray(ok.transpose(..., "tau").values).reshape(shape) != 0


def ramp_duration_data(data) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(share of time at or above, ramp MW/s, what the share counts) from the best source there is."""
    hist = data.poi_ramp
    seconds = variable(hist, "seconds", "count")
    if seconds is not None:
        edges_hi = np.asarray(hist["ramp_bin_upper_mw_per_s"].values, dtype=float) if "ramp_bin_upper_mw_per_s" in hist.variables else None
        counts = np.asarray(seconds.values, dtype=float).reshape(-1)
        if edges_hi is not None and counts.sum() > 0:
            edges_lo = np.concatenate([[0.0], edges_hi[:-1]])
            at_or_above = np.cumsum(counts[::-1])[::-1] / counts.sum()
            keep = counts > 0
            return at_or_above[keep], edges_lo[keep], "held-out seconds (histogram bins, lower edges)"
    hourly_max = variable(data.hourly, "poi_ramp_max_mw_per_s")
    if hourly_max is not None:
        v = np.sort(finite(hourly_max.values))[::-1]
        if v.size:
            return np.arange(1, v.size + 1) / v.size, v, "held-out hours (largest one-second change in the hour)"
    poi = variable(data.windows, "poi_mw")
    if poi is not None:
        dt = data.site.scenarios.transient_resolution_s
        arr = np.asarray(poi.transpose(..., "tau").values, dtype=float).reshape(-1, poi.sizes["tau"])
        up = _grid_up(data.windows, arr.shape)
        r = (np.abs(np.diff(arr, axis=-1)) / dt)[up[:, 1:] & up[:, :-1]]
        v = np.sort(finite(r))[::-1]
        if v.size:
            return np.arange(1, v.size + 1) / v.size, v, "seconds inside the stored worst windows only"
    return None


@styled
def poi_ramp_duration(data) -> Figure | None:
    """Duration curves of the POI's one-second and 60-second changes against their limits."""
    curve = ramp_duration_data(data)
    if curve is None:
        return None
    share, ramp, counted = curve
    grid = data.site.grid
    fig = new_figure(9.5, 3.8)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.step(100 * share, ramp, where="post", color=pal.GRID, lw=1.6, label="POI import")
    ax1.axhline(grid.ramp_limit_mw_per_s, color=pal.VIOLATION, ls="--", lw=1.0,
                label=f"limit {grid.ramp_limit_mw_per_s:g} MW/s")
    ax1.set_xscale("log")
    ax1.set_xlabel(f"share of {counted.split(' (')[0]} at or above [%]")
    ax1.set_ylabel("|ΔPOI| in one second [MW/s]")
    ax1.set_title("one-second POI ramp", fontsize=10)
    ax1.set_ylim(0, 1.2 * max(grid.ramp_limit_mw_per_s, float(np.max(ramp, initial=0.0))))
    ax1.legend(loc="upper right")
    poi = variable(data.windows, "poi_mw")
    if poi is not None:
        dt = data.site.scenarios.transient_resolution_s
        n = max(1, int(round(60.0 / dt)))
        arr = np.asarray(poi.transpose(..., "tau").values, dtype=float).reshape(-1, poi.sizes["tau"])
        up = _grid_up(data.windows, arr.shape)
        swings = []
        for row, ok in zip(arr, up):  # largest rise and fall over any 60 s span inside each window
            s = pd.Series(row)
            swing = (s.rolling(n + 1, min_periods=2).max() - s.rolling(n + 1, min_periods=2).min()).to_numpy()
            # a span touching a loss of grid is no ramp: import is cut, then returns at the reconnect ramp
            touched = pd.Series((~ok).astype(float)).rolling(n + 1, min_periods=1).max().to_numpy() > 0
            swings.append(finite(swing[~touched]))
        v = np.sort(np.concatenate(swings))[::-1] if swings else np.array([])
        if v.size:
            ax2.step(100 * np.arange(1, v.size + 1) / v.size, v, where="post", color=pal.GRID, lw=1.6, label="POI import")
        ax2.axhline(grid.ramp_limit_mw_per_min, color=pal.VIOLATION, ls="--", lw=1.0,
                    label=f"limit {grid.ramp_limit_mw_per_min:g} MW/min")
        ax2.set_xscale("log")
        ax2.set_xlabel("share of seconds in the stored windows at or above [%]")
        ax2.set_ylabel("largest POI change within 60 s [MW]")
        ax2.set_title("60-second POI ramp (worst windows)", fontsize=10)
        ax2.set_ylim(0, 1.2 * max(grid.ramp_limit_mw_per_min, float(np.max(v, initial=0.0))))
        ax2.legend(loc="upper right")
    else:
        ax2.set_axis_off()
    return fig


@styled
def transient_requirements(transient: xr.Dataset | None, design: Design) -> Figure | None:
    """The optimizer's screened requirements per scenario against what the design provides."""
    if transient is None:
        return None
    pairs = [
        ("discharge_residual_mw", "largest discharge residual [MW]", design.bess.headroom_mw.up, "up headroom R_up"),
        ("charge_residual_mw", "largest charge residual [MW]", design.bess.headroom_mw.down, "down headroom R_dn"),
        ("deficit_mwh", "largest stored-energy deficit [MWh]", design.bess.bands_mwh.up_ramp_buffer, "up-ramp buffer"),
        ("surplus_mwh", "largest stored-energy surplus [MWh]", design.bess.bands_mwh.down_ramp_headroom, "down-ramp headroom"),
    ]
    pairs = [p for p in pairs if p[0] in transient.variables]
    if not pairs:
        return None
    fig = new_figure(9.5, 2.6 * ((len(pairs) + 1) // 2))
    axes = np.atleast_1d(fig.subplots((len(pairs) + 1) // 2, 2)).reshape(-1)
    for ax, (name, label, provided, what) in zip(axes, pairs):
        v = np.asarray(transient[name].values, dtype=float).reshape(-1)
        ax.bar(np.arange(v.size), v, color=pal.BESS, alpha=0.7)
        ax.axhline(provided, color=pal.LIMIT, ls="--", lw=1.0, label=f"{what} {provided:,.1f}")
        ax.set_ylim(0, 1.35 * max(float(np.nanmax(v, initial=0.0)), provided, 1e-9))  # room for the legend
        ax.set_ylabel(label, fontsize=8)
        ax.set_xlabel("optimizer scenario", fontsize=8)
        ax.legend(loc="upper right", fontsize=8)
    for ax in axes[len(pairs):]:
        ax.set_axis_off()
    return fig


@styled
def inverter_capability(windows: xr.Dataset | None, design: Design) -> Figure:
    """The PCS's P-Q capability (N_inv inverters of S MVA: a circle of radius N_inv*S, cut at ±P) with the
    operating points the replay reached in the stored windows (battery P and Q each second)."""
    b = design.bess
    S = b.inverters * b.inverter_rating_mva
    P = b.pcs_power_mw
    fig = new_figure(6.5, 5.0)
    ax = fig.add_subplot()
    th = np.linspace(0, 2 * np.pi, 361)
    ax.plot(S * np.cos(th), S * np.sin(th), color=pal.LIMIT, lw=1.2, label=f"{b.inverters} × {b.inverter_rating_mva:g} MVA = {S:,.0f} MVA")
    for sign in (1, -1):
        ax.axvline(sign * P, color=pal.LIMIT, ls="--", lw=0.9, label=f"PCS rating ±{P:,.0f} MW" if sign > 0 else None)
    p = variable(windows, "bess_mw")
    q = variable(windows, "bess_reactive_mvar")
    if p is not None and q is not None:
        ax.plot(np.asarray(p.values).ravel(), np.asarray(q.values).ravel(), ".", color=pal.BESS, ms=2, alpha=0.4,
                label="replay, worst windows (each second)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("battery real power P [MW] (+ discharge)")
    ax.set_ylabel("battery reactive power Q [Mvar]")
    ax.set_title("inverter capability and operating points", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    return fig
