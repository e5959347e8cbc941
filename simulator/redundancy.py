"""N+k: every held-out loss of grid replayed again, in the stress state, with the k largest units out.

``reliability.islanding.redundancy_units`` = k says the island must hold with the k largest
generator units unavailable (DESIGN: the optimizer sizes the capacity and the battery's bridge for
it). The replay takes them out of the design (new units first, then existing ones) and judges the
island as the ``islanding`` check does: stored energy left above the floor, less the energy of load
lost; negative when the island ran short.
"""

from __future__ import annotations

import numpy as np

from bess_size.site_spec.screen import redundancy_unit

from .checks import Check
from .controller import Replay, replay_arrays, sag_steps
from .metrics import stress_row

REQUIREMENT = "islanding_redundancy"


def units_out(site, design):
    """The design without its k largest units, or None when the site asks for no redundancy."""
    isl = site.reliability.islanding
    big = redundancy_unit(site)
    if not isl.required or isl.redundancy_units == 0 or big is None:
        return None
    g = site.thermal.index(big)
    gens = [x.model_copy() for x in design.generation]
    if g >= len(gens):
        return None
    k = isl.redundancy_units
    cut_new = min(k, gens[g].new_units)
    gens[g].new_units -= cut_new
    gens[g].existing_units = max(0, gens[g].existing_units - (k - cut_new))
    return design.model_copy(update={"generation": gens})


class Redundancy:
    """The held-out traces replayed with the units out: :meth:`replay` starts one trace's replay
    (fed with the other replays of the trace), :meth:`row` gives its figures."""

    def __init__(self, site, design, bands):
        self.site, self.bands = site, bands
        self.design = units_out(site, design)
        self.arrays = replay_arrays(site, self.design) if self.design is not None else None
        # no unit to take out (the design has none of the largest kind): the stress replay is N+k's
        self.same = self.design is not None and all(
            np.array_equal(a, b) for a, b in zip(self.arrays, replay_arrays(site, design)))

    def replay(self, trace, stress) -> Replay | None:
        """The stress replay (rows ``stress``) with the units out, or None: no units out, or a trace
        that cannot lose the grid (no loss-of-grid event, no outage longer than a sag: the only ways
        an outage is classed a loss of grid), so there is no island to judge."""
        if self.design is None or self.same:
            return None
        if not any(e.get("kind") == "loss_of_grid" for e in trace.events) and \
                trace.longest_outage_steps() <= sag_steps(self.site):
            return None
        cp, gp, pp = self.arrays
        return Replay(cp, gp, pp, trace.steps, stress=stress)

    def row(self, run, trace, loss_of_grid: bool) -> dict:
        """``run``: the replay's result (the stress replay's where no unit could be taken out, None
        when not replayed); ``loss_of_grid``: whether the stress replay with every unit found one
        (else there is nothing to judge)."""
        if self.design is None:
            return {}
        if run is None or not loss_of_grid:
            return {"redundancy_islanding_ok": None, "redundancy_islanding_margin_mwh": None}
        r = stress_row(run, trace, self.site, self.design)
        return {"redundancy_islanding_ok": r.get("stress_islanding_ok"),
                "redundancy_islanding_margin_mwh": r.get("stress_islanding_margin_mwh")}


def redundancy_check(site, design, rows: list[dict]) -> Check | None:
    """The island with the k largest units out held in the held-out losses of grid (None when the
    site asks for no redundancy or no held-out scenario lost the grid)."""
    if units_out(site, design) is None:
        return None
    rs = [r for r in rows if r.get("redundancy_islanding_ok") is not None]
    if not rs:
        return None
    k = site.reliability.islanding.redundancy_units
    big = redundancy_unit(site)
    ok = [bool(r["redundancy_islanding_ok"]) for r in rs]
    margins = [r["redundancy_islanding_margin_mwh"] for r in rs if r["redundancy_islanding_margin_mwh"] is not None]
    return Check(
        requirement=REQUIREMENT,
        description=(f"stored energy left above the floor in the worst loss of grid with {k} x {big.unit_mw:g} MW "
                     f"{big.kind} out (N+{k}), less the energy of load lost; negative when the island ran short"),
        measured=min(margins) if margins else None, limit=0.0, unit="MWh", scenarios=len(rs), successes=int(sum(ok)),
        target_success_rate=site.reliability.target_success_rate, evidence="report.html#islanding",
        failed_scenarios=[int(r["scenario"]) for r, k_ in zip(rs, ok) if not k_],
        detail={"units_out": k, "unit_mw": big.unit_mw, "kind": big.kind}, comparator=">=", state="stress")
