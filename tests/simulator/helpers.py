"""Hand-made sites, designs and traces for the simulator tests (no scenario generator needed)."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from bess_size.site_spec import Design, validate_site


def make_site(**overrides):
    """A small site: 100 MW IT, one gas engine type; sections overridden by dicts in ``overrides``."""
    spec = {
        "name": "hand-made",
        "load": {"it_capacity_mw": 100, "pue": 1.0, "min_load_mw": 10, "power_factor": 0.95},
        "grid": {
            "firm_import_mw": 60, "nonfirm_import_mw": 60,
            "ramp_limit_mw_per_s": 2, "ramp_limit_mw_per_min": 20, "reconnect_ramp_mw_per_min": 20,
            "smoothing_time_constant_s": 0, "poi_power_factor_min": 0.95, "export_allowed": False,
            "curtailment": {"notice_min": 30},
        },
        # fuel dearer than the 60 USD/MWh grid price: engines run for contingencies and curtailment only
        "generation": [{"kind": "gas_engine", "unit_mw": 10, "existing_units": 0, "max_new_units": 12,
                        "min_load_fraction": 0.3, "ramp_mw_per_s": 0.5, "start_time_s": 60,
                        "fuel_usd_per_mwh": 80}],
        "bess": {"charge_efficiency": 0.96, "discharge_efficiency": 0.92, "soc_min_fraction": 0.05,
                 "soc_max_fraction": 0.95, "end_of_life_fraction": 0.8, "soc_recovery_time_s": 900},
        "reliability": {"ride_through": {"duration_s": 30, "load_fraction": 1.0},
                        "islanding": {"required": True}, "target_success_rate": 0.95},
        "scenarios": {"count": 2, "held_out": 4, "trace_days": 0.1, "transient_resolution_s": 1,
                      "window_length_s": 120},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return validate_site(spec, "<test>", ".")


def make_design(site, energy_mwh=40.0, pcs_mw=30.0, inverters=None, units=3, rt=5.0, up=3.0, cu=8.0, dn=3.0):
    """A design whose bands stack inside the end-of-life span as the optimizer would place them."""
    b = site.bess
    F = b.soc_min_fraction * energy_mwh
    U = b.end_of_life_fraction * (b.soc_max_fraction - b.soc_min_fraction) * energy_mwh
    lo = F + rt + up + cu
    hi = F + U - dn
    assert lo <= hi, "bands do not fit"
    if inverters is None:
        inverters = int(np.ceil(pcs_mw / 0.95 / 4.2)) + 2
    bands = {"ride_through_reserve": rt, "up_ramp_buffer": up, "curtailment_reserve": cu,
             "down_ramp_headroom": dn, "operating": [lo, hi]}
    frac = {k: (v / energy_mwh if not isinstance(v, list) else [x / energy_mwh for x in v]) for k, v in bands.items()}
    thermal = [g for g in site.generation if g.kind != "pv"]
    return Design.model_validate({
        "site": site.name,
        "bess": {"energy_mwh": energy_mwh, "pcs_power_mw": pcs_mw, "inverters": inverters,
                 "inverter_rating_mva": 4.2, "headroom_mw": {"up": 5.0, "down": 5.0},
                 "bands_mwh": bands, "bands_fraction": frac},
        "generation": [{"kind": g.kind, "existing_units": 0, "new_units": units, "unit_mw": g.unit_mw} for g in thermal],
        "promises": {"poi_ramp_violation_mw_s_per_year": 0.0, "unserved_energy_mwh_per_year": 0.0},
    })


def make_trace(load_mw, *, pv_mw=0.0, limit_mw=120.0, phase=None, grid=None, price=60.0, events=(), index=0,
               load_min_mw=None, load_max_mw=None):
    """A trace Dataset per docs/interfaces.md from arrays (scalars broadcast)."""
    load = np.asarray(load_mw, dtype=float)
    n = load.size

    def arr(x, dtype=float):
        return np.broadcast_to(np.asarray(x, dtype=dtype), (n,)).copy()

    ds = xr.Dataset(
        {
            "load_mw": ("time", load),
            "load_min_mw": ("time", load if load_min_mw is None else arr(load_min_mw)),
            "load_max_mw": ("time", load if load_max_mw is None else arr(load_max_mw)),
            "pv_mw": ("time", arr(pv_mw)),
            "import_limit_mw": ("time", arr(limit_mw)),
            "curtailment_phase": ("time", arr(0 if phase is None else phase, np.int8)),
            "grid_available": ("time", arr(1 if grid is None else grid, np.int8)),
            "price_usd_per_mwh": ("time", arr(price)),
        },
        coords={"time_s": ("time", np.arange(n, dtype=float))},
        attrs={"stream": "held_out", "index": index, "seed": 0, "events_json": json.dumps(list(events))},
    )
    return ds
