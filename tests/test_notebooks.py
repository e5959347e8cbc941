"""The notebooks in notebooks/ run top to bottom (nbclient, a real ipykernel), use only the public API,
and are committed with their outputs stripped.

Each runs in a fresh temporary folder (its outputs land there, never in the checkout). Running them
is slow (marked ``slow``); their speed is measured by benchmarks/bench_notebooks.py, not asserted
here, since a wall-clock limit in a test fails on a busy machine for no fault of the notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
ALLOWED_IMPORTS = {"bess_size", "numpy", "pandas", "matplotlib", "xarray", "json", "pathlib", "tempfile", "IPython", "time"}


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01-quickstart.ipynb", "02-interconnection-tradeoffs.ipynb", "03-many-sites.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_stripped_and_api_is_public(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs not stripped"
    for src in _code(nb):
        for mod in re.findall(r"^\s*(?:from|import)\s+([\w.]+)", src, flags=re.M):
            assert mod.split(".")[0] in ALLOWED_IMPORTS, f"{path.name} imports {mod}"
        # the public API only: no private names of bess_size
        assert not re.search(r"bess_size(\.\w+)*\._\w", src), f"{path.name} reaches into a private name"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory) -> str:
    """A kernelspec running this very interpreter, so the notebooks see the bess_size under test even where
    another 'python3' kernelspec is installed system-wide."""
    import json
    import os
    import sys

    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "bess-size-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bess-size test", "language": "python"}))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(root), *([old] if old else [])])
    yield "bess-size-test"
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, kernel_name):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name=kernel_name, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
