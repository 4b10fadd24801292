"""The generator's manifest (生成清单, ``manifest.json``): what was written and what is wrong in it.

The ingestion engineer compares the rows his loader rejects with the defects listed here, so
the manifest names every file with its physical layout (format, encoding, title/header/footer
rows, units in the headers) and every defect by physical row number. See ROW_NUMBERING.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"

ROW_NUMBERING = (
    "Row numbers are physical and count from 1 at the first line of the file, as a spreadsheet or "
    "text editor shows them, including title and header rows. CSV: line 1 is the header, the first "
    "data row is line 2 (a UTF-8 BOM adds no line; no field contains a line break, so line = row). "
    "xlsx: the row number Excel shows; title_rows, header_rows and footer_rows give the non-data "
    "rows (e.g. registry.xlsx: title 1, header 2, data from 3, then a 合计 footer row). A defect's "
    "row is the defective data row itself; for duplicate_row it is the later copy, and "
    "duplicate_of gives the row of the earlier original."
)

NOTES = {
    "shared_parcels": "共用宗地: several enterprises on one parcel have land rows with the same 宗地编号; "
    "each row's 用地面积 is that enterprise's apportioned share (分摊面积), so the parcel's area is the "
    "sum of its rows and a merged evaluation divides the group's summed tax by that sum. The list "
    "shared_parcels gives each such parcel, its enterprises and its area.",
    "tenants": "Some 规下 enterprises rent their premises and have no land row at all (租赁厂房).",
    "units": "A file may state a different but convertible unit in a header (e.g. 实缴税收(元), "
    "用电量(万千瓦时)); its values are in that unit. This is legal and never listed as a defect; "
    "`units` gives the unit of each column as written.",
    "xlsx_to_csv": "An Excel source with more than xlsx_max_rows data rows is written as UTF-8 CSV "
    "with a BOM and a one-line header (switched_from = xlsx).",
    "events": "Real events (DOMAIN.md §13) injected into the monthly 快报, monthly power and daily power: "
    "id, kind, title, start, end (inclusive), cities (6-digit codes ending 00; 330000 = province), "
    "counties hit, sectors (GB/T 4754 section letters or code prefixes), depth (share of output lost "
    "per day, by 亩均 class for class-based rationing), depth_basis, source, series, affected_count, "
    "affected_credit_codes (null for province-wide events, see affected_rule) and, for class-based "
    "rationing, affected_by_class. Power falls by depth × 0.85 (a stopped plant keeps its base load). "
    "Annual accounts lose the share of the year the event took.",
    "scale": "Absolute totals are the province's × calibration.scale (规上 industrial enterprises / 48,000).",
    "defects": "defects = share of data rows per file with exactly one deliberate defect; kinds: "
    "bad_check_character, forbidden_character, unknown_county, negative_value, out_of_range, "
    "unit_in_cell, bad_date, duplicate_row, truncated_row (CSV only, the last line).",
}


@dataclass
class DefectEntry:
    """One defective data row."""

    row: int
    column: str | None  # canonical Chinese header (without unit); None = the whole row
    kind: str
    value: str | None
    duplicate_of: int | None = None


@dataclass
class FileEntry:
    """One written file."""

    source: str  # contract source id (contracts.yaml)
    department: str
    period: str | None  # "2021", a day range "2020-12-12/2021-03-11", or None (snapshot)
    file: str
    format: str  # "csv" or "xlsx"
    encoding: str | None  # CSV encoding: utf-8-sig (BOM), utf-8, gbk, gb18030; None for xlsx
    rows: int  # data rows, defective ones included
    headers: list[str]  # header texts as written, in column order
    units: dict[str, str | None]  # canonical header → unit used in this file's header
    unit_variant: bool  # some header uses a unit other than the contract's (legal, converted)
    title_rows: list[int]
    header_rows: list[int]
    first_data_row: int
    footer_rows: list[int]
    line_terminator: str | None = None  # "\n" or "\r\n" for CSV
    switched_from: str | None = None  # "xlsx" when a big Excel source was written as CSV
    bytes: int = 0
    defects: list[DefectEntry] = field(default_factory=list)

    def defect_rows(self) -> set[int]:
        return {d.row for d in self.defects}


@dataclass
class Manifest:
    """Everything a consumer needs to check generated data against."""

    parameters: dict[str, Any]
    totals: dict[str, Any]
    calibration: dict[str, Any]
    files: list[FileEntry] = field(default_factory=list)
    shared_parcels: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Enterprise risk truth (synth.distress): who failed, when, why, along which guarantee.
    distress: dict[str, Any] = field(default_factory=dict)
    # Chain trade truth (synth.chain_trade, `--chains`): local rates, weak links, dependencies.
    chains: dict[str, Any] = field(default_factory=dict)
    # Official figures (统计局发布) per year: counts and every revision (:mod:`.official`).
    official: list[dict[str, Any]] = field(default_factory=list)
    # Projects and cultivation truth (synth.projects), only with --projects.
    projects: dict[str, Any] = field(default_factory=dict)
    # Places truth (synth.places): latent county, city and park quality; only with --places.
    places: dict[str, Any] = field(default_factory=dict)
    row_numbering: str = ROW_NUMBERING
    notes: dict[str, str] = field(default_factory=lambda: dict(NOTES))
    generator: str = "jingxin.synth"

    def file(self, name: str) -> FileEntry:
        """The entry for file `name` (e.g. "tax_2021.csv")."""
        for entry in self.files:
            if entry.file == name:
                return entry
        raise KeyError(f"no file {name!r} in the manifest")

    def by_source(self, source: str, period: str | None = None) -> list[FileEntry]:
        return [f for f in self.files if f.source == source and (period is None or f.period == period)]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        order = [
            "generator",
            "row_numbering",
            "notes",
            "parameters",
            "totals",
            "calibration",
            "files",
            "shared_parcels",
            "events",
            "distress",
            "official",
            "projects",
            "chains",
            "places",
        ]
        # The scenario truths only when generated: other manifests stay as they were.
        optional = ("distress", "projects", "chains", "places")
        return {key: data[key] for key in order if key not in optional or data[key]}

    def write(self, out_dir: Path) -> Path:
        path = Path(out_dir) / MANIFEST_FILE
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest written by :meth:`write` (a directory or the JSON file itself)."""
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST_FILE
        data = json.loads(path.read_text(encoding="utf-8"))
        files = [
            FileEntry(**{**f, "defects": [DefectEntry(**d) for d in f["defects"]]}) for f in data["files"]
        ]
        return cls(
            parameters=data["parameters"],
            totals=data["totals"],
            calibration=data["calibration"],
            files=files,
            shared_parcels=data.get("shared_parcels", []),
            events=data.get("events", []),
            distress=data.get("distress", {}),
            chains=data.get("chains", {}),
            official=data.get("official", []),
            projects=data.get("projects", {}),
            places=data.get("places", {}),
            row_numbering=data.get("row_numbering", ROW_NUMBERING),
            notes=data.get("notes", {}),
            generator=data.get("generator", ""),
        )
