"""Staff sign-in and sign-out, and each user's own language and time zone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import available_timezones

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts import services as accounts
from app.accounts.roles import PUBLIC, STAFF
from app.errors import RateLimited
from app.i18n import current_language
from app.i18n import gettext as _
from app.logs import security_event
from app.settings import Settings
from app.web.auth import SESSION_COOKIE, client_ip, safe_next
from app.web.pages import remember_language, render
from app.web.ratelimit import AccountBackoff, AttemptLimiter
from app.web.render_cache import RenderCache, forms_may_be_kept, kept_page

# The sign-in page as signed-out readers get it, by language and query (app/web/render_cache.py).
LOGIN_PAGES = RenderCache(entries=64, max_age=3600)


@dataclass
class PreferencesForm:
    language: str = ""
    time_zone: str = ""


@dataclass
class LoginForm:
    email: str = ""
    password: str = ""
    next: str = ""
    keep: str = ""  # "yes": keep me signed in on this device


def on_a_phone(request: Request[Any, Any, Any]) -> bool:
    """A phone's browser (Client Hints, else its User-Agent): it is offered to stay signed in."""
    hint = request.headers.get("sec-ch-ua-mobile", "")
    return hint == "?1" or (not hint and "Mobi" in request.headers.get("user-agent", ""))


class AccountController(Controller):
    @get("/login", opt={"roles": PUBLIC}, name="login")
    async def login_page(self, request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Template | Response[str]:
        context = {"next": safe_next(next), "error": None, "email": "", "keep": on_a_phone(request)}
        if request.scope.get("user") is not None or not forms_may_be_kept(request):
            return render(request, "login.html", context)
        # The page every signed-out visitor (and every bot) asks for: kept per language and query.
        key = (current_language.get(), context["next"], context["keep"], request.query_params.get("logged_out"))
        return kept_page(request, LOGIN_PAGES, key, "login.html", context)

    @post("/login", opt={"roles": PUBLIC}, status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        settings: Settings = request.app.state.settings
        limiter: AttemptLimiter = request.app.state.login_limiter
        ip = client_ip(request)
        if limiter.blocked(ip):
            security_event("login_rate_limited", ip=ip)
            raise RateLimited(
                _("Too many failed sign-ins from your address. Wait a minute and try again."),
                retry_after=limiter.retry_after(ip),
            )
        backoff: AccountBackoff = request.app.state.account_backoff
        account = data.email.strip().lower()
        # A password typed into the email field must not reach the log.
        logged_account = account[:254] if "@" in account else "-"
        wait = backoff.wait(account)
        if wait > 0:
            security_event("login_account_throttled", email=logged_account, ip=ip)
            seconds = math.ceil(wait)
            raise RateLimited(
                _(
                    "Too many failed sign-ins for this account. Wait %(seconds)s seconds and try again.",
                    seconds=seconds,
                ),
                retry_after=seconds,
            )
        user = await accounts.authenticate(email=data.email, password=data.password)
        if user is None:
            limiter.record(ip)
            failures = backoff.failed(account)
            security_event("login_failed", ip=ip, email=logged_account, account_failures=failures)
            context = {
                "next": safe_next(data.next),
                "error": _("The email or password is not right."),
                "email": data.email,
                "keep": data.keep == "yes",
            }
            return render(request, "login.html", context, status_code=401)
        backoff.succeeded(account)
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            await accounts.session_end(old)
        kept = data.keep == "yes"
        token = await accounts.session_start(
            user=user, ip=ip, user_agent=request.headers.get("user-agent", ""), kept=kept
        )
        security_event("login", user_id=user.id, ip=ip)
        response = Redirect(path=safe_next(data.next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
            # Kept: the cookie outlives the browser (a phone closed between reports) until the session's
            # absolute limit; the server still ends it after the idle limit or when revoked.
            max_age=settings.session_max_hours * 3600 if kept else None,
        )
        if user.language:
            remember_language(request, response, user.language)
        return response

    @get("/account", opt={"roles": STAFF}, name="account")
    async def account_page(self, request: Request[Any, Any, Any], saved: FromQuery[bool] = False) -> Template:
        return render(request, "account.html", {**await _account_context(request), "saved": saved})

    @post("/account/sessions/{session_id:int}/end", opt={"roles": STAFF}, status_code=200)
    async def session_end(self, request: Request[Any, Any, Any], session_id: FromPath[int]) -> Template:
        current = request.cookies.get(SESSION_COOKIE, "")
        await accounts.session_end_of(
            user_id=request.user.id, session_id=session_id, current=accounts.token_digest(current) if current else ""
        )
        security_event("session_ended", user_id=request.user.id, session_id=session_id, ip=client_ip(request))
        context = {**await _account_context(request), "ended": True}
        return render(request, "account.html", context, block="sessions")

    @post("/account", opt={"roles": STAFF}, status_code=303)
    async def account_save(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[PreferencesForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        language, zone = data.language, data.time_zone.strip()
        await accounts.set_preferences(user_id=request.user.id, language=language, time_zone=zone)
        response = Redirect(path="/account?saved=true", status_code=303)
        remember_language(request, response, language)
        return response

    @post("/logout", opt={"roles": STAFF}, status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await accounts.session_end(token)
        security_event("logout", user_id=request.user.id, ip=client_ip(request))
        response = Redirect(path="/login?logged_out=1", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        # Tells the browser to drop this site's caches and storage, queued offline reports included.
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response


async def _account_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    current = request.cookies.get(SESSION_COOKIE, "")
    return {
        "time_zones": sorted(available_timezones()),
        "user": request.user,
        "sessions": await accounts.sessions_of(request.user.id),
        "this_session": accounts.token_digest(current) if current else "",
    }
