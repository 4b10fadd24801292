"""A real crash: an ingest killed with SIGKILL inside its transaction leaves no trace, and the
same file ingests cleanly afterwards."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from jingxin.core.credit_code import ALPHABET
from jingxin.core.warehouse import open_warehouse
from jingxin.ingest import ingest_file
from jingxin.ingest.service import IN_TRANSACTION_MARKER, PAUSE_ENV

pytestmark = [pytest.mark.duckdb, pytest.mark.slow]

ROWS = 300_000


def valid_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """n valid unified social credit codes (GB 32100 check character), vectorised."""
    alphabet = np.frombuffer(ALPHABET.encode(), np.uint8)
    weights = np.array([pow(3, i, 31) for i in range(17)])
    values = np.empty((n, 17), np.int64)
    values[:, 0], values[:, 1] = 9, 1
    values[:, 2:8] = np.frombuffer(b"330106", np.uint8) - 48
    values[:, 8:] = rng.integers(0, 31, (n, 9))
    check = (31 - (values @ weights) % 31) % 31
    chars = np.concatenate([alphabet[values], alphabet[check][:, None]], axis=1)
    return np.ascontiguousarray(chars).view("S18").ravel().astype(str)


def big_tax_csv(path: Path, n: int) -> Path:
    rng = np.random.default_rng(5)
    codes = np.unique(valid_codes(n + n // 10, rng))[:n]
    table = pa.table(
        {"统一社会信用代码": codes, "年度": np.full(n, 2021), "实缴税收": np.round(rng.random(n) * 1000, 2)}
    )
    pacsv.write_csv(table, path)
    return path


def test_sigkill_inside_the_transaction_leaves_nothing(tmp_path):
    csv_path = big_tax_csv(tmp_path / "tax_big.csv", ROWS)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    open_warehouse(url).close()
    script = (
        "from jingxin.core.warehouse import open_warehouse\n"
        "from jingxin.ingest import ingest_file\n"
        f"ingest_file(open_warehouse({url!r}), 'tax', {str(csv_path)!r})\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, PAUSE_ENV: "120"},
    )
    try:
        deadline = time.monotonic() + 120
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([child.stdout], [], [], 1.0)
            if ready:
                line = child.stdout.readline()
                if line.strip() == IN_TRANSACTION_MARKER.encode() or not line:
                    break
        assert line.strip() == IN_TRANSACTION_MARKER.encode(), child.stderr.read().decode()
        # The batch row and all 300k facts are written but not committed: kill now.
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    wh = open_warehouse(url)
    try:
        assert wh.sql("SELECT COUNT(*) FROM batches")[0][0] == 0
        assert wh.sql("SELECT COUNT(*) FROM tax")[0][0] == 0
        assert wh.sql("SELECT COUNT(*) FROM rejected_rows")[0][0] == 0
        result = ingest_file(wh, "tax", csv_path)
        assert (result.batch_id, result.accepted, result.rejected, result.duplicate) == (1, ROWS, 0, False)
        assert wh.sql("SELECT COUNT(*), MIN(source_row), MAX(source_row) FROM tax")[0] == (ROWS, 2, ROWS + 1)
    finally:
        wh.close()
