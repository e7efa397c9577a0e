"""The 20 decision rules of TRADE-RULES.md, each under every transport mode, against the core rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from app.rules import INCOTERM_GROUPS, TRANSPORT_MODES, suggest

TODAY = date(2026, 11, 26)

# The carrier's liability article under each mode's default regime.
CARRIER_LIABILITY = {
    "road": "CMR Art. 17(1)",
    "air": "Montreal 1999 Art. 18(1)",
    "sea": "Hague-Visby Art. III(2)",
    "rail": "COTIF-CIM Art. 23(1)",
    "courier": "Courier terms of carriage",
    "multimodal": "Multimodal contract",
}
CARRIER_DELAY = {
    "road": "CMR Art. 23(5)",
    "air": "Montreal 1999 Art. 22(3)",
    "sea": "Hague-Visby has no delay regime",
    "rail": "COTIF-CIM Art. 33",
    "courier": "Courier terms of carriage",
    "multimodal": "Multimodal contract",
}
PACKING_DEFENCE = {
    "road": "CMR Art. 17(4)(b)",
    "air": "Montreal 1999 Art. 18(2)(b)",
    "sea": "Hague-Visby Art. IV(2)(n)",
    "rail": "COTIF-CIM Art. 23(3)(b)",
}

VISIBLE_DAMAGE = {
    "problem_type": "transit_damage",
    "damage_noted_on_receipt": True,
    "outer_packaging": "damaged",
    "packaging_adequate": True,
}
CONCEALED_DAMAGE = {"problem_type": "transit_damage", "damage_noted_on_receipt": False, "outer_packaging": "intact"}


@dataclass(frozen=True)
class Case:
    decision: int
    name: str
    facts: dict[str, object]
    party: str
    rule_id: str
    basis: str
    by_mode: dict[str, str] = field(default_factory=dict)
    cause: str | None = None


CASES = [
    Case(1, "defect, packaging intact, POST", {"problem_type": "quality_defect", "outer_packaging": "intact",
         "incoterm": "FOB"}, "supplier", "quality.defect_packaging_intact", "CISG Art. 36(1)"),
    Case(1, "defect, packaging intact, D", {"problem_type": "quality_defect", "outer_packaging": "intact",
         "incoterm": "DAP"}, "supplier", "quality.defect_packaging_intact", "CISG Art. 35(1)"),
    Case(2, "defect in PSI report", {"problem_type": "quality_defect", "defect_in_psi_report": True,
         "incoterm": "CIF"}, "supplier", "quality.defect_in_psi_report", "CISG Art. 40"),
    Case(2, "failed PSI shipped beats AQL", {"problem_type": "quality_defect", "psi": "failed_shipped",
         "within_agreed_aql": True, "incoterm": "DDP"}, "supplier", "quality.psi_failed_but_shipped",
         "CISG Art. 36(1)"),
    Case(3, "within AQL, POST", {"problem_type": "quality_defect", "within_agreed_aql": True,
         "outer_packaging": "intact", "incoterm": "EXW"}, "purchaser", "quality.within_agreed_aql",
         "CISG Art. 35(1)", cause="accepted_quality_level"),
    Case(3, "within AQL, D", {"problem_type": "quality_defect", "within_agreed_aql": True, "incoterm": "DPU"},
         "purchaser", "quality.within_agreed_aql", "CISG Art. 6"),
    Case(4, "wrong model", {"problem_type": "wrong_item", "incoterm": "FCA"}, "supplier",
         "quality.not_as_ordered", "CISG Art. 35(2)(c)"),
    Case(4, "not as described, D", {"problem_type": "not_as_described", "incoterm": "DDP"}, "supplier",
         "quality.not_as_ordered", "CISG Art. 35(1)"),
    Case(5, "mis-sort, POST", {"problem_type": "wrong_item", "label_other_consignee": True, "incoterm": "CPT"},
         "carrier", "transit.mis_sort", "Contract of carriage", CARRIER_LIABILITY, cause="mis_sort"),
    Case(5, "mis-sort, D", {"problem_type": "lost_in_transit", "label_other_consignee": True, "incoterm": "DAP"},
         "carrier", "transit.mis_sort", "Contract of carriage", CARRIER_LIABILITY, cause="mis_sort"),
    Case(6, "visible damage noted, POST", {**VISIBLE_DAMAGE, "incoterm": "FOB"}, "carrier",
         "transit.noted_damage_post", "CISG Art. 67(1)", CARRIER_LIABILITY),
    Case(6, "visible damage noted, CIF insured", {**VISIBLE_DAMAGE, "incoterm": "CIF"}, "carrier",
         "transit.noted_damage_insured", "Incoterms 2020 CIF/CIP A5 (cargo insurance for the buyer)",
         CARRIER_LIABILITY),
    Case(7, "visible damage noted, D", {**VISIBLE_DAMAGE, "incoterm": "DAP"}, "supplier",
         "transit.noted_damage_d", "Incoterms 2020 DAP/DPU/DDP A3 (risk stays with the seller until delivery "
         "at destination)"),
    Case(8, "concealed damage, POST", {**CONCEALED_DAMAGE, "incoterm": "CFR"}, "undetermined",
         "transit.concealed_damage_unclear", "CISG Art. 36(1)"),
    Case(8, "concealed damage, D", {**CONCEALED_DAMAGE, "incoterm": "DDP"}, "undetermined",
         "transit.concealed_damage_unclear", "CISG Art. 38"),
    Case(9, "shock indicator, POST", {**CONCEALED_DAMAGE, "shock_indicator_tripped": True, "incoterm": "FCA"},
         "carrier", "transit.shock_indicator_post", "CISG Art. 67(1)", CARRIER_LIABILITY),
    Case(9, "shock indicator, D", {**CONCEALED_DAMAGE, "shock_indicator_tripped": True, "incoterm": "DPU"},
         "supplier", "transit.shock_indicator_d", "CISG Art. 36(1)"),
    Case(9, "impact marks, POST", {**CONCEALED_DAMAGE, "impact_marks": True, "incoterm": "EXW"}, "carrier",
         "transit.impact_marks_post", "CISG Art. 67(1)", CARRIER_LIABILITY),
    Case(9, "impact marks, D", {**CONCEALED_DAMAGE, "impact_marks": True, "incoterm": "DDP"}, "supplier",
         "transit.impact_marks_d", "CISG Art. 36(1)"),
    Case(10, "unfit packaging, no impact", {**CONCEALED_DAMAGE, "packaging_adequate": False, "incoterm": "FOB"},
         "supplier", "packaging.unfit_for_mode", "Incoterms 2020 A8 (packaging suitable for the transport)",
         PACKING_DEFENCE, cause="inadequate_packaging"),
    Case(10, "unfit packaging beats carrier, CIF", {**VISIBLE_DAMAGE, "packaging_adequate": False,
         "incoterm": "CIF"}, "supplier", "packaging.unfit_for_mode", "CISG Art. 35(2)(d)", PACKING_DEFENCE),
    Case(10, "unfit packaging, D", {**CONCEALED_DAMAGE, "packaging_adequate": False, "incoterm": "DAP"},
         "supplier", "packaging.unfit_for_mode", "CISG Art. 35(2)(d)"),
    Case(11, "buyer's packaging spec", {**CONCEALED_DAMAGE, "packaging_adequate": False,
         "packaging_spec_by_buyer": True, "incoterm": "DAP"}, "purchaser", "packaging.buyer_spec",
         "CISG Art. 35(3)", cause="buyer_packaging_spec"),
    Case(11, "buyer's packaging spec, POST", {**CONCEALED_DAMAGE, "packaging_adequate": False,
         "packaging_spec_by_buyer": True, "incoterm": "FCA"}, "purchaser", "packaging.buyer_spec",
         "Incoterms 2020 A8 (packaging agreed by the parties)"),
    Case(12, "full container, seal intact", {"problem_type": "short_shipment", "container_full": True,
         "seal": "intact", "cartons_short_on_receipt": True, "incoterm": "FOB"}, "supplier",
         "shortage.short_loaded", "CISG Art. 35(1)", cause="short_loaded"),
    Case(12, "full container, seal intact, D", {"problem_type": "short_shipment", "container_full": True,
         "seal": "intact", "incoterm": "DAP"}, "supplier", "shortage.short_loaded", "CISG Art. 36(1)"),
    Case(13, "seal broken, POST", {"problem_type": "short_shipment", "seal": "broken",
         "customs_exam_record": False, "incoterm": "CFR"}, "carrier", "shortage.seal_broken_post",
         "CISG Art. 67(1)", CARRIER_LIABILITY),
    Case(13, "seal mismatch, D", {"problem_type": "missing_parts", "seal": "mismatch",
         "customs_exam_record": False, "incoterm": "DAP"}, "supplier", "shortage.seal_broken_d",
         "CISG Art. 36(1)"),
    Case(14, "cartons short noted, POST", {"problem_type": "short_shipment", "cartons_short_on_receipt": True,
         "incoterm": "FCA"}, "carrier", "shortage.cartons_short_post", "CISG Art. 67(1)", CARRIER_LIABILITY),
    Case(14, "cartons short noted, D", {"problem_type": "short_shipment", "cartons_short_on_receipt": True,
         "incoterm": "DDP"}, "supplier", "shortage.cartons_short_d", "CISG Art. 35(1)"),
    Case(15, "units missing in intact cartons", {"problem_type": "missing_parts",
         "units_missing_in_intact_cartons": True, "seal": "broken", "customs_exam_record": False,
         "incoterm": "FOB"}, "supplier", "shortage.packing_error", "CISG Art. 35(1)", cause="packing_error"),
    Case(15, "units missing, D", {"problem_type": "short_shipment", "units_missing_in_intact_cartons": True,
         "incoterm": "DPU"}, "supplier", "shortage.packing_error", "CISG Art. 36(1)"),
    Case(16, "customs exam, POST", {**VISIBLE_DAMAGE, "customs_exam_record": True, "incoterm": "CIF"},
         "purchaser", "customs.exam_buyer_clears", "Incoterms 2020 B7 (import clearance by the buyer)",
         cause="customs"),
    Case(16, "customs exam, DAP", {"problem_type": "short_shipment", "customs_exam_record": True,
         "cartons_short_on_receipt": True, "incoterm": "DAP"}, "purchaser", "customs.exam_buyer_clears",
         "Incoterms 2020 B7 (import clearance by the buyer)", cause="customs"),
    Case(16, "customs exam, DDP", {**VISIBLE_DAMAGE, "customs_exam_record": True, "incoterm": "DDP"},
         "supplier", "customs.exam_seller_clears", "Incoterms 2020 DDP A7 (import clearance by the seller)",
         cause="customs"),
    Case(17, "handed over late, POST", {"problem_type": "late_delivery", "handed_over_late": True,
         "incoterm": "FOB"}, "supplier", "delay.handed_over_late", "CISG Art. 33"),
    Case(17, "handed over late, D", {"problem_type": "late_delivery", "handed_over_late": True,
         "incoterm": "DAP"}, "supplier", "delay.handed_over_late", "CISG Art. 74"),
    Case(18, "delay in transit, POST", {"problem_type": "late_delivery", "handed_over_late": False,
         "incoterm": "CPT"}, "carrier", "delay.in_transit_post", "CISG Art. 31(a)", CARRIER_DELAY),
    Case(18, "delay in transit, D", {"problem_type": "late_delivery", "handed_over_late": False,
         "incoterm": "DDP"}, "supplier", "delay.in_transit_d", "CISG Art. 45"),
    Case(19, "no carrier nominated", {"problem_type": "late_delivery", "buyer_failed_to_nominate_carrier": True,
         "handed_over_late": True, "incoterm": "FOB"}, "purchaser", "delay.buyer_no_carrier", "CISG Art. 80"),
    Case(19, "import papers late, D", {"problem_type": "late_delivery", "import_papers_late_by_buyer": True,
         "handed_over_late": False, "incoterm": "DAP"}, "purchaser", "delay.buyer_import_papers",
         "CISG Art. 80"),
    Case(20, "unloading by buyer, DAP", {**VISIBLE_DAMAGE, "damaged_during_unloading_by": "purchaser",
         "incoterm": "DAP"}, "purchaser", "unloading.by_buyer", "CISG Art. 66"),
    Case(20, "loading by buyer, EXW", {**CONCEALED_DAMAGE, "damaged_during_unloading_by": "purchaser",
         "incoterm": "EXW"}, "purchaser", "unloading.by_buyer", "CISG Art. 66"),
    Case(20, "unloading under DPU", {**VISIBLE_DAMAGE, "damaged_during_unloading_by": "purchaser",
         "incoterm": "DPU"}, "supplier", "unloading.dpu_seller_unloads",
         "Incoterms 2020 DPU A2 (seller unloads at destination)"),
]  # fmt: skip


def test_table_covers_every_decision_rule_both_groups_and_all_modes() -> None:
    assert {case.decision for case in CASES} == set(range(1, 21))
    groups = {INCOTERM_GROUPS[str(case.facts["incoterm"])] for case in CASES}
    assert groups == {"POST", "D"}
    # Rules whose party turns on the group must be tested on both sides of it.
    for decision in (9, 13, 14, 16, 18):
        assert {INCOTERM_GROUPS[str(c.facts["incoterm"])] for c in CASES if c.decision == decision} == {"POST", "D"}


@pytest.mark.parametrize("mode", TRANSPORT_MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"r{c.decision:02d}-{c.name}")
def test_decision_rule(case: Case, mode: str) -> None:
    result = suggest({**case.facts, "transport_mode": mode}, today=TODAY)

    assert result.party == case.party
    assert result.rule_ids[0] == case.rule_id
    assert any(citation.startswith(case.basis) for citation in result.basis), result.basis
    if mode in case.by_mode:
        assert any(citation.startswith(case.by_mode[mode]) for citation in result.basis), result.basis
    if case.cause is not None:
        assert result.cause == case.cause
    if case.party == "undetermined":
        assert result.missing_facts
    assert all(alt.party != result.party for alt in result.alternatives)


def test_incoterm_is_case_insensitive() -> None:
    upper = suggest({**VISIBLE_DAMAGE, "incoterm": "FOB"}, today=TODAY)
    lower = suggest({**VISIBLE_DAMAGE, "incoterm": " fob "}, today=TODAY)
    assert upper == lower


def test_overridden_rule_drops_out_but_losing_rule_is_an_alternative() -> None:
    # Customs (purchaser) overrides the carrier rule 6; packaging (supplier) is not overridden, only
    # less specific, so it is offered as an alternative.
    result = suggest(
        {**VISIBLE_DAMAGE, "packaging_adequate": False, "customs_exam_record": True, "incoterm": "FOB"},
        today=TODAY,
    )
    assert result.party == "purchaser"
    assert [alt.party for alt in result.alternatives] == ["supplier"]
    assert result.alternatives[0].rule_ids == ("packaging.unfit_for_mode",)
    every_id = set(result.rule_ids) | {i for alt in result.alternatives for i in alt.rule_ids}
    assert "transit.noted_damage_post" not in every_id


def test_undetermined_concealed_damage_asks_for_the_facts_that_decide_it() -> None:
    result = suggest({**CONCEALED_DAMAGE, "incoterm": "FOB", "transport_mode": "road"}, today=TODAY)
    asked = {m.name for m in result.missing_facts if m.kind == "fact"}
    assert {"packaging_adequate", "shock_indicator_tripped", "customs_exam_record"} <= asked
    assert any(m.kind == "evidence" and m.name == "cargo_survey" for m in result.missing_facts)


def test_missing_incoterm_still_gives_the_likely_party_and_asks_for_the_incoterm_first() -> None:
    result = suggest({**VISIBLE_DAMAGE, "transport_mode": "sea"}, today=TODAY)
    # Most Incoterms pass the risk before the main carriage: the carrier is likely, not certain.
    assert result.party == "carrier"
    assert result.reading == "likely"
    assert result.rule_ids == ("transit.noted_damage_post",)
    assert any(citation.startswith("Hague-Visby Art. III(2)") for citation in result.basis)
    assert 0.0 < result.confidence < 0.85
    first = result.missing_facts[0]
    assert first.name == "incoterm"
    by_party: dict[str, set[object]] = {}
    for effect in first.effects:
        by_party.setdefault(effect.party, set()).update(effect.answers)
    assert by_party["supplier"] == {"DAP", "DPU", "DDP"}
    assert "FOB" in by_party["carrier"]


def test_no_rule_at_all_still_says_what_to_gather() -> None:
    result = suggest({"problem_type": "other"}, today=TODAY)
    assert result.party == "undetermined"
    assert result.basis == ()
    assert result.missing_facts
    assert {m.kind for m in result.missing_facts} == {"evidence"}


def test_to_dict_is_json_ready() -> None:
    import json

    result = suggest(
        {**VISIBLE_DAMAGE, "incoterm": "FOB", "transport_mode": "road", "delivered_on": "2026-11-02"}, today=TODAY
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data["party"] == "carrier"
    assert data["rule_ids"][0] == "transit.noted_damage_post"
    assert data["deadlines"][0]["due"] == "2026-11-02"
    assert set(data) == {
        "party",
        "confidence",
        "reading",
        "ranking",
        "cause",
        "basis",
        "rule_ids",
        "explanation",
        "alternatives",
        "deadlines",
        "missing_facts",
        "warnings",
        "warning_details",
    }


BALANCED_SHORTAGE = {"problem_type": "short_shipment", "incoterm": "FOB", "transport_mode": "sea"}


def test_balanced_facts_leave_the_party_open_and_say_why() -> None:
    result = suggest(BALANCED_SHORTAGE, today=TODAY)
    assert result.party == "undetermined" and result.reading == "balanced"
    first, second = result.ranking[:2]
    assert {first.party, second.party} == {"supplier", "carrier"}
    assert first.confidence - second.confidence <= 0.05
    assert {alt.party for alt in result.alternatives} >= {"supplier", "carrier"}
    assert result.missing_facts[0].kind == "fact"


def test_precedent_breaks_only_a_close_call_and_only_with_enough_cases() -> None:
    tipped = suggest(BALANCED_SHORTAGE, today=TODAY, precedent={"supplier": 1, "carrier": 3})
    assert tipped.party == "carrier" and tipped.reading == "precedent"
    # The basis stays the trade rules': the carrier's best rule, never the precedent.
    assert tipped.rule_ids == (next(s.rule_id for s in tipped.ranking if s.party == "carrier"),)
    assert tipped.basis
    for counts in ({"supplier": 1, "carrier": 1}, {"carrier": 2}, {"purchaser": 9}):
        assert suggest(BALANCED_SHORTAGE, today=TODAY, precedent=counts).reading == "balanced"
    # Where the rules already decide, precedent changes nothing.
    decided = {**VISIBLE_DAMAGE, "incoterm": "FOB", "transport_mode": "road"}
    assert suggest(decided, today=TODAY, precedent={"supplier": 50}) == suggest(decided, today=TODAY)
