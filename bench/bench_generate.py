"""Benchmark of the province generator's annual files (合成省份数据生成基准).

Times `generate_province(..., annual_only=True)` for N enterprises (default 1,000,000) over
2019–2021 and prints one JSON object: rows written, seconds, rows/s, bytes written and the peak
resident memory of the process (resource.getrusage, which Linux reports in KiB).

    .venv/bin/python bench/bench_generate.py 1000000 [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from jingxin.synth import generate_province


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("enterprises", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--years", default="2019-2021")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--defects", type=float, default=0.02)
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="jingxin-bench-"))
    started = time.perf_counter()
    manifest = generate_province(out, args.enterprises, args.years, args.seed, args.defects, annual_only=True)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = sum(f.rows for f in manifest.files)
    result = {
        "enterprises": args.enterprises,
        "years": manifest.parameters["years"],
        "files": len(manifest.files),
        "rows_written": rows,
        "bytes_written": sum(f.bytes for f in manifest.files),
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "cpus": os.cpu_count(),
        "formats": {
            f.file: f.format + (f" (from {f.switched_from})" if f.switched_from else "")
            for f in manifest.files
        },
    }
    if not args.keep and args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    else:
        result["out_dir"] = str(out)
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
