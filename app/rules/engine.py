"""The responsibility engine: which party likely bears a claim, on what basis, and by when to act."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from app.rules.deadlines import Deadline, HolidayCalendar, RuleWarning, compute_deadlines
from app.rules.facts import DEFAULT_EVIDENCE, EVIDENCE, FACTS, N_, Facts, parse_facts
from app.rules.registry import Rule, RuleRegistry

# Below this a hint is "weak": missing facts that could lift it are listed even if they agree.
WEAK_CONFIDENCE = 0.6
# Near-miss rules needing more unknown facts than this (beyond the closest ones) are not worth asking about.
_NEAR_MISS_SPAN = 2

_NO_RULE_EXPLANATION = N_(
    "No rule decides this case on the facts given yet: answer the questions listed, or gather the evidence."
)


@dataclass(frozen=True)
class Alternative:
    """Another party that a losing (but not overridden) rule points at."""

    party: str
    confidence: float
    rule_ids: tuple[str, ...]
    basis: tuple[str, ...]
    explanation: str

    def to_dict(self) -> dict[str, object]:
        return {
            "party": self.party,
            "confidence": self.confidence,
            "rule_ids": list(self.rule_ids),
            "basis": list(self.basis),
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class MissingFact:
    """A fact to ask for, or evidence to gather, that would settle or change the hint."""

    kind: Literal["fact", "evidence"]
    name: str
    question: str

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "name": self.name, "question": self.question}


@dataclass(frozen=True)
class Suggestion:
    """The engine's hint for one claim. A hint, not a legal opinion: every party comes with its basis."""

    party: str
    confidence: float
    cause: str | None
    basis: tuple[str, ...]
    rule_ids: tuple[str, ...]
    explanation: str
    alternatives: tuple[Alternative, ...]
    deadlines: tuple[Deadline, ...]
    missing_facts: tuple[MissingFact, ...]
    warnings: tuple[RuleWarning, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "party": self.party,
            "confidence": self.confidence,
            "cause": self.cause,
            "basis": list(self.basis),
            "rule_ids": list(self.rule_ids),
            "explanation": self.explanation,
            "alternatives": [a.to_dict() for a in self.alternatives],
            "deadlines": [d.to_dict() for d in self.deadlines],
            "missing_facts": [m.to_dict() for m in self.missing_facts],
            "warnings": [warning.text for warning in self.warnings],
            "warning_details": [warning.to_dict() for warning in self.warnings],
        }


def _rank(rule: Rule) -> tuple[int, int, float, str]:
    # More specific first, then higher priority, then higher confidence; the id only makes ties stable.
    return (-rule.specificity, -rule.priority, -rule.confidence, rule.id)


def _dedupe(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class _Decision:
    winners: tuple[Rule, ...]  # the top rule first, then the others agreeing with its party
    alternatives: tuple[Alternative, ...]
    overridden: frozenset[str]


def decide(facts: Facts, registry: RuleRegistry) -> _Decision:
    """Apply the conflict order: overrides drop out, then specificity, priority and confidence rank."""
    matched = [rule for rule in registry if rule.evaluate(facts)[0]]
    overridden = frozenset(target for rule in matched for target in rule.overrides)
    # The registry rejects override cycles, so at least one matched rule survives.
    pool = sorted((rule for rule in matched if rule.id not in overridden), key=_rank)
    if not pool:
        return _Decision((), (), overridden)
    top = pool[0]
    winners = tuple(rule for rule in pool if rule.party == top.party)
    mode = facts.transport_mode
    alternatives: list[Alternative] = []
    for party in dict.fromkeys(rule.party for rule in pool if rule.party != top.party):
        rules = [rule for rule in pool if rule.party == party]
        alternatives.append(
            Alternative(
                party=party,
                confidence=max(rule.confidence for rule in rules),
                rule_ids=tuple(rule.id for rule in rules),
                basis=_dedupe([citation for rule in rules for citation in rule.basis_for(mode)]),
                explanation=rules[0].explanation,
            )
        )
    return _Decision(winners, tuple(alternatives), overridden)


def _missing_facts(
    facts: Facts, registry: RuleRegistry, decision: _Decision, party: str, confidence: float
) -> tuple[MissingFact, ...]:
    names: list[str] = []
    if facts.problem_type is None:
        names.append("problem_type")
    else:
        near: list[tuple[int, tuple[str, ...]]] = []
        for rule in registry:
            if rule.id in decision.overridden:
                continue
            matches, unknown = rule.evaluate(facts)
            if matches or not unknown:
                continue
            # A near miss is worth asking about if answering could change the party or lift a weak hint.
            changes_party = party == "undetermined" or rule.party != party
            lifts = confidence < WEAK_CONFIDENCE and rule.confidence > confidence
            if changes_party or lifts:
                near.append((len(unknown), unknown))
        if near:
            limit = max(_NEAR_MISS_SPAN, min(count for count, _ in near))
            wanted = {name for count, unknown in near if count <= limit for name in unknown}
            names.extend(name for name in FACTS if name in wanted)
    items = [MissingFact("fact", name, FACTS[name].question) for name in names]

    if party == "undetermined":
        evidence = [name for rule in decision.winners for name in rule.evidence]
        if not items and not evidence:
            evidence = list(DEFAULT_EVIDENCE.get(facts.problem_type or "other", DEFAULT_EVIDENCE["other"]))
        items.extend(MissingFact("evidence", name, EVIDENCE[name]) for name in _dedupe(evidence))
    return tuple(items)


def suggest(
    facts: Mapping[str, object] | Facts,
    *,
    today: date,
    registry: RuleRegistry | None = None,
    calendar: HolidayCalendar | None = None,
    carrier_windows: Mapping[str, int] | None = None,
) -> Suggestion:
    """Suggest the responsible party for a claim. Raises FactsError on invalid facts.

    Pure: `today` stands in for the clock, and the registry (default: the core rules) and the
    holiday calendar (default: the shipped one for `delivery_country`, else Sundays only) are inputs.
    """
    parsed = parse_facts(facts.to_dict() if isinstance(facts, Facts) else facts, today=today)
    rules = registry if registry is not None else RuleRegistry.core()
    decision = decide(parsed, rules)
    report = compute_deadlines(parsed, today=today, calendar=calendar, carrier_windows=carrier_windows)
    mode = parsed.transport_mode

    if decision.winners:
        top = decision.winners[0]
        party, confidence, explanation = top.party, top.confidence, top.explanation
        cause = next((rule.cause for rule in decision.winners if rule.cause), None)
        basis = _dedupe([citation for rule in decision.winners for citation in rule.basis_for(mode)])
        rule_ids = tuple(rule.id for rule in decision.winners)
    else:
        party, confidence, explanation, cause, basis, rule_ids = "undetermined", 0.0, _NO_RULE_EXPLANATION, None, (), ()

    return Suggestion(
        party=party,
        confidence=confidence,
        cause=cause,
        basis=basis,
        rule_ids=rule_ids,
        explanation=explanation,
        alternatives=decision.alternatives,
        deadlines=report.deadlines,
        missing_facts=_missing_facts(parsed, rules, decision, party, confidence),
        warnings=report.warnings,
    )
