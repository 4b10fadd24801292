"""Data exchange: templates accepted by ingestion, the submission tracker and reminders, API
tokens limited to their datasets, fields, region, rate and expiry, CSV written as data and
streamed in bounded memory. Platform database on SQLite and PostgreSQL; warehouse DuckDB."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pytest
from exchange_helpers import ALL, LUCHENG, SHANGCHENG, XIHU, filled, load_world, registry_rows, tax_rows
from sqlalchemy import inspect, select

from jingxin.accounts import demo as account_demo
from jingxin.accounts import service as accounts
from jingxin.core import audit
from jingxin.core.calendar import CHINA_TZ
from jingxin.core.contracts import Column, Source, load_contracts, source
from jingxin.core.db import Base, make_engine
from jingxin.core.notify.models import Notification
from jingxin.core.warehouse import Warehouse, open_warehouse
from jingxin.exchange import service
from jingxin.exchange.config import parse_calendar
from jingxin.exchange.models import ExchangeToken, Submission
from jingxin.ingest.service import ingest_file

pytest_plugins = ["jingxin.web.pytest_fixtures"]

ADMIN = audit.Actor(1, "admin", "127.0.0.1")


def bj(y: int, m: int, d: int, hh: int = 0) -> datetime:
    return datetime(y, m, d, hh, tzinfo=CHINA_TZ)


@pytest.fixture
def wh(tmp_path: Path) -> Any:
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    yield warehouse
    warehouse.close()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


def tracked(db: Any, source_id: str, period: str) -> Submission:
    db.expire_all()
    row = db.scalar(select(Submission).where(Submission.source == source_id, Submission.period == period))
    assert row is not None, f"{source_id} {period} not tracked"
    return row


def set_loaded_at(wh: Warehouse, batch_id: int, moment: datetime) -> None:
    """Say when a file landed (ingestion stamps the server's local time without a zone)."""
    wh.sql(
        "UPDATE batches SET loaded_at = ? WHERE batch_id = ?",
        [moment.astimezone().replace(tzinfo=None), batch_id],
    )


# ---- templates ----------------------------------------------------------------------------


def _column_format(sheet: Any, index: int) -> int | None:
    """The number format id of a column (xlsxwriter groups equal neighbouring columns)."""
    for dim in sheet.column_dimensions.values():
        if dim.min is not None and dim.min <= index <= (dim.max or dim.min):
            return int(dim._style.numFmtId)
    return None


@pytest.mark.parametrize("source_id", list(load_contracts().sources))
def test_every_template_has_the_contract_headers_and_its_example_is_accepted(
    source_id: str, wh: Warehouse, files: Path
) -> None:
    src = source(source_id)
    book = openpyxl.load_workbook(io.BytesIO(service.blank_template(src)))
    data, notes = book.worksheets
    assert data.title == "填报数据" and data.max_row == 2  # title and header rows only
    headers = [c.value for c in data[2]]
    assert headers == [f"{c.header}({c.unit})" if c.unit else c.header for c in src.columns]
    for i, col in enumerate(src.columns, start=1):
        comment = data.cell(row=2, column=i).comment
        assert comment is not None and ("必填" if col.required else "选填") in comment.text
        if col.unit:
            assert f"单位：{col.unit}" in comment.text
        if col.type in ("credit_code", "county", "industry"):
            assert _column_format(data, i) == 49  # Excel's built-in text format "@"
    assert [c.value for c in notes[2]] == headers
    example = {c.name: v.value for c, v in zip(src.columns, notes[3], strict=True)}
    result = ingest_file(wh, source_id, filled(files, source_id, [example]))
    assert (result.accepted, result.rejected) == (1, 0)


def test_a_filled_template_round_trips_through_ingestion(wh: Warehouse, files: Path) -> None:
    result = ingest_file(wh, "tax", filled(files, "tax", tax_rows(2021, bad=1)))
    assert (result.period, result.row_count, result.accepted, result.rejected) == ("2021", 7, 6, 1)
    stored = dict(wh.sql("SELECT credit_code, tax_paid FROM tax"))
    assert stored[ALL[1]] == 101.0 and ALL[0] not in stored
    # leading zeros and all 18 characters of a code survive as text
    assert all(len(code) == 18 for code in stored)


# ---- the calendar -------------------------------------------------------------------------


def test_due_dates_follow_the_calendar_rules() -> None:
    config = service.load_calendar()
    contracts = load_contracts().sources
    year_rule = config.rule(contracts["tax"])
    month_rule = config.rule(contracts["power"])
    day_rule = config.rule(contracts["power-daily"])
    from jingxin.exchange.config import Period, due_at

    assert due_at(year_rule, Period("2021", date(2021, 1, 1), date(2021, 12, 31))) == bj(2022, 5, 1)
    assert due_at(month_rule, Period("2021-12", date(2021, 12, 1), date(2021, 12, 31))) == bj(2022, 1, 16)
    assert due_at(day_rule, Period("2021-03-05", date(2021, 3, 5), date(2021, 3, 5))) == bj(2021, 3, 8)
    assert config.rule(contracts["registry"]).frequency == "none"
    with pytest.raises(service.CalendarError, match="月-日"):
        parse_calendar("start: 2020-01-01\nkinds:\n  year: {frequency: yearly, due: '13-45'}\n")
    with pytest.raises(service.CalendarError, match="nosuch"):
        parse_calendar(
            "start: 2020-01-01\nkinds:\n  none: {frequency: none}\nsources:\n  nosuch: {frequency: none}\n"
        )


def test_a_source_added_to_the_contracts_is_tracked_by_its_period_kind(
    db_session: Any, wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    parks = Source(
        id="parks-test",
        title="园区年度数据",
        department="统计",
        table="parks_test",
        period="year",
        key=["park_id", "year"],
        columns=[
            Column(name="park_id", header="园区编号", type="text"),
            Column(name="year", header="年度", type="year"),
        ],
    )
    monkeypatch.setitem(load_contracts().sources, "parks-test", parks)
    service.sync_tracker(db_session, wh, bj(2022, 5, 10))
    assert tracked(db_session, "parks-test", "2021").status == "overdue"
    assert tracked(db_session, "parks-test", "2021").due_at == bj(2022, 5, 1)


# ---- tracker and reminders ----------------------------------------------------------------


def test_a_liaison_is_reminded_and_the_tracker_flips_when_the_file_lands(
    db_session: Any, platform_db: Any, wh: Warehouse, files: Path
) -> None:
    db = db_session
    people = {u.username: u for u in account_demo.create_demo_users(db)}
    tax_liaison, power_liaison = people["liaison-sw"], people["liaison-dl"]
    now = bj(2022, 5, 3, 9)

    report = service.remind_due_submissions(now, database=platform_db, warehouse=wh, send_email=False)
    sub = tracked(db, "tax", "2021")
    assert (sub.status, sub.department, sub.due_at, sub.reminders) == ("overdue", "税务", bj(2022, 5, 1), 1)
    mine = list(db.scalars(select(Notification).where(Notification.user_id == tax_liaison.id)))
    titles = {n.title for n in mine}
    assert "逾期催报：企业年度税收 2021" in titles
    note = next(n for n in mine if n.title == "逾期催报：企业年度税收 2021")
    assert (
        note.event == "overdue"
        and "2022年4月30日" in note.body
        and note.link == "/exchange/tracker?source=tax"
    )
    # the power liaison hears about power, never about tax
    power_titles = {
        n.title for n in db.scalars(select(Notification).where(Notification.user_id == power_liaison.id))
    }
    assert power_titles and all("用电" in t for t in power_titles)
    assert report.overdue >= 1 and report.notifications >= 2

    again = service.remind_due_submissions(
        now + timedelta(hours=2), database=platform_db, warehouse=wh, send_email=False
    )
    assert again.notifications == 0  # nobody is reminded twice for the same round

    # the file lands on 2022-05-04, after the due date: received, but late
    result = ingest_file(wh, "tax", filled(files, "tax", tax_rows(2021, bad=1)), loaded_by="liaison-sw")
    set_loaded_at(wh, result.batch_id, bj(2022, 5, 4, 10))
    service.sync_tracker(db, wh, bj(2022, 5, 5))
    sub = tracked(db, "tax", "2021")
    assert (sub.status, sub.batch_id, sub.row_count, sub.rejected_rows) == ("late", result.batch_id, 7, 1)
    assert sub.rejected_share == pytest.approx(1 / 7)
    assert sub.received_at == bj(2022, 5, 4, 10)

    def tax_reminders() -> int:
        db.expire_all()
        query = select(Notification).where(Notification.user_id == tax_liaison.id)
        return sum(1 for n in db.scalars(query) if n.title.endswith("企业年度税收 2021"))

    before = tax_reminders()
    later = service.remind_due_submissions(
        bj(2022, 5, 20), database=platform_db, warehouse=wh, send_email=False
    )
    assert tax_reminders() == before  # received: a further overdue round reminds nobody
    assert tracked(db, "tax", "2020").status == "overdue" and later.overdue >= 1  # 2020 is still missing


def test_on_time_late_rejected_and_due_soon(
    db_session: Any, platform_db: Any, wh: Warehouse, files: Path
) -> None:
    db = db_session
    people = {u.username: u for u in account_demo.create_demo_users(db)}
    # 2021 power for March lands on 2021-04-10, before its due date of April 15: on time
    power = [{"credit_code": c, "month": "2021-03", "kwh": 1000.0} for c in ALL]
    on_time = ingest_file(wh, "power", filled(files, "power", power))
    set_loaded_at(wh, on_time.batch_id, bj(2021, 4, 10, 16))
    # statistics for 2021: every row rejected (a required column left empty)
    stats = [{"credit_code": c, "year": 2021} for c in ALL]
    bad = ingest_file(wh, "statistics", filled(files, "statistics", stats))
    assert bad.accepted == 0
    now = bj(2021, 4, 13, 9)  # monthly March due at the end of April 15: within 3 days
    service.sync_tracker(db, wh, now)
    assert tracked(db, "power", "2021-03").status == "received"
    assert tracked(db, "monthly", "2021-03").status == "expected"
    service.send_reminders(db, now)
    stats_liaison = people["liaison-tj"]
    soon = {
        n.title: n for n in db.scalars(select(Notification).where(Notification.user_id == stats_liaison.id))
    }
    assert soon["报送提醒：规上工业企业月度快报 2021-03"].event == "due_soon"
    # the power liaison's March file is in: no reminder for it
    dl = {
        n.title
        for n in db.scalars(select(Notification).where(Notification.user_id == people["liaison-dl"].id))
    }
    assert "报送提醒：企业月度用电量 2021-03" not in dl

    service.sync_tracker(db, wh, bj(2022, 6, 1))
    assert tracked(db, "statistics", "2021").status == "rejected"
    summary = {s.source: s for s in service.summary(db, accounts.get_user(db, stats_liaison.id).scope)}
    # a liaison tracks its own department only (统计: annual statistics, 快报, official figures,
    # the yearly county figures of the county index)
    assert set(summary) == {"statistics", "monthly", "official", "county-stats"}
    assert summary["statistics"].rejected == 1 and summary["statistics"].rejected_share == 1.0


# ---- tokens -------------------------------------------------------------------------------


def issue(db: Any, **kwargs: Any) -> service.Issued:
    args: dict[str, Any] = {
        "name": "发改委项目库对接",
        "holder": "省发展改革委",
        "grants": {"tax": ["credit_code", "year"], "registry": ["credit_code", "name", "county_code"]},
        "division": "330100",
        "rate_per_minute": 30,
        "expires_at": datetime.now(CHINA_TZ) + timedelta(days=30),
    }
    args.update(kwargs)
    return service.issue_token(db, ADMIN, **args)


def call(db: Any, secret: str | None, **kwargs: Any) -> service.TokenCall:
    kwargs.setdefault("dataset", "tax")
    return service.check_call(db, secret, ip="10.0.0.9", **kwargs)


def test_the_token_secret_is_shown_once_and_stored_as_a_hash(db_session: Any) -> None:
    issued = issue(db_session)
    assert issued.secret.startswith(f"jxt_{issued.token.prefix}_")
    db_session.expire_all()
    row = db_session.get(ExchangeToken, issued.token.id)
    assert row.secret_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    stored = " ".join(str(getattr(row, c.key)) for c in inspect(ExchangeToken).columns)
    assert issued.secret not in stored and issued.secret.split("_", 2)[2] not in stored
    entries, _ = audit.search(db_session, action="exchange_token_issue")
    assert len(entries) == 1 and issued.secret not in str(entries[0].detail)
    with pytest.raises(service.TokenError, match="没有字段"):
        issue(db_session, grants={"tax": ["password"]})
    with pytest.raises(service.TokenError, match="不是本省的区划"):
        issue(db_session, division="110101")
    with pytest.raises(service.TokenError, match="最长"):
        issue(db_session, expires_at=datetime.now(CHINA_TZ) + timedelta(days=800))


def test_a_token_reads_only_its_datasets_fields_and_region(
    db_session: Any, wh: Warehouse, files: Path
) -> None:
    db = db_session
    load_world(wh, files)
    secret = issue(db).secret

    granted = call(db, secret)
    rows, total = service.read_page(wh, granted.scope, "tax", granted.fields)
    assert granted.fields == ["credit_code", "year"]
    assert total == 5 and {r["credit_code"] for r in rows} == {*XIHU, *SHANGCHENG}  # 杭州市 only
    assert all(set(r) == {"credit_code", "year"} for r in rows)  # tax_paid not granted, not read

    narrowed = call(db, secret, region="330106")
    rows, total = service.read_page(wh, narrowed.scope, "tax", narrowed.fields)
    assert {r["credit_code"] for r in rows} == set(XIHU)
    regs, _ = service.read_page(wh, call(db, secret, dataset="registry").scope, "registry", ["credit_code"])
    assert {r["credit_code"] for r in regs} == {*XIHU, *SHANGCHENG} and not set(LUCHENG) & {
        r["credit_code"] for r in regs
    }

    refusals = [
        (dict(dataset="energy"), 403, "无权读取数据集 energy"),
        (dict(fields=["credit_code", "tax_paid"]), 403, "无权读取字段 tax_paid"),
        (dict(region="330302"), 403, "不在该令牌的数据范围"),
    ]
    for kwargs, status, reason in refusals:
        with pytest.raises(service.TokenRefused) as refused:
            call(db, secret, **kwargs)
        assert refused.value.status == status and reason in refused.value.reason
    for wrong in (None, "jxt_000000000000_" + "A" * 43, secret[:-1] + ("A" if secret[-1] != "A" else "B")):
        with pytest.raises(service.TokenRefused) as refused:
            call(db, wrong)
        assert refused.value.status == 401

    prefix = secret.split("_")[1]
    served, _ = audit.search(db, username=f"token:{prefix}", action="exchange_read")
    refused_entries, _ = audit.search(db, username=f"token:{prefix}", action="exchange_refused")
    assert len(served) == 3 and len(refused_entries) == 4  # the bad secret of a real prefix included
    assert {e.detail["reason"][:8] for e in refused_entries} >= {"该令牌无权读取数", "该令牌无权读取字"}
    assert all(e.ip == "10.0.0.9" for e in served + refused_entries)


def test_a_token_is_refused_after_expiry_revocation_and_over_its_rate(db_session: Any) -> None:
    db = db_session
    issued = issue(db, rate_per_minute=3, expires_at=datetime.now(CHINA_TZ) + timedelta(days=1))
    for _ in range(3):
        call(db, issued.secret)
    with pytest.raises(service.TokenRefused) as refused:
        call(db, issued.secret)
    assert refused.value.status == 429 and refused.value.retry_after == 60
    later = datetime.now(CHINA_TZ) + timedelta(minutes=2)
    assert call(db, issued.secret, now=later).fields == ["credit_code", "year"]  # the next minute is open
    with pytest.raises(service.TokenRefused) as refused:
        call(db, issued.secret, now=datetime.now(CHINA_TZ) + timedelta(days=1, seconds=1))
    assert refused.value.status == 401 and "过期" in refused.value.reason

    other = issue(db)
    service.revoke_token(db, ADMIN, other.token.id)
    with pytest.raises(service.TokenRefused, match="吊销"):
        call(db, other.secret)
    entries, total = audit.search(db, username=f"token:{issued.token.prefix}")
    assert total == 6  # 4 served, 1 over the rate, 1 expired


def test_calls_racing_on_one_token_cannot_pass_its_rate_together(platform_db: Any, db_session: Any) -> None:
    """Another call (here: another session, as another process would) holds the token while it
    is served; a call arriving meanwhile waits for it, counts it and is refused, where counting
    first would have let both pass a rate of one."""
    issued = issue(db_session, rate_per_minute=1)
    outcome: dict[str, Any] = {}

    def second_call() -> None:
        with platform_db.session() as other:
            try:
                outcome["call"] = call(other, issued.secret)
            except service.TokenRefused as refused:
                outcome["refused"] = refused

    with platform_db.session() as first:
        token = first.get(ExchangeToken, issued.token.id)
        token.last_used_at = datetime.now(CHINA_TZ)
        first.flush()  # the first call holds the token, as `check_call` does
        racer = threading.Thread(target=second_call)
        racer.start()
        racer.join(timeout=1.0)
        assert racer.is_alive(), "the second call went on while the first held the token"
        served = audit.Actor(None, f"token:{issued.token.prefix}", "10.0.0.8")
        audit.record(first, served, audit.Action.EXCHANGE_READ, "exchange_token", token.id, {"status": 200})
        first.commit()
    racer.join(timeout=30)
    assert "call" not in outcome and outcome["refused"].status == 429


# ---- CSV ----------------------------------------------------------------------------------


def test_csv_cells_are_data_never_formulas(db_session: Any, wh: Warehouse, files: Path) -> None:
    names = {
        XIHU[0]: '=HYPERLINK("http://x","点我")',
        XIHU[1]: "+1+1",
        XIHU[2]: "@SUM(A1)",
        SHANGCHENG[0]: "-2",
    }
    load_world(wh, files, names)
    secret = issue(db_session).secret
    granted = call(db_session, secret, dataset="registry", fields=["credit_code", "name"])
    body = b"".join(service.iter_csv(wh, granted.scope, "registry", granted.fields)).decode("utf-8")
    assert body.startswith("\ufeff统一社会信用代码,企业名称\r\n")
    rows = {r[0]: r[1] for r in csv.reader(io.StringIO(body.lstrip("\ufeff")))}
    assert rows[XIHU[0]] == '\'=HYPERLINK("http://x","点我")'
    assert rows[XIHU[1]] == "'+1+1" and rows[XIHU[2]] == "'@SUM(A1)" and rows[SHANGCHENG[0]] == "'-2"
    assert rows[SHANGCHENG[1]] == "企业4" and len(rows) == 6  # header + 杭州市's five


def _big_power_daily(wh: Warehouse, days: int, per_day: int) -> int:
    n = days * per_day
    codes = [XIHU[i % len(XIHU)] for i in range(per_day)]
    first = date(2021, 1, 1)
    wh.insert_arrow(
        "batches",
        pa.table(
            {
                "batch_id": [1],
                "source": ["power-daily"],
                "period": ["2021-01-01..2021-12-31"],
                "file_name": ["big.csv"],
                "content_hash": ["h"],
                "row_count": [n],
                "accepted": [n],
                "rejected": [0],
                "loaded_by": ["test"],
                "loaded_at": [datetime(2022, 1, 1)],
                "supersedes": pa.array([None], pa.int64()),
                "superseded_by": pa.array([None], pa.int64()),
            }
        ),
    )
    wh.insert_arrow(
        "power_daily",
        pa.table(
            {
                "batch_id": pa.array([1] * n, pa.int64()),
                "source_row": pa.array(range(2, n + 2), pa.int64()),
                "credit_code": [codes[i % per_day] + "" for i in range(n)],
                "day": [first + timedelta(days=i // per_day) for i in range(n)],
                "kwh": [float(i) for i in range(n)],
            }
        ),
    )
    return n


def test_csv_is_streamed_in_bounded_memory(db_session: Any, wh: Warehouse, files: Path) -> None:
    from jingxin.core.scope import Scope

    ingest_file(wh, "registry", filled(files, "registry", registry_rows()))
    n = _big_power_daily(wh, days=365, per_day=400)  # 146,000 rows
    scope, fields = Scope(division="330106"), ["credit_code", "day", "kwh"]

    def stream(period: str | None) -> tuple[int, int, int, int]:
        chunks = service.iter_csv(wh, scope, "power-daily", fields, period=period, chunk_rows=5000)
        tracemalloc.start()
        total = lines = biggest = 0
        for chunk in chunks:
            total += len(chunk)
            lines += chunk.count(b"\n")
            biggest = max(biggest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return total, lines, biggest, peak

    stream("2021-01-01")  # warm up: imports and compiled queries are not the stream's memory
    month_total, month_lines, _, month_peak = stream("2021-01")
    year_total, year_lines, biggest, year_peak = stream(None)
    assert (month_lines, year_lines) == (31 * 400 + 1, n + 1)
    assert biggest < 400_000  # one chunk of 5,000 rows at a time, never the whole file
    assert year_total > 10 * month_total
    # twelve times the rows, about the same memory: it does not grow with the size of the answer
    assert year_peak < 1.5 * month_peak + 512 * 1024, (month_peak, year_peak, year_total)


def test_exchange_models_match_the_migration(platform_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    mine = {"exchange_tokens", "exchange_submissions"}
    engine = make_engine(platform_url)
    try:
        assert mine <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert [d for d in diff if mine & set(str(d).replace("'", " ").replace('"', " ").split())] == []


def test_the_reminder_sweep_runs_from_the_command_line(
    tmp_path: Path, platform_url: str, db_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from jingxin.cli import app
    from jingxin.core.settings import get_settings

    people = {u.username: u for u in account_demo.create_demo_users(db_session)}
    db_session.commit()
    monkeypatch.setenv("JINGXIN_DATABASE_URL", platform_url)
    monkeypatch.setenv("JINGXIN_WAREHOUSE", f"duckdb:///{tmp_path / 'cli.duckdb'}")
    monkeypatch.delenv("JINGXIN_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["exchange", "remind", "--at", "2022-05-03T09:00+08:00", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["overdue"] >= 1 and report["notifications"] >= 1
        again = runner.invoke(app, ["exchange", "remind", "--at", "2022-05-03T10:00+08:00", "--json"])
        assert json.loads(again.output)["notifications"] == 0
        naive = runner.invoke(app, ["exchange", "remind", "--at", "2022-05-03T09:00"])
        assert naive.exit_code != 0 and "时区" in naive.output
        out = tmp_path / "tax.xlsx"
        assert runner.invoke(app, ["exchange", "template", "tax", "-o", str(out)]).exit_code == 0
        assert openpyxl.load_workbook(out).worksheets[0].title == "填报数据"
    finally:
        get_settings.cache_clear()
    db_session.expire_all()
    titles = {
        n.title
        for n in db_session.scalars(
            select(Notification).where(Notification.user_id == people["liaison-sw"].id)
        )
    }
    assert "逾期催报：企业年度税收 2021" in titles


def test_token_reads_are_the_same_on_every_warehouse_backend(
    db_session: Any, warehouse: Warehouse, files: Path
) -> None:
    """The token's Scope filters through Ibis on DuckDB and PostgreSQL alike, JSON and CSV."""
    load_world(warehouse, files)
    secret = issue(db_session, division="330102").secret  # 上城区
    granted = call(db_session, secret, detail={"period": "2021"})
    rows, total = service.read_page(warehouse, granted.scope, "tax", granted.fields, period="2021")
    assert total == 2 and [r["credit_code"] for r in rows] == sorted(SHANGCHENG)
    assert service.read_page(warehouse, granted.scope, "tax", granted.fields, period="2020")[1] == 0
    body = b"".join(service.iter_csv(warehouse, granted.scope, "tax", granted.fields, chunk_rows=1))
    lines = body.decode("utf-8-sig").splitlines()
    assert lines == ["统一社会信用代码,年度", *(f"{c},2021" for c in sorted(SHANGCHENG))]
    with pytest.raises(service.BadQuery, match="格式不正确"):
        service.read_page(warehouse, granted.scope, "tax", granted.fields, period="2021-13")


def test_only_active_liaisons_are_reminded_and_a_department_without_one_is_reported(
    db_session: Any, wh: Warehouse
) -> None:
    db = db_session
    people = {u.username: u for u in account_demo.create_demo_users(db)}
    accounts.set_active(db, people["liaison-sw"].id, False, ADMIN)
    service.sync_tracker(db, wh, bj(2022, 5, 3))
    report = service.send_reminders(db, bj(2022, 5, 3))
    assert "税务" in report.without_liaison and "电力" not in report.without_liaison
    db.expire_all()
    assert not list(db.scalars(select(Notification).where(Notification.user_id == people["liaison-sw"].id)))
    assert tracked(db, "tax", "2021").reminders == 0  # nobody was told: the next sweep tries again
