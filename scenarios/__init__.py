"""bess_size.scenarios: stochastic AI-load, grid-event, PV and price scenarios (DESIGN 4).

* :func:`scenario_trace` - one whole second-resolution trace (load, PV, import limit, events, price).
* :func:`generate_scenarios` - the optimizer's two layers (energy days, transient requirements,
  windows) as a :class:`ScenarioSet` of xarray Datasets, written to one netCDF file.
* ``poi_policy`` - the shared, compiled POI policy (``poi_params``, ``new_poi_state``,
  ``poi_step``, ``poi_policy``), imported by the optimizer and the simulator.

Names resolve lazily so importing the package does not compile anything.
"""

from __future__ import annotations

import importlib

_API = {
    "poi_params": "bess_size.scenarios.poi_policy:poi_params",
    "make_poi_params": "bess_size.scenarios.poi_policy:make_poi_params",
    "new_poi_state": "bess_size.scenarios.poi_policy:new_poi_state",
    "poi_step": "bess_size.scenarios.poi_policy:poi_step",
    "poi_policy": "bess_size.scenarios.poi_policy:poi_policy",
    "scenario_trace": "bess_size.scenarios.trace:scenario_trace",
    "generate_scenarios": "bess_size.scenarios.generate:generate_scenarios",
    "ScenarioSet": "bess_size.scenarios.dataset:ScenarioSet",
}

__all__ = sorted(_API)


def __getattr__(name):
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'bess_size.scenarios' has no attribute {name!r}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
