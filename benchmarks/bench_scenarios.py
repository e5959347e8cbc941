"""Benchmark: generating 100 scenarios x 1 day at 1 s (issue 14: under 4 s on a 2-core machine).

Run:

    python benchmarks/bench_scenarios.py [--site examples/campus-300mw.yaml] [--count 100] [--days 1]
    python benchmarks/bench_scenarios.py --days 365 --count 1      # a year at 1 s: peak memory

Two figures, each the best of ``--repeat`` runs after a warm-up (numba kernels are cached on disk;
the warm-up loads them), with glibc's malloc thresholds set as the CLI sets them
(``bess_size/malloc.py``; ``--no-malloc-tuning`` to compare):

* traces: ``scenario_trace`` for 100 scenarios (AI load with within-bin extremes, grid events
  with the contingency, PV, price): 8.64 million one-second bins;
* full: ``generate_scenarios`` with ``count`` = 100 and ``trace_days`` = 1: the traces, the POI
  policy screening of each, the window selection and the energy layer (a synthetic hourly year
  per scenario reduced to representative days).

Each figure is printed as wall time and as the process's CPU time with the load average before and
after: on a shared machine wall time includes waiting for a core, CPU time does not.

Peak memory: the process's peak resident set (``resource.getrusage``) against the 1 GB target of
issue 14.3 and, in a separate pass (tracemalloc slows Python allocations), the peak of
Python-traced allocations of one full run.

Long traces (``--days`` above 2, e.g. ``--days 365 --count 1``: a year at 1 s, 31.5 M bins): the
traces figure is left out (it renders each trace whole, the 1.8 GB a year that ``generate_scenarios``
avoids by generating and screening a day at a time), the warm-up runs on a one-day trace, the full
run is timed once (``--repeat``) and the peak resident set is the full run's.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from pathlib import Path

from bess_size.scenarios import generate_scenarios, scenario_trace
from bess_size.site_spec import load_site

from bess_size.malloc import keep_freed_memory

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 4.0
TARGET_RSS_MB = 1024.0  # issue 14.3: a year-long trace in chunks, memory under 1 GB
LONG_DAYS = 2.0  # longer traces: the memory figure (no whole traces, no tracemalloc pass)


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default=str(ROOT / "examples" / "campus-300mw.yaml"))
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=None, help="timed runs (default 3; 1 above 2 days)")
    ap.add_argument("--no-malloc-tuning", action="store_true",
                    help="leave glibc's thresholds as they are (the CLI sets them: bess_size/malloc.py)")
    args = ap.parse_args()
    if not args.no_malloc_tuning:
        keep_freed_memory()
    base = load_site(args.site)
    site = base.model_copy(update={"scenarios": base.scenarios.model_copy(
        update={"count": args.count, "trace_days": args.days, "transient_resolution_s": 1.0})})
    long = args.days > LONG_DAYS
    repeat = args.repeat if args.repeat is not None else (1 if long else 3)
    warm = site.model_copy(update={"scenarios": site.scenarios.model_copy(update={"trace_days": min(args.days, 1.0)})})
    generate_scenarios(warm, count=1)  # warm-up: load the cached kernels

    def traces():
        for i in range(args.count):
            scenario_trace(site, "optimizer", i)

    def full():
        return generate_scenarios(site)

    bins = args.count * args.days * 86400
    print(f"site {site.name}: {args.count} scenarios x {args.days:g} day at 1 s = {bins / 1e6:.2f} M bins")
    print(f"  before: {load_average()} (2-core machine)")
    runs = [("full (generate_scenarios)", full)]
    if not long:
        runs.insert(0, ("traces (scenario_trace)", traces))
    for label, fn in runs:
        walls, cpus = [], []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        best = min(walls)
        print(f"  {label:28s} best {best:6.2f} s wall, {min(cpus):.2f} s CPU "
              f"(runs: {', '.join(f'{w:.2f}/{c:.2f}' for w, c in zip(walls, cpus))}), "
              f"{bins / best / 1e6:.1f} M bins/s" + ("" if long else f"  -> {'OK' if best < TARGET_S else 'OVER'} the {TARGET_S:g} s target"))
    print(f"  after: {load_average()}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak resident set {rss_mb:,.0f} MB -> {'OK' if rss_mb < TARGET_RSS_MB else 'OVER'} the "
          f"{TARGET_RSS_MB / 1024:g} GB target ({args.days:g}-day traces generated and screened a day at a time)")
    if long:
        return
    tracemalloc.start()
    full()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  peak traced allocations in one full run {peak / 2**20:,.0f} MB")


if __name__ == "__main__":
    main()
