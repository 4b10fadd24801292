"""Benchmark of ingestion (数据归集): a 1M-row tax-style CSV into DuckDB and PostgreSQL.

The file has valid unified social credit codes (vectorised GB 32100 check characters), a title
row, thousands separators on some values and a small share of defects (bad check characters,
text in a number column), so every code path of reading and validation runs. Reading+validation
alone, and a full ingest per backend, each run in a fresh process so that its peak RSS is its
own. Prints one JSON object.

    .venv/bin/python bench/bench_ingest.py [--rows 1000000] [--defects 0.005] [--backend all]

Targets (docs/benchmarks.md): at least 200k validated rows/s on 2 cores; 550k rows/s end to
end on DuckDB. Each run reports its CPU seconds (user + system, all threads) and the load
average beside the wall-clock time: on a shared machine rows per CPU second are the fairer figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jingxin.core.credit_code import ALPHABET

PG_BASE = os.environ.get("JINGXIN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "bench_x"


def valid_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct-ish valid credit codes registered in Zhejiang counties."""
    from jingxin.reference import county_codes

    alphabet = np.frombuffer(ALPHABET.encode(), np.uint8)
    weights = np.array([pow(3, i, 31) for i in range(17)])
    counties = np.array(sorted(county_codes()), "S6").view(np.uint8).reshape(-1, 6) - 48
    values = np.empty((n, 17), np.int64)
    values[:, 0], values[:, 1] = 9, 1
    values[:, 2:8] = counties[rng.integers(0, len(counties), n)]
    values[:, 8:] = rng.integers(0, 31, (n, 9))
    check = (31 - (values @ weights) % 31) % 31
    chars = np.concatenate([alphabet[values], alphabet[check][:, None]], axis=1).astype(np.uint8)
    return np.ascontiguousarray(chars).view("S18").ravel().astype(str)


def make_csv(path: Path, rows: int, defects: float, seed: int = 2024) -> dict[str, int]:
    """Write the benchmark file; returns how many defective rows it has."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    codes = valid_codes(rows, rng)
    tax = np.round(rng.lognormal(3, 1.5, rows), 2)
    tax_text = np.char.mod("%.2f", tax)
    big = tax >= 1000
    tax_text[big] = np.array([f"{v:,.2f}" for v in tax[big]])  # thousands separators
    bad = rng.random(rows) < defects
    bad_code = bad & (rng.random(rows) < 0.5)
    codes[bad_code] = np.array([c[:17] + ("0" if c[17] != "0" else "1") for c in codes[bad_code]])
    tax_text[bad & ~bad_code] = "不详"
    table = pa.table({"统一社会信用代码": codes, "年度": np.full(rows, 2021), "实缴税收(万元)": tax_text})
    with path.open("wb") as fh:
        fh.write("2021年度企业实缴税收\n".encode())
        pacsv.write_csv(table, fh, pacsv.WriteOptions(quoting_style="needed"))
    duplicates = rows - len(np.unique(codes))
    return {"defects": int(bad.sum()), "duplicate_codes": int(duplicates)}


def run_child(mode: str, csv_path: Path, workdir: Path) -> dict:
    """One measurement in this (fresh) process, so that its peak RSS is its own.

    mode "validate": read and validate only (no warehouse); "duckdb"/"postgres": `ingest_file`
    end to end (hash, read, validate, one transaction with batch, facts and rejected rows).
    """
    from jingxin.core.contracts import source
    from jingxin.core.warehouse import open_warehouse
    from jingxin.ingest import ingest_file
    from jingxin.ingest.readers import read_table
    from jingxin.ingest.validate import validate

    def peak_mb() -> float:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def load() -> list[float]:
        return [round(x, 2) for x in os.getloadavg()]

    # Warm up on a small file first: lazy imports (pandas, reference tables) are start-up cost,
    # not throughput (and this machine sets PYTHONDONTWRITEBYTECODE, so imports compile).
    small = workdir / f"warmup_{mode}.csv"
    make_csv(small, 1000, 0.01)
    validate(read_table(small, source("tax")))

    if mode == "validate":
        started, cpu_started = time.perf_counter(), cpu()
        checked = validate(read_table(csv_path, source("tax")))
        seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
        return {
            "mode": "read+validate",
            "rows": checked.data_rows,
            "accepted": checked.accepted_count,
            "rejected": checked.rejected,
            "seconds": round(seconds, 3),
            "rows_per_s": round(checked.data_rows / seconds),
            "cpu_seconds": round(cpu_seconds, 3),
            "rows_per_cpu_s": round(checked.data_rows / cpu_seconds),
            "load_average": load(),
            "peak_rss_mb": peak_mb(),
        }
    if mode == "duckdb":
        url = f"duckdb:///{workdir / 'bench.duckdb'}"
    else:
        import psycopg

        with psycopg.connect(PG_BASE, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        url = f"{PG_BASE}?schema={PG_SCHEMA}"
    wh = open_warehouse(url)
    started, cpu_started = time.perf_counter(), cpu()
    result = ingest_file(wh, "tax", csv_path, loaded_by="bench")
    seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
    stored = wh.sql("SELECT COUNT(*) FROM tax")[0][0]
    wh.close()
    if mode == "postgres":
        import psycopg

        with psycopg.connect(PG_BASE, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
    return {
        "mode": f"ingest into {mode}",
        "rows": result.row_count,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "stored": int(stored),
        "seconds": round(seconds, 3),
        "rows_per_s": round(result.row_count / seconds),
        "cpu_seconds": round(cpu_seconds, 3),
        "rows_per_cpu_s": round(result.row_count / cpu_seconds),
        "load_average": load(),
        "peak_rss_mb": peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--defects", type=float, default=0.005)
    parser.add_argument("--backend", choices=["duckdb", "postgres", "all"], default="all")
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, csv_path = args.child
        print(json.dumps(run_child(backend, Path(csv_path), Path(csv_path).parent)))
        return

    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        csv_path = Path(tmp) / "tax_1m.csv"
        started = time.perf_counter()
        made = make_csv(csv_path, args.rows, args.defects)
        report: dict = {
            "benchmark": "ingest",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "system": platform.platform(),
            },
            "input": {
                "rows": args.rows,
                "bytes": csv_path.stat().st_size,
                **made,
                "generate_seconds": round(time.perf_counter() - started, 3),
            },
            "runs": [],
        }
        modes = ["validate"] + (["duckdb", "postgres"] if args.backend == "all" else [args.backend])
        for backend in modes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", backend, str(csv_path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                report["runs"].append({"mode": backend, "error": out.stderr.strip().splitlines()[-1:]})
            else:
                report["runs"].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
