"""`jingxin parks …`: 小微企业园 performance evaluation and proposed stars from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from jingxin.places.cli import WarehouseOpt, _open, _scope

group = typer.Typer(help="小微企业园绩效评价与星级评定。", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]
ScopeOpt = Annotated[str | None, typer.Option("--scope", help="只显示该区划（市或县代码）；默认全省")]


def _config(path: Path | None) -> Any:
    from jingxin.parks.config import ParkConfigError, load_park_config

    try:
        return load_park_config(path)
    except ParkConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _rows(table: Any) -> list[dict[str, Any]]:
    out = []
    for pid, r in table.iterrows():
        d = {"park_id": pid}
        for k, v in r.items():
            d[str(k)] = v.item() if hasattr(v, "item") else v
        out.append(d)
    return out


@group.command("rate")
def rate_command(
    year: Annotated[int, typer.Option("--year", help="评价年度")],
    scope: ScopeOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="评价体系 YAML（默认内置）")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="同时导出 Excel 到此文件")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """评价小微企业园：维度得分、加分、档次（A/B/C/D）和建议星级，以及由哪一级评定。"""
    from jingxin.parks.export import parks_workbook
    from jingxin.parks.service import NoParkData, rated_parks, visible_parks

    cfg = _config(config)
    try:
        table = visible_parks(rated_parks(_open(warehouse), year, cfg), _scope(scope))
    except NoParkData as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if xlsx is not None:
        xlsx.write_bytes(parks_workbook(table, cfg, year))
    grades = table["grade"].value_counts().to_dict()
    stars = table["proposed_star"].value_counts().sort_index().to_dict()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "year": year,
                    "parks": len(table),
                    "grades": grades,
                    "stars": {str(k): int(v) for k, v in stars.items()},
                    "rows": _rows(table),
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            )
        )
        return
    typer.echo(
        f"{year} 年小微企业园 {len(table)} 个；档次 " + "，".join(f"{g} {grades.get(g, 0)}" for g in "ABCD")
    )
    typer.echo("建议星级 " + "，".join(f"{s}星 {stars.get(s, 0)}" for s in range(1, 6)))
    for pid, r in table.head(20).iterrows():
        typer.echo(
            f"  {pid}  {r['park_name']:<12} {r['total']:6.2f}  {r['grade']}  "
            f"{int(r['proposed_star'])}星 {r['reason']}"
        )


@group.command("check-truth")
def check_truth_command(
    folder: Annotated[Path, typer.Argument(help="生成数据目录（含 manifest.json）")],
    year: Annotated[int, typer.Option("--year", help="评价年度")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """对照生成真值：得分与园区潜在质量的秩相关；不符合认定条件的园区是否全部为D档。"""
    from jingxin.parks.service import rated_parks
    from jingxin.parks.truth import park_truth_measures

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if not manifest.get("places"):
        typer.echo("manifest.json 中没有 places 真值；请用 jingxin generate --places 生成", err=True)
        raise typer.Exit(2)
    data = park_truth_measures(rated_parks(_open(warehouse), year), manifest["places"], year)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    typer.echo(
        f"园区 {data['parks']} 个：得分与潜在质量 spearman {data['spearman']:.3f}；"
        f"不符合认定条件 {data['unrecognised']} 个，评为D档 {data['unrecognised_d']} 个"
    )


@group.command("manufacturing")
def manufacturing_command(
    year: Annotated[int, typer.Option("--year", help="评价年度")],
    scope: ScopeOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """制造业园区（经开区、高新区）高质量发展星级评价：以园区亩均评价为输入之一。"""
    from jingxin.parks.manufacturing import manufacturing_stars

    try:
        data = manufacturing_stars(_open(warehouse), year, _scope(scope))
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))
        return
    typer.echo(f"{year} 年制造业园区 {data['parks']} 个（亩均评价 {data['mu_run']}）")
    for r in data["rows"]:
        typer.echo(f"  {r['rank']:>3}  {r['park_name']:<14} {r['score']:6.2f}  {'★' * r['star'] or '—'}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="parks")
