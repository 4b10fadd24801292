"""The inbox (消息) page, the header's unread count, preferences, and `/api/v1/notifications`.

Every route works on the logged-in user's own messages only (queries by their user id);
another user's message id answers 404, like one that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from jingxin.accounts import sessions as account_sessions
from jingxin.core import audit
from jingxin.core.notify import service
from jingxin.core.notify.models import Notification
from jingxin.core.notify.schemas import ChangedOut, NotificationOut, PreferencesIn, PreferencesOut, UnreadOut
from jingxin.web.deps import CurrentActor, CurrentUser, CurrentWebSession, DbSession
from jingxin.web.pagination import Pager
from jingxin.web.registry import NavItem, WebScenario
from jingxin.web.schemas import Message, Page
from jingxin.web.templating import is_htmx, render

PER_PAGE = 20
MAX_ID = 2**62
CHANGED = "notifications-changed"  # HX-Trigger event the header's count listens for
ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Message}, 404: {"model": Message}}

pages = APIRouter(prefix="/notifications", include_in_schema=False)
api = APIRouter(prefix="/notifications", tags=["消息通知"])

NoteId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="消息编号")]
PREF_EVENTS = ("assigned", "due_soon", "overdue", "escalated", "answered", "info_requested", "reopened")


def _own(db: DbSession, user_id: int, note_id: int) -> Notification:
    note = db.get(Notification, note_id)
    if note is None or note.user_id != user_id or not note.in_inbox:
        raise HTTPException(status_code=404, detail="消息不存在")
    return note


# ---- pages ----------------------------------------------------------------------------------


def _list_context(request: Request, db: DbSession, user: Any, unread: bool, page: int) -> dict[str, Any]:
    notes, total = service.inbox(
        db, user.id, unread_only=unread, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return {
        "page_title": "消息",
        "notes": notes,
        "unread": unread,
        "unread_count": service.unread_count(db, user.id),
        "pager": Pager.build(request, page, PER_PAGE, total),
        "event_label": service.event_label,
    }


@pages.get("")
def inbox_page(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    unread: Annotated[bool, Query()] = False,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    context = _list_context(request, db, user, unread, page)
    if is_htmx(request):
        return render(request, "notify/_list.html", context)
    return render(request, "notify/inbox.html", context)


@pages.get("/badge")
def badge(request: Request, db: DbSession, user: CurrentUser) -> Response:
    """The header's 消息 link with the unread count (loaded by HTMX on every page, so that
    pages shared between users by the response cache never carry one user's count)."""
    response = render(request, "notify/_badge.html", {"unread_count": service.unread_count(db, user.id)})
    response.headers["Cache-Control"] = "no-store"
    return response


def _after_change(request: Request, db: DbSession, user: Any) -> Response:
    if is_htmx(request):
        response = render(request, "notify/_list.html", _list_context(request, db, user, False, 1))
        response.headers["HX-Trigger"] = CHANGED
        return response
    return RedirectResponse("/notifications", status_code=303)


@pages.post("/{note_id}/read")
def read_one(request: Request, db: DbSession, user: CurrentUser, note_id: NoteId) -> Response:
    _own(db, user.id, note_id)
    service.mark_read(db, user.id, [note_id])
    return _after_change(request, db, user)


@pages.post("/read-all")
def read_all(request: Request, db: DbSession, user: CurrentUser) -> Response:
    service.mark_read(db, user.id)
    return _after_change(request, db, user)


@pages.get("/preferences")
def preferences_page(request: Request, db: DbSession, user: CurrentUser) -> Response:
    prefs = service.get_preferences(db, user.id)
    return render(
        request,
        "notify/preferences.html",
        {
            "page_title": "消息接收设置",
            "prefs": prefs,
            "events": [(e, service.event_label(e)) for e in PREF_EVENTS],
            "problem": None,
        },
    )


@pages.post("/preferences")
async def preferences_save(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    ws: CurrentWebSession,
    actor: CurrentActor,
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    form = await request.form()
    channels = {e: [c for c in ("inbox", "email") if form.get(f"{e}.{c}") == "on"] for e in PREF_EVENTS}
    try:
        _save_preferences(db, user, actor, email, channels)
    except service.PreferenceError as exc:
        prefs = service.Preferences(email or None, channels)
        context = {
            "page_title": "消息接收设置",
            "prefs": prefs,
            "events": [(e, service.event_label(e)) for e in PREF_EVENTS],
            "problem": str(exc),
        }
        return render(request, "notify/preferences.html", context, status_code=422)
    account_sessions.add_flash(db, ws, "消息接收设置已保存。")
    return RedirectResponse("/notifications/preferences", status_code=303)


def _save_preferences(
    db: DbSession, user: Any, actor: Any, email: str | None, channels: dict[str, list[str]]
) -> service.Preferences:
    before = service.get_preferences(db, user.id)
    saved = service.set_preferences(db, user.id, email=email, channels=channels)
    if before.email != saved.email:  # where a user's case mail goes is worth a trace
        audit.record(
            db, actor, audit.Action.USER_UPDATE, "user", user.id, {"notification_email": True}, commit=True
        )
    return saved


# ---- API ------------------------------------------------------------------------------------


@api.get("", response_model=Page[NotificationOut], responses=ERRORS)
def list_notifications(
    db: DbSession,
    user: CurrentUser,
    unread: Annotated[bool, Query(description="只看未读")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Page[NotificationOut]:
    """The logged-in user's inbox: unread first, newest first."""
    notes, total = service.inbox(db, user.id, unread_only=unread, limit=limit, offset=offset)
    return Page(
        items=[NotificationOut.model_validate(n) for n in notes], total=total, limit=limit, offset=offset
    )


@api.get("/unread-count", response_model=UnreadOut, responses=ERRORS)
def unread_count(db: DbSession, user: CurrentUser) -> UnreadOut:
    return UnreadOut(unread=service.unread_count(db, user.id))


@api.post("/{note_id}/read", response_model=ChangedOut, responses=ERRORS)
def api_read_one(db: DbSession, user: CurrentUser, note_id: NoteId) -> ChangedOut:
    """Mark one message read (marking a read one again changes nothing)."""
    _own(db, user.id, note_id)
    changed = service.mark_read(db, user.id, [note_id])
    return ChangedOut(changed=changed, unread=service.unread_count(db, user.id))


@api.post("/read-all", response_model=ChangedOut, responses=ERRORS)
def api_read_all(db: DbSession, user: CurrentUser) -> ChangedOut:
    changed = service.mark_read(db, user.id)
    return ChangedOut(changed=changed, unread=service.unread_count(db, user.id))


@api.get("/preferences", response_model=PreferencesOut, responses=ERRORS)
def get_preferences(db: DbSession, user: CurrentUser) -> PreferencesOut:
    prefs = service.get_preferences(db, user.id)
    return PreferencesOut(email=prefs.email, channels=prefs.channels)


@api.put("/preferences", response_model=PreferencesOut, responses={**ERRORS, 422: {"model": Message}})
def put_preferences(
    db: DbSession, user: CurrentUser, actor: CurrentActor, body: PreferencesIn
) -> PreferencesOut:
    """Replace the address and the channels per event (an event left out uses the default)."""
    try:
        saved = _save_preferences(db, user, actor, body.email, {k: list(v) for k, v in body.channels.items()})
    except service.PreferenceError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return PreferencesOut(email=saved.email, channels=saved.channels)


scenario = WebScenario(
    name="notifications",
    pages=pages,
    api=api,
    nav=(NavItem("notifications", "消息", "/notifications", order=15, icon="✉"),),
    templates=Path(__file__).parent / "templates",
)
