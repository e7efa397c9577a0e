"""A report from the dock: its fields read and checked, and linked to its order and product as a case draft."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Final

from app.cases.services import CaseDraft
from app.cases.taxonomy import PROBLEM_TYPES
from app.errors import ValidationFailed
from app.i18n import gettext as _
from app.rules import FACTS, FactsError, parse_facts
from app.trade.orders import order_lookup, split_order_number
from app.trade.tables import Product

LANGUAGE_CODE: Final = re.compile(r"[a-z]{2,3}(-[A-Za-z]{2,4})?")


MAX_EXPECTED_DAYS: Final = 365


WHOLE_NUMBER = re.compile(r"[-+]?[0-9]+")


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
