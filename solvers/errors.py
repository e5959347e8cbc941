"""Errors raised when a site cannot be served or a solver fails (CLI exit code 3)."""


class InfeasibleError(RuntimeError):
    """The site cannot be served as specified, or the solver failed; the message says why in the site's terms."""


class SolverUnavailableError(ValueError):
    """The requested solver is unknown to Pyomo or not installed (bad input: CLI exit code 2)."""
