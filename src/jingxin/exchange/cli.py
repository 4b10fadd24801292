"""Commands of data exchange (数据共享交换):

jingxin exchange remind [--at 2022-05-03T09:00+08:00] [--no-email] [--json]   # 催报 sweep, once
jingxin exchange template tax [-o 税收模板.xlsx]                               # blank template
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]

exchange_app = typer.Typer(help="数据共享交换：报送模板、催报。", no_args_is_help=True)


@exchange_app.command("remind")
def remind_command(
    at: Annotated[
        str | None, typer.Option("--at", help="按此时刻催报（ISO 时间，须带时区，如 2022-05-03T09:00+08:00）")
    ] = None,
    no_email: Annotated[bool, typer.Option("--no-email", help="不发送待发邮件")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Sync the submission tracker with the batch registry and remind liaisons of due periods."""
    from jingxin.core.warehouse import WarehouseBusyError
    from jingxin.exchange.tracker import remind_due_submissions

    now = None
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            raise typer.BadParameter(f"时间格式不正确：{at}，例如 2022-05-03T09:00+08:00") from None
        if now.tzinfo is None:
            raise typer.BadParameter("时间须带时区，例如 2022-05-03T09:00+08:00")
    try:
        report = remind_due_submissions(now, send_email=not no_email)
    except WarehouseBusyError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(3) from None
    if as_json:
        typer.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
        return
    typer.echo(
        f"更新报送期次 {report.synced} 项；即将到期提醒 {report.due_soon} 项，逾期催报 {report.overdue} 项，"
        f"消息 {report.notifications} 条，邮件 {report.emails_sent} 封"
    )
    for department in report.without_liaison:
        typer.echo(f"警告：{department}部门没有启用的数据联络员，未能催报")


@exchange_app.command("template")
def template_command(
    source_id: Annotated[str, typer.Argument(help="数据源，如 tax")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="输出文件")] = None,
) -> None:
    """Write the blank .xlsx template of one source."""
    from jingxin.core.contracts import source
    from jingxin.exchange.blanks import blank_template, template_name

    try:
        src = source(source_id)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0])) from None
    path = output or Path(template_name(src))
    path.write_bytes(blank_template(src))
    typer.echo(f"已写出 {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(exchange_app, name="exchange")
