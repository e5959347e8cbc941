"""Errors raised when a site cannot be served or a solver fails (CLI exit code 3)."""


class InfeasibleError(RuntimeError):
    """The site cannot be served as specified, or the solver failed; the message says why in the site's terms."""
