"""Validation (数据校验) of a raw table against its contract, column by column.

Each rule runs once over the whole column (Arrow compute), and every problem of every row is
collected, so a liaison sees all that is wrong with a row at once (一行可有多个错误). A row with
any problem is rejected (隔离, kept in `rejected_rows` with its reasons and raw cells); the
others are accepted as typed facts. Rules, in the order they are reported:

required (必填) → type (类型) → unit in cell (单位) → allowed values (取值) → min/max (范围)
→ codes (信用代码校验位, 区县代码, 行业代码) → duplicate key within the file (与第N行重复).
Rows with the wrong number of fields (截断的行) are rejected as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jingxin.core.contracts import Column, Source
from jingxin.core.schema import fact_schemas
from jingxin.ingest import parse
from jingxin.ingest.errors import IngestError
from jingxin.ingest.headers import ColumnBinding
from jingxin.ingest.limits import IngestLimits
from jingxin.ingest.readers import RawTable

ERRORS_SCHEMA = pa.schema(
    [
        ("row_number", pa.int64()),
        ("column_name", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)

Parser = Callable[[pa.Array, str], parse.Parsed]
_PARSERS: dict[str, Parser] = {
    "credit_code": parse.parse_credit_code,
    "text": parse.parse_text,
    "county": parse.parse_county,
    "industry": parse.parse_industry,
    "date": parse.parse_date,
    "month": parse.parse_month,
    "year": parse.parse_year,
    "boolean": parse.parse_boolean,
}


@dataclass
class Validated:
    """Outcome of validating one file."""

    accepted: pa.Table  # source_row + contract columns, typed as the fact table
    errors: pa.Table  # one row per problem: ERRORS_SCHEMA
    data_rows: int
    rejected: int  # rows rejected (a row with three problems counts once)
    period_values: pa.Array | None = None  # the period column over all rows, typed (null if invalid)

    @property
    def accepted_count(self) -> int:
        return self.accepted.num_rows


@dataclass
class _Issue:
    column: str
    problem: parse.Problem
    values: pa.Array  # the cells as sent, for the error's `value`


def _parse_column(col: Column, binding: ColumnBinding, normalized: pa.Array, cells: pa.Array) -> parse.Parsed:
    header = col.header
    if col.type in ("decimal", "integer"):
        parsed = parse.parse_number(normalized, binding, integer=col.type == "integer")
        parse.check_range(parsed, binding, cells)
    else:
        parsed = _PARSERS[col.type](normalized, header)
    if col.allowed:
        parse.check_allowed(parsed, col.allowed, header)
    return parsed


def _first_occurrence_ids(columns: list[pa.Array]) -> np.ndarray:
    """A key id per row, numbered in order of first appearance (0, 1, 2, …).

    Arrow's dictionary encoding numbers values by first appearance; a multi-column key is
    encoded column by column, combining the ids pairwise and re-encoding, so ids stay < n.
    """
    ids: np.ndarray | None = None
    for col in columns:
        enc = (
            pc.dictionary_encode(col).combine_chunks()
            if isinstance(col, pa.ChunkedArray)
            else pc.dictionary_encode(col)
        )
        codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        if ids is None:
            ids = codes
        else:
            combined = ids * (len(enc.dictionary) + 1) + codes
            ids = (
                pc.dictionary_encode(pa.array(combined))
                .indices.to_numpy(zero_copy_only=False)
                .astype(np.int64)
            )
    assert ids is not None
    return ids


# Key types whose equal values always hash alike in DuckDB (floating point is left out: -0.0/0.0
# and NaN are where hashing and Arrow's equality could part).
_HASHABLE_KEYS = (pa.types.is_string, pa.types.is_integer, pa.types.is_date, pa.types.is_boolean)


def _may_repeat(keys: list[pa.Array]) -> bool:
    """False only when no two rows share a key: the common case, proved cheaply.

    Equal keys have equal 64-bit hashes, so when every row's hash differs no key repeats;
    otherwise, or for a key type not in `_HASHABLE_KEYS`, the exact first-occurrence numbering
    decides. For a million distinct credit codes this check (DuckDB's hash, a sort) takes about
    0.1 CPU seconds, the numbering about 0.6 (Arrow's dictionary encoding of the strings).
    """
    if not all(any(test(k.type) for test in _HASHABLE_KEYS) for k in keys):
        return True
    import duckdb

    names = [f"k{i}" for i in range(len(keys))]
    with duckdb.connect() as con:
        con.register("key_rows", pa.table(dict(zip(names, keys, strict=True))))
        hashes = con.execute(f"SELECT hash({', '.join(names)}) AS h FROM key_rows").fetchnumpy()["h"]
    hashes.sort()
    return bool(np.any(hashes[1:] == hashes[:-1]))


def _duplicates(
    raw: RawTable, src: Source, typed: dict[str, pa.Array], rejected: np.ndarray
) -> _Issue | None:
    """Second and later rows with the key of an earlier row (同一文件内重复).

    The key is compared on typed values ("2021-01" and "202101" are the same month). Rows whose
    key itself is invalid, or that are rejected anyway, take no part. Rows are in file order,
    so with ids numbered by first appearance a row repeats a key exactly when its id is not
    larger than every id before it.
    """
    usable = ~rejected
    for name in src.key:
        usable &= typed[name].is_valid().to_numpy(zero_copy_only=False)
    positions = np.flatnonzero(usable)
    if len(positions) < 2:
        return None
    take = pa.array(positions, pa.int64())
    keys = [typed[name].take(take) for name in src.key]
    if not _may_repeat(keys):
        return None
    ids = _first_occurrence_ids(keys)
    previous_max = np.maximum.accumulate(np.concatenate(([-1], ids[:-1])))
    repeat = ids <= previous_max
    if not repeat.any():
        return None
    numbers = raw.row_number.to_numpy()[positions]
    first_row = numbers[~repeat]  # first_row[k] is the row where key id k first appears
    dup_positions = positions[repeat]
    first_of_dup = first_row[ids[repeat]]
    headers = "、".join(src.column(k).header for k in src.key)
    reasons = pa.array(
        [
            f"与第{f}行重复（{headers}相同）；同一文件中每个键只能出现一次，请删除重复行或合并为一行"
            for f in first_of_dup.tolist()
        ],
        pa.string(),
    )
    shown = [raw.column(k) for k in src.key]
    value = (
        shown[0]
        if len(shown) == 1
        else pc.binary_join_element_wise(*[pc.fill_null(v, "") for v in shown], " | ")
    )
    return _Issue(headers, parse.Problem(dup_positions, reasons), value)


def _raw_json(raw: RawTable, positions: np.ndarray) -> list[str]:
    """The rejected rows as sent, header → cell, for the quarantine (隔离区) record."""
    headers = [h or f"列{i + 1}" for i, h in enumerate(raw.match.headers)]
    take = pa.array(positions, pa.int64())
    columns = [c.take(take).to_pylist() for c in raw.cells]
    return [
        json.dumps(dict(zip(headers, (col[j] for col in columns), strict=True)), ensure_ascii=False)
        for j in range(len(positions))
    ]


def _malformed_errors(raw: RawTable) -> pa.Table:
    rows = []
    headers = [h or f"列{i + 1}" for i, h in enumerate(raw.match.headers)]
    for m in raw.malformed:
        n = len(m.fields)
        if n < m.expected:
            reason = (
                f"本行只有{n}个字段，表头有{m.expected}列：该行不完整（常见于文件最后一行被截断）；"
                "请补全该行后重新提交"
            )
        else:
            reason = (
                f"本行有{n}个字段，多于表头的{m.expected}列：可能某个单元格内有未加引号的逗号；"
                "请用英文双引号括起该单元格，或删除多余的逗号"
            )
        names = headers + [f"列{i + 1}" for i in range(len(headers), n)]
        raw_json = json.dumps(dict(zip(names, m.fields, strict=False)), ensure_ascii=False)
        rows.append((m.row_number, "", ",".join(m.fields), reason, raw_json))
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in ERRORS_SCHEMA]
    return pa.table(
        [pa.array(c, f.type) for c, f in zip(columns, ERRORS_SCHEMA, strict=True)], schema=ERRORS_SCHEMA
    )


def validate(raw: RawTable, limits: IngestLimits | None = None) -> Validated:
    """Type and check every column of `raw`; return accepted facts and every problem found.

    With `limits`, a file whose rejected rows pass both `rejected_floor` and
    `max_rejected_share` is refused (`IngestError`) as soon as enough rows are known to be
    rejected, column by column, before the other columns are typed and before any error
    record is built (for a file of junk those are most of the cost)."""
    src = raw.source
    n = raw.num_rows
    target = fact_schemas()[src.table].to_pyarrow()
    typed: dict[str, pa.Array] = {}
    issues: list[_Issue] = []
    rejected = np.zeros(n, bool)
    marked = 0  # issues already marked in `rejected`
    for col in src.columns:
        binding = raw.match.binding(col.name)
        arrow_type = target.field(col.name).type
        if binding is None:  # an optional column the file does not carry
            typed[col.name] = pa.nulls(n, arrow_type)
            continue
        cells = raw.cells[binding.index]
        normalized = raw.normalized[binding.index]
        if col.required:
            blank = np.flatnonzero(normalized.is_null().to_numpy(zero_copy_only=False))
            if len(blank):
                issues.append(
                    _Issue(col.header, parse.Problem(blank, f"{col.header}为必填项，本行为空；请补填"), cells)
                )
        parsed = _parse_column(col, binding, normalized, cells)
        issues.extend(_Issue(col.header, p, cells) for p in parsed.problems)
        typed[col.name] = pc.cast(parsed.values, arrow_type)
        for issue in issues[marked:]:
            rejected[issue.problem.positions] = True
        marked = len(issues)
        if limits is not None:
            check_rejected_share(raw, issues, int(rejected.sum()) + len(raw.malformed), limits)

    dup = _duplicates(raw, src, typed, rejected)
    if dup is not None:
        issues.append(dup)
        rejected[dup.problem.positions] = True

    if limits is not None:
        check_rejected_share(raw, issues, int(rejected.sum()) + len(raw.malformed), limits)
    accepted = pa.table({"source_row": raw.row_number, **typed})
    if rejected.any():
        accepted = accepted.filter(pa.array(~rejected))
    errors = _collect_errors(raw, issues, rejected)
    period_values = typed[src.period] if src.period else None
    return Validated(accepted, errors, raw.data_rows, int(rejected.sum()) + len(raw.malformed), period_values)


def check_rejected_share(raw: RawTable, issues: list[_Issue], rejected: int, limits: IngestLimits) -> None:
    """Refuse a file whose rejected rows pass both `rejected_floor` and `max_rejected_share`
    of its data rows, naming its three commonest problems (column, count, first row, reason)."""
    total = raw.data_rows
    if rejected < limits.rejected_floor or rejected <= limits.max_rejected_share * total:
        return
    numbers = raw.row_number.to_numpy()
    groups: dict[str, list[Any]] = {}  # column -> [count, first row, reason there]
    for issue in issues:
        positions = issue.problem.positions
        first = int(numbers[positions[0]])
        reason = issue.problem.reason
        text = reason if isinstance(reason, str) else reason[0].as_py()
        group = groups.setdefault(issue.column, [0, first, text])
        group[0] += len(positions)
        if first < group[1]:
            group[1], group[2] = first, text
    if raw.malformed:
        m = raw.malformed[0]
        groups[""] = [len(raw.malformed), m.row_number, f"本行有{len(m.fields)}个字段，表头有{m.expected}列"]
    commonest = sorted(groups.items(), key=lambda g: -g[1][0])[:3]
    problems = [
        f"{f'「{column}」' if column else '整行'}{count:,} 处（首见第 {first} 行：{text}）"
        for column, (count, first, text) in commonest
    ]
    raise IngestError(
        f"文件 {raw.file_label} 的 {total:,} 行数据中有 {rejected:,} 行（{rejected / total:.0%}）未通过校验，"
        f"超过 {limits.max_rejected_share:.0%} 的上限（ingest_max_rejected_share），整份退回，未入库。"
        f"主要问题：{'；'.join(problems)}。"
        "请核对文件是否选错了数据源、表头与数据是否错位，修正后重新提交。"
    )


def _collect_errors(raw: RawTable, issues: list[_Issue], rejected: np.ndarray) -> pa.Table:
    """One error row per (row, problem), sorted by row number, with the raw row as JSON."""
    positions = np.flatnonzero(rejected)
    slot = np.full(raw.num_rows, -1, np.int64)
    slot[positions] = np.arange(len(positions))
    raw_rows = pa.array(_raw_json(raw, positions), pa.string())
    parts = []
    for order, issue in enumerate(issues):
        where_np = issue.problem.positions
        where = pa.array(where_np, pa.int64())
        reason = issue.problem.reason
        reasons = pa.repeat(pa.scalar(reason, pa.string()), len(where)) if isinstance(reason, str) else reason
        parts.append(
            pa.table(
                {
                    "row_number": raw.row_number.take(where),
                    "column_name": pa.repeat(pa.scalar(issue.column, pa.string()), len(where)),
                    "value": issue.values.take(where).cast(pa.string()),
                    "reason": reasons.cast(pa.string()),
                    "raw": raw_rows.take(pa.array(slot[where_np], pa.int64())),
                    "__order": pa.array(np.full(len(where), order), pa.int64()),
                }
            )
        )
    malformed = _malformed_errors(raw)
    if malformed.num_rows:
        parts.append(
            malformed.append_column("__order", pa.array(np.full(malformed.num_rows, -1), pa.int64()))
        )
    if not parts:
        return ERRORS_SCHEMA.empty_table()
    table = pa.concat_tables(parts)
    table = table.sort_by([("row_number", "ascending"), ("__order", "ascending")])
    return table.drop_columns(["__order"]).cast(ERRORS_SCHEMA)
