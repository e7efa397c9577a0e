"""Properties of the engine over generated facts: it never crashes and always names a basis or a next step."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.rules import FACTS, PARTIES, Facts, FactsError, Rule, RuleRegistry, parse_facts, suggest

TODAY = date(2026, 11, 26)
EARLIEST = date(2023, 1, 1)


def _value_strategy(name: str) -> st.SearchStrategy[Any]:
    spec = FACTS[name]
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "date":
        return st.dates(min_value=EARLIEST, max_value=TODAY).map(date.isoformat)
    if spec.kind == "country":
        return st.sampled_from(["CN", "DE", "GB", "US", "fr", "BR"])
    choices = st.sampled_from(spec.choices)
    if name == "incoterm":
        # Input is case-insensitive; make sure the engine sees both spellings.
        return choices | choices.map(str.lower)
    return choices


@st.composite
def valid_facts(draw: st.DrawFn) -> dict[str, object]:
    optional = {name: st.none() | _value_strategy(name) for name in FACTS}
    facts: dict[str, object] = draw(st.fixed_dictionaries({}, optional=optional))
    delivered, discovered = facts.get("delivered_on"), facts.get("discovered_on")
    if isinstance(delivered, str) and isinstance(discovered, str) and discovered < delivered:
        facts["delivered_on"], facts["discovered_on"] = discovered, delivered
    return facts


windows = st.none() | st.fixed_dictionaries(
    {}, optional={key: st.integers(min_value=0, max_value=400) for key in ("damage", "shortage", "delay")}
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=valid_facts(), carrier_windows=windows, today_offset=st.integers(min_value=0, max_value=2000))
def test_engine_never_crashes_and_always_names_a_basis_or_missing_facts(
    facts: dict[str, object], carrier_windows: dict[str, int] | None, today_offset: int
) -> None:
    today = TODAY + timedelta(days=today_offset)
    result = suggest(facts, today=today, carrier_windows=carrier_windows)

    assert result.party in PARTIES
    assert 0.0 <= result.confidence <= 1.0
    if result.party == "undetermined":
        assert result.missing_facts, facts
    else:
        assert result.basis, facts
        assert result.rule_ids
    assert result.basis or (result.party == "undetermined" and result.missing_facts)
    registry = RuleRegistry.core()
    assert all(rule_id in registry for rule_id in result.rule_ids)
    assert all(alt.party != result.party and alt.basis for alt in result.alternatives)
    assert all(d.basis and d.party in ("carrier", "supplier") for d in result.deadlines)
    assert all(("claim at risk" in w.text) for w in result.warnings if "has passed" in w.text)
    assert all(w.at_risk == w.text.startswith("claim at risk") for w in result.warnings)
    json.dumps(result.to_dict())


@settings(max_examples=200, deadline=None)
@given(facts=valid_facts())
def test_parsed_facts_round_trip(facts: dict[str, object]) -> None:
    parsed = parse_facts(facts, today=TODAY)
    assert parse_facts(parsed.to_dict(), today=TODAY) == parsed
    # A Facts object is accepted as input and gives the same answer as the raw mapping.
    assert suggest(parsed, today=TODAY) == suggest(facts, today=TODAY)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
# Keys drawn mostly from real fact names, so values reach the type checks, not only "unknown fact".
fact_keys = st.sampled_from(sorted(FACTS)) | st.text(max_size=25)
near_values = (
    json_values
    | st.sampled_from(["2026-02-30", "2026-13-01", "20261001", "2026-W40-3", "2099-01-01", "FOB", "fob", "xx"])
    | st.dates().map(date.isoformat)
)


@settings(max_examples=500, deadline=None)
@given(raw=st.dictionaries(fact_keys, near_values, max_size=8) | json_values)
def test_parse_facts_raises_only_facts_error(raw: Any) -> None:
    try:
        parsed = parse_facts(raw, today=TODAY)
    except FactsError as exc:
        assert exc.errors
        assert all(isinstance(field, str) and isinstance(message, str) and message for field, message in exc.errors)
    else:
        assert isinstance(parsed, Facts)
        assert set(parsed.values) <= set(FACTS)


# --- the likely party -------------------------------------------------------------------------------

CLOSE = 0.05
ANSWERABLE = [name for name, spec in FACTS.items() if spec.kind in ("bool", "enum") and name != "problem_type"]


def _answers(name: str) -> list[object]:
    spec = FACTS[name]
    return [True, False] if spec.kind == "bool" else list(spec.choices)


def _settles(rule: Rule, facts: Facts, name: str) -> bool | None:
    """Whether the rule's tests on one fact hold on these facts (None: it does not test that fact)."""
    tests = [condition for condition in rule.conditions if condition.source_fact == name]
    if not tests:
        return None
    return all(condition.test(facts) for condition in tests)


def _alive(rule: Rule, facts: Facts) -> bool:
    return all(condition.test(facts) is not False for condition in rule.conditions)


def _supports(party: str, facts: Facts, name: str, value: object) -> bool:
    """The answer holds every test on that fact of the party's live rules, and fails every rival's test on it."""
    answered = facts.with_fact(name, value)  # type: ignore[arg-type]
    own = [rule for rule in RuleRegistry.core() if rule.party == party and _alive(rule, facts)]
    verdicts = [_settles(rule, answered, name) for rule in own]
    if not any(verdicts) or any(verdict is False for verdict in verdicts):
        return False
    rivals = [rule for rule in RuleRegistry.core() if rule.party != party]
    return all(_settles(rule, answered, name) in (None, False) for rule in rivals)


def _scores(facts: dict[str, object]) -> dict[str, float]:
    return {score.party: score.confidence for score in suggest(facts, today=TODAY).ranking}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=valid_facts(), data=st.data())
def test_adding_a_fact_never_lowers_confidence_in_a_party_it_supports(
    facts: dict[str, object], data: st.DataObject
) -> None:
    facts = {key: value for key, value in facts.items() if value is not None}
    facts.setdefault("problem_type", data.draw(st.sampled_from(FACTS["problem_type"].choices)))
    parsed = parse_facts(facts, today=TODAY)
    # Aim at a live rule with an unanswered test, and an answer that passes it.
    open_tests = sorted(
        {
            (rule.id, condition.source_fact)
            for rule in RuleRegistry.core()
            if _alive(rule, parsed)
            for condition in rule.conditions
            if condition.test(parsed) is None and condition.source_fact in ANSWERABLE
        }
    )
    assume(open_tests)
    rule_id, name = data.draw(st.sampled_from(open_tests))
    rule = RuleRegistry.core().get(rule_id)
    passing = [value for value in _answers(name) if _settles(rule, parsed.with_fact(name, value), name)]  # type: ignore[arg-type]
    assume(passing)
    value = data.draw(st.sampled_from(passing))
    assume(_supports(rule.party, parsed, name, value))

    before = _scores(facts).get(rule.party, 0.0)
    after = _scores({**facts, name: value}).get(rule.party, 0.0)
    assert after >= before - 1e-9, (rule.party, name, value, before, after)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=valid_facts())
def test_the_party_is_left_open_only_when_the_facts_are_balanced_or_absent(facts: dict[str, object]) -> None:
    result = suggest(facts, today=TODAY)
    ranking = list(result.ranking)
    if result.party != "undetermined":
        assert result.basis and result.confidence > 0
        assert result.reading in ("matched", "likely", "precedent")
        return
    if result.reading == "no_problem_type":
        assert facts.get("problem_type") is None
        assert [item.name for item in result.missing_facts] == ["problem_type"]
    elif result.reading == "no_rule":
        assert not ranking
    elif result.reading == "balanced":
        assert len(ranking) >= 2 and ranking[0].confidence - ranking[1].confidence <= CLOSE
    else:
        # The trade rules themselves leave it open (concealed damage with nothing else known).
        assert result.reading in ("matched", "unclear_by_rule")
        assert result.rule_ids and all(RuleRegistry.core().get(i).party == "undetermined" for i in result.rule_ids[:1])
    assert result.missing_facts


def test_a_leaning_party_is_named_where_one_fact_is_unknown() -> None:
    # Visible damage, noted, adequate packing under FOB: only the packing is unknown here.
    facts = {
        "problem_type": "transit_damage",
        "damage_noted_on_receipt": True,
        "outer_packaging": "damaged",
        "incoterm": "FOB",
    }
    result = suggest(facts, today=TODAY)
    assert result.party == "carrier" and result.reading == "likely"
    assert result.rule_ids == ("transit.noted_damage_post",) and result.basis
    asked = [item.name for item in result.missing_facts]
    assert asked[0] == "packaging_adequate"
    settled = suggest({**facts, "packaging_adequate": True}, today=TODAY)
    assert settled.confidence > result.confidence
    overturned = suggest({**facts, "packaging_adequate": False}, today=TODAY)
    assert overturned.party == "supplier"
    preview = {effect.answers: (effect.party, effect.confidence) for effect in result.missing_facts[0].effects}
    assert preview[(True,)] == ("carrier", settled.confidence)
    assert preview[(False,)] == ("supplier", overturned.confidence)
