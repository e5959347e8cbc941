"""Benchmark: what `simulate` spends per kind of replay of the held-out traces (default site).

    python benchmarks/bench_replays.py [--site examples/campus-300mw.yaml] [--design design.json]
                                       [--held-out N] [--trace-days D]

Optimizes the site once (or reads ``--design``), warms the cached kernels up on one held-out
trace, then runs ``simulate`` over the site's held-out scenarios and prints its CPU and wall time
and, per kind of replay, the kernel calls, the steps replayed and their CPU seconds: the natural
replays and the forks of ``simulator/replays.py`` (each replay without a forced event, or in the
stress state, starts from a copy of the natural replay at its first differing step), N+1
(``redundancy.py``), the worst windows recorded again, and the traces' generation. With every
replay whole, a trace of T steps would cost (2 + forced events + stress replays) x T steps.
``--trace-days 365 --held-out 1`` replays one held-out year (generated and replayed a day at a
time): the peak resident set printed is the figure against the 1 GB target of issue 14.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import time
from pathlib import Path

from bess_size.site_spec import Design, load_site
from bess_size.simulator import controller as C
from bess_size.simulator import redundancy as R
from bess_size.simulator import validation as V

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default=str(ROOT / "examples" / "campus-300mw.yaml"))
    ap.add_argument("--design", help="design.json to replay (default: optimize the site first)")
    ap.add_argument("--held-out", type=int, help="held-out traces (default: the site's scenarios.held_out)")
    ap.add_argument("--trace-days", type=float, help="length of each held-out trace (default: the site's)")
    args = ap.parse_args()
    site = load_site(args.site)
    if args.design:
        design = Design.model_validate(json.loads(Path(args.design).read_text()))
    else:
        from bess_size.optimizer import optimize
        from bess_size.scenarios import generate_scenarios

        t0 = time.perf_counter()
        design = optimize(site, generate_scenarios(site), explain=False).design
        print(f"optimized {site.name} in {time.perf_counter() - t0:.1f} s (not part of the figures)")
    stats = collections.defaultdict(lambda: [0, 0, 0.0])  # calls, steps, CPU s
    feed, variants = C.Replay.feed, V.replay_variants

    def timed_feed(self, chunk):
        if sys._getframe(1).f_code.co_name == "run_kernel":
            return feed(self, chunk)  # a replay outside simulate's own (warm-up)
        c0 = time.process_time()
        out = feed(self, chunk)
        s = stats[getattr(self, "bench_kind", None) or recording[0] or "natural + forks"]
        s[1], s[2] = s[1] + chunk.steps, s[2] + time.process_time() - c0
        return out

    def counted_variants(trace, cp, gp, pp, vs, *a, **k):
        stats["natural + forks"][0] += 1 + len(vs)
        stats["  of which natural"][0] += 1
        stats["  of which natural"][1] += trace.steps
        stats["  of which forks (without an event, stress)"][0] += len(vs)
        return variants(trace, cp, gp, pp, vs, *a, **k)

    recording = [None]
    record = V._record_scenario

    def recorded_again(*a, **k):
        recording[0] = "worst windows recorded again"
        stats[recording[0]][0] += 1
        try:
            return record(*a, **k)
        finally:
            recording[0] = None

    def tagged(kind):
        def make(*a, **k):
            rp = C.Replay(*a, **k)
            rp.bench_kind = kind
            stats[kind][0] += 1
            return rp
        return make

    from bess_size.scenarios.trace import TraceRenderer
    from bess_size.simulator.trace_source import HeldOutTrace

    def timed(fn, count):
        def call(*a, **k):
            c0 = time.process_time()
            out = fn(*a, **k)
            s = stats["trace generation"]
            s[0], s[2] = s[0] + count, s[2] + time.process_time() - c0
            return out
        return call

    bins, generated = TraceRenderer.bins, HeldOutTrace.generated.__func__
    TraceRenderer.bins = timed(bins, 0)
    HeldOutTrace.generated = classmethod(timed(generated, 1))
    C.Replay.feed = timed_feed
    V.replay_variants = counted_variants
    R.Replay = tagged("N+1 (units out)")
    V._record_scenario = recorded_again
    if args.trace_days:  # after optimizing: the optimizer's own scenarios keep the site's length
        site = site.model_copy(update={"scenarios": site.scenarios.model_copy(update={"trace_days": args.trace_days})})
    V.simulate(site.model_copy(update={"scenarios": site.scenarios.model_copy(update={"trace_days": 0.1})}),
               design, held_out=1)  # loads the cached kernels
    stats.clear()
    print("load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + " (2-core machine)")
    t0, c0 = time.perf_counter(), time.process_time()
    val = V.simulate(site, design, held_out=args.held_out)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(f"simulate: {val.held_out_scenarios} held-out scenarios of {val.trace_days:g} day(s): "
          f"{cpu:.2f} s CPU, {wall:.2f} s wall")
    nat = stats["  of which natural"]
    stats["  of which forks (without an event, stress)"][1] = stats["natural + forks"][1] - nat[1]
    total = 0
    for kind in ("natural + forks", "  of which natural", "  of which forks (without an event, stress)",
                 "N+1 (units out)", "worst windows recorded again", "trace generation"):
        calls, steps, sec = stats[kind]
        print(f"  {kind:44s} {calls:5d} calls  {steps / 1e6:7.2f} M steps" + (f"  {sec:6.2f} s CPU" if sec else ""))
        total += steps if not kind.startswith(" ") else 0
    steps_each = stats["  of which natural"][1] / max(nat[0], 1)
    whole = (stats["natural + forks"][0] + stats["N+1 (units out)"][0]) * steps_each
    print(f"  replayed in all: {total / 1e6:.2f} M steps (the natural replays, forks and N+1 whole: {whole / 1e6:.2f} M)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident set {peak:.2f} GB (target for a year-long trace: under 1 GB) -> {'OK' if peak < 1 else 'OVER'}")
    print("load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
