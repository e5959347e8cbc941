"""bess_size.solvers: solver back-ends (HiGHS by default), options, status mapping.

``solve(model, solver="highs", ...) -> SolveResult`` always says what happened: optimal; time limit
with an incumbent (and its gap); time limit without one; infeasible; unbounded; error.
"""

from .backends import available_solvers, solve
from .errors import InfeasibleError, SolverTimeLimitError, SolverUnavailableError
from .results import SolveResult

__all__ = ["InfeasibleError", "SolveResult", "SolverTimeLimitError", "SolverUnavailableError", "available_solvers",
           "solve"]
