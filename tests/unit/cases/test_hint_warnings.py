"""The hint's warnings as a page shows them: in the reader's language, and never a broken page for an odd hint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from app.cases.responsibility import shown_warnings
from app.i18n import current_language
from app.rules import suggest


@pytest.fixture
def reading() -> Iterator[object]:
    def read(language: str, hint: dict[str, object]) -> list[tuple[str, bool]]:
        token = current_language.set(language)
        try:
            return [(warning.text, warning.at_risk) for warning in shown_warnings(hint)]
        finally:
            current_language.reset(token)

    yield read


AIR_LATE = {"problem_type": "transit_damage", "transport_mode": "air", "delivered_on": "2026-10-01"}
MULTIMODAL = {"problem_type": "transit_damage", "transport_mode": "multimodal", "delivered_on": "2026-11-20"}


def test_a_claim_at_risk_reads_in_english_and_chinese(reading: object) -> None:
    hint = suggest(AIR_LATE, today=date(2026, 11, 26)).to_dict()
    risk = "claim at risk: carrier notice due 15 Oct 2026 has passed (Montreal 1999, non-apparent damage): "
    english = [text for text, at_risk in reading("en", hint) if at_risk]  # type: ignore[operator]
    assert (
        f"{risk}no action lies against the carrier, save fraud (Montreal 1999 Art. 31(4)) (Montreal 1999 Art. 31(2))"
        in english
    )
    chinese = [text for text, at_risk in reading("zh", hint) if at_risk]  # type: ignore[operator]
    assert (
        "索赔有风险：向承运人发出通知的期限 2026年10月15日 已过（1999年《蒙特利尔公约》，隐蔽损坏）："
        "除欺诈外，不得对承运人提起诉讼（1999年《蒙特利尔公约》第31(4)条）（1999年《蒙特利尔公约》第31(2)条）"
    ) in chinese


def test_law_names_in_a_list_are_translated_one_by_one(reading: object) -> None:
    hint = suggest(MULTIMODAL, today=date(2026, 11, 26)).to_dict()
    (note,) = [text for text, _ in reading("zh", hint) if text.startswith("多式联运")]  # type: ignore[operator]
    assert "1999年《蒙特利尔公约》" in note and "、" in note and "Montreal" not in note, note


def test_odd_stored_hints_show_what_they_can(reading: object) -> None:
    read = reading
    assert read("zh", {"warning_details": [{}], "warnings": []}) == []  # type: ignore[operator]
    assert read("zh", {"warnings": None}) == [] and read("zh", {"warnings": "claim"}) == []  # type: ignore[operator]
    # A message whose fields the stored values do not fill (it changed since): the stored English, not a 500.
    changed = {"message": "claim at risk: %(regime)s time bar on %(due)s has passed", "values": {"regime": "CMR"}}
    assert read("zh", {"warning_details": [changed]}) == [(changed["message"], False)]  # type: ignore[operator]
    # A value named like gettext's own parameter is just a value.
    odd = {"message": "%(message)s", "values": {"message": "x"}, "kinds": {"message": "plain"}, "at_risk": True}
    assert read("en", {"warning_details": [odd]}) == [("x", True)]  # type: ignore[operator]
    # A hint stored before details existed: its fixed warnings still translate; a risk is still marked.
    old = {"warnings": ["transport mode unknown: carrier notice deadlines not computed; enter transport_mode",
                        "claim at risk: CMR time bar on 2026-10-01 has passed: the action is barred"]}  # fmt: skip
    shown = read("zh", old)  # type: ignore[operator]
    assert shown[0][0].startswith("运输方式未知") and shown[0][1] is False, shown
    assert shown[1] == (old["warnings"][1], True)
