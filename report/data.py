"""Reading an output folder (what `run` wrote) into one object the figures and the page draw from.

Required: design.json, validation.json, timeseries.nc and the site (``site=`` or site.json).
Optional: scenarios.nc (the optimizer's transient requirements). Anything missing or unreadable
is a ``ReportInputError`` naming the file and what was expected, never a traceback at the CLI.

timeseries.nc may hold its parts as netCDF groups or all at the root; variables are sorted by
their dimensions (``tau`` -> windows, ``hour`` -> hourly, ``ramp_bin`` -> POI ramp histogram), so
either layout reads the same (docs/interfaces.md, "pipeline + simulator -> report").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..site_spec import Design, Site, SiteSpecError, validate_site

REQUIRED_FILES = ("design.json", "validation.json", "timeseries.nc")


class ReportInputError(ValueError):
    """An output folder the report cannot be made from; the message says which file and why."""


@dataclass
class ReportData:
    out_dir: Path
    site: Site
    design: Design
    validation: dict
    design_raw: dict = field(default_factory=dict)  # design.json as written, keys the Design model drops included
    windows: xr.Dataset | None = None     # dims (window, tau): worst held-out windows at full resolution
    hourly: xr.Dataset | None = None      # dims (scenario, hour): hourly aggregates over held-out scenarios
    poi_ramp: xr.Dataset | None = None    # dim ramp_bin: histogram of one-second |dPOI| over held-out seconds
    transient: xr.Dataset | None = None   # scenarios.nc "transient": the optimizer's screened requirements
    notes: list[str] = field(default_factory=list)

    @property
    def checks(self) -> list[dict]:
        return list(self.validation.get("checks") or [])


def load_outputs(out_dir: str | Path, site: Site | None = None) -> ReportData:
    """Read an output folder; raise ``ReportInputError`` listing every missing or bad input at once."""
    out = Path(out_dir)
    if not out.exists():
        raise ReportInputError(f"{out}: no such folder; expected the output folder of `bess-size run`")
    if not out.is_dir():
        raise ReportInputError(f"{out}: not a folder; expected the output folder of `bess-size run`")
    missing = [name for name in REQUIRED_FILES if not (out / name).is_file()]
    if site is None and not (out / "site.json").is_file():
        missing.append("site.json")
    if missing:
        raise ReportInputError(
            f"{out}: incomplete output folder, missing {', '.join(missing)}; expected what `bess-size run` "
            f"writes (design.json, validation.json, timeseries.nc, site.json); re-run `bess-size run SITE -o {out}`"
            + (" or pass the site with --site SITE.yaml" if missing == ["site.json"] else "")
        )
    design = _read_design(out / "design.json")
    validation = _read_json(out / "validation.json")
    if not isinstance(validation.get("checks"), list):
        raise ReportInputError(f"{out / 'validation.json'}: key 'checks' is missing or not a list; expected validation.json as docs/validation-json.md describes")
    notes: list[str] = []
    if site is None:
        site = _read_site(out / "site.json", notes)
    data = ReportData(out_dir=out, site=site, design=design, validation=validation,
                      design_raw=_read_json(out / "design.json"), notes=notes)
    parts = _read_netcdf_parts(out / "timeseries.nc")
    data.windows, data.hourly, data.poi_ramp = parts.get("tau"), parts.get("hour"), parts.get("ramp_bin")
    if (out / "scenarios.nc").is_file():
        try:
            data.transient = _read_group(out / "scenarios.nc", "transient")
        except ReportInputError as err:
            data.notes.append(f"scenarios.nc: {err}; the screened transient requirements are left out")
    return data


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportInputError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReportInputError(f"{path}: expected a JSON object at the top, got {type(data).__name__}")
    return data


def _read_design(path: Path) -> Design:
    try:
        return Design.from_json_file(path)
    except SiteSpecError as err:
        raise ReportInputError(f"{path}: not a valid design.json:\n{err}") from None


def _read_site(path: Path, notes: list[str] | None = None) -> Site:
    data = _read_json(path)
    try:
        return validate_site(data, str(path), path.parent)
    except SiteSpecError as err:
        # a folder moved to another machine may no longer reach the measured-trace or price CSVs
        # site.json names; the report needs only the spec's values, so read them without the file checks
        try:
            site = Site.model_validate(data)
        except ValueError:
            raise ReportInputError(f"{path}: not a valid site spec:\n{err}") from None
        if notes is not None:
            notes.append(f"{path.name} was read without its file checks ({' '.join(str(err).split())})")
        return site


def _groups(path: Path) -> list[str]:
    import h5netcdf

    try:
        with h5netcdf.File(path, "r") as f:
            return list(f.groups)
    except OSError as exc:
        raise ReportInputError(f"{path}: not a readable netCDF-4 file ({exc})") from None


def _read_group(path: Path, group: str | None) -> xr.Dataset:
    try:
        with xr.open_dataset(path, group=group, engine="h5netcdf") as ds:
            return ds.load()
    except (OSError, ValueError, KeyError) as exc:
        where = f"group {group!r}" if group else "root"
        raise ReportInputError(f"{path}: could not read {where} ({exc})") from None


def _read_netcdf_parts(path: Path) -> dict[str, xr.Dataset]:
    """Variables of every group (and the root) sorted by their telltale dimension."""
    parts: dict[str, list[xr.DataArray]] = {"tau": [], "hour": [], "ramp_bin": []}
    for group in [None, *_groups(path)]:
        ds = _read_group(path, group)
        for name, var in ds.data_vars.items():
            for dim in parts:
                if dim in var.dims:
                    parts[dim].append(var.rename(name))
                    break
    out = {}
    for dim, arrays in parts.items():
        if arrays:
            # compat="override": the same coordinate written into two groups is one coordinate
            out[dim] = xr.merge(arrays, compat="override", join="outer", combine_attrs="drop_conflicts")
    return out


def variable(ds: xr.Dataset | None, *names: str) -> xr.DataArray | None:
    """The first of ``names`` present in ``ds`` (None when none is)."""
    if ds is None:
        return None
    for name in names:
        if name in ds.variables:
            return ds[name]
    return None


def soc_fraction(ds: xr.Dataset | None, energy_mwh: float, *prefixes: str) -> xr.DataArray | None:
    """SoC as a fraction of nameplate E, from ``<prefix>soc_fraction`` or ``<prefix>stored_mwh`` / E."""
    for prefix in prefixes or ("",):
        frac = variable(ds, f"{prefix}soc_fraction")
        if frac is not None:
            return frac
        stored = variable(ds, f"{prefix}stored_mwh", f"{prefix}soc_mwh")
        if stored is not None and energy_mwh > 0:
            return stored / energy_mwh
    return None


def finite(values) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a[np.isfinite(a)]
