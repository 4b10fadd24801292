"""The restore drill: back up both embedded stores (one of them while open, as the server
holds it), destroy them, restore, and compare row counts and an evaluation run's results.
Also: a damaged backup and a running server are refused with the reason."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jingxin.cli import app as cli_app
from jingxin.core.db import Database, upgrade
from jingxin.core.settings import Settings, get_settings
from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province
from jingxin.ops.backup import sqlite_tables, write_backup

# One worker builds the module's stores once (the template), under `--dist loadgroup`.
pytestmark = pytest.mark.xdist_group("ops_backup")


def results(url: str, run_id: int):
    wh = open_warehouse(url)
    try:
        t = wh.table("eval_results")
        return wh.execute(t.filter(t.run_id == run_id)).sort_values("credit_code").reset_index(drop=True)
    finally:
        wh.close()


@pytest.fixture(scope="module")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Both embedded stores with demo users and one evaluation run, made once per module."""
    from argon2 import PasswordHasher

    from jingxin.accounts import demo as account_demo
    from jingxin.core import auth
    from jingxin.web.testing import DEMO_PASSWORD, FAST_HASHER

    folder = tmp_path_factory.mktemp("home") / "var"
    folder.mkdir()
    upgrade(f"sqlite:///{folder / 'platform.sqlite'}")
    database = Database(f"sqlite:///{folder / 'platform.sqlite'}")
    auth.configure_hasher(FAST_HASHER)
    try:
        with database.session() as db:
            account_demo.create_demo_users(db, DEMO_PASSWORD)
    finally:
        auth.configure_hasher(PasswordHasher())
        database.dispose()
    wh = open_warehouse(f"duckdb:///{folder / 'warehouse.duckdb'}")
    load_facts(wh, province(200, years=(2021,), seed=5, counties=["331003"]))
    run = run_evaluation(wh, "zhejiang_industry_above", 2021)
    wh.close()
    return folder, run.run_id


@pytest.fixture
def home(template_home: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder, run_id = template_home
    shutil.copytree(folder, tmp_path / "var")
    monkeypatch.setenv("JINGXIN_HOME", str(tmp_path / "var"))
    for name in ("JINGXIN_WAREHOUSE", "JINGXIN_DATABASE_URL", "JINGXIN_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield get_settings(), run_id
    get_settings.cache_clear()


def test_restore_drill(home: tuple[Settings, int], tmp_path: Path) -> None:
    settings, run_id = home
    warehouse_file = settings.home / "warehouse.duckdb"
    platform_file = settings.home / "platform.sqlite"
    before = results(settings.warehouse_url, run_id)
    platform_before = sqlite_tables(platform_file)
    assert len(before) > 0 and platform_before["users"] >= 7

    # 1. a backup taken inside the process that holds the warehouse open (the server's way)
    wh = open_warehouse(settings.warehouse_url)
    try:
        manifest = write_backup(settings, wh, tmp_path / "bk-live")
    finally:
        wh.close()
    assert manifest["rows"]["warehouse"]["eval_results"] == len(before)
    assert manifest["rows"]["platform"] == platform_before
    assert manifest["platform_revision"]

    # 2. the command (no server running: it opens the stores itself)
    runner = CliRunner()
    done = runner.invoke(cli_app, ["backup", str(tmp_path / "bk"), "--json"])
    assert done.exit_code == 0, done.output
    cli_manifest = json.loads(done.output)
    assert cli_manifest["rows"]["warehouse"] == manifest["rows"]["warehouse"]
    # a backup never overwrites another one
    again = runner.invoke(cli_app, ["backup", str(tmp_path / "bk")])
    assert again.exit_code == 1 and "不是空目录" in again.output
    # the command's backup is audited (an export of everything), after it was taken
    assert sqlite_tables(platform_file)["audit_log"] == platform_before["audit_log"] + 1

    # 3. disaster: both stores gone
    warehouse_file.unlink()
    platform_file.unlink()

    # 4. restore and compare
    done = runner.invoke(cli_app, ["restore", str(tmp_path / "bk-live"), "--yes"])
    assert done.exit_code == 0, done.output
    after = results(settings.warehouse_url, run_id)
    assert after.equals(before)
    restored_counts = sqlite_tables(platform_file)
    assert restored_counts["users"] == platform_before["users"]
    assert restored_counts["audit_log"] == platform_before["audit_log"]

    # restoring over live files keeps them aside instead of deleting them
    done = runner.invoke(cli_app, ["restore", str(tmp_path / "bk"), "--yes"])
    assert done.exit_code == 0, done.output
    assert list(settings.home.glob("warehouse.duckdb.before-restore-*"))
    assert list(settings.home.glob("platform.sqlite.before-restore-*"))
    assert results(settings.warehouse_url, run_id).equals(before)


def test_damaged_backup_and_running_server_are_refused(home: tuple[Settings, int], tmp_path: Path) -> None:
    from jingxin.core.jobs.client import remove_server_file, write_server_file

    settings, _ = home
    runner = CliRunner()
    assert runner.invoke(cli_app, ["backup", str(tmp_path / "bk")]).exit_code == 0
    original = (settings.home / "warehouse.duckdb").read_bytes()

    with (tmp_path / "bk" / "platform.sqlite").open("r+b") as f:
        f.seek(200)
        f.write(b"\x00damage\x00")
    done = runner.invoke(cli_app, ["restore", str(tmp_path / "bk"), "--yes"])
    assert done.exit_code == 1 and "校验和" in done.output

    runner.invoke(cli_app, ["backup", str(tmp_path / "bk2")])
    write_server_file("http://127.0.0.1:1", settings)  # this (live) process plays the server
    try:
        done = runner.invoke(cli_app, ["restore", str(tmp_path / "bk2"), "--yes"])
    finally:
        remove_server_file(settings)
    assert done.exit_code == 1 and "服务正在运行" in done.output
    assert (settings.home / "warehouse.duckdb").read_bytes() == original  # nothing touched

    # PostgreSQL stores: refused with the pointer to pg_dump
    os.environ["JINGXIN_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:5432/test"
    get_settings.cache_clear()
    try:
        done = runner.invoke(cli_app, ["backup", str(tmp_path / "bk3")])
    finally:
        del os.environ["JINGXIN_DATABASE_URL"]
        get_settings.cache_clear()
    assert done.exit_code == 1 and "pg_dump" in done.output
