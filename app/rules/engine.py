"""The responsibility engine: which party likely bears a claim, on what basis, and by when to act."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal

from app.rules.calendar import HolidayCalendar
from app.rules.conditions import Condition
from app.rules.deadlines import Deadline, compute_deadlines
from app.rules.facts import DEFAULT_EVIDENCE, EVIDENCE, FACTS, N_, Facts, parse_facts
from app.rules.priors import Answer, core_priors
from app.rules.registry import Rule, RuleRegistry
from app.rules.warnings import RuleWarning

# Below this a hint is "weak" (pages say so).
WEAK_CONFIDENCE = 0.6
# Two parties whose weighed confidence differs by no more than this are "close": the facts are balanced.
CLOSE = 0.05
# Precedent breaks a close call only with at least this many similar confirmed cases for the two parties.
PRECEDENT_MINIMUM = 3
# The chance given to an unknown fact without a list of answers (a date or a country) holding a test.
UNLISTED_ANSWER_CHANCE = 0.5
SETTLED = ("supplier", "carrier", "purchaser")

# Why a hint reads as it does: `reading` in the JSON.
READINGS: Mapping[str, str] = MappingProxyType(
    {
        "matched": N_("A rule's facts are all known."),
        "likely": N_("The facts given so far point this way; the questions below would confirm or overturn it."),
        "precedent": N_("The rules leave two parties close; the company's similar confirmed cases tip it this way."),
        "balanced": N_("The facts given so far point as much to one party as to another: answer the first question."),
        "unclear_by_rule": N_("On these facts the trade rules themselves leave it open."),
        "no_rule": N_("No rule fits the facts given: gather the evidence listed."),
        "no_problem_type": N_("The problem type is not known yet."),
    }
)

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
class AnswerEffect:
    """What the hint would become if a missing fact were answered one of these ways."""

    answers: tuple[Answer, ...]
    party: str
    confidence: float

    def to_dict(self) -> dict[str, object]:
        return {"answers": list(self.answers), "party": self.party, "confidence": self.confidence}


@dataclass(frozen=True)
class MissingFact:
    """A fact to ask for, or evidence to gather, that would settle or change the hint.

    `impact` is how much its answer is expected to change the hint, over the answers' priors (a
    question that likely does not apply counts little): an answer that changes the party counts 1,
    any other the change in confidence; `effects` previews the hint for each answer.
    """

    kind: Literal["fact", "evidence"]
    name: str
    question: str
    impact: float = 0.0
    effects: tuple[AnswerEffect, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "question": self.question,
            "impact": self.impact,
            "effects": [effect.to_dict() for effect in self.effects],
        }


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
    reading: str = "matched"
    ranking: tuple[PartyScore, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "party": self.party,
            "confidence": self.confidence,
            "reading": self.reading,
            "ranking": [score.to_dict() for score in self.ranking],
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


@dataclass(frozen=True)
class PartyScore:
    """How strongly the facts given point at one party: its best rule, weighed by what is still unknown."""

    party: str
    confidence: float
    rule_id: str
    matched: bool  # every fact the rule tests is known

    def to_dict(self) -> dict[str, object]:
        return {"party": self.party, "confidence": self.confidence, "rule_id": self.rule_id, "matched": self.matched}


@functools.lru_cache(maxsize=8)
def _rivals(registry: RuleRegistry) -> tuple[tuple[Rule, ...], Mapping[str, tuple[Rule, ...]]]:
    """The rules in rank order, and for each the rules of other parties that would win over it if they held:
    those that override it, or rank above it without being overridden by it. Worked out once per registry."""
    rules = tuple(sorted(registry, key=_rank))
    threats = {
        rule.id: tuple(
            other
            for other in rules
            if other.party != rule.party
            and other.id not in rule.overrides
            and (rule.id in other.overrides or _rank(other) < _rank(rule))
        )
        for rule in rules
    }
    return rules, MappingProxyType(threats)


@dataclass(frozen=True)
class _Weigher:
    """Weighs every rule on incomplete facts; built once per call, reused for each previewed answer."""

    rules: tuple[Rule, ...]  # in rank order
    threats: Mapping[str, tuple[Rule, ...]]
    priors: Mapping[str, tuple[tuple[Answer, float], ...]]

    @classmethod
    def build(cls, registry: RuleRegistry, priors: Mapping[str, tuple[tuple[Answer, float], ...]]) -> _Weigher:
        rules, threats = _rivals(registry)
        return cls(rules, threats, priors)

    def holds(self, rule: Rule, facts: Facts) -> float | None:
        """The chance that all of the rule's conditions hold, over the unknown facts' priors; None if one fails."""
        open_tests: dict[str, list[Condition]] = {}
        for condition in rule.conditions:
            outcome = condition.test(facts)
            if outcome is False:
                return None
            if outcome is None:
                open_tests.setdefault(condition.source_fact, []).append(condition)
        chance = 1.0
        for name, conditions in open_tests.items():
            answers = self.priors.get(name)
            if not answers:
                chance *= UNLISTED_ANSWER_CHANCE
                continue
            chance *= sum(
                weight
                for answer, weight in answers
                if all(condition.test(facts.with_fact(name, answer)) for condition in conditions)
            )
        return chance

    def scores(self, facts: Facts) -> tuple[PartyScore, ...]:
        """Each party's strongest rule, weighed: confidence x chance it holds x chance no rival beats it."""
        chances = {rule.id: chance for rule in self.rules if (chance := self.holds(rule, facts))}
        matched = [rule for rule in self.rules if chances.get(rule.id) == 1.0]
        overridden = {target for rule in matched for target in rule.overrides}
        best: dict[str, PartyScore] = {}
        for rule in self.rules:
            chance = chances.get(rule.id)
            if not chance:
                continue
            weight = rule.confidence * chance
            for rival in self.threats[rule.id]:
                if rival.id not in overridden:
                    weight *= 1.0 - chances.get(rival.id, 0.0)
            current = best.get(rule.party)
            if weight > 0 and (current is None or weight > current.confidence):
                best[rule.party] = PartyScore(rule.party, round(weight, 4), rule.id, chance == 1.0)
        return tuple(sorted(best.values(), key=lambda score: -score.confidence))


@dataclass(frozen=True)
class _Reading:
    party: str
    confidence: float
    reading: str
    rules: tuple[Rule, ...]  # the rules behind the party, the deciding one first
    ranking: tuple[PartyScore, ...]
    decision: _Decision


def _read(facts: Facts, registry: RuleRegistry, weigher: _Weigher, precedent: Mapping[str, int] | None) -> _Reading:
    """The likely party on these facts: the matching rules' if they decide, else the strongest weighed one."""
    decision = decide(facts, registry)
    if facts.problem_type is None:
        return _Reading("undetermined", 0.0, "no_problem_type", (), (), decision)
    ranking = weigher.scores(facts)
    by_party = {score.party: score for score in ranking}
    if decision.winners:
        top = decision.winners[0]
        confidence = by_party[top.party].confidence if top.party in by_party else 0.0
        return _Reading(top.party, confidence, "matched", decision.winners, ranking, decision)
    if not ranking:
        return _Reading("undetermined", 0.0, "no_rule", (), ranking, decision)
    leader = ranking[0]
    rules = (registry.get(leader.rule_id),)
    runner_up = ranking[1] if len(ranking) > 1 else None
    if runner_up is not None and leader.confidence - runner_up.confidence <= CLOSE:
        pair = (leader.party, runner_up.party)
        chosen = _tie_break(pair, precedent) if all(party in SETTLED for party in pair) else None
        if chosen is None:
            return _Reading("undetermined", 0.0, "balanced", (), ranking, decision)
        score = by_party[chosen]
        return _Reading(chosen, score.confidence, "precedent", (registry.get(score.rule_id),), ranking, decision)
    if leader.party == "undetermined":
        return _Reading("undetermined", leader.confidence, "unclear_by_rule", rules, ranking, decision)
    return _Reading(leader.party, leader.confidence, "likely", rules, ranking, decision)


def _tie_break(pair: tuple[str, str], precedent: Mapping[str, int] | None) -> str | None:
    """The one of two close parties that the company's similar confirmed cases clearly favour, if any."""
    if not precedent:
        return None
    first, second = (precedent.get(party, 0) for party in pair)
    if first + second < PRECEDENT_MINIMUM or first == second:
        return None
    return pair[0] if first > second else pair[1]


def _effects(
    facts: Facts,
    name: str,
    registry: RuleRegistry,
    weigher: _Weigher,
    precedent: Mapping[str, int] | None,
    now: _Reading,
) -> tuple[float, tuple[AnswerEffect, ...]]:
    """What each answer to one missing fact would make of the hint, and how far the largest change goes."""
    grouped: dict[tuple[str, float], list[Answer]] = {}
    answers = weigher.priors.get(name, ())
    expected = 0.0
    for answer, weight in answers:
        then = _read(facts.with_fact(name, answer), registry, weigher, precedent)
        # A changed party counts fully; otherwise, how far the confidence moves.
        change = 1.0 if then.party != now.party else abs(then.confidence - now.confidence)
        expected += weight * change
        grouped.setdefault((then.party, then.confidence), []).append(answer)
    effects = tuple(AnswerEffect(tuple(answers), party, confidence) for (party, confidence), answers in grouped.items())
    return round(expected, 4), effects


def _missing_facts(
    facts: Facts,
    registry: RuleRegistry,
    weigher: _Weigher,
    precedent: Mapping[str, int] | None,
    now: _Reading,
) -> tuple[MissingFact, ...]:
    if facts.problem_type is None:
        return (MissingFact("fact", "problem_type", FACTS["problem_type"].question, 1.0),)
    open_facts: set[str] = set()
    for rule in registry:
        for condition in rule.conditions:
            if condition.test(facts) is None:
                open_facts.add(condition.source_fact)
    items: list[MissingFact] = []
    for name, spec in FACTS.items():
        if name not in open_facts or not spec.matters_for(facts.problem_type, facts.transport_mode):
            continue
        impact, effects = _effects(facts, name, registry, weigher, precedent, now)
        if impact > 0:
            items.append(MissingFact("fact", name, spec.question, impact, effects))
    # The question that could change the answer most comes first; ties keep the form's order.
    items.sort(key=lambda item: -item.impact)

    if now.party == "undetermined":
        evidence = [name for rule in now.decision.winners or now.rules for name in rule.evidence]
        if not items and not evidence:
            evidence = list(DEFAULT_EVIDENCE.get(facts.problem_type or "other", DEFAULT_EVIDENCE["other"]))
        items.extend(MissingFact("evidence", name, EVIDENCE[name]) for name in _dedupe(evidence))
    return tuple(items)


def _ranked_alternatives(reading: _Reading, registry: RuleRegistry, mode: str | None) -> tuple[Alternative, ...]:
    if reading.decision.winners:
        return reading.decision.alternatives
    alternatives = []
    for score in reading.ranking:
        if score.party in (reading.party, "undetermined"):
            continue
        rule = registry.get(score.rule_id)
        alternatives.append(
            Alternative(score.party, score.confidence, (rule.id,), rule.basis_for(mode), rule.explanation)
        )
    return tuple(alternatives)


def suggest(
    facts: Mapping[str, object] | Facts,
    *,
    today: date,
    registry: RuleRegistry | None = None,
    calendar: HolidayCalendar | None = None,
    carrier_windows: Mapping[str, int] | None = None,
    priors: Mapping[str, tuple[tuple[Answer, float], ...]] | None = None,
    precedent: Mapping[str, int] | None = None,
) -> Suggestion:
    """Suggest the responsible party for a claim. Raises FactsError on invalid facts.

    Pure: `today` stands in for the clock, and the registry (default: the core rules), the priors of
    unknown facts (default: the shipped ones), the holiday calendar (default: the shipped one for
    `delivery_country`, else Sundays only) and `precedent` (confirmed parties of the company's similar
    closed cases, party -> count; it only breaks a close call) are inputs.
    """
    parsed = parse_facts(facts.to_dict() if isinstance(facts, Facts) else facts, today=today)
    rules = registry if registry is not None else RuleRegistry.core()
    weigher = _Weigher.build(rules, priors if priors is not None else core_priors())
    reading = _read(parsed, rules, weigher, precedent)
    report = compute_deadlines(parsed, today=today, calendar=calendar, carrier_windows=carrier_windows)
    mode = parsed.transport_mode

    if reading.rules:
        top = reading.rules[0]
        explanation = top.explanation
        cause = next((rule.cause for rule in reading.rules if rule.cause), None)
        basis = _dedupe([citation for rule in reading.rules for citation in rule.basis_for(mode)])
        rule_ids = tuple(rule.id for rule in reading.rules)
    else:
        explanation, cause, basis, rule_ids = _NO_RULE_EXPLANATION, None, (), ()
        if reading.reading == "balanced":
            explanation = READINGS["balanced"]

    return Suggestion(
        party=reading.party,
        confidence=reading.confidence,
        cause=cause,
        basis=basis,
        rule_ids=rule_ids,
        explanation=explanation,
        alternatives=_ranked_alternatives(reading, rules, mode),
        deadlines=report.deadlines,
        missing_facts=_missing_facts(parsed, rules, weigher, precedent, reading),
        warnings=report.warnings,
        reading=reading.reading,
        ranking=reading.ranking,
    )
