"""Header row detection and matching (表头识别).

Departmental files put a title (标题行) and sometimes a date line above the header, write a
column under one of several known names (别名), add the unit in brackets ("实缴税收(元)") and,
in Excel, merge header cells over two rows (合并单元格). This module finds the header among the
first rows, binds each contract column to a file column and works out the unit conversion.
Everything here looks at a handful of rows only; the data rows are handled column-wise later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from jingxin.core.contracts import Column, Source, load_contracts, source
from jingxin.ingest.errors import IngestError
from jingxin.ingest.normalize import normalize_header, split_header_unit, unit_key

HEADER_SEARCH_ROWS = 10  # the header must start within the first rows of a file


@dataclass(frozen=True)
class HeaderLayout:
    """Where the header is: `first_row` is 0-based, `height` is 1 or 2 (two-level merged
    header), `names` is the combined header text of each file column."""

    first_row: int
    height: int
    names: list[str]
    matched: int
    units: int = 0

    @property
    def data_start(self) -> int:
        """0-based index of the first row after the header."""
        return self.first_row + self.height


@dataclass(frozen=True)
class ColumnBinding:
    """A contract column found in the file: its position, the header as written, the unit the
    header states and the factor that turns file values into the contract unit."""

    column: Column
    index: int
    header: str
    unit: str | None
    factor: float

    @property
    def unit_in_file(self) -> str | None:
        """The unit the file's values are in (header unit, else the contract unit)."""
        return self.unit or self.column.unit


@dataclass(frozen=True)
class HeaderMatch:
    source: Source
    bindings: dict[str, ColumnBinding]  # contract column name -> binding
    headers: list[str]  # display header of every file column, "" when unnamed

    def binding(self, name: str) -> ColumnBinding | None:
        return self.bindings.get(name)


@cache
def _header_index(source_id: str) -> dict[str, Column]:
    """Normalised header or alias → contract column, for one source."""
    index: dict[str, Column] = {}
    for col in source(source_id).columns:
        for name in col.headers:
            index.setdefault(normalize_header(name), col)
    return index


@cache
def _unit_names() -> dict[str, str]:
    """Comparable unit spelling → the unit's name in the contracts ("kwh" → "kWh")."""
    return {unit_key(name): name for name in load_contracts().units}


def canonical_unit(text: str) -> str | None:
    """The contracts' name of a unit written in a header or cell, or None if unknown."""
    return _unit_names().get(unit_key(text))


def identify(cell: str, src: Source) -> tuple[Column, str | None] | None:
    """The contract column a header cell names, with the unit text in its brackets (if any).

    The whole header is tried first, because some aliases carry brackets that are not units
    ("工业总产值(当月)"); only then is a trailing bracket read as a unit.
    """
    index = _header_index(src.id)
    text = normalize_header(cell)
    if not text:
        return None
    if text in index:
        return index[text], None
    base, unit = split_header_unit(text)
    if unit is not None and base in index:
        return index[base], unit
    return None


def _score(names: Sequence[str], src: Source) -> tuple[int, int]:
    """(contract columns named, of which with a unit in brackets): a second header row that
    only adds units ("(元)" under "实缴税收") wins over the single row by the second figure."""
    hits = {hit[0].name: hit[1] for name in names if (hit := identify(name, src))}
    return len(hits), sum(unit is not None for unit in hits.values())


def _combine(top: Sequence[str], bottom: Sequence[str], src: Source) -> list[str]:
    """Column names of a two-row header: for each column the lower cell when it names a
    contract column, else both joined (a header with its unit on the second row), else the
    upper one (a cell merged over both rows, whose value Excel keeps in the upper cell)."""
    width = max(len(top), len(bottom))
    out = []
    for i in range(width):
        upper = top[i] if i < len(top) else ""
        lower = bottom[i] if i < len(bottom) else ""
        choices = [lower, upper + lower, upper]
        out.append(next((c for c in choices if c and identify(c, src)), lower or upper))
    return out


def find_header(rows: Sequence[Sequence[str]], src: Source, file_label: str) -> HeaderLayout:
    """Find the header among the first `HEADER_SEARCH_ROWS` rows.

    The row (or pair of rows) that names the most contract columns wins; on a tie the single
    row and the earlier row win, so a title row above a one-row header is never merged into it.
    """
    best: HeaderLayout | None = None
    limit = min(len(rows), HEADER_SEARCH_ROWS)
    for r in range(limit):
        candidates = [(1, list(rows[r]))]
        if r + 1 < len(rows):
            candidates.append((2, _combine(rows[r], rows[r + 1], src)))
        for height, names in candidates:
            score = _score(names, src)
            if score[0] == 0:
                continue
            layout = HeaderLayout(first_row=r, height=height, names=names, matched=score[0], units=score[1])
            rank = (score, -height, -r)
            if best is None or rank > ((best.matched, best.units), -best.height, -best.first_row):
                best = layout
    if best is None:
        expected = "、".join(f"「{c.header}」" for c in src.columns[:3])
        raise IngestError(
            f"文件 {file_label} 的前{HEADER_SEARCH_ROWS}行中没有找到表头行：表头应包含{expected}等列"
            f"（{src.title}，见数据交换规范 docs/data-exchange.md）。请检查是否选错了数据源或文件。"
        )
    return best


def column_label(index: int) -> str:
    """ "第3列（C列）": how a column is named to a person looking at the file in Excel."""
    letters, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"第{index + 1}列（{letters}列）"


def _unit_problem(col: Column, header: str, unit_text: str, file_label: str) -> IngestError:
    family = load_contracts().units[col.unit].family if col.unit in load_contracts().units else None
    convertible = [name for name, u in load_contracts().units.items() if family and u.family == family]
    others = f"；可换算的单位：{'、'.join(convertible)}" if convertible else ""
    return IngestError(
        f"文件 {file_label} 的列「{header}」的单位「{unit_text}」无法识别或不能换算为规定单位"
        f"「{col.unit}」{others}。请把表头改为「{col.header}({col.unit})」并按{col.unit}填报。"
    )


def bind_columns(names: Sequence[str], src: Source, file_label: str) -> HeaderMatch:
    """Bind contract columns to file columns, or refuse the file (整份退回).

    Refused: a required column missing (the message lists the accepted names), two file
    columns naming the same contract column, a unit that is unknown or of another kind.
    """
    bindings: dict[str, ColumnBinding] = {}
    contracts = load_contracts()
    for index, header in enumerate(names):
        hit = identify(header, src)
        if hit is None:
            continue
        col, unit_text = hit
        shown = header.strip()
        if col.name in bindings:
            first = bindings[col.name]
            raise IngestError(
                f"文件 {file_label} 中{column_label(first.index)}「{first.header}」和"
                f"{column_label(index)}「{shown}」都对应「{col.header}」，无法确定用哪一列；请只保留一列。"
            )
        unit, factor = None, 1.0
        if unit_text is not None and col.unit is not None:
            unit = canonical_unit(unit_text)
            converted = contracts.convert_factor(unit, col.unit) if unit else None
            if converted is None:
                raise _unit_problem(col, shown, unit_text, file_label)
            factor = converted
        bindings[col.name] = ColumnBinding(col, index, shown, unit, factor)

    missing = [c for c in src.columns if c.required and c.name not in bindings]
    if missing:
        parts = [f"「{c.header}」（可接受的表头：{'、'.join(c.headers)}）" for c in missing]
        raise IngestError(
            f"文件 {file_label} 缺少必填列{'；'.join(parts)}。"
            f"请在表头行补上该列（{src.title}，见数据交换规范 docs/data-exchange.md）。"
        )
    return HeaderMatch(src, bindings, [n.strip() for n in names])
