"""Reads for playbooks: one party's playbook, what it asks of a case, what the party actually did, saved replies."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from app.cases.responsibility import json_object
from app.cases.tables import Case, CaseEvent
from app.cases.taxonomy import PROBLEM_TYPES, REMEDIES
from app.errors import NotFound
from app.evidence.tables import Evidence
from app.i18n import LANGUAGES, format_day, format_money, ngettext
from app.i18n import gettext as _
from app.playbooks.lookup import COUNTERPARTIES, json_list, playbook_of, row_id
from app.playbooks.readiness import CaseState, Gap, RequiredItem, Rules, readiness, window_end
from app.playbooks.tables import Playbook, SavedReply
from app.rules.calendar import HolidayCalendar
from app.rules.facts import EVIDENCE, PHOTO_EVIDENCE
from app.trade.tables import Carrier, PurchaseOrder, Supplier

# A party's answers on the timeline (its first one after our push is its answer time).
ANSWER_KINDS = ("party_response", "plan_proposed", "plan_agreed", "message", "progress_update")


async def party_record(kind: str, party_id: str | int) -> dict[str, Any]:
    """The supplier or carrier a playbook belongs to; NotFound for anything else."""
    number = int(party_id) if str(party_id).isdecimal() else 0
    table = Supplier if kind == "supplier" else Carrier if kind == "carrier" else None
    row = await table.select().where(table.id == number).first() if table is not None and number else None
    if table is None or row is None:
        raise NotFound(_("There is no such supplier or carrier."))
    return row


def rules_of(playbook: Playbook | None) -> Rules:
    if playbook is None:
        return Rules()
    items = tuple(
        RequiredItem(
            str(row.get("key", "")),
            str(row.get("label") or ""),
            tuple(str(kind) for kind in row.get("problem_types") or []),
        )
        for row in json_list(playbook.evidence)
        if isinstance(row, dict) and row.get("key")
    )
    minimum = Decimal(str(playbook.minimum_value)) if playbook.minimum_value is not None else None
    return Rules(
        items=items,
        window_days=playbook.window_days,
        window_from=playbook.window_from,
        window_counting=playbook.window_counting,
        minimum_value=minimum,
        minimum_currency=playbook.minimum_currency,
    )


def item_label(item: RequiredItem | str) -> str:
    """An evidence item in the reader's words: the checklist's text, or the free item's own words."""
    key = item if isinstance(item, str) else item.key
    if key in EVIDENCE:
        return _(EVIDENCE[key])
    return item.label if isinstance(item, RequiredItem) and item.label else key.removeprefix("pb:").replace("_", " ")


def gap_text(gap: Gap) -> str:
    """One gap as the readiness panel says it."""
    if gap.kind == "missing_item":
        return _("%(item)s missing", item=gap.label or item_label(gap.item))
    if gap.kind == "window_closed":
        return _("The notice window ended on %(day)s", day=format_day(gap.day))
    if gap.kind == "window_closing":
        if gap.days == 0:
            return _("The notice window ends today (%(day)s)", day=format_day(gap.day))
        return ngettext(
            "The notice window ends in %(num)s day (%(day)s)",
            "The notice window ends in %(num)s days (%(day)s)",
            gap.days,
            day=format_day(gap.day),
        )
    if gap.kind == "notice_first":
        return _(
            "The %(regime)s notice is due %(day)s, before this playbook's window ends",
            regime=gap.regime,
            day=format_day(gap.day),
        )
    if gap.kind == "window_unknown":
        return _("No date to count the %(count)s-day notice window from", count=gap.days)
    if gap.kind == "below_minimum":
        return _("Below this party's minimum claim of %(amount)s", amount=format_money(gap.amount, gap.currency))
    if gap.kind == "minimum_unknown":
        return _(
            "No claim amount in %(currency)s to compare with the minimum of %(amount)s",
            currency=gap.currency,
            amount=format_money(gap.amount, gap.currency),
        )
    return gap.kind


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def calendar_of(party: dict[str, Any] | None) -> HolidayCalendar:
    """The public holidays a working-day window skips: the supplier's country's, when we ship its calendar."""
    country = str((party or {}).get("country") or "")
    try:
        return HolidayCalendar.for_country(country) if country else HolidayCalendar()
    except LookupError:
        return HolidayCalendar()


async def case_state(case: Case) -> CaseState:
    facts = json_object(case.facts)
    delivered = _date(facts.get("delivered_on"))
    order_id = row_id(case.purchase_order)
    if delivered is None and order_id:
        order = await PurchaseOrder.select(PurchaseOrder.delivered_on).where(PurchaseOrder.id == order_id).first()
        delivered = _date((order or {}).get("delivered_on"))
    # Found at the latest when it was reported.
    discovered = _date(facts.get("discovered_on")) or case.created_at.date()
    rows = await Evidence.select(Evidence.covers).where(
        (Evidence.case == case.id) & (Evidence.status == "ok") & (Evidence.covers != "")
    )
    amount = Decimal(str(case.claim_amount)) if case.claim_amount is not None else None
    return CaseState(
        problem_type=case.problem_type,
        covered=frozenset(str(row["covers"]) for row in rows),
        delivered_on=delivered,
        discovered_on=discovered,
        claim_amount=amount,
        currency=case.currency,
    )


def notices_for(case: Case, party: str) -> tuple[tuple[str, date], ...]:
    """The open notice deadlines (not the time bars for suing) our hint found for ``party``, as (regime, due)."""
    out = []
    for raw in json_object(case.hint).get("deadlines", []) or []:
        if not isinstance(raw, dict) or raw.get("party") != party or raw.get("status", "open") != "open":
            continue
        if raw.get("kind") == "time_bar":
            continue  # a limitation for suing, not a notice
        due = _date(raw.get("due"))
        if due is not None:
            out.append((str(raw.get("regime") or ""), due))
    return tuple(out)


@dataclass(frozen=True)
class Readiness:
    """What the party's playbook asks that the case lacks, for the push form."""

    party: str
    party_name: str
    has_playbook: bool
    gaps: list[Gap] = field(default_factory=list)
    window_ends: date | None = None

    @property
    def blocking(self) -> list[Gap]:
        return [gap for gap in self.gaps if gap.blocking]

    def lines(self) -> list[tuple[Gap, str]]:
        return [(gap, gap_text(gap)) for gap in self.gaps]


async def case_readiness(case: Case, party: str, *, today: date | None = None) -> Readiness:
    """The party's playbook checked against the case today (no playbook: nothing to check)."""
    party = party if party in COUNTERPARTIES else "supplier"
    party_id = row_id(case.supplier if party == "supplier" else case.carrier)
    table = Supplier if party == "supplier" else Carrier
    record = await table.select().where(table.id == party_id).first() if party_id else None
    playbook = await playbook_of(party, party_id)
    name = str((record or {}).get("name") or "")
    if playbook is None:
        return Readiness(party, name, False)
    today = today or datetime.now(UTC).date()
    rules = rules_of(playbook)
    state = replace(await case_state(case), notices=notices_for(case, party))
    calendar = calendar_of(record)
    gaps = readiness(rules, state, today=today, calendar=calendar)
    return Readiness(party, name, True, gaps, window_end(rules, state, calendar))


async def required_items(supplier_id: Any, problem_type: str) -> list[tuple[str, str, bool]]:
    """The supplier's playbook items for this problem type beyond the rules' checklist, as (key, label, photo):
    the phone's checklist asks for them too."""
    playbook = await playbook_of("supplier", supplier_id)
    return [
        (item.key, item_label(item), item.free or item.key in PHOTO_EVIDENCE)
        for item in rules_of(playbook).required(problem_type)
    ]


async def case_required_items(case: Case) -> list[tuple[str, str, bool]]:
    return await required_items(case.supplier, case.problem_type)


# --- the playbook page ------------------------------------------------------------------------------


def _hours_and_unit(hours: int | None) -> tuple[int | None, str]:
    if not hours:
        return None, "days"
    return (hours // 24, "days") if hours % 24 == 0 else (hours, "hours")


async def playbook_page(kind: str, party_id: str) -> dict[str, Any]:
    party = await party_record(kind, party_id)
    playbook = await playbook_of(kind, int(party["id"]))
    answer_value, answer_unit = _hours_and_unit(playbook.answer_hours if playbook else None)
    rules = rules_of(playbook)
    return {
        "kind": kind,
        "party": party,
        "playbook": playbook,
        "contacts": json_list(playbook.contacts) if playbook else [],
        "items": [(item, item_label(item)) for item in rules.items],
        "remedies_offered": json_list(playbook.remedies) if playbook else [],
        "answer_value": answer_value,
        "answer_unit": answer_unit,
        "problem_types": PROBLEM_TYPES,
        "languages": LANGUAGES,
        "vocabulary": {name: _(text) for name, text in EVIDENCE.items()},
        "all_remedies": REMEDIES,
        "learned": await learned(kind, int(party["id"]), {item.key: item_label(item) for item in rules.items}),
    }


# --- what the party actually did --------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceOutcome:
    key: str
    label: str
    accepted_with: int
    refused_with: int


@dataclass(frozen=True)
class Learned:
    """What a supplier or carrier did with our claims: its answer time, its refusals and why, and which
    evidence was there when it accepted or refused."""

    pushed: int
    answered: int
    median_hours: float | None
    accepted: int
    refused: int
    refusals: list[tuple[str, int]]
    evidence: list[EvidenceOutcome]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    value = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return round(value, 1)


def _reason_key(text: str) -> str:
    return " ".join(text.split()).casefold()


async def learned(kind: str, party_id: int, labels: dict[str, str] | None = None) -> Learned:
    """From the cases of this party that were sent to it: median first-answer time, its last answer on
    responsibility (accepted or refused), its refusal reasons (answers and mediations it opened) with counts,
    and the evidence items the case showed at the moment it answered."""
    column = Case.supplier if kind == "supplier" else Case.carrier
    case_ids = [row["id"] for row in await Case.select(Case.id).where(column == party_id)]
    if not case_ids:
        return Learned(0, 0, None, 0, 0, [], [])
    events = (
        await CaseEvent.select(CaseEvent.case, CaseEvent.at, CaseEvent.actor_kind, CaseEvent.kind, CaseEvent.data)
        .where(CaseEvent.case.is_in(case_ids) & CaseEvent.kind.is_in(["case_pushed", "dispute_opened", *ANSWER_KINDS]))
        .order_by(CaseEvent.id)
    )
    pushed: dict[int, datetime] = {}
    answered: dict[int, datetime] = {}
    verdict: dict[int, tuple[str, datetime, str]] = {}
    opened: list[tuple[int, str]] = []
    for event in events:
        case_id, data = event["case"], json_object(event["data"])
        if event["kind"] == "case_pushed":
            if data.get("party") == kind and case_id not in pushed:
                pushed[case_id] = event["at"]
            continue
        if event["actor_kind"] != kind or case_id not in pushed:
            continue
        answered.setdefault(case_id, event["at"])
        if event["kind"] == "dispute_opened":
            # A mediation the party opened: its reason is a refusal reason (the dispute row is collaboration's).
            if str(data.get("reason") or "").strip():
                opened.append((case_id, str(data["reason"])))
        elif event["kind"] == "party_response":
            verdict[case_id] = (str(data.get("response", "")), event["at"], str(data.get("reason") or ""))
    reasons: dict[int, dict[str, str]] = {}
    for case_id, (response, _at, reason) in verdict.items():
        if response == "dispute" and reason.strip():
            reasons.setdefault(case_id, {})[_reason_key(reason)] = reason.strip()
    for case_id, reason in opened:
        reasons.setdefault(case_id, {})[_reason_key(reason)] = reason.strip()
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for per_case in reasons.values():
        for key, text in per_case.items():
            counts[key] += 1
            shown.setdefault(key, text)
    files = (
        await Evidence.select(Evidence.case, Evidence.covers, Evidence.uploaded_at).where(
            Evidence.case.is_in(list(verdict)) & (Evidence.status == "ok") & (Evidence.covers != "")
        )
        if verdict
        else []
    )
    outcome: dict[str, list[int]] = {}
    accepted = refused = 0
    for case_id, (response, at, _reason) in verdict.items():
        is_refusal = response == "dispute"
        accepted += not is_refusal
        refused += is_refusal
        present = {row["covers"] for row in files if row["case"] == case_id and row["uploaded_at"] <= at}
        for key in present:
            pair = outcome.setdefault(str(key), [0, 0])
            pair[1 if is_refusal else 0] += 1
    hours = [(answered[case_id] - at).total_seconds() / 3600 for case_id, at in pushed.items() if case_id in answered]
    return Learned(
        pushed=len(pushed),
        answered=len(answered),
        median_hours=median(hours),
        accepted=accepted,
        refused=refused,
        refusals=[(shown[key], count) for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))],
        evidence=[
            EvidenceOutcome(key, (labels or {}).get(key) or item_label(key), pair[0], pair[1])
            for key, pair in sorted(outcome.items())
        ],
    )


# --- saved replies ----------------------------------------------------------------------------------


async def saved_replies(language: str | None = None) -> list[SavedReply]:
    query = SavedReply.objects().order_by(SavedReply.language).order_by(SavedReply.title)
    if language:
        query = query.where(SavedReply.language == language)
    return list(await query)
