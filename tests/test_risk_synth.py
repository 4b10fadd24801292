"""The risk sources of the generator: other files byte-identical, truth consistent with the files."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from jingxin.synth.generator import generate_province


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.iterdir()
        if p.name != "manifest.json"
    }


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("risk-synth")
    plain, risky = base / "plain", base / "risky"
    generate_province(plain, 400, "2020-2021", 5, 0.02, annual_only=True)
    generate_province(risky, 400, "2020-2021", 5, 0.02, annual_only=True, risk=True)
    return plain, risky


def test_other_files_are_byte_identical(pair: tuple[Path, Path]) -> None:
    plain, risky = pair
    a, b = _digests(plain), _digests(risky)
    assert a, "the plain province has files"
    assert {k: b[k] for k in a} == a
    added = sorted(set(b) - set(a))
    assert added == sorted(
        f"{stem}_{y}.{ext}"
        for y in (2020, 2021)
        for stem, ext in (
            ("insured", "csv"),
            ("tax_monthly", "csv"),
            ("utility", "csv"),
            ("credit", "csv"),
            ("court", "xlsx"),
            ("guarantees", "xlsx"),
        )
    )
    m_plain = json.loads((plain / "manifest.json").read_text(encoding="utf-8"))
    m_risky = json.loads((risky / "manifest.json").read_text(encoding="utf-8"))
    assert "distress" not in m_plain
    for key in ("totals", "calibration", "events", "shared_parcels"):
        assert m_plain[key] == m_risky[key]


def test_truth_agrees_with_the_files(pair: tuple[Path, Path]) -> None:
    _, risky = pair
    truth = json.loads((risky / "manifest.json").read_text(encoding="utf-8"))["distress"]
    assert truth["distressed"] == len(truth["enterprises"]) > 0
    assert truth["by_cause"]["own"] + truth["by_cause"]["contagion"] == truth["distressed"]
    pairs = set()
    for y in (2020, 2021):
        from openpyxl import load_workbook

        ws = load_workbook(risky / f"guarantees_{y}.xlsx", read_only=True).active
        rows = list(ws.iter_rows(values_only=True))
        header = rows[1]
        gi, bi = header.index("担保人统一社会信用代码"), header.index("借款人统一社会信用代码")
        pairs |= {
            (str(r[gi]).strip().replace("\u3000", ""), str(r[bi]).strip().replace("\u3000", ""))
            for r in rows[2:]
            if r[gi]
        }
    spread = [e for e in truth["enterprises"] if e["cause"] == "contagion"]
    for e in spread:  # a spread distress follows a guarantee the files show
        assert (e["credit_code"], e["spread_from"]) in pairs
        assert e["onset"] > next(
            x["onset"] for x in truth["enterprises"] if x["credit_code"] == e["spread_from"]
        )
    # every own distress has an enforcement case in the court file in its onset month
    court = {}
    for y in (2020, 2021):
        from openpyxl import load_workbook

        ws = load_workbook(risky / f"court_{y}.xlsx", read_only=True).active
        rows = list(ws.iter_rows(values_only=True))
        header = rows[1]
        ci, ri, di = (
            header.index("当事人统一社会信用代码"),
            header.index("诉讼地位"),
            header.index("立案日期"),
        )
        for r in rows[2:]:
            if r[ri] == "被执行人":
                court.setdefault(str(r[ci]), set()).add(str(r[di])[:7])
    hits = [e for e in truth["enterprises"] if e["onset"] in court.get(e["credit_code"], set())]
    assert len(hits) >= 0.9 * len(truth["enterprises"])  # a few rows carry deliberate defects


def test_staff_leave_before_distress(pair: tuple[Path, Path]) -> None:
    """Precursors: insured headcount falls in the months before 出险, not for the healthy."""
    _, risky = pair
    truth = json.loads((risky / "manifest.json").read_text(encoding="utf-8"))["distress"]
    onset = {
        e["credit_code"]: e["onset"]
        for e in truth["enterprises"]
        if e["cause"] == "own" and e["onset"] >= "2021-03"
    }
    counts: dict[str, dict[str, float]] = {}
    for y in (2020, 2021):
        with open(risky / f"insured_{y}.csv", encoding="gbk", newline="") as fh:
            reader = csv.DictReader(fh)
            column = next(h for h in reader.fieldnames or [] if h.startswith("参保人数"))  # 参保人数(人)
            for row in reader:
                try:
                    counts.setdefault(row["统一社会信用代码"].strip(), {})[row["年月"]] = float(row[column])
                except (KeyError, ValueError):
                    continue  # a defective row
    falls = []
    for code, month in onset.items():
        series = counts.get(code, {})
        before = [v for m, v in series.items() if "2020-01" <= m <= "2020-06"]
        at = series.get(month)
        if before and at is not None and sum(before) > 0:
            falls.append(at / (sum(before) / len(before)))
    assert len(falls) >= 3
    assert sorted(falls)[len(falls) // 2] < 0.85
