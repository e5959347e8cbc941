"""Hand-made sites and ScenarioSets for the optimizer's tests (docs/interfaces.md shapes).

``tiny_scenarios`` builds the three datasets from a small load array, explicit import limits and
curtailment phases, given transient figures and given contingency windows, so every figure a test
derives by hand is an input here, not the output of another stage.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

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


def tiny_scenarios(load_mw, *, import_limit_mw=1000.0, phase=None, weight_days=365.0, step_h=1.0,
                   price=60.0, pv_mw=0.0, transient=None, windows=(), explicit_event=None):
    """One scenario with the given representative days.

    ``load_mw``: shape (step,) for one day or (period, step). ``windows``: dicts with ``load_mw``
    (array over tau at 1 s), ``grid_available`` (same length) and ``kind``.
    """
    load = np.atleast_2d(np.asarray(load_mw, dtype=float))
    D, T = load.shape
    cube = lambda x: np.broadcast_to(np.asarray(x, dtype=float), (D, T))[None].copy()
    energy = xr.Dataset(
        {
            "load_mw": (("scenario", "period", "step"), load[None]),
            "pv_mw": (("scenario", "period", "step"), cube(pv_mw)),
            "price_usd_per_mwh": (("scenario", "period", "step"), cube(price)),
            "import_limit_mw": (("scenario", "period", "step"), cube(import_limit_mw)),
            "curtailment_phase": (("scenario", "period", "step"),
                                  cube(0 if phase is None else phase).astype(np.int8)),
            "weight_days_per_year": (("scenario", "period"), np.broadcast_to(np.asarray(weight_days, float), (D,))[None].copy()),
            "scenario_probability": (("scenario",), np.array([1.0])),
        },
        attrs={"step_h": step_h},
    )
    if explicit_event is not None:
        energy["explicit_event"] = (("scenario", "period"), np.asarray(explicit_event, dtype=np.int8)[None])
    tr = {"discharge_residual_mw": 0.0, "charge_residual_mw": 0.0, "deficit_mwh": 0.0, "surplus_mwh": 0.0,
          "fast_throughput_mwh_per_day": 0.0}
    tr.update(transient or {})
    transient_ds = xr.Dataset({k: (("scenario",), np.array([v], dtype=float)) for k, v in tr.items()})
    if windows:
        n_tau = max(len(w["load_mw"]) for w in windows)
        pad = lambda a, v: np.concatenate([np.asarray(a, float), np.full(n_tau - len(a), v)])
        windows_ds = xr.Dataset(
            {"load_mw": (("window", "tau"), np.stack([pad(w["load_mw"], w["load_mw"][-1]) for w in windows])),
             "grid_available": (("window", "tau"), np.stack([pad(w["grid_available"], 1) for w in windows]).astype(np.int8)),
             "poi_mw": (("window", "tau"), np.zeros((len(windows), n_tau))),
             "residual_mw": (("window", "tau"), np.zeros((len(windows), n_tau)))},
            coords={"tau": np.arange(n_tau, dtype=float), "kind": ("window", [w["kind"] for w in windows]),
                    "source_scenario": ("window", [0] * len(windows)), "start_s": ("window", [0.0] * len(windows)),
                    "event_duration_s": ("window", [float(np.sum(np.asarray(w["grid_available"]) == 0)) for w in windows])})
    else:
        windows_ds = xr.Dataset(coords={"window": np.arange(0), "tau": np.arange(0)})
    return SimpleNamespace(energy=energy, transient=transient_ds, windows=windows_ds)


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
def make_site():
    return site_from


@pytest.fixture
def make_trace_site(tmp_path):
    """``make_trace_site(points, overrides)``: see ``trace_site_from``."""
    counter = iter(range(1000))
    return lambda points, overrides=None: trace_site_from(tmp_path / f"trace{next(counter)}.csv", points,
                                                           overrides or {})


@pytest.fixture
def make_scenarios():
    return tiny_scenarios
