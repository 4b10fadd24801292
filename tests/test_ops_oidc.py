"""Single sign-on: an OpenID Connect login through a local provider (started by the test)
lands with the role and division scope mapped from the claims; an unmapped role is refused;
local accounts keep working beside it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from oidc_provider import Provider

from jingxin.core.settings import Settings
from jingxin.web.app import create_app
from jingxin.web.testing import login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

CLAIMS = {
    "sub": "u-1001",
    "preferred_username": "Wang.Li",
    "name": "王丽",
    "groups": ["jxt-city-analyst"],
    "division": "330100",
}


@pytest.fixture
def sso(
    tmp_path: Path, _sqlite_template: Path, fast_password_hashing: None
) -> Iterator[tuple[TestClient, Provider]]:
    from jingxin.accounts import demo as account_demo
    from jingxin.web.testing import DEMO_PASSWORD

    with Provider("jingxin", "client-secret-1", dict(CLAIMS)) as provider:
        target = tmp_path / "platform.sqlite"
        shutil.copyfile(_sqlite_template, target)
        settings = Settings(
            home=tmp_path,
            database_url=f"sqlite:///{target}",
            warehouse=f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
            secret_key="test-secret",
            public_url="http://testserver",
            oidc_issuer=provider.issuer,
            oidc_client_id="jingxin",
            oidc_client_secret="client-secret-1",
            oidc_role_claim="groups",
            oidc_role_map={"jxt-city-analyst": "city_analyst", "jxt-admin": "admin"},
            oidc_division_claim="division",
        )
        app = create_app(settings, migrate=False, run_jobs=False)
        with app.state.db.session() as db:
            account_demo.create_demo_users(db, DEMO_PASSWORD)
        with TestClient(app, base_url="http://testserver") as client:
            yield client, provider


def sign_in(client: TestClient, next_path: str = "/") -> Any:
    """Follow the browser's way: platform -> provider -> platform callback."""
    start = client.get(f"/login/oidc?next={next_path}", follow_redirects=False)
    assert start.status_code == 303, start.text
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    callback = at_provider.headers["location"]
    assert callback.startswith("http://testserver/login/oidc/callback?")
    return client.get(callback.removeprefix("http://testserver"), follow_redirects=False)


def test_oidc_login_lands_with_mapped_role_and_scope(sso: tuple[TestClient, Provider]) -> None:
    client, provider = sso
    assert "统一身份认证登录" in client.get("/login").text
    done = sign_in(client, "/jobs")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/jobs"
    me = client.get("/api/v1/me").json()
    assert me["username"] == "wang.li"
    assert me["role"] == "city_analyst"
    assert me["division_code"] == "330100"
    assert me["display_name"] == "王丽"

    # the provider is the source of truth: a changed claim changes the account at next login
    client.cookies.clear()
    provider.claims["groups"] = ["jxt-admin"]
    assert sign_in(client).status_code == 303
    me = client.get("/api/v1/me").json()
    assert me["role"] == "admin" and me["username"] == "wang.li"

    # an SSO account has no password: the form does not let it in
    client.cookies.clear()
    page = client.get("/login")
    from jingxin.web.testing import csrf_from

    refused = client.post(
        "/login",
        data={"username": "wang.li", "password": "!oidc", "csrf_token": csrf_from(page.text), "next": "/"},
    )
    assert refused.status_code == 401
    # local accounts stay
    login(client, "hangzhou")
    assert client.get("/api/v1/me").json()["role"] == "city_analyst"


def test_unmapped_role_and_forged_state_are_refused(sso: tuple[TestClient, Provider]) -> None:
    client, provider = sso
    provider.claims["groups"] = ["some-other-group"]
    refused = sign_in(client)
    assert refused.status_code == 403
    assert "可映射的角色" in refused.text
    assert client.get("/api/v1/me").status_code == 401

    provider.claims["groups"] = ["jxt-city-analyst"]
    start = client.get("/login/oidc", follow_redirects=False)
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    forged = at_provider.headers["location"].replace("state=", "state=x")
    answer = client.get(forged.removeprefix("http://testserver"), follow_redirects=False)
    assert answer.status_code == 400
    assert client.get("/api/v1/me").status_code == 401
