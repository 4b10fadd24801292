"""Pushing a new or changed policy to the enterprises that qualify (政策精准推送).

A push notifies every enterprise account whose enterprise qualifies, within the pushing
official's scope. Each message is keyed by the policy's fingerprint, so pushing the same
version again reaches only enterprises that newly qualify, and a changed policy (new
parameters, conditions or dates: a new fingerprint) is pushed afresh.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core.db import write_turn
from jingxin.core.notify.service import notify
from jingxin.core.warehouse import Warehouse
from jingxin.policies import service
from jingxin.policies.config import get_policy
from jingxin.policies.models import PolicyPush

PUSH_ROLES = frozenset({"province_analyst", "city_analyst", "county_analyst", "admin"})


def push(db: Session, wh: Warehouse, user: Any, policy_id: str, day: dt.date) -> int:
    """Notify the qualifying enterprises' accounts; returns how many messages were made."""
    from jingxin.accounts.models import User
    from jingxin.core.workflow.service import NotAllowed

    if user.role not in PUSH_ROLES:
        raise NotAllowed("您无权推送政策")
    policy = get_policy(policy_id)
    found = {r["credit_code"]: r for r in service.beneficiaries(wh, user.scope, policy_id, day)}
    fingerprint = policy.fingerprint()
    accounts = list(
        db.scalars(
            select(User).where(
                User.role == "enterprise", User.is_active, User.credit_code.in_(list(found) or [""])
            )
        )
    )
    made = 0
    with write_turn(db):
        for account in accounts:
            r = found[account.credit_code]
            what = f"预计{'加价' if policy.kind == 'charge' else '可享受'} {abs(r['amount'] or 0):,.2f} 元"
            how = "免申即享，无需申请" if policy.mode == "direct" else "请在企业码页面提交申请"
            made += len(
                notify(
                    db,
                    [account],
                    event="policy_match",
                    title=f"政策匹配提醒：{policy.title}",
                    body=f"根据 {policy.data_year_for(day)} 年度数据，贵企业符合《{policy.document}》{policy.title}，{what}；{how}。",  # noqa: E501
                    link=f"/qiye/{account.credit_code}#policy-{policy.id}",
                    dedupe_key=f"policy:{policy.id}:{fingerprint}:{account.credit_code}",
                )
            )
        division = user.division_code or "330000"
        exists = db.scalar(
            select(PolicyPush).where(
                PolicyPush.policy_id == policy.id,
                PolicyPush.fingerprint == fingerprint,
                PolicyPush.county_code == division,
            )
        )
        if exists is None:
            db.add(
                PolicyPush(
                    policy_id=policy.id,
                    fingerprint=fingerprint,
                    county_code=division,
                    recipients=made,
                    pushed_by=user.username,
                )
            )
        else:
            exists.recipients += made
        db.commit()
    return made


def pushes(db: Session, policy_id: str) -> list[PolicyPush]:
    return list(
        db.scalars(
            select(PolicyPush).where(PolicyPush.policy_id == policy_id).order_by(PolicyPush.pushed_at.desc())
        )
    )
