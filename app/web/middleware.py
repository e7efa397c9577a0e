"""ASGI middleware around everything: request id, access log and security headers on every answer."""

from __future__ import annotations

import secrets
import time
from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from app.evidence.services import UPLOAD_BODY_LIMIT
from app.i18n import accept_language, current_language, pick_language
from app.logs import access_log, client_ip_var, request_id_var

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def behind_proxy(scope: Scope, trusted: frozenset[str]) -> Scope:
    """The client and scheme a trusted reverse proxy reports, in place of the proxy's own connection.

    Only a peer in ``trusted`` is believed (``*``: any). The client is the nearest address in
    X-Forwarded-For that is not itself a trusted proxy, so a client cannot pose as another by sending
    the header itself. Done here rather than by the server, so every ASGI server behaves the same.
    """
    client: Any = scope.get("client")
    if not client or not (client[0] in trusted or "*" in trusted):
        return scope
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
    changed: dict[str, Any] = {}
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted or hop == hops[0]:
            changed["client"] = (hop, 0)
            break
    if proto in ("http", "https"):
        changed["scheme"] = proto
    return cast(Scope, {**scope, **changed}) if changed else scope


class RequestBody:
    """Follows how much of a request's body the app has read, and reads the rest when it answers without it.

    A browser whose upload is cut off by an early answer reports a network error, not the answer: a phone
    would take a refusal for being offline. Bodies over the upload limit are not drained (they are refused
    for their size, and the connection may close).
    """

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self._receive = receive
        self.read = 0
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        size = int(length) if length.isdigit() else 0
        self.pending = (size > 0 or chunked) and size <= UPLOAD_BODY_LIMIT

    async def receive(self) -> ReceiveMessage:
        message = await self._receive()
        chunk = message.get("body", b"")
        self.read += len(chunk) if isinstance(chunk, bytes) else 0
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.pending = False
        return message

    async def drain(self) -> None:
        while self.pending and self.read <= UPLOAD_BODY_LIMIT:
            await self.receive()


class EdgeMiddleware:
    """Outermost layer, so errors, static files and fragments all get the same headers."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False, trusted_proxies: str = "127.0.0.1") -> None:
        self.app = app
        self.extra = security_headers(hsts=hsts)
        self.trusted = frozenset(address.strip() for address in trusted_proxies.split(",") if address.strip())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        scope = behind_proxy(scope, self.trusted)
        request_id = secrets.token_hex(8)
        token = request_id_var.set(request_id)
        client: Any = scope.get("client")
        ip_token = client_ip_var.set(client[0] if client else "-")
        language_token = current_language.set(request_language(scope))
        started = time.perf_counter()
        status = {"code": 0}
        path: str = scope.get("path", "")
        body = RequestBody(scope, receive)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Refused before its body was read (signed out, a CSRF or role refusal): the rest of the
                # upload is read first, so the browser gets this answer instead of a reset connection.
                await body.drain()
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.extra if h[0] not in present)
                headers.append((b"x-request-id", request_id.encode()))
                if b"cache-control" not in present and not path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, body.receive, send_with_headers)
        finally:
            # The path only: query strings may carry tokens and never reach the log.
            if access_log.enabled():
                access_log.record(
                    method=scope.get("method"),
                    path=path,
                    status=status["code"],
                    ms=round((time.perf_counter() - started) * 1000, 1),
                    ip=client[0] if client else "-",
                    request_id=request_id,
                )
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)
            current_language.reset(language_token)


def request_language(scope: Scope) -> str:
    """The language cookie (set at sign-in from the user's profile or by the switcher), else the browser's.

    The cookies are parsed once per request, by Litestar's own parser into the scope, where the
    request's ``cookies`` later find them.
    """
    connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
    return pick_language(
        [connection.cookies.get("cc_lang"), *accept_language(connection.headers.get("accept-language", ""))]
    )
