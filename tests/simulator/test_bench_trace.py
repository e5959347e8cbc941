"""The simulator benchmark's synthetic trace is the same whatever the chunks it is generated in."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from bess_size.site_spec import load_site

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synthetic():
    spec = importlib.util.spec_from_file_location("synthetic_trace", ROOT / "benchmarks" / "synthetic_trace.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["synthetic_trace"] = mod
    spec.loader.exec_module(mod)
    return mod


SERIES = ("load_mw", "load_min_mw", "load_max_mw", "pv_mw", "import_limit_mw", "curtailment_phase",
          "grid_available", "price_usd_per_mwh", "notice_left_s")


def test_chunks_of_any_size_give_the_same_trace(synthetic):
    """Forty days (a curtailment call with its notice, a loss of grid and its reclose dips, stalls
    across chunk edges) rendered whole and in chunks of 7 h, 1 day and 13,331 steps (edges off the
    hour, inside events): every series equal bit for bit."""
    site = load_site(ROOT / "examples" / "campus-300mw.yaml")
    year = synthetic.SyntheticTrace(site, 40)
    whole = year.chunk(0, year.steps)
    assert (whole.curtailment_phase == 2).any() and (whole.grid_available == 0).sum() > 600
    for steps in (7 * 3600, 86400, 13331):
        chunked = year.whole(steps)
        for k in SERIES:
            assert np.array_equal(getattr(chunked, k), getattr(whole, k)), (steps, k)


def test_a_notice_counts_down_to_its_call(synthetic):
    """The controller knows when an announced call starts: each notice step holds the seconds to its
    onset, also in a chunk that ends before the onset."""
    site = load_site(ROOT / "examples" / "campus-300mw.yaml")
    year = synthetic.SyntheticTrace(site, 20)
    onset = int(year.call_start[0])
    c = year.chunk(onset - 100, onset - 10)
    assert np.all(c.curtailment_phase == 1)
    assert np.array_equal(c.notice_left_s, np.arange(100, 10, -1, dtype=float))
