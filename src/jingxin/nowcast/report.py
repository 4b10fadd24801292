"""The backtest's table in Markdown, written between markers of docs/nowcast.md."""

from __future__ import annotations

from pathlib import Path

from jingxin.nowcast.backtest import Backtest
from jingxin.nowcast.calendar import HORIZON_LABELS
from jingxin.nowcast.data import region_name
from jingxin.nowcast.models import MODEL_LABELS, MODELS

BEGIN, END = "<!-- backtest-table:begin -->", "<!-- backtest-table:end -->"


def backtest_table(results: list[Backtest]) -> str:
    head = (
        "| 地区 | 预测时点 | 目标月数 | "
        + " | ".join(f"RMSE {MODEL_LABELS[m]}" for m in MODELS)
        + " | 动态因子 / 朴素 |"
    )
    lines = [head, "|---|---|---:|" + "---:|" * (len(MODELS) + 1)]
    for bt in results:
        for h, rmse in bt.rmse().items():
            ratio = rmse["dfm"] / rmse["naive"] if rmse["naive"] else float("nan")
            cells = " | ".join(f"{rmse[m]:.2f}" for m in MODELS)
            lines.append(
                f"| {region_name(bt.region)} | {HORIZON_LABELS[h]} | {bt.count()} | {cells} | {ratio:.2f} |"
            )
    return "\n".join(lines)


def write_backtest(path: Path, results: list[Backtest], preamble: str = "") -> None:
    """Replace the text between the markers of `path` (or append a marked block)."""
    block = f"{BEGIN}\n{preamble}{backtest_table(results)}\n{END}"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    path.write_text(text, encoding="utf-8")
