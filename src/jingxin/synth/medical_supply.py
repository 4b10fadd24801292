"""重点医疗物资生产企业日报 (key medical suppliers' daily reports), written as 经信 sends them.

The key suppliers report every day their capacity (日产能), output (当日产量) and stock (库存) of
each item; the 经信 department's liaisons collect them from the enterprise monitoring system and
send one Excel file with a title row per reporting window (habit `medical-supply`, see
:mod:`.habits`), ingested like any other source (contract `medical-supply` in contracts.yaml).

Generated figures, all the project's assumptions (nothing per enterprise is published):
- capacity: the supplier's daily capacity × a daily factor 0.9–1.1;
- output: 60–95% of that day's capacity;
- stock: starts at 2–8 days of output and moves by output − shipments (shipments 80–120% of
  output), never below zero;
- a supplier skips a day (no row: 缺报) with probability `missing_share`; on the as-of day the
  skipped suppliers are the truth of the missing list, together with those whose as-of row
  carries a deliberate defect (rejected at ingestion, so not a report either).

Drawn from its own stream ("medical-supply", as-of day), so no other generated file changes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from jingxin.medical import config
from jingxin.synth.frame import make_frame
from jingxin.synth.manifest import FileEntry
from jingxin.synth.streams import Streams

SOURCE = "medical-supply"


@dataclass(frozen=True)
class SupplierSpec:
    credit_code: str
    name: str
    item_id: str
    daily_capacity: int


@dataclass
class SupplyTruth:
    """What the file holds: the rows written per (code, item, day), the suppliers with no
    usable report on the as-of day (skipped or defective), and the file's manifest entry."""

    as_of: date
    days: int
    reported: set[tuple[str, str, str]] = field(default_factory=set)
    skipped: set[tuple[str, str, str]] = field(default_factory=set)
    defective: set[tuple[str, str, str]] = field(default_factory=set)
    entry: FileEntry | None = None
    path: Path | None = None

    def missing_on(self, day: date) -> set[tuple[str, str]]:
        """(credit code, item id) without an accepted report on `day`."""
        d = day.isoformat()
        return {(c, i) for c, i, x in self.skipped | self.defective if x == d}

    def manifest(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "days": self.days,
            "file": self.entry.file if self.entry else None,
            "rows": len(self.reported),
            "skipped": sorted(map(list, self.skipped)),
            "defective": sorted(map(list, self.defective)),
        }


def item_label(item_id: str) -> str:
    """The item's name as the file writes it (the catalogue name, NFKC-folded as in the contract)."""
    return unicodedata.normalize("NFKC", config.item(item_id).name)


def write_reports(
    out_dir: str | Path,
    suppliers: list[SupplierSpec],
    *,
    as_of: date,
    days: int = 7,
    seed: int = 1,
    missing_share: float = 0.2,
    defects: float = 0.0,
) -> SupplyTruth:
    """Write the daily reports of `suppliers` for the `days` days ending on `as_of` into
    `out_dir` as the 经信 department sends them; return what was written."""
    from jingxin.synth.generator import emit  # the generator's writer (habits, defects, manifest)

    if days < 1:
        raise ValueError("days must be at least 1")
    streams = Streams(seed)
    rng = streams(SOURCE, as_of.isoformat())
    truth = SupplyTruth(as_of, days)
    cols: dict[str, list[Any]] = {k: [] for k in ("credit_code", "name", "item", "day")}
    numbers: dict[str, list[float]] = {"capacity": [], "output": [], "stock": []}
    keys: list[tuple[str, str, str]] = []
    for s in suppliers:
        stock = float(s.daily_capacity * rng.uniform(2, 8))
        for k in range(days):
            day = as_of - timedelta(days=days - 1 - k)
            capacity = round(s.daily_capacity * rng.uniform(0.9, 1.1))
            output = round(capacity * rng.uniform(0.6, 0.95))
            stock = max(0.0, stock + output - output * rng.uniform(0.8, 1.2))
            key = (s.credit_code, s.item_id, day.isoformat())
            if rng.random() < missing_share:
                truth.skipped.add(key)
                continue
            keys.append(key)
            cols["credit_code"].append(s.credit_code)
            cols["name"].append(s.name)
            cols["item"].append(item_label(s.item_id))
            cols["day"].append(day.isoformat())
            numbers["capacity"].append(capacity)
            numbers["output"].append(output)
            numbers["stock"].append(round(stock))
    truth.reported = set(keys)
    frame = make_frame(
        SOURCE,
        f"{(as_of - timedelta(days=days - 1)).isoformat()}/{as_of.isoformat()}",
        {
            **{k: np.array(v, dtype=object) for k, v in cols.items()},
            **{k: np.array(v, dtype=float) for k, v in numbers.items()},
        },
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plans: list[Any] = []
    label = f"{as_of.year}年{as_of.month}月{as_of.day}日"
    truth.entry = emit(frame, out, None, streams, defects, 200_000, label, plans=plans)
    truth.defective = {keys[i] for i in plans[0].touched.tolist()}
    truth.path = out / truth.entry.file
    return truth
