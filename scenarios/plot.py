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
    from .trace import TraceRenderer

    if trace is None:  # the first day only: a year-long trace is never rendered whole
        r = TraceRenderer(site, sset.attrs.get("stream", "optimizer"), 0)
        dt, attrs = r.dt, r.attrs()
        n_day = min(r.n, int(round(86400 / dt)))
        day = r.bins(0, n_day)
    else:
        dt, attrs = float(trace.attrs["dt_s"]), trace.attrs
        n_day = min(trace.sizes["time"], int(round(86400 / dt)))
        day = {k: trace[k].values[:n_day] for k in ("load_mw", "load_min_mw", "load_max_mw", "pv_mw",
                                                        "import_limit_mw", "grid_available")}
    t_h = dt * np.arange(n_day) / 3600.0
    load = day["load_mw"]
    pv = day["pv_mw"]
    poi, _, _ = poi_policy(load - pv, day["import_limit_mw"], poi_params(site))

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
    lo = day["load_min_mw"].reshape(-1, step).min(axis=1) if n_day % step == 0 else day["load_min_mw"][::step]
    hi = day["load_max_mw"].reshape(-1, step).max(axis=1) if n_day % step == 0 else day["load_max_mw"][::step]
    ax.fill_between(t_h[::step][: lo.size], lo, hi, color="0.8", label="load, within-bin min-max")
    k = max(1, int(round(30.0 / dt)))  # the load's 30-s mean reads better than every swing
    m = (n_day // k) * k
    ax.plot(t_h[:m:k], load[:m].reshape(-1, k).mean(axis=1), lw=0.6, color="0.2", label="load, 30-s mean")
    ax.plot(t_h, poi, lw=1.2, color="tab:blue", label="POI (shared policy)")
    if pv.any():
        ax.plot(t_h, pv, lw=1.0, color="tab:orange", label="PV")
    ax.plot(t_h, day["import_limit_mw"], lw=1.0, ls="--", color="tab:red", label="import limit")
    off = np.flatnonzero(day["grid_available"] == 0)
    if off.size:
        ax.plot(t_h[off], np.full(off.size, load.min() * 0.95), "|", color="k", ms=8, label="grid unavailable")
    src = attrs.get("index", 0)
    if "source_scenario" in win.coords:
        for i in range(len(kinds)):
            if int(win.source_scenario.values[i]) == src:
                a = float(win.start_s.values[i]) / 3600.0
                if a < t_h[-1]:
                    ax.axvspan(a, a + float(win.tau.values[-1]) / 3600.0, color="tab:green", alpha=0.15)
    ax.set_xlabel("time from trace start [h]")
    ax.set_ylabel("power [MW]")
    ax.set_title(f"{site.name}: scenario {src} ({attrs.get('stream', '')}), first day; shaded: selected windows")
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
