"""Display names for downloads and the Content-Disposition header built from them."""

from __future__ import annotations

import re
from email.message import Message
from urllib.parse import unquote

import pytest

from app.evidence.filenames import content_disposition, safe_display_name
from app.evidence.limits import EvidenceLimits
from app.evidence.pipeline import process_upload

PDF = b"%PDF-1.4\n%%EOF\n"


def parsed_filename(header: str) -> str | None:
    """The name an RFC 6266 client uses: filename* (RFC 8187) when present, else filename."""
    extended = re.search(r"filename\*=UTF-8''([!#$&+.^_`|~0-9A-Za-z%-]+)$", header)
    if extended:
        return unquote(extended.group(1), errors="strict")
    message = Message()
    message["Content-Disposition"] = header
    return message.get_filename()


def ascii_filename(header: str) -> str | None:
    """The plain filename parameter, as a client that ignores filename* reads it."""
    message = Message()
    message["Content-Disposition"] = re.sub(r";\s*filename\*=.*$", "", header)
    return message.get_filename()


@pytest.mark.parametrize(
    ("raw", "media_type", "expected"),
    [
        ("../../x.jpg", "image/jpeg", "x.jpg"),
        ("..\\..\\Windows\\system32\\evil.png", "image/jpeg", "evil.jpg"),
        ("/etc/passwd", "application/pdf", "passwd.pdf"),
        ("a\x00b.jpg", "image/jpeg", "ab.jpg"),
        ("line\r\nbreak.jpg", "image/jpeg", "linebreak.jpg"),
        ('he said "hi" it\'s.jpg', "image/jpeg", "he said hi its.jpg"),
        ("invoice\u202egpj.exe", "application/pdf", "invoicegpj.exe.pdf"),
        ("photo.JPEG", "image/jpeg", "photo.jpeg"),
        ("scan.jpg", "application/pdf", "scan.pdf"),
        ("report.v2", "application/pdf", "report.v2.pdf"),
        ("", "image/jpeg", "evidence.jpg"),
        ("..", "image/png", "evidence.png"),
        ("...hidden.png", "image/png", "hidden.png"),
        ("a<b>c:d|e?f*.png", "image/png", "a_b_c_d_e_f_.png"),
        ("  many    spaces  .mp4", "video/mp4", "many spaces.mp4"),
        ("发票 照片.HEIC", "image/heic", "发票 照片.heic"),
    ],
)
@pytest.mark.checklist(9)
def test_display_names_are_sanitized(raw: str, media_type: str, expected: str) -> None:
    assert safe_display_name(raw, media_type=media_type) == expected


@pytest.mark.checklist(9)
def test_long_names_are_capped_at_120_characters_keeping_the_extension() -> None:
    name = safe_display_name("é" * 300 + ".jpg", media_type="image/jpeg")
    assert len(name) == 120
    assert name == "é" * 116 + ".jpg"


def test_process_upload_uses_the_sanitized_name() -> None:
    result = process_upload(
        PDF, filename="../../" + "x" * 300 + '"\x00.jpg', declared_type=None, limits=EvidenceLimits()
    )
    assert result.filename == "x" * 116 + ".pdf"


def test_content_disposition_ascii() -> None:
    header = content_disposition("IMG_0042.jpg", inline=True)
    assert header == "inline; filename=\"IMG_0042.jpg\"; filename*=UTF-8''IMG_0042.jpg"
    assert parsed_filename(header) == ascii_filename(header) == "IMG_0042.jpg"


@pytest.mark.checklist(9)
def test_content_disposition_unicode_has_ascii_fallback() -> None:
    header = content_disposition("café crème.jpg", inline=False)
    assert header == "attachment; filename=\"cafe creme.jpg\"; filename*=UTF-8''caf%C3%A9%20cr%C3%A8me.jpg"
    assert parsed_filename(header) == "café crème.jpg"
    assert ascii_filename(header) == "cafe creme.jpg"


def test_content_disposition_non_latin_falls_back_to_a_generic_name() -> None:
    header = content_disposition("发票.pdf", inline=False)
    assert 'filename="evidence.pdf"' in header
    assert "filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf" in header
    assert parsed_filename(header) == "发票.pdf"
    assert ascii_filename(header) == "evidence.pdf"


@pytest.mark.parametrize(
    "hostile",
    [
        'x"; filename="evil.html',
        "x\r\nSet-Cookie: session=stolen.jpg",
        "../../etc/passwd",
        'a\\"b.jpg',
        "x;y=z.jpg",
    ],
)
@pytest.mark.checklist(9)
def test_content_disposition_cannot_be_broken_out_of(hostile: str) -> None:
    header = content_disposition(hostile, inline=True)
    assert "\r" not in header and "\n" not in header
    assert header.count('"') == 2
    assert header.startswith('inline; filename="')
    for filename in (parsed_filename(header), ascii_filename(header)):
        assert filename
        assert "/" not in filename and '"' not in filename and "\\" not in filename
        assert "\r" not in filename and "\n" not in filename
    assert all(0x20 <= ord(ch) < 0x7F for ch in header)
