"""What a file really is, read from its first bytes (never from its name or declared type)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NoReturn

from app.evidence.limits import EvidenceKind, EvidenceRejected
from app.i18n import gettext as _
from app.rules.facts import N_


@dataclass(frozen=True, slots=True)
class _MediaType:
    media_type: str
    kind: EvidenceKind
    label: str  # a catalogue msgid (N_), translated where a message names it
    extensions: tuple[str, ...]  # the first one is what a sanitized name gets
    pillow_format: str | None


_JPEG = _MediaType("image/jpeg", "image", N_("a JPEG image"), (".jpg", ".jpeg", ".jpe", ".jfif"), "JPEG")


_PNG = _MediaType("image/png", "image", N_("a PNG image"), (".png",), "PNG")


_GIF = _MediaType("image/gif", "image", N_("a GIF image"), (".gif",), "GIF")


_WEBP = _MediaType("image/webp", "image", N_("a WebP image"), (".webp",), "WEBP")


_HEIC = _MediaType("image/heic", "image", N_("a HEIC photo"), (".heic", ".heif", ".hif"), "HEIF")


_HEIF = _MediaType("image/heif", "image", N_("a HEIF photo"), (".heif", ".heic", ".hif"), "HEIF")


_MP4 = _MediaType("video/mp4", "video", N_("an MP4 video"), (".mp4", ".m4v"), None)


_MOV = _MediaType("video/quicktime", "video", N_("a QuickTime video"), (".mov", ".qt"), None)


_WEBM = _MediaType("video/webm", "video", N_("a WebM video"), (".webm",), None)


_PDF = _MediaType("application/pdf", "document", N_("a PDF document"), (".pdf",), None)


_ALL_TYPES: Final = (_JPEG, _PNG, _GIF, _WEBP, _HEIC, _HEIF, _MP4, _MOV, _WEBM, _PDF)


_KNOWN_EXTENSIONS: Final = frozenset(ext for t in _ALL_TYPES for ext in t.extensions) | frozenset(
    {".svg", ".svgz", ".html", ".htm", ".xml", ".txt", ".bmp", ".tif", ".tiff", ".avif", ".mkv", ".zip"}
)


# ISO base media file brands (ftyp box). HEIF is checked before MP4 because HEIC photos list
# generic brands such as "mif1"/"miaf" that never appear in a video's ftyp box.
_HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})


_HEIF_BRANDS: Final = frozenset({b"mif1", b"msf1", b"mif2"})


_MP4_BRANDS: Final = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"iso8",
        b"mp41",
        b"mp42",
        b"avc1",
        b"M4V ",
        b"M4VH",
        b"M4VP",
        b"dash",
        b"MSNV",
        b"XAVC",
        b"f4v ",
        b"mmp4",
    }
)


_MOV_BRANDS: Final = frozenset({b"qt  "})


_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})


def _detect(data: bytes) -> _MediaType:
    """The media type from the leading bytes; the name and the declared type are never trusted."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _WEBP
    if head.startswith(b"%PDF-"):
        return _PDF
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML is shared with Matroska; only the WebM doc type is accepted.
        if b"webm" in data[:4096]:
            return _WEBM
        _refuse_type(N_("a Matroska (MKV) video"))
    if head[4:8] == b"ftyp":
        return _detect_ftyp(data)
    if _looks_like_svg(data):
        raise EvidenceRejected(
            "svg_refused",
            _(
                "SVG drawings are not accepted because they can carry scripts. "
                "Export the drawing as PNG or PDF and upload that instead."
            ),
        )
    _refuse_type(None)


def _detect_ftyp(data: bytes) -> _MediaType:
    box_size = int.from_bytes(data[0:4], "big")
    major = data[8:12]
    # Compatible brands run from byte 16 to the end of the box; cap the scan for absurd sizes.
    end = min(box_size if box_size >= 16 else 16, len(data), 4096)
    compatible = [data[i : i + 4] for i in range(16, end - 3, 4)]
    # AVIF lists the generic HEIF brands too, so it is ruled out before they are looked at.
    if major in _AVIF_BRANDS or (b"avif" in compatible and not _HEIC_BRANDS.intersection(compatible)):
        _refuse_type(N_("an AVIF image"))
    for brands in ([major], compatible):
        if _HEIC_BRANDS.intersection(brands):
            return _HEIC
        if _HEIF_BRANDS.intersection(brands):
            return _HEIF
        if _MOV_BRANDS.intersection(brands):
            return _MOV
        if _MP4_BRANDS.intersection(brands):
            return _MP4
    _refuse_type(None)


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and b"<svg" in head


def _refuse_type(what: str | None) -> NoReturn:
    """Refuse a type we do not take; ``what`` names it (a catalogue msgid) when it is recognised."""
    if what:
        message = _(
            "This file is %(kind)s, which cannot be attached as evidence. "
            "Send photos (JPEG, PNG, GIF, WebP, HEIC), videos (MP4, MOV, WebM) or PDF documents.",
            kind=_(what),
        )
    else:
        message = _(
            "This kind of file cannot be attached as evidence. "
            "Send photos (JPEG, PNG, GIF, WebP, HEIC), videos (MP4, MOV, WebM) or PDF documents."
        )
    raise EvidenceRejected("unsupported_type", message)


def _normalize_media_type(value: str | None) -> str:
    if not value:
        return ""
    base = value.split(";", 1)[0].strip().lower()
    return {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "video/mov": "video/quicktime"}.get(base, base)
