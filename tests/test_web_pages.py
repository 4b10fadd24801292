"""Pages, layout, assets, Chinese formatting, search fields, the audit page and the CLI."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jingxin.core import audit
from jingxin.core.audit import Action, Actor
from jingxin.web import filters
from jingxin.web.assets import VENDOR_DIR, missing_vendor_files
from jingxin.web.testing import DEMO_PASSWORD, csrf_from, login

pytest_plugins = ["jingxin.web.pytest_fixtures"]

INJECTIONS = [
    "' OR '1'='1",
    "admin' --",
    "%",
    "_",
    "\\",
    "\x00",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE users; --",
    "{{ 7*7 }}",
]

PAGES_BY_USER = {
    "admin": ["/", "/users", "/users/new", "/audit", "/data", "/account/password"],
    "liaison-sw": ["/", "/data", "/account/password"],
    "sheng": ["/", "/account/password"],
    "qiye": ["/", "/account/password"],
    "fuwu": ["/"],
}


@pytest.mark.parametrize("username", list(PAGES_BY_USER))
def test_pages_render_in_chinese_for_each_role(web_client, demo_users, username: str) -> None:
    login(web_client, username)
    for path in PAGES_BY_USER[username]:
        response = web_client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        html = response.text
        assert '<html lang="zh-CN">' in html
        assert "数字经信" in html
        assert demo_users[username].display_name in html
        assert demo_users[username].role_label in html
        # no asset from anywhere but the app itself
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not url.startswith(("http:", "https:", "//")), (path, url)


def test_user_detail_page_shows_history(web_client, demo_users) -> None:
    login(web_client, "admin")
    page = web_client.get(f"/users/{demo_users['xihu'].id}")
    assert page.status_code == 200
    assert "新增用户" in page.text and "330106" in page.text


def test_error_pages_are_chinese(web_client, demo_users) -> None:
    login(web_client, "xihu")
    forbidden = web_client.get("/users")
    assert forbidden.status_code == 403 and "没有权限" in forbidden.text
    missing = web_client.get("/no-such-page")
    assert missing.status_code == 404 and "页面不存在" in missing.text
    api_missing = web_client.get("/api/v1/no-such-thing")
    assert api_missing.status_code == 404 and api_missing.json() == {"detail": "Not Found"}


def test_htmx_requests_get_fragments(web_client, demo_users) -> None:
    login(web_client, "admin")
    fragment = web_client.get("/users?q=xi", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "xihu" in fragment.text and "admin" not in fragment.text
    audit_fragment = web_client.get("/audit?action=login", headers={"HX-Request": "true"})
    assert "<html" not in audit_fragment.text and "登录" in audit_fragment.text


def test_htmx_request_without_login_redirects_the_page(web_client, demo_users) -> None:
    response = web_client.get("/users", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.headers.get("HX-Redirect") == "/login"


def test_static_assets_are_served_by_the_app(web_client) -> None:
    css = web_client.get("/static/css/jingxin.css")
    assert css.status_code == 200 and "--blue" in css.text
    assert web_client.get("/static/js/jingxin.js").status_code == 200
    if missing_vendor_files():
        pytest.skip(f"vendored assets missing in {VENDOR_DIR}: run `npm ci` (the app copies them at start)")
    htmx = web_client.get("/static/vendor/htmx.min.js")
    echarts = web_client.get("/static/vendor/echarts.min.js")
    assert htmx.status_code == echarts.status_code == 200
    assert "htmx" in htmx.text[:5000] and "echarts" in echarts.text[:5000].lower()


def test_vendoring_copies_from_node_modules(tmp_path) -> None:
    from jingxin.web import assets

    fake = tmp_path / "node_modules"
    for rel in assets.VENDOR_FILES.values():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(f"/* {rel} */")
    written = assets.vendor(fake, tmp_path / "vendor")
    assert sorted(p.name for p in written) == sorted(assets.VENDOR_FILES)
    with pytest.raises(FileNotFoundError, match="npm ci"):
        assets.vendor(tmp_path / "empty", tmp_path / "vendor2")


# ---- search fields ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", INJECTIONS, ids=range(len(INJECTIONS)))
def test_injection_strings_in_search_fields_are_harmless(web_client, demo_users, text: str) -> None:
    login(web_client, "admin")
    users_page = web_client.get("/users", params={"q": text})
    audit_page = web_client.get("/audit", params={"user": text, "action": text})
    bad_day = web_client.get("/audit", params={"date_from": text})
    users_api = web_client.get("/api/v1/users", params={"q": text})
    audit_api = web_client.get("/api/v1/audit", params={"user": text})
    batches_api = web_client.get("/api/v1/batches", params={"source": text})
    answers = (users_page, audit_page, bad_day, users_api, audit_api, batches_api)
    for response in answers:
        assert "<script>alert(1)</script>" not in response.text
        assert "<img src=x" not in response.text
    if "\x00" in text:  # refused at the door, whatever the route (jingxin.web.security)
        assert all(r.status_code == 400 and "空字符" in r.text for r in answers)
        return
    assert bad_day.status_code == 400 and "起始日期格式不正确" in bad_day.text
    for response in (users_page, audit_page, users_api, audit_api, batches_api):
        assert response.status_code == 200, response.text[:300]
    # the literal text matches nothing (no wildcard, no SQL)
    empty = not text.strip()
    assert users_api.json()["total"] == (len(demo_users) if empty else 0)
    everything = web_client.get("/api/v1/audit").json()["total"]
    assert audit_api.json()["total"] == (everything if empty else 0)
    assert web_client.get("/api/v1/users").json()["total"] == len(demo_users)
    assert "49" not in re.sub(
        r"\d{2,}", "", users_page.text.split('name="q"')[1][:200]
    )  # {{7*7}} not evaluated


def test_search_matches_literally(web_client, demo_users) -> None:
    login(web_client, "admin")
    found = web_client.get("/api/v1/users", params={"q": "liaison-s"}).json()
    assert {u["username"] for u in found["items"]} == {"liaison-scjg", "liaison-sw", "liaison-sthj"}
    assert web_client.get("/api/v1/users", params={"q": "liaison_s"}).json()["total"] == 0


# ---- audit page -------------------------------------------------------------------------------


def test_audit_search_by_user_action_and_dates(web_client, demo_users, web_app) -> None:
    login(web_client, "xihu")
    web_client.cookies.clear()
    login(web_client, "admin")
    with web_app.state.db.session() as db:
        old = audit.record(
            db, Actor(None, "xihu", "10.0.0.9"), Action.EXPORT, "evaluation", "2023", commit=True
        )
        old.at = dt.datetime(2021, 3, 5, 1, 0, tzinfo=dt.UTC)  # 2021-03-05 09:00 Beijing time
        db.commit()
    by_user = web_client.get("/api/v1/audit", params={"user": "XIH"}).json()
    assert by_user["total"] == 2 and {e["username"] for e in by_user["items"]} == {"xihu"}
    logins = web_client.get("/api/v1/audit", params={"action": "login"}).json()
    assert {e["username"] for e in logins["items"]} == {"xihu", "admin"}
    march = web_client.get(
        "/api/v1/audit", params={"date_from": "2021-03-05", "date_to": "2021-03-05"}
    ).json()
    assert [e["action"] for e in march["items"]] == ["export"]
    assert (
        web_client.get("/api/v1/audit", params={"date_from": "2021-03-06", "date_to": "2021-03-31"}).json()[
            "total"
        ]
        == 0
    )
    page = web_client.get(
        "/audit", params={"user": "xihu", "date_from": "2021-03-01", "date_to": "2021-03-31"}
    )
    assert "2021年3月5日 09:00:00" in page.text and "导出" in page.text
    bad_date = web_client.get("/audit", params={"date_from": "2021-13-45"})
    assert bad_date.status_code == 400 and "起始日期格式不正确" in bad_date.text


def test_audit_api_rejects_bad_dates(web_client, demo_users) -> None:
    login(web_client, "admin")
    assert web_client.get("/api/v1/audit", params={"date_from": "yesterday"}).status_code == 422


# ---- masking and sensitive views -------------------------------------------------------------------


def test_mask_hides_sensitive_fields_without_clearance(db_session) -> None:
    assert audit.mask(12.5, clearance=True) == 12.5
    assert audit.mask(12.5, clearance=False) == "****"
    assert audit.mask(None, clearance=False) is None
    row = {"credit_code": "X", "tax_paid": 88.0, "debts": 3, "name": "甲"}
    assert audit.mask_fields(row, False) == {
        "credit_code": "X",
        "tax_paid": "****",
        "debts": "****",
        "name": "甲",
    }
    assert filters.wan_yuan(audit.mask(123456, False)) == "****"
    entry = audit.record_sensitive_view(
        db_session, Actor(3, "sheng", "10.0.0.1"), "enterprise", "X", ["name", "tax_paid", "debts"]
    )
    assert entry is not None and entry.detail == {"fields": ["debts", "tax_paid"]}
    assert audit.record_sensitive_view(db_session, Actor(3, "sheng"), "enterprise", "X", ["name"]) is None


def test_mask_filter_in_templates(web_app) -> None:
    env = web_app.state.templates.env
    template = env.from_string("{{ value|mask(clearance)|wan_yuan }}")
    assert template.render(value=123456, clearance=True) == "12.35亿元"
    assert template.render(value=123456, clearance=False) == "****"


# ---- Chinese formatting --------------------------------------------------------------------------


def test_chinese_number_and_date_filters() -> None:
    assert filters.wan_yuan(1234.5) == "1,234.50万元"
    assert filters.wan_yuan(123456) == "12.35亿元"
    assert filters.wan_yuan(-25000, 1) == "-2.5亿元"
    assert filters.yi_yuan(5000) == "0.50亿元"
    assert filters.yuan(123456789) == "1.23亿元"
    assert filters.yuan(56789) == "5.68万元"
    assert filters.zh_count(48000) == "4.8万"
    assert filters.zh_count(2.69e8) == "2.7亿"
    assert filters.zh_count(2.69e8, 2) == "2.69亿"
    assert filters.zh_count(8421) == "8,421"
    assert filters.percent(0.0305) == "3.1%"
    assert filters.signed_percent(0.052) == "+5.2%"
    assert filters.signed_percent(-0.013) == "-1.3%"
    assert filters.zh_month(dt.date(2021, 3, 1)) == "2021年3月"
    assert filters.zh_month("2021-03") == "2021年3月"
    assert filters.zh_date(dt.date(2021, 3, 5)) == "2021年3月5日"
    assert filters.zh_datetime(dt.datetime(2021, 3, 5, 6, 5, tzinfo=dt.UTC)) == "2021年3月5日 14:05"
    assert filters.zh_period("2021") == "2021年"
    assert filters.zh_period("2021-03") == "2021年3月"
    for empty in (None, "", float("nan"), "abc"):
        assert filters.wan_yuan(empty) == "—"
    assert filters.thousands(1234567.891, 2) == "1,234,567.89"


# ---- command line -------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, tmp_path, platform_url):
    from jingxin.core.settings import get_settings

    monkeypatch.setenv("JINGXIN_DATABASE_URL", platform_url)
    monkeypatch.setenv("JINGXIN_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield platform_url
    get_settings.cache_clear()


def test_cli_users_commands(cli_env) -> None:
    import json

    from jingxin.cli import app

    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "users",
            "add",
            "hz-analyst",
            "--role",
            "city_analyst",
            "--division",
            "330100",
            "--name",
            "杭州市经信局",
            "--password",
            "Hangzhou-2024x",
            "--json",
        ],
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["division_code"] == "330100"
    refused = runner.invoke(
        app,
        [
            "users",
            "add",
            "bad",
            "--role",
            "county_analyst",
            "--division",
            "330100",
            "--password",
            "Hangzhou-2024x",
        ],
    )
    assert refused.exit_code == 1 and "县级单位" in refused.output
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert [u["username"] for u in json.loads(listed.stdout)] == ["hz-analyst"]
    assert (
        runner.invoke(app, ["users", "passwd", "hz-analyst", "--password", "Another-pass-1"]).exit_code == 0
    )
    assert runner.invoke(app, ["users", "disable", "hz-analyst"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)
    assert listed[0]["is_active"] is False
    assert runner.invoke(app, ["users", "disable", "nobody"]).exit_code == 1
    demo = runner.invoke(app, ["users", "demo", "--json"])
    assert demo.exit_code == 0 and len(json.loads(demo.stdout)) >= 8
    from jingxin.core.db import Database

    database = Database(cli_env)
    with database.session() as db:
        actions = [e.action for e in audit.search(db, username="cli", limit=100)[0]]
    database.dispose()
    assert {"user_create", "user_password_reset", "user_disable"} <= set(actions)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_jingxin_serve_runs_and_pages_render(tmp_path) -> None:
    """`jingxin serve` starts on a fresh home folder (migrating its database) and serves pages."""
    port = _free_port()
    env = {**os.environ, "JINGXIN_HOME": str(tmp_path), "JINGXIN_DATABASE_URL": "", "JINGXIN_WAREHOUSE": ""}
    env.pop("JINGXIN_DATABASE_URL")
    env.pop("JINGXIN_WAREHOUSE")
    jingxin = Path(sys.executable).parent / "jingxin"
    subprocess.run(
        [str(jingxin), "users", "demo", "--password", DEMO_PASSWORD],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = subprocess.Popen(
        [str(jingxin), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.time() < deadline, "server did not start"
            time.sleep(0.3)
        with httpx.Client(base_url=base) as client:
            login_page = client.get("/login")
            assert login_page.status_code == 200 and "登录" in login_page.text
            done = client.post(
                "/login",
                data={
                    "username": "liaison-sw",
                    "password": DEMO_PASSWORD,
                    "csrf_token": csrf_from(login_page.text),
                },
            )
            assert done.status_code == 303
            data_page = client.get("/data")
            assert data_page.status_code == 200 and "数据归集" in data_page.text
            assert client.get("/static/css/jingxin.css").status_code == 200
        assert (tmp_path / "platform.sqlite").exists()
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.slow
def test_serve_refuses_a_warehouse_held_by_another_process(tmp_path) -> None:
    import duckdb

    holder = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("JINGXIN_DATABASE_URL", "JINGXIN_WAREHOUSE")}
        env["JINGXIN_HOME"] = str(tmp_path)
        jingxin = Path(sys.executable).parent / "jingxin"
        done = subprocess.run(
            [str(jingxin), "serve", "--port", str(_free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.close()
    assert done.returncode == 3
    assert "无法启动" in done.stderr and str(os.getpid()) in done.stderr.replace("\n", "")


def test_a_busy_warehouse_answers_503_with_the_reason(web_app, web_client, demo_users, monkeypatch) -> None:
    from jingxin.core.warehouse import WarehouseBusyError

    login(web_client, "admin")

    def busy() -> None:
        raise WarehouseBusyError("仓库文件正被进程 4711 写入")

    monkeypatch.setattr(web_app.state.warehouse, "_root", None)
    monkeypatch.setattr(web_app.state.warehouse, "_idle", [])  # no connection opened yet
    monkeypatch.setattr(web_app.state.warehouse, "_root_warehouse", busy)
    api = web_client.get("/api/v1/batches")
    assert api.status_code == 503 and "4711" in api.json()["detail"]
    page = web_client.get("/data")
    assert page.status_code == 503 and "4711" in page.text
    assert web_client.get("/users").status_code == 200  # pages without the warehouse still work
