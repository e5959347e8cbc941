"""The optimizer's view of a site and its scenarios: flat arrays of Python floats, computed once.

``ModelData`` reads the ScenarioSet of docs/interfaces.md (``energy``, ``transient``, ``windows``)
and the Site, and precomputes everything the constraint families need, so that building the Pyomo
model is a loop over plain lists (the fast way: no xarray or numpy scalars inside rules).

Energy layer: the (scenario, period, step) cube is flattened to one index ``i``; ``prev[i]`` is the
previous step of the same representative day, cyclically (SoC and commitment are cyclic per day);
the days of an event that crosses midnight (``continues_into_next``) form one cyclic stretch.

Contingency windows: the loss-of-grid and voltage-sag windows of the scenarios plus the *design*
contingencies (a grid loss may come at any moment, so the ride-through requirement is sized at
the peak, not only at the sampled times): an outage of ``ride_through.duration_s`` and, with
islanding, one lasting until generation carries the island. The design load is ``load.peak_mw``
(IT capacity x PUE) for the load model; for a measured trace it is the trace's worst window (the
rolling maximum of its energy over the outage), with P still covering the trace's peak.
In each window the seconds the BESS must cover are those without grid within
``ride_through.duration_s`` of the start of that outage (or the whole outage with
``islanding.required``), counted to the part of a step that lies inside the ride-through time; the
load to cover is ``load_fraction * L``, and in the islanding bridge
``load_fraction * (1 - flexible.max_fraction) * L`` only when the spec sheds flexible load
(``reliability.islanding.shed_flexible_load``, after ``flexible_shed_delay_s``). After a covered
loss of grid the grid returns with import ramping at ``grid.reconnect_ramp_mw_per_min``, never
faster than the POI ramp limits (the simulator's rule): the BESS and generation carry ``load_fraction * L - r_rc * t_back`` until import
has the load back (less the flexible share if it was shed: it returns with import).

Reactive power grid-connected: the inverters carry ``Q = max(0, L tan phi_L - (L - p) tan phi_POI)``
with the BESS at ``p``; linear in ``L`` on ``[p, L_pk]``, so its maximum is at an end, and the
``max(0, .)`` is covered by the point ``Q = 0``: operating points ``(P, 0)``,
``(P, L_pk (tan phi_L - tan phi_POI) + P tan phi_POI)`` and ``(P, P tan phi_L)`` (the battery
carrying the whole load, the POI none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bess_size.scenarios.load_model import read_trace
from bess_size.scenarios.render import zoh_bins
from bess_size.site_spec import Site

CONTINGENCY_KINDS = ("loss_of_grid", "voltage_sag")


@dataclass
class Window:
    """One contingency window reduced to what the ride-through constraints need.

    ``fixed_*`` are the covered steps where no generator can have started yet, so the BESS residual
    is a known number; ``var_*`` are the covered steps where generation may help (one variable
    each). ``*_covered_s`` is how many seconds of each step the battery carries (the step length, or
    the part of it before the ride-through time ends), so energies are MW x s counted once.
    """

    label: str
    kind: str
    source_scenario: int
    start_s: float
    dt_s: float
    fixed_max_mw: float
    fixed_energy_mws: float
    var_load_mw: list[float] = field(default_factory=list)
    var_since_outage_s: list[float] = field(default_factory=list)
    var_covered_s: list[float] = field(default_factory=list)
    peak_covered_mw: float = 0.0


@dataclass
class DemandGroup:
    """Demand charge ``charge`` of the tariff in month ``month`` (0 = January) of scenario ``scenario``:
    its peak is the largest import over ``steps_by_period`` (per member period, the steps within
    the charge's hours on the day types the period stands for in that month)."""

    scenario: int
    charge: int
    month: int
    usd_per_mw_month: float
    steps_by_period: list[tuple[int, ...]]


@dataclass
class ModelData:
    site: Site
    n_scenarios: int
    n_periods: int
    n_steps: int
    step_h: float
    load_mw: list[float]
    pv_mw: list[float]
    price_usd_per_mwh: list[float]
    import_limit_mw: list[float]
    phase: list[int]
    annual_weight: list[float]  # probability x days per year of the step's period [day/year]
    scenario_of: list[int]
    period_of: list[int]
    prev: list[int]
    explicit_event: list[bool]  # step belongs to a period that carries an explicit (hard) event
    event_ref: dict[int, int]  # step in an active curtailment -> step whose end is the call's start
    scenario_probability: list[float]
    transient: dict[str, list[float]]
    windows: list[Window]
    peak_load_mw: float
    q_grid_fixed_mvar: float
    q_grid_per_mw: float
    q_load_per_mw: float
    q_island_mvar: float
    fast_throughput_mwh_per_year: float
    fast_loss_mw: list[float]  # per energy scenario: round-trip losses of fast cycling, spread evenly [MW]
    explicit_event_field: dict[tuple[int, int], str]  # (scenario, period) -> "grid.events[i]"
    demand_groups: list[DemandGroup] = field(default_factory=list)
    demand_charge_labels: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.load_mw)


def _tan_phi(pf: float) -> float:
    return math.tan(math.acos(min(1.0, max(pf, 1e-9))))


def _floats(a) -> list[float]:
    return np.asarray(a, dtype=float).reshape(-1).tolist()


def _cube(ds, name, default=None):
    if name not in ds:
        if default is None:
            raise ValueError(f"energy dataset lacks variable {name!r} (docs/interfaces.md)")
        return np.full(ds["load_mw"].shape, default, dtype=float)
    return np.asarray(ds[name].transpose("scenario", "period", "step").values, dtype=float)


def _event_refs(phase: np.ndarray) -> dict[int, int]:
    """For every active-event step of one day, the step whose end marks the call's start (cyclic).

    A call starts at the first step with phase 2 after a step with another phase; the stored energy
    at that moment is the end of the step before it. The draw is measured from there, not from the
    notice's start: the replay's controller does not charge for a call in its notice (its import
    cap pre-ramps down and its setpoint stays in the operating band), so what the energy layer
    could charge in the notice is not credited against X_cu.
    """
    T = len(phase)
    out: dict[int, int] = {}
    active = phase == 2
    if not active.any():
        return out
    if active.all():
        ref = T - 1  # the whole stretch is the call: measure from its start (cyclic)
        return {t: ref for t in range(T)}
    for s in [t for t in range(T) if active[t] and not active[t - 1]]:
        ref = (s - 1) % T
        t = s
        while active[t]:
            out[t] = ref
            t = (t + 1) % T
            if t == s:
                break
    return out


def worst_window_start_s(times_s, values, duration_s: float) -> float:
    """Start of the ``duration_s`` window with the most energy in a zero-order-hold trace (held
    from each sample to the next, the last value beyond the end): the rolling maximum of
    A(s + D) - A(s), A the antiderivative. It is piecewise linear in s with kinks where s or s + D
    meets a sample time, so its maximum is at one of those starts."""
    t = np.asarray(times_s, dtype=float)
    v = np.asarray(values, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(v[:-1] * np.diff(t))])

    def antideriv(x):
        k = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.size - 1)
        return cum[k] + v[k] * (x - t[k])

    cand = np.concatenate([t, t - duration_s])
    cand = cand[(cand >= t[0]) & (cand <= t[-1])]
    energy = antideriv(cand + duration_s) - antideriv(cand)
    return float(cand[int(np.argmax(energy))])


def _contingency_windows(site: Site, windows, peak_mw: float) -> list[Window]:
    """Loss-of-grid and sag windows reduced for the constraints (module docstring), plus the design
    contingencies: an outage as long as the ride-through time and, with islanding, one lasting
    until generation carries the island, each followed by the reconnection ramp. The design load
    is the peak for the load model; for a measured trace it is the trace's own segment with the most
    energy over the outage (and P still covers the peak: a grid loss may come at that moment)."""
    rel = site.reliability
    lf = rel.ride_through.load_fraction
    rt_s = rel.ride_through.duration_s
    island = rel.islanding.required
    shed = rel.islanding.shed_fraction(site.load)
    shed_after_s = max(rt_s, rel.islanding.flexible_shed_delay_s)
    # import returns at reconnect_ramp_mw_per_min, never faster than the POI's own ramp limits (the
    # simulator's rule)
    g_ = site.grid
    rc_mw_per_s = min(g_.reconnect_ramp_mw_per_min, g_.ramp_limit_mw_per_min, 60.0 * g_.ramp_limit_mw_per_s) / 60.0
    starts = [g.start_time_s for g in site.thermal if g.existing_units + g.max_new_units > 0]
    gen_start_s = min(starts) if starts else math.inf
    sag_s = site.grid.voltage_sags.dip_duration_s[1]

    def reduce(label, kind, src, start_s, load, avail, dt):
        w = Window(label, kind, src, start_s, dt, 0.0, 0.0)
        since = math.inf  # seconds since the outage started (inf: no outage yet)
        back = None  # seconds since the grid returned after a covered outage (reconnecting)
        covered_to_end = False
        shed_share = 0.0  # share of the load shed in this island (it returns with import)
        k = 0
        while k < len(load) or back is not None:
            # a window that ends while import is still coming back: the load holds its last value
            L = load[min(k, len(load) - 1)]
            ga = avail[k] if k < len(avail) else 1
            k += 1
            if ga:
                if kind != "loss_of_grid" or since == math.inf:
                    since = math.inf  # a sag's dips are separate outages and invisible to the POI
                    continue
                if back is None:
                    if not covered_to_end:
                        since = math.inf
                        continue
                    back = 0.0
                since += dt
                back += dt
                # after the outage, import returns at reconnect_ramp_mw_per_min; the battery and
                # generation carry the rest (as in the simulator); flexible load shed in the island
                # comes back only with import
                need = lf * (1.0 - shed_share) * L - rc_mw_per_s * back
                if need <= 0.0:
                    back, since, covered_to_end = None, math.inf, False
                    continue
                cov = dt
            else:
                back = None  # lost again while import was coming back: the outage goes on
                if since == math.inf:
                    since, shed_share = 0.0, 0.0
                else:
                    since += dt
                if since < rt_s:
                    cov = min(dt, rt_s - since)
                    need = lf * L
                elif island:
                    cov = dt
                    shed_share = shed if since >= shed_after_s else 0.0
                    need = lf * (1.0 - shed_share) * L
                else:
                    covered_to_end = False
                    continue
                covered_to_end = since + dt <= rt_s + 1e-9 or island
            w.peak_covered_mw = max(w.peak_covered_mw, need)
            if since < gen_start_s:
                w.fixed_max_mw = max(w.fixed_max_mw, need)
                w.fixed_energy_mws += need * cov
            else:
                w.var_load_mw.append(float(need))
                w.var_since_outage_s.append(float(since))
                w.var_covered_s.append(float(cov))
        return w

    out: list[Window] = []
    if lf > 0 and (rt_s > 0 or island) and peak_mw > 0:
        outages = [rt_s] if rt_s > 0 else []
        if island:
            ready = [g.start_time_s + g.unit_mw / g.ramp_mw_per_s for g in site.thermal]
            outages.append(max([rt_s, site.scenarios.window_length_s] + [r + 1.0 for r in ready]))
        for outage_s in outages:
            n_out = max(1, int(math.ceil(outage_s - 1e-9)))
            n_back = int(math.ceil(lf * peak_mw / rc_mw_per_s)) + 1  # import back at the reconnection ramp
            if site.load.trace is None:
                load = [peak_mw] * (n_out + n_back)
            else:
                t, v = read_trace(site.load.trace)
                s0 = worst_window_start_s(t, v, float(n_out))
                load = zoh_bins(t, v, s0, 1.0, n_out + n_back)[0].tolist()
            where = "peak load" if site.load.trace is None else "the trace's worst window"
            w = reduce(f"design contingency: {outage_s:g} s outage at {where}", "loss_of_grid", -1, 0.0, load,
                       [0] * n_out + [1] * n_back, 1.0)
            if gen_start_s > 0:
                w.fixed_max_mw = max(w.fixed_max_mw, lf * peak_mw)  # a grid loss at the peak moment
            out.append(w)
    if windows is None or "window" not in windows.dims or windows.sizes["window"] == 0 or lf == 0:
        return out
    kinds = [str(k) for k in windows["kind"].values]
    tau = np.asarray(windows["tau"].values, dtype=float) if "tau" in windows.coords else None
    dt = float(tau[1] - tau[0]) if tau is not None and len(tau) > 1 else 1.0
    load = np.asarray(windows["load_mw"].values, dtype=float)
    avail = np.asarray(windows["grid_available"].values)
    src = windows["source_scenario"].values if "source_scenario" in windows.coords else np.full(len(kinds), -1)
    st = windows["start_s"].values if "start_s" in windows.coords else np.zeros(len(kinds))
    dur = windows["event_duration_s"].values if "event_duration_s" in windows.coords else np.zeros(len(kinds))
    for w, kind in enumerate(kinds):
        if kind not in CONTINGENCY_KINDS:
            continue
        # an outage no longer than a sag's dip is a sag to the controller: no reconnection ramp
        k = kind if not (kind == "loss_of_grid" and float(dur[w]) <= sag_s) else "voltage_sag"
        out.append(reduce(f"{kind} window {w} (scenario {int(src[w])}, t = {float(st[w]):.0f} s)", k,
                          int(src[w]), float(st[w]), load[w].tolist(), avail[w].tolist(), dt))
    return out


def _demand_groups(site: Site, calendar: np.ndarray, T: int, step_h: float) -> tuple[list[DemandGroup], list[str]]:
    """Every (scenario, charge, month) of the tariff's demand charges with the steps that may set its peak."""
    from bess_size.site_spec.tariff import site_tariff

    charges = site_tariff(site).demand_charges
    S, D = calendar.shape[:2]
    hour = np.minimum(np.floor(np.arange(T) * step_h + 1e-9).astype(int), 23)
    groups = []
    for s in range(S):
        for k, ch in enumerate(charges):
            for mo in ch.months():
                members = []
                for p in range(D):
                    hours = np.zeros(24, dtype=bool)
                    for dt in (0, 1):
                        if calendar[s, p, mo, dt] > 0:
                            hours |= ch.mask[mo, dt]
                    base = (s * D + p) * T
                    steps = tuple(base + t for t in range(T) if hours[hour[t]])
                    if steps:
                        members.append(steps)
                if members:
                    groups.append(DemandGroup(s, k, mo, ch.usd_per_mw_month, members))
    return groups, [c.label for c in charges]


def model_data(site: Site, scenarios) -> ModelData:
    """Flatten a ScenarioSet for the model; see the module docstring for the conventions."""
    en = scenarios.energy
    load = _cube(en, "load_mw")
    S, D, T = load.shape
    pv = _cube(en, "pv_mw", 0.0)
    price = _cube(en, "price_usd_per_mwh", float(site.grid.energy_price_usd_per_mwh)
                  if not isinstance(site.grid.energy_price_usd_per_mwh, str) else None)
    limit = _cube(en, "import_limit_mw", site.grid.total_import_mw)
    phase = _cube(en, "curtailment_phase", 0.0).astype(int)
    wdays = np.asarray(en["weight_days_per_year"].transpose("scenario", "period").values, dtype=float)
    prob = (np.asarray(en["scenario_probability"].values, dtype=float) if "scenario_probability" in en
            else np.full(S, 1.0 / S))
    explicit = (np.asarray(en["explicit_event"].transpose("scenario", "period").values, dtype=bool)
                if "explicit_event" in en else np.zeros((S, D), dtype=bool))
    step_h = float(en.attrs.get("step_h", 24.0 / T))
    # calendar days each period stands for; without it (older scenario files) every period stands for every month
    calendar = (np.asarray(en["calendar_days"].transpose("scenario", "period", "month", "day_type").values)
                if "calendar_days" in en else np.ones((S, D, 12, 2), dtype=np.int64))
    demand_groups, demand_labels = _demand_groups(site, calendar, T, step_h)

    idx = np.arange(S * D * T)
    cont = (np.asarray(en["continues_into_next"].transpose("scenario", "period").values, dtype=bool)
            if "continues_into_next" in en else np.zeros((S, D), dtype=bool))
    prev = idx - 1
    annual = (prob[:, None] * wdays)[:, :, None].repeat(T, axis=2)
    event_ref: dict[int, int] = {}
    for s in range(S):
        d = 0
        while d < D:
            # a chain of periods d..e (an event across midnight) is one cyclic stretch of stored energy
            e = d
            while e < D - 1 and cont[s, e]:
                e += 1
            base, n = (s * D + d) * T, (e - d + 1) * T
            prev[base] = base + n - 1
            for t, r in _event_refs(phase[s, d:e + 1].reshape(-1)).items():
                event_ref[base + t] = base + r
            d = e + 1

    tr = scenarios.transient
    names = ("discharge_residual_mw", "charge_residual_mw", "deficit_mwh", "surplus_mwh", "fast_throughput_mwh_per_day")
    n_tr = int(tr.sizes.get("scenario", S))
    transient = {k: (_floats(tr[k].values) if k in tr else [0.0] * n_tr) for k in names}
    fast = np.asarray(transient["fast_throughput_mwh_per_day"])
    # expected fast cycling: the energy scenarios' probabilities where the rows match them, else the mean
    fast_mwh_year = float(np.sum(prob * fast) if fast.size == S else fast.mean() if fast.size else 0.0) * 365.0
    # what fast cycling loses: X discharged at the terminals was X / eta_dis stored and needed
    # X / (eta_ch eta_dis) from the AC side to put back, so X (1 / (eta_ch eta_dis) - 1) a day comes
    # from the grid (or generation) on top of the load, spread over the day
    b = site.bess
    loss_per_mwh = 1.0 / (b.charge_efficiency * b.discharge_efficiency) - 1.0
    fast_day = fast if fast.size == S else np.full(S, fast.mean() if fast.size else 0.0)
    fast_loss_mw = (fast_day * loss_per_mwh / 24.0).tolist()

    win = getattr(scenarios, "windows", None)
    peak = float(load.max())
    if win is not None and "load_mw" in win and win["load_mw"].size:
        peak = max(peak, float(np.max(win["load_mw"].values)))
    if site.load.trace is None:
        # the load model never exceeds IT capacity x PUE, and a grid loss may come at that moment
        peak = max(peak, site.load.peak_mw)

    tan_l = _tan_phi(site.load.power_factor)
    tan_poi = _tan_phi(site.grid.poi_power_factor_min)
    # explicit curtailment events become periods (one per day they span) naming their grid.events entry;
    # older scenario files without event_index: the k-th explicit period is the k-th curtailment
    curt = [i for i, e in enumerate(site.grid.events) if e.kind == "curtailment"]
    ev_index = (np.asarray(en["event_index"].transpose("scenario", "period").values, dtype=np.int64)
                if "event_index" in en else None)
    event_field = {}
    for s_ in range(S):
        for k, p in enumerate(np.flatnonzero(explicit[s_])):
            i = int(ev_index[s_, p]) if ev_index is not None else (curt[k] if k < len(curt) else -1)
            event_field[(s_, int(p))] = f"grid.events[{i}]" if i >= 0 else "grid.events"
    return ModelData(
        site=site, n_scenarios=S, n_periods=D, n_steps=T, step_h=step_h,
        load_mw=_floats(load), pv_mw=_floats(pv), price_usd_per_mwh=_floats(price),
        import_limit_mw=_floats(limit), phase=phase.reshape(-1).tolist(), annual_weight=_floats(annual),
        scenario_of=(idx // (D * T)).tolist(), period_of=((idx // T) % D).tolist(), prev=prev.tolist(),
        explicit_event=explicit[:, :, None].repeat(T, axis=2).reshape(-1).tolist(), event_ref=event_ref,
        scenario_probability=prob.tolist(), transient=transient,
        windows=_contingency_windows(site, win, peak), peak_load_mw=peak,
        # grid-connected: q = L tan(phi_L) - (L - p) tan(phi_POI) at L = L_pk (may be negative: the
        # point Q = 0 covers max(0, .)) and at L = p (q = p tan(phi_L)); see the module docstring
        q_grid_fixed_mvar=peak * (tan_l - tan_poi), q_grid_per_mw=tan_poi, q_load_per_mw=tan_l,
        q_island_mvar=site.reliability.ride_through.load_fraction * peak * tan_l,
        fast_throughput_mwh_per_year=fast_mwh_year, fast_loss_mw=fast_loss_mw, explicit_event_field=event_field,
        demand_groups=demand_groups, demand_charge_labels=demand_labels,
    )
