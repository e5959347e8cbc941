"""One colour per source, used by every figure of the report and the notebooks.

A reader learns once that orange is the battery and then reads every plot the same way. Colours
come from the colour-blind-safe Okabe-Ito set; SoC bands use light tints so lines stay readable on
top of them.
"""

from __future__ import annotations

# sources (lines and bars)
LOAD = "#000000"          # site load: black, the thing everything else serves
GRID = "#0072B2"          # POI import: blue
BESS = "#E69F00"          # battery (PCS) power and energy: orange
GENERATION = "#D55E00"    # onsite thermal generation (gas engines, turbines, fuel cells): vermilion
PV = "#F0E442"            # photovoltaics: yellow
PV_EDGE = "#B8A800"       # yellow lines need a darker edge to be visible on white
SOC = "#009E73"           # state of charge: bluish green
UNSERVED = "#CC79A7"      # unserved (shed) load: reddish purple
LIMIT = "#555555"         # limits and envelopes drawn as dashed grey
VIOLATION = "#C00000"     # markers where a limit was broken
PASS = "#1A7F37"
FAIL = "#C00000"

SOURCES = {
    "load": LOAD,
    "grid": GRID,
    "poi": GRID,
    "bess": BESS,
    "generation": GENERATION,
    "pv": PV_EDGE,
    "soc": SOC,
    "unserved": UNSERVED,
}

# SoC bands, bottom to top, as stacked in the design (DESIGN section 5)
BANDS = {
    "floor": "#D9D9D9",                 # below soc_min: never used
    "ride_through_reserve": "#C7E3F5",  # kept for loss of grid / islanding
    "up_ramp_buffer": "#FBE3B0",        # covers up-ramps the POI may not follow
    "curtailment_reserve": "#F6C9B5",   # carries the site through curtailment calls
    "operating": "#F3EEE7",             # free for SoC recovery and arbitrage
    "down_ramp_headroom": "#E4D9EF",    # empty room to absorb down-ramps
    "fade": "#FFFFFF",                  # usable at beginning of life, lost to fade by end of life
    "ceiling": "#D9D9D9",               # above soc_max: never used
}

BAND_LABELS = {
    "floor": "floor (below soc_min)",
    "ride_through_reserve": "ride-through / islanding reserve",
    "up_ramp_buffer": "up-ramp buffer",
    "curtailment_reserve": "curtailment reserve",
    "operating": "operating band (SoC recovery, arbitrage)",
    "down_ramp_headroom": "down-ramp headroom",
    "fade": "lost to capacity fade by end of life",
    "ceiling": "ceiling (above soc_max)",
}

# cost breakdown: capital in the battery's and generation's colours, operating costs in the
# colour of what they pay for
COST_COLOURS = {
    # checked in this order: the grid's words first, so "grid_energy_usd" is the grid's colour
    "opex_energy": GRID,   # energy bought at the POI
    "grid": GRID,
    "import": GRID,
    "demand": GRID,
    "shed": UNSERVED,
    "unserved": UNSERVED,
    "flex": UNSERVED,
    "generat": GENERATION,
    "gas": GENERATION,
    "fuel": GENERATION,
    "start": GENERATION,
    "pv": PV_EDGE,
    "bess": BESS,
    "pcs": BESS,
    "inverter": BESS,
    "container": BESS,
    "throughput": BESS,
    "capex_energy": BESS,
}


# the optimizer's cost parts (optimizer/objective.py) in words a reader knows
COST_LABELS = {
    "capex_bess_energy": "BESS energy (capital)",
    "capex_pcs": "PCS (capital)",
    "capex_inverters": "inverters (capital)",
    "capex_generation": "new generation (capital)",
    "opex_energy": "grid energy",
    "opex_demand_charge": "demand charge",
    "opex_fuel": "fuel",
    "opex_starts": "generator starts",
    "opex_throughput": "battery throughput (wear)",
    "opex_flexible_load": "flexible load curtailed",
    "opex_shedding": "load shed (at VOLL)",
    "opex_fixed_om": "fixed O&M",
    "opex_co2": "CO2 (at economics.co2_price_usd_per_t)",
}

# breakdown entries that are totals, not parts: shown on their own, never as a bar among the parts
COST_TOTALS = ("grid_only_bill_usd", "total_annualized_usd", "decision_objective_usd")


def cost_label(item: str) -> str:
    key = item.removeprefix("annualized_").removesuffix("_usd")
    return COST_LABELS.get(key, key.replace("_", " "))


def cost_parts(breakdown: dict[str, float]) -> dict[str, float]:
    """The breakdown without its totals."""
    return {k: v for k, v in breakdown.items() if k not in COST_TOTALS and not k.startswith("total")}


def cost_colour(item: str) -> str:
    """The colour of a cost item by the source it pays for (grey when none matches)."""
    key = item.lower()
    for word, colour in COST_COLOURS.items():
        if word in key:
            return colour
    return LIMIT
