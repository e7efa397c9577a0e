"""Inbound mail end to end: a push by real SMTP, the supplier's reply APPENDed to a real Dovecot, the poll."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from app.cases.events import Actor
from app.cases.services import case_move
from app.cases.tables import Case, CaseEvent, Message
from app.evidence.limits import EvidenceLimits
from app.evidence.services import EvidencePolicy
from app.evidence.storage import LocalEvidenceStore, evidence_key
from app.evidence.tables import Evidence
from app.mail.imap import MailboxUnavailable, poll_mailbox
from app.mail.ingest import ingest_mail
from app.mail.outgoing import case_mail
from app.mail.tables import FailingAddress, InboundMail, SentMail
from app.notify.email import Mail
from app.notify.tables import Notification
from app.reminders.sweep import sweep
from app.tracking.policies import configure_policy
from app.trade.tables import Customer
from tests.conftest import ROOT, asgi_client, csrf_token, sign_in
from tests.integration.test_collaboration import Sink, photo, push, smtp, supplier_case
from tests.integration.test_reminders import AFTER_DUE, overdue_case
from tests.mail_server import Mailbox, dovecot

SUPPORT = "support@example.com"
SUPPLIER = "qa@supplier-a.cn"
TAGGED = re.compile(r"support\+(as-\d{4}-\d{6})\.s([a-z2-7]{10})@example\.com")


@pytest.fixture(scope="module")
def imap_server() -> Iterator[Mailbox]:
    with dovecot() as box:
        yield box


@pytest.fixture
def mailbox(imap_server: Mailbox) -> Mailbox:
    imap_server.empty()
    return imap_server


__all__ = ["smtp"]  # the loopback SMTP fixture of the collaboration tests, used here too


@pytest.fixture
def mail_settings(settings: Any, smtp: tuple[Sink, str], mailbox: Mailbox) -> Any:
    return replace(
        settings,
        smtp_url=smtp[1],
        reply_address=SUPPORT,
        imap_url=mailbox.url,
        imap_folder="INBOX",
    )


@pytest.fixture
async def staff(mail_settings: Any, bound_engine: Any, make_user: Any) -> AsyncIterator[Any]:
    from app.asgi import create_app

    async with asgi_client(create_app(mail_settings, engine=bound_engine)) as client:
        client.user = await make_user("handler")
        await sign_in(client, client.user)
        yield client


def store_of(settings: Any) -> LocalEvidenceStore:
    return LocalEvidenceStore(settings.data_dir / "evidence")


async def poll(settings: Any, policy: EvidencePolicy | None = None) -> dict[str, Any]:
    summary = await poll_mailbox(settings, store=store_of(settings), policy=policy or EvidencePolicy())
    return summary.as_dict()


def reply(
    push_mail: Any,
    *,
    body: str = "",
    sender: str = SUPPLIER,
    to: str | None = None,
    files: list[tuple[str, bytes, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """The supplier's answer as a mail client makes it: Re: subject, thread headers, quoted history, signature."""
    message = EmailMessage()
    message["From"] = f"Li Wei <{sender}>"
    message["To"] = to or str(push_mail["Reply-To"])
    message["Subject"] = f"Re: {push_mail['Subject']}"
    message["Message-ID"] = make_msgid(domain="supplier-a.cn")
    message["In-Reply-To"] = str(push_mail["Message-ID"])
    message["References"] = str(push_mail["Message-ID"])
    for name, value in (headers or {}).items():
        message[name] = value
    quoted = "\n".join(f"> {line}" for line in push_mail.get_body(("plain",)).get_content().splitlines())
    text = body or (
        "The housings cracked in transit; we will send 40 replacement units next week.\n"
        "A photo of the batch is attached.\n\n"
        "Best regards,\nLi Wei\nQA Manager, Supplier SUP-A\n\n"
        f"On Thu, 26 Nov 2026 at 09:00, Crossclaim <claims@crossclaim.localhost> wrote:\n{quoted}\n"
    )
    message.set_content(text)
    for filename, data, media_type in files or []:
        maintype, _, subtype = media_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


async def pushed_case(staff: Any, smtp: tuple[Sink, str]) -> tuple[Case, Any]:
    case = await supplier_case()
    await push(staff, case.number)
    assert smtp[0].messages, "the push mail was not sent"
    return case, smtp[0].messages[-1]


async def kinds(case_id: int) -> list[str]:
    rows = await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case_id).order_by(CaseEvent.id)
    return [row["kind"] for row in rows]


async def test_reply_round_trip_through_a_real_mailbox(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, sent = await pushed_case(staff, smtp)
    match = TAGGED.fullmatch(str(sent["Reply-To"]))
    assert match and match.group(1) == case.number.lower(), sent["Reply-To"]
    assert str(sent["X-Crossclaim-Tag"]) == str(sent["Reply-To"]).split("+")[1].split("@")[0]
    assert sent["Message-ID"]

    jpeg = photo((30, 120, 200))
    mailbox.append(reply(sent, files=[("batch.jpg", jpeg, "image/jpeg")]))
    assert await poll(mail_settings) == {"read": 1, "failed": 0, "posted": 1}
    assert [seen for _, seen in mailbox.flags()] == [True]

    messages = await Message.objects().where(Message.case == case.id)
    assert len(messages) == 1
    message = messages[0]
    assert (message.party, message.via, message.author_kind) == ("supplier", "email", "supplier")
    assert message.body.startswith("The housings cracked in transit")
    assert "A photo of the batch is attached." in message.body
    assert "wrote:" not in message.body and ">" not in message.body
    assert "Li Wei" not in message.body and "Best regards" not in message.body
    evidence = await Evidence.objects().where(Evidence.case == case.id)
    assert [(e.filename, e.party, e.status) for e in evidence] == [("batch.jpg", "supplier", "ok")]
    assert evidence[0].sha256 == evidence_key(jpeg).rsplit("/", 1)[1]
    inbound = await InboundMail.objects().first()
    assert inbound is not None and inbound.status == "posted" and inbound.message == message.id
    assert store_of(mail_settings).get(inbound.raw_key).startswith(b"From: Li Wei") or b"Li Wei" in (
        store_of(mail_settings).get(inbound.raw_key)
    )
    assert "message" in await kinds(case.id)

    thread = await staff.get(f"/cases/{case.number}/messages/supplier")
    assert thread.status_code == 200
    assert "via email" in thread.text and "The housings cracked in transit" in thread.text
    assert f"/evidence/{evidence[0].id}/thumb" in thread.text

    # Polled again: nothing unseen. The same mail delivered twice (a lost flag, a second copy): stored once.
    assert await poll(mail_settings) == {"read": 0, "failed": 0}
    raw = store_of(mail_settings).get(inbound.raw_key)
    mailbox.append(raw)
    assert await poll(mail_settings) == {"read": 1, "failed": 0, "duplicate": 1}
    assert await Message.count().where(Message.case == case.id) == 1
    assert await InboundMail.count() == 1
    assert all(seen for _, seen in mailbox.flags())

    # Our next mail to the supplier continues the thread.
    await push(staff, case.number)
    second = smtp[0].messages[-1]
    assert str(sent["Message-ID"]) in str(second["References"])
    assert str(second["In-Reply-To"]) == str(sent["Message-ID"])


CARRIER = "ops@carrier.example"


def delivery_report(*, to: str, failed: str, original_id: str = "") -> bytes:
    """A multipart/report bounce as a mail server writes it, naming the address that failed."""
    bounce = EmailMessage()
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.supplier-a.cn>"
    bounce["To"] = to
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = make_msgid(domain="mx.supplier-a.cn")
    bounce.set_content("This is the mail system at host mx.supplier-a.cn. Your message could not be delivered.")
    bounce.make_mixed()
    raw = bounce.as_bytes().replace(b"multipart/mixed", b'multipart/report; report-type="delivery-status"', 1)
    status = (
        b"Reporting-MTA: dns; mx.supplier-a.cn\r\n\r\n"
        b"Final-Recipient: rfc822; " + failed.encode() + b"\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    )
    original = (f"Message-ID: {original_id}\r\n" if original_id else "") + f"To: {failed}\r\nSubject: x\r\n\r\n"
    boundary = raw.split(b'boundary="')[1].split(b'"')[0]
    closing = b"--" + boundary + b"--"
    extra = (
        b"--" + boundary + b"\r\nContent-Type: message/delivery-status\r\n\r\n" + status + b"\r\n"
        b"--" + boundary + b"\r\nContent-Type: text/rfc822-headers\r\n\r\n" + original.encode() + b"\r\n"
    )
    return raw.replace(closing, extra + closing)


async def test_auto_reply_and_bounce_are_events_not_messages(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, sent = await pushed_case(staff, smtp)
    mailbox.append(reply(sent, body="I am out of the office until Monday.", headers={"Auto-Submitted": "auto-replied"}))
    mailbox.append(reply(sent, body="Thank you for your mail.", headers={"Precedence": "auto_reply"}))
    mailbox.append(reply(sent, body="Away.", headers={"X-Autoreply": "yes"}))
    mailbox.append(delivery_report(to=str(sent["Reply-To"]), failed=SUPPLIER, original_id=str(sent["Message-ID"])))

    assert await poll(mail_settings) == {"read": 4, "failed": 0, "auto_reply": 3, "bounce": 1}
    assert await Message.count().where(Message.case == case.id) == 0
    events = await kinds(case.id)
    assert events.count("mail_auto_reply") == 3 and events.count("mail_bounced") == 1
    failing = await FailingAddress.objects()
    assert [(f.address, f.party, f.case) for f in failing] == [(SUPPLIER, "supplier", case.id)]
    page = await staff.get("/mail/quarantine")
    assert page.status_code == 200 and SUPPLIER in page.text
    # A real answer from the address later shows it works again.
    mailbox.append(reply(sent, body="Our mail server is back."))
    assert await poll(mail_settings) == {"read": 1, "failed": 0, "posted": 1}
    assert await FailingAddress.count() == 0


async def test_a_bounce_marks_only_addresses_we_mailed_on_that_case(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, sent = await pushed_case(staff, smtp)
    await SentMail(message_id="carrier-1@crossclaim.test", case=case.id, party="carrier", recipient=CARRIER).save()
    # To the case's own reply address, but naming someone this case never mailed.
    mailbox.append(delivery_report(to=str(sent["Reply-To"]), failed="director@customer.example"))
    # On the supplier's thread, naming the address we mailed the carrier at: not the supplier's to report.
    mailbox.append(delivery_report(to=str(sent["Reply-To"]), failed=CARRIER))
    # Naming the supplier, but neither tagged nor in a thread of ours: nothing says we sent it.
    mailbox.append(delivery_report(to=mail_settings.reply_address, failed=SUPPLIER))
    assert await poll(mail_settings) == {"read": 3, "failed": 0, "bounce": 3}
    assert await FailingAddress.count() == 0
    bounced = (CaseEvent.case == case.id) & (CaseEvent.kind == "mail_bounced")
    events = await CaseEvent.objects().where(bounced).order_by(CaseEvent.id)
    data = [event.data if isinstance(event.data, dict) else json.loads(event.data) for event in events]
    assert [(d["addresses"], d["ignored"]) for d in data] == [([], ["director@customer.example"]), ([], [CARRIER])]
    assert [row["status"] for row in await InboundMail.select(InboundMail.status)] == ["bounce"] * 3


async def test_forged_tag_and_unknown_sender_are_quarantined_and_staff_decide(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, sent = await pushed_case(staff, smtp)
    tagged = str(sent["Reply-To"])
    forged = tagged[: tagged.index("@") - 3] + "aaa@example.com"
    mailbox.append(reply(sent, body="Please refund us instead.", to=forged))
    mailbox.append(reply(sent, body="I am the new contact for this case.", sender="someone@elsewhere.example"))
    assert await poll(mail_settings) == {"read": 2, "failed": 0, "quarantined": 2}
    assert await Message.count() == 0
    rows = await InboundMail.objects().order_by(InboundMail.id)
    assert [(r.status, r.reason) for r in rows] == [("quarantined", "forged_tag"), ("quarantined", "unknown_sender")]
    assert rows[0].case is None and rows[1].case == case.id
    assert all(seen for _, seen in mailbox.flags())

    page = await staff.get("/mail/quarantine")
    assert page.status_code == 200
    assert "someone@elsewhere.example" in page.text and "Please refund us instead." in page.text
    token = await csrf_token(staff)
    headers = {"HX-Request": "true", "x-csrftoken": token}
    assigned = await staff.post(
        f"/mail/quarantine/{rows[1].id}/assign", data={"number": case.number, "party": "supplier"}, headers=headers
    )
    assert assigned.status_code == 200, assigned.text
    assert f'id="inbound-{rows[1].id}"' in assigned.text and case.number in assigned.text
    message = await Message.objects().first()
    assert message is not None and message.body == "I am the new contact for this case." and message.via == "email"
    assert "mail_assigned" in await kinds(case.id)
    # Once assigned, that sender is known for this party: the next mail goes straight into the thread.
    mailbox.append(reply(sent, body="Following up.", sender="someone@elsewhere.example"))
    assert await poll(mail_settings) == {"read": 1, "failed": 0, "posted": 1}
    again = await staff.post(
        f"/mail/quarantine/{rows[1].id}/assign", data={"number": case.number, "party": "supplier"}, headers=headers
    )
    assert again.status_code == 409
    rejected = await staff.post(f"/mail/quarantine/{rows[0].id}/reject", headers=headers)
    assert rejected.status_code == 200 and "Rejected" in rejected.text
    statuses = [r["status"] for r in await InboundMail.select(InboundMail.status).order_by(InboundMail.id)]
    assert statuses == ["rejected", "posted", "posted"]
    bad = await staff.post(
        f"/mail/quarantine/{rows[0].id}/assign", data={"number": "AS-1999-000001", "party": "x"}, headers=headers
    )
    assert bad.status_code in (409, 422)
    original = await staff.get(f"/mail/inbound/{rows[0].id}/original.eml")
    assert original.status_code == 200 and b"Please refund us instead." in original.content
    assert original.headers["content-disposition"].startswith("attachment")


async def test_a_quarantined_mail_clicked_at_once_by_several_is_dealt_with_once(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, sent = await pushed_case(staff, smtp)
    mailbox.append(reply(sent, body="From a new colleague.", sender="new@elsewhere.example"))
    mailbox.append(reply(sent, body="Another one.", sender="other@elsewhere.example"))
    assert await poll(mail_settings) == {"read": 2, "failed": 0, "quarantined": 2}
    first, second = await InboundMail.objects().order_by(InboundMail.id)
    headers = {"HX-Request": "true", "x-csrftoken": await csrf_token(staff)}
    form = {"number": case.number, "party": "supplier"}
    clicks = await asyncio.gather(
        *(staff.post(f"/mail/quarantine/{first.id}/assign", data=form, headers=headers) for _ in range(3)),
        staff.post(f"/mail/quarantine/{first.id}/reject", headers=headers),
    )
    assert sorted(click.status_code for click in clicks) == [200, 409, 409, 409], [c.text[:200] for c in clicks]
    assert await Message.count() == (1 if clicks[-1].status_code == 409 else 0)
    # Assign and reject of the other one at the same moment: one of them, never both.
    both = await asyncio.gather(
        staff.post(f"/mail/quarantine/{second.id}/reject", headers=headers),
        staff.post(f"/mail/quarantine/{second.id}/assign", data=form, headers=headers),
    )
    assert sorted(click.status_code for click in both) == [200, 409]
    status = (await InboundMail.select(InboundMail.status).where(InboundMail.id == second.id).first())["status"]
    assert status == ("rejected" if both[0].status_code == 200 else "posted")
    assert await Message.count().where(Message.body == "Another one.") == (0 if status == "rejected" else 1)


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("gbk", "外壳在运输中破裂，我们下周补发四十件。"),
        ("big5", "外殼在運輸中破裂，我們下週補發四十件。"),
        ("shift_jis", "ハウジングが輸送中に割れました。来週交換品を送ります。"),
    ],
)
async def test_cjk_charsets_are_decoded(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any, charset: str, text: str
) -> None:
    case, sent = await pushed_case(staff, smtp)
    headers = (
        f"From: {SUPPLIER}\r\nTo: {sent['Reply-To']}\r\nSubject: Re: case\r\n"
        f"Message-ID: <{charset}-reply@supplier-a.cn>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    mailbox.append(headers.encode("ascii") + text.encode(charset) + b"\r\n")
    assert await poll(mail_settings) == {"read": 1, "failed": 0, "posted": 1}
    message = await Message.objects().where(Message.case == case.id).first()
    assert message is not None and message.body == text


async def test_bad_input_never_crashes_and_is_never_lost(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, sent = await pushed_case(staff, smtp)
    tagged = str(sent["Reply-To"])
    # Malformed MIME: a multipart without its boundary, a broken base64 part, an unknown charset.
    mailbox.append(
        f"From: {SUPPLIER}\r\nTo: {tagged}\r\nMessage-ID: <broken-1@x>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed\r\n\r\n--nothing\r\nContent-Type: text/plain\r\n\r\nhalf a mail\r\n".encode()
    )
    mailbox.append(b"\x00\xff\xfe not a mail at all \r\n\r\n\x80\x81")
    mailbox.append(
        f"From: {SUPPLIER}\r\nTo: {tagged}\r\nMessage-ID: <odd-charset@x>\r\n"
        "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n".encode()
        + "我们同意更换全部四十件外壳，费用由我方承担。".encode("gb18030")
    )
    # HTML only, with a script: text only reaches the thread.
    html = EmailMessage()
    html["From"] = SUPPLIER
    html["To"] = tagged
    html["Message-ID"] = "<html-only@x>"
    html["Subject"] = "Re: case"
    html.set_content(
        "<html><head><script>alert('x')</script><style>p{}</style></head><body><p>Refund <b>approved</b>.</p>"
        "<script>document.cookie</script><blockquote>old text</blockquote></body></html>",
        subtype="html",
    )
    mailbox.append(html.as_bytes())
    assert (await poll(mail_settings))["failed"] == 0
    assert all(seen for _, seen in mailbox.flags())
    rows = {r.message_id: r for r in await InboundMail.objects()}
    assert len(rows) == 4 and all(r.raw_key for r in rows.values())
    bodies = {m.external_id: m.body for m in await Message.objects()}
    assert bodies["html-only@x"] == "Refund approved."
    assert "我们同意更换全部四十件外壳" in bodies["odd-charset@x"]
    # A multipart without a boundary is read as the text it holds: posted, nothing of it lost.
    assert rows["broken-1@x"].status == "posted" and "half a mail" in bodies["broken-1@x"]
    unparsed = [r for r in rows.values() if r.message_id.startswith("sha256:")]
    assert len(unparsed) == 1 and unparsed[0].status == "quarantined"
    thread = await staff.get(f"/cases/{case.number}/messages/supplier")
    assert "<script>" not in thread.text.split("<main", 1)[-1] or "alert(" not in thread.text
    assert "document.cookie" not in thread.text


async def test_oversized_attachment_is_refused_and_the_text_kept(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, sent = await pushed_case(staff, smtp)
    big = photo((10, 10, 10)) + os.urandom(300_000)
    mailbox.append(reply(sent, body="Here is the full-size photo.", files=[("huge.jpg", big, "image/jpeg")]))
    small = EvidencePolicy(limits=EvidenceLimits(max_image_bytes=100_000))
    assert await poll(mail_settings, small) == {"read": 1, "failed": 0, "posted": 1}
    message = await Message.objects().first()
    assert message is not None and message.body == "Here is the full-size photo."
    refused = await Evidence.objects().where(Evidence.case == case.id)
    assert [(e.filename, e.status) for e in refused] == [("huge.jpg", "failed")]
    assert "evidence_failed" in await kinds(case.id)


async def test_mail_on_a_closed_case_is_attached_and_the_handler_told(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, sent = await pushed_case(staff, smtp)
    await Case.update({Case.assignee: staff.user.id}).where(Case.id == case.id)
    await case_move(actor=Actor.system(), number=case.number, target="cancelled", reason="Duplicate report")
    mailbox.append(reply(sent, body="Sorry for the late answer: we accept."))
    assert await poll(mail_settings) == {"read": 1, "failed": 0, "posted": 1}
    assert await Message.count().where(Message.case == case.id) == 1
    assert "mail_after_close" in await kinds(case.id)
    notes = await Notification.objects().where(Notification.user == staff.user.id)
    assert len(notes) == 1 and case.number in notes[0].text


async def test_thread_headers_alone_find_the_case(staff: Any, smtp: tuple[Sink, str], mail_settings: Any) -> None:
    """A reply sent to the plain support address (the tag lost) still lands through In-Reply-To."""
    case, sent = await pushed_case(staff, smtp)
    raw = reply(sent, body="Answering from another client.", to=SUPPORT)
    outcome = await ingest_mail(raw, settings=mail_settings, store=store_of(mail_settings), policy=EvidencePolicy())
    assert (outcome.status, outcome.case_number) == ("posted", case.number)
    unrelated = reply(sent, body="Hello?", to=SUPPORT).replace(b"In-Reply-To:", b"X-Old-In-Reply-To:")
    unrelated = unrelated.replace(b"References:", b"X-Old-References:")
    outcome = await ingest_mail(
        unrelated, settings=mail_settings, store=store_of(mail_settings), policy=EvidencePolicy()
    )
    assert (outcome.status, outcome.reason) == ("quarantined", "unattributable")


async def test_cli_ingests_an_eml_file_and_polls_the_mailbox(
    staff: Any, smtp: tuple[Sink, str], mail_settings: Any, mailbox: Mailbox, tmp_path: Path
) -> None:
    case, sent = await pushed_case(staff, smtp)
    eml = tmp_path / "reply.eml"
    eml.write_bytes(reply(sent, body="Sent from the command line."))
    env = {
        **os.environ,
        "DATABASE_URL": mail_settings.database_url,
        "CROSSCLAIM_DATA_DIR": str(mail_settings.data_dir),
        "CROSSCLAIM_SECRET_KEY": mail_settings.secret_key,
        "CROSSCLAIM_REPLY_ADDRESS": SUPPORT,
    }
    command = [sys.executable, "-m", "app.cli", "mail", "ingest", str(eml)]
    first = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"status": "posted", "inbound_id": 1, "case": case.number, "reason": ""}
    second = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert json.loads(second.stdout)["status"] == "duplicate"
    missing = subprocess.run([*command[:-1], str(tmp_path / "nope.eml")], env=env, cwd=ROOT, capture_output=True)
    assert missing.returncode == 2
    message = await Message.objects().where(Message.case == case.id).first()
    assert message is not None and message.body == "Sent from the command line."

    poll_command = [sys.executable, "-m", "app.cli", "mail", "poll"]
    unset = subprocess.run(poll_command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert unset.returncode == 2 and "CROSSCLAIM_IMAP_URL" in unset.stderr
    env["CROSSCLAIM_IMAP_URL"] = mail_settings.imap_url.replace("imap-test-secret", "wrong-password")
    refused = subprocess.run(poll_command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "the mailbox cannot be read" in refused.stderr, refused.stderr
    mailbox.append(reply(sent, body="And this one came through the mailbox."))
    env["CROSSCLAIM_IMAP_URL"] = mail_settings.imap_url
    polled = subprocess.run(poll_command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert polled.returncode == 0, polled.stderr
    assert json.loads(polled.stdout) == {"read": 1, "failed": 0, "posted": 1}
    assert await Message.count().where(Message.case == case.id) == 2
    assert [seen for _, seen in mailbox.flags()] == [True]


async def test_our_thread_message_is_mailed_and_its_reply_comes_back(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    case, pushed = await pushed_case(staff, smtp)
    posted = await staff.post(
        f"/cases/{case.number}/messages/supplier",
        data={"body": "Could you send the batch number too?", "_csrf_token": await csrf_token(staff)},
    )
    assert posted.status_code == 303, posted.text
    mailed = smtp[0].messages[-1]
    assert mailed is not pushed and mailed["To"] == SUPPLIER
    assert "Could you send the batch number too?" in mailed.get_body(("plain",)).get_content()
    assert mailed["Reply-To"] == pushed["Reply-To"]
    assert mailed["In-Reply-To"] == pushed["Message-ID"]
    assert "message_mail_sent" in await kinds(case.id)

    mailbox.append(reply(mailed, body="Batch 2026-11-07-B.\n\nOn Thu, Crossclaim wrote:\n> Could you send it?"))
    assert await poll(mail_settings) == {"read": 1, "failed": 0, "posted": 1}
    bodies = [m.body for m in await Message.objects().where(Message.case == case.id).order_by(Message.id)]
    assert bodies == ["Could you send the batch number too?", "Batch 2026-11-07-B."]


async def test_customer_reply_to_an_update_is_on_the_case_timeline(staff: Any, mail_settings: Any) -> None:
    customer = Customer(name="Zhang San", email="zhang@customer.example", language="zh")
    await customer.save()
    case = await supplier_case()
    await Case.update({Case.customer: customer.id}).where(Case.id == case.id)
    update = Mail(to=[customer.email], subject=f"[{case.number}] update", text="Your case has moved on.")
    sent = await case_mail(mail_settings, update, case_id=case.id, number=case.number, party="customer")
    assert sent.reply_to is not None and ".u" in sent.reply_to
    answer = EmailMessage()
    answer["From"] = customer.email
    answer["To"] = sent.reply_to
    answer["Message-ID"] = "<customer-answer@customer.example>"
    answer["Subject"] = "Re: update"
    answer.set_content("谢谢，请尽快发货。\n\n在 2026年11月26日 10:00，Crossclaim 写道：\n> Your case has moved on.")
    outcome = await ingest_mail(
        answer.as_bytes(), settings=mail_settings, store=store_of(mail_settings), policy=EvidencePolicy()
    )
    assert (outcome.status, outcome.case_number) == ("posted", case.number)
    page = await staff.get(f"/cases/{case.number}")
    assert page.status_code == 200 and "谢谢，请尽快发货。" in page.text and "Your case has moved on" not in page.text


async def test_reminders_to_the_supplier_carry_the_reply_address_and_staff_reminders_do_not(
    settings: Any, smtp: tuple[Sink, str], make_user: Any
) -> None:
    configure_policy(settings.data_dir)
    reminded = replace(settings, smtp_url=smtp[1], reply_address=SUPPORT)
    case, handler = await overdue_case(make_user)
    await sweep(settings=reminded, now=AFTER_DUE)
    by_recipient = {str(mail["To"]): mail for mail in smtp[0].messages}
    supplier_mail = by_recipient["sup@example.cn"]
    assert TAGGED.fullmatch(str(supplier_mail["Reply-To"])), supplier_mail["Reply-To"]
    assert case.number.lower() in str(supplier_mail["X-Crossclaim-Tag"])
    assert by_recipient[handler.email]["Reply-To"] is None


async def test_the_worker_reads_the_mailbox_on_its_schedule(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any
) -> None:
    """The real `crossclaim worker`: its periodic task reads the mailbox (interval 1 minute: at once on start)."""
    case, sent = await pushed_case(staff, smtp)
    mailbox.append(reply(sent, body="Read by the worker."))
    env = {
        **os.environ,
        "DATABASE_URL": mail_settings.database_url,
        "REDIS_URL": mail_settings.redis_url,
        "CROSSCLAIM_DATA_DIR": str(mail_settings.data_dir),
        "CROSSCLAIM_SECRET_KEY": mail_settings.secret_key,
        "CROSSCLAIM_REPLY_ADDRESS": SUPPORT,
        "CROSSCLAIM_IMAP_URL": mail_settings.imap_url,
        "CROSSCLAIM_IMAP_INTERVAL": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if await Message.count().where(Message.case == case.id):
                break
            await asyncio.sleep(0.1)  # waiting for another process to commit
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=30)
    message = await Message.objects().where(Message.case == case.id).first()
    assert message is not None and message.body == "Read by the worker." and message.via == "email"
    assert [seen for _, seen in mailbox.flags()] == [True]


async def test_imaps_with_a_verified_certificate(
    staff: Any, smtp: tuple[Sink, str], mailbox: Mailbox, mail_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """imaps:// verifies the server's certificate (here a self-signed one the system is told to trust)."""
    case, sent = await pushed_case(staff, smtp)
    mailbox.append(reply(sent, body="Over TLS."))
    tls = replace(mail_settings, imap_url=mailbox.tls_url)
    with pytest.raises(MailboxUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await poll(tls)
    assert [seen for _, seen in mailbox.flags()] == [False]
    monkeypatch.setenv("SSL_CERT_FILE", str(mailbox.certificate))
    assert await poll(tls) == {"read": 1, "failed": 0, "posted": 1}
    assert [seen for _, seen in mailbox.flags()] == [True]
    assert await Message.count().where(Message.case == case.id) == 1


async def test_two_readers_of_one_mail_store_it_once(staff: Any, smtp: tuple[Sink, str], mail_settings: Any) -> None:
    """Two workers reading the same mail at once (a second poller, a re-delivery): one message, one duplicate."""
    case, sent = await pushed_case(staff, smtp)
    raw = reply(sent, body="Sent once, read twice.", files=[("label.jpg", photo((90, 90, 200)), "image/jpeg")])
    store, policy = store_of(mail_settings), EvidencePolicy()
    outcomes = await asyncio.gather(
        *[ingest_mail(raw, settings=mail_settings, store=store, policy=policy) for _ in range(3)]
    )
    assert sorted(o.status for o in outcomes) == ["duplicate", "duplicate", "posted"]
    assert await Message.count().where(Message.case == case.id) == 1
    assert await InboundMail.count() == 1
    assert await Evidence.count().where(Evidence.case == case.id) == 1


FAILED_DMARC = (
    "mx.crossclaim.example; spf=fail smtp.mailfrom=supplier-a.cn; dkim=none; dmarc=fail header.from=supplier-a.cn"
)
PASSED = "mx.crossclaim.example; spf=pass smtp.mailfrom=supplier-a.cn; dkim=pass header.d=supplier-a.cn; dmarc=pass"


@pytest.mark.checklist(34)
async def test_a_forged_sender_is_recorded_warned_about_and_quarantined_when_the_company_says_so(
    staff: Any, smtp: tuple[Sink, str], mail_settings: Any
) -> None:
    """A known address and a valid tag, but the receiving server's DMARC says fail: the verdicts are kept
    on the mail, the message is posted with a warning; with the setting on it waits in quarantine."""
    case, sent = await pushed_case(staff, smtp)
    ours = replace(mail_settings, mail_authserv_id="mx.crossclaim.example")
    store, policy = store_of(ours), EvidencePolicy()

    async def receive(body: str, *results: str) -> Any:
        # A forger writes a passing header of their own below the one our server puts on top.
        headers = [("Authentication-Results", value) for value in results]
        raw = reply(sent, body=body)
        for name, value in reversed(headers):
            raw = f"{name}: {value}\r\n".encode() + raw
        return await ingest_mail(raw, settings=ours, store=store, policy=policy)

    forged = await receive("Please refund to account 123.", FAILED_DMARC, PASSED.replace("mx.crossclaim", "evil"))
    genuine = await receive("Replacement units ship Monday.", PASSED)
    assert (forged.status, genuine.status) == ("posted", "posted")
    rows = await InboundMail.objects().order_by(InboundMail.id)
    assert [row.authentication for row in rows] == ["spf=fail dkim=none dmarc=fail", "spf=pass dkim=pass dmarc=pass"]
    checks = {m.body: m.sender_check for m in await Message.objects()}
    assert checks == {
        "Please refund to account 123.": "spf=fail dkim=none dmarc=fail",
        "Replacement units ship Monday.": "",
    }
    page = await staff.get(f"/cases/{case.number}/messages/supplier")
    warnings = BeautifulSoup(page.text, "html.parser").select(".sender-not-verified")
    assert len(warnings) == 1 and "dmarc=fail" in warnings[0].get_text()

    strict = replace(ours, mail_quarantine_unverified=True)
    held = await ingest_mail(
        f"Authentication-Results: {FAILED_DMARC}\r\n".encode() + reply(sent, body="Change of bank details."),
        settings=strict,
        store=store,
        policy=policy,
    )
    assert (held.status, held.reason) == ("quarantined", "sender_not_verified")
    assert await Message.count() == 2
    quarantine = await staff.get("/mail/quarantine")
    assert "could not verify the sender" in quarantine.text
