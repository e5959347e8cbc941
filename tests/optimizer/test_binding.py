"""What sized what: the binding requirement of each quantity on the bundled sites, derived by hand.

The bundled sites run with few scenarios here (the binding requirements of E, P, the inverters and
the engines do not depend on how many scenarios the optimizer sees: they come from the peak load,
the ride-through rule, the C-rate, the power factors and the islanding rule).
"""

from __future__ import annotations

import math
from importlib.resources import files

import pytest
import yaml
from bess_size.optimizer import optimize
from bess_size.scenarios import generate_scenarios
from bess_size.site_spec import validate_site
from bess_size.site_spec.design import Design

CRF_8PCT_20Y = 0.08 / (1 - 1.08 ** -20)  # the default sites' capital recovery factor
# the inverter polygon's facet nearest the 0.95 power-factor angle (18.19 deg) is at 7 pi / 64 = 19.69 deg
FACET = math.cos(math.pi / 64) / math.cos(7 * math.pi / 64 - math.acos(0.95))


def _bundled(name: str, **scenarios):
    spec = yaml.safe_load(files("bess_size.examples").joinpath(f"{name}.yaml").read_text())
    spec["scenarios"].update({"count": 2, "representative_days": 2, "transient_windows": 4, **scenarios})
    return validate_site(spec, name)


def _by_quantity(design: Design) -> dict:
    return {e.quantity: e for e in design.binding}


@pytest.fixture(scope="module")
def campus_300mw():
    site = _bundled("campus-300mw")
    return optimize(site, generate_scenarios(site)).design


def test_campus_300mw_what_sized_what(campus_300mw):
    """campus-300mw, by hand: peak = 300 MW IT x PUE 1.15 = 345 MW; ride-through carries 100 % of it
    for 30 s, so P >= 345 MW, and nothing else asks as much (the transient residuals are ~150 MW).
    E >= P / max_c_rate = 345 / 1.0 = 345 MWh = 69 containers of 5 MWh (the bands, ~35 MWh, fit the
    end-of-life usable 0.8 x 0.9 x 345 = 248 MWh). One more MW of ride-through buys 1 MW of PCS,
    1 MWh of energy and 1/0.95 MVA of inverters: CRF x (200,000 + 190,000 + 50,000 / (0.95 x 4 x
    FACET)) = 41,064 USD/year. Inverters: 345 MW at power factor 0.95 = 363.2 MVA; on the polygon's
    facet 345 / 0.95 / (4 FACET) = 90.87 -> 91 (the grid and island points ask the same: the load's
    power factor equals the POI minimum). Engines: the island carries the whole 345 MW (the spec does
    not shed the flexible share in an island) with one engine out (N+1): (345 + 18) / 18 = 20.17
    units of 18 MW -> 21; each costs more than it saves (capex 18 x 1.2 M x CRF = 2.2 M USD/year against at most 18 MW x 6 USD/MWh x 8760 h = 0.95 M
    of cheaper fuel)."""
    b = _by_quantity(campus_300mw)
    p = b["pcs_power_mw"]
    assert p.value == pytest.approx(345.0)
    assert p.binding.requirement == "contingency" and p.binding.field == "reliability.ride_through"
    assert "ride-through of 100% of the 345 MW peak for 30 s" in p.binding.text
    per_mw = CRF_8PCT_20Y * (200_000 + 190_000 + 50_000 / (0.95 * 4 * FACET))
    assert p.binding.marginal_usd_per_year == pytest.approx(per_mw, rel=0.01)
    assert p.runner_up is not None and p.runner_up.needs < 0.6 * 345
    e = b["energy_mwh"]
    assert e.value == pytest.approx(345.0) and e.binding.requirement == "c_rate"
    assert e.binding.needs == pytest.approx(345.0)
    assert e.binding.marginal_usd_per_year == pytest.approx(CRF_8PCT_20Y * 190_000, rel=1e-3)
    assert b["containers"].value == 69 and b["containers"].binding.needs == pytest.approx(69.0)
    inv = b["inverters"]
    assert inv.value == 91 and inv.binding.requirement in ("inverters_grid", "inverters_island")
    assert inv.binding.needs == pytest.approx(345 / 0.95 / (4 * FACET), rel=1e-3)
    units = b["generation[0].units"]
    assert units.value == 21 and units.binding.requirement == "islanding"
    assert units.binding.needs == pytest.approx((345 + 18) / 18, rel=1e-6)
    assert units.binding.marginal_usd_per_year > 0  # held by the rule, not by economics
    assert units.runner_up.requirement == "economics"


def test_inference_100mw_pv_what_sized_what():
    """inference-100mw-pv, by hand: peak = 100 x 1.2 = 120 MW, ride-through 100 % for 10 s -> P =
    120 MW; E >= P / max_c_rate = 120 / 2 = 60 MWh = 12 containers; inverters 120 / 0.95 / (4 FACET)
    = 31.61 -> 32. No generation, no islanding."""
    site = _bundled("inference-100mw-pv")
    b = _by_quantity(optimize(site, generate_scenarios(site)).design)
    assert b["pcs_power_mw"].value == pytest.approx(120.0)
    assert b["pcs_power_mw"].binding.requirement == "contingency"
    assert "ride-through of 100% of the 120 MW peak for 10 s" in b["pcs_power_mw"].binding.text
    assert b["energy_mwh"].binding.requirement == "c_rate" and b["energy_mwh"].value == pytest.approx(60.0)
    assert b["inverters"].value == 32
    assert b["inverters"].binding.needs == pytest.approx(120 / 0.95 / (4 * FACET), rel=1e-3)
    assert not any(k.startswith("generation[") for k in b)


def test_campus_1gw_what_sized_what():
    """campus-1gw, by hand: peak = 850 x 1.15 = 977.5 MW -> P = 977.5 MW (ride-through, 100 % for
    30 s); E >= 977.5 / 1.0 -> 196 containers of 5 MWh (980 MWh). Islanding: 977.5 x (1 - 0.1) =
    879.75 MW, plus one turbine out (N+1): (879.75 + 36) / 36 = 25.44 turbines -> 26 (10 existing +
    16 new, all the spec allows)."""
    site = _bundled("campus-1gw")
    b = _by_quantity(optimize(site, generate_scenarios(site)).design)
    assert b["pcs_power_mw"].value == pytest.approx(977.5)
    assert b["pcs_power_mw"].binding.field == "reliability.ride_through"
    assert b["energy_mwh"].binding.requirement == "c_rate"
    assert b["containers"].value == 196
    units = b["generation[0].units"]
    assert units.value == 26 and units.binding.requirement == "islanding"
    assert units.binding.needs == pytest.approx((879.75 + 36) / 36, rel=1e-6)


def test_binding_follows_the_requirement_that_is_raised(make_trace_site):
    """No ride-through, and a 0 -> 150 MW step under a 0.5 MW/s POI limit (U1 of the data sheet): in
    the step's first second the POI follows 0.5 MW, so the battery carries 149.5 MW: P = 149.5 MW set
    by the POI ramp (the transient headroom), nothing else asks for PCS. The battery's share of the
    ramp is sum_k (150 - 0.5 k) over 300 s = 22,425 MW s = 6.23 MWh delivered = 6.63 MWh stored at
    eta_dis 0.94: the up-ramp buffer. E: the C-rate asks for 149.5 / 20 = 7.5 MWh, the band stack for
    6.63 / (0.8 x 0.9) = 9.2 MWh, so the bands set E."""
    site = make_trace_site([(0, 0), (3600, 150), (86399, 150)],
                           {"grid": {"ramp_limit_mw_per_s": 0.5, "ramp_limit_mw_per_min": 30}})
    from bess_size.scenarios import generate_scenarios as gen

    b = _by_quantity(optimize(site, gen(site)).design)
    p = b["pcs_power_mw"]
    assert p.binding.requirement == "poi_ramp"
    assert p.value == pytest.approx(149.5, rel=0.02)
    e = b["energy_mwh"]
    assert e.binding.requirement == "band_stack" and e.value == pytest.approx(6.627 / 0.72, rel=0.01)
    up = b["bands_mwh.up_ramp_buffer"]
    assert up.binding.requirement == "poi_ramp" and up.value == pytest.approx(22425 / 3600 / 0.94, rel=0.01)
    assert b["bands_mwh.ride_through_reserve"].binding is None  # no contingency asks for it


def test_design_figures_are_printed_as_a_reader_wants_them():
    """The CLI and the report round the design's figure to 2 decimals (3 significant below 1), no trailing zeros."""
    from bess_size.site_spec.design import BindingRequirement

    def text(value, unit="MWh"):
        return BindingRequirement(quantity="q", label="q", value=value, unit=unit).value_text()

    assert text(33.5674) == "33.57 MWh"
    assert text(345.0, "MW") == "345 MW"
    assert text(142.547, "MW") == "142.55 MW"
    assert text(12345.0) == "12,345 MWh"
    assert text(0.268889) == "0.269 MWh"
    assert text(0.0) == "0 MWh"
    assert text(91, "inverters") == "91 inverters"
    e = BindingRequirement(quantity="q", label="ride-through reserve", value=33.5674, unit="MWh")
    assert e.sentences()[0] == "ride-through reserve 33.57 MWh: no requirement asks for it"


def test_a_site_that_need_not_island_says_so_where_the_n_plus_1_margin_would_be():
    from bess_size.site_spec.design import island_margin_text

    site = _bundled("inference-100mw-pv")
    assert not site.reliability.islanding.required
    d = Design.model_validate({"site": site.name, "bess": {"energy_mwh": 60, "pcs_power_mw": 120, "inverters": 32}})
    assert island_margin_text(d, site).startswith("Island: not required (reliability.islanding.required: false)")
    must = _bundled("campus-300mw")
    assert island_margin_text(d.model_copy(update={"site": must.name}), must) == ""  # no promises: nothing to say
