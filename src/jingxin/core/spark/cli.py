"""`jingxin publish`: the publish cycle (发布) from the serving warehouse to Spark.

jingxin publish [--to spark://master:7077/data/jingxin] [--from URL] [--keep 3] [--no-collect] [--json]
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def publish_command(
    to: Annotated[
        str | None,
        typer.Option(
            "--to", envvar="JINGXIN_SPARK_WAREHOUSE", help="Spark 仓库地址（默认取 JINGXIN_SPARK_WAREHOUSE）"
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--from", envvar="JINGXIN_WAREHOUSE", help="服务仓库地址（默认取配置）")
    ] = None,
    keep: Annotated[int | None, typer.Option("--keep", min=1, help="保留的已发布版本数")] = None,
    collect: Annotated[
        bool, typer.Option("--collect/--no-collect", help="先把在 Spark 上计算的评价批次写回服务仓库")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """把服务仓库发布到 Spark 仓库：写成新版本后原子切换；Spark 上计算的结果不受影响。"""
    from jingxin.core.settings import get_settings
    from jingxin.core.spark.config import SparkConfigError
    from jingxin.core.spark.publish import publish, storage_of
    from jingxin.core.warehouse import WarehouseError, open_warehouse

    target = to or get_settings().spark_warehouse
    if not target:
        console.print(
            "[red]未指定 Spark 仓库：请用 --to spark://主机:7077/目录，或设置 JINGXIN_SPARK_WAREHOUSE[/red]"
        )
        raise typer.Exit(2)
    if (source or get_settings().warehouse_url).startswith("spark:"):
        console.print("[red]服务仓库应为 DuckDB 或 PostgreSQL（--from），不能从 Spark 仓库发布[/red]")
        raise typer.Exit(2)
    try:
        storage = storage_of(target)
        wh = open_warehouse(source)
    except (SparkConfigError, WarehouseError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        collected: list[str] = []
        if collect:
            from jingxin.evaluation.writeback import collect_spark_runs

            collected = collect_spark_runs(storage, wh)
        result = publish(wh, storage, keep=keep)
    finally:
        wh.close()
    if as_json:
        typer.echo(
            json.dumps({**result.to_dict(), "collected_runs": collected}, ensure_ascii=False, indent=2)
        )
        return
    if collected:
        console.print(f"已写回 Spark 上计算的评价批次 {len(collected)} 个：{'、'.join(collected)}")
    rows = sum(result.tables.values())
    console.print(
        f"已发布版本 {result.version}（{len(result.tables)} 张表，{rows} 行，用时 {result.seconds:.1f} 秒）；"
        f"上一版本 {result.previous or '无'}"
    )
    if result.pruned:
        console.print(f"已清理旧版本：{'、'.join(result.pruned)}")
    if result.kept_for_readers:
        console.print(f"仍有读者使用、暂不清理：{'、'.join(result.kept_for_readers)}")


def register(app: typer.Typer) -> None:
    app.command("publish")(publish_command)
