"""Who is asking: staff sessions from the cookie, API tokens from the header, and the role guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from app.accounts import services as accounts
from app.accounts.roles import PARTY
from app.accounts.tables import User
from app.cases.events import Actor
from app.collaboration.links import PARTY_COOKIE, PartyAccess, session_access
from app.errors import NotAuthenticated, PermissionDenied
from app.i18n import gettext as _
from app.logs import redacted, security_event
from app.settings import Settings

SESSION_COOKIE = "cc_session"
# The ``auth`` of a state change on the API that came without a bearer token.
BEARER_ONLY = "bearer_only"


class StaffAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` to the staff user (or None); the guard decides what they may reach."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        settings: Settings = connection.app.state.settings
        refuse_cross_origin(connection, settings)
        authorization = connection.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            user = await accounts.token_user(authorization[7:].strip())
            return AuthenticationResult(user=user, auth="token" if user else None)
        if connection.scope.get("method") in UNSAFE_METHODS and connection.scope["path"].startswith("/api/"):
            # The API carries no CSRF token (integrations have none), and any site can make a browser send
            # our cookies: a change through the API is made with a bearer token only.
            return AuthenticationResult(user=None, auth=BEARER_ONLY)
        token = connection.cookies.get(SESSION_COOKIE)
        if token:
            user = await accounts.session_user(
                token,
                idle=timedelta(minutes=settings.session_idle_minutes),
                absolute=timedelta(hours=settings.session_max_hours),
            )
            if user is not None:
                return AuthenticationResult(user=user, auth="session")
        party = connection.cookies.get(PARTY_COOKIE)
        if party:
            # A supplier or carrier: no user, only the link's party and case; the guard admits it to PARTY routes.
            access = await session_access(settings.secret_key, party, now=datetime.now(UTC))
            return AuthenticationResult(user=None, auth=access)
        return AuthenticationResult(user=None, auth=None)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def refuse_cross_origin(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> None:
    """A state change whose browser says it comes from another site is refused, CSRF token or not.

    Browsers send ``Origin`` with every POST; clients that send none (API scripts, curl) rely on the
    CSRF token or their bearer token instead.

    Our pages send ``Referrer-Policy: no-referrer``, under which browsers post our own forms with
    ``Origin: null``. Current browsers also send ``Sec-Fetch-Site`` (which page scripts cannot set), so
    where it is present it decides: only ``same-origin`` (and ``none``, typed by the user) pass. Older
    ones (Safari before 16.4, on phones that stay in use for years) send no ``Sec-Fetch-Site``: their
    ``null`` cannot be told from a sandboxed frame's, so it is left to the CSRF token like a missing
    Origin; a named foreign Origin is refused.
    """
    origin = connection.headers.get("origin")
    if origin is None or connection.scope.get("method") not in UNSAFE_METHODS:
        return
    site = connection.headers.get("sec-fetch-site")
    if site is not None:
        if site in ("same-origin", "none"):
            return
        raise PermissionDeniedException("CSRF check failed: the request came from another origin.")
    if origin == "null":
        return
    ours = {connection.headers.get("host", ""), urlsplit(settings.base_url).netloc}
    if urlsplit(origin).netloc not in ours - {""}:
        raise PermissionDeniedException("CSRF check failed: the request came from another origin.")


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Every route declares ``opt={"roles": ...}``; a route that does not is refused at start-up.

    Run by ``app.asgi.before_handler`` (a ``before_request`` hook) rather than as a Litestar guard: Litestar
    hands each guard a copy of the route handler on every request (``copy(self)`` in
    ``authorize_connection``), a tenth of a small page's time. The hook runs at the same point, after the
    authentication and CSRF middleware and before the body or parameters are read. A coroutine, though it
    awaits nothing: Litestar runs a plain function hook in a worker thread.
    """
    roles = handler.opt.get("roles")
    if roles is None:
        if is_automatic_options(handler):
            return
        raise PermissionDenied(_("This route declares no roles."))  # fail closed
    if "public" in roles:
        return
    user: User | None = connection.scope.get("user")
    if roles & PARTY:
        access = connection.scope.get("auth")
        if user is None and isinstance(access, PartyAccess) and access.party in roles:
            return
        if user is None:
            raise NotAuthenticated(_("Please sign in."))
        raise PermissionDenied(_("This page is for the supplier or carrier the case was sent to."))
    if user is None and connection.scope.get("auth") == BEARER_ONLY:
        raise NotAuthenticated(_("Changes through the API need an API token: send it as Authorization: Bearer."))
    if user is None:
        raise NotAuthenticated(_("Please sign in."))
    if user.role not in roles:
        security_event(
            "access_denied",
            user_id=user.id,
            role=user.role,
            path=redacted(connection.url.path),
            ip=client_ip(connection),
        )
        raise PermissionDenied(_("Your role does not allow this."))


def is_automatic_options(handler: BaseRouteHandler) -> bool:
    """The OPTIONS answer Litestar adds to every path by itself: it reveals no data."""
    return handler.handler_name == "options_handler"


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "-"


def actor_for(request: Request[Any, Any, Any]) -> Actor:
    user = request.user
    return Actor(kind="user", id=str(user.id), label=user.name or user.email)


def safe_next(target: str) -> str:
    """Only a path on this site: never another host (open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
