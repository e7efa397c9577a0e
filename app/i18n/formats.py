"""Moments, days, numbers and money written in the reader's language and on their clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import pass_context

from app.i18n.catalog import current_language
from app.i18n.zones import viewer_zone, zone_or_default

_DATETIME_PATTERNS = {"en": "d MMM y, HH:mm", "zh": "y年M月d日 HH:mm"}


_DATE_PATTERNS = {"en": "d MMM y", "zh": "y年M月d日"}


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
