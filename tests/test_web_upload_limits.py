"""Upload limits on a real server: identity, role and CSRF are checked and oversized bodies
refused before the body is read; hostile files uploaded while other users are served leave the
server up, responsive, within its memory bound, and store nothing.

The server is `uvicorn` in a subprocess (as in production), so that its memory can be measured
on its own and a crash would show as a dead process rather than a failed test run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hostile_files as h
import httpx
import psutil
import pytest

from jingxin.web.testing import DEMO_PASSWORD, csrf_from

MB = 1024 * 1024
# What one hostile upload may add to the server's resident memory. Measured: under 40 MB for
# every hostile workbook and the 10 MB single-line CSVs; about 11 times the file for a CSV of
# junk rows that has to be read (387 MB for the 35 MB file of a million rows below), so about
# 550 MB at the 50 MB upload limit.
MEMORY_BOUND = 600 * MB


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _platform(home: Path) -> str:
    """A migrated platform database in `home` with the demo accounts; its URL."""
    from jingxin.accounts.demo import create_demo_users
    from jingxin.core import auth
    from jingxin.core.db import Database, upgrade
    from jingxin.web.testing import FAST_HASHER

    db_url = f"sqlite:///{home / 'platform.sqlite'}"
    upgrade(db_url)
    database = Database(db_url)
    previous = auth._hasher
    auth.configure_hasher(FAST_HASHER)  # cheap hashes: the server verifies with their own parameters
    try:
        with database.session() as db:
            create_demo_users(db, DEMO_PASSWORD)
            db.commit()
    finally:
        auth.configure_hasher(previous)
        database.dispose()
    return db_url


@contextmanager
def _serve(home: Path) -> Iterator[dict[str, Any]]:
    """The demo accounts on an empty warehouse in `home`, served by uvicorn in a process of
    its own (so that its memory is measured alone and a crash shows as a dead process)."""
    db_url = _platform(home)
    port = _free_port()
    env = {
        **os.environ,
        "JINGXIN_HOME": str(home),
        "JINGXIN_DATABASE_URL": db_url,
        "JINGXIN_WAREHOUSE": f"duckdb:///{home / 'warehouse.duckdb'}",
        "JINGXIN_SECRET_KEY": "limits-test",
    }
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "jingxin.web.app:create_app", "--host", "127.0.0.1"]
        + ["--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (home / "server.log").read_text(errors="replace")
            assert time.time() < deadline, "server did not start"
            time.sleep(0.2)
        yield {"base": base, "port": port, "process": process, "home": home}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def _serve_here(home: Path) -> Iterator[dict[str, Any]]:
    """The same app served by uvicorn on a thread of this process (quick to start)."""
    import uvicorn

    from jingxin.core.settings import Settings
    from jingxin.web.app import create_app

    settings = Settings(
        home=home,
        database_url=_platform(home),
        warehouse=f"duckdb:///{home / 'warehouse.duckdb'}",
        secret_key="limits-test",
    )
    port = _free_port()
    app = create_app(settings, migrate=False)
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not running.started:
        assert thread.is_alive() and time.time() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield {"base": f"http://127.0.0.1:{port}", "port": port}
    finally:
        running.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with _serve_here(tmp_path_factory.mktemp("limits")) as running:
        yield running


def _login(base: str, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login")
    done = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": csrf_from(page.text)}
    )
    assert done.status_code == 303, done.text[:300]
    return client, client.get("/api/v1/me").json()["csrf_token"]


def _raw(port: int, head: str, body: bytes = b"", *, wait: float = 10) -> tuple[int, str]:
    """Send a request head (and `body`, perhaps only the start of the declared body) and read
    the answer: the status and body text. The rest of a declared body is never sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head.encode("latin-1") + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        header, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in header.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    status = int(header.split(b" ", 2)[1]) if header else 0
    return status, rest.decode("utf-8", "replace")


def _multipart_head(path: str, length: int, boundary: str, cookie: str = "", csrf: str = "") -> str:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        f"Content-Length: {length}",
    ]
    if cookie:
        lines.append(f"Cookie: jingxin_session={cookie}")
    if csrf:
        lines.append(f"X-CSRF-Token: {csrf}")
    return "\r\n".join(lines) + "\r\n\r\n"


def _form_start(boundary: str, csrf: str) -> bytes:
    """The first parts of an upload form, as the page's form sends them: the CSRF field, the
    source, then the start of the file part."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="source"\r\n\r\ntax\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n统一社会信用代码,年度,实缴税收\n"
    ).encode()


# ---- refused before the body is read ------------------------------------------------------


def test_an_anonymous_50_mb_upload_is_refused_before_its_body_is_sent(server) -> None:
    for path in ("/data/upload", "/api/v1/batches"):
        started = time.perf_counter()
        status, text = _raw(server["port"], _multipart_head(path, 50 * MB, "b0"))
        assert status == 403 and "CSRF" in text
        assert time.perf_counter() - started < 5


def test_a_logged_in_upload_over_the_limit_is_refused_413_before_reading(server) -> None:
    client, token = _login(server["base"], "liaison-sw")
    cookie = client.cookies["jingxin_session"]
    status, text = _raw(server["port"], _multipart_head("/api/v1/batches", 51 * MB, "b1", cookie, token))
    assert status == 413 and "50 MB" in text and "upload_max_bytes" in text
    # a form post to any other route is limited to 1 MB
    head = (
        "POST /account/password HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {2 * MB}\r\nCookie: jingxin_session={cookie}\r\n\r\n"
    )
    assert _raw(server["port"], head)[0] == 413


def test_a_role_that_may_not_upload_is_refused_before_reading(server) -> None:
    client, token = _login(server["base"], "sheng")  # a province analyst
    cookie = client.cookies["jingxin_session"]
    status, text = _raw(server["port"], _multipart_head("/api/v1/batches", 50 * MB, "b2", cookie, token))
    assert status == 403 and "角色" in text


def test_a_wrong_form_csrf_token_is_refused_after_reading_only_the_form_start(server) -> None:
    client, token = _login(server["base"], "liaison-sw")
    cookie = client.cookies["jingxin_session"]
    start = _form_start("b3", "forged-" + uuid.uuid4().hex)
    status, text = _raw(server["port"], _multipart_head("/data/upload", 50 * MB, "b3", cookie), start)
    assert status == 403 and "CSRF" in text
    # the right token in the form passes this check; the page's upload then works as before
    body = _form_start("b4", token) + f"{h.CODES[0]},2023,1.5\r\n--b4--\r\n".encode()
    status, _ = _raw(server["port"], _multipart_head("/data/upload", len(body), "b4", cookie), body)
    assert status == 303


def test_a_chunked_body_is_cut_off_at_the_limit(server) -> None:
    client, token = _login(server["base"], "liaison-sw")
    cookie = client.cookies["jingxin_session"]
    head = (
        "POST /api/v1/me/password HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\nX-CSRF-Token: {token}\r\nCookie: jingxin_session={cookie}\r\n\r\n"
    )
    piece = b" " * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    status, text = _raw(server["port"], head, chunk * 20)  # 1.25 MB, never terminated
    assert status == 413 and "request_max_bytes" in text, (status, text)


# ---- hostile files while others are served -----------------------------------------------

HOSTILE = {
    "corners.xlsx": (h.corners("XFD1048576"), "ingest_max_columns"),
    "zz.xlsx": (h.corners("ZZ100000"), "ingest_max_columns"),
    "declared.xlsx": (h.declared_only("A1:XFD1048576"), "声明的区域"),
    "cells.xlsx": (h.wide_and_long(60_000, 200), "ingest_max_cells"),
    "bomb-ratio.xlsx": (h.ratio_bomb(40 << 20), "ingest_max_zip_ratio"),
    "bomb-size.xlsx": (h.lying_large(600 << 20), "ingest_max_expanded_bytes"),
    "bomb-lying.xlsx": (h.lying_small(30 << 20), "超过其声明"),
    "sheets.xlsx": (h.many_sheets(65), "ingest_max_sheets"),
    "shared.xlsx": (h.giant_shared_string(32_000, 10_000), "ingest_max_text_bytes"),
    "line-utf8.csv": (h.single_line_csv(10 << 20), "ingest_max_line_bytes"),
    "line-gb18030.csv": (h.single_line_csv(10 << 20, "gb18030"), "ingest_max_line_bytes"),
    "junk.csv": (h.junk_rows_csv(200_000, "gb18030"), "ingest_max_rejected_share"),
    # a million rows of junk (35 MB): near the row limit, the costliest kind of file that is read
    "junk-large.csv": (h.junk_rows_csv(1_000_000, "gb18030"), "ingest_max_rejected_share"),
    "nothing-matches.csv": (("名称,地址\n" + "某公司,某地\n" * 100_000).encode(), "统一社会信用代码"),
}


class _Watcher:
    """Another user reading pages while the uploads run, and the server's memory sampled."""

    def __init__(self, server: dict[str, Any]) -> None:
        self.client, _ = _login(server["base"], "admin")
        self.process = psutil.Process(server["process"].pid)
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.peak = 0
        self.threads = [threading.Thread(target=self._read), threading.Thread(target=self._sample)]

    def _read(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                answer = self.client.get("/api/v1/batches", timeout=30)
                if answer.status_code != 200:
                    self.failures.append(f"{answer.status_code}")
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
            self.latencies.append(time.perf_counter() - started)
            time.sleep(0.05)

    def _sample(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.01)

    def __enter__(self) -> _Watcher:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


@pytest.mark.slow
def test_hostile_uploads_leave_the_server_up_responsive_bounded_and_unchanged(tmp_path) -> None:
    with _serve(tmp_path) as server:
        peaks = _upload_hostile_files(server)
        assert server["process"].poll() is None
    print("\npeak RSS above baseline (MB):", {k: round(v / MB) for k, v in peaks.items()})
    assert max(peaks.values()) < MEMORY_BOUND, peaks
    # nothing partial: the warehouse has no batch and no rejected row
    from jingxin.core.warehouse import open_warehouse

    wh = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    try:
        assert wh.sql("SELECT COUNT(*) FROM batches")[0][0] == 0
        assert wh.sql("SELECT COUNT(*) FROM rejected_rows")[0][0] == 0
        assert wh.sql("SELECT COUNT(*) FROM tax")[0][0] == 0
    finally:
        wh.close()


def _upload_hostile_files(server: dict[str, Any]) -> dict[str, int]:
    """Upload every hostile file while another user reads; the peak memory of each upload."""
    uploader, token = _login(server["base"], "liaison-sw")
    process = psutil.Process(server["process"].pid)
    uploader.get("/data")  # warm up: the page and the upload path loaded once
    baseline = process.memory_info().rss
    peaks = {}
    with _Watcher(server) as watcher:
        for name, (data, expected) in HOSTILE.items():
            watcher.peak = 0
            answer = uploader.post(
                "/api/v1/batches",
                data={"source": "tax"},
                files={"file": (name, data, "application/octet-stream")},
                headers={"X-CSRF-Token": token},
            )
            assert answer.status_code == 422, (name, answer.status_code, answer.text[:300])
            assert expected in answer.json()["detail"], (name, answer.json()["detail"])
            time.sleep(0.05)
            peaks[name] = watcher.peak - baseline
            assert server["process"].poll() is None, f"server died on {name}"
        # the page's form too: refused, explained on the data page, the server unharmed
        form_token = csrf_from(uploader.get("/data").text)
        answer = uploader.post(
            "/data/upload",
            data={"source": "tax", "csrf_token": form_token},
            files={"file": ("corners.xlsx", h.corners(), "application/octet-stream")},
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/data"
        assert "ingest_max_columns" in uploader.get("/data").text
    print(f"\nother user's reads: {len(watcher.latencies)}, slowest {max(watcher.latencies):.2f} s")
    assert not watcher.failures, watcher.failures
    assert len(watcher.latencies) > 10 and max(watcher.latencies) < 10
    assert uploader.get("/api/v1/batches").json()["total"] == 0
    return peaks


# ---- downloads stream -----------------------------------------------------------------------


@pytest.mark.slow
def test_a_large_rejected_csv_is_streamed_in_bounded_memory(tmp_path) -> None:
    """150,000 problems (~100 MB of CSV) from a real server: the answer arrives in pieces and
    the process grows by a fraction of it (the whole answer was built in memory before, as a
    list of rows, a string and bytes: several times its size)."""
    h.seed_rejections(f"duckdb:///{tmp_path / 'warehouse.duckdb'}", 9, rows=50_000, per_row=3, raw_bytes=600)
    with _serve_here(tmp_path) as server:
        client, _ = _login(server["base"], "admin")
        # A first download fills DuckDB's block cache with the table (shared by all requests,
        # bounded by DuckDB's memory limit); the second shows what one download costs.
        with client.stream("GET", "/data/batches/9/rejected.csv") as answer:
            for _ in answer.iter_bytes():
                pass
        process = psutil.Process()
        baseline = process.memory_info().rss
        peak = baseline
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, process.memory_info().rss)
                done.wait(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        size = pieces = lines = 0
        try:
            with client.stream("GET", "/data/batches/9/rejected.csv") as answer:
                assert answer.status_code == 200
                for piece in answer.iter_bytes():
                    size += len(piece)
                    lines += piece.count(b"\r\n")
                    pieces += 1
        finally:
            done.set()
            sampler.join()
    print(f"\n{size / MB:.0f} MB streamed in {pieces} pieces; memory grew {(peak - baseline) / MB:.0f} MB")
    assert lines == 150_001 and size > 90 * MB and pieces > 5
    assert peak - baseline < 60 * MB, (peak - baseline) / MB
