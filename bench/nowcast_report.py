"""Writes the backtest tables of docs/nowcast.md from a warehouse holding a generated province.

    .venv/bin/python bench/nowcast_report.py --warehouse duckdb:///path/warehouse.duckdb \
        --manifest path/manifest.json --write docs/nowcast.md

Two tables: RMSE by horizon and model for the province and the cities and counties the
injected events hit (DOMAIN.md §13), and, for each event's months and regions, the published
figure against each model's nowcast once the month's electricity is out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from jingxin.core.warehouse import open_warehouse
from jingxin.nowcast.backtest import run_backtest
from jingxin.nowcast.data import load_inputs, region_name
from jingxin.nowcast.report import write_backtest

EVENT_BLOCK = ("<!-- event-table:begin -->", "<!-- event-table:end -->")


def event_targets(manifest: dict) -> list[tuple[str, str, str]]:
    """(event id, region, month) of each event's cities and months (the province-wide shutdown:
    the province)."""
    out = []
    for e in manifest.get("events", []):
        months = pd.period_range(e["start"][:7], e["end"][:7], freq="M")
        for city in e["cities"]:
            for m in months:
                month = m if m.month != 1 else m + 1  # January is published with February
                out.append((e["id"], city, str(month)))
    return sorted(set(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--manifest", required=True, type=Path)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
    wh = open_warehouse(args.warehouse)
    inputs = load_inputs(wh)
    wh.close()
    events = event_targets(manifest)
    regions = ["330000"] + sorted({r for _e, r, _m in events if r != "330000"})
    started = time.perf_counter()
    results = {code: run_backtest(inputs, code) for code in regions}
    seconds = time.perf_counter() - started
    p = manifest["parameters"]
    preamble = (
        f"Province `--enterprises {p['enterprises']} --years {p['years'][0]}-{p['years'][-1]} "
        f"--seed {p['seed']}`; "
        f"{len(regions)} regions backtested in {seconds:.0f} s on the shared 2-core machine "
        f"(`bench/nowcast_report.py`). RMSE in percentage points of 当月同比.\n\n"
    )
    lines = [
        "| 事件 | 地区 | 月份 | 已发布 | 动态因子模型 | 桥接回归 | 朴素值 |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for event, region, month in events:
        rows = pd.DataFrame(results[region].rows)
        if rows.empty:
            continue
        rows = rows[(rows["target"] == month) & (rows["horizon"] == 0)]
        if rows.empty:
            continue
        by = rows.set_index("model")["estimate"]
        actual = rows["actual"].iloc[0]
        lines.append(
            f"| {event} | {region_name(region)} | {month} | {actual:.1f} | "
            f"{by['dfm']:.1f} | {by['bridge']:.1f} | {by['naive']:.1f} |"
        )
    print(json.dumps({r: b.rmse() for r, b in results.items()}, ensure_ascii=False))
    if args.write:
        write_backtest(args.write, list(results.values()), preamble)
        text = args.write.read_text(encoding="utf-8")
        block = f"{EVENT_BLOCK[0]}\n" + "\n".join(lines) + f"\n{EVENT_BLOCK[1]}"
        if EVENT_BLOCK[0] in text:
            text = (
                text[: text.index(EVENT_BLOCK[0])]
                + block
                + text[text.index(EVENT_BLOCK[1]) + len(EVENT_BLOCK[1]) :]
            )
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        args.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
