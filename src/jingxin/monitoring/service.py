"""Monthly refresh of monitoring (运行监测月度刷新): indicators, warnings, cases, notifications.

`refresh_month` computes the month's indicators (:mod:`.indicators`), colours regions and
checks key enterprises (:mod:`.warnings`), stores both (:mod:`.store`) and, for every warning
at or above `open_case_from`, opens a case of the `monitor_warning` workflow at the warning's
division; the workflow notifies that division's analysts (its `assigned` event, core/notify).
A second refresh of the same month opens no second case (the case key is the warning id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from jingxin.core.auth import Role
from jingxin.core.scope import EVERYTHING
from jingxin.core.warehouse import Warehouse
from jingxin.monitoring import store
from jingxin.monitoring.indicators import compute, first_day
from jingxin.monitoring.rules import RANK, Rules, load_rules
from jingxin.monitoring.warnings import Warning, enterprise_warnings, region_warnings

WORKFLOW = "monitor_warning"
HISTORY = 8  # months computed for trends: a run of 7 declines needs 8 months


@dataclass(frozen=True)
class PlatformActor:
    """The platform itself opening a case (the history shows "system"): whole province."""

    id: None = None
    username: str = "system:monitoring"
    role: str = Role.PROVINCE_ANALYST.value
    is_active: bool = True
    scope: object = EVERYTHING


@dataclass
class RefreshReport:
    month: str
    indicators: int
    warnings: dict[str, int] = field(default_factory=dict)
    cases_opened: int = 0
    cases_existing: int = 0

    def to_dict(self) -> dict:
        return {
            "month": self.month,
            "indicators": self.indicators,
            "warnings": self.warnings,
            "cases_opened": self.cases_opened,
            "cases_existing": self.cases_existing,
        }


def month_warnings(
    wh: Warehouse, year: int, month: int, rules: Rules | None = None, table: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[Warning]]:
    rules = rules or load_rules()
    if table is None:
        table = compute(wh, year, month, history=HISTORY)
    found = region_warnings(table, rules, year, month) + enterprise_warnings(wh, year, month, rules)
    return table, found


def _case_division(w: Warning) -> str:
    """The division that answers for a warning: its county (or city); an industry's is the province."""
    return w.county_code or "330000"


def open_cases(db, warnings: list[Warning], rules: Rules) -> tuple[dict[str, int], int, int]:
    from jingxin.core.workflow import service as wf

    ids: dict[str, int] = {}
    opened = existing = 0
    actor = PlatformActor()
    for w in warnings:
        if RANK[w.colour] < RANK[rules.open_case_from]:
            continue
        key = f"monitor:{w.warning_id}"
        from sqlalchemy import select

        from jingxin.core.workflow.models import WorkItem

        found = db.scalar(select(WorkItem).where(WorkItem.workflow == WORKFLOW, WorkItem.key == key))
        if found is not None:
            ids[w.warning_id] = found.id
            existing += 1
            continue
        item = wf.start_item(
            db,
            WORKFLOW,
            actor,
            division_code=_case_division(w),
            credit_code=w.code if w.kind == "enterprise" else None,
            fields={
                "title": f"{w.month:%Y年%m月} {w.name}{'' if w.kind == 'enterprise' else ''}",
                "reason": w.reason,
                "colour": w.colour,
                "month": f"{w.month:%Y-%m}",
                "warning_id": w.warning_id,
            },
            key=key,
        )
        ids[w.warning_id] = item.id
        opened += 1
    return ids, opened, existing


def refresh_month(wh: Warehouse, year: int, month: int, db=None, rules: Rules | None = None) -> RefreshReport:
    """Refresh (`year`, `month`): store indicators and warnings; open cases when `db` is given."""
    rules = rules or load_rules()
    table, found = month_warnings(wh, year, month, rules)
    target = first_day(year, month)
    current = table[table.month == target]
    case_ids: dict[str, int] = {}
    opened = existing = 0
    if db is not None:
        case_ids, opened, existing = open_cases(db, found, rules)
    rows = pd.DataFrame(
        [
            {
                **w.to_dict(),
                "month": w.month,
                "available_on": w.available_on,
                "case_id": case_ids.get(w.warning_id),
            }
            for w in found
        ]
    )
    store.save_month(wh, target, current, rows)
    counts: dict[str, int] = {}
    for w in found:
        counts[w.colour] = counts.get(w.colour, 0) + 1
    return RefreshReport(f"{year}-{month:02d}", len(current), counts, opened, existing)


def latest_data_month(wh: Warehouse) -> tuple[int, int] | None:
    """The last month of the 快报 (or monthly power) in the warehouse."""
    for table in ("monthly", "power_monthly"):
        if wh.has_table(table):
            t = wh.current(table)
            value = wh.execute(t.month.max())
            if value is not None and not pd.isna(value):
                d = pd.Timestamp(value).date()
                return d.year, d.month
    return None


def today() -> dt.date:
    return dt.date.today()
