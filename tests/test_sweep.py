"""Sweeps: the --vary grammar, up-front validation of every point, and a real small sweep on Dask."""

from __future__ import annotations

from pathlib import Path

import pytest

from bess_size.cli import main
from bess_size.site_spec import SiteSpecError
from bess_size.sweep_grid import field_unit, format_value, parse_values, parse_vary, plan_sweep, set_dotted, sweep_points

HERE = Path(__file__).parent


def invoke(args: list[str], capsys) -> tuple[int, str]:
    """Run the CLI through its real error edge (exit codes, messages); return (code, stderr + stdout)."""
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.err + out.out


# --------------------------------------------------------------------------- the grammar


def test_range_includes_stop_when_steps_land_on_it():
    """0:150:50 -> 0, 50, 100, 150 (four points: (150 - 0) / 50 + 1)."""
    assert parse_values("0:150:50") == [0.0, 50.0, 100.0, 150.0]


def test_range_stops_before_an_overshoot_and_prints_clean_decimals():
    """0:1:0.3 -> 0, 0.3, 0.6, 0.9 (1.2 would pass STOP); 0:0.3:0.1 keeps 0.3 although 3 x 0.1 = 0.30000000000000004."""
    assert parse_values("0:1:0.3") == [0.0, 0.3, 0.6, 0.9]
    assert parse_values("0:0.3:0.1") == [0.0, 0.1, 0.2, 0.3]
    assert parse_values("5") == [5.0]
    assert parse_values("100, 150,200") == [100.0, 150.0, 200.0]


@pytest.mark.parametrize("text", ["0:10:0", "0:10:-1", "10:0:1", "a:b:c", "1:2", "", "1:2:3:4", "nan"])
def test_bad_ranges_are_rejected(text):
    with pytest.raises(ValueError, match="START:STOP:STEP"):
        parse_values(text)


def test_parse_vary_names_the_key():
    assert parse_vary("grid.ramp_limit_mw_per_min=5:20:5") == ("grid.ramp_limit_mw_per_min", [5.0, 10.0, 15.0, 20.0])
    with pytest.raises(ValueError, match="KEY=START:STOP:STEP"):
        parse_vary("grid.ramp_limit_mw_per_min")
    with pytest.raises(ValueError, match="grid.x: "):
        parse_vary("grid.x=1:0:1")


def test_grid_is_the_full_product_first_key_slowest():
    pts = sweep_points({"a": [1, 2], "b": "10:30:10"})
    assert pts == [{"a": 1, "b": 10.0}, {"a": 1, "b": 20.0}, {"a": 1, "b": 30.0},
                   {"a": 2, "b": 10.0}, {"a": 2, "b": 20.0}, {"a": 2, "b": 30.0}]


def test_set_dotted_creates_optional_sections_and_indexes_lists():
    data = {"load": {"flexible": None, "workloads": [{"share": 1.0}]}, "grid": {"firm_import_mw": 200}}
    set_dotted(data, "load.flexible.max_fraction", 0.1)
    set_dotted(data, "load.workloads[0].share", 0.5)
    assert data["load"]["flexible"] == {"max_fraction": 0.1}
    assert data["load"]["workloads"][0]["share"] == 0.5
    with pytest.raises(KeyError, match=r"has 1 entry, so \[3\] does not exist"):
        set_dotted(data, "load.workloads[3].share", 0.5)
    with pytest.raises(KeyError, match="is a value"):
        set_dotted(data, "grid.firm_import_mw.x", 1)


def test_units_come_from_the_spec_models():
    assert field_unit("grid.nonfirm_import_mw") == "MW"
    assert field_unit("grid.ramp_limit_mw_per_min") == "MW/min"
    assert field_unit("bess.energy_cost_usd_per_mwh") == "USD/MWh"
    assert field_unit("generation[0].unit_mw") == "MW"  # through the generator union
    assert field_unit("no.such.key") == ""
    assert format_value(50.0) == "50" and format_value(0.25) == "0.25"


# --------------------------------------------------------------------------- validation before anything runs


def _site_file(tmp_path: Path) -> Path:
    from bess_size.examples import path as example_path

    p = tmp_path / "site.yaml"
    p.write_text(Path(example_path("campus-300mw")).read_text())
    return p


def test_every_point_is_validated_and_all_problems_reported_at_once(tmp_path):
    """-100 and -50 are below grid.nonfirm_import_mw's lower bound 0 MW; 0..100 are fine."""
    with pytest.raises(SiteSpecError) as info:
        plan_sweep(_site_file(tmp_path), {"grid.nonfirm_import_mw": "-100:100:50"})
    (problem,) = info.value.problems
    assert problem.path == "grid.nonfirm_import_mw"
    assert problem.value == [-100, -50]
    assert ">= 0" in problem.expected and "MW" in problem.expected


def test_point_jobs_carry_the_values_and_distinct_folders(tmp_path):
    jobs, keys = plan_sweep(_site_file(tmp_path), {"grid.nonfirm_import_mw": "0:150:75", "scenarios.count": [2, 3]})
    assert keys == ["grid.nonfirm_import_mw", "scenarios.count"]
    assert len(jobs) == 6 and len({j.name for j in jobs}) == 6
    assert jobs[1].name == "nonfirm_import_mw=0-count=3"
    assert jobs[1].spec["scenarios"]["count"] == 3 and isinstance(jobs[1].spec["scenarios"]["count"], int)
    assert jobs[5].extra == {"grid.nonfirm_import_mw": 150.0, "scenarios.count": 3.0}
    assert len({j.spec_sha256 for j in jobs}) == 6


@pytest.mark.parametrize(
    "vary, needles",
    [
        (["grid.nonfirm_import=0:100:50"], ["grid.nonfirm_import", "did you mean 'nonfirm_import_mw'"]),
        (["grdi.nonfirm_import_mw=0:100:50"], ["grdi", "unknown key"]),
        (["grid.ramp_limit_mw_per_min=-10:10:10"], ["grid.ramp_limit_mw_per_min = [-10, 0]", "> 0", "MW/min"]),
        (["bess.soc_min_fraction=0.5:1:0.5"], ["bess.soc_min_fraction = 1", "< 1"]),
        (["generation[7].unit_mw=10:20:10"], ["generation[7].unit_mw", "does not exist"]),
        (["grid.nonfirm_import_mw=0:100:0"], ["--vary", "STEP must be a positive number"]),
        (["grid.nonfirm_import_mw"], ["--vary", "KEY=START:STOP:STEP"]),
    ],
)
def test_cli_bad_vary_is_a_clear_error_before_anything_runs(tmp_path, capsys, vary, needles):
    site = _site_file(tmp_path)
    out = tmp_path / "out"
    args = ["sweep", str(site), "-o", str(out)]
    for v in vary:
        args += ["--vary", v]
    code, text = invoke(args, capsys)
    assert code == 2, text
    for needle in needles:
        assert needle in text, text
    assert "Traceback" not in text
    assert not out.exists()  # nothing ran, no cluster, no folder


def test_cli_rejects_workers_with_scheduler(tmp_path, capsys):
    code, text = invoke(["sweep", str(_site_file(tmp_path)), "--vary", "grid.nonfirm_import_mw=0", "-o",
                         str(tmp_path / "o"), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], capsys)
    assert code == 2 and "exclude each other" in text


# --------------------------------------------------------------------------- a real sweep


@pytest.mark.slow  # a Dask cluster and two whole runs
def test_small_sweep_writes_its_table_and_figure(tmp_path):
    """Two points of non-firm import on a 20 MW-IT site, on the default local cluster (2 workers).

    Every point gets a row with its value; exactly one point is marked cost-optimal, and it is the
    cheapest of those that passed (or, when none passed, of those that ran); sweep.png is a PNG.
    """
    import matplotlib.image
    import pandas as pd
    import yaml

    from bess_size import sweep
    from bess_size.examples import path as example_path

    d = yaml.safe_load(Path(example_path("campus-300mw")).read_text())
    d["name"] = "tiny"
    d["load"].update(it_capacity_mw=20.0, min_load_mw=6.0)
    d["grid"].update(firm_import_mw=12.0, nonfirm_import_mw=10.0, ramp_limit_mw_per_min=2.3)
    d["scenarios"].update(count=2, held_out=4, trace_days=0.25, representative_days=2, transient_windows=4)
    d["reliability"]["target_success_rate"] = 0.5  # reachable with 4 held-out scenarios (Wilson bound 0.51)
    site = tmp_path / "tiny.yaml"
    site.write_text(yaml.safe_dump(d, sort_keys=False))

    out = tmp_path / "sweep"
    df = sweep(site, {"grid.nonfirm_import_mw": "2:10:8"}, out, workers=2, progress=False)
    assert list(df["grid.nonfirm_import_mw"]) == [2.0, 10.0]
    assert list(df["site"]) == ["nonfirm_import_mw=2", "nonfirm_import_mw=10"]
    assert df["status"].isin(["passed", "requirement_failed"]).all(), df[["site", "status", "error"]]
    assert (df["energy_mwh"] > 0).all() and (df["total_annualized_usd"] > 0).all()
    passed = df[df["status"] == "passed"]
    assert int(df["cost_optimal"].sum()) == (1 if len(passed) else 0)
    if len(passed):
        assert df.loc[df["cost_optimal"], "total_annualized_usd"].item() == passed["total_annualized_usd"].min()

    table = pd.read_csv(out / "sweep.csv")
    assert list(table["grid.nonfirm_import_mw"]) == [2.0, 10.0] and "cost_optimal" in table
    assert table["energy_mwh"].tolist() == pytest.approx(df["energy_mwh"].tolist())
    img = matplotlib.image.imread(out / "sweep.png")
    assert img.ndim == 3 and img.shape[0] > 500 and img.shape[1] > 500
    assert (out / "summary.parquet").is_file() and (out / "nonfirm_import_mw=10" / "design.json").is_file()


def test_cost_optimal_only_on_a_passing_point():
    """The cheapest point failed its checks: the cheapest passing point is marked; with none passing, none."""
    import pandas as pd

    from bess_size.sweep_grid import mark_cost_optimal

    df = pd.DataFrame({"status": ["requirement_failed", "passed", "passed", "error"],
                       "total_annualized_usd": [1.0, 3.0, 2.0, None]})
    assert mark_cost_optimal(df)["cost_optimal"].tolist() == [False, False, True, False]
    df["status"] = ["requirement_failed", "requirement_failed", "error", "error"]
    assert not mark_cost_optimal(df)["cost_optimal"].any()
