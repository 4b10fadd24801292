"""Tables of the accounts scenario: users, assigned enterprises, web sessions, login attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from jingxin.core.auth import Role, scope_for
from jingxin.core.db import Base, BigIntPK, JSONType, utcnow
from jingxin.core.scope import Scope


class User(Base):
    """An account. Its role decides features, its division (and department, credit code or
    assigned enterprises) decides data: see `jingxin.core.auth.scope_for`.

    Accounts are disabled, never deleted, so the audit log always resolves its user ids.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    division_code: Mapped[str] = mapped_column(String(6))
    department: Mapped[str | None] = mapped_column(String(32), default=None)
    credit_code: Mapped[str | None] = mapped_column(String(18), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # "<issuer>|<sub>" of an account that signs in through OpenID Connect (None: local only).
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True, index=True, default=None)

    assignments: Mapped[list[UserEnterprise]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="UserEnterprise.credit_code",
    )

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def role_label(self) -> str:
        return self.role_enum.label

    @property
    def clearance(self) -> bool:
        """Whether this user reads sensitive fields unmasked (by role)."""
        return self.role_enum.clearance

    @property
    def enterprises(self) -> list[str]:
        """Credit codes assigned to a service worker (驻企服务员)."""
        return [a.credit_code for a in self.assignments]

    @property
    def scope(self) -> Scope:
        return scope_for(
            self.role_enum, self.division_code, self.department, self.credit_code, frozenset(self.enterprises)
        )

    @property
    def is_admin(self) -> bool:
        return self.role_enum is Role.ADMIN


class UserEnterprise(Base):
    """An enterprise assigned to a service worker (驻企服务员 → 企业)."""

    __tablename__ = "user_enterprises"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), primary_key=True)

    user: Mapped[User] = relationship(back_populates="assignments")


class WebSession(Base):
    """A server-side session. The cookie holds a random token; the table holds its SHA-256.

    A session without a user is an anonymous one, made only to carry the CSRF token of the
    login form; logging in replaces it with a new session (new id), so a session id planted
    before login is worthless after it.
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(255), default=None)
    flash: Mapped[list[Any]] = mapped_column(JSONType, default=list)

    user: Mapped[User | None] = relationship(lazy="joined")


class LoginAttempt(Base):
    """One login attempt, kept to throttle guessing per account and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
