"""The push mail to a supplier or carrier, made and sent by the worker after the push has committed.

The push itself (the link, the clock, the timeline) is written in the request's transaction; the mail,
the claim-pack PDF and the SMTP conversation happen here, so a push — or a bulk push of a hundred cases —
answers at once and the case page shows "sending", then "sent" or "failed" with a retry. The link's token
exists only in the mail: the task carries it sealed with the app's secret key, never in clear in the queue.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
from datetime import date

import anyio.to_thread
from cryptography.fernet import Fernet
from jinja2 import Environment
from piccolo.utils.sync import run_sync

from app.cases.tables import Case
from app.collaboration import claim_pack, services
from app.collaboration.tables import AccessLink
from app.evidence.storage import store_from_url
from app.i18n import current_language
from app.mail.outgoing import case_mail, push_mail
from app.notify.email import send_mail
from app.queue import huey, queue_settings
from app.settings import Settings
from app.templating import template_environment

log = logging.getLogger("crossclaim.collaboration")


def _fernet(settings: Settings) -> Fernet:
    key = hashlib.sha256(b"crossclaim push token:" + settings.secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(settings: Settings, token: str) -> str:
    return _fernet(settings).encrypt(token.encode()).decode()


def unseal(settings: Settings, sealed: str) -> str:
    return _fernet(settings).decrypt(sealed.encode()).decode()


def enqueue_push(
    settings: Settings, pushed: services.Pushed, *, requirement: str, reply_by: date, attach_pack: bool
) -> None:
    """Queue the push mail; call after the push's transaction has committed (the task reads its rows)."""
    send_push_mail(
        case_id=pushed.case.id,
        link_id=pushed.link.id,
        sealed=seal(settings, pushed.token),
        requirement=requirement,
        reply_by=reply_by.isoformat(),
        attach_pack=attach_pack,
        note=pushed.note,
    )


@huey.task(retries=0)  # type: ignore[untyped-decorator]
def send_push_mail(
    *, case_id: int, link_id: int, sealed: str, requirement: str, reply_by: str, attach_pack: bool, note: str
) -> str:
    # Not retried by the queue: a failure is recorded on the case, and the handler retries with a fresh link.
    settings = queue_settings()
    return str(
        run_sync(
            deliver_push(
                settings,
                case_id=case_id,
                link_id=link_id,
                token=unseal(settings, sealed),
                requirement=requirement,
                reply_by=date.fromisoformat(reply_by),
                attach_pack=attach_pack,
                note=note,
            )
        )
    )


@functools.cache
def _environment() -> Environment:
    return template_environment()


async def deliver_push(
    settings: Settings,
    *,
    case_id: int,
    link_id: int,
    token: str,
    requirement: str,
    reply_by: date,
    attach_pack: bool,
    note: str,
) -> str:
    """Make the mail (with the claim pack in the party's language when asked), send it, record how it went."""
    case = await Case.objects().where(Case.id == case_id).first()
    link = await AccessLink.objects().where(AccessLink.id == link_id).first()
    if case is None or link is None:
        return "gone"
    pushed = services.Pushed(case=case, link=link, token=token, note=note)
    error = ""
    try:
        pdf = None
        if attach_pack:
            marker = current_language.set(link.language)
            try:
                store = store_from_url(settings.evidence_url, settings.data_dir)
                context = await claim_pack.claim_pack_context(case.number, store=store, party=link.party)
                pdf = await claim_pack.claim_pack_pdf(_environment(), context)
            finally:
                current_language.reset(marker)
        mail = await push_mail(settings, pushed, requirement=requirement, reply_by=reply_by, pdf=pdf)
        mail = await case_mail(settings, mail, case_id=case.id, number=case.number, party=link.party)
        await anyio.to_thread.run_sync(send_mail, settings, mail)
    except Exception as failure:  # any trouble (SMTP, the PDF) is shown on the case, never a lost push
        log.warning("push mail failed", extra={"case": case.number, "error": str(failure)})
        error = str(failure) or type(failure).__name__
    await services.mail_result(case_id=case.id, link_id=link.id, error=error)
    return "failed" if error else "sent"
