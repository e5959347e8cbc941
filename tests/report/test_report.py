"""The report: self-contained, deterministic, every evidence link lands, the conventions by hand."""

from __future__ import annotations

import base64
import json
import re
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from bess_size.cli import cli
from bess_size.report import ReportInputError, render_report, write_report
from bess_size.report import palette as pal
from bess_size.report.conventions import band_slices, battery_figures
from bess_size.report.figures import poi_ramp_envelope
from bess_size.report.page import split_unit, wilson_interval
from bess_size.site_spec import Design, Site

from .conftest import DESIGN, make_outputs


def _png_size(uri: str) -> tuple[int, int]:
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])  # IHDR width, height


def test_report_is_one_self_contained_file(outputs, report_path):
    html = report_path.read_text(encoding="utf-8")
    assert report_path == outputs / "report.html"
    # nothing fetched: no external URL in any src/href, no stylesheet or script files
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "<link" not in html and "<script src" not in html
    imgs = re.findall(r'<img src="([^"]+)"', html)
    # inverters, cost, bands, 3 windows, fan, ramp duration, transient requirements
    assert len(imgs) == 9
    for uri in imgs:
        w, h = _png_size(uri)
        assert w > 300 and h > 150
    assert "could not be drawn" not in html and "no data in this output folder" not in html
    # atomic write leaves no temporary file behind
    assert not [p for p in outputs.iterdir() if p.name.startswith(".report.html")]


def test_every_evidence_link_lands_on_one_element(outputs, report_path):
    html = report_path.read_text(encoding="utf-8")
    checks = json.loads((outputs / "validation.json").read_text())["checks"]
    for check in checks:
        anchor = check["evidence"].split("#", 1)[1]
        assert html.count(f'id="{anchor}"') == 1, anchor
        assert f'href="#{anchor}"' in html
    ids = re.findall(r'id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"
    # the POI-ramp evidence sits on the duration-curve figure, ride-through on the loss-of-grid windows
    fig = html.index('id="fig-poi-ramp"')
    assert html.index('id="poi-ramp"') > fig and html.index('id="poi-ramp"') < html.index("<img", fig)
    assert html.index('id="windows-loss_of_grid"') < html.index('id="ride-through"') < html.index('id="window-2"')
    # an anchor with no figure lands on a note naming its check
    assert re.search(r'<p id="cycles-note">[^<]*<code>#cycles-note</code> \(degradation_cycles', html)


def test_same_outputs_same_bytes(outputs, report_path):
    assert render_report(outputs) == report_path.read_text(encoding="utf-8")


def test_failed_check_is_shown_as_failed(tmp_path):
    out = make_outputs(tmp_path / "out", fail_one=True)
    html = write_report(out).read_text()
    assert 'class="verdict fail"' in html and "1 of 5 requirement checks failed: ride_through" in html
    assert html.count(">FAIL<") == 1 and html.count(">PASS<") == 4


def test_grid_only_bill_and_promises_are_reported(report_path):
    html = report_path.read_text()
    assert "grid energy at the same prices, ignoring the import limit (the reference bill)</td><td>181.00" in html
    assert "total minus the reference bill</td><td>-6.30" in html
    # the optimizer's parts in plain words; its totals are not listed again among the parts
    assert "grid energy</td><td>150.00" in html and "BESS energy (capital)</td><td>9.70" in html
    assert "decision objective</td>" not in html and html.count("<td>181.00</td>") == 1
    assert pal.cost_colour("opex_energy_usd") == pal.GRID and pal.cost_colour("annualized_capex_pcs_usd") == pal.BESS
    assert pal.cost_colour("opex_fuel_usd") == pal.GENERATION
    # optimizer promise beside the simulator's result, unit from the key's suffix
    assert re.search(r"unserved energy</td><td>MWh/year</td><td>0</td><td>0.12</td>", html)


def test_conventions_by_hand():
    """DESIGN 9's design on the default BESS (soc 0.05-0.95, EOL 0.8, eta_dis 0.94):

    usable = 415 x 0.9 = 373.5; U = 0.8 x 373.5 = 298.8; F = 20.75; delivered = 373.5 x 0.94 = 351.09
    (EOL 280.872); duration = 351.09 / 360 = 0.97525 h (EOL 0.7802 h); ride-through at full P =
    38.2 x 0.94 x 3600 / 360 = 359.08 s.
    """
    f = battery_figures(Design.model_validate(DESIGN), Site(load={}, grid={}))
    assert f.usable_bol_mwh == pytest.approx(373.5)
    assert f.usable_eol_mwh == pytest.approx(298.8)
    assert f.floor_mwh == pytest.approx(20.75)
    assert f.delivered_bol_mwh == pytest.approx(351.09)
    assert f.delivered_eol_mwh == pytest.approx(280.872)
    assert f.duration_bol_h == pytest.approx(0.975250)
    assert f.duration_eol_h == pytest.approx(0.7802)
    assert f.ride_through_at_full_power_s == pytest.approx(359.08)


def test_band_slices_tile_the_battery():
    """Slices run from 0 to E without gap or overlap; the bands end at F + U = 319.55 MWh."""
    slices = band_slices(Design.model_validate(DESIGN), Site(load={}, grid={}))
    for life in ("bol", "eol"):
        parts = slices[life]
        assert parts[0][1] == 0.0 and parts[-1][2] == pytest.approx(415.0)
        for (_, _, hi), (_, lo, _) in zip(parts, parts[1:]):
            assert lo == pytest.approx(hi)
    names = [n for n, _, _ in slices["bol"]]
    assert names == ["floor", "ride_through_reserve", "up_ramp_buffer", "curtailment_reserve", "operating",
                     "down_ramp_headroom", "fade", "ceiling"]
    top = dict((n, hi) for n, _, hi in slices["bol"])["down_ramp_headroom"]
    assert top == pytest.approx(20.75 + 298.8)
    assert dict((n, lo) for n, lo, _ in slices["bol"])["ceiling"] == pytest.approx(0.95 * 415)


def test_wilson_interval_by_hand():
    """k = n = 100: lower = n / (n + z^2) = 100 / 103.8415 = 0.96301 (DESIGN 9: 0.963).
    k = 19, n = 20: centre = (19 + 1.92073) / 23.84146 = 0.87748, half = 1.95996 sqrt(0.95 + 0.96037) / 23.84146
    = 0.11362 -> [0.76387, 0.99110]."""
    assert wilson_interval(100, 100)[0] == pytest.approx(0.96301, abs=1e-5)
    lo, hi = wilson_interval(19, 20)
    assert lo == pytest.approx(0.76387, abs=1e-4) and hi == pytest.approx(0.99110, abs=1e-4)


def test_ramp_envelope_by_hand():
    """r_s = 2 MW/s, r_m = 20 MW/min, dt = 1 s. The POI climbs 2 MW/s from 0 for 10 s (20 MW at t = 10):
    at t = 11 the step rule allows 22 but the minute rule min(p[1..10]) + 20 = 2 + 20 = 22... with p[0] = 0 still in
    the last 60 s the minute rule gives 0 + 20 = 20, so hi_11 = 20 and lo_11 = max(20 - 2, 20 - 20) = 18."""
    p = np.concatenate([np.arange(0, 21, 2.0), [20.0, 21.0]])
    lo, hi = poi_ramp_envelope(p, 1.0, 2.0, 20.0)
    assert np.isnan(hi[0])
    assert hi[1] == 2.0 and lo[1] == 0.0
    assert hi[11] == 20.0 and lo[11] == 18.0
    assert p[12] > hi[12]  # 21 MW breaks the minute rule: a violation the dispatch plot marks


def test_split_unit():
    assert split_unit("poi_ramp_violation_mw_s_per_year") == ("poi ramp violation", "MW·s/year")
    assert split_unit("unserved_energy_mwh_per_year") == ("unserved energy", "MWh/year")
    assert split_unit("build_s") == ("build", "s")


def test_one_colour_per_source(outputs):
    """Every line or patch labelled with a source has that source's colour in every figure."""
    from matplotlib.colors import to_hex

    from bess_size.report import load_outputs
    from bess_size.report import figures as figs

    data = load_outputs(outputs)
    drawn = [figs.dispatch_window(data.windows.isel(window=i), data.design, data.site) for i in range(3)]
    drawn += [figs.soc_fan_chart(data.hourly, data.design, data.site), figs.poi_ramp_duration(data)]
    expect = {"POI import": pal.GRID, "site load": pal.LOAD, "onsite generation": pal.GENERATION, "SoC": pal.SOC,
              "median": pal.SOC, "discharge": pal.BESS, "grid energy, same prices, import limit ignored": pal.GRID}
    seen = {}
    for fig in drawn + [figs.cost_breakdown(data.design)]:
        for ax in fig.axes:
            for artist in [*ax.lines, *ax.collections, *ax.patches]:
                label = artist.get_label()
                if label in expect:
                    colour = artist.get_color() if hasattr(artist, "get_ydata") else artist.get_facecolor()
                    colour = to_hex(np.atleast_2d(colour)[0] if not isinstance(colour, str) else colour, keep_alpha=False)
                    seen.setdefault(label, set()).add(colour)
            for bars in ax.containers:  # bar charts carry the label on the container
                if bars.get_label() in expect:
                    seen.setdefault(bars.get_label(), set()).add(to_hex(bars.patches[0].get_facecolor(), keep_alpha=False))
    assert set(seen) == set(expect)
    for label, colours in seen.items():
        assert colours == {expect[label].lower()}, label


def test_optional_parts_missing_still_render(tmp_path):
    """No scenarios.nc and no windows: the report says so, and every evidence anchor still lands."""
    import xarray as xr

    out = make_outputs(tmp_path / "out")
    (out / "scenarios.nc").unlink()
    hourly = xr.open_dataset(out / "timeseries.nc", group="hourly", engine="h5netcdf").load()
    (out / "timeseries.nc").unlink()
    hourly.to_netcdf(out / "timeseries.nc", engine="h5netcdf")  # at the root, no groups
    html = write_report(out).read_text()
    assert "timeseries.nc holds no full-resolution windows" in html
    assert 'id="fig-soc-fan"><span' not in html or "SoC over 20 held-out" in html
    for anchor in ("poi-ramp", "ride-through", "unserved-energy", "cycles-note"):
        assert html.count(f'id="{anchor}"') == 1


def test_incomplete_folder_names_what_is_missing(tmp_path):
    out = make_outputs(tmp_path / "out", with_site_json=False)
    (out / "timeseries.nc").unlink()
    with pytest.raises(ReportInputError, match=r"missing timeseries\.nc, site\.json"):
        write_report(out)
    # the site can come from the caller instead of site.json
    out2 = make_outputs(tmp_path / "out2", with_site_json=False)
    assert write_report(out2, site=Site(name="given", load={}, grid={})).read_text().count("bess-size report: given") == 2


def test_cli_report(outputs, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["report", str(outputs), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["failed"] == []
    bad = make_outputs(tmp_path / "bad")
    (bad / "design.json").write_text('{"site": "x", "bess": {"energy_mwh": -1}}')
    garbled = make_outputs(tmp_path / "garbled")
    (garbled / "timeseries.nc").write_text("not netCDF")
    (garbled / "validation.json").write_text('{"checks": []}')
    broken_json = make_outputs(tmp_path / "broken_json")
    (broken_json / "validation.json").write_text('{"checks": [')
    for args, needle in (
        (["report", str(garbled)], "timeseries.nc: not a readable netCDF-4 file"),
        (["report", str(broken_json)], "validation.json: not readable JSON"),
        (["report", str(tmp_path / "nowhere")], "no such folder"),
        (["report", str(tmp_path)], "missing design.json"),
        (["report", str(bad)], "design.json: not a valid design.json"),
    ):
        r = runner.invoke(cli, args)
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.stderr and "Traceback" not in r.output + r.stderr


def test_cli_report_exit_code_through_main(tmp_path):
    """The installed entry point (run_cli) turns a bad folder into exit code 2, not a traceback."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "from bess_size.cli import main; main()", "report", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "incomplete output folder" in r.stderr and "Traceback" not in r.stderr


def test_report_of_a_real_run(run_outputs):
    """`run` (scenarios -> optimize -> replay) writes report.html; every file as the pipeline writes it
    makes a complete report: every window drawn, every evidence link landing."""
    import xarray as xr

    html = (run_outputs / "report.html").read_text()
    assert "could not be drawn" not in html and "no data in this output folder" not in html
    with xr.open_dataset(run_outputs / "timeseries.nc", group="windows", engine="h5netcdf") as win:
        n_windows = win.sizes.get("window", 0)
    assert n_windows > 0 and html.count('alt="dispatch plot of window') == n_windows
    for check in json.loads((run_outputs / "validation.json").read_text())["checks"]:
        anchor = check["evidence"].split("#", 1)[1]
        assert html.count(f'id="{anchor}"') == 1, anchor
    # 3 scenarios cannot prove a 0.95 target even when all hold (Wilson lower bound 3/(3+z^2) = 0.44)
    assert "at least 73 held-out scenarios are needed" in html
    # `bess-size report DIR` regenerates the same file from the folder alone
    before = html
    assert CliRunner().invoke(cli, ["report", str(run_outputs)]).exit_code == 0
    assert (run_outputs / "report.html").read_text() == before


def test_drawing_leaves_the_callers_matplotlib_settings_alone(outputs):
    """A notebook that draws a report figure keeps its own rcParams (the report styles inside rc_context)."""
    import matplotlib

    from bess_size.report import band_diagram, load_outputs

    data = load_outputs(outputs)
    before = dict(matplotlib.rcParams)
    band_diagram(data.design, data.site)
    assert {k for k, v in matplotlib.rcParams.items() if before[k] != v} == set()


def test_a_design_without_battery_renders(tmp_path):
    """E = 0 and P = 0 (the optimizer found no battery worth building): no division by zero, no crash."""
    out = make_outputs(tmp_path / "out")
    zero = json.loads((out / "design.json").read_text())
    zero["bess"].update(energy_mwh=0.0, containers=0, pcs_power_mw=0.0, inverters=0,
                        headroom_mw={"up": 0.0, "down": 0.0},
                        bands_mwh={"ride_through_reserve": 0, "up_ramp_buffer": 0, "curtailment_reserve": 0,
                                   "down_ramp_headroom": 0, "operating": [0, 0]},
                        bands_fraction={"ride_through_reserve": 0, "up_ramp_buffer": 0, "curtailment_reserve": 0,
                                        "down_ramp_headroom": 0, "operating": [0, 0]})
    (out / "design.json").write_text(json.dumps(zero))
    html = write_report(out).read_text()
    assert "could not be drawn" not in html
    assert "BESS energy (nameplate E)</div><div class=\"v\">0.0 MWh" in html


def test_embedded_spec_reproduces_the_site(outputs, report_path):
    """The YAML in 'Inputs and reproduction' validates back to the very Site the report was made from."""
    import html as htmllib

    import yaml

    from bess_size.report import load_outputs
    from bess_size.site_spec import validate_site

    text = report_path.read_text(encoding="utf-8")
    spec = htmllib.unescape(re.search(r"<pre>(.*?)</pre>", text, flags=re.S).group(1))
    assert validate_site(yaml.safe_load(spec), "report.html", outputs) == load_outputs(outputs).site


def test_check_detail_is_shown_in_its_units():
    from bess_size.report.page import _flat_detail

    line = _flat_detail({"violation_steps": 3.0, "violation_mw_s": 0.5, "excursion_s": 0.0,
                         "violation_causes_steps": {"power": 2.0, "energy": 1.0, "none": 0.0}})
    assert line == "violation 3 steps; violation 0.5 MW·s; violation causes (steps): power 2, energy 1"


def test_site_json_naming_files_that_moved(tmp_path):
    """An output folder copied to another machine: site.json names a price CSV that is not there. The report
    still renders from the spec's values and says so; a site.json that is not a spec at all is an error."""
    out = make_outputs(tmp_path / "out")
    site = json.loads((out / "site.json").read_text())
    site["grid"]["energy_price_usd_per_mwh"] = str(tmp_path / "gone" / "prices.csv")
    (out / "site.json").write_text(json.dumps(site))
    html = write_report(out).read_text()
    assert "site.json was read without its file checks" in html and "prices.csv" in html
    site["grid"]["firm_import_mw"] = "lots"
    (out / "site.json").write_text(json.dumps(site))
    with pytest.raises(ReportInputError, match=r"site\.json: not a valid site spec"):
        write_report(out)


def test_odd_evidence_anchors_and_a_failing_figure(tmp_path, monkeypatch):
    """An anchor equal to a section id is not duplicated; an unknown one gets its note; a figure that raises
    becomes a visible note naming it, and the rest of the report is still written."""
    from bess_size.report import figures

    out = make_outputs(tmp_path / "out")
    v = json.loads((out / "validation.json").read_text())
    v["checks"][0]["evidence"] = "report.html#cost"
    v["checks"][1]["evidence"] = "report.html#made-up"
    (out / "validation.json").write_text(json.dumps(v))

    def broken(*args, **kwargs):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(figures, "soc_fan_chart", broken)
    html = write_report(out).read_text()
    ids = re.findall(r'id="([^"]+)"', html)
    assert ids.count("cost") == 1 and ids.count("made-up") == 1
    assert "figure &#x27;fig-soc-fan&#x27; could not be drawn: RuntimeError: planted failure" in html
    assert html.count("<img ") == 8


def test_window_caption_figures(outputs):
    """The ramp-up window of the fixture follows the POI rule at r_s = 2 MW/s, so its steepest POI change is
    exactly 2.00 MW/s; its load step of 80 MW at t = 200 s is met by the battery: largest discharge = 80 MW
    plus the noise on the load (normal, sd 0.5 MW) minus the 2 MW the POI may already follow, within 3 MW."""
    from bess_size.report import load_outputs
    from bess_size.report.page import _window_figures

    data = load_outputs(outputs)
    text = _window_figures(data.windows.isel(window=0), data)
    assert "steepest POI change 2.00 MW/s (limit 2)" in text and "unserved 0.000 MWh" in text
    discharge = float(re.search(r"largest discharge ([\d.]+) MW", text).group(1))
    assert 78.0 - 3 <= discharge <= 78.0 + 3


def test_cli_report_with_site_option(tmp_path):
    """A folder without site.json: the message says to pass --site; with --site it renders."""
    from bess_size.examples import path as example_path

    out = make_outputs(tmp_path / "out", with_site_json=False)
    runner = CliRunner()
    r = runner.invoke(cli, ["report", str(out)])
    assert r.exit_code == 2 and "missing site.json" in r.stderr and "--site SITE.yaml" in r.stderr
    r = runner.invoke(cli, ["report", str(out), "--site", str(example_path("campus-300mw"))])
    assert r.exit_code == 0, r.output
    assert "bess-size report: campus-300mw" in (out / "report.html").read_text()
