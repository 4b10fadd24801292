"""Cost burden from the warehouse within a user's scope, and the confirmation of policy reviews.

Relief comes from two places: the 亩均 policy columns of the newest stored evaluation run of
the year (`eval_results`, system `SYSTEM`), and the payouts of the policy catalogue (package
`policies`) paid for that data year, in the platform database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import ibis
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.appeals.models import BurdenReview
from jingxin.burden import compute
from jingxin.burden.config import DECISIONS, load_config
from jingxin.core import audit
from jingxin.core.db import clean_text, utcnow
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.policies.models import PayoutLine

SYSTEM = "zhejiang_industry_above"
REVIEWERS = frozenset({"admin", "province_analyst"})


class BurdenError(ValueError):
    status = 422


def _results(wh: Warehouse, year: int) -> ibis.Table | None:
    if not (wh.has_table("eval_runs") and wh.has_table("eval_results")):
        return None
    runs = wh.table("eval_runs")
    runs = runs.filter((runs.system == SYSTEM) & (runs.year == year)).select("run_id", "created_at")
    res = wh.table("eval_results").join(runs, "run_id")
    order = [ibis.desc(res.created_at), ibis.desc(res.run_id)]
    res = res.mutate(__rn=ibis.row_number().over(group_by="credit_code", order_by=order))
    res = res.filter(res.__rn == 0)
    return res.select("credit_code", "land_tax_relief_pct", "power_surcharge_yuan_per_kwh")


def _facts(wh: Warehouse, scope: Scope) -> dict[str, ibis.Table]:
    registry = scope.restrict(wh.current("registry"))
    return {name: wh.current(name) for name in ("statistics", "tax", "monthly", "power_monthly", "land")} | {
        "registry": registry
    }


def _social(wh: Warehouse) -> ibis.Table | None:
    """人社's 社保缴费 facts, or None for a warehouse made before that source existed."""
    return wh.current("social_insurance") if wh.has_table("social_insurance") else None


def indicators(wh: Warehouse, scope: Scope, year: int) -> list[dict[str, Any]]:
    """Yearly indicators by county and industry; the social insurance columns are null where no
    contribution was received, and financing cost is absent (no source carries it)."""
    f = _facts(wh, scope)
    expr = compute.annual(
        f["registry"],
        f["statistics"],
        f["tax"],
        f["monthly"],
        f["power_monthly"],
        _results(wh, year),
        year,
        load_config(),
        _social(wh),
    )
    return wh.to_pyarrow(expr).to_pylist()


def monthly(wh: Warehouse, scope: Scope, year: int) -> list[dict[str, Any]]:
    f = _facts(wh, scope)
    return wh.to_pyarrow(compute.monthly_cost(f["registry"], f["monthly"], year)).to_pylist()


@dataclass
class PolicyRow:
    policy: str
    title: str
    population: int
    beneficiaries: int
    uptake: float
    cost: float
    cost_per_beneficiary: float | None
    effect_pp: float | None
    suggested: str
    suggested_label: str
    decision: str | None = None
    decision_label: str | None = None
    decided_by: str | None = None


def paid_lines(db: Session, scope: Scope, year: int) -> list[dict[str, Any]]:
    """The catalogue's payout lines paid for data year `year`, within `scope` (为谁、多少)."""
    found = db.execute(
        select(PayoutLine.credit_code, PayoutLine.county_code, PayoutLine.policy_id, PayoutLine.amount_fen)
        .where(PayoutLine.status == "paid", PayoutLine.data_year == year)
        .order_by(PayoutLine.id)
    ).all()
    return [
        {"credit_code": code, "policy_id": policy, "amount_fen": int(fen)}
        for code, county, policy, fen in found
        if scope.allows_record(county, code)
    ]


def policies(wh: Warehouse, db: Session, scope: Scope, year: int) -> list[PolicyRow]:
    """The relief each policy delivered and its suggested classification (停止/延续/长期): the
    亩均 policies over the enterprises evaluated that year, the catalogue's paid policies over
    the enterprises of the registry in scope."""
    cfg = load_config()
    f = _facts(wh, scope)
    rows: list[dict[str, Any]] = []
    res = _results(wh, year)
    if res is not None:
        per = compute.relief(f["registry"], f["land"], f["power_monthly"], res, year, cfg)
        rows += wh.to_pyarrow(compute.policy_summary(per, f["statistics"], year)).to_pylist()
    # A catalogue policy that is also measured from the 亩均 columns (the land-use-tax relief)
    # is taken from there, over every entitled enterprise, never counted twice.
    paid = [line for line in paid_lines(db, scope, year) if line["policy_id"] not in cfg.policies]
    catalogue = tuple(sorted({line["policy_id"] for line in paid}))
    if catalogue:
        lines = ibis.memtable(
            pa.Table.from_pylist(
                paid,
                schema=pa.schema(
                    [("credit_code", pa.string()), ("policy_id", pa.string()), ("amount_fen", pa.int64())]
                ),
            )
        )
        per_paid = compute.paid_relief(f["registry"], lines, catalogue)
        rows += wh.to_pyarrow(compute.policy_summary(per_paid, f["statistics"], year, catalogue)).to_pylist()
    titles = {**{p: d.title for p, d in cfg.policies.items()}, **_catalogue_titles(catalogue)}
    decided = {r.policy_id: r for r in reviews(db, year)}
    out = []
    for r in sorted(rows, key=lambda r: r["policy"]):
        pop, ben = int(r["population"] or 0), int(r["beneficiaries"] or 0)
        cost = float(r["cost"] or 0.0)
        uptake = ben / pop if pop else 0.0
        per_b = abs(cost) / ben if ben else None
        effect = r["effect_pp"]
        suggested = cfg.classify(uptake, effect, per_b)
        d = decided.get(r["policy"])
        out.append(
            PolicyRow(
                r["policy"],
                titles[r["policy"]],
                pop,
                ben,
                uptake,
                cost,
                per_b,
                effect,
                suggested,
                DECISIONS[suggested],
                d.decision if d else None,
                DECISIONS.get(d.decision) if d else None,
                d.decided_by if d else None,
            )
        )
    return out


def _catalogue_titles(ids: tuple[str, ...]) -> dict[str, str]:
    from jingxin.policies.config import load_catalogue

    catalogue = load_catalogue()
    return {p: catalogue[p].title if p in catalogue else p for p in ids}


def reviews(db: Session, year: int) -> list[BurdenReview]:
    """The newest decision per policy for `year`."""
    rows = db.scalars(select(BurdenReview).where(BurdenReview.year == year).order_by(BurdenReview.id)).all()
    latest: dict[str, BurdenReview] = {}
    for r in rows:
        latest[r.policy_id] = r
    return list(latest.values())


def confirm(
    db: Session,
    user: Any,
    actor: audit.Actor,
    *,
    policy_id: str,
    year: int,
    decision: str,
    suggested: str,
    reason: str = "",
    figures: dict[str, Any] | None = None,
) -> BurdenReview:
    """Record an official's decision on a policy (audited); a decision against the suggestion
    needs a reason."""
    if user.role not in REVIEWERS:
        raise BurdenError("只有省级分析员或管理员可以确认政策评估结论")
    cfg = load_config()
    problems = []
    if policy_id not in cfg.policies:
        problems.append(f"政策 {policy_id[:40]} 不在评估清单中")
    if decision not in DECISIONS or suggested not in DECISIONS:
        problems.append(f"结论须为{'、'.join(DECISIONS.values())}之一")
    reason = clean_text(reason or "").strip()[:2000]
    if decision != suggested and not reason:
        problems.append("结论与系统建议不同，请填写理由")
    if problems:
        raise BurdenError("；".join(problems))
    row = BurdenReview(
        policy_id=policy_id,
        year=year,
        suggested=suggested,
        decision=decision,
        reason=reason,
        figures=json.dumps(figures or {}, ensure_ascii=False, default=str),
        decided_by_id=user.id,
        decided_by=user.username,
        decided_at=utcnow(),
    )
    db.add(row)
    audit.record(
        db,
        actor,
        audit.Action.CONFIG_CHANGE,
        "burden_review",
        policy_id,
        {"year": year, "decision": decision, "suggested": suggested},
    )
    db.commit()
    return row
