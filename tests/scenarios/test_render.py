"""Exact bin statistics of piecewise signals (render.py), against brute-force sampling."""

from __future__ import annotations

import numpy as np
import pytest

from bess_size.scenarios.render import pwl_bin, pwl_bins, steps_to_pwl


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pwl_bins_match_dense_sampling(seed):
    """Random breakpoints (at least 0.05 s apart) with jumps (repeated times), bins of 0.7 s over
    [-2, 40): bin means equal the average of 20,000 midpoint samples per bin to within what the
    sampling can resolve (a jump of at most 10 falls inside one of the 20,000 sample cells:
    10 / 20,000 = 5e-4; kinks err far less); extremes bound every sample and are attained up
    to one sample spacing."""
    rng = np.random.default_rng(seed)
    base = np.sort(rng.choice(np.arange(0, 35, 0.05), 35, replace=False))
    xs = np.sort(np.r_[base, base[rng.choice(35, 5, replace=False)]])  # 5 of them twice: jumps
    ys = rng.uniform(-5, 5, xs.size)
    t0, dt, n = -2.0, 0.7, 60
    mean, lo, hi = pwl_bins(xs, ys, t0, dt, n)
    m = 20000
    for i in range(n):
        t = t0 + dt * (i + (np.arange(m) + 0.5) / m)
        f = np.interp(t, xs, ys)  # right-continuity at jumps does not change the mean
        assert mean[i] == pytest.approx(f.mean(), abs=5e-4)
        assert lo[i] <= f.min() + 1e-9 and hi[i] >= f.max() - 1e-9
        assert lo[i] >= f.min() - 0.05 and hi[i] <= f.max() + 0.05


def test_steps_to_pwl_overlapping_rectangles():
    """Rectangles [1, 4) x 2 and [3, 6) x 5 on base 1: bins of 1 s hold 1, 3, 3, 8, 6, 6, 1."""
    xs, ys = steps_to_pwl([1.0, 3.0], [4.0, 6.0], [2.0, 5.0], base=1.0)
    mean, lo, hi = pwl_bins(xs, ys, 0.0, 1.0, 7)
    np.testing.assert_allclose(mean, [1, 3, 3, 8, 6, 6, 1])
    mean2, lo2, hi2 = pwl_bins(xs, ys, 0.5, 1.0, 6)  # bins straddling the edges
    np.testing.assert_allclose(mean2, [2, 3, 5.5, 7, 6, 3.5])
    np.testing.assert_allclose(lo2, [1, 3, 3, 6, 6, 1])
    np.testing.assert_allclose(hi2, [3, 3, 8, 8, 6, 6])


@pytest.mark.parametrize("seed", range(6))
def test_runs_of_bins_equal_the_per_bin_path_bit_for_bit(seed):
    """render_pwl fills runs of bins lying on one piece with a vectorized loop and sends only
    bins holding a breakpoint through the general per-bin path (``pwl_bin``); both must give the
    same bits. Random breakpoints with jumps, a negative start, a step of 0.37 s (bin edges that
    round), bins before the first and after the last breakpoint, and a lone breakpoint."""
    rng = np.random.default_rng(seed)
    nb = int(rng.integers(1, 60))
    xs = np.sort(rng.uniform(-5.0, 300.0, nb))
    if nb > 3:
        xs[2] = xs[1]  # a jump
    ys = rng.uniform(-5.0, 5.0, nb)
    ys[rng.random(nb) < 0.4] = 1.0  # flat stretches, as envelopes have
    t0, dt, n = -17.3, 0.37, 1000
    mean, lo, hi = pwl_bins(xs, ys, t0, dt, n)
    k = 0
    for i in range(n):
        a = t0 + i * dt
        k, m1, l1, h1 = pwl_bin(xs, ys, k, a, a + dt, dt)
        assert (mean[i], lo[i], hi[i]) == (m1, l1, h1), i
