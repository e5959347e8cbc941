"""Batch evaluation on a real local Dask cluster (2 worker processes, loopback only).

The sites are the bundled default shrunk to seconds of work (20 MW IT, 2 scenarios of 6 h, 4 held
out), so the whole file stays within its time budget while every path runs for real: the loader on
the worker, the pipeline, a worker process killed mid-site, an interrupted command and its re-run.

Tests that kill worker processes get a cluster of their own (``own_client``): a worker lost there
cannot fail the next test. The others share one module cluster (``client``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from distributed.diagnostics.plugin import WorkerPlugin

from bess_size.batch_runner import (BAD_INPUT, COMPLETE, EVENT_TOPIC, INFEASIBLE, INTERRUPTED, MARKER, PASSED, REQUIREMENT_FAILED,
                             STAGING, TIMEOUT, WORKER_LOST, batch, dask_client, exit_code, summary_frame)


def tiny_site(name: str, **sections) -> dict:
    """The bundled default at 20 MW IT with tiny scenario settings; ``sections`` update its sections."""
    from bess_size.examples import path as example_path

    d = yaml.safe_load(Path(example_path("campus-300mw")).read_text())
    d["name"] = name
    d["load"].update(it_capacity_mw=20.0, min_load_mw=6.0)
    d["grid"].update(firm_import_mw=12.0, nonfirm_import_mw=10.0, ramp_limit_mw_per_min=2.3)
    d["scenarios"].update(count=2, held_out=4, trace_days=0.25, representative_days=2, transient_windows=4)
    # 4 held-out scenarios: a Wilson lower bound of 0.51 when all succeed, so a target of 0.5 can pass
    d["reliability"]["target_success_rate"] = 0.5
    for section, values in sections.items():
        d[section].update(values)
    return d


def write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def client():
    """One local cluster for the tests that leave its workers alone: 2 worker processes of 1 thread, on 127.0.0.1."""
    with dask_client(2, retries=2) as c:
        yield c


@pytest.fixture
def own_client():
    """A fresh local cluster for one test that kills worker processes (2 workers, 2 allowed failures)."""
    with dask_client(2, retries=2) as c:
        yield c


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("specs")
    return {
        "good": write(d / "good.yaml", tiny_site("good")),
        "good2": write(d / "good2.yaml", tiny_site("good2", scenarios={"seed": 7})),
        "good3": write(d / "good3.yaml", tiny_site("good3", scenarios={"seed": 8})),
        # ride-through of the whole 23 MW site needs 23 MW of PCS, but at most 1 MW may be built
        "infeasible": write(d / "infeasible.yaml", tiny_site("infeasible", bess={"max_power_mw": 1.0})),
        "broken": write(d / "broken.yaml", "name: broken\ngrid: {firm_import_mw: [12\nload:\n"),
        "negative": write(d / "negative.yaml", tiny_site("negative", grid={"firm_import_mw": -5.0})),
    }


# --------------------------------------------------------------------------- rows


@pytest.mark.slow
def test_bad_input_rows_never_stop_the_batch(client, specs, tmp_path):
    """Bad YAML, a value out of range and a missing file: each its own row, loaded on the worker.

    Sent through a scheduler *address* (as `--scheduler tcp://...` does): the same code path as a
    multi-machine cluster, here pointed at the local one."""
    missing = specs["good"].parent / "missing.yaml"
    address = client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    df = batch([specs["broken"], specs["negative"], missing], tmp_path / "out", scheduler=address, progress=False)
    assert list(df["site"]) == ["broken", "negative", "missing"]  # order given; name from the file when unreadable
    assert (df["status"] == BAD_INPUT).all()
    assert "YAML syntax" in df.loc[0, "error"] or "line 3" in df.loc[0, "error"]
    assert "grid.firm_import_mw = -5.0" in df.loc[1, "error"] and ">= 0" in df.loc[1, "error"]
    assert "missing.yaml" in df.loc[2, "error"]
    assert exit_code(df) == 1
    assert not any((tmp_path / "out" / n / MARKER).exists() for n in df["site"])  # incomplete: redone next time


@pytest.mark.slow
def test_mixed_batch_gives_the_right_rows_and_a_round_tripping_summary(client, specs, tmp_path):
    out = tmp_path / "out"
    df = batch([specs["good"], specs["broken"], specs["infeasible"]], out, scheduler=client, progress=False)
    assert list(df["site"]) == ["good", "broken", "infeasible"]
    good, broken, infeasible = (df.loc[i] for i in range(3))

    assert good["status"] in COMPLETE and good["status"] == (PASSED if good["validation_passed"] else REQUIREMENT_FAILED)
    folder = out / "good"
    for f in ("design.json", "validation.json", "scenarios.nc", "timeseries.nc", MARKER):
        assert (folder / f).is_file(), f
    design = json.loads((folder / "design.json").read_text())
    assert good["energy_mwh"] == pytest.approx(design["bess"]["energy_mwh"])
    assert good["pcs_power_mw"] == pytest.approx(design["bess"]["pcs_power_mw"])
    assert good["total_annualized_usd"] == pytest.approx(design["cost"]["total_annualized_usd"])
    assert good["energy_mwh"] > 0 and good["wall_s"] > 0
    assert 0 <= good["min_success_rate"] <= 1

    assert broken["status"] == BAD_INPUT and pd.isna(broken["energy_mwh"])
    assert infeasible["status"] == INFEASIBLE and "max_power_mw" in infeasible["error"]
    assert not (out / STAGING).exists()  # every staging folder was renamed into place, then the empty parent removed

    # the summary on disk is the returned table, exactly through Parquet, row for row through CSV
    back = pd.read_parquet(out / "summary.parquet")
    pd.testing.assert_frame_equal(back, df)
    csv = pd.read_csv(out / "summary.csv")
    assert list(csv["site"]) == list(df["site"]) and list(csv["status"]) == list(df["status"])
    assert csv.loc[0, "energy_mwh"] == pytest.approx(good["energy_mwh"])


def test_summary_dtypes_survive_parquet_with_all_missing_columns(tmp_path):
    """A table of error rows only (every figure missing) still round-trips with its dtypes."""
    from bess_size.batch_runner import SiteJob, error_row, write_table

    job = SiteJob(name="x", spec="/nope.yaml", source="/nope.yaml", spec_sha256=None, extra={"grid.firm_import_mw": 5.0})
    df = summary_frame([error_row(job, BAD_INPUT, "bad")], ["grid.firm_import_mw"])
    write_table(df, tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "summary.parquet"), df)
    assert str(df["inverters"].dtype) == "Int64" and str(df["validation_passed"].dtype) == "boolean"


def test_a_folder_leaves_out_data_files_but_keeps_broken_specs(tmp_path):
    """A folder stands for its site specs: the bundled examples folder's URDB tariff JSON (a mapping
    with no site key) is a data file, not a site; a spec that does not parse, a spec missing its
    required sections and a file named on its own are kept, so each gets its bad_input row."""
    import shutil

    from bess_size.batch_runner import expand_site_paths
    from bess_size.examples import path as example_path

    folder = tmp_path / "sites"
    shutil.copytree(example_path("campus-300mw.yaml").parent, folder, ignore=shutil.ignore_patterns("*.py", "__*"))
    (folder / "broken.yaml").write_text("name: x\ngrid:\n  firm_import_mw: [1\n")
    (folder / "no-grid.json").write_text('{"name": "x"}')
    (folder / "notes.txt").write_text("not a spec")
    names = [p.name for p in expand_site_paths([folder])]
    assert "example-tou-tariff.json" not in names and "notes.txt" not in names
    assert names == sorted(names) and {"broken.yaml", "no-grid.json", "campus-300mw.yaml", "campus-1gw.yaml",
                                       "campus-300mw-phased.yaml", "inference-100mw-pv.yaml"} == set(names)
    assert expand_site_paths([folder / "example-tou-tariff.json"]) == [folder / "example-tou-tariff.json"]


# --------------------------------------------------------------------------- a worker dies


@pytest.mark.slow
def test_a_killed_worker_does_not_lose_a_site(own_client, specs, tmp_path):
    """SIGKILL the worker process running a site mid-pipeline: the nanny restarts it, the
    scheduler reruns the site elsewhere, and both sites end complete (the killed one after 2 attempts).

    The process killed is the one that announced the site whose staging folder exists (the task's
    start event carries its pid), not any worker: killing an idle worker, or one whose site had just
    finished, would rerun nothing (a flaky test before this)."""
    client = own_client
    out = tmp_path / "out"
    killed = {}

    def killer():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            staging = out / STAGING
            inside = {p.name.rsplit(".", 1)[0] for p in staging.iterdir()} if staging.exists() else set()
            if inside:  # a task is inside the pipeline now: find its process
                pids = {msg["site"]: msg["pid"] for _, msg in client.get_events(EVENT_TOPIC)}
                site = next((s for s in sorted(inside) if s in pids), None)
                if site is not None:
                    os.kill(pids[site], signal.SIGKILL)
                    killed[site] = pids[site]
            time.sleep(0.05)

    t = threading.Thread(target=killer)
    t.start()
    df = batch([specs["good2"], specs["good3"]], out, scheduler=client, progress=False)
    t.join()
    assert killed, "no task started within 60 s"
    assert df["status"].isin(COMPLETE).all(), df[["site", "status", "error"]]
    (site,) = killed
    assert df.set_index("site").loc[site, "attempts"] >= 2  # the killed site ran again
    assert all((out / n / MARKER).is_file() for n in df["site"])
    client.wait_for_workers(2, timeout=120)  # the nanny brought the worker back


class CrashOn(WorkerPlugin):
    """Fault injection (a Dask worker plugin): the pipeline SIGKILLs its own worker process for the
    site named ``site``, as a crash in native code would. Registered plugins also run on the
    workers the nannies start in place of the dead ones, so every attempt crashes."""

    name = "bess-size-test-crash-on"

    def __init__(self, site: str):
        self.site = site

    def setup(self, worker):
        from bess_size import pipeline

        real = self.real = pipeline.run

        def run(site, out_dir, **kw):
            if site.name == self.site:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(site, out_dir, **kw)

        pipeline.run = run

    def teardown(self, worker):
        from bess_size import pipeline

        pipeline.run = self.real


@pytest.mark.slow
def test_a_site_that_kills_every_worker_becomes_a_worker_lost_row(own_client, specs, tmp_path):
    """The crashing site is retried on fresh workers until the scheduler's allowed failures (2 in
    this cluster) are spent, then it is a worker_lost row after 3 attempts; the other site is done."""
    import cloudpickle

    client = own_client
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    crashing = write(tmp_path / "crashing.yaml", tiny_site("crashing"))
    try:
        client.register_plugin(CrashOn("crashing"), name=CrashOn.name)
        df = batch([crashing, specs["good"]], tmp_path / "out", scheduler=client, progress=False)
    finally:
        client.unregister_worker_plugin(CrashOn.name)
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert df.loc[0, "status"] == WORKER_LOST and "died 3 times" in df.loc[0, "error"]
    assert df.loc[0, "attempts"] == 3
    assert df.loc[1, "status"] in COMPLETE
    client.wait_for_workers(2, timeout=120)


# --------------------------------------------------------------------------- resume


@pytest.mark.slow
def test_rerun_after_interruption_redoes_only_what_was_missing(client, specs, tmp_path):
    """Interrupt `bess-size batch` (SIGINT, as Ctrl-C) once one of two sites is complete; the same
    command again reuses that site untouched and runs only the other. Then the reused site's spec
    is edited (here: broken): its fingerprint no longer matches, so it is not reused but redone."""
    out = tmp_path / "out"
    sites = [write(tmp_path / "first.yaml", tiny_site("first")), write(tmp_path / "second.yaml", tiny_site("second"))]
    cmd = [sys.executable, "-m", "bess_size", "batch", *map(str, sites), "-o", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        # the final folders only: out/.staging/<site>.<token>/ holds the marker just before its rename
        while time.monotonic() < deadline and not any((out / s.stem / MARKER).exists() for s in sites):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    first = pd.read_parquet(out / "summary.parquet")
    assert list(first["status"].isin(COMPLETE)) == [True, False], first[["site", "status"]]
    assert first.loc[1, "status"] == INTERRUPTED
    stamp = (out / "first" / MARKER).stat().st_mtime_ns

    df = batch(sites, out, scheduler=client, progress=False)
    assert df["status"].isin(COMPLETE).all(), df[["site", "status", "error"]]
    assert list(df["reused"]) == [True, False]  # only what was missing ran again
    assert (out / "first" / MARKER).stat().st_mtime_ns == stamp

    write(sites[0], "name: first\nload: {it_capacity_mw: -1}\n")
    edited = batch(sites, out, scheduler=client, progress=False)
    assert list(edited["status"]) == [BAD_INPUT, df.loc[1, "status"]] and list(edited["reused"]) == [False, True]
    assert exit_code(edited) == 1


def _dead(pid: int) -> bool:
    """The process is gone, or a zombie its parent has not reaped yet (it runs nothing either way)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
@pytest.mark.filterwarnings("error")  # a refused stop used to be a swallowed warning: now any warning fails
def test_a_site_past_its_timeout_is_stopped_and_its_worker_process_replaced(own_client, specs, tmp_path, caplog):
    """A 0.5 s budget is far below a site's seconds of work: the client cancels the task, the worker's
    nanny kills the process running it (a running thread cannot be stopped otherwise) and starts a
    fresh one, and the row says timeout. Proven by process ids: the process that ran the site no longer
    runs (dead by the time batch returns, allowing the nanny a moment to reap it), the other worker's
    process is untouched, and the replacement is a new process."""
    client = own_client
    before = client.run(os.getpid)  # worker address -> pid
    with caplog.at_level(logging.WARNING, logger="bess_size"):
        df = batch([specs["good"]], tmp_path / "out", scheduler=client, progress=False, timeout_per_site_s=0.5)
    assert df.loc[0, "status"] == TIMEOUT and "0.5 s" in df.loc[0, "error"]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bess_size") and r.levelno >= logging.WARNING]
    assert ours == []  # e.g. "could not stop worker ...": the stop was refused

    killed: set[int] = set()
    for _ in range(100):  # SIGKILL is sent before batch returns; delivery and reaping are not instant
        killed = {pid for pid in before.values() if _dead(pid)}
        if killed:
            break
        time.sleep(0.1)
    assert len(killed) == 1, f"worker pids before: {before}; dead now: {killed}"

    client.wait_for_workers(2, timeout=120)  # the nanny replaced it
    after = set(client.run(os.getpid).values())
    assert not killed & after and set(before.values()) - killed <= after and len(after) == 2
    assert not (tmp_path / "out" / "good" / MARKER).exists()


@pytest.mark.slow
def test_local_cluster_listens_on_loopback_only(client):
    """Scheduler, nannies and workers: every listening socket is on 127.0.0.1 (no dashboard)."""
    import psutil

    pids = {os.getpid(), *client.run(os.getpid).values()}
    listening = [c.laddr for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.pid in pids]
    assert listening and all(a.ip == "127.0.0.1" for a in listening), listening
