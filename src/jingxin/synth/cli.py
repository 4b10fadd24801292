"""`jingxin generate`: write a synthetic province's department files (生成合成省份数据)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jingxin.synth.generator import generate_province, parse_years, plan_jobs
from jingxin.synth.habits import XLSX_MAX_ROWS
from jingxin.synth.manifest import MANIFEST_FILE, FileEntry, Manifest


def _summary(manifest: Manifest, out_dir: Path, seconds: float) -> dict[str, object]:
    return {
        "out_dir": str(out_dir),
        "manifest": str(out_dir / MANIFEST_FILE),
        "seconds": round(seconds, 2),
        "totals": manifest.totals,
        "files": [
            {
                "file": f.file,
                "source": f.source,
                "period": f.period,
                "format": f.format,
                "encoding": f.encoding,
                "rows": f.rows,
                "defects": len(f.defects),
                "units": {h: u for h, u in f.units.items() if u},
                "switched_from": f.switched_from,
            }
            for f in manifest.files
        ],
    }


def _table(manifest: Manifest) -> Table:
    table = Table(title="已生成文件")
    for label in ("文件", "部门", "期间", "格式", "编码", "数据行", "缺陷行"):
        table.add_column(label, justify="right" if label in ("数据行", "缺陷行") else "left")
    for f in manifest.files:
        table.add_row(
            f.file,
            f.department,
            f.period or "—",
            f.format,
            f.encoding or "—",
            f"{f.rows:,}",
            f"{len(f.defects):,}",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the `generate` command to the main CLI."""

    @app.command("generate")
    def generate(
        out_dir: Annotated[Path, typer.Argument(help="输出目录（写入各部门文件与 manifest.json）")],
        enterprises: Annotated[int, typer.Option("--enterprises", "-n", min=1, help="企业数")] = 10_000,
        years: Annotated[str, typer.Option("--years", help="年份范围，如 2019-2021")] = "2019-2021",
        seed: Annotated[int, typer.Option("--seed", help="随机种子（相同种子生成相同文件）")] = 1,
        defects: Annotated[
            float, typer.Option("--defects", min=0.0, max=0.3, help="每个文件缺陷行占比")
        ] = 0.02,
        daily_days: Annotated[
            int, typer.Option("--daily-days", min=1, help="日用电量天数（截至春节复工结束）")
        ] = 90,
        annual_only: Annotated[
            bool, typer.Option("--annual-only", help="只生成年度文件（跳过月度、日度、发票）")
        ] = False,
        xlsx_max_rows: Annotated[
            int, typer.Option("--xlsx-max-rows", min=1, help="超过此行数的 Excel 文件改写为 CSV")
        ] = XLSX_MAX_ROWS,
        stable_years: Annotated[
            bool,
            typer.Option("--stable-years", help="各年无真实变化（零增长、无事件），用于检验评价的年际稳定性"),
        ] = False,
        risk: Annotated[
            bool,
            typer.Option(
                "--risk",
                help="同时生成企业风险数据源（参保、纳税欠税、水电费、信贷、诉讼执行、担保）及出险真值",
            ),
        ] = False,
        projects: Annotated[
            bool,
            typer.Option(
                "--projects",
                help="同时生成工业投资项目库、项目月度进展、培育库企业指标及其真值（技改效果、达标企业）",
            ),
        ] = False,
        chains: Annotated[
            bool,
            typer.Option("--chains", help="发票流向按十大产业链环节生成（含本地配套率等真值）"),
        ] = False,
        places: Annotated[
            bool,
            typer.Option("--places", help="同时生成县（市、区）年度指标和小微企业园运营报告及其真值"),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出结果")] = False,
    ) -> None:
        """生成合成省份数据：各部门按各自习惯报送的文件，互相一致，含可控缺陷与清单。"""
        try:
            year_tuple = parse_years(years)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--years") from None
        console = Console(stderr=True)
        # files, then population, accounts and the manifest; --places writes two files a year
        steps = len(plan_jobs(year_tuple, annual_only, risk, projects)) + 3
        steps += 2 * len(year_tuple) if places else 0
        started = time.perf_counter()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=as_json,
        ) as bar:
            task = bar.add_task("生成企业名录", total=steps)

            def advance(step: str, entry: FileEntry | None) -> None:
                bar.update(task, advance=1, description=f"已写 {step}" if entry else f"完成 {step}")

            try:
                manifest = generate_province(
                    out_dir,
                    enterprises,
                    year_tuple,
                    seed,
                    defects,
                    daily_days=daily_days,
                    annual_only=annual_only,
                    xlsx_max_rows=xlsx_max_rows,
                    stable_years=stable_years,
                    risk=risk,
                    projects=projects,
                    chains=chains,
                    places=places,
                    progress=advance,
                )
            except ValueError as exc:
                console.print(f"[red]参数错误：{exc}[/red]")
                raise typer.Exit(code=2) from None
        summary = _summary(manifest, out_dir, time.perf_counter() - started)
        if as_json:
            typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
            return
        Console().print(_table(manifest))
        totals = manifest.totals
        typer.echo(
            f"企业 {totals['enterprises']:,} 户（规上 {totals['above_scale']:,}），"
            f"{len(manifest.files)} 个文件，用时 {summary['seconds']} 秒；清单：{summary['manifest']}"
        )
