"""bess-size: size and design battery storage for AI factories, and prove the design by replay.

The public API mirrors the CLI. Names resolve lazily so `import bess_size` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "load_site": "bess_size.site_spec:load_site",
    "Site": "bess_size.site_spec:Site",
    "Design": "bess_size.site_spec:Design",
    "SiteSpecError": "bess_size.site_spec:SiteSpecError",
    "summarize": "bess_size.site_spec:summarize",
    "batch": "bess_size.batch_runner:batch",
    "sweep": "bess_size.sweep_grid:sweep",
    "optimize": "bess_size.optimizer:optimize",
    "generate_scenarios": "bess_size.scenarios:generate_scenarios",
    "scenario_trace": "bess_size.scenarios:scenario_trace",
    "ScenarioSet": "bess_size.scenarios:ScenarioSet",
    "write_report": "bess_size.report:write_report",
    "simulate": "bess_size.simulator:simulate",
    "run": "bess_size.pipeline:run",
}

__all__ = sorted(_API)


def __getattr__(name):
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'bess_size' has no attribute {name!r}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
