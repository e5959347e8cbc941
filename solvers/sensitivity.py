"""The LP at a MILP solution, for marginal values: the integers held where the solve left them.

Duals of a MILP are not defined; those of the LP with its integers fixed at the solution are (the
usual sensitivity reading of a MILP). Integer variables of the components named in ``relax`` become
continuous instead, for integers that only round a continuous quantity up (whole containers, whole
inverters): fixed, they would pin that quantity and make every requirement on it degenerate.

The LP goes to HiGHS through Pyomo's own interface (independent of how ``solve`` hands over the
MILP), and the answer is read from HiGHS directly: the column of each variable asked about, with
the rows it appears in, their activity, bounds and duals. The model's values are left as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo


@dataclass(frozen=True)
class Row:
    constraint: object  # the Pyomo ConstraintData
    coef: float  # the variable's coefficient in the row
    activity: float
    lower: float  # -inf when none
    upper: float  # +inf when none
    dual: float  # d objective / d bound, in the objective's units


@dataclass
class Column:
    value: float
    reduced_cost: float
    rows: list[Row] = field(default_factory=list)


@dataclass
class LPAtSolution:
    objective: float
    columns: dict[int, Column]  # id(VarData) -> its column

    def column(self, var) -> Column | None:
        return self.columns.get(id(var))


def lp_at_solution(model, variables, *, relax: tuple[str, ...] = ()) -> LPAtSolution | None:
    """Solve ``model`` as an LP with its integers fixed (or relaxed, see the module docstring).

    ``variables`` are the VarData whose columns to return. None when HiGHS is not installed or the
    LP does not solve to optimality (a design from a time-limited MILP may sit outside the LP's
    tolerances).
    """
    try:
        import pyomo.contrib.solver.plugins  # noqa: F401  (registers the factory entries)
        from pyomo.contrib.solver.common.factory import SolverFactory
        from pyomo.contrib.solver.common.results import TerminationCondition
    except ImportError:
        return None
    saved = []
    for v in model.component_data_objects(pyo.Var, descend_into=True):
        if not (v.is_integer() or v.is_binary()) or v.fixed:
            continue
        saved.append((v, v.domain, v.lower, v.upper))
        if v.parent_component().local_name in relax:
            v.domain = pyo.NonNegativeReals
        else:
            at = float(round(v.value or 0.0))
            v.domain = pyo.Reals
            v.setlb(at)
            v.setub(at)
    try:
        opt = SolverFactory("highs")
        if not opt.available():
            return None
        opt.config.tee = False
        opt.set_instance(model)
        res = opt.solve(model, load_solutions=False, raise_exception_on_nonoptimal_result=False)
        if res.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
            return None
        h = opt._solver_model
        sol, lp = h.getSolution(), h.getLp()
        # highspy hands each vector over as a fresh copy: take them once
        start, index, coef = (np.asarray(x) for x in (lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_))
        col_value, col_dual = np.asarray(sol.col_value), np.asarray(sol.col_dual)
        row_value, row_dual = np.asarray(sol.row_value), np.asarray(sol.row_dual)
        row_lower, row_upper = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
        rows = {r: c for c, r in opt._pyomo_con_to_solver_con_map.items()}
        cols: dict[int, Column] = {}
        for v in variables:
            j = opt._pyomo_var_to_solver_var_map.get(id(v))
            if j is None:
                continue
            col = Column(float(col_value[j]), float(col_dual[j]))
            for k in range(int(start[j]), int(start[j + 1])):
                r = int(index[k])
                con = rows.get(r)
                if con is not None:
                    col.rows.append(Row(con, float(coef[k]), float(row_value[r]), float(row_lower[r]),
                                        float(row_upper[r]), float(row_dual[r])))
            cols[id(v)] = col
        return LPAtSolution(float(res.incumbent_objective), cols)
    finally:
        for v, dom, lo, up in saved:
            v.domain = dom
            v.setlb(lo)
            v.setub(up)
