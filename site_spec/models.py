"""The site spec as pydantic models (DESIGN section 3): the contract users write against.

Every field carries its unit in its name and in ``json_schema_extra["unit"]``, a documented
default and a range. A two-element list ``[a, b]`` means "uniformly between a and b"; a single
number ``x`` is read as ``[x, x]``. Cross-field rules live in ``checks.py``; loading and error
formatting in ``load.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError


class SpecModel(BaseModel):
    """Base of every spec section: unknown keys are errors (with a did-you-mean in load.py)."""

    # strict: YAML already types its scalars, so `pue: yes` (a bool) or `"300"` (quoted text) is a
    # mistake to report, not to coerce; inf/nan are never a meaningful MW or USD figure.
    # validate_assignment: `site.grid.ramp_limit_mw_per_s = -5` in a notebook is refused like the file.
    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True, allow_inf_nan=False,
                              validate_assignment=True)

    def __setattr__(self, name, value):
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            from .load import assignment_error

            raise assignment_error(type(self), name, exc) from None

    def model_copy(self, *, update=None, deep: bool = False):
        """A copy; the values in ``update`` are validated like assignments (pydantic's own copy does not).

        Cross-field rules (e.g. soc_min below soc_max) need the whole site: use ``Site.with_values``.
        """
        copied = super().model_copy(deep=deep)
        for name, value in (update or {}).items():
            setattr(copied, name, value)
        return copied


def F(default, unit: str, description: str, **bounds):
    """A spec field with its unit recorded for error messages and the JSON Schema."""
    return Field(default, description=f"{description} [{unit}]", json_schema_extra={"unit": unit}, **bounds)


def _span(lo: float, hi: float, unit: str):
    """A uniform range ``[a, b]`` (or one number) whose ends lie in ``[lo, hi]``."""

    def is_number(x) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    def before(v):
        if is_number(v):
            return (float(v), float(v))
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(is_number(x) for x in v):
            return (float(v[0]), float(v[1]))
        raise PydanticCustomError("span", "not a number or a two-element list [low, high] of numbers")

    def after(v: tuple[float, float]):
        a, b = v
        if a > b:
            raise PydanticCustomError("span", f"the low end {a:g} is above the high end {b:g}")
        if a < lo or b > hi:
            raise PydanticCustomError("span", f"ends must lie within [{lo:g}, {hi:g}] {unit}")
        return v

    return Annotated[
        tuple[float, float],
        BeforeValidator(before),
        AfterValidator(after),
        PlainSerializer(lambda v: [v[0], v[1]], return_type=list),
        # the schema says what a user may write (one number or [low, high]), not the internal tuple
        WithJsonSchema({"anyOf": [
            {"type": "number", "minimum": lo, "maximum": hi},
            {"type": "array", "items": {"type": "number", "minimum": lo, "maximum": hi}, "minItems": 2, "maxItems": 2},
        ]}),
    ]


def SpanF(default, lo: float, hi: float, unit: str, description: str):
    return Field(
        default,
        description=f"{description}; a number or [low, high] drawn uniformly, within [{lo}, {hi}] [{unit}]",
        json_schema_extra={"unit": unit, "range": [lo, hi]},
    )


# --------------------------------------------------------------------------- load


class TrainingWorkload(SpecModel):
    """Synchronous training jobs (datasheet section 1a, 1b, 5.2)."""

    kind: Literal["training"] = "training"
    share: float = F(0.7, "fraction", "Share of IT capacity", ge=0, le=1)
    jobs: int = F(2, "count", "Concurrent large jobs sharing this workload (datasheet 5.2: 1-4)", ge=1, le=16)
    swing_fraction: float = F(0.35, "fraction", "Peak-to-trough of iteration-level swing, fraction of job power", ge=0, le=1)
    swing_period_s: _span(0.05, 600, "s") = SpanF((1.0, 10.0), 0.05, 600, "s", "Iteration period")
    checkpoint_interval_min: float = F(60, "min", "Time between checkpoints of a job", gt=0, le=1440)
    checkpoint_depth_fraction: float = F(0.6, "fraction", "A checkpoint lowers the job's power by this fraction", ge=0, le=1)
    checkpoint_duration_s: float = F(20, "s", "Length of a checkpoint dip", ge=0, le=3600)
    job_ramp_s: float = F(10, "s", "Start/stop ramp of a whole job", ge=0, le=3600)
    stalls_per_day: float = F(8, "1/day", "Sudden whole-job drops (faults, hangs), then restart", ge=0, le=1000)
    stall_duration_min: _span(0, 240, "min") = SpanF((2.0, 30.0), 0, 240, "min", "Time a stalled job stays idle before restarting")
    idle_fraction: float = F(0.25, "fraction", "Job power while stalled or between jobs, fraction of job peak (datasheet 5.1)", ge=0, le=1)


class InferenceWorkload(SpecModel):
    """Inference serving (datasheet section 5.3)."""

    kind: Literal["inference"] = "inference"
    share: float = F(0.3, "fraction", "Share of IT capacity", ge=0, le=1)
    diurnal_peak_to_trough: float = F(1.8, "ratio", "Daily peak over daily trough of served load", ge=1, le=20)
    peak_hour: float = F(14, "h", "Local hour of the diurnal peak", ge=0, lt=24)
    noise_fraction: float = F(0.03, "fraction", "Std-dev of fast AR(1) noise, fraction of workload peak", ge=0, le=0.5)
    bursts_per_day: float = F(4, "1/day", "Traffic bursts per day", ge=0, le=1000)
    burst_fraction: float = F(0.1, "fraction", "Burst height, fraction of workload peak", ge=0, le=1)
    burst_duration_s: _span(1, 7200, "s") = SpanF((30.0, 300.0), 1, 7200, "s", "Burst length")
    weekend_factor: float = F(0.85, "fraction", "Weekend mean over weekday mean", gt=0, le=1.5)


Workload = Annotated[Union[TrainingWorkload, InferenceWorkload], Field(discriminator="kind")]


class Flexible(SpecModel):
    max_fraction: float = F(0.2, "fraction", "Largest share of site load the site may curtail itself", ge=0, le=1)
    cost_usd_per_mwh: float = F(500, "USD/MWh", "Cost of curtailed load", ge=0)


class LoadPhase(SpecModel):
    """The load from a year of the project on (IT capacity growth); unset keys keep the load section's."""

    from_year: int = F(..., "year", "First project year (1 = the first year) this phase applies", ge=1, le=100)
    it_capacity_mw: float = F(..., "MW", "IT nameplate from this year on", gt=0, le=20000)
    min_load_mw: float | None = F(None, "MW", "Site minimum from this year on (default: the load section's)", ge=0)


class Load(SpecModel):
    it_capacity_mw: float = F(300, "MW", "IT nameplate", gt=0, le=20000)
    pue: float = F(1.15, "ratio", "Power usage effectiveness; non-IT = (pue - 1) x IT", ge=1, le=3)
    cooling_lag_s: float = F(600, "s", "First-order lag of non-IT load behind IT load", ge=0, le=86400)
    power_factor: float = F(0.95, "ratio", "Site load power factor (lagging)", gt=0.5, le=1)
    min_load_mw: float = F(60, "MW", "Site minimum (idle cluster + house load)", ge=0)
    workloads: list[Workload] = Field(
        default_factory=lambda: [TrainingWorkload(), InferenceWorkload()],
        description="Workload mix; shares sum to 1",
        min_length=1,
    )
    flexible: Flexible | None = Field(None, description="Optional: the site may curtail load itself, at a cost")
    trace: str | None = Field(None, description="Optional CSV (time_s,load_mw) of measured total site power")
    trace_mode: Literal["as_given", "bootstrap"] = Field(
        "as_given", description="as_given = one deterministic scenario; bootstrap = block-resampled into scenarios.count"
    )
    phases: list[LoadPhase] = Field(
        default_factory=list, description="Optional IT capacity growth: each entry applies from its from_year on "
        "(years before the first use the keys above); see docs/economics.md")

    @property
    def peak_mw(self) -> float:
        """Largest site power: IT capacity times PUE."""
        return self.it_capacity_mw * self.pue


# --------------------------------------------------------------------------- grid


class Curtailment(SpecModel):
    events_per_year: float = F(25, "1/year", "Curtailment calls per year (datasheet 5.4)", ge=0, le=365)
    duration_h: _span(0, 24, "h") = SpanF((1.0, 4.0), 0, 24, "h", "Event length")
    notice_min: float = F(30, "min", "Notice before an event starts", ge=0, le=1440)
    recovery_h: float = F(6, "h", "After an event, the curtailment reserve may be refilled this long", ge=0, le=48)


class LossOfGrid(SpecModel):
    events_per_year: float = F(0.5, "1/year", "Loss-of-grid events per year", ge=0, le=365)
    duration_s: _span(0, 86400, "s") = SpanF((1.0, 3600.0), 0, 86400, "s", "Outage length")


class VoltageSags(SpecModel):
    events_per_year: float = F(4, "1/year", "Reclose sequences per year (datasheet 5.4)", ge=0, le=365)
    dips_per_event: _span(1, 20, "count") = SpanF((1.0, 6.0), 1, 20, "count", "Dips in one sequence")
    dip_duration_s: _span(0.01, 10, "s") = SpanF((0.1, 0.5), 0.01, 10, "s", "Length of one dip")
    sequence_duration_s: float = F(82, "s", "Span of a reclose sequence (NERC 2024: 6 dips in 82 s)", gt=0, le=3600)


class GridEvent(SpecModel):
    kind: Literal["curtailment", "loss_of_grid", "voltage_sag"] = Field(..., description="Event kind")
    start_s: float = F(..., "s", "Start, seconds from the trace start", ge=0)
    duration_s: float = F(..., "s", "Length", gt=0)
    occurrences_per_year: float = F(1, "1/year", "How often a year this event is costed", ge=0, le=8760)


MONTHS_ALL = list(range(1, 13))


class TouWindow(SpecModel):
    """When a time-of-use price or demand charge applies: months, day type and hours of the day.

    Days: Jan 1 is a Monday and every year has 365 days (the load model's calendar); no holidays.
    ``hours: [start, end]`` covers the hours start <= h < end; start > end wraps past midnight.
    """

    months: list[Annotated[int, Field(ge=1, le=12)]] = Field(
        default_factory=lambda: list(MONTHS_ALL), min_length=1, description="Months it applies in, 1 = January")
    days: Literal["all", "weekdays", "weekends"] = Field("all", description="Day type it applies on (weekends: Saturday and Sunday)")
    hours: list[Annotated[int, Field(ge=0, le=24)]] = Field(
        default_factory=lambda: [0, 24], min_length=2, max_length=2, description="[start, end) local hours it applies in; start > end wraps past midnight [h]",
        json_schema_extra={"unit": "h"})


class TouEnergyPrice(TouWindow):
    usd_per_mwh: float = F(..., "USD/MWh", "Energy price in this window (the first matching window wins)")


class TouDemandCharge(TouWindow):
    usd_per_mw_month: float = F(..., "USD/MW-month", "Charge on each month's peak import within this window", ge=0)


class GridPhase(SpecModel):
    """The interconnection from a year of the project on (e.g. firm capacity built in year 3); unset keys keep the grid section's."""

    from_year: int = F(..., "year", "First project year (1 = the first year) this phase applies", ge=1, le=100)
    firm_import_mw: float | None = F(None, "MW", "Firm import from this year on", ge=0)
    nonfirm_import_mw: float | None = F(None, "MW", "Curtailable import from this year on", ge=0)
    curtailment: Curtailment | None = Field(None, description="Curtailment terms from this year on")
    ramp_limit_mw_per_s: float | None = F(None, "MW/s", "POI ramp limit per second from this year on", gt=0)
    ramp_limit_mw_per_min: float | None = F(None, "MW/min", "POI ramp limit per minute from this year on", gt=0)


# US average CO2 intensity of electricity, EIA 2023: 0.81 lb/kWh = 0.367 t/MWh (not in the data sheet;
# a site should give its own grid's figure, marginal or average, in grid.co2_t_per_mwh)
GRID_CO2_T_PER_MWH = 0.367


class Grid(SpecModel):
    firm_import_mw: float = F(200, "MW", "Firm import capacity at the POI", ge=0)
    nonfirm_import_mw: float = F(150, "MW", "Curtailable import, available except during curtailment events", ge=0)
    curtailment: Curtailment = Field(default_factory=Curtailment)
    loss_of_grid: LossOfGrid = Field(default_factory=LossOfGrid)
    voltage_sags: VoltageSags = Field(default_factory=VoltageSags)
    events: list[GridEvent] = Field(default_factory=list, description="Explicit events: hard requirements, once per scenario")
    ramp_limit_mw_per_s: float = F(2, "MW/s", "Largest POI change in one second", gt=0)
    ramp_limit_mw_per_min: float = F(20, "MW/min", "Largest POI change within any 60 s window", gt=0)
    reconnect_ramp_mw_per_min: float = F(20, "MW/min", "How fast import may return after a loss of grid", gt=0)
    smoothing_time_constant_s: float = F(30, "s", "Time constant of the causal low-pass POI target (0: none)", ge=0, le=86400)
    poi_power_factor_min: float = F(0.95, "ratio", "Power factor to hold at the POI; the BESS supplies the rest", gt=0, le=1)
    export_allowed: bool = Field(False, description="May the site export to the grid")
    energy_price_usd_per_mwh: float | str = Field(
        60, description="A number, or a CSV (time_s,usd_per_mwh) repeated over the horizon [USD/MWh]", json_schema_extra={"unit": "USD/MWh"}
    )
    demand_charge_usd_per_mw_month: float = F(0, "USD/MW-month", "Demand charge on each month's own peak import", ge=0)
    tou_energy_prices: list[TouEnergyPrice] = Field(
        default_factory=list, description="Time-of-use energy prices by month, day type and hour; the first matching "
        "window wins, other hours pay energy_price_usd_per_mwh")
    tou_demand_charges: list[TouDemandCharge] = Field(
        default_factory=list, description="Time-of-use demand charges, each on every month's peak import within its window "
        "(on top of demand_charge_usd_per_mw_month)")
    tariff_file: str | None = Field(
        None, description="Optional OpenEI URDB rate JSON on disk: its energy rates replace energy_price_usd_per_mwh and "
        "its flat and time-of-use demand charges apply (then leave the tou_* keys and demand_charge_usd_per_mw_month unset)")
    phases: list[GridPhase] = Field(
        default_factory=list, description="Optional phased interconnection: each entry applies from its from_year on "
        "(years before the first use the keys above); see docs/economics.md")

    co2_t_per_mwh: float = F(
        GRID_CO2_T_PER_MWH, "t/MWh", "CO2 emitted per MWh imported (default: the US grid average, EIA 2023, "
        "about 810 lb/MWh)", ge=0, le=2)

    @property
    def total_import_mw(self) -> float:
        return self.firm_import_mw + self.nonfirm_import_mw


# --------------------------------------------------------------------------- generation


MMBTU_PER_MWH = 3.412142  # 1 MWh = 3.412142 MMBtu
NATURAL_GAS_T_CO2_PER_MMBTU = 0.05306  # EPA / EIA carbon coefficient of pipeline natural gas, 53.06 kg CO2/MMBtu

# A fuel cell (SOFC) differs from an engine by default (datasheet 5.6): no minimum stable load, a
# slow ramp (minutes to full output, "treat as near-constant") and a start of hours (it stays hot);
# blocks of tens of MW built from sub-MW modules. Keys the spec gives win.
FUEL_CELL_DEFAULTS = {"unit_mw": 10.0, "min_load_fraction": 0.0, "ramp_mw_per_s": 0.03, "start_time_s": 3600.0}
# electrical efficiency on the fuel's heating value by kind (datasheet 5.6 heat rates 8,200 / 8,600 / 6,000 Btu/kWh)
EFFICIENCY_DEFAULTS = {"gas_engine": 0.416, "gas_turbine": 0.397, "fuel_cell": 0.569}


class ThermalUnit(SpecModel):
    """Dispatchable onsite generation counted in whole units (datasheet 5.6).

    kind: fuel_cell changes four defaults: unit_mw 10, min_load_fraction 0, ramp_mw_per_s 0.03,
    start_time_s 3600 (datasheet 5.6: no minimum stable load, slow ramp, starts of hours). The
    variable cost is fuel_usd_per_mwh, or, when fuel_price_usd_per_mmbtu is given,
    fuel_price_usd_per_mmbtu x 3.412142 / efficiency_fraction + variable_om_usd_per_mwh.
    """

    kind: Literal["gas_engine", "gas_turbine", "fuel_cell"] = "gas_engine"
    unit_mw: float = F(18, "MW", "Rating of one unit", gt=0, le=1000)
    existing_units: int = F(0, "count", "Units already on site", ge=0, le=1000)
    max_new_units: int = F(10, "count", "Most new units the optimizer may add", ge=0, le=1000)
    capex_usd_per_mw: float = F(1_200_000, "USD/MW", "Installed cost of new units", ge=0)
    fuel_usd_per_mwh: float = F(45, "USD/MWh", "Fuel and variable O&M per MWh generated", ge=0)
    start_cost_usd: float = F(500, "USD", "Cost of one unit start", ge=0)
    min_load_fraction: float = F(0.3, "fraction", "Minimum stable load of a committed unit", ge=0, le=1)
    ramp_mw_per_s: float = F(0.5, "MW/s", "Ramp of one running unit", gt=0)
    start_time_s: float = F(300, "s", "Cold start to synchronised (then ramping at ramp_mw_per_s)", ge=0, le=86400)
    fuel_price_usd_per_mmbtu: float | None = F(
        None, "USD/MMBtu", "Optional: fuel price; with efficiency_fraction it sets fuel_usd_per_mwh (datasheet: 4.8 delivered gas)",
        ge=0, le=1000)
    efficiency_fraction: float | None = F(
        None, "fraction", "Electrical efficiency on the fuel's heating value, used with fuel_price_usd_per_mmbtu "
        "(default by kind: gas_engine 0.416, gas_turbine 0.397, fuel_cell 0.569)", gt=0, le=1)
    variable_om_usd_per_mwh: float = F(0, "USD/MWh", "Variable O&M added to the fuel cost when fuel_price_usd_per_mmbtu is given", ge=0)
    co2_t_per_mwh: float | None = F(
        None, "t/MWh", "CO2 emitted per MWh generated (default: natural gas, 0.05306 t/MMBtu x 3.412142 / "
        "efficiency_fraction: gas_engine 0.435, gas_turbine 0.456, fuel_cell 0.318)", ge=0, le=2)

    @property
    def emission_factor_t_per_mwh(self) -> float:
        """co2_t_per_mwh, or natural gas burnt at the unit's efficiency (datasheet 5.6 heat rates)."""
        if self.co2_t_per_mwh is not None:
            return self.co2_t_per_mwh
        eff = self.efficiency_fraction if self.efficiency_fraction is not None else EFFICIENCY_DEFAULTS[self.kind]
        return NATURAL_GAS_T_CO2_PER_MMBTU * MMBTU_PER_MWH / eff

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults_and_fuel_cost(cls, data):
        """Fuel-cell defaults; fuel_usd_per_mwh from fuel_price_usd_per_mmbtu when that is given (before
        validation, so assignments re-validate the same way; values that are not numbers are left for the
        field checks to report)."""
        if not isinstance(data, dict):
            return data
        if data.get("kind") == "fuel_cell":
            data = {**FUEL_CELL_DEFAULTS, **data}
        num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
        price, eff, vom = (data.get("fuel_price_usd_per_mmbtu"), data.get("efficiency_fraction"),
                           data.get("variable_om_usd_per_mwh", 0.0))
        if eff is None:
            eff = EFFICIENCY_DEFAULTS.get(data.get("kind", "gas_engine"))
        if not (num(price) and num(eff) and eff > 0 and num(vom)):
            return data
        derived = price * MMBTU_PER_MWH / eff + vom
        given = data.get("fuel_usd_per_mwh")
        if num(given) and not math.isclose(given, derived, rel_tol=1e-9, abs_tol=1e-9):
            raise PydanticCustomError(
                "fuel_cost", "fuel_usd_per_mwh = {given} disagrees with fuel_price_usd_per_mmbtu x 3.412142 / "
                "efficiency_fraction + variable_om_usd_per_mwh = {derived} USD/MWh; give one or the other",
                {"given": f"{given:g}", "derived": f"{derived:.4f}"})
        return {**data, "fuel_usd_per_mwh": float(derived)}


class PV(SpecModel):
    kind: Literal["pv"] = "pv"
    capacity_mw: float = F(40, "MW", "AC capacity", ge=0)
    profile: str = Field("clear_sky", description="clear_sky (with cloud noise) or a CSV path (time_s,pv_mw)")
    latitude_deg: float = F(31.0, "deg", "Site latitude for the clear-sky shape", ge=-66, le=66)
    cloud_variability: float = F(0.2, "fraction", "Depth of cloud noise on the clear-sky shape", ge=0, le=1)


Generator = Annotated[Union[ThermalUnit, PV], Field(discriminator="kind")]


# --------------------------------------------------------------------------- BESS


class BESS(SpecModel):
    energy_cost_usd_per_mwh: float = F(200_000, "USD/MWh", "Installed cost per MWh nameplate", ge=0)
    pcs_cost_usd_per_mw: float = F(60_000, "USD/MW", "Power conversion cost per MW", ge=0)
    inverter_rating_mva: float = F(4.2, "MVA", "Apparent power of one inverter block", gt=0, le=100)
    inverter_cost_usd: float = F(150_000, "USD", "Cost of one inverter block", ge=0)
    container_mwh: float | None = F(None, "MWh", "Optional: energy in whole containers of this size", gt=0)
    charge_efficiency: float = F(0.94, "fraction", "AC-to-stored efficiency", gt=0, le=1)
    discharge_efficiency: float = F(0.94, "fraction", "Stored-to-AC efficiency", gt=0, le=1)
    soc_min_fraction: float = F(0.05, "fraction", "Lowest allowed state of charge", ge=0, lt=1)
    soc_max_fraction: float = F(0.95, "fraction", "Highest allowed state of charge", gt=0, le=1)
    end_of_life_fraction: float = F(0.8, "fraction", "Capacity left at end of life; bands must fit it", gt=0, le=1)
    max_c_rate: float = F(2.0, "1/h", "PCS power over nameplate energy", gt=0, le=20)
    throughput_cost_usd_per_mwh: float = F(8, "USD/MWh", "Degradation cost per MWh discharged", ge=0)
    max_energy_mwh: float = F(2000, "MWh", "Largest energy the optimizer may build (0: no BESS)", ge=0)
    max_power_mw: float = F(600, "MW", "Largest PCS power the optimizer may build", ge=0)
    soc_recovery_time_s: float = F(900, "s", "The POI policy steers stored energy back to its setpoint over this time", gt=0, le=86400)
    # cycle ageing (the replay's rainflow count): the data sheet's 6,000 cycles at 80 % depth; exponent 1
    # makes damage proportional to throughput, as the data sheet's throughput-priced degradation does
    # (calendar ageing: economics.bess_calendar_fade_fraction_per_year)
    cycle_life_cycles: float = F(6000, "cycles", "Full cycles to end of life at cycle_life_depth_fraction", gt=0)
    cycle_life_depth_fraction: float = F(0.8, "fraction", "Depth of discharge (of the usable span) the cycle life is quoted at", gt=0, le=1)
    cycle_life_exponent: float = F(1.0, "1", "Woehler exponent k: cycles to end of life at depth D are cycle_life_cycles x (D / cycle_life_depth_fraction)^-k", gt=0, le=5)


# --------------------------------------------------------------------------- reliability, economics, scenarios


class RideThrough(SpecModel):
    duration_s: float = F(30, "s", "BESS carries load_fraction of the site this long after grid loss", ge=0, le=86400)
    load_fraction: float = F(1.0, "fraction", "Share of site load to ride through", ge=0, le=1)


class Islanding(SpecModel):
    required: bool = Field(False, description="Bridge until onsite generation carries the island (needs onsite generation)")
    shed_flexible_load: bool = Field(False, description=(
        "While islanded, shed load.flexible.max_fraction of the load after flexible_shed_delay_s "
        "(and after ride-through); the island then needs generation for the rest only"))
    flexible_shed_delay_s: float = F(60, "s", "From the grid loss until flexible load is shed in an island", ge=0, le=86400)
    redundancy_units: int = F(
        1, "units", "N+k: the island holds (and is bridged) with this many of the largest generator units out "
        "(used when required)", ge=0, le=10)

    def shed_fraction(self, load) -> float:
        """Share of load shed once the island has lasted flexible_shed_delay_s (0 unless the spec says so)."""
        return load.flexible.max_fraction if self.shed_flexible_load and load.flexible is not None else 0.0


class Reliability(SpecModel):
    ride_through: RideThrough = Field(default_factory=RideThrough)
    islanding: Islanding = Field(default_factory=Islanding)
    voll_usd_per_mwh: float = F(10_000, "USD/MWh", "Value of lost load", ge=0)
    poi_violation_penalty_usd_per_mw: float = F(100_000, "USD/MW", "Prices POI violations in diagnosis and replay", ge=0)
    target_success_rate: float = F(0.95, "fraction", "A check passes when its held-out success rate's lower bound reaches it", gt=0, le=1)


class Economics(SpecModel):
    discount_rate: float = F(0.08, "fraction", "Real discount rate", ge=0, le=1)
    co2_price_usd_per_t: float = F(0, "USD/t", "Price of CO2 emitted (grid import and onsite fuel); the optimizer pays it", ge=0, le=10000)
    co2_cap_t_per_year: float | None = F(
        None, "t/year", "Optional: most CO2 a year the site may emit (grid import and onsite fuel); the optimizer holds it", ge=0)
    lifetime_years: float = F(15, "years", "Economic life for the capital recovery factor", gt=0, le=100)
    it_capacity_value_usd_per_mw_month: float = F(
        0.0, "USD/MW-month", "What a MW of energized IT capacity earns a month; values time to power on a phased site", ge=0)
    energy_price_escalation_fraction_per_year: float = F(0.0, "fraction/year", "Yearly change of energy prices in the cash flows", ge=-0.5, le=1)
    demand_charge_escalation_fraction_per_year: float = F(0.0, "fraction/year", "Yearly change of demand charges in the cash flows", ge=-0.5, le=1)
    fuel_price_escalation_fraction_per_year: float = F(0.0, "fraction/year", "Yearly change of fuel prices in the cash flows", ge=-0.5, le=1)
    om_escalation_fraction_per_year: float = F(0.0, "fraction/year", "Yearly change of fixed O&M in the cash flows", ge=-0.5, le=1)
    bess_fixed_om_fraction_per_year: float = F(
        0.0, "fraction/year", "Fixed O&M of the BESS, a fraction of its capital cost a year (datasheet: about 0.025)", ge=0, le=1)
    generation_fixed_om_usd_per_mw_year: float = F(0.0, "USD/MW-year", "Fixed O&M of new generation per MW installed", ge=0)
    bess_calendar_fade_fraction_per_year: float = F(
        0.015, "fraction/year", "Capacity lost to calendar ageing a year (datasheet: 1-2.5 %); with cycling it sets the replacement year",
        ge=0, le=1)
    bess_replacement_cost_fraction: float = F(
        1.0, "fraction", "Cost of replacing the battery's energy at end of life, a fraction of bess.energy_cost_usd_per_mwh x E "
        "(PCS and inverters are kept)", ge=0, le=10)

    @property
    def capital_recovery_factor(self) -> float:
        r, n = self.discount_rate, self.lifetime_years
        return 1.0 / n if r == 0 else r * (1 + r) ** n / ((1 + r) ** n - 1)


class Scenarios(SpecModel):
    count: int = F(20, "count", "Scenarios the optimizer sees", ge=1, le=10000)
    held_out: int = F(100, "count", "Scenarios only the simulator sees", ge=1, le=100000)
    seed: int = F(42, "-", "Seed of every random stream", ge=0)
    trace_days: float = F(2, "days", "Length of each second-resolution trace", gt=0, le=366)
    representative_days: int = F(8, "count", "Representative days of the energy layer", ge=1, le=366)
    transient_windows: int = F(24, "count", "Windows in total, allocated across window kinds", ge=0, le=10000)
    transient_resolution_s: float = F(1, "s", "Time step of the second-resolution traces", gt=0, le=60)
    window_length_s: float = F(600, "s", "Length of one transient window", gt=0, le=86400)
    energy_resolution_min: Literal[15, 30, 60] = Field(60, description="Step of the energy layer [min]", json_schema_extra={"unit": "min"})


class Site(SpecModel):
    """A whole site: the input of every command."""

    name: str = Field("site", description="Site name, used in outputs", min_length=1, max_length=200)
    # required: a site sized for a default campus and interconnection it never described is no answer
    load: Load = Field(..., description="Required: the site's load")
    grid: Grid = Field(..., description="Required: the interconnection at the point of interconnection (POI)")
    generation: list[Generator] = Field(default_factory=list, description="Onsite generation")
    bess: BESS = Field(default_factory=BESS)
    reliability: Reliability = Field(default_factory=Reliability)
    economics: Economics = Field(default_factory=Economics)
    scenarios: Scenarios = Field(default_factory=Scenarios)

    def with_values(self, values: Mapping[str, object]) -> "Site":
        """A new Site with dotted keys set, checked like a spec file (the same loader as ``--vary``).

        ``site.with_values({"grid.nonfirm_import_mw": 50, "load.workloads[0].share": 0.6})``.
        Every field and cross-field rule runs on the result; a bad key or value raises
        ``SiteSpecError`` naming it. This site is left unchanged.
        """
        from .load import apply_values, dump_site

        return apply_values(dump_site(self), values, f"{self.name} with_values")

    @property
    def thermal(self) -> list[ThermalUnit]:
        return [g for g in self.generation if isinstance(g, ThermalUnit)]

    @property
    def pv(self) -> list[PV]:
        return [g for g in self.generation if isinstance(g, PV)]
