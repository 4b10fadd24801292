"""Benchmark of the appeals supervision queries (诉求督办) over many appeals.

N appeals of the `appeal` workflow are written in bulk (cases and their two clocks, spread over
the province's counties, departments and categories, a share overdue, a share rated low and
reopened), then the supervision queries are timed as a province analyst, a county analyst and
a department user: the overdue list with its counts by department and county, the low-rated
list, the statistics by category.

    .venv/bin/python bench/bench_appeals.py --sizes 10000 100000 --databases sqlite postgresql

`postgresql` uses JINGXIN_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test) and
creates and drops a database of its own. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert

from jingxin import reference
from jingxin.appeals import service
from jingxin.core.db import Database, upgrade, utcnow
from jingxin.core.scope import Scope
from jingxin.core.workflow.config import load_workflow
from jingxin.core.workflow.models import WorkClock, WorkItem, WorkStep

DEPARTMENTS = ["经信", "税务", "自然资源", "电力", "能源", "市场监管", "生态环境"]
CATEGORIES = ["policy", "finance", "land", "talent", "tax", "arrears", "other"]


def fill(db: Any, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    counties = [d.code for d in reference.divisions() if d.level == "county"]
    definition = load_workflow("appeal")
    now = utcnow()
    items, clocks, steps = [], [], []
    for i in range(1, n + 1):
        start = now - timedelta(days=rng.uniform(0, 60))
        closed = rng.random() < 0.7
        rating = rng.choice(["satisfied", "basically", "dissatisfied"]) if closed else None
        items.append(
            {
                "id": i,
                "workflow": "appeal",
                "definition_version": 1,
                "definition_hash": definition.fingerprint(),
                "state": "closed" if closed else "accepted",
                "level": 0,
                "division_code": rng.choice(counties),
                "credit_code": f"91330000{i:010d}"[:18],
                "fields": {
                    "title": f"诉求{i}",
                    "content": "…",
                    "category": rng.choice(CATEGORIES),
                    "department": rng.choice(DEPARTMENTS),
                    **({"rating": rating} if rating else {}),
                },
                "created_at": start,
                "updated_at": start,
                "closed_at": start + timedelta(days=2) if closed else None,
                "version": 1,
            }
        )
        due = start + timedelta(days=rng.uniform(1, 5))
        for name in ("response", "resolution"):
            clocks.append(
                {
                    "item_id": i,
                    "name": name,
                    "status": "stopped" if closed else "running",
                    "working_days": 1,
                    "started_at": start,
                    "due_at": due,
                    "paused_seconds": 0,
                    "warned": False,
                    "stopped_at": start + timedelta(days=rng.uniform(0.5, 6)) if closed else None,
                }
            )
        if closed and rng.random() < 0.1:
            steps.append(
                {
                    "item_id": i,
                    "seq": 1,
                    "at": start,
                    "actor_name": "bench",
                    "action": "reopen",
                    "label": "重新办理",
                    "comment": "",
                    "changes": {},
                }
            )
    for table, rows in ((WorkItem, items), (WorkClock, clocks), (WorkStep, steps)):
        for k in range(0, len(rows), 5000):
            db.execute(insert(table), rows[k : k + 5000])
    db.commit()


def timed(fn: Any, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return round(best, 4)


def run(url: str, n: int) -> dict[str, Any]:
    upgrade(url)
    database = Database(url)
    try:
        with database.session() as db:
            t = time.perf_counter()
            fill(db, n)
            filled = time.perf_counter() - t
            users = {
                "province": SimpleNamespace(scope=Scope(division="330000")),
                "county": SimpleNamespace(scope=Scope(division="330106")),
                "department": SimpleNamespace(scope=Scope(division="330000", department="税务")),
            }
            out: dict[str, Any] = {"appeals": n, "fill_s": round(filled, 2)}
            for who, user in users.items():
                out[who] = {
                    "overdue_s": timed(lambda u=user: service.overdue(db, u, limit=100_000)),
                    "overdue_rows": len(service.overdue(db, user, limit=100_000).rows),
                    "low_rated_s": timed(lambda u=user: service.low_rated(db, u, limit=100_000)),
                    "stats_s": timed(lambda u=user: service.stats_by_category(db, u)),
                }
            return out
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        for kind in args.databases:
            if kind == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    results.append({"database": kind, **run(f"sqlite:///{tmp}/bench.sqlite", n)})
            else:
                import psycopg

                base = os.environ.get("JINGXIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
                name = f"jingxin_bench_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(base, autocommit=True) as con:
                    con.execute(f'CREATE DATABASE "{name}"')
                try:
                    url = (
                        base.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
                    )
                    results.append({"database": kind, **run(url, n)})
                finally:
                    with psycopg.connect(base, autocommit=True) as con:
                        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        json.dumps(
            {"machine": platform.platform(), "cpus": os.cpu_count(), "results": results},
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
