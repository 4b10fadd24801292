"""Commands of ingestion (数据归集): `ingest`, `ingest-dir`, `batches`, `batch`.

Exit codes: 0 done (rows may still have been rejected: see the batch); 1 a batch or source
not found; 2 a file refused whole (整份退回); 3 the warehouse is busy (another writer).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jingxin.core.jobs import client as jobs_client
from jingxin.core.warehouse import Warehouse, WarehouseBusyError, WarehouseError, open_warehouse
from jingxin.ingest import batches as registry
from jingxin.ingest.directory import DirectoryOutcome, PlannedFile, ingest_directory, plan_directory
from jingxin.ingest.errors import IngestError
from jingxin.ingest.service import BatchResult, ingest_file

EXIT_NOT_FOUND = 1
EXIT_REFUSED = 2
EXIT_BUSY = 3
SHOWN_ERRORS = 20

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="以 JSON 输出（供脚本使用）")]


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _fail(message: str, code: int, as_json: bool) -> NoReturn:
    if as_json:
        _print_json({"error": message})
    else:
        err.print(f"[bold red]错误：[/]{message}")
    raise typer.Exit(code)


@contextmanager
def _warehouse(as_json: bool) -> Iterator[Warehouse]:
    """The warehouse from settings (JINGXIN_WAREHOUSE); a busy DuckDB file is a message,
    not a traceback."""
    from jingxin.core.settings import get_settings

    try:
        wh = open_warehouse(get_settings().warehouse_url)
    except WarehouseBusyError as exc:
        _fail(str(exc), EXIT_BUSY, as_json)
    except WarehouseError as exc:
        _fail(str(exc), EXIT_NOT_FOUND, as_json)
    try:
        yield wh
    finally:
        wh.close()


def _on_server(server: str, files: list[tuple[str, Path, str | None]], as_json: bool) -> dict[str, Any]:
    """Hand the files to the running server as one `ingest` job (the server owns the
    warehouse) and follow it; a refused or failed job ends the command as it would locally."""
    try:
        job = jobs_client.run_on_server(
            server,
            "ingest",
            jobs_client.ingest_params([(src, period) for src, _, period in files]),
            [path for _, path, _ in files],
            quiet=as_json,
        )
    except jobs_client.HandOffError as exc:
        _fail(str(exc), EXIT_NOT_FOUND, as_json)
    if job["status"] != "succeeded":
        refused = "整份退回" in (job["error"] or "")
        _fail(f"作业 {job['id']} 失败：{job['error']}", EXIT_REFUSED if refused else EXIT_NOT_FOUND, as_json)
    return job


def _short(digest: str | None) -> str:
    return (digest or "")[:12]


def _result_table(result: BatchResult) -> Table:
    table = Table(show_header=False, box=None)
    rows = [
        ("批次", str(result.batch_id)),
        ("数据源", result.source),
        ("期间", result.period),
        ("文件", result.file_name),
        ("内容哈希", _short(result.content_hash)),
        ("数据行", str(result.row_count)),
        ("接收", f"[green]{result.accepted}[/]"),
        ("退回", f"[red]{result.rejected}[/]" if result.rejected else "0"),
    ]
    if result.supersedes:
        rows.append(("替代批次", str(result.supersedes)))
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", value)
    return table


def _errors_table(rows: list[dict[str, Any]], limit: int | None = None) -> Table:
    table = Table("行号", "列", "值", "原因", show_lines=False)
    for row in rows[:limit] if limit else rows:
        table.add_row(str(row["row_number"]), row["column_name"] or "整行", row["value"] or "", row["reason"])
    return table


def ingest_command(
    source: Annotated[
        str, typer.Argument(help="数据源，如 tax、registry、power（见 docs/data-exchange.md）")
    ],
    file: Annotated[Path, typer.Argument(help="部门报送的文件（.xlsx 或 .csv）")],
    period: Annotated[str | None, typer.Option("--period", help="批次期间（登记类数据默认 current）")] = None,
    as_json: JsonOption = False,
) -> None:
    """归集一个部门文件：校验、隔离问题行，并作为一个批次入库。服务运行时交给服务执行。"""
    server = jobs_client.running_server()
    if server is not None:
        done = _on_server(server, [(source, file, period)], as_json)
        batch = done["result"]["batches"][0]
        result = BatchResult(**{**batch, "loaded_at": dt.datetime.fromisoformat(batch["loaded_at"])})
        problems = []
    else:
        with _warehouse(as_json) as wh:
            try:
                result = ingest_file(wh, source, file, loaded_by="cli", period=period)
            except IngestError as exc:
                _fail(f"文件被整份退回，未入库任何数据。{exc}", EXIT_REFUSED, as_json)
            problems = _first_problems(wh, result.batch_id) if result.rejected and not as_json else []
    if as_json:
        _print_json(result.to_dict())
        return
    if result.duplicate:
        out.print(
            f"[yellow]该文件已于 {result.loaded_at} 入库为批次 {result.batch_id}，内容相同，未重复入库。[/]"
        )
    out.print(_result_table(result))
    for note in result.notes:
        out.print(f"[dim]· {note}[/]")
    for skipped in result.skipped:
        out.print(
            f"[dim]· 第{skipped['row_number']}行为{skipped['kind']}（{skipped['text']}），未作为数据[/]"
        )
    if problems:
        out.print(_errors_table(problems, SHOWN_ERRORS))
        if result.errors > len(problems):
            out.print(f"……共 {result.errors} 个问题。")
        out.print(f"导出全部问题行：jingxin batch {result.batch_id} --rejected-csv 问题行.csv")
    elif result.rejected and server is not None:
        out.print(f"问题行见网页 /data/batches/{result.batch_id}")


def ingest_dir_command(
    folder: Annotated[Path, typer.Argument(help="文件夹（如 jingxin synth 生成的省份数据）")],
    as_json: JsonOption = False,
) -> None:
    """按依赖顺序归集一个文件夹中的全部文件（有 manifest.json 时按其登记的数据源）。"""
    try:
        planned = plan_directory(folder)
    except IngestError as exc:
        _fail(str(exc), EXIT_REFUSED, as_json)
    server = jobs_client.running_server()
    if server is not None:
        outcomes = _outcomes_on_server(server, planned, as_json)
    else:
        outcomes = _ingest_here(folder, planned, as_json)
    refused = [o for o in outcomes if o.error]
    if as_json:
        _print_json([o.to_dict() for o in outcomes])
    else:
        table = Table("数据源", "文件", "批次", "期间", "数据行", "接收", "退回", "说明")
        for o in outcomes:
            r = o.result
            if r is None:
                table.add_row(
                    o.planned.source,
                    o.planned.path.name,
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    f"[red]整份退回：{o.error}[/]",
                )
            else:
                note = (
                    "重复提交，未重复入库"
                    if r.duplicate
                    else (f"替代批次 {r.supersedes}" if r.supersedes else "")
                )
                table.add_row(
                    r.source,
                    r.file_name,
                    str(r.batch_id),
                    r.period,
                    str(r.row_count),
                    str(r.accepted),
                    str(r.rejected),
                    note,
                )
        out.print(table)
    if refused:
        if not as_json:
            err.print(f"[bold red]{len(refused)} 个文件被整份退回。[/]")
        raise typer.Exit(EXIT_REFUSED)


def _ingest_here(folder: Path, planned: list[PlannedFile], as_json: bool) -> list[DirectoryOutcome]:
    with _warehouse(as_json) as wh:
        if as_json:
            return ingest_directory(wh, folder)
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
        ) as progress:
            task = progress.add_task("归集中", total=len(planned))

            def step(p: PlannedFile, outcome: DirectoryOutcome) -> None:
                progress.update(task, advance=1, description=f"{p.source}: {p.path.name}")

            return ingest_directory(wh, folder, on_file=step)


def _outcomes_on_server(server: str, planned: list[PlannedFile], as_json: bool) -> list[DirectoryOutcome]:
    """The folder as one `ingest` job of the running server, answered in the shape of a local
    run (one outcome per planned file)."""
    done = _on_server(server, [(p.source, p.path, p.period) for p in planned], as_json)
    batches = {b["file_name"]: b for b in done["result"]["batches"]}
    errors = {r["file_name"]: r["error"] for r in done["result"]["refused"]}
    outcomes = []
    for p in planned:
        b = batches.get(p.path.name)
        result = BatchResult(**{**b, "loaded_at": dt.datetime.fromisoformat(b["loaded_at"])}) if b else None
        outcomes.append(DirectoryOutcome(p, result, errors.get(p.path.name)))
    return outcomes


def batches_command(
    source: Annotated[str | None, typer.Option("--source", help="只列出该数据源的批次")] = None,
    as_json: JsonOption = False,
) -> None:
    """列出已入库的批次（最新在前）。"""
    with _warehouse(as_json) as wh:
        rows = registry.list_batches(wh, source)
    if as_json:
        _print_json(rows)
        return
    table = Table("批次", "数据源", "期间", "文件", "哈希", "数据行", "接收", "退回", "被替代", "入库时间")
    for b in rows:
        table.add_row(
            str(b["batch_id"]),
            b["source"],
            b["period"],
            b["file_name"],
            _short(b["content_hash"]),
            str(b["row_count"]),
            str(b["accepted"]),
            str(b["rejected"]),
            str(b["superseded_by"]) if b["superseded_by"] is not None else "",
            str(b["loaded_at"]),
        )
    out.print(table)


def batch_command(
    batch_id: Annotated[int, typer.Argument(help="批次号")],
    as_json: JsonOption = False,
    rejected_csv: Annotated[
        Path | None,
        typer.Option("--rejected-csv", help="把问题行导出为 CSV（UTF-8 带 BOM，可直接用 Excel 打开）"),
    ] = None,
) -> None:
    """查看一个批次及其退回的问题行。"""
    with _warehouse(as_json) as wh:
        batch = registry.get_batch(wh, batch_id)
        if batch is None:
            _fail(f"没有批次 {batch_id}。用 jingxin batches 查看已有批次。", EXIT_NOT_FOUND, as_json)
        problems = registry.rejected_rows(wh, batch_id) if as_json else _first_problems(wh, batch_id, 100)
        exported = 0
        if rejected_csv is not None:
            exported = write_rejected_csv(registry.rejected_pages(wh, batch_id), rejected_csv)
    if as_json:
        _print_json({**batch, "rejected_rows": problems})
        return
    out.print(_result_table(BatchResult.from_row(batch)))
    if batch["superseded_by"] is not None:
        out.print(f"[yellow]该批次已被批次 {batch['superseded_by']} 替代（更正），不再计入现行数据。[/]")
    if problems:
        out.print(_errors_table(problems, 100))
    if rejected_csv is not None:
        out.print(f"已导出 {exported} 个问题到 {rejected_csv}")


def _first_problems(wh: Warehouse, batch_id: int, shown: int = SHOWN_ERRORS) -> list[dict[str, Any]]:
    """The first page of a batch's problems: enough for the table shown."""
    return next(registry.rejected_pages(wh, batch_id, page_rows=shown), [])


TEXT_COLUMNS = ("column_name", "value", "reason", "raw")


def write_rejected_csv(pages: Iterable[list[dict[str, Any]]], path: Path) -> int:
    """Problems as a CSV a liaison opens in Excel (UTF-8 with BOM): 行号, 列, 值, 原因, 原始行,
    written page by page, cells that Excel would run as formulas escaped. Returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["行号", "列", "值", "原因", "原始行"])
        for rows in pages:
            count += len(rows)
            writer.writerows(
                [r["row_number"], *(registry.safe_cell(r[k]) for k in TEXT_COLUMNS)] for r in rows
            )
    return count


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.command("ingest-dir")(ingest_dir_command)
    app.command("batches")(batches_command)
    app.command("batch")(batch_command)
