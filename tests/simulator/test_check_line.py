"""The CLI's one line per check says its figure is the worst held-out scenario's, and how many failed.

A check passes on its success rate (the Wilson lower bound against the target), so a PASS may carry
a worst figure beyond the limit: 1 failed day of 300 gives a lower bound of 0.981 >= 0.95. The
line must not read as if the worst day held.
"""

from types import SimpleNamespace

from bess_size.cli.run import _print_checks
from bess_size.simulator.checks import Check


def _check(successes: int, n: int) -> Check:
    return Check(requirement="poi_ramp_limit", description="", measured=110.5, limit=0.5, unit="MW/s",
                 scenarios=n, successes=successes, target_success_rate=0.95, evidence="")


def _line(capsys, check: Check) -> str:
    v = SimpleNamespace(held_out_scenarios=check.scenarios, trace_days=1.0, target_success_rate=0.95,
                        checks=[check], not_applicable={}, not_exercised=[], notes=[])
    _print_checks(v)
    return [ln for ln in capsys.readouterr().err.splitlines() if "poi_ramp_limit" in ln][0]


def test_a_pass_with_one_failed_day_says_worst_and_failed(capsys):
    c = _check(299, 300)
    assert c.passed  # 299/300: Wilson lower bound 0.981 >= 0.95
    line = _line(capsys, c)
    assert line.split()[0] == "PASS"
    assert "worst 110.5 MW/s <= 0.5 (margin -110)" in line
    assert "over 300 (1 failed)" in line


def test_no_failed_count_when_every_day_held(capsys):
    line = _line(capsys, _check(300, 300))
    assert "failed" not in line
