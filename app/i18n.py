"""Translations: the current locale per request, gettext for code and templates, Babel catalogues."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import LazyProxy, NullTranslations, Translations
from jinja2 import Environment, pass_context

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue of ``language``: the compiled .mo when it is current, else compiled from the .po."""
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return Translations(handle, domain="messages")
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def gettext(message: str, /, **variables: object) -> str:
    if not message:
        return ""  # the catalogue's empty msgid is its header, never a message
    text = translations(current_language.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, /, **variables: object) -> str:
    text = translations(current_language.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def lazy_gettext(message: str) -> str:
    """For module-level labels: translated when shown, in the language of the request showing it."""
    return cast(str, LazyProxy(gettext, message, enable_cache=False))


def lazy_pgettext(context: str, message: str) -> str:
    return cast(str, LazyProxy(pgettext, context, message, enable_cache=False))


def pick_language(candidates: Iterable[str | None]) -> str:
    """The first supported language among the user's choice, cookie and Accept-Language."""
    for candidate in candidates:
        if not candidate:
            continue
        code = candidate.split("-")[0].split("_")[0].strip().lower()
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def accept_language(header: str) -> list[str]:
    """Languages from an Accept-Language header, best first."""
    weighted: list[tuple[float, str]] = []
    for part in header.split(","):
        piece = part.strip()
        if not piece:
            continue
        name, _, q = piece.partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        weighted.append((weight, name.strip()))
    return [name for _, name in sorted(weighted, key=lambda item: -item[0])]


def pgettext(context: str, message: str, /, **variables: object) -> str:
    """gettext with a context, for one English word that needs two translations ("To" a date, "To" a person)."""
    text = str(translations(current_language.get()).pgettext(context, message))
    return text % variables if variables else text


def npgettext(context: str, singular: str, plural: str, n: int, /, **variables: object) -> str:
    text = str(translations(current_language.get()).npgettext(context, singular, plural, n))
    return text % {"num": n, **variables}


# --- words that reach a page as data: marked here so extraction finds them, translated when shown ----------

NODE_LABELS: dict[str, str] = {
    "reported": lazy_pgettext("node", "Reported"),
    "responsibility": lazy_pgettext("node", "Responsibility"),
    "plan": lazy_pgettext("node", "Plan"),
    "implementation": lazy_pgettext("node", "Implementation"),
    "completed": lazy_pgettext("node", "Completed"),
    "feedback": lazy_pgettext("node", "Feedback"),
    "closed": lazy_pgettext("node", "Closed"),
    "disputed": lazy_pgettext("node", "Disputed"),
    "cancelled": lazy_pgettext("node", "Cancelled"),
}

PARTY_KIND_LABELS: dict[str, str] = {
    "supplier": lazy_gettext("Supplier"),
    "carrier": lazy_gettext("Carrier"),
    "purchaser": lazy_gettext("Purchaser (us)"),
    "undetermined": lazy_gettext("Undetermined"),
    "shared": lazy_gettext("Shared"),
    "customer": lazy_gettext("Customer"),
    "us": lazy_gettext("Us"),
}

EVENT_LABELS: dict[str, str] = {
    "case_reported": lazy_gettext("Case reported"),
    "reminder_sent": lazy_gettext("Reminder sent"),
    "customer_updated": lazy_gettext("Customer told of the progress"),
    "case_imported": lazy_gettext("Imported"),
    "case_edited": lazy_gettext("Edited"),
    "assigned": lazy_gettext("Assigned"),
    "evidence_added": lazy_gettext("Evidence added"),
    "evidence_failed": lazy_gettext("Evidence could not be read"),
    "evidence_withdrawn": lazy_gettext("Evidence withdrawn"),
    "upload_rejected": lazy_gettext("Upload refused"),
    "facts_changed": lazy_gettext("Facts changed"),
    "hint_changed": lazy_gettext("Hint changed"),
    "responsibility_confirmed": lazy_gettext("Responsibility confirmed"),
    "responsibility_overridden": lazy_gettext("Responsibility decided differently"),
    "root_cause_set": lazy_gettext("Root cause set"),
    "corrective_action_linked": lazy_gettext("Linked to a corrective action"),
    "recovery_recorded": lazy_gettext("Claim for money back recorded"),
    "message": lazy_gettext("Message"),
    "party_viewed": lazy_gettext("Viewed by the party"),
    "party_link_opened": lazy_gettext("Link opened"),
    "link_revoked": lazy_gettext("Link revoked"),
    "party_action_refused": lazy_gettext("Refused: a party acted on something not addressed to it"),
    "push_mail_sent": lazy_gettext("Email sent"),
    "push_mail_failed": lazy_gettext("Email failed"),
    "push_mail_retried": lazy_gettext("Email sent again with a new link"),
    "clock_paused": lazy_gettext("Clock paused"),
    "clock_resumed": lazy_gettext("Clock resumed"),
    "customer_feedback": lazy_gettext("Customer feedback"),
    "mail_assigned": lazy_gettext("Email filed to the case"),
    "mail_quarantined": lazy_gettext("Email quarantined"),
    "mail_bounced": lazy_gettext("Email bounced"),
    "mail_after_close": lazy_gettext("Email after closing"),
    "mail_auto_reply": lazy_gettext("Automatic reply"),
    "message_mail_sent": lazy_gettext("Email sent"),
    "message_mail_failed": lazy_gettext("Email failed"),
    "decision_mail_sent": lazy_gettext("Decision mailed"),
    "decision_mail_failed": lazy_gettext("Decision mail failed"),
    "case_pushed": lazy_gettext("Sent to the supplier or carrier"),
    "playbook_rules_overridden": lazy_gettext("Sent despite the party's playbook"),
    "party_response": lazy_gettext("Answer"),
    "plan_proposed": lazy_gettext("Plan proposed"),
    "plan_agreed": lazy_gettext("Plan agreed"),
    "customer_plan_answer": lazy_gettext("Customer's answer to the plan"),
    "progress_update": lazy_gettext("Progress update"),
    "dispute_opened": lazy_gettext("Mediation opened"),
    "dispute_decided": lazy_gettext("Mediation decided"),
    "node_changed": lazy_gettext("Moved to another step"),
}

RESPONSE_LABELS: dict[str, str] = {
    "accept": lazy_gettext("Accept"),
    "accept_part": lazy_gettext("Accept in part"),
    "dispute": lazy_gettext("Dispute"),
}

# Fact choices (snake_case codes in the rules) as people read them; Incoterms stay as written.
CHOICE_LABELS: dict[str, str] = {
    "sea": lazy_gettext("Sea"),
    "air": lazy_gettext("Air"),
    "road": lazy_gettext("Road"),
    "rail": lazy_gettext("Rail"),
    "courier": lazy_gettext("Courier"),
    "multimodal": lazy_gettext("Multimodal"),
    "hague_visby": lazy_gettext("Hague-Visby Rules"),
    "hamburg": lazy_gettext("Hamburg Rules"),
    "intact": lazy_gettext("Intact"),
    "damaged": lazy_gettext("Damaged"),
    "unknown": lazy_gettext("Unknown"),
    "broken": lazy_gettext("Broken"),
    "mismatch": lazy_gettext("Number does not match"),
    "passed": lazy_gettext("Passed"),
    "failed_shipped": lazy_gettext("Failed, shipped anyway"),
    "none": lazy_gettext("No inspection"),
    "purchaser": lazy_gettext("Ours"),
    "carrier": lazy_gettext("The carrier's"),
    "supplier": lazy_gettext("The supplier's"),
}

ROLE_LABELS: dict[str, str] = {
    "admin": lazy_gettext("Administrator"),
    "manager": lazy_gettext("Manager"),
    "handler": lazy_gettext("Handler"),
    "warehouse": lazy_gettext("Warehouse"),
}

LABELS: dict[str, dict[str, str]] = {
    "role": ROLE_LABELS,
    "node": NODE_LABELS,
    "party": PARTY_KIND_LABELS,
    "event": EVENT_LABELS,
    "response": RESPONSE_LABELS,
    "choice": CHOICE_LABELS,
}


PLAN_STATUSES: dict[str, str] = {
    "open": lazy_gettext("Awaiting an answer"),
    "accepted": lazy_gettext("Agreed"),
    "superseded": lazy_gettext("Replaced by a later round"),
    "declined": lazy_gettext("Declined by the customer"),
}
LABELS["plan_status"] = PLAN_STATUSES

REMINDER_LABELS: dict[str, str] = {
    "claimed": lazy_gettext("sending"),
    "sent": lazy_gettext("sent"),
    "failed": lazy_gettext("failed"),
    "skipped": lazy_gettext("skipped"),
    "email": lazy_gettext("email"),
    "push": lazy_gettext("push"),
    "sms": lazy_gettext("SMS"),
    "inapp": lazy_gettext("in the app"),
    "update": lazy_gettext("customer update"),
    "answer": lazy_gettext("reminder to answer the plan"),
}
LABELS["reminder"] = REMINDER_LABELS

# What the "from → to" of a timeline event names: a node unless the event says otherwise.
_CHANGE_KINDS = {
    "hint_changed": "party",
    "responsibility_confirmed": "party",
    "responsibility_overridden": "party",
    "root_cause_set": "root_cause",
    "case_edited": "urgency",  # or a region, which has no label and is shown as it is
}


def recorded(text: object) -> str:
    """Words Crossclaim recorded in English (a move's reason such as "Plan agreed") in the reader's language;
    what a person wrote stays as written."""
    return gettext(str(text or ""))


def actor_name(event: object) -> str:
    """Who acted: a name as recorded for people and parties; Crossclaim's own actors in the reader's words."""
    if isinstance(event, Mapping):
        kind, name = event.get("actor_kind"), event.get("actor_label")
    else:
        kind, name = getattr(event, "actor_kind", ""), getattr(event, "actor_label", "")
    name = str(name or "")
    return gettext(name) if kind == "system" and name else name


def change_label(value: object, event_kind: str) -> str:
    """One side of an event's change ("from" or "to") in the reader's words."""
    return label(value, _CHANGE_KINDS.get(event_kind, "node"))


def label(value: object, kind: str) -> str:
    """The reader's word for a code (a node, party kind, event...); an unknown code is shown as it is."""
    code = "" if value is None else str(value)
    found = LABELS.get(kind, {}).get(code)
    return str(found) if found is not None else code.replace("_", " ")


# A bare article of a carriage convention or the CISG, as the deadline rules cite them ("CMR Art. 30(1)").
_CITATION = re.compile(r"(CISG|CMR|Montreal 1999|Hague-Visby|COTIF-CIM) Art\. ([0-9IVX]+(?:\([0-9a-z]+\))*)")
LAW_NAMES: dict[str, str] = {
    "CISG": "CISG",
    "CMR": "CMR",
    "COTIF-CIM": "COTIF-CIM",
    "Montreal 1999": lazy_gettext("Montreal 1999"),
    "Hague-Visby": lazy_gettext("Hague-Visby"),
}


def rule_text(text: object) -> str:
    """A rule's explanation or citation in the reader's language (the rule files are English, see extract_rules).

    A citation the catalogue does not hold (the deadline rules cite articles in code) is put together from
    the law's name and the article.
    """
    message = " ".join(str(text or "").split())
    if not message:
        return ""
    translated = gettext(message)
    cited = _CITATION.fullmatch(message)
    if translated == message and cited:
        law, article = cited.groups()
        return gettext("%(law)s Art. %(article)s", law=str(LAW_NAMES[law]), article=article)
    return translated


def extract_rules(
    fileobj: BinaryIO, keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor for the trade rule files: every explanation, basis citation, cause and description.

    Whitespace is collapsed as the registry does, so the msgid is the text the engine stores in a hint.
    """
    text = fileobj.read().decode("utf-8")
    data = tomllib.loads(text)
    lines = text.splitlines()

    def line_of(needle: str) -> int:
        first = needle.split()[0] if needle.split() else needle
        return next((number for number, line in enumerate(lines, 1) if first in line), 1)

    def messages() -> Iterator[str]:
        if isinstance(data.get("description"), str):
            yield data["description"]
        for rule in data.get("rule", []):
            if isinstance(rule.get("explanation"), str):
                yield rule["explanation"]
            if isinstance(rule.get("cause"), str):
                yield rule["cause"].replace("_", " ")
            yield from (item for item in rule.get("basis", []) if isinstance(item, str))
            for citations in rule.get("basis_by_mode", {}).values():
                yield from (item for item in citations if isinstance(item, str))

    for message in messages():
        normalised = " ".join(message.split())
        if normalised:
            yield line_of(message.strip()), "gettext", normalised, []


# --- dates, numbers and money in the reader's language and time zone ---------------------------------------

DEFAULT_TIME_ZONE = "Asia/Shanghai"
_company = {"zone": DEFAULT_TIME_ZONE}
_DATETIME_PATTERNS = {"en": "d MMM y, HH:mm", "zh": "y年M月d日 HH:mm"}
_DATE_PATTERNS = {"en": "d MMM y", "zh": "y年M月d日"}


def configure_company_zone(name: str) -> None:
    """The company's own zone (setting ``CROSSCLAIM_TIME_ZONE``), set by each entry point at start."""
    if not valid_time_zone(name):
        raise ValueError(f"{name!r} is not an IANA time zone")
    _company["zone"] = name


def company_zone() -> str:
    """Where the company works: staff without a zone of their own, new customers, our business calendar."""
    return _company["zone"]


def zone_or_default(name: str | None) -> ZoneInfo:
    """The named IANA zone; an empty or unknown name falls back to the company's zone."""
    try:
        return ZoneInfo(name or company_zone())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(company_zone())


def valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return bool(name)


def format_moment(value: datetime, zone: str | None = None, *, fmt: str | None = None) -> str:
    """A stored (UTC) moment on the wall clock of ``zone``; ``fmt`` keeps an strftime layout where one is wanted."""
    local = value.astimezone(zone_or_default(zone))
    if fmt:
        return local.strftime(fmt)
    language = current_language.get()
    return format_datetime(local, _DATETIME_PATTERNS.get(language, _DATETIME_PATTERNS["en"]), locale=language)


def zone_label(value: datetime, zone: str | None) -> str:
    """The zone's long name at that moment, in the reader's language ("Central European Standard Time")."""
    tz = zone_or_default(zone)
    return format_datetime(value.astimezone(tz), "zzzz", tzinfo=tz, locale=current_language.get())


def format_day(value: date | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return format_day(date.fromisoformat(value))
        except ValueError:
            return value
    language = current_language.get()
    return format_date(value, _DATE_PATTERNS.get(language, _DATE_PATTERNS["en"]), locale=language)


def format_number(value: object, digits: int | None = None) -> str:
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    if digits is not None:
        number = round(number, digits)
    return format_decimal(number, locale=current_language.get())


def format_money(amount: object, currency: str | None) -> str:
    """An amount with its ISO currency ("€1,234.50", "US$1,234.50" in zh); no currency prints the number."""
    if amount is None or amount == "":
        return ""
    if not currency:
        return format_number(amount, 2)
    return format_currency(Decimal(str(amount)), currency.upper(), locale=current_language.get())


def viewer_zone(context: Mapping[str, Any]) -> str:
    """Who reads the page: a supplier's or carrier's page is in the party's zone, staff pages in the
    signed-in user's (set on their profile), anything else in the company's."""
    party_zone = context.get("party_zone")
    if isinstance(party_zone, str) and party_zone:
        return party_zone
    request = context.get("request")
    scope = getattr(request, "scope", None) or {}
    user = scope.get("user") if isinstance(scope, Mapping) else None
    return str(getattr(user, "time_zone", "") or company_zone())


@pass_context
def local_time_filter(
    context: Mapping[str, Any], value: datetime | None, zone: str | None = None, fmt: str | None = None
) -> str:
    if value is None:
        return ""
    return format_moment(value, zone or viewer_zone(context), fmt=fmt)


@pass_context
def zone_filter(context: Mapping[str, Any], value: datetime | None, zone: str | None = None) -> str:
    return zone_label(value, zone or viewer_zone(context)) if value is not None else ""


def install(environment: Environment) -> None:
    """gettext, pgettext and the locale filters for the app's templates."""
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )
    environment.filters.update(
        local_time=local_time_filter,
        zone_name=zone_filter,
        day=format_day,
        number=format_number,
        money=format_money,
        label=label,
        change_label=change_label,
        actor_name=actor_name,
        recorded=recorded,
        rule_text=rule_text,
    )
