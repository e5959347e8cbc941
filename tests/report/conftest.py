"""A hand-made output folder with the shapes `run` writes (docs/interfaces.md, DESIGN section 9).

The design is DESIGN 9's example (415 MWh = 83 x 5 MWh, 360 MW, bands inside the end-of-life span
of the default BESS: F = 0.05 x 415 = 20.75, U = 0.8 x 0.9 x 415 = 298.8, operating band
[20.75 + 38.2 + 22.5 + 160, 20.75 + 298.8 - 21] = [241.45, 298.55]). The windows are made by
running the POI ramp rule on a planted load step, so the battery covers exactly load - POI - generation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from bess_size.site_spec import Design, Site, dump_site

HELD_OUT = 20

DESIGN = {
    "site": "campus-test",
    "solver": {"name": "highs", "status": "optimal", "mip_gap": 0.004, "build_s": 3.1, "solve_s": 20.4},
    "bess": {
        "energy_mwh": 415.0, "containers": 83, "pcs_power_mw": 360.0, "inverters": 92,
        "inverter_rating_mva": 4.2, "headroom_mw": {"up": 48.0, "down": 45.0},
        "bands_mwh": {"ride_through_reserve": 38.2, "up_ramp_buffer": 22.5, "curtailment_reserve": 160.0,
                      "down_ramp_headroom": 21.0, "operating": [241.45, 298.55]},
        "bands_fraction": {"ride_through_reserve": 0.092, "up_ramp_buffer": 0.054, "curtailment_reserve": 0.386,
                           "down_ramp_headroom": 0.051, "operating": [0.582, 0.719]},
    },
    "generation": [{"kind": "gas_engine", "existing_units": 0, "new_units": 6, "unit_mw": 18}],
    "cost": {"annualized_capex_usd": 14.2e6, "expected_annual_opex_usd": 160.5e6, "grid_only_bill_usd": 181.0e6,
             "total_annualized_usd": 174.7e6,
             # the optimizer's keys (optimizer/extract.py), totals included
             "breakdown": {"annualized_capex_bess_energy_usd": 9.7e6, "annualized_capex_pcs_usd": 2.5e6,
                           "annualized_capex_inverters_usd": 1.6e6, "annualized_capex_generation_usd": 0.4e6,
                           "opex_energy_usd": 150.0e6, "opex_fuel_usd": 9.0e6, "opex_throughput_usd": 1.5e6,
                           "grid_only_bill_usd": 181.0e6, "total_annualized_usd": 174.7e6,
                           "decision_objective_usd": -6.3e6}},
    "promises": {"poi_ramp_violation_mw_s_per_year": 0.0, "unserved_energy_mwh_per_year": 0.0},
}


def _checks(fail_one: bool) -> list[dict]:
    def check(req, passed, measured, limit, unit, rate, anchor):
        k = round(rate * HELD_OUT)
        z2 = 1.959963984540054**2
        lower = ((k + z2 / 2) - 1.959963984540054 * np.sqrt(k * (HELD_OUT - k) / HELD_OUT + z2 / 4)) / (HELD_OUT + z2)
        return {"requirement": req, "passed": passed, "measured": measured, "limit": limit, "unit": unit,
                "success_rate": rate, "success_rate_lower_95": float(lower), "evidence": f"report.html#{anchor}"}

    return [
        check("poi_ramp_limit", True, 1.98, 2.0, "MW/s", 1.0, "poi-ramp"),
        check("poi_ramp_limit_per_min", True, 19.7, 20.0, "MW/min", 1.0, "poi-ramp-minute"),
        check("ride_through", not fail_one, 30.0 if not fail_one else 21.5, 30.0, "s", 1.0 if not fail_one else 0.8, "ride-through"),
        check("unserved_energy", True, 0.0, 0.0, "MWh", 1.0, "unserved-energy"),
        check("degradation_cycles", True, 180.0, 365.0, "cycles/year", 1.0, "cycles-note"),
    ]


def _window(kind: str, step_mw: float, site: Site, start_s: float, scenario: int, rng) -> dict:
    n = 600
    load = 250.0 + rng.normal(0, 0.5, n)
    load[200:] += step_mw
    grid_ok = np.ones(n, dtype=np.int8)
    if kind == "loss_of_grid":
        grid_ok[150:260] = 0
    limit = np.full(n, site.grid.total_import_mw)
    # the POI rule itself, step by step (dt = 1 s): follow the load inside the envelope of its own past,
    # hi = min(limit, p[i-1] + r_s, min(p[i-60:i]) + r_m), lo = max(0, p[i-1] - r_s, max(p[i-60:i]) - r_m)
    r_s, r_m = site.grid.ramp_limit_mw_per_s, site.grid.ramp_limit_mw_per_min
    poi = np.empty(n)
    poi[0] = load[0]
    for i in range(1, n):
        past = poi[max(0, i - 60): i]
        hi = min(limit[i], poi[i - 1] + r_s, past.min() + r_m)
        lo = max(0.0, poi[i - 1] - r_s, past.max() - r_m)
        poi[i] = 0.0 if not grid_ok[i] else float(np.clip(load[i], lo, hi))
    gen = np.where(np.arange(n) > 450, 18.0, 0.0)
    bess = load - poi - gen
    stored = 270.0 - np.cumsum(np.where(bess > 0, bess / 0.94, bess * 0.94)) / 3600.0
    return {"load_mw": load, "poi_mw": poi, "import_limit_mw": limit, "bess_mw": bess, "generation_mw": gen,
            "pv_mw": np.zeros(n), "soc_fraction": stored / DESIGN["bess"]["energy_mwh"], "unserved_mw": np.zeros(n),
            "grid_available": grid_ok, "kind": kind, "scenario": scenario, "start_s": start_s}


def make_outputs(out: Path, *, fail_one: bool = False, site: Site | None = None, with_site_json: bool = True) -> Path:
    """Write design.json, validation.json, site.json, timeseries.nc and scenarios.nc into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    site = site or Site(name="campus-test", load={}, grid={})
    rng = np.random.default_rng(7)
    (out / "design.json").write_text(Design.model_validate(DESIGN).to_json())
    checks = _checks(fail_one)
    validation = {"design": "design.json", "held_out_scenarios": HELD_OUT, "target_success_rate": 0.95,
                  "checks": checks, "passed": all(c["passed"] for c in checks),
                  "results": {"poi_ramp_violation_mw_s_per_year": 0.0, "unserved_energy_mwh_per_year": 0.12}}
    (out / "validation.json").write_text(json.dumps(validation, indent=2))
    if with_site_json:
        (out / "site.json").write_text(json.dumps(dump_site(site)))
    wins = [_window("ramp_up", 80.0, site, 3600.0, 3, rng), _window("ramp_down", -70.0, site, 7200.0, 5, rng),
            _window("loss_of_grid", 0.0, site, 40000.0, 11, rng)]
    names = [k for k in wins[0] if k not in ("kind", "scenario", "start_s")]
    windows = xr.Dataset(
        {k: (("window", "tau"), np.stack([w[k] for w in wins])) for k in names},
        coords={"tau": np.arange(600.0), "kind": ("window", [w["kind"] for w in wins]),
                "scenario": ("window", [w["scenario"] for w in wins]), "start_s": ("window", [w["start_s"] for w in wins])},
    )
    hours = np.arange(48)
    soc = np.clip(0.62 + 0.05 * np.sin(2 * np.pi * hours / 24)[None, :] + rng.normal(0, 0.03, (HELD_OUT, 48)), 0.05, 0.95)
    hourly = xr.Dataset(
        {"soc_fraction": (("scenario", "hour"), soc), "soc_min_fraction": (("scenario", "hour"), soc - 0.02),
         "poi_ramp_max_mw_per_s": (("scenario", "hour"), rng.uniform(0.2, 1.98, (HELD_OUT, 48)))},
        coords={"scenario": np.arange(HELD_OUT), "hour": hours},
    )
    upper = np.arange(0.1, 2.01, 0.1)
    counts = np.round(HELD_OUT * 172800 * np.exp(-upper * 4) * 0.35).astype(np.int64)
    ramp = xr.Dataset({"seconds": ("ramp_bin", counts)}, coords={"ramp_bin_upper_mw_per_s": ("ramp_bin", upper)})
    path = out / "timeseries.nc"
    windows.to_netcdf(path, group="windows", engine="h5netcdf", mode="w")
    hourly.to_netcdf(path, group="hourly", engine="h5netcdf", mode="a")
    ramp.to_netcdf(path, group="poi_ramp", engine="h5netcdf", mode="a")
    transient = xr.Dataset({"discharge_residual_mw": ("scenario", rng.uniform(20, 48, 8)),
                            "charge_residual_mw": ("scenario", rng.uniform(15, 45, 8)),
                            "deficit_mwh": ("scenario", rng.uniform(5, 22.5, 8)),
                            "surplus_mwh": ("scenario", rng.uniform(5, 21, 8))})
    transient.to_netcdf(out / "scenarios.nc", group="transient", engine="h5netcdf", mode="w")
    return out


@pytest.fixture(scope="session")
def outputs(tmp_path_factory) -> Path:
    return make_outputs(tmp_path_factory.mktemp("run") / "out")


@pytest.fixture(scope="session")
def report_path(outputs) -> Path:
    from bess_size.report import write_report

    return write_report(outputs)


@pytest.fixture(scope="session")
def run_outputs(tmp_path_factory) -> Path:
    """A real `run` (bess_size.pipeline) of a tiny version of the bundled campus: every file exactly as
    the pipeline writes it, report.html included."""
    from bess_size.examples import path as example_path
    from bess_size.pipeline import run
    from bess_size.site_spec import load_site

    site = load_site(example_path("campus-300mw"))
    small = site.scenarios.model_copy(update={"count": 2, "held_out": 3, "trace_days": 0.25, "representative_days": 2,
                                              "transient_windows": 4})
    out = tmp_path_factory.mktemp("pipeline") / "out"
    run(site.model_copy(update={"scenarios": small}), out)
    return out
