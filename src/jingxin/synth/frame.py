"""One department file before it is written (文件内容): columns in contract order, values in the
contract's unit, and the unit the file's header will show.

Keeping values in the contract unit until the last moment lets one file say `实缴税收(元)` while
calibration, defects and the manifest all reason in 万元; the conversion factor comes from the
`units` table of contracts.yaml, the same table ingestion uses to convert back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from jingxin.core import contracts
from jingxin.core.contracts import Column as ContractColumn

NUMERIC_TYPES = ("decimal", "integer")


def arrow_text(values: np.ndarray | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A text column as one arrow string array (pyarrow splits big numpy conversions in chunks)."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, pa.string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


@dataclass
class Column:
    """One column: its contract, its values and the unit its header carries in this file."""

    spec: ContractColumn
    values: np.ndarray | pa.Array  # float64 in the contract unit (NaN = blank); text as str/arrow array
    decimals: int = 2  # decimals written when the file uses the contract unit
    unit: str | None = None  # unit in this file's header; None = the contract unit

    @property
    def header(self) -> str:
        """Canonical Chinese header without unit, e.g. 实缴税收."""
        return self.spec.header

    @property
    def numeric(self) -> bool:
        return self.spec.type in NUMERIC_TYPES

    @property
    def file_unit(self) -> str | None:
        return self.unit or self.spec.unit

    @property
    def title(self) -> str:
        """The header text as written, with the unit in brackets when the contract has one."""
        return f"{self.header}({self.file_unit})" if self.file_unit else self.header

    @property
    def factor(self) -> float:
        """Multiply a contract-unit value by this to express it in the file's unit."""
        if not self.spec.unit or not self.unit or self.unit == self.spec.unit:
            return 1.0
        to_contract = contracts.load_contracts().convert_factor(self.unit, self.spec.unit)
        if to_contract is None:
            raise ValueError(f"unit {self.unit} does not convert to {self.spec.unit}")
        return 1.0 / to_contract

    @property
    def file_decimals(self) -> int:
        """Decimals in the file's unit: enough to keep the contract-unit precision (元 keeps 分)."""
        if self.spec.type == "integer":
            return 0
        shift = math.floor(math.log10(self.factor) + 1e-9)
        decimals = max(0, self.decimals - shift)
        return max(decimals, 2) if self.file_unit == "元" else min(decimals, 6)

    def file_values(self) -> np.ndarray:
        """Numeric values in the file's unit, rounded to the file's decimals."""
        return np.round(np.asarray(self.values) * self.factor, self.file_decimals)

    def __len__(self) -> int:
        return len(self.values)

    def text_array(self) -> pa.Array:
        """A text column as an arrow string array (big per-row columns are kept in arrow)."""
        return arrow_text(self.values)

    def text_at(self, row: int) -> str:
        value = self.values[row]
        return str(value.as_py()) if isinstance(value, pa.Scalar) else str(value)

    def text_rows(self, rows: np.ndarray) -> list[object]:
        if isinstance(self.values, pa.Array | pa.ChunkedArray):
            return self.values.take(pa.array(rows)).to_pylist()
        return self.values[rows].tolist()


@dataclass
class Frame:
    """The rows of one file: a contract source, a period label and its columns."""

    source: str  # contract source id, e.g. "tax"
    period: str | None  # "2021", "2020-12-12/2021-03-11", or None for snapshots
    columns: list[Column]

    def __post_init__(self) -> None:
        spec = contracts.source(self.source)
        expected = [c.name for c in spec.columns]
        got = [c.spec.name for c in self.columns]
        if got != expected:
            raise ValueError(f"{self.source}: columns {got} differ from the contract {expected}")
        lengths = {len(c) for c in self.columns}
        if len(lengths) != 1:
            raise ValueError(f"{self.source}: columns have different lengths {lengths}")

    @property
    def rows(self) -> int:
        return len(self.columns[0])

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.spec.name == name)


def make_frame(
    source: str,
    period: str | None,
    values: dict[str, np.ndarray | pa.Array],
    decimals: dict[str, int] | None = None,
) -> Frame:
    """A frame whose columns follow the contract of `source`, filled from `values` by column name."""
    spec = contracts.source(source)
    decimals = decimals or {}
    columns = [
        Column(spec=c, values=values[c.name], decimals=decimals.get(c.name, 0 if c.type == "integer" else 2))
        for c in spec.columns
    ]
    return Frame(source=source, period=period, columns=columns)
