"""The solver layer: every outcome maps to a status that says what happened."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from bess_size.solvers import SolverUnavailableError, solve


def _knapsack(n=40):
    """A small integer knapsack: max sum v_j x_j s.t. sum w_j x_j <= cap (written as a minimisation)."""
    m = pyo.ConcreteModel()
    m.J = pyo.RangeSet(0, n - 1)
    w = {j: 7 + (37 * j) % 23 for j in range(n)}
    v = {j: 5 + (53 * j) % 31 for j in range(n)}
    m.x = pyo.Var(m.J, domain=pyo.Binary)
    m.cap = pyo.Constraint(expr=sum(w[j] * m.x[j] for j in m.J) <= 0.37 * sum(w.values()))
    m.obj = pyo.Objective(expr=-sum(v[j] * m.x[j] for j in m.J))
    return m


def test_optimal_milp_has_zero_gap_and_integral_solution():
    """A 3-item choice small enough to check by hand: items (w, v) = (3, 4), (4, 5), (2, 3), cap 6:
    the best is items 1 and 3 (w 5, v 7) or 2 and 3 (w 6, v 8) -> 8."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1, 2], domain=pyo.Binary)
    m.c = pyo.Constraint(expr=3 * m.x[0] + 4 * m.x[1] + 2 * m.x[2] <= 6)
    m.o = pyo.Objective(expr=-(4 * m.x[0] + 5 * m.x[1] + 3 * m.x[2]))
    res = solve(m)
    assert res.status == "optimal" and res.has_solution and res.ok
    assert res.objective == pytest.approx(-8.0)
    assert res.gap == pytest.approx(0.0, abs=1e-9)
    assert [round(m.x[j].value) for j in range(3)] == [0, 1, 1]


def test_infeasible_and_unbounded_are_named():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x >= 2)
    m.o = pyo.Objective(expr=m.x)
    res = solve(m)
    assert res.status == "infeasible" and not res.has_solution
    assert "infeasible" in res.message

    u = pyo.ConcreteModel()
    u.x = pyo.Var(domain=pyo.Reals)
    u.c = pyo.Constraint(expr=u.x <= 5)
    u.o = pyo.Objective(expr=u.x)  # minimise x with no lower bound
    res = solve(u)
    # HiGHS proves some unbounded LPs only as "infeasible or unbounded"; either way the result is not usable
    assert res.status in ("unbounded", "infeasible") and not res.ok


def _market_split(n=40, rows=4, seed=3):
    """min sum x s.t. a_i x = floor(sum a_i / 2) + 1 for 4 rows of random 0..99 coefficients, x binary:
    a market-split problem, notoriously hard even to find a feasible point of (Cornuejols and
    Dawande), so a short time limit stops the solver with no incumbent, whatever the machine."""
    import random

    r = random.Random(seed)
    a = [[r.randint(0, 99) for _ in range(n)] for _ in range(rows)]
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    m.c = pyo.Constraint(range(rows), rule=lambda m, i: sum(a[i][j] * m.x[j] for j in range(n)) == sum(a[i]) // 2 + 1)
    m.o = pyo.Objective(expr=sum(m.x[j] for j in range(n)))
    return m


def test_time_limit_without_an_incumbent_is_its_own_status():
    res = solve(_market_split(), time_limit_s=0.2)
    assert res.status == "time_limit_no_incumbent" and not res.has_solution and not res.ok
    assert "before any feasible design" in res.message


def test_time_limit_with_an_incumbent_keeps_it_and_says_its_gap_is_unknown():
    """A warm start hands HiGHS a feasible knapsack (the first three items) and a time limit too
    short for anything else: the result is that incumbent, with no proven bound, so no gap."""
    m = _knapsack(60)
    for j in m.J:
        m.x[j].set_value(1 if j < 3 else 0)
    res = solve(m, time_limit_s=1e-6, mip_gap=0.0, warm_start=True)
    assert res.status == "time_limit" and res.has_solution and res.ok
    assert res.objective == pytest.approx(-sum(5 + (53 * j) % 31 for j in range(3)))
    assert res.gap is None and "incumbent" in res.message


def test_a_gap_above_the_requested_one_is_a_warning():
    from bess_size.optimizer import gap_warning
    from bess_size.solvers import SolveResult

    def result(status, gap):
        return SolveResult("highs", status, True, 100.0, 100.0 - 100.0 * (gap or 0), gap, 1.0, "")

    assert gap_warning(result("optimal", 0.004), 0.01, None) is None
    assert gap_warning(result("time_limit", 0.009), 0.01, 60) is None  # stopped, but within the request
    w = gap_warning(result("time_limit", 0.235), 0.01, 60)
    assert "23.50%" in w and "1.00%" in w and "60 s" in w and "--time-limit" in w
    assert "unknown size" in gap_warning(result("time_limit", None), 0.01, 60)


def test_log_streams_line_by_line():
    lines = []
    solve(_knapsack(10), progress=lines.append)
    assert lines and all("\n" not in s for s in lines)
    assert any("HiGHS" in s for s in lines)


def test_missing_solver_is_a_clear_error():
    with pytest.raises(SolverUnavailableError) as err:
        solve(_knapsack(5), solver="no-such-solver")
    assert "no-such-solver" in str(err.value) and "highs" in str(err.value)


def test_thread_count_may_change_between_solves():
    """HiGHS starts one thread scheduler per process; a later solve with another count must still work."""
    for threads in (1, 2, None, 1):
        res = solve(_knapsack(8), threads=threads)
        assert res.status == "optimal", res.message


def test_duals_of_an_lp_are_d_objective_d_bound():
    """min x + 2y s.t. c: x + y >= 3, u: x <= 2, x, y >= 0: x = 2, y = 1. Raising c's bound by 1
    costs one more y (+2); raising u's bound by 1 swaps a y for an x (-1)."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeReals)
    m.y = pyo.Var(domain=pyo.NonNegativeReals)
    m.c = pyo.Constraint(expr=m.x + m.y >= 3)
    m.u = pyo.Constraint(expr=m.x <= 2)
    m.o = pyo.Objective(expr=m.x + 2 * m.y)
    res = solve(m, duals=True)
    assert (m.x.value, m.y.value) == pytest.approx((2.0, 1.0))
    assert res.duals[m.c] == pytest.approx(2.0)
    assert res.duals[m.u] == pytest.approx(-1.0)
    assert solve(m).duals is None  # only when asked for


def test_duals_of_a_milp_come_from_the_lp_with_integers_fixed():
    """min 0.4 n + y s.t. c: n + y >= 2.5, r: 1 <= y <= 10 (a ranged constraint: two rows),
    n integer in [0, 5]. n = 1: y = 1.5, cost 1.9; n = 2: y = 1 (r at its lower bound), cost 1.8;
    n = 3: y = 1, cost 2.2 -> n = 2, y = 1. With n fixed at 2, c is slack (dual 0) and r's lower
    bound is what y pays for (dual +1)."""
    m = pyo.ConcreteModel()
    m.n = pyo.Var(domain=pyo.Integers, bounds=(0, 5))
    m.y = pyo.Var(domain=pyo.NonNegativeReals)
    m.c = pyo.Constraint(expr=m.n + m.y >= 2.5)
    m.r = pyo.Constraint(expr=pyo.inequality(1, m.y, 10))
    m.o = pyo.Objective(expr=0.4 * m.n + m.y)
    res = solve(m, duals=True, mip_gap=0.0)
    assert res.status == "optimal" and round(m.n.value) == 2 and m.y.value == pytest.approx(1.0)
    assert res.objective == pytest.approx(1.8)
    assert res.duals[m.c] == pytest.approx(0.0, abs=1e-9)
    assert res.duals[m.r] == pytest.approx(1.0)


def test_fixed_variables_and_constant_constraints():
    """A fixed variable keeps its value; a constraint left with nothing to vary that holds is
    harmless, one that fails makes the model infeasible."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.z = pyo.Var(bounds=(0, 10))
    m.z.fix(4)
    m.c = pyo.Constraint(expr=m.x + m.z >= 6)
    m.k = pyo.Constraint(expr=m.z <= 5)
    m.o = pyo.Objective(expr=m.x)
    res = solve(m)
    assert res.status == "optimal" and m.x.value == pytest.approx(2.0) and m.z.value == 4
    m.z.fix(7)
    res = solve(m)
    assert res.status == "infeasible" and not res.ok and m.z.value == 7


def test_highs_options_reach_highs_and_a_bad_one_is_refused():
    """The same LP through the interior-point method gives the same answer; an unknown option is an error."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 3))
    m.y = pyo.Var(bounds=(0, 3))
    m.c = pyo.Constraint(expr=m.x + 2 * m.y <= 2)
    m.o = pyo.Objective(expr=-m.x - m.y)  # x = 2, y = 0
    res = solve(m, highs_options={"solver": "ipm", "presolve": "off"})
    assert res.status == "optimal" and (m.x.value, m.y.value) == pytest.approx((2.0, 0.0), abs=1e-7)
    assert "IPX" in res.log and "without presolve" in res.log
    with pytest.raises(ValueError, match="no_such_option"):
        solve(m, highs_options={"no_such_option": 1})
