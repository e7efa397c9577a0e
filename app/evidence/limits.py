"""What the evidence pipeline accepts (its limits, the kinds of file) and how it refuses a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

EvidenceKind = Literal["image", "video", "document"]


RejectionCode = Literal[
    "empty", "too_large", "unsupported_type", "svg_refused", "truncated", "too_many_pixels", "corrupt"
]


_MB: Final = 1024 * 1024


class EvidenceRejected(Exception):
    """The upload cannot be accepted; `message` tells the uploader what was wrong and what to do.

    The message is in the language of the request that sent the file (the worker thread that checks it
    runs in a copy of the request's context); with no request it is English.
    """

    def __init__(self, code: RejectionCode, message: str) -> None:
        super().__init__(message)
        self.code: RejectionCode = code
        self.message = message

    def __repr__(self) -> str:
        return f"EvidenceRejected(code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True, slots=True)
class EvidenceLimits:
    """Size and resolution caps for one upload, and the sizes of the derived copies."""

    max_image_bytes: int = 25 * _MB
    max_video_bytes: int = 200 * _MB
    max_pdf_bytes: int = 20 * _MB
    max_pixels: int = 50_000_000
    web_max_side: int = 1600
    thumb_max_side: int = 320

    @property
    def max_upload_bytes(self) -> int:
        """The largest body any kind may have: the web layer can refuse bigger requests unread."""
        return max(self.max_image_bytes, self.max_video_bytes, self.max_pdf_bytes)

    def max_bytes_for(self, kind: EvidenceKind) -> int:
        """The size cap for one kind of evidence."""
        if kind == "image":
            return self.max_image_bytes
        if kind == "video":
            return self.max_video_bytes
        return self.max_pdf_bytes


@dataclass(frozen=True, slots=True)
class ProcessedEvidence:
    """What the pipeline learned about an accepted upload, plus the copies safe to serve inline.

    The original bytes are not held here: the caller stores exactly the bytes it passed in, whose
    SHA-256 is `sha256`. `filename` is a sanitized display name for downloads, never a storage path.
    """

    sha256: str
    media_type: str
    kind: EvidenceKind
    size: int
    width: int | None
    height: int | None
    captured_at: str | None
    web: bytes | None
    web_media_type: str | None
    thumb: bytes | None
    notes: list[str]
    filename: str
