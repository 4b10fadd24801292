"""Normalisation of cells and headers (规范化): full-width forms, spaces, brackets.

Departments type figures in full-width digits (１２３), separate thousands with commas, pad cells
with full-width spaces (U+3000) and write brackets either way (（元） or (元)). Unicode NFKC folds
all of these onto their ASCII forms, so every rule downstream sees one spelling. It runs
vectorised over whole columns (`pyarrow.compute.utf8_normalize`), never cell by cell.
"""

from __future__ import annotations

import re
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

_SPACES = re.compile(r"\s+")
# Brackets after NFKC: （） become (), but 【】〔〕［］ need folding by hand.
_BRACKETS = str.maketrans(
    {"【": "(", "】": ")", "〔": "(", "〕": ")", "[": "(", "]": ")", "［": "(", "］": ")"}
)
_TRAILING_GROUP = re.compile(r"^(?P<base>.+?)\((?P<inner>[^()]*)\)$")
_UNIT_PREFIX = re.compile(r"^(单位|计量单位)[:：]?")
# Decorations of template headers: required markers and numbering such as "1." or "①".
_DECORATION = re.compile(r"^[*★☆※]+|[*★☆※]+$")


def normalize_text(value: str) -> str:
    """NFKC-fold and strip one Python string (headers and the few rows read before the header)."""
    return unicodedata.normalize("NFKC", value).strip()


def normalize_header(value: str) -> str:
    """Fold a header so that spelling variants compare equal.

    Removes every space (headers wrap inside Excel cells: "实缴\\n税收"), the required-field star
    of fill-in templates ("*统一社会信用代码"), folds brackets to ASCII and lower-cases Latin
    letters ("R&D经费支出", "kWh").
    """
    text = unicodedata.normalize("NFKC", value).translate(_BRACKETS)
    text = _SPACES.sub("", text)
    text = _DECORATION.sub("", text)
    return text.lower()


def split_header_unit(header: str) -> tuple[str, str | None]:
    """Split a normalised header into its name and the unit in its trailing brackets.

    "实缴税收(元)" → ("实缴税收", "元"); "用电量(单位:万千瓦时)" → ("用电量", "万千瓦时");
    a header without brackets has no unit (None: the contract unit applies).
    """
    match = _TRAILING_GROUP.match(header)
    if not match:
        return header, None
    unit = _UNIT_PREFIX.sub("", match.group("inner"))
    return match.group("base"), unit


def unit_key(unit: str) -> str:
    """How units are compared: NFKC, no spaces or middle dots, lower case ("kW·h" = "kwh")."""
    text = unicodedata.normalize("NFKC", unit)
    return re.sub(r"[\s·•・]", "", text).lower()


def normalize_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NFKC-fold and trim a column of raw cells; empty cells become null.

    A blank cell means "not given" in departmental files (空白表示零或未知): treating it as null
    lets the required-field rule catch it instead of a type rule failing on "".
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    # NFKC leaves ASCII text as it is: a column of plain ASCII (codes, years, figures) skips it.
    ascii_only = pc.all(pc.string_is_ascii(values)).as_py() is not False
    folded = values if ascii_only else pc.utf8_normalize(values, "NFKC")
    trimmed = pc.utf8_trim_whitespace(folded)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def remove_spaces(values: pa.Array) -> pa.Array:
    """Drop every space inside a code or number ("9133 0106…", "1 234.5")."""
    return pc.replace_substring_regex(values, r"\s+", "")
