"""The Design: what the optimizer decides and the simulator replays (design.json, DESIGN section 9).

It lives with the site spec because it is input too: ``bess-size simulate DESIGN SITE`` validates a
design.json from any source with the same error machinery. Stages after the optimizer read it;
they never import the optimizer.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import Problem, SiteSpecError


class _Part(BaseModel):
    # a design.json written by a newer version may carry keys we do not know: keep reading
    model_config = ConfigDict(extra="ignore")


class Headroom(_Part):
    up: float = Field(..., ge=0, description="PCS power kept free for upward transients [MW]")
    down: float = Field(..., ge=0, description="PCS power kept free for downward transients [MW]")


class Bands(_Part):
    """SoC bands stacked from the floor soc_min x E: ride-through, up-ramp, curtailment, operating, down-ramp."""

    ride_through_reserve: float = Field(..., ge=0)
    up_ramp_buffer: float = Field(..., ge=0)
    curtailment_reserve: float = Field(..., ge=0)
    down_ramp_headroom: float = Field(..., ge=0)
    operating: tuple[float, float] = Field(..., description="[low, high] of the operating band")


class BessDesign(_Part):
    energy_mwh: float = Field(..., ge=0, description="Nameplate stored energy E [MWh]")
    containers: int | None = Field(None, ge=0)
    pcs_power_mw: float = Field(..., ge=0, description="PCS real-power rating P [MW]")
    inverters: int = Field(..., ge=0)
    # a minimal design (a vendor's proposal) may leave these out: `bess-size simulate` takes the rating
    # from the site and derives bands and headroom with the optimizer, the sizes fixed
    inverter_rating_mva: float | None = Field(None, gt=0, description="default: the site's bess.inverter_rating_mva")
    headroom_mw: Headroom | None = None
    bands_mwh: Bands | None = Field(None, description="Band sizes [MWh]; operating = [low, high] stored energy [MWh]")
    bands_fraction: Bands | None = Field(None, description="The same as fractions of nameplate E")


class GenerationDesign(_Part):
    kind: str
    existing_units: int = Field(0, ge=0)
    new_units: int = Field(0, ge=0)
    unit_mw: float | None = Field(None, gt=0, description="default: the site's unit_mw of this generation entry")

    @property
    def units(self) -> int:
        return self.existing_units + self.new_units


class SolverInfo(_Part):
    name: str
    status: str
    mip_gap: float | None = None
    build_s: float | None = None
    solve_s: float | None = None
    requested_mip_gap: float | None = None
    time_limit_s: float | None = None
    # set when the design is not proven within the requested gap (a time limit stopped the solver)
    warning: str | None = None


class Cost(_Part):
    annualized_capex_usd: float
    expected_annual_opex_usd: float
    grid_only_bill_usd: float
    total_annualized_usd: float
    breakdown: dict[str, float] = Field(default_factory=dict)
    grid_only_energy_usd: float | None = Field(None, description="Energy part of the grid-only bill [USD/year]")
    grid_only_demand_charge_usd: float | None = Field(None, description="Demand-charge part of the grid-only bill [USD/year]")
    grid_energy_reference_usd: float | None = Field(None, description=(
        "The reference bill: the same load's grid energy (and demand charges) at the same prices, ignoring the import "
        "limit [USD/year]; grid_only_bill_usd is the same figure under its first name"))
    grid_only_feasible: bool | None = Field(None, description="Could the grid alone serve the site within its import limit")
    grid_only_shortfall_mw: float | None = Field(
        None, description="Largest net load above the import limit (firm only during curtailment calls) [MW]")

    def reference_text(self) -> str:
        """The reference bill named for what it is, and whether grid-only could serve the site."""
        text = (f"grid energy at the same prices, ignoring the import limit: "
                f"{(self.grid_energy_reference_usd or self.grid_only_bill_usd) / 1e6:,.2f} M USD/year")
        if self.grid_only_feasible is False:
            text += (f"; the grid alone could not serve this site (net load up to {self.grid_only_shortfall_mw:,.1f} MW "
                     "above the import limit), so this is a yardstick, not an alternative")
        return text
    demand_charge_by_month_usd: list[float] = Field(
        default_factory=list, description="Expected demand charges of each month, January first [USD/year]; empty without demand charges")


class RequirementFigure(_Part):
    requirement: str = Field(..., description="Requirement key, e.g. contingency, c_rate, poi_ramp, islanding")
    field: str = Field("", description="The spec field behind it")
    text: str = Field("", description="The requirement in the site's terms")
    needs: float = Field(..., description="How much of the quantity it asks for (quantity's unit)")
    marginal_usd_per_year: float = Field(
        0.0, description="What one more unit of that need costs per year (dual of the LP at the solution)")


class BindingRequirement(_Part):
    quantity: str = Field(..., description="design.json path of the quantity, e.g. pcs_power_mw")
    label: str
    value: float
    unit: str
    binding: RequirementFigure | None = None
    runner_up: RequirementFigure | None = None

    def value_text(self) -> str:
        """The design's figure as a reader wants it: 33.57 MWh, not the solver's 33.5674 MWh."""
        v = self.value
        text = f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) >= 1 or v == 0 else f"{v:.3g}"
        return f"{text} {self.unit}"

    def sentences(self) -> tuple[str, str]:
        """(what sets it and what one more costs, the runner-up) in words, for the CLI and the report."""
        v = self.value_text()
        b = self.binding
        if b is None:
            return f"{self.label} {v}: no requirement asks for it", ""
        per = {"MW": "MW", "MWh": "MWh"}.get(self.unit, self.unit.rstrip("s"))
        if b.marginal_usd_per_year > 0:
            cost = f"one more {per} of it costs {b.marginal_usd_per_year:,.0f} USD/year"
            if self.unit == "units":
                cost = f"a unit costs {b.marginal_usd_per_year:,.0f} USD/year more than it saves"
        elif b.marginal_usd_per_year < 0:
            cost = f"a unit saves {-b.marginal_usd_per_year:,.0f} USD/year more than it costs"
        else:
            cost = "free at the margin (it fits in what other requirements bought)"
        where = f" [{b.field}]" if b.field else ""
        head = f"{self.label} {v}: {b.text}{where}; {cost}"
        r = self.runner_up
        return head, (f"next: {r.text}" if r is not None else "")


class Design(_Part):
    site: str
    solver: SolverInfo | None = None
    bess: BessDesign
    generation: list[GenerationDesign] = Field(default_factory=list)
    cost: Cost | None = None
    promises: dict[str, float] = Field(default_factory=dict)
    lifetime: dict | None = Field(None, description="Lifetime economics against the grid-only reference (cashflows.csv's summary)")
    phases: list[dict] | None = Field(None, description="Phased sites: per phase, its years, load and import, and the "
                                      "requirement whose held-out figure came closest to its limit")
    time_to_power: dict | None = Field(None, description="Phased sites: energize now against wait for firm (docs/economics.md)")
    transient_screening: dict = Field(default_factory=dict, description=(
        "The generation fleet the transient requirements were screened with (units per thermal type), "
        "the screening rounds and whether the solved fleet matched it"))
    binding: list[BindingRequirement] = Field(default_factory=list)
    energy_mix: dict = Field(default_factory=dict, description=(
        "The optimizer's expected year: MWh/year by source, CO2 t/year, capacity factor per thermal type"))

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2)

    @classmethod
    def from_json_file(cls, path: str | Path) -> Design:
        p = Path(path)
        if not p.is_file():
            raise SiteSpecError(str(path), [Problem("<file>", str(path), "not a file; expected a design.json")])
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
            raise SiteSpecError(str(path), [Problem("<file>", str(path), f"not valid JSON ({exc})")]) from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SiteSpecError(str(path), [
                Problem(_dotted(e["loc"]), "<missing>" if e["type"] == "missing" else e.get("input"),
                        "expected a design.json as docs/design-json.md describes it",
                        reason="required" if e["type"] == "missing" else e["msg"]) for e in exc.errors()
            ]) from None


def _dotted(loc: tuple) -> str:
    """('bess', 'bands_mwh', 'operating', 0) -> 'bess.bands_mwh.operating[0]' (the site spec's path style)."""
    out = ""
    for x in loc:
        out += f"[{x}]" if isinstance(x, int) else (f".{x}" if out else str(x))
    return out or "<document>"


def island_margin_text(d: "Design", site) -> str:
    """The island's capacity, with the spec's N+k units out, against what it must carry (a site that need not
    island says so; empty for a design without the optimizer's promises)."""
    pr = d.promises
    if not site.reliability.islanding.required:
        return ("Island: not required (reliability.islanding.required: false): the load is carried through the "
                "ride-through only, so there is no N+k margin to hold.")
    if "islanding_required_mw" not in pr:
        return ""
    cap, need = pr.get("islanding_capacity_mw", 0.0), pr["islanding_required_mw"]
    out = pr.get("islanding_redundancy_mw", 0.0)
    k = site.reliability.islanding.redundancy_units
    margin = pr.get("islanding_margin_mw", cap - out - need)
    which = "the largest unit" if k == 1 else f"the {k} largest units"
    head = f"Island: {cap:,.0f} MW of generation" + (f", {cap - out:,.0f} MW with {which} out (N+{k})" if k
                                                   else " (no unit out: N+0)")
    return (f"{head}, against {need:,.0f} MW the island must carry: margin {margin:+,.0f} MW"
            + ("" if margin >= -1e-6 else " (SHORT)") + ".")
