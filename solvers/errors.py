"""Errors raised when a site cannot be served or a solver fails (CLI exit code 3)."""


class InfeasibleError(RuntimeError):
    """The site cannot be served as specified, or the solver failed; the message says why in the site's terms."""


class SolverTimeLimitError(RuntimeError):
    """The solver's time limit ran out before it found any feasible design (CLI exit code 4): nothing
    is known about the site's feasibility; a longer time limit may find a design."""


class SolverUnavailableError(ValueError):
    """The requested solver is unknown to Pyomo or not installed (bad input: CLI exit code 2)."""
