"""Warnings measured against the generator's injected truth (manifest `events`, DOMAIN.md §13).

For each injected event: was it warned about in the right places (a warning whose county lies in
the event's cities — or anywhere for a province-wide event — and whose industry lies in the
event's sectors), in which share of the event's counties, and how many days after the event
began the first such warning's data were due (lead time). On quiet months (no event running)
the false-warning rate is the share of coloured (orange or red) county-months and the share
of warned key-enterprise-months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from jingxin import reference
from jingxin.monitoring.rules import RANK
from jingxin.monitoring.warnings import Warning


def _months(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def event_months(event: dict) -> list[tuple[int, int]]:
    """Months whose data can show the event: its own months and the one after (recovery)."""
    start, end = dt.date.fromisoformat(event["start"]), dt.date.fromisoformat(event["end"])
    last = dt.date(end.year + (end.month == 12), end.month % 12 + 1, 1)
    return _months(start, last)


def _section(code: str) -> str | None:
    try:
        return reference.section_of(code)
    except (KeyError, ValueError):
        return None


def industry_matches(industry_code: str | None, sectors: Iterable[str]) -> bool:
    if not industry_code:
        return False
    for s in sectors:
        if s.isalpha():
            if _section(industry_code) == s:
                return True
        elif industry_code.startswith(s) or (len(industry_code) == 2 and s.startswith(industry_code)):
            return True
    return False


def place_matches(w: Warning, event: dict) -> bool:
    cities = [c[:4] for c in event["cities"] if c != "330000"]
    if not cities:
        return w.county_code is not None
    return w.county_code is not None and any(w.county_code.startswith(c) for c in cities)


def relevant(w: Warning, event: dict) -> bool:
    """A warning that points at the event: the right place and the right industry. A region's
    all-industry warning counts when the event hits a whole section (B, C …) there."""
    if not place_matches(w, event):
        return False
    sectors = event["sectors"]
    if w.kind == "enterprise":
        return industry_matches(w.industry_code, sectors)
    return any(s.isalpha() for s in sectors)  # a county's total reflects a section-wide event


def score_event(event: dict, warnings: list[Warning], all_counties: list[str]) -> dict:
    months = {dt.date(y, m, 1) for y, m in event_months(event)}
    start = dt.date.fromisoformat(event["start"])
    hits = [
        w for w in warnings if w.month in months and RANK[w.colour] >= RANK["orange"] and relevant(w, event)
    ]
    counties = event["counties"] or all_counties
    covered = {w.county_code for w in hits if w.level in ("county", "enterprise")}
    covered |= {
        c for w in hits if w.level == "city" for c in counties if c.startswith(str(w.county_code)[:4])
    }
    affected = set(event.get("affected_credit_codes") or [])
    ent_hits = [w for w in hits if w.kind == "enterprise"]
    first = min((w.available_on for w in hits), default=None)
    absent = bool(event["cities"] != ["330000"] and event.get("affected_count") == 0)
    return {
        "id": event["id"],
        "absent": absent,  # no enterprise of the event exists at this scale: nothing to catch
        "title": event["title"],
        "start": event["start"],
        "end": event["end"],
        "caught": bool(hits),
        "warnings": len(hits),
        "counties": len(counties),
        "counties_warned": len(covered & set(counties)),
        "county_share": len(covered & set(counties)) / len(counties) if counties else None,
        "enterprise_warnings": len(ent_hits),
        "affected_enterprises_warned": sum(1 for w in ent_hits if w.code in affected) if affected else None,
        "first_warning": first.isoformat() if first else None,
        "lead_days": (first - start).days if first else None,
    }


def quiet_months(events: list[dict], months: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    busy = {ym for e in events for ym in event_months(e)}
    return [ym for ym in months if ym not in busy]


def false_rates(
    warnings: list[Warning], quiet: list[tuple[int, int]], counties: int, enterprises: int
) -> dict:
    qs = {dt.date(y, m, 1) for y, m in quiet}
    q = [w for w in warnings if w.month in qs and RANK[w.colour] >= RANK["orange"]]
    county_months = {(w.month, w.code) for w in q if w.level == "county"}
    ent_months = {(w.month, w.code) for w in q if w.kind == "enterprise"}
    return {
        "quiet_months": [f"{y}-{m:02d}" for y, m in quiet],
        "county_month_rate": len(county_months) / (counties * len(quiet)) if quiet and counties else None,
        "enterprise_month_rate": len(ent_months) / (enterprises * len(quiet))
        if quiet and enterprises
        else None,
    }
