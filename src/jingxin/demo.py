"""`jingxin demo`: a whole province from nothing to the web app in one command.

Generates the departments' files (parks and their members included, and the places: the
counties' yearly figures and the 小微企业园 reports), ingests them (with their defects
quarantined), evaluates every year with the shipped 亩均 systems (industry above and below the
size threshold, services, parks, and the 2021 plan's variant), creates one demo account per
role (and a liaison per department), and serves the web app. The county index (县域评价), the
小微企业园 ratings and the manufacturing parks' stars are computed from these when their pages
are opened. A second run reuses what the first one built unless `--fresh` is given; a demo
built before the places were part of it gets them added.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(highlight=False)

DEMO_SYSTEMS = (
    "zhejiang_industry_above",
    "zhejiang_industry_below",
    "zhejiang_services",
    "zhejiang_parks",
    "zhejiang_industry_2021plan",
)
DEMO_COUNTY = "330106"  # 西湖区: where the county analyst and the enterprise account sit


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _generate(folder: Path, enterprises: int, years: tuple[int, int], seed: int) -> None:
    from jingxin.synth.generator import generate_province, plan_jobs

    console.print(f"[bold]1/5 生成合成省份[/]：{enterprises:,} 户企业，{years[0]}–{years[1]} 年")
    year_tuple = tuple(range(years[0], years[1] + 1))
    with _progress() as bar:
        # the population, accounts and manifest steps, and two places files a year
        task = bar.add_task("生成", total=len(plan_jobs(year_tuple)) + 3 + 2 * len(year_tuple))

        def step(label: str, entry: object) -> None:
            bar.update(task, advance=1, description=f"生成 {label}")

        generate_province(folder, enterprises, year_tuple, seed, places=True, progress=step)


def _has_places(wh) -> bool:  # type: ignore[no-untyped-def]
    return bool(wh.has_table("county_stats") and wh.execute(wh.current("county_stats").count()) > 0)


def _add_places(wh, folder: Path, years: tuple[int, int], seed: int) -> None:  # type: ignore[no-untyped-def]
    """A demo generated before the places were part of it: write the county figures and park
    reports beside its files (recorded in its manifest) and ingest just those."""
    from jingxin.ingest.service import IngestError, ingest_file
    from jingxin.synth.manifest import Manifest
    from jingxin.synth.places import write_places

    manifest = Manifest.load(folder / "manifest.json")
    year_tuple = tuple(int(y) for y in manifest.parameters.get("years", range(years[0], years[1] + 1)))
    entries, truth = write_places(folder, year_tuple, int(manifest.parameters.get("seed", seed)))
    known = {f.file for f in manifest.files}
    manifest.files.extend(e for e in entries if e.file not in known)
    manifest.places = truth
    manifest.write(folder)
    console.print(f"    补充县域指标与小微企业园报告：{len(entries)} 个文件")
    for entry in entries:
        try:
            ingest_file(wh, entry.source, folder / entry.file, "demo")
        except IngestError as exc:
            console.print(f"    {entry.file}：{exc}")


def _ingest(wh, folder: Path) -> None:  # type: ignore[no-untyped-def]
    from jingxin.ingest.directory import ingest_directory, plan_directory

    plan = plan_directory(folder)
    console.print(f"[bold]2/5 归集部门文件[/]：{len(plan)} 个文件")
    accepted = rejected = 0
    with _progress() as bar:
        task = bar.add_task("入库", total=len(plan))

        def on_file(planned, outcome) -> None:  # type: ignore[no-untyped-def]
            nonlocal accepted, rejected
            if outcome.result is not None:
                accepted += outcome.result.accepted
                rejected += outcome.result.rejected
            bar.update(task, advance=1, description=f"入库 {planned.path.name}")

        ingest_directory(wh, folder, loaded_by="demo", on_file=on_file)
    console.print(f"    接收 {accepted:,} 行，退回 {rejected:,} 行（问题行及原因见“数据归集”页面）")


def _evaluate(wh, years: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    from jingxin.evaluation.runs import run_evaluation

    console.print("[bold]3/5 亩均效益综合评价[/]")
    for year in range(years[0], years[1] + 1):
        for system in DEMO_SYSTEMS:
            summary = run_evaluation(wh, system, year)
            classes = "，".join(f"{k} {v}" for k, v in summary.class_counts.items())
            # a park run classes parks (园区), each holding many enterprises
            counted = (
                f"{summary.unit_count:,} 个园区"
                if system == "zhejiang_parks"
                else f"{summary.enterprise_count:,} 家"
            )
            console.print(f"    {year}年 {summary.title}：{counted}（{classes}）")


def _nowcast(wh, year: int) -> None:  # type: ignore[no-untyped-def]
    """现时预测 of the last December for the province, 杭州 and 西湖区, as known on the 20th and
    on the 12th of January (so the page shows what the month's electricity and invoices moved)."""
    import datetime as dt

    from jingxin.nowcast.data import load_inputs
    from jingxin.nowcast.runs import run_failures, run_nowcast

    inputs = load_inputs(wh)
    if inputs.official.empty:
        return
    codes = ["330000", "330100", DEMO_COUNTY]
    for when in (dt.date(year, 12, 20), dt.date(year + 1, 1, 12)):
        run_id = run_nowcast(wh, f"{year}-12", codes, as_of=when, inputs=inputs, created_by="demo")
    failed = run_failures(wh, run_id)
    note = f"（{'；'.join(failed)}）" if failed else ""
    console.print(f"    现时预测 {year}-12：{len(codes) - len(failed)} 个地区{note}")


def _demo_users(wh) -> None:  # type: ignore[no-untyped-def]
    from jingxin.accounts.demo import DEMO_PASSWORD, create_demo_users
    from jingxin.accounts.demo_bindings import demo_user_options
    from jingxin.core.db import Database, upgrade
    from jingxin.core.settings import get_settings

    console.print("[bold]4/5 演示账号[/]")
    url = get_settings().platform_database_url
    upgrade(url)
    database = Database(url)
    with database.session() as db:
        users = create_demo_users(db, **demo_user_options(wh))
        db.commit()
        for user in users:
            console.print(f"    {user.username:<14} {user.role_label:<10} 密码 {DEMO_PASSWORD}")
    database.dispose()


def demo(
    enterprises: Annotated[int, typer.Option(help="企业户数")] = 20_000,
    first_year: Annotated[int, typer.Option(help="起始年度")] = 2019,
    last_year: Annotated[int, typer.Option(help="截止年度")] = 2021,
    seed: Annotated[int, typer.Option(help="随机种子")] = 2021,
    fresh: Annotated[bool, typer.Option("--fresh", help="删除已有演示数据后重建")] = False,
    serve: Annotated[bool, typer.Option(" /--no-serve", help="完成后是否启动网页服务")] = True,
) -> None:
    """演示：生成一个省份、归集、评价，并启动网页服务。"""
    from jingxin.core.settings import get_settings
    from jingxin.core.warehouse import open_warehouse

    settings = get_settings()
    folder = settings.home / "demo" / "province"
    if fresh:
        shutil.rmtree(settings.home, ignore_errors=True)
    years = (first_year, last_year)
    if not (folder / "manifest.json").exists():
        _generate(folder, enterprises, years, seed)
    wh = open_warehouse(settings.warehouse_url)
    try:
        if wh.execute(wh.table("batches").count()) == 0:
            _ingest(wh, folder)
        if not _has_places(wh):
            _add_places(wh, folder, years, seed)
        if not wh.has_table("eval_runs") or wh.execute(wh.table("eval_runs").count()) == 0:
            _evaluate(wh, years)
        if not wh.has_table("nowcast_runs"):
            _nowcast(wh, last_year)
        _demo_users(wh)
    finally:
        wh.close()
    address = f"http://{settings.host}:{settings.port}/"
    console.print(f"[bold]5/5 网页服务[/]：{address}（演示账号见上，Ctrl+C 退出）")
    if serve:
        from jingxin.web.cli import serve as serve_command

        serve_command(host=None, port=None, reload=False, proxy_headers=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
