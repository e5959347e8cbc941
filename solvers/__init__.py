"""bess_size.solvers: solver back-ends (HiGHS by default), options, status mapping.

``solve(model, solver="highs", ...) -> SolveResult`` always says what happened: optimal; time limit
(with or without an incumbent, and its gap); infeasible; unbounded; error.
"""

from .backends import available_solvers, solve
from .errors import InfeasibleError, SolverUnavailableError
from .results import SolveResult

__all__ = ["InfeasibleError", "SolveResult", "SolverUnavailableError", "available_solvers", "solve"]
