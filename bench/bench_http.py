"""Load benchmark of `jingxin serve` (网页服务压测) with a real HTTP load generator (wrk).

Builds (or reuses) a demo province in JINGXIN_HOME — by default 100,000 enterprises, ingested
and evaluated — starts `jingxin serve` as its own process, logs in as the province, city
and county analysts through the login form, and runs wrk with 50 concurrent connections
against the dashboard and list endpoints, one endpoint at a time, each request sent as the
next of those users in turn (three scopes, three sessions). Prints one JSON object with
p50/p95/p99 latency, requests per second, 500 and 503 answers per endpoint and, on
PostgreSQL, the most connections the database held meanwhile. Measuring starts once the
server's processes have finished their start-up work (all of them warmed). Before each measured run, the
same load runs unmeasured for `--warmup` seconds (default 5): the steady state is measured,
with every server process having answered the endpoint (each keeps its own caches).

    .venv/bin/python bench/bench_http.py [--home var/bench-http] [--enterprises 100000]
        [--duration 30] [--connections 50] [--users sheng,hangzhou,xihu] [--log-level info]
        [--workers N] [--endpoints 0,3] [--warmup 5]

Needs Debian's `wrk` (apt-get install wrk). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ENDPOINTS = [
    ("首页 dashboard", "/"),
    ("评价结果 list page", "/evaluation?year=2021"),
    ("首页数据 dashboard API", "/api/v1/dashboard"),
    ("评价结果 list API", "/api/v1/evaluation/results?year=2021&page=1"),
    ("区县排名 ranking API", "/api/v1/evaluation/ranking?year=2021"),
    # Every request a page not asked for before: the warehouse answers, no cache helps.
    ("评价结果 list API, uncached pages", "/api/v1/evaluation/results?year=2021&page=PAGE_N"),
]

# wrk prints only p50/75/90/99 with --latency; this script reports the percentiles we target.
WRK_SCRIPT = """
counter = 0
s500 = 0
s503 = 0
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

-- 500s (failures) and 503s (a store busy or down: refused with Retry-After) counted apart
response = function(status, headers, body)
  if status == 500 then s500 = s500 + 1 elseif status == 503 then s503 = s503 + 1 end
end

request = function()
  counter = counter + 1
  local path = string.gsub(wrk.path, "PAGE_N", tostring(counter))
  return wrk.format("GET", path, {["Cookie"] = cookies[(counter % #cookies) + 1]})
end

done = function(summary, latency, requests)
  local n500, n503 = 0, 0
  for _, thread in ipairs(threads) do
    n500 = n500 + thread:get("s500")
    n503 = n503 + thread:get("s503")
  end
  io.write(string.format("JSON {\\"p50_ms\\": %.2f, \\"p95_ms\\": %.2f, \\"p99_ms\\": %.2f, "
    .. "\\"requests\\": %d, \\"errors\\": %d, \\"non_2xx\\": %d, \\"status_500\\": %d, "
    .. "\\"status_503\\": %d, \\"seconds\\": %.2f}\\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, summary.errors.status, n500, n503, summary.duration / 1e6))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jingxin(*args: str, env: dict[str, str]) -> None:
    """Run a CLI command, its output on stderr so that stdout carries only the JSON result."""
    command = [str(Path(sys.executable).parent / "jingxin"), *args]
    subprocess.run(command, env=env, check=True, stdout=sys.stderr)


def login_cookie(base: str, username: str, password: str) -> str:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        answer = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"}
        )
        assert answer.status_code == 303, answer.text[:300]
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def run_wrk(url: str, cookies: list[str], connections: int, duration: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("cookies = {" + ", ".join(json.dumps(c) for c in cookies) + "}\n" + WRK_SCRIPT)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    stats = json.loads(out.split("JSON ", 1)[1])
    stats["requests_per_s"] = round(stats["requests"] / stats["seconds"], 1)
    return stats


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process and its worker processes
    (Linux `/proc`), so that runs on machines of different speed can be compared per request."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wait_until_settled(pid: int, idle_share: float = 0.1, window: float = 2.0, limit: float = 600) -> float:
    """Wait until the server's processes use less than `idle_share` of a core over `window`
    seconds; returns the seconds waited. With several processes the first one answers while
    the others still warm their caches (`web/warmup.py`), which would take the cores from the
    measured load."""
    started = time.perf_counter()
    before = server_cpu_seconds(pid)
    while time.perf_counter() - started < limit:
        time.sleep(window)
        now = server_cpu_seconds(pid)
        if now - before < idle_share * window:
            break
        before = now
    return time.perf_counter() - started


class ConnectionSampler:
    """The most connections PostgreSQL held to the platform database while the load ran
    (sampled every 0.2 s), when the stores are on PostgreSQL."""

    def __init__(self, url: str | None) -> None:
        self.url = url if url and url.startswith("postgresql") else None
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        assert self.url is not None
        dsn = "postgresql://" + self.url.split("://", 1)[1].split("?")[0]
        with psycopg.connect(dsn, autocommit=True) as con:
            while not self._stop.wait(0.2):
                count = con.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                ).fetchone()
                self.peak = max(self.peak, int(count[0]) - 1)  # not this sampler's own

    def __enter__(self) -> ConnectionSampler:
        if self.url:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.url:
            self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", default="var/bench-http")
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--users", default="sheng,hangzhou,xihu", help="demo accounts, comma-separated")
    parser.add_argument("--log-level", default="info", help="server log level (info keeps the access log)")
    parser.add_argument(
        "--endpoints", default="", help="labels' indices to run, comma-separated (default: all)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="seconds of unmeasured load before each endpoint's run, so that every process has answered it",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (above 1 needs JINGXIN_WAREHOUSE and JINGXIN_DATABASE_URL on PostgreSQL)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")

    port = free_port()
    env = {**os.environ, "JINGXIN_HOME": str(Path(args.home).resolve()), "JINGXIN_PORT": str(port)}
    started = time.perf_counter()
    jingxin("demo", "--enterprises", str(args.enterprises), "--no-serve", env=env)
    prepared = time.perf_counter() - started

    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jingxin"), "serve", "--port", str(port)]
        + ["--workers", str(args.workers)],
        env={**env, "JINGXIN_LOG_LEVEL": args.log_level},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        settled = wait_until_settled(server.pid)
        from jingxin.accounts.demo import DEMO_PASSWORD

        users = args.users.split(",")
        cookies = [login_cookie(base, user, DEMO_PASSWORD) for user in users]
        results = {}
        chosen = [ENDPOINTS[int(i)] for i in args.endpoints.split(",")] if args.endpoints else ENDPOINTS
        for label, path in chosen:
            for cookie in cookies:  # the first answer of each view is made before the clock starts
                warm = path.replace("PAGE_N", "1")
                httpx.get(base + warm, headers={"Cookie": cookie}, timeout=120).raise_for_status()
            if args.warmup:  # with several processes, each makes its own first answers
                run_wrk(base + path, cookies, args.connections, args.warmup)
            cpu_before = server_cpu_seconds(server.pid)
            with ConnectionSampler(os.environ.get("JINGXIN_DATABASE_URL")) as sampler:
                stats = run_wrk(base + path, cookies, args.connections, args.duration)
            cpu = server_cpu_seconds(server.pid) - cpu_before
            results[label] = {
                "path": path,
                **stats,
                "server_cpu_ms_per_request": round(cpu * 1000 / max(stats["requests"], 1), 2),
                "pg_connections_peak": sampler.peak or None,
            }
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        json.dumps(
            {
                "benchmark": "http",
                "enterprises": args.enterprises,
                "connections": args.connections,
                "workers": args.workers,
                "duration_s": args.duration,
                "users": users,
                "log_level": args.log_level,
                "warmup_s": args.warmup,
                "prepare_s": round(prepared, 1),
                "start_up_settled_s": round(settled, 1),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "endpoints": results,
            },
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
