"""链长制 and 一链一方案: each chain's chief (链长), office and departments, its 2025 target share
of industrial output, and the plan's tasks followed as `chain_task` workflow cases.

- The plans are editable YAML (`chains/data/plans.yaml`), checked on load; a broken entry stops
  with the file, the entry and the fix (`PlanError`).
- A task of a plan is issued once (`issue_plan`): a case keyed ``plan:<chain>:<task>`` whose
  region is the task's `division`, so it is handled at the province, a city or a county and
  escalates upwards when its term (in Chinese working days) runs out; ad-hoc tasks are added
  with `add_task`. Everything after that (签收, 报送进展, 申请验收, 验收, 退回) is the generic
  workflow engine: `/work/{id}`, the inbox, e-mail, the hourly sweep.
- `task_rows` and `task_summary` read the cases through the reader's `Scope` (the core's
  `in_scope`), so a county analyst sees its county's tasks only.
- `monitoring` is the chain's monthly monitoring (output of the chain's members from the
  monthly 快报, growth on the same months a year earlier, investment of the chain's projects)
  against its target share.
"""

from __future__ import annotations

import functools
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import ibis
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin import reference
from jingxin.chains import compute
from jingxin.chains.definitions import definitions
from jingxin.core.db import utcnow
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.models import WorkItem

WORKFLOW = "chain_task"
PLANS_FILE = "plans.yaml"
TaskType = Literal["bu", "qiang", "yan", "gu", "project", "other"]
Term = Literal["m1", "q1", "h1", "y1"]


class PlanError(ValueError):
    """A plans file that cannot be used: names the file, the entry and the fix."""


class PlanTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,30}$")
    type: TaskType
    title: str = Field(min_length=2, max_length=200)
    owner: str = Field(min_length=2, max_length=200)
    division: str
    term: Term
    content: str = Field(min_length=2, max_length=4000)

    @field_validator("division")
    @classmethod
    def _division(cls, value: str) -> str:
        try:
            reference.division(str(value))
        except (KeyError, ValueError):
            raise ValueError(
                f"区划代码 {value!r} 不存在（应为 GB/T 2260 六位代码，如 330000、330600）"
            ) from None
        return str(value)


class ChainPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chain: str
    chief: str = Field(min_length=2)
    office: str = Field(min_length=2)
    departments: tuple[str, ...] = Field(min_length=1)
    target_share: float = Field(gt=0, lt=1)
    target_source: str = Field(min_length=3)
    tasks: tuple[PlanTask, ...] = ()


class Plans(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    target_total: float = Field(gt=0, le=1)
    target_total_source: str
    plans: tuple[ChainPlan, ...]

    def plan(self, chain_id: str) -> ChainPlan:
        for p in self.plans:
            if p.chain == chain_id:
                return p
        raise KeyError(chain_id)


def parse_plans(text: str, source: str = PLANS_FILE) -> Plans:
    """Parse and check a plans file against the chains of the reference data."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PlanError(f"{source}: 不是合法的 YAML：{exc}") from None
    try:
        plans = Plans.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        raise PlanError(f"{source}: {where}: {e['msg']}（请按文件开头的字段说明修改）") from None
    known = {c.id for c in definitions().chains}
    seen: set[str] = set()
    for k, p in enumerate(plans.plans):
        if p.chain not in known:
            raise PlanError(f"{source}: plans.{k}.chain: 未知产业链 {p.chain!r}；可选 {sorted(known)}")
        if p.chain in seen:
            raise PlanError(f"{source}: plans.{k}.chain: 产业链 {p.chain} 重复，请合并为一项")
        seen.add(p.chain)
        ids = [t.id for t in p.tasks]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise PlanError(
                f"{source}: plans.{k} ({p.chain}).tasks: 任务编号重复 {sorted(dup)}，请改为不同编号"
            )
    return plans


@functools.cache
def _load(path: str | None) -> Plans:
    if path is None:
        text = files("jingxin.chains").joinpath("data", PLANS_FILE).read_text(encoding="utf-8")
        return parse_plans(text, f"jingxin/chains/data/{PLANS_FILE}")
    return parse_plans(Path(path).read_text(encoding="utf-8"), path)


def plans(path: str | Path | None = None) -> Plans:
    """The plans in force (the packaged file, or another one)."""
    return _load(None if path is None else str(path))


# ---- tasks on the workflow ---------------------------------------------------------------------


def _plan_key(chain_id: str, task_id: str) -> str:
    return f"plan:{chain_id}:{task_id}"


def issue_plan(db: Session, user: Any, chain_id: str, *, now: datetime | None = None) -> list[WorkItem]:
    """Issue the plan's tasks of `chain_id` that are inside the user's scope and not issued yet
    (by anyone); returns the cases opened now. Re-issuing opens nothing twice."""
    chain = _chain(chain_id)
    plan = plans().plan(chain.id) if chain.id in {p.chain for p in plans().plans} else None
    if plan is None:
        raise compute.ChainsError(f"产业链 {chain.name} 没有一链一方案任务（{PLANS_FILE}）")
    definition = load_workflow(WORKFLOW)
    if user.role not in definition.start.roles:
        raise wf.NotAllowed(f"您无权下达{definition.title}")
    opened = []
    for t in plan.tasks:
        key = _plan_key(chain.id, t.id)
        if db.scalar(select(WorkItem.id).where(WorkItem.workflow == WORKFLOW, WorkItem.key == key)):
            continue
        if not user.scope.allows_division(t.division) and user.scope.division is not None:
            continue
        opened.append(
            wf.start_item(
                db,
                WORKFLOW,
                user,
                division_code=t.division,
                fields={
                    "title": t.title,
                    "chain_id": chain.id,
                    "chain_name": chain.name,
                    "task_type": t.type,
                    "owner": t.owner,
                    "content": t.content,
                    "term": t.term,
                    "plan_task": t.id,
                },
                key=key,
                now=now,
            )
        )
    return opened


def add_task(
    db: Session,
    user: Any,
    chain_id: str,
    *,
    division: str,
    title: str,
    task_type: str,
    owner: str,
    content: str,
    term: str,
    now: datetime | None = None,
) -> WorkItem:
    """An ad-hoc task of the chain (not in the plan file), in `division`."""
    chain = _chain(chain_id)
    return wf.start_item(
        db,
        WORKFLOW,
        user,
        division_code=division,
        fields={
            "title": title,
            "chain_id": chain.id,
            "chain_name": chain.name,
            "task_type": task_type,
            "owner": owner,
            "content": content,
            "term": term,
        },
        now=now,
    )


def _chain(chain_id: str) -> Any:
    try:
        return definitions().chain(chain_id)
    except KeyError as exc:
        raise compute.ChainsError(str(exc).strip("'\"")) from None


def task_rows(
    db: Session, scope: Scope, chain_id: str | None = None, *, now: datetime | None = None
) -> list[dict]:
    """The chain tasks the reader may see, with state, level, term and progress."""
    now = now or utcnow()
    definition = load_workflow(WORKFLOW)
    items, _ = wf.list_items(db, scope, workflow=WORKFLOW, limit=5000)
    choices = definition.fields
    out = []
    for item in items:
        f = item.fields
        if chain_id and f.get("chain_id") != chain_id:
            continue
        clock = item.clock("term")
        due = clock.due_at if clock else None
        running = clock is not None and clock.status in ("running", "paused")
        overdue = bool(running and due is not None and due <= now)
        out.append(
            {
                "id": item.id,
                "chain_id": f.get("chain_id"),
                "chain_name": f.get("chain_name"),
                "title": f.get("title"),
                "type": choices["task_type"].choices.get(f.get("task_type", ""), ""),
                "owner": f.get("owner"),
                "division": item.division_code,
                "division_name": compute.division_name(item.division_code),
                "plan_task": f.get("plan_task"),
                "state": item.state,
                "state_label": definition.states[item.state].label,
                "level": definition.escalation.levels[item.level].label,
                "term": choices["term"].choices.get(f.get("term", ""), ""),
                "due_at": due,
                "overdue": overdue,
                "met": clock.met if clock else None,
                "progress": choices["progress"].choices.get(f.get("progress", ""), "—")
                if item.state != "done"
                else "100%",
                "progress_note": f.get("progress_note", ""),
                "closed": item.closed_at is not None,
            }
        )
    out.sort(key=lambda r: (r["chain_id"] or "", r["closed"], r["due_at"] or now, r["id"]))
    return out


def task_summary(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Per chain: tasks issued, open, done, overdue (open and past the term), done in time."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        s = out.setdefault(r["chain_id"], {"total": 0, "open": 0, "done": 0, "overdue": 0, "in_time": 0})
        s["total"] += 1
        s["open"] += not r["closed"]
        s["done"] += r["state"] == "done"
        s["overdue"] += r["overdue"]
        s["in_time"] += r["state"] == "done" and r["met"] is True
    return out


# ---- monthly monitoring against the target share -------------------------------------------------


def monitoring(wh: Warehouse, month: str, scope: Scope) -> pd.DataFrame:
    """Per chain, January to `month` of its year: output (产值, 万元) of the chain's members from
    the monthly 快报, the same months a year earlier and the growth, the share of all reported
    industrial output in the region, the target share and the chain's projects' investment.

    Members are those of the 12 months ending with `month` (industry or invoices, see
    `compute.membership`); a member of two chains counts for both, so the shares of the ten
    chains may add up to more than their union (given as ``chain_id == "_all"``)."""
    win = compute.window(month)
    if not wh.has_table("monthly"):
        raise compute.ChainsError("仓库中没有规上工业企业月度快报（monthly），无法监测产业链产值")
    year, mon = win.end.year, win.end.month
    mem = compute.membership(wh, win).select("credit_code", "chain_id").distinct()
    reg = compute._registry(wh).select(r_code="credit_code", county_code="county_code")
    m = compute._current(wh, "monthly")
    m = m.filter((m.month.year() >= year - 1) & (m.month.year() <= year) & (m.month.month() <= mon))
    m = m.join(reg, m.credit_code == reg.r_code)
    m = scope.restrict(m, county_column="county_code", code_column="credit_code")
    zero = ibis.literal(0.0)
    m = m.mutate(
        this=(m.month.year() == year).ifelse(m.output_value, zero),
        last=(m.month.year() == year - 1).ifelse(m.output_value, zero),
    )
    totals = wh.execute(m.aggregate(this=m.this.sum().cast("float64"), last=m.last.sum().cast("float64")))
    j = m.join(mem, m.credit_code == mem.credit_code)
    per = wh.execute(
        j.group_by("chain_id").aggregate(
            output=j.this.sum().cast("float64"),
            output_last=j.last.sum().cast("float64"),
            enterprises=j.credit_code.nunique(),
        )
    )
    union = j.select("credit_code", "this", "last", "month").distinct()
    u = wh.execute(
        union.aggregate(
            output=union.this.sum().cast("float64"),
            output_last=union.last.sum().cast("float64"),
            enterprises=union.credit_code.nunique(),
        )
    )
    total, total_last = float(totals["this"].iloc[0] or 0.0), float(totals["last"].iloc[0] or 0.0)
    p = plans()
    targets = {x.chain: x.target_share for x in p.plans}
    rows = []
    names = {c.id: c.name for c in definitions().chains}
    invest = _investment(wh, scope)
    for c in definitions().chains:
        hit = per[per.chain_id == c.id]
        rows.append(
            {
                "chain_id": c.id,
                "chain_name": c.name,
                "output": float(hit.output.iloc[0]) if len(hit) else 0.0,
                "output_last": float(hit.output_last.iloc[0]) if len(hit) else 0.0,
                "enterprises": int(hit.enterprises.iloc[0]) if len(hit) else 0,
                "target_share": targets.get(c.id),
                "investment": invest.get(names[c.id]),
            }
        )
    rows.append(
        {
            "chain_id": "_all",
            "chain_name": "十大产业链合计（去重）",
            "output": float(u.output.iloc[0] or 0.0),
            "output_last": float(u.output_last.iloc[0] or 0.0),
            "enterprises": int(u.enterprises.iloc[0] or 0),
            "target_share": p.target_total,
            "investment": sum(v for v in invest.values() if v) if invest else None,
        }
    )
    df = pd.DataFrame(rows)
    df["share"] = df.output / total if total > 0 else float("nan")
    df["growth"] = (df.output / df.output_last - 1.0).where(df.output_last > 0)
    df["gap"] = df.share - df.target_share
    df["period"] = f"{year}年1—{mon}月"
    df["total_output"] = total
    df["total_growth"] = (total / total_last - 1.0) if total_last > 0 else float("nan")
    return df


def _investment(wh: Warehouse, scope: Scope) -> dict[str, float]:
    """Planned investment (万元) of the projects filed under each chain (project tracking's
    `projects` table, newest year); empty when there is none."""
    if not wh.has_table("projects"):
        return {}
    t = compute._current(wh, "projects")
    t = t.filter(t.year == t.year.max())
    t = scope.restrict(t, county_column="county_code", code_column="credit_code")
    t = t.filter(t.chain.notnull())
    df = wh.execute(t.group_by("chain").aggregate(investment=t.total_investment.sum().cast("float64")))
    return {str(r.chain): float(r.investment) for r in df.itertuples()}


PROJECT_WORKFLOW = "project_stage"  # project tracking's stage cases (签约 → 开工 → 投产 → 达产)


def key_projects(wh: Warehouse, db: Session, scope: Scope, chain_id: str, limit: int = 50) -> list[dict]:
    """The chain's projects in project tracking's register (`projects`, newest year; a project
    names its chain), largest first, with its stage case when project tracking follows it."""
    if not wh.has_table("projects"):
        return []
    name = _chain(chain_id).name
    t = compute._current(wh, "projects")
    t = t.filter(t.year == t.year.max())
    t = scope.restrict(t, county_column="county_code", code_column="credit_code")
    t = t.filter(t.chain == name).select(
        "project_id", "project_name", "county_code", "category", "total_investment", "responsible"
    )
    df = wh.execute(t.order_by([ibis.desc("total_investment"), "project_id"]).limit(limit))
    cases, _ = wf.list_items(db, scope, workflow=PROJECT_WORKFLOW, limit=5000)
    case_of = {c.fields.get("project_id"): c for c in cases}
    out = []
    for r in df.to_dict("records"):
        case = case_of.get(r["project_id"])
        out.append(
            {
                **r,
                "place": compute.division_name(r["county_code"]),
                "case_id": case.id if case else None,
                "stage": case.state if case else None,
            }
        )
    return out
