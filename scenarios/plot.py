"""The scenarios figure: a sample day of one trace and the selected transient windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bess_size.io import atomic_path


def plot_scenarios(site, sset, path, trace=None, max_windows: int = 6) -> None:
    """Write a PNG: top, the first day of ``trace`` (optimizer scenario 0 by default) with the
    load's within-bin band, the POI under the shared policy, PV and the import limit, and the
    selected windows of that scenario shaded; below, up to ``max_windows`` windows (one per kind
    first) with load, POI and battery residual. matplotlib Agg, axes labelled with units."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .poi_policy import poi_params, poi_policy
    from .trace import scenario_trace

    if trace is None:
        trace = scenario_trace(site, sset.attrs.get("stream", "optimizer"), 0)
    dt = float(trace.attrs["dt_s"])
    n_day = min(trace.sizes["time"], int(round(86400 / dt)))
    t_h = trace.time_s.values[:n_day] / 3600.0
    load = trace.load_mw.values[:n_day]
    pv = trace.pv_mw.values[:n_day]
    poi, _, _ = poi_policy(load - pv, trace.import_limit_mw.values[:n_day], poi_params(site))

    win = sset.windows
    kinds = [str(k) for k in win["kind"].values] if "kind" in win.coords else []
    order, seen = [], set()
    for i, k in enumerate(kinds):  # one of each kind first, then the rest in order
        if k not in seen:
            order.append(i)
            seen.add(k)
    order += [i for i in range(len(kinds)) if i not in order]
    order = order[:max_windows]
    ncols = 3
    nrows = 1 + (len(order) + ncols - 1) // ncols
    fig = plt.figure(figsize=(13, 3.2 * nrows), constrained_layout=True)
    gs = fig.add_gridspec(nrows, ncols)
    ax = fig.add_subplot(gs[0, :])
    # the band of within-bin extremes, drawn on a coarse grid so the figure stays light
    step = max(1, n_day // 3000)
    lo = trace.load_min_mw.values[:n_day].reshape(-1, step).min(axis=1) if n_day % step == 0 else trace.load_min_mw.values[:n_day:step]
    hi = trace.load_max_mw.values[:n_day].reshape(-1, step).max(axis=1) if n_day % step == 0 else trace.load_max_mw.values[:n_day:step]
    ax.fill_between(t_h[::step][: lo.size], lo, hi, color="0.8", label="load, within-bin min-max")
    k = max(1, int(round(30.0 / dt)))  # the load's 30-s mean reads better than every swing
    m = (n_day // k) * k
    ax.plot(t_h[:m:k], load[:m].reshape(-1, k).mean(axis=1), lw=0.6, color="0.2", label="load, 30-s mean")
    ax.plot(t_h, poi, lw=1.2, color="tab:blue", label="POI (shared policy)")
    if pv.any():
        ax.plot(t_h, pv, lw=1.0, color="tab:orange", label="PV")
    ax.plot(t_h, trace.import_limit_mw.values[:n_day], lw=1.0, ls="--", color="tab:red", label="import limit")
    off = np.flatnonzero(trace.grid_available.values[:n_day] == 0)
    if off.size:
        ax.plot(t_h[off], np.full(off.size, load.min() * 0.95), "|", color="k", ms=8, label="grid unavailable")
    src = trace.attrs.get("index", 0)
    if "source_scenario" in win.coords:
        for i in range(len(kinds)):
            if int(win.source_scenario.values[i]) == src:
                a = float(win.start_s.values[i]) / 3600.0
                if a < t_h[-1]:
                    ax.axvspan(a, a + float(win.tau.values[-1]) / 3600.0, color="tab:green", alpha=0.15)
    ax.set_xlabel("time from trace start [h]")
    ax.set_ylabel("power [MW]")
    ax.set_title(f"{site.name}: scenario {src} ({trace.attrs.get('stream', '')}), first day; shaded: selected windows")
    ax.legend(loc="lower left", fontsize=8, ncol=3)
    for j, i in enumerate(order):
        a2 = fig.add_subplot(gs[1 + j // ncols, j % ncols])
        tau = win.tau.values
        a2.plot(tau, win.load_mw.values[i], lw=0.6, color="0.3", label="load")
        a2.plot(tau, win.poi_mw.values[i], lw=1.2, color="tab:blue", label="POI")
        a2.plot(tau, win.residual_mw.values[i], lw=0.8, color="tab:purple", label="battery residual")
        ga = win.grid_available.values[i]
        if (ga == 0).any():
            a2.fill_between(tau, 0, 1, where=ga == 0, transform=a2.get_xaxis_transform(), color="tab:red", alpha=0.15,
                            label="no grid")
        a2.set_title(f"{kinds[i]}: scenario {int(win.source_scenario.values[i])}, "
                     f"t = {float(win.start_s.values[i]) / 3600:.2f} h", fontsize=9)
        a2.set_xlabel("time in window [s]")
        a2.set_ylabel("power [MW]")
        if j == 0:
            a2.legend(fontsize=7)
    with atomic_path(path) as tmp:  # the temporary name has no extension: say the format
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=110)
    plt.close(fig)
