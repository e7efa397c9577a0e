"""Words that reach a page as data (nodes, events, parties, rules' texts): marked here, translated when shown."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from app.i18n.catalog import gettext, lazy_gettext, lazy_pgettext

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
