"""Commands of the projects scenario (工业投资与项目):

jingxin projects progress --month 2021-06 [--county 330102] [--json] [--xlsx 月报表.xlsx]
jingxin projects effect [--json]                       the DiD estimate of the 技改 effect
jingxin projects evaluate --manifest out/ [--json]     against the generated truth
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from jingxin.core.scope import Scope

group = typer.Typer(help="工业投资与项目：目标完成情况、月报表、技改成效。", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
WarehouseOpt = Annotated[str | None, typer.Option("--warehouse", help="数据仓库地址（默认取配置）")]
CountyOpt = Annotated[str | None, typer.Option("--county", help="区县（或市）代码，如 330102；默认全省")]


def scope_of(code: str | None) -> Scope:
    if not code or code == "330000":
        return Scope()
    from jingxin.reference import division

    try:
        division(code)
    except (KeyError, ValueError):
        raise typer.BadParameter(
            f"未知区划代码 {code}（应为6位行政区划代码，如 330102）", param_hint="--county"
        ) from None
    return Scope(division=code)


def _wh(warehouse: str | None) -> Any:
    from jingxin.core.warehouse import WarehouseError, open_warehouse

    try:
        return open_warehouse(warehouse)
    except WarehouseError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from None


@group.command("progress")
def progress_command(
    month: Annotated[str, typer.Option("--month", help="月份，如 2021-06")],
    county: CountyOpt = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="同时写出月报表 Excel")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Targets against actuals by county for a month, with the year-end forecast."""
    from jingxin.projects.export import write_monthly_table
    from jingxin.projects.facts import ProjectsError
    from jingxin.projects.progress import county_progress

    wh = _wh(warehouse)
    try:
        result = county_progress(wh, month, scope_of(county))
    except ProjectsError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from None
    if xlsx:
        write_monthly_table(result, xlsx)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        return
    t = result.province
    typer.echo(
        f"{result.year}年1—{int(month[5:])}月：累计工业投资 {t['investment']:,.0f} 万元，"
        f"增速 {t['investment_growth']}%；"
        f"技改开工 {t['tech_projects']}/{t['tech_projects_target']}，"
        f"投产 {t['tech_completed']}/{t['tech_completed_target']}，"
        f"招引签约 {t['attracted_projects']}/{t['attracted_projects_target']}"
    )
    for r in sorted(result.rows, key=lambda r: (r.get("rank") or 9999, r["county_code"])):
        growth = r["investment_growth"] if r["investment_growth"] is not None else "—"
        typer.echo(
            f"{r.get('rank') or '—':>4} {r['county_code']} {r['county']:<6} "
            f"投资 {r['investment']:>12,.2f} 增速 {growth:>7} "
            f"技改开工 {r['tech_projects']}/{r['tech_projects_target']} "
            f"投产 {r['tech_completed']}/{r['tech_completed_target']} "
            f"招引 {r['attracted_projects']}/{r['attracted_projects_target']} {r['status']}"
        )
    if xlsx:
        typer.echo(f"已写出 {xlsx}")


@group.command("effect")
def effect_command(
    county: CountyOpt = None, warehouse: WarehouseOpt = None, as_json: JsonOpt = False
) -> None:
    """Difference-in-differences estimate of the 技改 effect on 亩均 output, pooled and by type."""
    from jingxin.projects.did import estimate
    from jingxin.projects.facts import ProjectsError

    try:
        result = estimate(_wh(warehouse), scope_of(county)).to_dict()
    except ProjectsError as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    for e in [result["pooled"], *result["by_type"]]:
        typer.echo(
            f"{e['label']:<8} {e['effect_pct']:>7}%  [{e['low_pct']}%, {e['high_pct']}%]  "
            f"处理企业 {e['treated']}"
        )


@group.command("evaluate")
def evaluate_command(
    manifest: Annotated[Path, typer.Option("--manifest", help="生成目录或 manifest.json")],
    month: Annotated[str, typer.Option("--month", help="对比的月份")] = "2021-06",
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure the scenario against the generated truth: investment, DiD, screening."""
    from jingxin.projects.truth import evaluate

    try:
        out = evaluate(_wh(warehouse), manifest, month)
    except (OSError, KeyError, ValueError) as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(out, ensure_ascii=False, indent=None if not as_json else 1))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="projects")
