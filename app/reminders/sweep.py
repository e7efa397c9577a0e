"""The reminder sweep: claim each due escalation step once, deliver it, and repair what a crash left."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app import db
from app.accounts.roles import Role
from app.accounts.tables import User
from app.cases.events import Actor, record_events
from app.cases.tables import Case
from app.collaboration import links
from app.faults import fault_point
from app.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    company_zone,
    current_language,
    format_moment,
    label,
    zone_label,
    zone_or_default,
)
from app.i18n import gettext as _
from app.mail.outgoing import case_mails
from app.notify.email import Mail, send_mails
from app.notify.inapp import notify_users
from app.notify.push import PushFailed, PushTarget, SubscriptionGone, send_push
from app.notify.sms import PermanentSmsError, TransientSmsError, sms_provider
from app.notify.tables import PushSubscription
from app.reminders import plan_answers
from app.rules.facts import N_
from app.settings import Settings
from app.tracking.policies import Policy, counterpart_of, current_policy
from app.tracking.services import next_check, step_time
from app.tracking.tables import Reminder, StageDeadline
from app.trade.tables import Carrier, Customer, Supplier

log = logging.getLogger("crossclaim.reminders")

# A claim not confirmed as sent within the lease belongs to a sweep that died: the next sweep takes it.
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CHUNK = 300
TRACKING_LINK_DAYS = 120
# Stored with the claim: the sweep that inserted it sends it now; a crash leaves it for the lease.
SWEEPER = Actor.system(N_("Reminder sweep"))
# Claims written to the customer (a stage update, a plan to answer): their mail carries a tracking link.
CUSTOMER_LEVELS = frozenset({"update", plan_answers.LEVEL})


@dataclass
class SweepSummary:
    due: int = 0  # clocks that reached an escalation step
    sent: int = 0
    skipped: int = 0  # lower steps passed over while catching up, or held for quiet hours
    failed: int = 0
    retried: int = 0  # claims taken over from a sweep that died, or retried after a transient error

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    key: str
    case_id: int
    node: str
    level: str
    channel: str
    recipient: str


@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)
    retry: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _as_datetime(value: Any) -> datetime:
    """Raw queries on SQLite may hand back the stored text; both engines store UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def claim_key(case_id: int, node: str, deadline_id: int, level: str, channel: str, recipient: str) -> str:
    # The node visit (its StageDeadline id) is part of the key: a case back in a node is a new clock.
    return f"{case_id}:{node}#{deadline_id}:{level}:{channel}:{recipient}"[:255]


async def sweep(*, settings: Settings, now: datetime | None = None, lease: timedelta = LEASE) -> SweepSummary:
    """One sweep as of ``now``: safe to run twice, or in two workers at once (each step goes once)."""
    now = now or datetime.now(UTC)
    summary = SweepSummary()
    policy = current_policy()
    fresh = await claim_due(policy=policy, settings=settings, now=now, summary=summary)
    fresh += await claim_plan_answers(policy=policy, now=now)
    taken = await take_over(now=now, lease=lease)
    summary.retried = len(taken)
    fault_point("sweep.after_claim")  # the crash-repair tests die here: claims written, nothing sent
    await deliver(settings=settings, ids=[*fresh, *taken], now=now, summary=summary)
    return summary


async def claim_due(*, policy: Policy, settings: Settings, now: datetime, summary: SweepSummary) -> list[int]:
    """Insert the claim rows of every step that fell due; returns the ids this sweep won."""
    rows = await StageDeadline.raw(
        'SELECT d.id, d."case" AS case_id, d.node, d.owner_party, d.started_at, d.due_at, d.next_check_at,'
        " c.problem_type, c.assignee AS assignee_id, c.supplier AS supplier_id, c.carrier AS carrier_id"
        ' FROM stage_deadline d JOIN after_sales_case c ON c.id = d."case"'
        " WHERE d.finished_at IS NULL AND d.next_check_at IS NOT NULL AND d.next_check_at <= {}",
        now,
    )
    summary.due = len(rows)
    if not rows:
        return []
    people = await _People.load(rows, sms=bool(settings.sms_url))
    claims: list[Claim] = []
    next_checks: list[tuple[int, datetime | None]] = []
    for row in rows:
        started, due, checked = (_as_datetime(row[k]) for k in ("started_at", "due_at", "next_check_at"))
        reached = [s for s in policy.ladder if checked - timedelta(seconds=1) <= step_time(started, due, s) <= now]
        if not reached:
            next_checks.append((row["id"], next_check(policy, started, due, now)))
            continue
        summary.skipped += len(reached) - 1  # catching up: only the highest step reached goes out
        step = reached[-1]
        deferred = False
        for role in step.notify:
            party = _party_for(role, row)
            for channel, recipient, zone in people.addresses(party, row):
                if channel != "inapp" and policy.in_quiet_hours(now, zone):
                    deferred = True
                    summary.skipped += 1
                    continue
                key = claim_key(row["case_id"], row["node"], row["id"], step.level, channel, recipient)
                claims.append(Claim(key, row["case_id"], row["node"], step.level, channel, recipient))
        # Held back for quiet hours: the clock stays due, and the next sweep adds the missing claims.
        next_checks.append((row["id"], checked if deferred else next_check(policy, started, due, now)))
    won: list[int] = []
    async with db.atomic():
        for start in range(0, len(claims), CHUNK):
            won.extend(await _insert_claims(claims[start : start + CHUNK], now))
        for start in range(0, len(next_checks), CHUNK):
            await _set_next_checks(next_checks[start : start + CHUNK])
    return won


async def claim_plan_answers(*, policy: Policy, now: datetime) -> list[int]:
    """One reminder per agreed plan the customer has not answered within the policy's hours (mail only)."""
    due = await plan_answers.unanswered_plans(hours=policy.plan_answer_hours, now=now)
    claims = [Claim(p.claim_key, p.case_id, "plan", plan_answers.LEVEL, "email", p.email) for p in due]
    async with db.atomic():
        return await _insert_claims(claims, now)


def _party_for(role: str, row: dict[str, Any]) -> str:
    if role == "owner":
        return str(row["owner_party"])
    if role == "counterpart":
        return counterpart_of(row["problem_type"]) if row["owner_party"] == "us" else "us"
    return "manager"


@dataclass
class _People:
    """Everyone a batch of reminders may go to, loaded in a few queries rather than one per case."""

    users: dict[int, dict[str, Any]]
    managers: list[dict[str, Any]]
    push_users: set[int]
    suppliers: dict[int, dict[str, Any]]
    carriers: dict[int, dict[str, Any]]
    sms: bool

    @classmethod
    async def load(cls, rows: list[dict[str, Any]], *, sms: bool) -> _People:
        columns = (User.id, User.email, User.time_zone, User.role)
        assignees = {r["assignee_id"] for r in rows if r["assignee_id"]}
        users = {
            u["id"]: u for u in await _in(lambda: User.select(*columns).where(User.active.eq(True)), User.id, assignees)
        }
        managers = list(await User.select(*columns).where((User.role == Role.MANAGER) & User.active.eq(True)))
        ids = set(users) | {m["id"] for m in managers}
        push_users = {
            r["user"]
            for r in await _in(lambda: PushSubscription.select(PushSubscription.user), PushSubscription.user, ids)
        }
        supplier_ids = {r["supplier_id"] for r in rows if r["supplier_id"]}
        carrier_ids = {r["carrier_id"] for r in rows if r["carrier_id"]}
        suppliers = await _in(
            lambda: Supplier.select(Supplier.id, Supplier.email, Supplier.phone, Supplier.time_zone),
            Supplier.id,
            supplier_ids,
        )
        carriers = await _in(
            lambda: Carrier.select(Carrier.id, Carrier.email, Carrier.phone, Carrier.time_zone), Carrier.id, carrier_ids
        )
        return cls(
            users=users,
            managers=managers,
            push_users=push_users,
            suppliers={s["id"]: s for s in suppliers},
            carriers={c["id"]: c for c in carriers},
            sms=sms,
        )

    def _staff(self, user: dict[str, Any]) -> list[tuple[str, str, str]]:
        found = [("email", user["email"], user["time_zone"]), ("inapp", f"user:{user['id']}", user["time_zone"])]
        if user["id"] in self.push_users:
            found.append(("push", f"user:{user['id']}", user["time_zone"]))
        return found

    def addresses(self, party: str, row: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(channel, recipient, time zone) for a party of one case."""
        if party == "us":
            user = self.users.get(row["assignee_id"])
            if user is not None:
                return self._staff(user)
            party = "manager"  # nobody holds the case: its managers hear about it
        if party == "manager":
            return [entry for manager in self.managers for entry in self._staff(manager)]
        partner = None
        if party == "supplier":
            partner = self.suppliers.get(row["supplier_id"])
        elif party == "carrier":
            partner = self.carriers.get(row["carrier_id"])
        if partner is None:
            return []
        found = []
        if partner["email"]:
            found.append(("email", partner["email"], partner["time_zone"]))
        if self.sms and partner["phone"]:
            found.append(("sms", partner["phone"], partner["time_zone"]))
        return found


async def _in(query: Callable[[], Any], column: Any, ids: set[int]) -> list[dict[str, Any]]:
    """A fresh ``query()`` per chunk of ``column IN ids`` (Piccolo's where() adds to the query it is called on)."""
    if not ids:
        return []
    found: list[dict[str, Any]] = []
    values = sorted(ids)
    for start in range(0, len(values), CHUNK):
        found.extend(await query().where(column.is_in(values[start : start + CHUNK])))
    return found


async def _insert_claims(claims: list[Claim], now: datetime) -> list[int]:
    if not claims:
        return []
    placeholders = ", ".join("({}, {}, {}, {}, {}, {}, 'claimed', 0, '', {})" for _ in claims)
    values: list[Any] = []
    for claim in claims:
        values += [claim.key, claim.case_id, claim.node, claim.level, claim.channel, claim.recipient, now]
    columns = 'claim_key, "case", node, level, channel, recipient, status, attempts, error, claimed_at'
    sql = f"INSERT INTO reminder ({columns}) VALUES {placeholders} ON CONFLICT (claim_key) DO NOTHING RETURNING id"  # noqa: S608 - placeholders only
    rows = await Reminder.raw(sql, *values)
    return [int(r["id"]) for r in rows]


async def _set_next_checks(pairs: list[tuple[int, datetime | None]]) -> None:
    if not pairs:
        return
    cast = "{}" if db.is_sqlite(db.current_engine()) else "CAST({} AS TIMESTAMPTZ)"
    cases = " ".join(f"WHEN {{}} THEN {cast}" for _ in pairs)
    values: list[Any] = []
    for deadline_id, at in pairs:
        values += [deadline_id, at]
    ids = ", ".join("{}" for _ in pairs)
    await StageDeadline.raw(
        f"UPDATE stage_deadline SET next_check_at = CASE id {cases} END WHERE id IN ({ids})",  # noqa: S608
        *values,
        *[deadline_id for deadline_id, _ in pairs],
    )


async def take_over(*, now: datetime, lease: timedelta) -> list[int]:
    """Claims queued for sending, or claimed by a sweep that did not confirm within the lease."""
    async with db.atomic():
        rows = await Reminder.raw(
            "UPDATE reminder SET claimed_at = {}, status = 'claimed'"
            " WHERE status = 'queued' OR (status = 'claimed' AND claimed_at < {}) RETURNING id",
            now,
            now - lease,
        )
    return [int(r["id"]) for r in rows]


async def deliver(*, settings: Settings, ids: list[int], now: datetime, summary: SweepSummary) -> None:
    """Send the claims in ``ids`` by their channels and record each outcome and a case event."""
    if not ids:
        return
    reminders: list[dict[str, Any]] = []
    for start in range(0, len(ids), CHUNK):
        reminders.extend(
            await Reminder.select(
                Reminder.id,
                Reminder.case,
                Reminder.node,
                Reminder.level,
                Reminder.channel,
                Reminder.recipient,
                Reminder.attempts,
            ).where(Reminder.id.is_in(ids[start : start + CHUNK]))
        )
    context = await _Context.load(reminders)
    outcome = Outcome()
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reminder in reminders:
        by_channel[reminder["channel"]].append(reminder)
    if by_channel["email"]:
        drafts = [await context.mail(settings, r, now) for r in by_channel["email"]]
        mails = await case_mails(settings, drafts, now=now)
        deliveries = await asyncio.to_thread(send_mails, settings, mails)
        for reminder, delivery in zip(by_channel["email"], deliveries, strict=True):
            if delivery.status == "sent":
                outcome.sent.append(reminder["id"])
            else:
                refused = outcome.failed if delivery.status == "failed" else outcome.retry
                refused.append((reminder["id"], delivery.error))
    if by_channel["push"]:
        await _send_pushes(settings, by_channel["push"], context, outcome)
    if by_channel["sms"]:
        texts = {}
        for reminder in by_channel["sms"]:
            if reminder["level"] == "update":
                if not settings.sms_url:
                    continue  # no provider: the customer's update goes by mail only
                text, follow, link = await context.customer_message(settings, reminder, now)
                texts[reminder["id"]] = f"{text} {follow} {link}"
            else:
                texts[reminder["id"]] = context.text(reminder)
        await asyncio.to_thread(_send_sms, settings, by_channel["sms"], texts, outcome)
    async with db.atomic():
        await notify_users(
            [(int(r["recipient"].split(":")[1]), r["case"], context.text(r)) for r in by_channel["inapp"]], now=now
        )
        outcome.sent.extend(r["id"] for r in by_channel["inapp"])
        await _record(reminders, outcome, now)
    summary.sent += len(outcome.sent)
    summary.failed += len(outcome.failed) + len(outcome.retry)
    summary.skipped += len(outcome.skipped)


@dataclass(frozen=True)
class _Reader:
    """Who a reminder is for: the language and zone it is written in; a party also sees our time."""

    language: str
    zone: str
    party: bool = False


@dataclass
class _Context:
    """The case numbers, due times and readers the messages need, loaded once per batch."""

    numbers: dict[int, str]
    customers: dict[int, int | None]
    due: dict[tuple[int, str], datetime]
    # (case id, address) of the case's supplier and carrier: their reminders carry the reply address.
    partners: dict[tuple[int, str], str]
    # (case id, recipient) of parties by email or phone, and staff by email or "user:<id>" (any case: 0).
    readers: dict[tuple[int, str], _Reader]

    @classmethod
    async def load(cls, reminders: list[dict[str, Any]]) -> _Context:
        case_ids = {r["case"] for r in reminders}
        party_columns = [
            column
            for party in (Case.supplier, Case.carrier)
            for column in (
                party.email.as_alias(f"{party._meta.name}_email"),
                party.phone.as_alias(f"{party._meta.name}_phone"),
                party.language.as_alias(f"{party._meta.name}_language"),
                party.time_zone.as_alias(f"{party._meta.name}_time_zone"),
            )
        ]
        cases = await _in(lambda: Case.select(Case.id, Case.number, Case.customer, *party_columns), Case.id, case_ids)
        deadlines = await _in(
            lambda: StageDeadline.select(StageDeadline.case, StageDeadline.node, StageDeadline.due_at).order_by(
                StageDeadline.id
            ),
            StageDeadline.case,
            case_ids,
        )
        readers: dict[tuple[int, str], _Reader] = {}
        for c in cases:
            for party in ("supplier", "carrier"):
                reader = _Reader(c[f"{party}_language"] or DEFAULT_LANGUAGE, c[f"{party}_time_zone"] or "", True)
                for address in (c[f"{party}_email"], c[f"{party}_phone"]):
                    if address:
                        readers[(c["id"], str(address).lower())] = reader
        # Staff are few (a company's handlers and managers): one read of all of them.
        staff = await User.select(User.id, User.email, User.language, User.time_zone)
        for user in staff:
            reader = _Reader(user["language"] or DEFAULT_LANGUAGE, user["time_zone"] or "")
            readers[(0, f"user:{user['id']}")] = readers[(0, str(user["email"]).lower())] = reader
        return cls(
            numbers={c["id"]: c["number"] for c in cases},
            customers={c["id"]: c["customer"] for c in cases},
            due={(d["case"], d["node"]): _as_datetime(d["due_at"]) for d in deadlines},
            partners={
                (c["id"], str(c[f"{party}_email"]).lower()): party
                for c in cases
                for party in ("supplier", "carrier")
                if c[f"{party}_email"]
            },
            readers=readers,
        )

    def reader(self, reminder: dict[str, Any]) -> _Reader:
        recipient = reminder["recipient"].lower()
        found = self.readers.get((reminder["case"], recipient)) or self.readers.get((0, recipient))
        return found or _Reader(DEFAULT_LANGUAGE, "")

    def text(self, reminder: dict[str, Any]) -> str:
        """The reminder in its reader's language, the due time on their clock (a party's with ours beside it)."""
        number = self.numbers.get(reminder["case"], "?")
        due = self.due.get((reminder["case"], reminder["node"]))
        reader = self.reader(reminder)
        marker = current_language.set(reader.language if reader.language in LANGUAGES else DEFAULT_LANGUAGE)
        try:
            due_text = _on_clock(due, reader.zone) if due else "?"
            if due and reader.party and zone_or_default(reader.zone) != zone_or_default(company_zone()):
                due_text = _("%(theirs)s (ours: %(ours)s)", theirs=due_text, ours=_on_clock(due, company_zone()))
            node = label(reminder["node"], "node")
            level = reminder["level"]
            if level.isdigit() and int(level) >= 100:
                return _(
                    "Case %(number)s is overdue at %(node)s: it was due %(due)s.",
                    number=number,
                    node=node,
                    due=due_text,
                )
            return _("Case %(number)s at %(node)s is due %(due)s.", number=number, node=node, due=due_text)
        finally:
            current_language.reset(marker)

    async def mail(
        self, settings: Settings, reminder: dict[str, Any], now: datetime
    ) -> tuple[Mail, int, str, str | None]:
        """The reminder's mail, with its case and the party whose thread it joins (None: staff, no thread)."""
        number = self.numbers.get(reminder["case"], "?")
        if reminder["level"] in CUSTOMER_LEVELS:
            return await self._customer_update(settings, reminder, number, now)
        text = self.text(reminder)
        link = f"{settings.base_url}/cases/{number}"
        mail = Mail(
            to=[reminder["recipient"]],
            subject=f"[{number}] {text}",
            text=f"{text}\n\n{link}\n",
            html=f'<p>{_escape(text)}</p><p><a href="{_escape(link)}">{_escape(number)}</a></p>',
            headers={"X-Crossclaim-Claim": str(reminder["id"])},
        )
        # Staff (no party): their answers belong in Crossclaim, not in the support mailbox.
        party = self.partners.get((reminder["case"], reminder["recipient"].lower()))
        return mail, reminder["case"], number, party

    async def _customer_update(
        self, settings: Settings, reminder: dict[str, Any], number: str, now: datetime
    ) -> tuple[Mail, int, str, str | None]:
        text, follow, link = await self.customer_message(settings, reminder, now)
        mail = Mail(
            to=[reminder["recipient"]],
            subject=f"[{number}] {text}",
            text=f"{text}\n{follow} {link}\n",
            html=f'<p>{_escape(text)}</p><p>{_escape(follow)} <a href="{_escape(link)}">{_escape(link)}</a></p>',
        )
        return mail, reminder["case"], number, "customer"

    async def customer_message(
        self, settings: Settings, reminder: dict[str, Any], now: datetime
    ) -> tuple[str, str, str]:
        """The update in the customer's language, and a fresh tracking link of their own (hash stored only)."""
        number = self.numbers.get(reminder["case"], "?")
        customer_id = self.customers.get(reminder["case"])
        row = (
            await Customer.select(Customer.language).where(Customer.id == customer_id).first() if customer_id else None
        )
        language = row["language"] if row else "en"
        async with db.atomic():
            _link, token = await links.issue_link(
                case_id=reminder["case"],
                party="customer",
                email=reminder["recipient"] if reminder["channel"] == "email" else "",
                language=language,
                now=now,
                days=TRACKING_LINK_DAYS,
            )
        link = f"{settings.base_url}/t/{token}"
        marker = current_language.set(language)
        try:
            if reminder["level"] == plan_answers.LEVEL:
                text = _("Your after-sales case %(number)s: please confirm or decline the agreed plan.", number=number)
                follow = _("See the plan and answer here:")
            else:
                text = _(
                    "Your after-sales case %(number)s has moved on: %(node)s.",
                    number=number,
                    node=label(reminder["node"], "node"),
                )
                follow = _("Follow its progress here:")
        finally:
            current_language.reset(marker)
        return text, follow, link


def _on_clock(moment: datetime, zone: str) -> str:
    """A moment on one zone's wall clock, named: "3 Dec 2026, 10:00 Central European Standard Time"."""
    return _clock_text(moment, zone, current_language.get())


@functools.lru_cache(maxsize=4096)  # a sweep's reminders share due times and zones: Babel formats each once
def _clock_text(moment: datetime, zone: str, language: str) -> str:
    return f"{format_moment(moment, zone)} {zone_label(moment, zone)}"


def _escape(value: str) -> str:
    from markupsafe import escape

    return str(escape(value))


async def _send_pushes(
    settings: Settings, reminders: list[dict[str, Any]], context: _Context, outcome: Outcome
) -> None:
    user_ids = {int(r["recipient"].split(":")[1]) for r in reminders}
    subscriptions = await _in(
        lambda: PushSubscription.select(
            PushSubscription.id, PushSubscription.user, PushSubscription.endpoint, PushSubscription.keys
        ),
        PushSubscription.user,
        user_ids,
    )
    by_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for subscription in subscriptions:
        by_user[subscription["user"]].append(subscription)
    gone: list[int] = []
    for reminder in reminders:
        number = context.numbers.get(reminder["case"], "")
        payload = {"title": f"Crossclaim {number}", "body": context.text(reminder), "url": f"/cases/{number}"}
        delivered, errors = 0, []
        for subscription in by_user.get(int(reminder["recipient"].split(":")[1]), []):
            keys = subscription["keys"] if isinstance(subscription["keys"], dict) else _json(subscription["keys"])
            target = PushTarget(subscription["endpoint"], keys.get("p256dh", ""), keys.get("auth", ""))
            try:
                await asyncio.to_thread(
                    functools.partial(send_push, allowed_hosts=settings.push_hosts),
                    settings.data_dir,
                    settings.mail_from,
                    target,
                    payload,
                )
                delivered += 1
            except SubscriptionGone:
                gone.append(subscription["id"])
            except PushFailed as error:
                errors.append(str(error)[:300])
        if delivered:
            outcome.sent.append(reminder["id"])
        elif errors:
            outcome.retry.append((reminder["id"], "; ".join(errors)))
        else:
            outcome.failed.append((reminder["id"], "no live push subscription"))
    if gone:
        await PushSubscription.delete().where(PushSubscription.id.is_in(gone))


def _json(value: Any) -> dict[str, Any]:
    import json

    try:
        loaded = json.loads(value or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _send_sms(settings: Settings, reminders: list[dict[str, Any]], texts: dict[int, str], outcome: Outcome) -> None:
    provider = sms_provider(settings.sms_url)
    for reminder in reminders:
        if provider is None or reminder["id"] not in texts:
            outcome.skipped.append((reminder["id"], N_("no SMS provider configured")))
            continue
        try:
            provider.send(reminder["recipient"], texts[reminder["id"]])
            outcome.sent.append(reminder["id"])
        except PermanentSmsError as error:
            outcome.failed.append((reminder["id"], str(error)[:500]))
        except TransientSmsError as error:
            outcome.retry.append((reminder["id"], str(error)[:500]))


async def _record(reminders: list[dict[str, Any]], outcome: Outcome, now: datetime) -> None:
    """Statuses in a few statements, and one timeline event per case, node and step."""
    attempts = {r["id"]: r["attempts"] for r in reminders}
    for start in range(0, len(outcome.sent), CHUNK):
        chunk = outcome.sent[start : start + CHUNK]
        await Reminder.update(
            {
                Reminder.status: "sent",
                Reminder.sent_at: now,
                Reminder.error: "",
                Reminder.attempts: Reminder.attempts + 1,
            }
        ).where(Reminder.id.is_in(chunk))
    for reminder_id, error in outcome.retry:
        # Transient: stays claimed, so the next sweep after the lease tries again, up to MAX_ATTEMPTS.
        final = attempts.get(reminder_id, 0) + 1 >= MAX_ATTEMPTS
        await Reminder.update(
            {
                Reminder.status: "failed" if final else "claimed",
                Reminder.error: error,
                Reminder.attempts: Reminder.attempts + 1,
            }
        ).where(Reminder.id == reminder_id)
    for reminder_id, error in outcome.failed:
        await Reminder.update(
            {Reminder.status: "failed", Reminder.error: error, Reminder.attempts: Reminder.attempts + 1}
        ).where(Reminder.id == reminder_id)
    for reminder_id, error in outcome.skipped:
        await Reminder.update({Reminder.status: "skipped", Reminder.error: error}).where(Reminder.id == reminder_id)
    status = {i: "sent" for i in outcome.sent} | {i: "failed" for i, _ in [*outcome.retry, *outcome.failed]}
    status |= {i: "skipped" for i, _ in outcome.skipped}
    groups: dict[tuple[int, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for reminder in reminders:
        kind = "customer_updated" if reminder["level"] in CUSTOMER_LEVELS else "reminder_sent"
        if status.get(reminder["id"]) == "failed":
            kind = "reminder_failed"
        if status.get(reminder["id"]) == "skipped":
            continue  # nothing was sent and nothing went wrong: not worth a line on the timeline
        groups[(reminder["case"], reminder["node"], reminder["level"], kind)].append(reminder)
    await _record_events(
        [
            (
                case_id,
                kind,
                {"node": node, "level": level, "to": sorted(f"{m['channel']}:{m['recipient']}" for m in members)},
            )
            for (case_id, node, level, kind), members in sorted(groups.items())
        ],
        now,
    )


async def _record_events(entries: list[tuple[int, str, dict[str, Any]]], now: datetime) -> None:
    """The sweep's events for many cases at once, through the one event writer; inside a transaction."""
    await record_events(entries, actor=SWEEPER, at=now)


async def retry_failed(*, reminder_id: int) -> None:
    """An admin's retry: the claim goes back to the queue and the next sweep sends it."""
    await Reminder.update({Reminder.status: "queued", Reminder.attempts: 0}).where(
        (Reminder.id == reminder_id) & (Reminder.status == "failed")
    )
