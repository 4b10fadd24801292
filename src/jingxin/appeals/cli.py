"""Commands of appeals and arrears:

jingxin appeals overdue [--scope 330106] [--department 税务] [--at ISO] [--json]
jingxin appeals stats [--scope 330106] [--json]
jingxin arrears report [--scope 330106] [--as-of 2021-06-30] [--json]

The command line reads the platform database as the province (or the region given by
`--scope`, and the department given by `--department`), through the same service functions and
scope rule as the web pages.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from types import SimpleNamespace
from typing import Annotated, Any

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
ScopeOpt = Annotated[str, typer.Option("--scope", help="区划代码（默认全省 330000）")]
DeptOpt = Annotated[str | None, typer.Option("--department", help="只看分办给该部门的诉求，如 税务")]


def _reader(scope: str, department: str | None = None) -> Any:
    from jingxin import reference
    from jingxin.core.scope import Scope

    try:
        reference.division(scope)
    except (KeyError, ValueError):
        raise typer.BadParameter(f"区划代码 {scope} 不存在") from None
    return SimpleNamespace(scope=Scope(division=scope, department=department), role="province_analyst")


def _session() -> Any:
    from jingxin.core.db import Database, upgrade
    from jingxin.core.settings import get_settings

    url = get_settings().platform_database_url
    upgrade(url)
    return Database(url)


def _dump(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def overdue_command(
    scope: ScopeOpt = "330000",
    department: DeptOpt = None,
    at: Annotated[str | None, typer.Option("--at", help="按此时刻（ISO，带时区）")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Open appeals past a deadline (超期诉求), with counts by department and county."""
    from jingxin.appeals import service

    now = None
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            raise typer.BadParameter(f"时间格式不正确：{at}，例如 2021-10-08T18:00+08:00") from None
        if now.tzinfo is None:
            raise typer.BadParameter("时间须带时区，例如 2021-10-08T18:00+08:00")
    database = _session()
    try:
        with database.session() as db:
            result = service.overdue(db, _reader(scope, department), now=now)
    finally:
        database.dispose()
    if as_json:
        _dump(asdict(result))
        return
    typer.echo(f"超期诉求 {len(result.rows)} 件")
    for g in result.by_department:
        typer.echo(f"  部门 {g.label}：{g.count} 件")
    for g in result.by_county:
        typer.echo(f"  区县 {g.label}：{g.count} 件")
    for r in result.rows:
        typer.echo(
            f"#{r.id} {r.title}｜{r.county_name}｜{r.department}｜"
            f"{r.clock} 到期 {r.due_at:%Y-%m-%d %H:%M} UTC｜{r.level}"
        )


def stats_command(scope: ScopeOpt = "330000", as_json: JsonOpt = False) -> None:
    """Appeals by category (诉求分类统计)."""
    from jingxin.appeals import service

    database = _session()
    try:
        with database.session() as db:
            stats = service.stats_by_category(db, _reader(scope))
    finally:
        database.dispose()
    if as_json:
        _dump([asdict(s) for s in stats])
        return
    for s in stats:
        typer.echo(
            f"{s.label}：合计 {s.total}，办理中 {s.open}，超时 {s.late}，"
            f"重新办理 {s.reopened}，不满意 {s.dissatisfied}"
        )


def arrears_report_command(
    scope: ScopeOpt = "330000",
    as_of: Annotated[str | None, typer.Option("--as-of", help="截至日期 YYYY-MM-DD（默认今天）")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The arrears progress by county and the overdue debtors (清欠进度)."""
    from jingxin.arrears import service

    try:
        day = date.fromisoformat(as_of) if as_of else service.today()
    except ValueError:
        raise typer.BadParameter(f"日期格式不正确：{as_of}，例如 2021-06-30") from None
    database = _session()
    try:
        with database.session() as db:
            reader = _reader(scope)
            counties, debtors = service.by_county(db, reader, day), service.by_debtor(db, reader, day)
    finally:
        database.dispose()
    if as_json:
        _dump(
            {
                "as_of": day,
                "by_county": [asdict(x) for x in counties],
                "by_debtor": [asdict(x) for x in debtors],
            }
        )
        return
    typer.echo(f"截至 {day}：")
    for x in counties:
        typer.echo(
            f"  {x.label}：{x.entries} 笔，金额 {x.amount:,.2f} 元，已还 {x.repaid:,.2f}，"
            f"逾期未还 {x.overdue:,.2f}，有分歧 {x.disputed}"
        )
    for x in debtors:
        typer.echo(f"  欠款方 {x.label}：未还 {x.outstanding:,.2f} 元，逾期 {x.overdue:,.2f}")


def register(app: typer.Typer) -> None:
    appeals = typer.Typer(help="企业诉求（诉求直办）", no_args_is_help=True)
    appeals.command("overdue")(overdue_command)
    appeals.command("stats")(stats_command)
    app.add_typer(appeals, name="appeals")
    arrears = typer.Typer(help="清欠台账", no_args_is_help=True)
    arrears.command("report")(arrears_report_command)
    app.add_typer(arrears, name="arrears")
