"""Exports of a run (评价结果导出): CSV for machines, Excel as a county bureau publishes it.

CSV: snake_case columns, one row per enterprise, with `<indicator>_value` and `<indicator>_score`
per indicator; UTF-8 with a byte-order mark so that Excel opens the Chinese names correctly.

Excel (xlsxwriter): a summary sheet (汇总: the run, counts by class, per county), a sheet with
every enterprise (全部企业) and one sheet per class, each with a title row, Chinese headers,
frozen header rows and number formats.

Both treat data as data (`jingxin.core.spreadsheet`): text never becomes a formula, number or
link, codes are text cells. Both hold the rows a list shows (`ExportQuery`: scope, filters,
search, order) and only the figures the viewer may see (`jingxin.core.visibility`: withheld
columns are dropped, not masked).

Both stream: the ordered rows are read from the warehouse in pages (Arrow record batches of at
most `PAGE_ROWS` rows) and written as they come, CSV chunk by chunk and the workbook in
xlsxwriter's constant-memory mode (each sheet flushed row by row to a temporary file). An export
holds one page in memory, whatever the number of rows in the run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import ibis
import pandas as pd
import pyarrow as pa
import xlsxwriter

from jingxin.core.audit import CHINA_TZ
from jingxin.core.scope import EVERYTHING, Scope
from jingxin.core.spreadsheet import XLSX_OPTIONS, csv_cell, needs_quote_prefix
from jingxin.core.visibility import FULL, Visibility
from jingxin.core.warehouse import Warehouse
from jingxin.evaluation.config import System
from jingxin.evaluation.formula import parse_formula
from jingxin.evaluation.runs import load_run, run_system
from jingxin.evaluation.service import (
    ResultFilters,
    class_counts,
    division_table,
    filtered_results,
    park_results,
    sort_keys,
)

PAGE_ROWS = 5_000
"""Rows read from the warehouse per page while an export is written: the most rows an export
holds in memory at once (a few MB for the widest system), independent of the run's size."""


@dataclass(frozen=True)
class ExportQuery:
    """Which rows and figures an export holds: the list's filters, search and order (the
    rows on screen), and the viewer's visibility. The default is the whole run in scope."""

    filters: ResultFilters = field(default_factory=ResultFilters)
    text: str = ""
    sort: str | None = None
    visibility: Visibility = FULL
    described: tuple[tuple[str, str], ...] = ()
    """The filters in words for the summary sheet, e.g. (("分类", "A类"),)."""


BASE_COLUMNS: list[tuple[str, str, str]] = [
    # (column, Chinese header, Excel number format)
    ("credit_code", "统一社会信用代码", "@"),
    ("name", "企业名称", "@"),
    ("county_code", "区县代码", "@"),
    ("county_name", "所属区县", "@"),
    ("city_code", "设区市代码", "@"),
    ("industry_code", "行业代码", "@"),
    ("division_code", "行业大类", "@"),
    ("above_scale", "是否规上", "@"),
    ("unit_id", "合并评价单元", "@"),
    ("land_mu", "用地面积（亩）", "#,##0.00"),
]
TAIL_COLUMNS: list[tuple[str, str, str]] = [
    ("score", "指标得分合计", "0.00"),
    ("sublet_tenants", "转租户数", "0"),
    ("deduction", "扣分", "0.00"),
    ("total_score", "综合得分", "0.00"),
    ("rank_in_county", "县内排名", "0"),
    ("county_count", "县内参评数", "0"),
    ("rank_in_industry", "县内行业排名", "0"),
    ("industry_count", "县内同行业参评数", "0"),
    ("class", "分类", "@"),
    ("class_label", "类别名称", "@"),
    ("veto_reason", "一票否决原因", "@"),
    ("prev_score", "上年得分", "0.00"),
    ("prev_class", "上年分类", "@"),
    ("score_change", "得分变化", "0.00"),
    ("class_change", "类别变化（升为正）", "0"),
    ("consecutive_d_years", "连续D类年数", "0"),
    ("land_tax_relief_pct", "城镇土地使用税减免（%）", "0"),
    ("power_surcharge_yuan_per_kwh", "差别化电价加价（元/千瓦时）", "0.00"),
    ("energy_quota_change_pct", "用能指标调整（%）", "0"),
    ("priority_land", "用地优先", "@"),
    ("priority_funds", "资金优先", "@"),
]
PARK_COLUMNS: list[tuple[str, str, str]] = [
    ("park_id", "园区编号", "@"),
    ("park_name", "园区名称", "@"),
    ("kind", "园区类型", "@"),
    ("county_code", "区县代码", "@"),
    ("county_name", "所属区县", "@"),
    ("member_count", "企业数", "0"),
    ("land_mu", "用地面积（亩）", "#,##0.00"),
    ("tax_paid", "实缴税收（万元）", "#,##0.00"),
    ("value_added", "工业增加值（万元）", "#,##0.00"),
]
PARK_TAIL: list[tuple[str, str, str]] = [
    ("total_score", "综合得分", "0.00"),
    ("rank_in_province", "全省排名", "0"),
    ("rank_in_kind", "同类园区排名", "0"),
    ("class", "分类", "@"),
    ("class_label", "类别名称", "@"),
]


def indicator_columns(system: System) -> list[tuple[str, str, str]]:
    """Two columns per indicator: its value (with unit) and its score."""
    cols = []
    for ind in system.indicators:
        unit = f"（{ind.unit}）" if ind.unit else ""
        cols.append((f"{ind.id}_value", f"{ind.name}{unit}", "#,##0.0000" if ind.unit == "%" else "#,##0.00"))
        cols.append((f"{ind.id}_score", f"{ind.name}得分", "0.00"))
    return cols


def _indicator_inputs(system: System) -> dict[str, set[str]]:
    """Export column of an indicator's value or score → the input columns of its formula."""
    out: dict[str, set[str]] = {}
    for ind in system.indicators:
        inputs = parse_formula(ind.formula).columns
        out[f"{ind.id}_value"] = out[f"{ind.id}_score"] = inputs
    return out


@dataclass(frozen=True)
class ExportPlan:
    """The export query of a run, not yet read: `table` in export order, whose first columns
    are `cols` (then any column the order needs that the export does not show)."""

    table: ibis.Table
    cols: list[tuple[str, str, str]]

    @property
    def names(self) -> list[str]:
        return [c for c, _, _ in self.cols]


def export_plan(
    wh: Warehouse, run_id: str, scope: Scope = EVERYTHING, query: ExportQuery | None = None
) -> ExportPlan:
    """The export table of a run (one query: results joined with the pivoted scores)."""
    q = query or ExportQuery()
    system = run_system(wh, run_id)
    park = system.population.level == "park"
    base = park_results(wh, run_id, scope) if park else filtered_results(wh, run_id, scope, q.filters, q.text)
    key = "park_id" if park else "credit_code"
    s = wh.table("eval_scores")  # values and scores only: no need for the references
    s = s.filter(s.run_id == run_id)
    wide = s.group_by("credit_code").aggregate(
        **{
            name: (s.value if name.endswith("_value") else s.score).max(
                where=s.indicator == name.rsplit("_", 1)[0]
            )
            for name, _, _ in indicator_columns(system)
        }
    )
    wide = wide.rename({"__key": "credit_code"})
    t = base.left_join(wide, base[key] == wide["__key"]).drop("__key")
    names = division_table().select("county_code", "county_name")
    t = t.left_join(names, t.county_code == names.county_code).drop("county_code_right")
    labels = system.classes
    t = t.mutate(
        class_label=ibis.cases(*[(t["class"] == c, labels.label(c)) for c in labels.all_classes], else_="")
    )
    cols = (
        (PARK_COLUMNS + indicator_columns(system) + PARK_TAIL)
        if park
        else (BASE_COLUMNS + indicator_columns(system) + TAIL_COLUMNS)
    )
    kept = set(q.visibility.columns([c for c, _, _ in cols], _indicator_inputs(system)))
    cols = [c for c in cols if c[0] in kept]
    names_out = [c for c, _, _ in cols]
    extra: list[str] = []
    if park:
        order: list[Any] = ["rank_in_province"] if "rank_in_province" in kept else ["county_code", "park_id"]
    elif q.sort and q.visibility.sort_allowed(q.sort):
        if q.sort.lstrip("-") not in names_out:
            extra.append(q.sort.lstrip("-"))
        order = sort_keys(t, q.sort)
    elif "rank_in_county" in kept:
        order = ["county_code", "rank_in_county", "credit_code"]
    else:
        order = ["county_code", "credit_code"]  # no order by a withheld figure
    t = t.select(*names_out, *extra)
    if extra or not isinstance(order[0], str):
        order = sort_keys(t, q.sort or "credit_code")
    return ExportPlan(t.order_by(order), cols)


def export_pages(wh: Warehouse, plan: ExportPlan, page_rows: int | None = None) -> Iterator[pa.RecordBatch]:
    """The rows of `plan` in export order, as record batches of at most `page_rows` rows
    (default `PAGE_ROWS`) holding the export columns only.

    The backend streams the ordered result (DuckDB: a result cursor; PostgreSQL: a server-side
    cursor; the sort itself runs, and spills, in the database). On DuckDB nothing else may run
    on this connection until the pages are read, so callers read them to the end first."""
    size = page_rows or PAGE_ROWS
    # The Warehouse wrapper has no streaming read of its own; every Ibis backend has this one.
    reader = wh.con.to_pyarrow_batches(plan.table, chunk_size=size)
    try:
        for batch in reader:
            # a backend may hand back bigger batches than asked: cut them to the bound
            for start in range(0, batch.num_rows, size):
                yield batch.slice(start, size).select(plan.names)
    finally:
        reader.close()


def export_frame(
    wh: Warehouse, run_id: str, scope: Scope = EVERYTHING, query: ExportQuery | None = None
) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """The whole export table of a run in memory, for checks on small runs; downloads and
    files stream it (`export_pages`)."""
    plan = export_plan(wh, run_id, scope, query)
    df = wh.to_pyarrow(plan.table).to_pandas()
    return df[plan.names], plan.cols


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _csv_page(batch: pa.RecordBatch) -> str:
    """One page of rows as CSV text. Integers stay integers on every page (pandas would make a
    page with a missing rank print its ranks as 3.0, the other pages as 3)."""
    df = batch.to_pandas(integer_object_nulls=True)
    for name, kind in zip(batch.schema.names, batch.schema.types, strict=True):
        if _is_text(kind):
            df[name] = (
                df[name].astype(object).map(csv_cell)
            )  # text starting = + - @ tab CR: data, not a formula
    # CRLF as RFC 4180 says; it also makes the writer quote a value holding a lone CR,
    # which would otherwise split the row for every reader.
    return df.to_csv(index=False, header=False, lineterminator="\r\n")


def csv_chunks(
    wh: Warehouse,
    run_id: str,
    scope: Scope = EVERYTHING,
    query: ExportQuery | None = None,
    page_rows: int | None = None,
) -> Iterator[bytes]:
    """The CSV of a run as UTF-8 chunks: the header with a byte-order mark (so that Excel opens
    the Chinese names correctly), then one chunk per page of rows."""
    plan = export_plan(wh, run_id, scope, query)
    yield (",".join(plan.names) + "\r\n").encode("utf-8-sig")  # snake_case names: nothing to quote
    for batch in export_pages(wh, plan, page_rows):
        yield _csv_page(batch).encode("utf-8")


def export_csv(
    wh: Warehouse,
    run_id: str,
    out: Path,
    scope: Scope = EVERYTHING,
    query: ExportQuery | None = None,
    page_rows: int | None = None,
) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        for chunk in csv_chunks(wh, run_id, scope, query, page_rows):
            f.write(chunk)
    return out


class _Formats:
    """The cell formats of one workbook (xlsxwriter wants them made once per book)."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.head = book.add_format(
            {
                "bold": True,
                "bg_color": "#DDEBF7",
                "border": 1,
                "text_wrap": True,
                "valign": "vcenter",
                "align": "center",
            }
        )
        self.text = book.add_format({"num_format": "@"})
        # Excel's quote prefix: text that looks like a formula stays text, even when edited.
        self.quoted = book.add_format({"num_format": "@", "quote_prefix": True})
        self._numbers: dict[str, Any] = {}

    def number(self, num_format: str) -> Any:
        if num_format not in self._numbers:
            self._numbers[num_format] = self.book.add_format({"num_format": num_format})
        return self._numbers[num_format]


def write_text(ws: Any, row: int, col: int, value: Any, fmt: _Formats) -> None:
    """One text cell: a string cell always (codes too), quote-prefixed when it looks like a
    formula."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, bool):
        value = "是" if value else "否"
    text = str(value)
    ws.write_string(row, col, text, fmt.quoted if needs_quote_prefix(text) else fmt.text)


def _write_value(ws: Any, row: int, col: int, value: Any, num_format: str, fmt: _Formats) -> None:
    if num_format == "@":
        write_text(ws, row, col, value, fmt)
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        return
    elif isinstance(value, bool):
        write_text(ws, row, col, value, fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt.number(num_format))
    else:
        write_text(ws, row, col, value, fmt)


class _DataSheet:
    """A data sheet: title row, Chinese header row, frozen panes, number formats; every cell
    written by type, never parsed (see `jingxin.core.spreadsheet`). Rows are appended in order,
    as constant-memory mode wants them."""

    def __init__(
        self, book: Any, fmt: _Formats, cols: list[tuple[str, str, str]], sheet: str, title: str
    ) -> None:
        self.ws = ws = book.add_worksheet(sheet)
        self.fmt = fmt
        self.formats = [number for _, _, number in cols]
        self.width = len(cols)
        self.rows = 0
        ws.set_column(0, 0, 6)
        for j, (name, header, number) in enumerate(cols, start=1):
            width = (
                22
                if name in ("credit_code", "name", "veto_reason", "park_name")
                else max(10, min(18, len(header) * 2))
            )
            ws.set_column(j, j, width, fmt.text if number == "@" else fmt.number(number))
        ws.write_string(0, 0, title, fmt.title)
        ws.set_row(1, 32)
        ws.write_row(1, 0, ["序号", *[h for _, h, _ in cols]], fmt.head)
        ws.freeze_panes(2, 3)

    def append(self, values: Sequence[Any]) -> None:
        row = self.rows + 2
        self.rows += 1
        self.ws.write_number(row, 0, self.rows)
        for j, (value, number) in enumerate(zip(values, self.formats, strict=True), start=1):
            _write_value(self.ws, row, j, value, number, self.fmt)

    def finish(self) -> None:
        if self.rows:
            self.ws.autofilter(1, 0, self.rows + 1, self.width)


def export_xlsx(
    wh: Warehouse,
    run_id: str,
    out: Path,
    scope: Scope = EVERYTHING,
    query: ExportQuery | None = None,
    page_rows: int | None = None,
) -> Path:
    q = query or ExportQuery()
    plan = export_plan(wh, run_id, scope, q)
    run = load_run(wh, run_id)
    system = run_system(wh, run_id)
    rule = system.classes
    park = system.population.level == "park"
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"{run['year']}年度{system.title}结果"
    # constant_memory: each sheet keeps only its current row and flushes the rest to a
    # temporary file, so the book never holds the run.
    book = xlsxwriter.Workbook(str(out), {**XLSX_OPTIONS, "constant_memory": True})
    try:
        fmt = _Formats(book)
        summary = book.add_worksheet("汇总")  # first tab, written once the rows are counted
        every = _DataSheet(book, fmt, plan.cols, "全部企业" if not park else "全部园区", title)
        by_class = {
            cls: _DataSheet(
                book,
                fmt,
                plan.cols,
                f"{cls}类（{rule.label(cls)}）"[:31],
                f"{title}：{cls}类（{rule.label(cls)}）",
            )
            for cls in rule.all_classes
        }
        counts: Counter[Any] = Counter()
        for batch in export_pages(wh, plan, page_rows):
            classes = batch.column("class").to_pylist()
            columns = [batch.column(name).to_pylist() for name in plan.names]
            for cls, values in zip(classes, zip(*columns, strict=True), strict=True):
                every.append(values)
                if cls in by_class:
                    by_class[cls].append(values)
                counts[cls] += 1
        for sheet in (every, *by_class.values()):
            sheet.finish()
        _summary(book, summary, fmt, wh, run, system, counts, scope, park, q)
    finally:
        book.close()
    return out


def beijing_time(value: Any) -> str:
    """A stored UTC time (naive or aware) as Beijing time, e.g. 2024-03-01 17:30（北京时间）."""
    if not isinstance(value, datetime):
        return str(value or "")
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") + "（北京时间）"


def _summary(
    book: Any,
    ws: Any,
    fmt: _Formats,
    wh: Warehouse,
    run: dict[str, Any],
    system: System,
    per_class: Counter[Any],
    scope: Scope,
    park: bool,
    q: ExportQuery,
) -> None:
    """The summary sheet (汇总), written top to bottom: the run, the rows per class
    (`per_class`: exported rows by class) and per county."""
    rows = sum(per_class.values())
    bold = book.add_format({"bold": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"})
    pct = book.add_format({"num_format": "0.0%"})
    num = fmt.number("#,##0.00")
    ws.write_string(0, 0, f"{run['year']}年度{system.title}汇总", fmt.title)
    scope_name = _division_name(scope.division or run["scope"])
    meta: list[tuple[str, Any]] = [
        ("评价体系", f"{system.title}（{system.id} {system.version}）"),
        ("数据年度", f"{run['year']}年"),
        ("评价范围", scope_name),
        ("评价批次", run["run_id"]),
        ("配置指纹", run["config_hash"][:16]),
        ("生成时间", beijing_time(run["created_at"])),
        *[(f"筛选：{k}", v) for k, v in q.described],
        ("参评园区数" if park else "参评企业数", rows),
    ]
    for i, (k, v) in enumerate(meta, start=2):
        ws.write_string(i, 0, k, bold)
        if isinstance(v, int):
            ws.write_number(i, 1, v)
        else:
            write_text(ws, i, 1, v, fmt)
    row = len(meta) + 3
    ws.write_row(row, 0, ["分类", "类别名称", "数量", "占比"], head)
    rule = system.classes
    total = max(rows, 1)
    for i, cls in enumerate(rule.all_classes, start=1):
        n = per_class[cls]
        ws.write_row(row + i, 0, [cls, rule.label(cls), n])
        ws.write(row + i, 3, n / total, pct)
    row += len(rule.all_classes) + 3
    if not park:
        ws.write(row - 1, 0, "分区县统计（亩均为合计口径）", bold)
        classes = rule.all_classes
        show_tax = not q.visibility.withholds_region("tax_per_mu")
        ws.write_row(
            row,
            0,
            [
                "区县代码",
                "区县",
                "企业数",
                *[f"{c}类" for c in classes],
                *(["亩均税收（万元/亩）"] if show_tax else []),
                "亩均增加值（万元/亩）",
            ],
            head,
        )
        counties = class_counts(wh, run["run_id"], scope, by="county", filters=q.filters, text=q.text)
        for i, rec in enumerate(counties, start=1):
            counts = [rec.get(f"class_{c.replace('+', 'plus')}", 0) for c in classes]
            write_text(ws, row + i, 0, rec["county_code"], fmt)
            write_text(ws, row + i, 1, rec.get("county_name") or "", fmt)
            ws.write_row(row + i, 2, [rec["enterprises"], *counts])
            col = 3 + len(classes)
            for key in ("tax_per_mu", "value_added_per_mu") if show_tax else ("value_added_per_mu",):
                if rec[key] is not None:
                    ws.write_number(row + i, col, rec[key], num)
                col += 1
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 40)
    ws.set_column(2, 10, 14)


def _division_name(code: str) -> str:
    from jingxin.reference import division

    try:
        return f"{division(code).name}（{code}）"
    except KeyError:
        return code


def export_evaluation(
    wh: Warehouse,
    run_id: str,
    out: Path,
    fmt: Literal["csv", "xlsx"] = "csv",
    scope: Scope = EVERYTHING,
    query: ExportQuery | None = None,
    page_rows: int | None = None,
) -> Path:
    """Write a run as CSV or Excel to `out`, reading `page_rows` rows at a time (default
    `PAGE_ROWS`)."""
    if fmt == "csv":
        return export_csv(wh, run_id, out, scope, query, page_rows)
    if fmt == "xlsx":
        return export_xlsx(wh, run_id, out, scope, query, page_rows)
    raise ValueError(f"不支持的导出格式 {fmt!r}：csv 或 xlsx")
