"""Forms that carry files: the evidence store and policy of the app, reading the body, the uploads in it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.datastructures import FormMultiDict, UploadFile
from litestar.exceptions import ClientException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from app.errors import PayloadTooLarge, ValidationFailed
from app.evidence.limits import EvidenceLimits
from app.evidence.services import UPLOAD_BODY_LIMIT, EvidencePolicy, Upload
from app.evidence.storage import EvidenceStore, store_from_url
from app.i18n import gettext as _
from app.settings import Settings


def evidence_store(request: Request[Any, Any, Any]) -> EvidenceStore:
    """The deployment's evidence store, built once per app (an S3 client is not cheap to make)."""
    state = request.app.state
    store: EvidenceStore | None = state.get("evidence_store")
    if store is None:
        settings: Settings = state.settings
        store = store_from_url(settings.evidence_url, settings.data_dir)
        state["evidence_store"] = store
    return store


def evidence_policy(request: Request[Any, Any, Any]) -> EvidencePolicy:
    policy: EvidencePolicy | None = request.app.state.get("evidence_policy")
    return policy or EvidencePolicy()


def upload_limits() -> dict[str, int]:
    """What the picker tells the user (the largest file) and checks before sending (the whole body)."""
    return {
        "upload_limit_mb": EvidenceLimits().max_upload_bytes // (1024 * 1024),
        "upload_body_limit": UPLOAD_BODY_LIMIT,
    }


async def read_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    """The posted form; an oversized or garbled body becomes a 413/422 that says what to do."""
    try:
        return await request.form()
    except RequestEntityTooLarge:
        raise _too_large() from None
    except ClientException:
        raise ValidationFailed(
            _("The upload arrived incomplete or garbled."),
            fields=[("evidence", _("Send the report again; if it keeps failing, send fewer files at once."))],
        ) from None


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        _(
            "The upload is larger than %(size)s MB in total, so nothing was stored. "
            "Send fewer files at once, or add long videos to the case one by one.",
            size=UPLOAD_BODY_LIMIT // (1024 * 1024),
        )
    )


def refuse_oversized(request: Request[Any, Any, Any]) -> None:
    """Refuses a body whose declared length is over the cap before a byte of it is read."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > UPLOAD_BODY_LIMIT:
        raise _too_large()


def text_fields(form: Mapping[str, Any]) -> dict[str, str]:
    """The form's text fields (a file sent under a text name is ignored)."""
    return {name: value for name, value in form.items() if isinstance(value, str)}


def fact_fields(form: Mapping[str, Any]) -> dict[str, str]:
    """Answers to fact questions, posted as `facts.<name>`."""
    return {name[6:]: value for name, value in text_fields(form).items() if name.startswith("facts.")}


async def uploads_from_form(form: FormMultiDict) -> list[Upload]:
    """Every file sent as `evidence`, paired by position with an optional `evidence_covers` tag."""
    files = [item for item in form.getall("evidence") if isinstance(item, UploadFile)] if "evidence" in form else []
    covers = (
        [item for item in form.getall("evidence_covers") if isinstance(item, str)] if "evidence_covers" in form else []
    )
    uploads: list[Upload] = []
    for index, file in enumerate(files):
        try:
            data = await file.read()
        finally:
            await file.close()
        uploads.append(
            Upload(
                data=data,
                filename=file.filename or "",
                declared_type=file.content_type,
                covers=covers[index].strip() if index < len(covers) else "",
            )
        )
    return uploads
