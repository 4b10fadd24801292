"""Sending e-mail through an SMTP server (smtplib from the standard library).

Settings (environment, prefix JINGXIN_): `SMTP_HOST` (unset: no e-mail at all), `SMTP_PORT`,
`SMTP_USER` / `SMTP_PASSWORD` (login when both are set), `SMTP_FROM`, `SMTP_SECURITY`
(`none`, `starttls` or `ssl`), `SMTP_TIMEOUT` seconds, `EMAIL_MAX_ATTEMPTS`, and `PUBLIC_URL`
(the address links in e-mails point to).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from jingxin.core.settings import Settings, get_settings


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "jingxin@localhost"
    security: str = "none"
    timeout: float = 10.0
    max_attempts: int = 5
    public_url: str = "http://127.0.0.1:8000"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> SmtpConfig | None:
        """The SMTP configuration, or None when no server is configured."""
        s = settings or get_settings()
        if not s.smtp_host:
            return None
        return cls(
            host=s.smtp_host,
            port=s.smtp_port,
            user=s.smtp_user,
            password=s.smtp_password,
            sender=s.smtp_from,
            security=s.smtp_security,
            timeout=s.smtp_timeout,
            max_attempts=max(1, s.email_max_attempts),
            public_url=s.public_url,
        )


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.security == "ssl":
        return smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=ssl.create_default_context()
        )
    server = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    if config.security == "starttls":
        server.starttls(context=ssl.create_default_context())
    return server


def send_all(config: SmtpConfig, messages: Sequence[EmailMessage]) -> list[str | None]:
    """Send the messages over one connection; per message None (sent) or why it was not.

    A server that cannot be reached fails every message of this round (they are retried
    later); a refused recipient fails only its own."""
    if not messages:
        return []
    try:
        server = _connect(config)
    except (OSError, smtplib.SMTPException) as exc:
        return [f"无法连接邮件服务器 {config.host}:{config.port}：{exc}"] * len(messages)
    results: list[str | None] = []
    try:
        if config.user and config.password:
            server.login(config.user, config.password)
        for message in messages:
            try:
                refused = server.send_message(message)
                results.append(f"收件人被拒绝：{', '.join(refused)}" if refused else None)
            except smtplib.SMTPException as exc:
                results.append(f"邮件服务器拒绝：{exc}")
    except (OSError, smtplib.SMTPException) as exc:
        results += [f"邮件服务器出错：{exc}"] * (len(messages) - len(results))
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return results
