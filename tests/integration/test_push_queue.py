"""The push works off the request: the mail, the claim pack and SMTP are the worker's, shown live on the case."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from bs4 import BeautifulSoup

from app.cases.tables import CaseEvent
from app.collaboration.tables import AccessLink
from tests.browser.conftest import free_port
from tests.conftest import asgi_client, csrf_token, sign_in, work_off_queue
from tests.integration.test_collaboration import link_in, open_link, supplier_case
from tests.integration.test_grid_push import case_for


class GatedSink:
    """An SMTP server that holds each mail until released, and refuses the first ``refuse`` mails."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[Any] = []
        self.contacts = 0
        self.refuse = refuse
        self.gate = threading.Event()
        self.gate.set()

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: Any) -> Any:
        self.contacts += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        while not self.gate.is_set():
            await asyncio.sleep(0.02)
        if self.refuse > 0:
            self.refuse -= 1
            return "554 5.7.1 Message refused by policy"
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def gated() -> Iterator[tuple[GatedSink, str]]:
    sink = GatedSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


@pytest.fixture
async def desk(settings: Any, gated: tuple[GatedSink, str]) -> Any:
    from app.asgi import create_app

    async with asgi_client(create_app(replace(settings, smtp_url=gated[1]))) as client:
        yield client


def form(**extra: str) -> dict[str, str]:
    return {
        "party": "supplier",
        "email": "qa@supplier-a.cn",
        "language": "en",
        "requirement": "replacement",
        "reply_by": (datetime.now(UTC).date() + timedelta(days=7)).isoformat(),
        **extra,
    }


async def push_status(client: Any, number: str) -> tuple[str, str]:
    live = await client.get(f"/cases/{number}/collaboration/live", headers={"HX-Request": "true"})
    found = BeautifulSoup(live.text, "html.parser").select_one("#push-status")
    assert found is not None, live.text
    return str(found["data-status"]), found.get_text(" ", strip=True)


async def kinds(case_id: int) -> list[str]:
    rows = await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case_id).order_by(CaseEvent.id)
    return [row["kind"] for row in rows if row["kind"].startswith(("case_pushed", "push_mail"))]


async def test_the_push_answers_before_smtp_and_the_case_shows_sending_then_sent(
    desk: Any, make_user: Any, gated: tuple[GatedSink, str]
) -> None:
    sink, _url = gated
    sink.gate.clear()  # the SMTP server holds every mail: a push that talked SMTP in the request would hang
    case = await supplier_case()
    await sign_in(desk, await make_user("handler"))
    data = {**form(attach_pack="yes"), "_csrf_token": await csrf_token(desk)}
    response = await asyncio.wait_for(desk.post(f"/cases/{case.number}/push", data=data), timeout=10)
    assert response.status_code == 303, response.text
    assert sink.contacts == 0 and not sink.messages
    assert await AccessLink.count().where(AccessLink.case == case.id) == 1  # the push itself is committed
    assert await push_status(desk, case.number) == ("sending", "Sending the mail to qa@supplier-a.cn…")

    # The worker takes the task and waits on SMTP; the page still says "sending" meanwhile.
    worker = asyncio.ensure_future(work_off_queue())
    for _ in range(200):
        if sink.contacts:
            break
        await asyncio.sleep(0.05)
    assert sink.contacts == 1
    assert (await push_status(desk, case.number))[0] == "sending"
    sink.gate.set()
    assert await worker == 1
    assert await push_status(desk, case.number) == ("sent", "Mail sent to qa@supplier-a.cn.")
    [mail] = sink.messages
    assert [part.get_content_type() for part in mail.iter_attachments()] == ["application/pdf"]
    assert await kinds(case.id) == ["case_pushed", "push_mail_sent"]


async def test_a_failed_send_is_shown_with_its_reason_and_sent_again_with_a_fresh_link(
    desk: Any, party_client: Any, make_user: Any, gated: tuple[GatedSink, str]
) -> None:
    sink, _url = gated
    sink.refuse = 1
    case = await supplier_case()
    await sign_in(desk, await make_user("handler"))
    response = await desk.post(f"/cases/{case.number}/push", data={**form(), "_csrf_token": await csrf_token(desk)})
    assert response.status_code == 303, response.text
    # Nothing failed yet: there is nothing to send again.
    early = await desk.post(f"/cases/{case.number}/push/retry", data={"_csrf_token": await csrf_token(desk)})
    assert early.status_code == 409 and "Only a push whose mail failed can be sent again." in early.text
    assert await work_off_queue() == 1
    status, text = await push_status(desk, case.number)
    assert status == "failed" and "Message refused by policy" in text and not sink.messages
    page = await desk.get(f"/cases/{case.number}/collaboration/live", headers={"HX-Request": "true"})
    assert BeautifulSoup(page.text, "html.parser").select_one("#push-retry") is not None
    first_link = await AccessLink.objects().where(AccessLink.case == case.id).first()

    again = await desk.post(
        f"/cases/{case.number}/push/retry", data={"_csrf_token": await csrf_token(desk)}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 200, again.text
    assert 'data-status="sending"' in again.text
    assert await work_off_queue() == 1
    assert (await push_status(desk, case.number))[0] == "sent"
    assert await kinds(case.id) == ["case_pushed", "push_mail_failed", "push_mail_retried", "push_mail_sent"]
    links = await AccessLink.objects().where(AccessLink.case == case.id).order_by(AccessLink.id)
    assert len(links) == 2 and links[0].id == first_link.id and links[0].revoked_at is not None
    assert links[1].revoked_at is None and links[1].email == "qa@supplier-a.cn"
    # The retried mail's link opens the case; a second retry of a sent push is refused.
    [mail] = sink.messages
    assert (await open_link(party_client, link_in(mail))).status_code == 303
    late = await desk.post(f"/cases/{case.number}/push/retry", data={"_csrf_token": await csrf_token(desk)})
    assert late.status_code == 409


@pytest.fixture
async def party_client(settings: Any, gated: tuple[GatedSink, str]) -> Any:
    from app.asgi import create_app

    async with asgi_client(create_app(replace(settings, smtp_url=gated[1]))) as client:
        yield client


async def test_a_bulk_push_queues_one_task_per_case_and_talks_no_smtp(
    desk: Any, make_user: Any, gated: tuple[GatedSink, str]
) -> None:
    from app.queue import huey
    from app.trade.tables import Supplier

    sink, _url = gated
    sink.gate.clear()
    cases = []
    for index in range(12):
        supplier = Supplier(code=f"S{index}", name=f"Works {index}", email=f"qa{index}@works.example", language="en")
        await supplier.save()
        cases.append(await case_for(supplier, f"Cracked housing {index}"))
    await sign_in(desk, await make_user("handler"))
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(desk)}
    data = {
        "case": [str(case.id) for case in cases],
        "requirement": "replacement",
        "reply_by": (datetime.now(UTC).date() + timedelta(days=5)).isoformat(),
    }
    response = await asyncio.wait_for(desk.post("/grid/push", data=data, headers=hx), timeout=20)
    assert response.status_code == 200 and "12 cases sent to their suppliers" in response.text
    assert sink.contacts == 0
    assert huey.pending_count() == 12
    sink.gate.set()
    assert await work_off_queue() == 12
    assert sorted(mail["To"] for mail in sink.messages) == sorted(f"qa{index}@works.example" for index in range(12))
    sent = await CaseEvent.count().where(CaseEvent.kind == "push_mail_sent")
    assert sent == 12
