"""HTML to PDF through WeasyPrint, without WeasyPrint's import changing how evidence is checked."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _weasyprint_html() -> Any:
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    from weasyprint import HTML

    # WeasyPrint turns Pillow's LOAD_TRUNCATED_IMAGES on for the whole process when imported; the
    # evidence pipeline must keep refusing truncated photos, and our PDFs only embed complete copies.
    ImageFile.LOAD_TRUNCATED_IMAGES = before
    return HTML


def html_to_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Blocking CPU work: call it from a worker thread or a task."""
    return bytes(_weasyprint_html()(string=html, base_url=base_url).write_pdf())
