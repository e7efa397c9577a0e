"""Time zones: the company's own, a reader's, and what to fall back on when a name is not a zone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIME_ZONE = "Asia/Shanghai"


_company = {"zone": DEFAULT_TIME_ZONE}


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
