"""What DuckDB's checkpoints cost stored evaluation runs, at its default threshold and at ours.

DuckDB writes a transaction's rows to its write-ahead log and, once the log passes
`checkpoint_threshold`, checkpoints at the next commit: it writes the logged rows into the
database file and rewrites the last, partly filled row group of each table written since. A run
of 100,000 enterprises logs about 13 MB of results (fewer rows than a row group, so they are
logged rather than written straight to the file), so with DuckDB's default of 16 MB nearly
every commit checkpoints. The warehouse sets `JINGXIN_DUCKDB_CHECKPOINT` (256MB by default).

For each threshold, on a fresh copy of the same warehouse: `--runs` stored runs of 2021 one
after another (the write phase of each: inserts and commit), then an explicit `CHECKPOINT` (what
the larger threshold defers, paid at the next checkpoint or when the file is closed). Totals
of both are compared.

    .venv/bin/python bench/bench_checkpoint.py --size 100000 --runs 12
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from jingxin.core.warehouse import open_warehouse
from jingxin.evaluation.config import load_system
from jingxin.evaluation.runs import run_evaluation
from jingxin.evaluation.sample import load_facts, province

SYSTEM = "zhejiang_industry_above"


def measure(path: Path, threshold: str, runs: int) -> dict[str, object]:
    wh = open_warehouse(f"duckdb:///{path}")
    wh.con.con.execute(f"SET checkpoint_threshold = '{threshold}'")
    system = load_system(SYSTEM)
    writes = [run_evaluation(wh, system, 2021).timings["write"] for _ in range(runs)]
    started = time.perf_counter()
    wh.con.con.execute("CHECKPOINT")
    final = time.perf_counter() - started
    wh.close()
    return {
        "threshold": threshold,
        "writes": writes,
        "writes_total": round(sum(writes), 3),
        "final_checkpoint": round(final, 3),
        "total": round(sum(writes) + final, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.duckdb"
        wh = open_warehouse(f"duckdb:///{base}")
        load_facts(wh, province(args.size, years=(2020, 2021), seed=0))
        run_evaluation(wh, SYSTEM, 2020)
        wh.close()
        out: dict[str, object] = {"benchmark": "checkpoint", "enterprises": args.size, "runs": args.runs}
        out["load_average"] = os.getloadavg()
        for threshold in ("16MB", "256MB"):
            copy = Path(tmp) / f"copy-{threshold}.duckdb"
            shutil.copy(base, copy)
            out[threshold] = measure(copy, threshold, args.runs)
            print(json.dumps(out[threshold]), flush=True)
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
