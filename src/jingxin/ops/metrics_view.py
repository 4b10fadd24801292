"""`GET /metrics`: the Prometheus metrics (see `jingxin.core.metrics`), for the monitoring
system only.

Protected from the public in one of two ways, configured in settings:
`JINGXIN_METRICS_TOKEN` (the scraper sends `Authorization: Bearer <token>`) or
`JINGXIN_METRICS_ALLOW` (addresses or networks of the scrapers, comma-separated). With neither
set the endpoint refuses everyone (403): metrics name routes, sources and volumes, which is
not for the public. Refusals are not audited: a scraper with a wrong token would fill the log.

With PROMETHEUS_MULTIPROC_DIR set (several server processes), the answer is the sum over all
processes, read from that folder.
"""

from __future__ import annotations

import ipaddress
import os

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from jingxin.core import metrics
from jingxin.core.auth import tokens_equal
from jingxin.core.cache import _VERSION_SQL
from jingxin.core.settings import Settings
from jingxin.web.deps import client_ip

router = APIRouter(include_in_schema=False)


def allowed(settings: Settings, request: Request) -> bool:
    """Whether this request may read the metrics (token or address; neither configured = no)."""
    if settings.metrics_token:
        sent = request.headers.get("authorization", "")
        if sent.startswith("Bearer ") and tokens_equal(sent[7:].strip(), settings.metrics_token):
            return True
    if settings.metrics_allow:
        try:
            address = ipaddress.ip_address(client_ip(request))
        except ValueError:
            return False
        for item in settings.metrics_allow.split(","):
            if item.strip() and address in ipaddress.ip_network(item.strip(), strict=False):
                return True
    return False


def _read_version(request: Request) -> None:
    """Set the data-version gauge from the warehouse: the same cheap queries on the batch
    registry that key the read caches (`jingxin.core.cache`), whatever the backend."""
    try:
        with request.app.state.warehouse.reader() as wh:
            batches, superseded, has_runs = wh.sql(_VERSION_SQL)[0]
            runs = wh.sql("SELECT count(*) FROM eval_runs")[0][0] if has_runs else 0
    except Exception:  # the warehouse being away must not hide the other metrics
        metrics.WAREHOUSE_VERSION.labels("batches").set(-1)
        return
    for part, value in (("batches", batches), ("superseded", superseded), ("runs", runs)):
        metrics.WAREHOUSE_VERSION.labels(part).set(float(value))


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    if not allowed(request.app.state.settings, request):
        return Response(
            "forbidden: set JINGXIN_METRICS_TOKEN or JINGXIN_METRICS_ALLOW\n", 403, media_type="text/plain"
        )
    await run_in_threadpool(_read_version, request)
    body = await run_in_threadpool(exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def prepare_multiprocess(settings: Settings) -> None:
    """For `serve --workers N`: give every server process one folder for its metric files
    (`PROMETHEUS_MULTIPROC_DIR`), emptied first — files of processes from an earlier run would
    add their old counts. An operator's own setting of the variable is kept (and emptied)."""
    import shutil
    from pathlib import Path

    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.home / "prometheus")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder.resolve())
