"""Commands of the workflow core:

jingxin workflows sweep [--at 2021-10-08T18:00+08:00] [--no-email] [--json]
jingxin workflows check [--json]     # every declaration valid? calendar years covered?
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import typer

from jingxin.core.calendar import check_coverage, default_calendar, package_version, package_years, year_span

JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]


def sweep_command(
    at: Annotated[
        str | None, typer.Option("--at", help="按此时刻督办（ISO 时间，须带时区，如 2021-10-08T18:00+08:00）")
    ] = None,
    no_email: Annotated[bool, typer.Option("--no-email", help="不发送待发邮件")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every running clock once: due-soon warnings, overdue, escalation, pending e-mail."""
    from jingxin.core.db import Database, upgrade
    from jingxin.core.settings import get_settings
    from jingxin.core.workflow.sweep import sweep

    now = None
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            raise typer.BadParameter(f"时间格式不正确：{at}，例如 2021-10-08T18:00+08:00") from None
        if now.tzinfo is None:
            raise typer.BadParameter("时间须带时区，例如 2021-10-08T18:00+08:00")
    url = get_settings().platform_database_url
    upgrade(url)  # as the server does at start: a fresh or older database is brought up to date
    database = Database(url)
    try:
        with database.session() as db:
            report = sweep(db, now, send_email=not no_email)
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
        return
    typer.echo(
        f"即将到期提醒 {report.due_soon} 项，新超期 {report.overdue} 项，升级 {report.escalated} 项，"
        f"消息 {report.notifications} 条，邮件发送 {report.emails_sent} 封（失败 {report.emails_failed}）"
    )
    for year in report.uncovered_years:
        typer.echo(f"警告：节假日日历未覆盖 {year} 年")
    for error in report.errors:
        typer.echo(f"错误：{error}", err=True)
    if report.errors:
        raise typer.Exit(1)


def check_command(as_json: JsonOpt = False) -> None:
    """Validate every workflow declaration and report the calendar's years."""
    from jingxin.core.workflow.config import WorkflowConfigError, available_workflows, load_workflow

    problems: list[str] = []
    loaded: list[str] = []
    for workflow_id in available_workflows():
        try:
            loaded.append(f"{workflow_id} v{load_workflow(workflow_id).version}")
        except WorkflowConfigError as exc:
            problems.append(str(exc))
    missing = check_coverage()
    calendar = default_calendar()
    result = {
        "workflows": loaded,
        "problems": problems,
        "chinesecalendar": package_version(),
        "calendar_years": sorted(calendar.years),
        "uncovered_years": missing,
    }
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"流程定义：{'、'.join(loaded) or '无'}")
        typer.echo(f"节假日日历：chinesecalendar {package_version()}，覆盖 {year_span(package_years())}")
        for year in missing:
            typer.echo(f"警告：未覆盖 {year} 年")
        for problem in problems:
            typer.echo(f"错误：{problem}", err=True)
    if problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="流程与时限：超期督办、检查流程定义。", no_args_is_help=True)
    group.command("sweep")(sweep_command)
    group.command("check")(check_command)
    app.add_typer(group, name="workflows")
