"""Notifications: workflow events become inbox messages and e-mail (received by a local SMTP
server that the tests start with aiosmtpd), by each user's chosen channels."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from jingxin.core.notify import service as notify
from jingxin.core.notify.email import SmtpConfig
from jingxin.core.notify.models import Notification
from jingxin.core.settings import get_settings
from jingxin.core.workflow import service
from jingxin.core.workflow.sweep import sweep_overdue
from jingxin.core.workflow.testing import bj, make_people

pytest_plugins = ["jingxin.web.pytest_fixtures"]


class Collector:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, SmtpConfig]]:
    collector = Collector()
    port = _free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            collector,
            SmtpConfig(
                host="127.0.0.1",
                port=port,
                sender="jingxin@example.gov.cn",
                public_url="https://jingxin.example.gov.cn",
                max_attempts=2,
            ),
        )
    finally:
        controller.stop()


@pytest.fixture
def people(db_session: Any) -> dict[str, Any]:
    return make_people(db_session)


def submit(db: Any, who: Any, at: Any) -> Any:
    return service.start_item(
        db,
        "appeal",
        who,
        division_code=who.division_code,
        credit_code=who.credit_code,
        fields={"title": "厂房用地指标咨询", "content": "如何申请新增用地指标？"},
        now=at,
    )


def notes(db: Any, user: Any) -> list[Notification]:
    db.expire_all()
    return list(
        db.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))
    )


def test_an_assignment_is_emailed(
    db_session: Any, people: dict[str, Any], smtp: Any, monkeypatch: Any
) -> None:
    collector, config = smtp
    db = db_session
    monkeypatch.setenv("JINGXIN_SMTP_HOST", config.host)  # e-mail is queued only when configured
    get_settings.cache_clear()
    try:
        notify.set_preferences(db, people["xihu"].id, email="xihu@example.gov.cn", channels={})
        item = submit(db, people["qiye"], bj(2021, 9, 27, 10))
    finally:
        get_settings.cache_clear()
    report = notify.deliver_pending(db, config)
    assert (report.sent, report.failed) == (1, 0)
    assert collector.recipients == [["xihu@example.gov.cn"]]
    message = collector.messages[0]
    assert message["Subject"] == "【数字经信】新诉求待受理：厂房用地指标咨询"
    assert message["From"] == "jingxin@example.gov.cn"
    body = message.get_content()
    assert "请在 2021年9月28日 17:30 前受理" in body
    assert f"https://jingxin.example.gov.cn/work/{item.id}" in body
    sent = [n for n in notes(db, people["xihu"]) if n.email_to]
    assert [(n.email_status, n.email_attempts) for n in sent] == [("sent", 1)]
    # fuwu chose nothing: inbox only, by the declaration's default with no address
    assert [(n.in_inbox, n.email_status) for n in notes(db, people["fuwu"])] == [(True, "none")]
    assert notify.deliver_pending(db, config).sent == 0  # nothing is sent twice


def test_the_scheduled_sweep_mails_the_escalation(
    platform_url: str, people: dict[str, Any], smtp: Any, monkeypatch: Any, db_session: Any
) -> None:
    collector, config = smtp
    for name, value in {
        "JINGXIN_DATABASE_URL": platform_url,
        "JINGXIN_SMTP_HOST": config.host,
        "JINGXIN_SMTP_PORT": str(config.port),
        "JINGXIN_PUBLIC_URL": "https://jingxin.example.gov.cn",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        notify.set_preferences(
            db_session, people["hangzhou"].id, email="hz@example.gov.cn", channels={"escalated": ["email"]}
        )
        submit(db_session, people["qiye"], bj(2021, 9, 27, 10))
        report = sweep_overdue(bj(2021, 9, 28, 18))
    finally:
        get_settings.cache_clear()
    assert report.escalated == 1 and report.emails_sent == 1
    assert collector.recipients == [["hz@example.gov.cn"]]
    assert collector.messages[0]["Subject"].startswith("【数字经信】诉求超期升级至市经信局")
    # e-mail only, as chosen: nothing in the city analyst's inbox
    assert [(n.in_inbox, n.email_status) for n in notes(db_session, people["hangzhou"])] == [(False, "sent")]


def test_an_unreachable_server_is_retried_then_given_up(db_session: Any, people: dict[str, Any]) -> None:
    db = db_session
    notify.set_preferences(db, people["xihu"].id, email="xihu@example.gov.cn", channels={})
    note = notify.notify(
        db, [people["xihu"]], event="assigned", title="t", dedupe_key="k1", email_enabled=True
    )[0]
    db.commit()
    down = SmtpConfig(host="127.0.0.1", port=_free_port(), max_attempts=2, timeout=2)
    assert notify.deliver_pending(db, down) == notify.DeliveryReport(0, 0, 1)
    assert notify.deliver_pending(db, down) == notify.DeliveryReport(0, 1, 0)
    db.refresh(note)
    assert note.email_status == "failed" and note.email_attempts == 2
    assert "无法连接邮件服务器" in (note.email_error or "")


def test_channels_per_user_and_event(db_session: Any, people: dict[str, Any]) -> None:
    db, p = db_session, people
    notify.set_preferences(db, p["xihu"].id, email="xihu@example.gov.cn", channels={"assigned": ["email"]})
    notify.set_preferences(db, p["fuwu"].id, email="fuwu@example.gov.cn", channels={"assigned": []})
    made = notify.notify(
        db,
        [p["xihu"], p["fuwu"], p["sheng"]],
        event="assigned",
        title="t",
        dedupe_key="x",
        email_enabled=True,
    )
    assert {(n.user_id, n.in_inbox, n.email_status) for n in made} == {
        (p["xihu"].id, False, "pending"),
        (p["sheng"].id, True, "none"),  # no address: the inbox only
    }
    again = notify.notify(db, [p["xihu"], p["sheng"]], event="assigned", title="t", dedupe_key="x")
    assert again == []  # the same event reaches nobody twice
    with pytest.raises(notify.PreferenceError, match="邮箱地址格式不正确"):
        notify.set_preferences(db, p["xihu"].id, email="not an address", channels={})
    with pytest.raises(notify.PreferenceError, match="请先填写邮箱地址"):
        notify.set_preferences(db, p["sheng"].id, email="", channels={"overdue": ["email"]})
    with pytest.raises(notify.PreferenceError, match="只能是站内消息或邮件"):
        notify.set_preferences(db, p["sheng"].id, email=None, channels={"overdue": ["sms"]})


def test_read_marks_only_ones_own(db_session: Any, people: dict[str, Any]) -> None:
    db, p = db_session, people
    submit(db, p["qiye"], bj(2021, 9, 27, 10))
    xihu_note = notes(db, p["xihu"])[0]
    fuwu_note = notes(db, p["fuwu"])[0]
    assert notify.unread_count(db, p["xihu"].id) == 1
    assert notify.mark_read(db, p["xihu"].id, [fuwu_note.id]) == 0
    assert notify.unread_count(db, p["fuwu"].id) == 1
    assert notify.mark_read(db, p["xihu"].id, [xihu_note.id]) == 1
    assert notify.unread_count(db, p["xihu"].id) == 0
    assert notify.mark_read(db, p["fuwu"].id) == 1
    items, total = notify.inbox(db, p["fuwu"].id)
    assert total == 1 and items[0].read_at is not None
