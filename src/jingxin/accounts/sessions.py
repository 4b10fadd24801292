"""Web sessions (会话): opening, sliding, ending, and one-time flash messages.

A session's id is a random token whose digest is stored; answers are kept in memory until a
change drops them in every process (`jingxin.accounts.live_sessions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from jingxin.accounts import live_sessions
from jingxin.accounts.models import User, WebSession
from jingxin.core.audit import Action, Actor, record
from jingxin.core.auth import new_token, token_digest
from jingxin.core.db import utcnow


@dataclass(frozen=True)
class SessionPolicy:
    """Session lifetimes: idle timeout, absolute limit, and the anonymous login-form session."""

    idle: timedelta = timedelta(hours=2)
    absolute: timedelta = timedelta(hours=12)
    anonymous: timedelta = timedelta(hours=1)
    touch_every: timedelta = timedelta(minutes=1)
    cache_for: timedelta = timedelta(seconds=5)
    """On SQLite, how long a session read from the database is answered from memory
    (`jingxin.accounts.live_sessions`; bounds what a CLI command changes meanwhile); zero
    switches the cache off. On PostgreSQL changes reach every process by notification."""


DEFAULT_SESSIONS = SessionPolicy()


def start_session(
    db: Session,
    user: User | None,
    ip: str | None,
    user_agent: str | None,
    *,
    replacing: str | None = None,
    policy: SessionPolicy = DEFAULT_SESSIONS,
) -> tuple[str, WebSession]:
    """Open a session with a fresh random id and CSRF token; returns (cookie token, session).

    `replacing` is the current cookie token: that session is deleted, which is how the id
    rotates at login (no session fixation). Expired sessions are purged on the way.
    """
    now = utcnow()
    if replacing:
        live_sessions.drop(token_digest(replacing), db)
        db.execute(delete(WebSession).where(WebSession.id == token_digest(replacing)))
    db.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = new_token()
    lifetime = policy.idle if user is not None else policy.anonymous
    ws = WebSession(
        id=token_digest(token),
        user_id=user.id if user else None,
        csrf_token=new_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=(ip or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
        flash=[],
    )
    db.add(ws)
    db.commit()
    return token, ws


def cached_session(token: str | None, policy: SessionPolicy = DEFAULT_SESSIONS) -> WebSession | None:
    """The live session for a cookie token if memory can answer for it, else None (then ask
    `load_session`). Never touches the database, so it may run on the event loop."""
    if not token or len(token) > 256:
        return None
    ws = live_sessions.get(token_digest(token), policy.cache_for.total_seconds())
    if ws is None:
        return None
    now = utcnow()
    if ws.expires_at <= now or now - ws.last_seen_at >= policy.touch_every:
        return None  # expired, or due for its sliding update: the database decides
    return ws


def load_session(
    db: Session, token: str | None, policy: SessionPolicy = DEFAULT_SESSIONS
) -> WebSession | None:
    """The live session for a cookie token, or None (unknown, expired, or its user disabled).

    A logged-in session slides: each use pushes its end `idle` ahead, never beyond `absolute`
    after login. The row is written at most once a minute to keep reads cheap. Answers are
    kept in memory until a change drops them in every process (see
    `jingxin.accounts.live_sessions`).
    """
    if not token or len(token) > 256:
        return None
    cached = cached_session(token, policy)
    if cached is not None:
        return cached
    digest = token_digest(token)
    since = live_sessions.generation()  # a change committed while this reads is not kept
    ws = db.get(WebSession, digest)
    now = utcnow()
    if ws is not None and (ws.expires_at <= now or (ws.user is not None and not ws.user.is_active)):
        db.delete(ws)
        ws = None
    elif ws is not None and ws.user_id is not None and now - ws.last_seen_at >= policy.touch_every:
        ws.last_seen_at = now
        ws.expires_at = min(now + policy.idle, ws.created_at + policy.absolute)
    # Always end the transaction: the connection goes back to the pool instead of being held
    # while the request waits for a worker thread (objects stay loaded: no expiry on commit).
    db.commit()
    if ws is not None and not ws.flash:
        # Shared with other requests from now on: detached with its user and the user's
        # assignments, so that no request's session changes or expires them (a rollback
        # expires what a session holds); changes go through `db.get`, as `add_flash` does.
        if ws.user is not None:
            for assignment in ws.user.assignments:
                db.expunge(assignment)
            db.expunge(ws.user)
        db.expunge(ws)
        live_sessions.keep(digest, ws, since)
    else:
        live_sessions.drop(digest)
    return ws


def end_session(db: Session, token: str | None) -> None:
    if token:
        live_sessions.drop(token_digest(token), db)
        db.execute(delete(WebSession).where(WebSession.id == token_digest(token)))
        db.commit()


def end_user_sessions(db: Session, user_id: int, except_token: str | None = None) -> None:
    """End every session of a user (after a password change or when the account is disabled)."""
    live_sessions.drop_user(user_id, db)
    conditions = [WebSession.user_id == user_id]
    if except_token:
        conditions.append(WebSession.id != token_digest(except_token))
    db.execute(delete(WebSession).where(*conditions))


def logout(db: Session, token: str | None, actor: Actor) -> None:
    """End the session (退出) and audit it."""
    end_session(db, token)
    if actor.user_id is not None:
        record(db, actor, Action.LOGOUT, "user", actor.user_id, commit=True)


def add_flash(db: Session, ws: WebSession | None, text: str, kind: str = "success") -> None:
    """Queue a one-time message for the next page this session renders (after a redirect)."""
    if ws is None:
        return
    live_sessions.drop(ws.id, db)
    live = db.get(WebSession, ws.id)  # the row itself: `ws` may be a shared copy from memory
    if live is None:
        return
    live.flash = [*(live.flash or []), {"kind": kind, "text": text}]
    db.commit()


def pop_flash(db: Session, ws: WebSession | None) -> list[dict[str, str]]:
    if ws is None or not ws.flash:
        return []
    messages = list(ws.flash)
    ws.flash = []
    db.commit()
    return messages
