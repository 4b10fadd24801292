"""Generated vs published provincial figures (生成数据与公开数据对照).

Generates a province (or reads one already generated), reads its department files back with the
platform's own readers and validation (the defective rows are dropped as ingestion drops them),
and compares each calibration figure of :data:`jingxin.synth.calibration.FIGURES` with what the
files hold. Totals are divided by the generator's scale s = 规上 industrial enterprises / 48,000
(manifest.json) to compare at full scale; with defective rows (``--defects``) totals read low by
about that share, as an ingestion would see them. Prints a Markdown table; ``--write`` puts it into
docs/generator.md between its markers.

    .venv/bin/python bench/calibration.py --enterprises 171000 --write   # full scale (~1 min)
    .venv/bin/python bench/calibration.py --dir out/                      # an existing province
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from jingxin import reference
from jingxin.core.contracts import source
from jingxin.ingest.readers import read_table
from jingxin.ingest.validate import validate
from jingxin.synth import Manifest, generate_province
from jingxin.synth.calibration import BIG_REVENUE, FIGURES, YI, Figure

DOC = Path(__file__).resolve().parents[1] / "docs" / "generator.md"
BEGIN, END = "<!-- calibration-table:begin -->", "<!-- calibration-table:end -->"
INDUSTRY = ("B", "C", "D")


def _read(folder: Path, manifest: Manifest, src: str, period: str | None = None) -> pa.Table:
    entry = manifest.by_source(src, period)[0]
    return validate(read_table(folder / entry.file, source(src))).accepted  # clean rows only


def _section_of(codes: pa.Array) -> np.ndarray:
    sections = {i.code: i.section for i in reference.industries() if i.level == "division"}
    return np.array([sections.get(str(c)[:2], "?") for c in codes.to_pylist()])


def measure(folder: Path) -> dict[str, tuple[int, float]]:
    """Each figure's generated value (full-scale equivalent for totals), keyed by figure key."""
    manifest = Manifest.load(folder)
    registry = _read(folder, manifest, "registry").to_pandas().set_index("credit_code")
    registry["section"] = _section_of(pa.array(registry["industry_code"]))
    land = _read(folder, manifest, "land").to_pandas().groupby("credit_code")["area_mu"].sum()
    out: dict[str, tuple[int, float]] = {}
    scales: dict[int, float] = {}
    for year in manifest.parameters["years"]:
        stats = _read(folder, manifest, "statistics", str(year)).to_pandas().set_index("credit_code")
        stats = stats.join(registry[["section", "county_code"]], how="inner")
        tax = _read(folder, manifest, "tax", str(year)).to_pandas().set_index("credit_code")["tax_paid"]
        above = stats[stats["above_scale"] & stats["section"].isin(INDUSTRY)]
        s = float(manifest.calibration["scale"])  # the generator's: 规上工业 / 48,000
        scales[year] = s
        with_land = above.join(land, how="inner").join(tax, how="left")
        with_land = with_land[with_land["area_mu"] > 0]
        revenue = above["revenue"]
        big = revenue >= BIG_REVENUE
        values = {
            "above_industry_count": len(above) / s,
            "va_total": above["value_added"].sum() / YI / s,
            "revenue_total": revenue.sum() / YI / s,
            "big_count": big.sum() / s,
            "big_revenue_share": revenue[big].sum() / revenue.sum(),
            "tax_per_mu": with_land["tax_paid"].sum() / with_land["area_mu"].sum(),
            "va_per_mu": with_land["value_added"].sum() / with_land["area_mu"].sum(),
            "jinhua_revenue_share": revenue[above["county_code"].str.startswith("3307")].sum()
            / revenue.sum(),
        }
        parks = _read(folder, manifest, "parks", str(year)).to_pandas()
        members = _read(folder, manifest, "park-members", str(year)).to_pandas()
        zones = set(parks.loc[parks["kind"].isin(["经开区", "高新区"]), "park_id"])
        in_zone = set(members.loc[members["park_id"].isin(zones), "credit_code"])
        values["zone_va_share"] = (
            above.loc[above.index.isin(in_zone), "value_added"].sum() / above["value_added"].sum()
        )
        small = parks[parks["kind"] == "小微企业园"]
        values["small_parks"] = len(small) / s
        values["small_parks_4star"] = (small["star"] >= 4).sum() / s
        for key, value in values.items():
            out[f"{key}@{year}"] = (year, float(value))
    out["_scale"] = (0, float(np.mean(list(scales.values()))))
    return out


def table(measured: dict[str, tuple[int, float]]) -> str:
    lines = [
        "| figure | year | published / target | generated (full scale) | difference | status "
        "| calibrated to it | source |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for f in FIGURES:
        got = measured.get(f"{f.key}@{f.year}")
        if got is None:  # the year was not generated
            continue
        lines.append(_row(f, got[1]))
    return "\n".join(lines)


def _fmt(f: Figure, value: float) -> str:
    if f.unit == "":
        return f"{value * 100:.1f}%"
    return f"{value:,.1f} {f.unit}" if value < 1000 else f"{value:,.0f} {f.unit}"


def _row(f: Figure, value: float) -> str:
    diff = (value - f.value) / f.value * 100 if f.value else float("nan")
    return (
        f"| {f.label} | {f.year} | {_fmt(f, f.value)} | {_fmt(f, value)} | {diff:+.1f}% | {f.status} "
        f"| {'yes' if f.forced else 'no (a check)'} | {f.source} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=171_000, help="enterprises (171,000 ≈ full scale)")
    parser.add_argument("--years", default="2019-2021")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--defects", type=float, default=0.0, help="share of defective rows")
    parser.add_argument("--dir", type=Path, default=None, help="read this generated province instead")
    parser.add_argument("--write", action="store_true", help="write the table into docs/generator.md")
    parser.add_argument("--json", action="store_true", help="print the measured values as JSON")
    args = parser.parse_args(argv)

    folder, temporary = args.dir, None
    started = time.perf_counter()
    if folder is None:
        temporary = Path(tempfile.mkdtemp(prefix="jingxin-calibration-"))
        generate_province(temporary, args.enterprises, args.years, args.seed, args.defects, annual_only=True)
        folder = temporary
    try:
        measured = measure(folder)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    seconds = time.perf_counter() - started
    run = (
        f"`{args.dir}`"
        if args.dir
        else f"`--enterprises {args.enterprises} --years {args.years} --seed {args.seed} "
        f"--defects {args.defects}`"
    )
    header = (
        f"Province {run}, scale s = {measured['_scale'][1]:.4f}; files read back with the platform's readers "
        f"and validation; {seconds:.0f} s. Totals are shown at full scale (generated ÷ s)."
    )
    text = f"{header}\n\n{table(measured)}\n"
    if args.json:
        print(json.dumps({k: v[1] for k, v in measured.items()}, ensure_ascii=False, indent=1))
    else:
        print(text)
    if args.write:
        doc = DOC.read_text(encoding="utf-8")
        if BEGIN not in doc or END not in doc:
            print(f"{DOC} lacks the markers {BEGIN} … {END}", file=sys.stderr)
            return 1
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(f"{head}{BEGIN}\n{text}{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
