"""Submission tracker and reminders (报送跟踪与催报).

`sync_tracker` reads the batch registry and brings `exchange_submissions` up to date: one row
per source and expected period (see `config.expected_periods`), with the batch that delivered
it, when it landed, whether on time, and the share of rejected rows. It needs no hook in
ingestion: whichever way a file arrived, its batch is in the registry.

`remind_due_submissions(now)` is the reminder sweep (催报). It syncs the tracker, then sends
the department's data liaisons (部门数据联络员) an inbox message (and e-mail, by their
preferences) for every period due within the rule's `remind_before_days` and not yet received
(`due_soon`, once per period), and for every overdue or wholly rejected period (`overdue`,
again every `repeat_every_days`). Each reminder has a dedupe key, so running the sweep twice,
or from two processes, reminds nobody twice.

Scheduling: the sweep is a plain function for the platform's scheduler to call (hourly is
plenty; daily at 09:00 Beijing time is the intended cadence), and the CLI command
`jingxin exchange remind [--at ISO-TIME] [--json]` runs it once. It opens the platform
database and the warehouse from the settings unless given them; on DuckDB the warehouse file
belongs to whichever process holds it, so a scheduler inside the web server should pass the
server's `WarehouseAccess` (`app.state.warehouse`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jingxin.core.calendar import CHINA_TZ
from jingxin.core.contracts import load_contracts
from jingxin.core.db import utcnow, write_turn
from jingxin.core.scope import Scope
from jingxin.core.warehouse import Warehouse
from jingxin.exchange.config import CalendarConfig, covered_labels, due_at, expected_periods, load_calendar
from jingxin.exchange.models import Submission

STATUS_LABELS = {
    "expected": "待报送",
    "overdue": "逾期未报",
    "received": "按时报送",
    "late": "逾期报送",
    "rejected": "整份拒收",
}
OUTSTANDING = ("expected", "overdue", "rejected")


def _aware(moment: datetime | None) -> datetime | None:
    """Ingestion stamps batches with the server's local wall-clock time without a zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.astimezone()


def _batches(wh: Warehouse) -> list[dict[str, Any]]:
    table = wh.table("batches")
    cols = ["batch_id", "source", "period", "row_count", "accepted", "rejected", "loaded_at", "superseded_by"]
    return wh.to_pyarrow(table.select(*cols)).to_pylist()


@dataclass
class _Landed:
    first_good_at: datetime | None = None  # earliest batch with accepted rows (corrections keep it)
    live: dict[str, Any] | None = None  # the newest live batch with accepted rows
    last_bad: dict[str, Any] | None = None  # the newest batch whose rows were all rejected


def _landed(config: CalendarConfig, batches: Iterable[dict[str, Any]]) -> dict[tuple[str, str], _Landed]:
    sources = load_contracts().sources
    out: dict[tuple[str, str], _Landed] = {}
    for b in sorted(batches, key=lambda r: int(r["batch_id"])):
        src = sources.get(b["source"])
        if src is None or not b.get("period"):
            continue
        for label in covered_labels(config.rule(src), str(b["period"])):
            slot = out.setdefault((src.id, label), _Landed())
            if int(b.get("accepted") or 0) > 0:
                at = _aware(b["loaded_at"])
                if slot.first_good_at is None or (at is not None and at < slot.first_good_at):
                    slot.first_good_at = at
                if b.get("superseded_by") is None:
                    slot.live = b
            else:
                slot.last_bad = b
    return out


def _status(sub: Submission, slot: _Landed | None, now: datetime) -> str:
    if slot is not None and slot.live is not None and slot.first_good_at is not None:
        return "late" if slot.first_good_at >= sub.due_at else "received"
    if slot is not None and slot.last_bad is not None:
        return "rejected"
    return "overdue" if now >= sub.due_at else "expected"


def sync_tracker(db: Session, wh: Warehouse, now: datetime | None = None) -> int:
    """Add the periods expected by `now` and update every tracked row from the batch registry;
    returns how many rows were added or changed. Commits.

    Two processes syncing at once may both add a period; the second then fails on the unique
    (source, period) and simply syncs again over what the first added."""
    try:
        return _sync(db, wh, now)
    except IntegrityError:
        db.rollback()
        return _sync(db, wh, now)


def _sync(db: Session, wh: Warehouse, now: datetime | None) -> int:
    now = now or utcnow()
    config = load_calendar()
    landed = _landed(config, _batches(wh))
    changed = 0
    with write_turn(db):
        existing = {(s.source, s.period): s for s in db.scalars(select(Submission))}
        for src in load_contracts().sources.values():
            rule = config.rule(src)
            for period in expected_periods(rule, config, now):
                if (src.id, period.label) not in existing:
                    sub = Submission(
                        source=src.id,
                        department=src.department,
                        period=period.label,
                        due_at=due_at(rule, period),
                        status="expected",
                        row_count=0,
                        rejected_rows=0,
                        reminders=0,
                        updated_at=now,
                    )
                    db.add(sub)
                    existing[(src.id, period.label)] = sub
        for (source_id, label), sub in existing.items():
            if source_id not in load_contracts().sources:
                continue
            slot = landed.get((source_id, label))
            batch = (slot.live or slot.last_bad) if slot else None
            total = int(batch.get("row_count") or 0) if batch else 0
            bad = int(batch.get("rejected") or 0) if batch else 0
            values: dict[str, Any] = {
                "status": _status(sub, slot, now),
                "batch_id": int(batch["batch_id"]) if batch else None,
                "received_at": slot.first_good_at if slot and slot.live else None,
                "row_count": total,
                "rejected_rows": bad,
                "rejected_share": bad / total if total else None,
            }
            if any(getattr(sub, k) != v for k, v in values.items()) or sub.id is None:
                for k, v in values.items():
                    setattr(sub, k, v)
                sub.updated_at = now
                changed += 1
        db.commit()
    return changed


# ---- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackerSummary:
    """Counts per department and source (the tracker page's table)."""

    department: str
    source: str
    source_title: str
    rule: str
    expected: int
    received: int
    late: int
    overdue: int
    rejected: int
    rejected_share: float | None


def submissions(
    db: Session, scope: Scope, *, source: str | None = None, status: str | None = None, limit: int = 200
) -> list[Submission]:
    """Tracked periods the scope may see (its department's sources), newest due first."""
    visible = scope.visible_sources()
    if source is not None:
        visible = [s for s in visible if s == source]
    if not visible:
        return []
    query = select(Submission).where(Submission.source.in_(visible))
    if status in STATUS_LABELS:
        query = query.where(Submission.status == status)
    query = query.order_by(Submission.due_at.desc(), Submission.source).limit(max(0, limit))
    return list(db.scalars(query))


def summary(db: Session, scope: Scope) -> list[TrackerSummary]:
    """Per department and source: periods expected, received on time, late, overdue,
    rejected, and the share of rejected rows over the files received."""
    config = load_calendar()
    visible = scope.visible_sources()
    rows = list(db.scalars(select(Submission).where(Submission.source.in_(visible)))) if visible else []
    out = []
    for src in load_contracts().sources.values():
        if src.id not in visible:
            continue
        mine = [r for r in rows if r.source == src.id]
        counts = {k: sum(1 for r in mine if r.status == k) for k in STATUS_LABELS}
        total_rows = sum(r.row_count for r in mine if r.batch_id is not None)
        bad_rows = sum(r.rejected_rows for r in mine if r.batch_id is not None)
        out.append(
            TrackerSummary(
                department=src.department,
                source=src.id,
                source_title=src.title,
                rule=config.rule(src).label,
                expected=len(mine),
                received=counts["received"],
                late=counts["late"],
                overdue=counts["overdue"],
                rejected=counts["rejected"],
                rejected_share=(bad_rows / total_rows) if total_rows else None,
            )
        )
    return sorted(out, key=lambda s: s.department)


# ---- reminders ----------------------------------------------------------------------------


@dataclass
class ReminderReport:
    synced: int = 0
    due_soon: int = 0
    overdue: int = 0
    notifications: int = 0
    emails_sent: int = 0
    without_liaison: list[str] = field(default_factory=list)


def _liaisons(db: Session, department: str) -> list[Any]:
    """The department's active data liaisons (部门数据联络员), who are reminded."""
    from jingxin.accounts.service import list_users
    from jingxin.core.auth import Role

    users, _ = list_users(db, role=Role.LIAISON.value, active=True, limit=100_000)
    return [u for u in users if u.department == department]


def _beijing(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TZ) - timedelta(seconds=1)  # due at 24:00 reads as that day
    return f"{local.year}年{local.month}月{local.day}日"


def send_reminders(db: Session, now: datetime | None = None) -> ReminderReport:
    """Remind liaisons of periods due soon or overdue (the tracker must be synced). Commits."""
    from jingxin.core.notify.service import notify

    now = now or utcnow()
    config = load_calendar()
    sources = load_contracts().sources
    report = ReminderReport()
    outstanding = db.scalars(select(Submission).where(Submission.status.in_(OUTSTANDING)))
    with write_turn(db):
        for sub in list(outstanding):
            src = sources.get(sub.source)
            if src is None:
                continue
            rule = config.rule(src)
            if now >= sub.due_at:
                event = "overdue"
                round_ = int((now - sub.due_at) / timedelta(days=rule.repeat_every_days))
                key = f"exchange:{sub.source}:{sub.period}:overdue:{round_}"
                why = "该期文件全部行被拒收，请改正后重报" if sub.status == "rejected" else "尚未收到"
                title = f"逾期催报：{src.title} {sub.period}"
                body = (
                    f"{src.title}（{src.id}）{sub.period} 期数据应于 {_beijing(sub.due_at)} 前报送，{why}。"
                )
            elif now >= sub.due_at - timedelta(days=rule.remind_before_days):
                event = "due_soon"
                key = f"exchange:{sub.source}:{sub.period}:due_soon"
                title = f"报送提醒：{src.title} {sub.period}"
                body = f"{src.title}（{src.id}）{sub.period} 期数据请于 {_beijing(sub.due_at)} 前报送。"
            else:
                continue
            people = _liaisons(db, src.department)
            if not people:
                if src.department not in report.without_liaison:
                    report.without_liaison.append(src.department)
                continue
            body += "可在“数据共享交换”页面下载空白模板，在“数据归集”页面上传。"
            made = notify(
                db,
                people,
                event=event,
                title=title,
                body=body,
                link=f"/exchange/tracker?source={sub.source}",
                workflow="exchange",
                item_id=sub.id,
                dedupe_key=key,
            )
            if made:
                sub.reminders += 1
                sub.last_reminded_at = now
                report.notifications += len(made)
                if event == "overdue":
                    report.overdue += 1
                else:
                    report.due_soon += 1
        db.commit()
    return report


def remind_due_submissions(
    now: datetime | None = None,
    *,
    database: Any = None,
    warehouse: Any = None,
    send_email: bool = True,
) -> ReminderReport:
    """The reminder sweep (催报): sync the tracker, remind liaisons, send pending e-mail.

    `database`: a `jingxin.core.db.Database` (default: from the settings, migrated);
    `warehouse`: a `Warehouse` or a `jingxin.web.warehouse.WarehouseAccess` (default: opened
    from the settings for this sweep). Safe to run again: nobody is reminded twice.
    """
    from jingxin.core.db import Database, upgrade
    from jingxin.core.notify.service import deliver_pending
    from jingxin.core.settings import get_settings
    from jingxin.core.warehouse import open_warehouse

    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("remind_due_submissions 需要带时区的时刻")
    settings = get_settings()
    own_db = database is None
    if own_db:
        upgrade(settings.platform_database_url)
        database = Database(settings.platform_database_url)
    try:
        with database.session() as db:
            if warehouse is None:
                wh = open_warehouse(settings.warehouse_url)
                try:
                    synced = sync_tracker(db, wh, now)
                finally:
                    wh.close()
            elif isinstance(warehouse, Warehouse):
                synced = sync_tracker(db, warehouse, now)
            else:
                with warehouse.reader() as wh:
                    synced = sync_tracker(db, wh, now)
            report = send_reminders(db, now)
            report.synced = synced
            if send_email:
                report.emails_sent = deliver_pending(db).sent
    finally:
        if own_db:
            database.dispose()
    return report
