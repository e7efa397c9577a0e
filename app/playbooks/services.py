"""Writes for playbooks: a party's playbook, a push sent despite it (with the reason), saved replies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.cases.events import Actor, record_event
from app.cases.taxonomy import PROBLEM_TYPES, REMEDIES
from app.db import atomic
from app.errors import NotFound, ValidationFailed
from app.i18n import LANGUAGES
from app.i18n import gettext as _
from app.playbooks.lookup import COUNTERPARTIES, json_list, playbook_of
from app.playbooks.readiness import WINDOW_COUNTING, WINDOW_FROM, Gap
from app.playbooks.tables import Playbook, SavedReply
from app.rules.facts import EVIDENCE, free_key, is_free_key
from app.trade.tables import Carrier, Supplier

MAX_TEXT = 4000
MAX_ROWS = 40


@dataclass(frozen=True)
class ContactRow:
    problem_type: str
    language: str
    name: str
    email: str


@dataclass(frozen=True)
class ItemRow:
    key: str  # a checklist name, or "" for a free item (its words in ``label``)
    label: str
    problem_type: str  # "" for every problem type


@dataclass(frozen=True)
class PlaybookInput:
    """A playbook as the form sends it (text as typed); ``playbook_save`` checks every part."""

    contacts: list[ContactRow]
    items: list[ItemRow]
    window_days: str = ""
    window_from: str = "delivery"
    window_counting: str = "calendar"
    minimum_value: str = ""
    minimum_currency: str = ""
    remedies: list[str] | None = None
    answer_value: str = ""
    answer_unit: str = "days"
    notes: str = ""


def _whole(raw: str, field: str, problems: list[tuple[str, str]], *, most: int) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdecimal() or not 0 < int(raw) <= most:
        problems.append((field, _("A whole number from 1 to %(most)s.", most=most)))
        return None
    return int(raw)


def _contacts(rows: list[ContactRow], problems: list[tuple[str, str]]) -> list[dict[str, str]]:
    out = []
    for row in rows[:MAX_ROWS]:
        email = row.email.strip()
        if not email and not row.name.strip():
            continue
        if "@" not in email or len(email) > 254 or any(c in email for c in " \r\n,;<>"):
            problems.append(("contact_email", _("Enter one email address for each contact.")))
            continue
        out.append(
            {
                "problem_type": row.problem_type if row.problem_type in PROBLEM_TYPES else "",
                "language": row.language if row.language in LANGUAGES else "",
                "name": row.name.strip()[:200],
                "email": email,
            }
        )
    return out


def _items(rows: list[ItemRow], problems: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for row in rows[:MAX_ROWS]:
        label = " ".join(row.label.split())[:120]
        if row.key and row.key not in EVIDENCE and not is_free_key(row.key):
            problems.append(("item_key", _("Choose an item from the checklist, or write your own.")))
            continue
        key = row.key if row.key in EVIDENCE else free_key(label) if label else ""
        if not key:
            continue
        problem_type = row.problem_type if row.problem_type in PROBLEM_TYPES else ""
        if (key, problem_type) in seen:
            continue
        seen.add((key, problem_type))
        out.append(
            {
                "key": key,
                "label": "" if key in EVIDENCE else label,
                "problem_types": [problem_type] if problem_type else [],
            }
        )
    return out


async def playbook_save(*, actor: Actor, kind: str, party_id: int, data: PlaybookInput) -> Playbook:
    """Create or replace the playbook of one supplier or carrier; a 422 names each field it cannot take."""
    table = Supplier if kind == "supplier" else Carrier if kind == "carrier" else None
    if table is None or not await table.exists().where(table.id == party_id):
        raise NotFound(_("There is no such supplier or carrier."))
    problems: list[tuple[str, str]] = []
    contacts = _contacts(data.contacts, problems)
    items = _items(data.items, problems)
    window_days = _whole(data.window_days, "window_days", problems, most=3650)
    if data.window_from not in WINDOW_FROM:
        problems.append(("window_from", _("Count from delivery or from discovery.")))
    if data.window_counting not in WINDOW_COUNTING:
        problems.append(("window_counting", _("Count calendar days or working days.")))
    minimum: Decimal | None = None
    if data.minimum_value.strip():
        try:
            minimum = Decimal(data.minimum_value.strip().replace(",", ""))
        except InvalidOperation:
            minimum = None
        if minimum is None or not minimum.is_finite() or minimum < 0 or minimum >= Decimal("1e12"):
            problems.append(("minimum_value", _("Enter an amount such as 500 or 499.50.")))
            minimum = None
        else:
            minimum = minimum.quantize(Decimal("0.01"))
    currency = data.minimum_currency.strip().upper()
    if currency and (len(currency) != 3 or not currency.isalpha() or not currency.isascii()):
        problems.append(("minimum_currency", _("A three-letter currency code such as USD.")))
    remedies = [remedy for remedy in dict.fromkeys(data.remedies or []) if remedy in REMEDIES]
    if len(remedies) != len(set(data.remedies or [])):
        problems.append(("remedies", _("Choose remedies from the list.")))
    answer = _whole(data.answer_value, "answer_value", problems, most=2000)
    if data.answer_unit not in ("hours", "days"):
        problems.append(("answer_unit", _("Hours or days.")))
    notes = data.notes.strip()
    if len(notes) > MAX_TEXT:
        problems.append(("notes", _("Keep it under %(count)s characters.", count=MAX_TEXT)))
    if problems:
        raise ValidationFailed(_("The playbook cannot be saved as filled in."), fields=problems)
    values: dict[Any, Any] = {
        Playbook.contacts: json.dumps(contacts),
        Playbook.evidence: json.dumps(items),
        Playbook.window_days: window_days,
        Playbook.window_from: data.window_from,
        Playbook.window_counting: data.window_counting,
        Playbook.minimum_value: minimum,
        Playbook.minimum_currency: currency if minimum is not None else "",
        Playbook.remedies: json.dumps(remedies),
        Playbook.answer_hours: None if answer is None else answer * (24 if data.answer_unit == "days" else 1),
        Playbook.notes: notes,
        Playbook.updated_at: datetime.now(UTC),
        Playbook.updated_by: actor.label[:200],
    }
    async with atomic():
        await _ensure_playbook(kind, party_id)
        await Playbook.update(values).where((Playbook.party_kind == kind) & (Playbook.party_id == party_id))
    saved = await playbook_of(kind, party_id)
    assert saved is not None
    return saved


async def _ensure_playbook(kind: str, party_id: int) -> None:
    """The party's playbook row, made empty when it has none; two saves at once make one (unique per party)."""
    await Playbook.insert(Playbook(party_kind=kind, party_id=party_id)).on_conflict(
        target=(Playbook.party_kind, Playbook.party_id), action="DO NOTHING"
    )


def require_reason(gaps: list[Gap], reason: str) -> str:
    """A push that breaks a playbook rule needs the handler's reason; the 422 says which rules and why."""
    reason = reason.strip()
    if not [gap for gap in gaps if gap.blocking]:
        return reason
    if not reason:
        raise ValidationFailed(
            _("This case breaks the party's playbook: write why it is sent anyway, or fix what is missing."),
            fields=[("playbook_reason", _("Say why the case goes out as it is."))],
        )
    if len(reason) > MAX_TEXT:
        hint = _("Keep it under %(count)s characters.", count=MAX_TEXT)
        raise ValidationFailed(_("The text is too long."), fields=[("playbook_reason", hint)])
    return reason


async def record_override(*, actor: Actor, case_id: int, party: str, gaps: list[Gap], reason: str) -> None:
    """On the staff timeline: the case went to ``party`` despite these rules of its playbook, and why."""
    blocking = [gap.record() for gap in gaps if gap.blocking]
    if not blocking or party not in COUNTERPARTIES:
        return
    async with atomic():
        await record_event(
            case_id=case_id,
            actor=actor,
            kind="playbook_rules_overridden",
            data={"party": party, "rules": blocking, "reason": reason},
        )


async def saved_reply_add(*, actor: Actor, language: str, title: str, body: str) -> SavedReply:
    problems: list[tuple[str, str]] = []
    if language not in LANGUAGES:
        problems.append(("language", _("Choose a language.")))
    title, body = " ".join(title.split()), body.strip()
    if not title or len(title) > 200:
        problems.append(("title", _("A title of up to 200 characters.")))
    if not body or len(body) > MAX_TEXT:
        problems.append(("body", _("The answer, up to %(count)s characters.", count=MAX_TEXT)))
    if problems:
        raise ValidationFailed(_("The answer cannot be saved as filled in."), fields=problems)
    reply = SavedReply(language=language, title=title, body=body, created_by=actor.label[:200])
    async with atomic():
        await reply.save()
    return reply


async def saved_reply_delete(*, reply_id: int) -> None:
    async with atomic():
        await SavedReply.delete().where(SavedReply.id == reply_id)


async def supplier_rules_from_import(*, rules: dict[int, dict[str, Any]], actor_label: str = "import") -> int:
    """Playbook fields an order file gives per supplier id (``claims_email``, ``window_days``, ``minimum_value``,
    ``minimum_currency``, ``answer_days``), laid over each supplier's playbook (made when it has none); what the
    file leaves out keeps its value. Call inside the import's transaction; returns how many playbooks changed."""
    changed = 0
    for supplier_id, given in rules.items():
        playbook = await playbook_of("supplier", supplier_id)
        contacts = [row for row in json_list(playbook.contacts) if isinstance(row, dict)] if playbook else []
        values: dict[Any, Any] = {}
        email = given.get("claims_email")
        if email and email.lower() not in {str(row.get("email", "")).lower() for row in contacts}:
            contacts.append({"problem_type": "", "language": "", "name": "", "email": email})
            values[Playbook.contacts] = json.dumps(contacts)
        for name, column in (
            ("window_days", Playbook.window_days),
            ("minimum_value", Playbook.minimum_value),
            ("minimum_currency", Playbook.minimum_currency),
        ):
            if given.get(name) is not None and (playbook is None or getattr(playbook, name) != given[name]):
                values[column] = given[name]
        if given.get("answer_days") is not None:
            hours = int(given["answer_days"]) * 24
            if playbook is None or playbook.answer_hours != hours:
                values[Playbook.answer_hours] = hours
        if not values:
            continue
        if playbook is None:
            await _ensure_playbook("supplier", supplier_id)
        values.update({Playbook.updated_at: datetime.now(UTC), Playbook.updated_by: actor_label})
        await Playbook.update(values).where((Playbook.party_kind == "supplier") & (Playbook.party_id == supplier_id))
        changed += 1
    return changed
