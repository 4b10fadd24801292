"""Demo accounts (演示账号): one per role and a liaison per department, for demos and browser tests."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from jingxin.accounts.models import User
from jingxin.accounts.schemas import UserCreate, UserUpdate
from jingxin.accounts.service import create_user, get_user_by_username, update_user
from jingxin.core import credit_code as cc
from jingxin.core.audit import Actor
from jingxin.core.auth import Role, departments

DEMO_PASSWORD = "jingxin2024demo"

LIAISON_USERNAMES = {
    "市场监管": "liaison-scjg",
    "自然资源": "liaison-zrzy",
    "税务": "liaison-sw",
    "统计": "liaison-tj",
    "能源": "liaison-ny",
    "生态环境": "liaison-sthj",
    "电力": "liaison-dl",
    "经信": "liaison-jx",  # parks and park members (开发区（园区）数据)
    "海关": "liaison-hg",  # customs exports (运行监测)
    # enterprise risk sources (企业风险分级)
    "人社": "liaison-rs",
    "公用事业": "liaison-gy",
    "人行": "liaison-rh",
    "法院": "liaison-fy",
    "金融监管": "liaison-jr",
}


def demo_enterprise_codes(county: str = "330106", count: int = 3) -> list[str]:
    """Deterministic valid credit codes registered in `county`, for demo accounts when no
    generated province is at hand."""
    rng = random.Random(20240301)
    return [cc.generate(county, rng) for _ in range(count)]


def demo_operator_codes(count: int = 2) -> list[str]:
    """Deterministic valid credit codes of telecom operators (通信运营商) registered at the
    province (330000), for the demo operator account and the neighbour tests use."""
    rng = random.Random(20240302)
    return [cc.generate("330000", rng) for _ in range(count)]


def create_demo_users(
    db: Session,
    password: str = DEMO_PASSWORD,
    *,
    enterprise_code: str | None = None,
    staff_enterprises: Sequence[str] | None = None,
    staff_division: str = "330106",
    stale: Callable[[Sequence[str]], bool] | None = None,
    actor: Actor | None = None,
) -> list[User]:
    """One account per role (and a liaison per department), for demos and browser tests.

    Idempotent: an existing username is left as it is, except that the enterprise and the
    service worker are re-pointed to `enterprise_code` / `staff_enterprises` (and
    `staff_division`) when `stale` says the codes they hold are not enterprises of the current
    province (see `jingxin.accounts.demo_bindings`). Pass the credit codes of generated
    enterprises so those two accounts see real data; otherwise codes registered in 西湖区 are
    made up.

    | username | role | division |
    |---|---|---|
    | admin | 管理员 | 330000 |
    | sheng | 省级分析员 | 330000 |
    | hangzhou | 市级分析员 | 330100 杭州市 |
    | xihu | 县级分析员 | 330106 西湖区 |
    | liaison-sw, liaison-dl, ..., liaison-jx | 部门数据联络员 (one per department) | 330000 |
    | fuwu | 驻企服务员 | 330106, with assigned enterprises |
    | qiye | 企业 | its credit code |
    | caizheng | 财政部门 | 330106 西湖区 (records the payment of its payout lists) |
    | yidong | 通信运营商 | its credit code (its own 5G applications) |
    """
    actor = actor or Actor(None, "demo", None)
    codes = demo_enterprise_codes()
    enterprise_code = enterprise_code or codes[0]
    staff = list(staff_enterprises) if staff_enterprises is not None else codes[:2]
    specs: list[UserCreate] = [
        UserCreate(username="admin", display_name="系统管理员", role=Role.ADMIN, password=password),
        UserCreate(
            username="sheng", display_name="省经信厅分析员", role=Role.PROVINCE_ANALYST, password=password
        ),
        UserCreate(
            username="hangzhou",
            display_name="杭州市经信局分析员",
            role=Role.CITY_ANALYST,
            division_code="330100",
            password=password,
        ),
        UserCreate(
            username="xihu",
            display_name="西湖区经信局分析员",
            role=Role.COUNTY_ANALYST,
            division_code="330106",
            password=password,
        ),
        *(
            UserCreate(
                username=LIAISON_USERNAMES.get(dept, f"liaison-{i}"),
                display_name=f"{dept}部门数据联络员",
                role=Role.LIAISON,
                division_code="330000",
                department=dept,
                password=password,
            )
            for i, dept in enumerate(departments())
        ),
        UserCreate(
            username="fuwu",
            display_name="西湖区驻企服务员" if staff_division == "330106" else "驻企服务员",
            role=Role.SERVICE_STAFF,
            division_code=staff_division,
            enterprises=staff,
            password=password,
        ),
        UserCreate(
            username="qiye",
            display_name="示例企业",
            role=Role.ENTERPRISE,
            credit_code=enterprise_code,
            password=password,
        ),
        UserCreate(
            username="caizheng",
            display_name="西湖区财政局",
            role=Role.FINANCE,
            division_code="330106",
            password=password,
        ),
        UserCreate(
            username="yidong",
            display_name="示例通信运营商（移动）",
            role=Role.OPERATOR,
            credit_code=demo_operator_codes()[0],
            password=password,
        ),
    ]
    users = []
    for spec in specs:
        existing = get_user_by_username(db, spec.username)
        if existing is None:
            users.append(create_user(db, spec, actor))
            continue
        held = existing.enterprises if spec.role is Role.SERVICE_STAFF else [existing.credit_code or ""]
        if spec.role in (Role.SERVICE_STAFF, Role.ENTERPRISE) and stale is not None and stale(held):
            # the province changed under the account: bind it to enterprises that exist now
            change = (
                UserUpdate(division_code=spec.division_code, enterprises=spec.enterprises)
                if spec.role is Role.SERVICE_STAFF
                else UserUpdate(credit_code=spec.credit_code)
            )
            existing = update_user(db, existing.id, change, actor)
        users.append(existing)
    return users
