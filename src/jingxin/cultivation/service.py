"""Recognition, the published pool and 首台(套) (认定、培育库公布、首台套).

- `apply`: an enterprise applies (or its county nominates it, or its service worker files for it)
  for a rung; the screening trace of that enterprise is stored with the case, so reviewers see
  each criterion; county → city → province review through the `recognition` workflow.
- `publish`: the pool's regular publication: every recognised case not yet listed enters the
  pool; an enterprise recognised on a higher rung of the same ladder is promoted (its lower entry
  closed as 晋级); a listed enterprise whose criteria lapsed in the year's screening is removed
  with the criteria it fails. Nothing is deleted.
- 首台(套) items: recognised with their level; valid for `validity_years` (DOMAIN §11);
  insurance compensation = premium × the level's rate, capped (configuration); rewards by level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core import audit
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.models import WorkItem
from jingxin.cultivation.config import FirstSetRules, LaddersConfig, load_first_set
from jingxin.cultivation.models import FirstSetClaim, FirstSetItem, PoolEntry
from jingxin.cultivation.screen import Screening, ladder_position, trace

WORKFLOW = "recognition"


class CultivationError(ValueError):
    status = 422


def _ladder_of(cfg: LaddersConfig, rung: str) -> str:
    for name, r in cfg.rungs():
        if r.id == rung:
            return name
    raise CultivationError(f"未知梯队 {rung[:32]!r}（可选：{'、'.join(r.id for _n, r in cfg.rungs())}）")


def enterprise_trace(screening: Screening, credit_code: str, rung: str) -> dict[str, Any]:
    t = screening.table
    rows = t[t["credit_code"] == credit_code]
    if rows.empty:
        raise CultivationError(f"{screening.year} 年培育库指标中没有企业 {credit_code}")
    row = rows.iloc[0]
    cfg = screening.config
    passed = {r.id: bool(row[r.id]) for _n, r in cfg.rungs()}
    return {
        "passed": passed[rung],
        "criteria": trace(row, cfg.rung(rung), passed),
        "position": ladder_position(screening, _ladder_of(cfg, rung), row),
    }


def apply(
    db: Session,
    user: Any,
    screening: Screening,
    credit_code: str,
    rung: str,
    evidence: str,
    division_code: str | None = None,
    now: Any = None,
) -> WorkItem:
    cfg = screening.config
    _ladder_of(cfg, rung)
    if user.role == "enterprise":
        credit_code = user.credit_code
    found = enterprise_trace(screening, credit_code, rung)
    row = screening.table[screening.table["credit_code"] == credit_code].iloc[0]
    division = division_code or str(row["county_code"])
    label = cfg.rung(rung).label
    summary = "；".join(
        f"{c['label']}：{'符合' if c['passed'] else ('缺数据' if c.get('missing') else '不符合')}"
        + ("" if c.get("value") is None else f"（{c['value']}）")
        for c in found["criteria"]
    )
    return wf.start_item(
        db,
        WORKFLOW,
        user,
        division_code=division,
        credit_code=credit_code,
        fields={
            "title": f"{row['name']}申报{label}"[:200],
            "rung": rung,
            "year": str(screening.year),
            "evidence": evidence,
        },
        assigned={"screening": summary[:8000]},  # set by the platform, never the filer's
        key=f"recognition:{credit_code}:{rung}:{screening.year}",
        now=now,
    )


@dataclass
class Publication:
    label: str
    entered: list[dict[str, str]] = field(default_factory=list)
    promoted: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "publication": self.label,
            "entered": self.entered,
            "promoted": self.promoted,
            "removed": self.removed,
        }


def publish(
    db: Session, user: Any, screening: Screening, label: str, on: date, actor: audit.Actor | None = None
) -> Publication:
    """One regular publication of the pool, in the publisher's scope (province or region)."""
    if user.role not in ("admin", "province_analyst"):
        raise wf.NotAllowed("培育库名单由省经信厅公布")
    cfg = screening.config
    out = Publication(label=label)
    listed = {
        (e.credit_code, e.rung): e for e in db.scalars(select(PoolEntry).where(PoolEntry.status == "listed"))
    }
    items, _n = wf.list_items(db, user.scope, workflow=WORKFLOW, state="recognised", limit=100_000)
    names = dict(zip(screening.table["credit_code"], screening.table["name"], strict=True))
    for item in sorted(items, key=lambda i: i.id):
        rung = str(item.fields.get("rung"))
        code = str(item.credit_code)
        if (code, rung) in listed or db.scalar(select(PoolEntry.id).where(PoolEntry.item_id == item.id)):
            continue
        ladder = cfg.ladders[_ladder_of(cfg, rung)]
        order = [r.id for r in ladder.rungs]
        for lower in order[: order.index(rung)]:
            entry = listed.pop((code, lower), None)
            if entry is not None:
                entry.status, entry.left_on = "promoted", on
                entry.reason = f"晋级为{cfg.rung(rung).label}"
                out.promoted.append({"credit_code": code, "from": lower, "to": rung})
        entry = PoolEntry(
            rung=rung,
            credit_code=code,
            name=str(names.get(code, item.fields.get("title"))),
            division_code=item.division_code,
            status="listed",
            entered_on=on,
            reason="认定公布",
            publication=label,
            item_id=item.id,
        )
        db.add(entry)
        listed[(code, rung)] = entry
        out.entered.append({"credit_code": code, "rung": rung})
    table = screening.table.set_index("credit_code")
    for (code, rung), entry in list(listed.items()):
        if entry.publication == label or not user.scope.allows_enterprise(code, entry.division_code):
            continue  # just recognised, or outside the publisher's scope
        if code in table.index and not bool(table.at[code, rung]):
            passed = {r.id: bool(table.at[code, r.id]) for _n, r in cfg.rungs()}
            failing = [c["label"] for c in trace(table.loc[code], cfg.rung(rung), passed) if not c["passed"]]
            entry.status, entry.left_on = "removed", on
            entry.reason = f"{screening.year}年不再符合：{'、'.join(failing)}"[:2000]
            out.removed.append({"credit_code": code, "rung": rung, "reason": entry.reason})
    audit.record(
        db,
        actor or audit.CLI_ACTOR,
        audit.Action.CONFIG_CHANGE,
        "cultivation_pool",
        label[:64],
        {"entered": len(out.entered), "promoted": len(out.promoted), "removed": len(out.removed)},
    )
    db.commit()
    return out


def pool(db: Session, scope: Any, rung: str | None = None, status: str | None = "listed") -> list[PoolEntry]:
    q = select(PoolEntry).where(scope.where(PoolEntry.division_code, PoolEntry.credit_code))
    if rung:
        q = q.where(PoolEntry.rung == rung)
    if status:
        q = q.where(PoolEntry.status == status)
    return list(db.scalars(q.order_by(PoolEntry.rung, PoolEntry.division_code, PoolEntry.credit_code)))


# ---- 首台(套) ---------------------------------------------------------------------------------


def add_first_set(
    db: Session,
    user: Any,
    *,
    credit_code: str,
    division_code: str,
    product: str,
    category: str,
    level: str,
    recognised_on: date,
    rules: FirstSetRules | None = None,
) -> FirstSetItem:
    rules = rules or load_first_set()
    if user.role not in ("admin", "province_analyst"):
        raise wf.NotAllowed("首台（套）认定由省经信厅录入")
    problems = {}
    if category not in rules.categories:
        problems["category"] = f"类别应为 {'、'.join(rules.categories)}"
    if level not in rules.levels:
        problems["level"] = f"等级应为 {'、'.join(rules.levels)}"
    if not product.strip():
        problems["product"] = "请填写产品名称"
    if problems:
        raise wf.FieldProblems(problems)
    try:
        expires = recognised_on.replace(year=recognised_on.year + rules.validity_years)
    except ValueError:  # 29 February
        expires = recognised_on.replace(year=recognised_on.year + rules.validity_years, day=28)
    item = FirstSetItem(
        credit_code=credit_code,
        division_code=division_code,
        product=product.strip()[:200],
        category=category,
        level=level,
        recognised_on=recognised_on,
        expires_on=expires,
        created_by_id=user.id,
    )
    db.add(item)
    db.commit()
    return item


def in_catalogue(item: FirstSetItem, on: date) -> bool:
    """Whether the item is in the guidance catalogue on `on` (its 3-year validity)."""
    return item.recognised_on <= on < item.expires_on


def claim(
    db: Session,
    user: Any,
    item_id: int,
    kind: str,
    year: int,
    premium: Decimal | None = None,
    rules: FirstSetRules | None = None,
) -> FirstSetClaim:
    """An insurance compensation (premium × rate, capped) or the one-off application reward."""
    rules = rules or load_first_set()
    if user.role not in ("admin", "province_analyst", "city_analyst", "county_analyst"):
        raise wf.NotAllowed("您无权登记首台（套）补偿")
    item = db.get(FirstSetItem, item_id)
    if item is None or not user.scope.allows_enterprise(item.credit_code, item.division_code):
        raise wf.ItemNotFound("首台（套）产品不存在或不在您的数据范围内")
    if kind == "insurance":
        if premium is None or premium <= 0:
            raise wf.FieldProblems({"premium": "请填写大于0的保费（万元）"})
        if not in_catalogue(item, date(year, 12, 31)) and not in_catalogue(item, date(year, 1, 1)):
            raise CultivationError(
                f"{item.product} 在 {year} 年不在首台（套）指导目录有效期内（{item.recognised_on}—{item.expires_on}）"
            )
        tier = rules.insurance[item.level]
        amount = min(Decimal(str(premium)) * Decimal(str(tier.rate)), Decimal(str(tier.cap)))
        c = FirstSetClaim(
            item_id=item.id,
            kind=kind,
            year=year,
            premium=Decimal(str(premium)),
            rate=Decimal(str(tier.rate)),
            cap=Decimal(str(tier.cap)),
            amount=amount.quantize(Decimal("0.01")),
            created_by_id=user.id,
        )
    elif kind == "reward":
        if db.scalar(
            select(FirstSetClaim.id).where(FirstSetClaim.item_id == item.id, FirstSetClaim.kind == "reward")
        ):
            raise CultivationError("该产品已领取过认定奖励（一次性）")
        c = FirstSetClaim(
            item_id=item.id,
            kind=kind,
            year=year,
            amount=Decimal(str(rules.rewards[item.level])),
            created_by_id=user.id,
        )
    else:
        raise wf.FieldProblems({"kind": "类型应为 insurance（保险补偿）或 reward（认定奖励）"})
    db.add(c)
    db.commit()
    return c


def first_set_items(db: Session, scope: Any) -> list[FirstSetItem]:
    q = select(FirstSetItem).where(scope.where(FirstSetItem.division_code, FirstSetItem.credit_code))
    return list(db.scalars(q.order_by(FirstSetItem.recognised_on.desc(), FirstSetItem.id)))


def first_set_count(db: Session, scope: Any, year: int, rules: FirstSetRules | None = None) -> dict[str, Any]:
    rules = rules or load_first_set()
    items = [i for i in first_set_items(db, scope) if i.recognised_on.year == year]
    return {
        "year": year,
        "recognised": len(items),
        "target": rules.target_per_year,
        "by_category": {k: sum(1 for i in items if i.category == k) for k in rules.categories},
    }


def screening_json(found: dict[str, Any]) -> str:
    return json.dumps(found, ensure_ascii=False)
