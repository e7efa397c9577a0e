"""Magic links: random tokens kept only as SHA-256, one party and one case each, and the party session cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.collaboration.tables import AccessLink

LINK_DAYS = 30
# A party session is short; the emailed link opens a new one until the link itself expires.
SESSION_HOURS = 12
PARTY_COOKIE = "cc_party"
# Who may hold a link: the counterparties we collaborate with, and the customer's tracking link.
LINK_PARTIES = ("supplier", "carrier", "customer")


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_link(
    *, case_id: int, party: str, email: str, language: str, now: datetime, days: int = LINK_DAYS
) -> tuple[AccessLink, str]:
    """A new link for ``party`` on one case; the token is returned once and never stored."""
    if party not in LINK_PARTIES:
        raise ValueError(f"{party!r} cannot hold a link")
    token = new_token()
    link = AccessLink(
        token_hash=token_digest(token),
        case=case_id,
        party=party,
        email=email,
        language=language or "en",
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    await link.save()
    return link, token


def is_live(link: AccessLink | None, now: datetime) -> bool:
    return link is not None and link.revoked_at is None and link.expires_at > now


async def live_link(token: str, *, now: datetime, parties: tuple[str, ...] = LINK_PARTIES) -> AccessLink | None:
    """The live link for ``token``; None alike for unknown, expired, revoked or another kind of party's."""
    if not token or len(token) > 200:
        return None
    link = await AccessLink.objects().where(AccessLink.token_hash == token_digest(token)).first()
    if not is_live(link, now) or link is None or link.party not in parties:
        return None
    return link


async def link_is_live(link_id: int, *, now: datetime) -> bool:
    link = await AccessLink.objects().where(AccessLink.id == link_id).first()
    return is_live(link, now)


async def renew_links(*, case_id: int, party: str, now: datetime, days: int = LINK_DAYS) -> None:
    """We wrote to the party: their live links on this case run another ``days`` from now."""
    await AccessLink.update({AccessLink.expires_at: now + timedelta(days=days)}).where(
        (AccessLink.case == case_id)
        & (AccessLink.party == party)
        & AccessLink.revoked_at.is_null()
        & (AccessLink.expires_at > now)
    )


async def revoke_links(*, case_id: int, party: str, now: datetime, link_id: int | None = None) -> int:
    """Revoke one link (or all of a party's links on a case); their sessions end with them."""
    where = (AccessLink.case == case_id) & (AccessLink.party == party) & AccessLink.revoked_at.is_null()
    if link_id is not None:
        where = where & (AccessLink.id == link_id)
    rows = await AccessLink.update({AccessLink.revoked_at: now}).where(where).returning(AccessLink.id)
    return len(rows)


# --- the party session: a signed cookie bound to the link, checked against the link on every request ---


@dataclass(frozen=True)
class PartyAccess:
    """A party's session: which link it came from, so which case and which party it may see."""

    link_id: int
    case_id: int
    party: str
    email: str
    language: str


def _signature(secret: str, link_id: int, issued: int, token_hash: str) -> str:
    body = f"party-session:{link_id}:{issued}:{token_hash}".encode()
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def seconds_left(link: AccessLink, now: datetime) -> int:
    """How long the link still lives, in whole seconds (at least one)."""
    return max(1, int((link.expires_at - now).total_seconds()))


def session_value(secret: str, link: AccessLink, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"{link.id}.{issued}.{_signature(secret, link.id, issued, link.token_hash)}"


async def session_access(
    secret: str,
    value: str,
    *,
    now: datetime,
    parties: tuple[str, ...] = ("supplier", "carrier"),
    lasts_with_link: bool = False,
) -> PartyAccess | None:
    """The party behind a session cookie, while the cookie is genuine and young and its link is live.

    Each cookie serves one kind of party: the customer's tracking cookie never opens a supplier page.
    ``lasts_with_link``: the cookie is good for as long as its link (a customer's bookmark of the tracking
    page works for the link's life); revoking or expiring the link still ends it at once.
    """
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    link_id, issued = int(parts[0]), int(parts[1])
    age = now.timestamp() - issued
    if age < 0 or (not lasts_with_link and age > SESSION_HOURS * 3600):
        return None
    link = await AccessLink.objects().where(AccessLink.id == link_id).first()
    if link is None or not is_live(link, now) or link.party not in parties:
        return None
    if not hmac.compare_digest(parts[2], _signature(secret, link_id, issued, link.token_hash)):
        return None
    return PartyAccess(link_id=link.id, case_id=link.case, party=link.party, email=link.email, language=link.language)
