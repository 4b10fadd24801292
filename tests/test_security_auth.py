"""Login, sessions, CSRF, throttling, passwords and the audit trail of them (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from jingxin.accounts import live_sessions, service, sessions
from jingxin.accounts import login as account_login
from jingxin.accounts.models import LoginAttempt, User, WebSession
from jingxin.accounts.schemas import UserCreate, UserUpdate
from jingxin.accounts.sessions import DEFAULT_SESSIONS, SessionPolicy
from jingxin.core import audit
from jingxin.core.audit import Action, Actor
from jingxin.core.auth import Role, token_digest
from jingxin.core.credit_code import generate
from jingxin.web.deps import SESSION_COOKIE
from jingxin.web.testing import DEMO_PASSWORD, csrf_from, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

ADMIN = Actor(None, "test-admin", "127.0.0.1")


def _entries(app, action: str, username: str | None = None) -> list[audit.AuditEntry]:
    with app.state.db.session() as db:
        entries, _ = audit.search(db, action=action, username=username, limit=1000)
        return entries


def _login_form(client) -> str:
    return csrf_from(client.get("/login").text)


def _post_login(client, username: str, password: str, headers: dict | None = None):
    token = _login_form(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=headers or {},
        follow_redirects=False,
    )


# ---- login, logout, sessions ---------------------------------------------------------------


def test_pages_need_login(web_client, demo_users) -> None:
    response = web_client.get("/users?q=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fusers%3Fq%3Dx"
    assert web_client.get("/api/v1/me").status_code == 401


def test_login_and_logout(web_client, demo_users, web_app) -> None:
    response = _post_login(web_client, "admin", DEMO_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    me = web_client.get("/api/v1/me").json()
    assert me["username"] == "admin" and me["role"] == "admin" and me["clearance"] is True
    home = web_client.get("/")
    assert "系统管理员" in home.text and "管理员" in home.text
    token = csrf_from(home.text)
    response = web_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?bye=1"
    assert web_client.get("/api/v1/me").status_code == 401
    assert _entries(web_app, Action.LOGIN, "admin")
    assert _entries(web_app, Action.LOGOUT, "admin")


def test_session_cookie_flags(web_client, demo_users) -> None:
    response = _post_login(web_client, "admin", DEMO_PASSWORD)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


def test_session_id_changes_at_login(web_client, demo_users, web_app) -> None:
    web_client.get("/login")
    before = web_client.cookies.get(SESSION_COOKIE)
    assert before  # the anonymous session that carries the login form's CSRF token
    _post_login(web_client, "admin", DEMO_PASSWORD)
    after = web_client.cookies.get(SESSION_COOKIE)
    assert after and after != before
    with web_app.state.db.session() as db:
        assert db.get(WebSession, token_digest(before)) is None  # the old id is dead
        assert db.get(WebSession, token_digest(after)).user.username == "admin"
    # logging in again (as someone else) rotates again and ends the first session
    token = csrf_from(web_client.get("/").text)
    web_client.post(
        "/login",
        data={"username": "sheng", "password": DEMO_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    third = web_client.cookies.get(SESSION_COOKIE)
    assert third not in (before, after)
    with web_app.state.db.session() as db:
        assert db.get(WebSession, token_digest(after)) is None


def test_planted_session_id_is_ignored(web_client, demo_users) -> None:
    web_client.cookies.set(SESSION_COOKIE, "attacker-chosen-id", domain="testserver.local", path="/")
    _post_login(web_client, "admin", DEMO_PASSWORD)
    assert web_client.cookies.get(SESSION_COOKIE) != "attacker-chosen-id"


def test_session_ids_are_stored_hashed(web_client, demo_users, web_app) -> None:
    _post_login(web_client, "admin", DEMO_PASSWORD)
    token = web_client.cookies.get(SESSION_COOKIE)
    with web_app.state.db.session() as db:
        ids = db.scalars(select(WebSession.id)).all()
    assert token not in ids and token_digest(token) in ids


def test_expired_session_is_refused(web_client, demo_users, monkeypatch) -> None:
    login(web_client, "admin")
    assert web_client.get("/api/v1/me").status_code == 200  # now also kept in memory
    later = sessions.utcnow() + DEFAULT_SESSIONS.idle + timedelta(minutes=1)
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    assert web_client.get("/api/v1/me").status_code == 401


def test_session_ended_in_the_database_is_refused_without_the_memory_copy(
    web_client, demo_users, web_app
) -> None:
    """What another process does to a session is seen once the in-memory copy lapses
    (`cache_for`); with `cache_for=0` it is seen at once."""
    web_app.state.session_policy = SessionPolicy(cache_for=timedelta(0))
    login(web_client, "admin")
    assert web_client.get("/api/v1/me").status_code == 200
    with web_app.state.db.session() as db:
        for ws in db.scalars(select(WebSession)).all():
            ws.expires_at = ws.expires_at - timedelta(days=1)
        db.commit()
    assert web_client.get("/api/v1/me").status_code == 401


def test_role_change_applies_to_the_next_request(web_client, demo_users, web_app) -> None:
    login(web_client, "xihu")
    assert web_client.get("/api/v1/me").json()["role"] == Role.COUNTY_ANALYST.value
    with web_app.state.db.session() as db:
        service.update_user(
            db, demo_users["xihu"].id, UserUpdate(role=Role.CITY_ANALYST, division_code="330100"), ADMIN
        )
    me = web_client.get("/api/v1/me").json()
    assert me["role"] == Role.CITY_ANALYST.value


def test_wrong_password_and_unknown_user_look_the_same(web_client, demo_users, web_app) -> None:
    wrong = _post_login(web_client, "admin", "not-the-password1")
    unknown = _post_login(web_client, "nobody", "not-the-password1")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    failed = _entries(web_app, Action.LOGIN_FAILED)
    assert {e.username for e in failed} == {"admin", "nobody"}
    assert {e.detail["reason"] for e in failed} == {"bad_password", "unknown_user"}
    assert all(e.ip for e in failed)


def test_disabled_user_cannot_log_in_and_is_logged_out(web_client, demo_users, web_app) -> None:
    login(web_client, "xihu")
    with web_app.state.db.session() as db:
        service.set_active(db, demo_users["xihu"].id, False, ADMIN)
    assert web_client.get("/api/v1/me").status_code == 401
    response = _post_login(web_client, "xihu", DEMO_PASSWORD)
    assert response.status_code == 401 and "已停用" in response.text


def test_open_redirect_is_refused(web_client, demo_users) -> None:
    token = _login_form(web_client)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = web_client.post(
            "/login",
            data={"username": "admin", "password": DEMO_PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"
        web_client.cookies.clear()
        token = _login_form(web_client)
    response = web_client.post(
        "/login",
        data={"username": "admin", "password": DEMO_PASSWORD, "csrf_token": token, "next": "/audit?x=1"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/audit?x=1"


# ---- CSRF -----------------------------------------------------------------------------------


def test_form_without_csrf_token_is_refused(web_client, demo_users, web_app) -> None:
    login(web_client, "admin")
    response = web_client.post(
        "/users/new",
        data={"username": "mallory", "display_name": "x", "role": "admin", "password": "Abcdefgh1234"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "CSRF" in response.text
    response = web_client.post(
        "/users/new",
        data={
            "username": "mallory",
            "display_name": "x",
            "role": "admin",
            "password": "Abcdefgh1234",
            "csrf_token": "guess",
        },
    )
    assert response.status_code == 403
    with web_app.state.db.session() as db:
        assert service.get_user_by_username(db, "mallory") is None


def test_api_post_without_csrf_header_is_refused(web_client, demo_users, web_app) -> None:
    token = login(web_client, "admin")
    body = {
        "username": "mallory",
        "display_name": "M",
        "role": "province_analyst",
        "password": "Abcdefgh1234",
    }
    assert web_client.post("/api/v1/users", json=body).status_code == 403
    assert web_client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert (
        web_client.patch(f"/api/v1/users/{demo_users['xihu'].id}", json={"is_active": False}).status_code
        == 403
    )
    ok = web_client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201, ok.text


def test_logout_needs_csrf(web_client, demo_users) -> None:
    login(web_client, "admin")
    assert web_client.post("/logout", follow_redirects=False).status_code == 403
    assert web_client.get("/api/v1/me").status_code == 200


def test_login_form_needs_csrf(web_client, demo_users) -> None:
    web_client.get("/login")
    response = web_client.post(
        "/login", data={"username": "admin", "password": DEMO_PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403


def test_csrf_token_of_another_session_is_refused(web_app, web_client, demo_users) -> None:
    from fastapi.testclient import TestClient

    with TestClient(web_app) as other:
        foreign = login(other, "sheng")
    login(web_client, "admin")
    response = web_client.post(
        "/api/v1/users",
        headers={"X-CSRF-Token": foreign},
        json={"username": "mallory", "display_name": "M", "role": "admin", "password": "Abcdefgh1234"},
    )
    assert response.status_code == 403


def test_htmx_is_configured_to_send_the_token(web_client, demo_users) -> None:
    token = login(web_client, "admin")
    page = web_client.get("/").text
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page
    assert f'<meta name="csrf-token" content="{token}">' in page


# ---- throttling -----------------------------------------------------------------------------


def test_five_failures_lock_the_account_for_fifteen_minutes(web_client, demo_users, web_app) -> None:
    for _ in range(4):
        assert _post_login(web_client, "sheng", "wrong-password1").status_code == 401
    fifth = _post_login(web_client, "sheng", "wrong-password1")
    assert "锁定" in fifth.text
    locked = _post_login(web_client, "sheng", DEMO_PASSWORD)  # the right password no longer helps
    assert locked.status_code == 429 and "锁定" in locked.text
    assert web_client.get("/api/v1/me").status_code == 401
    assert _entries(web_app, Action.LOGIN_LOCKED, "sheng")
    # other accounts from the same address are not locked by it
    assert _post_login(web_client, "hangzhou", DEMO_PASSWORD).status_code == 303
    # 15 minutes later the account opens again
    with web_app.state.db.session() as db:
        for attempt in db.scalars(select(LoginAttempt).where(LoginAttempt.username == "sheng")).all():
            attempt.at = attempt.at - timedelta(minutes=16)
        db.commit()
    web_client.cookies.clear()
    assert _post_login(web_client, "sheng", DEMO_PASSWORD).status_code == 303


def test_a_success_resets_the_account_count(web_client, demo_users) -> None:
    for _ in range(4):
        _post_login(web_client, "sheng", "wrong-password1")
    assert _post_login(web_client, "sheng", DEMO_PASSWORD).status_code == 303
    web_client.cookies.clear()
    for _ in range(4):
        assert _post_login(web_client, "sheng", "wrong-password1").status_code == 401
    assert _post_login(web_client, "sheng", DEMO_PASSWORD).status_code == 303


def test_unknown_accounts_lock_like_real_ones(web_client, demo_users) -> None:
    for _ in range(5):
        _post_login(web_client, "ghost", "wrong-password1")
    assert _post_login(web_client, "ghost", "wrong-password1").status_code == 429


def test_an_address_is_locked_after_many_failures(platform_db) -> None:
    policy = account_login.ThrottlePolicy(account_failures=5, ip_failures=8)
    with platform_db.session() as db:
        service.create_user(
            db,
            UserCreate(
                username="victim", display_name="V", role=Role.PROVINCE_ANALYST, password=DEMO_PASSWORD
            ),
            ADMIN,
        )
        for i in range(8):  # spread over many names: no account reaches its limit
            assert not account_login.authenticate(db, f"user{i}", "guess-password1", "10.9.9.9", policy).ok
        outcome = account_login.authenticate(db, "victim", DEMO_PASSWORD, "10.9.9.9", policy)
        assert not outcome.ok and outcome.locked_until is not None
        assert account_login.authenticate(db, "victim", DEMO_PASSWORD, "10.1.1.1", policy).ok
        attempts = db.scalars(select(LoginAttempt.outcome).where(LoginAttempt.ip == "10.9.9.9")).all()
        assert attempts.count("locked") == 1


# ---- passwords --------------------------------------------------------------------------------


def test_passwords_are_argon2_hashes(platform_db) -> None:
    with platform_db.session() as db:
        user = service.create_user(
            db,
            UserCreate(username="user1", display_name="U", role=Role.ADMIN, password="Secret-pass-123"),
            ADMIN,
        )
        assert user.password_hash.startswith("$argon2id$")
        assert "Secret-pass-123" not in user.password_hash


def test_password_change_via_page(web_client, demo_users, web_app) -> None:
    login(web_client, "xihu")
    page = web_client.get("/account/password")
    token = csrf_from(page.text)
    bad = web_client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "old_password": "wrong",
            "new_password": "NewPassword123",
            "confirm_password": "NewPassword123",
        },
    )
    assert bad.status_code == 400 and "原密码不正确" in bad.text
    weak = web_client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "old_password": DEMO_PASSWORD,
            "new_password": "short1",
            "confirm_password": "short1",
        },
    )
    assert weak.status_code == 400 and "至少10位" in weak.text
    ok = web_client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "old_password": DEMO_PASSWORD,
            "new_password": "NewPassword123",
            "confirm_password": "NewPassword123",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert "密码已修改" in web_client.get("/").text  # flash message, shown once
    assert "密码已修改" not in web_client.get("/").text
    assert web_client.get("/api/v1/me").status_code == 200  # this session stays
    web_client.cookies.clear()
    assert _post_login(web_client, "xihu", DEMO_PASSWORD).status_code == 401
    assert _post_login(web_client, "xihu", "NewPassword123").status_code == 303
    assert _entries(web_app, Action.PASSWORD_CHANGE, "xihu")


def test_password_change_ends_other_sessions(web_app, demo_users) -> None:
    from fastapi.testclient import TestClient

    with TestClient(web_app) as first, TestClient(web_app) as second:
        login(first, "hangzhou")
        token = login(second, "hangzhou")
        response = second.post(
            "/api/v1/me/password",
            headers={"X-CSRF-Token": token},
            json={"old_password": DEMO_PASSWORD, "new_password": "Another-pass-99"},
        )
        assert response.status_code == 204
        assert second.get("/api/v1/me").status_code == 200
        assert first.get("/api/v1/me").status_code == 401


# ---- user management and its audit --------------------------------------------------------------


def test_admin_creates_and_disables_a_user_through_pages(web_client, demo_users, web_app) -> None:
    login(web_client, "admin")
    token = csrf_from(web_client.get("/users/new").text)
    response = web_client.post(
        "/users/new",
        data={
            "csrf_token": token,
            "username": "Lishui-1",
            "display_name": "丽水市经信局",
            "role": "city_analyst",
            "division_code": "331100",
            "password": "Lishui-pass-2024",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with web_app.state.db.session() as db:
        user = service.get_user_by_username(db, "lishui-1")
        assert user.division_code == "331100" and user.role == "city_analyst"
    detail = web_client.get(f"/users/{user.id}")
    assert "已新增用户 lishui-1" in detail.text
    response = web_client.post(
        f"/users/{user.id}/active", data={"csrf_token": token, "active": "0"}, follow_redirects=False
    )
    assert response.status_code == 303
    created = _entries(web_app, Action.USER_CREATE)
    assert created[0].object_id == str(user.id) and created[0].username == "admin"
    disabled = _entries(web_app, Action.USER_DISABLE)
    assert disabled[0].detail["changes"] == {"is_active": [True, False]}


def test_role_rules_are_enforced(platform_db) -> None:
    with platform_db.session() as db:

        def make(**kw):
            base = {"username": "x-user", "display_name": "X", "password": "Abcdefgh1234"}
            return service.create_user(db, UserCreate(**{**base, **kw}), ADMIN)

        with pytest.raises(service.AccountError, match="设区市"):
            make(role=Role.CITY_ANALYST, division_code="330106")
        with pytest.raises(service.AccountError, match="县级单位"):
            make(role=Role.COUNTY_ANALYST, division_code="330100")
        with pytest.raises(service.AccountError, match="所属部门"):
            make(role=Role.LIAISON, department="外交部")
        with pytest.raises(service.AccountError, match="统一社会信用代码"):
            make(role=Role.ENTERPRISE)
        good = generate("330106", random.Random(7))
        bad = good[:17] + ("0" if good[17] != "0" else "1")
        with pytest.raises(service.AccountError, match="校验位"):
            make(role=Role.ENTERPRISE, credit_code=bad)
        with pytest.raises(service.AccountError, match="至少10位"):
            make(role=Role.ADMIN, password="short1")
        with pytest.raises(service.AccountError, match="未知的区划"):
            make(role=Role.LIAISON, department="税务", division_code="110000")
        user = make(role=Role.PROVINCE_ANALYST, division_code=None)
        assert user.division_code == "330000"
        with pytest.raises(service.AccountError, match="已存在"):
            make(role=Role.ADMIN, username="X-User")


def test_admin_cannot_lock_themselves_out(platform_db) -> None:
    with platform_db.session() as db:
        admin = service.create_user(
            db, UserCreate(username="root", display_name="R", role=Role.ADMIN, password="Abcdefgh1234"), ADMIN
        )
        me = Actor(admin.id, "root", None)
        with pytest.raises(service.AccountError, match="停用自己"):
            service.update_user(db, admin.id, UserUpdate(is_active=False), me)
        with pytest.raises(service.AccountError, match="管理员角色"):
            service.update_user(db, admin.id, UserUpdate(role=Role.PROVINCE_ANALYST), me)


def test_user_update_is_audited_with_changes(platform_db) -> None:
    with platform_db.session() as db:
        user = service.create_user(
            db,
            UserCreate(
                username="county1",
                display_name="C",
                role=Role.COUNTY_ANALYST,
                division_code="330106",
                password="Abcdefgh1234",
            ),
            ADMIN,
        )
        service.update_user(db, user.id, UserUpdate(role=Role.CITY_ANALYST, division_code="330100"), ADMIN)
        entries, _ = audit.search(db, action=Action.USER_UPDATE)
        assert entries[0].detail["changes"] == {
            "role": ["county_analyst", "city_analyst"],
            "division_code": ["330106", "330100"],
        }
        assert db.get(User, user.id).scope.division == "330100"


def test_security_headers(web_client, demo_users) -> None:
    response = web_client.get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_a_refused_change_leaves_the_session_in_memory_intact(web_client, demo_users) -> None:
    """A request that loads the session and then rolls back must not spoil the copy that
    later requests are answered from."""
    token = login(web_client, "admin")
    live_sessions.drop(token_digest(web_client.cookies.get(SESSION_COOKIE)))
    refused = web_client.post(
        "/api/v1/users",
        json={"username": "newbie1", "display_name": "新人", "role": "province_analyst", "password": "x"},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status_code == 400  # the password is refused and the transaction rolled back
    for _ in range(2):
        me = web_client.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["username"] == "admin"
