"""Vintages (数据版本): facts as they were known on a past date.

Every fact row carries the batch that brought it, and the lineage registry (`batches`) records
when each batch was loaded and which later batch superseded it (更正). Nothing is deleted, so
two questions can be answered about any date D:

- :func:`as_loaded` — what the platform held on D (system time): the rows of the batches
  loaded by D and not yet superseded by a batch loaded by D. With D at or after the last load
  it equals `Warehouse.current`.
- :func:`as_released` — what had been published by D (publication time), for sources whose
  rows carry their own release date (the statistics bureau's figures: 发布日期). Per key, the
  row with the latest release date on or before D wins, over every batch, superseded or not: a
  revision is a new row with a later release date, and the first release stays the vintage
  known before it. Ties (the same release republished in a correcting file) go to the later
  batch. This is what a pseudo-real-time backtest needs: the data were loaded after the fact,
  but each row says when the world first saw it.

Both are Ibis expressions (DuckDB, PostgreSQL, PySpark alike) and keep `batch_id`, so every
figure still points at its file and line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis

from jingxin.core.contracts import load_contracts
from jingxin.core.warehouse import Warehouse


def _when(value: dt.date | dt.datetime) -> dt.datetime:
    """A date means the end of that day (everything loaded or released that day is known)."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(23, 59, 59))


def _sources_of(table: str) -> list[str]:
    return [s.id for s in load_contracts().sources.values() if s.table == table]


def live_batches_at(wh: Warehouse, when: dt.date | dt.datetime, table: str | None = None) -> ibis.Table:
    """Batches live on `when`: loaded by then and not superseded by a batch loaded by then."""
    at = ibis.literal(_when(when))
    b = wh.table("batches")
    loaded = b.filter(b.loaded_at <= at)
    if table is not None:
        loaded = loaded.filter(loaded.source.isin(_sources_of(table)))
    later = wh.table("batches").select(sup_id="batch_id", sup_at="loaded_at")
    joined = loaded.left_join(later, loaded.superseded_by == later.sup_id)
    live = joined.filter(joined.superseded_by.isnull() | (joined.sup_at > at))
    return live.select("batch_id", "loaded_at")


def as_loaded(wh: Warehouse, table: str, when: dt.date | dt.datetime) -> ibis.Table:
    """The facts of `table` as the platform held them on `when`, with each row's `loaded_at`."""
    facts = wh.table(table)
    live = live_batches_at(wh, when, table)
    return facts.inner_join(live, "batch_id")


def as_released(
    wh: Warehouse,
    table: str,
    when: dt.date | dt.datetime,
    key: Sequence[str],
    released: str = "released_on",
) -> ibis.Table:
    """The facts of `table` as published by `when`: per `key`, the row with the latest
    `released` date on or before `when` (ties: the later batch), from every batch."""
    facts = wh.table(table)
    day = _when(when).date()
    known = facts.filter(facts[released] <= ibis.literal(day))
    order = [ibis.desc(released), ibis.desc("batch_id")]
    ranked = known.mutate(_rank=ibis.row_number().over(group_by=list(key), order_by=order))
    return ranked.filter(ranked._rank == 0).drop("_rank")
