"""Notebook wall time: each notebook in notebooks/ run top to bottom as tests/test_notebooks.py runs it.

    python benchmarks/bench_notebooks.py [--repeat 1] [--json results.json]

Each notebook runs in a fresh temporary folder on a real ipykernel of this interpreter (nbclient),
``--repeat`` times; the script prints each notebook's minimum and median wall time and the load
average before each run. Target on 2 cores: the three together under 3 minutes with their small
settings. The suite itself only checks that they run (timing in a test fails on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def kernel_dir(root: Path) -> str:
    """A kernelspec running this interpreter, so the notebooks import the bess_size installed here."""
    spec = root / "kernels" / "bess-size-bench"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bess-size bench", "language": "python"}))
    return "bess-size-bench"


def run_once(path: Path, kernel: str) -> float:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as work:
        client = NotebookClient(nb, timeout=1800, kernel_name=kernel, resources={"metadata": {"path": work}})
        t0 = time.perf_counter()
        client.execute()
        return time.perf_counter() - t0


def main() -> None:
    import os

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as jupyter:
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [jupyter, os.environ.get("JUPYTER_PATH")]))
        kernel = kernel_dir(Path(jupyter))
        for path in NOTEBOOKS:
            walls = []
            for _ in range(args.repeat):
                print(f"{path.name}: load average {load_average()} ...", file=sys.stderr, flush=True)
                walls.append(run_once(path, kernel))
            results[path.name] = {"min_s": min(walls), "median_s": statistics.median(walls), "runs": walls,
                                  "load_average_after": load_average()}
            print(f"{path.name:40s} min {min(walls):7.1f} s  median {statistics.median(walls):7.1f} s  "
                  f"(load average {load_average()})")
    total = sum(r["min_s"] for r in results.values())
    print(f"{'all notebooks (sum of minima)':40s} {total:7.1f} s  target < 180 s on 2 cores")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
