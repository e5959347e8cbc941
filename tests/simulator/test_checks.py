"""The Wilson lower bound and the pass rule of a check."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from bess_size.simulator import Check, wilson_lower_bound


def test_wilson_known_values():
    """100/100 -> 0.963 (DESIGN 9's example: n / (n + z^2) = 100 / 103.84); 95/100 -> 0.8882
    (Wilson 1927 score interval, as published for this classic case); 73/73 is the smallest
    all-pass count that reaches 0.95 (72/72 gives 72 / 75.84 = 0.9494)."""
    assert wilson_lower_bound(100, 100) == pytest.approx(100 / (100 + 1.959963984540054 ** 2), rel=1e-12)
    assert round(wilson_lower_bound(100, 100), 3) == 0.963
    assert wilson_lower_bound(95, 100) == pytest.approx(0.88825, abs=5e-5)
    assert wilson_lower_bound(73, 73) >= 0.95 > wilson_lower_bound(72, 72)
    assert wilson_lower_bound(0, 10) == 0.0
    assert wilson_lower_bound(0, 0) == 0.0


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_matches_scipy(kn):
    k, n = kn
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson").low
    assert wilson_lower_bound(k, n) == pytest.approx(ref, abs=1e-9)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_lower_bound(5, 4)


def _check(successes, n, target=0.95):
    return Check("poi_ramp_limit", "d", 1.9, 2.0, "MW/s", n, successes, target, "report.html#poi-ramp")


def test_check_passes_when_the_bound_reaches_the_target():
    assert _check(100, 100).passed
    assert not _check(99, 100).passed  # 0.99 observed, lower bound 0.9455 < 0.95
    assert not _check(40, 40).passed  # too few scenarios to prove 0.95
    assert not _check(0, 0).passed  # nothing exercised proves nothing
    d = _check(100, 100).to_dict()
    assert d["success_rate"] == 1.0 and math.isclose(d["success_rate_lower_95"], 0.963007, abs_tol=1e-6)
    assert {"requirement", "passed", "measured", "limit", "unit", "success_rate", "success_rate_lower_95",
            "evidence"} <= set(d)
