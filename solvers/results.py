"""What a solve returns, whatever the solver: a status from a small fixed set, the objective, bound and gap."""

from __future__ import annotations

from dataclasses import dataclass

OPTIMAL, TIME_LIMIT, INFEASIBLE, UNBOUNDED, ERROR = "optimal", "time_limit", "infeasible", "unbounded", "error"
TIME_LIMIT_NO_INCUMBENT = "time_limit_no_incumbent"  # the time limit ran out before any feasible solution


@dataclass
class SolveResult:
    solver: str
    status: str  # optimal | time_limit (an incumbent) | time_limit_no_incumbent | infeasible | unbounded | error
    has_solution: bool  # a solution (optimal or incumbent) was loaded into the model
    objective: float | None
    bound: float | None
    gap: float | None  # relative MIP gap |objective - bound| / |objective| (0 for a proven optimum)
    solve_s: float
    message: str
    log: str = ""
    handoff_s: float = 0.0  # part of solve_s spent handing the model to the solver
    # with solve(..., duals=True): constraint -> d(objective)/d(bound) in the model's objective units
    # (a MILP: the LP with its integers fixed at the solution); None when not asked for or not available
    duals: object = None

    @property
    def ok(self) -> bool:
        return self.has_solution and self.status in (OPTIMAL, TIME_LIMIT)


def with_incumbent(status: str, has_solution: bool) -> str:
    """A time limit without an incumbent is its own status: nothing was found, nothing was proven."""
    return TIME_LIMIT_NO_INCUMBENT if status == TIME_LIMIT and not has_solution else status


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, 1e-9), HiGHS's definition; None without both."""
    if objective is None or bound is None:
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


def contrib_status(termination) -> str:
    """Map pyomo.contrib.solver's TerminationCondition to our status."""
    from pyomo.contrib.solver.common.results import TerminationCondition as TC

    return {
        TC.convergenceCriteriaSatisfied: OPTIMAL,
        TC.maxTimeLimit: TIME_LIMIT,
        TC.provenInfeasible: INFEASIBLE,
        TC.locallyInfeasible: INFEASIBLE,
        TC.infeasibleOrUnbounded: INFEASIBLE,  # our models are bounded: every decision has a finite range
        TC.unbounded: UNBOUNDED,
    }.get(termination, ERROR)


def legacy_status(termination) -> str:
    """Map the legacy pyomo.opt TerminationCondition to our status."""
    from pyomo.opt import TerminationCondition as TC

    return {
        TC.optimal: OPTIMAL,
        TC.locallyOptimal: OPTIMAL,
        TC.globallyOptimal: OPTIMAL,
        TC.maxTimeLimit: TIME_LIMIT,
        TC.infeasible: INFEASIBLE,
        TC.infeasibleOrUnbounded: INFEASIBLE,
        TC.unbounded: UNBOUNDED,
    }.get(termination, ERROR)
