"""The direct HiGHS route (solvers/highs.py) hands HiGHS exactly the model Pyomo's own
standard-form compiler sees, and what comes back (values, statuses, warm starts, duals) lands on
the right Pyomo components."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from bess_size.optimizer.data import model_data
from bess_size.optimizer.model import ModelOptions, build_model
from bess_size.solvers import solve
from bess_size.solvers.highs import compile_model


def _rows_by_constraint(sf):
    """constraint -> (lower, upper, {id(var): coef}) from our compiled form."""
    A = sf.lp.a_matrix_
    start, index, value = np.asarray(A.start_), np.asarray(A.index_), np.asarray(A.value_)
    rows = {id(c): (lo, hi, {}) for c, lo, hi in zip(sf.rows, sf.lp.row_lower_, sf.lp.row_upper_)}
    keys = [id(c) for c in sf.rows]
    for j, v in enumerate(sf.columns):
        for k in range(start[j], start[j + 1]):
            rows[keys[index[k]]][2][id(v)] = value[k]
    return rows


def _reference(m):
    """The same from Pyomo's LinearStandardFormCompiler (mixed form: one row per bound side)."""
    ref = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=None)
    A = ref.A.tocsr()
    out = {}
    for i, (con, kind) in enumerate(ref.rows):
        lo, hi, coefs = out.setdefault(id(con), [-np.inf, np.inf, {}])
        b = ref.rhs[i]
        if kind >= 0:
            hi = b
        if kind <= 0:
            lo = b
        for k in range(A.indptr[i], A.indptr[i + 1]):
            coefs[id(ref.columns[A.indices[k]])] = A.data[k]
        out[id(con)] = [lo, hi, coefs]
    return ref, out


@pytest.mark.parametrize("strict", [False, True])
def test_the_compiled_model_is_pyomos_standard_form(small_site_and_scenarios, strict):
    """Every constraint row: the same bounds and the same coefficient on every variable; the same
    objective and constant; integers where Pyomo has them. ``strict`` adds binaries and, with
    them fixed at 0, fixed variables (which Pyomo moves into the bounds and we keep as columns
    with equal bounds)."""
    site, scen = small_site_and_scenarios
    m = build_model(model_data(site, scen), ModelOptions(strict_dispatch=strict))
    if strict:
        m.charging.fix(0)
    sf = compile_model(m)
    ref, want = _reference(m)
    got = _rows_by_constraint(sf)
    fixed = {id(v): v.value for v in sf.columns if v.fixed}
    assert len(got) >= len(want) > 1000
    for key, (lo, hi, coefs) in got.items():
        moved = sum(c * fixed[i] for i, c in coefs.items() if i in fixed)
        free = {i: c for i, c in coefs.items() if i not in fixed and c != 0}
        if key not in want:  # only fixed variables left: Pyomo checked and dropped the row
            assert not free and lo - 1e-9 <= moved <= hi + 1e-9
            continue
        wlo, whi, wcoefs = want[key]
        assert (lo - moved, hi - moved) == pytest.approx((wlo, whi), rel=1e-12, abs=1e-9)
        assert free.keys() == wcoefs.keys()
        assert [free[i] for i in wcoefs] == pytest.approx(list(wcoefs.values()), rel=1e-12)
    col = {id(v): j for j, v in enumerate(sf.columns)}
    cost = np.asarray(sf.lp.col_cost_)
    c = ref.c.toarray()[0]
    for j, v in enumerate(ref.columns):
        assert cost[col[id(v)]] == pytest.approx(c[j], rel=1e-12, abs=1e-12)
        assert sf.integer[col[id(v)]] == v.is_integer()
    moved = sum(cost[col[i]] * x for i, x in fixed.items())
    assert sf.lp.offset_ + moved == pytest.approx(float(ref.c_offset[0]), rel=1e-12)


def test_solution_warm_start_and_duals_land_on_the_model(small_site_and_scenarios):
    """The site solved through HiGHS: the loaded values satisfy every constraint; a warm start from
    that solution gives the same objective; with duals, the LP with the integers fixed has the
    same objective, and its duals price each constraint: the objective rises by about the dual
    times a small tightening of the power balance of one step (checked by re-solving)."""
    site, scen = small_site_and_scenarios
    m = build_model(model_data(site, scen))
    res = solve(m, mip_gap=1e-6, duals=True)
    assert res.status == "optimal" and res.duals is not None
    for con in m.component_data_objects(pyo.Constraint, active=True):
        body = pyo.value(con.body)
        assert con.lower is None or body >= pyo.value(con.lower) - 1e-5 * max(1, abs(body)), con.name
        assert con.upper is None or body <= pyo.value(con.upper) + 1e-5 * max(1, abs(body)), con.name
    assert set(map(id, res.duals.keys())) <= {id(c) for c in m.component_data_objects(pyo.Constraint, active=True)}
    again = solve(m, mip_gap=1e-6, warm_start=True)
    assert again.objective == pytest.approx(res.objective, rel=1e-6)

    # fix the integers, move one power-balance row by a small amount, and compare the change in
    # the objective with its dual
    con = max(m.power_balance.values(), key=lambda c: abs(res.duals[c]))
    y = res.duals[con]
    assert abs(y) > 0
    for v in m.component_data_objects(pyo.Var):
        if v.is_integer():
            v.fix(round(v.value))
    base = solve(m, mip_gap=0.0).objective
    delta = 1e-3
    lb, body, ub = con.to_bounded_expression()
    con.set_value((lb + delta, body, ub + delta) if lb is not None and ub is not None else
                  (lb + delta if lb is not None else None, body, ub + delta if ub is not None else None))
    moved = solve(m, mip_gap=0.0).objective
    assert (moved - base) / delta == pytest.approx(y, rel=1e-3)
