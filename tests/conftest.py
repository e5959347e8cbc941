"""Suite-wide guards for the external programs some tests need (chromium, Debian's coinor-cbc).

One rule, read one way: a missing program skips its tests with the command that installs it, except
under ``CI=true`` (``.ci/run`` sets it), where a missing program fails them: CI must not pass by
silently skipping what it was meant to check.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def in_ci() -> bool:
    """``CI`` set to true (any case), 1 or yes: the convention of CI services and of .ci/run."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_program(name: str, apt_package: str, *candidates: str) -> str:
    """The program's path; else fail (under CI) or skip, naming the package that provides it."""
    for path in (*candidates, shutil.which(name)):
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    message = f"{name} is not installed (sudo apt-get install -y {apt_package})"
    if in_ci():
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, for the report's browser tests."""
    return require_program("chromium", "chromium", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def cbc() -> str:
    """Debian's CBC, the second Pyomo MILP solver the solver tests run by name."""
    return require_program("cbc", "coinor-cbc")


# A test that needs one of these fixtures runs a whole pipeline, a Dask cluster or a notebook kernel:
# slow by construction, whoever writes it. `pytest -m "not slow"` (the fast subset) leaves them out.
SLOW_FIXTURES = {
    "result": "a whole pipeline run (tests/test_pipeline.py)",
    "run_outputs": "a whole pipeline run (tests/report/conftest.py)",
    "client": "a local Dask cluster",
    "own_client": "a local Dask cluster",
    "kernel_name": "a notebook kernel",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
