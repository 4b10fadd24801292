"""`jingxin evaluate-uncertainty`: the uncertainty analysis from the command line.

Part of `jingxin.evaluation.uncertainty` (see the package docstring)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jingxin.evaluation.cli_options import (
    JsonOpt,
    ScopeOpt,
    WarehouseOpt,
    _open,
    _print_json,
    _scope,
    console,
)
from jingxin.evaluation.config import (
    ConfigError,
)
from jingxin.evaluation.uncertainty.analysis import RunKey, _records, analyse
from jingxin.evaluation.uncertainty.methods import DEFAULT_DRAWS, DEFAULT_SPREAD, DEFAULT_THRESHOLD


def uncertainty_command(
    year: Annotated[int | None, typer.Option("--year", help="数据年度，如 2021")] = None,
    system: Annotated[
        str | None, typer.Option("--system", help="评价体系，如 zhejiang_industry_above")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="评价批次编号（代替 --year/--system）")] = None,
    scope: ScopeOpt = None,
    draws: Annotated[int, typer.Option("--draws", help="抽样次数")] = DEFAULT_DRAWS,
    spread: Annotated[float, typer.Option("--spread", help="权重扰动幅度，0.2 即 ±20%")] = DEFAULT_SPREAD,
    seed: Annotated[int, typer.Option("--seed", help="随机种子")] = 0,
    threshold: Annotated[
        float, typer.Option("--threshold", help="稳健阈值：保持原分类的概率不低于此值")
    ] = DEFAULT_THRESHOLD,
    method: Annotated[
        list[str] | None,
        typer.Option("--method", help="计分方法备选及概率，可重复，如 nominal=0.5 --method minmax=0.25"),
    ] = None,
    renormalise: Annotated[
        bool, typer.Option("--renormalise/--no-renormalise", help="扰动后的权重是否归一到原权重和")
    ] = True,
    live: Annotated[bool, typer.Option("--live", help="不用已保存批次，按现行数据重新评价")] = False,
    store: Annotated[bool, typer.Option("--store", help="结果写入 eval_uncertainty 表")] = False,
    systems_dir: Annotated[Path | None, typer.Option("--systems-dir", help="额外的评价体系目录")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """亩均评价不确定性分析：权重与计分方法蒙特卡洛抽样，给出各企业分类的稳健性。"""
    if run is None and (year is None or system is None):
        raise typer.BadParameter("请给出 --run，或同时给出 --year 与 --system")
    key: RunKey = run if run is not None else (int(year), str(system), _scope(scope))  # type: ignore[arg-type]
    wh = _open(warehouse)
    try:
        result = analyse(
            wh,
            key,
            draws=draws,
            weight_spread=spread,
            methods=method or None,
            seed=seed,
            threshold=threshold,
            renormalise=renormalise,
            prefer_run=not live,
            store=store,
            systems_dir=systems_dir,
        )
    except (KeyError, ValueError, ConfigError) as exc:
        console.print(f"[red]{exc.args[0] if exc.args else exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        wh.close()
    if as_json:
        _print_json(result.summary())
        return
    where = f"批次 {result.run_id}" if result.run_id else "现行数据"
    table = Table(title=f"{result.year}年度{result.title} 不确定性分析（{where}，{result.draws} 次抽样）")
    for col in ("分类", "类别名称", "企业数", "不稳健", "占比", "平均保持概率"):
        table.add_column(col, justify="right" if col not in ("分类", "类别名称") else "left")
    for row in _records(result.by_class):
        share = row["not_robust_share"]
        mean = row["mean_p_nominal"]
        table.add_row(
            row["class"],
            row["label"],
            str(row["enterprises"]),
            str(row["not_robust"]),
            "—" if share is None else f"{share:.1%}",
            "—" if mean is None else f"{mean:.2f}",
        )
    console.print(table)
    counties = result.by_county[result.by_county["not_robust"] > 0]
    if len(counties):
        top = counties.sort_values(["not_robust", "county_code"], ascending=[False, True]).head(10)
        by_county = Table(title="不稳健企业最多的县（市、区）")
        for col in ("区划代码", "名称", "参评企业", "不稳健", "占比"):
            by_county.add_column(col, justify="right" if col in ("参评企业", "不稳健", "占比") else "left")
        for row in _records(top):
            by_county.add_row(
                str(row["county_code"]),
                row["county_name"],
                str(row["enterprises"]),
                str(row["not_robust"]),
                f"{row['not_robust_share']:.1%}",
            )
        console.print(by_county)
    methods = "；".join(f"{m['description']} {m['probability']:.0%}" for m in result.methods)
    norm = "归一" if result.renormalise else "不归一"
    console.print(
        f"权重扰动 ±{result.spread:.0%}（{norm}），计分方法：{methods}。"
        f"保持原分类概率低于 {result.threshold:.0%} 为不稳健：共 {result.not_robust} 家 / "
        f"{len(result.enterprises)} 家；用时 {result.seconds.get('total', 0):.1f} 秒。"
    )
    if result.nominal_mismatches:
        console.print(f"[red]注意：{result.nominal_mismatches} 家企业的复算名义分类与评价结果不一致[/red]")
    if store and result.run_id:
        console.print(f"已写入 eval_uncertainty（批次 {result.run_id}）")
