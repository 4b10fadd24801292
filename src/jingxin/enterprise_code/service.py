"""What the enterprise code page (企业码) shows, read within the user's scope.

The page is one enterprise's: its registration, its 亩均 class and what follows from it (the
class-based policies), the policies it qualifies for and why, its payouts, and its appeals. An
enterprise user reaches only its own page; service staff the enterprises assigned to them;
officials those of their region (`core/scope.py` decides, here through `Scope.restrict` and
`Scope.where`). Appeals are another package's: the page links to ``/appeals`` by URL only
(`APPEALS_URL`), so this package does not import it.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import ibis
import segno
from sqlalchemy.orm import Session

from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.policies import payouts
from jingxin.policies import service as policies

APPEALS_URL = "/appeals"
"""Where the enterprise's appeals (诉求直办) live; the appeals package serves it. The page links
to ``/appeals?credit_code=<code>`` and ``/appeals/new?credit_code=<code>``."""

CLASS_CONSEQUENCES = {
    "A": "优先发展类：城镇土地使用税减免100%，用地、用能、资金等要素优先保障，可参评亩均效益领跑者。",
    "B": "提升发展类：城镇土地使用税减免80%。",
    "C": "调控帮扶类：不享受城镇土地使用税减免，用能指标适当压减，列入帮扶提升名单。",
    "D": "倒逼整治类：用电加价0.3元/千瓦时（连续三年及以上0.4元），用能指标压减，列入整治名单。",
}
"""What each 亩均 class means for the enterprise (DOMAIN §3, 浙政办发〔2019〕62号, 海宁 draft)."""


def profile(wh: Warehouse, scope: Scope, credit_code: str) -> dict[str, Any] | None:
    """Registration of one enterprise in scope, or None (not registered or not in scope)."""
    reg = scope.restrict(wh.current("registry"))
    rows = wh.to_pyarrow(
        reg.filter(reg.credit_code == credit_code)
        .select("credit_code", "name", "county_code", "industry_code", "founded_on", "status")
        .limit(1)
    ).to_pylist()
    if not rows:
        return None
    row = rows[0]
    from jingxin import reference

    try:
        row["county_name"] = reference.division(row["county_code"]).name
    except (KeyError, ValueError):
        row["county_name"] = row["county_code"]
    return row


def evaluation(wh: Warehouse, scope: Scope, credit_code: str) -> dict[str, Any] | None:
    """The newest stored 亩均 result of the enterprise (any system), with what follows from it."""
    if not (wh.has_table("eval_results") and wh.has_table("eval_runs")):
        return None
    res = scope.restrict(wh.table("eval_results"))
    runs = wh.table("eval_runs").select("run_id", "year", "system", "created_at")
    j = res.filter(res.credit_code == credit_code).join(runs, "run_id")
    rows = wh.to_pyarrow(
        j.select(
            "run_id",
            "year",
            "system",
            "total_score",
            "rank_in_county",
            "county_count",
            "land_tax_relief_pct",
            "power_surcharge_yuan_per_kwh",
            "created_at",
            cls=j["class"],
        )
        .order_by([ibis.desc("year"), ibis.desc("created_at")])
        .limit(1)
    ).to_pylist()
    if not rows:
        return None
    row = rows[0]
    row["consequence"] = CLASS_CONSEQUENCES.get(row["cls"] or "", "")
    return row


def page(
    db: Session, wh: Warehouse, scope: Scope, credit_code: str, day: dt.date | None = None
) -> dict[str, Any] | None:
    """Everything the code page shows, or None when the enterprise is not in scope."""
    who = profile(wh, scope, credit_code)
    if who is None:
        return None
    try:
        day = day or policies.default_day(wh)
        decisions = policies.decisions_for(wh, scope, credit_code, day)
    except policies.NoFacts:
        decisions = []
    lines = payouts.lines_for_enterprise(db, scope, credit_code)
    return {
        "profile": who,
        "evaluation": evaluation(wh, scope, credit_code),
        "day": day,
        "qualifying": [d for d in decisions if d["eligible"]],
        "others": [d for d in decisions if not d["eligible"]],
        "payouts": lines,
        "paid_total": sum(r.amount_fen for r in lines if r.status == "paid") / 100,
        "appeals_url": f"{APPEALS_URL}?credit_code={credit_code}",
        "new_appeal_url": f"{APPEALS_URL}/new?credit_code={credit_code}",
    }


def qr_svg(url: str) -> bytes:
    """The enterprise's QR code as SVG (segno; error correction M, readable when printed small)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=6, border=2, dark="#1f2937")
    return out.getvalue()
