"""The condition language of rule files: one test per fact, all of a rule's tests must hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.rules.facts import DERIVED_FACTS, FACTS, Facts

Operator = Literal["equals", "one_of", "not", "known"]

# What a condition value may look like in TOML, per the fact's kind.
_FORMS = (
    'a value (`seal = "intact"`), a list of values (`seal = ["broken", "mismatch"]`), '
    "`{ not = value-or-list }` or `{ known = true|false }`"
)


class ConditionError(ValueError):
    """A condition in a rule file is not valid; the loader adds the file and line."""


@dataclass(frozen=True)
class Condition:
    """A test on one fact. Every operator but `known` needs the fact to be known to hold."""

    fact: str
    operator: Operator
    values: frozenset[str | bool] = frozenset()
    known: bool = True

    @property
    def source_fact(self) -> str:
        """The fact a user answers to settle this condition (a derived fact points to its source)."""
        derived = DERIVED_FACTS.get(self.fact)
        return derived[0] if derived else self.fact

    def test(self, facts: Facts) -> bool | None:
        """True or False, or None when the fact is unknown and the answer depends on it."""
        value = facts.get(self.fact)
        if self.operator == "known":
            return (value is not None) == self.known
        if value is None:
            return None
        if isinstance(value, str | bool):
            hit = value in self.values
        else:
            hit = False  # dates never appear in conditions; the loader rejects them
        return not hit if self.operator == "not" else hit


def _choices(fact: str) -> tuple[str, ...] | None:
    if fact in DERIVED_FACTS:
        return DERIVED_FACTS[fact][1]
    spec = FACTS[fact]
    return spec.choices if spec.kind == "enum" else None


def _normalise(fact: str, value: object) -> str | bool:
    """Check one condition value against the fact's type and return it in the facts' own spelling."""
    kind = "enum" if fact in DERIVED_FACTS else FACTS[fact].kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ConditionError(f"{fact} is true or false, not {value!r}")
    if not isinstance(value, str):
        raise ConditionError(f"{fact} takes text values, not {value!r}")
    if kind == "country":
        if len(value.strip()) != 2 or not value.strip().isalpha():
            raise ConditionError(f"{fact} takes two-letter country codes, not {value!r}")
        return value.strip().upper()
    choices = _choices(fact) or ()
    upper = fact in ("incoterm", "incoterm_group")
    normalised = value.strip().upper() if upper else value.strip().lower()
    if normalised not in choices:
        raise ConditionError(f"{value!r} is not a value of {fact}; expected one of {', '.join(choices)}")
    return normalised


def _values(fact: str, raw: object) -> frozenset[str | bool]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConditionError(f"{fact}: an empty list can never match")
    return frozenset(_normalise(fact, item) for item in items)


def parse_condition(fact: str, raw: object) -> Condition:
    """Build a Condition from `fact = raw` in a rule's conditions table."""
    if fact not in FACTS and fact not in DERIVED_FACTS:
        raise ConditionError(f"unknown fact {fact!r} in conditions")
    if fact in FACTS and FACTS[fact].kind == "date":
        raise ConditionError(f"{fact} is a date; rule conditions cannot test dates")
    if isinstance(raw, dict):
        if len(raw) != 1:
            raise ConditionError(f"{fact}: an operator table has exactly one key, `not` or `known`")
        ((operator, operand),) = raw.items()
        if operator == "not":
            return Condition(fact, "not", _values(fact, operand))
        if operator == "known":
            if not isinstance(operand, bool):
                raise ConditionError(f"{fact}: `known` takes true or false")
            return Condition(fact, "known", known=operand)
        raise ConditionError(f"{fact}: unknown operator {operator!r}; use {_FORMS}")
    if isinstance(raw, list):
        return Condition(fact, "one_of", _values(fact, raw))
    if isinstance(raw, str | bool):
        return Condition(fact, "equals", _values(fact, raw))
    raise ConditionError(f"{fact}: a condition is {_FORMS}")
