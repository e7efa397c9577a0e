"""Checks an uploaded evidence file and derives the metadata-free copies that are safe to serve."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, NoReturn
from urllib.parse import quote

import pillow_heif
from PIL import ExifTags, Image, ImageCms, ImageOps

from app.i18n import gettext as _
from app.rules.facts import N_

# Registering mutates Pillow's plugin registry once per process; the plugin only adds a decoder.
pillow_heif.register_heif_opener()

__all__ = [
    "EvidenceKind",
    "EvidenceLimits",
    "EvidenceRejected",
    "ProcessedEvidence",
    "RejectionCode",
    "content_disposition",
    "process_upload",
    "safe_display_name",
]

EvidenceKind = Literal["image", "video", "document"]
RejectionCode = Literal[
    "empty", "too_large", "unsupported_type", "svg_refused", "truncated", "too_many_pixels", "corrupt"
]

_MB: Final = 1024 * 1024
_MAX_NAME_CHARS: Final = 120


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

_EXIF_DATE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_QUOTES = re.compile(r"[\"'`\u2018\u2019\u201c\u201d]")
_WINDOWS_FORBIDDEN = re.compile(r"[<>:|?*]")


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


def safe_display_name(raw: str, *, media_type: str) -> str:
    """A download name without paths, control characters or quotes whose extension fits `media_type`."""
    detected = next((t for t in _ALL_TYPES if t.media_type == media_type), None)
    name = _clean_name(raw)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    extension = f".{ext.lower()}" if ext else ""
    if detected is None:
        final_ext = extension
    elif extension in detected.extensions:
        final_ext = extension
    else:
        # A known but wrong extension is replaced ("x.jpg" holding a PDF becomes "x.pdf"); an unknown
        # suffix such as "report.v2" is part of the name and the right extension is appended.
        if extension and extension not in _KNOWN_EXTENSIONS:
            stem = name
        final_ext = detected.extensions[0]
    stem = stem.strip(" .") or "evidence"
    stem = stem[: _MAX_NAME_CHARS - len(final_ext)].rstrip(" .") or "evidence"
    return stem + final_ext


def content_disposition(filename: str, *, inline: bool) -> str:
    """An RFC 6266 Content-Disposition value with an ASCII fallback and an RFC 8187 UTF-8 name."""
    name = _clean_name(filename) or "evidence"
    fallback = _ascii_fallback(name)
    disposition = "inline" if inline else "attachment"
    # attr-char of RFC 8187: everything else is percent-encoded, so CR/LF can never split the header.
    encoded = quote(name, safe="!#$&+^`|")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


@dataclass(frozen=True, slots=True)
class _ImageCopies:
    width: int
    height: int
    captured_at: str | None
    web: bytes
    web_media_type: str
    thumb: bytes


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


def _normalize_media_type(value: str | None) -> str:
    if not value:
        return ""
    base = value.split(";", 1)[0].strip().lower()
    return {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "video/mov": "video/quicktime"}.get(base, base)


def _derive_image_copies(data: bytes, detected: _MediaType, limits: EvidenceLimits, notes: list[str]) -> _ImageCopies:
    assert detected.pillow_format is not None
    # The filter lives only for this call. warnings.catch_warnings is process-wide on Python 3.11,
    # so the explicit pixel check below is the guard that matters; this one catches what Pillow
    # itself flags while parsing headers.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[detected.pillow_format])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(None, limits) from exc
        except Exception as exc:
            raise _unreadable(detected, data, exc) from exc
        with image:
            try:
                return _decode_and_copy(image, data, detected, limits, notes)
            except EvidenceRejected:
                raise
            except Exception as exc:
                # A pixel layout the conversions choke on is still a bad file, not a server error.
                raise _unreadable(detected, b"", exc, truncation_possible=False) from exc


def _decode_and_copy(
    image: Image.Image, data: bytes, detected: _MediaType, limits: EvidenceLimits, notes: list[str]
) -> _ImageCopies:
    header_width, header_height = image.size
    if header_width * header_height > limits.max_pixels:
        raise _too_many_pixels((header_width, header_height), limits)

    try:
        animated = bool(getattr(image, "is_animated", False))
    except Exception:
        animated = False  # a damaged later frame; the first one is what gets decoded below
    if animated:
        notes.append(_("The image is animated; the preview shows its first frame only."))

    exif = _read_exif(image, notes)
    captured_at = _captured_at(exif)

    if detected is _JPEG:
        # Decoding at 1/2, 1/4 or 1/8 scale in libjpeg; draft only shrinks when asked for the real
        # target size, so keep the aspect ratio rather than passing a square box.
        scale = limits.web_max_side / max(header_width, header_height)
        if scale < 1:
            image.draft("RGB", (max(1, int(header_width * scale)), max(1, int(header_height * scale))))

    try:
        image.load()
        decoded_size = image.size
        ImageOps.exif_transpose(image, in_place=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels((header_width, header_height), limits) from exc
    except Exception as exc:
        # Any decoder failure on untrusted bytes is the uploader's problem to fix, never a server error.
        raise _unreadable(detected, data, exc) from exc

    upright_width, upright_height = header_width, header_height
    if image.size != decoded_size:
        upright_width, upright_height = header_height, header_width

    icc_profile = image.info.get("icc_profile")
    web_image = _fit(_normalized_mode(image), limits.web_max_side)
    web_image = _drop_opaque_alpha(_to_srgb(web_image, icc_profile, notes))
    thumb_image = _fit(web_image, limits.thumb_max_side)

    web_bytes, web_media_type = _encode_clean(web_image)
    thumb_bytes, _media_type = _encode_clean(thumb_image)
    return _ImageCopies(
        width=upright_width,
        height=upright_height,
        captured_at=captured_at,
        web=web_bytes,
        web_media_type=web_media_type,
        thumb=thumb_bytes,
    )


def _read_exif(image: Image.Image, notes: list[str]) -> Image.Exif:
    try:
        return image.getexif()
    except Exception:
        # Broken EXIF must not lose the photo; without it the orientation is unknown.
        notes.append(_("The photo's EXIF data is damaged and was ignored; its orientation may be wrong."))
        image.info.pop("exif", None)
        return Image.Exif()


def _captured_at(exif: Image.Exif) -> str | None:
    try:
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:
        return None
    for tag in (ExifTags.Base.DateTimeOriginal, ExifTags.Base.DateTimeDigitized):
        value = exif_ifd.get(tag)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if not isinstance(value, str):
            continue
        match = _EXIF_DATE.match(value.strip("\x00 "))
        if match is None:
            continue
        try:
            year, month, day, hour, minute, second = (int(part) for part in match.groups())
            return datetime(year, month, day, hour, minute, second).isoformat()
        except ValueError:
            continue  # "0000:00:00 00:00:00" and other placeholders cameras write
    return None


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    """A new image whose longer side is at most `max_side`, never enlarged."""
    width, height = image.size
    scale = max_side / max(width, height)
    if scale >= 1:
        return image.copy()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Bicubic with a reducing gap (whole-factor shrinking first) is ~2x faster than plain Lanczos
    # and looks the same at preview sizes.
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _normalized_mode(image: Image.Image) -> Image.Image:
    """The image in RGB, RGBA, L or CMYK, the modes resampling and the encoders handle well."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # convert("L") clips 16-bit samples at 255 instead of scaling them.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGB", "L", "CMYK"):
        return image  # CMYK goes to RGB through its ICC profile after resizing
    if image.has_transparency_data:
        return image.convert("RGBA")
    return image.convert("RGB")


def _to_srgb(image: Image.Image, icc_profile: object, notes: list[str]) -> Image.Image:
    """Converts to sRGB before the profile is dropped, so wide-gamut phone photos keep their colours."""
    if isinstance(icc_profile, bytes) and icc_profile and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=output_mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            notes.append(_("The image's colour profile could not be read; colours may look slightly off."))
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


def _drop_opaque_alpha(image: Image.Image) -> Image.Image:
    # Many phones and editors save opaque pictures as RGBA; JPEG is far smaller for those.
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        return image.convert("RGB")
    return image


def _encode_clean(image: Image.Image) -> tuple[bytes, str]:
    """Re-encodes from pixels only: no EXIF, GPS, XMP, ICC or comments, and no appended payload."""
    # Encoders fall back to image.info for ICC profiles and comments; start from nothing.
    image.info = {}
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA"):
        image.save(buffer, format="PNG")
        return buffer.getvalue(), "image/png"
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue(), "image/jpeg"


def _too_many_pixels(size: tuple[int, int] | None, limits: EvidenceLimits) -> EvidenceRejected:
    limit_mp = f"{limits.max_pixels / 1_000_000:.0f}"
    if size is None:
        message = _(
            "This image has far more pixels than allowed; the limit is %(limit)s megapixels. "
            "Send it at a lower resolution, or a screenshot of the relevant part.",
            limit=limit_mp,
        )
    else:
        message = _(
            "This image is %(width)s x %(height)s pixels (%(megapixels)s megapixels); the limit is %(limit)s "
            "megapixels. Send it at a lower resolution, or a screenshot of the relevant part.",
            width=size[0],
            height=size[1],
            megapixels=f"{size[0] * size[1] / 1_000_000:.0f}",
            limit=limit_mp,
        )
    return EvidenceRejected("too_many_pixels", message)


def _unreadable(
    detected: _MediaType, data: bytes, exc: BaseException, *, truncation_possible: bool = True
) -> EvidenceRejected:
    if truncation_possible and _looks_truncated(detected, data, exc):
        return EvidenceRejected(
            "truncated",
            _(
                "The file starts like %(kind)s but is incomplete: the upload was cut off or the "
                "file was not fully copied. Upload it again from the original.",
                kind=_(detected.label),
            ),
        )
    return EvidenceRejected(
        "corrupt",
        _(
            "The file starts like %(kind)s but could not be read; it looks damaged. "
            "Open it on your device and export or save it again as JPEG or PNG, then retry.",
            kind=_(detected.label),
        ),
    )


def _looks_truncated(detected: _MediaType, data: bytes, exc: BaseException) -> bool:
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
        return True
    # Pillow reports a cut-off header as "cannot identify"; the missing end marker tells them apart.
    if detected is _JPEG:
        return b"\xff\xd9" not in data
    if detected is _PNG:
        return b"IEND" not in data
    return False


def _clean_name(raw: str) -> str:
    """The last path component without control, format or quote characters, spaces collapsed."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    # Cc/Cf/Z[lp]/Cs/Co/Cn cover NUL, CR/LF, bidi overrides ("gpj.exe") and invisible joiners.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
    # Quotes break header values and HTML attributes; the others are refused by Windows on save.
    name = _QUOTES.sub("", name)
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    name = " ".join(name.split())
    return name.strip(" .")


def _ascii_fallback(name: str) -> str:
    """For clients that ignore filename*: accents dropped, anything else non-ASCII made "_"."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""

    def ascii_only(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
        return re.sub(r"[^A-Za-z0-9._()+,=@ -]", "_", decomposed).strip(" .")

    ascii_stem = ascii_only(stem)
    if not re.search(r"[A-Za-z0-9]", ascii_stem):
        ascii_stem = "evidence"
    ascii_ext = ascii_only(ext)
    return f"{ascii_stem}.{ascii_ext}" if ascii_ext else ascii_stem


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
