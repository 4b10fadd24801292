"""Commands of monitoring: `jingxin monitor refresh|warnings|check-events` and `jingxin report monthly`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from jingxin.monitoring.indicators import parse_month

monitor = typer.Typer(help="工业经济运行监测与预警", no_args_is_help=True)
report = typer.Typer(help="报告：运行监测月报", no_args_is_help=True)

WarehouseOpt = Annotated[
    str | None, typer.Option("--warehouse", envvar="JINGXIN_WAREHOUSE", help="仓库地址（默认取配置）")
]
MonthOpt = Annotated[str, typer.Option("--month", help="月份 YYYY-MM，如 2021-10")]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]


def _month(text: str) -> tuple[int, int]:
    try:
        return parse_month(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _open(url: str | None) -> Any:
    from jingxin.core.warehouse import WarehouseError, open_warehouse

    try:
        return open_warehouse(url)
    except WarehouseError as exc:
        typer.echo(f"无法打开仓库：{exc}", err=True)
        raise typer.Exit(2) from exc


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@monitor.command("refresh")
def refresh_command(
    month: MonthOpt,
    warehouse: WarehouseOpt = None,
    no_cases: Annotated[bool, typer.Option("--no-cases", help="只计算与保存，不开预警处置工单")] = False,
    as_json: JsonOpt = False,
) -> None:
    """刷新一个月的监测指标与预警，按预警开处置工单并通知所在区县。"""
    from jingxin.core.db import Database, upgrade
    from jingxin.core.settings import get_settings
    from jingxin.monitoring.service import refresh_month

    year, m = _month(month)
    wh = _open(warehouse)
    database = None
    try:
        if no_cases:
            rep = refresh_month(wh, year, m)
        else:
            url = get_settings().platform_database_url
            upgrade(url)
            database = Database(url)
            with database.session() as db:
                rep = refresh_month(wh, year, m, db)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    finally:
        wh.close()
        if database is not None:
            database.dispose()
    if as_json:
        _emit(rep.to_dict())
        return
    colours = "，".join(f"{k} {v}" for k, v in sorted(rep.warnings.items())) or "无"
    typer.echo(
        f"{rep.month}：指标 {rep.indicators} 行；预警 {colours}；"
        f"新开工单 {rep.cases_opened}，已有 {rep.cases_existing}"
    )


@monitor.command("warnings")
def warnings_command(month: MonthOpt, warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """列出某月的预警（先运行 monitor refresh）。"""
    from jingxin.monitoring import store
    from jingxin.monitoring.indicators import first_day

    year, m = _month(month)
    wh = _open(warehouse)
    try:
        if not store.has_results(wh) or first_day(year, m) not in store.months(wh):
            typer.echo(f"{month} 尚未刷新：请先运行 jingxin monitor refresh --month {month}", err=True)
            raise typer.Exit(2)
        df = store.warnings(wh, first_day(year, m))
    finally:
        wh.close()
    rows = df.drop(columns=["refreshed_at"]).to_dict("records")
    if as_json:
        _emit(rows)
        return
    for r in rows:
        typer.echo(f"[{r['colour']}] {r['reason']}")
    typer.echo(f"共 {len(rows)} 条")


@monitor.command("check-events")
def check_events_command(
    manifest: Annotated[Path, typer.Argument(help="生成省份的 manifest.json")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="把结果表写入此 Markdown 文件")] = None,
) -> None:
    """用生成器注入的真实事件检验预警：是否命中、覆盖区县、提前天数、平静期误报率。"""
    from jingxin.monitoring.evaluation import check_events, markdown_table

    wh = _open(warehouse)
    try:
        result = check_events(wh, json.loads(manifest.read_text(encoding="utf-8")))
    finally:
        wh.close()
    if markdown is not None:
        markdown.write_text(markdown_table(result), encoding="utf-8")
    if as_json:
        _emit(result)
    else:
        typer.echo(markdown_table(result))


@report.command("monthly")
def monthly_report_command(
    out: Annotated[Path, typer.Argument(help="输出 .docx 文件")],
    month: MonthOpt,
    region: Annotated[str, typer.Option("--region", help="区划代码，如 330000 或 330700")] = "330000",
    warehouse: WarehouseOpt = None,
) -> None:
    """生成运行监测月报（Word）。"""
    from jingxin.monitoring.briefing import BriefingError, write_briefing

    year, m = _month(month)
    wh = _open(warehouse)
    try:
        write_briefing(wh, year, m, region, out)
    except BriefingError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    finally:
        wh.close()
    typer.echo(f"已生成 {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(monitor, name="monitor")
    app.add_typer(report, name="report")
