"""The report in a real headless browser (Debian's chromium): it loads without errors and shows every figure.

The page carries a Content-Security-Policy that forbids any network fetch, and a tiny script that writes
``data-figures="loaded/total"`` on <body> after the load event (and ``data-js-error`` on a script error).
chromium prints the DOM after the page settled (--virtual-time-budget) and logs every console message
(CSP violations, script errors) to stderr with --enable-logging, so both are checked. The
``chromium`` fixture (tests/conftest.py) skips without chromium, and fails instead under CI=true.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"]


def _run(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"  # a fresh profile per run
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HOME": str(tmp_path)})


def test_report_loads_and_shows_every_figure(chromium, report_path, tmp_path):
    html = report_path.read_text(encoding="utf-8")
    n_img = html.count("<img ")
    assert n_img > 0
    r = _run(chromium, tmp_path, "--dump-dom", report_path.as_uri())
    assert r.returncode == 0, r.stderr[-2000:]
    body = re.search(r"<body[^>]*>", r.stdout)
    assert body, r.stdout[:500]
    assert f'data-figures="{n_img}/{n_img}"' in body.group(0), body.group(0)
    assert "data-js-error" not in body.group(0)
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console  # CSP violations and script errors are console messages


def test_report_of_a_real_run_in_the_browser(chromium, run_outputs, tmp_path):
    report = run_outputs / "report.html"
    n_img = report.read_text(encoding="utf-8").count("<img ")
    r = _run(chromium, tmp_path, "--dump-dom", report.as_uri())
    body = re.search(r"<body[^>]*>", r.stdout)
    assert body and f'data-figures="{n_img}/{n_img}"' in body.group(0) and "data-js-error" not in body.group(0)
    assert not [line for line in r.stderr.splitlines() if ":CONSOLE" in line]


def test_screenshot_is_not_blank(chromium, report_path, tmp_path):
    shot = tmp_path / "report.png"
    r = _run(chromium, tmp_path, "--window-size=1280,4000", f"--screenshot={shot}", report_path.as_uri())
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 4000)
        colours = im.convert("RGB").resize((64, 200)).getcolors(maxcolors=100000)
    assert colours is not None and len(colours) > 50  # text, tables and figures, not an empty page


def test_harness_catches_a_broken_page(chromium, report_path, tmp_path):
    """The checks above can fail: a figure fetched from the network is blocked and counted as not shown."""
    bad = tmp_path / "bad.html"
    bad.write_text(report_path.read_text().replace("</main>", '<img src="https://example.invalid/x.png"></main>'))
    r = _run(chromium, tmp_path, "--dump-dom", bad.as_uri())
    n_img = bad.read_text().count("<img ")
    assert f'data-figures="{n_img - 1}/{n_img}"' in r.stdout
    assert any("Content Security Policy" in line for line in r.stderr.splitlines() if ":CONSOLE" in line)
