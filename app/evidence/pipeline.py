"""Checks an uploaded evidence file and derives the metadata-free copies that are safe to serve."""

from __future__ import annotations

import hashlib

from app.evidence.filenames import _clean_name, safe_display_name
from app.evidence.images import _derive_image_copies
from app.evidence.limits import _MB, EvidenceKind, EvidenceLimits, EvidenceRejected, ProcessedEvidence
from app.evidence.sniff import _HEIC, _HEIF, _detect, _MediaType, _normalize_media_type
from app.i18n import gettext as _

__all__ = ["process_upload"]


def process_upload(
    data: bytes, *, filename: str, declared_type: str | None, limits: EvidenceLimits
) -> ProcessedEvidence:
    """Check one upload and derive its served copies; raises `EvidenceRejected` when it is refused.

    Pure and CPU-bound: call it from a worker thread, never on the event loop.
    """
    size = len(data)
    if size == 0:
        raise EvidenceRejected(
            "empty",
            _(
                "The file is empty (0 bytes), so there is nothing to attach. "
                "Choose the file again; if it came from a chat app, save it to your device first."
            ),
        )
    # Checked before sniffing so an oversized body is never scanned or decoded.
    if size > limits.max_upload_bytes:
        raise EvidenceRejected(
            "too_large",
            _(
                "The file is %(size)s; no evidence file may be larger than %(limit)s. "
                "Send a shorter video or a smaller file.",
                size=_megabytes(size),
                limit=_megabytes(limits.max_upload_bytes),
            ),
        )

    detected = _detect(data)
    limit = limits.max_bytes_for(detected.kind)
    if size > limit:
        raise EvidenceRejected(
            "too_large",
            _(
                "This file is %(kind)s of %(size)s; the limit for that kind of file is %(limit)s. %(advice)s",
                kind=_(detected.label),
                size=_megabytes(size),
                limit=_megabytes(limit),
                advice=_how_to_shrink(detected.kind),
            ),
        )

    notes = _mismatch_notes(detected, filename=filename, declared_type=declared_type)
    sha256 = hashlib.sha256(data).hexdigest()
    display_name = safe_display_name(filename, media_type=detected.media_type)

    if detected.kind != "image":
        return ProcessedEvidence(
            sha256=sha256,
            media_type=detected.media_type,
            kind=detected.kind,
            size=size,
            width=None,
            height=None,
            captured_at=None,
            web=None,
            web_media_type=None,
            thumb=None,
            notes=notes,
            filename=display_name,
        )

    image = _derive_image_copies(data, detected, limits, notes)
    return ProcessedEvidence(
        sha256=sha256,
        media_type=detected.media_type,
        kind="image",
        size=size,
        width=image.width,
        height=image.height,
        captured_at=image.captured_at,
        web=image.web,
        web_media_type=image.web_media_type,
        thumb=image.thumb,
        notes=notes,
        filename=display_name,
    )


def _mismatch_notes(detected: _MediaType, *, filename: str, declared_type: str | None) -> list[str]:
    notes: list[str] = []
    _stem, dot, ext = _clean_name(filename).rpartition(".")
    extension = f".{ext.lower()}" if dot and ext else ""
    if extension and extension not in detected.extensions:
        notes.append(
            _(
                "The file name ends in %(extension)s but the content is %(kind)s; it was treated as %(media_type)s.",
                extension=extension,
                kind=_(detected.label),
                media_type=detected.media_type,
            )
        )
    declared = _normalize_media_type(declared_type)
    expected = {detected.media_type, "application/octet-stream"}
    if detected in (_HEIC, _HEIF):
        expected |= {"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"}
    if declared and declared not in expected:
        notes.append(
            _(
                "The browser declared %(declared)s but the content is %(kind)s; it was treated as %(media_type)s.",
                declared=declared,
                kind=_(detected.label),
                media_type=detected.media_type,
            )
        )
    return notes


def _megabytes(size: int) -> str:
    if size < _MB:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / _MB:.1f} MB" if size % _MB else f"{size // _MB} MB"


def _how_to_shrink(kind: EvidenceKind) -> str:
    if kind == "video":
        return _("Trim the video to the relevant part or record it at a lower resolution.")
    if kind == "document":
        return _("Split the PDF or save it with smaller images.")
    return _("Send the photo at a lower resolution (most phones offer a 'smaller size' option when sharing).")
