"""A design that a time limit left above the requested gap says so in the report's solver section."""

from __future__ import annotations

import json

from bess_size.report import render_report

from .conftest import make_outputs


def test_solver_warning_is_shown_before_the_figures(tmp_path):
    out = make_outputs(tmp_path / "out")
    design = json.loads((out / "design.json").read_text())
    warning = ("the solver stopped at its time limit of 60 s with a relative gap of 23.50%, above the requested "
               "1.00%: this design is not proven")
    design["solver"].update(status="time_limit", mip_gap=0.235, requested_mip_gap=0.01, time_limit_s=60.0, warning=warning)
    (out / "design.json").write_text(json.dumps(design))
    html = render_report(out)
    section = html[html.index('id="solver"'):]
    assert section.index("Not proven: the solver stopped at its time limit of 60 s") < section.index("<table")
    assert "23.500%" in section and "1.000%" in section  # the gap reached and the one requested


def test_no_warning_without_one(tmp_path):
    html = render_report(make_outputs(tmp_path / "out"))
    assert "Not proven" not in html
