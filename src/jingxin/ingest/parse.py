"""Vectorised typing of cells (类型解析): decimal, integer, year, month, date, boolean, codes.

Every parser takes a whole column of normalised strings (null = blank cell) and returns the
typed column plus the problems found: the positions of the rows concerned and a Chinese reason
that says what is wrong and how to fix it. There is no Python loop over rows: a 1M-row file is
a few dozen Arrow and numpy kernels (see bench/bench_ingest.py).

Speed comes from the common case: most cells are already in canonical form ("2021",
"2021-03-15", "1234.5", an 18-character code), which one cheap pattern recognises; only the
other cells go through the slower rewriting (spaces, full-width forms already folded, 年/月
forms, thousands separators, units) and are scattered back in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jingxin.core.contracts import load_contracts
from jingxin.core.credit_code import ALPHABET, WEIGHTS
from jingxin.ingest.headers import ColumnBinding, canonical_unit
from jingxin.ingest.normalize import remove_spaces as strip_spaces

SIMPLE_NUMBER = r"^[+-]?\d+(?:\.\d+)?$"
NUMBER_PATTERN = (
    r"^(?P<number>[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?|[+-]?\.\d+(?:[eE][+-]?\d+)?)"
    r"\s*(?P<unit>[^\d.,+\-]*)$"  # a unit text after the number: no digits or separators
)
YEAR_RANGE = (1900, 2100)
_EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01 (serials count days from 1899-12-30)
_NULL_STRING = pa.scalar(None, pa.string())


@dataclass
class Problem:
    """Rows with one kind of problem: their positions (ascending) and the reason, either one
    text for all or one per position."""

    positions: np.ndarray
    reason: str | pa.Array


@dataclass
class Parsed:
    values: pa.Array  # typed; null where blank or invalid
    problems: list[Problem] = field(default_factory=list)

    def flag(
        self, where: np.ndarray | pa.Array, reason: str | pa.Array | Callable[[np.ndarray], pa.Array]
    ) -> np.ndarray:
        """Record a problem for the rows in `where` (a boolean mask or positions); `reason` is a
        text, per-row texts for the flagged rows, or a function from positions to such texts
        (so they are built for flagged rows only). Returns the positions."""
        positions = _positions(where)
        if len(positions):
            text = reason if isinstance(reason, str | pa.Array) else reason(positions)
            self.problems.append(Problem(positions, text))
        return positions


def _positions(where: np.ndarray | pa.Array) -> np.ndarray:
    if isinstance(where, pa.Array | pa.ChunkedArray):
        where = pc.fill_null(where, False).to_numpy(zero_copy_only=False)
    if where.dtype == bool:
        return np.flatnonzero(where)
    return where.astype(np.int64)


def _mask(n: int, positions: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, bool)
    mask[positions] = True
    return mask


def _scatter(base: pa.Array, positions: np.ndarray, values: pa.Array) -> pa.Array:
    """`base` with the cells at `positions` replaced by `values` (in order)."""
    if len(positions) == 0:
        return base
    return pc.replace_with_mask(base, pa.array(_mask(len(base), positions)), values.cast(base.type))


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)


def _canonicalize(
    values: pa.Array, canonical: str, fix: Callable[[pa.Array], pa.Array]
) -> tuple[pa.Array, np.ndarray]:
    """Apply `fix` only to the non-blank cells that do not already match `canonical`; return
    the cells and which of them match `canonical` afterwards."""
    shaped = _matches(values, canonical)
    odd = np.flatnonzero(~shaped & values.is_valid().to_numpy(zero_copy_only=False))
    if len(odd) == 0:
        return values, shaped
    fixed = fix(_take(values, odd))
    shaped[odd] = _matches(fixed, canonical)
    return _scatter(values, odd, fixed), shaped


def _rewrite(forms: Iterable[tuple[str, str]]) -> Callable[[pa.Array], pa.Array]:
    def fix(values: pa.Array) -> pa.Array:
        values = strip_spaces(values)
        for pattern, replacement in forms:
            values = pc.replace_substring_regex(values, pattern, replacement)
        return values

    return fix


def join(*parts: str | pa.Array) -> pa.Array:
    """Concatenate text per row, broadcasting plain strings ("应为" + value + "…")."""
    return pc.binary_join_element_wise(*parts, "")


def _take(values: pa.Array, positions: np.ndarray) -> pa.Array:
    return values.take(pa.array(positions, pa.int64()))


# ---- numbers -------------------------------------------------------------------------------


def _unit_texts_accepted(unit: str | None, texts: Iterable[str]) -> list[str]:
    """Which unit texts written inside cells mean the header's unit exactly ("度" = "千瓦时")."""
    if unit is None:
        return []
    contracts = load_contracts()
    ok = []
    for text in texts:
        canonical = canonical_unit(text)
        if canonical is not None and contracts.convert_factor(canonical, unit) == 1.0:
            ok.append(text)
    return ok


def parse_number(values: pa.Array, binding: ColumnBinding, integer: bool = False) -> Parsed:
    """Decimal or integer in the contract unit.

    Thousands separators are removed; a unit written in the cell is accepted only when it is
    the header's unit ("12,345万元" under 万元), otherwise the row is rejected as 单位与表头不符
    ("12345元" under 万元): mixing units silently is the one thing that must never happen. The
    header's unit converts to the contract unit by `binding.factor`.
    """
    n = len(values)
    present = values.is_valid().to_numpy(zero_copy_only=False)
    simple = _matches(values, SIMPLE_NUMBER)
    numeric = pc.cast(pc.if_else(pa.array(simple), values, _NULL_STRING), pa.float64()).to_numpy(
        zero_copy_only=False
    )
    ok = simple.copy()
    out = Parsed(pa.nulls(n, pa.float64()))
    header_unit = binding.unit_in_file or ""
    complex_pos = np.flatnonzero(present & ~simple)
    if len(complex_pos):
        sub = pc.utf8_trim_whitespace(_take(values, complex_pos))
        parts = pc.extract_regex(sub, NUMBER_PATTERN)
        matched = pc.fill_null(pc.is_valid(parts), False).to_numpy(zero_copy_only=False)
        example = "120" if integer else "12345.67"
        out.flag(
            complex_pos[~matched],
            f"不是有效的{'整数' if integer else '数值'}；请只填写数字（如{example}，可带千分位逗号）"
            f"{f'，单位为{header_unit}' if header_unit else ''}，不要填写文字或符号",
        )
        number = pc.struct_field(parts, "number")
        unit_text = pc.utf8_trim_whitespace(pc.struct_field(parts, "unit"))
        has_unit = matched & pc.fill_null(pc.not_equal(unit_text, ""), False).to_numpy(zero_copy_only=False)
        wrong = np.zeros(len(sub), bool)
        if has_unit.any():
            distinct = pc.unique(unit_text.filter(pa.array(has_unit))).to_pylist()
            accepted = pa.array(_unit_texts_accepted(binding.unit_in_file, distinct), pa.string())
            wrong = has_unit & ~pc.is_in(unit_text, accepted).to_numpy(zero_copy_only=False)
            shown = unit_text.filter(pa.array(wrong))
            if header_unit:
                reason = join(
                    f"单位与表头不符：表头单位为{header_unit}，本格写的是“",
                    shown,
                    f"”；请换算为{header_unit}后只填写数字",
                )
            else:
                reason = join("单位与表头不符：本格带有“", shown, "”；请只填写数字")
            out.flag(complex_pos[wrong], reason)
        good = matched & ~wrong
        cleaned = pc.replace_substring(number.filter(pa.array(good)), ",", "")
        numeric[complex_pos[good]] = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
        ok[complex_pos[good]] = True
    if binding.factor != 1.0:
        numeric = np.round(numeric * binding.factor, 6)
    if integer:
        fractional = ok & (np.floor(numeric) != numeric)
        out.flag(fractional, f"应为整数（{binding.column.unit or '个'}）；请不要填写小数")
        ok &= ~fractional
        out.values = pa.array(np.where(ok, numeric, 0).astype(np.int64), mask=~ok)
    else:
        out.values = pa.array(numeric, mask=~ok)
    return out


def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def check_range(parsed: Parsed, binding: ColumnBinding, shown: pa.Array) -> None:
    """min/max of the contract, checked in the contract unit (after conversion); the reason
    quotes the cell as sent, in the file's unit."""
    col = binding.column
    if col.min is None and col.max is None:
        return
    values = pc.cast(parsed.values, pa.float64()).to_numpy(zero_copy_only=False)
    low = -np.inf if col.min is None else col.min
    high = np.inf if col.max is None else col.max
    with np.errstate(invalid="ignore"):
        outside = (values < low) | (values > high)  # NaN (blank or invalid) compares False
    span = f"{_fmt(low) if col.min is not None else '-∞'}～{_fmt(high) if col.max is not None else '+∞'}"
    unit = col.unit or ""
    file_unit = f"，单位{binding.unit}" if binding.factor != 1.0 else ""
    positions = parsed.flag(
        outside,
        lambda pos: join(
            f"超出取值范围：{col.header}应在{span}{unit}之间，本格为“",
            pc.utf8_trim_whitespace(_take(shown, pos)),
            f"”{file_unit}；请核对数值和单位",
        ),
    )
    parsed.values = _scatter(parsed.values, positions, pa.nulls(len(positions), parsed.values.type))


# ---- dates ---------------------------------------------------------------------------------

_YMD = r"^\d{4}-\d{2}-\d{2}$"


def _pad_ymd(values: pa.Array) -> pa.Array:
    parts = pc.extract_regex(values, r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$")
    padded = join(
        pc.struct_field(parts, "y"),
        "-",
        pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0"),
        "-",
        pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0"),
    )
    return pc.if_else(pc.is_valid(parts), padded, _NULL_STRING)


def _to_date(ymd: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """'YYYY-M-D' strings to date32, and a mask of the non-blank strings that are not real
    dates in the accepted years (2021-02-30 is caught by formatting the date back)."""
    padded, _ = _canonicalize(ymd, _YMD, _pad_ymd)
    stamp = pc.strptime(padded, format="%Y-%m-%d", unit="s", error_is_null=True)
    real = pc.fill_null(pc.equal(pc.strftime(stamp, format="%Y-%m-%d"), padded), False)
    year = pc.year(stamp)
    in_range = pc.fill_null(
        pc.and_(pc.greater_equal(year, YEAR_RANGE[0]), pc.less_equal(year, YEAR_RANGE[1])), False
    )
    good = pc.and_(real, in_range)
    dates = pc.cast(pc.if_else(good, stamp, pa.scalar(None, stamp.type)), pa.date32())
    bad = ymd.is_valid().to_numpy(zero_copy_only=False) & ~good.to_numpy(zero_copy_only=False)
    return dates, bad


_DATE_FORMS = (
    (r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", r"\1-\2-\3"),
    (r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$", r"\1-\2-\3"),
    (r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3"),
)
_SERIAL = r"^\d{1,5}(?:\.0+)?$"


def parse_date(values: pa.Array, header: str) -> Parsed:
    """YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, YYYY年M月D日 or an Excel date (a cell typed as date,
    or its serial number such as 44927 when the cell lost its date format)."""
    text, _ = _canonicalize(values, _YMD, _rewrite(_DATE_FORMS))
    serial = _matches(text, _SERIAL)
    dates, bad = _to_date(pc.if_else(pa.array(serial), _NULL_STRING, text))
    if serial.any():
        days = pc.cast(pc.cast(pc.if_else(pa.array(serial), text, _NULL_STRING), pa.float64()), pa.int64())
        serial_dates = pc.cast(pc.cast(pc.subtract(days, _EXCEL_EPOCH_OFFSET), pa.int32()), pa.date32())
        dates = pc.if_else(pa.array(serial), serial_dates, dates)
    out = Parsed(dates)
    out.flag(
        bad & ~serial,
        f"不是有效的日期；{header}请按YYYY-MM-DD填写（如2021-03-15，年份在{YEAR_RANGE[0]}～{YEAR_RANGE[1]}之间）",
    )
    return out


_MONTH_FORMS = (
    (r"^(\d{4})[-/.](\d{1,2})$", r"\1-\2"),
    (r"^(\d{4})年(\d{1,2})月?$", r"\1-\2"),
    (r"^(\d{4})(\d{2})$", r"\1-\2"),
    (r"^(\d{4})[-/.](\d{1,2})[-/.]0?1(?:[ T]0{1,2}:00(?::00)?)?$", r"\1-\2"),  # a date typed by Excel
)


def parse_month(values: pa.Array, header: str) -> Parsed:
    """A month (YYYY-MM, YYYYMM, YYYY年M月, or an Excel date on the 1st), stored as the first
    day of the month."""
    text, _ = _canonicalize(values, r"^\d{4}-\d{2}$", _rewrite(_MONTH_FORMS))
    shaped = _matches(text, r"^\d{4}-\d{1,2}$")
    dates, bad = _to_date(pc.if_else(pa.array(shaped), join(text, "-01"), _NULL_STRING))
    present = values.is_valid().to_numpy(zero_copy_only=False)
    out = Parsed(dates)
    out.flag(
        (present & ~shaped) | bad,
        f"不是有效的年月；{header}请按YYYY-MM填写（如2021-03，也可写202103或2021年3月）",
    )
    return out


def parse_year(values: pa.Array, header: str) -> Parsed:
    """A 4-digit year, "2021" or "2021年" (an Excel number 2021.0 arrives as "2021")."""
    digits, shaped = _canonicalize(values, r"^\d{4}$", _rewrite([(r"^(\d{4})(?:年|\.0+)?$", r"\1")]))
    year = pc.cast(pc.if_else(pa.array(shaped), digits, _NULL_STRING), pa.int32()).to_numpy(
        zero_copy_only=False
    )
    with np.errstate(invalid="ignore"):
        ok = shaped & (year >= YEAR_RANGE[0]) & (year <= YEAR_RANGE[1])
    out = Parsed(pa.array(np.where(ok, year, 0).astype(np.int32), mask=~ok))
    present = values.is_valid().to_numpy(zero_copy_only=False)
    out.flag(
        present & ~ok,
        f"不是有效的年度；{header}请填写4位年份（如2021，在{YEAR_RANGE[0]}～{YEAR_RANGE[1]}之间）",
    )
    return out


# ---- booleans and codes --------------------------------------------------------------------

TRUE_WORDS = ("是", "Y", "YES", "1", "TRUE", "T", "√")
FALSE_WORDS = ("否", "N", "NO", "0", "FALSE", "F", "×")


def parse_boolean(values: pa.Array, header: str) -> Parsed:
    """是/否, Y/N, 1/0 (and TRUE/FALSE as Excel writes a logical cell)."""
    text = pc.ascii_upper(strip_spaces(values))
    yes = pc.is_in(text, pa.array(TRUE_WORDS))
    known = pc.or_(yes, pc.is_in(text, pa.array(FALSE_WORDS)))
    out = Parsed(pc.if_else(known, yes, pa.scalar(None, pa.bool_())))
    out.flag(
        pc.and_(pc.is_valid(values), pc.invert(known)),
        f"不是有效的是/否值；{header}请填写“是”或“否”（也可写Y/N、1/0）",
    )
    return out


_LOOKUP = np.zeros(256, np.int32)
for _i, _ch in enumerate(ALPHABET):
    _LOOKUP[ord(_ch)] = _i
_ALPHABET_BYTES = np.frombuffer(ALPHABET.encode(), np.uint8)
CREDIT_PATTERN = r"^[0-9A-HJ-NP-RTUWXY]{18}$"


def credit_check_characters(codes: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Expected and actual 18th characters (as bytes) of well-formed codes (GB 32100-2015),
    computed column by column over the (n × 18) byte matrix of the codes."""
    codes = codes.cast(pa.string())
    if len(codes) == 0:
        return np.array([], np.uint8), np.array([], np.uint8)
    codes = pa.concat_arrays([codes])  # fresh buffers: offsets start at the data start
    offsets = np.frombuffer(codes.buffers()[1], np.int32)[codes.offset : codes.offset + len(codes) + 1]
    raw = np.frombuffer(codes.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 18)
    total = np.zeros(len(raw), np.int32)
    for i, weight in enumerate(WEIGHTS):
        total += _LOOKUP[raw[:, i]] * weight
    return _ALPHABET_BYTES[(31 - total % 31) % 31], raw[:, 17].copy()


def parse_credit_code(values: pa.Array, header: str) -> Parsed:
    """Unified social credit code: 18 characters of the GB 32100 set with a correct check
    character. Lower-case letters and spaces are normalised away first."""
    text, shaped = _canonicalize(values, CREDIT_PATTERN, lambda v: pc.ascii_upper(strip_spaces(v)))
    present = text.is_valid().to_numpy(zero_copy_only=False)
    length = pc.utf8_length(text).to_numpy(zero_copy_only=False)
    out = Parsed(text)
    wrong_length = present & ~shaped & (length != 18)
    out.flag(
        wrong_length,
        lambda pos: join(
            f"{header}应为18位，实为",
            pc.cast(_take(pc.utf8_length(text), pos), pa.string()),
            "位；请核对是否多输、漏输或混入其他字符",
        ),
    )
    out.flag(
        present & ~shaped & ~wrong_length,
        f"{header}含非法字符：只能使用数字和大写字母（不含I、O、Z、S、V）；请核对代码",
    )
    shaped_pos = np.flatnonzero(shaped)
    expected, actual = credit_check_characters(_take(text, shaped_pos))
    wrong = expected != actual
    bad_check = shaped_pos[wrong]
    out.flag(
        bad_check,
        lambda pos: pa.array(
            [
                f"{header}校验位错误：按GB 32100计算第18位应为{chr(e)}，实为{chr(a)}；请核对代码是否录入有误"
                for e, a in zip(expected[wrong], actual[wrong], strict=True)
            ],
            pa.string(),
        ),
    )
    invalid = ~shaped
    invalid[bad_check] = True
    out.values = pc.if_else(pa.array(invalid), _NULL_STRING, text)
    return out


@cache
def _county_codes() -> pa.Array:
    from jingxin.reference import county_codes

    return pa.array(sorted(county_codes()), pa.string())


def parse_county(values: pa.Array, header: str) -> Parsed:
    """One of the 90 county-level codes of Zhejiang (GB/T 2260). A 12-digit statistical code
    (统计用区划代码) ending in six zeros is read as its first six digits."""
    text, _ = _canonicalize(values, r"^\d{6}$", _rewrite([(r"^(\d{6})0{6}$", r"\1")]))
    known = pc.is_in(text, _county_codes())
    out = Parsed(pc.if_else(known, text, _NULL_STRING))
    out.flag(
        pc.and_(pc.is_valid(text), pc.invert(known)),
        f"{header}不是浙江省90个县级行政区划代码之一；请填写6位县级代码（如西湖区330106），不要填写市级或乡镇代码",
    )
    return out


@cache
def _industry_sets() -> tuple[pa.Array, pa.Array]:
    """Codes of GB/T 4754 known to the reference table, and the divisions whose groups and
    classes the table does not enumerate (a 3/4-digit code under those is accepted when its
    division exists, since the table carries only the divisions there)."""
    from jingxin.reference import industries

    items = industries()
    codes = [i.code for i in items if i.code.isdigit()]
    enumerated = {i.code[:2] for i in items if i.level in ("group", "class")}
    open_divisions = [i.code for i in items if i.level == "division" and i.code not in enumerated]
    return pa.array(codes, pa.string()), pa.array(open_divisions, pa.string())


def parse_industry(values: pa.Array, header: str) -> Parsed:
    """A GB/T 4754-2017 code of 2–4 digits ("C1711" is read as "1711")."""
    text, _ = _canonicalize(values, r"^\d{2,4}$", _rewrite([(r"^[A-Ta-t](\d{2,4})$", r"\1")]))
    known, open_divisions = _industry_sets()
    listed = pc.is_in(text, known)
    under_open = pc.and_(
        pa.array(_matches(text, r"^\d{3,4}$")),
        pc.is_in(pc.utf8_slice_codeunits(text, 0, 2), open_divisions),
    )
    ok = pc.or_(listed, under_open)
    out = Parsed(pc.if_else(ok, text, _NULL_STRING))
    out.flag(
        pc.and_(pc.is_valid(text), pc.invert(ok)),
        f"{header}不在国民经济行业分类（GB/T 4754-2017）中；请填写2～4位数字行业代码（如1711）",
    )
    return out


def parse_text(values: pa.Array, header: str) -> Parsed:
    return Parsed(values)


def check_allowed(parsed: Parsed, allowed: list[str], header: str) -> None:
    ok = pc.is_in(parsed.values, pa.array(allowed, pa.string()))
    bad = pc.and_(pc.is_valid(parsed.values), pc.invert(ok))
    parsed.flag(bad, f"{header}的取值不在允许范围内；只能填写：{'、'.join(allowed)}")
    parsed.values = pc.if_else(bad, _NULL_STRING, parsed.values)
