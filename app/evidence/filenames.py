"""Names of evidence files as shown and served: cleaned for display, safe in Content-Disposition."""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import quote

from app.evidence.sniff import _ALL_TYPES, _KNOWN_EXTENSIONS

_MAX_NAME_CHARS: Final = 120


_QUOTES = re.compile(r"[\"'`\u2018\u2019\u201c\u201d]")


_WINDOWS_FORBIDDEN = re.compile(r"[<>:|?*]")


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
