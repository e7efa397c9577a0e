"""The supplier's and carrier's side: opening a magic link, and their case page with its actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, ServerSentEvent, Template

from app.accounts.roles import PARTY, PUBLIC
from app.cases.tables import Case
from app.collaboration import links, selectors, services
from app.collaboration.links import PartyAccess
from app.errors import NotFound
from app.evidence import services as evidence_services
from app.evidence.filenames import content_disposition
from app.evidence.services import UPLOAD_BODY_LIMIT, PreparedUpload
from app.i18n import LANGUAGES, current_language
from app.i18n import gettext as _
from app.settings import Settings
from app.web.forms import FORM
from app.web.links import NO_REFERRER, invalid_link_page, redeem_link
from app.web.pages import render, wants_fragment
from app.web.threads import message_form, stream_of, wants_stream
from app.web.uploads import evidence_policy, evidence_store, read_form, refuse_oversized, uploads_from_form


def _now() -> datetime:
    return datetime.now(UTC)


@get("/l/{token:str}", opt={"roles": PUBLIC}, name="link_open")
async def link_open(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    """Only a page with a button: mail scanners fetch links, and a GET must never use one up or act."""
    return render(request, "party/continue.html", {"token": token}, headers=NO_REFERRER)


@post("/l/{token:str}", opt={"roles": PUBLIC}, status_code=303)
async def link_continue(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    now = _now()
    link = await redeem_link(request, token, parties=services.COUNTERPARTIES, now=now)
    if link is None:
        return invalid_link_page(request)
    settings: Settings = request.app.state.settings
    access = PartyAccess(link.id, link.case, link.party, link.email, link.language)
    await services.party_opened(access=access, now=now)
    row = await Case.select(Case.number).where(Case.id == link.case).first()
    assert row is not None
    response: Response[Any] = Redirect(path=f"/p/cases/{row['number']}", status_code=303, headers=NO_REFERRER)
    response.set_cookie(
        links.PARTY_COOKIE,
        links.session_value(settings.secret_key, link, now),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/p",
        max_age=links.SESSION_HOURS * 3600,
    )
    return response


async def _party(request: Request[Any, Any, Any], number: str) -> tuple[PartyAccess, Case]:
    access = request.auth
    if not isinstance(access, PartyAccess):
        raise NotFound(_("There is nothing at this address."))
    # The page speaks the party's language, as the link remembers it, whatever the browser says.
    current_language.set(access.language if access.language in LANGUAGES else "en")
    return access, await selectors.party_case(access, number)


async def _page(request: Request[Any, Any, Any], access: PartyAccess, case: Case, **extra: Any) -> Template:
    context = {**await selectors.party_page(access, case), **extra}
    return render(request, "party/case.html", context, headers=NO_REFERRER)


async def _done(request: Request[Any, Any, Any], access: PartyAccess, case: Case) -> Response[Any] | Template:
    """After a party's action: its case region as it now is (htmx), or back to its page."""
    if wants_fragment(request):
        fresh = await selectors.party_case(access, case.number)
        context = await selectors.party_page(access, fresh)
        return render(
            request,
            "party/case.html",
            context,
            block="party_case",
            headers={**NO_REFERRER, "HX-Trigger": "case-changed"},
        )
    return Redirect(path=f"/p/cases/{case.number}", status_code=303)


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass
class PlanForm:
    remedy: str = ""
    amount: str = ""
    currency: str = ""
    ready_by: str = ""
    details: str = ""


@dataclass
class ProgressForm:
    step: str = ""
    tracking_no: str = ""
    note: str = ""


@get("/p/cases/{number:str}", opt={"roles": PARTY}, name="party_case")
async def party_case(request: Request[Any, Any, Any], number: FromPath[str]) -> Template:
    access, case = await _party(request, number)
    await services.party_viewed(access=access)
    return await _page(request, access, case)


@get("/p/cases/{number:str}/messages", opt={"roles": PARTY}, name="party_messages")
async def party_messages(request: Request[Any, Any, Any], number: FromPath[str]) -> Template:
    access, case = await _party(request, number)
    return await _thread(request, access, case)


@get("/p/cases/{number:str}/messages/stream", opt={"roles": PARTY}, name="party_messages_stream")
async def party_messages_stream(request: Request[Any, Any, Any], number: FromPath[str]) -> Template | ServerSentEvent:
    access, case = await _party(request, number)
    if not wants_stream(request):
        return await _thread(request, access, case)
    urls = {
        "post_url": f"/p/cases/{case.number}/messages",
        "file_prefix": f"/p/cases/{case.number}/evidence/",
        # Times in the pushed list are on the party's clock, as on the rest of its page.
        "party_zone": await selectors.party_zone(case, access.party),
    }
    return stream_of(
        request,
        case_id=case.id,
        party=access.party,
        urls=urls,
        allowed=lambda: links.link_is_live(access.link_id, now=_now()),
    )


async def _thread(request: Request[Any, Any, Any], access: PartyAccess, case: Case) -> Template:
    context = {
        **await selectors.thread_view(case.id, access.party),
        "post_url": f"/p/cases/{case.number}/messages",
        "file_prefix": f"/p/cases/{case.number}/evidence/",
        "party_zone": await selectors.party_zone(case, access.party),
    }
    return render(request, "collaboration/_thread.html", context)


@post(
    "/p/cases/{number:str}/messages",
    opt={"roles": PARTY},
    request_max_body_size=UPLOAD_BODY_LIMIT,
    status_code=200,
)
async def party_message_post(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any] | Template:
    access, case = await _party(request, number)
    actor = services.actor_of(access)
    form, evidence_ids = await message_form(request, number=case.number, actor=actor, party=access.party)
    await services.message_post(
        actor=actor, case_id=case.id, party=access.party, body=_field(form, "body"), evidence_ids=evidence_ids
    )
    if not wants_fragment(request):
        return Redirect(path=f"/p/cases/{number}#messages", status_code=303)
    return await _thread(request, access, case)


@post(
    "/p/cases/{number:str}/respond",
    opt={"roles": PARTY},
    request_max_body_size=UPLOAD_BODY_LIMIT,
    status_code=303,
)
async def party_respond(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any] | Template:
    access, case = await _party(request, number)
    refuse_oversized(request)
    # Raw form: files ride along, and read_form answers an oversized or garbled upload with a 413/422.
    form = await read_form(request)
    response = _field(form, "response")
    # The same form may carry a plan or counter-offer: any of its fields filled means one is proposed.
    plan_fields = ("remedy", "amount", "ready_by", "details")
    proposing = any(_field(form, name).strip() for name in plan_fields)
    # Checked before any file is stored: a refused answer leaves no orphan evidence behind.
    if response or not proposing:
        services.response_data(
            party=access.party, response=response, share=_field(form, "share"), reason=_field(form, "reason")
        )
    if proposing:
        services.plan_checked(
            party=access.party,
            remedy=_field(form, "remedy"),
            currency=_field(form, "currency") or case.currency,
            ready_by=services.parse_date(_field(form, "ready_by"), "ready_by"),
            today=_now().date(),
        )
        services.parse_amount(_field(form, "amount"))
    uploads = await uploads_from_form(form)
    settings: Settings = request.app.state.settings
    if response == "dispute" and not settings.dispute_answer_round:
        await services.appeal_check(case.id, access.party, has_evidence=bool(uploads))
    files: list[PreparedUpload] = []
    if response == "dispute" and uploads:
        # Counter-evidence goes through the same checks, hashes and store as ours, marked as the party's;
        # it is recorded with the answer, in its transaction: refused, the answer keeps none of it.
        policy = evidence_policy(request)
        evidence_services.check_uploads(uploads, policy)
        files = await evidence_services.prepare_uploads(
            uploads,
            store=evidence_store(request),
            policy=policy,
            uploader=evidence_services.uploader_id(services.actor_of(access)),
        )
    if response:
        await services.party_respond(
            access=access,
            response=response,
            share=_field(form, "share"),
            reason=_field(form, "reason"),
            files=files,
            answer_round=settings.dispute_answer_round,
        )
    if proposing:
        await _propose(access, case, PlanForm(**{name: _field(form, name) for name in (*plan_fields, "currency")}))
    return await _done(request, access, case)


async def _propose(access: PartyAccess, case: Case, plan: PlanForm) -> None:
    """A party's plan round (from its answer form, or the plan address)."""
    await services.plan_propose(
        actor=services.actor_of(access),
        case_id=case.id,
        side=access.party,
        party=access.party,
        remedy=plan.remedy,
        amount=services.parse_amount(plan.amount),
        currency=plan.currency or case.currency,
        ready_by=services.parse_date(plan.ready_by, "ready_by"),
        details=plan.details,
    )


@post("/p/cases/{number:str}/plan", opt={"roles": PARTY}, status_code=303)
async def party_propose(
    request: Request[Any, Any, Any], number: FromPath[str], data: Annotated[PlanForm, FORM]
) -> Response[Any] | Template:
    access, case = await _party(request, number)
    await _propose(access, case, data)
    return await _done(request, access, case)


@post("/p/cases/{number:str}/plan/{proposal_id:str}/accept", opt={"roles": PARTY}, status_code=303)
async def party_accept_plan(
    request: Request[Any, Any, Any], number: FromPath[str], proposal_id: FromPath[str]
) -> Response[Any] | Template:
    access, case = await _party(request, number)
    await services.plan_accept(
        actor=services.actor_of(access),
        case_id=case.id,
        proposal_id=int(proposal_id) if proposal_id.isdecimal() else 0,
        side=access.party,
    )
    return await _done(request, access, case)


@post("/p/cases/{number:str}/progress", opt={"roles": PARTY}, status_code=303)
async def party_progress(
    request: Request[Any, Any, Any], number: FromPath[str], data: Annotated[ProgressForm, FORM]
) -> Response[Any] | Template:
    access, case = await _party(request, number)
    await services.progress_update(
        actor=services.actor_of(access),
        case_id=case.id,
        step=data.step,
        tracking_no=data.tracking_no,
        note=data.note,
    )
    return await _done(request, access, case)


@post(
    "/p/cases/{number:str}/dispute",
    opt={"roles": PARTY},
    request_max_body_size=UPLOAD_BODY_LIMIT,
    status_code=303,
)
async def party_dispute(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any] | Template:
    """A dispute while the plan is carried out, or after a decision an appeal, which must bring new evidence
    (stored only when it does); in responsibility and plan the answer form's Dispute opens mediation."""
    access, case = await _party(request, number)
    refuse_oversized(request)
    # Raw form: files ride along, and read_form answers an oversized or garbled upload with a 413/422.
    form = await read_form(request)
    uploads = await uploads_from_form(form)
    await services.appeal_check(case.id, access.party, has_evidence=bool(uploads))
    actor = services.actor_of(access)
    files: list[PreparedUpload] = []
    if uploads:
        policy = evidence_policy(request)
        evidence_services.check_uploads(uploads, policy)
        files = await evidence_services.prepare_uploads(
            uploads, store=evidence_store(request), policy=policy, uploader=evidence_services.uploader_id(actor)
        )
    # The files are recorded with the dispute, in its transaction: refused, it keeps none of them.
    await services.dispute_open(
        actor=actor, case_id=case.id, opened_by=access.party, reason=_field(form, "reason"), files=files
    )
    return await _done(request, access, case)


@get("/p/cases/{number:str}/evidence/{evidence_id:str}/{copy:str}", opt={"roles": PARTY}, name="party_evidence")
async def party_evidence(
    request: Request[Any, Any, Any], number: FromPath[str], evidence_id: FromPath[str], copy: FromPath[str]
) -> Response[bytes]:
    """Web copies and thumbnails only: originals stay with us."""
    access, case = await _party(request, number)
    row = await selectors.party_evidence_row(access, case, evidence_id)
    key = {"web": row.web_key, "thumb": row.thumb_key}.get(copy, "")
    if not key:
        raise NotFound(_("There is nothing at this address."))
    data = await anyio.to_thread.run_sync(evidence_store(request).get, key)
    stem = (row.filename or "evidence").rsplit(".", 1)[0]
    extension = ".png" if row.web_media_type == "image/png" else ".jpg"
    return Response(
        data,
        media_type=row.web_media_type or "image/jpeg",
        headers={
            "Content-Disposition": content_disposition(stem + extension, inline=True),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )


PARTY_ROUTES: list[Any] = [
    link_open,
    link_continue,
    party_case,
    party_messages,
    party_messages_stream,
    party_message_post,
    party_respond,
    party_propose,
    party_accept_plan,
    party_progress,
    party_dispute,
    party_evidence,
]
