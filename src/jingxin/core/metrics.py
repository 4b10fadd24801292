"""Prometheus metrics of the platform (运行指标): what an operations team watches.

The metric objects live here, in core, so that the parts that do the work (requests, jobs,
ingestion, caches, the audit log) count it where it happens; `jingxin.ops.metrics_view`
serves them at `/metrics`.

- `jingxin_http_requests_total{method,route,status}` and
  `jingxin_http_request_duration_seconds{method,route}`: by route *template*
  (`/api/v1/jobs/{job_id}`), never the raw path, so that ids do not explode the label set;
- `jingxin_jobs_total{kind,outcome}` and `jingxin_job_duration_seconds{kind}`;
- `jingxin_ingest_rows_total{source,outcome}`: rows accepted and rejected per source;
- `jingxin_cache_requests_total{cache,result}`: hits and misses of the read caches;
- `jingxin_audit_write_seconds`: how long writing a batch of audit entries takes;
- `jingxin_warehouse_data_version{part}`: the warehouse's data version, read at each scrape.

Several server processes (`jingxin serve --workers N`): prometheus-client's multiprocess mode,
switched on by the environment variable PROMETHEUS_MULTIPROC_DIR (a folder every process
writes its counters to, emptied before start; `jingxin serve` does this itself). It must be
set before this module is imported, which is why `serve` sets it before the workers start.

Histogram buckets are prometheus-client's defaults (5 ms … 10 s) for requests, and a
project-default ladder up to an hour for jobs (jobs run from seconds to tens of minutes).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("jingxin_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "jingxin_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"]
)
JOBS = Counter("jingxin_jobs", "Jobs finished", ["kind", "outcome"])
JOB_DURATION = Histogram(
    "jingxin_job_duration_seconds",
    "Time a job ran",
    ["kind"],
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),  # project default
)
INGEST_ROWS = Counter("jingxin_ingest_rows", "Rows of ingested files", ["source", "outcome"])
CACHE_REQUESTS = Counter("jingxin_cache_requests", "Read cache look-ups", ["cache", "result"])
AUDIT_WRITE = Histogram("jingxin_audit_write_seconds", "Time to write a batch of audit entries")
WAREHOUSE_VERSION = Gauge(
    "jingxin_warehouse_data_version",
    "The warehouse data version: newest batch id, superseded batches, evaluation runs",
    ["part"],
    multiprocess_mode="mostrecent",
)


def count_cache(cache: str, hit: bool) -> None:
    CACHE_REQUESTS.labels(cache, "hit" if hit else "miss").inc()


def count_ingest(source: str, accepted: int, rejected: int) -> None:
    INGEST_ROWS.labels(source, "accepted").inc(accepted)
    INGEST_ROWS.labels(source, "rejected").inc(rejected)
