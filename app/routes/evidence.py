"""A case's evidence: its panel, adding and withdrawing files, and serving the files themselves safely."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, BinaryIO

import anyio
import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Stream, Template

from app.accounts.roles import DESK, STAFF
from app.cases import selectors as case_selectors
from app.cases.tables import Case
from app.errors import NotFound
from app.evidence import selectors, services
from app.evidence.filenames import content_disposition
from app.evidence.services import UPLOAD_BODY_LIMIT
from app.evidence.storage import EvidenceMissing
from app.evidence.tables import Evidence
from app.i18n import gettext as _
from app.playbooks import selectors as playbooks
from app.web.auth import actor_for
from app.web.forms import FORM
from app.web.pages import render, wants_fragment
from app.web.uploads import (
    evidence_policy,
    evidence_store,
    read_form,
    refuse_oversized,
    upload_limits,
    uploads_from_form,
)

log = logging.getLogger("crossclaim.evidence")

# Sent with a changed evidence panel: htmx fires it on the page, and what depends on the files refreshes.
EVIDENCE_CHANGED = {"HX-Trigger": "evidence-changed"}

# Originals are streamed in pieces this size, so a long video never sits in memory whole.
STREAM_CHUNK = 256 * 1024
# Evidence bytes never change (they are addressed by their hash); a day in the browser's private cache is safe.
FILE_CACHE = "private, max-age=86400"


def _thumb_size(row: Evidence) -> tuple[int, int] | None:
    if not row.width or not row.height:
        return None
    scale = min(1.0, 320 / max(row.width, row.height))
    return max(1, round(row.width * scale)), max(1, round(row.height * scale))


async def evidence_panel_context(request: Request[Any, Any, Any], number: str) -> dict[str, Any]:
    case = await case_selectors.case_get(number)
    rows = await selectors.evidence_for_case(case.id)
    names = await selectors.uploader_names(rows)
    user = request.user
    is_desk = user.role in DESK
    me = services.uploader_id(actor_for(request))
    items = [
        {
            "row": row,
            "urls": selectors.evidence_urls(row),
            "thumb_size": _thumb_size(row),
            "uploader": names.get(row.uploaded_by, ""),
            "covers_label": selectors.evidence_label(row.covers),
            "can_withdraw": row.status == selectors.OK and (is_desk or row.uploaded_by == me),
        }
        for row in rows
    ]
    return {
        "evidence_panel": True,
        "case": case,
        "items": items,
        "accepted": sum(1 for row in rows if row.status == selectors.OK),
        "checklist": selectors.checklist(case.problem_type, rows, await playbooks.case_required_items(case)),
        "can_see_originals": is_desk,
        **upload_limits(),
    }


@dataclass
class WithdrawForm:
    reason: str = ""


class EvidenceController(Controller):
    """Evidence on a case: the panel, adding files, withdrawing one, and the files themselves."""

    @get("/cases/{number:str}/evidence", opt={"roles": STAFF}, name="evidence_panel")
    async def panel(self, request: Request[Any, Any, Any], number: FromPath[str]) -> Template:
        return render(request, "intake/evidence.html", await evidence_panel_context(request, number), block="panel")

    @post(
        "/cases/{number:str}/evidence",
        opt={"roles": STAFF},
        name="evidence_add",
        request_max_body_size=UPLOAD_BODY_LIMIT,
        status_code=200,
    )
    async def add(self, request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
        refuse_oversized(request)
        # Raw form: files, and read_form answers an oversized or garbled upload with a 413/422.
        form = await read_form(request)
        await services.evidence_add(
            actor=actor_for(request),
            number=number,
            uploads=await uploads_from_form(form),
            store=evidence_store(request),
            policy=evidence_policy(request),
        )
        if not wants_fragment(request):
            return Redirect(path=f"/cases/{number}#evidence-panel", status_code=303)
        # Regions that depend on the case's files (the push form's readiness panel) refresh on this event.
        return render(
            request,
            "intake/evidence.html",
            await evidence_panel_context(request, number),
            block="panel",
            headers=EVIDENCE_CHANGED,
        )

    @post("/evidence/{evidence_id:str}/withdraw", opt={"roles": STAFF}, name="evidence_withdraw", status_code=200)
    async def withdraw(
        self, request: Request[Any, Any, Any], evidence_id: FromPath[str], data: Annotated[WithdrawForm, FORM]
    ) -> Response[Any]:
        row = await services.evidence_withdraw(
            actor=actor_for(request),
            evidence_id=evidence_id,
            reason=data.reason,
            may_withdraw_any=request.user.role in DESK,
        )
        case = await _case_number(row.case)
        if not wants_fragment(request):
            return Redirect(path=f"/cases/{case}#evidence-panel", status_code=303)
        return render(
            request,
            "intake/evidence.html",
            await evidence_panel_context(request, case),
            block="panel",
            headers=EVIDENCE_CHANGED,
        )

    @get("/evidence/{evidence_id:str}/web", opt={"roles": STAFF}, name="evidence_web")
    async def web_copy(self, request: Request[Any, Any, Any], evidence_id: FromPath[str]) -> Response[bytes]:
        row = await selectors.evidence_get(evidence_id)
        return await _serve_copy(request, row, row.web_key)

    @get("/evidence/{evidence_id:str}/thumb", opt={"roles": STAFF}, name="evidence_thumb")
    async def thumbnail(self, request: Request[Any, Any, Any], evidence_id: FromPath[str]) -> Response[bytes]:
        row = await selectors.evidence_get(evidence_id)
        return await _serve_copy(request, row, row.thumb_key)

    @get("/evidence/{evidence_id:str}/original", opt={"roles": DESK}, name="evidence_original")
    async def original(self, request: Request[Any, Any, Any], evidence_id: FromPath[str]) -> Stream:
        row = await selectors.evidence_get(evidence_id)
        if row.status == selectors.FAILED or not row.original_key:
            raise _nothing_stored()
        try:
            handle = await anyio.to_thread.run_sync(evidence_store(request).open, row.original_key)
        except EvidenceMissing:
            raise _missing(row) from None
        return Stream(
            _chunks(handle),
            media_type=row.media_type or "application/octet-stream",
            headers={
                # Always a download: the browser never renders what an uploader sent us.
                "Content-Disposition": content_disposition(row.filename or "evidence", inline=False),
                "Content-Length": str(row.size),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": FILE_CACHE,
                "ETag": f'"{row.sha256}"',
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )


async def _case_number(case_id: int) -> str:
    row = await Case.select(Case.number).where(Case.id == case_id).first()
    if row is None:
        raise NotFound(_("There is no such case."))
    return str(row["number"])


def _nothing_stored() -> NotFound:
    return NotFound(_("This file was refused when it was uploaded, so there is nothing to show."))


def _missing(row: Evidence) -> NotFound:
    # The row says the bytes were stored: losing them is an operations problem, logged loudly.
    log.error("evidence bytes missing from the store", extra={"evidence_id": row.id, "sha256": row.sha256})
    return NotFound(_("This file is missing from the evidence store. Tell an administrator: it must be restored."))


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    # A sync generator: Litestar pulls each chunk in a worker thread, off the event loop.
    try:
        while chunk := handle.read(STREAM_CHUNK):
            yield chunk
    finally:
        handle.close()


async def _serve_copy(request: Request[Any, Any, Any], row: Evidence, key: str) -> Response[bytes]:
    """A re-encoded copy (web size or thumbnail): metadata-free pixels, shown inline as an image."""
    if row.status == selectors.FAILED:
        raise _nothing_stored()
    if not key:
        raise NotFound(_("There is no preview of this file; a handler can download the original."))
    try:
        data = await anyio.to_thread.run_sync(evidence_store(request).get, key)
    except EvidenceMissing:
        raise _missing(row) from None
    stem = (row.filename or "evidence").rsplit(".", 1)[0]
    extension = ".png" if row.web_media_type == "image/png" else ".jpg"
    return Response(
        data,
        media_type=row.web_media_type or "image/jpeg",
        headers={
            "Content-Disposition": content_disposition(stem + extension, inline=True),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": FILE_CACHE,
            "ETag": f'"{key.rsplit("/", 1)[-1]}"',
        },
    )
