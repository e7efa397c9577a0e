"""What a customer does through their tracking link; each act recorded as the customer's, in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.cases import states
from app.cases.events import Actor, record_event
from app.cases.services import case_move
from app.cases.tables import Case, CaseEvent
from app.collaboration import services as collaboration
from app.collaboration.links import PartyAccess
from app.collaboration.tables import AccessLink
from app.db import atomic
from app.errors import Conflict, ValidationFailed
from app.i18n import gettext as _
from app.rules.facts import N_
from app.tracking.policies import current_policy


def customer_actor(access: PartyAccess) -> Actor:
    return Actor(kind="customer", id=str(access.link_id), label=access.email)


async def customer_opened(*, access: PartyAccess, now: datetime) -> None:
    """The customer pressed Continue on their link (a prefetching GET never gets here)."""
    async with atomic():
        await AccessLink.update({AccessLink.last_used_at: now}).where(AccessLink.id == access.link_id)


async def customer_feedback(*, access: PartyAccess, score: int, comment: str, reopen: bool, now: datetime) -> None:
    """The customer's satisfaction score; within the window they may also reopen the case.

    The feedback and the reopening are one transaction: a failure between them keeps neither.
    """
    if not 1 <= score <= 5:
        raise ValidationFailed(_("Choose a score from 1 to 5."), fields=[("score", _("Choose 1 to 5."))])
    actor = customer_actor(access)
    window = timedelta(days=current_policy().feedback_window_days)
    async with atomic():
        case = await Case.objects().where(Case.id == access.case_id).first()
        if case is None or case.node not in {states.Node.COMPLETED.value, states.Node.FEEDBACK.value}:
            raise Conflict(_("Feedback opens when the case is completed."))
        done = await CaseEvent.count().where((CaseEvent.case == case.id) & (CaseEvent.kind == "customer_feedback"))
        if done:
            raise Conflict(_("Thank you: your feedback is already recorded."))
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="customer_feedback",
            data={"score": score, "comment": comment.strip()[:2000], "reopen": reopen},
            at=now,
        )
        if reopen and case.node == states.Node.FEEDBACK.value and now - case.node_entered_at <= window:
            await case_move(
                actor=actor, number=case.number, target="implementation", reason=N_("Reopened by the customer"), now=now
            )


async def customer_confirm_plan(*, access: PartyAccess, note: str = "", now: datetime) -> None:
    """The customer confirms the agreed plan (with an optional note): the case moves on to carrying it out."""
    await collaboration.plan_answer(
        actor=customer_actor(access), case_id=access.case_id, accepted=True, comment=note, now=now
    )


async def customer_decline_plan(*, access: PartyAccess, reason: str, now: datetime) -> None:
    """The customer declines the agreed plan with their reason: the plan round opens again."""
    if not reason.strip():
        raise ValidationFailed(
            _("Tell us why you decline the plan."), fields=[("reason", _("Write what you would need instead."))]
        )
    await collaboration.plan_answer(
        actor=customer_actor(access), case_id=access.case_id, accepted=False, comment=reason, now=now
    )
