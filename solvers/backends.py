"""Solver back-ends behind one call: HiGHS through ``pyomo.contrib.solver`` by default, any other
Pyomo MILP solver by name where it is installed."""

from __future__ import annotations

import io
import os
import sys
import time
from typing import Callable

from .errors import SolverUnavailableError
from .results import ERROR, OPTIMAL, TIME_LIMIT, SolveResult, contrib_status, legacy_status, relative_gap

# user-facing names -> pyomo.contrib.solver factory names (the newer interfaces come first)
CONTRIB_NAMES = {"highs": "highs", "gurobi": "gurobi_persistent", "gurobi_direct": "gurobi_direct",
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
KNOWN = sorted(set(CONTRIB_NAMES) | set(LEGACY_OPTIONS))


class _LineStream(io.TextIOBase):
    """A text stream that hands each complete line of the solver log to ``progress``.

    Pyomo captures the process's stdout/stderr (file descriptors included) while HiGHS runs, so a
    ``progress`` that prints to stderr would print into the capture. Each call therefore runs with
    ``sys.stderr`` pointing at the stderr of before the solve (a duplicate of file descriptor 2
    when that is what it was).
    """

    def __init__(self, progress: Callable[[str], None]):
        self._progress, self._buf = progress, ""
        self._stderr, self._own = sys.stderr, None
        try:
            if sys.stderr is not None and sys.stderr.fileno() == 2:
                self._own = os.fdopen(os.dup(2), "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None))
                self._stderr = self._own
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            pass  # an in-memory stderr (tests, notebooks): not captured by file descriptor

    def writable(self):
        return True

    def write(self, s):
        self._buf += s
        *lines, self._buf = self._buf.split("\n")
        if lines:
            saved = sys.stderr
            sys.stderr = self._stderr
            try:
                for line in lines:
                    if line.strip():
                        self._progress(line.rstrip())
            finally:
                sys.stderr = saved
        return len(s)

    def flush(self):
        pass

    def release(self):
        if self._own is not None:
            self._own.close()
            self._own = None


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


def available_solvers() -> list[str]:
    """The known solver names that are installed here."""
    return [n for n in KNOWN if _contrib(n) is not None or (n not in CONTRIB_NAMES and _legacy(n) is not None)]


def _unavailable(name: str) -> SolverUnavailableError:
    have = available_solvers()
    return SolverUnavailableError(
        f"solver {name!r} is not available here; installed: {', '.join(have) or 'none'} "
        f"(HiGHS, the default, comes with `pip install highspy`; others need their own installation)")


def require_solver(solver: str) -> None:
    """Raise SolverUnavailableError unless ``solver`` can be used here (check before long work)."""
    name = solver.lower()
    if _contrib(name) is None and (name in CONTRIB_NAMES and name not in LEGACY_OPTIONS or _legacy(name) is None):
        raise _unavailable(solver)


def solve(model, *, solver: str = "highs", time_limit_s: float | None = None, mip_gap: float | None = 0.01,
          threads: int | None = None, progress: Callable[[str], None] | None = None,
          warm_start: bool = False) -> SolveResult:
    """Solve ``model`` (its objective minimised); load the solution or incumbent when there is one.

    ``warm_start`` hands the variables' current values to the solver as a starting solution
    (HiGHS and the legacy interfaces that support it).
    """
    name = solver.lower()
    opt = _contrib(name)
    if opt is not None:
        return _solve_contrib(opt, name, model, time_limit_s, mip_gap, threads, progress, warm_start)
    if name in CONTRIB_NAMES and name not in LEGACY_OPTIONS:
        raise _unavailable(solver)
    opt = _legacy(name)
    if opt is None:
        raise _unavailable(solver)
    return _solve_legacy(opt, name, model, time_limit_s, mip_gap, threads, progress, warm_start)


def _highs_warm_start(opt) -> None:
    """Pass the Pyomo variables' current values to HiGHS as a starting solution."""
    import highspy

    h = opt._solver_model
    values = [0.0] * h.getNumCol()
    for vid, col in opt._pyomo_var_to_solver_var_map.items():
        v = opt._vars[vid][0]
        if v.value is not None:
            values[col] = float(v.value)
    sol = highspy.HighsSolution()
    sol.col_value = values
    sol.value_valid = True
    h.setSolution(sol)


_highs_threads: list[int | None] = [None]  # the thread count HiGHS's global scheduler was started with


def _highs_threads_ready(threads: int | None) -> None:
    """HiGHS keeps one global thread scheduler per process and refuses another thread count later;
    restart it when a solve asks for a different count (solves in one process run one at a time)."""
    if threads is None or threads == _highs_threads[0]:
        return
    import highspy

    highspy.Highs.resetGlobalScheduler(True)
    _highs_threads[0] = threads


def _solve_contrib(opt, name, model, time_limit_s, mip_gap, threads, progress, warm_start) -> SolveResult:
    if name == "highs":
        _highs_threads_ready(threads)
    stream = _LineStream(progress) if progress else None
    kw = dict(tee=[stream] if stream else False, load_solutions=False, raise_exception_on_nonoptimal_result=False,
              time_limit=time_limit_s, rel_gap=mip_gap, threads=threads)
    t0 = time.perf_counter()
    try:
        # hand the model over first (timed apart from the solver run), then solve without re-checking it
        opt.set_instance(model)
        handoff_s = time.perf_counter() - t0
        if warm_start and name == "highs":
            _highs_warm_start(opt)
        _skip_update_checks(opt)
        res = opt.solve(model, **kw)
    except Exception as exc:  # the solver itself failed: say so, never a traceback
        return SolveResult(name, ERROR, False, None, None, None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    finally:
        if stream is not None:
            stream.release()
    solve_s = time.perf_counter() - t0
    status = contrib_status(res.termination_condition)
    from pyomo.contrib.solver.common.results import SolutionStatus

    has = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
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
    kw = {"load_solutions": False, "tee": bool(progress)}
    if warm_start and opt.warm_start_capable():
        kw["warmstart"] = True
    t0 = time.perf_counter()
    try:
        res = opt.solve(model, **kw)
    except Exception as exc:
        return SolveResult(name, ERROR, False, None, None, None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    solve_s = time.perf_counter() - t0
    status = legacy_status(res.solver.termination_condition)
    has = len(res.solution) > 0 and res.solution(0).status in (SolutionStatus.optimal, SolutionStatus.feasible,
                                                                 SolutionStatus.locallyOptimal, SolutionStatus.globallyOptimal)
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
        if has:
            return f"time limit of {time_limit_s or 0:g} s reached with an incumbent" + (f" at gap {gap:.4f}" if gap is not None else "")
        return f"time limit of {time_limit_s or 0:g} s reached before any feasible design was found"
    return {"infeasible": "the model is infeasible", "unbounded": "the model is unbounded"}.get(status, "the solver failed")
