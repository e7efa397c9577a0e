"""Making a PDF must not loosen the evidence checks (WeasyPrint flips a Pillow-wide flag on import)."""

import io

import pytest
from PIL import Image, ImageFile

from app.evidence.limits import EvidenceLimits, EvidenceRejected
from app.evidence.pipeline import process_upload
from app.pdf import html_to_pdf


def test_a_truncated_photo_is_still_refused_after_a_pdf_was_made() -> None:
    pdf = html_to_pdf("<p>Claim letter 索赔函</p>")
    assert pdf.startswith(b"%PDF-")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    buffer = io.BytesIO()
    Image.effect_noise((400, 300), 50).convert("RGB").save(buffer, format="JPEG", quality=90)
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    with pytest.raises(EvidenceRejected) as caught:
        process_upload(truncated, filename="cut.jpg", declared_type="image/jpeg", limits=EvidenceLimits())
    assert caught.value.code == "truncated"
