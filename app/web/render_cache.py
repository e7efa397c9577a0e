"""Rendered parts of list pages, kept in this process while the data they show has not changed.

A key always holds the data version read *before* the part's queries ran (``app.db.DataChanges``: it
moves after every committed write, in any process on this machine), and everything else the part
depends on: the reader's role, language and time zone and the page's normalised query. Nothing that
belongs to one person (their name, CSRF token, saved views) is kept under a key that others share.
Entries also age out after ``MAX_AGE_SECONDS``, a bound for writes made outside Crossclaim (by hand in
the database), which no process counts.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from litestar import Request, Response
from litestar.response import Template
from litestar.template.base import csrf_token
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from app.db import current_engine, data_changes
from app.i18n import company_zone, current_language

MAX_AGE_SECONDS = 60.0
MAX_ENTRIES = 256
_ALL: list[RenderCache] = []


def data_version() -> tuple[int, int] | None:
    """The version to key a part with, read before its data; None where nothing may be kept."""
    return data_changes(current_engine()).version()


def forget_rendered() -> None:
    """Drop every kept part in this process (tests that count a page's queries start from none)."""
    for cache in _ALL:
        cache.clear()


def reader_key(request: Request[Any, Any, Any], *page: Hashable) -> tuple[Hashable, ...] | None:
    """A key for a part that staff of one role share: the data version (read now, before the part's
    queries), the reader's role, language and time zone, and ``page`` (its normalised query)."""
    version = data_version()
    if version is None:
        return None
    user = request.user
    return (version, user.role, current_language.get(), user.time_zone or company_zone(), *page)


def render_part(request: Request[Any, Any, Any], template: str, block: str, context: dict[str, Any]) -> Markup:
    """One block of a page as markup, to keep (the same environment, filters and translations as the page)."""
    from jinja2_fragments import render_block

    from app.web.templates import request_environment

    html = render_block(request_environment(request), template, block, {"request": request, **context})
    return Markup(html)  # noqa: S704 - the output of the autoescaping template environment


# Stands in for the reader's CSRF token while a part with forms is rendered to be kept, so no reader's
# token is ever in a shared part. Random per process: no text a user wrote can hold it.
_TOKEN_MARK = f"csrf-{secrets.token_hex(16)}"
# What Litestar's own tokens look like. A reader's token comes from their own cookie and is not checked
# on a GET: anything else gets its page rendered for it alone, never a kept one.
_PLAIN_TOKEN = re.compile(r"[0-9a-f]{32,256}")


def forms_may_be_kept(request: Request[Any, Any, Any]) -> bool:
    """Whether this reader's CSRF token can be put into a kept part with forms (it is plain hex)."""
    return _PLAIN_TOKEN.fullmatch(csrf_token({"request": request})) is not None


def _render_marked(
    request: Request[Any, Any, Any], template: str, context: dict[str, Any], *, block: str | None = None
) -> str:
    """A page or one block of it, with Litestar's page context (the request and the CSRF form field) as a
    Template response gets it, rendered with the mark in place of the reader's token."""
    from jinja2_fragments import render_block

    from app.web.templates import request_environment

    environment = request_environment(request)
    state = ScopeState.from_scope(request.scope)
    token = state.csrf_token
    state.csrf_token = _TOKEN_MARK
    try:
        page_context = Template(template_name=template, context=context).create_template_context(request)
        if block is None:
            return environment.get_template(template).render(page_context)
        return render_block(environment, template, block, page_context)
    finally:
        state.csrf_token = token


def with_token(request: Request[Any, Any, Any], marked: str) -> Markup:
    """A kept part with this reader's CSRF token put back in (only for a reader ``forms_may_be_kept``)."""
    token = csrf_token({"request": request})
    if _PLAIN_TOKEN.fullmatch(token) is None:
        raise ValueError("a kept part with forms is served only to a reader whose token is plain hex")
    return Markup(marked.replace(_TOKEN_MARK, token))  # noqa: S704 - rendered by the autoescaping environment


def render_part_with_forms(request: Request[Any, Any, Any], template: str, block: str, context: dict[str, Any]) -> str:
    """One block that holds forms, to keep: serve it through ``with_token``."""
    return _render_marked(request, template, context, block=block)


def kept_page(
    request: Request[Any, Any, Any], cache: RenderCache, key: Hashable, template: str, context: dict[str, Any]
) -> Response[str]:
    """A whole page for signed-out readers, rendered once per ``key`` (which holds all it depends on
    besides the CSRF token) and served with this reader's token put back in."""
    kept = cache.get(key)
    if kept is None:
        kept = _render_marked(request, template, context)
        cache.put(key, kept)
    return Response(
        content=str(with_token(request, kept)), media_type="text/html; charset=utf-8", headers={"Vary": "HX-Request"}
    )


class RenderCache:
    """A small LRU of rendered parts by key (the key includes the data version)."""

    def __init__(self, *, entries: int = MAX_ENTRIES, max_age: float = MAX_AGE_SECONDS) -> None:
        self.entries = entries
        self.max_age = max_age
        self._kept: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._making: dict[Hashable, asyncio.Lock] = {}
        _ALL.append(self)

    async def kept_or_made(self, key: Hashable, make: Callable[[], Awaitable[Any]]) -> Any:
        """The part kept under ``key``, else what ``make`` returns (then kept). One request makes a key at a
        time: the others asking for it meanwhile wait for that one instead of each running the same queries
        and render (sixteen readers after a write would otherwise queue sixteen renders on one core)."""
        found = self.get(key)
        if found is not None:
            return found
        lock = self._making.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                found = self.get(key)
                if found is None:
                    found = await make()
                    self.put(key, found)
        finally:
            if not lock.locked() and self._making.get(key) is lock:
                del self._making[key]
        return found

    def get(self, key: Hashable) -> Any | None:
        found = self._kept.get(key)
        if found is None:
            return None
        if found[0] < time.monotonic():
            del self._kept[key]
            return None
        self._kept.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, value: Any) -> None:
        self._kept[key] = (time.monotonic() + self.max_age, value)
        self._kept.move_to_end(key)
        while len(self._kept) > self.entries:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()
        self._making.clear()
