"""Pre-check of an .xlsx workbook (工作簿预检) before any cell is read.

An .xlsx is a zip archive of XML. The spreadsheet reader (calamine) allocates a sheet's whole
used area at once, copies a shared string into every cell that uses it, and trusts the archive,
so a file of a few KB can ask for hundreds of GB. This module reads the archive once as a
stream, in 1 MB pieces, and refuses the file (`IngestError`) when:

- the archive is not a zip, has too many entries or sheets, or an entry is encrypted;
- the declared uncompressed sizes add up to more than `max_expanded_bytes`, or an entry or the
  whole archive expands more than `max_zip_ratio` times (zip bombs);
- an entry really expands to more than it declares (Python's zipfile stops at the declared
  size and then the CRC check fails, so a lying header cannot slip more bytes through);
- a sheet's declared `<dimension>` or its real used area (from every cell's `r="XFD1048576"`
  reference, or from cell and row counts where references are left out) exceeds the rows,
  columns or cells allowed;
- the shared-string table, or the text the sheet's cells would spell out once shared strings
  are filled in, exceeds `max_text_bytes` (one long shared string used by a million cells).

Memory while scanning: one decompressed piece (1 MB) plus one int32 per shared string, at most
`max_cells` of them (40 MB at the default).
"""

from __future__ import annotations

import html
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from jingxin.ingest.errors import IngestError
from jingxin.ingest.limits import IngestLimits, check_table_shape, mib

CHUNK = 1 << 20
MAX_ENTRIES = 4096
# Below this expanded size any compression ratio is harmless (short XML compresses very well).
RATIO_FLOOR = 8 << 20
LOOK_BACK = 64 * 1024  # how far back a piece's end looks for the start of an element

_NS = rb"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix (<x:c ...>)
_CELL_TAG = re.compile(rb"<" + _NS + rb"c[\s>/]")
_CELL_REF = re.compile(rb"<" + _NS + rb'c\s[^>]*?\br="([A-Z]{1,3})(\d{1,7})"')
_SHARED_CELL = re.compile(rb"<" + _NS + rb'c\s[^>]*?\bt="s"[^>]*>\s*<' + _NS + rb"v>\s*(\d{1,10})\s*<")
_ROW_TAG = re.compile(rb"<" + _NS + rb"row[\s>/]")
_ROW_REF = re.compile(rb"<" + _NS + rb'row\s[^>]*?\br="(\d{1,7})"')
_DIMENSION = re.compile(
    rb"<" + _NS + rb'dimension\s[^>]*?\bref="\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?"'
)
_SHARED_ITEM = re.compile(rb"<" + _NS + rb"si[\s>/]")


def column_number(letters: bytes) -> int:
    """A1-style column letters as a 1-based number (b"XFD" -> 16384)."""
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


@dataclass
class SheetShape:
    """What a sheet declares and what its cells really span (1-based, counted from A1)."""

    name: str
    declared_rows: int = 0
    declared_columns: int = 0
    rows: int = 0
    columns: int = 0
    text_bytes: int = 0  # bytes of the shared strings its cells refer to


def _max_letters(values: set[bytes]) -> int:
    return column_number(max(values, key=lambda b: (len(b), b))) if values else 0


def _max_number(values: list[bytes]) -> int:
    """The largest of decimal numbers written as bytes (parsed by numpy, not one by one)."""
    return int(np.array(values, "S7").astype(np.int64).max()) if values else 0


def _cut(data: bytes, boundary: re.Pattern[bytes] | None) -> int:
    """Where to end a piece: before the last element `boundary` finds in the last LOOK_BACK
    bytes (a cell, a shared string), else before the last tag; an element is never cut."""
    if boundary is None:
        return len(data)
    low = max(0, len(data) - LOOK_BACK)
    pos = len(data)
    while (pos := data.rfind(b"<", low, pos)) > 0:
        if boundary.match(data, pos):
            return pos
    last = data.rfind(b"<", low)
    return last if last > 0 else len(data)


def _inflate(data: bytes, info: zipfile.ZipInfo, label: str) -> Iterator[bytes]:
    """The entry's real content in pieces of at most CHUNK, inflated from the archive's bytes
    here rather than by zipfile, which would stop at the declared size: the spreadsheet reader
    inflates to the end of the stream, so the real size is what has to be bounded."""

    def broken(why: str) -> IngestError:
        return IngestError(
            f"Excel 文件 {label} 已损坏：压缩包内 {info.filename} {why}。请在 Excel 中重新保存后提交。"
        )

    head = data[info.header_offset : info.header_offset + 30]
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise broken("的位置信息有误")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    begin = info.header_offset + 30 + name_len + extra_len
    packed = memoryview(data)[begin : begin + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        pieces: Iterator[bytes] = (bytes(packed[i : i + CHUNK]) for i in range(0, len(packed), CHUNK))
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        pieces = _inflate_deflate(packed)
    else:
        raise broken(f"使用了不支持的压缩方式（{info.compress_type}）")
    size = crc = 0
    try:
        for piece in pieces:
            size += len(piece)
            if size > info.file_size:
                raise broken(f"解压后超过其声明的 {mib(info.file_size)}，疑为压缩炸弹，未读取")
            crc = zlib.crc32(piece, crc)
            yield piece
    except zlib.error as exc:
        raise broken(f"无法解压（{exc}）") from None
    if size != info.file_size or crc != info.CRC:
        raise broken("的实际内容与其声明不符")


def _inflate_deflate(packed: memoryview) -> Iterator[bytes]:
    inflater = zlib.decompressobj(-15)
    for i in range(0, len(packed), 64 * 1024):
        tail = inflater.decompress(packed[i : i + 64 * 1024], CHUNK)
        while True:
            if tail:
                yield tail
            if not inflater.unconsumed_tail or inflater.eof:
                break
            tail = inflater.decompress(inflater.unconsumed_tail, CHUNK)
        if inflater.eof:
            return
    if rest := inflater.flush():
        yield rest


def _pieces(
    data: bytes, info: zipfile.ZipInfo, label: str, boundary: re.Pattern[bytes] | None = None
) -> Iterator[bytes]:
    """The entry's bytes in pieces of about CHUNK, cut before an element `boundary` matches."""
    carry = b""
    for chunk in _inflate(data, info, label):
        joined = carry + chunk
        cut = _cut(joined, boundary)
        carry = joined[cut:]
        yield joined[:cut]
    if carry:
        yield carry


def _shared_string_lengths(
    data: bytes, info: zipfile.ZipInfo, label: str, limits: IngestLimits
) -> np.ndarray:
    """The byte length of each shared string item (its XML, an upper bound of its text)."""
    starts: list[np.ndarray] = []
    count = 0
    offset = 0
    for piece in _pieces(data, info, label, _SHARED_ITEM):
        found = np.fromiter((m.start() for m in _SHARED_ITEM.finditer(piece)), np.int64) + offset
        count += len(found)
        if count > limits.max_cells:
            raise IngestError(
                f"Excel 文件 {label} 的共享字符串表有超过 {limits.max_cells:,} 项，超过单元格上限"
                "（ingest_max_cells）。请把数据复制到新工作簿后重新提交。"
            )
        starts.append(found)
        offset += len(piece)
    positions = np.concatenate([*starts, np.array([offset], np.int64)])
    return np.diff(positions).astype(np.int64)


# The common case, tried first: no namespace prefix, the reference as the first attribute (as
# Excel, WPS and the usual libraries write it). A piece where these do not account for every
# cell is scanned again with the general patterns above.
_FAST_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})\d{1,7}"')
_FAST_CELL_ROW = re.compile(rb'<c r="[A-Z]{1,3}(\d{1,7})"')
_FAST_ROW_REF = re.compile(rb'<row r="(\d{1,7})"')
_FAST_SHARED_CELL = re.compile(rb'<c r="[A-Z]{1,3}\d{1,7}"(?: s="\d+")? t="s"(?: [^>]*)?><v>(\d{1,10})</v>')
_ANY_PREFIX = re.compile(rb"<[A-Za-z_][\w.-]*:")


@dataclass
class _Counts:
    """Running counts over the pieces of one sheet."""

    cell_tags: int = 0
    cell_refs: int = 0
    row_tags: int = 0
    row_refs: int = 0
    last_column: int = 0
    last_row: int = 0
    widest_row: int = 0  # most cells in one row (counted where some cells lack a reference)
    open_row_cells: int = 0  # cells of the row still open at the end of the previous piece
    text_bytes: int = 0


def _count_piece(piece: bytes, counts: _Counts, lengths: np.ndarray) -> None:
    plain = _ANY_PREFIX.search(piece) is None
    # b"<c" also starts <col>, <cfRule>...: where the quick count and the references disagree,
    # the piece is counted again exactly.
    tags = piece.count(b"<c") if plain else -1
    cols = _FAST_CELL_COLUMN.findall(piece) if plain else []
    if len(cols) == tags:
        rows = _FAST_CELL_ROW.findall(piece)
    else:
        tags = len(_CELL_TAG.findall(piece))
        refs = _CELL_REF.findall(piece)
        cols, rows = [r[0] for r in refs], [r[1] for r in refs]
    counts.cell_tags += tags
    counts.cell_refs += len(cols)
    if cols:
        counts.last_column = max(counts.last_column, _max_letters(set(cols)))
        counts.last_row = max(counts.last_row, _max_number(rows))
    row_tags = piece.count(b"<row") if plain else -1
    row_refs = _FAST_ROW_REF.findall(piece) if plain else []
    if len(row_refs) != row_tags:
        row_tags = len(_ROW_TAG.findall(piece))
        row_refs = _ROW_REF.findall(piece)
    counts.row_tags += row_tags
    counts.row_refs += len(row_refs)
    if row_refs:
        counts.last_row = max(counts.last_row, _max_number(row_refs))
    _count_row_widths(piece, counts, exact=len(cols) != tags)
    if len(lengths) and (b't="s"' in piece or not plain):
        shared = _FAST_SHARED_CELL.findall(piece) if plain else []
        if len(shared) != piece.count(b't="s"'):
            shared = _SHARED_CELL.findall(piece)
        if shared:
            index = np.clip(np.array(shared, np.int64), 0, len(lengths) - 1)
            counts.text_bytes += int(lengths[index].sum())


def _count_row_widths(piece: bytes, counts: _Counts, exact: bool) -> None:
    """Track the cells of the row open across pieces; where some cells of this piece lack a
    reference (`exact`), measure every row of it."""
    first_row = _ROW_TAG.search(piece)
    if first_row is None:
        counts.open_row_cells += len(_CELL_TAG.findall(piece)) if exact else piece.count(b"<c")
        counts.widest_row = max(counts.widest_row, counts.open_row_cells)
        return
    head = len(_CELL_TAG.findall(piece, 0, first_row.start()))
    counts.widest_row = max(counts.widest_row, counts.open_row_cells + head)
    if exact:
        cells = np.fromiter((m.start() for m in _CELL_TAG.finditer(piece)), np.int64)
        rows = np.fromiter((m.start() for m in _ROW_TAG.finditer(piece)), np.int64)
        per_row = np.diff(np.searchsorted(cells, np.append(rows, len(piece) + 1)))
        counts.widest_row = max(counts.widest_row, int(per_row.max()))
    tail = [m.start() for m in _ROW_TAG.finditer(piece, max(first_row.start(), len(piece) - LOOK_BACK))]
    last = tail[-1] if tail else max(m.start() for m in _ROW_TAG.finditer(piece))
    counts.open_row_cells = len(_CELL_TAG.findall(piece, last))


def _scan_sheet(data: bytes, info: zipfile.ZipInfo, name: str, label: str, lengths: np.ndarray) -> SheetShape:
    shape = SheetShape(name)
    counts = _Counts()
    first = True
    for piece in _pieces(data, info, label, _CELL_TAG):
        if first:
            first = False
            dim = _DIMENSION.search(piece, 0, 64 * 1024)
            if dim:
                last_col, last_row = (
                    (dim.group(3), dim.group(4)) if dim.group(3) else (dim.group(1), dim.group(2))
                )
                shape.declared_columns = column_number(last_col)
                shape.declared_rows = int(last_row)
        _count_piece(piece, counts, lengths)
    shape.columns = counts.last_column
    shape.rows = counts.last_row
    shape.text_bytes = counts.text_bytes
    if counts.cell_tags > counts.cell_refs:  # cells without r="..." continue from the one before
        shape.columns += counts.widest_row
    if counts.row_tags > counts.row_refs:  # rows without r="..." likewise
        shape.rows += counts.row_tags
    return shape


def _sheet_entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [
        i
        for i in archive.infolist()
        if re.fullmatch(r"xl/(?:worksheets|dialogsheets|macrosheets)/[^/]+\.xml", i.filename, re.I)
    ]


def check_xlsx(data: bytes, label: str, limits: IngestLimits) -> dict[str, SheetShape]:
    """Check an .xlsx/.xlsm archive against `limits`; its sheets' shapes by entry name."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(
            f"无法打开 Excel 文件 {label}：不是有效的 .xlsx 文件（{exc}）。请确认文件未损坏。"
        ) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise IngestError(
                f"Excel 文件 {label} 的压缩包有 {len(infos):,} 个条目，不是正常的工作簿。请重新保存后提交。"
            )
        if any(i.flag_bits & 0x1 for i in infos):
            raise IngestError(f"Excel 文件 {label} 已加密。请取消文件密码后重新提交。")
        sheets = _sheet_entries(archive)
        if len(sheets) > limits.max_sheets:
            raise IngestError(
                f"Excel 文件 {label} 有 {len(sheets)} 个工作表，超过 {limits.max_sheets} 个的上限"
                "（ingest_max_sheets）。请只保留数据所在的工作表后重新提交。"
            )
        _check_sizes(infos, len(data), label, limits)
        lengths = np.array([], np.int64)
        shared = [i for i in infos if i.filename.lower() == "xl/sharedstrings.xml"]
        if shared:
            if shared[0].file_size > limits.max_text_bytes:  # the reader holds the whole table
                raise IngestError(
                    f"Excel 文件 {label} 的共享字符串表解压后为 {mib(shared[0].file_size)}，超过"
                    f" {mib(limits.max_text_bytes)} 的上限（ingest_max_text_bytes）。"
                    "请删除超长的文字内容或拆分文件后重新提交。"
                )
            lengths = _shared_string_lengths(data, shared[0], label, limits)
        names = _sheet_names(data, archive, label)
        shapes = {}
        for info in sheets:
            shape = _scan_sheet(data, info, info.filename, label, lengths)
            where = f"工作表“{names.get(info.filename, info.filename.rsplit('/', 1)[-1])}”"
            check_table_shape(label, where, shape.declared_rows, shape.declared_columns, limits, "声明的区域")
            check_table_shape(label, where, shape.rows, shape.columns, limits, "实际使用的区域")
            if shape.text_bytes > limits.max_text_bytes:
                raise IngestError(
                    f"Excel 文件 {label} 的{where}单元格文字合计约 {mib(shape.text_bytes)}，超过"
                    f" {mib(limits.max_text_bytes)} 的上限（ingest_max_text_bytes）。"
                    "请删除超长的文字内容后重新提交。"
                )
            shapes[info.filename] = shape
        # Every other entry is read through too: its CRC proves it holds what it declares.
        for info in infos:
            if info not in sheets and info not in shared:
                for _ in _pieces(data, info, label):
                    pass
    return shapes


_SHEET = re.compile(rb"<" + _NS + rb'sheet\s[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"')
_RELATION = re.compile(rb"<" + _NS + rb'Relationship\s[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"')
NAMES_MAX_BYTES = 1 << 20


def _small_entry(data: bytes, archive: zipfile.ZipFile, name: str, label: str) -> bytes:
    """An entry that is small in any sane workbook (read at most NAMES_MAX_BYTES of it)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return b""
    if info.file_size > NAMES_MAX_BYTES:
        return b""
    return b"".join(_inflate(data, info, label))


def _sheet_names(data: bytes, archive: zipfile.ZipFile, label: str) -> dict[str, str]:
    """Entry name -> the sheet's name as the sender sees it ("xl/worksheets/sheet2.xml" ->
    "数据"), for the messages; empty where the workbook does not say."""
    book = _small_entry(data, archive, "xl/workbook.xml", label)
    rels = _small_entry(data, archive, "xl/_rels/workbook.xml.rels", label)
    targets = {rid: target.decode("utf-8", "replace") for rid, target in _RELATION.findall(rels)}
    names = {}
    for name, rid in _SHEET.findall(book):
        target = targets.get(rid)
        if target:
            path = target.lstrip("/") if target.startswith("/") else "xl/" + target
            names[path] = html.unescape(name.decode("utf-8", "replace"))
    return names


def _check_sizes(infos: list[zipfile.ZipInfo], packed: int, label: str, limits: IngestLimits) -> None:
    expanded = sum(i.file_size for i in infos)
    if expanded > limits.max_expanded_bytes:
        raise IngestError(
            f"Excel 文件 {label} 解压后为 {mib(expanded)}，超过 {mib(limits.max_expanded_bytes)} 的上限"
            "（ingest_max_expanded_bytes）。请拆分为多个文件分批提交。"
        )
    worst = max(infos, key=lambda i: i.file_size / max(i.compress_size, 1), default=None)
    for size, compressed, what in (
        (expanded, packed, "整个文件"),
        *(((worst.file_size, worst.compress_size, worst.filename),) if worst else ()),
    ):
        if size > RATIO_FLOOR and size > limits.max_zip_ratio * max(compressed, 1):
            raise IngestError(
                f"Excel 文件 {label} 的{what}压缩比为 {size / max(compressed, 1):.0f} 倍，超过"
                f" {limits.max_zip_ratio:g} 倍的上限（ingest_max_zip_ratio），疑为压缩炸弹，未读取。"
                "如确为正常数据，请另存为 .csv 后提交。"
            )
