"""Writes for evidence: check and store uploads off the event loop, attach them to a case, withdraw them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Final
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread

from app.cases.events import Actor, lock_case, record_event
from app.cases.tables import Case
from app.db import atomic
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.evidence import selectors
from app.evidence.filenames import safe_display_name
from app.evidence.limits import EvidenceLimits, EvidenceRejected, ProcessedEvidence
from app.evidence.pipeline import process_upload
from app.evidence.storage import EvidenceStore
from app.evidence.tables import Evidence
from app.i18n import gettext as _
from app.logs import security_event
from app.rules.facts import EVIDENCE, is_free_key

log = logging.getLogger("crossclaim.evidence")

_MB: Final = 1024 * 1024
# Room for the text fields and multipart framing around the largest single file.
FORM_OVERHEAD_BYTES: Final = 1 * _MB
# The hard cap on one upload request, enforced by the web layer before anything is read or stored
# (Content-Length first, then the streamed byte count). Per-file caps are the pipeline's.
UPLOAD_BODY_LIMIT: Final = EvidenceLimits().max_upload_bytes + FORM_OVERHEAD_BYTES
# Decoding a 12 MP photo takes ~100 MB for a moment: at most this many run at once per process, so
# a burst of uploads queues instead of exhausting memory, and one CPU stays free for the event loop
# (the threads release the GIL while decoding, so more slots than cores would starve it).
PROCESSING_SLOTS: Final = max(1, min(4, (os.cpu_count() or 2) - 1))
MAX_REASON: Final = 1000


@dataclass(frozen=True)
class EvidencePolicy:
    """Caps for one deployment: the pipeline's per-file limits, files per request and a daily allowance."""

    limits: EvidenceLimits = field(default_factory=EvidenceLimits)
    max_files: int = 30
    daily_bytes_per_uploader: int = 4 * 1024 * _MB


@dataclass(frozen=True)
class Upload:
    """One file as it arrived: its bytes, the name and type the client claimed, and what it shows."""

    data: bytes
    filename: str
    declared_type: str | None = None
    covers: str = ""


@dataclass(frozen=True)
class PreparedUpload:
    """An upload after checking and storing, before it is recorded: accepted (stored keys) or refused."""

    filename: str
    size: int
    sha256: str
    covers: str
    processed: ProcessedEvidence | None = None
    original_key: str = ""
    web_key: str = ""
    thumb_key: str = ""
    refusal: str = ""
    refusal_code: str = ""

    @property
    def accepted(self) -> bool:
        return self.processed is not None


@dataclass(frozen=True)
class AttachedEvidence:
    """The row an upload ended up as; `created` is False when these bytes were already on the case."""

    evidence: Evidence
    created: bool


def uploader_id(actor: Actor) -> str:
    """How an uploader is recorded on evidence rows: stable across renames, unlike a label."""
    return f"{actor.kind}:{actor.id}" if actor.id else f"{actor.kind}:{actor.label}"[:200]


def check_uploads(uploads: Sequence[Upload], policy: EvidencePolicy) -> None:
    """Refuses a request as a whole (422) for what no single file can fix: too many files, unknown tags."""
    problems: list[tuple[str, str]] = []
    if len(uploads) > policy.max_files:
        message = _(
            "Send at most %(count)s files at once; add the rest to the case afterwards.", count=policy.max_files
        )
        problems.append(("evidence", message))
    unknown = sorted(
        {
            upload.covers
            for upload in uploads
            if upload.covers and upload.covers not in EVIDENCE and not is_free_key(upload.covers)
        }
    )
    if unknown:
        message = _(
            "Unknown checklist item %(names)s; use one of: %(known)s.",
            names=", ".join(unknown),
            known=", ".join(EVIDENCE),
        )
        problems.append(("evidence_covers", message))
    if problems:
        raise ValidationFailed(_("The evidence files cannot be taken as sent."), fields=problems)


async def prepare_uploads(
    uploads: Sequence[Upload], *, store: EvidenceStore, policy: EvidencePolicy, uploader: str
) -> list[PreparedUpload]:
    """Check, hash and store each file in a worker thread; a refused file becomes a refusal, never an error."""
    used = await selectors.bytes_uploaded_since(uploader, datetime.now(UTC) - timedelta(days=1))
    allowance = policy.daily_bytes_per_uploader - used
    prepared: list[PreparedUpload] = []
    for upload in uploads:
        work = partial(_prepare_one, upload, store=store, limits=policy.limits, allowance=allowance)
        item = await anyio.to_thread.run_sync(work, limiter=_processing_limiter())
        if item.accepted:
            allowance -= item.size
        else:
            security_event("upload_rejected", uploader=uploader, code=item.refusal_code, size=item.size)
        prepared.append(item)
    return prepared


def _prepare_one(upload: Upload, *, store: EvidenceStore, limits: EvidenceLimits, allowance: int) -> PreparedUpload:
    data = upload.data

    def refused(reason: str, code: str, sha256: str | None = None) -> PreparedUpload:
        # Refused bytes are hashed too: a retry of the same file is then recognised, not recorded twice.
        digest = sha256 if sha256 is not None else (hashlib.sha256(data).hexdigest() if data else "")
        return PreparedUpload(
            filename=safe_display_name(upload.filename, media_type=""),
            size=len(data),
            sha256=digest,
            covers=upload.covers,
            refusal=reason,
            refusal_code=code,
        )

    if len(data) > max(allowance, 0):
        message = _(
            "Your upload allowance for today is used up, so this file was not stored. "
            "Try again tomorrow, or ask a handler to add it."
        )
        return refused(message, "quota")
    try:
        processed = process_upload(data, filename=upload.filename, declared_type=upload.declared_type, limits=limits)
    except EvidenceRejected as rejected:
        return refused(rejected.message, rejected.code)
    try:
        original_key = store.put(data)
        web_key = store.put(processed.web) if processed.web else ""
        thumb_key = store.put(processed.thumb) if processed.thumb else ""
    except Exception:
        # Storage trouble must not lose the report: the file is recorded as failed and can be sent again.
        log.exception("evidence store failed", extra={"sha256": processed.sha256})
        message = _("The file could not be stored just now. Send it again in a few minutes.")
        return refused(message, "storage", processed.sha256)
    return PreparedUpload(
        filename=processed.filename,
        size=processed.size,
        sha256=processed.sha256,
        covers=upload.covers,
        processed=processed,
        original_key=original_key,
        web_key=web_key,
        thumb_key=thumb_key,
    )


_limiters: WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = WeakKeyDictionary()


def _processing_limiter() -> anyio.CapacityLimiter:
    # anyio limiters belong to one event loop; tests and tools may run several loops in turn.
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(PROCESSING_SLOTS)
    return limiter


async def evidence_attach(
    *, actor: Actor, case_id: int, prepared: Sequence[PreparedUpload], party: str = "us", now: datetime | None = None
) -> list[AttachedEvidence]:
    """Record prepared uploads on a case, each with its timeline event; the same bytes twice are one file."""
    now = now or datetime.now(UTC)
    attached: list[AttachedEvidence] = []
    if not prepared:
        return attached
    uploader = uploader_id(actor)
    async with atomic():
        await lock_case(case_id)
        for item in prepared:
            existing = await _same_file(case_id, item) if item.sha256 else None
            if existing is not None:
                attached.append(AttachedEvidence(existing, created=False))
                continue
            row = _row(item, case_id=case_id, party=party, uploader=uploader, now=now)
            await row.save()
            kind = "evidence_added" if item.accepted else "evidence_failed"
            await record_event(case_id=case_id, actor=actor, kind=kind, data=_event_data(row, item), at=now)
            attached.append(AttachedEvidence(row, created=True))
        await Case.update({Case.updated_at: now}).where(Case.id == case_id)
    return attached


async def evidence_add(
    *,
    actor: Actor,
    number: str,
    uploads: Sequence[Upload],
    store: EvidenceStore,
    policy: EvidencePolicy,
    party: str = "us",
) -> list[AttachedEvidence]:
    """Add files to an existing case: checked and stored first, then recorded in one transaction."""
    case = await Case.objects().where(Case.number == number).first()
    if case is None:
        raise NotFound(_("There is no case %(number)s.", number=number))
    if not uploads:
        raise ValidationFailed(
            _("No file was sent."), fields=[("evidence", _("Choose or take at least one photo, video or PDF."))]
        )
    check_uploads(uploads, policy)
    prepared = await prepare_uploads(uploads, store=store, policy=policy, uploader=uploader_id(actor))
    return await evidence_attach(actor=actor, case_id=case.id, prepared=prepared, party=party)


async def evidence_withdraw(
    *, actor: Actor, evidence_id: str | int, reason: str, may_withdraw_any: bool, now: datetime | None = None
) -> Evidence:
    """Mark an accepted file withdrawn with a reason; it stays in the record and in the store."""
    now = now or datetime.now(UTC)
    reason = reason.strip()
    if not reason:
        hint = _("Enter a reason, e.g. 'photo of another parcel'.")
        raise ValidationFailed(_("Say why the file is withdrawn."), fields=[("reason", hint)])
    if len(reason) > MAX_REASON:
        hint = _("Keep it under %(count)s characters.", count=MAX_REASON)
        raise ValidationFailed(_("The reason is too long."), fields=[("reason", hint)])
    row = await selectors.evidence_get(evidence_id)
    if not may_withdraw_any and row.uploaded_by != uploader_id(actor):
        raise PermissionDenied(_("Only a handler or the person who uploaded a file can withdraw it."))
    async with atomic():
        await lock_case(row.case)
        current = await selectors.evidence_get(row.id)
        if current.status == selectors.WITHDRAWN:
            return current  # a repeated click: already withdrawn, nothing more to record
        if current.status != selectors.OK:
            raise Conflict(_("This file was refused when it was uploaded, so there is nothing to withdraw."))
        await Evidence.update({Evidence.status: selectors.WITHDRAWN, Evidence.status_reason: reason}).where(
            Evidence.id == current.id
        )
        await record_event(
            case_id=current.case,
            actor=actor,
            kind="evidence_withdrawn",
            data={"evidence_id": current.id, "sha256": current.sha256, "filename": current.filename, "reason": reason},
            at=now,
        )
    return await selectors.evidence_get(row.id)


async def _same_file(case_id: int, item: PreparedUpload) -> Evidence | None:
    """The row these bytes already have on the case, if sending them again changes nothing.

    A file accepted now matches only an accepted row: an earlier refusal (storage down, allowance used
    up) stays on record and the file gets its row. A file refused now matches either, so a replayed
    report does not pile up copies of one refusal. A withdrawn file sent again is deliberate and new.
    """
    statuses = [selectors.OK] if item.accepted else [selectors.OK, selectors.FAILED]
    return (
        await Evidence.objects()
        .where((Evidence.case == case_id) & (Evidence.sha256 == item.sha256) & Evidence.status.is_in(statuses))
        .order_by(Evidence.id)
        .first()
    )


def _row(item: PreparedUpload, *, case_id: int, party: str, uploader: str, now: datetime) -> Evidence:
    processed = item.processed
    if processed is None:
        return Evidence(
            case=case_id,
            sha256=item.sha256,
            kind="",
            size=item.size,
            filename=item.filename,
            covers=item.covers,
            party=party,
            uploaded_by=uploader,
            uploaded_at=now,
            status=selectors.FAILED,
            status_reason=item.refusal,
        )
    return Evidence(
        case=case_id,
        sha256=processed.sha256,
        original_key=item.original_key,
        web_key=item.web_key,
        thumb_key=item.thumb_key,
        media_type=processed.media_type,
        web_media_type=processed.web_media_type or "",
        kind=processed.kind,
        size=processed.size,
        width=processed.width,
        height=processed.height,
        captured_at=processed.captured_at or "",
        filename=processed.filename,
        covers=item.covers,
        party=party,
        uploaded_by=uploader,
        uploaded_at=now,
        status=selectors.OK,
        status_reason=" ".join(processed.notes),
    )


def _event_data(row: Evidence, item: PreparedUpload) -> dict[str, object]:
    data: dict[str, object] = {
        "evidence_id": row.id,
        "filename": row.filename,
        "sha256": row.sha256,
        "size": row.size,
        "covers": row.covers,
    }
    if item.accepted:
        data.update(media_type=row.media_type, captured_at=row.captured_at)
    else:
        data.update(reason=item.refusal, code=item.refusal_code)
    return data
