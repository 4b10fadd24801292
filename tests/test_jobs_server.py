"""End to end with a real server process: the CLI hands ingestion and evaluation to the
running server (which owns the DuckDB file) in the caller's name; a server killed with SIGKILL
in the middle of a job leaves no partial batch and the job runs again when it is back."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from jobs_helpers import PASSWORD, Server, api_login, cli, environment, free_port

from jingxin.ingest.service import IN_TRANSACTION_MARKER, PAUSE_ENV

# Each test starts `jingxin serve` (and kills it): minutes together, run by `make test-heavy`.
pytestmark = [pytest.mark.slow, pytest.mark.heavy, pytest.mark.duckdb]


def test_cli_hands_ingest_and_evaluation_to_the_running_server(tmp_path: Path) -> None:
    home = tmp_path
    data = home / "province"
    cli(home, "generate", "--enterprises", "300", "--years", "2021", "--seed", "3", str(data))
    cli(home, "users", "demo")
    server = Server(home, free_port(), environment(home))
    try:
        assert json.loads((home / "server.json").read_text())["url"] == server.url
        # without a login the CLI says what to do, and touches nothing
        refused = cli(home, "ingest", "tax", str(data / "tax_2021.csv"), check=False)
        assert refused.returncode == 1 and "jingxin login" in refused.stderr

        cli(home, "login", "-u", "liaison-sw", "--password", PASSWORD)
        creds = home / "config" / "jingxin" / "credentials.json"
        assert creds.stat().st_mode & 0o777 == 0o600 and PASSWORD not in creds.read_text()
        done = cli(home, "ingest", "tax", str(data / "tax_2021.csv"), "--json")
        batch = json.loads(done.stdout)
        assert batch["loaded_by"] == "liaison-sw" and batch["accepted"] > 0 and batch["source"] == "tax"
        # a liaison of 税务 may not send power data: the server refuses in their name
        other = cli(home, "ingest", "power", str(data / "power_2021.csv"), check=False)
        assert other.returncode == 1 and "无权上传数据源 power" in other.stderr

        cli(home, "login", "-u", "admin", "--password", PASSWORD)
        whole = cli(home, "ingest-dir", str(data), "--json")
        outcomes = json.loads(whole.stdout)  # the same shape as a run in process
        assert sum(o["result"]["loaded_by"] == "admin" for o in outcomes if "result" in o) >= 9

        cli(home, "login", "-u", "hangzhou", "--password", PASSWORD)
        outside = cli(
            home,
            "evaluate",
            "--year",
            "2021",
            "--system",
            "zhejiang_industry_above",
            "--scope",
            "330200",
            check=False,
        )
        assert outside.returncode == 2 and "不在您的数据范围内" in outside.stdout + outside.stderr
        run = json.loads(
            cli(
                home,
                "evaluate",
                "--year",
                "2021",
                "--system",
                "zhejiang_industry_above",
                "--scope",
                "330100",
                "--json",
            ).stdout
        )
        assert run["scope"] == "330100" and run["enterprise_count"] > 0

        admin = api_login(server.url, "admin")
        jobs = admin.get("/api/v1/jobs").json()["items"]
        owners = {(j["kind"], j["owner_name"], j["status"]) for j in jobs}
        assert ("ingest", "liaison-sw", "succeeded") in owners
        assert ("evaluation.run", "hangzhou", "succeeded") in owners
        assert any(r["run_id"] == run["run_id"] for r in admin.get("/api/v1/evaluation/runs").json())
    finally:
        server.stop()
    assert not (home / "server.json").exists()
    # no server: the same command runs in process again
    local = cli(home, "ingest", "tax", str(data / "tax_2021.csv"), "--json")
    assert json.loads(local.stdout)["duplicate"] is True


def test_a_server_killed_mid_job_leaves_no_partial_batch_and_the_job_runs_again(tmp_path: Path) -> None:
    from jingxin.core.warehouse import open_warehouse

    home = tmp_path
    cli(home, "users", "demo")
    rows = "\n".join(f"{code},2021,{i}.5" for i, code in enumerate(_codes(2000)))
    body = ("统一社会信用代码,年度,实缴税收\n" + rows + "\n").encode()
    port = free_port()
    server = Server(home, port, environment(home, **{PAUSE_ENV: "60"}))
    try:
        http = api_login(server.url, "liaison-sw")
        up = http.post("/api/v1/jobs/uploads", files={"file": ("税务.csv", body, "text/csv")}).json()
        job = http.post(
            "/api/v1/jobs", json={"kind": "ingest", "params": {"files": [{"source": "tax", **up}]}}
        )
        job_id = job.json()["id"]
        deadline = time.monotonic() + 60
        while IN_TRANSACTION_MARKER not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        os.killpg(server.proc.pid, signal.SIGKILL)  # facts written, not committed
        server.proc.wait(30)
    finally:
        server.stop()
    wh = open_warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    try:
        assert wh.sql("SELECT COUNT(*) FROM batches")[0][0] == 0
        assert wh.sql("SELECT COUNT(*) FROM tax")[0][0] == 0
    finally:
        wh.close()

    server = Server(home, port, environment(home))
    try:
        http = api_login(server.url, "liaison-sw")
        deadline = time.monotonic() + 60
        while (job := http.get(f"/api/v1/jobs/{job_id}").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
        assert job["status"] == "succeeded" and job["attempts"] == 2, job
        assert any("在运行中终止" in line["message"] for line in job["logs"])
        assert job["result"]["batches"][0]["accepted"] == 2000
        assert http.get("/api/v1/batches").json()["total"] == 1
    finally:
        server.stop()


def _codes(n: int) -> list[str]:
    import random

    from jingxin.core.credit_code import generate

    return sorted({generate("330106", random.Random(i)) for i in range(n * 2)})[:n]


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    done = cli(tmp_path, "serve", "--workers", "2", check=False)
    assert done.returncode == 2 and "DuckDB" in done.stderr and "PostgreSQL" in done.stderr
    alone = cli(tmp_path, "worker", check=False)
    assert alone.returncode == 1 and "PostgreSQL 仓库" in alone.stderr
