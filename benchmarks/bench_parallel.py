"""Benchmark: the held-out replay of one site on 1 and 2 Dask workers (issue 14: 2 workers >= 1.7x one).

Run:

    python benchmarks/bench_parallel.py [--site examples/campus-300mw.yaml] [--repeat 2]

The design is the optimizer's for the site (scenarios and the solve are timed apart and are not
part of the figure). The replay is ``simulate(site, design)`` over the site's held-out scenarios
(100 of 1 day at 1 s on the default site: trace generation, the natural and stress replays, the
checks and the worst windows), as ``bess-size run --workers N`` runs it:

* serial: in this process, no cluster (``--workers 1``, the default);
* 1 and 2 workers: a local cluster of that many single-threaded processes
  (``bess_size.parallel.client``, the machinery of ``batch``), warmed up first (imports and numba's
  cached kernels loaded in each worker), then the replay alone; pairs alternate 1 and 2.

For every run: wall time, and the CPU time the workers (or this process) spent, so a run that
waited for a core shows it; the ratio of one worker's CPU time to the busiest of two workers' is
the speedup the split allows when each worker has a core (chunking, pickling and merging
overheads included, waiting for a core excluded). On a machine shared with other work, a pair in which the 2-worker
run's wall time exceeds 1.15x its busiest worker's CPU time is marked contended (the second
worker waited for a core) and left out of the verdict, as in bench_batch.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.simulator import simulate
from bess_size.site_spec import load_site

from bess_size.malloc import keep_freed_memory
from bess_size.parallel import client

ROOT = Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 1.7
CONTENDED = 1.15


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu_s() -> float:
    keep_freed_memory()  # as the CLI's own process and the replay's tasks run
    return time.process_time()


def replay(site, design, c) -> tuple[float, list[float]]:
    """(wall s, CPU s per process that worked) of one held-out replay."""
    before = c.run(_cpu_s) if c is not None else {"self": _cpu_s()}
    t0 = time.perf_counter()
    simulate(site, design, client=c)
    wall = time.perf_counter() - t0
    after = c.run(_cpu_s) if c is not None else {"self": _cpu_s()}
    return wall, [after[k] - before[k] for k in before]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default=str(ROOT / "examples" / "campus-300mw.yaml"))
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    keep_freed_memory()
    site = load_site(args.site)
    t0 = time.perf_counter()
    design = optimize(site, generate_scenarios(site)).design
    print(f"site {site.name}: {site.scenarios.held_out} held-out scenarios of {site.scenarios.trace_days:g} day(s) "
          f"at {site.scenarios.transient_resolution_s:g} s; design in {time.perf_counter() - t0:.1f} s "
          f"({design.bess.energy_mwh:.0f} MWh, {design.bess.pcs_power_mw:.0f} MW)")
    print(f"  before: {load_average()} (2-core machine)")
    simulate(site, design, held_out=1)  # warm-up: this process loads the cached kernels
    wall, cpu = replay(site, design, None)
    print(f"  serial (no cluster)   wall {wall:6.2f} s, CPU {cpu[0]:.2f} s")
    rows = []
    for r in range(args.repeat):
        pair = {}
        for n in (1, 2):
            t_start = time.perf_counter()
            with client(workers=n) if n > 1 else _one_worker() as c:
                started = time.perf_counter() - t_start
                simulate(site, design, held_out=2 * n, client=c)  # warm-up of every worker
                wall, cpu = replay(site, design, c)
            pair[n] = (wall, cpu)
            print(f"  run {r + 1}, {n} worker(s): cluster start {started:.1f} s; replay wall {wall:6.2f} s, "
                  f"worker CPU {', '.join(f'{x:.2f}' for x in cpu)} s")
        speedup = pair[1][0] / pair[2][0]
        contended = pair[2][0] > CONTENDED * max(pair[2][1])
        rows.append((speedup, contended))
        # what the split allows: one worker's CPU time over the busiest of two (waiting excluded)
        cpu_bound = sum(pair[1][1]) / max(pair[2][1])
        print(f"    2 workers: {speedup:.2f}x one in wall time" + ("  (contended: left out)" if contended else "")
              + f"; {cpu_bound:.2f}x in CPU time of the busiest worker (the split's bound on a quiet machine)")
    print(f"  after: {load_average()}")
    clean = [s for s, bad in rows if not bad]
    if clean:
        best = max(clean)
        print(f"  verdict: {best:.2f}x from uncontended pairs -> {'OK' if best >= TARGET_SPEEDUP else 'UNDER'} "
              f"the {TARGET_SPEEDUP:g}x target")
    else:
        print("  verdict: every pair was contended by other work; no figure (rerun on a quiet machine)")


def _one_worker():
    """A local cluster of one worker (``client(workers=1)`` means serial, no cluster)."""
    from bess_size.batch_runner import dask_client

    return dask_client(1)


if __name__ == "__main__":
    main()
