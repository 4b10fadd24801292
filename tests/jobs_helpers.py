"""Helpers of the job tests that run real server processes: start and stop `jingxin serve`,
run CLI commands, sign in to the API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

JINGXIN = str(Path(sys.executable).with_name("jingxin"))
PASSWORD = "jingxin2024demo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINGXIN_")}
    env.update(
        JINGXIN_HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        JINGXIN_JOB_HEARTBEAT="0.5",
        JINGXIN_JOB_STALE_AFTER="5",
        JINGXIN_LOG_LEVEL="warning",
        **extra,
    )
    return env


def cli(
    home: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [JINGXIN, *args], cwd=home, env=env or environment(home), capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, (args, done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    return done


class Server:
    def __init__(self, home: Path, port: int, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = (home / f"server-{port}-{time.time_ns()}.log").open("w+")
        self.proc = subprocess.Popen(
            [JINGXIN, "serve", "--port", str(port), *args],
            cwd=home,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/login", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise AssertionError("server did not start:\n" + self.output())

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def api_login(url: str, username: str) -> httpx.Client:
    """An API client signed in as `username` (demo password), CSRF header set."""
    from jingxin.web.testing import csrf_from

    http = httpx.Client(base_url=url, timeout=60)
    form = http.get("/login")
    http.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(form.text)})
    http.headers["X-CSRF-Token"] = http.get("/api/v1/me").json()["csrf_token"]
    return http
