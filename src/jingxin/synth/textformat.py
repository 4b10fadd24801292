"""Vectorised text rendering of numbers the way departments write them (数字格式).

A million rows times a dozen numeric columns cannot go through Python's `format` one value at a
time, so numbers are split into integer and fraction parts with numpy and assembled as strings
with pyarrow compute kernels: fixed decimals, optional thousands separators (千分位, "1,234.56",
the tax bureau's habit) and full-width digits (全角数字, "１２３", common in files typed by hand
into Chinese Excel templates).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FULLWIDTH_SPACE = "\u3000"
_FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _grouped(integer: np.ndarray) -> pa.Array:
    """Non-negative integers with a comma every three digits."""
    out = pc.cast(pa.array(integer), pa.string())
    for groups in range(1, 6):  # up to 10^18
        big = integer >= 10 ** (3 * groups)
        if not big.any():
            break
        parts: list[pa.Array | str] = [pc.cast(pa.array(integer // 10 ** (3 * groups)), pa.string())]
        for g in range(groups - 1, -1, -1):
            chunk = pc.cast(pa.array((integer // 10 ** (3 * g)) % 1000), pa.string())
            parts += [",", pc.utf8_lpad(chunk, width=3, padding="0")]
        out = pc.if_else(pa.array(big), _join(*parts), out)
    return out


def fixed(values: np.ndarray, decimals: int, thousands: bool = False) -> pa.Array:
    """Render floats with `decimals` fixed decimals; NaN becomes null (an empty cell)."""
    values = np.asarray(values, dtype=np.float64)
    blank = np.isnan(values)
    scaled = np.round(np.abs(np.where(blank, 0.0, values)) * 10**decimals).astype(np.int64)
    integer, fraction = np.divmod(scaled, 10**decimals)
    text = _grouped(integer) if thousands else pc.cast(pa.array(integer), pa.string())
    if decimals:
        frac = pc.utf8_lpad(pc.cast(pa.array(fraction), pa.string()), width=decimals, padding="0")
        text = _join(text, ".", frac)
    negative = pa.array((values < 0) & (scaled > 0))
    text = pc.if_else(negative, _join("-", text), text)
    return pc.if_else(pa.array(blank), pa.scalar(None, pa.string()), text)


def fullwidth_digits(text: pa.Array) -> pa.Array:
    """Replace ASCII digits by full-width ones (０-９); everything else is kept."""
    for ascii_digit, wide in _FULLWIDTH.items():
        text = pc.replace_substring(text, ascii_digit, wide)
    return text


def fixed_one(value: float, decimals: int, thousands: bool = False) -> str:
    """One number in the same notation as :func:`fixed` (for the few cells defects rewrite)."""
    return f"{value:,.{decimals}f}" if thousands else f"{value:.{decimals}f}"
