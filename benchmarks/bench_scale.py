"""Scale study: the optimizer's model grown 1x..16x on the 1 GW campus at 15-minute steps.

    python benchmarks/bench_scale.py [--sizes 10x3,20x3,20x6,40x6,40x12] [--time-limit 600]
                                     [--mip-lp-solver choose|simplex|ipm] [--mip-gap 0.01] [--json out.json]

Each size (scenarios x representative days of examples/campus-1gw.yaml with
``scenarios.energy_resolution_min = 15``; 16x = 40 scenarios x 12 days) runs in its own process so
its peak memory is its own. For each it records the variables, constraints, Pyomo's model
construction, the hand-off to HiGHS (solvers/highs.py ``compile_model`` + ``passModel``), HiGHS's
run, the gap and status reached, and the peak resident memory (after scenario generation and after
the solve), with the load average. Then it fits ``t = a * variables ** b`` to each phase by least
squares on the logarithms and prints the exponent b (1 = linear).

Target: the largest size to a 1% gap in under 5 minutes on 2 cores. The load average is printed with
each row: on a shared machine the seconds are inflated; the exponents are the robust figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one(size: str, time_limit_s: float, mip_gap: float, mip_lp_solver: str, threads: int | None) -> dict:
    """Build and solve one size in this process; the row of figures."""
    from bess_size.examples import path as example_path
    from bess_size.optimizer.data import model_data
    from bess_size.optimizer.model import build_model, model_size
    from bess_size.scenarios import generate_scenarios
    from bess_size.site_spec import load_site
    from bess_size.solvers import solve

    n_scen, n_days = (int(x) for x in size.split("x"))
    site = load_site(example_path("campus-1gw"))
    site = site.model_copy(update={"scenarios": site.scenarios.model_copy(update={
        "count": n_scen, "representative_days": n_days, "energy_resolution_min": 15})})
    t = time.perf_counter()
    scen = generate_scenarios(site)
    gen_s = time.perf_counter() - t
    peak_gen, rss_before = _peak_mb(), _rss_mb()
    t, c = time.perf_counter(), time.process_time()
    m = build_model(model_data(site, scen))
    construct_s, construct_cpu_s = time.perf_counter() - t, time.process_time() - c
    stats = model_size(m)
    # the hand-off alone, for its CPU seconds (the solve below repeats it)
    from bess_size.solvers.highs import compile_model, new_highs

    c = time.process_time()
    h = new_highs()
    h.passModel(compile_model(m).lp)
    handoff_cpu_s = time.process_time() - c
    del h
    opts = {} if mip_lp_solver == "choose" else {"mip_lp_solver": mip_lp_solver}
    c = time.process_time()
    res = solve(m, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads, highs_options=opts)
    solve_cpu_s = time.process_time() - c - handoff_cpu_s  # all threads of this process
    return {
        "size": size, "load_average": round(os.getloadavg()[0], 1), "scenarios": n_scen, "representative_days": n_days,
        **stats, "scenario_generation_s": round(gen_s, 1), "construct_s": round(construct_s, 2),
        "construct_cpu_s": round(construct_cpu_s, 2), "handoff_s": round(res.handoff_s, 2),
        "handoff_cpu_s": round(handoff_cpu_s, 2), "solve_s": round(res.solve_s - res.handoff_s, 1),
        "solve_cpu_s": round(solve_cpu_s, 1), "status": res.status,
        "gap": None if res.gap is None else round(res.gap, 5), "mip_lp_solver": mip_lp_solver,
        "peak_rss_after_scenarios_mb": round(peak_gen), "rss_before_build_mb": round(rss_before),
        "peak_rss_mb": round(_peak_mb()),
    }


def fit_exponent(xs: list[float], ys: list[float]) -> float | None:
    """b of y = a x^b by least squares on log y = log a + b log x."""
    import numpy as np

    pts = [(x, y) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10x3,20x3,20x6,40x6,40x12", help="scenarios x representative days, comma-separated")
    ap.add_argument("--time-limit", type=float, default=600.0, help="per size [s]")
    ap.add_argument("--mip-gap", type=float, default=0.01)
    ap.add_argument("--mip-lp-solver", default="choose", choices=["choose", "simplex", "ipm"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one size, print its row
    ap.add_argument("--json", default=None, help="write the rows here")
    args = ap.parse_args()
    if args.one:
        print("ROW " + json.dumps(one(args.one, args.time_limit, args.mip_gap, args.mip_lp_solver, args.threads)))
        return
    print(f"load average: {os.getloadavg()}", flush=True)
    rows = []
    for size in args.sizes.split(","):
        cmd = [sys.executable, __file__, "--one", size, "--time-limit", str(args.time_limit), "--mip-gap",
               str(args.mip_gap), "--mip-lp-solver", args.mip_lp_solver] + (
                   ["--threads", str(args.threads)] if args.threads else [])
        p = subprocess.run(cmd, capture_output=True, text=True)
        line = [ln for ln in p.stdout.splitlines() if ln.startswith("ROW ")]
        if p.returncode or not line:
            print(f"{size}: failed (exit {p.returncode}): {p.stderr[-1500:]}", flush=True)
            break
        rows.append(json.loads(line[0][4:]))
        print(json.dumps(rows[-1]), flush=True)
    if not rows:
        return
    print("\n| size | scenarios x days | variables | constraints | construct s (CPU) | hand-off s (CPU) | solve s (CPU) "
          "| status | gap | peak RSS MB | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    base = rows[0]["variables"]
    for r in rows:
        gap = "-" if r["gap"] is None else f"{r['gap']:.2%}"
        print(f"| {r['variables'] / base:.1f}x | {r['scenarios']} x {r['representative_days']} | {r['variables']:,} | "
              f"{r['constraints']:,} | {r['construct_s']:.2f} ({r['construct_cpu_s']:.2f}) | {r['handoff_s']:.2f} "
              f"({r['handoff_cpu_s']:.2f}) | {r['solve_s']:.1f} ({r['solve_cpu_s']:.1f}) | {r['status']} "
              f"| {gap} | {r['peak_rss_mb']:,} | {r['load_average']:.1f} |")
    xs = [r["variables"] for r in rows]
    for key in ("construct_cpu_s", "handoff_cpu_s", "solve_cpu_s", "construct_s", "handoff_s", "solve_s", "peak_rss_mb"):
        b = fit_exponent(xs, [r[key] for r in rows])
        print(f"growth exponent of {key} in the variables: " + ("-" if b is None else f"{b:.2f}"))
    big = rows[-1]
    wall = big["handoff_s"] + big["construct_s"] + big["solve_s"]
    ok = big["status"] == "optimal" and (big["gap"] or 0) <= 0.01 + 1e-9 and wall < 300
    print(f"largest size ({big['size']}) to a 1% gap in under 5 minutes: {'met' if ok else 'NOT met'} "
          f"({wall:.0f} s wall) at load average {big['load_average']:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
