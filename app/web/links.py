"""Magic links pressed in a browser (a party's /l/ link, a customer's /t/ link): one rate limit, one refusal page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request
from litestar.response import Template

from app.collaboration import links
from app.collaboration.tables import AccessLink
from app.errors import RateLimited
from app.i18n import gettext as _
from app.logs import security_event
from app.settings import Settings
from app.web.auth import client_ip
from app.web.pages import render
from app.web.ratelimit import AttemptLimiter

NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def _limiter(request: Request[Any, Any, Any]) -> AttemptLimiter:
    # One bucket for supplier, carrier and tracking links: guessing /t/ tokens costs what guessing /l/ ones costs.
    state = request.app.state
    limiter: AttemptLimiter | None = state.get("link_limiter")
    if limiter is None:
        settings: Settings = state.settings
        limiter = state["link_limiter"] = AttemptLimiter(settings.link_attempts_per_minute)
    return limiter


def invalid_link_page(request: Request[Any, Any, Any]) -> Template:
    """One page for unknown, expired, revoked and tampered links: it tells nobody whether a case exists."""
    return render(request, "party/invalid.html", {}, status_code=404, headers=NO_REFERRER)


async def redeem_link(
    request: Request[Any, Any, Any], token: str, *, parties: tuple[str, ...], now: datetime
) -> AccessLink | None:
    """The live link behind a pressed Continue, or None; a token that opens nothing counts against the address."""
    limiter, ip = _limiter(request), client_ip(request)
    if limiter.blocked(ip):
        security_event("link_rate_limited", ip=ip)
        raise RateLimited(
            _("Too many link attempts from your address. Wait a minute and try again."),
            retry_after=limiter.retry_after(ip),
        )
    link = await links.live_link(token, now=now, parties=parties)
    if link is None:
        limiter.record(ip)
        security_event("link_refused", ip=ip)
        return None
    security_event("link_used", ip=ip, link_id=link.id, party=link.party)
    return link
