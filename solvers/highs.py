"""HiGHS at compiled speed: the model is compiled into sparse arrays (``compile_model``), highspy
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
from pyomo.core.expr.numeric_expr import (DivisionExpression, LinearExpression, MonomialTermExpression,
                                          NegationExpression, ProductExpression, SumExpression)
from pyomo.core.expr.numvalue import native_numeric_types, value

from .results import ERROR, INFEASIBLE, OPTIMAL, TIME_LIMIT, UNBOUNDED, SolveResult, relative_gap, with_incumbent


@dataclass
class StandardForm:
    """The model as HiGHS sees it: column j is ``columns[j]``, row i is ``rows[i]`` (a Pyomo
    ConstraintData), ``lp`` the arrays handed to HiGHS."""

    lp: object  # highspy.HighsLp
    columns: list
    rows: list
    integer: np.ndarray  # bool per column


def _fixed(x) -> float | None:
    """The value of ``x`` if nothing in it can vary (a number, a parameter, fixed variables), else None."""
    if x.__class__ in native_numeric_types:
        return x
    return None if x.is_potentially_variable() and not x.is_fixed() else value(x)


class _Linear:
    """Collects the linear terms of expressions as (column, coefficient) pairs, appended in order.

    Every variable of the model is a column (a fixed one with both bounds at its value), numbered
    in declaration order before the walk. The walk knows the shapes Pyomo builds for linear models
    (sums, linear expressions, monomials, variables, negations, products and quotients by
    constants, named expressions) and hands anything else to ``generate_standard_repn``, Pyomo's
    general linear compiler; a nonlinear term is an error.
    """

    def __init__(self, columns: list):
        self.columns = columns
        self.col_of = {id(v): j for j, v in enumerate(columns)}
        self.cols, self.coefs = [], []
        self.constant = 0.0

    def add(self, e, mult: float = 1.0) -> None:
        """Append the terms of ``mult * e`` (its constant part goes to ``self.constant``)."""
        cls = e.__class__
        if cls is LinearExpression or cls is SumExpression:
            # the hot loop: no call per term where the term is a monomial or a variable
            col_of, cols, coefs = self.col_of, self.cols, self.coefs
            for a in e.args:
                c = a.__class__
                if c is MonomialTermExpression:
                    coef, v = a.args
                    cols.append(col_of[id(v)])
                    coefs.append(mult * (coef if coef.__class__ in native_numeric_types else value(coef)))
                elif c in native_numeric_types:
                    self.constant += mult * a
                elif a.is_variable_type():
                    cols.append(col_of[id(a)])
                    coefs.append(mult)
                else:
                    self.add(a, mult)
        elif cls in native_numeric_types:
            self.constant += mult * e
        elif cls is MonomialTermExpression:
            coef, v = e.args
            self._term(v, mult * (coef if coef.__class__ in native_numeric_types else value(coef)))
        elif e.is_variable_type():
            self._term(e, mult)
        elif not e.is_potentially_variable():  # parameters and expressions of them
            self.constant += mult * value(e)
        elif e.is_named_expression_type():
            self.add(e.expr, mult)
        elif cls is NegationExpression:
            self.add(e.args[0], -mult)
        elif cls is ProductExpression and _fixed(e.args[0]) is not None:
            self.add(e.args[1], mult * _fixed(e.args[0]))
        elif cls is ProductExpression and _fixed(e.args[1]) is not None:
            self.add(e.args[0], mult * _fixed(e.args[1]))
        elif cls is DivisionExpression and _fixed(e.args[1]) is not None:
            self.add(e.args[0], mult / _fixed(e.args[1]))
        else:
            self._general(e, mult)

    def _term(self, v, coef: float) -> None:
        self.cols.append(self.col_of[id(v)])
        self.coefs.append(coef)

    def _general(self, e, mult: float) -> None:
        from pyomo.repn.standard_repn import generate_standard_repn

        repn = generate_standard_repn(e, quadratic=False, compute_values=True)
        if repn.nonlinear_expr is not None:
            raise ValueError(f"the expression {str(e)[:200]} is not linear; HiGHS takes linear models only here")
        self.constant += mult * repn.constant
        for coef, v in zip(repn.linear_coefs, repn.linear_vars):
            self._term(v, mult * coef)


def compile_model(model) -> StandardForm:
    """See ``_compile``; the garbage collector is paused meanwhile: the walk makes many small
    objects and no cycles, and collections would traverse the whole model again and again."""
    from pyomo.common.gc_manager import PauseGC

    with PauseGC():
        return _compile(model)


def _compile(model) -> StandardForm:
    """The active objective and constraints of ``model`` as a ``highspy.HighsLp``, one row per
    constraint: lower <= a x <= upper with the constraint's own body, so a row's dual is
    d(objective)/d(bound), as Pyomo's ``dual`` suffix defines it.

    This does what Pyomo's standard-form compiler (``pyomo.repn.plugins.standard_form``) does, in
    one pass specialised to linear expressions (faster on this project's models, see
    benchmarks/bench_optimizer.py), with ranged constraints kept as one row. Every variable of the
    model is a column, a fixed one with both bounds at its value, so HiGHS's presolve removes it.
    """
    import highspy
    import pyomo.environ as pyo
    import scipy.sparse as sp
    from pyomo.core.expr.numvalue import native_types

    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1:
        raise ValueError(f"the model must have exactly one active objective, it has {len(objectives)}")
    cols = list(model.component_data_objects(pyo.Var, descend_into=True))
    acc = _Linear(cols)
    inf = highspy.kHighsInf
    rows, lower, upper, starts = [], [], [], [0]
    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        lb, body, ub = con.to_bounded_expression()
        if lb is None and ub is None:
            continue
        if lb.__class__ not in native_types:
            lb = value(lb)
        if ub.__class__ not in native_types:
            ub = value(ub)
        acc.constant = 0.0
        acc.add(body)
        k = acc.constant
        starts.append(len(acc.cols))
        rows.append(con)
        lower.append(-inf if lb is None else lb - k)
        upper.append(inf if ub is None else ub - k)
    n, m = len(cols), len(rows)
    # the terms arrive row by row: a CSR matrix, turned column-wise for HiGHS
    A = sp.csr_array((np.asarray(acc.coefs, dtype=float), np.asarray(acc.cols, dtype=np.int32),
                      np.asarray(starts, dtype=np.int64)), shape=(m, n)).tocsc()
    A.sum_duplicates()  # a variable twice in one constraint: one coefficient
    A.eliminate_zeros()
    obj = objectives[0]
    acc.cols, acc.coefs, acc.constant = [], [], 0.0
    acc.add(obj.expr)
    cost = np.zeros(n)
    np.add.at(cost, np.asarray(acc.cols, dtype=np.int64), np.asarray(acc.coefs, dtype=float))

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.sense_ = highspy.ObjSense.kMaximize if obj.sense == pyo.maximize else highspy.ObjSense.kMinimize
    lp.col_cost_ = cost
    lp.offset_ = float(acc.constant)
    bounds = [(v.value, v.value) if v.fixed else v.bounds for v in cols]
    lp.col_lower_ = np.fromiter((-inf if lb is None else lb for lb, _ in bounds), float, n)
    lp.col_upper_ = np.fromiter((inf if ub is None else ub for _, ub in bounds), float, n)
    lp.row_lower_ = np.asarray(lower, dtype=float)
    lp.row_upper_ = np.asarray(upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    integer = np.fromiter((v.is_integer() for v in cols), bool, n)
    if integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    return StandardForm(lp, cols, rows, integer)


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
        return with_incumbent(TIME_LIMIT, has_solution)
    if model_status in (S.kInfeasible, S.kUnboundedOrInfeasible):
        return INFEASIBLE  # our models are bounded: every decision has a finite range
    if model_status == S.kUnbounded:
        return UNBOUNDED
    return ERROR


def solve_highs(model, *, time_limit_s: float | None = None, mip_gap: float | None = 0.01, threads: int | None = None,
                progress: Callable[[str], None] | None = None, warm_start: bool = False,
                duals: bool = False, options: dict | None = None) -> SolveResult:
    """Solve ``model`` with HiGHS through ``compile_model``; load the solution or incumbent.

    With ``duals`` the result carries ``duals``: a ComponentMap from each active constraint to
    d(objective)/d(bound) in the model's objective units; for a MILP these are the row duals of the
    LP with every integer variable fixed at its value in the solution.
    """
    import highspy

    t0 = time.perf_counter()
    sf = compile_model(model)
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
    for key, val in (options or {}).items():
        if h.setOptionValue(key, val) != highspy.HighsStatus.kOk:
            raise ValueError(f"HiGHS refuses the option {key} = {val!r}")
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
    info = h.getInfo()
    has = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    status = _status(h.getModelStatus(), has)
    obj = bound = gap = None
    if has:
        sol = h.getSolution()
        for v, x in zip(sf.columns, sol.col_value):
            if not v.fixed:
                v.set_value(x, skip_validation=True)
        obj = float(info.objective_function_value)
        bound = float(info.mip_dual_bound) if sf.integer.any() else obj
        bound = bound if np.isfinite(bound) else None  # no bound proven yet: the gap is unknown
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
    """Row duals mapped back to Pyomo constraints (one row per active constraint with a bound).

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
    return ComponentMap(zip(sf.rows, sol.row_dual))
