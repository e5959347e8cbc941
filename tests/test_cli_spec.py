"""The CLI shell and the spec commands, through the same error edge users hit (`bess_size.cli.main`).

`CliRunner.invoke` would call the click group in standalone mode and bypass ``run_cli``, where
errors become messages and exit codes; so these tests call ``main`` inside the runner's isolation
and catch the ``SystemExit`` it always raises. A few run a real subprocess.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bess_size import __version__
from bess_size.cli import COMMANDS, cli, main
from bess_size.examples import DEFAULT, names, text

EXAMPLES = Path(__file__).resolve().parents[1] / "bess_size" / "examples"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(*args: str) -> Result:
    """Run `bess-size ARGS` through ``main`` (the run_cli edge) with captured stdout and stderr."""
    runner = CliRunner()
    with runner.isolation(color=False) as (out, err, _):
        try:
            main(list(args))
            code = 0  # main always exits; reaching here would be a bug the assert below shows
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


def base_spec() -> dict:
    return yaml.safe_load(text(DEFAULT))


# --------------------------------------------------------------------------- help, version


def test_version():
    r = run("--version")
    assert r.code == 0
    assert __version__ in r.stdout


def test_group_help_lists_every_command():
    r = run("--help")
    assert r.code == 0
    for name in COMMANDS:
        assert name in r.stdout
    assert "Exit codes" in r.stdout


def _all_commands():
    """(path, command) for every registered command, descending into groups."""
    import click

    ctx = click.Context(cli)
    out = []

    def visit(prefix, group, gctx):
        for name in group.list_commands(gctx):
            cmd = group.get_command(gctx, name)
            out.append((f"{prefix} {name}".strip(), cmd))
            if isinstance(cmd, click.Group):
                visit(f"{prefix} {name}", cmd, click.Context(cmd, parent=gctx))

    visit("", cli, ctx)
    return out


def test_every_command_and_option_has_help_text():
    """Fails when someone registers a command (or an option) without help: `--help` must read well."""
    missing = []
    for path, cmd in _all_commands():
        if not (cmd.help or "").strip():
            missing.append(f"{path}: no docstring/help")
        if not (cmd.get_short_help_str() or "").strip():
            missing.append(f"{path}: no short help")
        for p in cmd.params:
            if p.param_type_name == "option" and not (getattr(p, "help", None) or "").strip() and p.name != "help":
                missing.append(f"{path} {p.opts[0]}: no help")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_help_runs(name):
    r = run(name, "--help")
    assert r.code == 0, r.output
    assert "Usage: bess-size" in r.stdout


def test_unknown_command_exits_2():
    r = run("chekc", "x.yaml")
    assert r.code == 2
    assert "No such command" in r.output


# --------------------------------------------------------------------------- example, schema


def test_example_default_is_verbatim_with_header():
    r = run("example")
    assert r.code == 0
    assert r.stdout == (EXAMPLES / f"{DEFAULT}.yaml").read_text()
    assert r.stdout.startswith("# ")


@pytest.mark.parametrize("name", names())
def test_example_by_name(name):
    r = run("example", name)
    assert r.code == 0
    assert r.stdout == (EXAMPLES / f"{name}.yaml").read_text()


def test_example_list():
    r = run("example", "--list")
    assert r.code == 0
    listed = [line.split()[0] for line in r.stdout.splitlines()]
    assert listed == names()
    assert len(listed) >= 3
    assert "(default)" in r.stdout.splitlines()[0]


def test_example_unknown_name_lists_names():
    r = run("example", "campus-9gw")
    assert r.code == 2
    assert "campus-9gw" in r.stderr
    for name in names():
        assert name in r.stderr
    assert "Traceback" not in r.output


def test_schema_is_json_schema_with_units():
    r = run("schema")
    assert r.code == 0
    doc = json.loads(r.stdout)
    assert doc["$schema"].startswith("https://json-schema.org/")
    grid = doc["$defs"]["Grid"]["properties"]
    assert grid["firm_import_mw"]["unit"] == "MW"
    assert grid["firm_import_mw"]["minimum"] == 0
    assert doc["additionalProperties"] is False


# --------------------------------------------------------------------------- check: success


@pytest.mark.parametrize("name", names())
def test_check_passes_on_every_example(name):
    r = run("check", str(EXAMPLES / f"{name}.yaml"))
    assert r.code == 0, r.output
    assert "valid" in r.stderr
    assert r.stdout == ""  # human output goes to stderr only


def test_check_json_summary_on_stdout():
    """campus-300mw by hand: peak = 300 x 1.15 = 345 MW; firm headroom 200 - 345 = -145 MW;
    firm + non-firm 350 - 345 = +5 MW; ride-through 345 MW x 30 s / 3600 = 2.875 MWh delivered,
    / 0.94 = 3.0585 MWh from the cells; curtailment exposure 150 MW x 2 h x 25 = 7500 MWh/yr;
    islanding bridge 345 MW x (300 s + 18/0.3/2 s) / 3600 = 31.625 MWh; engines 24 x 18 = 432 MW."""
    r = run("check", "--json", str(EXAMPLES / "campus-300mw.yaml"))
    assert r.code == 0, r.output
    f = json.loads(r.stdout)
    assert f["ok"] is True
    assert f["peak_site_load_mw"] == pytest.approx(345.0)
    assert f["firm_headroom_mw"] == pytest.approx(-145.0)
    assert f["total_import_headroom_mw"] == pytest.approx(5.0)
    assert f["ride_through"]["power_mw"] == pytest.approx(345.0)
    assert f["ride_through"]["delivered_energy_mwh"] == pytest.approx(2.875)
    assert f["ride_through"]["stored_energy_mwh"] == pytest.approx(2.875 / 0.94)
    assert f["curtailment"]["exposure_mwh_per_year"] == pytest.approx(7500.0)
    assert f["curtailment"]["depth_at_peak_mw"] == pytest.approx(145.0)
    assert f["islanding_bridge"]["delivered_energy_mwh"] == pytest.approx(31.625)
    assert f["generation"]["thermal_max_mw"] == pytest.approx(432.0)
    # the human summary shows the same figures
    assert "345.0 MW" in r.stderr and "7,500 MWh/yr" in r.stderr


# --------------------------------------------------------------------------- check: bad input


def _spec(**sections) -> str:
    """The default example with some sections replaced/merged, as YAML text."""
    spec = base_spec()
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return yaml.safe_dump(spec, sort_keys=False)


def _workloads(*ws) -> dict:
    return {"workloads": list(ws)}


TRAINING = {"kind": "training", "share": 0.85}
INFERENCE = {"kind": "inference", "share": 0.15}

# (id, files {name: text} with the spec in "site.yaml" unless another name is checked, checked file,
#  the field path that must appear, texts (expected range, unit) that must appear)
BAD = [
    ("negative-capacity", {"site.yaml": _spec(load={"it_capacity_mw": -5})}, "site.yaml",
     "load.it_capacity_mw", ["> 0 and <= 20000 [MW]", "-5"]),
    ("pue-text", {"site.yaml": _spec(load={"pue": "high"})}, "site.yaml",
     "load.pue", [">= 1 and <= 3 [ratio]", "valid number"]),
    ("pue-bool", {"site.yaml": "load:\n  pue: yes\n"}, "site.yaml",
     "load.pue", [">= 1 and <= 3 [ratio]", "true"]),
    ("quoted-number", {"site.yaml": "grid:\n  firm_import_mw: \"200\"\n"}, "site.yaml",
     "grid.firm_import_mw", [">= 0 [MW]", "valid number"]),
    ("infinite", {"site.yaml": "load:\n  it_capacity_mw: .inf\n"}, "site.yaml",
     "load.it_capacity_mw", ["finite number", "[MW]"]),
    ("share-above-1", {"site.yaml": _spec(load=_workloads({**TRAINING, "share": 2}, INFERENCE))}, "site.yaml",
     "load.workloads[0].share", [">= 0 and <= 1 [fraction]"]),
    ("negative-firm", {"site.yaml": _spec(grid={"firm_import_mw": -1})}, "site.yaml",
     "grid.firm_import_mw", [">= 0 [MW]"]),
    ("fractional-count", {"site.yaml": _spec(scenarios={"count": 8.5})}, "site.yaml",
     "scenarios.count", ["whole number >= 1 and <= 10000 [count]"]),
    ("typo-did-you-mean", {"site.yaml": _spec(grid={"firm_imprt_mw": 200})}, "site.yaml",
     "grid.firm_imprt_mw", ["did you mean 'firm_import_mw'", "allowed here"]),
    ("key-in-wrong-section", {"site.yaml": _spec(load={"firm_import_mw": 200})}, "site.yaml",
     "load.firm_import_mw", ["belongs under grid.firm_import_mw"]),
    ("top-level-typo", {"site.yaml": "scenaros:\n  count: 3\n"}, "site.yaml",
     "scenaros", ["did you mean 'scenarios'"]),
    ("range-reversed", {"site.yaml": _spec(load=_workloads({**TRAINING, "swing_period_s": [10, 1]}, INFERENCE))}, "site.yaml",
     "load.workloads[0].swing_period_s", ["within [0.05, 600] [s]", "low end 10 is above the high end 1"]),
    ("range-outside", {"site.yaml": _spec(grid={"curtailment": {"duration_h": [1, 30]}})}, "site.yaml",
     "grid.curtailment.duration_h", ["within [0, 24] [h]"]),
    ("range-three-items", {"site.yaml": _spec(grid={"loss_of_grid": {"duration_s": [1, 2, 3]}})}, "site.yaml",
     "grid.loss_of_grid.duration_s", ["two-element list [low, high]", "within [0, 86400] [s]"]),
    ("range-text", {"site.yaml": _spec(grid={"voltage_sags": {"dip_duration_s": ["short", 1]}})}, "site.yaml",
     "grid.voltage_sags.dip_duration_s", ["within [0.01, 10] [s]"]),
    ("unknown-workload-kind", {"site.yaml": _spec(load=_workloads({**TRAINING, "kind": "traning"}, INFERENCE))}, "site.yaml",
     "load.workloads[0].kind", ["'training', 'inference'", "unknown kind"]),
    ("missing-workload-kind", {"site.yaml": _spec(load=_workloads({"share": 1.0}))}, "site.yaml",
     "load.workloads[0].kind", ["'training', 'inference'"]),
    ("unknown-generation-kind", {"site.yaml": _spec(generation=[{"kind": "nuclear", "unit_mw": 300}])}, "site.yaml",
     "generation[0].kind", ["'gas_engine'", "'pv'"]),
    ("generator-zero-size", {"site.yaml": _spec(generation=[{"kind": "gas_engine", "unit_mw": 0}])}, "site.yaml",
     "generation[0].unit_mw", ["> 0 and <= 1000 [MW]"]),
    ("shares-not-1", {"site.yaml": _spec(load=_workloads({**TRAINING, "share": 0.7}, {**INFERENCE, "share": 0.4}))}, "site.yaml",
     "load.workloads[*].share", ["sum to 1 [fraction]", "0.7 + 0.4 = 1.1"]),
    ("soc-window", {"site.yaml": _spec(bess={"soc_min_fraction": 0.9, "soc_max_fraction": 0.5})}, "site.yaml",
     "bess.soc_min_fraction", ["below bess.soc_max_fraction = 0.5 [fraction]"]),
    ("min-load-above-peak", {"site.yaml": _spec(load={"min_load_mw": 500})}, "site.yaml",
     "load.min_load_mw", ["345 [MW]"]),
    ("resolution-not-dividing-60", {"site.yaml": _spec(scenarios={"transient_resolution_s": 7})}, "site.yaml",
     "scenarios.transient_resolution_s", ["divide 60 s", "[s]"]),
    ("trace-bad-columns", {"site.yaml": _spec(load={"trace": "trace.csv"}), "trace.csv": "t,mw\n0,1\n"}, "site.yaml",
     "load.trace", ["time_s,load_mw", "the columns are t, mw", "load_mw in MW"]),
    ("trace-non-numeric", {"site.yaml": _spec(load={"trace": "trace.csv"}), "trace.csv": "time_s,load_mw\n0,100\n1,lots\n"},
     "site.yaml", "load.trace", ["line 3", "'lots'", "not a finite number", "load_mw in MW, >= 0"]),
    ("trace-time-not-increasing", {"site.yaml": _spec(load={"trace": "trace.csv"}),
                                   "trace.csv": "time_s,load_mw\n0,100\n10,101\n5,102\n"}, "site.yaml",
     "load.trace", ["line 4", "does not increase", "strictly increasing"]),
    ("trace-missing-file", {"site.yaml": _spec(load={"trace": "nowhere.csv"})}, "site.yaml",
     "load.trace", ["file not found", "time_s,load_mw"]),
    ("trace-negative-load", {"site.yaml": _spec(load={"trace": "trace.csv"}), "trace.csv": "time_s,load_mw\n0,100\n1,-3\n"},
     "site.yaml", "load.trace", ["line 3", "below 0", "load_mw in MW, >= 0"]),
    ("price-csv-bad", {"site.yaml": _spec(grid={"energy_price_usd_per_mwh": "price.csv"}),
                       "price.csv": "time_s,price\n0,50\n"}, "site.yaml",
     "grid.energy_price_usd_per_mwh", ["time_s,usd_per_mwh", "USD/MWh"]),
    ("price-wrong-type", {"site.yaml": _spec(grid={"energy_price_usd_per_mwh": [50, 60]})}, "site.yaml",
     "grid.energy_price_usd_per_mwh", ["a number or the path of a CSV file [USD/MWh]"]),
    ("pv-profile-missing", {"site.yaml": _spec(generation=[{"kind": "pv", "capacity_mw": 40, "profile": "pv.csv"}],
                                               reliability={"islanding": {"required": False}})}, "site.yaml",
     "generation[0].profile", ["file not found", "pv_mw in MW"]),
    ("event-outside-trace", {"site.yaml": _spec(grid={"events": [{"kind": "curtailment", "start_s": 90000, "duration_s": 3600}]})},
     "site.yaml", "grid.events[0].start_s", ["86400 [s]", "93600"]),
    ("event-missing-start", {"site.yaml": _spec(grid={"events": [{"kind": "loss_of_grid", "duration_s": 10}]})}, "site.yaml",
     "grid.events[0].start_s", ["required", ">= 0 [s]"]),
    ("islanding-without-generation", {"site.yaml": _spec(generation=[])}, "site.yaml",
     "reliability.islanding.required", ["onsite generation", "required: false"]),
    ("islanding-too-little-generation", {"site.yaml": _spec(generation=[{"kind": "gas_engine", "unit_mw": 18, "max_new_units": 5}])},
     "site.yaml", "reliability.islanding.required", ["at least the peak site load + 1 x the largest unit", "= 363 MW", "90 MW"]),
    ("bool-as-number-export", {"site.yaml": _spec(grid={"export_allowed": 3})}, "site.yaml",
     "grid.export_allowed", ["true or false"]),
    ("section-not-mapping", {"site.yaml": "load: 5\n"}, "site.yaml",
     "load", ["section of keys", "it_capacity_mw"]),
    ("yaml-syntax", {"site.yaml": "load:\n  it_capacity_mw: 300\n   pue: 1.2\n"}, "site.yaml",
     "<line 3, column 7>", ["YAML syntax error", "pue: 1.2"]),
    ("yaml-unclosed-flow", {"site.yaml": "load: {it_capacity_mw: 300\n"}, "site.yaml",
     "<line 2, column 1>", ["YAML syntax error"]),
    ("yaml-duplicate-key", {"site.yaml": "grid:\n  firm_import_mw: 200\n  firm_import_mw: 300\n"}, "site.yaml",
     "<line 3, column 3>", ["appears twice", "first on line 2"]),
    ("yaml-bool-key", {"site.yaml": "grid:\n  on: 3\n"}, "site.yaml",
     "<line 2, column 3>", ["not a name"]),
    ("json-syntax", {"site.json": '{"load": {"it_capacity_mw": 300,}}'}, "site.json",
     "<line 1, column 33>", ["JSON syntax error"]),
    ("json-bad-value", {"site.json": json.dumps({"load": {"it_capacity_mw": 300, "pue": 0.5}})}, "site.json",
     "load.pue", [">= 1 and <= 3 [ratio]"]),
    ("missing-file", {}, "nothere.yaml", "<file>", ["file not found", "YAML or JSON"]),
    ("directory", {"sub/x.yaml": "name: x\n"}, "sub", "<file>", ["is a directory"]),
    ("empty-file", {"site.yaml": ""}, "site.yaml", "<file>", ["empty"]),
    ("only-comments", {"site.yaml": "# nothing here\n"}, "site.yaml", "<file>", ["only comments"]),
    ("top-level-list", {"site.yaml": "- load\n- grid\n"}, "site.yaml", "<document>", ["a list", "mapping of sections"]),
    ("top-level-scalar", {"site.yaml": "campus\n"}, "site.yaml", "<document>", ["mapping of sections"]),
]


def _write(tmp_path: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body)


@pytest.mark.parametrize("case_id, files, checked, path, texts", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_with_path_and_expectation(tmp_path, case_id, files, checked, path, texts):
    _write(tmp_path, files)
    r = run("check", str(tmp_path / checked))
    assert r.code == 2, r.output
    assert "Traceback" not in r.output
    assert r.stdout == ""
    assert r.stderr.startswith("error: ")
    assert f"  {path} = " in r.stderr, r.stderr
    for t in texts:
        assert t in r.stderr, f"{t!r} missing from:\n{r.stderr}"


def test_bad_input_cases_are_many_and_distinct():
    assert len(BAD) >= 25
    assert len({b[0] for b in BAD}) == len(BAD)


def test_binary_file(tmp_path):
    (tmp_path / "site.yaml").write_bytes(b"\xff\xfe\x00\x01 load")
    r = run("check", str(tmp_path / "site.yaml"))
    assert r.code == 2
    assert "UTF-8" in r.stderr and "Traceback" not in r.output


def test_every_problem_reported_at_once_with_lines(tmp_path):
    """Type errors in some sections must not hide cross-field errors in the others."""
    body = (
        "name: x\n"                         # 1
        "load:\n"                           # 2
        "  pue: 9\n"                        # 3  out of range
        "grid:\n"                           # 4
        "  firm_imprt_mw: 10\n"             # 5  typo
        "bess:\n"                           # 6
        "  soc_min_fraction: 0.9\n"         # 7  cross-field with the next
        "  soc_max_fraction: 0.5\n"         # 8
        "scenarios:\n"                      # 9
        "  count: 0\n"                      # 10 out of range
    )
    (tmp_path / "site.yaml").write_text(body)
    r = run("check", str(tmp_path / "site.yaml"))
    assert r.code == 2
    assert "4 problems" in r.stderr
    for path, line in [("load.pue", 3), ("grid.firm_imprt_mw", 5), ("bess.soc_min_fraction", 7), ("scenarios.count", 10)]:
        assert f"  {path} = " in r.stderr
        assert any(path in ln and f"(line {line})" in ln for ln in r.stderr.splitlines()), (path, r.stderr)


def test_check_json_lists_problems_for_machines(tmp_path):
    (tmp_path / "site.yaml").write_text("load:\n  it_capacity_mw: 100\ngrid:\n  firm_import_mw: -1\n")
    r = run("check", "--json", str(tmp_path / "site.yaml"))
    assert r.code == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False
    assert doc["problems"][0]["path"] == "grid.firm_import_mw"
    assert doc["problems"][0]["value"] == -1 and doc["problems"][0]["line"] == 4 and doc["problems"][0]["default"] is False
    assert ">= 0 [MW]" in doc["problems"][0]["expected"]
    assert "grid.firm_import_mw" in r.stderr  # the human message is still there
    (tmp_path / "odd.yaml").write_text("name: 2024-01-01\nload:\n  pue: .nan\ngrid: {}\n")
    r = run("check", "--json", str(tmp_path / "odd.yaml"))
    assert r.code == 2
    assert [p["value"] for p in json.loads(r.stdout)["problems"]] == ["2024-01-01", "nan"]


def test_usage_errors_exit_2():
    r = run("check")
    assert r.code == 2
    assert "Missing argument" in r.output
    r = run("check", "--bogus", "x.yaml")
    assert r.code == 2


# --------------------------------------------------------------------------- subprocess: the real entry point


def test_subprocess_bad_input_has_no_traceback(tmp_path):
    (tmp_path / "site.yaml").write_text("grid:\n  firm_import_mw: -1\n")
    p = subprocess.run([sys.executable, "-m", "bess_size", "check", str(tmp_path / "site.yaml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "grid.firm_import_mw" in p.stderr and ">= 0 [MW]" in p.stderr
    assert "Traceback" not in p.stderr + p.stdout


def test_subprocess_example_into_closed_pipe_is_quiet():
    """`bess-size example | head -1`: the reader leaves early; no BrokenPipeError noise, exit 0."""
    p = subprocess.run(f"'{sys.executable}' -m bess_size example | head -1", shell=True, capture_output=True,
                       text=True, timeout=60, executable="/bin/bash")
    assert p.returncode == 0
    assert p.stdout.startswith("# ")
    assert "Error" not in p.stderr and "Traceback" not in p.stderr


# --------------------------------------------------------------------------- random mutations


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)


def _paths(node, prefix=()):
    """Every (container, key) location in a parsed spec."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated_specs(draw):
    spec = copy.deepcopy(base_spec())
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(spec))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _get(spec, path[:-1])
        key = path[-1]
        action = draw(st.sampled_from(["drop", "replace", "number", "add", "range"]))
        if action == "drop":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(VALUES)
        elif action == "number":
            parent[key] = draw(st.one_of(st.integers(-1000, 10**5), st.floats(-1e4, 1e6, allow_nan=False)))
        elif action == "range":
            parent[key] = draw(st.lists(st.floats(-100, 1e5, allow_nan=False), min_size=0, max_size=3))
        else:
            target = parent[key] if isinstance(parent[key], dict) else parent if isinstance(parent, dict) else None
            if target is not None:
                target[draw(st.text(min_size=1, max_size=20))] = draw(VALUES)
    return spec


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=mutated_specs(), as_json=st.booleans())
def test_random_mutations_are_accepted_or_explained(spec, as_json):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "site.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
        r = run("check", *(["--json"] if as_json else []), str(path))
    assert r.code in (0, 2), r.output
    assert "Traceback" not in r.output
    if r.code == 2:
        assert "problem" in r.stderr.splitlines()[0]
        assert r.stderr.count("\n  ") >= 1  # at least one problem block
    else:
        assert "valid" in r.stderr
    if as_json:
        assert json.loads(r.stdout)["ok"] is (r.code == 0)


# --------------------------------------------------------------------------- the error edge itself


def _edge(exc: BaseException) -> Result:
    """Run a one-command group that raises ``exc`` through run_cli."""
    import click

    from bess_size.cli.common import run_cli

    @click.command()
    def boom():
        """Raise."""
        raise exc

    runner = CliRunner()
    with runner.isolation(color=False) as (out, err, _):
        try:
            run_cli(boom, [])
            code = 0
        except SystemExit as e:
            code = e.code
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


def test_edge_maps_errors_to_exit_codes():
    from bess_size.site_spec import Problem, SiteSpecError
    from bess_size.solvers.errors import InfeasibleError

    r = _edge(SiteSpecError("s.yaml", [Problem("bess.max_power_mw", 10, "expected a number >= 0 [MW]")]))
    assert (r.code, r.stderr.startswith("error: s.yaml: 1 problem")) == (2, True)
    r = _edge(InfeasibleError("ride-through needs 345 MW of PCS but bess.max_power_mw is 300"))
    assert r.code == 3 and "bess.max_power_mw is 300" in r.stderr
    assert _edge(BrokenPipeError()).code == 0  # `bess-size ... | head`: quiet success
    assert _edge(KeyboardInterrupt()).code == 130


def test_edge_lets_bugs_through():
    """A programming error is not bad input: it must not be disguised as exit code 2."""
    with pytest.raises(ZeroDivisionError):
        _edge(ZeroDivisionError("bug"))


def test_readme_example_list_matches_what_the_tool_prints():
    """The README's `bess-size example --list` block lists every bundled site, as the tool prints it."""
    readme = (EXAMPLES.parents[1] / "README.md").read_text()
    shown = readme.split("$ bess-size example --list\n", 1)[1].split("\n$ ", 1)[0]
    r = run("example", "--list")
    assert r.code == 0
    printed = (r.stdout or r.stderr).rstrip("\n")
    assert printed == shown, "README's `bess-size example --list` block is stale: paste what the tool prints now"


def test_readme_worked_example_matches_what_check_prints(tmp_path, monkeypatch):
    """The README shows `bess-size check site.yaml` on the default site; it must stay true."""
    readme = (EXAMPLES.parents[1] / "README.md").read_text()
    shown = readme.split("$ bess-size check site.yaml\n", 1)[1].split("```", 1)[0].rstrip("\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "site.yaml").write_text(text(DEFAULT))
    r = run("check", "site.yaml")
    assert r.code == 0
    assert r.stderr.rstrip("\n") == shown, (
        "README's `bess-size check site.yaml` block is stale: paste what check prints now (a new spec key "
        "with a default shows up in its defaults list unless examples/campus-300mw.yaml sets it)")


def test_readme_typo_example_matches_what_check_prints(tmp_path, monkeypatch):
    """The README's `typo.yaml` (shown in full) gives the four problems it shows, exit 2, line for line
    (the one line the README shortens with "..." compared up to it)."""
    readme = (EXAMPLES.parents[1] / "README.md").read_text()
    spec = readme.split("`typo.yaml`:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    shown = readme.split("$ bess-size check typo.yaml\n", 1)[1].split("```", 1)[0].rstrip("\n").splitlines()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "typo.yaml").write_text(spec)
    r = run("check", "typo.yaml")
    assert r.code == 2
    printed = r.stderr.rstrip("\n").splitlines()
    assert len(printed) == len(shown), "README's typo.yaml block is stale: paste what check prints now"
    for got, want in zip(printed, shown):
        assert got.startswith(want[:-3]) if want.endswith("...") else got == want, (got, want)


@pytest.mark.parametrize("days, text", [(1.0, "100 scenarios of 1 day;"), (0.25, "100 scenarios of 0.25 days;")])
def test_the_held_out_header_says_day_or_days(days, text, capsys):
    from types import SimpleNamespace

    from bess_size.cli.run import _print_checks

    v = SimpleNamespace(held_out_scenarios=100, trace_days=days, target_success_rate=0.95, checks=[],
                        not_applicable={}, not_exercised=[], notes=[])
    _print_checks(v)
    assert text in capsys.readouterr().err
