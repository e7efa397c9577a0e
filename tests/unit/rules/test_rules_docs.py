"""docs/RULES.md keeps up with the code: every fact, core rule, evidence name and the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rules import EVIDENCE, FACTS, RuleRegistry, shipped_countries

DOC = Path(__file__).resolve().parents[3] / "docs" / "RULES.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_fact_is_documented_with_its_question(doc: str) -> None:
    for spec in FACTS.values():
        assert f"| `{spec.name}` |" in doc, spec.name


def test_every_core_rule_and_evidence_name_is_documented(doc: str) -> None:
    for rule in RuleRegistry.core():
        family, _, name = rule.id.partition(".")
        # Pairs like `transit.shock_indicator_post` / `_d` are written once with their suffixes.
        assert rule.id in doc or f"{family}.{name.rsplit('_', 1)[0]}_" in doc, rule.id
    for name in EVIDENCE:
        assert f"`{name}`" in doc, name


def test_settings_and_calendars_are_documented(doc: str) -> None:
    assert "CROSSCLAIM_RULES_DIR" in doc
    for country in shipped_countries():
        assert f"`{country}.toml`" in doc
