"""The report's economics section: lifetime cash flows (cashflows.csv) and demand charges by month."""

from __future__ import annotations

import csv

from bess_size.site_spec.tariff import MONTH_NAMES


def _m(x: float) -> str:
    return f"{x / 1e6:,.2f}"


def _table(header: list[str], rows: list[list[str]], cls: str = "num") -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def read_cashflows(out_dir) -> list[dict] | None:
    path = out_dir / "cashflows.csv"
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def lifetime_section(data) -> str:
    """The summary figures of design.json's ``lifetime``, the yearly cash-flow table, and the monthly demand charges."""
    parts = []
    life = data.design.lifetime or {}
    rows = read_cashflows(data.out_dir)
    eco = data.site.economics
    if life:
        pay = life.get("simple_payback_years")
        eol = life.get("years_to_end_of_life")
        kv = [["NPV against the grid-only reference", _m(life["npv_vs_reference_usd"]) + " M USD"],
              ["life-cycle cost of the design", _m(life["life_cycle_cost_usd"]) + " M USD"],
              ["life-cycle cost of the grid-only reference", _m(life["reference_life_cycle_cost_usd"]) + " M USD"],
              ["simple payback", "never within the life" if pay is None else f"{pay:g} years"],
              ["battery end of life (cycling + calendar ageing)", "–" if eol is None else f"{eol:.1f} years"],
              ["battery energy replaced in years", ", ".join(str(y) for y in life.get("replacement_years") or []) or "none"]]
        parts.append(_table(["", "value"], kv, "kv"))
        parts.append(f"<p>Discounted at {eco.discount_rate:.1%} over {eco.lifetime_years:g} years; escalation a year: "
                     f"energy {eco.energy_price_escalation_fraction_per_year:.1%}, demand charges "
                     f"{eco.demand_charge_escalation_fraction_per_year:.1%}, fuel {eco.fuel_price_escalation_fraction_per_year:.1%}, "
                     f"O&amp;M {eco.om_escalation_fraction_per_year:.1%}. Costs are negative; the reference serves the same "
                     "load from the grid alone at the same tariff. Wear is the battery replacement, so the optimizer's "
                     "throughput cost is not a cash flow here. Source: cashflows.csv.</p>")
    if rows:
        cols = [("year", "year"), ("capex_usd", "capital"), ("bess_replacement_usd", "replacement"), ("energy_usd", "energy"),
                ("demand_charge_usd", "demand"), ("fuel_usd", "fuel"), ("fixed_om_usd", "O&amp;M"),
                ("curtailment_and_shedding_usd", "curtailed / shed"), ("total_usd", "total"),
                ("reference_total_usd", "grid only"), ("net_vs_reference_usd", "net"),
                ("cumulative_net_vs_reference_usd", "cumulative net")]
        body = [[f"{int(r['year'])}"] + [_m(r[k]) for k, _ in cols[1:]] for r in rows]
        parts.append("<h3>Cash flows by year (million USD)</h3>" + _table([h for _, h in cols], body))
    by_month = data.design.cost.demand_charge_by_month_usd if data.design.cost is not None else []
    if by_month:
        parts.append("<h3>Expected demand charges by month (million USD)</h3>"
                     + _table(list(MONTH_NAMES), [[_m(x) for x in by_month]])
                     + "<p>Each month is billed on its own peak import (representative days keep their month and weekday).</p>")
    if not parts:
        return '<p class="missing">No cash flows in this output folder (cashflows.csv is written by <code>bess-size run</code>).</p>'
    return "".join(parts)


def phases_section(data) -> str:
    """Per phase: years, IT load, import, the binding requirement; then energize now against wait for firm."""
    rows = data.design.phases or []
    if not rows:
        return '<p class="missing">The site has no phases.</p>'
    body = []
    for r in rows:
        bind = r.get("binding_requirement")
        margin = r.get("margin_fraction")
        fig = "–" if bind is None else (f"{bind}: {r['measured']:.4g} against {r['limit']:.4g} {r.get('unit', '')}"
                                        + ("" if margin is None else f" ({margin:.1%} margin)"))
        body.append([r["phase"], f"{r['it_capacity_mw']:g}", f"{r['peak_load_mw']:g}", f"{r['firm_import_mw']:g}",
                     f"{r['nonfirm_import_mw']:g}", fig, "pass" if r.get("passed") else "FAIL"])
    parts = ["<p>One design serves every phase: each phase's optimizer scenarios are in the model, weighted by its "
             "years, and each phase's held-out scenarios are replayed with that phase's grid and load. The binding "
             "requirement of a phase is the check whose held-out figure came closest to its limit.</p>",
             _table(["phase", "IT MW", "peak MW", "firm MW", "non-firm MW", "binding requirement (held-out)", "checks"],
                    body, "")]
    t = data.design.time_to_power
    if t:
        firm = t.get("firm_year")
        kv = [["IT capacity value", f"{t['it_capacity_value_usd_per_mw_month']:,.0f} USD/MW-month"],
              ["firm import alone carries the load from", "never within the life" if firm is None else f"year {firm}"],
              ["NPV, energize now (this design)", _m(t["npv_energize_now_usd"]) + " M USD"],
              ["NPV, wait for firm (nothing built before it)", _m(t["npv_wait_for_firm_usd"]) + " M USD"],
              ["gain from energizing now", _m(t["npv_gain_usd"]) + " M USD"],
              ["months of IT capacity gained", f"{t['months_gained']:g} ({t['it_mw_months_gained']:,.0f} IT MW-months)"],
              ["battery capital of this design", _m(t["bess_capital_usd"]) + " M USD"],
              ["break-even battery capital", _m(t["break_even_bess_capital_usd"]) + " M USD"
               + ("" if t.get("break_even_bess_usd_per_mwh") is None else
                  f" ({t['break_even_bess_usd_per_mwh'] / 1000:,.0f} USD/kWh of its energy)")]]
        parts.append("<h3>Time to power: energize now or wait for firm</h3>" + _table(["", "value"], kv, "kv")
                     + "<p>Energize now earns the IT capacity value from year 1 and pays this design's cash flows; waiting "
                     "earns it from the first year whose firm import alone carries the peak load and pays the grid-only "
                     "bill from then on. Below the break-even battery capital, energizing now is worth more "
                     "(docs/economics.md).</p>")
    return "".join(parts)
