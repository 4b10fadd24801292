"""Shared response cache (响应缓存): a read-only page or API answer is made once per view of the
data and served from memory to everyone entitled to exactly that view, until the data change.

Many users ask the same question at once — every analyst of a province opens the same
dashboard on Monday morning — and making the answer (queries, response model, template) costs
far more than sending it. A GET route decorated with `@shared_response(...)` is answered like
this:

- The security dependencies run first, on every request, as for any route: session, role
  (`require_roles`), scope. The cache is only consulted inside the route.
- The key is the route, its path and query, whether HTMX asked for a fragment, what the user's
  role and region let them see (role, `Scope`, clearance, the scope's label) and the
  warehouse's data version (`jingxin.core.cache.data_version`). Users with the same role and
  scope share an entry; nobody else can reach it; a new batch or evaluation run misses.
- What differs per user on a page — the CSRF token and the display name — has slots made for
  it by the template, filled in for each response. A slot is rendered as a marker carrying a
  secret random nonce made for that one rendering (`Slots`), and the body is split at those
  markers once, when the answer is made: the entry keeps the pieces between the slots, and a
  response joins the pieces with this user's values. The data on the page (an enterprise
  named like a marker, a search term) cannot know the nonce, so it can never become a slot;
  nothing is searched and replaced in a served body. JSON answers have no slots at all. On
  these pages templates see a `ViewUser`, which offers only what the key covers, so no
  personal field can slip into a shared page. A page that shows flash messages is personal:
  it is made for that request, never answered from the cache, and not kept.
- The sensitive-field views an answer shows are written to the audit log each time it is
  served, made or from memory, for the user served, and saved before the answer is sent
  (`jingxin.core.audit.deferring_sensitive_views`, through the group writer).
- A hit is answered on the event loop, without a worker thread; making an answer runs on one.
- Only 200 answers are kept (redirects, downloads and errors are not), in a least-recently-used
  store bounded by `MAX_BYTES`.
"""

from __future__ import annotations

import functools
import inspect
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from markupsafe import escape
from pydantic import TypeAdapter

from jingxin.core import audit, metrics
from jingxin.core.cache import SizedLRU
from jingxin.web.data_version import read_version
from jingxin.web.deps import CurrentActor, CurrentUser, WarehouseReader
from jingxin.web.templating import is_htmx, scope_label

F = TypeVar("F", bound=Callable[..., Any])

MAX_BYTES = 64 * 1024 * 1024

CSRF_SLOT = "csrf"
NAME_SLOT = "name"
# How the markers begin: a served page never contains either (every slot is filled).
CSRF_HOLE = f"__jingxin_{CSRF_SLOT}_"
NAME_HOLE = f"__jingxin_{NAME_SLOT}_"


@dataclass(frozen=True)
class Slots:
    """The markers one rendering of a shared page puts where per-user values go.

    Each carries a nonce of 128 random bits made for this rendering only, so no data shown on
    the page can contain a marker: only the template's own slots split the body."""

    csrf: str
    name: str

    @classmethod
    def new(cls) -> Slots:
        nonce = secrets.token_hex(16)
        return cls(csrf=f"{CSRF_HOLE}{nonce}__", name=f"{NAME_HOLE}{nonce}__")

    def pattern(self) -> re.Pattern[bytes]:
        """Matches either marker; the capture says which slot it is."""
        return re.compile(b"(" + re.escape(self.csrf.encode()) + b"|" + re.escape(self.name.encode()) + b")")

    def kind(self, marker: bytes) -> str:
        return CSRF_SLOT if marker == self.csrf.encode() else NAME_SLOT


class ViewUser:
    """The user as a shared page may show them: what the cache key covers, and a slot for the
    display name. Any other attribute is missing, so a template cannot cache it."""

    def __init__(self, user: Any, slots: Slots) -> None:
        self.role = user.role
        self.role_enum = user.role_enum
        self.role_label = user.role_label
        self.clearance = user.clearance
        self.display_name = slots.name


# Sensitive-field views an answer shows: (object type, object id, fields).
Views = tuple[tuple[str, str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class _Entry:
    """A kept answer: the body's pieces between its slots, and which slot follows each piece
    (`slots[i]` sits between `pieces[i]` and `pieces[i + 1]`)."""

    pieces: tuple[bytes, ...]
    slots: tuple[str, ...]
    media_type: str | None
    headers: tuple[tuple[str, str], ...]
    views: Views

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.pieces)

    def response(self, csrf_token: str, display_name: str) -> Response:
        values = {CSRF_SLOT: csrf_token.encode(), NAME_SLOT: str(escape(display_name)).encode()}
        parts = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            parts.append(values[slot])
            parts.append(piece)
        return Response(b"".join(parts), media_type=self.media_type, headers=dict(self.headers))


def split_at_slots(body: bytes, slots: Slots | None) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    """The pieces of a rendered body between the slots of `slots`, and the slots' kinds."""
    if slots is None:
        return (body,), ()
    split = slots.pattern().split(body)
    return tuple(split[0::2]), tuple(slots.kind(m) for m in split[1::2])


_store: SizedLRU[_Entry] = SizedLRU(MAX_BYTES, MAX_BYTES // 8, lambda e: e.size)


def _key(name: str, request: Request, user: Any, store: str, version: tuple) -> tuple:
    return (
        name,
        request.url.path,
        tuple(sorted(request.query_params.multi_items())),
        is_htmx(request),
        user.role,
        user.scope,
        user.clearance,
        scope_label(user),
        store,
        version,
    )


@functools.cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _entry(answer: Any, model: Any, views: Views, slots: Slots | None) -> _Entry | None:
    """What to keep of a route's answer, or None when it is not a plain 200 answer. A
    rendered page is split at the `slots` its rendering used; data answers have none."""
    if isinstance(answer, Response):
        body = getattr(answer, "body", None)
        if answer.status_code != 200 or not isinstance(body, bytes):
            return None
        headers = tuple(
            (k, v) for k, v in answer.headers.items() if k.lower() not in ("content-length", "content-type")
        )
        media_type = answer.headers.get("content-type", answer.media_type)
    else:
        slots = None
        if model is None:
            raise TypeError("shared_response(model=...) is needed for a route that returns data")
        adapter = _adapter(model)
        body = adapter.dump_json(adapter.validate_python(answer), by_alias=True)
        headers, media_type = (), "application/json"
    pieces, kinds = split_at_slots(body, slots)
    return _Entry(pieces=pieces, slots=kinds, media_type=media_type, headers=headers, views=views)


async def serve_shared(
    make: Callable[[], Any],
    *,
    name: str,
    request: Request,
    user: Any,
    wh: Any,
    actor: Any,
    model: Any = None,
) -> Any:
    """The answer of `make()` for this request, from the cache when this view of the data was
    made before; `name` names the question (a route), `model` is needed when `make` returns
    data rather than a Response.

    A hit is answered on the event loop, without a worker thread; its audit entries go
    through the app's group writer (`jingxin.core.audit.GroupWriter`) and are saved before
    the answer is sent. `make` runs on a worker thread (it queries and renders)."""
    state = request.state
    ws = getattr(state, "web_session", None)
    csrf_token = ws.csrf_token if ws is not None else ""
    version = await read_version(wh)  # shared with the requests arriving meanwhile
    key = None if version is None else _key(name, request, user, wh.store_key, version)
    # A session with flash messages waiting must see them: its page is made (and not kept).
    pending_flash = ws is not None and bool(ws.flash)
    entry = _store.get(key) if key is not None and not pending_flash else None
    if key is not None and not pending_flash:
        metrics.count_cache("response", entry is not None)
    if entry is not None:
        await request.app.state.audit_writer.save_sensitive_views(actor, entry.views)
        return entry.response(csrf_token, user.display_name)
    answer, views, entry, personal = await run_in_threadpool(_make, make, model, state)
    await request.app.state.audit_writer.save_sensitive_views(actor, views)
    if entry is None:
        return answer
    if key is not None and not personal:
        _store.put(key, entry)
    return entry.response(csrf_token, user.display_name)


def _make(make: Callable[[], Any], model: Any, state: Any) -> tuple[Any, Views, _Entry | None, bool]:
    """Run `make` as a shared view (templates get slots, sensitive views are collected) and
    turn its answer into a cache entry."""
    slots = Slots.new()
    state.shared_view = True
    state.shared_slots = slots
    state.personal_view = False
    try:
        with audit.deferring_sensitive_views() as deferred:
            answer = make()
    finally:
        state.shared_view = False
    views = tuple((t, i, tuple(f)) for t, i, f in deferred)
    return answer, views, _entry(answer, model, views, slots), state.personal_view


async def _this_request(request: Request) -> Request:
    return request


# The route may take `request: Request` itself; FastAPI passes the request to one such
# parameter only, so the decorator asks for it through a dependency.
ThisRequest = Annotated[Request, Depends(_this_request)]


def shared_response(model: Any = None) -> Callable[[F], F]:
    """Decorate a GET route so that `serve_shared` answers it (see the module docstring).

    `model` is the route's response model, for routes that return data rather than a
    Response. The decorator adds the dependencies it needs (request, user, warehouse, actor)
    to the route's own; FastAPI resolves each once per request.
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
            for name, annotation in (
                ("cache_request", ThisRequest),
                ("cache_user", CurrentUser),
                ("cache_wh", WarehouseReader),
                ("cache_actor", CurrentActor),
            )
        ]
        name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        async def wrapper(
            *args: Any,
            cache_request: Request,
            cache_user: Any,
            cache_wh: Any,
            cache_actor: Any,
            **kwargs: Any,
        ) -> Any:
            return await serve_shared(
                lambda: fn(*args, **kwargs),
                name=name,
                request=cache_request,
                user=cache_user,
                wh=cache_wh,
                actor=cache_actor,
                model=model,
            )

        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), *extra]
        )
        return wrapper  # type: ignore[return-value]

    return decorate
