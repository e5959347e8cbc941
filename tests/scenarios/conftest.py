"""Small sites for the scenario tests (validated through the public loader)."""

from __future__ import annotations

import copy

import pytest

from bess_size.site_spec import validate_site

BASE = {
    "name": "test-site",
    "load": {
        "it_capacity_mw": 100,
        "pue": 1.2,
        "cooling_lag_s": 300,
        "min_load_mw": 20,
        "workloads": [
            {"kind": "training", "share": 0.8, "jobs": 2, "swing_fraction": 0.4, "swing_period_s": [2, 6],
             "checkpoint_interval_min": 30, "checkpoint_depth_fraction": 0.6, "checkpoint_duration_s": 20,
             "job_ramp_s": 10, "stalls_per_day": 12, "stall_duration_min": [2, 10], "idle_fraction": 0.25},
            {"kind": "inference", "share": 0.2, "diurnal_peak_to_trough": 2.0, "peak_hour": 14},
        ],
    },
    "grid": {"firm_import_mw": 80, "nonfirm_import_mw": 60, "ramp_limit_mw_per_s": 2, "ramp_limit_mw_per_min": 20},
    "scenarios": {"count": 3, "held_out": 2, "seed": 7, "trace_days": 0.25, "representative_days": 4,
                  "transient_windows": 8, "window_length_s": 300},
}


def make_site(**overrides):
    """BASE with dotted-path overrides, e.g. make_site(**{"scenarios.seed": 3})."""
    data = copy.deepcopy(BASE)
    for key, value in overrides.items():
        node = data
        *path, last = key.split(".")
        for p in path:
            node = node.setdefault(p, {})
        node[last] = value
    return validate_site(data, "<test>")


@pytest.fixture
def site():
    return make_site()
