"""Commands of cultivation (梯队培育):

jingxin cultivation screen --ladder champion [--year 2021] [--county 330102] [--json]
jingxin cultivation trace CREDIT_CODE [--ladder champion] [--json]
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from jingxin.projects.cli import CountyOpt, JsonOpt, WarehouseOpt, _wh, scope_of

group = typer.Typer(help="梯队培育：筛选、逐项条件与差距。", no_args_is_help=True)
LadderOpt = Annotated[str, typer.Option("--ladder", help="梯队：champion、eagle、chain_leader、factory")]
YearOpt = Annotated[int | None, typer.Option("--year", help="数据年度；默认最新")]


def _screening(warehouse: str | None, year: int | None, county: str | None, ladder: str):  # type: ignore[no-untyped-def]
    from jingxin.cultivation.config import load_ladders
    from jingxin.cultivation.screen import ScreeningError, screen, years

    cfg = load_ladders()
    if ladder not in cfg.ladders:
        raise typer.BadParameter(
            f"未知梯队 {ladder}（可选：{'、'.join(cfg.ladders)}）", param_hint="--ladder"
        )
    wh = _wh(warehouse)
    held = years(wh)
    if not held:
        typer.echo("错误：仓库中还没有培育库企业指标（cultivation-profile）", err=True)
        raise typer.Exit(2)
    try:
        return screen(wh, year or held[-1], scope_of(county), cfg)
    except ScreeningError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from None


@group.command("screen")
def screen_command(
    ladder: LadderOpt = "champion",
    year: YearOpt = None,
    county: CountyOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Screen every enterprise against one ladder: qualifying per rung, counts by county."""
    from jingxin.cultivation.screen import by_county, ladder_table

    s = _screening(warehouse, year, county, ladder)
    table = ladder_table(s, ladder)
    rungs = s.config.ladders[ladder].rungs
    out = {
        "year": s.year,
        "ladder": ladder,
        "screened": len(table),
        "rungs": {
            r.id: {"label": r.label, "count": int(s.table[r.id].sum()), "credit_codes": s.qualifying(r.id)}
            for r in rungs
        },
        "by_county": by_county(s, ladder),
        "one_short": table[(table["next_failing"] == 1)][["credit_code", "next"]].to_dict("records"),
    }
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    typer.echo(f"{s.year}年 {s.config.ladders[ladder].label}：筛选企业 {len(table)} 家")
    for r in rungs:
        typer.echo(f"  {r.label}：{out['rungs'][r.id]['count']} 家")
    typer.echo(f"  差一项达到下一梯队：{len(out['one_short'])} 家")


@group.command("trace")
def trace_command(
    credit_code: str,
    ladder: LadderOpt = "champion",
    year: YearOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One enterprise's criteria on a ladder, each with its value, threshold and gap."""
    from jingxin.cultivation.screen import ladder_position

    s = _screening(warehouse, year, None, ladder)
    rows = s.table[s.table["credit_code"] == credit_code]
    if rows.empty:
        typer.echo(f"错误：{s.year} 年培育库指标中没有企业 {credit_code}", err=True)
        raise typer.Exit(2)
    pos = ladder_position(s, ladder, rows.iloc[0])
    if as_json:
        typer.echo(json.dumps(pos, ensure_ascii=False, indent=1, default=str))
        return
    current = pos["current"]["label"] if pos["current"] else "—"
    following = pos["next"]["label"] if pos["next"] else "—"
    typer.echo(f"{pos['name']}：已达 {current}；下一梯队 {following}")
    for g in pos["gaps"]:
        typer.echo(f"  未达：{g['label']}（企业 {g.get('value')}，差 {g.get('gap')}）")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="cultivation")
