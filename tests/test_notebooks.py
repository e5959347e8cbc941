"""The notebooks in notebooks/ run top to bottom (nbclient, a real ipykernel), use only the public API,
and are committed with their outputs (figures included, kept small) so they read on a code host
without running; a fresh run must give the same structure (every cell's kinds of output, each figure
where the committed one has a figure), and each notebook asserts its key figures in its cells.

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


MAX_FIGURE_BYTES = 80_000  # a base64 PNG in the committed file


def _structure(nb) -> list[list[str]]:
    """Per code cell, the kinds of output it shows: display/result MIME types (text/plain aside) and
    errors; streams (their text varies with timing and warnings) are left out."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kinds = []
        for o in cell.outputs:
            if o.output_type in ("display_data", "execute_result"):
                kinds += sorted(k for k in o.data if k != "text/plain")
            elif o.output_type == "error":
                kinds.append("error")
        out.append(sorted(set(kinds)))
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_committed_and_api_is_public(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{path.name}: committed without running every cell"
    assert not any(o.output_type == "error" for c in code for o in c.outputs), f"{path.name}: committed with an error"
    pngs = [o.data["image/png"] for c in code for o in c.outputs if o.output_type in ("display_data", "execute_result")
            and "image/png" in o.data]
    assert pngs, f"{path.name}: no figure committed"
    assert max(len(x) for x in pngs) < MAX_FIGURE_BYTES, f"{path.name}: a figure over {MAX_FIGURE_BYTES} bytes"
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
    for cell in nb.cells:  # run from a clean slate, as a reader who re-runs it would
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, timeout=600, kernel_name=kernel_name, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    committed = nbformat.read(path, as_version=4)
    assert _structure(nb) == _structure(committed), f"{path.name}: the committed outputs do not match a fresh run's"
