"""Phases: the site as it is in each stretch of years (``grid.phases``, ``load.phases``).

The project's years 1..N (N = ``economics.lifetime_years`` rounded up) split at every ``from_year``
of either list. In a phase, each grid and load key is that of the latest entry starting at or
before the phase's first year that sets it, else the section's own key. Each phase is a complete,
unphased ``Site`` (the same name, so designs and replays match it) that every stage uses as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import Problem

GRID_PHASE_KEYS = ("firm_import_mw", "nonfirm_import_mw", "curtailment", "ramp_limit_mw_per_s", "ramp_limit_mw_per_min")
LOAD_PHASE_KEYS = ("it_capacity_mw", "min_load_mw")


@dataclass
class Phase:
    index: int
    from_year: int
    to_year: int  # last year of the phase (inclusive)
    site: object  # site_spec.Site, unphased

    @property
    def years(self) -> int:
        return self.to_year - self.from_year + 1

    def label(self) -> str:
        return f"years {self.from_year}-{self.to_year}" if self.to_year > self.from_year else f"year {self.from_year}"


def horizon_years(site) -> int:
    return max(1, int(math.ceil(site.economics.lifetime_years - 1e-9)))


def is_phased(site) -> bool:
    return bool(site.grid.phases or site.load.phases)


def _overrides(entries, year: int, keys) -> dict:
    out = {}
    for e in sorted(entries, key=lambda e: e.from_year):
        if e.from_year > year:
            break
        for k in keys:
            v = getattr(e, k)
            if v is not None:
                out[k] = v.model_dump(mode="json") if hasattr(v, "model_dump") else v
    return out


def phase_site_data(site, year: int) -> dict:
    """The spec mapping of the site as it is in ``year`` (no phases left in it)."""
    from .load import dump_site

    data = dump_site(site)
    data["grid"] = {**data["grid"], **_overrides(site.grid.phases, year, GRID_PHASE_KEYS), "phases": []}
    data["load"] = {**data["load"], **_overrides(site.load.phases, year, LOAD_PHASE_KEYS), "phases": []}
    return data


def phases(site) -> list[Phase]:
    """The site's phases in year order; one phase (the site itself) when it has none."""
    from .models import Site

    n = horizon_years(site)
    if not is_phased(site):
        return [Phase(0, 1, n, site)]
    starts = sorted({1} | {e.from_year for e in site.grid.phases if e.from_year <= n}
                    | {e.from_year for e in site.load.phases if e.from_year <= n})
    out = []
    for k, y in enumerate(starts):
        end = starts[k + 1] - 1 if k + 1 < len(starts) else n
        out.append(Phase(k, y, end, Site.model_validate(phase_site_data(site, y))))
    return out


def phase_problems(site) -> list[Problem]:
    """Phases in increasing years within the life, each phase a valid site (its cross-field rules hold)."""
    from .checks import cross_field_problems
    from pydantic import ValidationError

    out: list[Problem] = []
    n = horizon_years(site)
    for name, entries in (("grid.phases", site.grid.phases), ("load.phases", site.load.phases)):
        years = [e.from_year for e in entries]
        for i in range(1, len(years)):
            if years[i] <= years[i - 1]:
                out.append(Problem(f"{name}[{i}].from_year", years[i],
                                   f"phases must be listed in increasing from_year; the entry before starts in year {years[i - 1]}"))
        for i, y in enumerate(years):
            if y > n:
                out.append(Problem(f"{name}[{i}].from_year", y,
                                   f"must fall within the project's life, economics.lifetime_years = {site.economics.lifetime_years:g} "
                                   "(a phase after it never happens) [year]"))
    if out or not is_phased(site):
        return out
    from .models import Site

    n_starts = sorted({1} | {e.from_year for e in site.grid.phases} | {e.from_year for e in site.load.phases})
    for y in n_starts:
        try:
            ps = Site.model_validate(phase_site_data(site, y))
        except ValidationError as exc:
            out.append(Problem("grid.phases" if site.grid.phases else "load.phases", f"year {y}",
                               "each phase must be a valid site", reason=str(exc).splitlines()[0]))
            continue
        for p in cross_field_problems(ps):
            out.append(Problem(p.path, p.value, p.expected, reason=f"in the phase from year {y}: {p.reason}".rstrip(": ")))
    return out
