"""5G applications (5G基站建设一件事): file, survey, parallel approvals, build, power on.

Every function takes the acting user; what they see is decided by `core/scope.py`: an
operator (role `operator`) is pinned to its own credit code, so it reaches its own
applications only; a county analyst its county's; a department liaison the approvals routed
to its department (branch cases), never the operator's application itself.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin import reference
from jingxin.core import audit
from jingxin.core.scope import Scope
from jingxin.core.workflow import parallel
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.models import WorkItem
from jingxin.fiveg.models import Attachment, Station

APPLICATION, APPROVAL = "fiveg_application", "fiveg_approval"
CONFIG = Path(__file__).parent / "config.yaml"
MAX_ATTACHMENT = 5 * 1024 * 1024


class FiveGError(ValueError):
    """A request that cannot be done; the message says what and how to fix it."""


class SiteType(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    departments: list[str] = Field(min_length=1)


class Zone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str
    lon: float
    lat: float
    radius_m: float = Field(gt=0)


class FiveGConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_types: dict[str, SiteType]
    power_supplies: dict[str, str]
    exclusion_zones: list[Zone]
    total_target: int = Field(gt=0)
    county_targets: dict[str, int] = {}


@functools.cache
def settings() -> FiveGConfig:
    cfg = FiveGConfig.model_validate(yaml.safe_load(CONFIG.read_text(encoding="utf-8")))
    limits = load_workflow(APPROVAL).clocks["approval"].working_days_by
    missing = sorted({d for t in cfg.site_types.values() for d in t.departments} - set(limits))
    if missing:
        raise FiveGError(
            f"{CONFIG}: 部门 {'、'.join(missing)} 未在 fiveg_approval.yaml 的 working_days_by 中给出时限"
        )
    return cfg


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def zone_conflicts(lon: float, lat: float) -> list[str]:
    """Exclusion zones (禁建区) the point lies in, as Chinese sentences."""
    return [
        f"站址位于{z.kind}“{z.name}”内"
        f"（距中心 {metres(lon, lat, z.lon, z.lat):.0f} 米，半径 {z.radius_m:.0f} 米）"
        for z in settings().exclusion_zones
        if metres(lon, lat, z.lon, z.lat) <= z.radius_m
    ]


def _coordinate(value: Any, name: str, lo: float, hi: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FiveGError(f"{name}应为数字，收到 {str(value)[:20]!r}") from None
    if not lo <= number <= hi:
        raise FiveGError(f"{name} {number} 不在浙江省范围（{lo}–{hi}）内")
    return number


def file_application(
    db: Session,
    user: Any,
    *,
    county: str,
    site_name: str,
    site_type: str,
    power: str,
    lon: Any,
    lat: Any,
    now: datetime | None = None,
) -> WorkItem:
    """An operator files one application for one site; refused inside an exclusion zone."""
    if site_type not in settings().site_types:
        raise FiveGError(f"站址类型 {site_type!r} 不合法，应为：{'、'.join(settings().site_types)}")
    x = _coordinate(lon, "经度", 118.0, 123.2)
    y = _coordinate(lat, "纬度", 27.0, 31.2)
    if county not in reference.county_codes():
        raise FiveGError(f"区县代码 {county!r} 不存在")
    conflicts = zone_conflicts(x, y)
    if conflicts:
        raise FiveGError("；".join(conflicts) + "。请调整站址后再申请")
    return wf.start_item(
        db,
        APPLICATION,
        user,
        division_code=county,
        credit_code=user.credit_code,
        fields={
            "site_name": site_name,
            "site_type": site_type,
            "power": power,
            "lon": f"{x:.6f}",
            "lat": f"{y:.6f}",
        },
        now=now,
    )


def attach(db: Session, user: Any, item_id: int, filename: str, content: bytes) -> Attachment:
    item = wf.get_item(db, user.scope, item_id)
    if item.workflow != APPLICATION or item.created_by_id != user.id:
        raise FiveGError("只能为本单位提交的申请上传附件")
    if len(content) > MAX_ATTACHMENT:
        raise FiveGError(f"附件 {filename} 超过 5 MB（{len(content)} 字节），请压缩后上传")
    name = Path(filename or "").name.strip()[:200]
    if not name:
        raise FiveGError("附件须有文件名")
    row = Attachment(
        item_id=item.id,
        filename=name,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by=user.username,
    )
    db.add(row)
    audit.record(
        db,
        audit.Actor(user.id, user.username),
        audit.Action.FIVEG_ATTACHMENT,
        "fiveg_application",
        item.id,
        {"file": name},
    )
    db.commit()
    return row


def attachments(db: Session, scope: Scope, item_id: int) -> list[Attachment]:
    item = wf.get_item(db, scope, item_id)
    return list(db.scalars(select(Attachment).where(Attachment.item_id == item.id).order_by(Attachment.id)))


def record_survey(
    db: Session, user: Any, item_id: int, result: str, now: datetime | None = None
) -> list[WorkItem]:
    """The joint survey is done: the application goes to the departments of its site type,
    one branch case each, all at once."""
    item = wf.act(db, item_id, "record_survey", user, fields={"survey_result": result}, now=now)
    depts = settings().site_types[item.fields["site_type"]].departments
    return parallel.open_branches(
        db,
        item,
        APPROVAL,
        user,
        {d: {"department": d, "parent": str(item.id)} for d in depts},
        fields={"site_name": item.fields["site_name"]},
        now=now,
    )


def decide(
    db: Session, user: Any, approval_id: int, approve: bool, opinion: str = "", now: datetime | None = None
) -> WorkItem:
    """A department decides its branch; the last decision moves the application on."""
    branch = wf.act(
        db,
        approval_id,
        "approve" if approve else "refuse",
        user,
        fields={"opinion": opinion} if opinion else {},
        now=now,
    )
    parent = parallel.parent_of(db, branch)
    if parent is not None:
        parallel.join(
            db, parent, accepted={"approved"}, on_all="all_approved", on_any_other="refused", now=now
        )
    return branch


def report_built(db: Session, user: Any, item_id: int, on: date, now: datetime | None = None) -> WorkItem:
    item = wf.act(db, item_id, "report_built", user, fields={"built_on": on.isoformat()}, now=now)
    db.add(
        Station(
            item_id=item.id,
            division_code=item.division_code,
            credit_code=item.credit_code or "",
            site_type=item.fields["site_type"],
            lon=float(item.fields["lon"]),
            lat=float(item.fields["lat"]),
            built_on=on,
        )
    )
    db.commit()
    return item


def report_powered(db: Session, user: Any, item_id: int, on: date, now: datetime | None = None) -> WorkItem:
    item = wf.act(db, item_id, "report_powered", user, fields={"powered_on": on.isoformat()}, now=now)
    station = db.scalar(select(Station).where(Station.item_id == item.id))
    if station is not None:
        station.powered_on = on
    db.commit()
    return item


def approvals_of(db: Session, scope: Scope, item_id: int) -> list[WorkItem]:
    """The department approvals of an application the user may see."""
    return parallel.branches(db, wf.get_item(db, scope, item_id))


# ---- progress -----------------------------------------------------------------------------


def county_target(code: str) -> int:
    cfg = settings()
    if code in cfg.county_targets:
        return cfg.county_targets[code]
    rest = [c.code for c in reference.counties() if c.code not in cfg.county_targets]
    return round((cfg.total_target - sum(cfg.county_targets.values())) / len(rest))


@dataclass(frozen=True)
class CountyProgress:
    code: str
    name: str
    built: int
    powered: int
    target: int
    by_stage: dict[str, int]
    overdue: int


def progress(db: Session, scope: Scope, now: datetime) -> list[CountyProgress]:
    """Stations built and powered against targets, applications by stage and overdue, by county."""
    stage: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    overdue: dict[str, int] = defaultdict(int)
    items, _ = wf.list_items(db, scope, workflow=APPLICATION, limit=1_000_000)
    for it in items:
        stage[it.division_code][it.state] += 1
    branches, _ = wf.list_items(db, scope, workflow=APPROVAL, open_only=True, limit=1_000_000)
    for b in branches:
        if any(c.due_at is not None and c.due_at <= now and c.status == "running" for c in b.clocks):
            overdue[b.division_code] += 1
    built: dict[str, int] = defaultdict(int)
    powered: dict[str, int] = defaultdict(int)
    for s in db.scalars(select(Station).where(scope.where(Station.division_code, Station.credit_code))):
        built[s.division_code] += 1
        powered[s.division_code] += s.powered_on is not None
    return [
        CountyProgress(
            c.code,
            c.name,
            built[c.code],
            powered[c.code],
            county_target(c.code),
            dict(stage[c.code]),
            overdue[c.code],
        )
        for c in reference.counties()
        if scope.allows_division(c.code) or c.code in stage
    ]


def approval_times(db: Session, scope: Scope) -> dict[str, dict[str, float]]:
    """Average approval time by department (working days, office hours), decided ones only,
    and how many were late."""
    definition = load_workflow(APPROVAL)
    per_day = _office_day_seconds(definition)
    done, _ = wf.list_items(db, scope, workflow=APPROVAL, limit=1_000_000)
    acc: dict[str, list[float]] = defaultdict(list)
    late: dict[str, int] = defaultdict(int)
    for b in done:
        clock = b.clock("approval")
        if b.closed_at is None or clock is None or clock.started_at is None or clock.stopped_at is None:
            continue
        seconds = definition.hours.working_seconds(clock.started_at, clock.stopped_at)
        acc[b.fields.get("department", "")].append(seconds / per_day)
        late[b.fields.get("department", "")] += clock.met is False
    return {
        d: {"average_days": round(sum(v) / len(v), 2), "count": len(v), "late": late[d]}
        for d, v in sorted(acc.items())
    }


def _office_day_seconds(definition: Any) -> float:
    o = definition.office_hours
    h1, m1 = map(int, o.opens.split(":"))
    h2, m2 = map(int, o.closes.split(":"))
    return float((h2 * 60 + m2 - h1 * 60 - m1) * 60)
