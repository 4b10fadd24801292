"""Settings of jobs and schedules, read from the environment (prefix JINGXIN_) or `.env`.

Kept apart from `jingxin.core.settings` so the job machinery carries its own knobs:

- `JINGXIN_QUEUE` (default: from the platform database): `sqlite:///file` (huey's SQLite
  queue, `$JINGXIN_HOME/queue.sqlite` beside a SQLite platform database), `postgresql://…`
  (huey's PostgreSQL queue, tables `huey_*`, by default in the platform database) or
  `redis://host:6379/0`;
- `JINGXIN_JOB_THREADS` (2): job threads per server process;
- `JINGXIN_JOB_HEARTBEAT` (5): seconds between heartbeats of a process running jobs;
- `JINGXIN_JOB_STALE_AFTER` (30): seconds without a heartbeat after which a running job's
  process counts as dead;
- `JINGXIN_SCHEDULE_EVERY` (30): seconds between looks at the schedules;
- `JINGXIN_TIMEZONE` (Asia/Shanghai): the clock schedules are written in;
- `JINGXIN_SERVER_URL`: where the CLI finds a running server (else `$JINGXIN_HOME/server.json`).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class JobSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JINGXIN_", env_file=".env", extra="ignore")

    queue: str | None = None
    job_threads: int = 2
    job_heartbeat: float = 5.0
    job_stale_after: float = 30.0
    schedule_every: float = 30.0
    timezone: str = "Asia/Shanghai"
    server_url: str | None = None


@lru_cache
def get_job_settings() -> JobSettings:
    return JobSettings()
