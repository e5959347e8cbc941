"""Solver back-ends behind one call: HiGHS directly through highspy by default (``highs.py``), any
other Pyomo MILP solver by name where it is installed.

No back-end swaps ``sys.stderr`` or calls ``progress`` from a log-reader thread: HiGHS streams its
log through its own callback in the solving thread; the other solvers' logs are collected by Pyomo
and handed to ``progress`` line by line when the solve returns.
"""

from __future__ import annotations

import time
from typing import Callable

from .errors import SolverUnavailableError
from .results import (ERROR, OPTIMAL, TIME_LIMIT, TIME_LIMIT_NO_INCUMBENT, SolveResult, contrib_status, legacy_status,
                      relative_gap, with_incumbent)

# user-facing names -> pyomo.contrib.solver factory names (the newer interfaces come first)
CONTRIB_NAMES = {"gurobi": "gurobi_persistent", "gurobi_direct": "gurobi_direct",
                 "scip": "scip_direct", "knitro": "knitro_direct"}
# option names of the legacy interfaces: (time limit, relative gap, threads)
LEGACY_OPTIONS = {
    "cbc": ("seconds", "ratioGap", "threads"),
    "glpk": ("tmlim", "mipgap", None),
    "cplex": ("timelimit", "mip_tolerances_mipgap", "threads"),
    "cplex_direct": ("timelimit", "mip_tolerances_mipgap", "threads"),
    "gurobi": ("TimeLimit", "MIPGap", "Threads"),
    "gurobi_direct": ("TimeLimit", "MIPGap", "Threads"),
    "scip": ("limits/time", "limits/gap", None),
    "xpress": ("maxtime", "miprelstop", "threads"),
}
KNOWN = sorted({"highs"} | set(CONTRIB_NAMES) | set(LEGACY_OPTIONS))


def _contrib(name: str):
    try:
        import pyomo.contrib.solver.plugins  # noqa: F401  (registers the factory entries)
        from pyomo.contrib.solver.common.factory import SolverFactory
    except ImportError:
        return None
    key = CONTRIB_NAMES.get(name)
    if key is None:
        return None
    try:
        opt = SolverFactory(key)
        return opt if opt.available() else None
    except Exception:  # an interface whose Python package is missing raises on construction
        return None


def _legacy(name: str):
    import pyomo.environ as pyo

    try:
        opt = pyo.SolverFactory(name)
        return opt if opt is not None and opt.available(exception_flag=False) else None
    except Exception:
        return None


def _highs_available() -> bool:
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return True


def available_solvers() -> list[str]:
    """The known solver names that are installed here."""
    return [n for n in KNOWN if (n == "highs" and _highs_available()) or _contrib(n) is not None
            or (n not in CONTRIB_NAMES and n != "highs" and _legacy(n) is not None)]


def _unavailable(name: str) -> SolverUnavailableError:
    have = available_solvers()
    return SolverUnavailableError(
        f"solver {name!r} is not available here; installed: {', '.join(have) or 'none'} "
        f"(HiGHS, the default, comes with `pip install highspy`; others need their own installation)")


def require_solver(solver: str) -> None:
    """Raise SolverUnavailableError unless ``solver`` can be used here (check before long work)."""
    name = solver.lower()
    if name == "highs":
        if not _highs_available():
            raise _unavailable(solver)
        return
    if _contrib(name) is None and (name in CONTRIB_NAMES and name not in LEGACY_OPTIONS or _legacy(name) is None):
        raise _unavailable(solver)


def solve(model, *, solver: str = "highs", time_limit_s: float | None = None, mip_gap: float | None = 0.01,
          threads: int | None = None, progress: Callable[[str], None] | None = None,
          warm_start: bool = False, duals: bool = False, highs_options: dict | None = None) -> SolveResult:
    """Solve ``model`` (its objective minimised); load the solution or incumbent when there is one.

    ``warm_start`` hands the variables' current values to the solver as a starting solution
    (HiGHS and the legacy interfaces that support it). ``duals`` (HiGHS only) fills
    ``SolveResult.duals``: constraint -> d(objective)/d(bound), for a MILP from the LP with its
    integer variables fixed at the solution (see ``highs.solve_highs``). ``highs_options``: further
    HiGHS options by name (e.g. ``{"mip_lp_solver": "ipm"}``), for studies such as
    benchmarks/bench_scale.py; other solvers ignore them.
    """
    name = solver.lower()
    if name == "highs":
        if not _highs_available():
            raise _unavailable(solver)
        from .highs import solve_highs

        return solve_highs(model, time_limit_s=time_limit_s, mip_gap=mip_gap, threads=threads, progress=progress,
                           warm_start=warm_start, duals=duals, options=highs_options)
    opt = _contrib(name)
    if opt is not None:
        return _solve_contrib(opt, name, model, time_limit_s, mip_gap, threads, progress, warm_start)
    if name in CONTRIB_NAMES and name not in LEGACY_OPTIONS:
        raise _unavailable(solver)
    opt = _legacy(name)
    if opt is None:
        raise _unavailable(solver)
    return _solve_legacy(opt, name, model, time_limit_s, mip_gap, threads, progress, warm_start)


def _replay_log(progress, log: str) -> None:
    """Hand a collected solver log to ``progress`` line by line, in the calling thread."""
    if progress is not None:
        for line in (log or "").splitlines():
            if line.strip():
                progress(line.rstrip())


def _solve_contrib(opt, name, model, time_limit_s, mip_gap, threads, progress, warm_start) -> SolveResult:
    kw = dict(tee=False, load_solutions=False, raise_exception_on_nonoptimal_result=False,
              time_limit=time_limit_s, rel_gap=mip_gap, threads=threads)
    t0 = time.perf_counter()
    handoff_s = 0.0
    try:
        if hasattr(opt, "set_instance"):  # a persistent interface: time the hand-over apart from the run
            opt.set_instance(model)
            handoff_s = time.perf_counter() - t0
            _skip_update_checks(opt)
        res = opt.solve(model, **kw)
    except Exception as exc:  # the solver itself failed: say so, never a traceback
        return SolveResult(name, ERROR, False, None, None, None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    _replay_log(progress, getattr(res, "solver_log", ""))
    solve_s = time.perf_counter() - t0
    status = contrib_status(res.termination_condition)
    from pyomo.contrib.solver.common.results import SolutionStatus

    has = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    status = with_incumbent(status, has)
    if has:
        res.solution_loader.load_vars()
    obj, bound = res.incumbent_objective, res.objective_bound
    gap = relative_gap(obj, bound)
    if status == OPTIMAL and gap is None:
        gap = 0.0
    log = getattr(res, "solver_log", "") or ""
    message = _message(status, has, gap, time_limit_s)
    if status == ERROR:
        tail = [ln.strip() for ln in log.splitlines() if ln.strip()][-3:]
        message += (": " + " / ".join(tail)) if tail else f" ({res.termination_condition})"
    return SolveResult(name, status, has, obj, bound, gap, solve_s, message, log, handoff_s=handoff_s)


def _skip_update_checks(opt) -> None:
    """The model does not change between set_instance and solve: skip the persistent interface's scan."""
    au = getattr(opt.config, "auto_updates", None)
    if au is None:
        return
    for key in list(au.keys()):
        try:
            au[key] = False
        except (ValueError, TypeError):
            pass


def _solve_legacy(opt, name, model, time_limit_s, mip_gap, threads, progress, warm_start) -> SolveResult:
    import pyomo.environ as pyo
    from pyomo.opt import SolutionStatus

    keys = LEGACY_OPTIONS.get(name, (None, None, None))
    for key, value in zip(keys, (time_limit_s, mip_gap, threads)):
        if key is not None and value is not None:
            opt.options[key] = value
    # tee would copy the log to sys.stdout (machine output under --json); it is replayed instead
    kw = {"load_solutions": False, "tee": False}
    if warm_start and opt.warm_start_capable():
        kw["warmstart"] = True
    t0 = time.perf_counter()
    try:
        res = opt.solve(model, **kw)
    except Exception as exc:
        return SolveResult(name, ERROR, False, None, None, None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    _replay_log(progress, getattr(opt, "_log", ""))
    solve_s = time.perf_counter() - t0
    status = legacy_status(res.solver.termination_condition)
    has = len(res.solution) > 0 and res.solution(0).status in (SolutionStatus.optimal, SolutionStatus.feasible,
                                                                 SolutionStatus.locallyOptimal, SolutionStatus.globallyOptimal)
    status = with_incumbent(status, has)
    obj = bound = None
    if has:
        model.solutions.load_from(res)
        obj = pyo.value(next(model.component_data_objects(pyo.Objective, active=True)))
        try:
            bound = float(res.problem.lower_bound)
        except (TypeError, ValueError):
            bound = None
    gap = relative_gap(obj, bound) if status != OPTIMAL else 0.0
    return SolveResult(name, status, has, obj, bound, gap, solve_s, _message(status, has, gap, time_limit_s))


def _message(status, has, gap, time_limit_s) -> str:
    if status == OPTIMAL:
        return "optimal" + (f" within the relative gap (gap {gap:.4f})" if gap else "")
    if status == TIME_LIMIT:
        return f"time limit of {time_limit_s or 0:g} s reached with an incumbent" + (f" at gap {gap:.4f}" if gap is not None else "")
    if status == TIME_LIMIT_NO_INCUMBENT:
        return f"time limit of {time_limit_s or 0:g} s reached before any feasible design was found"
    return {"infeasible": "the model is infeasible", "unbounded": "the model is unbounded"}.get(status, "the solver failed")
