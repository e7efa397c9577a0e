"""What the customer receives by mail: each stage once, and a reminder when the agreed plan waits on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.cases.events import Actor
from app.cases.services import case_move
from app.cases.tables import CaseEvent
from app.collaboration import services as collaboration
from app.reminders.sweep import sweep
from app.tracking.tables import Reminder
from app.trade.tables import Customer
from tests.integration.test_reminders import mail_settings, overdue_case, smtp  # noqa: F401 - fixtures
from tests.integration.test_tracking import agreed_case


def bodies(sink: Any) -> list[str]:
    return [m.get_body(preferencelist=("plain",)).get_content() for m in sink.messages]


async def test_a_stage_visited_again_is_not_mailed_to_the_customer_twice(
    mail_settings: Any,  # noqa: F811
    smtp: tuple[Any, str],  # noqa: F811
    make_user: Any,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    case, _ = await overdue_case(make_user, customer=True, start=start)
    assert (await sweep(settings=mail_settings, now=start + timedelta(minutes=1))).sent == 1
    # Into mediation and back to responsibility (and out again): the stage the customer was told of returns.
    dispute = await collaboration.dispute_open(
        actor=Actor.system(), case_id=case.id, opened_by="us", reason="Unclear", now=start + timedelta(minutes=2)
    )
    await case_move(actor=Actor.system(), number=case.number, target="responsibility", now=start + timedelta(minutes=3))
    assert dispute.id
    await sweep(settings=mail_settings, now=start + timedelta(minutes=4))
    stage_mails = [body for body in bodies(smtp[0]) if "责任认定" in body]
    assert len(stage_mails) == 1, stage_mails
    assert await Reminder.count().where((Reminder.case == case.id) & (Reminder.level == "update")) == 1


async def test_a_customer_who_does_not_answer_the_plan_is_reminded_once(
    mail_settings: Any,  # noqa: F811
    smtp: tuple[Any, str],  # noqa: F811
) -> None:
    case = await agreed_case(with_customer=True)
    await Customer.update({Customer.language: "en"}).where(Customer.email == "lin@example.com")
    agreed = await CaseEvent.objects().where((CaseEvent.case == case.id) & (CaseEvent.kind == "plan_agreed")).first()
    sink = smtp[0]
    await sweep(settings=mail_settings, now=agreed.at + timedelta(hours=47))
    assert not [body for body in bodies(sink) if "confirm or decline" in body], "not before the set time"
    await sweep(settings=mail_settings, now=agreed.at + timedelta(hours=49))
    reminders = [
        m for m in sink.messages if "confirm or decline" in m.get_body(preferencelist=("plain",)).get_content()
    ]
    assert len(reminders) == 1 and reminders[0]["To"] == "lin@example.com"
    assert "/t/" in reminders[0].get_body(preferencelist=("plain",)).get_content(), "with a tracking link of theirs"
    await sweep(settings=mail_settings, now=agreed.at + timedelta(hours=60))
    assert len([b for b in bodies(sink) if "confirm or decline" in b]) == 1, "once"
    kinds = await CaseEvent.select(CaseEvent.data).where(
        (CaseEvent.case == case.id) & (CaseEvent.kind == "customer_updated")
    )
    assert any(row["data"] and "answer" in str(row["data"]) for row in kinds)


async def test_an_answered_plan_brings_no_reminder(
    mail_settings: Any,  # noqa: F811
    smtp: tuple[Any, str],  # noqa: F811
) -> None:
    case = await agreed_case(with_customer=True)
    await collaboration.plan_answer(actor=Actor(kind="customer", id="1", label="Lin"), case_id=case.id, accepted=True)
    agreed = await CaseEvent.objects().where((CaseEvent.case == case.id) & (CaseEvent.kind == "plan_agreed")).first()
    await sweep(settings=mail_settings, now=agreed.at + timedelta(hours=49))
    assert not [b for b in bodies(smtp[0]) if "confirm or decline" in b]
