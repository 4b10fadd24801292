"""Running jobs (作业运行): the huey queue, the in-process consumer, and the supervisor.

Why huey, and why in the server process: see `docs/architecture.md` ("Jobs and schedules").
In short: huey is a small, maintained task queue with an embedded SQLite queue (nothing to
install) and PostgreSQL and Redis queues for production; its consumer runs as threads inside
the server, which is what DuckDB needs (one process may open the warehouse file, so whoever
runs jobs must be that process).

Each process that runs jobs builds one `JobRuntime`: it registers itself as a worker, starts
huey's consumer threads (without huey's signal handlers: the web server owns the signals), and
a supervisor thread that every few seconds

- writes a heartbeat for itself and its running jobs,
- requeues (or fails, when out of attempts) jobs whose process stopped heartbeating or, on
  this machine, no longer exists (`service.reap`),
- ticks the schedules (`schedules.tick`).

The queue carries only job ids. Delivering an id twice is harmless: a job is claimed with a
conditional UPDATE, so only one delivery runs it.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from huey import Huey, PostgresHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from pydantic import BaseModel

from jingxin.core import metrics
from jingxin.core.audit import Actor
from jingxin.core.db import Database
from jingxin.core.jobs import schedules, service
from jingxin.core.jobs.config import JobSettings, get_job_settings
from jingxin.core.jobs.models import Job
from jingxin.core.jobs.registry import JobKind, JobRefused, get_kind, load_kinds
from jingxin.core.request_context import request_id_bound
from jingxin.core.scope import Scope
from jingxin.core.settings import Settings

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.3  # seconds between progress writes of one job (the last one always lands)


class JobContext:
    """What a running job sees: its parameters, owner and scope, and ways to report."""

    def __init__(self, runtime: JobRuntime, job: Job, kind: JobKind, params: BaseModel) -> None:
        self.runtime = runtime
        self.job_id = job.id
        self.kind = kind
        self.params = params
        self.scope: Scope = service.scope_from_json(job.scope)
        self.owner_id = job.owner_id
        self.owner_name = job.owner_name
        self.attempt = job.attempts
        self._last_progress = 0.0

    @property
    def actor(self) -> Actor:
        """The job's owner, for the audit log."""
        return Actor(self.owner_id, self.owner_name, None)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def database(self) -> Database:
        return self.runtime.database

    def progress(self, done: int, total: int, message: str | None = None) -> None:
        """Report progress (`done` of `total` steps); written at most every 0.3 s."""
        now = time.monotonic()
        if done < total and now - self._last_progress < PROGRESS_EVERY:
            return
        self._last_progress = now
        with self.database.session() as db:
            service.set_progress(db, self.job_id, self.runtime.worker_id, int(done), int(total), message)

    def log(self, message: str, level: str = "info") -> None:
        with self.database.session() as db:
            service.add_log(db, self.job_id, message, level)

    @contextmanager
    def warehouse(self) -> Iterator[Any]:
        """The warehouse for writing, one writer at a time in this process."""
        with self.runtime.warehouse.writer() as wh:
            yield wh

    @contextmanager
    def warehouse_reader(self) -> Iterator[Any]:
        with self.runtime.warehouse.reader() as wh:
            yield wh

    def upload_path(self, upload: str, file_name: str) -> Path:
        """A file the owner uploaded for this job (see `jingxin.core.jobs.uploads`)."""
        from jingxin.core.jobs.uploads import upload_path

        return upload_path(self.settings, upload, file_name)

    def result_path(self, file_name: str) -> Path:
        """Where this job writes a result file its owner downloads from the job's page (see
        `jingxin.core.jobs.results`)."""
        from jingxin.core.jobs.results import new_result_path

        return new_result_path(self.settings, self.job_id, file_name)


def queue_url(settings: Settings, js: JobSettings) -> str:
    """Where the queue lives: JINGXIN_QUEUE, else beside the platform database (its own SQLite
    file next to a SQLite platform database; the same PostgreSQL database, tables `huey_*`)."""
    if js.queue:
        return js.queue
    url = settings.platform_database_url
    if url.startswith("sqlite"):
        return f"sqlite:///{(settings.home / 'queue.sqlite').resolve()}"
    return url


def make_huey(settings: Settings, js: JobSettings) -> Huey:
    url = queue_url(settings, js)
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("jingxin", filename=str(path), results=False, timeout=30)
    if url.startswith(("postgresql", "postgres")):
        return _postgres_huey("postgresql://" + url.split("://", 1)[1])
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("jingxin", url=url, results=False)
    raise ValueError(f"不支持的作业队列地址 {url!r}：请使用 sqlite:///、postgresql:// 或 redis://")


def _postgres_huey(dsn: str) -> Huey:
    """huey's PostgreSQL queue. Its tables are made with CREATE TABLE IF NOT EXISTS, which two
    server processes starting at once can race on: the loser finds them made, and retries."""
    import psycopg

    for attempt in range(5):
        try:
            return PostgresHuey("jingxin", dsn=dsn, results=False)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


class _InProcessConsumer(Consumer):
    """huey's consumer as threads of this process; the web server keeps its own signals."""

    def _set_signal_handlers(self) -> None:
        pass


def _message(exc: BaseException) -> str:
    """What the job's owner reads: the message of errors meant for people, else the kind of
    failure (the traceback goes to the server log)."""
    if isinstance(exc, JobRefused | ValueError | KeyError | LookupError | PermissionError | OSError):
        text = str(exc.args[0]) if exc.args else type(exc).__name__
        return text
    return f"内部错误（{type(exc).__name__}）：{exc}"


class JobRuntime:
    """The job machinery of one process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        warehouse: Any,
        *,
        role: str = "server",
        job_settings: JobSettings | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.warehouse = warehouse
        self.role = role
        self.js = job_settings or get_job_settings()
        self.worker_id = f"{service.this_host()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.huey = make_huey(settings, self.js)
        runtime = self

        def run_job(job_id: int) -> None:
            runtime.execute(job_id)

        self._task = self.huey.task(name="jingxin.run_job")(run_job)
        self._consumer: Consumer | None = None
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.running = False

    # ---- queue --------------------------------------------------------------------------
    def enqueue(self, job_id: int) -> None:
        self._task(job_id)

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        if self.running:  # a second start would leave the first consumer's threads running
            return
        load_kinds()
        with self.database.session() as db:
            service.register_worker(db, self.worker_id, self.role)
            schedules.ensure_defaults(db)
            for job_id in service.reap(db, self.js.job_stale_after, self.worker_id):
                self.enqueue(job_id)
            # A job committed by a process that died before enqueueing it would wait forever;
            # delivering a queued job twice is harmless (it is claimed once).
            for job_id in service.queued_ids(db):
                self.enqueue(job_id)
            schedules.tick(db, self.enqueue)
        self._consumer = _InProcessConsumer(
            self.huey,
            workers=max(1, self.js.job_threads),
            periodic=False,
            initial_delay=0.05,
            backoff=1.3,
            max_delay=1.0,
            check_worker_health=False,
            shutdown_timeout=10,
        )
        self._consumer.start()
        self._stop.clear()
        self._supervisor = threading.Thread(
            target=self._supervise, name="jingxin-jobs-supervisor", daemon=True
        )
        self._supervisor.start()
        self.running = True
        log.info("作业进程 %s 已启动（%s 个作业线程）", self.worker_id, self.js.job_threads)

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        self._stop.set()
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        try:
            with self.database.session() as db:
                service.unregister_worker(db, self.worker_id)
        except Exception:  # the database may already be gone at shutdown
            log.exception("unregistering job worker %s", self.worker_id)
        self.huey.storage.close()

    def _supervise(self) -> None:
        last_tick = time.monotonic()
        while not self._stop.wait(self.js.job_heartbeat):
            try:
                with self.database.session() as db:
                    service.heartbeat(db, self.worker_id)
                    for job_id in service.reap(db, self.js.job_stale_after, self.worker_id):
                        self.enqueue(job_id)
                    if time.monotonic() - last_tick >= self.js.schedule_every:
                        last_tick = time.monotonic()
                        schedules.tick(db, self.enqueue)
            except Exception:  # keep supervising through a passing database outage
                log.exception("job supervisor")

    # ---- running one job ----------------------------------------------------------------
    def execute(self, job_id: int) -> None:
        if self._stop.is_set():
            # A consumer thread of a runtime that is stopping took the message: put it back for
            # a live process (this one after its restart) instead of starting work it would cut.
            self.enqueue(job_id)
            return
        with self.database.session() as db:
            job = service.claim(db, job_id, self.worker_id)
            if job is None:
                return
            db.expunge(job)
        # The job's log lines and audit entries carry the id of the request that submitted it.
        with request_id_bound(job.request_id or f"job-{job.id}"):
            started = time.monotonic()
            outcome = "failed"
            try:
                outcome = self._execute(job)
            finally:
                if outcome != "released":
                    metrics.JOBS.labels(job.kind, outcome).inc()
                    metrics.JOB_DURATION.labels(job.kind).observe(time.monotonic() - started)

    def _execute(self, job: Job) -> str:
        """Run a claimed job; returns its outcome (succeeded, failed, released)."""
        job_id = job.id
        try:
            kind = get_kind(job.kind)
            params = kind.params.model_validate(job.params)
            ctx = JobContext(self, job, kind, params)
            result = kind.run(ctx) or {}
        except BaseException as exc:
            if self._stop.is_set():  # interrupted by the shutdown: run again after the restart
                with self.database.session() as db:
                    service.release(db, job_id, self.worker_id)
                # Queued again in the database and in the queue, so another live process
                # takes it now rather than at this one's restart.
                self.enqueue(job_id)
                return "released"
            if not isinstance(exc, JobRefused | ValueError | KeyError | LookupError | PermissionError):
                log.error("job %s (%s) failed:\n%s", job_id, job.kind, traceback.format_exc())
            with self.database.session() as db:
                service.fail(db, job_id, self.worker_id, _message(exc))
            if not isinstance(exc, Exception):
                raise
            return "failed"
        with self.database.session() as db:
            service.finish(db, job_id, self.worker_id, result)
        return "succeeded"


_current: JobRuntime | None = None


def set_current(runtime: JobRuntime | None) -> None:
    """The runtime of this process (the server's), for code that enqueues without a request."""
    global _current
    _current = runtime


def current() -> JobRuntime | None:
    return _current
