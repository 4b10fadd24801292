"""Readers: the quirks of departmental files (title rows, totals rows, encodings, full-width
characters, thousands separators, aliases, units in headers, merged Excel headers)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import openpyxl
import pyarrow.compute as pc
import pytest

from jingxin.core import credit_code
from jingxin.core.contracts import source
from jingxin.ingest.errors import IngestError
from jingxin.ingest.readers import read_table
from jingxin.ingest.validate import validate

RNG = random.Random(42)
CODES = [credit_code.generate("330106", RNG) for _ in range(20)]


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return path


def write_xlsx(path: Path, rows: list[list[object]], merges: tuple[str, ...] = ()) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for cells in merges:
        sheet.merge_cells(cells)
    book.save(path)
    return path


def tax_values(path: Path) -> list[dict]:
    checked = validate(read_table(path, source("tax")))
    return checked.accepted.to_pylist()


# ---- header row, title rows, totals and notes rows -------------------------------------


def test_title_rows_above_header_and_totals_and_notes_rows_are_not_data(tmp_path):
    path = write_csv(
        tmp_path / "tax.csv",
        [
            "2021年度重点企业实缴税收明细表,,",
            "填报单位：某某区税务局,,2022年3月",
            "统一社会信用代码,年度,实缴税收",
            f"{CODES[0]},2021,10.5",
            f"{CODES[1]},2021,20",
            "合计,,30.5",
            "注：本表数据来源于金税三期系统。",
        ],
    )
    raw = read_table(path, source("tax"))
    assert raw.header_rows == (3, 3)
    assert raw.row_number.to_pylist() == [4, 5]
    assert raw.data_rows == 2  # the totals and notes rows are not counted
    assert [(s.row_number, s.kind) for s in raw.skipped] == [(6, "合计/注释行"), (7, "合计/注释行")]
    checked = validate(raw)
    assert checked.accepted.num_rows == 2 and checked.rejected == 0


def test_totals_row_variants_and_company_names_that_look_like_notes(tmp_path):
    path = write_csv(
        tmp_path / "registry.csv",
        [
            "统一社会信用代码,企业名称,区县代码,行业代码,成立日期,经营状态",
            f"{CODES[0]},注塑科技有限公司,330106,2929,2010-01-01,存续",
            ",合　计：,,,,",
            "总计(户),,,,,",
            "填表人：张三,,,,,",
            "备注1、数据截至年底,,,,,",
        ],
    )
    raw = read_table(path, source("registry"))
    assert raw.row_number.to_pylist() == [2]
    assert [s.row_number for s in raw.skipped] == [3, 4, 5, 6]


def test_xlsx_title_row_merged_and_totals_row(tmp_path):
    path = write_xlsx(
        tmp_path / "tax.xlsx",
        [
            ["2021年度企业税收", None, None],
            [None, None, None],
            ["统一社会信用代码", "年度", "实缴税收（万元）"],
            [CODES[0], 2021, 12.5],
            [CODES[1], 2021, 1234567],
            ["合计", None, 1234579.5],
        ],
        merges=("A1:C1",),
    )
    raw = read_table(path, source("tax"))
    assert raw.header_rows == (3, 3)
    assert raw.row_number.to_pylist() == [4, 5]
    assert raw.data_rows == 2
    assert [r["tax_paid"] for r in tax_values(path)] == [12.5, 1234567.0]
    assert [r["source_row"] for r in tax_values(path)] == [4, 5]


def test_xlsx_two_row_merged_header(tmp_path):
    path = write_xlsx(
        tmp_path / "statistics.xlsx",
        [
            ["企业年度统计", None, None, None, None, None, None, None],
            ["统一社会信用代码", "年度", "是否规上", "经营情况", None, None, "从业人员", None],
            [None, None, None, "工业增加值", "营业收入", "研发经费", "年平均职工人数", "大专以上学历人数"],
            [CODES[0], 2021, "是", 100, 500, 10, 50, 5],
        ],
        merges=("A1:H1", "A2:A3", "B2:B3", "C2:C3", "D2:F2", "G2:H2"),
    )
    raw = read_table(path, source("statistics"))
    assert raw.header_rows[1] == 3  # merged cells are filled down, so row 3 names every column
    assert raw.row_number.to_pylist() == [4]
    row = validate(raw).accepted.to_pylist()[0]
    assert row["above_scale"] is True and row["employees"] == 50 and row["college_staff"] == 5


def test_no_header_in_first_rows_is_refused(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["a,b,c", "1,2,3"])
    with pytest.raises(IngestError, match="x.csv.*没有找到表头行"):
        read_table(path, source("tax"))


# ---- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_csv_encodings(tmp_path, encoding):
    path = write_csv(
        tmp_path / "registry.csv",
        [
            "统一社会信用代码,企业名称,区县代码,行业代码,成立日期,经营状态",
            f"{CODES[0]},杭州镕铖纺织有限公司,330106,1711,2010-01-01,存续",
        ],
        encoding=encoding,
    )
    raw = read_table(path, source("registry"))
    assert raw.encoding == ("gb18030" if encoding.startswith("gb") else encoding)
    assert validate(raw).accepted.column("name").to_pylist() == ["杭州镕铖纺织有限公司"]


def test_undecodable_csv_is_refused(tmp_path):
    path = tmp_path / "tax.csv"
    path.write_bytes("统一社会信用代码,年度,实缴税收\n".encode() + b"\xff\xfe\xfd\x80\x80\n")
    with pytest.raises(IngestError, match="无法识别文件 tax.csv 的编码"):
        read_table(path, source("tax"))


def test_crlf_tab_delimited_csv(tmp_path):
    path = write_csv(
        tmp_path / "tax.txt",
        ["统一社会信用代码\t年度\t实缴税收", f"{CODES[0]}\t2021\t1,000.5", f"{CODES[1]}\t2021\t2"],
        newline="\r\n",
    )
    assert [r["tax_paid"] for r in tax_values(path)] == [1000.5, 2.0]


# ---- normalisation -------------------------------------------------------------------------


def test_full_width_digits_letters_spaces_and_brackets(tmp_path):
    code = CODES[0].translate(
        str.maketrans(
            "0123456789ABCDEFGHJKLMNPQRTUWXY",
            "０１２３４５６７８９ＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹ",
        )
    )
    path = write_csv(
        tmp_path / "tax.csv",
        ["统一社会信用代码　,年　度,实缴税收（万元）", f"　{code}　,２０２１,１２３．５"],
    )
    assert tax_values(path) == [{"source_row": 2, "credit_code": CODES[0], "year": 2021, "tax_paid": 123.5}]


def test_thousands_separators_and_quoted_cells(tmp_path):
    path = write_csv(
        tmp_path / "tax.csv",
        [
            "统一社会信用代码,年度,实缴税收",
            f'{CODES[0]},2021,"1,234,567.89"',
            f'{CODES[1]},2021,"１，２３４"',
            f"{CODES[2]},2021,1.5E+03",
        ],
    )
    assert [r["tax_paid"] for r in tax_values(path)] == [1234567.89, 1234.0, 1500.0]


def test_header_aliases_spaces_and_required_star(tmp_path):
    path = write_csv(
        tmp_path / "tax.csv",
        ["*纳税人识别号, 所属 年度 ,实际入库税收", f"{CODES[0]},2021,7"],
    )
    raw = read_table(path, source("tax"))
    assert {k: b.index for k, b in raw.match.bindings.items()} == {"credit_code": 0, "year": 1, "tax_paid": 2}
    assert tax_values(path)[0]["tax_paid"] == 7.0


def test_quoted_line_break_inside_a_cell_keeps_row_numbers(tmp_path):
    path = write_csv(
        tmp_path / "registry.csv",
        [
            "统一社会信用代码,企业名称,区县代码,行业代码,成立日期,经营状态",
            f'{CODES[0]},"杭州某某纺织',
            '有限公司",330106,1711,2010-01-01,存续',
            f"{CODES[1]},杭州另一家有限公司,330106,1711,2011-01-01,存续",
        ],
    )
    raw = read_table(path, source("registry"))
    assert raw.row_number.to_pylist() == [2, 4]
    assert validate(raw).accepted.column("name").to_pylist()[0] == "杭州某某纺织\n有限公司"


def test_excel_padded_rows_with_trailing_empty_fields_are_data(tmp_path):
    path = write_csv(
        tmp_path / "tax.csv",
        ["企业税收,,,,", "统一社会信用代码,年度,实缴税收", f"{CODES[0]},2021,1,,", f"{CODES[1]},2021,2"],
    )
    raw = read_table(path, source("tax"))
    assert raw.row_number.to_pylist() == [3, 4] and not raw.malformed


# ---- units ---------------------------------------------------------------------------------


def test_yuan_header_is_converted_to_wan_yuan(tmp_path):
    path = write_csv(
        tmp_path / "tax.csv", ["统一社会信用代码,年度,实缴税收(元)", f'{CODES[0]},2021,"12,345.6"']
    )
    raw = read_table(path, source("tax"))
    binding = raw.match.bindings["tax_paid"]
    assert (binding.unit, binding.factor) == ("元", 0.0001)
    assert tax_values(path)[0]["tax_paid"] == pytest.approx(1.23456)


def test_wan_kwh_header_is_converted_to_kwh(tmp_path):
    path = write_csv(
        tmp_path / "power.csv",
        ["统一社会信用代码,年月,用电量（万千瓦时）", f"{CODES[0]},2021-03,1.25", f"{CODES[1]},202103,30"],
    )
    checked = validate(read_table(path, source("power")))
    assert checked.accepted.column("kwh").to_pylist() == [12500.0, 300000.0]
    assert checked.accepted.column("month").to_pylist() == [dt.date(2021, 3, 1)] * 2


def test_header_unit_equal_to_contract_unit_is_fine(tmp_path):
    path = write_csv(
        tmp_path / "land.csv",
        ["统一社会信用代码,宗地编号,用地面积(亩),土地用途,取得方式", f"{CODES[0]},P1,12.5,工业,出让"],
    )
    assert validate(read_table(path, source("land"))).accepted.column("area_mu").to_pylist() == [12.5]


def test_square_metres_header_is_converted_to_mu(tmp_path):
    path = write_csv(
        tmp_path / "land.csv",
        ["统一社会信用代码,宗地编号,用地面积【平方米】,土地用途,取得方式", f"{CODES[0]},P1,6666.7,工业,出让"],
    )
    area = validate(read_table(path, source("land"))).accepted.column("area_mu").to_pylist()[0]
    assert area == pytest.approx(10.00005)


@pytest.mark.parametrize("header", ["实缴税收(美元)", "实缴税收(吨)"])
def test_unknown_or_other_family_unit_refuses_the_file(tmp_path, header):
    path = write_csv(tmp_path / "tax_2021.csv", [f"统一社会信用代码,年度,{header}", f"{CODES[0]},2021,1"])
    with pytest.raises(IngestError) as info:
        read_table(path, source("tax"))
    message = str(info.value)
    assert "tax_2021.csv" in message and header in message and "万元" in message


def test_missing_required_column_names_file_column_and_aliases(tmp_path):
    path = write_csv(
        tmp_path / "statistics_2021.csv",
        ["统一社会信用代码,年度,是否规上,工业增加值,营业收入,研发经费", f"{CODES[0]},2021,是,1,2,3"],
    )
    with pytest.raises(IngestError) as info:
        read_table(path, source("statistics"))
    message = str(info.value)
    assert "statistics_2021.csv" in message
    assert "年平均职工人数" in message and "从业人员平均人数" in message and "平均职工人数" in message
    assert "大专以上学历人数" not in message  # optional


def test_optional_column_may_be_missing(tmp_path):
    path = write_csv(
        tmp_path / "statistics.csv",
        [
            "统一社会信用代码,年度,是否规上,工业增加值,营业收入,研发经费,年平均职工人数",
            f"{CODES[0]},2021,否,1,2,3,4",
        ],
    )
    row = validate(read_table(path, source("statistics"))).accepted.to_pylist()[0]
    assert row["college_staff"] is None and row["above_scale"] is False


def test_two_columns_for_one_contract_column_refuse_the_file(tmp_path):
    path = write_csv(
        tmp_path / "tax.csv", ["统一社会信用代码,信用代码,年度,实缴税收", f"{CODES[0]},{CODES[0]},2021,1"]
    )
    with pytest.raises(IngestError, match="都对应「统一社会信用代码」"):
        read_table(path, source("tax"))


def test_xlsx_typed_cells_dates_years_and_serials(tmp_path):
    path = write_xlsx(
        tmp_path / "registry.xlsx",
        [
            ["统一社会信用代码", "企业名称", "区县代码", "行业代码", "成立日期", "经营状态"],
            [CODES[0], "甲", 330106, 1711, dt.date(2012, 5, 3), "存续"],
            [CODES[1], "乙", "330106", "C1711", dt.datetime(2013, 1, 2, 0, 0), "在业"],
            [CODES[2], "丙", 330106000000, 3821, 44927, "存续"],
            [CODES[3], "丁", 330106, 3821, "2015年7月8日", "存续"],
        ],
    )
    checked = validate(read_table(path, source("registry")))
    assert checked.rejected == 0
    assert checked.accepted.column("founded_on").to_pylist() == [
        dt.date(2012, 5, 3),
        dt.date(2013, 1, 2),
        dt.date(2023, 1, 1),
        dt.date(2015, 7, 8),
    ]
    assert checked.accepted.column("industry_code").to_pylist() == ["1711", "1711", "3821", "3821"]
    assert pc.all(pc.equal(checked.accepted.column("county_code"), "330106")).as_py()


def test_cover_sheet_before_data_sheet(tmp_path):
    path = tmp_path / "tax.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "填表说明"
    book.active.append(["请按要求填写"])
    data = book.create_sheet("数据")
    data.append(["统一社会信用代码", "年度", "实缴税收"])
    data.append([CODES[0], 2021, 3])
    book.save(path)
    assert tax_values(path)[0]["tax_paid"] == 3.0


def test_csv_two_level_header_and_units_row(tmp_path):
    grouped = write_csv(
        tmp_path / "tax.csv",
        ["统一社会信用代码,年度,税收情况", ",,实缴税收", f"{CODES[0]},2021,5"],
    )
    raw = read_table(grouped, source("tax"))
    assert raw.header_rows == (1, 2) and raw.row_number.to_pylist() == [3]
    units_row = write_csv(
        tmp_path / "tax2.csv",
        ["统一社会信用代码,年度,实缴税收", ",,（元）", f"{CODES[0]},2021,50000"],
    )
    assert tax_values(units_row) == [
        {"source_row": 3, "credit_code": CODES[0], "year": 2021, "tax_paid": 5.0}
    ]


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("H\n{0},2021,1", [2]),  # no line end after the last row
        ("H\r\n\r\n{0},2021,1\r\n\r\n\r\n{1},2021,2\r\n", [3, 6]),  # CRLF and blank lines
        ("H\n   \n{0},2021,1\n", [3]),  # a line of spaces is blank
        ("H\r{0},2021,1\r{1},2021,2\r", [2, 3]),  # classic Mac line ends
        ('H\n{0},2021,1\n{1},20"21,2\n', [2, 3]),  # a stray quote inside a cell
        ("H\n", []),
    ],
)
def test_csv_line_numbering_edge_cases(tmp_path, text, rows):
    path = tmp_path / "tax.csv"
    path.write_text(text.replace("H", "统一社会信用代码,年度,实缴税收", 1).format(*CODES), encoding="utf-8")
    assert read_table(path, source("tax")).row_number.to_pylist() == rows
