"""Site limits that may be relaxed, with a label, when the infeasibility diagnosis re-solves the model.

In normal mode a limit is a plain bound or constraint. In elastic mode (``m.elastic``) the same limit
gets a non-negative slack ``m.slack[name]`` in its own units, recorded with the spec field it comes
from, so the diagnosis can say "bess.max_power_mw is 300 but 345 MW are needed".
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo


@dataclass(frozen=True)
class Limit:
    name: str  # key of the slack
    field: str  # the spec field, e.g. "bess.max_power_mw"
    value: float  # its value in the spec
    unit: str
    what: str  # the limited quantity in words, e.g. "PCS power"
    weight: float = 1.0  # cost of one unit of slack in the diagnosis: requirements weigh more than sizes


def init_limits(m) -> None:
    m.limits = {}
    m.slack = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeReals)


def relaxed(m, limit: Limit, bound: float):
    """``bound`` in normal mode; ``bound + slack`` (a new labeled slack) in elastic mode."""
    if not m.elastic:
        return bound
    m.limits[limit.name] = limit
    return bound + m.slack[limit.name]


def upper_limit(m, var, limit: Limit) -> None:
    """``var <= limit.value``: a bound normally, a constraint with a labeled slack in elastic mode."""
    if not m.elastic:
        var.setub(limit.value)
        return
    var.setub(None)
    con_name = f"limit_{limit.name}"
    m.add_component(con_name, pyo.Constraint(expr=var <= relaxed(m, limit, limit.value)))
