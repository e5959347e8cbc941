"""One whole second-resolution scenario trace (docs/interfaces.md ``scenario_trace``)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .grid_events import contingency_events, events_to_json, explicit_events, render_grid, sampled_events
from .load_model import DAY_S, measured_load_bins, model_load_bins
from .pv_price import price_bins, pv_bins
from .rng import generator, seed_sequence, stream_id


def trace_steps(site) -> tuple[float, int]:
    """(dt_s, n): the transient resolution and the number of bins in ``trace_days``."""
    dt = float(site.scenarios.transient_resolution_s)
    return dt, int(round(site.scenarios.trace_days * DAY_S / dt))


def var(dims, data, units: str, long_name: str, **attrs):
    return xr.Variable(dims, data, attrs={"units": units, "long_name": long_name, **attrs})


def trace_start_day(site, stream: str, index: int) -> int:
    """Day of the year the trace starts (uniform; 0 for a measured trace used as given)."""
    if site.load.trace is not None and site.load.trace_mode == "as_given":
        return 0
    return int(generator(site.scenarios.seed, stream, index, "calendar").integers(0, 365))


def scenario_trace(site, stream: str = "optimizer", index: int = 0) -> xr.Dataset:
    """One trace of ``trace_days`` at ``transient_resolution_s`` for (seed, stream, index).

    Same (seed, stream, index) -> bit-identical dataset; ``stream`` is "optimizer" or
    "held_out" (independent SeedSequence children, see ``rng.py``). Variables on dim ``time``
    (coordinate ``time_s``, seconds from the trace start): ``load_mw`` (bin mean),
    ``load_min_mw``/``load_max_mw`` (within-bin extremes), ``pv_mw``, ``import_limit_mw``,
    ``curtailment_phase``, ``grid_available``, ``price_usd_per_mwh``. Attributes: ``stream``,
    ``index``, ``seed``, ``events_json``, ``start_day_of_year``, ``dt_s``.
    """
    stream_id(stream)  # validates the name
    sc = site.scenarios
    seed = sc.seed
    dt, n = trace_steps(site)
    horizon = n * dt
    day0 = trace_start_day(site, stream, index)
    t_abs0 = day0 * DAY_S

    if site.load.trace is not None:
        rng = generator(seed, stream, index, "load") if site.load.trace_mode == "bootstrap" else None
        load = measured_load_bins(site, dt, n, rng)
    else:
        load = model_load_bins(site, t_abs0, dt, n, seed_sequence(seed, stream, index, "load"))
    pv = pv_bins(site, t_abs0, dt, n, seed_sequence(seed, stream, index, "pv"))
    price = price_bins(site, t_abs0, dt, n)
    events = (sampled_events(site, horizon, generator(seed, stream, index, "events"))
              + contingency_events(site, horizon, generator(seed, stream, index, "contingency"),
                                   curtailment_rng=generator(seed, stream, index, "contingency", 1))
              + explicit_events(site))
    events.sort(key=lambda e: (e.start_s, e.kind))
    limit, phase, avail = render_grid(site, events, dt, n)

    t = dt * np.arange(n)
    ds = xr.Dataset(
        {
            "load_mw": var("time", load.mean_mw, "MW", "site load (bin mean)"),
            "load_min_mw": var("time", load.min_mw, "MW", "site load, within-bin minimum"),
            "load_max_mw": var("time", load.max_mw, "MW", "site load, within-bin maximum"),
            "pv_mw": var("time", pv, "MW", "PV output"),
            "import_limit_mw": var("time", limit, "MW", "POI import limit (firm only during curtailment)"),
            "curtailment_phase": var("time", phase, "1", "curtailment phase",
                                     flag_values="0 1 2 3", flag_meanings="none notice active recovery"),
            "grid_available": var("time", avail, "1", "grid available (0 during loss of grid and sag dips)"),
            "price_usd_per_mwh": var("time", price, "USD/MWh", "energy price"),
        },
        coords={"time_s": var("time", t, "s", "time from trace start")},
        attrs={
            "stream": stream,
            "index": int(index),
            "seed": int(seed),
            "site": site.name,
            "dt_s": dt,
            "start_day_of_year": day0,
            "events_json": events_to_json(events),
        },
    )
    return ds
