"""Properties of the engine over generated facts: it never crashes and always names a basis or a next step."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.rules import FACTS, PARTIES, Facts, FactsError, RuleRegistry, parse_facts, suggest

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
