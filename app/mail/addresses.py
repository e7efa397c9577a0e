"""Reply addresses that name a case and a party, signed so they cannot be guessed or altered."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Final

PARTY_CODES: Final = {"supplier": "s", "carrier": "c", "customer": "u"}
CODE_PARTIES: Final = {code: party for party, code in PARTY_CODES.items()}
TAG_LENGTH: Final = 10
# <case number>.<party letter><signature>, lower case: some mail systems lower-case the local part.
_DETAIL: Final = re.compile(rf"([a-z]{{1,6}}-\d{{4}}-\d{{1,9}})\.([a-z])([a-z2-7]{{{TAG_LENGTH}}})")


@dataclass(frozen=True)
class ReplyTag:
    """What a reply address (or a tag header) claims, and whether its signature holds."""

    number: str
    party: str
    valid: bool


def signature(secret: str, number: str, party: str) -> str:
    """A truncated HMAC-SHA256 of the case number and party, base32 in lower case (50 bits)."""
    message = f"reply-tag:{number.upper()}:{party}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:TAG_LENGTH]


def tag_for(secret: str, number: str, party: str) -> str:
    return f"{number.lower()}.{PARTY_CODES[party]}{signature(secret, number, party)}"


def reply_address(mailbox: str, secret: str, number: str, party: str) -> str:
    """``support+<case>.<tag>@domain`` for the support mailbox ``support@domain`` (empty without a mailbox)."""
    if "@" not in mailbox or party not in PARTY_CODES:
        return ""
    local, _, domain = _bare(mailbox).rpartition("@")
    return f"{local.split('+', 1)[0]}+{tag_for(secret, number, party)}@{domain}"


def read_tag(detail: str, secret: str) -> ReplyTag | None:
    """The claim in a tag; None when the text is not shaped like one at all."""
    match = _DETAIL.fullmatch(detail.strip().lower())
    if match is None or match.group(2) not in CODE_PARTIES:
        return None
    number, party = match.group(1).upper(), CODE_PARTIES[match.group(2)]
    valid = hmac.compare_digest(match.group(3), signature(secret, number, party))
    return ReplyTag(number=number, party=party, valid=valid)


def tags_in(addresses: list[str], mailbox: str, secret: str) -> list[ReplyTag]:
    """The tags of the addresses that are plus-addresses of the support mailbox."""
    if "@" not in mailbox:
        return []
    base_local, _, base_domain = _bare(mailbox).rpartition("@")
    base_local = base_local.split("+", 1)[0]
    found = []
    for address in addresses:
        local, _, domain = address.lower().rpartition("@")
        head, plus, detail = local.partition("+")
        if plus and head == base_local and domain == base_domain:
            tag = read_tag(detail, secret)
            if tag is not None:
                found.append(tag)
    return found


def _bare(mailbox: str) -> str:
    return (getaddresses([mailbox])[0][1] or mailbox).strip().lower()
