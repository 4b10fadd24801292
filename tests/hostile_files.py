"""Hostile departmental files, built in memory: small on disk, costly to a careless reader.

Workbooks are written by hand with `zipfile` (the sheet XML spelled out), so that a test can
say exactly what a file declares and what it holds: a `<dimension>` that claims the whole
sheet, cells at A1 and XFD1048576, cells without references, shared strings used a million
times, entries whose declared sizes lie. Every builder returns bytes.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Iterable

from jingxin.core import credit_code

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CODES = [credit_code.generate("330106", random.Random(i)) for i in range(50)]
TAX_HEADER = ("统一社会信用代码", "年度", "实缴税收")


def column_letters(n: int) -> str:
    """1 -> A, 16384 -> XFD."""
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def header_row() -> str:
    return (
        '<row r="1">'
        + "".join(text_cell(f"{c}1", h) for c, h in zip("ABC", TAX_HEADER, strict=True))
        + "</row>"
    )


def data_rows(n: int, first: int = 2) -> str:
    """`n` valid tax rows from row `first` on."""
    return "".join(
        f'<row r="{r}">{text_cell(f"A{r}", CODES[r % len(CODES)])}<c r="B{r}"><v>2023</v></c>'
        f'<c r="C{r}"><v>{r}.5</v></c></row>'
        for r in range(first, first + n)
    )


def sheet_xml(rows: str, dimension: str | None = "A1:C3") -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}">'
    return f"{head}{dim}<sheetData>{rows}</sheetData></worksheet>".encode()


def shared_strings_xml(items: Iterable[str]) -> bytes:
    body = "".join(f"<si><t>{t}</t></si>" for t in items)
    return f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN_NS}">{body}</sst>'.encode()


def workbook(
    sheets: list[bytes],
    shared: bytes | None = None,
    *,
    level: int = 6,
    stored: bool = False,
) -> bytes:
    """A minimal .xlsx holding `sheets` (sheet XML) and optionally a shared-string table."""
    names = [f"Sheet{i + 1}" for i in range(len(sheets))]
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(len(sheets))
    )
    if shared is not None:
        overrides += (
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL}">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    book = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
        + "".join(f'<sheet name="{n}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
        + "</sheets></workbook>"
    )
    rels = "".join(
        f'<Relationship Id="rId{i + 1}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
        for i in range(len(sheets))
    )
    if shared is not None:
        rid = len(sheets) + 1
        rels += f'<Relationship Id="rId{rid}" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
    book_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL}">{rels}</Relationships>'
    )
    out = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(out, "w", method, compresslevel=None if stored else level) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", root_rels)
        z.writestr("xl/workbook.xml", book)
        z.writestr("xl/_rels/workbook.xml.rels", book_rels)
        for i, sheet in enumerate(sheets):
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml", sheet)
        if shared is not None:
            z.writestr("xl/sharedStrings.xml", shared)
    return out.getvalue()


def forge_size(data: bytes, name: str, declared: int) -> bytes:
    """The archive with entry `name` declaring `declared` uncompressed bytes (local header and
    central directory alike), its content unchanged: a lying zip."""
    buf = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    struct.pack_into("<I", buf, info.header_offset + 22, declared)
    end = data.rindex(b"PK\x05\x06")
    (cd_offset,) = struct.unpack_from("<I", data, end + 16)
    pos = cd_offset
    while data[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46 : pos + 46 + name_len].decode() == name:
            struct.pack_into("<I", buf, pos + 24, declared)
        pos += 46 + name_len + extra_len + comment_len
    return bytes(buf)


# ---- the hostile workbooks ---------------------------------------------------------------


def corners(last: str = "XFD1048576", declared: str | None = "A1:C3") -> bytes:
    """A header, one data row, and one cell far away at `last` (the used area spans A1:last)."""
    far_row = int("".join(ch for ch in last if ch.isdigit()))
    rows = header_row() + data_rows(1) + f'<row r="{far_row}"><c r="{last}"><v>1</v></c></row>'
    return workbook([sheet_xml(rows, declared)])


def declared_only(dimension: str = "A1:XFD1048576") -> bytes:
    """Three real rows in a sheet that declares `dimension`."""
    return workbook([sheet_xml(header_row() + data_rows(2), dimension)])


def unreferenced_cells(width: int = 300) -> bytes:
    """A row of `width` cells without r="..." references (they follow on from column A)."""
    wide = '<row r="3">' + "<c><v>1</v></c>" * width + "</row>"
    return workbook([sheet_xml(header_row() + data_rows(1) + wide, None)])


def unreferenced_rows(count: int, after: int = 1_048_000) -> bytes:
    """A far row, then `count` rows without r="..." (they follow on from it)."""
    rows = header_row() + data_rows(1) + f'<row r="{after}"><c r="A{after}"><v>1</v></c></row>'
    rows += "<row><c><v>1</v></c></row>" * count
    return workbook([sheet_xml(rows, None)])


def ratio_bomb(expanded: int = 40 << 20) -> bytes:
    """A valid sheet padded with `expanded` bytes of whitespace: it compresses ~1000 times."""
    padding = " " * expanded
    return workbook([sheet_xml(header_row() + padding + data_rows(2), "A1:C3")], level=9)


def lying_small(real: int = 30 << 20) -> bytes:
    """A sheet that declares 1 KB but holds `real` bytes (a zip whose headers lie)."""
    data = ratio_bomb(real)
    return forge_size(data, "xl/worksheets/sheet1.xml", 1024)


def lying_large(declared: int = 600 << 20) -> bytes:
    """A small sheet whose entry declares `declared` uncompressed bytes."""
    return forge_size(declared_only("A1:C3"), "xl/worksheets/sheet1.xml", declared)


def many_sheets(count: int = 65) -> bytes:
    return workbook([sheet_xml(header_row() + data_rows(1)) for _ in range(count)])


def giant_shared_string(length: int = 32_000, uses: int = 10_000) -> bytes:
    """One shared string of `length` characters used by `uses` cells: the reader would copy it
    into every cell (320 MB of text at the defaults, from a file of some 100 KB)."""
    rows = header_row() + "".join(
        f'<row r="{r}">{text_cell(f"A{r}", CODES[0])}<c r="B{r}"><v>2023</v></c>'
        f'<c r="C{r}" t="s"><v>0</v></c></row>'
        for r in range(2, 2 + uses)
    )
    return workbook([sheet_xml(rows, f"A1:C{uses + 1}")], shared_strings_xml(["9" * length]))


def many_shared_strings(count: int) -> bytes:
    """A shared-string table of `count` items (used or not)."""
    return workbook(
        [sheet_xml(header_row() + data_rows(1))], shared_strings_xml(str(i) for i in range(count))
    )


def wide_and_long(rows: int, columns: int) -> bytes:
    """A real used area of rows × columns from only a handful of cells."""
    last = f"{column_letters(columns)}{rows}"
    return corners(last, None)


# ---- CSV --------------------------------------------------------------------------------


def single_line_csv(size: int = 10 << 20, encoding: str = "utf-8", bom: bool = False) -> bytes:
    """A header followed by one line of `size` bytes (no line end anywhere after the header)."""
    head = ",".join(TAX_HEADER) + "\n"
    cell = "税收数据," if encoding != "ascii" else "abc,"
    unit = cell.encode(encoding)
    body = unit * (size // len(unit))
    return (
        (b"\xef\xbb\xbf" if bom else b"") + head.encode("utf-8" if encoding == "ascii" else encoding) + body
    )


def junk_rows_csv(rows: int, encoding: str = "utf-8", width: int = 1) -> bytes:
    """The right header over rows of junk (cells `width` times as long): every row is rejected."""
    junk = "某年很多垃圾" * width
    lines = [",".join(TAX_HEADER)] + [f"垃圾{i},{junk},{junk}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode(encoding)


def mixed_csv(rows: int, bad_share: float, encoding: str = "utf-8") -> bytes:
    """`rows` tax rows of which the first `bad_share` have an invalid amount."""
    bad = int(rows * bad_share)
    codes = [credit_code.generate("330106", random.Random(1000 + i)) for i in range(rows)]
    lines = [",".join(TAX_HEADER)] + [
        f"{code},2023,{'很多' if i < bad else i + 0.5}" for i, code in enumerate(codes)
    ]
    return ("\n".join(lines) + "\n").encode(encoding)


# ---- a batch with many rejected rows ------------------------------------------------------


def seed_rejections(warehouse_url: str, batch_id: int, rows: int, per_row: int, raw_bytes: int = 40) -> None:
    """A batch with `rows` rejected rows of `per_row` problems each, written directly."""
    import datetime as dt

    import pyarrow as pa

    from jingxin.core.schema import BATCHES, REJECTED_ROWS
    from jingxin.core.warehouse import open_warehouse

    wh = open_warehouse(warehouse_url, create=True)
    try:
        batch = {
            "batch_id": batch_id,
            "source": "tax",
            "period": "2023",
            "file_name": "big.csv",
            "content_hash": f"h{batch_id}",
            "row_count": rows,
            "accepted": 0,
            "rejected": rows,
            "loaded_by": "seed",
            "loaded_at": dt.datetime(2024, 3, 1, 9, 30),
            "supersedes": None,
            "superseded_by": None,
        }
        wh.insert_arrow("batches", pa.Table.from_pylist([batch], schema=BATCHES.to_pyarrow()))
        n = rows * per_row
        numbers = pa.array([2 + i // per_row for i in range(n)], pa.int64())
        table = pa.table(
            {
                "batch_id": pa.array([batch_id] * n, pa.int64()),
                "row_number": numbers,
                "column_name": pa.array([f"列{i % per_row}" for i in range(n)]),
                "value": pa.array([f"=v{i}" for i in range(n)]),
                "reason": pa.array(["不是有效的数值"] * n),
                "raw": pa.array(["x" * raw_bytes] * n),
            }
        )
        wh.insert_arrow("rejected_rows", table.cast(REJECTED_ROWS.to_pyarrow()))
    finally:
        wh.close()
