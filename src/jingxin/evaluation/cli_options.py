"""Options and helpers shared by the evaluation's commands (`evaluation.cli`) and the
uncertainty command (`evaluation.uncertainty.cli`); both import them from here, so neither
command module imports the other's."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from jingxin.core.scope import EVERYTHING, Scope

console = Console()

WarehouseOpt = Annotated[
    str | None, typer.Option("--warehouse", envvar="JINGXIN_WAREHOUSE", help="仓库地址（默认取配置）")
]
ScopeOpt = Annotated[str | None, typer.Option("--scope", help="区划代码：只评价或导出该区域（如 331003）")]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]


def _scope(code: str | None) -> Scope:
    if not code or code == "330000":
        return EVERYTHING
    from jingxin.reference import division

    try:
        division(code)
    except KeyError as exc:
        raise typer.BadParameter(f"未知区划代码 {code}") from exc
    return Scope(division=code)


def _open(url: str | None) -> Any:
    from jingxin.core.warehouse import WarehouseError, open_warehouse

    try:
        return open_warehouse(url)
    except WarehouseError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
