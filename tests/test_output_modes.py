"""Every output honours the umask, end to end: out/ of `run`, `scenarios --plot`, a batch and a sweep.

Each command runs as a user would start it, in a subprocess with its own umask; every file and
folder it writes must carry the mode that umask gives, as `open()` and `mkdir` would: colleagues and
the other machines of a Dask cluster read these outputs. All four commands under 022 (the usual
default: 0644/0755); the cheap one under 027 too (a group-only shared drive: 0640/0750), the
netCDF and PNG writers being the ones that open the temporary file themselves. tests/test_io.py
checks the atomic-write helper itself under 022, 027 and 077.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


def tiny_site(path: Path) -> Path:
    """The bundled default at 20 MW IT with seconds of work (as in test_batch.py)."""
    from bess_size.examples import path as example_path

    d = yaml.safe_load(Path(example_path("campus-300mw")).read_text())
    d["name"] = "tiny"
    d["load"].update(it_capacity_mw=20.0, min_load_mw=6.0)
    d["grid"].update(firm_import_mw=12.0, nonfirm_import_mw=10.0, ramp_limit_mw_per_min=2.3)
    d["scenarios"].update(count=2, held_out=4, trace_days=0.25, representative_days=2, transient_windows=4)
    d["reliability"]["target_success_rate"] = 0.5
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    return path


def bess_size(args: list[str], mask: int, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bess_size", *args], cwd=cwd, umask=mask,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), f"bess-size {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in sorted(root.rglob("*"))}


def assert_modes(root: Path, names: list[str], mask: int) -> None:
    """``names`` were written under ``root``, and every file and folder there has the umask's mode."""
    file_mode, dir_mode = 0o666 & ~mask, 0o777 & ~mask
    found = {str(p.relative_to(root)): (stat.S_IMODE(p.stat().st_mode), p.is_dir()) for p in root.rglob("*")}
    assert set(names) <= set(found), (root.name, sorted(found))
    wrong = {name: oct(m) for name, (m, is_dir) in found.items() if m != (dir_mode if is_dir else file_mode)}
    assert wrong == {}, f"{root.name}/ under umask {mask:03o}: expected {file_mode:o} (folders {dir_mode:o})"
    assert stat.S_IMODE(root.stat().st_mode) == dir_mode


def test_run_batch_sweep_and_plot_outputs_are_0644_under_umask_022(tmp_path):
    site = tiny_site(tmp_path / "tiny.yaml")
    bess_size(["run", str(site), "-o", "out"], 0o022, tmp_path)
    bess_size(["scenarios", str(site), "-o", "sc/scenarios.nc", "--plot", "sc/scenarios.png"], 0o022, tmp_path)
    bess_size(["batch", str(site), "-o", "batch", "--workers", "1"], 0o022, tmp_path)
    bess_size(["sweep", str(site), "--vary", "grid.nonfirm_import_mw=10", "-o", "sweep", "--workers", "1"], 0o022, tmp_path)
    assert_modes(tmp_path / "out", ["design.json", "validation.json", "scenarios.nc", "timeseries.nc", "report.html",
                                    "site.json"], 0o022)
    assert_modes(tmp_path / "sc", ["scenarios.nc", "scenarios.png"], 0o022)
    assert_modes(tmp_path / "batch", ["summary.csv", "summary.parquet", "tiny/design.json", "tiny/report.html",
                                      "tiny/summary.json"], 0o022)
    assert_modes(tmp_path / "sweep", ["sweep.csv", "sweep.png", "summary.parquet", "nonfirm_import_mw=10/design.json"],
                 0o022)


def test_scenarios_and_plot_are_0640_under_umask_027(tmp_path):
    site = tiny_site(tmp_path / "tiny.yaml")
    bess_size(["scenarios", str(site), "-o", "sc/scenarios.nc", "--plot", "sc/scenarios.png"], 0o027, tmp_path)
    assert_modes(tmp_path / "sc", ["scenarios.nc", "scenarios.png"], 0o027)
