"""bess_size.malloc: after keep_freed_memory, a freed day-long array is reused, not faulted in anew."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from bess_size.malloc import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_day_arrays_are_reused_without_page_faults():
    """Fill and free ten arrays of 86,400 floats (675 KiB, one day at 1 s) twice. Without the
    thresholds glibc returns each to the kernel, and the second round faults in about 170 pages
    per array again; with them the second round reuses the first round's memory: far fewer than
    one array's worth of faults."""
    assert keep_freed_memory()

    def round_of_arrays():
        arrays = [np.ones(86_400) for _ in range(10)]
        del arrays

    round_of_arrays()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    round_of_arrays()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 100, faults
