"""The sweep table's view of what the held-out replay used of the battery (replay_use)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bess_size.batch_runner import replay_use


def test_replay_range_and_largest_draw_in_a_ramp_window(tmp_path):
    """Stored energy 10 -> 14 -> 9 -> 12 in a worst-ramp window: the largest fall from a running
    maximum is 14 - 9 = 5 MWh; a loss-of-grid window falling 30 MWh is no ramp window and is left
    out. The range is highest - lowest over the held-out scenarios: 60 - 20 = 40 MWh."""
    stored = np.array([[10.0, 14.0, 9.0, 12.0], [50.0, 40.0, 30.0, 20.0]])
    ds = xr.Dataset({"stored_mwh": (("window", "tau"), stored)},
                    coords={"kind": ("window", np.array(["worst_ramp", "loss_of_grid"], dtype=object))})
    path = tmp_path / "timeseries.nc"
    ds.to_netcdf(path, group="windows", engine="h5netcdf")
    got = replay_use({"metrics": {"lowest_stored_mwh": 20.0, "highest_stored_mwh": 60.0}}, path)
    assert got["replay_stored_range_mwh"] == pytest.approx(40.0)
    assert got["replay_ramp_window_draw_mwh"] == pytest.approx(5.0)


def test_missing_outputs_leave_the_columns_empty(tmp_path):
    got = replay_use({}, tmp_path / "none.nc")
    assert got == {"replay_stored_range_mwh": None, "replay_ramp_window_draw_mwh": None}
