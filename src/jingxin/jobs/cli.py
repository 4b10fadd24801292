"""Commands of jobs: `jingxin login`, `logout`, `jobs list|show|submit|retry`, `worker`.

`login` keeps a session with the running server for the writing commands to hand their work
over (see `jingxin.core.jobs.client`). `jobs submit KIND key=value ...` starts any job kind on
the running server, e.g. `jingxin jobs submit evaluation.uncertainty run=2021-... draws=2000`.
`worker` runs jobs in a process of its own (PostgreSQL warehouse only: a DuckDB file belongs
to the server process).
"""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jingxin.core.jobs import client

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
JsonOption = Annotated[bool, typer.Option("--json", help="以 JSON 输出（供脚本使用）")]
ServerOption = Annotated[str | None, typer.Option("--server", help="服务地址（默认：本机运行中的服务）")]

jobs_app = typer.Typer(help="后台作业：列出、查看、提交、重试（在运行中的服务上）。", no_args_is_help=True)


def _server(server: str | None) -> str:
    url = server or client.running_server()
    if not url:
        err.print("[bold red]错误：[/]没有运行中的服务。请先 jingxin serve，或用 --server 指定地址。")
        raise typer.Exit(1)
    return url.rstrip("/")


def _fail(message: str) -> None:
    err.print(f"[bold red]错误：[/]{message}")
    raise typer.Exit(1)


def login_command(
    username: Annotated[str | None, typer.Option("--username", "-u", help="登录名")] = None,
    password: Annotated[str | None, typer.Option("--password", help="密码（省略则交互输入，推荐）")] = None,
    server: ServerOption = None,
) -> None:
    """登录运行中的服务，供命令行把写操作交给服务执行（会话保存在 ~/.config/jingxin，仅本人可读）。"""
    url = _server(server)
    name = username or typer.prompt("登录名")
    secret = password or typer.prompt("密码", hide_input=True)
    try:
        entry = client.login(url, name, secret)
    except client.HandOffError as exc:
        _fail(str(exc))
    out.print(f"已以 [bold]{entry['username']}[/] 登录 {url}；会话保存在 {client.credentials_file()}")


def logout_command(server: ServerOption = None) -> None:
    """退出登录（服务端会话同时失效）。"""
    url = _server(server)
    out.print("已退出登录。" if client.logout(url) else "本机没有该服务的登录会话。")


def _job_row(job: dict[str, Any]) -> list[str]:
    return [
        str(job["id"]),
        job["title"],
        job["owner_name"],
        job["status_label"],
        f"{job['percent']}%",
        str(job["created_at"])[:19].replace("T", " "),
    ]


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="queued、running、succeeded 或 failed")] = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """列出本人的作业（管理员为全部作业）。"""
    with _client(server) as c:
        page = c._check(c.http.get("/api/v1/jobs", params={"status": status} if status else {}))
    if as_json:
        typer.echo(json.dumps(page, ensure_ascii=False, indent=2))
        return
    table = Table("编号", "作业", "提交人", "状态", "进度", "提交时间")
    for job in page["items"]:
        table.add_row(*_job_row(job))
    out.print(table)


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[int, typer.Argument(help="作业编号")],
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """查看一个作业：状态、进度、日志、结果或错误。"""
    with _client(server) as c:
        job = c.job(job_id)
    if as_json:
        typer.echo(json.dumps(job, ensure_ascii=False, indent=2))
        return
    out.print(f"[bold]作业 {job['id']}[/]：{job['title']}（{job['status_label']}，{job['percent']}%）")
    for line in job["logs"]:
        out.print(f"[dim]{str(line['at'])[:19]}[/] {line['message']}")
    if job["error"]:
        out.print(f"[red]失败原因：{job['error']}[/]")
    if job["result"]:
        out.print_json(json.dumps(job["result"], ensure_ascii=False))


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@jobs_app.command("submit")
def jobs_submit(
    kind: Annotated[str, typer.Argument(help="作业类型，如 evaluation.uncertainty")],
    params: Annotated[
        list[str] | None, typer.Argument(help="参数 key=value（值按 JSON 解析，否则为文本）")
    ] = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """在运行中的服务上启动一个作业并跟踪其进度。"""
    values: dict[str, Any] = {}
    for item in params or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            _fail(f"参数 {item!r} 应写作 key=value")
        values[key] = _value(text)
    try:
        job = client.run_on_server(_server(server), kind, values, quiet=as_json)
    except client.HandOffError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(job, ensure_ascii=False, indent=2))
    elif job["status"] == "succeeded":
        out.print_json(json.dumps(job["result"], ensure_ascii=False))
    if job["status"] != "succeeded":
        _fail(f"作业 {job['id']} 失败：{job['error']}")


@jobs_app.command("retry")
def jobs_retry(job_id: Annotated[int, typer.Argument(help="作业编号")], server: ServerOption = None) -> None:
    """重试一个失败的作业。"""
    with _client(server) as c:
        job = c._check(c.http.post(f"/api/v1/jobs/{job_id}/retry"))
    out.print(f"作业 {job['id']} 已重新排队。")


def _client(server: str | None) -> client.ServerClient:
    try:
        return client.ServerClient(_server(server))
    except client.HandOffError as exc:
        _fail(str(exc))
        raise


def worker_command() -> None:
    """单独运行作业进程（仓库须为 PostgreSQL；DuckDB 仓库的作业由服务进程运行）。"""
    from jingxin.core.db import Database, upgrade
    from jingxin.core.jobs.runner import JobRuntime, set_current
    from jingxin.core.settings import get_settings
    from jingxin.web.warehouse import WarehouseAccess

    settings = get_settings()
    if not settings.warehouse_url.startswith(("postgresql", "postgres")):
        _fail("独立作业进程须使用 PostgreSQL 仓库：DuckDB 文件只允许服务进程打开，作业由服务运行。")
    upgrade(settings.platform_database_url)
    database = Database(settings.platform_database_url)
    warehouse = WarehouseAccess(settings.warehouse_url)
    runtime = JobRuntime(settings, database, warehouse, role="worker")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runtime.start()
    set_current(runtime)
    out.print(f"作业进程 {runtime.worker_id} 已启动，Ctrl+C 停止。")
    try:
        stop.wait()
    finally:
        runtime.stop()
        warehouse.close()
        database.dispose()


def register(app: typer.Typer) -> None:
    app.command("login")(login_command)
    app.command("logout")(logout_command)
    app.add_typer(jobs_app, name="jobs")
    app.command("worker")(worker_command)
