"""The reminder sweep against a real database and a real SMTP server: each step goes exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from app.accounts.tables import User
from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create, case_move
from app.cases.tables import CaseEvent
from app.notify.email import Mail, PermanentMailError, TransientMailError, send_mail
from app.notify.inapp import unread_count
from app.notify.tables import Notification
from app.reminders.sweep import sweep
from app.tracking.policies import configure_policy
from app.tracking.tables import Reminder, StageDeadline
from app.trade.tables import Customer, Supplier
from tests.browser.conftest import free_port
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
DUE = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # three business days later
AFTER_DUE = DUE + timedelta(hours=1)


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, str]]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


@pytest.fixture
def mail_settings(settings: Any, smtp: tuple[Sink, str]) -> Any:
    configure_policy(settings.data_dir)
    return replace(settings, smtp_url=smtp[1])


async def overdue_case(make_user: Any, *, customer: bool = False, start: datetime = T0) -> tuple[Any, Any]:
    handler = await make_user("handler", email="hao@example.com")
    supplier = Supplier(code="SUP-T", name="Test Supplier", email="sup@example.cn", time_zone="Asia/Shanghai")
    await supplier.save()
    customer_id = None
    if customer:
        row = Customer(name="王芳", email="wang@example.cn", language="zh")
        await row.save()
        customer_id = row.id
    draft = CaseDraft(
        problem_type="quality_defect", supplier_id=supplier.id, assignee_id=handler.id, customer_id=customer_id
    )
    case = (await case_create(actor=Actor.system(), draft=draft, now=start - timedelta(hours=2))).case
    await case_move(actor=Actor.system(), number=case.number, target="responsibility", now=start)
    return case, handler


def cli_env(settings: Any, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "CROSSCLAIM_DATA_DIR": str(settings.data_dir),
        "CROSSCLAIM_SMTP_URL": settings.smtp_url,
        "CROSSCLAIM_SECRET_KEY": settings.secret_key,
        **extra,
    }


def run_cli(settings: Any, now: datetime, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "remind", "sweep", "--now", now.isoformat()],
        env=cli_env(settings, **extra),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_the_clock_of_a_node_starts_and_stops_with_the_case(mail_settings: Any, make_user: Any) -> None:
    case, _ = await overdue_case(make_user)
    rows = await StageDeadline.select().where(StageDeadline.case == case.id).order_by(StageDeadline.id)
    assert [r["node"] for r in rows] == ["reported", "responsibility"]
    assert rows[0]["finished_at"] == T0
    assert rows[1]["owner_party"] == "supplier" and rows[1]["due_at"] == DUE and rows[1]["finished_at"] is None


@pytest.mark.checklist(29)
async def test_a_sweep_run_twice_sends_once(mail_settings: Any, smtp: tuple[Sink, str], make_user: Any) -> None:
    sink = smtp[0]
    case, handler = await overdue_case(make_user)
    first = await sweep(settings=mail_settings, now=AFTER_DUE)
    # Catching up past 75% and 100%: only the 100% step goes, to the supplier (owner) and the handler.
    assert first.as_dict() == {"due": 1, "sent": 3, "skipped": 1, "failed": 0, "retried": 0}
    assert sorted(m["To"] for m in sink.messages) == ["hao@example.com", "sup@example.cn"]
    assert all(case.number in m["Subject"] for m in sink.messages)
    html = [p for p in sink.messages[0].walk() if p.get_content_type() == "text/html"]
    assert html, "reminder mails carry an HTML part as well as text"
    assert await unread_count(handler.id) == 1
    second = await sweep(settings=mail_settings, now=AFTER_DUE + timedelta(minutes=1))
    assert second.sent == 0 and len(sink.messages) == 2
    statuses = await Reminder.select(Reminder.status, Reminder.level).where(Reminder.case == case.id)
    assert {(r["status"], r["level"]) for r in statuses} == {("sent", "100")}
    events = await CaseEvent.select(CaseEvent.kind).where(CaseEvent.kind == "reminder_sent")
    assert len(events) == 1
    # At 150% the managers hear about it, once.
    manager = await make_user("manager", email="mei@example.com")
    later = await sweep(settings=mail_settings, now=DUE + timedelta(days=2))
    assert later.sent == 2 and sink.messages[-1]["To"] == manager.email


@pytest.mark.checklist(29)
async def test_two_workers_at_once_send_once(mail_settings: Any, smtp: tuple[Sink, str], make_user: Any) -> None:
    await overdue_case(make_user)
    workers = [run_cli(mail_settings, AFTER_DUE) for _ in range(2)]
    outputs = [worker.communicate(timeout=60) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    summaries = [json.loads(out) for out, _ in outputs]
    assert sum(s["sent"] for s in summaries) == 3
    assert sorted(m["To"] for m in smtp[0].messages) == ["hao@example.com", "sup@example.cn"]
    assert await Reminder.count() == 3


@pytest.mark.checklist(29)
async def test_in_process_concurrent_sweeps_send_once(
    mail_settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    await overdue_case(make_user)
    results = await asyncio.gather(*(sweep(settings=mail_settings, now=AFTER_DUE) for _ in range(3)))
    assert sum(r.sent for r in results) == 3
    assert len(smtp[0].messages) == 2


@pytest.mark.checklist(30)
async def test_a_killed_workers_claims_are_sent_by_the_next_sweep(
    mail_settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    await overdue_case(make_user)
    killed = run_cli(mail_settings, AFTER_DUE, CROSSCLAIM_TEST_HOOKS="1", CROSSCLAIM_TEST_CRASH="after_claim")
    killed.communicate(timeout=60)
    assert killed.returncode == 9
    assert {r["status"] for r in await Reminder.select(Reminder.status)} == {"claimed"}
    assert smtp[0].messages == []
    # Within the lease the claim may still belong to a live sweep: nothing is sent twice.
    early = await sweep(settings=mail_settings, now=AFTER_DUE + timedelta(minutes=2))
    assert early.sent == 0 and smtp[0].messages == []
    repaired = await sweep(settings=mail_settings, now=AFTER_DUE + timedelta(minutes=11))
    assert repaired.retried == 3 and repaired.sent == 3
    assert sorted(m["To"] for m in smtp[0].messages) == ["hao@example.com", "sup@example.cn"]
    assert {r["status"] for r in await Reminder.select(Reminder.status)} == {"sent"}


async def test_quiet_hours_hold_mail_until_morning(mail_settings: Any, smtp: tuple[Sink, str], make_user: Any) -> None:
    await overdue_case(make_user)
    night = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    held = await sweep(settings=mail_settings, now=night)
    assert held.sent == 1 and smtp[0].messages == []  # only the in-app bell, which makes no sound
    morning = await sweep(settings=mail_settings, now=night + timedelta(hours=9))
    assert morning.sent == 2 and len(smtp[0].messages) == 2


@pytest.mark.checklist(31)
async def test_an_unreachable_smtp_server_is_retried(settings: Any, make_user: Any) -> None:
    configure_policy(settings.data_dir)
    broken = replace(settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    await overdue_case(make_user)
    summary = await sweep(settings=broken, now=AFTER_DUE)
    assert summary.failed == 2 and summary.sent == 1
    rows = await Reminder.select(Reminder.status, Reminder.attempts, Reminder.error).where(Reminder.channel == "email")
    assert all(r["status"] == "claimed" and r["attempts"] == 1 and "SMTP" in r["error"] for r in rows)


async def test_each_reader_gets_the_reminder_in_their_language_and_on_their_clock(
    mail_settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    case, handler = await overdue_case(make_user)
    await User.update({User.language: "zh", User.time_zone: "Asia/Shanghai"}).where(User.id == handler.id)
    await Supplier.update({Supplier.language: "de", Supplier.time_zone: "America/New_York"}).where(
        Supplier.code == "SUP-T"
    )
    await sweep(settings=mail_settings, now=AFTER_DUE)
    mails = {m["To"]: m.get_body(preferencelist=("plain",)).get_content() for m in smtp[0].messages}
    # Due 01:00 UTC on 5 March: 09:00 in Shanghai, 20:00 the day before in New York (sent at 21:00 there, before
    # its quiet hours). German is not offered: the supplier reads English.
    assert mails["hao@example.com"].startswith(
        f"案件 {case.number} 在“责任认定”节点已逾期：到期时间为 2026年3月5日 09:00 中国标准时间。"
    )
    assert mails["sup@example.cn"].startswith(
        f"Case {case.number} is overdue at Responsibility: it was due 4 Mar 2026, 20:00 Eastern Standard Time"
        " (ours: 5 Mar 2026, 09:00 China Standard Time)."
    )
    (bell,) = await Notification.select(Notification.text).where(Notification.user == handler.id)
    assert "责任认定" in bell["text"] and "2026年3月5日 09:00" in bell["text"]


async def test_the_customer_hears_in_their_language_with_a_tracking_link(
    mail_settings: Any, smtp: tuple[Sink, str], make_user: Any, client: Any
) -> None:
    # The link's expiry is checked against the real clock when the page is opened: start today.
    start = datetime.now(UTC).replace(microsecond=0)
    case, _ = await overdue_case(make_user, customer=True, start=start)
    summary = await sweep(settings=mail_settings, now=start + timedelta(minutes=5))
    assert summary.sent == 1
    (mail,) = smtp[0].messages
    assert mail["To"] == "wang@example.cn"
    body = mail.get_body(preferencelist=("plain",)).get_content()
    link = next(word for word in body.split() if "/t/" in word)
    assert "您的售后案件" in body  # the customer chose Chinese: the update speaks it
    assert "责任认定" in body and "responsibility" not in body  # the node in words, not its code
    assert (await sweep(settings=mail_settings, now=start + timedelta(minutes=6))).sent == 0
    path = link.replace("http://testserver", "")
    assert "cc_track" not in (await client.get(path)).headers.get("set-cookie", "")  # a prefetch opens nothing
    page = await client.post(path, data={"_csrf_token": await csrf_token(client)}, follow_redirects=True)
    assert page.status_code == 200 and str(page.url).endswith("/track")
    assert case.number in page.text and "Test Supplier" not in page.text and "hao@example.com" not in page.text


class FakeSmsProvider(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeSmsProvider.received.append(body)
        status = 400 if body["to"] == "+000" else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "sms-1"}')

    def log_message(self, *args: Any) -> None:
        return


async def test_sms_goes_to_the_supplier_through_the_http_provider(
    mail_settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    server = HTTPServer(("127.0.0.1", 0), FakeSmsProvider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeSmsProvider.received = []
    try:
        with_sms = replace(mail_settings, sms_url=f"http://127.0.0.1:{server.server_port}/send")
        case, _ = await overdue_case(make_user)
        await Supplier.update({Supplier.phone: "+86 138 0000 0001"}).where(Supplier.code == "SUP-T")
        summary = await sweep(settings=with_sms, now=AFTER_DUE)
        assert summary.sent == 4
        assert FakeSmsProvider.received == [{"to": "+86 138 0000 0001", "text": FakeSmsProvider.received[0]["text"]}]
        assert case.number in FakeSmsProvider.received[0]["text"]
    finally:
        server.shutdown()


async def test_the_huey_periodic_task_runs_the_same_sweep(
    mail_settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    from app.queue import huey
    from app.tasks.reminders import reminder_sweep

    due_now = [task.name for task in huey.read_periodic(datetime(2026, 3, 5, 1, 7))]
    assert reminder_sweep.task_class.__name__ in due_now  # every minute
    await overdue_case(make_user)
    # In a process of its own, as the Huey worker calls it: bound tables, no running event loop.
    script = (
        "import json, sys; from datetime import datetime; from app import db; "
        "from app.piccolo_app import TABLES; from app.settings import Settings; "
        "from app.tasks.reminders import run_sweep; s = Settings.from_env(); "
        "db.bind_tables(db.make_engine(s.database_url), TABLES); "
        "first = run_sweep(s, datetime.fromisoformat(sys.argv[1])); "
        "second = run_sweep(s, datetime.fromisoformat(sys.argv[1])); "  # a second loop in the same process
        "print(json.dumps([first, second]))"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script, AFTER_DUE.isoformat()],
        env=cli_env(mail_settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    summary, again = json.loads(done.stdout.strip().splitlines()[-1])
    assert again["sent"] == 0
    assert summary["sent"] == 3 and len(smtp[0].messages) == 2, summary


async def test_the_customer_update_goes_by_sms_too_when_a_provider_is_set(
    mail_settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    server = HTTPServer(("127.0.0.1", 0), FakeSmsProvider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeSmsProvider.received = []
    try:
        start = datetime.now(UTC).replace(microsecond=0)
        case, _ = await overdue_case(make_user, customer=True, start=start)
        await Customer.update({Customer.phone: "+86 139 0000 0002"}).where(Customer.email == "wang@example.cn")
        await case_move(actor=Actor.system(), number=case.number, target="plan", now=start + timedelta(minutes=1))
        await case_move(
            actor=Actor.system(), number=case.number, target="implementation", now=start + timedelta(minutes=2)
        )
        without = await sweep(settings=mail_settings, now=start + timedelta(minutes=3))
        # No SMS provider: both mails go, the SMS is skipped (not an error an admin must chase).
        assert (without.sent, without.skipped, without.failed) == (2, 1, 0)
        with_sms = replace(mail_settings, sms_url=f"http://127.0.0.1:{server.server_port}/send")
        await case_move(actor=Actor.system(), number=case.number, target="completed", now=start + timedelta(minutes=4))
        summary = await sweep(settings=with_sms, now=start + timedelta(minutes=5))
        assert summary.sent == 2 and summary.failed == 0
        (sms,) = FakeSmsProvider.received
        assert sms["to"] == "+86 139 0000 0002" and "/t/" in sms["text"] and case.number in sms["text"]
    finally:
        server.shutdown()


class PickyServer(Sink):
    """A mail server that greylists one address (451, try later) and does not know another (550)."""

    def __init__(self, greylisted: str, unknown: str) -> None:
        super().__init__()
        self.refuse = {greylisted: "451 4.7.1 Greylisted, try again later", unknown: "550 5.1.1 No such user"}
        self.rcpt_attempts: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.rcpt_attempts.append(address)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.mark.checklist(31)
async def test_a_greylisted_mail_is_retried_and_a_refused_address_is_recorded_not_retried(
    settings: Any, make_user: Any
) -> None:
    """Item 31: a 4xx answer (transient) keeps the reminder for a later sweep; a 5xx one ends it as failed."""
    configure_policy(settings.data_dir)
    server = PickyServer(greylisted="hao@example.com", unknown="sup@example.cn")
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        picky = replace(settings, smtp_url=f"smtp://127.0.0.1:{controller.port}")
        await overdue_case(make_user)
        first = await sweep(settings=picky, now=AFTER_DUE)
        assert first.sent == 1 and first.failed == 2  # the in-app bell went; both mails did not
        rows = {
            r["recipient"]: r
            for r in await Reminder.select(
                Reminder.recipient, Reminder.status, Reminder.attempts, Reminder.error
            ).where(Reminder.channel == "email")
        }
        assert rows["hao@example.com"]["status"] == "claimed" and "451" in rows["hao@example.com"]["error"]
        assert rows["sup@example.cn"]["status"] == "failed" and "550" in rows["sup@example.cn"]["error"]
        server.refuse.pop("hao@example.com")  # the greylisting period is over
        later = await sweep(settings=picky, now=AFTER_DUE + timedelta(minutes=11))
        assert later.retried == 1 and later.sent == 1
        assert [m["To"] for m in server.messages] == ["hao@example.com"]
        assert server.rcpt_attempts.count("sup@example.cn") == 1  # never asked again
        statuses = {r["recipient"]: r["status"] for r in await Reminder.select(Reminder.recipient, Reminder.status)}
        assert statuses["hao@example.com"] == "sent" and statuses["sup@example.cn"] == "failed"
    finally:
        controller.stop()


def test_a_single_mail_refused_for_now_is_transient_and_refused_for_good_is_permanent(settings: Any) -> None:
    server = PickyServer(greylisted="hao@example.com", unknown="sup@example.cn")
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        picky = replace(settings, smtp_url=f"smtp://127.0.0.1:{controller.port}")
        with pytest.raises(TransientMailError, match="451"):
            send_mail(picky, Mail(to=["hao@example.com"], subject="Your case", text="A plan is proposed."))
        with pytest.raises(PermanentMailError, match="550"):
            send_mail(picky, Mail(to=["sup@example.cn"], subject="Your case", text="A plan is proposed."))
        server.refuse.pop("hao@example.com")
        send_mail(picky, Mail(to=["hao@example.com"], subject="Your case", text="A plan is proposed."))
        assert [m["To"] for m in server.messages] == ["hao@example.com"]
    finally:
        controller.stop()


@pytest.mark.checklist(30)
async def test_a_worker_started_after_a_missed_step_catches_up_at_once(
    mail_settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    """Item 30: steps that fell due while no worker ran are swept as soon as `crossclaim worker` starts."""
    import signal
    import time

    await overdue_case(make_user)  # due in March: the worker was down across every step since
    await make_user("manager", email="mei@example.com")  # long overdue: the managers are told
    log_path = mail_settings.data_dir / "worker-catch-up.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=cli_env(mail_settings, REDIS_URL=mail_settings.redis_url),
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        started = time.monotonic()
        try:
            while time.monotonic() - started < 45 and await Reminder.count().where(Reminder.status == "sent") == 0:
                assert worker.poll() is None, log_path.read_text()
                await asyncio.sleep(0.3)
        finally:
            worker.send_signal(signal.SIGINT)  # Huey lets the running task finish on SIGINT
            worker.wait(timeout=30)
    caught_up = time.monotonic() - started
    assert await Reminder.count().where(Reminder.status == "sent") >= 1, log_path.read_text()[-3000:]
    assert caught_up < 30, "swept by the minute tick, not at start"


def test_one_sender_carries_html_and_attachments_over_shared_connections(settings: Any, smtp: tuple[Sink, str]) -> None:
    """The batch sender the sweep uses keeps what a single mail has: the HTML part and every attachment."""
    from app.notify.email import Attachment, send_mails

    sink, url = smtp
    mailer = replace(settings, smtp_url=url, mail_from="Crossclaim 售后 <support@example.com>")
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 4
    mails = [
        Mail(
            to=[f"sup{n}@example.cn"],
            subject=f"案件 AS-2026-{n:06d} 的索赔",
            text=f"Claim {n}",
            html=f"<p>Claim <b>{n}</b></p>",
            headers={"Message-ID": f"<m{n}@crossclaim.test>", "X-Crossclaim-Tag": f"tag{n}"},
            attachments=[Attachment(f"索赔包-{n}.pdf", pdf, "application/pdf")],
        )
        for n in range(60)  # enough for two connections at once
    ]
    deliveries = send_mails(mailer, mails)
    assert [d.status for d in deliveries] == ["sent"] * 60
    assert [d.message_id for d in deliveries] == [f"<m{n}@crossclaim.test>" for n in range(60)]
    received = {m["Message-ID"]: m for m in sink.messages}
    assert len(received) == 60
    message = received["<m7@crossclaim.test>"]
    assert str(message["Subject"]) == "案件 AS-2026-000007 的索赔" and message["X-Crossclaim-Tag"] == "tag7"
    assert "售后" in str(message["From"]) and message["To"] == "sup7@example.cn"
    assert message.get_body(("plain",)).get_content().strip() == "Claim 7"
    assert message.get_body(("html",)).get_content().strip() == "<p>Claim <b>7</b></p>"
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == "索赔包-7.pdf" and attached.get_content_type() == "application/pdf"
    assert attached.get_content() == pdf
