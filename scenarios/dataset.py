"""ScenarioSet: the optimizer's scenarios as three xarray Datasets in one netCDF file.

``energy`` (scenario, period, step), ``transient`` (scenario) and ``windows`` (window, tau), see
docs/interfaces.md. ``to_netcdf`` writes one file with one netCDF-4 group per dataset (h5netcdf),
atomically; ``from_netcdf`` reads it back identical (``xr.Dataset.identical``) to what was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import xarray as xr

from bess_size.io import atomic_path

GROUPS = ("energy", "transient", "windows")


@dataclass
class ScenarioSet:
    energy: xr.Dataset
    transient: xr.Dataset
    windows: xr.Dataset
    attrs: dict = field(default_factory=dict)

    def to_netcdf(self, path) -> None:
        """One file, one group per dataset; the set's attrs on the root group."""
        with atomic_path(path) as tmp:
            xr.Dataset(attrs=dict(self.attrs)).to_netcdf(tmp, mode="w", engine="h5netcdf")
            for g in GROUPS:
                getattr(self, g).to_netcdf(tmp, mode="a", group=g, engine="h5netcdf")

    @classmethod
    def from_netcdf(cls, path) -> "ScenarioSet":
        root = xr.load_dataset(path, engine="h5netcdf")
        parts = {g: xr.load_dataset(path, group=g, engine="h5netcdf") for g in GROUPS}
        return cls(attrs=dict(root.attrs), **parts)

    def identical(self, other: "ScenarioSet") -> bool:
        return self.attrs == other.attrs and all(getattr(self, g).identical(getattr(other, g)) for g in GROUPS)

    def __repr__(self) -> str:
        e, w = self.energy, self.windows
        return (f"ScenarioSet({self.attrs.get('stream', '?')}: {e.sizes.get('scenario', 0)} scenarios x "
                f"{e.sizes.get('period', 0)} periods x {e.sizes.get('step', 0)} steps, {w.sizes.get('window', 0)} windows)")
