"""Run the warnings over every month of a generated province and score them against its
injected events (:mod:`.truth`); the table of docs/monitoring.md comes from here."""

from __future__ import annotations

import pandas as pd

from jingxin import reference
from jingxin.core.warehouse import Warehouse
from jingxin.monitoring.indicators import compute
from jingxin.monitoring.rules import Rules, load_rules
from jingxin.monitoring.service import HISTORY, month_warnings
from jingxin.monitoring.truth import false_rates, quiet_months, score_event
from jingxin.monitoring.warnings import Warning


def all_warnings(wh: Warehouse, months: list[tuple[int, int]], rules: Rules | None = None) -> list[Warning]:
    rules = rules or load_rules()
    out: list[Warning] = []
    for y, m in months:
        table = compute(wh, y, m, history=HISTORY, levels=rules.regions.levels)
        out += month_warnings(wh, y, m, rules, table)[1]
    return out


def check_events(wh: Warehouse, manifest: dict, rules: Rules | None = None) -> dict:
    years = sorted(int(y) for y in manifest["parameters"]["years"]) if "parameters" in manifest else None
    events = manifest.get("events", [])
    if not years:
        years = sorted({int(e["start"][:4]) for e in events})
    # growth needs last year: warnings from the second year on
    months = [(y, m) for y in years[1:] for m in range(2, 13)]
    found = all_warnings(wh, months, rules)
    reg = wh.current("registry")
    counties_present = sorted(wh.execute(reg.select("county_code").distinct())["county_code"].dropna())
    counties_present = [c for c in counties_present if c in reference.county_codes()]
    scored = [score_event(e, found, counties_present) for e in events]
    n_ent = int(wh.execute(wh.current("monthly").credit_code.nunique())) if wh.has_table("monthly") else 0
    rates = false_rates(found, quiet_months(events, months), len(counties_present), n_ent)
    return {
        "months": [f"{y}-{m:02d}" for y, m in months],
        "events": scored,
        "quiet": rates,
        "warnings": len(found),
    }


def markdown_table(result: dict) -> str:
    lines = [
        "| event | period | caught | counties warned | enterprise warnings (of them affected) "
        "| first warning (data due) | lead time, days |",
        "|---|---|---|---:|---:|---|---:|",
    ]
    for e in result["events"]:
        share = f"{e['counties_warned']}/{e['counties']}" + (
            f" ({e['county_share']:.0%})" if e["county_share"] is not None else ""
        )
        ent = str(e["enterprise_warnings"]) + (
            f" ({e['affected_enterprises_warned']})" if e["affected_enterprises_warned"] is not None else ""
        )
        caught = "n/a (no enterprise at this scale)" if e["absent"] else "yes" if e["caught"] else "no"
        lines.append(
            f"| `{e['id']}` {e['title']} | {e['start']} – {e['end']} | {caught} | {share} | {ent} | "
            f"{e['first_warning'] or '—'} | {e['lead_days'] if e['lead_days'] is not None else '—'} |"
        )
    q = result["quiet"]
    rate = lambda v: "—" if v is None else f"{v:.1%}"  # noqa: E731
    lines.append("")
    lines.append(
        f"Quiet months ({len(q['quiet_months'])}: {', '.join(q['quiet_months'])}): orange/red county-months "
        f"{rate(q['county_month_rate'])}, warned key-enterprise-months {rate(q['enterprise_month_rate'])}."
    )
    return "\n".join(lines) + "\n"


def frame(result: dict) -> pd.DataFrame:
    return pd.DataFrame(result["events"])
