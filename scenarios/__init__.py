"""bess_size.scenarios: stochastic AI-load, grid-event, PV and price scenarios (DESIGN 4).

* :func:`scenario_trace` - one whole second-resolution trace (load, PV, import limit, events, price).
* :func:`generate_scenarios` - the optimizer's two layers (energy days, transient requirements,
  windows) as a :class:`ScenarioSet` of xarray Datasets, written to one netCDF file.
* ``poi_policy`` - the shared, compiled POI policy (``poi_params``, ``new_poi_state``,
  ``poi_step``, ``poi_policy``), imported by the optimizer and the simulator.

Other names resolve lazily; importing the package loads numba (the policy is cached compiled).
"""

from __future__ import annotations

import importlib

# Bound eagerly so `bess_size.scenarios.poi_policy` is the function (the interface's name), not
# the submodule of the same name; `from bess_size.scenarios.poi_policy import ...` still works.
from .poi_policy import new_poi_state, poi_params, poi_policy, poi_step  # noqa: E402, F401

_API = {
    "make_poi_params": "bess_size.scenarios.poi_policy:make_poi_params",
    "scenario_trace": "bess_size.scenarios.trace:scenario_trace",
    "generate_scenarios": "bess_size.scenarios.generate:generate_scenarios",
    "ScenarioSet": "bess_size.scenarios.dataset:ScenarioSet",
}

__all__ = sorted([*_API, "new_poi_state", "poi_params", "poi_policy", "poi_step"])


def __getattr__(name):
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'bess_size.scenarios' has no attribute {name!r}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
