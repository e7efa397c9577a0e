"""Health check, the home redirect and the language switch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from app.accounts.roles import PUBLIC, Role
from app.accounts.services import sessions_changed
from app.accounts.tables import User
from app.db import current_engine
from app.i18n import LANGUAGES
from app.queue import queue_status
from app.web.auth import safe_next
from app.web.forms import FORM
from app.web.pages import remember_language


@get("/healthz", opt={"roles": PUBLIC}, name="healthz")
async def healthz() -> Response[dict[str, Any]]:
    try:
        await current_engine().run_ddl("SELECT 1")
        database: dict[str, Any] = {"status": "ok"}
    except Exception as error:
        database = {"status": "error", "error": type(error).__name__}
    queue = await asyncio.to_thread(queue_status)
    healthy = database["status"] == "ok" and queue["status"] == "ok"
    body = {"status": "ok" if healthy else "degraded", "database": database, "queue": queue}
    return Response(body, status_code=200 if healthy else 503)


@get("/", opt={"roles": PUBLIC}, name="home")
async def home(request: Request[Any, Any, Any]) -> Redirect:
    user = request.scope.get("user")
    if user is None:
        return Redirect(path="/login")
    # Warehouse staff come to report what they just unpacked; everyone else to the case list.
    if user.role == Role.WAREHOUSE:
        return Redirect(path="/intake")
    return Redirect(path="/cases")


@dataclass
class LanguageForm:
    language: str = "en"
    next: str = "/"  # the page to go back to (only on this site)


@post("/language", opt={"roles": PUBLIC}, status_code=303)
async def set_language(request: Request[Any, Any, Any], data: Annotated[LanguageForm, FORM]) -> Redirect:
    language = data.language
    response = Redirect(path=safe_next(data.next), status_code=303)
    if language in LANGUAGES:
        remember_language(request, response, language)
        user = request.scope.get("user")
        if isinstance(user, User) and user.language != language:
            # A signed-in person's choice is theirs: the next sign-in, /account and their mail follow it.
            await User.update({User.language: language}).where(User.id == user.id)
            sessions_changed(user_id=user.id)
    return response
