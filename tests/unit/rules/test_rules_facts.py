"""Facts validation (FactsError lists every bad field) and the FACTS schema the intake form reads."""

from __future__ import annotations

import json
from datetime import date

import pytest

from app.rules import FACTS, INCOTERMS, PROBLEM_TYPES, FactsError, parse_facts, relevant_facts

TODAY = date(2026, 11, 26)


def errors_of(raw: object) -> dict[str, str]:
    with pytest.raises(FactsError) as caught:
        parse_facts(raw, today=TODAY)  # type: ignore[arg-type]
    return dict(caught.value.errors)


def test_valid_facts_are_normalised() -> None:
    facts = parse_facts(
        {
            "problem_type": "Transit_Damage",
            "incoterm": "cif",
            "transport_mode": "sea",
            "delivered_on": "2026-11-02",
            "discovered_on": "2026-11-02",
            "damage_noted_on_receipt": False,
            "delivery_country": "de",
            "seal": None,
        },
        today=TODAY,
    )
    assert facts.problem_type == "transit_damage"
    assert (facts.incoterm, facts.incoterm_group) == ("CIF", "POST")
    assert facts.delivered_on == date(2026, 11, 2)
    assert facts.delivery_country == "DE"
    assert facts.get("seal") is None
    assert facts.to_dict()["delivered_on"] == "2026-11-02"


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"incoterm": "FOX"}, "incoterm", "unknown incoterm 'FOX'"),
        ({"incoterm": "DAT"}, "incoterm", "expected one of EXW"),  # DAT was retired in Incoterms 2020
        ({"problem_type": "broken"}, "problem_type", "unknown problem type 'broken'"),
        ({"transport_mode": "pipeline"}, "transport_mode", "unknown transport mode"),
        ({"damage_noted_on_receipt": "yes"}, "damage_noted_on_receipt", "expected true or false"),
        ({"damage_noted_on_receipt": 1}, "damage_noted_on_receipt", "expected true or false, got a number"),
        ({"seal": True}, "seal", "expected one of intact, broken, mismatch, got a boolean"),
        ({"incoterm": ["FOB"]}, "incoterm", "got a list"),
        ({"delivered_on": "01/10/2026"}, "delivered_on", "expected an ISO date YYYY-MM-DD"),
        ({"delivered_on": "20261001"}, "delivered_on", "expected an ISO date YYYY-MM-DD"),
        ({"delivered_on": "2026-02-30"}, "delivered_on", "not a real calendar date"),
        ({"delivered_on": 20261001}, "delivered_on", "got a number"),
        ({"delivered_on": "2026-11-27"}, "delivered_on", "is in the future (today is 2026-11-26)"),
        ({"carrier_notice_on": "2027-01-01"}, "carrier_notice_on", "is in the future"),
        ({"delivery_country": "Germany"}, "delivery_country", "two-letter ISO country code"),
        ({"packaging_ok": True}, "packaging_ok", "unknown fact"),
        ({"incoterms": "FOB"}, "incoterms", "did you mean 'incoterm'?"),
    ],
)
def test_each_bad_fact_is_named(raw: dict[str, object], field: str, message: str) -> None:
    found = errors_of(raw)
    assert field in found
    assert message in found[field]


def test_discovered_before_delivered() -> None:
    found = errors_of({"delivered_on": "2026-11-10", "discovered_on": "2026-11-09"})
    assert found == {"discovered_on": "2026-11-09 is before delivered_on 2026-11-10"}


def test_all_errors_are_reported_at_once() -> None:
    with pytest.raises(FactsError) as caught:
        parse_facts({"incoterm": "XYZ", "problem_type": 3, "colour": "red", "delivered_on": "soon"}, today=TODAY)
    fields = [field for field, _ in caught.value.errors]
    assert sorted(fields) == ["colour", "delivered_on", "incoterm", "problem_type"]
    assert "incoterm: unknown incoterm 'XYZ'" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_not_an_object() -> None:
    assert errors_of(["problem_type"]) == {"": "expected a JSON object of facts"}
    assert errors_of({1: "x"}) == {"1": "fact names must be strings"}


def test_facts_schema_shape() -> None:
    assert {"problem_type", "incoterm", "transport_mode", "delivered_on", "discovered_on"} <= set(FACTS)
    assert FACTS["incoterm"].choices == INCOTERMS and len(INCOTERMS) == 11
    assert FACTS["problem_type"].choices == PROBLEM_TYPES
    for spec in FACTS.values():
        data = spec.to_dict()
        assert set(data) == {"name", "type", "choices", "question", "problem_types", "transport_modes"}
        assert data["type"] in ("enum", "bool", "date", "country")
        assert spec.question.endswith("?") and "\n" not in spec.question
        assert spec.problem_types and set(spec.problem_types) <= set(PROBLEM_TYPES)
        assert (data["choices"] is None) == (spec.kind != "enum")
    json.dumps([spec.to_dict() for spec in FACTS.values()])


def test_relevant_facts_narrow_the_form() -> None:
    general = {spec.name for spec in relevant_facts(None)}
    assert general == {"problem_type", "incoterm", "transport_mode", "delivered_on", "discovered_on"}
    transit = {spec.name for spec in relevant_facts("transit_damage")}
    assert {"shock_indicator_tripped", "packaging_adequate", "damage_noted_on_receipt"} <= transit
    assert "within_agreed_aql" not in transit
    quality = {spec.name for spec in relevant_facts("quality_defect")}
    assert {"within_agreed_aql", "psi", "defect_in_psi_report"} <= quality
    assert "seal" not in quality


def test_questions_follow_the_transport_mode_once_it_is_known() -> None:
    from app.rules import relevant_facts

    road = {spec.name for spec in relevant_facts("transit_damage", "road")}
    sea = {spec.name for spec in relevant_facts("transit_damage", "sea")}
    unknown = {spec.name for spec in relevant_facts("transit_damage")}
    assert "sea_regime" not in road and "sea_regime" in sea and "sea_regime" in unknown
    assert road == sea - {"sea_regime"}
    assert FACTS["sea_regime"].to_dict()["transport_modes"] == ["sea", "multimodal"]
