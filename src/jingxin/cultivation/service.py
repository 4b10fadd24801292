"""Recognition, the published pool and 首台(套) (认定、培育库公布、首台套).

- `apply`: an enterprise applies (or its county nominates it, or its service worker files for it)
  for a rung; the screening trace of that enterprise is stored with the case, so reviewers see
  each criterion; county → city → province review through the `recognition` workflow.
- `publish`: the pool's regular publication: every recognised case not yet listed enters the
  pool; an enterprise recognised on a higher rung of the same ladder is promoted (its lower entry
  closed as 晋级); a listed enterprise whose criteria lapsed in the year's screening is removed
  with the criteria it fails. Nothing is deleted.
- 首台(套) items: the recognition lists of the `first-set` source, with their level; valid for
  `validity_years` (DOMAIN §11); insurance compensation = premium × the level's rate, capped
  (configuration); rewards by level.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core import audit
from jingxin.core.warehouse import Warehouse
from jingxin.core.workflow import service as wf
from jingxin.core.workflow.models import WorkItem
from jingxin.cultivation.config import FirstSetRules, LaddersConfig, load_first_set
from jingxin.cultivation.models import FirstSetClaim, PoolEntry
from jingxin.cultivation.screen import Screening, ladder_position, trace

WORKFLOW = "recognition"
FIRST_SET_TABLE = "first_set"


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
# The recognitions are the 经信 source `first-set` (首台（套）产品认定名单) in the warehouse,
# loaded through the data page like any other department file; compensation claims on them are
# workflow state in the platform database (`first_set_claims`, keyed by the 认定编号).


@dataclass(frozen=True)
class RecognisedItem:
    """One recognised item as the source gives it, with its catalogue validity."""

    item_code: str
    product: str
    credit_code: str
    division_code: str
    category: str  # key of first_set.yaml `categories` (equipment, material, software)
    level: str  # key of `levels` (international, national, provincial)
    recognised_on: date
    expires_on: date
    batch: str
    batch_id: int
    source_row: int


def _key_of(labels: dict[str, str], text: str) -> str:
    """The configuration key of a label as the list writes it (full- or half-width brackets)."""
    wanted = unicodedata.normalize("NFKC", str(text)).strip()
    for key, label in labels.items():
        if unicodedata.normalize("NFKC", label) == wanted:
            return key
    return wanted


def _expires(on: date, years: int) -> date:
    try:
        return on.replace(year=on.year + years)
    except ValueError:  # 29 February
        return on.replace(year=on.year + years, day=28)


def first_set_items(wh: Warehouse, scope: Any, rules: FirstSetRules | None = None) -> list[RecognisedItem]:
    """Recognised items in `scope`, newest first; an item listed again later keeps its first
    recognition. None when no list has been loaded yet."""
    rules = rules or load_first_set()
    if not wh.has_table(FIRST_SET_TABLE):
        return []
    rows = wh.execute(scope.restrict(wh.current(FIRST_SET_TABLE)))
    if rows.empty:
        return []
    rows = rows.sort_values(["recognised_on", "item_code"]).drop_duplicates("item_code", keep="first")
    out = []
    for r in rows.itertuples(index=False):
        on = r.recognised_on.date() if hasattr(r.recognised_on, "date") else r.recognised_on
        out.append(
            RecognisedItem(
                item_code=str(r.item_code),
                product=str(r.product),
                credit_code=str(r.credit_code),
                division_code=str(r.county_code),
                category=_key_of(rules.categories, r.category),
                level=_key_of(rules.levels, r.level),
                recognised_on=on,
                expires_on=_expires(on, rules.validity_years),
                batch="" if r.batch is None or r.batch != r.batch else str(r.batch),
                batch_id=int(r.batch_id),
                source_row=int(r.source_row),
            )
        )
    return sorted(out, key=lambda i: (i.recognised_on, i.item_code), reverse=True)


def in_catalogue(item: RecognisedItem, on: date) -> bool:
    """Whether the item is in the guidance catalogue on `on` (its 3-year validity)."""
    return item.recognised_on <= on < item.expires_on


def claim(
    db: Session,
    user: Any,
    items: list[RecognisedItem],
    item_code: str,
    kind: str,
    year: int,
    premium: Decimal | None = None,
    rules: FirstSetRules | None = None,
) -> FirstSetClaim:
    """An insurance compensation (premium × rate, capped) or the one-off application reward on
    a recognised item among `items` (those of the user's scope, `first_set_items`)."""
    rules = rules or load_first_set()
    if user.role not in ("admin", "province_analyst", "city_analyst", "county_analyst"):
        raise wf.NotAllowed("您无权登记首台（套）补偿")
    item = next((i for i in items if i.item_code == item_code), None)
    if item is None or not user.scope.allows_enterprise(item.credit_code, item.division_code):
        raise wf.ItemNotFound("首台（套）产品不存在或不在您的数据范围内")
    if item.level not in rules.insurance or item.level not in rules.rewards:
        raise CultivationError(f"{item.product} 的认定等级“{item.level}”未在首台（套）配置中给出补偿比例")
    common = {
        "item_code": item.item_code,
        "credit_code": item.credit_code,
        "division_code": item.division_code,
        "kind": kind,
        "year": year,
        "created_by_id": user.id,
    }
    if kind == "insurance":
        if premium is None or premium <= 0:
            raise wf.FieldProblems({"premium": "请填写大于0的保费（万元）"})
        if not in_catalogue(item, date(year, 12, 31)) and not in_catalogue(item, date(year, 1, 1)):
            raise CultivationError(
                f"{item.product} 在 {year} 年不在首台（套）指导目录有效期内"
                f"（{item.recognised_on}—{item.expires_on}）"
            )
        tier = rules.insurance[item.level]
        amount = min(Decimal(str(premium)) * Decimal(str(tier.rate)), Decimal(str(tier.cap)))
        c = FirstSetClaim(
            **common,
            premium=Decimal(str(premium)),
            rate=Decimal(str(tier.rate)),
            cap=Decimal(str(tier.cap)),
            amount=amount.quantize(Decimal("0.01")),
        )
    elif kind == "reward":
        if db.scalar(
            select(FirstSetClaim.id).where(
                FirstSetClaim.item_code == item.item_code, FirstSetClaim.kind == "reward"
            )
        ):
            raise CultivationError("该产品已领取过认定奖励（一次性）")
        c = FirstSetClaim(**common, amount=Decimal(str(rules.rewards[item.level])))
    else:
        raise wf.FieldProblems({"kind": "类型应为 insurance（保险补偿）或 reward（认定奖励）"})
    db.add(c)
    db.commit()
    return c


def first_set_claims(db: Session, scope: Any) -> list[FirstSetClaim]:
    q = select(FirstSetClaim).where(scope.where(FirstSetClaim.division_code, FirstSetClaim.credit_code))
    return list(db.scalars(q.order_by(FirstSetClaim.id.desc())))


def first_set_count(
    items: list[RecognisedItem], year: int, rules: FirstSetRules | None = None
) -> dict[str, Any]:
    """The year's recognitions against the target, by category, and how many are in the
    catalogue at the year's end."""
    rules = rules or load_first_set()
    mine = [i for i in items if i.recognised_on.year == year]
    return {
        "year": year,
        "recognised": len(mine),
        "target": rules.target_per_year,
        "by_category": {k: sum(1 for i in mine if i.category == k) for k in rules.categories},
        "in_catalogue": sum(1 for i in items if in_catalogue(i, date(year, 12, 31))),
    }


def screening_json(found: dict[str, Any]) -> str:
    return json.dumps(found, ensure_ascii=False)
