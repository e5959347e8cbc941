"""One site across processes (`run --workers` / `--scheduler`): the same outputs as one process, bit for bit.

A small campus (3 optimizer scenarios, 6 held out of 6 h at 0.5 s, so bins and the rules' windows
are not whole seconds) runs serially and on a local cluster of 2 worker processes; chunks of one
or two scenarios go to the workers, so the merge of rows, sums and worst windows across chunks is
exercised, not just one chunk per worker.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from bess_size.scenarios import generate_scenarios, scenario_trace
from bess_size.simulator import simulate
from bess_size.site_spec import validate_site

from bess_size import pipeline
from bess_size.batch_runner import dask_client
from bess_size.cli import main
from bess_size.examples import path as example_path
from bess_size.parallel import chunks, map_in_order


def small_spec() -> dict:
    spec = yaml.safe_load(Path(example_path("campus-300mw")).read_text())
    spec["scenarios"].update(count=3, held_out=6, trace_days=0.25, transient_resolution_s=0.5, representative_days=2,
                             transient_windows=6)
    spec["reliability"]["target_success_rate"] = 0.5
    return spec


@pytest.fixture(scope="module")
def site():
    return validate_site(small_spec(), "parallel-campus", ".")


@pytest.fixture(scope="module")
def client():
    with dask_client(2, retries=0) as c:
        yield c


def assert_same_bits(a: xr.Dataset, b: xr.Dataset, what: str) -> None:
    assert sorted(a.variables) == sorted(b.variables), what
    assert a.attrs == b.attrs, what
    for k in a.variables:
        x, y = np.asarray(a[k].values), np.asarray(b[k].values)
        assert x.dtype == y.dtype and x.shape == y.shape, f"{what}: {k}"
        if x.dtype == object:
            assert x.tolist() == y.tolist(), f"{what}: {k}"
        else:
            assert x.tobytes() == y.tobytes(), f"{what}: {k} differs"


def without_solver_times(obj):
    """The JSON with the solver's own wall times (``build_s``, ``solve_s``) left out: they are
    measurements of this run, not results."""
    if isinstance(obj, dict):
        return {k: without_solver_times(v) for k, v in obj.items() if k not in ("build_s", "solve_s")}
    if isinstance(obj, list):
        return [without_solver_times(v) for v in obj]
    return obj


def test_chunks_cover_the_scenarios_in_order(client):
    """Serial: one chunk of everything; 2 workers: 4 chunks each, consecutive, covering 0..n-1 once."""
    assert chunks(range(5), None) == [[0, 1, 2, 3, 4]]
    parts = chunks(range(17), client)
    assert [i for p in parts for i in p] == list(range(17)) and len(parts) == 6  # ceil(17 / 8) = 3 a chunk
    assert map_in_order(pow, [(2, k) for k in range(6)], client) == [1, 2, 4, 8, 16, 32]


def test_a_task_error_reaches_the_caller(client):
    with pytest.raises(ZeroDivisionError):
        map_in_order(divmod, [(1, 1), (1, 0)], client)


def test_run_on_two_workers_gives_the_serial_outputs_bit_for_bit(site, client, tmp_path):
    """design.json and validation.json equal but for the solver's wall times; every variable of scenarios.nc and of each
    group of timeseries.nc (the worst windows re-recorded on the workers, the hourly aggregates,
    the POI-ramp histogram summed over chunks) to the bit."""
    done = []
    serial = pipeline.run(site, tmp_path / "serial")
    spread = pipeline.run(site, tmp_path / "spread", scheduler=client,
                          progress=lambda stage, d, t: done.append((stage, d, t)))
    assert (serial.out_dir / "site.json").read_bytes() == (spread.out_dir / "site.json").read_bytes()
    for name in ("design.json", "validation.json"):
        a, b = (without_solver_times(json.loads((r.out_dir / name).read_text())) for r in (serial, spread))
        assert a == b, name
    for group in ("energy", "transient", "windows"):
        assert_same_bits(xr.open_dataset(serial.out_dir / "scenarios.nc", group=group, engine="h5netcdf"),
                         xr.open_dataset(spread.out_dir / "scenarios.nc", group=group, engine="h5netcdf"), group)
    for group in ("windows", "hourly", "poi_ramp"):
        assert_same_bits(xr.open_dataset(serial.out_dir / "timeseries.nc", group=group, engine="h5netcdf"),
                         xr.open_dataset(spread.out_dir / "timeseries.nc", group=group, engine="h5netcdf"), group)
    assert serial.validation.timeseries["windows"].sizes["window"] >= 2  # windows were there to merge
    # progress counts scenarios as chunks finish, up to the total of each stage
    assert ("scenarios", 3, 3) in done and ("simulate", 6, 6) in done


def test_given_traces_replayed_on_workers_equal_the_serial_replay(site, client):
    """``simulate`` with held-out traces passed as datasets ships each chunk's traces to a worker;
    with ``first`` the workers replay the stream from that index."""
    scen = generate_scenarios(site)
    from bess_size.optimizer import optimize

    d = optimize(site, scen).design
    traces = [scenario_trace(site, "held_out", i) for i in range(4)]
    a = simulate(site, d, held_out=traces)
    b = simulate(site, d, held_out=traces, client=client)
    assert a.to_json() == b.to_json()
    for g in a.timeseries:
        assert_same_bits(a.timeseries[g], b.timeseries[g], g)
    # a fresh draw further along the held-out stream (as --refine replays), labelled by stream index
    a = simulate(site, d, held_out=3, first=4)
    b = simulate(site, d, held_out=3, first=4, client=client)
    assert a.to_json() == b.to_json() and [r["scenario"] for r in b.scenarios] == [4, 5, 6]


def test_cli_rejects_workers_with_scheduler(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", str(example_path("campus-300mw")), "-o", str(tmp_path / "o"), "--workers", "2",
              "--scheduler", "tcp://127.0.0.1:8786"])
    assert e.value.code == 2
    assert "--workers and --scheduler exclude each other" in capsys.readouterr().err
