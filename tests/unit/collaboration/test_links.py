"""Magic-link tokens and the party session cookie: entropy, hashing, signatures, expiry and revocation."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create
from app.collaboration import links
from app.collaboration.tables import AccessLink
from app.db import atomic

SECRET = "s" * 48


@pytest.mark.checklist(11)
def test_tokens_carry_256_random_bits_and_are_stored_as_sha256() -> None:
    tokens = {links.new_token() for _ in range(200)}
    assert len(tokens) == 200
    token = tokens.pop()
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert links.token_digest(token) == hashlib.sha256(token.encode()).hexdigest()


async def make_link(**kwargs: object) -> tuple[AccessLink, str]:
    case = (await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="other"))).case
    async with atomic():
        return await links.issue_link(
            case_id=case.id, party="supplier", email="s@example.cn", language="zh", now=datetime.now(UTC), **kwargs
        )


@pytest.mark.checklist(11)
async def test_only_the_hash_is_stored_and_the_link_finds_itself() -> None:
    link, token = await make_link()
    rows = await AccessLink.select().where(AccessLink.id == link.id)
    assert token not in str(rows)
    now = datetime.now(UTC)
    assert (await links.live_link(token, now=now)).id == link.id
    assert await links.live_link(token, now=now, parties=("carrier",)) is None
    assert await links.live_link(token + "x", now=now) is None
    assert await links.live_link("", now=now) is None
    assert await links.live_link(token, now=link.expires_at + timedelta(seconds=1)) is None


async def test_renewal_and_revocation() -> None:
    link, token = await make_link(days=2)
    later = datetime.now(UTC) + timedelta(days=1)
    await links.renew_links(case_id=link.case, party="supplier", now=later)
    renewed = await AccessLink.objects().where(AccessLink.id == link.id).first()
    assert renewed.expires_at >= later + timedelta(days=links.LINK_DAYS - 1)
    assert await links.revoke_links(case_id=link.case, party="supplier", now=datetime.now(UTC)) == 1
    assert await links.live_link(token, now=datetime.now(UTC)) is None


async def test_the_session_cookie_is_signed_young_and_ends_with_its_link() -> None:
    link, _token = await make_link()
    now = datetime.now(UTC)
    value = links.session_value(SECRET, link, now)
    access = await links.session_access(SECRET, value, now=now)
    assert access is not None and access.case_id == link.case and access.party == "supplier"
    assert await links.session_access("other-secret", value, now=now) is None
    link_id, issued, signature = value.split(".")
    assert await links.session_access(SECRET, f"{int(link_id) + 1}.{issued}.{signature}", now=now) is None
    assert await links.session_access(SECRET, "garbage", now=now) is None
    too_late = now + timedelta(hours=links.SESSION_HOURS, seconds=5)
    assert await links.session_access(SECRET, value, now=too_late) is None
    await links.revoke_links(case_id=link.case, party="supplier", now=now)
    assert await links.session_access(SECRET, value, now=now) is None
