"""Hardening (SQLite and PostgreSQL): the password change under the login throttle, parameters
refused at the edge with a clear Chinese 4xx, 500 answers with the security headers, per-user
slots of cached pages that data cannot reach, service workers' assignments kept in region,
refused requests audited, Secure cookies and forwarded addresses only from trusted proxies."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import select
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from jingxin.accounts import login as account_login
from jingxin.accounts import service
from jingxin.accounts.login import ThrottlePolicy
from jingxin.accounts.models import LoginAttempt, User
from jingxin.accounts.schemas import UserCreate, UserUpdate
from jingxin.core import audit
from jingxin.core.audit import CLI_ACTOR, Action, Actor
from jingxin.core.auth import Role, verify_password
from jingxin.core.credit_code import generate
from jingxin.core.scope import Scope
from jingxin.web.deps import SESSION_COOKIE
from jingxin.web.testing import DEMO_PASSWORD, csrf_from, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

XIHU, SHANGCHENG, HANGZHOU, HAISHU, NINGBO = "330106", "330102", "330100", "330203", "330200"


def _code(county: str, n: int = 0) -> str:
    import random

    return generate(county, random.Random(f"{county}-{n}"))


def _entries(app: Any, action: str, username: str | None = None) -> list[audit.AuditEntry]:
    with app.state.db.session() as db:
        return audit.search(db, action=action, username=username, limit=1000)[0]


def _password_hash(app: Any, username: str) -> str:
    with app.state.db.session() as db:
        return db.scalar(select(User.password_hash).where(User.username == username))


# ---- 6. the password change is no guessing oracle -------------------------------------------


def _change_via(client: TestClient, channel: str, csrf: str, old: str, new: str = "Brand-new-pass-2024"):
    if channel == "api":
        return client.post(
            "/api/v1/me/password",
            json={"old_password": old, "new_password": new},
            headers={"X-CSRF-Token": csrf},
        )
    return client.post(
        "/account/password",
        data={"old_password": old, "new_password": new, "confirm_password": new, "csrf_token": csrf},
        follow_redirects=False,
    )


@pytest.mark.parametrize("channel", ["api", "page"])
def test_wrong_old_passwords_lock_the_password_change(web_app, web_client, demo_users, channel) -> None:
    csrf = login(web_client, "xihu")
    before = _password_hash(web_app, "xihu")
    for i in range(4):
        answer = _change_via(web_client, channel, csrf, f"guess-{i}-wrong")
        assert answer.status_code == 400 and "原密码不正确" in answer.text
    fifth = _change_via(web_client, channel, csrf, "guess-4-wrong")
    assert fifth.status_code == 429 and "锁定" in fifth.text
    # now even the right old password is not checked: the answer tells nothing
    right = _change_via(web_client, channel, csrf, DEMO_PASSWORD)
    assert right.status_code == 429 and "分钟后再试" in right.text
    assert _password_hash(web_app, "xihu") == before
    failed = _entries(web_app, Action.PASSWORD_CHANGE_FAILED, "xihu")
    assert [e.detail["reason"] for e in reversed(failed)] == ["bad_password"] * 5 + ["locked"]
    assert all(e.ip and e.user_id == demo_users["xihu"].id for e in failed)
    assert _entries(web_app, Action.LOGIN_LOCKED, "xihu")
    # the same throttle as login: logging in is refused too, with the right password
    other = TestClient(web_app, base_url="http://testserver")
    page = other.get("/login")
    refused = other.post(
        "/login",
        data={"username": "xihu", "password": DEMO_PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 429
    # the session itself goes on (the lock is on guessing, not on using the platform)
    assert web_client.get("/api/v1/me").json()["username"] == "xihu"


def test_failed_logins_count_toward_the_password_change_lock(web_app, web_client, demo_users) -> None:
    csrf = login(web_client, "hangzhou")
    attacker = TestClient(web_app, base_url="http://testserver")
    for i in range(5):
        page = attacker.get("/login")
        attacker.post(
            "/login",
            data={"username": "hangzhou", "password": f"nope-{i}", "csrf_token": csrf_from(page.text)},
        )
    answer = _change_via(web_client, "api", csrf, DEMO_PASSWORD)
    assert answer.status_code == 429


@pytest.mark.parametrize("limit", [2, 3, 6])
def test_the_lock_follows_the_policy_and_ends_on_time(platform_db, limit: int) -> None:
    policy = ThrottlePolicy(account_failures=limit, ip_failures=100, lock=timedelta(minutes=15))
    with platform_db.session() as db:
        user = service.create_user(
            db,
            UserCreate(
                username="wang", display_name="王", role=Role.PROVINCE_ANALYST, password="Original-pass-1"
            ),
            CLI_ACTOR,
        )
        actor = Actor(user.id, "wang", "10.1.2.3")
        for i in range(limit - 1):
            with pytest.raises(service.AccountError, match="原密码不正确") as info:
                account_login.change_password(db, user, f"wrong-{i}", "Changed-pass-22", actor, policy=policy)
            assert not isinstance(info.value, account_login.PasswordChangeLocked)
        with pytest.raises(account_login.PasswordChangeLocked):
            account_login.change_password(db, user, "wrong-last", "Changed-pass-22", actor, policy=policy)
        with pytest.raises(account_login.PasswordChangeLocked):
            account_login.change_password(
                db, user, "Original-pass-1", "Changed-pass-22", actor, policy=policy
            )
        # sixteen minutes later the lock has ended and the right password works
        for attempt in db.scalars(select(LoginAttempt)):
            attempt.at -= timedelta(minutes=16)
        db.commit()
        account_login.change_password(db, user, "Original-pass-1", "Changed-pass-22", actor, policy=policy)
        assert verify_password(db.get(User, user.id).password_hash, "Changed-pass-22")


# ---- 7. parameters are refused at the edge, errors keep their headers -----------------------

EXTREME_DAYS = [
    {"date_to": "9999-12-31"},
    {"date_from": "0001-01-01"},
    {"date_from": "0001-01-01", "date_to": "9999-12-31"},
    {"date_from": "1969-12-31"},
    {"date_to": "2100-01-01"},
]
MALFORMED_DAYS = [
    {"date_from": "2024-02-30"},
    {"date_to": "2024/03/01"},
    {"date_from": "10000-01-01"},
    {"date_from": "yesterday"},
    {"date_from": "2024-03-02", "date_to": "2024-03-01"},
]


@pytest.mark.parametrize("params", EXTREME_DAYS + MALFORMED_DAYS)
def test_audit_api_refuses_extreme_and_malformed_days(web_app, demo_users, params) -> None:
    client = TestClient(web_app, base_url="http://testserver", raise_server_exceptions=False)
    login(client, "admin")
    answer = client.get("/api/v1/audit", params=params)
    assert answer.status_code == 422, answer.text[:300]
    errors = answer.json()["detail"]
    assert errors
    reasons = ("日期须在 1970-01-01 至 2099-12-31 之间", "YYYY-MM-DD", "晚于")
    for error in errors:
        assert error["loc"][0] == "query" and error["loc"][1] in params
        assert error["msg"].startswith(f"查询参数 {error['loc'][1]}：")
        assert any(reason in error["msg"] for reason in reasons)


@pytest.mark.parametrize("params", EXTREME_DAYS + MALFORMED_DAYS)
def test_audit_page_names_the_refused_day(web_app, demo_users, params) -> None:
    client = TestClient(web_app, base_url="http://testserver", raise_server_exceptions=False)
    login(client, "admin")
    page = client.get("/audit", params=params)
    assert page.status_code == 400, page.text[:300]
    assert "以下日期条件有误" in page.text and "审计日志" in page.text
    fragment = client.get("/audit", params=params, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "以下日期条件有误" in fragment.text


@pytest.mark.parametrize(
    ("day_from", "day_to"),
    [(date.min, date.max), (date.min, None), (None, date.max), (date(1, 1, 2), date(9999, 12, 30))],
)
def test_day_bounds_never_overflow(day_from, day_to, db_session) -> None:
    start, end = audit.china_day_bounds(day_from, day_to)
    assert start is None or start.tzinfo is not None
    entries, _ = audit.search(db_session, date_from=day_from, date_to=day_to)
    assert entries == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/api/v1/users?limit=0", "查询参数 limit：不能小于 1"),
        ("/api/v1/users?limit=abc", "查询参数 limit：应为整数"),
        ("/api/v1/users?role=boss", "查询参数 role：应为以下之一"),
        ("/api/v1/batches?offset=-1", "查询参数 offset：不能小于 0"),
        ("/api/v1/users/0", "路径参数 user_id：不能小于 1"),
        ("/api/v1/audit?action=nothing", "查询参数 action：应为以下之一"),
    ],
)
def test_api_validation_errors_say_what_and_where_in_chinese(web_client, demo_users, url, message) -> None:
    login(web_client, "admin")
    answer = web_client.get(url)
    assert answer.status_code == 422
    assert message in answer.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/users?page=0", "查询参数 page：不能小于 1"),
        ("/users?page=x", "查询参数 page：应为整数"),
        ("/data?page=100001", "查询参数 page：不能大于 100000"),
        ("/?year=1999", "查询参数 year：不能小于 2000"),
        ("/?region=abc", "查询参数 region：格式不正确"),
    ],
)
def test_page_validation_errors_say_what_and_where_in_chinese(web_client, demo_users, url, message) -> None:
    login(web_client, "admin")
    page = web_client.get(url)
    assert page.status_code == 422
    assert message in page.text and "请求参数有误" in page.text


NUL_URLS = [
    "/api/v1/users?q=%00",
    "/api/v1/audit?user=ad%00min",
    "/api/v1/batches?source=tax%00",
    "/users?q=%00",
    "/audit?user=%00&action=login",
    "/?measure=%00",
    "/login?next=/%00",
    "/data/batches/1%00",
]


@pytest.mark.parametrize("url", NUL_URLS)
def test_nul_in_a_url_is_refused_at_the_edge(web_app, demo_users, url) -> None:
    client = TestClient(web_app, base_url="http://testserver", raise_server_exceptions=False)
    login(client, "admin")
    answer = client.get(url)
    assert answer.status_code == 400
    assert "空字符" in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    if url.startswith("/api/"):
        assert "空字符" in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/test-boom", "/test-boom"])
def test_server_errors_carry_the_security_headers(web_app, demo_users, path) -> None:
    def boom() -> Response:
        raise RuntimeError("internal detail that must not leak")

    web_app.add_api_route(path, boom, methods=["GET"])
    client = TestClient(web_app, base_url="http://testserver", raise_server_exceptions=False)
    answer = client.get(path)
    assert answer.status_code == 500
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert "internal detail" not in answer.text and "Traceback" not in answer.text
    assert "服务器" in answer.text


# ---- 8. per-user slots of cached pages --------------------------------------------------------

PLACEHOLDER_NAMES = [
    "__jingxin_csrf_token__",
    "__jingxin_display_name__",
    "甲__jingxin_csrf_token__乙",
    "__jingxin_csrf_token",
    "jingxin_csrf_token__",
    "__jingxin_csrf_",
    "__jingxin_name_",
    "__jingxin_csrf_" + "0" * 32 + "__",
    "__jingxin_csrf___jingxin_name_",
]


def _shared_routes(app: Any) -> None:
    """A page and a JSON answer of the shared response cache that show a value from the data."""
    from jingxin.web.response_cache import shared_response
    from jingxin.web.templating import render

    @shared_response()
    def page(request: Request, name: str) -> Response:
        return render(request, "layout/error.html", {"status": 200, "title": "企业", "message": name})

    @shared_response(dict[str, str])
    def data(name: str) -> dict[str, str]:
        return {"name": name}

    app.add_api_route("/test-shared", page, methods=["GET"])
    app.add_api_route("/api/v1/test-shared", data, methods=["GET"])


def _province_analyst(app: Any, username: str, display_name: str) -> None:
    with app.state.db.session() as db:
        service.create_user(
            db,
            UserCreate(
                username=username,
                display_name=display_name,
                role=Role.PROVINCE_ANALYST,
                password=DEMO_PASSWORD,
            ),
            CLI_ACTOR,
        )


@pytest.mark.parametrize("name", PLACEHOLDER_NAMES)
def test_data_never_reaches_the_per_user_slots(web_app, demo_users, name: str) -> None:
    from markupsafe import escape

    _shared_routes(web_app)
    _province_analyst(web_app, "sheng-b", "钱二")
    viewers = {}
    for username in ("sheng", "sheng-b"):  # the first makes the entry, the second is served from it
        client = TestClient(web_app, base_url="http://testserver")
        csrf = login(client, username)
        viewers[username] = (client, csrf)
    texts = {}
    for username, (client, csrf) in viewers.items():
        html = client.get("/test-shared", params={"name": name}).text
        data = client.get("/api/v1/test-shared", params={"name": name}).json()
        assert data == {"name": name}
        assert str(escape(name)) in html
        assert html.count(csrf) == 3  # the meta tag, the HTMX header, the logout form: no more
        texts[username] = html.replace(csrf, "")
    assert "钱二" in texts["sheng-b"] and "钱二" not in texts["sheng"]
    assert texts["sheng"].replace("省经信厅分析员", "") == texts["sheng-b"].replace("钱二", "")


def test_cached_slots_are_split_once_and_filled_per_user() -> None:
    from jingxin.web.response_cache import Slots, split_at_slots

    slots = Slots.new()
    assert Slots.new().csrf != slots.csrf  # a new nonce for every rendering
    body = f"<a>{slots.csrf}</a><b>__jingxin_csrf_token__</b><i>{slots.name}</i>".encode()
    pieces, kinds = split_at_slots(body, slots)
    assert kinds == ("csrf", "name")
    assert pieces == (b"<a>", b"</a><b>__jingxin_csrf_token__</b><i>", b"</i>")
    assert split_at_slots(body, None) == ((body,), ())


# ---- 9. assignments stay in region --------------------------------------------------------------


def _worker(division: str, codes: list[str], username: str = "worker") -> UserCreate:
    return UserCreate(
        username=username,
        display_name="服务员",
        role=Role.SERVICE_STAFF,
        division_code=division,
        enterprises=codes,
        password=DEMO_PASSWORD,
    )


@pytest.mark.parametrize(
    ("division", "county", "allowed"),
    [
        (XIHU, HAISHU, False),  # a 西湖区 worker, a 宁波 enterprise
        (XIHU, SHANGCHENG, False),  # a 西湖区 worker, the neighbouring county
        (HANGZHOU, HAISHU, False),  # a 杭州市 worker, a 宁波 enterprise
        (XIHU, XIHU, True),
        (HANGZHOU, SHANGCHENG, True),  # a city's worker, one of the city's counties
        (NINGBO, HAISHU, True),
    ],
)
def test_admin_assigns_only_enterprises_of_the_workers_region(
    web_client, demo_users, division, county, allowed
) -> None:
    csrf = login(web_client, "admin")
    code = _code(county)
    body = _worker(division, [code]).model_dump(mode="json")
    created = web_client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == (201 if allowed else 400), created.text
    if not allowed:
        assert code in created.json()["detail"] and "不在该服务员所属区划" in created.json()["detail"]
    # the same through a change of an existing worker, by the API and by the page
    fuwu = demo_users["fuwu"]
    moved = web_client.patch(
        f"/api/v1/users/{fuwu.id}",
        json={"division_code": division, "enterprises": [code]},
        headers={"X-CSRF-Token": csrf},
    )
    assert moved.status_code == (200 if allowed else 400), moved.text
    form = {
        "display_name": "驻企服务员",
        "role": "service_staff",
        "division_code": division,
        "enterprises": code,
        "csrf_token": csrf,
    }
    page = web_client.post(f"/users/{fuwu.id}", data=form, follow_redirects=False)
    assert page.status_code == (303 if allowed else 400)
    if not allowed:
        assert "不在该服务员所属区划" in page.text


@pytest.mark.parametrize(
    ("assigner", "division", "county", "problem"),
    [
        (Scope(division=XIHU), XIHU, XIHU, None),
        (Scope(division=XIHU), HANGZHOU, XIHU, "不在您的管理范围内"),  # a worker above the assigner
        (Scope(division=XIHU), XIHU, SHANGCHENG, "不在该服务员所属区划"),
        (Scope(division=HANGZHOU), HANGZHOU, SHANGCHENG, None),
        (Scope(division=HANGZHOU), NINGBO, HAISHU, "不在您的管理范围内"),
        (Scope(), NINGBO, HAISHU, None),
    ],
)
def test_assigners_stay_within_their_own_scope(platform_db, assigner, division, county, problem) -> None:
    with platform_db.session() as db:
        data = _worker(division, [_code(county)])
        if problem is None:
            user = service.create_user(db, data, CLI_ACTOR, assigner=assigner)
            assert user.enterprises == [_code(county)]
        else:
            with pytest.raises(service.AccountError, match=problem):
                service.create_user(db, data, CLI_ACTOR, assigner=assigner)


def test_a_worker_with_old_assignments_can_still_be_disabled(platform_db) -> None:
    """Assignments made before the rule do not block other changes of the account."""
    from jingxin.accounts.models import UserEnterprise

    with platform_db.session() as db:
        user = service.create_user(db, _worker(XIHU, [_code(XIHU)]), CLI_ACTOR)
        db.add(UserEnterprise(user_id=user.id, credit_code=_code(HAISHU)))
        db.commit()
        service.set_active(db, user.id, False, CLI_ACTOR)
        service.update_user(db, user.id, UserUpdate(display_name="新名字"), CLI_ACTOR)
        with pytest.raises(service.AccountError, match="不在该服务员所属区划"):
            service.update_user(
                db, user.id, UserUpdate(enterprises=[_code(XIHU, 1), _code(HAISHU)]), CLI_ACTOR
            )


# ---- 9. refused requests are audited ------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "method", "url"),
    [
        ("xihu", "GET", "/api/v1/users"),
        ("qiye", "GET", "/audit"),
        ("fuwu", "GET", "/users/new"),
        ("liaison-sw", "GET", "/api/v1/audit"),
    ],
)
def test_denials_are_audited(web_app, web_client, demo_users, username, method, url) -> None:
    login(web_client, username)
    answer = web_client.request(method, url)
    assert answer.status_code == 403
    (entry,) = _entries(web_app, Action.ACCESS_DENIED, username)
    assert entry.user_id == demo_users[username].id and entry.ip
    assert entry.detail["path"] == url and entry.detail["method"] == method
    assert entry.object_id == url


@pytest.mark.parametrize(
    ("who", "request_args"),
    [
        (
            "xihu",
            {
                "method": "POST",
                "url": "/api/v1/me/password",
                "json": {"old_password": "a", "new_password": "b"},
            },
        ),
        ("xihu", {"method": "POST", "url": "/logout", "data": {"csrf_token": "forged"}}),
        ("admin", {"method": "PATCH", "url": "/api/v1/users/1", "json": {"is_active": False}}),
        (None, {"method": "POST", "url": "/login", "data": {"username": "admin", "password": "x"}}),
    ],
)
def test_csrf_failures_are_audited(web_app, web_client, demo_users, who, request_args) -> None:
    if who:
        login(web_client, who)
    answer = web_client.request(**request_args, follow_redirects=False)
    assert answer.status_code == 403 and "CSRF" in answer.text
    (entry,) = _entries(web_app, Action.CSRF_FAILED)
    assert entry.username == who and entry.detail["path"] == request_args["url"]
    assert entry.detail["method"] == request_args["method"]
    assert not _entries(web_app, Action.ACCESS_DENIED)


# ---- 9. cookies and proxies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secure_setting", "base_url", "secure"),
    [
        (False, "http://testserver", False),
        (True, "http://testserver", True),
        (False, "https://testserver", True),
    ],
)
def test_session_cookie_is_secure_when_configured(
    web_settings, demo_users, secure_setting, base_url, secure
) -> None:
    from jingxin.web.app import create_app

    app = create_app(web_settings.model_copy(update={"secure_cookies": secure_setting}), migrate=False)
    try:
        client = TestClient(app, base_url=base_url)
        page = client.get("/login")
        assert ("Secure" in page.headers["set-cookie"]) is secure
        # behind a TLS proxy the browser sends the cookie; this client over plain HTTP would not
        token = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        answer = client.post(
            "/login",
            data={"username": "admin", "password": DEMO_PASSWORD, "csrf_token": csrf_from(page.text)},
            headers={"Cookie": f"{SESSION_COOKIE}={token}"},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert ("Secure" in answer.headers["set-cookie"]) is secure
    finally:
        app.state.db.dispose()


@pytest.mark.parametrize(
    ("listed", "problem"),
    [
        ("*", "不能为 *"),
        ("10.0.0.5, *", "不能为 *"),
        ("", "须在 JINGXIN_TRUSTED_PROXIES 中列出"),
        (" , ", "须在 JINGXIN_TRUSTED_PROXIES 中列出"),
        ("proxy.internal", "不是 IP 地址或网段"),
        ("10.0.0.0/33", "不是 IP 地址或网段"),
    ],
)
def test_untrustworthy_proxy_lists_are_refused(listed, problem) -> None:
    from jingxin.web.cli import proxy_options

    with pytest.raises(ValueError, match=problem.replace("*", r"\*")):
        proxy_options(True, listed)
    assert proxy_options(False, listed) == {"proxy_headers": False}


async def _failed_login_ip(
    app: Any, web_app: Any, client_addr: str, headers: dict[str, str]
) -> tuple[str, str]:
    """Log in wrongly from `client_addr` (with forwarded headers); the address recorded, and
    the session cookie the login form set."""
    transport = httpx.ASGITransport(app=app, client=(client_addr, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/login", headers=headers)
        token = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        await client.post(
            "/login",
            data={"username": "admin", "password": "wrong-password", "csrf_token": csrf_from(page.text)},
            headers={**headers, "Cookie": f"{SESSION_COOKIE}={token}"},
        )
    (entry,) = _entries(web_app, Action.LOGIN_FAILED, "admin")
    return entry.ip, page.headers["set-cookie"]


FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize(
    ("listed", "peer", "seen", "secure"),
    [
        ("10.0.0.5", "10.0.0.5", "203.0.113.9", True),  # the proxy itself
        ("10.0.0.5", "198.51.100.7", "198.51.100.7", False),  # someone reaching the port directly
        ("10.0.1.0/24", "10.0.1.77", "203.0.113.9", True),  # a network of proxies
        ("10.0.1.0/24", "10.0.2.1", "10.0.2.1", False),
        ("127.0.0.1, 10.0.0.5", "127.0.0.1", "203.0.113.9", True),
    ],
)
def test_forwarded_addresses_only_from_trusted_proxies(
    web_app, demo_users, listed, peer, seen, secure
) -> None:
    from jingxin.web.cli import proxy_options

    options = proxy_options(True, listed)
    app = ProxyHeadersMiddleware(web_app, trusted_hosts=options["forwarded_allow_ips"])
    ip, cookie = asyncio.run(_failed_login_ip(app, web_app, peer, FORWARDED))
    assert ip == seen
    assert ("Secure" in cookie) is secure
    with web_app.state.db.session() as db:
        assert db.scalar(select(LoginAttempt.ip)) == seen


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"JINGXIN_TRUSTED_PROXIES": "10.0.0.5"}, ["--proxy-headers"], ["10.0.0.5"]),
        ({}, ["--proxy-headers"], ["127.0.0.1"]),
        ({"JINGXIN_TRUSTED_PROXIES": "*"}, ["--proxy-headers"], None),
        ({"JINGXIN_TRUSTED_PROXIES": "*"}, [], False),
    ],
)
def test_serve_passes_only_the_listed_proxies(monkeypatch, tmp_path, env, args, expected) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from jingxin.cli import app as cli_app
    from jingxin.core.settings import get_settings
    from jingxin.web import cli as web_cli

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    monkeypatch.setattr(web_cli, "_check_warehouse_free", lambda url: None)
    # `serve` sets up the process's logging; in a test process that would outlive the test
    monkeypatch.setattr("jingxin.ops.logs.configure_logging", lambda *a, **kw: None)
    monkeypatch.setenv("JINGXIN_HOME", str(tmp_path))
    monkeypatch.delenv("JINGXIN_TRUSTED_PROXIES", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["serve", *args])
    finally:
        get_settings.cache_clear()
    if expected is None:
        assert result.exit_code == 2 and "不能为*" in "".join(result.output.split())
        assert calls == []
    elif expected is False:
        assert result.exit_code == 0 and calls[0]["proxy_headers"] is False
        assert "forwarded_allow_ips" not in calls[0]
    else:
        assert result.exit_code == 0, result.output
        assert calls[0]["proxy_headers"] is True and calls[0]["forwarded_allow_ips"] == expected
