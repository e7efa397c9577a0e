"""Node tracking pages: the board, a case's clocks, SLA admin, push subscriptions, the bell, customer tracking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup

from app.accounts.roles import ADMINS, DESK, PUBLIC, STAFF
from app.cases import states
from app.cases.events import Actor
from app.cases.taxonomy import REMEDIES
from app.collaboration import links, visibility
from app.collaboration.links import PartyAccess
from app.customers import services as customers
from app.errors import Conflict, ValidationFailed
from app.i18n import LANGUAGES, current_language
from app.i18n import gettext as _
from app.notify import inapp
from app.notify.push import application_server_key
from app.reminders import record
from app.settings import Settings
from app.tracking import policies, selectors, services
from app.web.links import invalid_link_page, redeem_link
from app.web.pages import render
from app.web.render_cache import RenderCache, reader_key, render_part

TRACK_COOKIE = "cc_track"
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def _now() -> datetime:
    return datetime.now(UTC)


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# The board's cards by data version, role, language, zone, filters and minute (app/web/render_cache.py).
BOARD = RenderCache(entries=128)


@get("/board", opt={"roles": STAFF}, name="board")
async def board(
    request: Request[Any, Any, Any],
    mine: FromQuery[bool] = False,
    overdue: FromQuery[bool] = False,
    due_today: FromQuery[bool] = False,
    supplier: FromQuery[str] = "",
) -> Template:
    user = request.user
    # The select sends "" for all suppliers.
    supplier_id = int(supplier) if supplier.isdigit() else None
    filters = selectors.BoardFilters(mine=mine, overdue=overdue, due_today=due_today, supplier_id=supplier_id)
    now = _now()
    context: dict[str, Any] = {
        "filters": filters,
        "main_line": [n.value for n in states.OPEN_NODES],
        "now": now,
        "zone": user.time_zone,
    }
    # A card's colour and the overdue filter follow the clock: kept for the minute at most.
    key = reader_key(request, filters, user.id if filters.mine else None, int(now.timestamp() // 60))

    async def cards() -> dict[str, Any]:
        columns = await selectors.board(filters, user_id=user.id, zone=user.time_zone, now=now)
        return {**context, "columns": columns, "suppliers": await selectors.suppliers()}

    async def kept_cards() -> tuple[Markup, Any]:
        made = await cards()
        return render_part(request, "tracking/board.html", "board", made), made["suppliers"]

    if key is None:
        context = await cards()
    else:
        board_html, suppliers = await BOARD.kept_or_made(key, kept_cards)
        context.update(board_html=board_html, suppliers=suppliers)
    return render(request, "tracking/board.html", context, block="board")


@get("/cases/{number:str}/deadlines", opt={"roles": STAFF}, name="case_deadlines")
async def case_deadlines(request: Request[Any, Any, Any], number: FromPath[str]) -> Template:
    return render(request, "cases/_deadlines.html", await _clock_context(request, number))


async def _clock_context(request: Request[Any, Any, Any], number: str) -> dict[str, Any]:
    case, clocks = await selectors.case_clocks(number)
    return {
        "case": case,
        "deadlines": clocks,
        "reminders": await selectors.reminders_of(case.id),
        "paused": await selectors.clock_paused(case.id),
        "can_pause": request.user.role in DESK,
        "now": _now(),
    }


@dataclass
class WaitForm:
    waiting: str = ""


@post("/cases/{number:str}/clock", opt={"roles": DESK}, status_code=200)
async def case_clock_wait(
    request: Request[Any, Any, Any],
    number: FromPath[str],
    data: Annotated[WaitForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template:
    actor = Actor(kind="user", id=str(request.user.id), label=request.user.name or request.user.email)
    await services.clock_wait(actor=actor, number=number, waiting=data.waiting == "yes", now=_now())
    return render(
        request, "cases/_deadlines.html", await _clock_context(request, number), headers={"HX-Trigger": "case-changed"}
    )


@dataclass
class PolicyForm:
    override: str = ""


async def _policy_context(request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
    data_dir = _settings(request).data_dir
    return {
        "defaults": policies.DEFAULT_FILE.read_text(encoding="utf-8"),
        "override": policies.stored_override(data_dir),
        "failed": await selectors.failed_reminders(),
        **extra,
    }


@get("/admin/sla", opt={"roles": ADMINS}, name="sla_admin")
async def sla_admin(request: Request[Any, Any, Any]) -> Template:
    return render(request, "tracking/policies.html", await _policy_context(request))


@post("/admin/sla", opt={"roles": ADMINS}, status_code=200)
async def sla_save(
    request: Request[Any, Any, Any], data: Annotated[PolicyForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
) -> Template:
    try:
        policies.save_override(_settings(request).data_dir, data.override)
    except policies.PolicyError as error:
        context = await _policy_context(request, override=data.override, error=str(error))
        return render(request, "tracking/policies.html", context, status_code=422)
    return render(request, "tracking/policies.html", await _policy_context(request, saved=True))


@dataclass
class RetryForm:
    reminder_id: int = 0


@post("/admin/reminders/retry", opt={"roles": ADMINS}, status_code=303)
async def reminder_retry(data: Annotated[RetryForm, Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Redirect:
    await record.retry_failed(reminder_id=data.reminder_id)
    return Redirect(path="/admin/sla", status_code=303)


@get("/push/key", opt={"roles": STAFF}, name="push_key")
async def push_key(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"key": application_server_key(_settings(request).data_dir)}


@dataclass
class SubscriptionBody:
    endpoint: str
    keys: dict[str, str]


@post("/push/subscribe", opt={"roles": STAFF}, status_code=201)
async def push_subscribe(request: Request[Any, Any, Any], data: SubscriptionBody) -> dict[str, str]:
    await services.push_subscribe(
        user_id=request.user.id,
        endpoint=data.endpoint,
        p256dh=str(data.keys.get("p256dh", "")),
        auth=str(data.keys.get("auth", "")),
        allowed_hosts=_settings(request).push_hosts,
    )
    return {"status": "subscribed"}


@get("/bell", opt={"roles": STAFF}, name="bell")
async def bell(request: Request[Any, Any, Any]) -> Template:
    user_id = request.user.id
    context = {"unread": await inapp.unread_count(user_id), "items": await inapp.recent(user_id)}
    return render(request, "tracking/_bell.html", context)


@post("/bell/read", opt={"roles": STAFF}, status_code=200)
async def bell_read(request: Request[Any, Any, Any]) -> Template:
    await inapp.mark_all_read(request.user.id, now=_now())
    return render(request, "tracking/_bell.html", {"unread": 0, "items": await inapp.recent(request.user.id)})


@get("/t/{token:str}", opt={"roles": PUBLIC}, name="track_link")
async def track_link(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any] | Template:
    """Only a page with a button: mail scanners fetch links, and a GET must never use one up or act.

    ``/t/opened`` is where the link page used to leave the address bar: a bookmark of it goes to the page.
    """
    if token == "opened":  # noqa: S105 - the old address bar word, not a secret
        return Redirect(path="/track", status_code=303, headers=NO_REFERRER)
    context = {"token": token, "action": f"/t/{token}"}
    return render(request, "party/continue.html", context, headers=NO_REFERRER)


@post("/t/{token:str}", opt={"roles": PUBLIC}, status_code=303)
async def track_continue(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    now = _now()
    link = await redeem_link(request, token, parties=("customer",), now=now)
    if link is None:
        return invalid_link_page(request)
    settings = _settings(request)
    access = PartyAccess(link.id, link.case, link.party, link.email, link.language)
    await customers.customer_opened(access=access, now=now)
    # The cookie holds a signature bound to the link, never the token; the address it lands on has no token.
    # It lives as long as the link, so a revisit or a bookmark of /track opens the page until the link ends.
    response: Response[Any] = Redirect(path="/track", status_code=303, headers=NO_REFERRER)
    response.set_cookie(
        TRACK_COOKIE,
        links.session_value(settings.secret_key, link, now),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/track",
        max_age=links.seconds_left(link, now),
    )
    return response


async def _customer(request: Request[Any, Any, Any]) -> PartyAccess | None:
    """The customer behind the tracking cookie, checked against their link on every request."""
    value = request.cookies.get(TRACK_COOKIE, "")
    if not value:
        return None
    access = await links.session_access(
        _settings(request).secret_key, value, now=_now(), parties=("customer",), lasts_with_link=True
    )
    if access is not None:
        # The page speaks the customer's language (the link remembers it), whatever the browser says.
        current_language.set(access.language if access.language in LANGUAGES else "en")
    return access


async def _customer_context(request: Request[Any, Any, Any], access: PartyAccess) -> dict[str, Any]:
    view = await selectors.customer_view(access.case_id)
    steps = [n.value for n in states.MAIN_LINE]
    company, email, phone = _settings(request).contact
    # Dates on the page are the customer's own (party_zone is the zone the page is read in).
    return {
        "view": view,
        "steps": steps,
        "step_words": selectors.CUSTOMER_STEPS,
        "language": access.language,
        "party_zone": view["time_zone"],
        "plan": await visibility.customer_plan(access.case_id),
        "resolution": await visibility.customer_resolution(access.case_id),
        "remedies": REMEDIES,
        "contact": {"company": company, "email": email, "phone": phone},
    }


@get("/track", opt={"roles": PUBLIC}, name="track_page")
async def track_page(request: Request[Any, Any, Any]) -> Template:
    access = await _customer(request)
    if access is None:
        return invalid_link_page(request)
    return render(request, "tracking/customer.html", await _customer_context(request, access), headers=NO_REFERRER)


@dataclass
class FeedbackForm:
    score: int = 0
    comment: str = ""
    reopen: str = ""


@post("/track/feedback", opt={"roles": PUBLIC}, status_code=200)
async def track_feedback(
    request: Request[Any, Any, Any], data: Annotated[FeedbackForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
) -> Template:
    access = await _customer(request)
    if access is None:
        return invalid_link_page(request)
    try:
        await customers.customer_feedback(
            access=access, score=data.score, comment=data.comment, reopen=data.reopen == "yes", now=_now()
        )
    except ValidationFailed as error:
        context = {**await _customer_context(request, access), "error": str(error)}
        return render(request, "tracking/customer.html", context, status_code=422, headers=NO_REFERRER)
    context = {**await _customer_context(request, access), "thanks": True}
    return render(request, "tracking/customer.html", context, headers=NO_REFERRER)


@dataclass
class PlanAnswerForm:
    answer: str = ""
    reason: str = ""
    note: str = ""


@post("/track/plan", opt={"roles": PUBLIC}, status_code=200)
async def track_plan(
    request: Request[Any, Any, Any], data: Annotated[PlanAnswerForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
) -> Template:
    """The customer confirms the agreed plan or declines it with a reason."""
    access = await _customer(request)
    if access is None:
        return invalid_link_page(request)
    now = _now()
    try:
        if data.answer == "confirm":
            await customers.customer_confirm_plan(access=access, note=data.note, now=now)
        elif data.answer == "decline":
            await customers.customer_decline_plan(access=access, reason=data.reason, now=now)
        else:
            raise ValidationFailed(_("Confirm the plan or decline it."), fields=[("answer", _("Choose one."))])
    except (ValidationFailed, Conflict) as error:
        context = {**await _customer_context(request, access), "plan_error": str(error), "reason": data.reason}
        status = 422 if isinstance(error, ValidationFailed) else 409
        return render(request, "tracking/customer.html", context, status_code=status, headers=NO_REFERRER)
    context = {**await _customer_context(request, access), "plan_answered": data.answer}
    return render(request, "tracking/customer.html", context, headers=NO_REFERRER)


TRACKING_ROUTES: list[Any] = [
    board,
    case_deadlines,
    case_clock_wait,
    sla_admin,
    sla_save,
    reminder_retry,
    push_key,
    push_subscribe,
    bell,
    bell_read,
    track_link,
    track_continue,
    track_page,
    track_feedback,
    track_plan,
]
