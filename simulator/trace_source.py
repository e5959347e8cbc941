"""A held-out trace as its replays read it: the grid's series whole, everything else a chunk at a time.

A year at 1 s is 1.8 GB whole. ``simulate`` keeps of each held-out trace only what the stress
state and the replays without an event need whole: the curtailment phase and grid availability
(int8, 63 MB for a year) and each notice's countdown (at its steps only). The float series (load,
PV, import limit, price) come a chunk at a time (:data:`CHUNK_S`): generated in order
(``scenarios.trace.TraceRenderer``, the bits of ``scenario_trace``) or cut from a given dataset.
A variant of the trace without one forced event (:func:`without_call`, :func:`without_outage`)
re-renders its grid bins chunk by chunk from the trace's other events, the bits of re-rendering
the whole.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import numpy as np

from ..scenarios.grid_events import GridEvent, events_to_json, render_grid
from .controller import TraceArrays

#: the float series are held this long at a time (a day)
CHUNK_S = 86400.0
FLOATS = ("load_mw", "load_min_mw", "load_max_mw", "pv_mw", "import_limit_mw", "price_usd_per_mwh")


@dataclass
class Notices:
    """``notice_left_s`` at the notice steps only (``controller.notice_left_s`` of the whole phase:
    the seconds to the next active onset, a day when none follows)."""

    steps: np.ndarray
    left_s: np.ndarray

    @classmethod
    def of(cls, phase: np.ndarray, dt_s: float) -> "Notices":
        notice = np.flatnonzero(phase == 1)
        if notice.size == 0:
            return cls(notice, np.zeros(0))
        active = (phase == 2).astype(np.int8)
        onsets = np.flatnonzero(np.diff(active, prepend=np.int8(0)) == 1)  # int8: no trace-long int64 temporaries
        pos = np.searchsorted(onsets, notice)
        has = pos < onsets.size
        left = np.full(notice.size, 86400.0)
        left[has] = (onsets[pos[has]] - notice[has]) * dt_s
        return cls(notice, left)

    def chunk(self, i0: int, i1: int) -> np.ndarray:
        out = np.zeros(i1 - i0)
        a, b = np.searchsorted(self.steps, [i0, i1])
        out[self.steps[a:b] - i0] = self.left_s[a:b]
        return out


@dataclass
class HeldOutTrace:
    """One trace: ``curtailment_phase`` and ``grid_available`` whole (what ``stress_points`` and the
    summaries read, with ``events``, ``dt_s``, ``index``, ``steps``), the float series through
    ``floats(i0, i1)`` (ranges in order for a generated trace)."""

    curtailment_phase: np.ndarray
    grid_available: np.ndarray
    dt_s: float
    events: list
    index: int
    floats: Callable[[int, int], dict]
    limit_at: Callable[[int], float] = None  # the import limit at one step, in any order (stress rows)
    notices: Notices = field(init=False)

    def __post_init__(self):
        self.notices = Notices.of(self.curtailment_phase, self.dt_s)

    @property
    def steps(self) -> int:
        return self.curtailment_phase.shape[0]

    @classmethod
    def from_dataset(cls, ds, dt_s: float, index: int = 0) -> "HeldOutTrace":
        """A given trace (docs/interfaces.md): already in memory, cut into views."""
        whole = TraceArrays.from_dataset(ds, dt_s, index)
        return cls(whole.curtailment_phase, whole.grid_available, dt_s, whole.events, whole.index,
                   lambda i0, i1: {k: getattr(whole, k)[i0:i1] for k in FLOATS},
                   lambda t: float(whole.import_limit_mw[t]))

    @classmethod
    def generated(cls, site, stream: str, index: int) -> "HeldOutTrace":
        """``scenario_trace(site, stream, index)``, rendered a chunk at a time."""
        from ..scenarios.trace import TraceRenderer

        r = TraceRenderer(site, stream, index)
        phase, grid = np.zeros(r.n, np.int8), np.ones(r.n, np.int8)
        step = chunk_steps(r.dt)
        for i0 in range(0, r.n, step):
            i1 = min(i0 + step, r.n)
            _, phase[i0:i1], grid[i0:i1] = render_grid(site, r.events, r.dt, r.n, i0=i0, i1=i1)
        return cls(phase, grid, r.dt, json.loads(events_to_json(r.events)), int(index),
                   lambda i0, i1: {k: v for k, v in r.bins(i0, i1).items() if k in FLOATS},
                   lambda t: float(render_grid(site, r.events, r.dt, r.n, i0=t, i1=t + 1)[0][0]))

    def chunk(self, i0: int, i1: int) -> TraceArrays:
        """Steps ``[i0, i1)`` as the kernel reads them."""
        f = self.floats(i0, i1)
        return TraceArrays(f["load_mw"], f["load_min_mw"], f["load_max_mw"], f["pv_mw"], f["import_limit_mw"],
                           self.curtailment_phase[i0:i1], self.grid_available[i0:i1], f["price_usd_per_mwh"],
                           self.notices.chunk(i0, i1), self.dt_s, self.events, self.index)

    def chunks(self) -> Iterator[tuple[int, TraceArrays]]:
        """(first step, chunk) over the whole trace, :func:`chunk_steps` at a time."""
        step = chunk_steps(self.dt_s)
        for i0 in range(0, self.steps, step):
            yield i0, self.chunk(i0, min(i0 + step, self.steps))

    def longest_outage_steps(self) -> int:
        """The longest run of steps without the grid."""
        edge = np.zeros(1, np.int8)
        out = np.diff(np.concatenate((edge, (self.grid_available == 0).astype(np.int8), edge)))
        starts, ends = np.flatnonzero(out == 1), np.flatnonzero(out == -1)
        return int((ends - starts).max(initial=0))


def chunk_steps(dt_s: float) -> int:
    return max(1, int(round(CHUNK_S / dt_s)))


@dataclass
class Variant:
    """A replay of the trace with other inputs from step ``start`` on (before it, the natural
    trace's): in the stress state (``stress`` rows ``(step, stored_mwh)``, see
    ``controller.stress_points``), or without one forced event (its own ``phase``/``grid`` and
    notices, its import limit re-rendered from ``limit_events`` on the steps ``span``)."""

    start: int
    stress: np.ndarray | None = None
    phase: np.ndarray | None = None
    grid: np.ndarray | None = None
    notices: Notices | None = None
    limit_events: list | None = None
    span: tuple[int, int] = (0, 0)
    site: object = None

    def chunk(self, nat: TraceArrays, i0: int) -> TraceArrays:
        """The variant's inputs for the steps of ``nat`` (the natural trace's, from step ``i0``)."""
        i1 = i0 + nat.steps
        if self.phase is None and self.grid is None:
            return nat
        out = replace(nat)
        if self.grid is not None:
            out.grid_available = self.grid[i0:i1]
        if self.phase is not None:
            out.curtailment_phase = self.phase[i0:i1]
            out.notice_left_s = self.notices.chunk(i0, i1)
            a, b = max(self.span[0], i0), min(self.span[1], i1)
            if a < b:
                lim = nat.import_limit_mw.copy()
                lim[a - i0:b - i0] = render_grid(self.site, self.limit_events, nat.dt_s, len(self.phase), i0=a, i1=b)[0]
                out.import_limit_mw = lim
        return out


def _span(a_s: float, b_s: float, dt: float, n: int) -> tuple[int, int]:
    return max(int(math.floor(a_s / dt)), 0), min(int(math.ceil(b_s / dt)), n)


def without_call(trace: HeldOutTrace, site, event: dict) -> Variant:
    """The trace without one curtailment call: its notice, active and recovery bins re-rendered from
    the trace's other curtailments (the counterfactual whose difference from the actual replay is
    what the call cost). It differs from the first re-rendered bin, or from an earlier notice
    whose countdown ran to this call's start."""
    dt, n = trace.dt_s, trace.steps
    others = [GridEvent(**e) for e in trace.events if e.get("kind") == "curtailment" and e is not event]
    i0, i1 = _span(float(event["start_s"]) - float(event.get("notice_s", 0.0)),
                   float(event["start_s"]) + float(event["duration_s"]) + float(event.get("recovery_s", 0.0)), dt, n)
    phase = trace.curtailment_phase.copy()
    if i0 < i1:
        phase[i0:i1] = render_grid(site, others, dt, n, i0=i0, i1=i1)[1]
    notices = Notices.of(phase, dt)
    start = i0
    nat = trace.notices
    before = nat.steps < i0  # outside the re-rendered bins both have the same notice steps
    changed = np.flatnonzero(nat.left_s[before] != notices.left_s[notices.steps < i0])
    if changed.size:
        start = min(start, int(nat.steps[before][changed[0]]))
    return Variant(start, phase=phase, notices=notices, limit_events=others, span=(i0, i1), site=site)


def without_outage(trace: HeldOutTrace, site, event: dict) -> Variant:
    """The trace without one loss of grid or sag sequence: its bins re-rendered from the trace's
    other grid events (the counterfactual of ``metrics.natural_rate_parts``)."""
    dt, n = trace.dt_s, trace.steps
    others = [GridEvent(**e) for e in trace.events if e.get("kind") in ("loss_of_grid", "voltage_sag") and e is not event]
    grid = trace.grid_available.copy()
    start = n
    for s0, d in event.get("dips") or [[event["start_s"], event["duration_s"]]]:
        i0, i1 = _span(float(s0), float(s0) + float(d), dt, n)
        if i0 < i1:
            grid[i0:i1] = render_grid(site, others, dt, n, i0=i0, i1=i1)[2]
            start = min(start, i0)
    return Variant(start, grid=grid)


def stress_variant(trace: HeldOutTrace, rows: np.ndarray) -> Variant:
    """The trace in the stress state at ``rows`` (the natural inputs; it differs from the first row)."""
    start = int(math.ceil(float(rows[:, 0].min()))) if len(rows) else trace.steps
    return Variant(start, stress=rows)
