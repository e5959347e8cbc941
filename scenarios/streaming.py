"""Reductions of a long series fed a chunk at a time, with the bits of the whole series' numpy result.

A year at 1 s is 31.5 M steps: the screening (``transient.py``) sees it a day at a time and keeps
of each series only what these accumulate.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

#: numpy's pairwise summation adds blocks of at most this many values with eight accumulators
PAIRWISE_BLOCK = 128


def _pairwise_leaves(n: int, out: list[int]) -> list[int]:
    """Lengths of the blocks numpy's pairwise sum of ``n`` values splits into, in order (halves
    rounded down to a multiple of 8 until at most ``PAIRWISE_BLOCK``)."""
    if n <= PAIRWISE_BLOCK:
        out.append(n)
        return out
    half = n // 2
    half -= half % 8
    _pairwise_leaves(half, out)
    return _pairwise_leaves(n - half, out)


class PairwiseSum:
    """``x.sum()`` of a contiguous float64 series of ``n`` values fed in order in chunks of any size:
    each of numpy's blocks is summed by numpy itself, and the block sums are added up in numpy's
    tree, so the result is the whole series' sum bit for bit (a series fed whole is simply summed)."""

    def __init__(self, n: int):
        self.n = int(n)
        self.whole = None  # the sum of a series fed in one piece
        self.lengths = None  # numpy's blocks, once a series comes in pieces
        self.fed = 0
        self.rest = np.zeros(0)  # values fed of the block not yet complete

    def feed(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        if self.fed == 0 and x.size == self.n:
            self.whole, self.fed = x.sum(), self.n
            return
        if self.lengths is None:
            self.lengths = np.array(_pairwise_leaves(self.n, []), dtype=np.int64)
            self.ends = np.cumsum(self.lengths)
            self.sums = np.zeros(self.lengths.size)
        pos = self.fed - self.rest.size  # where the buffer starts
        buf = np.concatenate([self.rest, x])
        self.fed += x.size
        a = int(np.searchsorted(self.ends, pos, side="right"))  # first block not summed
        b = int(np.searchsorted(self.ends, self.fed, side="right"))  # blocks ending by fed
        starts = self.ends[a:b] - self.lengths[a:b] - pos
        for m in np.unique(self.lengths[a:b]):  # a few lengths: one reduction, row by row, for each
            sel = np.flatnonzero(self.lengths[a:b] == m)
            rows = buf[starts[sel, None] + np.arange(m)]
            self.sums[a + sel] = np.add.reduce(rows, axis=1)
        done = int(self.ends[b - 1]) if b > 0 else 0
        self.rest = buf[done - pos:].copy()

    def total(self) -> float:
        if self.fed != self.n:
            raise ValueError(f"PairwiseSum: {self.n} values expected, fed {self.fed}")
        if self.whole is not None or self.n == 0:
            return self.whole if self.n else np.zeros(0).sum()
        it = iter(self.sums)

        def tree(n: int) -> np.float64:
            if n <= PAIRWISE_BLOCK:
                return next(it)
            half = n // 2
            half -= half % 8
            return tree(half) + tree(n - half)

        return tree(self.n)


class TopPeaks:
    """Keeps, of a series fed in order, what ``transient._top_peaks(x, k, separation)`` needs.

    The greedy takes the largest value, masks ``separation`` steps either side and repeats: after j
    picks at most ``2 separation j`` values are masked, so the next pick ranks at most
    ``2 separation j + 1``. The ``2 separation (k - 1) + 1`` largest values (ties: the earlier step,
    as ``argmax``; NaN first, as ``argmax``) hold every pick."""

    def __init__(self, k: int, separation: int):
        self.k, self.sep = int(k), int(separation)
        self.keep = 2 * self.sep * max(self.k - 1, 0) + 1
        self.idx = np.zeros(0, dtype=np.int64)
        self.val = np.zeros(0)

    def feed(self, i0: int, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=float)
        key = np.where(np.isnan(x), np.inf, x)
        if x.size > self.keep:
            v = np.partition(key, x.size - self.keep)[x.size - self.keep]
            sel = np.flatnonzero(key >= v)
        else:
            sel = np.arange(x.size)
        idx = np.concatenate([self.idx, sel + i0])
        val = np.concatenate([self.val, x[sel]])
        key = np.where(np.isnan(val), np.inf, val)
        order = np.lexsort((idx, -key, ~np.isnan(val)))[: self.keep]
        self.idx, self.val = idx[order], val[order]

    def picks(self) -> list[tuple[int, float]]:
        """(step, value) of each pick, as ``_top_peaks`` finds them."""
        out = []
        alive = np.ones(self.idx.size, dtype=bool)
        for _ in range(self.k):
            live = np.flatnonzero(alive)
            if live.size == 0:
                break
            j = live[0]  # candidates are in rank order
            i, v = int(self.idx[j]), float(self.val[j])
            if not np.isfinite(v) or v <= 0:
                break
            out.append((i, v))
            alive &= ~((self.idx >= max(0, i - self.sep)) & (self.idx < i + self.sep))
        return out


class Cuts:
    """Ranges ``[a, b)`` of named series, copied out of a trace's chunks as they pass."""

    def __init__(self, ranges: list[tuple[int, int]], dtypes: dict):
        self.ranges = [(int(a), int(b)) for a, b in ranges]
        self.data = [{k: np.empty(max(b - a, 0), dtype=t) for k, t in dtypes.items()} for a, b in self.ranges]

    def feed(self, i0: int, series: dict) -> None:
        i1 = i0 + len(next(iter(series.values())))
        for (a, b), out in zip(self.ranges, self.data):
            lo, hi = max(a, i0), min(b, i1)
            if lo < hi:
                for k, v in out.items():
                    v[lo - a: hi - a] = series[k][lo - i0: hi - i0]

    @property
    def end(self) -> int:
        """The step after the last range's end (0: none)."""
        return max((b for _, b in self.ranges), default=0)


class Checkpoints:
    """Copies of an object's state (a trace renderer's: its noise generators and filter states) at
    chunk starts, a few kB each: numpy arrays are kept by reference, not copied, so an object
    checkpointed must rebind its arrays, never write into them."""

    def __init__(self):
        self.arrays: dict[int, np.ndarray] = {}  # kept alive, so their ids stay theirs
        self.saved: dict[int, bytes] = {}

    def save(self, key: int, obj) -> None:
        f = io.BytesIO()
        p = pickle.Pickler(f, protocol=pickle.HIGHEST_PROTOCOL)
        p.persistent_id = self._array_id
        p.dump(obj)
        self.saved[key] = f.getvalue()

    def load(self, key: int):
        u = pickle.Unpickler(io.BytesIO(self.saved[key]))
        u.persistent_load = self.arrays.__getitem__
        return u.load()

    def _array_id(self, obj):
        if isinstance(obj, np.ndarray):
            self.arrays[id(obj)] = obj
            return id(obj)
        return None
