"""Commands of the enterprise policies:

jingxin policy list [--json]
jingxin policy match --policy ID [--day 2022-06-01] [--scope 330106] [--enterprise CODE]
                     [--set name=value ...] [--json]
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer

group = typer.Typer(help="惠企政策：目录、匹配、试算。", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@group.command("list")
def list_command(as_json: JsonOpt = False) -> None:
    """The policy catalogue."""
    from jingxin.policies.config import load_catalogue

    rows = [
        {
            "id": p.id,
            "title": p.title,
            "document": p.document,
            "mode": p.mode,
            "kind": p.kind,
            "valid_from": p.valid_from,
            "valid_until": p.valid_until,
        }
        for p in load_catalogue().values()
    ]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['id']:<22} {r['title']}（{r['document']}）{'直兑' if r['mode'] == 'direct' else '申请'}"
        )


@group.command("match")
def match_command(
    policy: Annotated[str, typer.Option("--policy", help="政策编号（jingxin policy list）")],
    day: Annotated[str | None, typer.Option("--day", help="兑现日期，默认为最新数据年度次年6月1日")] = None,
    scope: Annotated[str | None, typer.Option("--scope", help="区划代码：只看该区域")] = None,
    enterprise: Annotated[str | None, typer.Option("--enterprise", help="只看这家企业的判定过程")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="试算：参数=新值（可多次）")] = None,
    warehouse: Annotated[str | None, typer.Option("--warehouse", help="数据仓库地址（默认按配置）")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Match every enterprise against a policy: per county who qualifies and how much; with
    --enterprise the full trace; with --set the what-if of new parameter values."""
    from jingxin.core.scope import EVERYTHING, Scope
    from jingxin.core.warehouse import WarehouseError, open_warehouse
    from jingxin.policies import service
    from jingxin.policies.config import PolicyConfigError, get_policy

    try:
        pol = get_policy(policy)
        overrides = service.parse_overrides(pol, set_ or [])
        when = dt.date.fromisoformat(day) if day else None
    except (PolicyConfigError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    the_scope = Scope(division=scope) if scope and scope != "330000" else EVERYTHING
    try:
        wh = open_warehouse(warehouse)
    except WarehouseError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    try:
        when = when or service.default_day(wh)
        if enterprise:
            result = service.decision(wh, the_scope, policy, enterprise, when, overrides or None)
            if result is None:
                typer.echo(f"企业 {enterprise} 不在登记信息中或不在范围内", err=True)
                raise typer.Exit(1)
        elif overrides:
            result = service.simulate(wh, the_scope, policy, when, overrides)
        else:
            result = service.summary(wh, the_scope, policy, when)
    except service.NoFacts as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        wh.close()
    if as_json:
        _echo_json(result)
        return
    if enterprise:
        typer.echo(
            f"{pol.title}：{'符合' if result['eligible'] else '不符合'}  金额 {result['amount'] or 0:,.2f} 元"
        )
        for c in result["conditions"]:
            facts = "，".join(
                f"{f['title']}={f['value']}（{f['source_title']} 批次{f['batch']}）" for f in c["facts"]
            )
            typer.echo(f"  {'✓' if c['result'] else '✗'} {c['label']}：{facts}")
        typer.echo(f"  {result['change']['text']}")
    elif overrides:
        typer.echo(f"{pol.title} 试算 {overrides}（{result['day']}）")
        for r in result["by_county"]:
            typer.echo(
                f"  {r['county_code']}  符合 {r['eligible_before']}→{r['eligible_after']}"
                f"（+{r['entering']} −{r['leaving']}）  金额 {r['amount_before']:,.2f}→{r['amount_after']:,.2f} 元"  # noqa: E501
            )
        t = result["total"]
        typer.echo(
            f"  合计  符合 {t['eligible_before']:.0f}→{t['eligible_after']:.0f}  金额变化 {t['amount_change']:,.2f} 元"  # noqa: E501
        )
    else:
        typer.echo(f"{pol.title}（{pol.document}），{result['day']}，数据年度 {result['data_year']}")
        for r in result["by_county"]:
            typer.echo(
                f"  {r['county_code']}  企业 {r['enterprises']}  符合 {r['eligible']}  金额 {r['amount']:,.2f} 元"  # noqa: E501
            )
        typer.echo(f"  合计  符合 {result['eligible']}  金额 {result['amount']:,.2f} 元")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="policy")
