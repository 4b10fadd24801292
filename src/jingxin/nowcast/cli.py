"""`jingxin nowcast` (现时预测) and `jingxin nowcast-backtest` (准实时回测).

jingxin nowcast --month 2021-06 [--region 330106] [--as-of 2021-07-10] [--json]
jingxin nowcast-backtest [--region 330000] [--write docs/nowcast.md] [--json]
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
WarehouseOpt = Annotated[str | None, typer.Option("--warehouse", help="仓库地址（默认取配置）")]


def _open(url: str | None) -> Any:
    from jingxin.core.warehouse import WarehouseError, open_warehouse

    try:
        return open_warehouse(url)
    except WarehouseError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--as-of 应为日期 YYYY-MM-DD，收到 {text!r}") from None


def nowcast_command(
    month: Annotated[str, typer.Option("--month", help="目标月份 YYYY-MM，如 2021-06")],
    region: Annotated[
        str | None, typer.Option("--region", help="区划代码（省、市或县），默认全部地区")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="数据截至日期 YYYY-MM-DD；默认今天，已发布的月份取发布前一天"),
    ] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """现时预测：规上工业增加值当月与当季增速（动态因子模型、桥接回归、朴素值），含区间与新闻分解。"""
    from jingxin.core.jobs.client import running_server
    from jingxin.core.scope import EVERYTHING
    from jingxin.core.settings import get_settings
    from jingxin.nowcast.data import regions
    from jingxin.nowcast.models import NowcastError
    from jingxin.nowcast.service import nowcast, run_failures, run_view

    when = _date(as_of)
    if (not warehouse or warehouse == get_settings().warehouse_url) and (server := running_server()):
        _on_server(server, month, region, when, as_json)
        return
    wh = _open(warehouse)
    try:
        run_id = nowcast(wh, EVERYTHING, month, region, when)
        views, failed = [], []
        for code in [region] if region else [c for c, _n, _p in regions()]:
            try:
                views.append(run_view(wh, EVERYTHING, run_id, code))
            except KeyError:  # the region could not be modelled; the run records why
                failed.append(code)
        failures = run_failures(wh, run_id)
    except (NowcastError, PermissionError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        wh.close()
    if as_json:
        typer.echo(
            json.dumps(
                {"run_id": run_id, "regions": views, "failed": failures},
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
        return
    if views:
        _print(run_id, views)
    for line in failures:
        console.print(f"[yellow]未能预测 {line}[/yellow]")
    if not views:
        raise typer.Exit(1)


def _print(run_id: str, views: list[dict[str, Any]]) -> None:
    first = views[0]
    table = Table(
        title=f"规上工业增加值现时预测 {first['target_month']}（数据截至 {first['as_of']}，批次 {run_id}）"
    )
    for col in ("地区", "期间", "动态因子模型", "90%区间", "桥接回归", "朴素值", "已发布", "较上次变动"):
        table.add_column(col, justify="right" if col not in ("地区", "期间") else "left")
    for v in views:
        by = {(e["kind"], e["model"]): e for e in v["estimates"]}
        for kind in ("month", "quarter"):
            d, b, n = by.get((kind, "dfm")), by.get((kind, "bridge")), by.get((kind, "naive"))
            if d is None or b is None or n is None:
                continue
            change = ""
            if kind == "month" and v["news_current"] is not None and v["news_previous"] is not None:
                change = f"{v['news_current'] - v['news_previous']:+.2f}"
            table.add_row(
                v["region_name"],
                d["period"],
                f"{d['point']:.1f}%",
                f"{d['lower']:.1f}～{d['upper']:.1f}",
                f"{b['point']:.1f}%",
                f"{n['point']:.1f}%",
                f"{d['official']:.1f}%" if d["official"] is not None else "",
                change,
            )
    console.print(table)
    if len(views) == 1 and views[0]["news"]:
        console.print(f"新闻分解（相对 {views[0]['news_compared_as_of']} 的数据）：")
        for item in views[0]["news"]:
            console.print(f"  {item['label']}：{item['impact']:+.2f} 个百分点")


def _on_server(server: str, month: str, region: str | None, when: dt.date | None, as_json: bool) -> None:
    from jingxin.core.jobs.client import HandOffError, run_on_server

    params = {"month": month, "region": region, "as_of": when.isoformat() if when else None}
    try:
        job = run_on_server(server, "nowcast.run", params, quiet=as_json)
    except HandOffError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if job["status"] != "succeeded":
        console.print(f"[red]作业 {job['id']} 失败：{job['error']}[/red]")
        raise typer.Exit(1)
    result = job.get("result") or {}
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        console.print(
            f"现时预测已完成：批次 {result.get('run_id')}，"
            f"在网页 {server.rstrip('/')}{result.get('page', '')} 查看"
        )


def backtest_command(
    region: Annotated[
        list[str] | None, typer.Option("--region", help="区划代码，可多次给出；默认全省")
    ] = None,
    write: Annotated[
        Path | None, typer.Option("--write", help="把结果写入 Markdown 文件（如 docs/nowcast.md 的回测表）")
    ] = None,
    without: Annotated[
        list[str] | None,
        typer.Option("--without", help="不用某项指标回测（如 power_daily），可多次给出，用于比较其作用"),
    ] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """准实时回测：只用各日期已发布的数据，按预测时点比较动态因子模型、桥接回归与朴素值的 RMSE。"""
    from jingxin.nowcast.backtest import run_backtest
    from jingxin.nowcast.data import LABELS, load_inputs
    from jingxin.nowcast.report import backtest_table, write_backtest

    names = [k for k in LABELS if k != "va"]
    wrong = [w for w in without or [] if w not in names]
    if wrong:
        console.print(f"[red]--without 不认识 {'、'.join(wrong)}：应为指标名 {'、'.join(names)} 之一[/red]")
        raise typer.Exit(2)
    wh = _open(warehouse)
    try:
        inputs = load_inputs(wh)
    finally:
        wh.close()
    if without:
        inputs = inputs.without(*without)
    results = [run_backtest(inputs, code) for code in (region or ["330000"])]
    if as_json:
        typer.echo(
            json.dumps(
                [{"region": b.region, "targets": b.count(), "rmse": b.rmse()} for b in results],
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        console.print(backtest_table(results))
    if write is not None:
        write_backtest(write, results)
        console.print(f"已写入 {write}")


def register(app: typer.Typer) -> None:
    app.command("nowcast")(nowcast_command)
    app.command("nowcast-backtest")(backtest_command)
