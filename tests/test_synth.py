"""Tests of the synthetic province generator (jingxin.synth).

The files are read back independently of the generator's own code — CSV line by line in the
declared encoding, xlsx with openpyxl — and checked against contracts.yaml and manifest.json:
headers, encodings and layout, validity of clean rows, every listed defect really present at its
physical row, defect shares, determinism, cross-file consistency, seasonality and calibration.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from jingxin import reference
from jingxin.core import contracts, credit_code
from jingxin.synth import Manifest, generate_province, parse_years, plan_jobs
from jingxin.synth.cli import register
from jingxin.synth.frame import make_frame
from jingxin.synth.manifest import FileEntry
from jingxin.synth.population import credit_codes
from jingxin.synth.series import SPRING_FESTIVAL, month_weights, recovery_end

N = 2000
SEED = 11
YEARS = (2019, 2020, 2021)
DEFECTS = 0.02


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("province")
    manifest = generate_province(out, N, "2019-2021", SEED, DEFECTS)
    return out, manifest


# ------------------------------------------------------------------------------------------
# Reading files back
# ------------------------------------------------------------------------------------------


_ROWS_CACHE: dict[Path, dict[int, list[str]]] = {}


def physical_rows(out: Path, entry: FileEntry) -> dict[int, list[str]]:
    """Every row of a file by its physical number (1-based, title and header rows included)."""
    path = out / entry.file
    if path not in _ROWS_CACHE:
        _ROWS_CACHE[path] = _read_physical(path, entry)
    return _ROWS_CACHE[path]


def _read_physical(path: Path, entry: FileEntry) -> dict[int, list[str]]:
    if entry.format == "csv":
        text = path.read_bytes().decode(entry.encoding or "utf-8")
        lines = text.replace("\r\n", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return {i: next(csv.reader([line])) for i, line in enumerate(lines, start=1)}
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    rows = {
        i: ["" if v is None else str(v) for v in row]
        for i, row in enumerate(ws.iter_rows(values_only=True), start=1)
    }
    wb.close()
    return rows


def norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def number(text: str) -> float:
    return float(norm(text).replace(",", ""))


def header_unit(header: str) -> tuple[str, str | None]:
    m = re.fullmatch(r"(.+?)\((.+)\)", header)
    return (m.group(1), m.group(2)) if m else (header, None)


def data_rows(out: Path, entry: FileEntry) -> dict[int, list[str]]:
    rows = physical_rows(out, entry)
    first = entry.first_data_row
    return {r: rows[r] for r in range(first, first + entry.rows)}


def to_contract(entry: FileEntry, header: str) -> float:
    """Factor turning this file's values of canonical column `header` into the contract unit."""
    spec = next(c for c in contracts.source(entry.source).columns if c.header == header)
    unit = entry.units[header]
    if not spec.unit or unit == spec.unit:
        return 1.0
    factor = contracts.load_contracts().convert_factor(unit, spec.unit)
    assert factor is not None
    return factor


def read_clean(out: Path, entry: FileEntry) -> pd.DataFrame:
    """A file's data rows without the manifest's defect rows, numbers in contract units, columns
    named by canonical header, index = physical row number (pandas, as an analyst would)."""
    path = out / entry.file
    if entry.format == "csv":
        df = pd.read_csv(path, encoding=entry.encoding, dtype=str, keep_default_na=False)
        df.index = df.index + 2
    else:
        raw = pd.read_excel(path, header=None, dtype=object, engine="calamine")
        raw.index = raw.index + 1
        df = raw.loc[entry.first_data_row : entry.first_data_row + entry.rows - 1].copy()
        df.columns = entry.headers
    df.columns = [header_unit(h)[0] for h in df.columns]
    df = df.drop(index=[r for r in entry.defect_rows() if r in df.index])
    for col in contracts.source(entry.source).columns:
        if col.type in ("decimal", "integer"):
            values = df[col.header].map(
                lambda v: np.nan if str(v).strip() in ("", "nan", "None") else number(str(v))
            )
            df[col.header] = values * to_contract(entry, col.header)
        else:
            df[col.header] = df[col.header].map(lambda v: norm(str(v)))
    return df


# ------------------------------------------------------------------------------------------
# Files, headers, layout
# ------------------------------------------------------------------------------------------


def test_expected_files(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    names = {f.file for f in manifest.files}
    expected = {"registry.xlsx", "land.csv", "power_daily.csv"}
    for y in YEARS:
        expected |= {
            f"tax_{y}.csv",
            f"statistics_{y}.xlsx",
            f"energy_{y}.csv",
            f"discharge_{y}.csv",
            f"power_{y}.csv",
            f"monthly_{y}.xlsx",
            f"invoices_{y}.csv",
            f"parks_{y}.xlsx",
            f"park_members_{y}.csv",
            f"support_{y}.xlsx",
            f"customs_{y}.xlsx",
            f"social_insurance_{y}.csv",
        }
        if y > YEARS[0]:  # the statistics bureau's figures need last year (first and revised)
            expected |= {f"official_{y}.csv", f"official_{y}_revised.csv"}
    assert names == expected
    assert len(manifest.files) == len(plan_jobs(YEARS))
    for name in names | {"manifest.json"}:
        assert (out / name).is_file()
    assert Manifest.load(out).to_dict() == json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_headers_follow_the_contract(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    for entry in manifest.files:
        spec = contracts.source(entry.source)
        rows = physical_rows(out, entry)
        header = rows[entry.header_rows[-1]][: len(spec.columns)]
        assert header == entry.headers, entry.file
        for col, text in zip(spec.columns, header, strict=True):
            name, unit = header_unit(text)
            assert name == col.header
            assert unit == entry.units[col.header]
            if col.unit:
                assert unit is not None, f"{entry.file}: {text} lacks its unit"
                assert contracts.load_contracts().convert_factor(unit, col.unit) is not None
            else:
                assert unit is None


def test_registry_title_and_totals_rows(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    entry = manifest.file("registry.xlsx")
    assert (entry.title_rows, entry.header_rows, entry.first_data_row) == ([1], [2], 3)
    rows = physical_rows(out, entry)
    assert rows[1][0] == "浙江省市场主体登记信息（截至2021年12月31日）"
    footer = entry.footer_rows[0]
    assert footer == entry.first_data_row + entry.rows
    assert rows[footer][0] == f"合计：{entry.rows}户"
    ws = openpyxl.load_workbook(out / entry.file).worksheets[0]
    assert "A1:F1" in {str(r) for r in ws.merged_cells.ranges}


def test_statistics_two_row_header(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    entry = manifest.file("statistics_2021.xlsx")
    assert entry.header_rows == [2, 3] and entry.first_data_row == 4
    rows = physical_rows(out, entry)
    assert rows[2][3] == "主要经济指标" and rows[2][6] == "从业人员"
    ws = openpyxl.load_workbook(out / entry.file).worksheets[0]
    assert {"D2:F2", "G2:H2"} <= {str(r) for r in ws.merged_cells.ranges}
    assert rows[entry.footer_rows[0]][0].startswith("注：")


def test_department_habits(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    land = (out / "land.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        land.decode("utf-8")
    assert land.decode("gbk").startswith("统一社会信用代码,宗地编号,用地面积(")
    assert b"\r\n" in land
    tax = (out / "tax_2021.csv").read_bytes()
    assert tax.startswith(b"\xef\xbb\xbf")
    assert re.search(r'"\d{1,3}(,\d{3})+\.\d{2}"', tax.decode("utf-8-sig"))
    wide = space = 0
    for entry in manifest.files:
        if entry.source in ("energy", "discharge"):
            assert entry.encoding == "gb18030"
            text = (out / entry.file).read_bytes().decode("gb18030")
            wide += len(re.findall("[０-９]", text))
            space += text.count("\u3000")
    assert wide > 0 and space > 0
    assert not (out / "power_2021.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_switch_to_csv_above_threshold(tmp_path: Path) -> None:
    manifest = generate_province(tmp_path, 300, "2021", 3, 0.02, annual_only=True, xlsx_max_rows=100)
    entry = manifest.file("registry.csv")
    assert entry.switched_from == "xlsx" and entry.encoding == "utf-8-sig"
    assert entry.first_data_row == 2 and not entry.footer_rows
    assert manifest.file("statistics_2021.csv").switched_from == "xlsx"


# ------------------------------------------------------------------------------------------
# Clean rows and defects
# ------------------------------------------------------------------------------------------


def _parse_date(text: str, kind: str) -> dt.date:
    return dt.datetime.strptime(norm(text), "%Y-%m" if kind == "month" else "%Y-%m-%d").date()


def test_clean_rows_are_valid(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    counties = reference.county_codes()
    industry_codes = {i.code for i in reference.industries()}
    for entry in manifest.files:
        spec = contracts.source(entry.source)
        bad = entry.defect_rows()
        keys: set[tuple[str, ...]] = set()
        for r, cells in data_rows(out, entry).items():
            if r in bad:
                continue
            assert len(cells) == len(spec.columns), (entry.file, r)
            values = {}
            for col, cell in zip(spec.columns, cells, strict=True):
                text = norm(cell)
                values[col.name] = text
                if not text:
                    assert not col.required, (entry.file, r, col.header)
                    continue
                if col.type == "credit_code":
                    assert credit_code.is_valid(text), (entry.file, r, text)
                elif col.type == "county":
                    assert text in counties
                elif col.type == "industry":
                    assert text in industry_codes
                elif col.type in ("date", "month"):
                    _parse_date(text, col.type)
                elif col.type in ("decimal", "integer"):
                    value = number(text) * to_contract(entry, col.header)
                    assert col.min is None or value >= col.min - 1e-9, (entry.file, r, text)
                    assert col.max is None or value <= col.max, (entry.file, r, text)
                if col.allowed:
                    assert text in col.allowed
            key = tuple(values[k] for k in spec.key)
            assert key not in keys, (entry.file, r, key)
            keys.add(key)


def _check_defect(entry: FileEntry, rows: dict[int, list[str]], defect) -> None:  # noqa: ANN001
    spec = contracts.source(entry.source)
    cells = rows[defect.row]
    if defect.kind == "duplicate_row":
        assert defect.duplicate_of is not None and defect.duplicate_of < defect.row
        assert cells == rows[defect.duplicate_of]
        assert defect.duplicate_of not in entry.defect_rows()
        return
    if defect.kind == "truncated_row":
        assert defect.row == max(rows)
        assert len(cells) < len(spec.columns)
        assert ",".join(cells) == defect.value
        return
    index = [c.header for c in spec.columns].index(defect.column)
    col = spec.columns[index]
    cell = cells[index]
    assert norm(cell) == norm(defect.value) or number(cell) == number(defect.value), (entry.file, defect)
    text = norm(defect.value)
    if defect.kind == "bad_check_character":
        assert not credit_code.is_valid(text)
        assert all(ch in credit_code.ALPHABET for ch in text) and len(text) == 18
    elif defect.kind == "forbidden_character":
        assert not credit_code.is_valid(text) and set(text) & set("IOZSV")
    elif defect.kind == "unknown_county":
        assert entry.source in ("registry", "parks") and text not in {d.code for d in reference.divisions()}
    elif defect.kind == "negative_value":
        assert number(text) < 0 <= (col.min or 0)
    elif defect.kind == "out_of_range":
        assert col.max is not None and number(text) * to_contract(entry, col.header) > col.max
    elif defect.kind == "unit_in_cell":
        unit = next(
            u for u in sorted(contracts.load_contracts().units, key=len, reverse=True) if text.endswith(u)
        )
        assert unit != entry.units[col.header]
        float(text[: -len(unit)].replace(",", ""))
    elif defect.kind == "bad_date":
        with pytest.raises(ValueError):
            _parse_date(text, col.type)
    else:
        raise AssertionError(f"unknown defect kind {defect.kind}")


def test_manifest_defects_are_in_the_files(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    kinds: Counter[str] = Counter()
    for entry in manifest.files:
        rows = physical_rows(out, entry)
        assert len({d.row for d in entry.defects}) == len(entry.defects), "one defect per row"
        for defect in entry.defects:
            assert entry.first_data_row <= defect.row < entry.first_data_row + entry.rows
            _check_defect(entry, rows, defect)
            kinds[defect.kind] += 1
    assert set(kinds) == {
        "bad_check_character",
        "forbidden_character",
        "unknown_county",
        "negative_value",
        "out_of_range",
        "unit_in_cell",
        "bad_date",
        "duplicate_row",
        "truncated_row",
    }


def test_defect_share(province: tuple[Path, Manifest]) -> None:
    _, manifest = province
    total_rows = total_defects = 0
    for entry in manifest.files:
        share = len(entry.defects) / entry.rows
        if entry.rows >= 500:
            assert abs(share - DEFECTS) < 0.005, (entry.file, share)
        total_rows += entry.rows
        total_defects += len(entry.defects)
    assert abs(total_defects / total_rows - DEFECTS) < 0.002


def test_no_defects_when_zero(tmp_path: Path) -> None:
    manifest = generate_province(tmp_path, 400, "2021", 5, 0.0)
    assert all(not f.defects for f in manifest.files)


def test_credit_codes_match_the_core_algorithm() -> None:
    rng = np.random.default_rng(0)
    counties = np.array(sorted(reference.county_codes()))[rng.integers(0, 90, 20_000)]
    codes = credit_codes(counties, rng)
    assert len(set(codes.tolist())) == codes.shape[0]
    for code, county in zip(codes[:3000].tolist(), counties[:3000].tolist(), strict=True):
        assert credit_code.is_valid(code)
        assert code[:2] == "91" and code[2:8] == county
        assert credit_code._org_check(code[8:16]) == code[16]


# ------------------------------------------------------------------------------------------
# Consistency, determinism, units
# ------------------------------------------------------------------------------------------


def test_files_agree_with_each_other(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    registry = read_clean(out, manifest.file("registry.xlsx"))
    codes = set(registry["统一社会信用代码"])
    assert len(codes) == len(registry)
    stats = read_clean(out, manifest.file("statistics_2021.xlsx"))
    sections = registry.set_index("统一社会信用代码")["行业代码"].map(_section)
    stats["门类"] = stats["统一社会信用代码"].map(sections)
    industrial = stats[stats["门类"].isin(["B", "C", "D"])]
    services = stats[stats["门类"].notna() & ~stats["门类"].isin(["B", "C", "D"])]
    # 35% of industrial enterprises are 规上; every generated services enterprise is 规上服务业,
    # and a services enterprise has no 工业增加值 (blank), an industrial one always has it.
    assert abs((industrial["是否规上"] == "是").mean() - 0.35) < 0.05
    assert len(services) > 0.15 * len(stats) and (services["是否规上"] == "是").all()
    assert services["工业增加值"].isna().all() and industrial["工业增加值"].notna().all()
    above = set(industrial.loc[industrial["是否规上"] == "是", "统一社会信用代码"])
    # Only enterprises whose registry row is defective may be missing from the clean registry.
    registry_defects = len(manifest.file("registry.xlsx").defects)
    for name in ("land.csv", "tax_2021.csv", "energy_2021.csv", "power_2021.csv"):
        df = read_clean(out, manifest.file(name))
        assert len(set(df["统一社会信用代码"]) - codes) <= registry_defects, name
    stats_defects = len(manifest.file("statistics_2021.xlsx").defects)
    for name in ("monthly_2021.xlsx", "power_daily.csv"):  # 规上 industry only
        df = read_clean(out, manifest.file(name))
        assert len(set(df["统一社会信用代码"]) - above) <= stats_defects + registry_defects, name
    # The monthly 快报 adds up to the annual 营业收入.
    monthly = read_clean(out, manifest.file("monthly_2021.xlsx"))
    months = monthly.groupby("统一社会信用代码").agg(n=("营业收入", "size"), total=("营业收入", "sum"))
    full = months[months["n"] == 12].join(stats.set_index("统一社会信用代码")["营业收入"], how="inner")
    assert len(full) > 100
    np.testing.assert_allclose(full["total"], full["营业收入"], rtol=1e-3, atol=0.1)


def test_shared_parcels_and_tenants(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    land = read_clean(out, manifest.file("land.csv"))
    assert manifest.shared_parcels
    by_parcel = land.groupby("宗地编号")["统一社会信用代码"].nunique()
    shared_seen = [p["parcel_id"] for p in manifest.shared_parcels if p["parcel_id"] in by_parcel.index]
    assert shared_seen and all(by_parcel[p] >= 2 for p in shared_seen[:5] if by_parcel[p] > 1)
    assert (by_parcel >= 2).sum() >= len(manifest.shared_parcels) // 2
    assert manifest.totals["tenants_without_land"] > 0
    assert land["统一社会信用代码"].nunique() < N


def test_invoices_follow_chains(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    inv = read_clean(out, manifest.file("invoices_2021.csv"))
    keywords = {kw for c in reference.chains() for kw in c.keywords}
    assert inv["货物名称"].map(lambda g: any(k in g for k in keywords)).all()
    assert not inv.duplicated(["销方统一社会信用代码", "购方统一社会信用代码", "年月", "货物名称"]).any()
    assert (inv["销方统一社会信用代码"] != inv["购方统一社会信用代码"]).all()
    assert (inv["金额"] > 0).all()


def test_determinism(tmp_path: Path) -> None:
    a = generate_province(tmp_path / "a", 600, "2020-2021", 99, 0.03)
    generate_province(tmp_path / "b", 600, "2020-2021", 99, 0.03)
    c = generate_province(tmp_path / "c", 600, "2020-2021", 100, 0.03)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    for entry in a.files:
        assert digest(tmp_path / "a" / entry.file) == digest(tmp_path / "b" / entry.file), entry.file
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
    assert digest(tmp_path / "a" / "tax_2021.csv") != digest(tmp_path / "c" / "tax_2021.csv")
    # Annual files do not depend on whether the monthly ones are generated.
    generate_province(tmp_path / "d", 600, "2020-2021", 99, 0.03, annual_only=True)
    assert digest(tmp_path / "a" / "tax_2021.csv") == digest(tmp_path / "d" / "tax_2021.csv")
    del c


def test_unit_variants_are_legal_and_converted() -> None:
    frame = make_frame(
        "tax",
        "2021",
        {"credit_code": np.array(["x"]), "year": np.array(["2021"]), "tax_paid": np.array([12.34])},
    )
    col = frame.column("tax_paid")
    col.unit = "元"
    assert col.title == "实缴税收(元)" and col.file_values()[0] == 123400.0 and col.file_decimals == 2
    col.unit = None
    assert col.title == "实缴税收(万元)"
    power = make_frame(
        "power",
        "2021",
        {"credit_code": np.array(["x"]), "month": np.array(["2021-01"]), "kwh": np.array([32000.0])},
        {"kwh": 0},
    )
    kwh = power.column("kwh")
    kwh.unit = "万千瓦时"
    assert kwh.file_values()[0] == 3.2 and kwh.file_decimals == 4


def test_unit_variant_files_in_a_run(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    variants = [f for f in manifest.files if f.unit_variant]
    assert variants, "expected at least one file with a convertible header unit"
    for entry in variants:
        assert any(
            u not in (None, "人") and u != c.unit
            for c in contracts.source(entry.source).columns
            for h, u in entry.units.items()
            if h == c.header
        )
        assert not any(d.kind == "unit_variant" for d in entry.defects)
    # Totals agree whatever unit the file used: tax 2021 vs the calibration's land and ratio.
    tax = read_clean(out, manifest.file("tax_2021.csv"))
    assert tax["实缴税收"].median() < 1000  # 万元 after conversion, never 元


# ------------------------------------------------------------------------------------------
# Seasonality
# ------------------------------------------------------------------------------------------


def test_spring_festival_dates() -> None:
    assert SPRING_FESTIVAL[2021] == dt.date(2021, 2, 12) and SPRING_FESTIVAL[2020] == dt.date(2020, 1, 25)
    assert all(y in SPRING_FESTIVAL for y in range(2019, 2027))
    w = month_weights(2021)
    assert w.sum() == pytest.approx(1.0)
    assert w[1] < 0.6 * min(w[0], w[2]) and w[11] == w.max()  # festival in February 2021
    w20 = month_weights(2020, "power")
    assert w20[0] < w20[2] and w20[1] < w20[2]  # festival in January 2020, slow recovery


def test_power_seasonality_in_files(province: tuple[Path, Manifest]) -> None:
    out, manifest = province
    power = read_clean(out, manifest.file("power_2021.csv"))
    by_month = power.groupby("年月")["用电量"].sum()
    assert by_month["2021-02"] < 0.85 * by_month["2021-03"]
    assert by_month["2021-12"] == by_month.max()
    daily = read_clean(out, manifest.file("power_daily.csv"))
    entry = manifest.file("power_daily.csv")
    end = recovery_end(2021)
    assert entry.period.endswith(end.isoformat())
    by_day = daily.groupby("日期")["用电量"].sum()
    assert len(by_day) == 90 and by_day.index.max() == end.isoformat()
    festival = by_day[[d for d in by_day.index if "2021-02-11" <= d <= "2021-02-17"]].mean()
    before = by_day[[d for d in by_day.index if "2021-01-11" <= d <= "2021-01-22"]].mean()
    assert festival < 0.4 * before
    weekdays = pd.to_datetime(pd.Series(by_day.index)).dt.day_of_week.to_numpy()
    january = np.array([d.startswith("2021-01") for d in by_day.index])
    assert (
        by_day.to_numpy()[january & (weekdays == 6)].mean()
        < by_day.to_numpy()[january & (weekdays < 5)].mean()
    )
    assert by_day.iloc[-1] > 0.85 * before  # recovered


# ------------------------------------------------------------------------------------------
# Calibration
# ------------------------------------------------------------------------------------------


def _section(code: str) -> str:
    return next(i.section for i in reference.industries() if i.code == code[:2])


def test_manifest_calibration_hits_targets(province: tuple[Path, Manifest]) -> None:
    _, manifest = province
    scale = manifest.calibration["scale"]
    assert scale == pytest.approx(manifest.totals["industrial_above_scale"] / 48_000, rel=1e-4)
    for year in ("2019", "2020", "2021"):
        cal = manifest.calibration["years"][year]
        for key in ("tax_per_mu", "labour_productivity", "va_to_revenue"):
            assert cal["achieved"][key] == pytest.approx(cal["targets"][key], rel=1e-3)
        # Totals at the generated scale: value added, revenue and the count above 10 亿元.
        assert cal["achieved"]["va_total_yi"] == pytest.approx(cal["targets"]["va_total"] * scale, rel=1e-3)
        assert cal["achieved"]["revenue_total_yi"] == pytest.approx(
            cal["targets"]["revenue_total"] * scale, rel=1e-3
        )
        assert cal["achieved"]["big_count"] == round(cal["targets"]["big_count"] * scale)
    # 亩均增加值 is targeted in the anchor year (2021, published): the land is fixed to it.
    assert manifest.calibration["anchor_year"] == 2021
    assert manifest.calibration["years"]["2021"]["achieved"]["va_per_mu"] == pytest.approx(135.7, rel=1e-3)
    assert manifest.calibration["years"]["2021"]["targets"]["tax_per_mu"] == 28.1
    assert manifest.calibration["years"]["2020"]["targets"]["va_total"] == 16_715.0
    assert manifest.calibration["years"]["2021"]["targets"]["big_count"] == 1_303.0


@pytest.mark.slow
@pytest.mark.heavy  # generates and reads 100k enterprises: `make test-heavy`
def test_calibration_from_files_at_100k(tmp_path: Path) -> None:
    manifest = generate_province(tmp_path, 100_000, "2019-2021", 2021, 0.02, annual_only=True)
    stats = read_clean(tmp_path, manifest.by_source("statistics", "2021")[0])
    tax = read_clean(tmp_path, manifest.by_source("tax", "2021")[0])
    land = read_clean(tmp_path, manifest.by_source("land")[0])
    # 规上 industry: the rows with 工业增加值 (services leave it blank).
    above = stats[(stats["是否规上"] == "是") & stats["工业增加值"].notna()]
    above = above.drop_duplicates("统一社会信用代码").set_index("统一社会信用代码")
    land_by = land.groupby("统一社会信用代码")["用地面积"].sum()
    tax_by = tax.drop_duplicates("统一社会信用代码").set_index("统一社会信用代码")["实缴税收"]
    table = above.join(land_by, how="inner").join(tax_by, how="inner")
    assert len(table) > 25_000
    tax_per_mu = table["实缴税收"].sum() / table["用地面积"].sum()
    va_per_mu = table["工业增加值"].sum() / table["用地面积"].sum()
    assert tax_per_mu == pytest.approx(28.1, rel=0.05)
    assert va_per_mu == pytest.approx(135.7, rel=0.05)
    productivity = above["工业增加值"].sum() / above["年平均职工人数"].sum()
    assert 25 <= productivity <= 35


# ------------------------------------------------------------------------------------------
# API and CLI
# ------------------------------------------------------------------------------------------


def test_parse_years() -> None:
    assert parse_years("2019-2021") == (2019, 2020, 2021)
    assert parse_years("2021") == (2021,)
    assert parse_years("2021,2019") == (2019, 2021)
    assert parse_years(range(2020, 2022)) == (2020, 2021)
    for bad in ("2021-2019", "abc", ""):
        with pytest.raises(ValueError):
            parse_years(bad)


def test_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_province(tmp_path, 100, "2021", 1, defects=0.9)
    with pytest.raises(ValueError):
        generate_province(tmp_path, 0, "2021", 1)


def test_cli_generate(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command, so that typer keeps sub-command names
        """placeholder"""

    result = CliRunner().invoke(
        app,
        [
            "generate",
            str(tmp_path / "out"),
            "--enterprises",
            "300",
            "--years",
            "2020-2021",
            "--seed",
            "4",
            "--annual-only",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["totals"]["enterprises"] == 300
    assert {f["file"] for f in summary["files"]} >= {"registry.xlsx", "tax_2021.csv", "discharge_2020.csv"}
    assert not any(f["file"].startswith("power") for f in summary["files"])
    bad = CliRunner().invoke(app, ["generate", str(tmp_path / "x"), "--years", "20x1"])
    assert bad.exit_code != 0
