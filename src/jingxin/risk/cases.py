"""一企一策 cases (风险处置事项) on the workflow core, the general-concern groups, and the lists
by county and province as the department reports them (列入、在办、销号).

A case is a `risk_case` work item (`risk/workflows/risk_case.yaml`) of one enterprise; opening
one is idempotent per enterprise: an enterprise with an open case gets no second one, whatever
the month. What a user sees of cases follows `core/scope.py` through the workflow service.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin import reference
from jingxin.core.scope import Scope
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.models import WorkItem
from jingxin.risk.config import GENERAL, KEY, RiskConfig
from jingxin.risk.features import CHARACTERISTICS
from jingxin.risk.rules import rule_reasons
from jingxin.risk.service import MATERIALISED, MonthResult, explain

WORKFLOW = "risk_case"
BEIJING = timezone(timedelta(hours=8))


@dataclass
class Opened:
    opened: list[int] = field(default_factory=list)
    already_open: list[str] = field(default_factory=list)
    outside_scope: int = 0
    no_county: int = 0  # graded from shared data but not (yet) in the registry: no county to own it


def open_cases(db: Session, result: MonthResult, user: Any, county: str | None = None) -> Opened:
    """Open a case for every 重点关注 enterprise of the month in `user`'s scope (and `county`)
    that has no open case yet."""
    rows = result.table[result.table["grade"] == KEY]
    out = Opened(no_county=int(rows["county_code"].isna().sum()))
    rows = rows[rows["county_code"].notna()]
    if county:
        rows = rows[rows["county_code"].astype(str).str.startswith(county)]
    open_codes = set(
        db.scalars(
            select(WorkItem.credit_code).where(WorkItem.workflow == WORKFLOW, WorkItem.closed_at.is_(None))
        )
    )
    for _, r in rows.sort_values("credit_code").iterrows():
        code, division = str(r["credit_code"]), str(r["county_code"])
        if not user.scope.allows_enterprise(code, division):
            out.outside_scope += 1
            continue
        if code in open_codes:
            out.already_open.append(code)
            continue
        category = "materialised" if r["category"] == MATERIALISED else "hidden"
        item = wf.start_item(
            db,
            WORKFLOW,
            user,
            division_code=division,
            credit_code=code,
            fields={
                "title": f"{r['name']}（{r['category'] or '重点关注'}）",
                "grade": "key",
                "category": category,
                "month": result.month,
                "reasons": "；".join(explain(r, result.config))[:4000],
            },
            key=f"risk:{code}:{result.month}",
        )
        out.opened.append(item.id)
        open_codes.add(code)
    return out


def general_groups(result: MonthResult) -> list[dict[str, Any]]:
    """一般关注 enterprises grouped by type (their first hidden-danger signal, else their
    costliest characteristic), for measures taken for a whole group at once."""
    words = rule_reasons(result.config)
    groups: dict[str, list[str]] = defaultdict(list)
    for _, r in result.table[result.table["grade"] == GENERAL].iterrows():
        if r["signals"]:
            kind = words[r["signals"][0]][0]
        elif r["reason_codes"]:
            kind = CHARACTERISTICS[r["reason_codes"][0][0]]
        elif r["contagion"]:
            kind = "担保关联风险"
        else:
            kind = "其他"
        groups[kind].append(str(r["credit_code"]))
    return [
        {"type": k, "count": len(v), "credit_codes": sorted(v)}
        for k, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


def _utc(d: date) -> datetime:
    return datetime.combine(d, time(0), BEIJING).astimezone(UTC).replace(tzinfo=None)


def case_lists(
    db: Session, scope: Scope, start: date, end: date, county: str | None = None
) -> dict[str, Any]:
    """Per county: cases entered in [start, end], in progress at the end, closed in the
    period (by reason), with province (scope) totals; `county` narrows to a division prefix."""
    items, _total = wf.list_items(db, scope, workflow=WORKFLOW, limit=100_000)
    lo, hi = _utc(start), _utc(end + timedelta(days=1))
    per: dict[str, Counter] = defaultdict(Counter)
    for it in items:
        if county and not str(it.division_code).startswith(county.rstrip("0") or county):
            continue
        c = per[it.division_code]
        created = _naive(it.created_at)
        assert created is not None  # every item is created at a known moment
        closed = _naive(it.closed_at)
        if lo <= created < hi:
            c["entered"] += 1
            c[
                "entered_materialised" if it.fields.get("category") == "materialised" else "entered_hidden"
            ] += 1
        if created < hi and (closed is None or closed >= hi):
            c["in_progress"] += 1
        if closed is not None and lo <= closed < hi:
            c["closed"] += 1
            reason = it.fields.get("close_reason", "other")
            c[f"closed_{reason}"] += 1
            if reason in ("resolved", "recovered", "restructured"):
                c["resolved"] += 1
    rows = []
    for code in sorted(per):
        try:
            name = reference.division(code).name
        except (KeyError, ValueError):
            name = code
        rows.append({"county_code": code, "county": name, **dict(per[code])})
    keys = ("entered", "entered_materialised", "entered_hidden", "in_progress", "closed", "resolved")
    total = {k: sum(r.get(k, 0) for r in rows) for k in keys}
    for r in rows:
        for k in keys:
            r.setdefault(k, 0)
    return {"start": start.isoformat(), "end": end.isoformat(), "counties": rows, "total": total}


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def concentration(result: MonthResult, cfg: RiskConfig | None = None) -> list[dict[str, Any]]:
    """Common problems (共性问题): shares of 重点关注 and of any concern by county, industry
    (2-digit division), guarantee chain and guarantee circle; a warning where a group with at
    least `min_enterprises` exceeds the configured levels."""
    cfg = cfg or result.config
    t = result.table.assign(
        industry=result.table["industry_code"].astype(str).str[:2],
        key=result.table["grade"] == KEY,
        concern=result.table["grade"].isin([KEY, GENERAL]),
    )
    c = cfg.concentration
    out = []
    for dim, col in (
        ("county", "county_code"),
        ("industry", "industry"),
        ("chain", "chain"),
        ("circle", "circle"),
    ):
        part = t if dim not in ("chain", "circle") else t[t[col] >= 0]
        g = part.groupby(col).agg(
            enterprises=("credit_code", "size"), key=("key", "sum"), concern=("concern", "sum")
        )
        g = g[g["enterprises"] >= (c.min_enterprises if dim in ("county", "industry") else 2)]
        for name, r in g.iterrows():
            key_share = r["key"] / r["enterprises"]
            concern_share = r["concern"] / r["enterprises"]
            warn = key_share > c.key_share or concern_share > c.concern_share
            out.append(
                {
                    "dimension": dim,
                    "group": str(name),
                    "enterprises": int(r["enterprises"]),
                    "key": int(r["key"]),
                    "concern": int(r["concern"]),
                    "key_share": round(float(key_share), 4),
                    "concern_share": round(float(concern_share), 4),
                    "warning": bool(warn),
                }
            )
    return sorted(out, key=lambda r: (not r["warning"], r["dimension"], -r["key_share"]))


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)
