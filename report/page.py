"""The HTML page: one self-contained file (inline CSS, figures as data: URIs, no network).

A Content-Security-Policy forbids every network fetch, so a figure that is not embedded shows up
as broken in any browser instead of silently loading from somewhere. A tiny inline script marks
``<body data-figures="loaded/total">`` once the page has loaded, which the browser test reads.
Same inputs give the same bytes: no timestamps, figures without creation-time metadata.
"""

from __future__ import annotations

import html
import math
import re
import traceback

from .. import __version__
from . import figures as figs
from . import palette as pal
from .conventions import BAND_PURPOSE, band_slices, battery_figures
from .data import ReportData
from .economics import lifetime_section, phases_section

# evidence anchor -> blocks that may carry it, best first (docs/interfaces.md lists the anchors)
ANCHOR_TARGETS = {
    "poi-ramp": ["fig-poi-ramp", "windows-ramp_violation", "windows"],
    "poi-ramp-minute": ["fig-poi-ramp", "windows-ramp_violation", "windows"],
    "import-limit": ["windows-import_limit", "windows-curtailment", "windows"],
    "ride-through": ["windows-loss_of_grid", "windows-voltage_sag", "windows"],
    "islanding": ["windows-loss_of_grid", "windows"],
    "unserved-energy": ["windows-unserved", "windows-loss_of_grid", "windows"],
    "soc-bands": ["windows-soc_band", "fig-soc-fan", "bands"],
    "curtailment": ["windows-curtailment", "windows"],
    "reactive-power": ["fig-inverters"],
}

# window kinds of the simulator's timeseries.nc (and the scenario generator's), in reading order
WINDOW_KIND_TITLES = {
    "ramp_violation": "Worst POI ramp violation",
    "worst_ramp": "Steepest POI ramp",
    "import_limit": "Largest import above the limit",
    "unserved": "Largest unserved load",
    "soc_band": "Deepest draw below a band floor",
    "loss_of_grid": "Loss of grid: ride-through and islanding",
    "voltage_sag": "Voltage-sag sequence",
    "curtailment": "Curtailment call",
    "ramp_up": "Steepest load rise",
    "ramp_down": "Steepest load drop",
}

MAX_WINDOWS_PER_KIND = 3

UNIT_SUFFIXES = (
    ("_mw_s_per_year", "MW·s/year"), ("_mwh_per_year", "MWh/year"), ("_usd_per_year", "USD/year"),
    ("_per_year", "1/year"), ("_mw_per_s", "MW/s"), ("_mw_per_min", "MW/min"), ("_mw_s", "MW·s"),
    ("_mwh", "MWh"), ("_mw", "MW"), ("_usd", "USD"), ("_fraction", "fraction"), ("_count", "count"),
    ("_s", "s"), ("_h", "h"), ("_steps", "steps"),
)


def split_unit(key: str) -> tuple[str, str]:
    """('poi ramp violation', 'MW·s/year') from 'poi_ramp_violation_mw_s_per_year'."""
    for suffix, unit in UNIT_SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)].replace("_", " "), unit
    return key.replace("_", " "), ""


def wilson_interval(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Two-sided Wilson score interval of a success rate (95% for the default z).

    centre = (k + z²/2) / (n + z²), half = z·sqrt(k(n-k)/n + z²/4) / (n + z²).
    n = 100, k = 100 gives [0.963, 1.0] (DESIGN section 9's example).
    """
    if n <= 0:
        return (math.nan, math.nan)
    z2 = z * z
    centre = (successes + z2 / 2) / (n + z2)
    half = z * math.sqrt(max(successes * (n - successes) / n, 0.0) + z2 / 4) / (n + z2)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _num(x, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, float)):
        if isinstance(x, float) and not math.isfinite(x):
            return _e(x)
        if x == int(x) and abs(x) < 1e15:
            return f"{int(x):,}"
        return f"{x:,.{digits}g}" if abs(x) < 1e4 else f"{x:,.0f}"
    return _e(x)


def _days(x: float) -> str:
    return f"{x:g} day" + ("" if x == 1 else "s")


def _musd(x) -> str:
    return "–" if x is None else f"{x / 1e6:,.2f}"


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class Page:
    """Collects sections and figures; figures that fail to draw become a visible note, not a crash."""

    def __init__(self, data: ReportData):
        self.data = data
        self.sections: list[str] = []
        self.toc: list[tuple[str, str]] = []
        self.notes: list[str] = list(data.notes)
        self.anchors: dict[str, str] = {}   # evidence anchor -> block id carrying it

    def plan_anchors(self, available_blocks: set[str]) -> None:
        """Give each evidence anchor of validation.json the best block that exists."""
        for check in self.data.checks:
            anchor = evidence_anchor(check)
            if not anchor or anchor in self.anchors:
                continue
            for block in ANCHOR_TARGETS.get(anchor, []):
                if block in available_blocks:
                    self.anchors[anchor] = block
                    break
            else:
                self.anchors[anchor] = f"note-{anchor}"

    def spans(self, block: str) -> str:
        """The evidence anchors that land on ``block``, as empty elements carrying the ids."""
        return "".join(f'<span class="anchor" id="{_e(a)}"></span>' for a, b in self.anchors.items() if b == block and a != block)

    def figure(self, block: str, draw, caption: str, alt: str) -> str:
        try:
            fig = draw()
        except Exception as exc:  # a figure must never take the whole report down; say what and where
            where = traceback.extract_tb(exc.__traceback__)[-1]
            self.notes.append(f"figure '{block}' could not be drawn: {type(exc).__name__}: {exc} "
                              f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno})")
            return f'<div id="{_e(block)}">{self.spans(block)}<p class="missing">Figure not drawn: {_e(exc)}</p></div>'
        if fig is None:
            return f'<div id="{_e(block)}">{self.spans(block)}<p class="missing">{_e(caption)}: no data in this output folder.</p></div>'
        uri = figs.to_data_uri(fig)
        return (f'<figure id="{_e(block)}">{self.spans(block)}<img src="{uri}" alt="{_e(alt)}">'
                f"<figcaption>{caption}</figcaption></figure>")

    def section(self, sid: str, title: str, body: str) -> None:
        self.toc.append((sid, title))
        self.sections.append(f'<section id="{sid}"><h2>{_e(title)}</h2>{body}</section>')


def evidence_anchor(check: dict) -> str:
    ev = str(check.get("evidence") or "")
    return ev.split("#", 1)[1] if "#" in ev else ""


# --------------------------------------------------------------------------- sections


def _summary(p: Page) -> str:
    d, site = p.data.design, p.data.site
    f = battery_figures(d, site)
    checks = p.data.checks
    failed = [c for c in checks if not c.get("passed")]
    passed = p.data.validation.get("passed", not failed)
    verdict = (f'<div class="verdict {"pass" if passed else "fail"}">'
               + ("All " + str(len(checks)) + " requirement checks held on held-out scenarios" if passed
                  else f"{len(failed)} of {len(checks)} requirement checks failed: "
                  + ", ".join(_e(c.get("requirement")) for c in failed))
               + "</div>")
    unproven = [c for c in failed if c.get("scenarios") and c.get("successes") == c.get("scenarios")]
    if failed and len(unproven) == len(failed):
        target = p.data.validation.get("target_success_rate", site.reliability.target_success_rate)
        need = math.ceil(1.959963984540054**2 * target / (1 - target) - 1e-9) if target < 1 else None
        verdict += (f'<p class="missing">Every failed check held in every held-out scenario it was tested on; '
                    f"{_e(p.data.validation.get('held_out_scenarios'))} scenarios are too few to prove the target success "
                    f"rate {_num(target)}" + (f" (at least {need} are needed)" if need else "") + ".</p>")
    verdict += _binding(p)
    gen_new = sum(g.new_units * g.unit_mw for g in d.generation)
    cards = [
        ("BESS energy (nameplate E)", f"{f.energy_mwh:,.1f} MWh"),
        ("PCS power P", f"{f.power_mw:,.1f} MW"),
        ("inverters", f"{d.bess.inverters} × {d.bess.inverter_rating_mva:g} MVA"),
        ("duration (usable delivered / P)", f"{f.duration_bol_h:,.2f} h BOL · {f.duration_eol_h:,.2f} h EOL"),
        ("new onsite generation", f"{gen_new:,.0f} MW"),
    ]
    if d.energy_mix:
        cards.append(("CO2 (optimizer's year)", f"{d.energy_mix.get('co2_t_per_year', {}).get('total', 0) / 1e3:,.1f} kt/yr"))
    if d.cost is not None:
        cards.append(("total annualized cost", f"{d.cost.total_annualized_usd / 1e6:,.2f} M USD/yr"))
        cards.append(("grid energy, same prices, import limit ignored", f"{d.cost.grid_only_bill_usd / 1e6:,.2f} M USD/yr"))
    card_html = "".join(f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>' for k, v in cards)
    rows = [["energy E", f"{d.bess.energy_mwh:,.2f} MWh"],
            ["containers", _num(d.bess.containers)],
            ["PCS power P", f"{d.bess.pcs_power_mw:,.2f} MW (C-rate {d.bess.pcs_power_mw / d.bess.energy_mwh if d.bess.energy_mwh else math.nan:,.2f} /h)"],
            ["inverters", f"{d.bess.inverters} × {d.bess.inverter_rating_mva:g} MVA = {d.bess.inverters * d.bess.inverter_rating_mva:,.1f} MVA"],
            ["power headroom kept free", f"up {d.bess.headroom_mw.up:,.2f} MW, down {d.bess.headroom_mw.down:,.2f} MW"],
            ["ride-through reserve at full P", f"{f.ride_through_at_full_power_s:,.0f} s (required: {site.reliability.ride_through.duration_s:g} s at "
             f"{site.reliability.ride_through.load_fraction:.0%} of the load)"]]
    gen_rows = [[_e(g.kind), str(g.existing_units), str(g.new_units), f"{g.unit_mw:g}", f"{g.units * g.unit_mw:,.0f}"] for g in d.generation]
    inv = p.figure("fig-inverters", lambda: figs.inverter_capability(p.data.windows, d),
                   "Inverter count: the PCS must cover the real power P and the reactive power the site needs (to hold "
                   "the POI power factor, or the island's whole load) inside the inverters' apparent-power circle.",
                   "inverter capability chart")
    gen = _table(["kind", "existing units", "new units", "unit [MW]", "installed [MW]"], gen_rows) if gen_rows else "<p>No onsite thermal generation.</p>"
    gen += _island_margin(d, site)
    held = p.data.validation.get("held_out_scenarios")
    return (verdict + f'<div class="cards">{card_html}</div>'
            + f"<p>Site <b>{_e(site.name)}</b>: peak load {site.load.peak_mw:,.0f} MW, firm import {site.grid.firm_import_mw:,.0f} MW "
            f"+ non-firm {site.grid.nonfirm_import_mw:,.0f} MW, POI ramp limits {site.grid.ramp_limit_mw_per_s:g} MW/s and "
            f"{site.grid.ramp_limit_mw_per_min:g} MW/min. Validated by replay on {_e(held if held is not None else '?')} held-out scenarios "
            f"of {_days(site.scenarios.trace_days)} at {site.scenarios.transient_resolution_s:g} s.</p>"
            + "<h3>Battery</h3>" + _table(["", "value"], rows, "kv") + inv + "<h3>Onsite generation</h3>" + gen)


def _island_margin(d, site) -> str:
    from bess_size.site_spec.design import island_margin_text

    text = island_margin_text(d, site)
    return f'<p id="island-margin">{_e(text)}</p>' if text else ""


def _binding(p: Page) -> str:
    """What sized what: each first-stage quantity, the requirement that sets it, its marginal value, the next one."""
    entries = p.data.design.binding
    if not entries:
        return ('<h3 id="what-sized">What sized what</h3><p class="missing">design.json does not say which requirement '
                "set each quantity (written by another tool, or the LP at the solution did not solve).</p>")
    rows = []
    for e in entries:
        b, r = e.binding, e.runner_up
        if b is None:
            rows.append([_e(e.label), _e(e.value_text()), "no requirement asks for it", "", "", ""])
            continue
        cost = f"{b.marginal_usd_per_year:,.0f}" if b.marginal_usd_per_year else "0 (fits in what others bought)"
        rows.append([_e(e.label), _e(e.value_text()),
                     _e(b.text) + (f" <code>{_e(b.field)}</code>" if b.field else ""),
                     f"{b.needs:,.4g}", cost, _e(r.text) if r else ""])
    return ('<h3 id="what-sized">What sized what</h3>'
            "<p>Each quantity of the design, the requirement that sets it (in this site's terms, with the spec field "
            "behind it), how much of the quantity it asks for, and what one more unit of it costs per year (the dual of "
            "the LP at the solution: generator units held at their count, containers and inverters continuous; for "
            "generator units, what a unit costs net of what it saves). The last column is the next requirement: what "
            "the quantity would shrink to if the binding one were relaxed.</p>"
            + _table(["quantity", "design", "set by", "needs", "one more unit costs [USD/yr]", "next requirement"], rows))


def _energy_mix(p: Page) -> str:
    """Where a year's energy comes from and what it emits: the optimizer's expectation beside the replay's."""
    from bess_size.site_spec.energy_mix import replay_energy_mix

    d, site = p.data.design, p.data.site
    plan = d.energy_mix
    if not plan:
        return '<p class="missing">design.json carries no energy mix (written by another tool or an older version).</p>'
    replay = replay_energy_mix(site, d, p.data.validation.get("results") or {}) or {}

    def cell(mix, *keys):
        x = mix
        for k in keys:
            x = (x or {}).get(k) if isinstance(x, dict) else None
        return "–" if x is None else f"{x:,.0f}"
    rows = [["grid import", cell(plan, "grid_import_mwh_per_year"), cell(replay, "grid_import_mwh_per_year")]]
    for name in plan.get("generation_mwh_per_year", {}):
        rows.append([_e(name), cell(plan, "generation_mwh_per_year", name), cell(replay, "generation_mwh_per_year", name)])
    rows += [["PV used", cell(plan, "pv_used_mwh_per_year"), cell(replay, "pv_used_mwh_per_year")],
             ["battery discharge", cell(plan, "bess_discharge_mwh_per_year"), cell(replay, "bess_discharge_mwh_per_year")],
             ["PV curtailed", cell(plan, "pv_curtailed_mwh_per_year"), cell(replay, "pv_curtailed_mwh_per_year")],
             ["load unserved", cell(plan, "unserved_energy_mwh_per_year"), cell(replay, "unserved_energy_mwh_per_year")],
             ["flexible load shed", cell(plan, "flexible_load_shed_mwh_per_year"), cell(replay, "flexible_load_shed_mwh_per_year")]]
    co2 = [["<b>total</b>" if k == "total" else _e(k), cell(plan, "co2_t_per_year", k), cell(replay, "co2_t_per_year", k)]
           for k in plan.get("co2_t_per_year", {})]
    cf = [[_e(k), f"{v:.1%}", f"{(replay.get('capacity_factor') or {}).get(k, float('nan')):.1%}" if replay else "–"]
          for k, v in plan.get("capacity_factor", {}).items()]
    factors = ", ".join([f"grid {site.grid.co2_t_per_mwh:g}"]
                        + [f"{u.kind} {u.emission_factor_t_per_mwh:.3f}" for u in site.thermal])
    econ = site.economics
    policy = (f" The optimizer paid {econ.co2_price_usd_per_t:g} USD/t of CO2" if econ.co2_price_usd_per_t else
              " CO2 carried no price in the optimization")
    policy += (f" and held emissions under the cap of {econ.co2_cap_t_per_year:,.0f} t/year." if econ.co2_cap_t_per_year
               is not None else " and no cap.")
    return ("<p>Energy a year by source, as the optimizer expects it and as the held-out replay measured it. The replay "
            "reports generation as a total, split between thermal types as the optimizer's dispatch splits it; PV used "
            "there is the expected PV output less what the replay curtailed.</p>"
            + _table(["source", "optimizer [MWh/yr]", "replay [MWh/yr]"], rows, "num")
            + f"<p>CO2 at these emission factors [t/MWh]: {_e(factors)} (spec keys <code>grid.co2_t_per_mwh</code>, "
            f"<code>generation[].co2_t_per_mwh</code>).{_e(policy)}</p>"
            + _table(["CO2 from", "optimizer [t/yr]", "replay [t/yr]"], co2, "num")
            + (_table(["capacity factor", "optimizer", "replay"], cf, "num") if cf else ""))


def _cost(p: Page) -> str:
    c = p.data.design.cost
    if c is None:
        return '<p class="missing">design.json carries no cost.</p>'
    fig = p.figure("fig-cost", lambda: figs.cost_breakdown(p.data.design),
                   "Annual cost with this design (annualized capital plus expected operating cost) beside the reference "
                   "bill: the same load's grid energy at the same prices, ignoring the import limit. The optimizer minimises the difference, so its MIP gap "
                   "measures the decision, not the large constant bill.", "cost breakdown bar chart")
    rows = [["annualized capital", _musd(c.annualized_capex_usd)],
            ["expected annual operating", _musd(c.expected_annual_opex_usd)],
            ["<b>total annualized</b>", f"<b>{_musd(c.total_annualized_usd)}</b>"],
            ["grid energy at the same prices, ignoring the import limit (the reference bill)", _musd(c.grid_only_bill_usd)],
            ["total minus the reference bill", _musd(c.total_annualized_usd - c.grid_only_bill_usd)]]
    rows += [[_e(pal.cost_label(k)), _musd(v)] for k, v in pal.cost_parts(c.breakdown).items()]
    crf = p.data.site.economics.capital_recovery_factor
    if c.grid_only_feasible is False:
        ref = (f'<p id="grid-only" class="missing">The grid alone could not serve this site: its net load exceeds the '
               f"import limit by up to {c.grid_only_shortfall_mw:,.1f} MW (firm import only during curtailment calls). "
               "The reference bill prices the same energy at the same tariff as if the limit did not exist: a yardstick "
               "for the design's cost, not an alternative to it.</p>")
    elif c.grid_only_feasible:
        ref = ('<p id="grid-only">The grid alone could serve this site within its import limit; the reference bill is '
               "what that would cost (before the ramp, ride-through and islanding requirements, which it does not meet).</p>")
    else:
        ref = ""
    return (fig + ref + _table(["item", "million USD / year"], rows, "kv num")
            + f"<p>Capital is annualized with the capital recovery factor {crf:.4f} "
            f"({p.data.site.economics.discount_rate:.1%} over {p.data.site.economics.lifetime_years:g} years).</p>")


def _bands(p: Page) -> str:
    d, site = p.data.design, p.data.site
    E = d.bess.energy_mwh
    fig = p.figure("fig-bands", lambda: figs.band_diagram(d, site),
                   "Stored energy from empty to nameplate, at beginning (BOL) and end of life (EOL). The bands are "
                   "sized to fit the end-of-life usable span, so they hold for the whole life of the battery.",
                   "SoC band diagram")
    rows = []
    for name, lo, hi in band_slices(d, site)["bol"]:
        rows.append([f'<span class="swatch" style="background:{pal.BANDS.get(name, "#fff")}"></span>{_e(pal.BAND_LABELS.get(name, name))}',
                     f"{lo:,.2f} – {hi:,.2f}", f"{hi - lo:,.2f}", f"{(hi - lo) / E:.1%}" if E else "–", _e(BAND_PURPOSE.get(name, ""))])
    return p.spans("bands") + fig + _table(["slice (bottom to top)", "stored energy [MWh]", "size [MWh]", "of E", "reserved for"], rows)


def _validation(p: Page) -> str:
    v = p.data.validation
    n = v.get("held_out_scenarios")
    target = v.get("target_success_rate", p.data.site.reliability.target_success_rate)
    rows = []
    for c in p.data.checks:
        ok = bool(c.get("passed"))
        status = str(c.get("status") or ("pass" if ok else "fail"))
        rate = c.get("success_rate")
        lower = c.get("success_rate_lower_95")
        k, m = c.get("successes"), c.get("scenarios", n)
        if k is None and rate is not None and isinstance(m, int):
            k = round(rate * m)
        interval = "–"
        if k is not None and isinstance(m, int) and m > 0:
            lo, hi = wilson_interval(k, m)
            interval = f"[{lower if lower is not None else lo:.3f}, {hi:.3f}]"
        elif lower is not None:
            interval = f"≥ {lower:.3f}"
        anchor = evidence_anchor(c)
        link = f'<a href="#{_e(anchor)}">evidence</a>' if anchor else "–"
        what = _e(str(c.get("requirement", "?")).replace("_", " "))
        if c.get("description"):
            what += f'<div class="desc">{_e(c["description"])}</div>'
        if not ok and k is not None and k == m and isinstance(m, int) and m > 0:
            need = math.ceil(1.959963984540054**2 * target / (1 - target) - 1e-9) if target < 1 else None
            what += (f'<div class="desc">held in all {m} scenarios, but {m} cannot prove the target {_num(target)}'
                     + (f": at least {need} held-out scenarios are needed" if need else "") + "</div>")
        cdetail = dict(c.get("detail") or {})
        natural = cdetail.pop("natural", None)
        detail = _flat_detail(cdetail)
        if isinstance(natural, dict) and natural:
            nat = (f"natural state: {natural.get('successes')}/{natural.get('scenarios')} held; "
                   if natural.get("scenarios") is not None else "natural state: ")
            what += f'<div class="desc">{_e(nat + _flat_detail({k: v for k, v in natural.items() if k not in ("successes", "scenarios")}))}</div>'
        if detail:
            what += f'<div class="desc">{_e(detail)}</div>'
        if c.get("failed_scenarios"):
            what += f'<div class="desc">failed in held-out scenarios {_e(", ".join(map(str, c["failed_scenarios"])))}</div>'
        rows.append([what, f'<span class="badge {"pass" if ok else "fail"}">{_e(status.upper())}</span>',
                     _e(str(c.get("state", "natural"))),
                     f'{_num(c.get("measured"))} {_e(c.get("comparator", "<="))} {_num(c.get("limit"))}',
                     _num(c.get("margin")), _e(c.get("unit", "")),
                     "–" if rate is None else (f"{rate:.3f} ({k}/{m})" if k is not None else f"{rate:.3f}"), interval, link])
    for name, why in (v.get("not_applicable") or {}).items():
        rows.append([_e(name.replace("_", " ")) + f'<div class="desc">{_e(why)}</div>', "N/A", "–", "–", "–", "–", "–",
                     "–", "–"])
    table = _table(["requirement", "result", "state", "measured vs limit", "margin", "unit", "success rate",
                    "Wilson 95% interval", "figure"], rows, "checks")
    return (f"<p>Each requirement of the site is checked by replaying the design, with a controller that has no "
            f"foresight, on {_e(n)} held-out scenarios the optimizer never saw. A check passes when the lower end of "
            f"the two-sided 95% Wilson interval of its success rate reaches the target {_num(target)}. "
            f"<em>Measured</em> is the worst figure over all held-out scenarios; the <em>margin</em> is how far it is from "
            f"crossing its limit (negative: crossed). Contingency checks judge the <em>stress</em> state: each loss of "
            f"grid and sag met with the battery at the ride-through reserve's top, each curtailment call announced "
            f"with it at the curtailment reserve's top, generation cold except units carrying load above the import "
            f"limit; the natural replay's figures are shown beside them. A check the sample is too small to prove "
            f"is INCONCLUSIVE; one the site cannot exercise is N/A.</p>" + table
            + ("<p>Not exercised by any held-out scenario (no evidence either way): "
               + ", ".join(_e(x) for x in v["not_exercised"]) + ".</p>" if v.get("not_exercised") else "")
            + ("<p>Replay: " + "; ".join(f"{_e(k.replace('_', ' '))}: {_e(x)}" for k, x in v["controller"].items()) + ".</p>"
               if isinstance(v.get("controller"), dict) else ""))


def _flat_detail(detail, prefix: str = "") -> str:
    """A check's detail mapping as one line of its non-zero figures ('violation steps 3; causes power 2')."""
    if not isinstance(detail, dict):
        return ""
    parts = []
    for k, v in detail.items():
        name, unit = split_unit(k)
        name = prefix + name
        if isinstance(v, dict):
            inner = _flat_detail(v)
            if inner:
                parts.append(f"{name}{f' ({unit})' if unit else ''}: {inner.replace('; ', ', ')}")
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and v:
            parts.append(f"{name} {_num(v)}{f' {unit}' if unit else ''}")
    return "; ".join(parts)


def _promises(p: Page) -> str:
    v = p.data.validation
    rows = []
    if isinstance(v.get("promises_vs_results"), list):  # the simulator's own pairing, with units
        for r in v["promises_vs_results"]:
            name, unit = split_unit(str(r.get("key", "")))
            flag = f'<div class="desc">&#9873; {_e(r["flag"])}</div>' if r.get("flag") else ""
            rows.append([_e(name) + flag, _e(r.get("unit") or unit), _num(r.get("promised")),
                         _num(r.get("simulated")) if r.get("simulated") is not None else "–",
                         _num(r.get("ratio")) if r.get("ratio") is not None else "–"])
    else:
        promises = dict(p.data.design.promises)
        results = dict(v.get("results") or {})
        for c in p.data.checks:
            if c.get("promise") is not None and c.get("requirement"):
                promises.setdefault(str(c["requirement"]), c["promise"])
                results.setdefault(str(c["requirement"]), c.get("measured"))
        for key, promised in promises.items():
            name, unit = split_unit(key)
            got = results.get(key)
            rows.append([_e(name), _e(unit), _num(promised), _num(got) if got is not None else "–", "–"])
    metrics = v.get("metrics") if isinstance(v.get("metrics"), dict) else {}
    extra = ""
    if metrics:
        mrows = []
        for key, val in metrics.items():
            name, unit = split_unit(key)
            if key.startswith("years_to_end_of_life"):
                name += " (an estimate from the spec's cycle-life curve and calendar fade, not a measurement)"
            mrows.append([_e(name), _e(unit), _num(val)])
        extra = ("<h3>Replay figures over all held-out scenarios</h3><p>Extremes and totals over every replayed "
                 "second (not scaled to a year).</p>" + _table(["quantity", "unit", "value"], mrows, "num"))
    if not rows:
        return '<p class="missing">Neither design.json nor validation.json carries promises or results.</p>' + extra
    return ("<p>The optimizer's expectations for a year of operation, beside what the no-foresight replay measured on "
            "held-out scenarios (scaled to a year). A replay figure far above its promise means the optimizer's "
            "scenarios missed something the held-out ones contain. Forced contingencies count at their own rates a "
            "year. Where the two differ by more than 25% (or one is zero), the row is flagged (&#9873;) with its "
            "likely cause. A dash: that side has no figure for the quantity.</p>"
            + _table(["quantity", "unit", "optimizer promise", "simulator result", "ratio"], rows, "num") + extra)


def _windows(p: Page) -> str:
    win = p.data.windows
    if win is None or "window" not in win.dims:
        return p.spans("windows") + '<p class="missing">timeseries.nc holds no full-resolution windows.</p>'
    kinds = [str(k) for k in win["kind"].values] if "kind" in win.variables else ["window"] * win.sizes["window"]
    out = [p.spans("windows"),
           "<p>The worst held-out windows at full resolution. Top: site load, POI import with its ramp envelope (the band the "
           "60-second limit lets it move in, given its own last minute), the import limit, onsite generation and PV; red "
           "crosses mark seconds where the POI broke the per-second or the 60-second limit. Middle: battery power against "
           "the PCS rating. Bottom: SoC on the end-of-life bands.</p>"]
    order = list(WINDOW_KIND_TITLES) + sorted(set(kinds) - set(WINDOW_KIND_TITLES))
    for kind in order:
        idx = [i for i, k in enumerate(kinds) if k == kind]
        if not idx:
            continue
        block = f"windows-{kind}"
        out.append(f'<h3 id="{_e(block)}">{p.spans(block)}{_e(WINDOW_KIND_TITLES.get(kind, kind.replace("_", " ")))}</h3>')
        if kind == "loss_of_grid":
            out.append(f"<p>{_e(_island_rule(p.data.site))}</p>")
        for i in idx[:MAX_WINDOWS_PER_KIND]:
            one = win.isel(window=i)
            out.append(p.figure(f"window-{i}", lambda one=one: figs.dispatch_window(one, p.data.design, p.data.site),
                                f"Window {i}: {_e(kind.replace('_', ' '))}"
                                + (" (stress state: battery down to the top of the reserve the contingency may draw, generation cold)"
                                   if "state" in one.coords and str(one["state"].values) == "stress" else "")
                                + f". {_e(_window_figures(one, p.data))}",
                                f"dispatch plot of window {i}"))
        if len(idx) > MAX_WINDOWS_PER_KIND:
            out.append(f"<p>{len(idx) - MAX_WINDOWS_PER_KIND} more windows of this kind are in timeseries.nc.</p>")
    return "".join(out)


def _island_rule(site) -> str:
    """What the ride-through reserve was sized for after a loss of grid, in the spec's terms."""
    rel, g = site.reliability, site.grid
    text = (f"The reserve covers {rel.ride_through.load_fraction:.0%} of the load for {rel.ride_through.duration_s:g} s"
            + (" and, islanded, until onsite generation carries the load" if rel.islanding.required else "")
            + f"; when the grid returns, import comes back at {g.reconnect_ramp_mw_per_min:g} MW/min and the battery "
            "and generation carry the rest.")
    fl = site.load.flexible
    if rel.islanding.required and fl is not None and fl.max_fraction > 0:
        text += (f" Flexible load ({fl.max_fraction:.0%}) is shed in an island from "
                 f"{max(rel.ride_through.duration_s, rel.islanding.flexible_shed_delay_s):g} s after the grid loss "
                 "(reliability.islanding.shed_flexible_load)." if rel.islanding.shed_flexible_load else
                 " Flexible load is not shed in an island (reliability.islanding.shed_flexible_load is false).")
    return text


def _window_figures(win, data: ReportData) -> str:
    """The window's key numbers in one sentence: steepest POI step, largest discharge, lowest SoC, unserved."""
    import numpy as np

    from .data import soc_fraction, variable

    dt = data.site.scenarios.transient_resolution_s
    parts = []
    poi = variable(win, "poi_mw")
    ok = variable(win, "grid_available")
    if poi is not None and poi.size > 1:
        steps = np.abs(np.diff(np.asarray(poi.values, dtype=float))) / dt
        if ok is not None:  # a loss of grid cuts import by design: not a ramp
            up = np.asarray(ok.values) != 0
            steps = steps[up[1:] & up[:-1]]
        if steps.size:
            parts.append(f"steepest POI change {steps.max():.2f} MW/s (limit {data.site.grid.ramp_limit_mw_per_s:g})")
    bess = variable(win, "bess_mw")
    if bess is not None:
        parts.append(f"largest discharge {float(np.nanmax(bess.values)):,.1f} MW of {data.design.bess.pcs_power_mw:,.1f}")
    soc = soc_fraction(win, data.design.bess.energy_mwh)
    if soc is not None:
        parts.append(f"lowest SoC {100 * float(np.nanmin(soc.values)):.1f}% of E")
    uns = variable(win, "unserved_mw")
    if uns is not None:
        parts.append(f"unserved {float(np.nansum(uns.values)) * dt / 3600:,.3f} MWh")
    return ("In this window: " + "; ".join(parts) + ".") if parts else ""


def _held_out(p: Page) -> str:
    d, site = p.data.design, p.data.site
    fan = p.figure("fig-soc-fan", lambda: figs.soc_fan_chart(p.data.hourly, d, site),
                   "Where the SoC lives over the held-out scenarios: percentiles of hourly mean SoC across scenarios, on the "
                   "end-of-life bands. The reserves below the operating band should stay full outside events.",
                   "SoC fan chart")
    ramp = p.figure("fig-poi-ramp", lambda: figs.poi_ramp_duration(p.data),
                    "Duration curves of the POI import's change over one second (left) and over 60 seconds (right), against "
                    "the utility's limits: the share of time (log scale) the change reached each level.",
                    "POI ramp duration curves")
    return fan + ramp


def _transient(p: Page) -> str:
    fig = p.figure("fig-transient", lambda: figs.transient_requirements(p.data.transient, p.data.design),
                   "What the optimizer was told to cover: per optimizer scenario, the battery residual of the POI policy "
                   "and the stored-energy deviation it causes (from scenarios.nc), against the headroom and bands the "
                   "design keeps for them.", "screened transient requirements")
    return fig + f"<p>{_e(_screening_note(p.data.design_raw.get('transient_screening') or {}))}</p>"


def _screening_note(ts: dict) -> str:
    """Which generation fleet the transient requirements assumed (design.json transient_screening)."""
    fleet = ", ".join(f"{f['units']} {f['kind']}" for f in ts.get("fleet", [])) or "no thermal generation"
    text = ("The screening sees the whole site: the POI policy, generation carrying the load above the import "
            "limit and a curtailment call's gap, each unit after its start time at its ramp rate (screened with "
            f"{fleet} installed), PV surplus curtailed before it is stored; the battery covers the rest (a call's "
            "bridge in the up-ramp buffer, the gap no unit carries in the curtailment reserve).")
    if ts.get("fleet_sensitive"):
        text += (f" The fleet is a decision, so screening and the optimizer iterated ({ts.get('rounds', 1)} solves); "
                 + ("the solved fleet gives the same figures as the screened one." if ts.get("stable") else
                    "the solved fleet is at least the screened one (more units only help generation follow)."))
    return text


def _solver(p: Page) -> str:
    raw = p.data.design_raw.get("solver") or {}
    if not raw:
        return '<p class="missing">design.json carries no solver figures.</p>'
    rows = []
    # a design a time limit left above the requested gap says so before any figure
    warning = f'<p class="missing">Not proven: {_e(raw["warning"])}</p>' if raw.get("warning") else ""
    for k, v in raw.items():
        name, unit = split_unit(k)
        if k == "warning":
            continue
        if k in ("mip_gap", "requested_mip_gap") and isinstance(v, (int, float)):
            rows.append(["relative MIP gap (on the decision objective)" + (", requested" if k != "mip_gap" else ""),
                         f"{v:.3%}"])
        else:
            rows.append([_e(name) + (f" [{_e(unit)}]" if unit else ""), _num(v) if not isinstance(v, dict) else _e(v)])
    for k in ("model_stats", "model"):
        stats = p.data.design_raw.get(k)
        if isinstance(stats, dict):
            rows += [[_e(split_unit(a)[0]), _num(b)] for a, b in stats.items() if not isinstance(b, (dict, list))]
    return warning + _table(["", "value"], rows, "kv")


def _conventions(p: Page) -> str:
    f = battery_figures(p.data.design, p.data.site)
    b = p.data.site.bess
    return f"""<ul>
<li><b>Energy E</b> is nameplate stored energy: {f.energy_mwh:,.2f} MWh.</li>
<li><b>Usable energy</b> is E·(soc_max − soc_min) = {f.energy_mwh:,.2f} × ({b.soc_max_fraction:g} − {b.soc_min_fraction:g}) =
 {f.usable_bol_mwh:,.2f} MWh at beginning of life. The SoC bands are sized inside the end-of-life span
 U = end_of_life_fraction × usable = {b.end_of_life_fraction:g} × {f.usable_bol_mwh:,.2f} = {f.usable_eol_mwh:,.2f} MWh,
 stacked above the floor F = soc_min·E = {f.floor_mwh:,.2f} MWh.</li>
<li><b>Delivered energy</b> at the AC terminals is stored energy × discharge efficiency ({b.discharge_efficiency:g}):
 {f.delivered_bol_mwh:,.2f} MWh usable delivered at beginning of life, {f.delivered_eol_mwh:,.2f} MWh at end of life.
 Charging stores AC energy × charge efficiency ({b.charge_efficiency:g}).</li>
<li><b>Duration</b> is usable delivered energy over PCS power P = {f.power_mw:,.2f} MW: {f.duration_bol_h:,.2f} h at beginning of
 life, {f.duration_eol_h:,.2f} h at end of life.</li>
<li><b>SoC</b> in figures is stored energy over nameplate E, in percent. Battery power is positive when discharging.</li>
<li><b>Costs</b> are per year: capital annualized by the capital recovery factor, operating costs as the expectation over
 scenarios weighted to a year. The reference bill is the same load's grid energy at the same prices, ignoring the import limit (design.json cost.grid_only_bill_usd, also cost.grid_energy_reference_usd).</li>
<li><b>Success rates</b> count held-out scenarios in which the requirement held; bounds are two-sided 95% Wilson score intervals.</li>
<li>SoC is cyclic on every representative day of the optimizer, so no design gets free energy from its initial charge.</li>
</ul>"""


def _inputs(p: Page) -> str:
    """The validated site spec itself, so the report stands alone as a record of what was sized."""
    import yaml

    from ..site_spec import dump_site

    site = p.data.site
    sc = site.scenarios
    spec = yaml.safe_dump(dump_site(site), sort_keys=False, allow_unicode=True)
    return (f"<p>Scenarios: {sc.count} optimizer scenarios and {_e(p.data.validation.get('held_out_scenarios', sc.held_out))} "
            f"held-out scenarios of {_days(sc.trace_days)} at {sc.transient_resolution_s:g} s, seed {sc.seed} (same seed, same "
            f"scenarios, bit for bit). To reproduce: save the spec below as <code>site.yaml</code> and run "
            f"<code>bess-size run site.yaml -o out</code>; <code>bess-size report out</code> rewrites this page from the "
            f"output folder.</p><details><summary>The site spec as validated (YAML)</summary><pre>{_e(spec)}</pre></details>")


LEAVES_OUT = [
    "The electrical network: the site is one bus behind the POI; no load flow, protection coordination, harmonics, "
    "flicker or sub-cycle dynamics (grid-forming behaviour, inertia, fault current) are modelled.",
    "Dynamics faster than the transient resolution: swings inside one time step enter only through each step's "
    "minimum and maximum load, which size the PCS; their energy is not tracked.",
    "Reactive power beyond sizing: inverters are sized for the real and reactive power the site needs, but voltage "
    "control is not simulated.",
    "Battery physics beyond a bucket: constant charge and discharge efficiencies, no SoC- or temperature-dependent "
    "power limits, no auxiliary (HVAC) load; degradation is a rainflow estimate, capacity fade is covered by sizing "
    "the bands for end of life rather than by a year-by-year augmentation plan.",
    "Forecasts and foresight: the replay controller knows only the past and announced curtailment notices; the "
    "optimizer sees its scenarios perfectly, which is why its promises are checked on held-out scenarios.",
    "A year from representative days: the optimizer's energy layer compresses the year into weighted days (its "
    "representation error is stated in scenarios.nc); held-out replays cover trace_days per scenario, not a year.",
    "Statistical, not worst-case, guarantees: a passing check means the success rate's 95% lower bound reached the "
    "target over the held-out scenarios drawn from the site's own stochastic model; events outside that model "
    "(or a model that is wrong about the site) are not covered.",
    "Generator reliability: units start when commanded after their start time; failures to start and fuel supply "
    "are not modelled. Emissions are annual CO2 at fixed factors (grid and fuel); local air-permit limits (NOx, "
    "hours per year) are not.",
    "Money beyond the stated costs: no taxes, incentives, financing structure, land, fixed O&M or revenue from grid "
    "services other than the energy-price arbitrage the model sees.",
]

CSS = """
:root{--grid:%(grid)s;--bess:%(bess)s;--pass:%(pass)s;--fail:%(fail)s}
*{box-sizing:border-box}
body{font:15px/1.5 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#1b1b1b;margin:0;background:#fafafa}
header{background:#1b2a3a;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:24px}
header p{margin:4px 0 0;color:#c9d3de}
nav{display:flex;flex-wrap:wrap;gap:4px 14px;padding:8px 28px;background:#eef1f4;border-bottom:1px solid #d5dbe1;font-size:14px}
nav a{color:#1b2a3a;text-decoration:none;white-space:nowrap}
main{max-width:1180px;margin:0 auto;padding:8px 28px 40px}
section{background:#fff;border:1px solid #e2e6ea;border-radius:6px;padding:6px 20px 16px;margin:18px 0}
h2{border-bottom:2px solid var(--grid);padding-bottom:4px}
figure{margin:14px 0}
figure img{max-width:100%%;height:auto;display:block;border:1px solid #eee}
figcaption{font-size:13px;color:#444;margin-top:4px}
table{border-collapse:collapse;margin:10px 0;font-size:14px}
th,td{border-bottom:1px solid #e2e6ea;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f3f5f7}
table.num td:not(:first-child),table.checks td:nth-child(n+3){text-align:right;font-variant-numeric:tabular-nums}
.badge{font-weight:700;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}
.verdict{font-weight:700;padding:10px 14px;border-radius:6px;margin:12px 0;color:#fff}
.verdict.pass{background:var(--pass)}.verdict.fail{background:var(--fail)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{border:1px solid #e2e6ea;border-left:4px solid var(--bess);border-radius:4px;padding:6px 12px;min-width:170px;background:#fff}
.card .k{font-size:12px;color:#555}.card .v{font-size:17px;font-weight:600}
.swatch{display:inline-block;width:12px;height:12px;border:1px solid #777;margin-right:6px;vertical-align:-1px}
.missing{color:#8a5a00;background:#fff6e0;padding:6px 10px;border-radius:4px}
.desc{font-size:12px;color:#555}
.anchor{display:block;position:relative;top:-8px}
:target{outline:3px solid #f0b400;outline-offset:4px}
pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px;max-height:480px}
summary{cursor:pointer;font-weight:600}
@media print{nav{display:none}section{break-inside:avoid}}
""" % {"grid": pal.GRID, "bess": pal.BESS, "pass": pal.PASS, "fail": pal.FAIL}

# marks <body> once every image has loaded (browser test) and records script errors
SCRIPT = """
(function(){
  window.addEventListener('error', function(e){ document.body.setAttribute('data-js-error', String(e.message)); });
  window.addEventListener('load', function(){
    var imgs = document.images, ok = 0;
    for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
    document.body.setAttribute('data-figures', ok + '/' + imgs.length);
  });
})();
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def render(data: ReportData) -> str:
    """The whole report as one HTML string."""
    p = Page(data)
    available = {"bands", "windows", "fig-poi-ramp", "fig-soc-fan", "fig-inverters"}
    if data.windows is not None and "kind" in data.windows.variables:
        available |= {f"windows-{k}" for k in map(str, data.windows["kind"].values)}
    p.plan_anchors(available)
    p.section("summary", "Design summary", _summary(p))
    p.section("cost", "Cost", _cost(p))
    p.section("energy-mix", "Energy mix and emissions", _energy_mix(p))
    p.section("lifetime", "Lifetime cash flows", lifetime_section(data))
    if data.design.phases:
        p.section("phases", "Phases and time to power", phases_section(data))
    p.section("validation", "Validation on held-out scenarios", _validation(p))
    p.section("promises", "Optimizer promises and simulator results", _promises(p))
    p.section("bands", "SoC bands", _bands(p))
    p.section("windows", "Worst transient windows", _windows(p))
    p.section("held-out", "SoC and POI ramps over held-out scenarios", _held_out(p))
    if data.transient is not None:
        p.section("transient", "Transient requirements the optimizer covered", _transient(p))
    p.section("solver", "Solver", _solver(p))
    p.section("conventions", "Conventions", _conventions(p))
    p.section("inputs", "Inputs and reproduction", _inputs(p))
    p.section("leaves-out", "What the model leaves out", "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in LEAVES_OUT) + "</ul>")
    # evidence anchors whose figure is absent land on a note that says so
    p.notes += [str(x) for x in data.validation.get("notes") or []]
    emitted = set(re.findall(r'\bid="([^"]+)"', "".join(p.sections)))
    orphans = [(a, b) for a, b in p.anchors.items() if a not in emitted]
    if orphans or p.notes:
        body = ""
        for anchor, _ in orphans:
            checks = [c for c in data.checks if evidence_anchor(c) == anchor]
            desc = "; ".join(f"{_e(c.get('requirement'))}: measured {_num(c.get('measured'))} {_e(c.get('unit', ''))} "
                             f"against {_num(c.get('limit'))}" for c in checks)
            body += f'<p id="{_e(anchor)}">Evidence <code>#{_e(anchor)}</code> ({desc}): no figure for it in this output folder.</p>'
        body += "".join(f'<p class="missing">{_e(n)}</p>' for n in p.notes)
        p.section("notes", "Notes", body)
    toc = " ".join(f'<a href="#{sid}">{_e(t)}</a>' for sid, t in p.toc)
    title = f"bess-size report: {data.site.name}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head><body>"
            f"<header><h1>{_e(title)}</h1><p>Battery storage sized by a two-stage stochastic MILP and checked by "
            f"no-foresight replay on held-out scenarios · bess-size {__version__}</p></header>"
            f"<nav>{toc}</nav><main>{''.join(p.sections)}</main><script>{SCRIPT}</script></body></html>\n")
