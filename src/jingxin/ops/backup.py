"""Backup and restore of the embedded default stores (备份与恢复): the DuckDB warehouse file
and the SQLite platform database.

`jingxin backup OUT_DIR` writes into an empty folder:

- `warehouse.duckdb`: a consistent copy made *inside* the process that has the warehouse open
  — DuckDB's `COPY FROM DATABASE` into a freshly attached file, one read transaction, so a
  batch being written meanwhile is either wholly in the copy or not at all. While the server
  runs it owns the file (DuckDB admits one process), so the command hands the backup to it as
  a job (`ops.backup`, administrators only), exactly as `jingxin ingest` hands over files;
- `platform.sqlite`: SQLite's online backup API, page by page, consistent while the server
  keeps writing sessions and audit entries;
- `manifest.json`: when, the platform version, the database revision (Alembic), the DuckDB
  version, every table's row count in both stores and each file's size and SHA-256.

`jingxin restore DIR` checks the manifest (checksums, DuckDB version), refuses while a server
runs (the files it holds open cannot be swapped under it), moves the current files aside
(`*.before-restore-<time>`, nothing is lost), puts the backup in place and compares the row
counts with the manifest.

PostgreSQL stores are backed up with `pg_dump` / `pg_restore` (docs/deployment.md, "Backups");
these commands refuse them with that pointer rather than doing half a job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from jingxin.core.settings import Settings
from jingxin.core.warehouse import Warehouse

MANIFEST = "manifest.json"
WAREHOUSE_FILE = "warehouse.duckdb"
PLATFORM_FILE = "platform.sqlite"
FORMAT = 1


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message (Chinese) says why and what to do."""


def _path_of(url: str, scheme: str) -> Path | None:
    """The file of an embedded store's URL, or None for a server database."""
    for prefix in (f"{scheme}:///", f"{scheme}+pysqlite:///"):
        if url.startswith(prefix):
            return Path(url[len(prefix) :].split("?")[0])
    return None


def embedded_paths(settings: Settings) -> tuple[Path, Path]:
    """(DuckDB file, SQLite file) of the settings, or BackupError for server databases."""
    warehouse = _path_of(settings.warehouse_url, "duckdb")
    platform = _path_of(settings.platform_database_url, "sqlite")
    if warehouse is None or platform is None:
        raise BackupError(
            "backup/restore 只处理内嵌默认存储（DuckDB 文件与 SQLite 文件）。PostgreSQL 请按 "
            "docs/deployment.md「备份与恢复」一节使用 pg_dump / pg_restore。"
        )
    return warehouse, platform


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _empty_target(out_dir: Path) -> Path:
    out_dir = out_dir.resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise BackupError(f"备份目录 {out_dir} 不是空目录：请指定一个新目录，以免覆盖旧备份")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def duckdb_tables(con: Any, catalog: str) -> dict[str, int]:
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            [catalog],
        ).fetchall()
    ]
    return {
        n: int(con.execute(f'SELECT count(*) FROM "{catalog}"."main"."{n}"').fetchone()[0]) for n in names
    }


def sqlite_tables(path: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
    finally:
        con.close()


def _revision(path: Path) -> str | None:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None
    finally:
        con.close()


def backup_warehouse(wh: Warehouse, target: Path) -> dict[str, int]:
    """Copy the open DuckDB warehouse into the new file `target` in one transaction; returns
    the row count of every table in the copy."""
    if wh.kind != "duckdb":
        raise BackupError("仓库不是 DuckDB 文件：PostgreSQL 请用 pg_dump（见 docs/deployment.md）")
    con = wh.con.con  # the DuckDB connection under Ibis
    source = con.execute("SELECT current_database()").fetchone()[0]
    quoted = str(target).replace("'", "''")  # ATTACH takes no parameters: a quoted literal
    con.execute(f"ATTACH '{quoted}' AS jingxin_backup")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO jingxin_backup')
        counts = duckdb_tables(con, "jingxin_backup")
    finally:
        con.execute("DETACH jingxin_backup")
    return counts


def backup_platform(source: Path, target: Path) -> None:
    """SQLite's online backup: consistent even while other connections write."""
    src = sqlite3.connect(str(source))
    dst = sqlite3.connect(str(target))
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def write_backup(settings: Settings, wh: Warehouse, out_dir: Path) -> dict[str, Any]:
    """Back up both embedded stores into the empty folder `out_dir` (through `wh`, the
    warehouse this process has open); returns the manifest, also written as manifest.json."""
    import duckdb

    from jingxin.app_version import platform_version

    _warehouse_path, platform_path = embedded_paths(settings)
    out_dir = _empty_target(out_dir)
    warehouse_counts = backup_warehouse(wh, out_dir / WAREHOUSE_FILE)
    backup_platform(platform_path, out_dir / PLATFORM_FILE)
    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "jingxin_version": platform_version(),
        "duckdb_version": duckdb.__version__,
        "platform_revision": _revision(out_dir / PLATFORM_FILE),
        "files": {
            name: {"bytes": (out_dir / name).stat().st_size, "sha256": sha256(out_dir / name)}
            for name in (WAREHOUSE_FILE, PLATFORM_FILE)
        },
        "rows": {"warehouse": warehouse_counts, "platform": sqlite_tables(out_dir / PLATFORM_FILE)},
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a backup folder, with every file's checksum verified."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{folder} 不是备份目录：缺少 {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BackupError(f"{path} 无法解析（{exc}）：备份已损坏") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}：不认识的备份格式 {manifest.get('format')!r}")
    for name, meta in manifest["files"].items():
        file = folder / name
        if not file.is_file():
            raise BackupError(f"备份缺少文件 {file}")
        if sha256(file) != meta["sha256"]:
            raise BackupError(f"备份文件 {file} 的校验和与清单不符：文件已损坏或被改动，不能恢复")
    return manifest


def restore(settings: Settings, folder: Path) -> dict[str, Any]:
    """Put the backup in `folder` in place of the embedded stores of `settings` (no server may
    run); returns {"manifest", "moved_aside": [...], "rows": counts after restore}."""
    import duckdb

    from jingxin.core.jobs.client import running_server

    warehouse_path, platform_path = embedded_paths(settings)
    folder = folder.resolve()
    manifest = read_manifest(folder)
    if running_server(settings):
        raise BackupError("服务正在运行：请先停止 `jingxin serve`，再恢复（运行中的服务占用着两个库文件）")
    made, have = manifest["duckdb_version"], duckdb.__version__
    if tuple(int(p) for p in made.split(".")[:2]) > tuple(int(p) for p in have.split(".")[:2]):
        raise BackupError(f"备份由 DuckDB {made} 写成，本机为 {have}：请先升级平台再恢复")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    moved = []
    for name, live in ((WAREHOUSE_FILE, warehouse_path), (PLATFORM_FILE, platform_path)):
        live.parent.mkdir(parents=True, exist_ok=True)
        staged = live.with_name(live.name + ".restoring")
        shutil.copyfile(folder / name, staged)
        for extra in (
            live.with_name(live.name + ".wal"),
            live.with_name(live.name + "-wal"),
            live.with_name(live.name + "-shm"),
        ):
            if extra.exists():  # a log of the old file must not be replayed onto the new one
                extra.rename(extra.with_name(f"{extra.name}.before-restore-{stamp}"))
        if live.exists():
            aside = live.with_name(f"{live.name}.before-restore-{stamp}")
            live.rename(aside)
            moved.append(str(aside))
        os.replace(staged, live)
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        rows = {
            "warehouse": duckdb_tables(con, warehouse_path.stem),  # DuckDB names it after the file
            "platform": sqlite_tables(platform_path),
        }
    finally:
        con.close()
    if rows != manifest["rows"]:
        raise BackupError(
            "恢复后的行数与备份清单不符：已恢复的文件保留在原位，原文件在 "
            f"{', '.join(moved) or '（无）'}，请检查"
        )
    return {"manifest": manifest, "moved_aside": moved, "rows": rows}
