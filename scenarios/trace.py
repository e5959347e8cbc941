"""One whole second-resolution scenario trace (docs/interfaces.md ``scenario_trace``)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .grid_events import contingency_events, events_to_json, explicit_events, render_grid, sampled_events
from .load_model import DAY_S, MeasuredLoad, ModelLoad
from .pv_price import PV, price_bins
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


class TraceRenderer:
    """One scenario trace for (seed, stream, index), drawn up front (start day, events, job plans,
    noise generators) and rendered a range of bins at a time: ``bins(0, a)``, ``bins(a, b)``, ...
    (in order: the noise and the cooling lag carry their state) give the bits of ``bins(0, n)``, so
    a year at 1 s never needs its 1.8 GB at once. ``stream`` is "optimizer" or "held_out"
    (independent SeedSequence children, see ``rng.py``)."""

    def __init__(self, site, stream: str = "optimizer", index: int = 0):
        stream_id(stream)  # validates the name
        self.site, self.stream, self.index = site, stream, int(index)
        seed = site.scenarios.seed
        self.dt, self.n = dt, n = trace_steps(site)
        self.day0 = trace_start_day(site, stream, index)
        t_abs0 = self.day0 * DAY_S
        if site.load.trace is not None:
            rng = generator(seed, stream, index, "load") if site.load.trace_mode == "bootstrap" else None
            self.load = MeasuredLoad(site, dt, n, rng)
        else:
            self.load = ModelLoad(site, t_abs0, dt, n, seed_sequence(seed, stream, index, "load"))
        self.pv = PV(site, t_abs0, dt, n, seed_sequence(seed, stream, index, "pv"))
        horizon = n * dt
        events = (sampled_events(site, horizon, generator(seed, stream, index, "events"))
                  + contingency_events(site, horizon, generator(seed, stream, index, "contingency"),
                                       curtailment_rng=generator(seed, stream, index, "contingency", 1))
                  + explicit_events(site))
        events.sort(key=lambda e: (e.start_s, e.kind))
        self.events = events

    def bins(self, i0: int, i1: int) -> dict[str, np.ndarray]:
        """The trace's variables (see :func:`scenario_trace`) over bins ``i0 .. i1 - 1``."""
        site, dt = self.site, self.dt
        load = self.load.bins(i0, i1)
        limit, phase, avail = render_grid(site, self.events, dt, self.n, i0=i0, i1=i1)
        return {"load_mw": load.mean_mw, "load_min_mw": load.min_mw, "load_max_mw": load.max_mw,
                "pv_mw": self.pv.bins(i0, i1), "import_limit_mw": limit, "curtailment_phase": phase,
                "grid_available": avail, "price_usd_per_mwh": price_bins(site, self.day0 * DAY_S, dt, i1 - i0, i0)}

    def attrs(self) -> dict:
        return {"stream": self.stream, "index": self.index, "seed": int(self.site.scenarios.seed),
                "site": self.site.name, "dt_s": self.dt, "start_day_of_year": self.day0,
                "events_json": events_to_json(self.events)}


def scenario_trace(site, stream: str = "optimizer", index: int = 0) -> xr.Dataset:
    """One trace of ``trace_days`` at ``transient_resolution_s`` for (seed, stream, index).

    Same (seed, stream, index) -> bit-identical dataset; ``stream`` is "optimizer" or
    "held_out" (independent SeedSequence children, see ``rng.py``). Variables on dim ``time``
    (coordinate ``time_s``, seconds from the trace start): ``load_mw`` (bin mean),
    ``load_min_mw``/``load_max_mw`` (within-bin extremes), ``pv_mw``, ``import_limit_mw``,
    ``curtailment_phase``, ``grid_available``, ``price_usd_per_mwh``. Attributes: ``stream``,
    ``index``, ``seed``, ``events_json``, ``start_day_of_year``, ``dt_s``. A long trace can be
    rendered a range of bins at a time instead (:class:`TraceRenderer`).
    """
    r = TraceRenderer(site, stream, index)
    b = r.bins(0, r.n)
    return xr.Dataset(
        {
            "load_mw": var("time", b["load_mw"], "MW", "site load (bin mean)"),
            "load_min_mw": var("time", b["load_min_mw"], "MW", "site load, within-bin minimum"),
            "load_max_mw": var("time", b["load_max_mw"], "MW", "site load, within-bin maximum"),
            "pv_mw": var("time", b["pv_mw"], "MW", "PV output"),
            "import_limit_mw": var("time", b["import_limit_mw"], "MW", "POI import limit (firm only during curtailment)"),
            "curtailment_phase": var("time", b["curtailment_phase"], "1", "curtailment phase",
                                     flag_values="0 1 2 3", flag_meanings="none notice active recovery"),
            "grid_available": var("time", b["grid_available"], "1", "grid available (0 during loss of grid and sag dips)"),
            "price_usd_per_mwh": var("time", b["price_usd_per_mwh"], "USD/MWh", "energy price"),
        },
        coords={"time_s": var("time", r.dt * np.arange(r.n), "s", "time from trace start")},
        attrs=r.attrs(),
    )
