"""Standardized intake: a report from the dock becomes a case with its order, customer, handler and evidence."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from app.cases.assignment import pick_assignee
from app.cases.events import Actor, lock_case, record_event
from app.cases.responsibility import hint_refresh
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, CaseEvent
from app.cases.taxonomy import PROBLEM_TYPES
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
from app.rules import FACTS, FactsError, parse_facts
from app.rules.facts import N_
from app.trade.tables import Customer, OrderLine, Product, PurchaseOrder

# "PO-1234#2" names line 2 of order PO-1234, as printed on our pick lists.
LINE_SEPARATOR: Final = "#"
# A client key is the reporting device's UUID; anything else is refused before it reaches the database.
CLIENT_KEY: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
LANGUAGE_CODE: Final = re.compile(r"[a-z]{2,3}(-[A-Za-z]{2,4})?")
MAX_EXPECTED_DAYS: Final = 365


@dataclass(frozen=True)
class OrderLineInfo:
    id: int
    line_no: int
    product_id: int
    sku: str
    name: str
    quantity_ordered: int
    quantity_delivered: int


@dataclass(frozen=True)
class OrderInfo:
    """What the purchase order says about a shipment: the parties, terms and lines a report links to."""

    purchase_order_id: int
    number: str
    supplier_id: int
    supplier_name: str
    carrier_id: int | None
    carrier_name: str
    incoterm: str
    transport_mode: str
    region: str
    delivered_on: date | None
    lines: tuple[OrderLineInfo, ...]
    currency: str = ""  # the order's: claims and plans on its case are in it

    def line(self, line_no: int | None) -> OrderLineInfo | None:
        """The named line, or the only one when the order has just one."""
        if line_no is None:
            return self.lines[0] if len(self.lines) == 1 else None
        return next((line for line in self.lines if line.line_no == line_no), None)


WHOLE_NUMBER = re.compile(r"[-+]?[0-9]+")


def split_order_number(text: str) -> tuple[str, int | None]:
    """("PO-1", 2) from "PO-1#2"; a suffix that is not a number stays part of the order number."""
    number, separator, suffix = text.strip().rpartition(LINE_SEPARATOR)
    if separator and number and suffix.strip().isdigit():
        return number.strip(), int(suffix)
    return text.strip(), None


async def order_lookup(order_number: str) -> OrderInfo | None:
    """The purchase order with this number and its lines, or None when we have no such order on file."""
    number, _line = split_order_number(order_number)
    if not number:
        return None
    order = (
        await PurchaseOrder.objects(PurchaseOrder.supplier, PurchaseOrder.carrier)
        .where(PurchaseOrder.number == number)
        .first()
    )
    if order is None:
        return None
    lines = await (
        OrderLine.select(
            OrderLine.id,
            OrderLine.line_no,
            OrderLine.product.id.as_alias("product_id"),
            OrderLine.product.sku.as_alias("sku"),
            OrderLine.product.name.as_alias("name"),
            OrderLine.quantity_ordered,
            OrderLine.quantity_delivered,
        )
        .where(OrderLine.purchase_order == order.id)
        .order_by(OrderLine.line_no)
    )
    carrier = order.carrier if order.carrier is not None and order.carrier.id else None
    return OrderInfo(
        purchase_order_id=order.id,
        number=order.number,
        supplier_id=order.supplier.id,
        supplier_name=order.supplier.name,
        carrier_id=carrier.id if carrier else None,
        carrier_name=carrier.name if carrier else "",
        incoterm=order.incoterm,
        transport_mode=order.transport_mode,
        region=order.region,
        delivered_on=order.delivered_on,
        lines=tuple(OrderLineInfo(**line) for line in lines),
        currency=order.currency or "",
    )


@dataclass(frozen=True)
class IntakeReport:
    """What a reporter sent, normalised: the same report twice compares (and hashes) equal."""

    problem_type: str
    order_number: str = ""
    order_line: int | None = None
    product_sku: str = ""
    quantity_affected: int = 1
    description: str = ""
    customer_name: str = ""
    customer_email: str = ""
    customer_phone: str = ""
    customer_language: str = ""
    region: str = ""
    urgency: str = "normal"
    expected_days: int | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """A fingerprint of the report as sent, to tell a replay from a different report under one key."""
        body = json.dumps(asdict(self), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()

    def problems(self) -> list[tuple[str, str]]:
        """The report's own mistakes, each with what to do (the draft adds the case's checks)."""
        found: list[tuple[str, str]] = []
        for name, limit in (("order_number", 60), ("product_sku", 60), ("region", 60), ("customer_name", 200)):
            if len(getattr(self, name)) > limit:
                found.append((name, _("Keep this under %(count)s characters.", count=limit)))
        if self.customer_email and ("@" not in self.customer_email or len(self.customer_email) > 254):
            found.append(("customer_email", _("Enter an email address like name@example.com, or leave it empty.")))
        if len(self.customer_phone) > 40:
            found.append(("customer_phone", _("Keep the phone number under 40 characters.")))
        if self.customer_language and not LANGUAGE_CODE.fullmatch(self.customer_language):
            found.append(("customer_language", _("Use a language code such as zh or en.")))
        if self.expected_days is not None and not 1 <= self.expected_days <= MAX_EXPECTED_DAYS:
            found.append(
                ("expected_days", _("Enter between 1 and %(count)s days, or leave it empty.", count=MAX_EXPECTED_DAYS))
            )
        return found


def report_from_fields(fields: Mapping[str, Any], facts: Mapping[str, Any]) -> IntakeReport:
    """An IntakeReport from form or JSON fields; numbers that are not numbers are named in a 422."""
    problems: list[tuple[str, str]] = []

    def text(name: str) -> str:
        value = fields.get(name)
        if value is None or isinstance(value, str):
            # NUL never means anything in a report, and PostgreSQL cannot store it in text.
            return value.replace("\x00", "").strip() if value else ""
        # A JSON client sent a list, an object, a number or true: refused by name, never silently dropped.
        problems.append((name, _("Send this field as text.")))
        return ""

    def number(name: str, default: int | None) -> int | None:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        # ASCII digits only: int() would also take "1_000", "٣" or "²" (and a bool is an int to Python).
        raw = str(value).strip()
        if isinstance(value, bool) or not WHOLE_NUMBER.fullmatch(raw):
            problems.append((name, _("Enter a whole number.")))
            return default
        return int(raw)

    order_number, line_from_number = split_order_number(text("order_number"))
    report = IntakeReport(
        problem_type=text("problem_type"),
        order_number=order_number,
        order_line=number("order_line", line_from_number),
        product_sku=text("product_sku"),
        quantity_affected=number("quantity_affected", 1) or 0,
        description=text("description").replace("\r\n", "\n"),
        customer_name=text("customer_name"),
        customer_email=text("customer_email").lower(),
        customer_phone=text("customer_phone"),
        customer_language=text("customer_language").lower(),
        region=text("region"),
        urgency=text("urgency") or "normal",
        expected_days=number("expected_days", None),
        facts=normalize_facts(facts),
    )
    if problems:
        raise ValidationFailed(_("Some answers are not in the right form."), fields=problems)
    return report


def normalize_facts(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Form answers as the rules engine reads them: yes/no become booleans, blanks and "unknown" are left out."""
    facts: dict[str, Any] = {}
    for name, value in raw.items():
        spec = FACTS.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value in ("", "unknown") and (spec is None or "unknown" not in spec.choices):
                continue
            if spec is not None and spec.kind == "bool":
                lowered = value.lower()
                value = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}.get(
                    lowered, value
                )
        elif value is None:
            continue
        facts[name] = value
    return dict(sorted(facts.items()))


@dataclass(frozen=True)
class IntakeDraft(CaseDraft):
    """A case draft whose idempotency fingerprint is the report as sent, not what we resolved from it.

    Resolving an order, a customer or a handler can differ between a request and its replay (a new
    order line, a customer created meanwhile); the reporter sent the same thing, so it is the same case.
    """

    payload_digest: str = ""

    def digest(self) -> str:
        return self.payload_digest or super().digest()


@dataclass(frozen=True)
class IntakeResult:
    case: Case
    created: bool  # False when an earlier request with the same client key made the case
    evidence: list[AttachedEvidence]


async def build_draft(report: IntakeReport, *, today: date) -> IntakeDraft:
    """Validate a report and link it to what we know of its order and product; 422 lists every problem."""
    problems = report.problems()
    order = await order_lookup(report.order_number) if report.order_number else None
    line = order.line(report.order_line) if order else None
    if order and report.order_line is not None and line is None:
        problems.append(
            ("order_line", _("Order %(number)s has no line %(line)s.", number=order.number, line=report.order_line))
        )
    product_id = line.product_id if line else None
    supplier_id = order.supplier_id if order else None
    if report.product_sku and (line is None or line.sku != report.product_sku):
        product = await Product.objects().where(Product.sku == report.product_sku).first()
        if product is None:
            problems.append(
                (
                    "product_sku",
                    _("No product has the SKU %(sku)s; check the label or leave it empty.", sku=report.product_sku),
                )
            )
        else:
            product_id = product.id
            if order and line is None:
                line = next((candidate for candidate in order.lines if candidate.product_id == product.id), None)
            supplier_id = supplier_id or product.supplier
    facts: dict[str, Any] = {}
    try:
        # An unknown problem type is the draft's to report, under its own field name.
        known_type = {"problem_type": report.problem_type} if report.problem_type in PROBLEM_TYPES else {}
        facts = parse_facts({**report.facts, **known_type}, today=today).to_dict()
    except FactsError as error:
        problems.extend((f"facts.{name}" if name else "facts", message) for name, message in error.errors)
    draft = IntakeDraft(
        problem_type=report.problem_type,
        description=report.description,
        order_number=order.number if order else report.order_number,
        quantity_affected=report.quantity_affected,
        region=report.region or (order.region if order else ""),
        urgency=report.urgency,
        purchase_order_id=order.purchase_order_id if order else None,
        order_line_id=line.id if line else None,
        product_id=product_id,
        supplier_id=supplier_id,
        carrier_id=order.carrier_id if order else None,
        facts=facts,
        payload_digest=report.digest(),
        currency=order.currency if order and order.currency else CaseDraft.currency,
    )
    problems.extend(draft.problems())
    if problems:
        # The first problem of a field is enough for the reporter; duplicates come from overlapping checks.
        unique = list(dict.fromkeys(problems))
        raise ValidationFailed(_("The report is not complete yet."), fields=unique)
    return draft


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
        if current.assignee is None and not await CaseEvent.exists().where(
            (CaseEvent.case == case.id) & (CaseEvent.kind == "assigned")
        ):
            handler, rule = await pick_assignee(supplier_id)
            if handler is not None:
                changes[Case.assignee] = handler.id
                await record_event(
                    case_id=case.id,
                    actor=Actor.system(N_("Automatic assignment")),  # the rule chose, not the reporter
                    kind="assigned",
                    data={"assignee_id": handler.id, "assignee": handler.name, "rule": rule},
                    at=now,
                )
        if changes:
            changes[Case.updated_at] = now
            await Case.update(changes).where(Case.id == case.id)
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
