"""`run_suggest`, the function behind `crossclaim rules suggest FILE.json`."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

from app.rules.cli import run_suggest

TODAY = date(2026, 11, 26)


def run(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_suggest(str(path), today=TODAY, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_prints_the_suggestion_as_json(tmp_path: Path) -> None:
    facts = tmp_path / "case.json"
    facts.write_text(
        json.dumps(
            {
                "problem_type": "transit_damage",
                "incoterm": "FOB",
                "transport_mode": "air",
                "delivered_on": "2026-11-01",
                "damage_noted_on_receipt": False,
                "outer_packaging": "intact",
                "shock_indicator_tripped": True,
            }
        )
    )
    code, out, err = run(facts)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["party"] == "carrier"
    assert data["rule_ids"] == ["transit.shock_indicator_post"]
    assert "Montreal 1999 Art. 18(1)" in data["basis"]
    assert any("no action lies against the carrier" in w for w in data["warnings"])


def test_malformed_json_exits_2_with_the_position(tmp_path: Path) -> None:
    facts = tmp_path / "bad.json"
    facts.write_text('{"problem_type": "transit_damage",\n "incoterm": }')
    code, out, err = run(facts)
    assert (code, out) == (2, "")
    assert f"{facts}:2:" in err and "malformed JSON" in err


def test_invalid_facts_exit_2_naming_each_field(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"incoterm": "FOX", "delivered_on": "2026-12-31", "colour": "red"}))
    code, out, err = run(facts)
    assert (code, out) == (2, "")
    assert "invalid facts" in err
    assert "incoterm: unknown incoterm 'FOX'" in err
    assert "delivered_on: 2026-12-31 is in the future" in err
    assert "colour: unknown fact" in err


def test_not_an_object_and_missing_file(tmp_path: Path) -> None:
    facts = tmp_path / "list.json"
    facts.write_text("[1, 2]")
    code, _, err = run(facts)
    assert code == 2 and "expected a JSON object" in err
    code, _, err = run(tmp_path / "nope.json")
    assert code == 2 and "no such file" in err
