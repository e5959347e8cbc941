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
    inverter_rating_mva: float = Field(..., gt=0)
    headroom_mw: Headroom
    bands_mwh: Bands = Field(..., description="Band sizes [MWh]; operating = [low, high] stored energy [MWh]")
    bands_fraction: Bands = Field(..., description="The same as fractions of nameplate E")


class GenerationDesign(_Part):
    kind: str
    existing_units: int = Field(..., ge=0)
    new_units: int = Field(..., ge=0)
    unit_mw: float = Field(..., gt=0)

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
    demand_charge_by_month_usd: list[float] = Field(
        default_factory=list, description="Expected demand charges of each month, January first [USD/year]; empty without demand charges")


class Design(_Part):
    site: str
    solver: SolverInfo | None = None
    bess: BessDesign
    generation: list[GenerationDesign] = Field(default_factory=list)
    cost: Cost | None = None
    promises: dict[str, float] = Field(default_factory=dict)
    lifetime: dict | None = Field(None, description="Lifetime economics against the grid-only reference (cashflows.csv's summary)")
    transient_screening: dict = Field(default_factory=dict, description=(
        "The generation fleet the transient requirements were screened with (units per thermal type), "
        "the screening rounds and whether the solved fleet matched it"))

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2)

    @classmethod
    def from_json_file(cls, path: str | Path) -> "Design":
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
                        "expected a design.json as `bess-size optimize` writes it (DESIGN section 9)",
                        reason="required" if e["type"] == "missing" else e["msg"]) for e in exc.errors()
            ]) from None


def _dotted(loc: tuple) -> str:
    """('bess', 'bands_mwh', 'operating', 0) -> 'bess.bands_mwh.operating[0]' (the site spec's path style)."""
    out = ""
    for x in loc:
        out += f"[{x}]" if isinstance(x, int) else (f".{x}" if out else str(x))
    return out or "<document>"
