"""bess_size.report: the self-contained HTML report of a run, its figures and the colour palette.

``write_report(out_dir)`` reads what `bess-size run` wrote into ``out_dir`` and writes
``out_dir/report.html`` atomically: one file, figures embedded, nothing fetched from the network.
"""

from __future__ import annotations

from pathlib import Path

from . import palette
from .data import ReportData, ReportInputError, load_outputs

# the figures, for notebooks: each returns a matplotlib Figure in the report's palette
_FIGURES = ("band_diagram", "cost_breakdown", "dispatch_window", "soc_fan_chart", "poi_ramp_duration",
            "transient_requirements", "inverter_capability")

__all__ = ["ReportData", "ReportInputError", "load_outputs", "render_report", "write_report", "palette", *_FIGURES]


def __getattr__(name):
    # matplotlib loads only when a figure is asked for
    if name in _FIGURES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.figures"), name)
    raise AttributeError(f"module 'bess_size.report' has no attribute {name!r}")


def render_report(out_dir: str | Path, *, site=None) -> str:
    """The report of ``out_dir`` as an HTML string (``site``: the validated Site, else site.json)."""
    from .page import render

    return render(load_outputs(out_dir, site=site))


def write_report(out_dir: str | Path, *, site=None) -> Path:
    """Write ``out_dir/report.html`` from the outputs in ``out_dir``; return its path.

    Raises ``ReportInputError`` (a ValueError naming the file) when the folder is missing or incomplete.
    """
    from bess_size.io import write_atomic

    text = render_report(out_dir, site=site)
    target = Path(out_dir) / "report.html"
    write_atomic(target, text)
    return target
