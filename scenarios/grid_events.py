"""Grid events (issue 3 point 3): curtailment calls, voltage-sag sequences, loss of grid.

Three sources, all recorded in a trace's ``events_json``:

* ``sampled``: Poisson arrivals at the spec's ``events_per_year`` over the trace, start uniform;
* ``contingency``: the one loss of grid and one sag sequence every trace carries at sampled
  times (docs/interfaces.md), so held-out replay measures ride-through and islanding each time;
* ``explicit``: ``grid.events``, at their given times in every trace.

Rendering: ``import_limit_mw`` is firm + non-firm, firm only while a curtailment is active;
``curtailment_phase`` is 1 during the notice, 2 active, 3 recovery (priority 2 > 1 > 3 where
events overlap); ``grid_available`` is 0 in every bin that overlaps an outage or a sag dip.
The import limit stays contractual during outages; ``grid_available`` marks them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

YEAR_S = 365 * 86400.0

PHASE_NONE, PHASE_NOTICE, PHASE_ACTIVE, PHASE_RECOVERY = 0, 1, 2, 3


@dataclass
class GridEvent:
    kind: str  # curtailment | loss_of_grid | voltage_sag
    start_s: float
    duration_s: float
    notice_s: float = 0.0
    source: str = "sampled"  # sampled | explicit | contingency
    recovery_s: float = 0.0  # curtailment: reserve refill time after the event
    dips: list = field(default_factory=list)  # voltage_sag: [[start_s, duration_s], ...] absolute

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.kind != "voltage_sag":
            d.pop("dips")
        if self.kind != "curtailment":
            d.pop("recovery_s")
        return d


def events_to_json(events: list[GridEvent]) -> str:
    return json.dumps([e.to_dict() for e in events])


def events_from_json(text: str) -> list[GridEvent]:
    return [GridEvent(**d) for d in json.loads(text)]


def _curtailment(site, start_s: float, duration_s: float, source: str) -> GridEvent:
    c = site.grid.curtailment
    return GridEvent("curtailment", float(start_s), float(duration_s), notice_s=c.notice_min * 60.0,
                     source=source, recovery_s=c.recovery_h * 3600.0)


def _sag(site, start_s: float, rng, source: str) -> GridEvent:
    """A reclose sequence: dips_per_event dips of dip_duration_s, the first at start_s and the
    others at sorted uniform times within sequence_duration_s (NERC 2024: 6 dips in 82 s)."""
    v = site.grid.voltage_sags
    k = int(rng.integers(int(round(v.dips_per_event[0])), int(round(v.dips_per_event[1])) + 1))
    durs = rng.uniform(*v.dip_duration_s, k)
    offs = np.sort(np.concatenate([[0.0], rng.uniform(0, max(v.sequence_duration_s - durs.max(), 0.0), k - 1)]))
    dips = [[float(start_s + o), float(d)] for o, d in zip(offs, durs)]
    end = max(o + d for o, d in zip(offs, durs))
    return GridEvent("voltage_sag", float(start_s), float(end), source=source, dips=dips)


def sampled_events(site, horizon_s: float, rng) -> list[GridEvent]:
    """Natural-rate events over the horizon: Poisson counts, uniform starts."""
    g = site.grid
    out = []
    years = horizon_s / YEAR_S
    for _ in range(rng.poisson(g.curtailment.events_per_year * years)):
        out.append(_curtailment(site, rng.uniform(0, horizon_s), rng.uniform(*g.curtailment.duration_h) * 3600.0, "sampled"))
    for _ in range(rng.poisson(g.loss_of_grid.events_per_year * years)):
        out.append(GridEvent("loss_of_grid", float(rng.uniform(0, horizon_s)), float(rng.uniform(*g.loss_of_grid.duration_s))))
    for _ in range(rng.poisson(g.voltage_sags.events_per_year * years)):
        out.append(_sag(site, rng.uniform(0, horizon_s), rng, "sampled"))
    return out


def contingency_events(site, horizon_s: float, rng, curtailment_rng=None) -> list[GridEvent]:
    """One loss of grid and one sag sequence at uniform times, kept a window apart and away from
    the trace ends where the horizon allows (so each gets a full evidence window); with
    ``curtailment_rng`` (a stream of its own, so the outage and sag draws do not move) and non-firm
    import, also one curtailment call (``contingency_curtailment``)."""
    g, sc = site.grid, site.scenarios
    margin = min(sc.window_length_s, 0.1 * horizon_s)
    dur = float(rng.uniform(*g.loss_of_grid.duration_s))
    lo_start = margin
    hi_start = max(lo_start, horizon_s - margin - min(dur, sc.window_length_s))
    t_log = float(rng.uniform(lo_start, hi_start))
    span = g.voltage_sags.sequence_duration_s
    hi_sag = max(lo_start, horizon_s - margin - span)
    t_sag = float(rng.uniform(lo_start, hi_sag))
    for _ in range(50):  # keep the sag's window clear of the outage where there is room
        if t_sag + span + sc.window_length_s < t_log or t_sag > t_log + dur + sc.window_length_s:
            break
        t_sag = float(rng.uniform(lo_start, hi_sag))
    out = [GridEvent("loss_of_grid", t_log, dur, source="contingency"), _sag(site, t_sag, rng, "contingency")]
    if curtailment_rng is not None and has_contingency_curtailment(site):
        out.append(contingency_curtailment(site, horizon_s, curtailment_rng, out[0]))
    return out


def has_contingency_curtailment(site) -> bool:
    """A trace carries a contingency curtailment call when the site has non-firm import that the
    grid can call back (``nonfirm_import_mw > 0`` and ``curtailment.events_per_year > 0``)."""
    g = site.grid
    return g.nonfirm_import_mw > 0 and g.curtailment.events_per_year > 0


def contingency_curtailment(site, horizon_s: float, rng, loss_of_grid: GridEvent) -> GridEvent:
    """One curtailment call (duration uniform in ``duration_h``, the spec's notice and recovery)
    at a uniform start that leaves the notice inside the trace and ends the active period before
    the trace end where the horizon allows, with its notice-to-end span at least a window away
    from the loss-of-grid contingency where there is room (so the two are judged apart)."""
    c, sc = site.grid.curtailment, site.scenarios
    dur = float(rng.uniform(*c.duration_h)) * 3600.0
    notice = c.notice_min * 60.0
    lo = min(notice, 0.5 * horizon_s)
    hi = max(lo, horizon_s - dur)
    w = sc.window_length_s
    a_log, b_log = loss_of_grid.start_s, loss_of_grid.start_s + loss_of_grid.duration_s
    t = float(rng.uniform(lo, hi))
    for _ in range(50):  # keep clear of the outage where there is room (as the sag placement does)
        if t + dur + w < a_log or t - notice > b_log + w:
            break
        t = float(rng.uniform(lo, hi))
    return _curtailment(site, t, dur, "contingency")


def explicit_events(site) -> list[GridEvent]:
    """``grid.events``: hard requirements, at their times in every trace."""
    out = []
    for e in site.grid.events:
        if e.kind == "curtailment":
            out.append(_curtailment(site, e.start_s, e.duration_s, "explicit"))
        elif e.kind == "voltage_sag":  # one dip of the given length
            out.append(GridEvent("voltage_sag", e.start_s, e.duration_s, source="explicit", dips=[[e.start_s, e.duration_s]]))
        else:
            out.append(GridEvent(e.kind, e.start_s, e.duration_s, source="explicit"))
    return out


def _bins(a_s: float, b_s: float, dt: float, n: int, i0: int = 0, i1: int | None = None) -> slice:
    """Bins of ``0 .. n - 1`` overlapping [a, b), as a slice of the range ``i0 .. i1 - 1``."""
    lo = max(int(np.floor(a_s / dt)), 0)
    hi = max(lo, min(int(np.ceil(b_s / dt)), n))
    i1 = n if i1 is None else i1
    return slice(min(max(lo, i0), i1) - i0, min(max(hi, i0), i1) - i0)


def render_grid(site, events: list[GridEvent], dt: float, n: int, t0_s: float = 0.0, i0: int = 0,
                i1: int | None = None):
    """(import_limit_mw, curtailment_phase int8, grid_available int8) over bins ``i0 .. i1 - 1``
    (default: all n) of the n bins from t0_s; any range gives the bits of the whole."""
    g = site.grid
    i1 = n if i1 is None else i1
    m = i1 - i0
    phase = np.zeros(m, dtype=np.int8)
    avail = np.ones(m, dtype=np.int8)
    curt = [e for e in events if e.kind == "curtailment"]
    for value, part in ((PHASE_RECOVERY, "recovery"), (PHASE_NOTICE, "notice"), (PHASE_ACTIVE, "active")):
        for e in curt:
            a, b = {"recovery": (e.start_s + e.duration_s, e.start_s + e.duration_s + e.recovery_s),
                    "notice": (e.start_s - e.notice_s, e.start_s),
                    "active": (e.start_s, e.start_s + e.duration_s)}[part]
            phase[_bins(a - t0_s, b - t0_s, dt, n, i0, i1)] = value
    for e in events:
        if e.kind == "loss_of_grid":
            avail[_bins(e.start_s - t0_s, e.start_s + e.duration_s - t0_s, dt, n, i0, i1)] = 0
        elif e.kind == "voltage_sag":
            for s, d in e.dips:
                avail[_bins(s - t0_s, s + d - t0_s, dt, n, i0, i1)] = 0
    limit = np.where(phase == PHASE_ACTIVE, g.firm_import_mw, g.firm_import_mw + g.nonfirm_import_mw).astype(float)
    return limit, phase, avail
