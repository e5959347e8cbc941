"""`bess-size optimize` through the CLI edge (``bess_size.cli.main``): exit codes and messages."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bess_size.cli import main

DEFAULT_SITE = Path(__file__).resolve().parents[2] / "examples" / "campus-300mw.yaml"


def run(*args: str):
    runner = CliRunner()
    with runner.isolation(color=False) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_missing_solver_is_bad_input(tmp_path):
    code, out, err = run("optimize", str(DEFAULT_SITE), "-o", str(tmp_path), "--solver", "no-such-solver")
    assert code == 2
    assert "no-such-solver" in err and "not available" in err
    assert "Traceback" not in out + err
    assert not (tmp_path / "design.json").exists()


def test_bad_mip_gap_is_bad_input(tmp_path):
    code, out, err = run("optimize", str(DEFAULT_SITE), "-o", str(tmp_path), "--mip-gap", "2")
    assert code == 2 and "--mip-gap" in err


def test_help_names_every_option():
    code, out, err = run("optimize", "--help")
    assert code == 0
    for opt in ("--solver", "--time-limit", "--mip-gap", "--threads", "--strict-dispatch", "--integer-commitment", "--json"):
        assert opt in out
