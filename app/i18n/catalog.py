"""The languages we speak and their catalogues: gettext and friends in the language of the request."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import cast

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


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
