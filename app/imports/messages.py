"""What the import flow tells people: English text that keeps its catalogue msgid, translated when a page shows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.i18n import DEFAULT_LANGUAGE, current_language, gettext, ngettext


class Message(str):
    """An import message: its English text (the CLI's JSON, logs, tests) plus the msgid and values it came from.

    The reader, the checker and the worker run without a reader (the worker has no request at all), so a
    message is put together in English and translated only where a page shows it, with ``translated()``.
    It is a ``str`` so that every caller that wants text (``str(error)``, JSON, comparisons) gets the English
    without knowing about catalogues. ``%(name)s`` fields in the msgid take ``values``; a value that is itself
    a Message (a column's label) is translated with it. A plural message takes ``plural`` and a ``num`` value.
    """

    msgid: str
    plural: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, *, plural: str = "", **values: Any) -> Message:
        chosen = plural if plural and values.get("num") != 1 else msgid
        message = super().__new__(cls, chosen % values if values else chosen)
        message.msgid, message.plural, message.values = msgid, plural, values
        return message

    def translated(self) -> str:
        """The message in the current reader's language (called while a page renders)."""
        values = {name: v.translated() if isinstance(v, Message) else v for name, v in self.values.items()}
        if self.plural:
            return ngettext(self.msgid, self.plural, int(values["num"]), **values)
        return gettext(self.msgid, **values)

    def as_state(self) -> dict[str, Any]:
        """For a job's JSON state: ``message`` stays the English text, ``msgid``/``values`` let a page translate it."""
        values = {name: v.as_state() if isinstance(v, Message) else v for name, v in self.values.items()}
        return {"message": str(self), "msgid": self.msgid, "plural": self.plural, "values": values}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Message | None:
        """The message a job's state holds; a state saved before messages kept their msgid has its text only."""
        msgid = state.get("msgid")
        if not isinstance(msgid, str) or not msgid:
            text = state.get("message")
            return cls(text) if isinstance(text, str) and text else None
        raw = state.get("values")
        values = {
            name: cls.from_state(value) if isinstance(value, Mapping) else value
            for name, value in (raw.items() if isinstance(raw, Mapping) else ())
        }
        return cls(msgid, plural=str(state.get("plural") or ""), **values)


def label_message(label: object) -> Message:
    """A lazily translated label (a column's) as a message: its English msgid, whoever is reading now."""
    token = current_language.set(DEFAULT_LANGUAGE)
    try:
        return Message(str(label))
    finally:
        current_language.reset(token)


class MessageError(ValueError):
    """An error raised with a msgid and its values: ``str(error)`` is the English text, a ``Message``."""

    def __init__(self, msgid: str, **values: Any) -> None:
        self.message = Message(msgid, **values)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
