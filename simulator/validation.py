"""Replay a Design over held-out scenarios and judge every requirement (DESIGN sections 7 and 9).

``simulate(site, design)`` replays ``scenario_trace(site, "held_out", i)`` for every held-out
scenario with the compiled controller, checks each requirement of the site per scenario, and
returns a :class:`Validation`: the checks (pass/fail, measured, limit, unit, success rate and its
Wilson lower bound), annual results beside the optimizer's promises, per-scenario figures, and
the small ``timeseries.nc`` (worst windows at full resolution, hourly aggregates, POI-ramp
histogram).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import xarray as xr

from ..io import atomic_path
from . import kernel as K
from .checks import Check, wilson_lower_bound
from .controller import BandEnergies, replay_arrays, stress_points
from .redundancy import Redundancy, redundancy_check
from .metrics import (active_steps, calendar_life_used_per_year, contingency_curtailment, curtailment_response,
                      curtailment_row, forced_events, natural_rate_parts, stress_row, summarize)
from .replays import feed_variants, replay_variants
from .trace_source import HeldOutTrace, stress_variant, without_call, without_outage

Progress = Callable[[int, int], None]

#: Annual results, their units, and the promise keys of design.json they are compared with.
RESULT_UNITS = {
    "poi_ramp_violation_mw_s_per_year": "MW·s/year",
    "poi_ramp_violation_seconds_per_year": "s/year",
    "import_limit_violation_mw_s_per_year": "MW·s/year",
    "unserved_energy_mwh_per_year": "MWh/year",
    "flexible_load_shed_mwh_per_year": "MWh/year",
    "grid_import_mwh_per_year": "MWh/year",
    "generation_mwh_per_year": "MWh/year",
    "energy_cost_usd_per_year": "USD/year",
    "fuel_cost_usd_per_year": "USD/year",
    "start_cost_usd_per_year": "USD/year",
    "generator_starts_per_year": "1/year",
    "bess_throughput_mwh_per_year": "MWh/year",
    "equivalent_full_cycles_per_year": "1/year",
    "cycle_life_used_per_year": "fraction/year",
    "calendar_life_used_per_year": "fraction/year",
    "life_used_per_year": "fraction/year",
    "pv_curtailed_mwh_per_year": "MWh/year",
    "grid_only_energy_cost_usd_per_year": "USD/year",
}


#: promises and replay differing by more than this share are flagged with their likely cause
GAP_FLAG = 0.25
_DISPATCH = ("dispatch: the optimizer plans units against import with foresight over representative days and a "
             "continuous unit count; the replay's controller has no foresight, runs units whose fuel is cheaper "
             "than the price, commits them for the recent peak and holds the POI to its ramp rules")
#: the cause of the same gaps on a site with demand charges and units (campus-300mw-phased: 13.6 x the import)
_DEMAND = ("demand charges: the optimizer also runs units where their fuel is dearer than the energy price, to keep "
           "each month's peak import (which the demand charges price) down; the replay's controller runs units only "
           "where fuel is cheaper than the energy price and imports in the other hours. " + _DISPATCH)
_DEMAND_KEYS = ("grid_import_mwh_per_year", "energy_cost_usd_per_year", "generation_mwh_per_year",
                "fuel_cost_usd_per_year")
LIKELY_CAUSE = {
    "grid_import_mwh_per_year": _DISPATCH, "energy_cost_usd_per_year": _DISPATCH,
    "generation_mwh_per_year": _DISPATCH, "fuel_cost_usd_per_year": _DISPATCH,
    "generator_starts_per_year": "commitment: the optimizer counts starts of a continuous unit count (whole starts only "
                                 "with --integer-commitment); the replay starts whole units, for swings, calls and, at "
                                 "their natural rates, contingencies",
    "start_cost_usd_per_year": "commitment: see generator_starts_per_year",
    "bess_throughput_mwh_per_year": "cycling: the optimizer's throughput is its hourly dispatch plus screened fast "
                                    "cycling; the replay counts every step and the swings within steps, and its "
                                    "controller steers stored energy differently",
    "equivalent_full_cycles_per_year": "cycling: see bess_throughput_mwh_per_year",
    "poi_ramp_violation_mw_s_per_year": "generalisation: requirements are hard on the optimizer's scenarios only; "
                                        "the held-out replay found more (see the poi_ramp checks)",
    "import_limit_violation_mw_s_per_year": "generalisation: see the import_limit check",
    "unserved_energy_mwh_per_year": "generalisation: see the unserved_energy and islanding checks",
    "flexible_load_shed_mwh_per_year": "islands: the replay sheds flexible load after the ride-through period until "
                                       "the units carry the load; calls: where the battery and units fall short",
    "pv_curtailed_mwh_per_year": "PV: the replay curtails PV the battery cannot take at its power or stored-energy "
                                 "limit second by second; the optimizer sees hourly PV",
}


@dataclass
class Validation:
    """The evidence for one design: what `validation.json` and `timeseries.nc` hold."""

    site_name: str
    design: object  # site_spec.Design
    checks: list[Check]
    results: dict[str, float]
    scenarios: list[dict]
    timeseries: dict[str, xr.Dataset]
    target_success_rate: float
    trace_days: float
    not_exercised: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)  # requirement -> why the site cannot exercise it
    degradation_model: str = ""  # the ageing model and parameters the life estimate used
    demand_charged_units: bool = False  # the site has demand charges and units that could cut the monthly peaks

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def held_out_scenarios(self) -> int:
        return len(self.scenarios)

    def promises_vs_results(self) -> list[dict]:
        """Both figures, their ratio (replay / promise) and, where they differ by more than
        ``GAP_FLAG`` (or one is zero and the other not), a flag with the likely cause."""
        promises = dict(getattr(self.design, "promises", {}) or {})
        keys = list(promises) + [k for k in self.results if k not in promises]
        rows = []
        for k in keys:
            p, r = promises.get(k), self.results.get(k)
            ratio = flag = None
            if p is not None and r is not None:
                if abs(p) > 1e-9:
                    ratio = r / p
                    gap = abs(ratio - 1.0) > GAP_FLAG
                else:
                    gap = abs(r) > 1e-6
                if gap:
                    flag = LIKELY_CAUSE.get(k, "not attributed: compare the optimizer's and the replay's definitions")
                    if self.demand_charged_units and k in _DEMAND_KEYS:
                        flag = _DEMAND
            rows.append({"key": k, "promised": p, "simulated": r, "unit": RESULT_UNITS.get(k, ""),
                         "ratio": ratio, "flag": flag})
        return rows

    def metrics(self) -> dict:
        """Figures over all held-out scenarios that are not annual rates (extremes and totals)."""
        rows = self.scenarios

        def extreme(key, fn):
            vals = [r[key] for r in rows if r.get(key) is not None]
            return _json_num(fn(vals)) if vals else None

        used = self.results.get("cycle_life_used_per_year", 0.0)
        life = self.results.get("life_used_per_year", used)
        return {
            "lowest_soc_in_contingency_fraction": extreme("lowest_soc_contingency_fraction", min),
            "lowest_stored_mwh": extreme("stored_min_mwh", min),
            "highest_stored_mwh": extreme("stored_max_mwh", max),
            "band_excursion_s": extreme("band_excursion_s", sum),
            "worst_poi_ramp_mw_per_s": extreme("ramp_worst_mw_per_s", max),
            "worst_poi_change_mw_per_min": extreme("ramp_worst_mw_per_min", max),
            "ramp_violation_steps": extreme("ramp_violation_steps", sum),
            "import_violation_steps": extreme("import_violation_steps", sum),
            "peak_import_mw": extreme("import_peak_mw", max),
            "unserved_mwh": extreme("unserved_mwh", sum),
            "longest_restoration_after_loss_of_grid_s": extreme("restoration_max_s", max),
            "loss_of_grid_events": extreme("loss_of_grid_events", sum),
            "voltage_sag_dips": extreme("voltage_sag_dips", sum),
            "curtailment_events": extreme("curtailment_events", sum),
            "rainflow_cycles": extreme("rainflow_cycles", sum),
            "years_to_end_of_life_by_cycling": (1.0 / used) if used > 0 else None,
            # an estimate from the spec's cycle-life curve and calendar fade, not a measurement
            "years_to_end_of_life_estimate": (1.0 / life) if life > 0 else None,
        }

    def to_dict(self) -> dict:
        return {
            "site": self.site_name,
            "design": self.design.model_dump(mode="json"),
            "held_out_scenarios": self.held_out_scenarios,
            "trace_days": self.trace_days,
            "target_success_rate": self.target_success_rate,
            "checks": [c.to_dict() for c in self.checks],
            "passed": self.passed,
            "not_exercised": self.not_exercised,
            "not_applicable": self.not_applicable,
            "stress_state": {
                "loss_of_grid_and_sag": "stored energy at the ride-through reserve's top (soc_min x E + ride-through "
                                        "reserve), generation cold except units carrying load above the import limit",
                "curtailment_call": "stored energy at soc_min x E + ride-through reserve + up-ramp buffer + "
                                    "curtailment reserve when the call is announced, generation cold likewise; a call is judged "
                                    "in its own stress state (a sag or loss of grid inside it is judged apart, "
                                    "not stacked on it)",
                "judged": "ride_through, voltage_sag_ride_through, islanding, curtailment_response and reactive_power "
                          "judge the stress replay; each carries the natural replay's figures in detail.natural",
            },
            "results": self.results,
            "metrics": self.metrics(),
            "promises": dict(self.design.promises),
            "promises_vs_results": self.promises_vs_results(),
            "controller": {
                "replayed_at": "end of life (stored energy within soc_min x E + the end-of-life usable span)",
                "foresight": "none: past steps and announced curtailment notices only",
                "priorities": ["loss of grid and sags: battery serves the load, generation starts",
                               "POI ramp and import limits through the shared POI policy",
                               "curtailment: pre-ramp within the notice, commit generation, draw the reserve",
                               "SoC recovery to the setpoint", "economics: setpoint with price, cheap units run"],
                "units": "a unit no longer needed hands its load back at the POI's steady ramp rate, idles at its "
                         "minimum load for the site's longest start time, then stops",
                "restoration": "after a loss of grid, load the battery cannot carry is held back until import "
                               "returns at the reconnection ramp and the ride-through reserve is refilled",
                "degradation_scope": "cycling (rainflow on every reversal of stored energy, sub-step swings' losses "
                                     "included) and calendar fade; an estimate from the spec's parameters",
                "degradation_model": self.degradation_model,
            },
            "notes": self.notes,
            "scenarios": [{k: _json_num(v) for k, v in row.items()} for row in self.scenarios],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_num)

    def to_dataframe(self) -> pd.DataFrame:
        """The checks as a table (one row per requirement)."""
        return pd.DataFrame([c.to_dict() for c in self.checks]).drop(columns=["detail"])

    def scenarios_dataframe(self) -> pd.DataFrame:
        return pd.DataFrame(self.scenarios).set_index("scenario")

    def write_timeseries(self, path: str | Path) -> None:
        """``timeseries.nc``: one netCDF group per dataset (windows, hourly, poi_ramp), atomically."""
        with atomic_path(path) as tmp:
            mode = "w"
            for name, ds in self.timeseries.items():
                ds.to_netcdf(tmp, mode=mode, group=name, engine="h5netcdf")
                mode = "a"


def _json_num(v):
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


# --------------------------------------------------------------------------- the replay


def _held_out_count(site, held_out) -> int:
    """How many held-out traces to replay: ``site.scenarios.held_out``, the count, or the traces given."""
    if held_out is None or isinstance(held_out, (int, np.integer)):
        n = site.scenarios.held_out if held_out is None else int(held_out)
        if n < 1:
            raise ValueError(f"held_out must be at least 1, got {n}")
        return n
    if not list(held_out):
        raise ValueError("held_out is an empty list; give traces or a count")
    return len(list(held_out))


@dataclass
class _Candidate:
    score: float
    scenario: int
    start_step: int


@dataclass
class _Part:
    """What one chunk of held-out scenarios gives :func:`simulate`: per scenario its row, hourly
    aggregates and POI-ramp histogram (in scenario order), and the chunk's worst window per kind."""

    rows: list[dict]
    rate_parts: list[list[dict]]
    hourly: list[np.ndarray]
    ramp_hists: list[np.ndarray]
    best: dict[str, _Candidate]


def simulate(site, design, *, held_out=None, progress: Progress | None = None, first: int = 0,
             client=None) -> "Validation":
    """Replay ``design`` on held-out scenarios of ``site`` and check every requirement.

    Parameters
    ----------
    site : Site
    design : Design (design.json from any source)
    held_out : None (``site.scenarios.held_out`` traces from the held-out stream), an int (that
        many), or a sequence of trace Datasets (docs/interfaces.md trace contract).
    progress : optional callable ``progress(done, total)`` called after each scenario (after each
        chunk with a client).
    client : a Dask client (``bess_size.parallel.client``): the scenarios are replayed in chunks on
        its workers and merged in scenario order, giving the serial result bit for bit.
    first : index of the first held-out trace in the held-out stream (a fresh draw: ``first`` beyond
        every index used before, e.g. by ``--refine``).
    """
    from ..parallel import chunks, map_in_order
    from . import warmup

    warmup.wait()  # a kernel being compiled by `run`'s helper process: load it, do not compile it twice
    if first and not (held_out is None or isinstance(held_out, (int, np.integer))):
        raise ValueError("first applies to the held-out stream, not to given traces")
    missing = [k for k in ("bands_mwh", "inverter_rating_mva") if getattr(design.bess, k) is None]
    if missing:
        raise ValueError(f"design.bess lacks {', '.join(missing)}: complete a minimal design first "
                         "(bess_size.design_check.with_site_defaults and complete_design, as `bess-size simulate` does)")
    n = _held_out_count(site, held_out)
    given = None if held_out is None or isinstance(held_out, (int, np.integer)) else list(held_out)
    dt = float(site.scenarios.transient_resolution_s)
    window_steps = max(1, int(round(site.scenarios.window_length_s / dt)))
    pieces = chunks(range(int(first), int(first) + n), client)  # held-out stream indices (positions if given)
    done = [0]

    def on_done(k):
        done[0] += len(pieces[k])
        progress(done[0], n)

    results = map_in_order(
        _replay_part, [(site, design, idx, None if given is None else [given[i] for i in idx],
                        progress if client is None else None) for idx in pieces],
        client, on_done if progress is not None and client is not None else None)
    rows: list[dict] = []
    parts: list[list[dict]] = []  # per scenario: what each forced event added, at its natural rate
    hourly: list[np.ndarray] = []
    ramp_hist = np.zeros(K.RAMP_BINS)
    best: dict[str, _Candidate] = {}
    for part in results:  # in scenario order: the sums and the ties come out as in one loop
        rows += part.rows
        parts += part.rate_parts
        hourly += part.hourly
        for h in part.ramp_hists:
            ramp_hist += h
        for kind, c in part.best.items():
            if kind not in best or c.score > best[kind].score:  # a tie keeps the earlier scenario
                best[kind] = c
    recorded = _record_windows(site, design, best, window_steps, given, client)
    checks, not_exercised, not_applicable = build_checks(site, design, rows)
    extra = redundancy_check(site, design, rows)
    if extra is not None:
        checks.append(extra)
    results = annual_results(site, rows, parts)
    for c in checks:
        c.promise = _promise_for(c.requirement, design.promises)
    timeseries = {
        "windows": _windows_dataset(best, recorded, window_steps, dt, design),
        "hourly": _hourly_dataset(hourly, design),
        "poi_ramp": _ramp_dataset(ramp_hist, site),
    }
    days = float(np.mean([r["days"] for r in rows]))
    notes = []
    target = site.reliability.target_success_rate
    if wilson_lower_bound(n, n) < target:
        need = next(k for k in range(n, 10 ** 7) if wilson_lower_bound(k, k) >= target) if target < 1 else None
        notes.append(f"{n} held-out scenarios cannot prove a success rate of {target:g}: even with every one "
                     f"passing the 95% lower bound is {wilson_lower_bound(n, n):.3f}"
                     + (f"; scenarios.held_out needs at least {need}" if need else ""))
    return Validation(site.name, design, checks, results, rows, timeseries, target, days, not_exercised, notes,
                      not_applicable, _degradation_model(site), _demand_charged_units(site, design))


def _demand_charged_units(site, design) -> bool:
    """Whether the site has demand charges and the design has units to run against them."""
    from ..site_spec.tariff import site_tariff

    units = sum(g.existing_units + g.new_units for g in design.generation)
    return units > 0 and bool(site_tariff(site).demand_charges)


def _replay_part(site, design, indices: list[int], traces=None, progress: Progress | None = None) -> _Part:
    """Replay the held-out scenarios ``indices`` (``traces``: their datasets when given, else
    generated from the held-out stream, a chunk at a time): one task of :func:`simulate`."""
    dt = float(site.scenarios.transient_resolution_s)
    cp, gp, pp = replay_arrays(site, design)
    bands = BandEnergies.from_design(site, design)
    rows: list[dict] = []
    parts: list[list[dict]] = []  # per scenario: what each forced event added, at its natural rate
    hourly: list[np.ndarray] = []
    ramp_hists: list[np.ndarray] = []
    window_steps = max(1, int(round(site.scenarios.window_length_s / dt)))
    best: dict[str, _Candidate] = {}
    redundancy = Redundancy(site, design, bands)

    def offer(kind, score, i, trace, center_step, lead=0.5):
        if center_step is None or center_step < 0 or not math.isfinite(score):
            return
        if kind in best and best[kind].score >= score:
            return
        start = int(center_step - lead * window_steps)
        start = max(0, min(start, trace.steps - window_steps))
        best[kind] = _Candidate(score, i, start)

    for j, i in enumerate(indices):
        trace = HeldOutTrace.generated(site, "held_out", i) if traces is None else \
            HeldOutTrace.from_dataset(traces[j], dt, index=i)
        cev = contingency_curtailment(trace.events)
        a0, na = active_steps(cev, dt, trace.steps) if cev is not None else (0, 0)
        # the natural replay (recording the call's active period), the replays without each forced
        # event (what it cost, counted at its natural rate) and in the stress state (every
        # contingency meets the state it was sized for), each forked from the natural replay
        forced = forced_events(site, trace.events)
        variants = [without_call(trace, site, ev) if ev["kind"] == "curtailment" else without_outage(trace, site, ev)
                    for ev in forced]
        spoints = stress_points(trace, bands)
        variants.append(stress_variant(trace, spoints))
        if cev is not None:
            # the call in its own stress state: an outage inside it is judged by srun, not stacked on it.
            # Only crun's recording of the call is read, and the two stress replays are the same up to
            # their first differing row: an outage after the call's active period leaves srun's recording
            cpoints = stress_points(trace, bands, calls_only=True)
            if first_difference_step(spoints, cpoints) < a0 + na:
                variants.append(stress_variant(trace, cpoints))
        n_plus = redundancy.replay(trace, spoints)  # N+k: the island again with the largest units out
        run, vruns, others = replay_variants(trace, cp, gp, pp, variants, [a0] if cev is not None else None, na,
                                             [n_plus] if n_plus is not None else [])
        srun = vruns[len(forced)]
        crun = vruns[-1]
        without = {id(ev): summarize(r, trace, site, design) for ev, r in zip(forced, vruns)}
        counterfactual = next((r for ev, r in zip(forced, vruns) if ev is cev), None)
        recorded = run.recorded[0][:na] if cev is not None else None
        row = summarize(run, trace, site, design)
        row.update(curtailment_row(site, cev, recorded, run, counterfactual, dt, float(cp[K.C_TOL_MW])))
        row.update(stress_row(srun, trace, site, design))
        sresp = curtailment_response(crun.recorded[0][:na], site.grid.firm_import_mw, dt, float(cp[K.C_TOL_MW])) \
            if cev is not None else {"ok": None, "import_over_firm_mw": None, "unserved_mwh": None}
        row.update({f"stress_curtailment_response_{k}": v for k, v in sresp.items()})
        row.update(redundancy.row(others[0] if others else srun if redundancy.same else None, trace,
                                  row["stress_loss_of_grid_events"] > 0))
        row["scenario"] = i
        rows.append(row)
        parts.append(natural_rate_parts(row, trace, site, without))
        hourly.append(run.hourly)
        ramp_hists.append(run.ramp_hist)
        m = run.metrics
        # the worst windows, kept at full resolution (only the current worst trace per kind stays in memory)
        if m[K.M_RAMP_VIOL_STEPS] > 0:
            offer("ramp_violation", m[K.M_RAMP_WORST_EXCESS_MW], i, trace, int(m[K.M_T_WORST_RAMP]))
        offer("worst_ramp", m[K.M_RAMP_WORST_MW_PER_S], i, trace, int(m[K.M_T_MAX_DP]))
        if m[K.M_IMPORT_VIOL_STEPS] > 0:
            offer("import_limit", m[K.M_IMPORT_WORST_MW], i, trace, int(m[K.M_T_WORST_IMPORT]))
        if m[K.M_UNSERVED_MWH] > 0:
            offer("unserved", m[K.M_UNSERVED_MWH], i, trace, int(m[K.M_T_FIRST_UNSERVED]), lead=0.2)
        if m[K.M_BAND_EXCURSION_S] > 0:
            offer("soc_band", m[K.M_BAND_EXCURSION_WORST_MWH], i, trace, int(m[K.M_T_WORST_BAND]))
        # contingency windows come from the stress replay: the state their checks judge
        for o in srun.outages:
            long_ = o[K.O_STEPS] > cp[K.C_SAG_STEPS]
            # lowest stored energy reached, then the longest outage, decides the worst contingency
            score = -o[K.O_E_MIN_MWH] + 1e-6 * o[K.O_STEPS] + 1e6 * (1.0 - o[K.O_ISLAND_OK])
            offer("loss_of_grid" if long_ else "voltage_sag", score, i, trace, int(o[K.O_START]), lead=0.1)
        onsets = np.flatnonzero(np.diff((trace.curtailment_phase == 2).astype(np.int8), prepend=np.int8(0)) == 1)
        if recorded is not None and recorded.shape[0]:
            # the contingency call (stress replay): its first failing step if it failed, else its onset
            srec = crun.recorded[0][:na]
            bad = np.flatnonzero((srec[:, K.R_GRID] > 0) & (
                (srec[:, K.R_POI] - site.grid.firm_import_mw > cp[K.C_TOL_MW]) | (srec[:, K.R_UNSERVED] > 1e-9)))
            score = (row["stress_curtailment_response_import_over_firm_mw"]
                     + row["stress_curtailment_response_unserved_mwh"])
            offer("curtailment", score + 1e-3 * m[K.M_BAND_EXCURSION_WORST_MWH], i, trace,
                  a0 + (int(bad[0]) if bad.size else 0), lead=0.5 if bad.size else 0.2)
        elif onsets.size:
            offer("curtailment", m[K.M_IMPORT_WORST_MW] + 1e-3 * m[K.M_BAND_EXCURSION_WORST_MWH], i, trace,
                  int(onsets[0]), lead=0.5)
        if progress is not None:
            progress(j + 1, len(indices))
    return _Part(rows, parts, hourly, ramp_hists, best)


def first_difference_step(rows_a: np.ndarray, rows_b: np.ndarray) -> float:
    """The first step at which two sets of stress rows ``(step, stored_mwh)`` differ (a row in one
    and not the other), ``inf`` when they are the same: two replays of one trace with these rows
    are the same, step for step, before it."""
    a, b = ({tuple(r) for r in rows.tolist()} for rows in (rows_a, rows_b))
    return min((r[0] for r in a ^ b), default=math.inf)


def _degradation_model(site) -> str:
    b = site.bess
    return (f"Miner's rule on N(DoD) = {b.cycle_life_cycles:g} x (DoD / {b.cycle_life_depth_fraction:g})^-"
            f"{b.cycle_life_exponent:g} cycles (bess.cycle_life_*), plus calendar fade "
            f"{site.economics.bess_calendar_fade_fraction_per_year:g} / (1 - {b.end_of_life_fraction:g}) a year")

def _record_windows(site, design, best: dict[str, _Candidate], window_steps: int, given, client) -> dict:
    """The worst window of each kind step by step: each scenario holding one is replayed again
    (its trace regenerated from its seed, or the given dataset), recording from the windows' starts."""
    from ..parallel import map_in_order

    by_scenario: dict[int, list[str]] = {}
    for k in WINDOW_KINDS:
        if k in best:
            by_scenario.setdefault(best[k].scenario, []).append(k)
    tasks = [(site, design, i, [best[k].start_step for k in ks], window_steps, None if given is None else given[i],
              [("calls" if k == "curtailment" else "all") if k in STRESS_WINDOW_KINDS else False for k in ks])
             for i, ks in by_scenario.items()]
    windows = map_in_order(_record_scenario, tasks, client)
    return {k: w for ks, ws in zip(by_scenario.values(), windows) for k, w in zip(ks, ws)}


def _record_scenario(site, design, i: int, starts: list[int], window_steps: int, ds=None,
                     stressed: list | None = None) -> list[np.ndarray]:
    """The recorded windows of held-out scenario ``i`` starting at ``starts`` (in that order), each
    from the stress replay where ``stressed`` says so (``"calls"``: the calls' own stress state,
    ``True`` or ``"all"``: every contingency's), else from the natural one; replayed up to the last
    window's end only."""
    dt = float(site.scenarios.transient_resolution_s)
    cp, gp, pp = replay_arrays(site, design)
    trace = HeldOutTrace.generated(site, "held_out", i) if ds is None else HeldOutTrace.from_dataset(ds, dt, index=i)
    states = ["all" if st is True else st for st in (stressed or [False] * len(starts))]
    bands = BandEnergies.from_design(site, design)
    kinds = [st for st in ("all", "calls") if st in states]
    # the stress replays fork from the natural one at their first row; every replay records every
    # window (the union), each window is read from the replay of its state; all stop once the last
    # window is recorded
    union = sorted(set(starts))
    length = min(window_steps, trace.steps)
    natural, forks = feed_variants(trace, cp, gp, pp,
                                   [stress_variant(trace, stress_points(trace, bands, calls_only=st == "calls"))
                                    for st in kinds], union, length, until=union[-1] + length)
    by_state = {False: natural, **{st: rp or natural for st, rp in zip(kinds, forks)}}
    return [by_state[st].recorded[union.index(s0)] for s0, st in zip(starts, states)]


# --------------------------------------------------------------------------- checks


def _promise_for(requirement: str, promises: dict) -> float | None:
    key = {"poi_ramp_limit": "poi_ramp_violation_mw_s_per_year",
           "poi_ramp_limit_per_min": "poi_ramp_violation_mw_s_per_year",
           "unserved_energy": "unserved_energy_mwh_per_year",
           "import_limit": "import_limit_violation_mw_s_per_year"}.get(requirement)
    v = promises.get(key) if key else None
    return float(v) if v is not None else None


def _ramp_figure(r: dict, unit: str, rule: str) -> float:
    """The POI motion the battery forced; in a scenario that broke the rule, at least the POI's worst."""
    need = r[f"ramp_need_worst_{unit}"]
    return max(need, r[f"ramp_worst_{unit}"]) if r[f"ramp_{rule}_violation_steps"] > 0 else need


def _site_has_pv(site) -> bool:
    return any(g.kind == "pv" and g.capacity_mw > 0 for g in site.generation)


def build_checks(site, design, rows: list[dict]) -> tuple[list[Check], list[str], dict[str, str]]:
    """One Check per requirement of the site, judged per held-out scenario.

    Returns (checks, not exercised, not applicable with the reason). The contingency checks
    (ride-through, sags, islanding, curtailment response) judge the stress replay and carry the
    natural replay's figures in ``detail["natural"]``.
    """
    g, rel = site.grid, site.reliability
    target = rel.target_success_rate
    bands = design.bess.bands_mwh
    checks: list[Check] = []
    not_exercised: list[str] = []
    not_applicable: dict[str, str] = {}

    def add(requirement, description, per_row_ok, measured, limit, unit, evidence, applies=lambda r: True,
            detail=None, comparator="<=", state="natural"):
        applicable = [r for r in rows if applies(r)]
        if not applicable:
            not_exercised.append(requirement)
            return None
        ok = [bool(per_row_ok(r)) for r in applicable]
        value = _json_num(measured(applicable))
        if value is not None and abs(value) < 1e-9:
            value = 0.0  # float dust of sums and differences, not a measurement
        c = Check(
            requirement=requirement, description=description, measured=value,
            limit=float(limit), unit=unit, scenarios=len(applicable), successes=int(sum(ok)),
            target_success_rate=target, evidence=evidence,
            failed_scenarios=[int(r["scenario"]) for r, k in zip(applicable, ok) if not k],
            detail=detail or {}, comparator=comparator, state=state,
        )
        checks.append(c)
        return c

    def vals(rs, key):
        return [r[key] for r in rs if r.get(key) is not None]

    def natural(ok_key, **figures):
        """The natural replay's side of a stress-judged check."""
        rs = [r for r in rows if r.get(ok_key) is not None]
        d = {"scenarios": len(rs), "successes": int(sum(bool(r[ok_key]) for r in rs))}
        for name, (key, fn) in figures.items():
            v = vals(rs, key)
            d[name] = _json_num(fn(v)) if v else None
        return d

    def causes(rs):
        return {k: float(sum(r[f"ramp_violation_cause_{k}"] for r in rs))
                for k in ("power", "energy", "import_cap", "aftermath", "none")}

    add("poi_ramp_limit", "largest one-second POI change the battery's limits (or a falling import cap) forced; "
        "0 when the battery could have held the POI still",
        lambda r: r["ramp_1s_violation_steps"] == 0, lambda rs: max(_ramp_figure(r, "mw_per_s", "1s") for r in rs),
        g.ramp_limit_mw_per_s, "MW/s", "report.html#poi-ramp",
        detail={"worst_poi_ramp_mw_per_s": float(max(r["ramp_worst_mw_per_s"] for r in rows)),
                "violation_steps": float(sum(r["ramp_1s_violation_steps"] for r in rows)),
                "violation_mw_s": float(sum(r["ramp_violation_mw_s"] for r in rows)),
                "violation_causes_steps": causes(rows)})
    add("sub_step_buffering", "largest within-step load swing (bin min/max) beyond the battery's available power "
        "(negative: the headroom left); in an island such a shortfall fails ride-through or islanding",
        lambda r: r["substep_shortfall_steps"] == 0,
        lambda rs: max(r["substep_shortfall_worst_mw"] for r in rs),
        0.0, "MW", "report.html#poi-ramp",
        detail={"steps": float(sum(r["substep_shortfall_steps"] for r in rows)),
                "stress_steps": float(sum(r.get("stress_substep_shortfall_steps", 0.0) for r in rows))})
    add("poi_ramp_limit_per_min", "largest POI change within a 60 s window the battery's limits (or a falling import "
        "cap) forced; 0 when the battery could have held the POI still",
        lambda r: r["ramp_60s_violation_steps"] == 0, lambda rs: max(_ramp_figure(r, "mw_per_min", "60s") for r in rs),
        g.ramp_limit_mw_per_min, "MW/min", "report.html#poi-ramp-minute",
        detail={"worst_poi_change_mw_per_min": float(max(r["ramp_worst_mw_per_min"] for r in rows)),
                "violation_steps": float(sum(r["ramp_60s_violation_steps"] for r in rows))})
    add("import_limit", "largest POI import above the import limit (firm only while curtailed)",
        lambda r: r["import_violation_steps"] == 0, lambda rs: max(r["import_worst_excess_mw"] for r in rs),
        0.0, "MW", "report.html#import-limit",
        detail={"violation_steps": float(sum(r["import_violation_steps"] for r in rows)),
                "violation_mw_s": float(sum(r["import_violation_mw_s"] for r in rows)),
                "peak_import_mw": float(max(r["import_peak_mw"] for r in rows))})
    if not g.export_allowed:
        if _site_has_pv(site):
            add("no_export", "largest export at the POI (export not allowed)",
                lambda r: r["export_worst_mw"] <= 1e-6, lambda rs: max(r["export_worst_mw"] for r in rs),
                0.0, "MW", "report.html#import-limit")
        else:
            not_applicable["no_export"] = "the site has no PV: nothing can push power out of the POI"
    if rel.ride_through.duration_s > 0 and rel.ride_through.load_fraction > 0:
        reserve = float(bands.ride_through_reserve)
        lf, dur = rel.ride_through.load_fraction, rel.ride_through.duration_s
        for requirement, key, ok_key, what in (
                ("ride_through", "ride_through", "ride_through_ok",
                 f"carry {lf:.0%} of the load for the first {dur:g} s of a loss of grid"),
                ("voltage_sag_ride_through", "sag", "sag_ok", "carry the load through a voltage-sag dip")):
            rs = [r for r in rows if r.get(f"stress_{ok_key}") is not None]
            need_mw = max(vals(rs, f"stress_{key}_need_mw"), default=0.0)
            avail_mw = min(vals(rs, f"stress_{key}_avail_mw"), default=0.0)
            need_mwh = max(vals(rs, f"stress_{key}_need_mwh"), default=0.0)
            # the figure that binds: battery power needed against what it could deliver, or stored
            # energy needed against the ride-through reserve (whichever uses more of its limit)
            by_energy = need_mwh / reserve if reserve > 0 else (math.inf if need_mwh > 1e-9 else 0.0)
            by_power = need_mw / avail_mw if avail_mw > 0 else (math.inf if need_mw > 1e-9 else 0.0)
            energy_binds = by_energy > by_power
            detail = {"power_needed_mw": need_mw, "power_available_mw": avail_mw, "energy_needed_mwh": need_mwh,
                      "ride_through_reserve_mwh": reserve,
                      "lowest_served_fraction": min(vals(rs, f"stress_{key}_min_served_fraction"), default=None),
                      "binding": "energy" if energy_binds else "power",
                      "natural": natural(ok_key, power_needed_mw=(f"{key}_need_mw", max),
                                         energy_needed_mwh=(f"{key}_need_mwh", max),
                                         lowest_served_fraction=(f"{key}_min_served_fraction", min))}
            if energy_binds:
                desc = f"stored energy the battery needed to {what}, against the ride-through reserve"
                measure, limit, unit = (lambda rs_, k=key: max(vals(rs_, f"stress_{k}_need_mwh"))), reserve, "MWh"
            else:
                desc = f"battery power needed to {what}, against what it could deliver (PCS, C-rate, inverters)"
                measure, limit, unit = (lambda rs_, k=key: max(vals(rs_, f"stress_{k}_need_mw"))), avail_mw, "MW"
            add(requirement, desc, lambda r, k=ok_key: r[f"stress_{k}"], measure, limit, unit,
                "report.html#ride-through", applies=lambda r, k=ok_key: r.get(f"stress_{k}") is not None,
                detail=detail, state="stress")
    if rel.islanding.required:
        add("islanding", "stored energy left above the floor in the worst loss of grid and its reconnection, less the "
            "energy of load lost (flexible load shed only as reliability.islanding.shed_flexible_load allows); negative when the island ran short",
            lambda r: r["stress_islanding_ok"], lambda rs: min(vals(rs, "stress_islanding_margin_mwh")),
            0.0, "MWh", "report.html#islanding", applies=lambda r: r.get("stress_islanding_ok") is not None,
            comparator=">=", state="stress",
            detail={"unserved_mwh_worst": max(vals(rows, "stress_unserved_loss_of_grid_mwh"), default=0.0),
                    "natural": natural("islanding_ok", margin_mwh=("islanding_margin_mwh", min),
                                       unserved_mwh_worst=("unserved_loss_of_grid_mwh", max))})

    def unserved_counted(r):
        # without an islanding requirement, load lost after the ride-through of a loss of grid is
        # the site's accepted risk (the ride-through check judges the part that is required)
        return r["unserved_mwh"] - (0.0 if rel.islanding.required else r["unserved_loss_of_grid_mwh"])

    add("unserved_energy", "largest unserved energy in a held-out scenario (natural replay)",
        lambda r: unserved_counted(r) <= 1e-6, lambda rs: max(unserved_counted(r) for r in rs),
        0.0, "MWh", "report.html#unserved-energy")
    if g.nonfirm_import_mw > 0:
        add("curtailment_response",
            "largest POI import above the firm import while the contingency curtailment call is active, the call "
            "announced with the battery at the curtailment reserve's top and generation cold "
            "(a scenario also fails on load unserved in it)",
            lambda r: r["stress_curtailment_response_ok"],
            lambda rs: max(r["stress_curtailment_response_import_over_firm_mw"] for r in rs),
            0.0, "MW", "report.html#curtailment", applies=lambda r: r.get("stress_curtailment_response_ok") is not None,
            state="stress",
            detail={"firm_import_mw": float(g.firm_import_mw), "curtailment_reserve_mwh": float(bands.curtailment_reserve),
                    "unserved_mwh_worst": max(vals(rows, "stress_curtailment_response_unserved_mwh"), default=0.0),
                    "natural": natural("curtailment_response_ok",
                                       import_over_firm_mw=("curtailment_response_import_over_firm_mw", max),
                                       unserved_mwh_worst=("curtailment_response_unserved_mwh", max))})
    band_rows = [r for r in rows if r.get("band_low_margin_mwh") is not None]
    add("soc_bands", "lowest stored energy the controller wanted above the band floor of its mode (ride-through and "
        "curtailment reserves outside calls, ride-through reserve in them), grid-connected normal running; "
        "negative when a band edge held it back. At the top, a scenario fails when the full battery made the POI "
        "take a surplus (detail: top margin, negative where PV curtailment or units took it)",
        lambda r: r["band_low_margin_mwh"] >= -1e-6 and r["band_top_forced_mwh"] <= 1e-9,
        lambda rs: min(r["band_low_margin_mwh"] for r in rs), 0.0, "MWh", "report.html#soc-bands",
        applies=lambda r: r.get("band_low_margin_mwh") is not None, comparator=">=",
        detail={"top_margin_mwh": min(vals(band_rows, "band_high_margin_mwh"), default=None),
                "pinned_steps": float(sum(r["band_pinned_steps"] for r in rows)),
                "top_surplus_to_poi_mwh": float(sum(r["band_top_forced_mwh"] for r in rows)),
                "excursion_s": float(sum(r["band_excursion_s"] for r in rows))})
    s_mva = design.bess.inverters * float(design.bess.inverter_rating_mva)
    add("reactive_power", f"largest apparent power asked of the inverters (real power up to the PCS rating with the "
        f"reactive power that holds power factor {g.poi_power_factor_min:g} at the POI, or the island's), "
        "natural and stress replays, against the inverters' rating",
        lambda r: max(r["apparent_power_need_worst_mva"], r.get("stress_apparent_power_need_worst_mva", 0.0))
        <= s_mva * (1 + 1e-9) + 1e-6,
        lambda rs: max(max(r["apparent_power_need_worst_mva"], r.get("stress_apparent_power_need_worst_mva", 0.0))
                       for r in rs),
        s_mva, "MVA", "report.html#reactive-power", state="stress",
        detail={"reactive_shortfall_mvar_worst": max(max(r["reactive_shortfall_worst_mvar"],
                                                         r.get("stress_reactive_shortfall_worst_mvar", 0.0)) for r in rows),
                "natural": {"scenarios": len(rows),
                            "successes": int(sum(r["apparent_power_need_worst_mva"] <= s_mva * (1 + 1e-9) + 1e-6
                                                 for r in rows)),
                            "apparent_power_need_mva": max(r["apparent_power_need_worst_mva"] for r in rows)}})
    return checks, not_exercised, not_applicable


def annual_results(site, rows: list[dict], parts: list[list[dict]] | None = None) -> dict[str, float]:
    """Means over held-out scenarios, scaled to a year, every forced event at its natural rate.

    A trace of ``d`` days counts ``365 / d`` times, except what the events every trace carries
    whatever their rate added (the sampled contingencies: a loss of grid, a sag sequence and, with
    non-firm import, a curtailment call; explicit ``grid.events``): that part (the replay minus the
    replay without the event, ``parts``) counts at the event's own rate a year
    (``events_per_year`` of its kind, or ``occurrences_per_year``).
    """
    parts = parts if parts is not None else [[] for _ in rows]
    scale = 365.0 / float(np.mean([r["days"] for r in rows]))
    e = site.bess.end_of_life_fraction

    def annual(key):
        base = [r[key] - sum(p["delta"][key] for p in ps) for r, ps in zip(rows, parts)]
        forced = [sum(p["delta"][key] * p["rate_per_year"] for p in ps) for ps in parts]
        return float(np.mean(base)) * scale + float(np.mean(forced))

    cycle = max(annual("cycle_damage"), 0.0)
    calendar = calendar_life_used_per_year(site) if e < 1 else 0.0
    return {
        "poi_ramp_violation_mw_s_per_year": max(annual("ramp_violation_mw_s"), 0.0),
        "poi_ramp_violation_seconds_per_year":
            max(annual("ramp_violation_steps"), 0.0) * site.scenarios.transient_resolution_s,
        "import_limit_violation_mw_s_per_year": max(annual("import_violation_mw_s"), 0.0),
        "unserved_energy_mwh_per_year": max(annual("unserved_mwh"), 0.0),
        "flexible_load_shed_mwh_per_year": max(annual("flexible_load_shed_mwh"), 0.0),
        "grid_import_mwh_per_year": max(annual("import_mwh"), 0.0),
        "generation_mwh_per_year": max(annual("generation_mwh"), 0.0),
        "energy_cost_usd_per_year": annual("energy_cost_usd"),
        "fuel_cost_usd_per_year": max(annual("fuel_cost_usd"), 0.0),
        "start_cost_usd_per_year": max(annual("start_cost_usd"), 0.0),
        "generator_starts_per_year": max(annual("generator_starts"), 0.0),
        "bess_throughput_mwh_per_year": max(annual("bess_discharge_mwh"), 0.0),
        "equivalent_full_cycles_per_year": max(annual("equivalent_full_cycles"), 0.0),
        "cycle_life_used_per_year": cycle,
        "calendar_life_used_per_year": calendar,
        "life_used_per_year": cycle + calendar,
        "pv_curtailed_mwh_per_year": max(annual("pv_curtailed_mwh"), 0.0),
        # the reference: the same net load bought from the grid alone (no contingency changes it)
        "grid_only_energy_cost_usd_per_year": float(np.mean([r["grid_only_energy_cost_usd"] for r in rows])) * scale,
    }


# --------------------------------------------------------------------------- timeseries.nc


def _attrs(units, long_name):
    return {"units": units, "long_name": long_name}


WINDOW_KINDS = ("ramp_violation", "import_limit", "unserved", "soc_band", "loss_of_grid", "voltage_sag", "curtailment",
                "worst_ramp")
#: windows recorded from the stress replay (the state their checks judge); the others from the natural one
STRESS_WINDOW_KINDS = ("loss_of_grid", "voltage_sag", "curtailment")


def _windows_dataset(best: dict, recorded: dict, window_steps: int, dt: float, design) -> xr.Dataset:
    """The worst held-out windows (``recorded`` by :func:`_record_windows`) as one dataset."""
    kinds = [k for k in WINDOW_KINDS if k in best]
    tau = np.arange(window_steps) * dt
    E = float(design.bess.energy_mwh)
    if not kinds:
        return xr.Dataset(coords={"tau": ("tau", tau, _attrs("s", "time in window"))})
    length = min(r.shape[0] for r in recorded.values())
    tau = tau[:length]
    stack = np.stack([recorded[k][:length] for k in kinds])

    def var(col, units, name):
        return (("window", "tau"), stack[:, :, col], _attrs(units, name))

    data = {
        "load_mw": var(K.R_LOAD, "MW", "site load"),
        "poi_mw": var(K.R_POI, "MW", "POI import"),
        "import_limit_mw": var(K.R_LIMIT, "MW", "import limit"),
        "bess_mw": var(K.R_BESS, "MW", "BESS power (discharge positive)"),
        "generation_mw": var(K.R_GEN, "MW", "thermal generation"),
        "pv_mw": var(K.R_PV, "MW", "PV used"),
        "stored_mwh": var(K.R_STORED, "MWh", "stored energy"),
        "setpoint_mwh": var(K.R_SETPOINT, "MWh", "stored-energy setpoint"),
        "unserved_mw": var(K.R_UNSERVED, "MW", "unserved load"),
        "flexible_shed_mw": var(K.R_SHED, "MW", "flexible load shed"),
        "bess_reactive_mvar": var(K.R_Q_BESS, "Mvar", "BESS reactive power"),
        "ramp_violation_mw": var(K.R_VIOLATION_MW, "MW", "POI ramp rule excess"),
        "grid_available": (("window", "tau"), stack[:, :, K.R_GRID].astype(np.int8), _attrs("1", "grid available")),
        "curtailment_phase": (("window", "tau"), stack[:, :, K.R_PHASE].astype(np.int8), _attrs("1", "curtailment phase")),
    }
    if E > 0:
        data["soc_fraction"] = (("window", "tau"), stack[:, :, K.R_STORED] / E, _attrs("1", "stored energy / nameplate"))
    starts_s = [best[k].start_step * dt for k in kinds]
    return xr.Dataset(
        data,
        coords={
            "tau": ("tau", tau, _attrs("s", "time in window")),
            "kind": ("window", np.array(kinds, dtype=object).astype(str)),
            "scenario": ("window", np.array([best[k].scenario for k in kinds], dtype=np.int64)),
            "start_s": ("window", np.array(starts_s), _attrs("s", "window start in the trace")),
            "state": ("window", np.array(["stress" if k in STRESS_WINDOW_KINDS else "natural" for k in kinds])),
        },
        attrs={"description": "worst held-out windows at full resolution"},
    )


def _hourly_dataset(hourly: list[np.ndarray], design) -> xr.Dataset:
    hours = max(h.shape[0] for h in hourly)
    arr = np.full((len(hourly), hours, K.N_H), np.nan)
    for i, h in enumerate(hourly):
        arr[i, : h.shape[0]] = h
    count = arr[:, :, K.H_COUNT]
    with np.errstate(invalid="ignore", divide="ignore"):
        def mean(col):
            return np.where(count > 0, arr[:, :, col] / count, np.nan)

        def extreme(col):
            return np.where(count > 0, arr[:, :, col], np.nan)

        data = {
            "load_mw": mean(K.H_LOAD), "poi_mw": mean(K.H_POI), "bess_mw": mean(K.H_BESS),
            "generation_mw": mean(K.H_GEN), "pv_mw": mean(K.H_PV), "soc_fraction": mean(K.H_SOC),
            "soc_min_fraction": extreme(K.H_SOC_MIN), "soc_max_fraction": extreme(K.H_SOC_MAX),
            "poi_ramp_max_mw_per_s": extreme(K.H_RAMP_MAX), "unserved_mw": mean(K.H_UNSERVED),
            "import_limit_mw": mean(K.H_LIMIT), "price_usd_per_mwh": mean(K.H_PRICE),
        }
    units = {"soc_fraction": "1", "soc_min_fraction": "1", "soc_max_fraction": "1",
             "poi_ramp_max_mw_per_s": "MW/s", "price_usd_per_mwh": "USD/MWh"}
    return xr.Dataset(
        {k: (("scenario", "hour"), v, _attrs(units.get(k, "MW"), k.replace("_", " "))) for k, v in data.items()},
        coords={"scenario": np.arange(len(hourly)), "hour": np.arange(hours)},
        attrs={"description": "hourly means (min/max within the hour where named) over held-out scenarios"},
    )


def _ramp_dataset(hist: np.ndarray, site) -> xr.Dataset:
    bin_w = site.grid.ramp_limit_mw_per_s / 20.0
    upper = np.arange(1, K.RAMP_BINS + 1) * bin_w
    upper[-1] = np.inf
    return xr.Dataset(
        {"seconds": (("ramp_bin",), hist, _attrs("s", "held-out seconds with |dPOI|/dt in the bin"))},
        coords={"ramp_bin_upper_mw_per_s": (("ramp_bin",), upper, _attrs("MW/s", "upper bin edge"))},
    )
