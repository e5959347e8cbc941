"""The optimizer's view of a site and its scenarios: flat arrays of Python floats, computed once.

``ModelData`` reads the ScenarioSet of docs/interfaces.md (``energy``, ``transient``, ``windows``)
and the Site, and precomputes everything the constraint families need, so that building the Pyomo
model is a loop over plain lists (the fast way: no xarray or numpy scalars inside rules).

Energy layer: the (scenario, period, step) cube is flattened to one index ``i``; ``prev[i]`` is the
previous step of the same representative day, cyclically (SoC and commitment are cyclic per day).

Contingency windows: the loss-of-grid and voltage-sag windows of the scenarios plus one *design*
window at the largest load the scenarios show (a grid loss may come at any moment, so the
ride-through requirement is sized at the peak, not only at the sampled times; the peak is
``load.peak_mw`` = IT capacity x PUE for the load model, the largest measured value for a trace).
In each window the
seconds the BESS must cover are those without grid within ``ride_through.duration_s`` of the start
of that outage (or the whole outage with ``islanding.required``); the load to cover is
``load_fraction * L`` during ride-through and ``load_fraction * (1 - flexible.max_fraction) * L``
in the islanding bridge after it (the site sheds its flexible load once islanded, the same share
the islanding capacity rule leaves out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bess_size.site_spec import Site

CONTINGENCY_KINDS = ("loss_of_grid", "voltage_sag")


@dataclass
class Window:
    """One contingency window reduced to what the ride-through constraints need.

    ``fixed_*`` are the covered seconds where no generator can have started yet, so the BESS residual
    is a known number; ``var_*`` are the covered seconds where generation may help (one variable each).
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
    event_ref: dict[int, int]  # step in an active curtailment -> step whose end is the notice start
    scenario_probability: list[float]
    transient: dict[str, list[float]]
    windows: list[Window]
    peak_load_mw: float
    q_grid_fixed_mvar: float
    q_grid_per_mw: float
    q_island_mvar: float
    fast_throughput_mwh_per_year: float
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
    """For every active-event step of one day, the step whose end marks the notice start (cyclic).

    The notice starts at the first step with phase 1 or 2 after a step with phase 0 or 3; the
    stored energy at that moment is the end of the step before it.
    """
    T = len(phase)
    out: dict[int, int] = {}
    announced = (phase == 1) | (phase == 2)
    if not announced.any():
        return out
    if announced.all():
        ref = T - 1  # the whole day is notice/event: measure from the day's start
        return {t: ref for t in range(T) if phase[t] == 2}
    starts = [t for t in range(T) if announced[t] and not announced[t - 1]]
    for s in starts:
        ref = (s - 1) % T
        t = s
        while announced[t]:
            if phase[t] == 2:
                out[t] = ref
            t = (t + 1) % T
            if t == s:
                break
    return out


def _contingency_windows(site: Site, windows, peak_mw: float) -> list[Window]:
    rel = site.reliability
    lf = rel.ride_through.load_fraction
    rt_s = rel.ride_through.duration_s
    island = rel.islanding.required
    flex = site.load.flexible.max_fraction if site.load.flexible else 0.0
    starts = [g.start_time_s for g in site.thermal if g.existing_units + g.max_new_units > 0]
    gen_start_s = min(starts) if starts else math.inf

    def reduce(label, kind, src, start_s, load, avail, dt):
        w = Window(label, kind, src, start_s, dt, 0.0, 0.0)
        since = math.inf
        for k in range(len(load)):
            if avail[k]:
                # a sag's dips are separate outages; a loss of grid is one outage
                if kind != "loss_of_grid":
                    since = math.inf
                continue
            since = 0.0 if since == math.inf else since + dt
            if since < rt_s:
                need = lf * load[k]
            elif island:
                need = lf * (1.0 - flex) * load[k]
            else:
                continue
            w.peak_covered_mw = max(w.peak_covered_mw, need)
            if since < gen_start_s:
                w.fixed_max_mw = max(w.fixed_max_mw, need)
                w.fixed_energy_mws += need * dt
            else:
                w.var_load_mw.append(float(need))
                w.var_since_outage_s.append(float(since))
        return w

    out: list[Window] = []
    if lf > 0 and (rt_s > 0 or island) and peak_mw > 0:
        length = rt_s
        if island:
            ready = [g.start_time_s + g.unit_mw / g.ramp_mw_per_s for g in site.thermal]
            length = max([rt_s, site.scenarios.window_length_s] + [r + 1.0 for r in ready])
        n = max(1, int(math.ceil(length)))
        out.append(reduce("design contingency at peak load", "loss_of_grid", -1, 0.0,
                          [peak_mw] * n, [0] * n, 1.0))
    if windows is None or "window" not in windows.dims or windows.sizes["window"] == 0 or lf == 0:
        return out
    kinds = [str(k) for k in windows["kind"].values]
    tau = np.asarray(windows["tau"].values, dtype=float) if "tau" in windows.coords else None
    dt = float(tau[1] - tau[0]) if tau is not None and len(tau) > 1 else 1.0
    load = np.asarray(windows["load_mw"].values, dtype=float)
    avail = np.asarray(windows["grid_available"].values)
    src = windows["source_scenario"].values if "source_scenario" in windows.coords else np.full(len(kinds), -1)
    st = windows["start_s"].values if "start_s" in windows.coords else np.zeros(len(kinds))
    for w, kind in enumerate(kinds):
        if kind not in CONTINGENCY_KINDS:
            continue
        out.append(reduce(f"{kind} window {w} (scenario {int(src[w])}, t = {float(st[w]):.0f} s)", kind,
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
    t_of = idx % T
    prev = np.where(t_of == 0, idx + T - 1, idx - 1)
    annual = (prob[:, None] * wdays)[:, :, None].repeat(T, axis=2)
    event_ref: dict[int, int] = {}
    for s in range(S):
        for d in range(D):
            base = (s * D + d) * T
            for t, r in _event_refs(phase[s, d]).items():
                event_ref[base + t] = base + r

    tr = scenarios.transient
    names = ("discharge_residual_mw", "charge_residual_mw", "deficit_mwh", "surplus_mwh", "fast_throughput_mwh_per_day")
    n_tr = int(tr.sizes.get("scenario", S))
    transient = {k: (_floats(tr[k].values) if k in tr else [0.0] * n_tr) for k in names}
    fast = np.asarray(transient["fast_throughput_mwh_per_day"])
    # expected fast cycling: the energy scenarios' probabilities where the rows match them, else the mean
    fast_mwh_year = float(np.sum(prob * fast) if fast.size == S else fast.mean() if fast.size else 0.0) * 365.0

    win = getattr(scenarios, "windows", None)
    peak = float(load.max())
    if win is not None and "load_mw" in win and win["load_mw"].size:
        peak = max(peak, float(np.max(win["load_mw"].values)))
    if site.load.trace is None:
        # the load model never exceeds IT capacity x PUE, and a grid loss may come at that moment
        peak = max(peak, site.load.peak_mw)

    tan_l = _tan_phi(site.load.power_factor)
    tan_poi = _tan_phi(site.grid.poi_power_factor_min)
    # explicit curtailment events become periods in the order of grid.events (docs/interfaces.md):
    # the k-th explicit period of a scenario is the k-th curtailment of the list
    curt = [i for i, e in enumerate(site.grid.events) if e.kind == "curtailment"]
    event_field = {}
    for s_ in range(S):
        for k, p in enumerate(np.flatnonzero(explicit[s_])):
            event_field[(s_, int(p))] = f"grid.events[{curt[k]}]" if k < len(curt) else "grid.events"
    return ModelData(
        site=site, n_scenarios=S, n_periods=D, n_steps=T, step_h=step_h,
        load_mw=_floats(load), pv_mw=_floats(pv), price_usd_per_mwh=_floats(price),
        import_limit_mw=_floats(limit), phase=phase.reshape(-1).tolist(), annual_weight=_floats(annual),
        scenario_of=(idx // (D * T)).tolist(), period_of=((idx // T) % D).tolist(), prev=prev.tolist(),
        explicit_event=explicit[:, :, None].repeat(T, axis=2).reshape(-1).tolist(), event_ref=event_ref,
        scenario_probability=prob.tolist(), transient=transient,
        windows=_contingency_windows(site, win, peak), peak_load_mw=peak,
        # grid-connected: the BESS supplies what the POI may not carry at its minimum power factor,
        # q = L tan(phi_L) - (L - p) tan(phi_POI), taken at the peak load (conservative)
        q_grid_fixed_mvar=max(0.0, peak * (tan_l - tan_poi)), q_grid_per_mw=tan_poi,
        q_island_mvar=site.reliability.ride_through.load_fraction * peak * tan_l,
        fast_throughput_mwh_per_year=fast_mwh_year, explicit_event_field=event_field,
        demand_groups=demand_groups, demand_charge_labels=demand_labels,
    )
