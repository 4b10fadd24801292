"""Commands of the evaluation (亩均效益综合评价):

jingxin evaluate --year 2021 --system zhejiang_industry_above [--scope 331003] [--json]
jingxin export evaluation RUN_ID --format csv|xlsx OUT [--scope CODE]
jingxin evaluation systems | runs | show RUN_ID | explain RUN_ID CREDIT_CODE | load-input TABLE FILE
jingxin evaluation notice RUN_ID CREDIT_CODE OUT.pdf | notices RUN_ID --county CODE OUT.zip
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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


def evaluate_command(
    year: Annotated[int, typer.Option("--year", help="数据年度，如 2021")],
    system: Annotated[str, typer.Option("--system", help="评价体系，如 zhejiang_industry_above")],
    scope: ScopeOpt = None,
    history: Annotated[
        str,
        typer.Option("--history", help="上年结果来源：auto（已存批次优先，否则重算）、runs、evaluate、none"),
    ] = "auto",
    systems_dir: Annotated[Path | None, typer.Option("--systems-dir", help="额外的评价体系目录")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """亩均效益综合评价：计算并保存一个评价批次。"""
    from jingxin.evaluation.config import ConfigError, load_system
    from jingxin.evaluation.runs import run_evaluation

    if history not in ("auto", "runs", "evaluate", "none"):
        raise typer.BadParameter("--history 应为 auto、runs、evaluate 或 none")
    try:
        conf = load_system(system, systems_dir)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    server = _running_server(warehouse, systems_dir)
    if server is not None:
        summary = _evaluate_on_server(server, year, system, scope, history, as_json)
    else:
        wh = _open(warehouse)
        try:
            summary = run_evaluation(wh, conf, year, _scope(scope), history=history)  # type: ignore[arg-type]
        finally:
            wh.close()
    if as_json:
        _print_json(summary.to_dict())
        return
    labels = conf.classes
    table = Table(title=f"{year}年度{conf.title}（批次 {summary.run_id}）")
    table.add_column("分类")
    table.add_column("类别名称")
    table.add_column("企业数", justify="right")
    for cls, n in summary.class_counts.items():
        table.add_row(cls, labels.label(cls), str(n))
    console.print(table)
    console.print(
        f"参评企业 {summary.enterprise_count} 家（评价单元 {summary.unit_count} 个），"
        f"用时 {summary.seconds:.1f} 秒；配置指纹 {summary.config_hash[:12]}"
    )


def _running_server(warehouse: str | None, systems_dir: Path | None) -> str | None:
    """The running server to hand the evaluation to (it owns the configured warehouse), or
    None to run here: no server, or another warehouse or systems folder than the server's."""
    from jingxin.core.jobs.client import running_server
    from jingxin.core.settings import get_settings

    if systems_dir is not None or (warehouse and warehouse != get_settings().warehouse_url):
        return None
    return running_server()


def _evaluate_on_server(
    server: str, year: int, system: str, scope: str | None, history: str, as_json: bool
) -> Any:
    from jingxin.core.jobs.client import HandOffError, run_on_server
    from jingxin.evaluation.runs import RunSummary

    params = {"system": system, "year": year, "scope": scope, "history": history}
    try:
        job = run_on_server(server, "evaluation.run", params, quiet=as_json)
    except HandOffError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if job["status"] != "succeeded":
        console.print(f"[red]作业 {job['id']} 失败：{job['error']}[/red]")
        raise typer.Exit(1)
    return RunSummary(**job["result"])


def export_command(
    run_id: Annotated[str, typer.Argument(help="评价批次编号")],
    out: Annotated[Path, typer.Argument(help="输出文件")],
    fmt: Annotated[str, typer.Option("--format", help="csv 或 xlsx")] = "csv",
    scope: ScopeOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """导出评价结果（CSV 或县级公布格式的 Excel）。"""
    from jingxin.evaluation.export import export_evaluation

    if fmt not in ("csv", "xlsx"):
        raise typer.BadParameter("--format 应为 csv 或 xlsx")
    wh = _open(warehouse)
    try:
        path = export_evaluation(wh, run_id, out, fmt, _scope(scope))  # type: ignore[arg-type]
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(1) from exc
    finally:
        wh.close()
    if as_json:
        _print_json({"run_id": run_id, "format": fmt, "path": str(path)})
    else:
        console.print(f"已导出 {path}")


group = typer.Typer(help="亩均效益综合评价：评价体系、批次、解读、输入表。", no_args_is_help=True)


@group.command("systems")
def systems_command(
    systems_dir: Annotated[Path | None, typer.Option("--systems-dir")] = None, as_json: JsonOpt = False
) -> None:
    """列出可用的评价体系。"""
    from jingxin.evaluation.config import list_systems, load_system

    rows: list[dict[str, Any]] = []
    for name in list_systems(systems_dir):
        s = load_system(name, systems_dir)
        rows.append(
            {
                "id": s.id,
                "version": s.version,
                "title": s.title,
                "level": s.population.level,
                "method": s.scoring.method,
                "indicators": {i.id: i.weight for i in s.indicators},
                "overrides": sorted(s.overrides),
                "config_hash": s.config_hash,
            }
        )
    if as_json:
        _print_json(rows)
        return
    table = Table(title="评价体系")
    for col in ("编号", "名称", "计分方法", "指标（权重）", "区县覆盖"):
        table.add_column(col)
    for r in rows:
        inds = "、".join(f"{k}({v:g})" for k, v in r["indicators"].items())
        table.add_row(r["id"], r["title"], r["method"], inds, ",".join(r["overrides"]) or "—")
    console.print(table)


@group.command("runs")
def runs_command(
    year: Annotated[int | None, typer.Option("--year")] = None,
    system: Annotated[str | None, typer.Option("--system")] = None,
    scope: ScopeOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """列出已保存的评价批次。"""
    from jingxin.evaluation import service

    wh = _open(warehouse)
    try:
        rows = service.runs(wh, _scope(scope), system=system, year=year)
    finally:
        wh.close()
    if as_json:
        _print_json(rows)
        return
    table = Table(title="评价批次")
    for col in ("批次", "体系", "年度", "范围", "企业数", "时间"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["run_id"],
            r["title"],
            str(r["year"]),
            r["scope"],
            str(r["enterprise_count"]),
            str(r["created_at"])[:19],
        )
    console.print(table)


@group.command("explain")
def explain_command(
    run_id: Annotated[str, typer.Argument(help="评价批次编号")],
    credit_code: Annotated[str, typer.Argument(help="统一社会信用代码")],
    scope: ScopeOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """用通俗的语言解读一家企业的评价结果，并给出升一档的最小单项改进。"""
    from jingxin.evaluation.explain import explain

    wh = _open(warehouse)
    try:
        exp = explain(wh, run_id, credit_code, _scope(scope))
    finally:
        wh.close()
    if exp is None:
        console.print(f"[red]批次 {run_id} 中没有企业 {credit_code} 的结果[/red]")
        raise typer.Exit(1)
    if as_json:
        _print_json(exp.to_dict())
    else:
        typer.echo(exp.text)


@group.command("notice")
def notice_command(
    run_id: Annotated[str, typer.Argument(help="评价批次编号")],
    credit_code: Annotated[str, typer.Argument(help="统一社会信用代码")],
    out: Annotated[Path, typer.Argument(help="输出的 PDF 文件")],
    scope: ScopeOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """生成一家企业的评价结果告知书（PDF）。"""
    from jingxin.evaluation.notice import notice_pdf

    wh = _open(warehouse)
    try:
        body = notice_pdf(wh, run_id, credit_code, _scope(scope))
    except (KeyError, ValueError) as exc:
        console.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(1) from exc
    finally:
        wh.close()
    if body is None:
        console.print(f"[red]批次 {run_id} 中没有企业 {credit_code} 的结果[/red]")
        raise typer.Exit(1)
    out.write_bytes(body)
    if as_json:
        _print_json({"run_id": run_id, "credit_code": credit_code, "path": str(out), "bytes": len(body)})
    else:
        console.print(f"已生成 {out}")


@group.command("notices")
def notices_command(
    run_id: Annotated[str, typer.Argument(help="评价批次编号")],
    out: Annotated[Path, typer.Argument(help="输出的 zip 文件")],
    county: Annotated[str, typer.Option("--county", help="区县（或市）代码，如 331003")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """生成一个区县全部企业的评价结果告知书（PDF，打包为 zip）。"""
    from rich.progress import Progress

    from jingxin.evaluation.notice import render_county_notices

    _scope(county)  # refuses an unknown division code
    wh = _open(warehouse)
    try:
        with Progress(console=console, disable=as_json) as bar:
            task = bar.add_task("生成告知书", total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            n = render_county_notices(wh, run_id, county, out, progress=step)
    except (KeyError, ValueError) as exc:
        console.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(1) from exc
    finally:
        wh.close()
    if as_json:
        _print_json({"run_id": run_id, "county": county, "path": str(out), "notices": n})
    else:
        console.print(f"已生成 {n} 份告知书：{out}")


@group.command("load-input")
def load_input_command(
    table: Annotated[str, typer.Argument(help="sublets 或 vetoes")],
    file: Annotated[Path, typer.Argument(help="CSV 文件（UTF-8，首行为英文列名）")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """载入评价的可选输入表：转租户数、一票否决（园区名录与园区企业名单经 jingxin ingest 归集）。"""
    import pyarrow.csv as pacsv

    from jingxin.evaluation.population import INPUT_SCHEMAS
    from jingxin.evaluation.runs import load_inputs

    if table not in INPUT_SCHEMAS:
        raise typer.BadParameter(f"表名应为 {', '.join(INPUT_SCHEMAS)}")
    types = INPUT_SCHEMAS[table].to_pyarrow()
    data = pacsv.read_csv(file, convert_options=pacsv.ConvertOptions(column_types=types))
    wh = _open(warehouse)
    try:
        n = load_inputs(wh, table, data)
    finally:
        wh.close()
    if as_json:
        _print_json({"table": table, "rows": n})
    else:
        console.print(f"已载入 {table} {n} 行")


def _subgroup(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The Typer group `name` of `app`, created when no scenario has added it yet (several
    scenarios add commands under `jingxin export`)."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def register(app: typer.Typer) -> None:
    """Add `evaluate`, `export evaluation` and the `evaluation` group to the main CLI."""
    app.command("evaluate")(evaluate_command)
    _subgroup(app, "export", "导出数据与结果。").command("evaluation")(export_command)
    app.add_typer(group, name="evaluation")
    from jingxin.evaluation.uncertainty.cli import uncertainty_command

    app.command("evaluate-uncertainty")(uncertainty_command)
