"""Validation rules: each with its reason (in Chinese) and the physical row number."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pytest

from jingxin.core import credit_code
from jingxin.core.contracts import source
from jingxin.ingest.parse import credit_check_characters
from jingxin.ingest.readers import read_table
from jingxin.ingest.validate import Validated, validate

RNG = random.Random(7)
CODES = [credit_code.generate("330281", RNG) for _ in range(20)]
REGISTRY_HEADER = "统一社会信用代码,企业名称,区县代码,行业代码,成立日期,经营状态"
STATISTICS_HEADER = (
    "统一社会信用代码,年度,是否规上,工业增加值,营业收入,研发经费,年平均职工人数,大专以上学历人数"
)


def check(tmp_path: Path, source_id: str, lines: list[str]) -> Validated:
    path = tmp_path / f"{source_id}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return validate(read_table(path, source(source_id)))


def problems(checked: Validated) -> list[tuple[int, str, str, str]]:
    return [(r["row_number"], r["column_name"], r["value"], r["reason"]) for r in checked.errors.to_pylist()]


def only_problem(checked: Validated) -> tuple[int, str, str, str]:
    found = problems(checked)
    assert len(found) == 1, found
    return found[0]


def assert_counts(checked: Validated) -> None:
    assert checked.accepted_count + checked.rejected == checked.data_rows


# ---- required and types --------------------------------------------------------------------


def test_required_cell_empty(tmp_path):
    checked = check(
        tmp_path, "tax", ["统一社会信用代码,年度,实缴税收", f"{CODES[0]},2021,1", f"{CODES[1]},2021,  "]
    )
    assert only_problem(checked)[:2] == (3, "实缴税收")
    assert "必填项" in only_problem(checked)[3]
    assert_counts(checked)


def test_optional_cell_empty_is_null_not_zero(tmp_path):
    checked = check(tmp_path, "statistics", [STATISTICS_HEADER, f"{CODES[0]},2021,是,1,2,3,4,"])
    assert checked.accepted.column("college_staff").to_pylist() == [None]


@pytest.mark.parametrize(
    ("cell", "fragment"),
    [
        ("abc", "不是有效的数值"),
        ("12.3.4", "不是有效的数值"),
        ("1,23", "不是有效的数值"),
        ("--5", "不是有效的数值"),
    ],
)
def test_decimal_not_a_number(tmp_path, cell, fragment):
    checked = check(tmp_path, "tax", ["统一社会信用代码,年度,实缴税收", f'{CODES[0]},2021,"{cell}"'])
    row, column, value, reason = only_problem(checked)
    assert (row, column, value) == (2, "实缴税收", cell) and fragment in reason and "请" in reason


def test_integer_with_decimals(tmp_path):
    checked = check(tmp_path, "statistics", [STATISTICS_HEADER, f"{CODES[0]},2021,是,1,2,3,12.5,"])
    assert only_problem(checked)[1] == "年平均职工人数" and "应为整数" in only_problem(checked)[3]


def test_integer_written_with_unit_and_separator(tmp_path):
    checked = check(tmp_path, "statistics", [STATISTICS_HEADER, f'{CODES[0]},2021,是,1,2,3,"1,200人",'])
    assert checked.accepted.column("employees").to_pylist() == [1200]


def test_dates(tmp_path):
    lines = [REGISTRY_HEADER]
    cells = ["2021-03-15", "2021/3/5", "20210316", "2021年3月17日", "2021-02-30", "15/03/2021", "1850-01-01"]
    for i, cell in enumerate(cells):
        lines.append(f"{CODES[i]},甲{i},330281,1711,{cell},存续")
    checked = check(tmp_path, "registry", lines)
    assert checked.accepted.column("founded_on").to_pylist() == [
        dt.date(2021, 3, 15),
        dt.date(2021, 3, 5),
        dt.date(2021, 3, 16),
        dt.date(2021, 3, 17),
    ]
    bad = problems(checked)
    assert [(r, c, v) for r, c, v, _ in bad] == [
        (6, "成立日期", "2021-02-30"),
        (7, "成立日期", "15/03/2021"),
        (8, "成立日期", "1850-01-01"),
    ]
    assert all("YYYY-MM-DD" in reason for *_, reason in bad)


def test_months_are_stored_as_first_day(tmp_path):
    lines = ["统一社会信用代码,年月,用电量"]
    cells = ["2021-01", "202102", "2021年3月", "2021/4", "2021-05-01", "2021-13", "2021-06-15", "21-07"]
    lines += [f"{CODES[i]},{c},100" for i, c in enumerate(cells)]
    checked = check(tmp_path, "power", lines)
    assert checked.accepted.column("month").to_pylist() == [dt.date(2021, m, 1) for m in range(1, 6)]
    assert [r for r, *_ in problems(checked)] == [7, 8, 9]
    assert all("YYYY-MM" in reason for *_, reason in problems(checked))


def test_years(tmp_path):
    lines = ["统一社会信用代码,年度,实缴税收"] + [
        f"{CODES[i]},{y},1" for i, y in enumerate(["2021", "2021年", "21", "3021"])
    ]
    checked = check(tmp_path, "tax", lines)
    assert checked.accepted.column("year").to_pylist() == [2021, 2021]
    assert [(r, c) for r, c, *_ in problems(checked)] == [(4, "年度"), (5, "年度")]
    assert "4位年份" in problems(checked)[0][3]


def test_booleans(tmp_path):
    values = ["是", "否", "Y", "n", "1", "0", "也许"]
    lines = [STATISTICS_HEADER] + [f"{CODES[i]},2021,{v},1,2,3,4," for i, v in enumerate(values)]
    checked = check(tmp_path, "statistics", lines)
    assert checked.accepted.column("above_scale").to_pylist() == [True, False, True, False, True, False]
    row, column, value, reason = only_problem(checked)
    assert (row, column, value) == (8, "是否规上", "也许") and "“是”或“否”" in reason


# ---- ranges, allowed values, units in cells -------------------------------------------------


def test_min_max(tmp_path):
    checked = check(
        tmp_path,
        "statistics",
        [STATISTICS_HEADER, f"{CODES[0]},2021,是,1,-5,3,4,", f"{CODES[1]},2021,是,1,5,3,600000,"],
    )
    assert [(r, c, v) for r, c, v, _ in problems(checked)] == [
        (2, "营业收入", "-5"),
        (3, "年平均职工人数", "600000"),
    ]
    assert "0～100,000,000万元" in problems(checked)[0][3]


def test_range_is_checked_after_unit_conversion(tmp_path):
    # 6,000,000 万元 exceeds the 5,000,000 maximum; written in 亿元 it is 600 亿元.
    checked = check(
        tmp_path,
        "tax",
        ["统一社会信用代码,年度,实缴税收(亿元)", f"{CODES[0]},2021,600", f"{CODES[1]},2021,1"],
    )
    assert only_problem(checked)[0] == 2 and "单位亿元" in only_problem(checked)[3]
    assert checked.accepted.column("tax_paid").to_pylist() == [10000.0]


def test_allowed_values(tmp_path):
    checked = check(tmp_path, "registry", [REGISTRY_HEADER, f"{CODES[0]},甲,330281,1711,2010-01-01,营业中"])
    row, column, value, reason = only_problem(checked)
    assert (row, column, value) == (2, "经营状态", "营业中") and "存续、在业" in reason


def test_unit_in_cell_different_from_header(tmp_path):
    checked = check(
        tmp_path,
        "tax",
        [
            "统一社会信用代码,年度,实缴税收",
            f"{CODES[0]},2021,12345元",
            f"{CODES[1]},2021,12万元",
            f"{CODES[2]},2021,5 万 元",
        ],
    )
    row, column, value, reason = only_problem(checked)
    assert (row, column, value) == (2, "实缴税收", "12345元")
    assert reason.startswith("单位与表头不符") and "万元" in reason
    assert checked.accepted.column("tax_paid").to_pylist() == [12.0, 5.0]


def test_unit_in_cell_same_as_header_unit(tmp_path):
    checked = check(
        tmp_path,
        "power",
        [
            "统一社会信用代码,年月,用电量(万千瓦时)",
            f"{CODES[0]},2021-01,2万千瓦时",
            f"{CODES[1]},2021-01,2千瓦时",
        ],
    )
    assert checked.accepted.column("kwh").to_pylist() == [20000.0]
    assert "单位与表头不符" in only_problem(checked)[3]


# ---- codes ---------------------------------------------------------------------------------


def test_credit_code_check_character(tmp_path):
    good = CODES[0]
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    checked = check(tmp_path, "tax", ["统一社会信用代码,年度,实缴税收", f"{good},2021,1", f"{wrong},2021,1"])
    row, column, value, reason = only_problem(checked)
    assert (row, column, value) == (3, "统一社会信用代码", wrong)
    assert f"应为{good[17]}" in reason and "校验位" in reason


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91330281MA2", "应为18位，实为11位"),
        ("91330281MA2IOZSV01", "非法字符"),
        ("91330281-A2GXXXXXX", "非法字符"),
    ],
)
def test_credit_code_shape(tmp_path, code, fragment):
    checked = check(tmp_path, "tax", ["统一社会信用代码,年度,实缴税收", f"{code},2021,1"])
    assert fragment in only_problem(checked)[3]


def test_credit_code_lower_case_and_spaces_are_normalised(tmp_path):
    spaced = CODES[0][:6].lower() + " " + CODES[0][6:].lower()
    checked = check(tmp_path, "tax", ["统一社会信用代码,年度,实缴税收", f"{spaced},2021,1"])
    assert checked.accepted.column("credit_code").to_pylist() == [CODES[0]]


def test_vectorised_check_character_matches_core(tmp_path):
    rng = random.Random(1)
    codes = [credit_code.generate(f"33{rng.randint(1000, 9999)}", rng) for _ in range(500)]
    expected, actual = credit_check_characters(pa.array(codes))
    assert bytes(expected).decode() == "".join(c[17] for c in codes) == bytes(actual).decode()
    sliced = pa.array(["x", *codes]).slice(1)  # an offset array, as after filtering
    assert bytes(credit_check_characters(sliced)[0]).decode() == "".join(c[17] for c in codes)


def test_county_codes(tmp_path):
    lines = [REGISTRY_HEADER] + [
        f"{CODES[i]},甲{i},{county},1711,2010-01-01,存续"
        for i, county in enumerate(["330281", "330282000000", "330200", "110101", "33028"])
    ]
    checked = check(tmp_path, "registry", lines)
    assert checked.accepted.column("county_code").to_pylist() == ["330281", "330282"]
    assert [(r, c) for r, c, *_ in problems(checked)] == [(4, "区县代码"), (5, "区县代码"), (6, "区县代码")]
    assert "90个县级" in problems(checked)[0][3]


def test_industry_codes(tmp_path):
    lines = [REGISTRY_HEADER] + [
        f"{CODES[i]},甲{i},330281,{code},2010-01-01,存续"
        for i, code in enumerate(["1711", "C3821", "17", "9999", "1799X", "5111"])
    ]
    checked = check(tmp_path, "registry", lines)
    assert checked.accepted.column("industry_code").to_pylist() == ["1711", "3821", "17", "5111"]
    assert [(r, v) for r, _, v, _ in problems(checked)] == [(5, "9999"), (6, "1799X")]
    assert "GB/T 4754" in problems(checked)[0][3]


# ---- rows ----------------------------------------------------------------------------------


def test_duplicate_key_second_and_later_rejected(tmp_path):
    checked = check(
        tmp_path,
        "power",
        [
            "统一社会信用代码,年月,用电量",
            f"{CODES[0]},2021-01,1",
            f"{CODES[1]},2021-01,1",
            f"{CODES[0]},202101,2",
            f"{CODES[0]},2021年1月,3",
            f"{CODES[0]},2021-02,3",
        ],
    )
    assert [(r, c) for r, c, *_ in problems(checked)] == [
        (4, "统一社会信用代码、年月"),
        (5, "统一社会信用代码、年月"),
    ]
    assert all(reason.startswith("与第2行重复") for *_, reason in problems(checked))
    assert checked.accepted.column("source_row").to_pylist() == [2, 3, 6]


def test_truncated_last_line_is_rejected(tmp_path):
    checked = check(
        tmp_path, "tax", ["统一社会信用代码,年度,实缴税收", f"{CODES[0]},2021,1", f"{CODES[1]},20"]
    )
    row, column, value, reason = only_problem(checked)
    assert (row, column) == (3, "") and "只有2个字段" in reason
    assert checked.data_rows == 2 and checked.rejected == 1


def test_row_with_extra_fields_is_rejected(tmp_path):
    checked = check(
        tmp_path, "registry", [REGISTRY_HEADER, f"{CODES[0]},杭州,某某公司,330281,1711,2010-01-01,存续"]
    )
    assert "多于表头" in only_problem(checked)[3]


def test_every_error_of_a_row_is_collected(tmp_path):
    bad_code = CODES[0][:17] + ("0" if CODES[0][17] != "0" else "1")
    checked = check(tmp_path, "registry", [REGISTRY_HEADER, f"{bad_code},,330200,9999,2021-02-30,营业中"])
    found = problems(checked)
    assert [c for _, c, _, _ in found] == [
        "统一社会信用代码",
        "企业名称",
        "区县代码",
        "行业代码",
        "成立日期",
        "经营状态",
    ]
    assert {r for r, *_ in found} == {2} and checked.rejected == 1
    raw = checked.errors.column("raw").to_pylist()[0]
    assert '"企业名称": ""' in raw and "营业中" in raw


def test_accepted_plus_rejected_is_data_rows(tmp_path):
    lines = ["标题,,", "统一社会信用代码,年度,实缴税收"]
    lines += [f"{CODES[i]},2021,{'x' if i % 3 == 0 else i}" for i in range(12)]
    lines += ["合计,,100", f"{CODES[12]},2021"]
    checked = check(tmp_path, "tax", lines)
    assert checked.data_rows == 13 and checked.rejected == 5
    assert_counts(checked)
