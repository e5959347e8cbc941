"""Pack a Site and a Design into the kernel's arrays and replay one trace.

The kernel (``kernel.py``) is the controller; this module states its settings in the site's and
the design's terms and turns a trace (``xr.Dataset`` per docs/interfaces.md) into its inputs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..scenarios.poi_policy import new_poi_state, notice_left_s, poi_params, preramp_mw_per_s, steady_ramp_mw_per_s
from . import kernel as K

TRACE_VARIABLES = ("load_mw", "pv_mw", "import_limit_mw", "curtailment_phase", "grid_available", "price_usd_per_mwh")


@dataclass(frozen=True)
class BandEnergies:
    """Stored-energy levels [MWh] the controller works with, from the design's bands.

    Stacked from the floor ``F = soc_min E`` inside the end-of-life span ``U``:
    ``rt_top = F + X_rt``, ``normal_floor = F + X_rt + X_cu`` (the up-ramp buffer is drawn below the
    operating band's low edge by transients, so outside curtailment the battery should never sit
    below ``F + X_rt + X_cu``), operating ``[lo, hi]``, ``top = F + U``.
    """

    energy_mwh: float
    floor_mwh: float
    top_mwh: float
    rt_top_mwh: float
    normal_floor_mwh: float
    op_lo_mwh: float
    op_hi_mwh: float
    call_floor_mwh: float = 0.0  # F + X_rt + X_up + X_cu: the lowest the bands allow when a call is announced

    @classmethod
    def from_design(cls, site, design) -> "BandEnergies":
        b, bands = site.bess, design.bess.bands_mwh
        E = float(design.bess.energy_mwh)
        F = b.soc_min_fraction * E
        U = b.end_of_life_fraction * (b.soc_max_fraction - b.soc_min_fraction) * E
        top = F + U
        rt_top = min(F + bands.ride_through_reserve, top)
        normal = min(rt_top + bands.curtailment_reserve, top)
        lo, hi = (float(x) for x in bands.operating)
        lo = min(max(lo, F), top)
        hi = min(max(hi, lo), top)
        call = min(rt_top + bands.up_ramp_buffer + bands.curtailment_reserve, top)
        return cls(E, F, top, rt_top, normal, lo, hi, call)


def stress_points(trace: "TraceArrays", bands: BandEnergies, calls_only: bool = False) -> np.ndarray:
    """Rows ``(step, stored_mwh, limit_mw)`` where the stress replay puts the battery in the state the
    contingency's requirement is defined in (generation cold but for the firm need, the net load
    above ``limit_mw``, see ``kernel._stress_state``; for a call the import limit before it, so a
    call without notice starts its units cold at its first step, as the screening does):

    * a loss of grid or the first dip of a sag sequence: ``F + X_rt``, the lowest level the bands
      allow while grid-connected (a call may just have drawn the curtailment reserve and a
      transient the up-ramp buffer): the ride-through reserve alone carries it, as it was sized;
    * a curtailment call's first announced step: ``F + X_rt + X_up + X_cu``, the lowest level
      the bands allow outside calls.

    ``calls_only`` keeps only the calls' rows: a call is judged in its own stress state. A sag or
    loss of grid inside a call would otherwise reset it to the outage's state (battery at
    ``F + X_rt``, the call's units stopped and their starts cancelled), a state no requirement is
    sized for: X_cu, however large, is gone at that moment. The outage is still judged in its own
    stress state by the replay with every row.
    """
    dt = trace.dt_s
    out = (trace.grid_available == 0).astype(np.int8)
    onsets = np.flatnonzero(np.diff(out, prepend=np.int8(0)) == 1)  # int8 throughout: a year is 31.5 M steps
    # later dips of a sag sequence belong to the state the first dip left
    spans = [(float(e["start_s"]), float(e["start_s"]) + float(e.get("duration_s", 0.0)))
             for e in trace.events if e.get("kind") == "voltage_sag"]
    rows = []
    for t in ([] if calls_only else onsets):
        t_s = t * dt
        inside = [a for a, b in spans if a - dt < t_s <= b + dt]
        if any(np.any((onsets < t) & (onsets * dt >= a - dt)) for a in inside):
            continue
        rows.append((float(t), bands.rt_top_mwh, _limit_at(trace, t)))
    ph = trace.curtailment_phase
    prev = np.concatenate((np.zeros(1, ph.dtype), ph[:-1]))
    for t in np.flatnonzero(((ph == 1) | (ph == 2)) & ((prev == 0) | (prev == 3))):
        # the step before is outside the call (a trace that opens in a call: the call's own limit)
        rows.append((float(t), bands.call_floor_mwh, _limit_at(trace, max(int(t) - 1, 0))))
    rows.sort()
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def _limit_at(trace, t: int) -> float:
    """The trace's import limit at step t (a trace read a chunk at a time renders that step)."""
    limit = getattr(trace, "import_limit_mw", None)
    return float(limit[t]) if limit is not None else trace.limit_at(t)


def sag_steps(site) -> int:
    """Outages of at most this many steps are sags: a dip of up to ``dip_duration_s[1]`` can touch
    ``ceil(d / dt) + 1`` bins when it straddles a bin boundary."""
    dt = float(site.scenarios.transient_resolution_s)
    return math.ceil(site.grid.voltage_sags.dip_duration_s[1] / dt - 1e-9) + 1


def controller_params(site, design) -> np.ndarray:
    """The kernel's float64 settings (layout ``kernel.C_*``) for this site and design."""
    g, b, r = site.grid, site.bess, site.reliability
    dt = float(site.scenarios.transient_resolution_s)
    bands = BandEnergies.from_design(site, design)
    cp = np.zeros(K.N_CP)
    cp[K.C_DT_S] = dt
    cp[K.C_E_MWH] = bands.energy_mwh
    cp[K.C_FLOOR_MWH] = bands.floor_mwh
    cp[K.C_TOP_MWH] = bands.top_mwh
    cp[K.C_RT_TOP_MWH] = bands.rt_top_mwh
    cp[K.C_NORMAL_FLOOR_MWH] = bands.normal_floor_mwh
    cp[K.C_OP_LO_MWH] = bands.op_lo_mwh
    cp[K.C_OP_HI_MWH] = bands.op_hi_mwh
    # the cells limit the power too: P <= max_c_rate x E (a design breaking that rule gets what its cells give)
    cp[K.C_PCS_MW] = min(float(design.bess.pcs_power_mw), b.max_c_rate * bands.energy_mwh)
    cp[K.C_S_MVA] = design.bess.inverters * float(design.bess.inverter_rating_mva)
    cp[K.C_TAN_LOAD] = math.tan(math.acos(site.load.power_factor))
    cp[K.C_TAN_POI] = math.tan(math.acos(g.poi_power_factor_min))
    cp[K.C_ETA_CH] = b.charge_efficiency
    cp[K.C_ETA_DIS] = b.discharge_efficiency
    cp[K.C_FIRM_MW] = g.firm_import_mw
    cp[K.C_FLEX_FRACTION] = site.load.flexible.max_fraction if site.load.flexible else 0.0
    steady_rate = steady_ramp_mw_per_s(g)
    cp[K.C_PRERAMP_MW_PER_S] = preramp_mw_per_s(g)  # the notice's cap, the rule the screening applies
    cp[K.C_RECONNECT_MW_PER_S] = g.reconnect_ramp_mw_per_min / 60.0
    cp[K.C_HANDBACK_MW_PER_S] = steady_rate
    cp[K.C_SAG_STEPS] = sag_steps(site)
    cp[K.C_RT_STEPS] = math.ceil(r.ride_through.duration_s / dt - 1e-9)
    cp[K.C_RT_LOAD_FRACTION] = r.ride_through.load_fraction
    cp[K.C_RECOVERY_S] = b.soc_recovery_time_s
    cp[K.C_PRICE_ALPHA] = min(1.0, dt / 86400.0)
    cp[K.C_ARB_GAIN] = 1.0
    usable = (b.soc_max_fraction - b.soc_min_fraction) * bands.energy_mwh
    # float noise only: every measurable swing of stored energy is a turning point for the rainflow count
    cp[K.C_TP_HYST_MWH] = max(1e-9 * usable, 1e-12)
    cp[K.C_RAMP_MW_PER_S] = g.ramp_limit_mw_per_s
    cp[K.C_RAMP_MW_PER_MIN] = g.ramp_limit_mw_per_min
    cp[K.C_WINDOW_STEPS] = math.floor(60.0 / dt + 1e-9)
    cp[K.C_PEAK_DECAY] = min(1.0, dt / 3600.0)
    cp[K.C_PEAK_DECAY_DAY] = min(1.0, dt / 86400.0)
    cp[K.C_DT_H] = dt / 3600.0
    cp[K.C_DIS_LOSS] = 1.0 / b.discharge_efficiency - 1.0
    cp[K.C_TOL_MW] = 1e-6
    cp[K.C_ISLAND_SHED_FRACTION] = r.islanding.shed_fraction(site.load)
    cp[K.C_ISLAND_SHED_STEPS] = math.ceil(max(r.ride_through.duration_s, r.islanding.flexible_shed_delay_s) / dt - 1e-9)
    return cp


def generator_params(site, design) -> np.ndarray:
    """Thermal units (layout ``kernel.G_*``), one row per thermal entry of the site, in order.

    Unit counts come from the design (existing + new); technical figures from the site.
    """
    thermal = site.thermal
    counts = [gd for gd in design.generation if gd.kind != "pv"]
    gp = np.zeros((len(thermal), K.N_GEN))
    dt = float(site.scenarios.transient_resolution_s)
    for k, unit in enumerate(thermal):
        gd = counts[k] if k < len(counts) else None
        units = gd.units if gd is not None else unit.existing_units
        gp[k, K.G_UNIT_MW] = unit.unit_mw
        gp[k, K.G_UNITS] = units
        gp[k, K.G_MIN_FRACTION] = unit.min_load_fraction
        gp[k, K.G_RAMP_MW_PER_S] = unit.ramp_mw_per_s
        gp[k, K.G_START_STEPS] = math.ceil(unit.start_time_s / dt - 1e-9)
        gp[k, K.G_FUEL_USD_PER_MWH] = unit.fuel_usd_per_mwh
        gp[k, K.G_START_USD] = unit.start_cost_usd
    return gp


@dataclass
class TraceArrays:
    """One trace as the kernel reads it."""

    load_mw: np.ndarray
    load_min_mw: np.ndarray
    load_max_mw: np.ndarray
    pv_mw: np.ndarray
    import_limit_mw: np.ndarray
    curtailment_phase: np.ndarray
    grid_available: np.ndarray
    price_usd_per_mwh: np.ndarray
    notice_left_s: np.ndarray
    dt_s: float
    events: list = field(default_factory=list)
    index: int = 0

    @classmethod
    def from_dataset(cls, ds, dt_s: float, index: int = 0) -> "TraceArrays":
        missing = [v for v in TRACE_VARIABLES if v not in ds]
        if missing:
            raise ValueError(f"trace {index}: missing variables {missing}; expected {list(TRACE_VARIABLES)}")

        def f64(name):
            return np.ascontiguousarray(ds[name].values, dtype=np.float64)

        phase = np.ascontiguousarray(ds["curtailment_phase"].values, dtype=np.int8)
        events = json.loads(ds.attrs.get("events_json", "[]") or "[]")
        load = f64("load_mw")
        return cls(
            load_mw=load,
            # within-bin extremes are optional: a trace without them has no sub-step swings
            load_min_mw=f64("load_min_mw") if "load_min_mw" in ds else load,
            load_max_mw=f64("load_max_mw") if "load_max_mw" in ds else load,
            pv_mw=f64("pv_mw"),
            import_limit_mw=f64("import_limit_mw"),
            curtailment_phase=phase,
            grid_available=np.ascontiguousarray(ds["grid_available"].values, dtype=np.int8),
            price_usd_per_mwh=f64("price_usd_per_mwh"),
            notice_left_s=notice_left_s(phase, dt_s),
            dt_s=dt_s,
            events=events,
            index=int(ds.attrs.get("index", index)),
        )

    @property
    def steps(self) -> int:
        return self.load_mw.shape[0]

    def chunk(self, start: int, stop: int) -> "TraceArrays":
        """Steps ``[start, stop)`` as a trace of their own (views, no copies) for :class:`Replay`;
        ``notice_left_s`` is the whole trace's, so a notice still knows its start."""
        sl = slice(int(start), int(stop))
        return TraceArrays(self.load_mw[sl], self.load_min_mw[sl], self.load_max_mw[sl], self.pv_mw[sl],
                           self.import_limit_mw[sl], self.curtailment_phase[sl], self.grid_available[sl],
                           self.price_usd_per_mwh[sl], self.notice_left_s[sl], self.dt_s, self.events, self.index)


@dataclass
class KernelRun:
    """What the kernel filled for one trace."""

    metrics: np.ndarray
    hourly: np.ndarray
    ramp_hist: np.ndarray
    turning_points: np.ndarray
    outages: np.ndarray
    recorded: np.ndarray
    rec_start: np.ndarray

    def metric(self, index: int) -> float:
        return float(self.metrics[index])


MAX_OUTAGES = 4096


class Replay:
    """A trace replayed in consecutive chunks: the same results, bit for bit, as replaying it whole.

    ::

        rp = Replay(cp, gp, pp, steps=n, record=[...], record_length=k, stress=rows)
        for chunk in chunks:          # TraceArrays of consecutive steps, in order, covering n steps
            rp.feed(chunk)
        run = rp.result()             # the KernelRun of the whole trace

    ``steps`` is the whole trace's length (it sizes the hourly and turning-point arrays, and its
    last step closes the last hour). ``record`` (window start steps), ``record_length`` and
    ``stress`` (rows ``(step, stored_mwh, limit_mw)``, see :func:`stress_points`) count steps from the
    trace's start, as :func:`run_kernel` takes them. A chunk's ``notice_left_s`` must be the
    whole trace's (a notice announces its start even when that lies in a later chunk): slice it
    from :func:`notice_left_s` of the whole phase array, or compute it from the announced events.
    A chunk of any length >= 1 may follow any other; the state between chunks is the kernel's
    state vector (``kernel.ST_*``), the POI policy's state and the workspace arrays, all here.
    """

    def __init__(self, cp: np.ndarray, gp: np.ndarray, pp: np.ndarray, steps: int,
                 record: list[int] | None = None, record_length: int = 0, stress: np.ndarray | None = None):
        T = int(steps)
        if T <= 0:
            raise ValueError("an empty trace cannot be replayed")
        self.cp, self.gp, self.pp = cp, gp, pp
        dt = float(cp[K.C_DT_S])
        self.metrics = np.zeros(K.N_M)
        self.hourly = np.zeros((max(1, math.ceil(T * dt / 3600.0)), K.N_H))
        self.ramp_hist = np.zeros(K.RAMP_BINS)
        self.tp = np.zeros(max(min(T + 4, 1 << 20), 16))
        self.outages = np.zeros((MAX_OUTAGES, K.N_O))
        self.rec_start = np.array(sorted(int(s) for s in (record or [])), dtype=np.int64)
        self.recorded = np.zeros((self.rec_start.size, max(record_length, 1) if self.rec_start.size else 1, K.N_R))
        self.stress = np.zeros((0, 2)) if stress is None else np.ascontiguousarray(stress, dtype=np.float64)
        self.poi_state = new_poi_state(pp)
        self.state = K.new_state(T)
        self.work = K.workspace(cp, gp, self.poi_state)
        self.steps = T
        self.done = 0
        self._finished = False

    def feed(self, chunk: "TraceArrays") -> "Replay":
        """Replay the next ``chunk.steps`` steps."""
        if self._finished:
            raise ValueError("this replay is finished: result() was called")
        if self.done + chunk.steps > self.steps:
            raise ValueError(f"chunk of {chunk.steps} steps after {self.done}: the trace has {self.steps}")
        K.simulate_chunk(
            chunk.load_mw, chunk.load_min_mw, chunk.load_max_mw, chunk.pv_mw, chunk.import_limit_mw,
            chunk.curtailment_phase, chunk.grid_available, chunk.price_usd_per_mwh, chunk.notice_left_s,
            self.cp, self.gp, self.pp, self.poi_state, self.state, self.work,
            self.metrics, self.hourly, self.ramp_hist, self.tp, self.outages, self.rec_start, self.recorded,
            self.stress,
        )
        self.done += chunk.steps
        return self

    def result(self) -> "KernelRun":
        """The whole trace's KernelRun (after its last step was fed)."""
        if self.done != self.steps:
            raise ValueError(f"{self.done} of the trace's {self.steps} steps were replayed")
        if not self._finished:
            K.finish(self.cp, self.state, self.metrics, self.tp, self.outages)
            self._finished = True
        m = self.metrics
        n_out = min(int(m[K.M_N_OUTAGES]), MAX_OUTAGES)
        return KernelRun(m, self.hourly, self.ramp_hist, self.tp[: int(m[K.M_N_TP])].copy(),
                         self.outages[:n_out].copy(), self.recorded, self.rec_start)


def run_kernel(trace: TraceArrays, cp: np.ndarray, gp: np.ndarray, pp: np.ndarray,
               record: list[tuple[int, int]] | None = None, record_length: int = 0,
               stress: np.ndarray | None = None) -> KernelRun:
    """Replay one trace; ``record`` lists (start step) windows of ``record_length`` steps to keep;
    ``stress`` (rows ``(step, stored_mwh, limit_mw)``, see :func:`stress_points`) replays it in the stress state.
    The whole trace as one chunk of :class:`Replay`."""
    if trace.steps == 0:
        raise ValueError("an empty trace cannot be replayed")
    return Replay(cp, gp, pp, trace.steps, record, record_length, stress).feed(trace).result()


def replay_arrays(site, design):
    """(cp, gp, pp) for a site and design: what every scenario's replay shares."""
    return controller_params(site, design), generator_params(site, design), design_poi_params(site, design)


def design_poi_params(site, design) -> np.ndarray:
    """The POI policy's parameters for replaying ``design``: its recovery term (the pull back to the
    SoC setpoint, which the arbitrage setpoint moves at price changes) asks of the battery at most
    the PCS rating less the headroom the design keeps for transients, P - R_dn of charge and
    P - R_up of discharge (the optimizer's pcs_headroom constraints on its own dispatch)."""
    from ..scenarios.poi_policy import P_RECOVERY_CHARGE_MAX_MW, P_RECOVERY_DISCHARGE_MAX_MW

    pp = poi_params(site)
    b = design.bess
    if b.headroom_mw is not None:
        pp[P_RECOVERY_CHARGE_MAX_MW] = max(0.0, b.pcs_power_mw - b.headroom_mw.down)
        pp[P_RECOVERY_DISCHARGE_MAX_MW] = max(0.0, b.pcs_power_mw - b.headroom_mw.up)
    return pp
