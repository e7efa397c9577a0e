"""Images decoded once, checked, and copied clean: a web copy and a thumbnail without metadata, in sRGB."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime

import pillow_heif
from PIL import ExifTags, Image, ImageCms, ImageOps

from app.evidence.limits import EvidenceLimits, EvidenceRejected
from app.evidence.sniff import _JPEG, _PNG, _MediaType
from app.i18n import gettext as _

# Registering mutates Pillow's plugin registry once per process; the plugin only adds a decoder.
pillow_heif.register_heif_opener()


_EXIF_DATE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class _ImageCopies:
    width: int
    height: int
    captured_at: str | None
    web: bytes
    web_media_type: str
    thumb: bytes


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
