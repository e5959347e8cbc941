"""Small sites for the optimizer's tests: a measured trace (a few held points), explicit events and
the settings that keep a hand derivation exact (no smoothing, no sampled events, one day)."""

from __future__ import annotations

import pytest

from bess_size.site_spec import validate_site


def merge(a: dict, b: dict) -> dict:
    """``a`` updated by ``b``, nested mappings merged key by key."""
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return out


def site_from(overrides: dict):
    """A small site: defaults of the spec, no generation, no flexible load, unless overridden."""
    base = {
        "name": "test-site",
        "load": {"it_capacity_mw": 200, "pue": 1.0, "min_load_mw": 0, "power_factor": 1.0},
        "grid": {"firm_import_mw": 1000, "nonfirm_import_mw": 0, "poi_power_factor_min": 1.0,
                 "energy_price_usd_per_mwh": 60, "ramp_limit_mw_per_s": 100, "ramp_limit_mw_per_min": 6000},
        "generation": [],
        "bess": {"container_mwh": None, "inverter_cost_usd": 0, "max_c_rate": 20, "throughput_cost_usd_per_mwh": 0},
        "reliability": {"ride_through": {"duration_s": 0}, "islanding": {"required": False}},
        "scenarios": {"count": 1, "representative_days": 1},
    }

    return validate_site(merge(base, overrides), "<test>")


def trace_site_from(csv_path, points, overrides: dict):
    """A site whose load is a measured trace (``points`` = [(time_s, load_mw), ...], held between
    points), used as given: one deterministic scenario of one day, no smoothing at the POI, no
    sampled grid events (each trace still carries its sampled contingency; only ride-through
    requirements make it matter), no sub-resolution swings (a trace has none)."""
    with open(csv_path, "w") as f:
        f.write("time_s,load_mw\n" + "".join(f"{t:g},{v:g}\n" for t, v in points))
    base = {
        "load": {"trace": str(csv_path), "trace_mode": "as_given", "it_capacity_mw": 400},
        "grid": {"smoothing_time_constant_s": 0,
                 "curtailment": {"events_per_year": 0, "notice_min": 0, "recovery_h": 6},
                 "loss_of_grid": {"events_per_year": 0}, "voltage_sags": {"events_per_year": 0}},
        "scenarios": {"count": 1, "trace_days": 1, "representative_days": 1, "transient_windows": 4,
                      "window_length_s": 900},
    }

    return site_from(merge(base, overrides))


@pytest.fixture
def make_trace_site(tmp_path):
    """``make_trace_site(points, overrides)``: see ``trace_site_from``."""
    counter = iter(range(1000))
    return lambda points, overrides=None: trace_site_from(tmp_path / f"trace{next(counter)}.csv", points,
                                                           overrides or {})
