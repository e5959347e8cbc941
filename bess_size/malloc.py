"""Let glibc keep freed arrays for reuse instead of handing each back to the kernel.

A day at 1 s is 86,400 floats (675 KiB) per series; glibc serves blocks that size with mmap, or
trims them off the heap as soon as they are freed, so each new temporary array is fresh memory
whose every 4 KiB page faults on first write. Scenario generation and replay make thousands of
such arrays: on the 2-core reference machine the faults were 15-20 % of scenario generation's
CPU time (``benchmarks/bench_scenarios.py --no-malloc-tuning`` shows the difference). Raising
the mmap and trim thresholds makes freed blocks reusable. Freed memory is kept up to
``TRIM_THRESHOLD_BYTES``, and blocks above ``MMAP_THRESHOLD_BYTES`` (a year of 1-s floats) still
go straight back to the kernel, so peak memory stays bounded.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD_BYTES = 256 * 2**20


def keep_freed_memory() -> bool:
    """Set the thresholds for this process; False (and nothing changed) where libc is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
