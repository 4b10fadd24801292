"""Test helpers for the web app: log a TestClient in, read CSRF tokens, the demo password.

The fixtures (platform database on SQLite and PostgreSQL, the app, a client, demo users) are
in `jingxin.web.pytest_fixtures`; load them in a test module with
`pytest_plugins = ["jingxin.web.pytest_fixtures"]` (or once in the root conftest).
"""

from __future__ import annotations

import re
from typing import Any

from argon2 import PasswordHasher

from jingxin.accounts.demo import DEMO_PASSWORD

__all__ = ["BATCH_WORLD", "DEMO_PASSWORD", "FAST_HASHER", "csrf_from", "login", "seed_batches"]

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF field in page"
    return match.group(1)


def login(client: Any, username: str, password: str = DEMO_PASSWORD) -> str:
    """Log in through the form like a browser; returns the new session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, (response.status_code, response.text[:500])
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    return me.json()["csrf_token"]


# batch id -> (source, department, file name, secret value in its rejected rows): three batches
# of three departments, with markers that must never appear in an answer outside their scope.
BATCH_WORLD: dict[int, tuple[str, str, str, str]] = {
    11: ("tax", "税务", "机密-税务-2023.xlsx", "SECRET-TAX-4711"),
    12: ("power", "电力", "机密-电力-2023.csv", "SECRET-POWER-0815"),
    13: ("registry", "市场监管", "机密-登记-2023.csv", "SECRET-REGISTRY-1234"),
}


def seed_batches(warehouse_url: str, world: dict[int, tuple[str, str, str, str]] = BATCH_WORLD) -> None:
    """Write batches and rejected rows straight into the warehouse (as ingestion would)."""
    import datetime as dt

    import pyarrow as pa

    from jingxin.core.schema import BATCHES, REJECTED_ROWS
    from jingxin.core.warehouse import open_warehouse

    wh = open_warehouse(warehouse_url)
    try:
        batches = [
            {
                "batch_id": bid,
                "source": src,
                "period": "2023",
                "file_name": name,
                "content_hash": f"h{bid}",
                "row_count": 3,
                "accepted": 2,
                "rejected": 1,
                "loaded_by": "seed",
                "loaded_at": dt.datetime(2024, 3, 1, 9, 30),
                "supersedes": None,
                "superseded_by": None,
            }
            for bid, (src, _dept, name, _secret) in world.items()
        ]
        rejected = [
            {
                "batch_id": bid,
                "row_number": 4,
                "column_name": "实缴税收",
                "value": secret,
                "reason": "不是数字",
                "raw": f"91330000XXXXXXXXXX,{secret}",
            }
            for bid, (_src, _dept, _name, secret) in world.items()
        ]
        wh.insert_arrow("batches", pa.Table.from_pylist(batches, schema=BATCHES.to_pyarrow()))
        wh.insert_arrow("rejected_rows", pa.Table.from_pylist(rejected, schema=REJECTED_ROWS.to_pyarrow()))
    finally:
        wh.close()
