"""Benchmark: the dispatch controller replaying a year at one second for one scenario.

Target (issue 5): 31.5 million steps in under 5 s on a 2-core machine. Run:

    python benchmarks/bench_simulator.py [--days 365] [--repeat 3]

The trace is synthetic but exercises every branch: training swings (1-10 s), checkpoint dips,
stalls, PV, one curtailment call a fortnight with its notice, a loss of grid and sag dips every
month; the design is the default campus (examples/campus-300mw.yaml) with a hand-sized battery.
Compilation is excluded (the kernel is cached on disk; a warm-up call loads it). Prints steps
per second for each repeat and the best.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

from bess_size.site_spec import Design, load_site
from bess_size.simulator.controller import TraceArrays, replay_arrays, run_kernel

ROOT = Path(__file__).resolve().parents[1]


def synthetic_year(site, days: float, seed: int = 7) -> TraceArrays:
    rng = np.random.default_rng(seed)
    dt = 1.0
    n = int(days * 86400 / dt)
    t = np.arange(n) * dt
    peak = site.load.peak_mw
    # training swing: a square wave whose period changes every 10 minutes
    periods = rng.uniform(1, 10, size=n // 600 + 1)
    phase = np.cumsum(1.0 / np.repeat(periods, 600)[:n])
    swing = 0.4 * 0.85 * 300 * 0.5 * np.sign(np.sin(2 * np.pi * phase))
    load = 0.75 * peak + swing + rng.normal(0, 2.0, n)
    hour = (t // 3600).astype(np.int64)
    load[(t % 3600) < 30] -= 0.6 * 0.85 * 300  # checkpoint dips
    stalls = rng.integers(0, n - 1800, size=int(days * 24))
    for s in stalls:
        load[s:s + int(rng.integers(120, 1800))] -= 0.35 * 300
    load = np.clip(load, site.load.min_load_mw, peak)
    pv = np.clip(40 * np.sin(np.pi * ((t % 86400) / 86400 - 0.25) * 2), 0, None)
    limit = np.full(n, site.grid.total_import_mw)
    phase_arr = np.zeros(n, np.int8)
    notice = int(site.grid.curtailment.notice_min * 60)
    for start in range(86400 * 3, n - 20000, 86400 * 14):
        phase_arr[start - notice:start] = 1
        phase_arr[start:start + 7200] = 2
        phase_arr[start + 7200:start + 7200 + 6 * 3600] = 3
        limit[start:start + 7200] = site.grid.firm_import_mw
    grid = np.ones(n, np.int8)
    for start in range(86400 * 10, n - 4000, 86400 * 30):
        grid[start:start + 600] = 0  # a 10-minute loss of grid
        for k in range(6):
            grid[start + 20000 + 14 * k] = 0  # a reclose sequence
    price = 55.0 + 20.0 * np.sin(2 * np.pi * hour / 24.0)
    phase_c = np.ascontiguousarray(phase_arr)
    from bess_size.simulator.controller import notice_left_s

    load = np.ascontiguousarray(load)
    return TraceArrays(load, load - 5.0, load + 5.0, np.ascontiguousarray(pv), limit, phase_c, grid,
                       np.ascontiguousarray(price), notice_left_s(phase_c, dt), dt)


def campus_design(site) -> Design:
    E, P = 400.0, 300.0
    b = site.bess
    F = b.soc_min_fraction * E
    U = b.end_of_life_fraction * (b.soc_max_fraction - b.soc_min_fraction) * E
    rt, up, cu, dn = 40.0, 20.0, 150.0, 20.0
    bands = {"ride_through_reserve": rt, "up_ramp_buffer": up, "curtailment_reserve": cu,
             "down_ramp_headroom": dn, "operating": [F + rt + up + cu, F + U - dn]}
    return Design.model_validate({
        "site": site.name,
        "bess": {"energy_mwh": E, "pcs_power_mw": P, "inverters": 85, "inverter_rating_mva": 4.0,
                 "headroom_mw": {"up": 60.0, "down": 60.0}, "bands_mwh": bands,
                 "bands_fraction": {k: v for k, v in bands.items()}},
        "generation": [{"kind": "gas_engine", "existing_units": 0, "new_units": 12, "unit_mw": 18.0}],
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    site = load_site(ROOT / "examples" / "campus-300mw.yaml")
    design = campus_design(site)
    cp, gp, pp = replay_arrays(site, design)
    print("load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + " (2-core machine)")
    t0, c0 = time.perf_counter(), time.process_time()
    trace = synthetic_year(site, args.days)
    print(f"synthetic trace: {trace.steps:,} steps in {time.perf_counter() - t0:.1f} s wall, "
          f"{time.process_time() - c0:.1f} s CPU; peak resident set so far "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")
    t0 = time.perf_counter()
    warm = synthetic_year(site, 0.05)
    run_kernel(warm, cp, gp, pp)
    print(f"kernel load/compile (warm-up): {time.perf_counter() - t0:.2f} s")
    best = float("inf")
    for r in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        run = run_kernel(trace, cp, gp, pp)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        best = min(best, wall)
        print(f"run {r + 1}: {wall:.2f} s wall ({trace.steps / wall / 1e6:.1f} M steps/s), {cpu:.2f} s CPU "
              f"({trace.steps / cpu / 1e6:.1f} M steps/s) "
              f"(ramp violations {run.metrics[1]:.0f} steps, unserved {run.metrics[11]:.3f} MWh)")
    print(f"best: {best:.2f} s for {trace.steps:,} steps = {trace.steps / best / 1e6:.1f} M steps/s "
          f"(target: {trace.steps / 5.0 / 1e6:.1f} M steps/s, i.e. under 5 s) -> {'OK' if best < 5.0 * args.days / 365 else 'TOO SLOW'}")
    print("load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
