"""Another Pyomo MILP solver by name: CBC (Debian's coinor-cbc, which .ci/run installs) gives the
same answers as HiGHS, through the same status mapping and the same design extraction."""

from __future__ import annotations


import pyomo.environ as pyo
import pytest

from bess_size.examples import path as example_path
from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.site_spec import load_site

# the cbc fixture (tests/conftest.py): skips without cbc, fails instead under CI=true
pytestmark = pytest.mark.usefixtures("cbc")


def test_cbc_solves_the_hand_checked_choice():
    """Items (w, v) = (3, 4), (4, 5), (2, 3) under capacity 6: the best is items 2 and 3, value 8."""
    from bess_size.solvers import solve

    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1, 2], domain=pyo.Binary)
    m.c = pyo.Constraint(expr=3 * m.x[0] + 4 * m.x[1] + 2 * m.x[2] <= 6)
    m.o = pyo.Objective(expr=-(4 * m.x[0] + 5 * m.x[1] + 3 * m.x[2]))
    res = solve(m, solver="cbc")
    assert res.status == "optimal" and res.ok
    assert res.objective == pytest.approx(-8.0)
    assert [round(m.x[j].value) for j in range(3)] == [0, 1, 1]


def test_cbc_and_highs_give_the_same_design():
    """The bundled inference site at its own settings: both solvers prove optimality of the same
    MILP, so the design (containers, inverters, PCS) must agree exactly and the cost to 1e-6."""
    site = load_site(example_path("inference-100mw-pv"))
    scen = generate_scenarios(site)
    a = optimize(site, scen, solver="highs", mip_gap=1e-6).design
    b = optimize(site, scen, solver="cbc", mip_gap=1e-6).design
    assert b.solver.name == "cbc" and b.solver.status == "optimal"
    assert (b.bess.containers, b.bess.inverters) == (a.bess.containers, a.bess.inverters)
    assert b.bess.pcs_power_mw == pytest.approx(a.bess.pcs_power_mw, rel=1e-6)
    assert b.cost.total_annualized_usd == pytest.approx(a.cost.total_annualized_usd, rel=1e-6)
