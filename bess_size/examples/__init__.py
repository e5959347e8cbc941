"""The bundled example sites, shipped as package data so `bess-size example` works from a wheel.

The repository's top-level ``examples/`` is a link to this folder, so the same files are there to
read and copy.
"""

from __future__ import annotations

from importlib import resources

DEFAULT = "campus-300mw"


def names() -> list[str]:
    """Names of the bundled sites (file names without ``.yaml``), default first."""
    found = sorted(p.name[: -len(".yaml")] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml"))
    return sorted(found, key=lambda n: n != DEFAULT)


def text(name: str = DEFAULT) -> str:
    """The spec verbatim, comment header included. Raises KeyError for an unknown name."""
    name = name.removesuffix(".yaml")
    if name not in names():
        raise KeyError(name)
    return resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def summary_line(name: str) -> str:
    """The first line of the comment header, without the leading '# '."""
    for line in text(name).splitlines():
        if line.startswith("#") and line.strip("# ").strip():
            return line.lstrip("#").strip()
    return ""


def path(name: str = DEFAULT):
    """A path to the bundled file (a real file in both wheel and editable installs)."""
    name = name.removesuffix(".yaml")
    if name not in names():
        raise KeyError(name)
    return resources.files(__name__).joinpath(f"{name}.yaml")
