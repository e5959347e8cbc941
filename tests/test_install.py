"""The installed package (here: the editable install of this checkout) exposes every stage.

CI additionally builds the wheel once and imports every subpackage from a fresh venv (.ci/run).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import tomllib
from pathlib import Path

import pytest

import bess_size

REPO = Path(__file__).resolve().parents[1]
STAGES = ["site_spec", "scenarios", "optimizer", "solvers", "simulator", "report"]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_imports_from_its_top_level_folder(stage):
    """bess_size.<stage> is the repository's <stage>/ folder (setuptools package-dir mapping)."""
    mod = importlib.import_module(f"bess_size.{stage}")
    assert Path(mod.__file__).resolve().parent == (REPO / stage).resolve()


def test_shell_packages_import():
    for name in ["bess_size", "bess_size.cli", "bess_size.examples"]:
        importlib.import_module(name)
    assert Path(bess_size.__file__).resolve().parent == (REPO / "bess_size").resolve()


def test_pyproject_lists_every_package_folder():
    """`packages` is an explicit list (package-dir maps several roots), so a new sub-folder with an
    __init__.py must be added there or the wheel silently lacks it."""
    cfg = _pyproject()["tool"]["setuptools"]
    listed = set(cfg["packages"])
    roots = cfg["package-dir"]
    found = set()
    for pkg, folder in roots.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert found - listed == set(), f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"


def test_version_is_single_sourced():
    assert importlib.metadata.version("bess-size") == bess_size.__version__


def test_console_script_and_runtime_deps_declared():
    proj = _pyproject()["project"]
    assert proj["scripts"]["bess-size"] == "bess_size.cli:main"
    deps = {d.split(">")[0].split("[")[0].strip().lower() for d in proj["dependencies"]}
    assert {"pyomo", "highspy", "numpy", "pandas", "xarray", "click", "pydantic", "pyyaml"} <= deps
    assert all(">=" in d for d in proj["dependencies"]), "every runtime dependency needs a lower bound"
    test_extra = {d.split(">")[0].strip() for d in proj["optional-dependencies"]["test"]}
    assert {"pytest", "hypothesis"} <= test_extra
    assert proj["requires-python"] == ">=3.11"


def test_examples_are_package_data():
    data = _pyproject()["tool"]["setuptools"]["package-data"]["bess_size.examples"]
    assert "*.yaml" in data


def _setup_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```bash\n")[1:]
    return [b.split("```", 1)[0].strip() for b in blocks]


def test_readme_has_exactly_two_one_line_setup_commands():
    """(a) install and run the main job on the default site, (b) install the test extra and test."""
    cmds = _setup_commands()
    assert len(cmds) == 2
    assert all("\n" not in c for c in cmds)
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert cmds[0].startswith(venv + "pip install . && bess-size ")
    assert " examples/campus-300mw.yaml" in cmds[0]
    assert cmds[1] == venv + 'pip install -e ".[test]" && pytest'


def test_ci_installs_and_tests_as_the_readme_says():
    ci = (REPO / ".ci" / "run").read_text()
    assert (REPO / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"
    assert "set -euo pipefail" in ci
    install, test = _setup_commands()[1].split(" && ")[-2:]
    assert f"\n{install}\n" in ci  # pip install -e ".[test]"
    assert f"\n{test}\n" in ci  # pytest
    assert "pip wheel" in ci and '"$rc" -eq 5' in ci
    # a clean clone of the commit, CI=true (a missing chromium or cbc fails), the linter, and no sudo it cannot use
    assert 'git clone --quiet --no-checkout "$repo"' in ci and "checkout --quiet --detach" in ci
    assert "\nexport CI=true\n" in ci and "\nruff check .\n" in ci
    assert "sudo -n true" in ci and "sudo apt-get install -y ${missing[*]}" in ci
