"""The CLI's hand-off to a running server (命令行移交作业).

A writing command (`jingxin ingest`, `ingest-dir`, `evaluate`, `evaluate-uncertainty`) works
whether or not the server runs:

- **no server**: it opens the warehouse itself and runs in process, as before;
- **a server runs**: the server owns the warehouse (with DuckDB no other process may open the
  file), so the command hands the work to it as a job, in the caller's own name and scope,
  and follows its progress until it ends.

How the CLI finds the server: `JINGXIN_SERVER_URL`, else `$JINGXIN_HOME/server.json`, which
`jingxin serve` writes at start (address and process id, no secret) and removes at stop; a
file whose process is gone is ignored.

How the caller is known: `jingxin login` signs in to the server with the user's own account
(the same password check, throttling and audit as the login page) and keeps the resulting
session in `~/.config/jingxin/credentials.json` (mode 0600, one entry per server): the
session cookie and its CSRF token, never the password. The session lives as a browser's does
(idle 2 h, at most 12 h), ends with `jingxin logout`, and dies when the account is disabled or
its password reset. A bureau thus keeps one identity per person on every path, and a command
handed over is audited under that person, with that person's region scope.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from jingxin.core.jobs.config import get_job_settings
from jingxin.core.settings import Settings, get_settings

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_COOKIE = "jingxin_session"
POLL_EVERY = 0.3


class HandOffError(RuntimeError):
    """The work could not be handed to the server; the message is Chinese."""


# ---- finding the server ---------------------------------------------------------------------


def server_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "server.json"


def write_server_file(url: str, settings: Settings | None = None) -> Path:
    path = server_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "host": socket.gethostname()}))
    tmp.replace(path)
    return path


def remove_server_file(settings: Settings | None = None) -> None:
    path = server_file(settings)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_server(settings: Settings | None = None) -> str | None:
    """The URL of the running server, or None when none runs."""
    explicit = get_job_settings().server_url
    if explicit:
        return explicit.rstrip("/")
    try:
        info = json.loads(server_file(settings).read_text())
    except (OSError, ValueError):
        return None
    if info.get("host") == socket.gethostname() and not _alive(int(info.get("pid", 0))):
        return None
    return str(info["url"]).rstrip("/")


# ---- credentials ----------------------------------------------------------------------------


def credentials_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "jingxin" / "credentials.json"


def _read_credentials() -> dict[str, Any]:
    try:
        return dict(json.loads(credentials_file().read_text()))
    except (OSError, ValueError):
        return {}


def _write_credentials(data: dict[str, Any]) -> None:
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def login(url: str, username: str, password: str) -> dict[str, Any]:
    """Sign in to the server at `url` like the login page does; keep the session."""
    url = url.rstrip("/")
    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as http:
        try:
            form = http.get("/login")
        except httpx.HTTPError as exc:
            raise HandOffError(f"无法连接服务 {url}：{exc}") from None
        match = CSRF_FIELD.search(form.text)
        if match is None:
            raise HandOffError(f"{url} 不是数字经信服务的地址")
        answer = http.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": match.group(1), "next": "/"},
        )
        if answer.status_code != 303:
            reason = re.search(r'class="alert[^"]*"[^>]*>([^<]+)<', answer.text)
            raise HandOffError(f"登录失败：{reason.group(1).strip() if reason else answer.status_code}")
        me = http.get("/api/v1/me").json()
        session = http.cookies.get(SESSION_COOKIE)
    entry = {
        "username": me["username"],
        "session": session,
        "csrf_token": me["csrf_token"],
        "at": time.time(),
    }
    data = _read_credentials()
    data[url] = entry
    _write_credentials(data)
    return entry


def logout(url: str) -> bool:
    url = url.rstrip("/")
    data = _read_credentials()
    entry = data.pop(url, None)
    if entry is None:
        return False
    try:
        with ServerClient(url, entry) as client:
            client.http.post("/logout")
    except httpx.HTTPError:
        pass
    _write_credentials(data)
    return True


# ---- talking to the server ------------------------------------------------------------------


class ServerClient:
    """An authenticated client of the server's jobs API."""

    def __init__(self, url: str, entry: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        entry = entry or _read_credentials().get(self.url)
        if not entry:
            raise HandOffError(
                f"服务正在运行（{self.url}），它独占仓库，命令须交给它执行。"
                f"请先登录：jingxin login --server {self.url}"
            )
        self.username = entry["username"]
        self.http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(600, connect=10),
            cookies={SESSION_COOKIE: entry["session"]},
            headers={"X-CSRF-Token": entry["csrf_token"]},
            follow_redirects=False,
        )

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 401:
            raise HandOffError(f"登录已过期，请重新登录：jingxin login --server {self.url}")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:300]
            raise HandOffError(f"服务拒绝了请求（{response.status_code}）：{detail}")
        return dict(response.json())

    def upload(self, path: Path) -> dict[str, Any]:
        with path.open("rb") as fh:
            return self._check(self.http.post("/api/v1/jobs/uploads", files={"file": (path.name, fh)}))

    def submit(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        # One request key per command: if the answer is lost and the request sent again, the
        # server starts the job once.
        body = {"kind": kind, "params": params, "request_key": f"cli-{uuid.uuid4().hex}"}
        for attempt in range(3):
            try:
                return self._check(self.http.post("/api/v1/jobs", json=body))
            except httpx.TransportError:
                if attempt == 2:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")

    def job(self, job_id: int, log_after: int = 0) -> dict[str, Any]:
        return self._check(self.http.get(f"/api/v1/jobs/{job_id}", params={"log_after": log_after}))

    def follow(
        self, job_id: int, on_update: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None
    ) -> dict[str, Any]:
        """Poll the job until it ends; `on_update(job, new_log_lines)` after each look."""
        last_log = 0
        while True:
            job = self.job(job_id, last_log)
            if job["logs"]:
                last_log = job["logs"][-1]["id"]
            if on_update is not None:
                on_update(job, job["logs"])
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(POLL_EVERY)


def run_on_server(
    url: str,
    kind: str,
    params: dict[str, Any] | Callable[[list[dict[str, Any]]], dict[str, Any]],
    files: list[Path] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Hand one job to the server: upload `files`, submit (`params`, or `params(uploads)` for
    jobs that read uploaded files, see `ingest_params`), follow it with a progress bar on
    stderr unless `quiet`; returns the finished job."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    err = Console(stderr=True, highlight=False)
    with ServerClient(url) as client:
        uploads = [client.upload(p) for p in files or []]
        job = client.submit(kind, params(uploads) if callable(params) else params)
        if quiet:
            return client.follow(job["id"])
        err.print(f"已交给运行中的服务（{url}）执行：作业 {job['id']}，提交人 {client.username}")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            task = progress.add_task(job["title"], total=100)

            def show(current: dict[str, Any], lines: list[dict[str, Any]]) -> None:
                for line in lines:
                    progress.console.print(f"[dim]· {line['message']}[/]")
                progress.update(task, completed=current["percent"], description=current["progress_message"])

            return client.follow(job["id"], show)


def ingest_params(items: list[tuple[str, str | None]]) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """Parameters of an `ingest` job for files (source, period) uploaded in this order."""

    def build(uploads: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "files": [
                {"source": source, "period": period, "upload": u["upload"], "file_name": u["file_name"]}
                for (source, period), u in zip(items, uploads, strict=True)
            ]
        }

    return build
