"""Filing a report: the case (once per client key), its customer, handler and evidence in one transaction."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from app.cases.assignment import assign_on_intake
from app.cases.events import Actor, lock_case
from app.cases.responsibility import hint_refresh
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case
from app.db import atomic, current_engine, is_sqlite
from app.errors import ValidationFailed
from app.evidence.services import (
    AttachedEvidence,
    EvidencePolicy,
    PreparedUpload,
    Upload,
    check_uploads,
    evidence_attach,
    prepare_uploads,
    uploader_id,
)
from app.evidence.storage import EvidenceStore
from app.i18n import company_zone
from app.i18n import gettext as _
from app.intake.report import IntakeReport, build_draft
from app.trade.tables import Customer

# A client key is the reporting device's UUID; anything else is refused before it reaches the database.
CLIENT_KEY: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True)
class IntakeResult:
    case: Case
    created: bool  # False when an earlier request with the same client key made the case
    evidence: list[AttachedEvidence]


def checked_client_key(client_key: str | None) -> str | None:
    """The client key, or None for none; a malformed one is a 422 naming the header."""
    if client_key is None or not client_key.strip():
        return None
    key = client_key.strip()
    if not CLIENT_KEY.fullmatch(key):
        raise ValidationFailed(
            _("The idempotency key is not valid."),
            fields=[("Idempotency-Key", _("Send a UUID (8 to 64 letters, digits, - or _), new for each report."))],
        )
    return key


async def intake_submit(
    *,
    actor: Actor,
    report: IntakeReport,
    uploads: Sequence[Upload],
    client_key: str | None,
    store: EvidenceStore,
    policy: EvidencePolicy,
    today: date | None = None,
) -> IntakeResult:
    """File a report: the case (or the one this client key already made), its handler and its evidence.

    A refused file never stops the report: it is recorded as failed with the reason. Sending the same
    report again with the same key attaches any file that is not on the case yet, and nothing twice.
    """
    key = checked_client_key(client_key)
    check_uploads(uploads, policy)
    draft = await build_draft(report, today=today or datetime.now(UTC).date())
    existing = await _case_for_key(key, draft.digest()) if key else None
    # Files are checked and stored before the case exists, so a slow upload holds no database lock.
    prepared = await prepare_uploads(uploads, store=store, policy=policy, uploader=uploader_id(actor))
    try:
        return await _file(actor, report, draft, key=key, existing=existing, prepared=prepared, today=today)
    except Exception:
        # Two requests with one key at once: the loser's transaction failed on the unique key and was
        # rolled back whole; the winner's case is there now, and the files go onto it.
        winner = await _case_for_key(key, draft.digest()) if key and existing is None else None
        if winner is None:
            raise
        return await _file(actor, report, draft, key=key, existing=winner, prepared=prepared, today=today)


async def _file(
    actor: Actor,
    report: IntakeReport,
    draft: CaseDraft,
    *,
    key: str | None,
    existing: Case | None,
    prepared: Sequence[PreparedUpload],
    today: date | None,
) -> IntakeResult:
    """The rows of a report in one transaction: the case, its handler, its evidence and its hint commit
    together or not at all, so a crash never leaves a case without the photos it was reported with."""
    async with atomic():
        if existing is not None:
            case, created = existing, False
        else:
            outcome = await case_create(actor=actor, draft=draft, client_key=key)
            case, created = outcome.case, outcome.created
        case = await _settle(case, report=report, actor=actor, supplier_id=draft.supplier_id)
        attached = await evidence_attach(actor=actor, case_id=case.id, prepared=prepared)
        if created:
            # The handler opens the case to a responsibility hint and its claim clocks already worked out.
            case = await hint_refresh(case_id=case.id, actor=actor, today=today or datetime.now(UTC).date())
    return IntakeResult(case=case, created=created, evidence=attached)


async def _case_for_key(client_key: str, digest: str) -> Case | None:
    case = await Case.objects().where(Case.client_key == client_key).first()
    if case is not None and case.client_digest != digest:
        raise ValidationFailed(
            _("This idempotency key was already used for a different report."),
            fields=[("Idempotency-Key", _("Send a new key for a new report."))],
        )
    return case


async def _settle(case: Case, *, report: IntakeReport, actor: Actor, supplier_id: int | None) -> Case:
    """Customer, expected handling time and handler: set once, and again only where still missing (replays)."""
    now = datetime.now(UTC)
    async with atomic():
        await lock_case(case.id)
        current = await Case.objects().where(Case.id == case.id).first()
        assert current is not None
        changes: dict[Any, Any] = {}
        if current.customer is None and (report.customer_name or report.customer_email or report.customer_phone):
            changes[Case.customer] = await _customer_for(report)
        if current.expected_days is None and report.expected_days is not None:
            changes[Case.expected_days] = report.expected_days
        if changes:
            changes[Case.updated_at] = now
            await Case.update(changes).where(Case.id == case.id)
        await assign_on_intake(case_id=case.id, supplier_id=supplier_id, now=now)
    settled = await Case.objects().where(Case.id == case.id).first()
    assert settled is not None
    return settled


async def _customer_for(report: IntakeReport) -> int:
    """The customer with this email, else this phone, else this exact name; a new one when none matches.

    Runs inside the caller's transaction. Two reports for one new customer must not both find nobody
    and create two: on PostgreSQL a transaction-scoped advisory lock on the customer's identity makes
    the second wait for the first's commit (SQLite's IMMEDIATE transactions already queue writers).
    """
    identity = (report.customer_email or report.customer_phone or report.customer_name).strip().lower()
    if identity and not is_sqlite(current_engine()):
        await Customer.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"customer:{identity}")
    for column, value in (
        (Customer.email, report.customer_email),
        (Customer.phone, report.customer_phone),
        (Customer.name, report.customer_name),
    ):
        if value:
            found = await Customer.select(Customer.id).where(column == value).order_by(Customer.id).first()
            if found:
                return int(found["id"])
    customer = Customer(
        name=report.customer_name or report.customer_email or report.customer_phone,
        email=report.customer_email,
        phone=report.customer_phone,
        language=report.customer_language or "zh",
        region=report.region,
        time_zone=company_zone(),  # customers are at home
    )
    await customer.save()
    return int(customer.id)
