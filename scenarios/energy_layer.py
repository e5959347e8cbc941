"""The energy layer (DESIGN 4, issue 3 point 5): representative days with weights.

Per optimizer scenario a synthetic year is drawn at the energy resolution (hourly by default) from
the same load model as the traces, rendered at that step (training jobs' stalls, checkpoints and
swings enter through their exact hourly means; inference with its diurnal and weekends; PV with
seasons and daily cloudiness; the price profile repeated). Its 365 days are reduced to
``representative_days`` typical days plus event days:

* **Typical days** by k-medoids on the days' hourly load, PV and price profiles (each scaled by
  its year-wide standard deviation). The day holding the year's peak load is an extreme period
  of its own weighted one day (never averaged away, like tsam's ``extremePeriodMethod="append"``),
  so the layer reproduces the annual peak exactly; ``representative_days - 1`` medoids cover
  the other days. Weights start as cluster sizes and are then moved, by the smallest relative
  change, so the weighted days reproduce the annual energy and sum to the days the event
  periods leave (see :func:`fit_weights`).
* **Event days**: ``MAX_EVENT_DAYS`` (or fewer) days of the synthetic year carrying one sampled
  curtailment each, weighted ``events_per_year / their number``: the expected occurrences.
* **Explicit** curtailment events from ``grid.events``: a period of their own, on the day of the
  year the scenario's trace places them, weighted ``occurrences_per_year``.

Weights sum to 365 days per scenario. The representation error is reported per scenario: the
relative error in annual energy and in peak load, the error of the load-duration curve, and the
factor by which the typical days were rescaled when weights alone could not reproduce the energy.

Why not tsam: tsam 4.1.1 (which has ``extremePeriodMethod``) pins ``highspy<=1.15.1`` and
``pandas<=3.0.5`` from above, while this project runs highspy 1.16 and pandas 3.1, and it pulls
scikit-learn in; a 50-line k-medoids over at most 366 days is exact, fast and has no pins.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import pdist, squareform

from .grid_events import PHASE_ACTIVE, PHASE_NOTICE, PHASE_RECOVERY
from .load_model import DAY_S, model_load_bins, read_trace
from .pv_price import price_bins, pv_bins
from .render import zoh_bins
from .rng import child, seed_sequence

MAX_EVENT_DAYS = 3  # [E] sampled curtailment days per scenario: enough spread, a small LP
KMEDOIDS_ITERATIONS = 50


# --------------------------------------------------------------------------- synthetic year


MIN_EVENT_STEP_S = 300.0  # [E] the layer refines its steps for explicit events down to 5 minutes


def energy_step_s(site) -> float:
    """The energy layer's step [s]: ``energy_resolution_min``, refined (to a divisor of a day) so that
    every explicit curtailment's notice start, start and end fall on step boundaries, down to
    ``MIN_EVENT_STEP_S`` (below that the calls' exact shares of a step still set the import limit)."""
    step = int(site.scenarios.energy_resolution_min * 60)
    c = site.grid.curtailment
    for e in site.grid.events:
        if e.kind != "curtailment":
            continue
        for t in (e.start_s, e.start_s + e.duration_s, e.start_s - c.notice_min * 60.0):
            t_s = int(round(t))
            if abs(t - t_s) < 1e-6:
                step = math.gcd(step, t_s % 86400) or step
    return float(max(step, MIN_EVENT_STEP_S))  # step divides 3600, so a day holds whole steps


def candidate_days(site, index: int, stream: str = "optimizer"):
    """(load, pv, price) as (n_days, steps_per_day) arrays at the energy step, and step_s.

    Model load: a synthetic 365-day year from the energy stream of scenario ``index``.
    Measured trace: its own whole days at the energy step (``as_given``; a trace shorter than a
    day is padded with its end value) or 365 days drawn from them with replacement
    (``bootstrap``).
    """
    step_s = energy_step_s(site)
    spd = int(round(DAY_S / step_s))
    seed = site.scenarios.seed
    ss = seed_sequence(seed, stream, index, "energy")
    if site.load.trace is None:
        n_days = 365
        load = model_load_bins(site, 0.0, step_s, n_days * spd, child_ss(ss, 0)).mean_mw.reshape(n_days, spd)
    else:
        t, v = read_trace(site.load.trace)
        span = t[-1] + (np.median(np.diff(t)) if t.size > 1 else step_s)
        n_src = max(1, min(366, int(math.floor(span / DAY_S + 1e-9))))
        src = zoh_bins(t, v, 0.0, step_s, n_src * spd)[0].reshape(n_src, spd)
        if site.load.trace_mode == "bootstrap":
            load = src[child(ss, 0).integers(0, n_src, 365)]
        else:
            load = src
        n_days = load.shape[0]
    pv = pv_bins(site, 0.0, step_s, n_days * spd, child_ss(ss, 1)).reshape(n_days, spd)
    price = price_bins(site, 0.0, step_s, n_days * spd).reshape(n_days, spd)
    return load, pv, price, step_s


def child_ss(ss: np.random.SeedSequence, *keys: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, *keys))


# --------------------------------------------------------------------------- k-medoids


def kmedoids(features: np.ndarray, k: int, fixed: list[int], rng) -> tuple[np.ndarray, np.ndarray]:
    """k-medoids (Voronoi iteration) with some medoids held fixed.

    Init: the fixed medoids, then k-medoids++ (each next medoid drawn with probability
    proportional to the squared distance to the nearest chosen one). Iterate: assign every day
    to its nearest medoid; in each free cluster move the medoid to the member with the smallest
    summed distance to the others; stop when nothing moves. Returns (medoid indices, labels).
    """
    n = features.shape[0]
    k = min(k, n)
    d = squareform(pdist(features))  # plain C loops (exact, no BLAS threads), each pair once
    medoids = list(dict.fromkeys(fixed))[:k]
    while len(medoids) < k:
        near = d[:, medoids].min(axis=1) if medoids else np.ones(n)
        p = near**2
        if p.sum() <= 0:
            rest = [i for i in range(n) if i not in medoids]
            medoids.append(rest[0])
            continue
        medoids.append(int(rng.choice(n, p=p / p.sum())))
    medoids = np.array(medoids)
    n_fixed = len(set(fixed))
    for _ in range(KMEDOIDS_ITERATIONS):
        labels = np.argmin(d[:, medoids], axis=1)
        new = medoids.copy()
        for c in range(n_fixed, k):
            members = np.flatnonzero(labels == c)
            if members.size:
                new[c] = members[np.argmin(d[np.ix_(members, members)].sum(axis=1))]
        if np.array_equal(new, medoids):
            break
        medoids = new
    labels = np.argmin(d[:, medoids], axis=1)
    return medoids, labels


def fit_weights(w0: np.ndarray, energy: np.ndarray, total_days: float, target_energy: float) -> np.ndarray:
    """The weights closest to ``w0`` with sum(w) = total_days and sum(w * energy) = target_energy.

    Closest in the relative sense, minimising sum((w - w0)^2 / w0), so every cluster's weight
    moves in proportion to its size (small clusters are not zeroed to fix the total):
    w = w0 + W A' (A W A')^-1 (b - A w0), W = diag(w0), A = [1; energy]. Weights that would go
    negative are pinned at zero and the rest re-solved (active set). When no nonnegative
    weights reach the target (it lies outside the days' energy range) the sizes are only
    rescaled to total_days and the gap is reported as representation error.
    """
    w0 = np.asarray(w0, dtype=float)
    fallback = w0 * total_days / max(w0.sum(), 1e-12)
    free = w0 > 0
    for _ in range(w0.size + 1):
        if not free.any():
            return fallback
        a = np.vstack([np.ones(free.sum()), energy[free]])
        scale = w0[free]
        gram = (a * scale) @ a.T
        b = np.array([total_days, target_energy])
        if np.linalg.matrix_rank(gram) < 2:  # the free days carry equal energy: scale only
            return fallback
        w_free = w0[free] + scale * (a.T @ np.linalg.solve(gram, b - a @ w0[free]))
        if (w_free >= 0).all():
            w = np.zeros_like(w0)
            w[free] = w_free
            return w
        idx = np.flatnonzero(free)
        free[idx[w_free < 0]] = False
    return fallback


# --------------------------------------------------------------------------- events in days


def event_phase(n: int, step_s: float, start_s: float, duration_s: float, notice_s: float, recovery_s: float):
    """(phase int8, active share) over ``n`` steps from t = 0 for an event at ``start_s``.

    A step that overlaps a phase gets it (active wins over notice over recovery), so the SoC
    floors relax over the whole of ``[start - notice, end + recovery]``; the share is the exact
    part of each step the call is active, so the import limit of a step is
    ``firm + nonfirm x (1 - share)`` on average and a 1 h call at 10:30 curtails 1 h, not 2.
    """
    phase = np.zeros(n, dtype=np.int8)
    edges = step_s * np.arange(n + 1)

    def mark(a, b, value):
        sel = (edges[1:] > a) & (edges[:-1] < b)
        phase[sel] = value

    mark(start_s + duration_s, start_s + duration_s + recovery_s, PHASE_RECOVERY)
    mark(start_s - notice_s, start_s, PHASE_NOTICE)
    mark(start_s, start_s + duration_s, PHASE_ACTIVE)
    share = np.clip(np.minimum(edges[1:], start_s + duration_s) - np.maximum(edges[:-1], start_s), 0.0, None) / step_s
    return phase, share


MAX_CHAIN_DAYS = 4  # [E] an explicit event's notice, call and recovery span at most this many days


def event_periods(day: int, start_s: float, duration_s: float, notice_s: float, recovery_s: float, spd: int,
                  step_s: float, n_days: int) -> list[tuple[int, np.ndarray, np.ndarray, int]]:
    """The consecutive days an event's notice, call and recovery span (``start_s`` from midnight of
    ``day``), as [(candidate day, phase, active share, continues into the next)]: an event that
    crosses midnight is modelled whole, its days chained so stored energy runs through them."""
    first = int(math.floor((start_s - notice_s) / DAY_S))
    last = int(math.ceil((start_s + duration_s + recovery_s) / DAY_S - 1e-9))
    first = min(first, 0)
    last = min(max(last, 1), first + MAX_CHAIN_DAYS)
    span = last - first
    phase, share = event_phase(span * spd, step_s, start_s - first * DAY_S, duration_s, notice_s, recovery_s)
    return [((day + first + j) % n_days, phase[j * spd:(j + 1) * spd], share[j * spd:(j + 1) * spd],
             int(j < span - 1)) for j in range(span)]


def sampled_event_days(site, n_days: int, rng, step_s: float = 0.0):
    """[(day, start_s, duration_s)] for the sampled curtailment days; starts fit the notice,
    event and recovery inside the day where they can; with ``step_s`` start and duration are
    rounded to the step grid."""
    c = site.grid.curtailment
    if c.events_per_year <= 0 or n_days == 0:
        return []
    m = min(MAX_EVENT_DAYS, max(1, math.ceil(c.events_per_year)), n_days)
    days = rng.choice(n_days, size=m, replace=False)
    out = []
    notice, recovery = c.notice_min * 60.0, c.recovery_h * 3600.0
    for day in sorted(int(x) for x in days):
        dur = min(float(rng.uniform(*c.duration_h)) * 3600.0, DAY_S)
        lo, hi = notice, DAY_S - dur - recovery
        if hi < lo:  # the whole sequence does not fit: keep the event itself in the day
            lo, hi = 0.0, DAY_S - dur
        start = float(rng.uniform(lo, hi))
        if step_s:
            # drawn on the step grid (nearest; unbiased in mean), so a call covers whole steps and is
            # modelled for exactly its drawn time
            dur = min(max(step_s, step_s * round(dur / step_s)), DAY_S)
            start = min(max(0.0, step_s * round(start / step_s)), DAY_S - dur)
        out.append((day, start, dur))
    return out


# --------------------------------------------------------------------------- calendar


def calendar_days(period_of_day: np.ndarray, event_days: list[int], n_typical: int) -> np.ndarray:
    """(period, month, day type) counts of the calendar days each period stands for.

    Calendar day ``c`` of the 365-day year is candidate day ``c % n_days`` (a measured trace
    shorter than a year repeats), which belongs to one typical or peak period; an event period
    stands for its own day. Monthly and time-of-use demand charges are billed on the peak of
    the periods that stand for a day of that month and day type (so the peak day is charged in
    its own month only).
    """
    from bess_size.site_spec.tariff import day_type_of_day, month_of_day

    out = np.zeros((n_typical + len(event_days), 12, 2), dtype=np.int64)
    cal = np.arange(365)
    np.add.at(out, (period_of_day[cal % period_of_day.size], month_of_day(cal), day_type_of_day(cal)), 1)
    for j, day in enumerate(event_days):
        out[n_typical + j, month_of_day(day), day_type_of_day(day)] += 1
    return out


# --------------------------------------------------------------------------- one scenario


def representative_periods(site, index: int, trace_start_day: int, stream: str = "optimizer") -> dict:
    """The energy layer of one scenario: arrays over (period, step) and per-period weights."""
    sc, g = site.scenarios, site.grid
    load, pv, price, step_s = candidate_days(site, index, stream)
    n_days, spd = load.shape
    rng = np.random.default_rng(child_ss(seed_sequence(sc.seed, stream, index, "energy"), 2))
    total_import = g.firm_import_mw + g.nonfirm_import_mw

    # typical days; the peak day is an extreme period of its own, weighted one day a year
    scale = lambda a: a / (a.std() if a.std() > 0 else 1.0)  # noqa: E731
    day_energy = load.sum(axis=1)
    # the day's energy as a feature worth a whole profile, so clusters (and their medoids) spread
    # over the energy range and the weights can reproduce the annual energy
    e_feat = scale(day_energy - day_energy.mean())[:, None] * np.sqrt(spd)
    feats = np.hstack([scale(load), scale(pv), scale(price), e_feat])
    peak_day = int(np.argmax(load.max(axis=1)))
    others = np.array([d for d in range(n_days) if d != peak_day], dtype=np.int64)
    k = min(sc.representative_days, n_days)
    period_of_day = np.zeros(n_days, dtype=np.int64)  # the typical or peak period each candidate day belongs to
    if k >= 2 and others.size:
        med, labels = kmedoids(feats[others], k - 1, [], rng)
        medoids = np.concatenate([others[med], [peak_day]])
        sizes = np.concatenate([np.bincount(labels, minlength=k - 1).astype(float), [1.0]])
        period_of_day[others] = labels
        period_of_day[peak_day] = k - 1
    else:  # one representative day: the peak day stands for the whole year
        medoids, sizes = np.array([peak_day]), np.array([float(n_days)])
    k = medoids.size

    # event periods: (day, phase, weight, kind, explicit, active share, continues, event index)
    c = g.curtailment
    notice_s, recovery_s = c.notice_min * 60.0, c.recovery_h * 3600.0
    ev_days = sampled_event_days(site, n_days, rng, step_s)
    periods = []
    for day, start, dur in ev_days:
        ph, share = event_phase(spd, step_s, start, dur, notice_s, recovery_s)
        periods.append((day, ph, c.events_per_year / len(ev_days), "curtailment", 0, share, 0, -1))
    for i, e in enumerate(g.events):
        if e.kind != "curtailment":
            continue
        day = (trace_start_day + int(e.start_s // DAY_S)) % n_days
        for d_, ph, share, cont in event_periods(day, e.start_s % DAY_S, e.duration_s, notice_s, recovery_s,
                                                 spd, step_s, n_days):
            periods.append((d_, ph, float(e.occurrences_per_year), "explicit_curtailment", 1, share, cont, i))
    event_weight = sum(p[2] for p in periods)
    typical_days = max(365.0 - event_weight, 0.0)

    daily_energy = load.sum(axis=1) * step_s / 3600.0  # MWh per candidate day
    year_energy = daily_energy.mean() * 365.0
    target = year_energy - sum(p[2] * daily_energy[p[0]] for p in periods)
    w0 = sizes * typical_days / n_days
    if k > 1:  # the peak day keeps its one day; the typical days absorb the energy fit
        w = np.concatenate([fit_weights(w0[:-1], daily_energy[medoids[:-1]], typical_days - w0[-1],
                                        target - w0[-1] * daily_energy[peak_day]), w0[-1:]])
    else:
        w = w0

    days = [int(m) for m in medoids] + [p[0] for p in periods]
    weights = np.concatenate([w, [p[2] for p in periods]])
    rep_load = load[days].copy()
    # When no nonnegative weights reach the annual energy (the medoids all lie on one side of it),
    # scale the typical days' load to close the gap, as tsam's rescaleClusterPeriods does; the
    # peak and event days keep their real values. The factor is reported.
    n_typ = k - 1 if k > 1 else k
    got = float((w[:n_typ] * daily_energy[medoids[:n_typ]]).sum())
    want = target - float((w[n_typ:k] * daily_energy[medoids[n_typ:k]]).sum())
    rescale = want / got if got > 0 and want > 0 else 1.0
    if abs(rescale - 1.0) > 1e-12:
        lo_b, hi_b = (site.load.min_load_mw, site.load.peak_mw) if site.load.trace is None else (0.0, np.inf)
        rep_load[:n_typ] = np.clip(rep_load[:n_typ] * rescale, lo_b, hi_b)
    rep_daily = rep_load.sum(axis=1) * step_s / 3600.0
    kinds = ["peak" if m == peak_day else "typical" for m in medoids] + [p[3] for p in periods]
    phase = np.zeros((len(days), spd), dtype=np.int8)
    share = np.zeros((len(days), spd))
    for j, p in enumerate(periods):
        phase[k + j] = p[1]
        share[k + j] = p[5]
    limit = total_import - g.nonfirm_import_mw * share

    calendar = calendar_days(period_of_day, [p[0] for p in periods], k)

    rep_energy = float((weights * rep_daily).sum())
    rep_peak = float(rep_load.max())
    year_peak = float(load.max())
    # load-duration curve: the weighted representative hours against the year's, on 100 quantiles
    q = np.linspace(0, 1, 101)
    hours_w = np.repeat(weights / max(weights.sum(), 1e-12), spd)
    rep_vals = rep_load.ravel()
    order = np.argsort(rep_vals)
    cdf = np.cumsum(hours_w[order])
    rep_curve = np.interp(q, cdf / cdf[-1], rep_vals[order])
    year_curve = np.quantile(load.ravel(), q)
    ldc_err = float(np.sqrt(np.mean((rep_curve - year_curve) ** 2)) / max(year_curve.mean(), 1e-12))
    return {
        "load_mw": rep_load,
        "pv_mw": pv[days],
        "price_usd_per_mwh": price[days],
        "import_limit_mw": limit,
        "curtailment_phase": phase,
        "weight_days_per_year": weights,
        "explicit_event": np.array([0] * k + [p[4] for p in periods], dtype=np.int8),
        "continues_into_next": np.array([0] * k + [p[6] for p in periods], dtype=np.int8),
        "event_index": np.array([-1] * k + [p[7] for p in periods], dtype=np.int64),
        "period_kind": np.array(kinds, dtype=object),
        "day_of_year": np.array(days, dtype=np.int64),
        "calendar_days": calendar,
        "error_energy": abs(rep_energy - year_energy) / max(year_energy, 1e-12),
        "error_peak": abs(rep_peak - year_peak) / max(year_peak, 1e-12),
        "error_duration_curve": ldc_err,
        "energy_rescale": rescale - 1.0,
        "step_s": step_s,
    }
