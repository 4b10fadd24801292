"""Commands of the risk scenario (企业风险分级):

jingxin risk score --month 2021-06 [--county 330102] [--json]     grades of a month
jingxin risk cases --county 330102 [--from 2021-01-01 --to 2021-12-31] [--json]
jingxin risk evaluate --manifest out/ [--fit-month 2020-06] [--json]   against the generated truth
jingxin risk export --month 2021-06 --out 风险清单.xlsx [--county 330102]
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from jingxin.core.scope import Scope

group = typer.Typer(help="企业风险分级与一企一策：评分、清单、检验。", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
WarehouseOpt = Annotated[str | None, typer.Option("--warehouse", help="数据仓库地址（默认取配置）")]
CountyOpt = Annotated[str | None, typer.Option("--county", help="区县（或市）代码，如 330102；默认全省")]


def _scope(code: str | None) -> Scope:
    if not code or code == "330000":
        return Scope()
    from jingxin.reference import division

    try:
        division(code)
    except (KeyError, ValueError):
        raise typer.BadParameter(f"未知区划代码 {code}（应为6位行政区划代码，如 330102）") from None
    return Scope(division=code)


def _result(month: str, warehouse: str | None) -> Any:
    from jingxin.core.warehouse import WarehouseError, open_warehouse
    from jingxin.risk.service import RiskError, score_month

    try:
        wh = open_warehouse(warehouse)
        return score_month(wh, month)
    except (WarehouseError, RiskError) as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(2) from None


def _in_scope(result: Any, scope: Scope) -> Any:
    t = result.table
    keep = [
        scope.allows_enterprise(str(c), str(d))
        for c, d in zip(t["credit_code"], t["county_code"], strict=True)
    ]
    return t[keep]


@group.command("score")
def score_command(
    month: Annotated[str, typer.Option("--month", help="月份，如 2021-06")],
    county: CountyOpt = None,
    warehouse: WarehouseOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="列出的重点关注企业数")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Grade every enterprise of a month: rules, scorecard, contagion."""
    from jingxin.risk.config import GENERAL, KEY, NORMAL
    from jingxin.risk.service import explain, to_records

    scope = _scope(county)
    result = _result(month, warehouse)
    rows = _in_scope(result, scope)
    counts = {g: int((rows["grade"] == g).sum()) for g in (KEY, GENERAL, NORMAL)}
    if as_json:
        data = {
            "month": result.month,
            "counts": counts,
            "model": {
                "trained_on": result.model.trained_on,
                "train_rows": result.model.train_rows,
                "train_events": result.model.train_events,
            },
            "lineage": result.lineage,
            "enterprises": to_records(result, rows[rows["grade"] != NORMAL]),
        }
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    typer.echo(
        f"{result.month} 风险分级：重点关注 {counts[KEY]} 家，"
        f"一般关注 {counts[GENERAL]} 家，正常 {counts[NORMAL]} 家"
    )
    typer.echo(
        f"评分卡训练数据 {result.model.trained_on[0]} 至 {result.model.trained_on[1]}，"
        f"{result.model.train_rows} 行，出险 {result.model.train_events} 次"
    )
    key = rows[rows["grade"] == KEY].sort_values("score").head(limit)
    for _, r in key.iterrows():
        typer.echo(f"{r['credit_code']} {r['name']} 评分 {r['score']:.0f} {r['category'] or ''}")
        for reason in explain(r, result.config)[:4]:
            typer.echo(f"    {reason}")


@group.command("cases")
def cases_command(
    county: CountyOpt = None,
    start: Annotated[str | None, typer.Option("--from", help="起始日期，默认本年1月1日")] = None,
    end: Annotated[str | None, typer.Option("--to", help="截止日期，默认今天")] = None,
    as_json: JsonOpt = False,
) -> None:
    """一企一策 lists by county: entered, in progress, closed in the period."""
    from jingxin.core.db import Database, upgrade
    from jingxin.core.settings import get_settings
    from jingxin.risk.cases import case_lists

    try:
        lo = date.fromisoformat(start) if start else date(date.today().year, 1, 1)
        hi = date.fromisoformat(end) if end else date.today()
    except ValueError:
        raise typer.BadParameter("日期格式应为 YYYY-MM-DD，例如 2021-01-01") from None
    if hi < lo:
        raise typer.BadParameter(f"截止日期 {hi} 早于起始日期 {lo}")
    scope = _scope(county)
    url = get_settings().platform_database_url
    upgrade(url)
    database = Database(url)
    try:
        with database.session() as db:
            data = case_lists(db, scope, lo, hi)
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    typer.echo(f"一企一策清单 {lo} 至 {hi}")
    typer.echo(f"{'区县':<10}{'列入':>6}{'其中出险':>8}{'在办':>6}{'销号':>6}{'化解':>6}")
    for r in [*data["counties"], {"county": "合计", **data["total"]}]:
        typer.echo(
            f"{r['county']:<10}{r['entered']:>6}{r['entered_materialised']:>8}{r['in_progress']:>6}{r['closed']:>6}{r['resolved']:>6}"
        )


@group.command("evaluate")
def evaluate_command(
    manifest: Annotated[Path, typer.Option("--manifest", help="生成省份的目录或 manifest.json")],
    fit_month: Annotated[
        str, typer.Option("--fit-month", help="评分卡拟合月份（此后为样本外检验）")
    ] = "2020-06",
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure grades against the generator's truth (out of time)."""
    from jingxin.core.warehouse import open_warehouse
    from jingxin.risk.config import load_config
    from jingxin.risk.evaluate import evaluate

    path = manifest / "manifest.json" if manifest.is_dir() else manifest
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"无法读取 {path}：{exc}") from None
    if not truth.get("distress"):
        raise typer.BadParameter(f"{path} 没有 distress 真值（请用含风险数据源的生成器重新生成）")
    report = evaluate(open_warehouse(warehouse), truth, load_config(), fit_month)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str) if as_json else _summary(report))


def _summary(r: dict[str, Any]) -> str:
    lines = [f"样本外检验 {r['test_months'][0]} 至 {r['test_months'][1]}（评分卡拟合于 {r['fit_month']}）"]
    for name, label in (
        ("scorecard", "评分卡"),
        ("rules_only", "仅规则"),
        ("logistic_raw", "原始特征逻辑回归"),
    ):
        m = r["comparison"]["truth"][name]
        lines.append(f"  {label}: AUC {m['auc']:.3f}  KS {m['ks']:.3f}")
    return "\n".join(lines)


@group.command("export")
def export_command(
    month: Annotated[str, typer.Option("--month", help="月份，如 2021-06")],
    out: Annotated[Path, typer.Option("--out", help="输出的 Excel 文件")],
    county: CountyOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Excel lists of a month: graded enterprises, general-concern groups, common problems."""
    from jingxin.risk.cases import concentration, general_groups
    from jingxin.risk.export import write_lists

    result = _result(month, warehouse)
    rows = _in_scope(result, _scope(county))
    write_lists(result, out, general_groups(result), concentration(result), rows)
    typer.echo(f"已写出 {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="risk")
