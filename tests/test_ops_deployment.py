"""Deployment: `.env.example` explains every setting the platform reads; the container image
builds from the lock files and serves the login page (where Docker is usable).

The step-by-step check of docs/deployment.md on PostgreSQL is scripts/check_deployment.sh,
run by .ci/run (it starts several server processes and takes about a minute)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from jingxin.core.jobs.config import JobSettings
from jingxin.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# Read straight from the environment elsewhere (not through a settings class).
OTHER_VARIABLES = {"JINGXIN_WORKFLOWS", "JINGXIN_EXCHANGE_CALENDAR", "PROMETHEUS_MULTIPROC_DIR"}


def example_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, flags=re.M))


def test_env_example_lists_every_setting() -> None:
    settings = {f"JINGXIN_{name.upper()}" for name in Settings.model_fields}
    settings |= {f"JINGXIN_{name.upper()}" for name in JobSettings.model_fields}
    listed = example_variables()
    assert settings | OTHER_VARIABLES <= listed, sorted((settings | OTHER_VARIABLES) - listed)
    assert listed <= settings | OTHER_VARIABLES, sorted(listed - settings - OTHER_VARIABLES)


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 30 s"
    if info.returncode != 0:
        last = (info.stderr or info.stdout).strip().splitlines()
        return f"docker daemon not usable: {last[-1] if last else 'docker info failed'}"
    return None


@pytest.mark.slow
def test_container_image_builds_and_serves_the_login_page(tmp_path: Path) -> None:
    problem = docker_problem()
    if problem:
        pytest.skip(problem)
    tag = f"jingxin-test:{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    name = f"jingxin-test-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(
            [
                "docker",
                "run",
                "-d",
                "--name",
                name,
                "-p",
                "127.0.0.1::8000",
                "-e",
                "JINGXIN_SECRET_KEY=test-only",
                tag,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        user = subprocess.run(
            ["docker", "exec", name, "id", "-u"], capture_output=True, text=True, check=True
        )
        assert user.stdout.strip() != "0"  # never root
        port = (
            subprocess.run(["docker", "port", name, "8000"], capture_output=True, text=True, check=True)
            .stdout.strip()
            .rsplit(":", 1)[1]
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
                    pytest.fail(f"the container did not answer:\n{logs[-3000:]}")
                time.sleep(1)
        assert answer.status_code == 200
        assert 'name="password"' in answer.text
        assert httpx.get(f"http://127.0.0.1:{port}/static/vendor/htmx.min.js").status_code == 200
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
