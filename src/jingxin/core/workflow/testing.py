"""Test helpers for workflows: a small cast of users around 西湖区 and two moments.

`make_people(db)` creates (idempotently) the demo accounts plus neighbours who must NOT see a
西湖区 case: a county analyst of 上城区 (same city), the city analyst of 温州市 and a county
analyst of 鹿城区, the finance bureau of 上城区, a second 西湖区 enterprise that the service
worker does not serve, and a second telecom operator (`liantong`) that must not see the demo
operator's 5G applications.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from jingxin.core.audit import Actor
from jingxin.core.calendar import CHINA_TZ

PASSWORD = "jingxin2024demo"


def bj(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Beijing-time moment."""
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def make_people(db: Session, password: str = PASSWORD) -> dict[str, Any]:
    from jingxin.accounts import demo as account_demo
    from jingxin.accounts import service as accounts
    from jingxin.accounts.schemas import UserCreate
    from jingxin.core.auth import Role

    codes = account_demo.demo_enterprise_codes(count=3)
    people = {u.username: u for u in account_demo.create_demo_users(db, password)}
    extra = [
        UserCreate(
            username="shangcheng",
            display_name="上城区经信局",
            role=Role.COUNTY_ANALYST,
            division_code="330102",
            password=password,
        ),
        UserCreate(
            username="wenzhou",
            display_name="温州市经信局",
            role=Role.CITY_ANALYST,
            division_code="330300",
            password=password,
        ),
        UserCreate(
            username="lucheng",
            display_name="鹿城区经信局",
            role=Role.COUNTY_ANALYST,
            division_code="330302",
            password=password,
        ),
        UserCreate(
            username="caizheng-sc",
            display_name="上城区财政局",
            role=Role.FINANCE,
            division_code="330102",
            password=password,
        ),
        UserCreate(
            username="qiye2",
            display_name="另一家企业",
            role=Role.ENTERPRISE,
            credit_code=codes[2],
            password=password,
        ),
        UserCreate(
            username="liantong",
            display_name="另一家通信运营商（联通）",
            role=Role.OPERATOR,
            credit_code=account_demo.demo_operator_codes()[1],
            password=password,
        ),
    ]
    actor = Actor(None, "test", None)
    for spec in extra:
        existing = accounts.get_user_by_username(db, spec.username)
        people[spec.username] = existing or accounts.create_user(db, spec, actor)
    db.commit()
    return people
