"""Commands of the web app: `jingxin serve` and `jingxin users add|list|disable|enable|passwd|demo`.

The user commands work on the platform database named by JINGXIN_DATABASE_URL (SQLite under
var/ by default), migrate it first, and write the audit log as the actor `cli`, so accounts
made on the command line are traceable like those made on the admin page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="以 JSON 输出（供脚本使用）")]

users_app = typer.Typer(
    help="用户管理：新增、列出、停用、启用、重置密码、创建演示账号。", no_args_is_help=True
)


def serve(
    host: Annotated[str | None, typer.Option(help="监听地址（默认取 JINGXIN_HOST，127.0.0.1）")] = None,
    port: Annotated[int | None, typer.Option(help="端口（默认取 JINGXIN_PORT，8000）")] = None,
    reload: Annotated[bool, typer.Option("--reload", help="代码变动时自动重启（开发用）")] = False,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers",
            help="采用反向代理的 X-Forwarded-For / X-Forwarded-Proto，"
            "仅限 JINGXIN_TRUSTED_PROXIES 所列代理地址",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="服务进程数（多于 1 个须两库均为 PostgreSQL）")
    ] = 1,
) -> None:
    """启动网页与接口服务（数字经信）。服务进程独占仓库文件并运行后台作业；命令行的写操作交给它执行。"""
    import uvicorn

    from jingxin.core.jobs.client import remove_server_file, write_server_file
    from jingxin.core.settings import get_settings

    settings = get_settings()
    try:
        proxy = proxy_options(proxy_headers, settings.trusted_proxies)
    except ValueError as exc:
        err.print(f"[bold red]无法启动：[/]{exc}")
        raise typer.Exit(2) from None
    if workers > 1:
        from jingxin.core.db import upgrade

        _check_shared_stores(settings)
        upgrade(settings.platform_database_url)  # once here, not raced by every worker
    _check_warehouse_free(settings.warehouse_url)
    from jingxin.ops.logs import configure_logging
    from jingxin.ops.metrics_view import prepare_multiprocess

    configure_logging(settings.log_format, settings.log_level)
    if workers > 1:
        prepare_multiprocess(settings)  # before any worker imports prometheus_client
    bind_host, bind_port = host or settings.host, port or settings.port
    local_host = "127.0.0.1" if bind_host in ("0.0.0.0", "::", "") else bind_host
    write_server_file(f"http://{local_host}:{bind_port}", settings)
    try:
        uvicorn.run(
            # Logging is set up in every server process by this factory (JSON or console,
            # JINGXIN_LOG_FORMAT); uvicorn's own access log is replaced by the platform's
            # request line (route template, user id, request id).
            "jingxin.ops.logs:create_served_app",
            factory=True,
            log_config=None,
            access_log=False,
            host=bind_host,
            port=bind_port,
            reload=reload,
            workers=workers if workers > 1 else None,
            # A worker answers uvicorn's health check once the app has started (migrations
            # checked, warehouse opened, job threads running): give it time on a busy machine.
            timeout_worker_healthcheck=120,
            log_level=settings.log_level,
            **proxy,
        )
    finally:
        remove_server_file(settings)


def _check_shared_stores(settings: Any) -> None:
    """Several server processes need stores they can all write: PostgreSQL for both. A DuckDB
    file admits one process, and SQLite would serialise every process's writes."""
    problems = []
    if not settings.warehouse_url.startswith(("postgresql", "postgres")):
        problems.append(f"仓库为 {settings.warehouse_url.split(':', 1)[0]}（DuckDB 文件只允许一个进程打开）")
    if not settings.platform_database_url.startswith(("postgresql", "postgres")):
        problems.append("平台数据库为 SQLite")
    if problems:
        err.print(
            f"[bold red]无法以多个进程启动：[/]{'；'.join(problems)}。"
            "请把 JINGXIN_WAREHOUSE 与 JINGXIN_DATABASE_URL 都设为 PostgreSQL（见 README 生产部署），"
            "或去掉 --workers 以单进程运行。"
        )
        raise typer.Exit(2)


def trusted_proxy_list(text: str) -> list[str]:
    """The proxy addresses and networks of JINGXIN_TRUSTED_PROXIES (comma-separated), checked.

    `*` (any address) is refused: then anyone who reaches the port could write the address
    that throttling and the audit log record."""
    import ipaddress

    entries = [e.strip() for e in text.split(",") if e.strip()]
    if not entries:
        raise ValueError("使用 --proxy-headers 时须在 JINGXIN_TRUSTED_PROXIES 中列出反向代理的地址")
    for entry in entries:
        if entry == "*":
            raise ValueError(
                "JINGXIN_TRUSTED_PROXIES 不能为 *（任何人都可伪造客户端地址），请列出反向代理的地址或网段"
            )
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"JINGXIN_TRUSTED_PROXIES 中的 {entry!r} 不是 IP 地址或网段（如 10.0.0.5 或 10.0.0.0/24）"
            ) from None
    return entries


def proxy_options(proxy_headers: bool, trusted_proxies: str) -> dict[str, Any]:
    """The uvicorn options for forwarded headers: off, or believed only from the listed proxies."""
    if not proxy_headers:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted_proxy_list(trusted_proxies)}


def _check_warehouse_free(url: str) -> None:
    """Refuse to start when another process holds the DuckDB warehouse file (exit code 3, as
    the ingest commands use), with the message naming the holder, not a traceback."""
    from jingxin.core.warehouse import WarehouseBusyError, open_warehouse

    try:
        open_warehouse(url).close()
    except WarehouseBusyError as exc:
        err.print(f"[bold red]无法启动：[/]{exc}")
        raise typer.Exit(3) from None


@contextmanager
def _db() -> Iterator[Session]:
    from jingxin.core.db import Database, upgrade
    from jingxin.core.settings import get_settings

    url = get_settings().platform_database_url
    upgrade(url)
    database = Database(url)
    session = database.session()
    try:
        yield session
    finally:
        session.close()
        database.dispose()


def _user_dict(user: Any) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_label": user.role_label,
        "division_code": user.division_code,
        "department": user.department,
        "credit_code": user.credit_code,
        "enterprises": user.enterprises,
        "is_active": user.is_active,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


def _fail(message: str, as_json: bool = False) -> None:
    if as_json:
        typer.echo(json.dumps({"error": message}, ensure_ascii=False))
    else:
        err.print(f"[bold red]错误：[/]{message}")
    raise typer.Exit(1)


def _ask_password(password: str | None) -> str:
    if password:
        return password
    return typer.prompt("密码", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="登录名")],
    role: Annotated[
        str,
        typer.Option(
            help="角色：admin、province_analyst、city_analyst、county_analyst、"
            "liaison、service_staff、enterprise、operator、finance（财政部门）"
        ),
    ],
    name: Annotated[str | None, typer.Option(help="姓名或单位名称（默认同登录名）")] = None,
    division: Annotated[str | None, typer.Option(help="所属区划代码（省级角色默认 330000）")] = None,
    department: Annotated[str | None, typer.Option(help="联络员所属部门，如 税务")] = None,
    credit_code: Annotated[str | None, typer.Option(help="企业用户的统一社会信用代码")] = None,
    enterprise: Annotated[list[str] | None, typer.Option(help="驻企服务员的服务企业（可重复）")] = None,
    password: Annotated[str | None, typer.Option(help="初始密码（省略则交互输入）")] = None,
    as_json: JsonOption = False,
) -> None:
    """新增用户。"""
    from jingxin.accounts import service
    from jingxin.accounts.schemas import UserCreate
    from jingxin.core.audit import CLI_ACTOR
    from jingxin.core.auth import Role

    try:
        data = UserCreate(
            username=username,
            display_name=name or username,
            role=Role(role),
            division_code=division,
            department=department,
            credit_code=credit_code,
            enterprises=list(enterprise or []),
            password=_ask_password(password),
        )
    except ValueError as exc:
        _fail(f"参数不正确：{exc}", as_json)
    with _db() as db:
        try:
            user = service.create_user(db, data, CLI_ACTOR)
        except service.AccountError as exc:
            _fail(str(exc), as_json)
        if as_json:
            typer.echo(json.dumps(_user_dict(user), ensure_ascii=False, indent=2))
        else:
            out.print(f"已新增用户 [bold]{user.username}[/]（{user.role_label}，{user.division_code}）")


@users_app.command("list")
def users_list(
    q: Annotated[str | None, typer.Option(help="登录名或姓名的一部分")] = None,
    role: Annotated[str | None, typer.Option(help="只列出该角色")] = None,
    as_json: JsonOption = False,
) -> None:
    """列出用户。"""
    from jingxin.accounts import service

    with _db() as db:
        users, _ = service.list_users(db, q=q, role=role, limit=100000)
        if as_json:
            typer.echo(json.dumps([_user_dict(u) for u in users], ensure_ascii=False, indent=2))
            return
        table = Table("登录名", "姓名", "角色", "区划", "部门/企业", "状态", "最近登录")
        for u in users:
            pin = u.department or u.credit_code or (f"{len(u.enterprises)}家企业" if u.enterprises else "")
            table.add_row(
                u.username,
                u.display_name,
                u.role_label,
                u.division_code,
                pin,
                "启用" if u.is_active else "停用",
                u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "—",
            )
        out.print(table)


def _set_active(username: str, active: bool, as_json: bool) -> None:
    from jingxin.accounts import service
    from jingxin.core.audit import CLI_ACTOR

    with _db() as db:
        user = service.get_user_by_username(db, username)
        if user is None:
            _fail(f"用户 {username} 不存在", as_json)
        assert user is not None
        service.set_active(db, user.id, active, CLI_ACTOR)
        if as_json:
            typer.echo(json.dumps(_user_dict(user), ensure_ascii=False, indent=2))
        else:
            out.print(f"已{'启用' if active else '停用'}用户 [bold]{user.username}[/]")


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="登录名")], as_json: JsonOption = False
) -> None:
    """停用用户（立即退出，不能再登录；账号与审计记录保留）。"""
    _set_active(username, False, as_json)


@users_app.command("enable")
def users_enable(
    username: Annotated[str, typer.Argument(help="登录名")], as_json: JsonOption = False
) -> None:
    """重新启用用户。"""
    _set_active(username, True, as_json)


@users_app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Argument(help="登录名")],
    password: Annotated[str | None, typer.Option(help="新密码（省略则交互输入）")] = None,
    as_json: JsonOption = False,
) -> None:
    """重置用户密码（其登录会话全部失效）。"""
    from jingxin.accounts import service
    from jingxin.core.audit import CLI_ACTOR

    with _db() as db:
        user = service.get_user_by_username(db, username)
        if user is None:
            _fail(f"用户 {username} 不存在", as_json)
        assert user is not None
        try:
            service.reset_password(db, user.id, _ask_password(password), CLI_ACTOR)
        except service.AccountError as exc:
            _fail(str(exc), as_json)
        if as_json:
            typer.echo(json.dumps({"username": user.username, "password_reset": True}, ensure_ascii=False))
        else:
            out.print(f"已重置 [bold]{user.username}[/] 的密码")


@users_app.command("demo")
def users_demo(
    password: Annotated[
        str | None, typer.Option(help="演示账号的共同密码（默认见 accounts.demo.DEMO_PASSWORD）")
    ] = None,
    enterprise: Annotated[str | None, typer.Option(help="企业演示账号绑定的统一社会信用代码")] = None,
    staff_enterprise: Annotated[list[str] | None, typer.Option(help="驻企服务员的服务企业（可重复）")] = None,
    as_json: JsonOption = False,
) -> None:
    """创建演示账号：每个角色一个，每个部门一个联络员（已存在的不改动）。

    驻企服务员 fuwu 与企业 qiye 绑定仓库中当前省份的企业；换了省份（重新生成并入库）后再运行，
    两个账号改绑到现有企业。"""
    from jingxin.accounts import demo as account_demo
    from jingxin.accounts import service
    from jingxin.core.audit import CLI_ACTOR

    given = bool(enterprise or staff_enterprise)
    binding: AbstractContextManager[dict[str, Any]] = nullcontext({}) if given else _province_binding()
    with binding as options, _db() as db:
        if enterprise:
            options["enterprise_code"] = enterprise
        if staff_enterprise:
            options["staff_enterprises"] = staff_enterprise
        try:
            users = account_demo.create_demo_users(
                db, password or account_demo.DEMO_PASSWORD, actor=CLI_ACTOR, **options
            )
        except service.AccountError as exc:
            _fail(str(exc), as_json)
        if as_json:
            typer.echo(json.dumps([_user_dict(u) for u in users], ensure_ascii=False, indent=2))
            return
        table = Table("登录名", "角色", "数据范围")
        for u in users:
            table.add_row(u.username, u.role_label, u.department or u.credit_code or u.division_code)
        out.print(table)
        out.print(f"密码：{password or account_demo.DEMO_PASSWORD}")


@contextmanager
def _province_binding() -> Iterator[dict[str, Any]]:
    """Demo bindings from the warehouse's current province, the warehouse open meanwhile
    (empty when it holds none yet, or cannot be opened, e.g. a running server holds the
    DuckDB file)."""
    from jingxin.accounts.demo_bindings import demo_user_options
    from jingxin.core.settings import get_settings
    from jingxin.core.warehouse import WarehouseError, open_warehouse

    try:
        wh = open_warehouse(get_settings().warehouse_url, create=False)
    except WarehouseError as exc:
        err.print(f"[yellow]未读取仓库，企业与驻企服务员演示账号使用示例信用代码：[/]{exc}")
        yield {}
        return
    try:
        yield demo_user_options(wh)
    finally:
        wh.close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
