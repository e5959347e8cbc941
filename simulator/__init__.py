"""bess_size.simulator: replay a Design at second resolution with a no-foresight controller
and judge every requirement on held-out scenarios (DESIGN section 7).

* :func:`simulate` - held-out replay -> :class:`Validation` (validation.json, timeseries.nc).
* :func:`wilson_lower_bound` - the two-sided 95% Wilson lower bound the checks use.

It consumes a Design and scenarios, never the optimizer.
"""

from __future__ import annotations

from .checks import Check, wilson_lower_bound
from .validation import Validation, simulate

__all__ = ["Check", "Validation", "simulate", "wilson_lower_bound"]
