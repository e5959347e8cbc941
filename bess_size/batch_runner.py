"""Batch evaluation on Dask distributed: many sites, each its whole pipeline as one task.

The unit of work is a *site job*: a spec (a file path, or a validated site mapping for sweep
points), the folder name it gets under OUTDIR, and a fingerprint of the spec. ``run_site`` is the
Dask task: it loads the site on the worker (so bad input becomes an error row, not a crash of the
batch), runs ``bess_size.pipeline.run`` into a private staging folder, writes ``summary.json`` last
and renames the folder to ``OUTDIR/<site>/`` in one step. A site is *complete* exactly when
``OUTDIR/<site>/summary.json`` exists and names the same spec fingerprint; a re-run reuses those
and runs the rest.

Faults stay local to their row:

* bad input, an infeasible site, any exception in the pipeline -> the task returns an error row;
* a worker process that dies (killed, out of memory, a crash in native code) -> the scheduler
  reschedules its task on another worker, up to ``retries`` times (the scheduler's
  ``allowed-failures``; exceptions escaping the task are retried by ``retries=`` too), then the row
  says ``worker_lost``;
* a site that runs longer than ``timeout_per_site_s`` -> the client cancels it, has that worker's
  nanny SIGKILL the process the task reported it runs in and start a fresh one (a Python thread
  cannot be stopped any other way) and writes a ``timeout`` row; the
  solver gets 75% of that as its own time limit, so the MILP usually stops first: with a design in
  hand the site goes on (``solver_status`` says ``time_limit``), without one the row is ``timeout``.

Statuses: ``passed`` (ran, every check held), ``requirement_failed`` (ran, a check failed; outputs
complete), ``bad_input``, ``infeasible``, ``timeout``, ``error``, ``worker_lost``, ``interrupted``.
Only the first two are complete; everything else is redone by a re-run.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import math
import os
import queue
import re
import shutil
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_path, write_atomic

log = logging.getLogger(__name__)

PASSED, REQUIREMENT_FAILED = "passed", "requirement_failed"
BAD_INPUT, INFEASIBLE, TIMEOUT, ERROR, WORKER_LOST, INTERRUPTED = (
    "bad_input", "infeasible", "timeout", "error", "worker_lost", "interrupted")
COMPLETE = (PASSED, REQUIREMENT_FAILED)

MARKER = "summary.json"  # written last into a site's folder: its presence means "complete"
STAGING = ".staging"  # OUTDIR/.staging/<site>.<token>/: where a task writes before the final rename
LOGS = "logs"  # OUTDIR/logs/<site>.log: the traceback of an unexpected error
EVENT_TOPIC = "bess-size-batch"  # worker -> client "this site started" events (progress, timeouts)

# the summary table: one row per site or sweep point; units in the names
SUMMARY_COLUMNS = {
    "site": "string",
    "status": "string",
    "validation_passed": "boolean",
    "energy_mwh": "float64",
    "ride_through_reserve_mwh": "float64",
    "up_ramp_buffer_mwh": "float64",
    "curtailment_reserve_mwh": "float64",
    "down_ramp_headroom_mwh": "float64",
    "replay_stored_range_mwh": "float64",
    "replay_ramp_window_draw_mwh": "float64",
    "pcs_power_mw": "float64",
    "inverters": "Int64",
    "containers": "Int64",
    "new_gen_units": "Int64",
    "total_annualized_usd": "float64",
    "grid_only_bill_usd": "float64",
    "annualized_capex_usd": "float64",
    "expected_annual_opex_usd": "float64",
    "min_success_rate": "float64",
    "min_success_rate_lower_95": "float64",
    "failed_checks": "string",
    "solver_status": "string",
    "mip_gap": "float64",
    "solve_s": "float64",
    "wall_s": "float64",
    "cpu_s": "float64",
    "attempts": "Int64",
    "reused": "boolean",
    "error": "string",
    "spec": "string",
    "out_dir": "string",
}


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class SiteJob:
    """One site to evaluate: what the task needs, small enough to ship to any worker."""

    name: str  # folder under OUTDIR and the row's "site"
    spec: str | dict  # absolute path of a spec file, or a site mapping (sweep points)
    source: str  # what messages call the spec: its path, or "site.yaml [point 3]"
    spec_sha256: str | None  # fingerprint; a completed folder is reused only when it matches
    base_dir: str = "."  # relative CSV paths of a mapping resolve from here
    extra: dict = field(default_factory=dict)  # columns carried into the row (sweep values)


def safe_name(text: str) -> str:
    """A folder name: letters, digits and ``._=+-`` kept, anything else becomes ``_``."""
    name = re.sub(r"[^A-Za-z0-9._=+-]+", "_", str(text)).strip("._") or "site"
    return name[:120]


def fingerprint(spec: str | Path | Mapping) -> str | None:
    """sha256 of a spec file's bytes (None when unreadable) or of a mapping's canonical JSON."""
    if isinstance(spec, Mapping):
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
    try:
        return hashlib.sha256(Path(spec).read_bytes()).hexdigest()
    except OSError:
        return None


def _name_from_file(path: Path) -> str:
    """The spec's ``name`` when the file parses, else the file's stem (a broken file still needs a row)."""
    from .site_spec import SiteSpecError, read_document

    try:
        name = read_document(path).get("name")
    except (SiteSpecError, OSError):
        name = None
    return str(name) if isinstance(name, str) and name.strip() else path.stem


def expand_site_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Spec files as given; a folder stands for its ``*.yaml``, ``*.yml`` and ``*.json`` site specs, sorted.

    In a folder, a file that parses to a mapping sharing no key with a site spec (a tariff JSON a
    site reads, say) is a data file, not a site, and is left out; a file that does not parse stays
    in, so its row names the syntax error. A file named on its own is always taken as a site.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.iterdir()
                          if q.suffix.lower() in (".yaml", ".yml", ".json") and q.is_file() and _may_be_site(q))
        else:
            out.append(p)
    return out


def _may_be_site(path: Path) -> bool:
    """False only for a file that parses to a mapping with none of a site spec's top-level keys."""
    import yaml

    from .site_spec import Site

    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except Exception:
        return True
    return not isinstance(data, Mapping) or bool(set(map(str, data)) & set(Site.model_fields))


def plan_jobs(sites: Iterable) -> list[SiteJob]:
    """Turn spec paths, ``Site`` objects or site mappings into jobs with unique folder names.

    Two specs with the same name get ``-2``, ``-3``... in the order given, so the same command
    maps the same spec to the same folder every time (which is what resuming relies on).
    """
    from .site_spec import Site, dump_site

    jobs, seen = [], {}
    for item in sites:
        if isinstance(item, SiteJob):
            jobs.append(item)
            continue
        if isinstance(item, Site):
            item = dump_site(item)
        if isinstance(item, Mapping):
            data = dict(item)
            base = safe_name(data.get("name") or "site")
            spec, source, base_dir = data, str(data.get("name") or "<site>"), str(Path.cwd())
        else:
            path = Path(item).absolute()
            base = safe_name(_name_from_file(path))
            spec, source, base_dir = str(path), str(item), str(path.parent)
        n = seen.get(base, 0) + 1
        seen[base] = n
        name = base if n == 1 else f"{base}-{n}"
        jobs.append(SiteJob(name=name, spec=spec, source=source, spec_sha256=fingerprint(spec), base_dir=base_dir))
    names = [j.name for j in jobs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"two jobs write the same folder: {sorted(dup)}")
    return jobs


# --------------------------------------------------------------------------- the task


def _empty_row(job: SiteJob) -> dict:
    row = {c: None for c in SUMMARY_COLUMNS}
    row.update(site=job.name, spec=job.source, reused=False)
    row.update(job.extra)
    return row


def error_row(job: SiteJob, status: str, message: str, *, wall_s: float | None = None) -> dict:
    row = _empty_row(job)
    row.update(status=status, error=message, wall_s=wall_s)
    return row


def _one_line(err) -> str:
    """A SiteSpecError as one line: 'path = value: expected; ...' (the CSV keeps one row per site)."""
    problems = getattr(err, "problems", None)
    if problems:
        parts = [f"{p.path} = {p.value!r}: " + " ".join(f"{getattr(p, 'reason', '')} {p.expected}".split()) for p in problems]
        return f"{err.source}: " + "; ".join(parts)
    return " ".join(str(err).split())


def _load_job(job: SiteJob):
    from .site_spec import load_site, validate_site

    if isinstance(job.spec, Mapping):
        return validate_site(dict(job.spec), job.source, job.base_dir)
    return load_site(job.spec)


def _pipeline_kwargs(run, *, threads: int | None, time_limit_s: float | None) -> dict:
    """Pass the solver's threads and time limit down when ``run`` takes them (by name or **kwargs)."""
    params = inspect.signature(run).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kw = {}
    if threads is not None and (takes_any or "threads" in params):
        kw["threads"] = threads
    if time_limit_s is not None and (takes_any or "time_limit_s" in params):
        kw["time_limit_s"] = time_limit_s
    return kw


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


BAND_KEYS = ("ride_through_reserve", "up_ramp_buffer", "curtailment_reserve", "down_ramp_headroom")
RAMP_WINDOW_KINDS = ("worst_ramp", "ramp_violation")


def replay_use(validation: dict, timeseries: Path) -> dict:
    """How much of the battery the held-out replay used: ``replay_stored_range_mwh`` = highest - lowest
    stored energy over every held-out scenario, and ``replay_ramp_window_draw_mwh`` = the largest fall
    of stored energy, max_t (max_{s <= t} e_s - e_t), in the replay's recorded ramp windows
    (timeseries.nc). Beside E and the bands, a battery sized for energy the replay never uses shows."""
    m = validation.get("metrics") or {}
    lo, hi = _finite(m.get("lowest_stored_mwh")), _finite(m.get("highest_stored_mwh"))
    out = {"replay_stored_range_mwh": hi - lo if lo is not None and hi is not None else None,
           "replay_ramp_window_draw_mwh": None}
    try:
        import xarray as xr

        with xr.open_dataset(timeseries, group="windows", engine="h5netcdf") as ds:
            kinds = [str(k) for k in ds["kind"].values]
            stored = ds["stored_mwh"].values
        draws = [float(np.max(np.maximum.accumulate(stored[w]) - stored[w]))
                 for w, k in enumerate(kinds) if k in RAMP_WINDOW_KINDS]
        out["replay_ramp_window_draw_mwh"] = max(draws) if draws else 0.0
    except (OSError, KeyError, ValueError, ImportError):
        pass
    return out


def summarize_outputs(folder: Path, row: dict) -> dict:
    """Fill a row's design, cost and validation figures from design.json and validation.json (DESIGN 9)."""
    design = _read_json(folder / "design.json")
    validation = _read_json(folder / "validation.json")
    bess = design.get("bess", {})
    cost = design.get("cost", {})
    solver = design.get("solver") or {}
    gens = design.get("generation") or []
    checks = validation.get("checks") or []
    rates = [c.get("success_rate") for c in checks if _finite(c.get("success_rate")) is not None]
    lows = [c.get("success_rate_lower_95") for c in checks if _finite(c.get("success_rate_lower_95")) is not None]
    passed = validation.get("passed")
    row.update(
        validation_passed=bool(passed) if passed is not None else None,
        energy_mwh=_finite(bess.get("energy_mwh")),
        **{f"{k}_mwh": _finite((bess.get("bands_mwh") or {}).get(k)) for k in BAND_KEYS},
        **replay_use(validation, folder / "timeseries.nc"),
        pcs_power_mw=_finite(bess.get("pcs_power_mw")),
        inverters=bess.get("inverters"),
        containers=bess.get("containers"),
        new_gen_units=int(sum(int(g.get("new_units", 0)) for g in gens)),
        total_annualized_usd=_finite(cost.get("total_annualized_usd")),
        grid_only_bill_usd=_finite(cost.get("grid_only_bill_usd")),
        annualized_capex_usd=_finite(cost.get("annualized_capex_usd")),
        expected_annual_opex_usd=_finite(cost.get("expected_annual_opex_usd")),
        min_success_rate=float(min(rates)) if rates else None,
        min_success_rate_lower_95=float(min(lows)) if lows else None,
        failed_checks=",".join(str(c.get("requirement")) for c in checks if c.get("passed") is False) or None,
        solver_status=solver.get("status"),
        mip_gap=_finite(solver.get("mip_gap")),
        solve_s=_finite(solver.get("solve_s")),
    )
    return row


def _replace_dir(staging: Path, final: Path) -> None:
    """Put a finished staging folder at ``final`` by renames: readers see the old folder or the new one."""
    if final.exists():
        trash = staging.with_name(staging.name + ".old")
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.rename(staging, final)


class _SiteTimeout(Exception):
    """The site finished, but after its --timeout-per-site: its outputs are discarded."""


def _announce_start(job: SiteJob) -> None:
    """Tell the client this site started (progress 'running' count, per-site timeout clock)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return  # not on a Dask worker (a direct call): nobody is listening
    worker.log_event(EVENT_TOPIC, {"site": job.name, "pid": os.getpid()})


def run_site(job: SiteJob, out_root: str | Path, *, timeout_s: float | None = None, threads: int | None = 1) -> dict:
    """The Dask task: evaluate one site end to end and return its summary row (a small dict).

    Loads the spec here, on the worker, so bad input is this row's error and nobody else's. Writes
    into ``OUTDIR/.staging/<site>.<token>/``, adds ``summary.json`` last and renames the folder to
    ``OUTDIR/<site>/``. Never raises for a problem of the site itself.
    """
    from .site_spec import SiteSpecError
    from .solvers.errors import InfeasibleError, SolverTimeLimitError, SolverUnavailableError

    _announce_start(job)
    out_root = Path(out_root)
    t0, c0 = time.perf_counter(), time.process_time()
    staging = out_root / STAGING / f"{job.name}.{uuid.uuid4().hex[:8]}"
    try:
        site = _load_job(job)
        from . import pipeline

        # the MILP gets most of the site's time; the client's clock is the hard stop
        limit = None if timeout_s is None else max(1.0, 0.75 * timeout_s)
        staging.mkdir(parents=True)
        pipeline.run(site, staging, **_pipeline_kwargs(pipeline.run, threads=threads, time_limit_s=limit))
        wall = time.perf_counter() - t0
        if timeout_s is not None and wall > timeout_s:
            raise _SiteTimeout(f"took {wall:.1f} s, over --timeout-per-site {timeout_s:g} s")
        row = summarize_outputs(staging, _empty_row(job))
        # cpu_s well below wall_s means the site waited for a CPU: the machine is oversubscribed
        row.update(status=PASSED if row["validation_passed"] else REQUIREMENT_FAILED, wall_s=wall,
                   cpu_s=time.process_time() - c0, out_dir=str(out_root / job.name))
        write_atomic(staging / MARKER, json.dumps({"spec_sha256": job.spec_sha256, "row": row}, indent=2, default=str))
        _replace_dir(staging, out_root / job.name)
        return row
    except (SiteSpecError, SolverUnavailableError) as err:
        return error_row(job, BAD_INPUT, _one_line(err), wall_s=time.perf_counter() - t0)
    except InfeasibleError as err:
        return error_row(job, INFEASIBLE, _one_line(err), wall_s=time.perf_counter() - t0)
    except SolverTimeLimitError as err:
        # the solver stopping at its time limit without any design is a timeout, not a verdict on the site
        return error_row(job, TIMEOUT, _one_line(err), wall_s=time.perf_counter() - t0)
    except _SiteTimeout as err:
        return error_row(job, TIMEOUT, _one_line(err), wall_s=time.perf_counter() - t0)
    except MemoryError:
        raise  # let Dask retry it (retries=), perhaps on a worker with more room
    except Exception as err:  # any other failure is this site's row, with its traceback in logs/
        write_atomic(out_root / LOGS / f"{job.name}.log", f"{job.source}\n\n{traceback.format_exc()}")
        msg = f"{type(err).__name__}: {_one_line(err)} (traceback in {LOGS}/{job.name}.log)"
        return error_row(job, ERROR, msg, wall_s=time.perf_counter() - t0)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------- resume


def completed_row(job: SiteJob, out_root: Path) -> dict | None:
    """The stored row of a completed site with the same spec fingerprint, else None."""
    marker = _read_json(out_root / job.name / MARKER)
    row = marker.get("row")
    if not row or job.spec_sha256 is None or marker.get("spec_sha256") != job.spec_sha256:
        return None
    if row.get("status") not in COMPLETE:
        return None
    row = {**_empty_row(job), **{k: v for k, v in row.items() if k in SUMMARY_COLUMNS}}
    row.update(job.extra, reused=True, out_dir=str(out_root / job.name))
    return row


# --------------------------------------------------------------------------- the summary table


def summary_frame(rows: list[dict], extra_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Rows as a DataFrame with fixed column order and dtypes (so Parquet round-trips exactly)."""
    extra = [c for c in extra_columns if c not in SUMMARY_COLUMNS]
    cols = ["site"] + extra + [c for c in SUMMARY_COLUMNS if c != "site"]
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
    for c, dtype in SUMMARY_COLUMNS.items():
        df[c] = df[c].astype("object").where(df[c].notna(), None).astype(dtype)
    return df.reset_index(drop=True)


def write_table(df: pd.DataFrame, out_root: Path, stem: str = "summary") -> None:
    """``<stem>.csv`` and ``<stem>.parquet`` in OUTDIR, each written atomically."""
    with atomic_path(out_root / f"{stem}.csv") as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(out_root / f"{stem}.parquet") as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow")


def exit_code(df: pd.DataFrame) -> int:
    """0 when every site ran and passed every check; 1 when any failed a requirement or did not run."""
    return 0 if len(df) and bool((df["status"] == PASSED).all()) else 1


# --------------------------------------------------------------------------- the cluster


@contextmanager
def dask_client(workers: int | None = None, scheduler=None, *, retries: int = 2):
    """A ``distributed.Client``: on a private local cluster, or on the scheduler at ``scheduler``.

    Local: ``workers`` processes of one thread each, bound to 127.0.0.1, no dashboard, the
    scheduler handing a worker one task at a time (worker-saturation 1.0), and a task whose worker
    dies retried up to ``retries`` times. ``scheduler`` may also be an existing Client, used as is.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler  # a Client the caller owns
        return
    if scheduler is not None:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    n = max(1, int(workers or os.cpu_count() or 1))
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    # Kept set for the cluster's whole life: the local cluster reads lost-worker-timeout whenever a
    # worker goes away. Its default (15 s) closes a nanny for good when no worker of its name is
    # back 15 s after *any* earlier loss, which, with a slow restart (a busy machine) or a site that
    # kills its worker again, silently shrinks the cluster: a killed worker must always come back.
    with dask.config.set({"distributed.scheduler.allowed-failures": int(retries),
                          "distributed.scheduler.worker-saturation": 1.0,
                          "distributed.deploy.lost-worker-timeout": "365 days"}):
        # no dashboard; the scheduler's small health/metrics HTTP server on a free loopback port
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR, env=env, preload=[__name__],
                               scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
        try:
            client = Client(cluster)
            try:
                yield client
            finally:
                client.close()
        finally:
            cluster.close()


def dask_setup(worker) -> None:
    """Preload hook of the local cluster's worker processes: leave Ctrl-C to the client.

    A terminal's Ctrl-C reaches the whole process group; the client then records the unfinished
    sites as interrupted and closes the cluster in order, instead of every worker printing a
    KeyboardInterrupt traceback mid-site.
    """
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: leave it
        pass


# --------------------------------------------------------------------------- running jobs


class _Display:
    """A rich progress bar on stderr over sites: passed, failed and running counts; a line per finish."""

    def __init__(self, total: int, enabled: bool, label: str = "sites"):
        self.enabled = enabled and total > 0
        self.passed = self.failed = self.running = 0
        self.total = total
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[green]{task.fields[passed]} passed[/] [red]{task.fields[failed]} failed[/] "
                       "[cyan]{task.fields[running]} running[/]"),
            TimeElapsedColumn(), console=self.console, transient=False)
        self.task = self.progress.add_task(label, total=total, passed=0, failed=0, running=0)
        self.progress.start()

    def update(self, running: int) -> None:
        self.running = running
        if self.enabled:
            self.progress.update(self.task, passed=self.passed, failed=self.failed, running=running)

    def finished(self, row: dict) -> None:
        ok = row["status"] == PASSED
        self.passed += ok
        self.failed += not ok
        if not self.enabled:
            return
        mark = "[green]✓" if ok else "[red]✗"
        tail = "reused" if row.get("reused") else (f"{row['wall_s']:.1f} s" if row.get("wall_s") is not None else "")
        why = f": {row['error']}" if row.get("error") else (f" ({row['failed_checks']})" if row.get("failed_checks") else "")
        if len(why) > 200:
            why = why[:197] + "..."
        self.progress.console.print(f"{mark} {row['site']}[/] {row['status']} {tail}{why}", markup=True, highlight=False)
        self.progress.update(self.task, advance=1, passed=self.passed, failed=self.failed)

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()


def _kill_worker_process(pid: int, dask_worker=None) -> bool:
    """Run on a nanny (``client.run(..., nanny=True)``): SIGKILL its worker process if that is still ``pid``.

    The nanny then replaces the process, as after any crash. A different pid means the process
    that ran the site is gone already (and another may be running other work): left alone.
    """
    if dask_worker is None or dask_worker.pid != pid:
        return False
    os.kill(pid, signal.SIGKILL)
    return True


def _stop_site(client, address: str, pid: int | None) -> None:
    """Stop a timed-out site: its worker's nanny kills the worker process ``pid`` and starts a fresh one.

    A Python thread cannot be stopped, so the process that runs the site has to go. This is the same
    path as any worker that dies (and is tested as such); a graceful ``Client.restart_workers`` was
    seen to leave the nanny closed instead of restarted after heavy worker churn. A worker without a
    nanny (``dask worker --no-nanny``) is left alone, since nothing would replace it: the site then
    runs on until it ends, its row already says timeout.
    """
    if pid is None:
        log.warning("worker %s did not report its process id; the timed-out site runs on until it ends", address)
        return
    try:
        done = client.run(_kill_worker_process, pid, workers=[address], nanny=True, on_error="return")
    except Exception as exc:  # the scheduler went away
        log.warning("could not stop worker %s running a timed-out site (%s)", address, exc)
        return
    if address not in done:  # the scheduler knows no nanny for it
        log.warning("worker %s has no nanny to replace it; the timed-out site runs on until it ends", address)
    elif isinstance(done[address], BaseException):
        log.warning("could not stop worker %s running a timed-out site (%s)", address, done[address])


def run_jobs(jobs: list[SiteJob], out_dir: str | Path, *, workers: int | None = None, scheduler=None,
             timeout_per_site_s: float | None = None, retries: int = 2, progress: bool = True,
             label: str = "sites", threads: int = 1) -> list[dict]:
    """Run jobs on Dask (reusing completed ones) and return their rows in the jobs' order."""
    out_root = Path(out_dir).absolute()
    out_root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_root / STAGING, ignore_errors=True)  # leftovers of an interrupted run
    rows: dict[str, dict] = {}
    display = _Display(len(jobs), progress, label)
    try:
        todo = []
        for job in jobs:
            row = completed_row(job, out_root)
            if row is None:
                todo.append(job)
            else:
                rows[job.name] = row
                display.finished(row)
        if todo:
            n_workers = min(int(workers or os.cpu_count() or 1), len(todo))
            with dask_client(n_workers, scheduler, retries=retries) as client:
                _submit_and_collect(client, todo, out_root, timeout_per_site_s, retries, threads, display, rows)
    except KeyboardInterrupt:
        for job in jobs:
            if job.name in rows:
                continue
            # a site may have completed on its worker before its result reached us: its marker says so
            row = completed_row(job, out_root)
            if row is not None:
                row["reused"] = False
            rows[job.name] = row or error_row(job, INTERRUPTED, "the batch was interrupted before this site finished")
        raise
    finally:
        display.close()
        with contextlib.suppress(OSError):
            (out_root / STAGING).rmdir()  # empty once every task renamed its folder into place
        # keep what is known even when interrupted: the table is rewritten in full each run
        if rows:
            write_table(summary_frame([rows[j.name] for j in jobs if j.name in rows], _extra_columns(jobs)), out_root)
    return [rows[j.name] for j in jobs]


def _extra_columns(jobs: list[SiteJob]) -> list[str]:
    cols: list[str] = []
    for j in jobs:
        cols += [k for k in j.extra if k not in cols]
    return cols


def _row_of(fut, job: SiteJob) -> dict:
    """The row a finished future stands for: the task's own row, or why there is none."""
    from distributed import KilledWorker

    try:
        if fut.status == "finished":
            return fut.result()
        if fut.status == "cancelled":  # not by us (a timeout has its row already): e.g. the scheduler went away
            return error_row(job, ERROR, "the task was cancelled by the Dask scheduler (did it restart or stop?)")
        exc = fut.exception()
    except Exception as err:  # the future itself failed to report, e.g. the connection to the scheduler broke
        exc = err
    if isinstance(exc, KilledWorker):
        last = getattr(exc.last_worker, "address", "?")
        row = error_row(job, WORKER_LOST, f"the worker process running this site died {exc.allowed_failures + 1} times "
                                          f"(last: {last})")
        row["attempts"] = exc.allowed_failures + 1  # exact; a start event may die with its worker unsent
        return row
    return error_row(job, ERROR, f"{type(exc).__name__}: {exc}")


def _submit_and_collect(client, jobs, out_root, timeout_s, retries, threads, display, rows: dict[str, dict]) -> None:
    """Submit one task per job; put each row into ``rows`` as it finishes; enforce the per-site timeout.

    ``rows`` is filled in place so an interruption keeps what already finished.
    """
    by_name = {j.name: j for j in jobs}
    started: dict[str, tuple[float, str, int]] = {}  # site -> (client monotonic start, worker address, its pid)
    attempts: dict[str, int] = {}
    lock = threading.Lock()

    def on_event(event):
        _, msg = event
        name = msg.get("site")
        if name in by_name:
            with lock:
                started[name] = (time.monotonic(), msg.get("worker"), msg.get("pid"))
                attempts[name] = attempts.get(name, 0) + 1

    client.subscribe_topic(EVENT_TOPIC, on_event)
    restarts: list[threading.Thread] = []
    done_q: queue.Queue = queue.Queue()
    futures = {}
    token = uuid.uuid4().hex[:8]
    for job in jobs:
        fut = client.submit(run_site, job, str(out_root), timeout_s=timeout_s, threads=threads,
                            key=f"bess-size-site-{job.name}-{token}", pure=False, retries=retries)
        futures[job.name] = fut
        fut.add_done_callback(lambda f, name=job.name: done_q.put(name))

    try:
        while any(name not in rows for name in by_name):
            try:
                name = done_q.get(timeout=0.25)
            except queue.Empty:
                name = None
            if name is not None and name not in rows:
                row = _row_of(futures[name], by_name[name])
                if row.get("attempts") is None:
                    row["attempts"] = attempts.get(name)
                rows[name] = row
                display.finished(row)
            now = time.monotonic()
            with lock:
                running = {n: s for n, s in started.items() if n not in rows}
            if timeout_s is not None:
                for n, (t_start, worker, pid) in running.items():
                    if now - t_start > timeout_s and not futures[n].done():
                        futures[n].cancel()
                        row = error_row(by_name[n], TIMEOUT, f"still running after --timeout-per-site {timeout_s:g} s; "
                                                             f"stopped (its worker process was replaced)", wall_s=now - t_start)
                        row["attempts"] = attempts.get(n)
                        rows[n] = row
                        display.finished(row)
                        if worker:  # in the background, so other sites' clocks keep being watched
                            restarts.append(threading.Thread(target=_stop_site, args=(client, worker, pid), daemon=True))
                            restarts[-1].start()
            display.update(sum(1 for n in running if n not in rows))
    finally:
        client.unsubscribe_topic(EVENT_TOPIC)
        for fut in futures.values():
            if not fut.done():
                fut.cancel()
        for t in restarts:  # the cluster may be closed next: let restarts finish first
            t.join(timeout=90)


# --------------------------------------------------------------------------- the public API


def batch(sites, out_dir: str | Path, workers: int | None = None, scheduler=None, *,
          timeout_per_site_s: float | None = None, retries: int = 2, progress: bool = True) -> pd.DataFrame:
    """Evaluate many sites on Dask; return the summary table (also written to OUTDIR/summary.csv, .parquet).

    Parameters
    ----------
    sites : spec file paths (a folder stands for its *.yaml/*.yml/*.json), ``Site`` objects or site mappings.
    out_dir : OUTDIR; each site's outputs land in OUTDIR/<site name>/ (written by the workers, so on
        a multi-machine cluster OUTDIR must be a path every worker sees, e.g. a shared filesystem).
    workers : worker processes of the local cluster (one thread each); default: the CPU count.
    scheduler : a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``; then no
        local cluster is started and ``workers`` is ignored.
    timeout_per_site_s : a site still running after this long becomes a ``timeout`` row; 75% of it is
        the solver's time limit.
    retries : how often a task is rerun after its worker died (or it raised out of the task).
    """
    from .site_spec import Site

    if isinstance(sites, (str, Path, Mapping, Site)):
        sites = [sites]
    jobs = plan_jobs(_expand(sites))
    rows = run_jobs(jobs, out_dir, workers=workers, scheduler=scheduler, timeout_per_site_s=timeout_per_site_s,
                    retries=retries, progress=progress)
    return summary_frame(rows, _extra_columns(jobs))


def _expand(items) -> list:
    """Folders become their spec files, in place; everything else stays where it was given."""
    out = []
    for s in items:
        out += expand_site_paths([s]) if isinstance(s, (str, Path)) else [s]
    return out
