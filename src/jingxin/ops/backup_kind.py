"""The job kind `ops.backup` (备份): `jingxin backup` handed to the running server, which owns
the DuckDB warehouse file (see `jingxin.ops.backup`). Administrators only; audited as an export
of everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jingxin.core.audit import Action, record
from jingxin.core.auth import Role
from jingxin.core.jobs import JobContext, JobKind, register_kind


class BackupParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    out_dir: str = Field(min_length=1, max_length=1000, description="an empty folder on the server's machine")


def run_backup(ctx: JobContext) -> dict[str, Any]:
    from jingxin.ops.backup import write_backup

    params: BackupParams = ctx.params  # type: ignore[assignment]
    ctx.progress(0, 1, "备份仓库与平台数据库")
    with ctx.warehouse() as wh:  # the write turn: no ingestion runs meanwhile
        manifest = write_backup(ctx.settings, wh, Path(params.out_dir))
    with ctx.database.session() as db:
        record(
            db,
            ctx.actor,
            Action.EXPORT,
            "backup",
            params.out_dir,
            {"files": list(manifest["files"])},
            commit=True,
        )
    ctx.log(f"已备份到 {params.out_dir}")
    ctx.progress(1, 1, "完成")
    return {"out_dir": str(Path(params.out_dir).resolve()), "manifest": manifest}


register_kind(
    JobKind(
        name="ops.backup",
        title="备份仓库与平台数据库",
        run=run_backup,
        params=BackupParams,
        roles=frozenset({Role.ADMIN}),
        max_attempts=1,  # a half-written folder is not empty: a retry would refuse anyway
        scheduled=False,
    )
)
