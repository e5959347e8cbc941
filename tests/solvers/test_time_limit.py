"""A time limit that stops the solver before any design is its own outcome: exit code 4 with a
message that says so, never "infeasible" (exit 3), and no design.json."""

from __future__ import annotations

from click.testing import CliRunner

from bess_size.cli import main


def _run(*args: str):
    runner = CliRunner()
    with runner.isolation(color=False) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_time_limit_before_any_design_exits_4(tmp_path, small_site_yaml, small_site_and_scenarios):
    """A microsecond is over before HiGHS's presolve ends, so there is no incumbent on any machine."""
    _, scen = small_site_and_scenarios
    nc = tmp_path / "scenarios.nc"
    scen.to_netcdf(nc)
    code, out, err = _run("optimize", str(small_site_yaml), "--scenarios", str(nc), "-o", str(tmp_path / "out"),
                          "--time-limit", "1e-6", "--json")
    assert code == 4, err[-800:]
    assert "time limit of 1e-06 s before it found any design" in err and "--time-limit" in err
    assert "infeasible" not in err.lower().split("error:")[-1]
    assert out == "" and not (tmp_path / "out" / "design.json").exists()
    assert "Traceback" not in err
