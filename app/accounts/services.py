"""Writes for accounts: users, logins with rotating sessions, logout and API tokens."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.accounts.roles import Role
from app.accounts.tables import ApiToken, StaffSession, User
from app.db import atomic, current_engine, marker_path
from app.errors import NotFound, ValidationFailed
from app.i18n import LANGUAGES, company_zone, valid_time_zone
from app.i18n import gettext as _
from app.logs import security_event

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("crossclaim-timing-equaliser")

MIN_PASSWORD_LENGTH = 8

# On SQLite a live session's user is kept in the web process this long, so a page does not look it up
# on every request; the idle and absolute limits are still checked on every request against the kept
# times. Every process on the machine that ends sessions or changes a user (logout, deactivation, a
# user's own settings) drops its own entries and then touches a marker file beside the database; the
# others see its time change on their next request (one stat) and drop theirs, so sessions still end
# at once. On PostgreSQL the web processes may run on several machines: sessions are looked up on
# every request there.
SESSION_KEEP_SECONDS = 10.0


@dataclass
class _KeptSession:
    session_id: int
    created_at: datetime
    last_seen_at: datetime
    user: User
    kept_until: float


_kept_sessions: dict[str, _KeptSession] = {}
_lookups: dict[str, asyncio.Lock] = {}
# Moves whenever kept sessions are dropped: a look-up kept only if none was dropped while it ran.
_generation: list[int] = [0]
_marker_seen: list[int] = [-1]


def forget_sessions(*, user_id: int | None = None, digest: str | None = None) -> None:
    """Drop kept sessions in this process: one token's, a user's, or (with neither) all of them.

    A look-up that began before this (its row may show the user as they were) is then not kept."""
    _generation[0] += 1
    if digest is not None:
        _kept_sessions.pop(digest, None)
    elif user_id is not None:
        for key in [key for key, kept in _kept_sessions.items() if kept.user.id == user_id]:
            del _kept_sessions[key]
    else:
        _kept_sessions.clear()


def _marker() -> Path | None:
    """The file whose time tells this machine's processes that sessions ended; None where none are kept."""
    return marker_path(current_engine(), "sessions-ended")


def _marker_time(marker: Path) -> int:
    try:
        return marker.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def sessions_changed(*, user_id: int | None = None, digest: str | None = None) -> None:
    """Once a write that ends sessions or changes a user is done: drop them here and tell the others."""
    forget_sessions(user_id=user_id, digest=digest)
    marker = _marker()
    if marker is not None:
        stamp = max(time.time_ns(), _marker_time(marker) + 1)
        marker.touch()
        os.utime(marker, ns=(stamp, stamp))


def token_digest(token: str) -> str:
    """Sessions, API tokens and magic links are stored only as this digest."""
    return hashlib.sha256(token.encode()).hexdigest()


async def user_add(*, email: str, role: str, password: str, name: str = "", language: str = "en") -> User:
    email = email.strip().lower()
    problems: list[tuple[str, str]] = []
    if "@" not in email or len(email) > 254:
        problems.append(("email", _("Enter a valid email address.")))
    if role not in set(Role):
        problems.append(("role", _("Role must be one of %(roles)s.", roles=", ".join(Role))))
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(("password", _("Use at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)))
    if await User.exists().where(User.email == email):
        problems.append(("email", _("A user with this email already exists.")))
    if problems:
        raise ValidationFailed(_("The user could not be added."), fields=problems)
    user = User(
        email=email,
        role=role,
        name=name or email.split("@")[0],
        password_hash=_hasher.hash(password),
        language=language,
        time_zone=company_zone(),
    )
    await user.save()
    return user


async def authenticate(*, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (unknown email and wrong password alike)."""
    user = await User.objects().where(User.email == email.strip().lower()).first()
    stored = user.password_hash if user else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    return user


async def session_start(*, user: User, ip: str, user_agent: str = "", kept: bool = False) -> str:
    """A new session id for ``user``: a fresh id at every login (no fixation)."""
    token = secrets.token_urlsafe(32)
    await StaffSession(
        token_hash=token_digest(token), user=user.id, ip=ip, user_agent=user_agent[:200], kept=kept
    ).save()
    return token


async def sessions_of(user_id: int) -> list[dict[str, Any]]:
    """A person's open sessions, most recently used first, for their account page."""
    return list(
        await StaffSession.select(
            StaffSession.id,
            StaffSession.token_hash,
            StaffSession.created_at,
            StaffSession.last_seen_at,
            StaffSession.ip,
            StaffSession.user_agent,
            StaffSession.kept,
        )
        .where(StaffSession.user == user_id)
        .order_by(StaffSession.last_seen_at, ascending=False)
    )


async def session_end_of(*, user_id: int, session_id: int, current: str = "") -> None:
    """End one of the person's own other sessions (a phone left signed in); another person's is unknown (404).

    The session in use (``current``, its digest) is ended by signing out, which also clears this device.
    """
    row = (
        await StaffSession.select(StaffSession.token_hash)
        .where((StaffSession.id == session_id) & (StaffSession.user == user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("There is no such session."))
    if current and row["token_hash"] == current:
        raise ValidationFailed(_("This is the device you are using: sign out with Sign out."))
    forget_sessions(digest=row["token_hash"])
    await StaffSession.delete().where(StaffSession.id == session_id)
    sessions_changed(digest=row["token_hash"])


async def session_end(token: str) -> None:
    digest = token_digest(token)
    forget_sessions(digest=digest)
    await StaffSession.delete().where(StaffSession.token_hash == digest)
    sessions_changed(digest=digest)


def _keep(digest: str, kept: _KeptSession) -> None:
    clock = time.monotonic()
    if len(_kept_sessions) >= 1000:  # sessions nobody used for a while: dropped rather than piling up
        for key in [key for key, old in _kept_sessions.items() if old.kept_until < clock]:
            del _kept_sessions[key]
    kept.kept_until = clock + SESSION_KEEP_SECONDS
    _kept_sessions[digest] = kept


async def session_user(token: str, *, idle: timedelta, absolute: timedelta, now: datetime | None = None) -> User | None:
    """The user behind a live session, touching it; expired sessions are deleted."""
    now = now or datetime.now(UTC)
    digest = token_digest(token)
    marker = _marker()
    if marker is None:
        _kept_sessions.clear()
    elif (stamp := _marker_time(marker)) != _marker_seen[0]:
        forget_sessions()  # a process on this machine ended sessions or changed a user
        _marker_seen[0] = stamp
    kept = _kept_sessions.get(digest)
    if kept is None or kept.kept_until < time.monotonic():
        if marker is None:
            kept = await _looked_up(digest)
        else:
            # The requests of one browser that find its entry missing or stale together (a page and its
            # fragments; a benchmark's sixteen connections every ten seconds) look it up once: the others
            # wait for that look-up instead of each queueing the same query for the database.
            lock = _lookups.setdefault(digest, asyncio.Lock())
            try:
                async with lock:
                    kept = _kept_sessions.get(digest)
                    if kept is None or kept.kept_until < time.monotonic():
                        generation = _generation[0]
                        kept = await _looked_up(digest)
                        # Sessions ended or a user changed while it ran: its row may be from before, so
                        # it is not kept, and the requests waiting for it look the session up again.
                        if kept is not None and generation == _generation[0]:
                            _keep(digest, kept)
            finally:
                if not lock.locked() and _lookups.get(digest) is lock:
                    del _lookups[digest]
        if kept is None:
            return None
    if now - kept.last_seen_at > idle or now - kept.created_at > absolute:
        forget_sessions(digest=digest)
        await StaffSession.delete().where(StaffSession.id == kept.session_id)
        return None
    # Touch at most once a minute: a write per request would serialise every reader on SQLite. The kept
    # entry is marked first, so the requests that read it while the write runs do not write it again
    # (sixteen at once queued sixteen writes behind SQLite's one writer: 120 ms, once a minute).
    if now - kept.last_seen_at > timedelta(minutes=1):
        seen, kept.last_seen_at = kept.last_seen_at, now
        try:
            await StaffSession.update({StaffSession.last_seen_at: now}).where(StaffSession.id == kept.session_id)
        except BaseException:
            kept.last_seen_at = seen
            raise
    return kept.user


async def _looked_up(digest: str) -> _KeptSession | None:
    """The live session with this token digest and its active user; a session of a missing or inactive
    user is deleted."""
    session = await StaffSession.objects(StaffSession.user).where(StaffSession.token_hash == digest).first()
    user: User | None = session.user if session is not None else None
    if session is None or user is None or not user.active:
        forget_sessions(digest=digest)
        if session is not None:
            await StaffSession.delete().where(StaffSession.id == session.id)
        return None
    return _KeptSession(session.id, session.created_at, session.last_seen_at, user, 0.0)


async def _user_by(*, user_id: int | None = None, email: str | None = None) -> User:
    query = User.objects()
    if user_id is not None:
        query = query.where(User.id == user_id)
    else:
        query = query.where(User.email == (email or "").strip().lower())
    user = await query.first()
    if user is None:
        raise NotFound(_("No such user."))
    return user


async def user_deactivate(*, user_id: int | None = None, email: str | None = None, by: int | None = None) -> User:
    """Disabling a user ends every session and token they have, at once; nobody disables themselves."""
    user = await _user_by(user_id=user_id, email=email)
    if by is not None and user.id == by:
        raise ValidationFailed(_("You cannot disable your own account."))
    forget_sessions(user_id=user.id)
    async with atomic():
        await User.update({User.active: False}).where(User.id == user.id)
        await StaffSession.delete().where(StaffSession.user == user.id)
        await ApiToken.update({ApiToken.revoked: True}).where(ApiToken.user == user.id)
    sessions_changed(user_id=user.id)  # here and in every other process, and any a request kept meanwhile
    security_event("user_disabled", user_id=user.id, by=by)
    user.active = False
    return user


async def user_activate(*, user_id: int | None = None, email: str | None = None, by: int | None = None) -> User:
    """Let a disabled user sign in again (their old sessions and tokens stay ended)."""
    user = await _user_by(user_id=user_id, email=email)
    await User.update({User.active: True}).where(User.id == user.id)
    security_event("user_enabled", user_id=user.id, by=by)
    user.active = True
    return user


async def users_list() -> list[dict[str, Any]]:
    """Every staff user, for the admin's user page."""
    return list(
        await User.select(User.id, User.email, User.name, User.role, User.active)
        .order_by(User.active, ascending=False)
        .order_by(User.email)
    )


async def token_create(*, email: str, name: str = "") -> str:
    user = await User.objects().where(User.email == email.strip().lower()).first()
    if user is None:
        raise ValidationFailed(
            _("No such user."), fields=[("email", _("No user has the email %(email)s.", email=email))]
        )
    token = "cc_" + secrets.token_urlsafe(32)
    await ApiToken(token_hash=token_digest(token), user=user.id, name=name).save()
    return token


async def token_user(token: str) -> User | None:
    row = (
        await ApiToken.objects(ApiToken.user)
        .where((ApiToken.token_hash == token_digest(token)) & (ApiToken.revoked.eq(False)))
        .first()
    )
    if row is None or row.user is None or not row.user.active:
        return None
    found: User = row.user
    return found


async def set_preferences(*, user_id: int, language: str, time_zone: str) -> None:
    """A staff user's own language and time zone: pages and mail to them use these."""
    errors = []
    if language not in LANGUAGES:
        errors.append(("language", _("Choose a language from the list.")))
    if not valid_time_zone(time_zone):
        errors.append(("time_zone", _("Choose a time zone from the list.")))
    if errors:
        raise ValidationFailed(_("Your settings were not saved."), fields=errors)
    await User.update({User.language: language, User.time_zone: time_zone}).where(User.id == user_id)
    sessions_changed(user_id=user_id)
