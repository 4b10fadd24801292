"""A Spark standalone cluster on this machine, from the installed PySpark (for tests and bench/).

    with standalone_cluster(workdir, workers=2) as cluster:
        cluster.master   # spark://127.0.0.1:<port>

A master and `workers` workers are started with PySpark's `spark-class` launcher, bound to
127.0.0.1 (one core and `worker_memory` for executors each; the master's REST submission port
off), and their JVMs are stopped when the block ends. A production cluster is started by its
operators (sbin/start-master.sh, start-worker.sh, or YARN/Kubernetes); see docs/deployment.md.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    master: str
    port: int
    ui_port: int
    workdir: Path

    def state(self) -> dict[str, Any]:
        """The master's status document (workers, running and completed applications)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as answer:
            return json.load(answer)


@contextmanager
def standalone_cluster(
    workdir: Path, workers: int = 2, worker_memory: str = "512m", timeout: float = 180
) -> Iterator[Cluster]:
    import pyspark

    home = Path(pyspark.__file__).parent
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster("", _free_port(), _free_port(), workdir)
    cluster = Cluster(f"spark://127.0.0.1:{cluster.port}", cluster.port, cluster.ui_port, workdir)
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_WORKER_DIR": str(workdir / "work"),
        "SPARK_LOG_DIR": str(workdir),
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }
    launcher = str(home / "bin" / "spark-class")
    procs: list[subprocess.Popen] = []

    def start(log: str, *args: str) -> None:
        with open(workdir / log, "wb") as out:
            procs.append(
                subprocess.Popen(
                    [launcher, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    try:
        start("master.log", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
              "--port", str(cluster.port), "--webui-port", str(cluster.ui_port))  # fmt: skip
        for i in range(1, workers + 1):
            start(f"worker{i}.log", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                  "--cores", "1", "--memory", worker_memory, "--webui-port", "0", cluster.master)  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                if cluster.state()["aliveworkers"] == workers:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                logs = "\n".join((workdir / f).read_text()[-2000:] for f in ("master.log", "worker1.log"))
                raise RuntimeError(f"Spark standalone cluster did not come up:\n{logs}")
            time.sleep(1)
        yield cluster
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
