"""Deliberate defects (数据缺陷) injected into department files, with an exact record of each.

Ingestion must reject bad rows and report them; to test that, every file carries a seeded
share of defective data rows and the manifest lists each one. A defect is chosen so that it is
unambiguous under the contract rules of contracts.yaml:

- ``bad_check_character`` / ``forbidden_character``: a credit code with a wrong 18th character,
  or with a letter the code set forbids (I, O, Z, S, V);
- ``unknown_county``: a 区县代码 that is no division of Zhejiang (registry only);
- ``negative_value`` / ``out_of_range``: a number below the contract's min (negatives only
  where min ≥ 0) or far above its max, in the file's unit;
- ``unit_in_cell``: a number written with another unit inside the cell ("12345元" under
  实缴税收(万元)), never the header's unit;
- ``bad_date``: an impossible date or month ("2021-13", "2021-02-30");
- ``duplicate_row``: an exact copy of an earlier clean row placed later (the copy is the defect);
- ``truncated_row``: in CSV, the last data line cut short (fewer fields), written by the writer.

One defect per row, and only clean rows are touched; a duplicate's source row stays clean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jingxin import reference
from jingxin.core import contracts, credit_code
from jingxin.synth.frame import Column, Frame
from jingxin.synth.textformat import fixed_one

WEIGHTS: dict[str, float] = {
    "bad_check_character": 0.16,
    "forbidden_character": 0.10,
    "unknown_county": 0.15,
    "negative_value": 0.14,
    "out_of_range": 0.12,
    "unit_in_cell": 0.13,
    "bad_date": 0.12,
    "duplicate_row": 0.15,
}
TRUNCATION_CHANCE = 0.5  # per CSV file that has defects
NUMERIC_KINDS = ("negative_value", "out_of_range")
FORBIDDEN_LETTERS = "IOZSV"
UNKNOWN_COUNTY_CANDIDATES = ("339999", "330199", "331199", "330899", "332501", "330599")
# Units written into a cell for `unit_in_cell`, by family, in order of preference.
CELL_UNITS = {
    "money": ("元", "万元"),
    "electricity": ("万千瓦时", "千瓦时"),
    "area": ("平方米", "亩"),
    "energy": ("万吨标准煤", "吨标准煤"),
    "mass": ("千克", "吨"),
}


@dataclass(frozen=True)
class Defect:
    """One defective data row; `position` is its index among the written data rows."""

    position: int
    column: str | None  # canonical Chinese header (no unit), None for whole-row defects
    kind: str
    value: str | None  # the text written in the cell (or the truncated line)
    source_position: int | None = None  # for duplicate_row: the position of the original


@dataclass
class Plan:
    """What to write instead of the clean frame: row order (with duplicates) and replaced cells."""

    order: np.ndarray  # original row index of each written data row
    cells: dict[int, dict[int, tuple[str, float | None]]] = field(default_factory=dict)
    defects: list[Defect] = field(default_factory=list)
    touched: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # original rows
    truncate: bool = False

    @staticmethod
    def clean(rows: int) -> Plan:
        return Plan(order=np.arange(rows))


def unknown_counties() -> tuple[str, ...]:
    """Six-digit codes that are no division of Zhejiang at all."""
    known = {d.code for d in reference.divisions()}
    return tuple(code for code in UNKNOWN_COUNTY_CANDIDATES if code not in known)


def _cell_unit(column: Column) -> str | None:
    """A unit of the column's family that differs from the header's, for unit_in_cell."""
    if column.spec.type != "decimal" or not column.spec.unit:
        return None
    family = contracts.load_contracts().units[column.spec.unit].family
    return next((u for u in CELL_UNITS.get(family, ()) if u != column.file_unit), None)


def _candidates(frame: Frame) -> dict[str, list[int]]:
    """Column indices where each kind of defect can be made (empty list = whole-row kind)."""
    cols = frame.columns
    found = {
        "bad_check_character": [i for i, c in enumerate(cols) if c.spec.type == "credit_code"],
        "forbidden_character": [i for i, c in enumerate(cols) if c.spec.type == "credit_code"],
        "unknown_county": [i for i, c in enumerate(cols) if c.spec.type == "county"],
        "negative_value": [
            i for i, c in enumerate(cols) if c.numeric and c.spec.min is not None and c.spec.min >= 0
        ],
        "out_of_range": [i for i, c in enumerate(cols) if c.numeric and c.spec.max is not None],
        "unit_in_cell": [i for i, c in enumerate(cols) if _cell_unit(c) is not None],
        "bad_date": [i for i, c in enumerate(cols) if c.spec.type in ("date", "month")],
    }
    return {kind: idx for kind, idx in found.items() if idx}


def _bad_code(code: str, kind: str, rng: np.random.Generator) -> str:
    if kind == "bad_check_character":
        right = credit_code.ALPHABET.index(code[17])
        wrong = (right + int(rng.integers(1, len(credit_code.ALPHABET)))) % len(credit_code.ALPHABET)
        return code[:17] + credit_code.ALPHABET[wrong]
    pos = int(rng.integers(2, 18))
    return code[:pos] + FORBIDDEN_LETTERS[int(rng.integers(0, len(FORBIDDEN_LETTERS)))] + code[pos + 1 :]


def _bad_date(text: str, is_month: bool, rng: np.random.Generator) -> str:
    year = text[:4]
    if is_month:
        return f"{year}-{('13', '00', '14')[int(rng.integers(0, 3))]}"
    day = int(rng.integers(1, 29))
    options = (f"{year}-02-30", f"{year}-13-{day:02d}", f"{year}-04-31", f"{year}-00-{day:02d}")
    return options[int(rng.integers(0, len(options)))]


def _numeric_text(
    column: Column, kind: str, row: int, thousands: bool, rng: np.random.Generator
) -> tuple[str, float | None]:
    decimals = column.file_decimals
    step = 10.0**-decimals
    if kind == "negative_value":
        value = column.values[row] * column.factor
        value = -max(abs(float(np.round(value, decimals))) if not np.isnan(value) else 0.0, step)
    elif kind == "out_of_range":
        assert column.spec.max is not None
        value = float(np.round(column.spec.max * column.factor * rng.uniform(3, 30), decimals))
    else:  # unit_in_cell
        unit = _cell_unit(column)
        assert unit is not None and column.spec.unit is not None
        to_contract = contracts.load_contracts().convert_factor(unit, column.spec.unit)
        assert to_contract is not None
        raw = column.values[row] if not np.isnan(column.values[row]) else 0.0
        in_unit = raw / to_contract
        decimals = 4 if abs(in_unit) < 100 else 2
        return f"{fixed_one(in_unit, decimals)}{unit}", None
    return fixed_one(value, decimals, thousands), value


def plan_defects(
    frame: Frame, rng: np.random.Generator, share: float, *, truncatable: bool, thousands: bool = False
) -> Plan:
    """Choose defective rows of `frame` (≈ `share` of its data rows) and what to write there.

    `truncatable` says the file is CSV, so the last data line may be cut short; that row is then
    reserved (kept clean until the writer cuts it) and counted among the defects.
    """
    rows = frame.rows
    n_total = int(round(share * rows)) if rows >= 3 else 0
    n_total = min(n_total, rows // 3)
    if n_total == 0:
        return Plan.clean(rows)
    candidates = _candidates(frame)
    kinds = [k for k in WEIGHTS if k in candidates or k == "duplicate_row"]
    weights = np.array([WEIGHTS[k] for k in kinds])
    truncate = truncatable and rng.random() < TRUNCATION_CHANCE
    eligible = rows - 1 if truncate else rows
    drawn = rng.choice(len(kinds), n_total - int(truncate), p=weights / weights.sum())
    is_dup = np.array([kinds[i] == "duplicate_row" for i in drawn], dtype=bool)
    inplace_kinds = [kinds[i] for i in drawn[~is_dup]]
    n_dup = int(is_dup.sum())
    chosen = rng.choice(eligible, len(inplace_kinds) + n_dup, replace=False)
    inplace_rows, dup_sources = chosen[: len(inplace_kinds)], chosen[len(inplace_kinds) :]

    plan = Plan(order=np.arange(rows), truncate=truncate, touched=inplace_rows)
    pending: list[tuple[int, int, str, str]] = []  # (original row, column, kind, text)
    for row, kind in zip(inplace_rows.tolist(), inplace_kinds, strict=True):
        col = candidates[kind][int(rng.integers(0, len(candidates[kind])))]
        column = frame.columns[col]
        number: float | None = None
        if kind in ("bad_check_character", "forbidden_character"):
            text = _bad_code(column.text_at(row), kind, rng)
        elif kind == "unknown_county":
            options = unknown_counties()
            text = options[int(rng.integers(0, len(options)))]
        elif kind == "bad_date":
            text = _bad_date(column.text_at(row), column.spec.type == "month", rng)
        else:
            text, number = _numeric_text(column, kind, row, thousands, rng)
        plan.cells.setdefault(col, {})[row] = (text, number)
        pending.append((row, col, kind, text))

    # Duplicates: each copy goes before a later original row (never after the reserved last row).
    targets = rng.integers(dup_sources + 1, eligible + 1) if n_dup else np.zeros(0, dtype=np.int64)
    keys = np.concatenate([2 * np.arange(rows) + 1, 2 * targets])
    origin = np.concatenate([np.arange(rows), dup_sources])
    sort = np.argsort(keys, kind="stable")
    plan.order = origin[sort]
    position_of = np.empty(rows + n_dup, dtype=np.int64)
    position_of[sort] = np.arange(rows + n_dup)

    for row, col, kind, text in pending:
        plan.defects.append(Defect(int(position_of[row]), frame.columns[col].header, kind, text))
    for j, src in enumerate(dup_sources.tolist()):
        plan.defects.append(
            Defect(
                int(position_of[rows + j]), None, "duplicate_row", None, source_position=int(position_of[src])
            )
        )
    plan.defects.sort(key=lambda d: d.position)
    return plan
