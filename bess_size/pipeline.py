"""The whole job: scenarios -> optimize -> replay on held-out scenarios -> outputs (DESIGN 8).

``run(site, out_dir)`` writes, each atomically: ``design.json``, ``validation.json``,
``scenarios.nc``, ``timeseries.nc``, ``cashflows.csv`` (lifetime cash flows, bess_size/cashflows.py), ``site.json`` (the validated spec, so ``bess-size report DIR``
can rebuild the report) and ``report.html`` when the report stage is installed.

``refine=N``: while a held-out check fails, the failing held-out scenarios are screened like the
optimizer's own (the shared POI policy over the whole trace) and their contingency and worst-ramp
windows are appended to the optimizer's windows; every optimizer scenario's transient figures are
raised to at least theirs (the requirements are hard per scenario); then the model is solved again,
at most N times. The held-out scenarios used this way stop being independent evidence, so after a
refinement the final design is validated on a fresh held-out draw (the next ``held_out`` indices of
the held-out stream), and the validation says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr

from .io import write_atomic

#: progress(stage, done, total); stages: "scenarios", "optimize", "simulate", "refine", "write"
Progress = Callable[[str, int, int], None]

TRANSIENT_FIGURES = ("discharge_residual_mw", "charge_residual_mw", "deficit_mwh", "surplus_mwh")
REFINE_WINDOW_KINDS = ("loss_of_grid", "voltage_sag", "ramp_up", "ramp_down")


@dataclass
class RunResult:
    out_dir: Path
    design: object  # site_spec.Design
    validation: object  # simulator.Validation
    scenarios: object  # scenarios.ScenarioSet
    optimization: object = None  # optimizer.OptimizationResult
    refinements: int = 0
    timings_s: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.validation.passed

    def summary(self) -> dict:
        b = self.design.bess
        return {
            "site": self.design.site,
            "out_dir": str(self.out_dir),
            "passed": self.passed,
            "refinements": self.refinements,
            "bess": {"energy_mwh": b.energy_mwh, "pcs_power_mw": b.pcs_power_mw, "inverters": b.inverters},
            "generation": [g.model_dump(mode="json") for g in self.design.generation],
            "cost": self.design.cost.model_dump(mode="json") if self.design.cost else None,
            "checks": [{k: c[k] for k in ("requirement", "passed", "measured", "limit", "unit", "success_rate",
                                          "success_rate_lower_95")} for c in (x.to_dict() for x in self.validation.checks)],
            "binding": [e.model_dump(mode="json") for e in self.design.binding],
            "energy_mix": self.design.energy_mix,
            "timings_s": self.timings_s,
            "files": [str(f) for f in self.files],
        }


def _stage(progress: Progress | None, stage: str):
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def refine_scenarios(site, scenarios, validation, progress: Progress | None = None):
    """A new ScenarioSet: the optimizer's, plus what the failing held-out scenarios demand."""
    from .scenarios.generate import FLEET_USE, fleet_use_of, merge_fleet_use, screened_fleet, set_fleet_use
    from .scenarios.transient import screen_scenario, windows_dataset

    failing = sorted({i for c in validation.failed_checks for i in c.failed_scenarios})
    if not failing:
        return scenarios
    transient = scenarios.transient.copy(deep=True)
    fleet = screened_fleet(transient, site)
    chosen = []
    for n, i in enumerate(failing):
        screened, cands = screen_scenario(site, "held_out", i, fleet)  # generated and screened a day at a time
        for k in TRANSIENT_FIGURES:
            transient[k] = transient[k].copy(data=np.maximum(transient[k].values, screened[k]))
        if fleet_use_of(transient) is not None:  # (a set written before it was recorded stays without)
            set_fleet_use(transient, merge_fleet_use(fleet_use_of(transient), {k: screened[k] for k in FLEET_USE}))
        cands = [c for c in cands if c["kind"] in REFINE_WINDOW_KINDS]
        by_kind: dict[str, dict] = {}
        for c in sorted(cands, key=lambda c: -c["severity"]):
            by_kind.setdefault(c["kind"], c)
        chosen += list(by_kind.values())
        if progress is not None:
            progress("refine", n + 1, len(failing))
    windows = scenarios.windows
    if chosen:
        extra = windows_dataset(site, chosen)
        # not optimizer scenarios: -1 - held-out index, so the source stays traceable
        extra = extra.assign_coords(source_scenario=("window", np.array([-1 - c["scenario"] for c in chosen],
                                                                       dtype=np.int64)))
        if windows.sizes.get("window", 0):
            windows = xr.concat([windows, extra], dim="window", combine_attrs="override")
        else:
            windows = extra
    attrs = dict(scenarios.attrs)
    attrs["refined_with_held_out"] = json.dumps(failing)
    return type(scenarios)(energy=scenarios.energy, transient=transient, windows=windows, attrs=attrs)


def run(site, out_dir, *, refine: int = 0, progress: Progress | None = None, log: Callable[[str], None] | None = None,
        solver: str = "highs", time_limit_s: float | None = None, mip_gap: float = 0.01, threads: int | None = None,
        held_out=None, workers: int | None = None, scheduler=None) -> RunResult:
    """Scenarios -> optimize -> simulate held-out -> write the outputs into ``out_dir``.

    ``progress(stage, done, total)`` reports each stage; ``log(line)`` receives the solver's log.
    ``workers`` (>= 2: a local Dask cluster of that many processes) or ``scheduler`` (an address or
    a Client) spread scenario generation and the held-out replay over processes; the outputs are
    the serial run's, bit for bit. Raises ``SiteSpecError`` (bad input), ``InfeasibleError`` (no
    design) and ``parallel.ClusterUnavailable``; a design that fails a held-out check is a result,
    not an error: ``RunResult.passed`` is False.
    """
    from .parallel import client

    with client(workers, scheduler) as dask_client:
        return _run(site, out_dir, refine=refine, progress=progress, log=log, solver=solver, time_limit_s=time_limit_s,
                    mip_gap=mip_gap, threads=threads, held_out=held_out, client=dask_client)


def _run(site, out_dir, *, refine, progress, log, solver, time_limit_s, mip_gap, threads, held_out, client) -> RunResult:
    from .optimizer import optimize
    from .scenarios import generate_scenarios
    from .simulator import simulate

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        from .site_spec import SiteSpecError
        from .site_spec.errors import Problem

        raise SiteSpecError(str(out), [Problem("<out_dir>", str(out), "is a file; expected a folder for the outputs")])
    from .optimizer.diagnosis import screen_site
    from .site_spec.load import recheck_site
    from .solvers.errors import InfeasibleError

    recheck_site(site)  # a site changed in Python by assignment: the cross-field rules run once more
    why = screen_site(site)  # a cap the spec alone shows too small stops the site before any scenario
    if why is not None:
        raise InfeasibleError(f"site {site.name!r}: {why}")
    from .phases import binding_by_phase, envelope_site, is_phased, phased_scenarios, phases, simulate_phases

    timings = {}
    t0 = time.perf_counter()
    # a phased site: every phase's scenarios, one design for all (bess_size/phases.py)
    phase_list = phases(site) if is_phased(site) else None
    model_site = envelope_site(site, phase_list) if phase_list else site
    if phase_list:
        scen = phased_scenarios(site, phase_list, progress=_stage(progress, "scenarios"))
    else:
        scen = generate_scenarios(site, progress=_stage(progress, "scenarios"), client=client)
    timings["scenarios_s"] = time.perf_counter() - t0

    def solve(sc):
        t = time.perf_counter()
        if progress is not None:
            progress("optimize", 0, 1)
        res = optimize(model_site, sc, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads,
                       progress=log)
        if progress is not None:
            progress("optimize", 1, 1)
        timings["optimize_s"] = timings.get("optimize_s", 0.0) + time.perf_counter() - t
        return res

    def replay(design, first=0):
        t = time.perf_counter()
        if phase_list:
            v, per_phase = simulate_phases(site, design, phase_list, held_out=held_out, progress=_stage(progress, "simulate"))
            design.phases = binding_by_phase(per_phase, phase_list)
        else:
            v = simulate(site, design, held_out=held_out, progress=_stage(progress, "simulate"), first=first,
                         client=client)
        timings["simulate_s"] = timings.get("simulate_s", 0.0) + time.perf_counter() - t
        return v

    res = solve(scen)
    val = replay(res.design)
    rounds = 0
    if phase_list and refine:
        val.notes.append("--refine is not applied to a phased site: its held-out scenarios stay independent evidence")
    while not val.passed and rounds < refine and not phase_list:
        rounds += 1
        scen = refine_scenarios(site, scen, val, progress=progress)
        res = solve(scen)
        val = replay(res.design)
    if rounds:
        refined_with = val
        if held_out is None or isinstance(held_out, int):
            # the refined design is judged on a fresh held-out draw it never saw: the scenarios that
            # shaped it are no longer independent evidence
            n = site.scenarios.held_out if held_out is None else int(held_out)
            val = replay(res.design, first=n)
            val.notes.append(f"{rounds} refinement(s) used held-out scenarios 0-{n - 1} (the last replay of them "
                             f"{'passed' if refined_with.passed else 'failed'}); this validation is a fresh draw, "
                             f"held-out scenarios {n}-{2 * n - 1}, never seen by the optimizer")
        else:
            val.notes.append(f"{rounds} refinement(s): failing held-out scenarios were added to the optimizer's "
                             "transient requirements and windows, so those scenarios are no longer independent "
                             "evidence (given traces: no fresh draw to validate on)")
    if phase_list:
        from .phases import phase_annual_costs

        for row, costs in zip(res.design.phases or [], phase_annual_costs(res, scen)):
            row["annual_usd"] = costs
    files = write_outputs(out, site, res.design, val, scen)
    timings["total_s"] = time.perf_counter() - t0
    return RunResult(out, res.design, val, scen, res, rounds, timings, files)


def write_outputs(out: Path, site, design, validation, scenarios=None) -> list[Path]:
    """Every output file, each atomically; the report last (it reads the others)."""
    from .site_spec.load import dump_site

    out.mkdir(parents=True, exist_ok=True)
    files = []
    write_atomic(out / "site.json", json.dumps(dump_site(site), indent=2) + "\n")
    files.append(out / "site.json")
    if design.cost is not None:
        from .cashflows import cash_flows

        used = float((getattr(validation, "results", None) or {}).get("cycle_life_used_per_year", 0.0) or 0.0)
        flows = cash_flows(site, design, used)
        design.lifetime = flows.summary()
        if design.phases:
            from .cashflows import time_to_power

            design.time_to_power = time_to_power(site, design, flows)
        write_atomic(out / "cashflows.csv", flows.to_csv())
        files.append(out / "cashflows.csv")
    write_atomic(out / "design.json", design.to_json() + "\n")
    files.append(out / "design.json")
    if scenarios is not None:
        scenarios.to_netcdf(out / "scenarios.nc")
        files.append(out / "scenarios.nc")
    validation.write_timeseries(out / "timeseries.nc")
    files.append(out / "timeseries.nc")
    write_atomic(out / "validation.json", validation.to_json() + "\n")
    files.append(out / "validation.json")
    report = _report_writer()
    if report is not None:
        try:
            files.append(Path(report(out, site=site)))
        except Exception as exc:  # the evidence is written; a figure that fails must not lose it
            import warnings

            warnings.warn(f"report.html not written: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
    return files


def _report_writer():
    try:
        from .report import write_report
    except ImportError:
        return None
    return write_report
