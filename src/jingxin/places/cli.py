"""`jingxin index …`: the county index (制造业高质量发展评价) from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from jingxin.core.scope import Scope

group = typer.Typer(help="地方综合指数：县域制造业高质量发展评价、天工鼎、稳健性。", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
WarehouseOpt = Annotated[str | None, typer.Option("--warehouse", help="数据仓库地址（默认取配置）")]
ScopeOpt = Annotated[str | None, typer.Option("--scope", help="只显示该区划（市或县代码）；默认全省")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="评价配置 YAML（默认内置 county_quality）")]
INDEXES = ("county_quality",)


def _scope(code: str | None) -> Scope:
    if not code or code == "330000":
        return Scope()
    from jingxin.reference import division

    try:
        division(code)
    except (KeyError, ValueError):
        raise typer.BadParameter(f"未知区划代码 {code}（应为6位行政区划代码，如 330102）") from None
    return Scope(division=code)


def _open(url: str | None) -> Any:
    from jingxin.core.warehouse import WarehouseError, open_warehouse

    try:
        return open_warehouse(url)
    except WarehouseError as exc:
        typer.echo(f"无法打开仓库：{exc}", err=True)
        raise typer.Exit(2) from exc


def _config(path: Path | None) -> Any:
    from jingxin.places.config import ConfigError, load_county_config

    try:
        return load_county_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@group.command("compute")
def compute_command(
    year: Annotated[int, typer.Option("--year", help="评价年度")],
    index: Annotated[str, typer.Option("--index", help="指数：county_quality")] = "county_quality",
    scope: ScopeOpt = None,
    draws: Annotated[int | None, typer.Option("--draws", help="蒙特卡洛次数（默认取配置，1000）")] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """计算县域制造业高质量发展指数：各评价组得分、排名与排名区间、天工鼎。"""
    from jingxin.places.service import NoCountyData, county_index, summary_json

    if index not in INDEXES:
        raise typer.BadParameter(f"未知指数 {index}；可选 {', '.join(INDEXES)}", param_hint="--index")
    cfg = _config(config)
    wh = _open(warehouse)
    try:
        ci = county_index(wh, year, cfg, draws=draws)
    except NoCountyData as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    data = summary_json(ci, _scope(scope))
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    typer.echo(f"{cfg.name} {year} 年（方法指纹 {data['fingerprint'][:12]}）")
    for g in data["groups"]:
        typer.echo(f"\n【{g['name']}】{g['count']} 个，平均 {g['mean']:.2f}，天工鼎 {g['awards']} 个")
        if g["treated"]:
            typer.echo(
                "  异常值处理："
                + "；".join(
                    f"{t['name']} {t['label']}" + (f"{t['winsorised']}个点" if t["winsorised"] else "")
                    for t in g["treated"]
                )
            )
        for r in (r for r in data["rows"] if r["group"] == g["code"]):
            mark = " 天工鼎" if r["tiangongding"] else ""
            typer.echo(
                f"  {r['rank']:>3}  {r['name']:<8} {r['score']:6.2f}  "
                f"区间 {r['rank_low']}–{r['rank_high']}{mark}"
            )


@group.command("check-truth")
def check_truth_command(
    folder: Annotated[Path, typer.Argument(help="生成数据目录（含 manifest.json）")],
    year: Annotated[int, typer.Option("--year", help="评价年度")],
    draws: Annotated[int, typer.Option("--draws", help="蒙特卡洛次数")] = 200,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """对照生成真值：各评价组指数与潜在质量的秩相关、真值前N名的命中。"""
    from jingxin.places.truth import county_truth_measures

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if not manifest.get("places"):
        typer.echo("manifest.json 中没有 places 真值；请用 jingxin generate --places 生成", err=True)
        raise typer.Exit(2)
    from jingxin.places.service import county_index

    ci = county_index(_open(warehouse), year, draws=draws)
    data = county_truth_measures(ci, manifest["places"])
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    for g, m in data.items():
        typer.echo(
            f"{g}: spearman {m['spearman']:.3f}, 真值前{m['top_n']}名命中 {m['top_hit']}/{m['top_n']}, "
            f"真值名次落在排名区间内 {m['truth_in_interval']:.0%}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="index")
