"""Responsibility on a case: the rules engine's hint kept up to date, fact changes, confirmations and overrides."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app import db
from app.cases.events import Actor, record_event
from app.cases.precedent import ASPECT_LABELS, Precedent, precedent_for
from app.cases.tables import Case, CaseEvent
from app.cases.taxonomy import PARTIES
from app.errors import NotFound, ValidationFailed
from app.i18n import format_day, label, pgettext, rule_text
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rules import FACTS, READINGS, FactsError, FactSpec, RuleRegistry, parse_facts, relevant_facts, suggest
from app.rules.deadlines import validate_carrier_windows
from app.rules.facts import N_
from app.rules.priors import core_priors
from app.rules.regimes import KIND_WORDS
from app.rules.warnings import RuleWarning, WarningValue
from app.settings import Settings
from app.trade.tables import Carrier, PurchaseOrder

# Facts the purchase order already knows; a value entered on the case wins over the order's.
ORDER_FACTS = ("incoterm", "transport_mode", "delivered_on")
# A handler settles on one of these; "undetermined" is the engine's word for "not yet".
SETTLED_PARTIES = ("supplier", "carrier", "purchaser")
MAX_REASON = 2000
# What a stored hint adds to the engine's answer; everything else is exactly `Suggestion.to_dict()`.
HINT_EXTRAS = ("computed_on", "facts", "from_order", "ignored_facts", "precedent")


class _Rules:
    """The process's rule registry: built once at start from settings, so a broken company file stops it there."""

    registry: RuleRegistry | None = None


def configure_rules(settings: Settings) -> RuleRegistry:
    """Load the core rules, the priors and the company's rules (CROSSCLAIM_RULES_DIR); raises RuleFileError
    naming file and line."""
    registry = RuleRegistry.load(settings.rules_dir) if settings.rules_dir else RuleRegistry.core()
    core_priors()  # read now, so a broken priors file stops the start too
    _Rules.registry = registry
    return registry


def current_registry() -> RuleRegistry:
    """The registry `configure_rules` built, or the core rules in a process that never configured one."""
    return _Rules.registry or RuleRegistry.core()


def json_object(value: Any) -> dict[str, Any]:
    """A JSON column's value as a dict, whether the row was loaded with `load_json` or not."""
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return dict(value) if isinstance(value, Mapping) else {}


def suggestion_of(hint: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's own answer inside a stored hint (what the API and CLI print for the same facts)."""
    return {key: value for key, value in hint.items() if key not in HINT_EXTRAS}


def _order_facts(order: PurchaseOrder | None) -> dict[str, Any]:
    if order is None or order.id is None:
        return {}
    values: dict[str, Any] = {
        "incoterm": order.incoterm or None,
        "transport_mode": order.transport_mode or None,
        "delivered_on": order.delivered_on.isoformat() if order.delivered_on else None,
    }
    return {name: value for name, value in values.items() if value is not None}


def effective_facts(case: Case, order: PurchaseOrder | None) -> tuple[dict[str, Any], list[str]]:
    """The facts the engine sees: the order's, then the case's own on top; the problem type is the case's."""
    from_order = _order_facts(order)
    stored = {name: value for name, value in json_object(case.facts).items() if value is not None}
    merged: dict[str, Any] = {**from_order, **stored, "problem_type": case.problem_type}
    return merged, [name for name in from_order if name not in stored]


def _usable_facts(raw: dict[str, Any], *, today: date) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Drop the facts that do not validate (with why), so a bad stored value cannot block the hint."""
    facts = dict(raw)
    ignored: list[dict[str, str]] = []
    for _attempt in range(len(facts) + 1):
        try:
            parse_facts(facts, today=today)
        except FactsError as error:
            named = [(name, message) for name, message in error.errors if name in facts]
            if not named:
                raise
            for name, message in named:
                facts.pop(name, None)
                ignored.append({"field": name, "message": message})
            continue
        break
    return facts, ignored


def _carrier_windows(carrier: Carrier | None) -> dict[str, int] | None:
    windows = json_object(carrier.notice_windows) if carrier is not None else {}
    if not windows:
        return None
    try:
        return dict(validate_carrier_windows(windows))
    except ValueError:
        return None  # a malformed contract setting must not stop the hint; the defaults apply


def compute_hint(
    case: Case,
    *,
    order: PurchaseOrder | None,
    carrier: Carrier | None,
    today: date,
    registry: RuleRegistry | None = None,
    precedent: Precedent | None = None,
) -> dict[str, Any]:
    """The hint to store for a case: the engine's answer plus the facts it used and the precedent. Pure."""
    raw, from_order = effective_facts(case, order)
    facts, ignored = _usable_facts(raw, today=today)
    windows = _carrier_windows(carrier)
    result = suggest(
        facts,
        today=today,
        registry=registry or current_registry(),
        carrier_windows=windows,
        precedent=precedent.counts if precedent is not None else None,
    )
    return {
        **result.to_dict(),
        "computed_on": today.isoformat(),
        "facts": parse_facts(facts, today=today).to_dict(),
        "from_order": [name for name in from_order if name in facts],
        "ignored_facts": ignored,
        "precedent": precedent.to_dict() if precedent is not None else None,
    }


async def _locked_case(*, number: str | None = None, case_id: int | None = None) -> Case:
    """The case row, locked for this transaction on PostgreSQL (SQLite's IMMEDIATE already serialises writers)."""
    query = Case.objects().output(load_json=True)
    query = query.where(Case.number == number) if number is not None else query.where(Case.id == case_id)
    if not db.is_sqlite(db.current_engine()):
        query = query.lock_rows()
    case = await query.first()
    if case is None:
        raise NotFound(_("There is no case %(number)s.", number=number or str(case_id)))
    return case


async def _order_of(case: Case) -> PurchaseOrder | None:
    if not case.purchase_order:
        return None
    order: PurchaseOrder | None = await PurchaseOrder.objects().where(PurchaseOrder.id == case.purchase_order).first()
    return order


async def _refresh(case: Case, *, actor: Actor, today: date, registry: RuleRegistry | None, now: datetime) -> Case:
    order = await _order_of(case)
    carrier_id = case.carrier or (order.carrier if order is not None else None)
    carrier = (
        await Carrier.objects().where(Carrier.id == carrier_id).output(load_json=True).first() if carrier_id else None
    )
    seen, _from_order = effective_facts(case, order)
    supplier_id = case.supplier or (order.supplier if order is not None else None)
    precedent = await precedent_for(case, _usable_facts(seen, today=today)[0], supplier=supplier_id, carrier=carrier_id)
    hint = compute_hint(case, order=order, carrier=carrier, today=today, registry=registry, precedent=precedent)
    previous = json_object(case.hint)
    await Case.update({Case.hint: hint, Case.suggested_party: hint["party"], Case.updated_at: now}).where(
        Case.id == case.id
    )
    # `warning_details` says what `warnings` says, with its values: a change shows in `warnings`.
    changed = [key for key in suggestion_of(hint) if key != "warning_details" and previous.get(key) != hint[key]]
    if previous.get("ignored_facts", []) != hint["ignored_facts"]:
        changed.append("ignored_facts")
    if changed:
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="hint_changed",
            data={
                "from": previous.get("party", ""),
                "to": hint["party"],
                "confidence": hint["confidence"],
                "rule_ids": hint["rule_ids"],
                "basis": hint["basis"],
                "changed": changed,
                "computed_on": hint["computed_on"],
            },
            at=now,
        )
    case.hint = hint
    case.suggested_party = hint["party"]
    return case


async def hint_refresh(
    *,
    case_id: int,
    actor: Actor,
    today: date,
    registry: RuleRegistry | None = None,
    now: datetime | None = None,
) -> Case:
    """Recompute a case's hint from its facts, order and carrier; record `hint_changed` when the answer moved.

    Call it after creating a case (after its transaction commits, or inside it: the transactions nest).
    """
    now = now or datetime.now(UTC)
    async with db.atomic():
        case = await _locked_case(case_id=case_id)
        return await _refresh(case, actor=actor, today=today, registry=registry, now=now)


async def facts_update(
    *,
    actor: Actor,
    number: str,
    facts: Mapping[str, Any],
    today: date,
    registry: RuleRegistry | None = None,
    now: datetime | None = None,
) -> Case:
    """Set some facts of a case (None or "" clears one), validate them as the engine would, and recompute."""
    now = now or datetime.now(UTC)
    unknown = [(name, _("This is not a fact the rules know.")) for name in facts if name not in FACTS]
    if unknown:
        raise ValidationFailed(_("Some facts are not valid."), fields=unknown)
    async with db.atomic():
        case = await _locked_case(number=number)
        before = json_object(case.facts)
        after = dict(before)
        for name, value in facts.items():
            if name == "problem_type":
                continue  # the case's problem type is changed on the case, not as a fact
            if value is None or value == "":
                after.pop(name, None)
            else:
                after[name] = value
        order = await _order_of(case)
        case.facts = after
        merged, _from_order = effective_facts(case, order)
        try:
            parsed = parse_facts(merged, today=today)
        except FactsError as error:
            raise ValidationFailed(
                _("Some facts are not valid."), fields=[(name or "facts", message) for name, message in error.errors]
            ) from None
        # Keep what was entered in the engine's normal form (upper-case Incoterms, ISO dates).
        normal = parsed.to_dict()
        after = {name: normal.get(name, value) for name, value in after.items()}
        changes = {
            name: {"from": before.get(name), "to": after.get(name)}
            for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)
        }
        if changes:
            await Case.update({Case.facts: after, Case.updated_at: now}).where(Case.id == case.id)
            await record_event(case_id=case.id, actor=actor, kind="facts_changed", data={"changed": changes}, at=now)
        case.facts = after
        return await _refresh(case, actor=actor, today=today, registry=registry, now=now)


async def party_confirm(
    *, actor: Actor, number: str, party: str, reason: str = "", now: datetime | None = None
) -> Case:
    """Settle the responsible party: agreeing with the hint confirms it; anything else overrides it and needs a reason.

    Both are recorded with the hint as it stood, so statistics can count how often hints were right.
    """
    now = now or datetime.now(UTC)
    party = party.strip()
    reason = reason.strip()
    if party not in SETTLED_PARTIES:
        raise ValidationFailed(
            _("Choose who is responsible."),
            fields=[("party", _("Choose one of: %(parties)s.", parties=", ".join(SETTLED_PARTIES)))],
        )
    if len(reason) > MAX_REASON:
        raise ValidationFailed(
            _("The reason is too long."),
            fields=[("reason", _("Keep the reason under %(n)s characters.", n=MAX_REASON))],
        )
    async with db.atomic():
        case = await _locked_case(number=number)
        hint = json_object(case.hint)
        hinted = str(hint.get("party") or "")
        overriding = party != hinted
        if overriding and not reason:
            raise ValidationFailed(
                _("Say why you decide differently from the hint."),
                fields=[("reason", _("An override needs a reason."))],
            )
        if case.confirmed_party == party and case.confirmed_reason == reason:
            return case  # the same decision again (a double click): nothing new to record
        await Case.update({Case.confirmed_party: party, Case.confirmed_reason: reason, Case.updated_at: now}).where(
            Case.id == case.id
        )
        if overriding:
            data: dict[str, Any] = {"from": hinted, "to": party, "reason": reason, "hint": hint}
        else:
            data = {
                "party": party,
                "reason": reason,
                "hint": {key: hint.get(key) for key in ("party", "confidence", "rule_ids", "basis", "computed_on")},
            }
        await record_event(
            case_id=case.id,
            actor=actor,
            kind="responsibility_overridden" if overriding else "responsibility_confirmed",
            data=data,
            at=now,
        )
        case.confirmed_party = party
        case.confirmed_reason = reason
        return case


@dataclass(frozen=True)
class NextStep:
    """What the handler does next once the responsible party is settled.

    ``kind`` is ``push`` (send the claim to ``party``), ``wait`` (it was sent: their answer is due by
    ``reply_by``) or ``plan`` (we bear it ourselves: agree the plan with the customer and move the case on).
    The case stays where it is: it leaves "reported" when the claim is sent, which starts the party's clock.
    """

    kind: str
    party: str
    name: str
    reply_by: date | None = None


async def next_step(case: Case) -> NextStep | None:
    """The step after the settled party, for the hint panel; None before a decision or on a finished case."""
    party = case.confirmed_party
    if not party or case.node in ("closed", "cancelled", "completed", "feedback"):
        return None
    if party == "purchaser":
        return NextStep(kind="plan", party=party, name="")
    related = case.supplier if party == "supplier" else case.carrier
    name = str(getattr(related, "name", "") or "") or label(party, "party")
    pushes = (
        await CaseEvent.select(CaseEvent.data)
        .where((CaseEvent.case == case.id) & (CaseEvent.kind == "case_pushed"))
        .order_by(CaseEvent.id, ascending=False)
    )
    for row in pushes:
        data = json_object(row["data"])
        if data.get("party") == party:
            reply_by = data.get("reply_by")
            return NextStep(
                kind="wait", party=party, name=name, reply_by=date.fromisoformat(reply_by) if reply_by else None
            )
    return NextStep(kind="push", party=party, name=name)


# --- what the case page shows -------------------------------------------------------------------------

KIND_LABELS: dict[str, Any] = {
    "apparent_damage": _l("visible damage or loss"),
    "non_apparent_damage": _l("hidden damage or loss"),
    "delay": _l("delay"),
    "time_bar": _l("time bar: sue by"),
    "cisg_notice_stop": _l("CISG two-year notice stop"),
}


@dataclass(frozen=True)
class DeadlineView:
    """A deadline as a countdown on the day the page is shown."""

    party: str
    regime: str
    kind: str
    due: date
    basis: list[str]
    status: str  # open, met, passed: judged again against today, since the hint may be days old
    days_left: int

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind.replace("_", " ")))


@dataclass(frozen=True)
class FactField:
    """One question of the facts form, with what the case says and what the order would supply."""

    spec: FactSpec
    value: str
    from_order: str
    error: str
    wanted: bool  # answering it could settle or change the hint


@dataclass(frozen=True)
class ShownWarning:
    """A hint's warning in the reader's language; ``at_risk`` warnings say a claim may be lost."""

    text: str
    at_risk: bool


def warning_text(warning: RuleWarning) -> str:
    """The warning in the reader's language: the message from the catalogue, dates in the reader's format,
    law names and consequences translated. A message whose fields its values do not fill (a hint stored
    before the message changed) is shown as stored, in English."""
    values = {name: _shown_value(value, kind) for name, value, kind in warning.values}
    try:
        return _(warning.message, **values) if values else _(warning.message)
    except (KeyError, ValueError, TypeError):
        try:
            return warning.text
        except (KeyError, ValueError, TypeError):
            return warning.message


def _shown_value(value: str, kind: str) -> str:
    if kind == "date":
        return format_day(value)
    if kind == "text":
        return rule_text(value)
    if kind == "names":
        return pgettext("list separator", ", ").join(rule_text(name) for name in value.split(", "))
    return value


def shown_warnings(hint: Mapping[str, Any]) -> list[ShownWarning]:
    details = hint.get("warning_details")
    if isinstance(details, list):
        found = [RuleWarning.from_dict(raw) for raw in details if isinstance(raw, Mapping) and raw.get("message")]
        return [ShownWarning(warning_text(warning), warning.at_risk) for warning in found]
    # A hint stored before warnings kept their values: its fixed warnings are still in the catalogue.
    english = hint.get("warnings")
    english = english if isinstance(english, list) else []
    return [ShownWarning(rule_text(text), str(text).startswith("claim at risk")) for text in english if text]


@dataclass(frozen=True)
class AnswerPreview:
    """What the hint would say if a question were answered so: "Yes → supplier 80%"."""

    answers: str  # in the reader's words
    party: str
    confidence: float


@dataclass(frozen=True)
class Question:
    """A missing fact to ask, in the worker's words, with the effect of each answer previewed."""

    name: str
    question: str
    impact: float
    previews: list[AnswerPreview]


def _answer_words(name: str, answer: Any) -> str:
    if isinstance(answer, bool):
        return _("Yes") if answer else _("No")
    return str(answer) if name == "incoterm" else label(answer, "choice")


def hint_questions(hint: Mapping[str, Any]) -> list[Question]:
    """The stored hint's missing facts as questions, the one that could change it most first.

    A hint stored before answers were previewed has no `effects`: its questions come without previews.
    """
    questions = []
    for item in hint.get("missing_facts", []):
        if not isinstance(item, Mapping) or item.get("kind") != "fact":
            continue
        name = str(item.get("name", ""))
        previews = [
            AnswerPreview(
                pgettext("list separator", ", ").join(_answer_words(name, a) for a in effect.get("answers", [])),
                str(effect.get("party", "")),
                float(effect.get("confidence", 0.0)),
            )
            for effect in item.get("effects", [])
            if isinstance(effect, Mapping)
        ]
        questions.append(Question(name, str(item.get("question", "")), float(item.get("impact", 0.0)), previews))
    return questions


@dataclass(frozen=True)
class HintPanel:
    hint: dict[str, Any]
    today: date
    questions: list[Question]
    deadlines: list[DeadlineView]
    warnings: list[ShownWarning]
    fields: list[FactField]
    form_error: str
    confirm_error: str
    can_edit: bool
    hint_moved: bool  # the hint names a party, and not the one a handler settled on

    @property
    def settled_parties(self) -> tuple[str, ...]:
        return SETTLED_PARTIES

    @property
    def facts_open(self) -> bool:
        """Unfold the facts form while the hint still asks questions or the form has errors."""
        return bool(
            self.form_error
            or any(field.error or field.wanted for field in self.fields)
            or self.hint.get("party") in (None, "undetermined")
        )

    def party_label(self, party: str | None) -> str:
        return str(PARTIES.get(party or "", party or ""))

    @property
    def reading_text(self) -> str:
        """Why the hint reads as it does, in the reader's language ("" for a hint stored before readings)."""
        message = READINGS.get(str(self.hint.get("reading", "")))
        return _(message) if message else ""

    @property
    def precedent(self) -> dict[str, Any] | None:
        """The similar closed cases stored with the hint, if any (none for a hint stored before precedent)."""
        found = self.hint.get("precedent")
        return dict(found) if isinstance(found, Mapping) and found.get("total") else None

    def aspect_words(self, aspects: list[str]) -> str:
        """What a similar case shares with this one, in the reader's words."""
        return pgettext("list separator", ", ").join(str(ASPECT_LABELS.get(a, a)) for a in aspects)

    @property
    def ranking(self) -> list[dict[str, Any]]:
        """Each party's weighed confidence, strongest first (empty for a hint stored before rankings)."""
        ranking = self.hint.get("ranking")
        return [dict(item) for item in ranking if isinstance(item, Mapping)] if isinstance(ranking, list) else []


def _form_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _deadline_view(raw: Mapping[str, Any], today: date) -> DeadlineView:
    due = date.fromisoformat(str(raw["due"]))
    status = str(raw.get("status", "open"))
    if status == "open" and today > due:
        status = "passed"
    return DeadlineView(
        party=str(raw.get("party", "")),
        regime=str(raw.get("regime", "")),
        kind=str(raw.get("kind", "")),
        due=due,
        basis=list(raw.get("basis", [])),
        status=status,
        days_left=(due - today).days,
    )


def _late_warning(deadline: DeadlineView) -> ShownWarning:
    due: WarningValue = ("due", deadline.due.isoformat(), "date")
    regime: WarningValue = ("regime", deadline.regime, "text")
    if deadline.kind == "time_bar":
        warning = RuleWarning(N_("claim at risk: %(regime)s time bar on %(due)s has passed"), (regime, due), True)
    else:
        message = (
            N_("claim at risk: supplier notice due %(due)s has passed (%(regime)s, %(kind)s)")
            if deadline.party == "supplier"
            else N_("claim at risk: carrier notice due %(due)s has passed (%(regime)s, %(kind)s)")
        )
        kind: WarningValue = ("kind", KIND_WORDS.get(deadline.kind, deadline.kind.replace("_", " ")), "text")
        warning = RuleWarning(message, (due, regime, kind), True)
    return ShownWarning(warning_text(warning), at_risk=True)


def hint_panel(
    case: Case,
    *,
    today: date,
    can_edit: bool = False,
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, str] | None = None,
) -> HintPanel:
    """What the hint region of the case page shows: the stored hint, countdowns as of today, the facts form."""
    hint = json_object(case.hint)
    errors = dict(errors or {})
    raw_deadlines = list(hint.get("deadlines", []))
    deadlines = [_deadline_view(raw, today) for raw in raw_deadlines]
    warnings = shown_warnings(hint)
    for raw, deadline in zip(raw_deadlines, deadlines, strict=True):
        # The hint was worked out on `computed_on`; a deadline that has run out since is at risk now.
        if deadline.status == "passed" and raw.get("status") == "open":
            warnings.append(_late_warning(deadline))
    order = case.purchase_order if isinstance(case.purchase_order, PurchaseOrder) else None
    from_order = {name: _form_value(value) for name, value in _order_facts(order).items()}
    wanted = {item.get("name") for item in hint.get("missing_facts", []) if item.get("kind") == "fact"}
    stored = json_object(case.facts)
    fields = []
    mode = json_object(hint.get("facts")).get("transport_mode")
    for spec in relevant_facts(case.problem_type, mode if isinstance(mode, str) else None):
        if spec.name == "problem_type":
            continue
        if submitted is not None and spec.name in submitted:
            value = submitted[spec.name]
        else:
            value = _form_value(stored.get(spec.name))
        error = errors.pop(spec.name, "")
        fields.append(FactField(spec, value, from_order.get(spec.name, ""), error, spec.name in wanted))
    confirm_error = errors.pop("reason", "") or errors.pop("party", "")
    return HintPanel(
        hint=hint,
        today=today,
        questions=hint_questions(hint),
        deadlines=deadlines,
        warnings=warnings,
        fields=fields,
        form_error="; ".join(f"{name}: {message}" for name, message in errors.items()),
        confirm_error=confirm_error,
        can_edit=can_edit,
        hint_moved=bool(
            case.confirmed_party and hint.get("party") in SETTLED_PARTIES and hint.get("party") != case.confirmed_party
        ),
    )
