"""HiGHS at compiled speed: Pyomo's standard-form compiler turns the model into sparse arrays, highspy
takes them in one ``passModel`` call, and the solver log arrives through HiGHS's own logging
callback.

Nothing here redirects ``sys.stdout``/``sys.stderr`` or reads a pipe from another thread, so a
``progress`` that prints to stderr cannot race an output capture: the callback runs in the thread
that called ``run`` (highspy releases the GIL while HiGHS works and takes it back for the callback).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .results import ERROR, INFEASIBLE, OPTIMAL, TIME_LIMIT, UNBOUNDED, SolveResult, relative_gap


@dataclass
class StandardForm:
    """The model as HiGHS sees it: column j is ``columns[j]``, row i is ``rows[i]`` (a Pyomo
    ConstraintData; a ranged constraint gives two rows), ``lp`` the arrays handed to HiGHS."""

    lp: object  # highspy.HighsLp
    columns: list
    rows: list
    integer: np.ndarray  # bool per column
    maximize: bool


def compile_model(model) -> StandardForm:
    """Compile the active objective and constraints of ``model`` into a ``highspy.HighsLp``.

    Rows keep the constraint's own body (``mixed_form``): lower <= a x <= upper with an infinite
    side where the constraint has none, so a row's dual is d(objective)/d(bound) of that
    constraint, as Pyomo's ``dual`` suffix defines it. Fixed variables are moved into the bounds
    by the compiler and keep their values.
    """
    import highspy
    from pyomo.common.enums import ObjectiveSense
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    sf = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    if len(sf.objectives) != 1:
        raise ValueError(f"the model must have exactly one active objective, it has {len(sf.objectives)}")
    cols = sf.columns
    n, m = len(cols), len(sf.rows)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    maximize = sf.objectives[0].sense == ObjectiveSense.maximize
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    lp.col_cost_ = sf.c.toarray()[0] if n else np.zeros(0)
    lp.offset_ = float(sf.c_offset[0])
    inf = highspy.kHighsInf
    bounds = [v.bounds for v in cols]
    lp.col_lower_ = np.fromiter((-inf if lb is None else lb for lb, _ in bounds), float, n)
    lp.col_upper_ = np.fromiter((inf if ub is None else ub for _, ub in bounds), float, n)
    kind = np.fromiter((r.bound_type for r in sf.rows), np.int8, m)
    rhs = np.asarray(sf.rhs, dtype=float).reshape(m)
    lp.row_lower_ = np.where(kind == 1, -inf, rhs)  # 1: body <= rhs, -1: body >= rhs, 0: body == rhs
    lp.row_upper_ = np.where(kind == -1, inf, rhs)
    A = sf.A
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    integer = np.fromiter((v.is_integer() for v in cols), bool, n)
    if integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    return StandardForm(lp, cols, [r.constraint for r in sf.rows], integer, maximize)


_banner_shown = [False]


def new_highs():
    """A fresh ``highspy.Highs``. Its first construction in a process prints HiGHS's banner on file
    descriptor 1 from C++; that would corrupt ``--json`` on stdout, so the banner goes to fd 2."""
    import highspy

    if _banner_shown[0]:
        return highspy.Highs()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        saved = None
    if saved is not None:
        os.dup2(2, 1)
    try:
        return highspy.Highs()
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_shown[0] = True


_threads_started: list[int | None] = [None]  # the thread count HiGHS's global scheduler was started with


def _threads_ready(threads: int | None) -> None:
    """HiGHS keeps one global thread scheduler per process and refuses another thread count later;
    restart it when a solve asks for a different count (solves in one process run one at a time)."""
    if threads is None or threads == _threads_started[0]:
        return
    import highspy

    highspy.Highs.resetGlobalScheduler(True)
    _threads_started[0] = threads


class _Log:
    """Collects HiGHS's log and hands each complete line to ``progress`` as it arrives."""

    def __init__(self, progress: Callable[[str], None] | None):
        self.progress, self.lines, self._buf = progress, [], ""

    def __call__(self, event) -> None:
        self._buf += event.message
        *done, self._buf = self._buf.split("\n")
        for line in done:
            line = line.rstrip()
            self.lines.append(line)
            if self.progress is not None and line.strip():
                self.progress(line)

    def text(self) -> str:
        return "\n".join(self.lines + ([self._buf] if self._buf else []))


def _status(model_status, has_solution: bool) -> str:
    import highspy

    S = highspy.HighsModelStatus
    if model_status in (S.kOptimal, S.kModelEmpty):
        return OPTIMAL
    if model_status == S.kTimeLimit:
        return TIME_LIMIT
    if model_status in (S.kInfeasible, S.kUnboundedOrInfeasible):
        return INFEASIBLE  # our models are bounded: every decision has a finite range
    if model_status == S.kUnbounded:
        return UNBOUNDED
    return ERROR


def solve_highs(model, *, time_limit_s: float | None = None, mip_gap: float | None = 0.01, threads: int | None = None,
                progress: Callable[[str], None] | None = None, warm_start: bool = False,
                duals: bool = False) -> SolveResult:
    """Solve ``model`` with HiGHS through the standard form; load the solution or incumbent.

    With ``duals`` the result carries ``duals``: a ComponentMap from each active constraint to
    d(objective)/d(bound) in the model's objective units; for a MILP these are the row duals of the
    LP with every integer variable fixed at its value in the solution.
    """
    from pyomo.common.errors import InfeasibleConstraintException

    t0 = time.perf_counter()
    try:
        sf = compile_model(model)
    except InfeasibleConstraintException as exc:  # a constraint with nothing left to vary, violated
        return SolveResult("highs", INFEASIBLE, False, None, None, None, time.perf_counter() - t0,
                           f"the model is infeasible: {exc}")
    _threads_ready(threads)
    h = new_highs()
    log = _Log(progress)
    h.setOptionValue("log_to_console", False)
    h.cbLogging.subscribe(log)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    if mip_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_gap))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    h.passModel(sf.lp)
    handoff_s = time.perf_counter() - t0
    if warm_start:
        _set_start(h, sf)
    try:
        h.run()
    except Exception as exc:  # the solver itself failed: say so, never a traceback
        return SolveResult("highs", ERROR, False, None, None, None, time.perf_counter() - t0,
                           f"{type(exc).__name__}: {exc}", log.text(), handoff_s=handoff_s)
    solve_s = time.perf_counter() - t0
    import highspy

    info = h.getInfo()
    has = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    status = _status(h.getModelStatus(), has)
    obj = bound = gap = None
    if has:
        sol = h.getSolution()
        for v, x in zip(sf.columns, sol.col_value):
            v.set_value(x, skip_validation=True)
        obj = float(info.objective_function_value)
        bound = float(info.mip_dual_bound) if sf.integer.any() else obj
        gap = relative_gap(obj, bound)
        if status == OPTIMAL and gap is None:
            gap = 0.0
    from .backends import _message

    message = _message(status, has, gap, time_limit_s)
    if status == ERROR:
        tail = [ln.strip() for ln in log.lines if ln.strip()][-3:]
        message += f" (HiGHS: {h.modelStatusToString(h.getModelStatus())})" + (": " + " / ".join(tail) if tail else "")
    result = SolveResult("highs", status, has, obj, bound, gap, solve_s, message, log.text(), handoff_s=handoff_s)
    if duals and has:
        result.duals = _fixed_integer_duals(h, sf)
    return result


def _set_start(h, sf: StandardForm) -> None:
    """Hand the Pyomo variables' current values to HiGHS as a starting solution (unset ones: 0)."""
    import highspy

    sol = highspy.HighsSolution()
    sol.col_value = [0.0 if v.value is None else float(v.value) for v in sf.columns]
    sol.value_valid = True
    h.setSolution(sol)


def _fixed_integer_duals(h, sf: StandardForm):
    """Row duals mapped back to Pyomo constraints (a ranged constraint's two rows summed).

    For a MILP the integer columns are fixed at their rounded solution values and the remaining LP
    is solved again (quietly) for its duals; ``None`` if that LP does not solve to optimality.
    """
    import highspy
    from pyomo.common.collections import ComponentMap

    if sf.integer.any():
        idx = np.flatnonzero(sf.integer).astype(np.int32)
        vals = np.round(np.asarray(h.getSolution().col_value)[idx])
        h.setOptionValue("output_flag", False)
        h.changeColsIntegrality(len(idx), idx, np.full(len(idx), highspy.HighsVarType.kContinuous))
        h.changeColsBounds(len(idx), idx, vals, vals)
        h.setOptionValue("time_limit", highspy.kHighsInf)  # an LP with the design fixed: quick
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
    sol = h.getSolution()
    if not sol.dual_valid:
        return None
    out = ComponentMap()
    for con, y in zip(sf.rows, sol.row_dual):
        out[con] = out.get(con, 0.0) + y
    return out
