"""What daily power adds to the nowcast: the pseudo-real-time backtest with and without the
month-to-date daily series, per horizon, written into docs/monitoring.md.

    .venv/bin/python bench/nowcast_daily.py --warehouse duckdb:///nc.duckdb \
        --manifest out/manifest.json --region 330000 --region 330200 --write docs/monitoring.md

The warehouse holds a generated province with daily power over several years
(`jingxin generate … --daily-days 1550`). Both runs use the same target months: those whose
month and last year's aligned days are all in the daily file (elsewhere the two are the same
model). RMSE in percentage points of 当月同比 against the latest published figure.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from jingxin.core.warehouse import open_warehouse
from jingxin.nowcast.backtest import run_backtest
from jingxin.nowcast.calendar import HORIZON_LABELS
from jingxin.nowcast.daily import NAME
from jingxin.nowcast.data import load_inputs, region_name
from jingxin.nowcast.models import MODEL_LABELS, MODELS

BEGIN, END = "<!-- nowcast-daily:begin -->", "<!-- nowcast-daily:end -->"


def table(results: dict[str, dict[str, dict[int, dict[str, float]]]], counts: dict[str, int]) -> str:
    head = "| 地区 | 预测时点 | 目标月数 | " + " | ".join(
        f"{MODEL_LABELS[m]} 有日电 / 无日电" for m in MODELS
    )
    lines = [head + " |", "|---|---|---:|" + "---:|" * len(MODELS)]
    for region, runs in results.items():
        for h in sorted(runs["with"]):
            cells = " | ".join(f"{runs['with'][h][m]:.2f} / {runs['without'][h][m]:.2f}" for m in MODELS)
            lines.append(f"| {region_name(region)} | {HORIZON_LABELS[h]} | {counts[region]} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--manifest", type=Path)
    ap.add_argument("--region", action="append")
    ap.add_argument("--maxiter", type=int, default=100)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    wh = open_warehouse(args.warehouse)
    t0 = time.perf_counter()
    inputs = load_inputs(wh)
    daily_rows = int(wh.execute(wh.current("power_daily").count())) if wh.has_table("power_daily") else 0
    wh.close()
    read_s = time.perf_counter() - t0
    if NAME not in inputs.growth:
        raise SystemExit("仓库中没有可用的日用电量（需覆盖上年同期）")
    covered = list(inputs.growth[NAME].dropna(how="all").index)
    regions = args.region or ["330000"]
    results: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    counts: dict[str, int] = {}
    targets_run: dict[str, list[dict]] = {}
    t0 = time.perf_counter()
    for region in regions:
        results[region] = {}
        for label, inp in (("with", inputs), ("without", inputs.without(NAME))):
            bt = run_backtest(inp, region, maxiter=args.maxiter, targets=covered)
            results[region][label] = bt.rmse()
            counts[region] = bt.count()
            targets_run[region] = bt.rows
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {"read_s": round(read_s, 1), "backtest_s": round(seconds, 1), "rmse": results},
            ensure_ascii=False,
            default=str,
        )
    )
    if args.write:
        p = json.loads(args.manifest.read_text(encoding="utf-8"))["parameters"] if args.manifest else {}
        first = min(r["target"] for bt in targets_run.values() for r in bt)
        scale = (
            f"Province `jingxin generate --enterprises {p['enterprises']} "
            f"--years {p['years'][0]}-{p['years'][-1]} "
            f"--seed {p['seed']} --daily-days {p['daily_days']}` ({daily_rows:,} daily rows), "
            if p
            else f"{daily_rows:,} daily rows, "
        )
        preamble = (
            scale + f"target months with daily power from {first} on (those with a published figure and "
            f"a year of daily reads before them); {len(regions)} region(s), both runs in "
            f"{seconds:.0f} s on the shared 2-core machine (`bench/nowcast_daily.py`). "
            "Each cell: RMSE with daily power / without, in percentage points of 当月同比.\n\n"
        )
        block = f"{BEGIN}\n{preamble}{table(results, counts)}\n{END}"
        text = args.write.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        args.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
