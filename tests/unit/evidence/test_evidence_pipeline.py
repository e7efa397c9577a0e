"""process_upload against crafted uploads: phone photos, bombs, polyglots, wrong names and types."""

from __future__ import annotations

import hashlib
import io
import os
import random
import struct
import time
import tracemalloc
import warnings
import zipfile
import zlib

import pillow_heif  # noqa: F401  (registers the HEIF plugin used to make test photos)
import pytest
from PIL import Image, ImageCms

from app.evidence.limits import EvidenceLimits, EvidenceRejected, ProcessedEvidence
from app.evidence.pipeline import process_upload

LIMITS = EvidenceLimits()
RED = (255, 0, 0)


def upload(
    data: bytes, filename: str = "upload.bin", declared_type: str | None = None, **limits: int
) -> ProcessedEvidence:
    return process_upload(data, filename=filename, declared_type=declared_type, limits=EvidenceLimits(**limits))


def rejection(data: bytes, filename: str = "upload.bin", **limits: int) -> EvidenceRejected:
    with pytest.raises(EvidenceRejected) as caught:
        upload(data, filename, None, **limits)
    assert caught.value.message, "a rejection must tell the uploader what to do"
    return caught.value


def landscape_with_marker(size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A grey landscape picture with a red block in its top-left corner (as stored, not as shown)."""
    image = Image.new("RGB", size, (128, 128, 128))
    image.paste(RED, (0, 0, size[0] // 10, size[1] // 10))
    return image


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was held upright, rotate 90° clockwise to show
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:34:56"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.6)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.2)
    return exif


def jpeg(image: Image.Image, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **params)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def noisy(size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def is_red(pixel: object) -> bool:
    assert isinstance(pixel, tuple)
    red, green, blue = (int(channel) for channel in pixel[:3])
    return red > 200 and green < 60 and blue < 60


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose IHDR is rewritten to claim another size, with a valid CRC."""
    data = bytearray(png(Image.new("L", (1, 1))))
    ihdr = bytearray(data[12:29])  # chunk type + 13 data bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="48,51.5N"/></rdf:RDF></x:xmpmeta>'
)


@pytest.mark.parametrize("with_icc", [True, False], ids=["icc", "no-icc"])
@pytest.mark.checklist(7)
def test_phone_jpeg_is_served_upright_without_metadata_and_hashed(with_icc: bool) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = jpeg(
        landscape_with_marker(),
        exif=phone_exif(),
        icc_profile=srgb if with_icc else None,
        comment=b"secret comment",
        xmp=XMP,
    )
    assert b"PhoneMaker" in original and b"secret comment" in original and b"xmpmeta" in original

    result = upload(original, "IMG_0042.JPG", "image/jpeg")

    assert result.sha256 == hashlib.sha256(original).hexdigest()
    assert (result.kind, result.media_type, result.size) == ("image", "image/jpeg", len(original))
    assert (result.width, result.height) == (600, 800)
    assert result.captured_at == "2024-05-01T12:34:56"
    assert result.notes == []
    assert result.filename == "IMG_0042.jpg"
    assert result.web is not None and result.thumb is not None
    assert result.web_media_type == "image/jpeg"
    for copy, longest in ((result.web, 800), (result.thumb, 320)):
        with Image.open(io.BytesIO(copy)) as served:
            assert served.format == "JPEG"
            assert served.size == (longest * 3 // 4, longest)  # portrait now
            # Orientation 6 turns the stored top-left corner into the shown top-right corner.
            assert is_red(served.getpixel((served.width - 3, 3)))
            assert not is_red(served.getpixel((3, 3)))
            assert not served.getexif()
            assert not {"icc_profile", "comment", "xmp", "exif"} & set(served.info)
        for marker in (b"Exif", b"PhoneMaker", b"ICC_PROFILE", b"secret comment", b"xmpmeta", b"\xff\xe1", b"\xff\xfe"):
            assert marker not in copy


def test_large_jpeg_is_scaled_to_web_and_thumb_sizes() -> None:
    original = jpeg(landscape_with_marker((4000, 3000)), exif=phone_exif())
    result = upload(original, "big.jpg")
    assert (result.width, result.height) == (3000, 4000)
    assert result.web is not None and result.thumb is not None
    with Image.open(io.BytesIO(result.web)) as web, Image.open(io.BytesIO(result.thumb)) as thumb:
        assert web.size == (1200, 1600)
        assert thumb.size == (240, 320)
        assert is_red(web.getpixel((web.width - 5, 5)))


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (30000, 30000),  # Pillow itself calls this a bomb while parsing the header
        (10000, 10000),  # between Pillow's warning and error thresholds
        (8000, 8000),  # under Pillow's thresholds: only our own cap stands in the way
    ],
)
@pytest.mark.checklist(1)
def test_png_claiming_too_many_pixels_is_refused_before_decoding(width: int, height: int) -> None:
    data = png_claiming(width, height)
    assert len(data) < 100
    filters_before = list(warnings.filters)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        error = rejection(data, "tiny.png")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.code == "too_many_pixels"
    assert "50 megapixels" in error.message
    assert elapsed < 1.0
    assert peak < 50 * 1024 * 1024
    assert warnings.filters == filters_before, "the bomb filter must not outlive the call"


@pytest.mark.checklist(1)
def test_pixel_cap_is_configurable() -> None:
    data = png(Image.new("RGB", (300, 200)))
    assert rejection(data, "x.png", max_pixels=50_000).code == "too_many_pixels"
    assert upload(data, "x.png", max_pixels=60_000).width == 300


@pytest.mark.checklist(3)
def test_zero_bytes_is_refused_as_empty() -> None:
    assert rejection(b"", "photo.jpg").code == "empty"


@pytest.mark.checklist(3)
def test_truncated_jpeg_is_refused() -> None:
    whole = jpeg(noisy((400, 300)), quality=90)
    assert upload(whole, "ok.jpg").kind == "image"
    for cut in (len(whole) // 2, 400):
        error = rejection(whole[:cut], "cut.jpg")
        assert error.code == "truncated"
        assert "again" in error.message


@pytest.mark.checklist(3)
def test_truncated_png_is_refused() -> None:
    whole = png(noisy((200, 200)))
    assert rejection(whole[: len(whole) // 2], "cut.png").code == "truncated"


def test_jpeg_with_a_broken_frame_header_is_corrupt() -> None:
    data = bytearray(jpeg(noisy((64, 48))))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = b"\x00\x00\x00\x00"  # zero height and width
    error = rejection(bytes(data), "x.jpg")
    assert error.code == "corrupt"
    assert "damaged" in error.message


@pytest.mark.parametrize(
    "content",
    [
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        b"<script>alert(document.cookie)</script>",
        b"#!/bin/sh\nrm -rf /\n",
        b"BM" + bytes(100),  # BMP: an image, but not one we accept
        b"PK\x03\x04" + bytes(100),
    ],
)
@pytest.mark.checklist(4)
def test_other_content_named_jpg_is_refused(content: bytes) -> None:
    error = rejection(content, "holiday.jpg")
    assert error.code == "unsupported_type"
    assert "JPEG" in error.message and "PDF" in error.message


@pytest.mark.checklist(4)
def test_pdf_named_png_is_accepted_as_document() -> None:
    pdf = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    result = upload(pdf, "scan.png", "image/png")
    assert (result.kind, result.media_type) == ("document", "application/pdf")
    assert result.sha256 == hashlib.sha256(pdf).hexdigest()
    assert result.web is None and result.thumb is None and result.width is None
    assert result.filename == "scan.pdf"
    assert len(result.notes) == 2
    assert ".png" in result.notes[0] and "image/png" in result.notes[1]


@pytest.mark.parametrize(
    "svg",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- drawn -->\n<svg onload="alert(1)"/>',
    ],
)
@pytest.mark.checklist(6)
def test_svg_is_refused(svg: bytes) -> None:
    error = rejection(svg, "diagram.svg")
    assert error.code == "svg_refused"
    assert "PNG" in error.message


@pytest.mark.checklist(5)
def test_jpeg_with_appended_script_is_re_encoded() -> None:
    polyglot = jpeg(landscape_with_marker()) + b"<script>alert(document.cookie)</script>"
    result = upload(polyglot, "nice.jpg")
    assert result.sha256 == hashlib.sha256(polyglot).hexdigest()
    assert result.web is not None and result.thumb is not None
    assert b"<script" not in result.web and b"<script" not in result.thumb
    assert result.web.endswith(b"\xff\xd9")


@pytest.mark.checklist(5)
def test_gif_zip_polyglot_loses_the_archive() -> None:
    buffer = io.BytesIO()
    landscape_with_marker((120, 90)).convert("P").save(buffer, format="GIF")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(1)</script>")
    polyglot = buffer.getvalue() + archive.getvalue()
    assert zipfile.is_zipfile(io.BytesIO(polyglot))

    result = upload(polyglot, "anim.gif")
    assert result.media_type == "image/gif"
    assert result.web is not None and result.thumb is not None
    for copy in (result.web, result.thumb):
        assert b"PK\x03\x04" not in copy and b"payload" not in copy
        assert not zipfile.is_zipfile(io.BytesIO(copy))


def test_transparent_png_keeps_alpha_as_png_without_text_chunks() -> None:
    from PIL import PngImagePlugin

    image = Image.new("RGBA", (64, 64), (0, 0, 255, 0))
    image.paste((0, 0, 255, 255), (0, 0, 32, 32))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS 48.8566 2.3522")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)

    result = upload(buffer.getvalue(), "logo.png")
    assert result.web_media_type == "image/png"
    assert result.web is not None
    assert b"tEXt" not in result.web and b"GPS" not in result.web
    with Image.open(io.BytesIO(result.web)) as web:
        assert web.mode == "RGBA"
        assert web.getpixel((60, 60)) == (0, 0, 255, 0)


@pytest.mark.checklist(8)
def test_heic_photo_becomes_jpeg() -> None:
    buffer = io.BytesIO()
    landscape_with_marker((640, 480)).save(buffer, format="HEIF", exif=phone_exif().tobytes(), quality=90)
    heic = buffer.getvalue()
    assert heic[4:12] == b"ftypheic"

    result = upload(heic, "IMG_0001.HEIC", "image/heic")
    assert result.media_type == "image/heic"
    assert result.web_media_type == "image/jpeg"
    assert result.web is not None and result.web.startswith(b"\xff\xd8\xff")
    assert result.captured_at == "2024-05-01T12:34:56"
    assert result.filename == "IMG_0001.heic"
    assert (result.width, result.height) == (480, 640)
    with Image.open(io.BytesIO(result.web)) as web:
        assert web.format == "JPEG" and web.size == (480, 640)
        assert is_red(web.getpixel((web.width - 3, 3)))
        assert not web.getexif()


def mp4_bytes(brand: bytes = b"mp42", compatible: bytes = b"mp42isom") -> bytes:
    ftyp = b"ftyp" + brand + b"\x00\x00\x00\x00" + compatible
    mdat = b"mdat" + os.urandom(64)
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", len(mdat) + 4) + mdat


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (mp4_bytes(), "video/mp4"),
        (mp4_bytes(b"isom", b"isomiso2avc1mp41"), "video/mp4"),
        (mp4_bytes(b"qt  ", b"qt  "), "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87\x81\x04" + bytes(64), "video/webm"),
    ],
)
def test_video_is_stored_as_is_without_web_copy(data: bytes, media_type: str) -> None:
    result = upload(data, "clip.bin", "video/mp4")
    assert (result.kind, result.media_type) == ("video", media_type)
    assert result.web is None and result.thumb is None and result.web_media_type is None
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_matroska_and_avif_are_refused() -> None:
    mkv = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + bytes(64)
    assert rejection(mkv, "clip.mkv").code == "unsupported_type"
    assert rejection(mp4_bytes(b"avif", b"avifmif1miaf"), "x.avif").code == "unsupported_type"


@pytest.mark.checklist(10)
def test_size_limits_depend_on_the_detected_kind() -> None:
    photo = jpeg(noisy((300, 300)), quality=95)
    error = rejection(photo, "x.jpg", max_image_bytes=len(photo) - 1)
    assert error.code == "too_large"
    assert f"{round(len(photo) / 1024)} KB" in error.message
    assert upload(photo, "x.jpg", max_image_bytes=len(photo)).kind == "image"

    video = mp4_bytes()
    assert rejection(video, "x.mp4", max_video_bytes=len(video) - 1).code == "too_large"
    # The video cap must not let a big photo through, nor the photo cap stop a video.
    assert rejection(photo, "x.jpg", max_image_bytes=10, max_video_bytes=10**9).code == "too_large"
    assert upload(video, "x.mp4", max_image_bytes=10).kind == "video"

    pdf = b"%PDF-1.4\n" + bytes(100)
    assert rejection(pdf, "x.pdf", max_pdf_bytes=50).code == "too_large"


@pytest.mark.checklist(2, 10)
def test_anything_above_every_cap_is_refused_unread() -> None:
    error = rejection(b"<html>" + bytes(5000), "x.jpg", max_image_bytes=100, max_video_bytes=100, max_pdf_bytes=100)
    assert error.code == "too_large"


def test_animated_gif_notes_that_only_the_first_frame_is_shown() -> None:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    result = upload(buffer.getvalue(), "anim.gif", "image/gif")
    assert any("first frame" in note for note in result.notes)


def test_cmyk_jpeg_is_served_as_rgb() -> None:
    result = upload(jpeg(Image.new("CMYK", (50, 50), (0, 255, 255, 0))), "print.jpg")
    assert result.web is not None
    with Image.open(io.BytesIO(result.web)) as web:
        assert web.mode == "RGB"
        assert is_red(web.getpixel((25, 25)))


def test_missing_capture_time_is_none() -> None:
    result = upload(jpeg(Image.new("RGB", (10, 10))), "x.jpg")
    assert result.captured_at is None


def test_placeholder_capture_time_is_none() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"
    assert upload(jpeg(Image.new("RGB", (10, 10)), exif=exif), "x.jpg").captured_at is None


def small_samples() -> list[bytes]:
    samples = [jpeg(noisy((48, 32))), png(noisy((48, 32)))]
    for image_format in ("GIF", "WEBP", "HEIF"):
        buffer = io.BytesIO()
        noisy((48, 32)).save(buffer, format=image_format)
        samples.append(buffer.getvalue())
    return samples


@pytest.mark.checklist(3)
def test_damaged_images_are_refused_cleanly_never_crash() -> None:
    """Flipped bytes and cut files either pass or raise EvidenceRejected, nothing else."""
    rng = random.Random(20261126)
    outcomes: set[str] = set()
    for original in small_samples():
        for _ in range(60):
            damaged = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(16, len(damaged))] = rng.randrange(256)
            if rng.random() < 0.3:
                damaged = damaged[: rng.randrange(16, len(damaged))]
            try:
                upload(bytes(damaged), "fuzz.bin")
                outcomes.add("accepted")
            except EvidenceRejected as error:
                outcomes.add(error.code)
                assert error.message
    assert "accepted" in outcomes and outcomes & {"corrupt", "truncated"}
