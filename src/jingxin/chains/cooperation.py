"""产业精准合作对接 on the `chain_match` workflow (chains/workflows/chain_match.yaml).

A recommendation is proposed as a case whose enterprise is the buyer; the user must see the
buyer (scope) and the seller must be one of the buyer's current recommendations, so nobody can
file a made-up pairing. Both sides' agreement moves the case to 已对接; `converted` then reads
the invoices after the agreement to say whether the match turned into trade.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jingxin.chains import compute, service
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.core.workflow import service as wf

WORKFLOW = "chain_match"


def propose(
    db: Session, wh: Warehouse, user: Any, scope: Scope, buyer: str, seller: str, keyword: str, month: str
) -> Any:
    """Open a case for one recommendation of `buyer` (refused when it is not one)."""
    recs = service.recommendations(wh, buyer, month, scope)
    rec = next((r for r in recs if r["s_code"] == seller and r["keyword"] == keyword), None)
    if rec is None:
        raise compute.ChainsError(
            f"{seller} 不是 {buyer} 在 {month} 对「{keyword}」的推荐供方（或该购方不在您的范围内）"
        )
    return wf.start_item(
        db,
        WORKFLOW,
        user,
        division_code=rec["buyer_county"],
        credit_code=buyer,
        fields={
            "title": f"{rec['buyer_name']} ← {rec['s_name']}（{keyword}）",
            "goods": keyword,
            "seller_code": seller,
            "seller_name": rec["s_name"],
            "evidence": f"第{rec['rank']}名，得分 {rec['score']:.3f}；{rec['evidence']}"[:2000],
        },
        key=f"match:{buyer}:{seller}:{keyword}",
    )


def converted(wh: Warehouse, buyer: str, seller: str, since: str) -> float:
    """Invoiced amount (万元) from `seller` to `buyer` from month `since` (YYYY-MM) on."""
    start = compute.window(since, 1).start
    t = compute._current(wh, "invoices")
    t = t.filter((t.buyer_code == buyer) & (t.seller_code == seller) & (t.month >= start))
    value = wh.execute(t.amount.sum())
    return float(value or 0.0)


def conversion(db: Session, wh: Warehouse, scope: Scope) -> dict[str, Any]:
    """Of the matches both sides agreed to (已对接) inside `scope`, how many turned into trade:
    invoices from the recommended seller to the buyer from the month of the agreement on."""
    items, _ = wf.list_items(db, scope, workflow=WORKFLOW, state="matched", limit=5000)
    rows: list[dict[str, Any]] = []
    for item in items:
        since = f"{item.closed_at or item.updated_at:%Y-%m}"
        amount = converted(wh, str(item.credit_code), str(item.fields.get("seller_code")), since)
        rows.append(
            {
                "id": item.id,
                "title": item.fields.get("title"),
                "buyer": item.credit_code,
                "seller": item.fields.get("seller_code"),
                "goods": item.fields.get("goods"),
                "agreed": since,
                "amount": amount,
                "traded": amount > 0,
            }
        )
    traded = sum(1 for r in rows if r["traded"])
    return {
        "matched": len(rows),
        "traded": traded,
        "rate": traded / len(rows) if rows else None,
        "items": rows,
    }
