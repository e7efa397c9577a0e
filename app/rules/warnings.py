"""Warnings the rules give a handler: what is at risk, with the values a page shows in the reader's terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

WarningValueKind = Literal["plain", "date", "text", "names"]


WarningValue = tuple[str, str, WarningValueKind]  # name, value, how a page shows it


@dataclass(frozen=True)
class RuleWarning:
    """A warning kept as a catalogue message and its values, so each reader gets it in their language.

    ``message`` is English with ``%(name)s`` fields and is the msgid; each value says how a page shows it:
    ``date`` (ISO here, the reader's format on a page), ``text`` (a phrase or law name from the catalogue),
    ``names`` (law names joined by ", ", each from the catalogue) or ``plain`` (a name or number shown as it
    is). ``text`` is the English the JSON API has always given.
    """

    message: str
    values: tuple[WarningValue, ...] = ()
    at_risk: bool = False

    @property
    def text(self) -> str:
        if not self.values:
            return self.message
        return self.message % {name: value for name, value, _kind in self.values}

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, object]:
        return {
            "message": self.message,
            "values": {name: value for name, value, _kind in self.values},
            "kinds": {name: kind for name, _value, kind in self.values},
            "at_risk": self.at_risk,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> RuleWarning:
        """The warning a stored hint kept; an unknown kind is shown plain."""
        values = raw.get("values")
        kinds = raw.get("kinds")
        values = values if isinstance(values, Mapping) else {}
        kinds = kinds if isinstance(kinds, Mapping) else {}

        def kind_of(name: object) -> WarningValueKind:
            kind = kinds.get(name)
            return "date" if kind == "date" else "text" if kind == "text" else "names" if kind == "names" else "plain"

        return cls(
            message=str(raw.get("message", "")),
            values=tuple((str(name), str(value), kind_of(name)) for name, value in values.items()),
            at_risk=bool(raw.get("at_risk")),
        )
