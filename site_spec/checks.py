"""Cross-field rules, one ``check_*`` function each, explained in the site's own terms.

Each returns a list of ``Problem``s (empty when the rule holds); ``cross_field_problems`` runs all.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import Problem
from .models import PV, Site
from .screen import Needs, generation_for_island, generation_mw

DAY_S = 86400.0


def uses(*sections: str):
    """Record which top-level sections a check reads, so it can still run when another section is invalid."""

    def mark(check):
        check.sections = frozenset(sections)
        return check

    return mark


@uses("load")
def check_workload_shares(site: Site) -> list[Problem]:
    shares = [w.share for w in site.load.workloads]
    total = sum(shares)
    if site.load.trace is None and abs(total - 1.0) > 1e-6:
        terms = " + ".join(f"{x:g}" for x in shares)
        return [Problem("load.workloads[*].share", round(total, 6),
                        f"the workloads' shares of IT capacity must sum to 1 [fraction]; here {terms} = {total:g}")]
    return []


@uses("load")
def check_min_load(site: Site) -> list[Problem]:
    peak = site.load.peak_mw
    if site.load.min_load_mw > peak:
        return [Problem("load.min_load_mw", site.load.min_load_mw,
                        f"must be at most the site peak it_capacity_mw x pue = {peak:g} [MW]")]
    return []


@uses("bess")
def check_soc_window(site: Site) -> list[Problem]:
    b = site.bess
    if b.soc_min_fraction >= b.soc_max_fraction:
        return [Problem("bess.soc_min_fraction", b.soc_min_fraction,
                        f"must be below bess.soc_max_fraction = {b.soc_max_fraction:g} [fraction]")]
    return []


@uses("bess")
def check_container(site: Site) -> list[Problem]:
    b = site.bess
    if b.container_mwh is not None and b.max_energy_mwh > 0 and b.container_mwh > b.max_energy_mwh:
        return [Problem("bess.container_mwh", b.container_mwh,
                        f"one container must fit within bess.max_energy_mwh = {b.max_energy_mwh:g} [MWh]")]
    return []


@uses("load", "grid", "generation", "bess")
def check_supply_covers_min_load(site: Site) -> list[Problem]:
    """With no BESS and no generation allowed, firm import must cover the site minimum."""
    gen_mw = generation_mw(site)
    if site.bess.max_energy_mwh == 0 and gen_mw == 0 and site.grid.firm_import_mw < site.load.min_load_mw:
        return [Problem("grid.firm_import_mw", site.grid.firm_import_mw,
                        f"with no BESS (bess.max_energy_mwh = 0) and no onsite generation, firm import must cover "
                        f"load.min_load_mw = {site.load.min_load_mw:g} [MW]")]
    return []


@uses("reliability", "generation")
def check_islanding_has_generation(site: Site) -> list[Problem]:
    gen_units = sum(g.existing_units + g.max_new_units for g in site.thermal)
    if site.reliability.islanding.required and gen_units == 0:
        return [Problem("reliability.islanding.required", True,
                        "islanding needs onsite generation to carry the island, but no generation section allows any "
                        "units (add a gas_engine, gas_turbine or fuel_cell, or set required: false)")]
    return []


@uses("reliability", "generation", "load")
def check_island_capacity(site: Site) -> list[Problem]:
    """Generation must be able to carry the island: the screen's rule at IT capacity x PUE."""
    return generation_for_island(site, Needs(peak_load_mw=site.load.peak_mw))


@uses("grid", "scenarios")
def check_events_fit_trace(site: Site) -> list[Problem]:
    horizon_s = site.scenarios.trace_days * DAY_S
    out = []
    for i, e in enumerate(site.grid.events):
        if e.start_s + e.duration_s > horizon_s:
            out.append(Problem(f"grid.events[{i}].start_s", e.start_s,
                               f"the event (start_s + duration_s = {e.start_s + e.duration_s:g} s) must end within "
                               f"scenarios.trace_days x 86400 = {horizon_s:g} [s]"))
    return out


@uses("scenarios")
def check_resolution(site: Site) -> list[Problem]:
    s = site.scenarios
    out = []
    if not math.isclose(60.0 / s.transient_resolution_s, round(60.0 / s.transient_resolution_s)):
        out.append(Problem("scenarios.transient_resolution_s", s.transient_resolution_s,
                           "must divide 60 s evenly (e.g. 0.5, 1, 2, 5, 10) [s]"))
    if s.window_length_s < 10 * s.transient_resolution_s:
        out.append(Problem("scenarios.window_length_s", s.window_length_s,
                           f"must hold at least 10 steps of scenarios.transient_resolution_s = {s.transient_resolution_s:g} [s]"))
    if s.window_length_s > s.trace_days * DAY_S:
        out.append(Problem("scenarios.window_length_s", s.window_length_s,
                           f"must fit within the trace, scenarios.trace_days x 86400 = {s.trace_days * DAY_S:g} [s]"))
    return out


_CSV_UNITS = {"load_mw": ("MW", 0.0), "pv_mw": ("MW", 0.0), "usd_per_mwh": ("USD/MWh", None)}


def _check_csv(path_field: str, raw: str, base_dir: Path, value_col: str) -> tuple[list[Problem], str]:
    """A CSV with columns ``time_s,<value_col>``: present, numeric, time strictly increasing."""
    import pandas as pd  # only sites with CSV inputs pay for importing pandas

    p = Path(raw)
    if not p.is_absolute():
        p = (base_dir / p).resolve()
    unit, floor = _CSV_UNITS[value_col]
    expected = (f"expected a CSV file with the header time_s,{value_col} and one row per time: time_s in s, strictly "
                f"increasing; {value_col} in {unit}" + (f", >= {floor:g}" if floor is not None else "") + "; numbers only")

    def problem(reason: str) -> tuple[list[Problem], str]:
        return [Problem(path_field, raw, expected, reason=reason)], str(p)

    if not p.exists():
        return problem(f"file not found (looked for {p}; relative paths are relative to the spec file)")
    if p.is_dir():
        return problem(f"is a directory ({p})")
    try:
        df = pd.read_csv(p, skipinitialspace=True)
    except UnicodeDecodeError:
        return problem("not a text file")
    except pd.errors.EmptyDataError:
        return problem("the file is empty")
    except Exception as exc:  # pandas raises many types for malformed files
        return problem(f"could not be read as CSV ({exc})".replace("\n", " "))
    cols = [str(c).strip() for c in df.columns]
    if cols != ["time_s", value_col]:
        return problem(f"the columns are {', '.join(cols)}")
    if len(df) == 0:
        return problem("has a header but no rows")
    for c in df.columns:
        vals = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(vals))
        if len(bad):
            row = int(bad[0])
            return problem(f"line {row + 2}: {str(c).strip()} is {str(df[c].iloc[row])!r}, not a finite number")
    t = df.iloc[:, 0].to_numpy(dtype=float)
    if len(t) > 1 and not np.all(np.diff(t) > 0):
        i = int(np.flatnonzero(np.diff(t) <= 0)[0])
        return problem(f"line {i + 3}: time_s = {t[i + 1]:g} does not increase (previous line: {t[i]:g})")
    v = df.iloc[:, 1].to_numpy(dtype=float)
    if floor is not None and (v < floor).any():
        i = int(np.flatnonzero(v < floor)[0])
        return problem(f"line {i + 2}: {value_col} = {v[i]:g} is below {floor:g}")
    return [], str(p)


def check_and_resolve_files(site: Site, base_dir: Path) -> tuple[list[Problem], Site]:
    """Validate every CSV the spec names and return a copy with absolute paths."""
    problems: list[Problem] = []
    load_update, grid_update, gens = {}, {}, list(site.generation)
    if site.load.trace is not None:
        pr, p = _check_csv("load.trace", site.load.trace, base_dir, "load_mw")
        problems += pr
        load_update["trace"] = p
    if isinstance(site.grid.energy_price_usd_per_mwh, str):
        pr, p = _check_csv("grid.energy_price_usd_per_mwh", site.grid.energy_price_usd_per_mwh, base_dir, "usd_per_mwh")
        problems += pr
        grid_update["energy_price_usd_per_mwh"] = p
    if site.grid.tariff_file is not None:
        from .tariff import read_urdb

        p = Path(site.grid.tariff_file)
        p = p if p.is_absolute() else (base_dir / p).resolve()
        if not p.exists() and Path(site.grid.tariff_file).name == site.grid.tariff_file:
            # a bundled example's tariff (`bess-size example NAME > site.yaml` copies only the spec)
            from importlib import resources

            bundled = Path(str(resources.files("bess_size.examples").joinpath(site.grid.tariff_file)))
            p = bundled if bundled.is_file() else p
        problems += read_urdb(p, "grid.tariff_file")[1]
        grid_update["tariff_file"] = str(p)
    for i, g in enumerate(site.generation):
        if isinstance(g, PV) and g.profile != "clear_sky":
            pr, p = _check_csv(f"generation[{i}].profile", g.profile, base_dir, "pv_mw")
            problems += pr
            gens[i] = g.model_copy(update={"profile": p})
    resolved = site.model_copy(update={
        "load": site.load.model_copy(update=load_update),
        "grid": site.grid.model_copy(update=grid_update),
        "generation": gens,
    })
    return problems, resolved


@uses("grid")
def check_tariff(site: Site) -> list[Problem]:
    """A tariff comes from the spec keys or from a URDB file, not both; every window covers some hour."""
    g = site.grid
    out = []
    for key, windows in (("tou_energy_prices", g.tou_energy_prices), ("tou_demand_charges", g.tou_demand_charges)):
        for i, w in enumerate(windows):
            if w.hours[0] == w.hours[1] or (w.hours[0] == 24 and w.hours[1] == 0):
                out.append(Problem(f"grid.{key}[{i}].hours", list(w.hours),
                                   "expected [start, end) covering at least one hour, e.g. [16, 21]; start > end wraps past midnight [h]",
                                   reason="the window covers no hour"))
    if g.tariff_file is not None:
        both = [k for k, v in (("tou_energy_prices", g.tou_energy_prices), ("tou_demand_charges", g.tou_demand_charges),
                               ("demand_charge_usd_per_mw_month", g.demand_charge_usd_per_mw_month)) if v]
        for k in both:
            out.append(Problem(f"grid.{k}", getattr(g, k),
                               "leave it unset (0 or empty) when grid.tariff_file gives the tariff: the file's energy and "
                               "demand rates apply, and keys beside it would be charged twice",
                               reason="set together with grid.tariff_file"))
    return out


@uses("load", "grid", "generation", "bess", "reliability", "economics", "scenarios")
def check_phases(site: Site) -> list[Problem]:
    """grid.phases and load.phases: increasing years within the life, every phase a valid site."""
    from .phases import phase_problems

    return phase_problems(site)


CHECKS = [
    check_phases,
    check_tariff,
    check_workload_shares,
    check_min_load,
    check_soc_window,
    check_container,
    check_supply_covers_min_load,
    check_islanding_has_generation,
    check_island_capacity,
    check_events_fit_trace,
    check_resolution,
]


def cross_field_problems(site: Site, valid_sections: set[str] | None = None) -> list[Problem]:
    """Run every rule; with ``valid_sections``, only the rules that read nothing but those sections."""
    return [p for check in CHECKS if valid_sections is None or check.sections <= valid_sections for p in check(site)]


def notes(site: Site) -> list[str]:
    """Things that are allowed but worth knowing (printed by ``check``, never fatal)."""
    out = []
    dt = site.scenarios.transient_resolution_s
    for i, w in enumerate(site.load.workloads):
        if w.kind == "training" and w.swing_period_s[0] < 4 * dt:
            out.append(f"load.workloads[{i}].swing_period_s starts at {w.swing_period_s[0]:g} s, under four "
                       f"{dt:g}-s steps: such swings are carried by each bin's min/max, not resolved in time")
    g = site.grid
    if g.ramp_limit_mw_per_min > 60 * g.ramp_limit_mw_per_s:
        out.append("grid.ramp_limit_mw_per_min exceeds 60 x ramp_limit_mw_per_s, so the per-second limit always binds first")
    peak = site.load.peak_mw
    thermal_mw = generation_mw(site)
    flex_mw = peak * site.load.flexible.max_fraction if site.load.flexible is not None else 0.0
    if g.total_import_mw + thermal_mw + flex_mw < peak:
        out.append(f"firm + non-firm import ({g.total_import_mw:g} MW), all generation allowed ({thermal_mw:g} MW) and "
                   f"flexible load ({flex_mw:g} MW) stay below the peak site load {peak:g} MW: a battery cannot carry that gap "
                   f"for hours, so expect load shed at reliability.voll_usd_per_mwh")
    elif g.firm_import_mw + thermal_mw + flex_mw < peak and g.curtailment.events_per_year > 0:
        out.append(f"during curtailment, firm import ({g.firm_import_mw:g} MW) plus all generation allowed ({thermal_mw:g} MW) "
                   f"and flexible load ({flex_mw:g} MW) stay below the peak {peak:g} MW: the battery must carry the rest "
                   f"for up to {g.curtailment.duration_h[1]:g} h")
    if site.load.trace is not None:
        out.append("load.trace is set: the measured trace replaces the workload model (load.workloads and pue are not applied)")
    if site.pv and site.reliability.islanding.required:
        out.append("PV counts as zero when sizing generation for the island (it may be dark when the grid is lost)")
    n, target = site.scenarios.held_out, site.reliability.target_success_rate
    if site.grid.phases or site.load.phases:  # each phase replays held_out scenarios
        from .phases import phases

        n *= len(phases(site))
    z2 = 1.959964 ** 2  # two-sided 95 % Wilson bound: with all n passing, the lower bound is n / (n + z^2)
    if n / (n + z2) < target:
        need = math.ceil(z2 * target / (1 - target)) if target < 1 else None
        out.append(f"scenarios.held_out = {n}: even if every held-out scenario passes, the 95% Wilson lower bound "
                   f"{n / (n + z2):.3f} stays below reliability.target_success_rate = {target:g}, so no check can pass"
                   + (f"; use at least {need}" if need else ""))
    if site.bess.max_energy_mwh == 0:
        out.append("bess.max_energy_mwh = 0: no battery may be built; the site must meet its requirements with generation alone")
    return out
