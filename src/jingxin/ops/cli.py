"""`jingxin backup OUT_DIR` and `jingxin restore DIR` (see `jingxin.ops.backup`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _fail(message: str) -> None:
    err.print(f"[bold red]失败：[/]{message}")
    raise typer.Exit(1)


def backup(
    out_dir: Annotated[Path, typer.Argument(help="备份写入的空目录（不存在则创建）")],
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出清单")] = False,
) -> None:
    """备份内嵌默认存储（DuckDB 仓库与 SQLite 平台库）：一致快照，服务运行时交由服务执行。"""
    from jingxin.core.audit import CLI_ACTOR, Action, record
    from jingxin.core.db import Database
    from jingxin.core.jobs import client
    from jingxin.core.settings import get_settings
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ops.backup import BackupError, embedded_paths, write_backup

    settings = get_settings()
    target = out_dir.resolve()
    manifest: dict[str, Any]
    try:
        embedded_paths(settings)
        server = client.running_server(settings)
        if server:
            job = client.run_on_server(server, "ops.backup", {"out_dir": str(target)}, quiet=as_json)
            if job["status"] != "succeeded":
                _fail(f"作业 {job['id']} 失败：{job['error']}")
            manifest = job["result"]["manifest"]
        else:
            wh = open_warehouse(settings.warehouse_url)
            try:
                manifest = write_backup(settings, wh, target)
            finally:
                wh.close()
            database = Database(settings.platform_database_url)
            try:
                with database.session() as db:
                    record(
                        db,
                        CLI_ACTOR,
                        Action.EXPORT,
                        "backup",
                        str(target),
                        {"files": list(manifest["files"])},
                        commit=True,
                    )
            finally:
                database.dispose()
    except (BackupError, client.HandOffError) as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    out.print(f"已备份到 [bold]{target}[/]（清单 manifest.json）")
    for store, counts in manifest["rows"].items():
        out.print(f"  {store}: {len(counts)} 张表，共 {sum(counts.values())} 行")


def restore(
    folder: Annotated[Path, typer.Argument(help="jingxin backup 写出的备份目录")],
    yes: Annotated[bool, typer.Option("--yes", help="不再确认")] = False,
) -> None:
    """从备份恢复内嵌默认存储（须先停止服务）；原文件改名保留，不会丢失。"""
    from jingxin.core.settings import get_settings
    from jingxin.ops.backup import BackupError, embedded_paths, read_manifest
    from jingxin.ops.backup import restore as do_restore

    settings = get_settings()
    try:
        warehouse_path, platform_path = embedded_paths(settings)
        manifest = read_manifest(folder.resolve())
        if not yes:
            typer.confirm(
                f"用 {manifest['created_at']} 的备份替换 {warehouse_path} 与 {platform_path}？", abort=True
            )
        result = do_restore(settings, folder)
    except BackupError as exc:
        _fail(str(exc))
    out.print(f"已恢复 {manifest['created_at']} 的备份；行数与清单一致。")
    for path in result["moved_aside"]:
        out.print(f"  原文件保留为 {path}")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
