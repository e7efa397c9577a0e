"""Responsibility hints: one engine behind the CLI, the API and the case page; facts, confirmations, overrides."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from bs4 import BeautifulSoup

from app.accounts.services import token_create
from app.asgi import create_app
from app.cases.events import Actor
from app.cases.responsibility import (
    configure_rules,
    facts_update,
    hint_refresh,
    json_object,
    party_confirm,
    suggestion_of,
)
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, CaseEvent
from app.errors import ValidationFailed
from app.rules import RuleFileError
from app.trade.tables import Carrier, PurchaseOrder, Supplier
from tests.conftest import ROOT, asgi_client, csrf_token

ACTOR = Actor(kind="system", label="Tester")
HTMX = {"HX-Request": "true"}


def today() -> date:
    return datetime.now(UTC).date()


def shown_in_english(detail: dict[str, Any]) -> str:
    """A warning as an English page shows it: its message with dates written out ("5 Nov 2026")."""
    values = {
        name: format_date(date.fromisoformat(value), "d MMM y", locale="en")
        if detail["kinds"][name] == "date"
        else value
        for name, value in detail["values"].items()
    }
    return " ".join((detail["message"] % values).split())


def days_ago(n: int) -> str:
    return (today() - timedelta(days=n)).isoformat()


async def order(**values: Any) -> PurchaseOrder:
    supplier = await Supplier.objects().get_or_create(Supplier.code == "SUP-1", defaults={"name": "Brightway"})
    carrier = await Carrier.objects().get_or_create(Carrier.code == "CAR-1", defaults={"name": "EuroRoad"})
    row = PurchaseOrder(number=f"PO-{values.pop('number', '1')}", supplier=supplier.id, carrier=carrier.id, **values)
    await row.save()
    return row


async def hinted_case(problem_type: str, facts: dict[str, Any], **draft: Any) -> Case:
    created = await case_create(actor=ACTOR, draft=CaseDraft(problem_type=problem_type, facts=facts, **draft))
    return await hint_refresh(case_id=created.case.id, actor=ACTOR, today=today())


async def stored(number: str) -> Case:
    case = await Case.objects().where(Case.number == number).output(load_json=True).first()
    assert case is not None
    return case


async def kinds(case_id: int) -> list[str]:
    rows = await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case_id).order_by(CaseEvent.id)
    return [row["kind"] for row in rows]


def run_cli(path: Path, settings: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CROSSCLAIM_DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url}
    env.pop("CROSSCLAIM_RULES_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "rules", "suggest", str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def api_headers(user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_create(email=user.email)}"}


# (problem type, order values, case facts): the order gives Incoterm, mode and delivery; the case the rest.
SCENARIOS = {
    "road-concealed-damage": (
        "transit_damage",
        {"incoterm": "FOB", "transport_mode": "road", "delivered_on": 3},
        {"damage_noted_on_receipt": False, "outer_packaging": "intact", "discovered_on": 1},
    ),
    "air-late-notice": (
        "transit_damage",
        {"incoterm": "CPT", "transport_mode": "air", "delivered_on": 30},
        {"damage_noted_on_receipt": False, "outer_packaging": "damaged", "delivery_country": "DE"},
    ),
    "sea-quality-defect": (
        "quality_defect",
        {"incoterm": "CIF", "transport_mode": "sea", "delivered_on": 12},
        {"outer_packaging": "intact", "psi": "passed", "within_agreed_aql": False},
    ),
    "short-ddp-road": (
        "short_shipment",
        {"incoterm": "DDP", "transport_mode": "road", "delivered_on": 5},
        {"seal": "broken", "customs_exam_record": False, "damage_noted_on_receipt": True},
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_cli_api_and_case_page_give_the_same_answer(
    scenario: str, client: Any, login: Any, settings: Any, tmp_path: Path
) -> None:
    problem_type, order_values, case_facts = SCENARIOS[scenario]
    delivered = today() - timedelta(days=order_values["delivered_on"])
    po = await order(**{**order_values, "delivered_on": delivered})
    facts = {k: days_ago(v) if k == "discovered_on" else v for k, v in case_facts.items()}
    case = await hinted_case(problem_type, facts, purchase_order_id=po.id)
    hint = json_object(case.hint)
    # The engine saw the order's facts and the case's together.
    full_facts = {"problem_type": problem_type, **order_values, "delivered_on": delivered.isoformat(), **facts}
    assert hint["facts"] == {k: full_facts[k] for k in hint["facts"]} and set(hint["facts"]) == set(full_facts)
    assert sorted(hint["from_order"]) == ["delivered_on", "incoterm", "transport_mode"]

    user = await login("handler")
    api = await client.post("/api/v1/rules/suggest", json=hint["facts"], headers=await api_headers(user))
    assert api.status_code == 200, api.text

    path = tmp_path / "facts.json"
    path.write_text(json.dumps(hint["facts"]))
    cli = run_cli(path, settings)
    assert cli.returncode == 0, cli.stderr

    case_api = await client.get(f"/api/v1/cases/{case.number}", headers=await api_headers(user))
    answers = [api.json(), json.loads(cli.stdout), suggestion_of(hint), suggestion_of(case_api.json()["hint"])]
    assert all(answer == answers[0] for answer in answers), answers
    answer = answers[0]
    assert answer["party"] == case.suggested_party

    # The case page shows that same answer: party, every citation, deadline, question and warning.
    page = await client.get(f"/cases/{case.number}")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    region = soup.select_one("#hint")
    assert region is not None
    assert region.select_one("#hint-party")["data-party"] == answer["party"]
    assert float(region.select_one("#hint-confidence")["data-confidence"]) == answer["confidence"]
    assert [li.get_text(strip=True) for li in region.select("#hint-basis li")] == answer["basis"]
    assert [code.get_text() for code in region.select("#hint-rules code")] == answer["rule_ids"]
    countdowns = region.select(".countdown")
    shown = [(li["data-regime"], li["data-kind"], li["data-due"], li["data-status"]) for li in countdowns]
    assert shown == [(d["regime"], d["kind"], d["due"], d["status"]) for d in answer["deadlines"]]
    assert [li["data-name"] for li in region.select("#hint-missing > li")] == [
        m["name"] for m in answer["missing_facts"]
    ]
    warnings = [li.get_text(strip=True) for li in region.select("#hint-warnings li")]
    assert warnings == [shown_in_english(detail) for detail in answer["warning_details"]]
    # The details carry the API's English words: the message with its values, dates in ISO.
    assert [detail["message"] % detail["values"] for detail in answer["warning_details"]] == answer["warnings"]
    assert region.select_one("#hint-explanation").get_text(strip=True) == " ".join(answer["explanation"].split())
    expected_party = {
        "road-concealed-damage": "undetermined",
        # Damaged outer packing, nothing noted: unfit packing is the likeliest reading, weakly.
        "air-late-notice": "supplier",
        "sea-quality-defect": "supplier",
        "short-ddp-road": "supplier",
    }
    assert answer["party"] == expected_party[scenario]
    assert region.select_one("#hint-confidence")["data-reading"] == answer["reading"]
    if scenario == "air-late-notice":
        # Montreal's 14 days ran out 16 days ago: the countdown says so and the claim is at risk.
        assert any(w.startswith("claim at risk") and "Montreal" in w for w in warnings)
        when = region.select_one('.countdown[data-regime="Montreal 1999"] .countdown-when').get_text(strip=True)
        assert when == "16 days overdue"
    if scenario == "road-concealed-damage":
        cmr = region.select_one('.countdown[data-regime="CMR"][data-kind="non_apparent_damage"]')
        assert cmr["data-status"] == "open" and "days left" in cmr.get_text()


async def test_bad_input_is_refused_with_the_field_named(client: Any, make_user: Any, settings: Any, tmp_path: Path):
    headers = await api_headers(await make_user("handler"))  # the desk asks; warehouse staff read no hint
    cases = [
        (b'{"problem_type": "transit_damage",', "body"),
        (b"[1, 2]", "facts"),
        (json.dumps({"incoterm": "FOBB"}).encode(), "incoterm"),
        (json.dumps({"problem_type": "broken_glass"}).encode(), "problem_type"),
        (json.dumps({"delivered_on": (today() + timedelta(days=2)).isoformat()}).encode(), "delivered_on"),
        (json.dumps({"delivered_on": days_ago(2), "discovered_on": days_ago(5)}).encode(), "discovered_on"),
        (json.dumps({"sael": "broken"}).encode(), "sael"),
        (b"\xff\xfe\x00", "body"),
        (b"[" * 50_000, "body"),
    ]
    for body, field in cases:
        response = await client.post(
            "/api/v1/rules/suggest", content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 422, (body[:40], response.text)
        named = [item["field"] for item in response.json()["fields"]]
        assert field in named, (body[:40], response.json())
    too_big = await client.post("/api/v1/rules/suggest", content=b" " * 70_000 + b"{}", headers=headers)
    assert too_big.status_code == 413
    anonymous = await client.post("/api/v1/rules/suggest", json={"problem_type": "other"})
    assert anonymous.status_code == 401

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"problem_type": "transit_damage", "incoterm": "XYZ"}))
    result = run_cli(bad, settings)
    assert result.returncode == 2 and result.stdout == ""
    assert "incoterm: unknown incoterm 'XYZ'" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "incoterm": "FOB",\n  "seal" "broken"\n}')
    result = run_cli(broken, settings)
    assert result.returncode == 2 and f"{broken}:3:" in result.stderr and "malformed JSON" in result.stderr
    missing = run_cli(tmp_path / "nowhere.json", settings)
    assert missing.returncode == 2 and "no such file" in missing.stderr


async def test_a_facts_change_recomputes_the_hint_and_records_both(client: Any, login: Any) -> None:
    facts = {
        "incoterm": "FOB",
        "transport_mode": "road",
        "delivered_on": days_ago(3),
        "damage_noted_on_receipt": False,
        "outer_packaging": "intact",
    }
    case = await hinted_case("transit_damage", facts)
    assert case.suggested_party == "undetermined"
    assert await kinds(case.id) == ["case_reported", "hint_changed"]
    await login("handler")
    token = await csrf_token(client)

    response = await client.post(
        f"/cases/{case.number}/facts",
        data={"shock_indicator_tripped": "yes", "impact_marks": "", "delivery_country": "de", "_csrf_token": token},
        headers=HTMX,
    )
    assert response.status_code == 200, response.text
    assert response.headers["HX-Trigger"] == "case-changed"
    fragment = BeautifulSoup(response.text, "html.parser")
    assert fragment.select_one("section#hint #hint-party")["data-party"] == "carrier"
    assert fragment.find("html") is None  # the region alone, for htmx to swap

    after = await stored(case.number)
    assert after.suggested_party == "carrier" and after.hint["rule_ids"][0] == "transit.shock_indicator_post"
    assert after.facts["shock_indicator_tripped"] is True and after.facts["delivery_country"] == "DE"
    assert "impact_marks" not in after.facts
    events = await CaseEvent.objects().where(CaseEvent.case == case.id).order_by(CaseEvent.id).output(load_json=True)
    assert [e.kind for e in events] == ["case_reported", "hint_changed", "facts_changed", "hint_changed"]
    assert events[2].data["changed"] == {
        "delivery_country": {"from": None, "to": "DE"},
        "shock_indicator_tripped": {"from": None, "to": True},
    }
    assert events[3].data["from"] == "undetermined" and events[3].data["to"] == "carrier"
    assert "party" in events[3].data["changed"] and events[3].actor_kind == "user"

    # The same facts again change nothing, so nothing new is recorded.
    again = await client.post(
        f"/cases/{case.number}/facts", data={"shock_indicator_tripped": "yes", "_csrf_token": token}, headers=HTMX
    )
    assert again.status_code == 200
    assert len(await kinds(case.id)) == 4

    # Invalid facts: the region comes back with the field's error and nothing is stored.
    refused = await client.post(
        f"/cases/{case.number}/facts",
        data={"discovered_on": (today() + timedelta(days=3)).isoformat(), "seal": "melted", "_csrf_token": token},
        headers=HTMX,
    )
    assert refused.status_code == 422
    soup = BeautifulSoup(refused.text, "html.parser")
    assert "in the future" in soup.select_one("#fact-discovered_on-error").get_text()
    assert soup.select_one("#fact-discovered_on")["value"] == (today() + timedelta(days=3)).isoformat()
    assert "seal" in soup.select_one("#facts-error").get_text()  # not asked for this problem, still named
    assert (await stored(case.number)).facts == after.facts
    assert len(await kinds(case.id)) == 4

    # Without htmx the form still works: a redirect back to the case page.
    plain = await client.post(f"/cases/{case.number}/facts", data={"impact_marks": "no", "_csrf_token": token})
    assert plain.status_code == 303 and plain.headers["location"] == f"/cases/{case.number}"


async def test_facts_update_names_the_field_as_the_engine_does() -> None:
    case = await hinted_case("transit_damage", {"delivered_on": days_ago(4)})
    with pytest.raises(ValidationFailed) as caught:
        await facts_update(
            actor=ACTOR,
            number=case.number,
            facts={"incoterm": "FOBX", "discovered_on": days_ago(6), "color": "red"},
            today=today(),
        )
    assert [name for name, _ in caught.value.fields] == ["color"]
    with pytest.raises(ValidationFailed) as caught:
        await facts_update(
            actor=ACTOR, number=case.number, facts={"incoterm": "FOBX", "discovered_on": days_ago(6)}, today=today()
        )
    assert {name for name, _ in caught.value.fields} == {"incoterm", "discovered_on"}
    updated = await facts_update(actor=ACTOR, number=case.number, facts={"incoterm": "cif"}, today=today())
    assert updated.facts["incoterm"] == "CIF" and updated.hint["facts"]["incoterm"] == "CIF"


async def test_an_override_needs_a_reason_and_records_the_hint_it_overrode(client: Any, login: Any) -> None:
    facts = {
        "incoterm": "FOB",
        "transport_mode": "road",
        "delivered_on": days_ago(2),
        "damage_noted_on_receipt": True,
        "outer_packaging": "damaged",
        "packaging_adequate": True,
    }
    case = await hinted_case("transit_damage", facts)
    assert case.suggested_party == "carrier"
    hint = json_object(case.hint)

    with pytest.raises(ValidationFailed) as caught:
        await party_confirm(actor=ACTOR, number=case.number, party="supplier", reason="  ")
    assert [name for name, _ in caught.value.fields] == ["reason"]
    with pytest.raises(ValidationFailed) as caught:
        await party_confirm(actor=ACTOR, number=case.number, party="undetermined", reason="no idea")
    assert [name for name, _ in caught.value.fields] == ["party"]
    assert await kinds(case.id) == ["case_reported", "hint_changed"]

    overridden = await party_confirm(
        actor=ACTOR, number=case.number, party="supplier", reason="Packing photos show no corner boards"
    )
    assert overridden.confirmed_party == "supplier"
    event = await CaseEvent.objects().where(CaseEvent.case == case.id).order_by(CaseEvent.id, ascending=False).first()
    assert event.kind == "responsibility_overridden"
    data = json_object(event.data)
    assert data["from"] == "carrier" and data["to"] == "supplier"
    assert data["reason"] == "Packing photos show no corner boards"
    assert data["hint"] == hint  # the whole hint as it stood, for later statistics

    # Agreeing with the hint needs no reason and is recorded as a confirmation; a double click records once.
    await party_confirm(actor=ACTOR, number=case.number, party="carrier")
    await party_confirm(actor=ACTOR, number=case.number, party="carrier")
    events = await CaseEvent.objects().where(CaseEvent.case == case.id).order_by(CaseEvent.id).output(load_json=True)
    assert [e.kind for e in events] == [
        "case_reported",
        "hint_changed",
        "responsibility_overridden",
        "responsibility_confirmed",
    ]
    assert events[-1].data["party"] == "carrier" and events[-1].data["hint"]["rule_ids"] == hint["rule_ids"]
    assert (await stored(case.number)).confirmed_party == "carrier"

    # Through the page: a missing reason comes back in the region; the warehouse may not decide.
    await login("handler")
    token = await csrf_token(client)
    refused = await client.post(
        f"/cases/{case.number}/responsibility", data={"party": "purchaser", "_csrf_token": token}, headers=HTMX
    )
    assert refused.status_code == 422
    assert "needs a reason" in BeautifulSoup(refused.text, "html.parser").select_one("#override-error").get_text()
    done = await client.post(
        f"/cases/{case.number}/responsibility",
        data={"party": "purchaser", "reason": "Our forklift driver dropped it", "_csrf_token": token},
        headers=HTMX,
    )
    assert done.status_code == 200
    settled = BeautifulSoup(done.text, "html.parser").select_one("#hint-settled")
    assert settled["data-party"] == "purchaser" and "forklift" in settled.get_text()
    assert (await kinds(case.id))[-1] == "responsibility_overridden"
    page = await client.get(f"/cases/{case.number}")
    timeline = BeautifulSoup(page.text, "html.parser").select_one("#timeline")
    assert timeline.select("li[data-kind='responsibility_overridden']") and "forklift" in timeline.get_text(" ")


async def test_deadlines_passed_since_the_hint_show_as_claim_at_risk(client: Any, login: Any) -> None:
    delivered = today() - timedelta(days=20)
    created = await case_create(
        actor=ACTOR,
        draft=CaseDraft(
            problem_type="transit_damage",
            facts={"incoterm": "FOB", "transport_mode": "sea", "delivered_on": delivered.isoformat()},
        ),
    )
    # Worked out the day after delivery: the Hague-Visby 3 days were still open then.
    case = await hint_refresh(case_id=created.case.id, actor=ACTOR, today=delivered + timedelta(days=1))
    sea = next(d for d in case.hint["deadlines"] if d["kind"] == "non_apparent_damage")
    assert sea["status"] == "open"
    await login("handler")
    soup = BeautifulSoup((await client.get(f"/cases/{case.number}")).text, "html.parser")
    row = soup.select_one(f'.countdown[data-regime="Hague-Visby"][data-kind="{sea["kind"]}"]')
    assert row["data-status"] == "passed" and "overdue" in row.get_text()
    warnings = [li.get_text(strip=True) for li in soup.select("#hint-warnings li")]
    due = format_date(date.fromisoformat(sea["due"]), "d MMM y", locale="en")
    assert f"claim at risk: carrier notice due {due} has passed (Hague-Visby, non-apparent damage)" in warnings
    # The apparent-damage notice had already passed when the hint was made: the engine's own warning stays.
    assert sum(w.startswith("claim at risk") for w in warnings) == 2


async def test_the_carriers_own_notice_window_and_bad_stored_facts(make_user: Any) -> None:
    supplier = await Supplier.objects().create(code="SUP-9", name="Kangda")
    courier = await Carrier.objects().create(code="CAR-SWP", name="SwiftParcel", notice_windows={"damage": 5})
    delivered = today() - timedelta(days=2)
    created = await case_create(
        actor=ACTOR,
        draft=CaseDraft(
            problem_type="transit_damage",
            supplier_id=supplier.id,
            carrier_id=courier.id,
            facts={
                "incoterm": "DAP",
                "transport_mode": "courier",
                "delivered_on": delivered.isoformat(),
                # Stored by an older client: not a fact, and a date in the future.
                "colour": "red",
                "carrier_notice_on": (today() + timedelta(days=9)).isoformat(),
            },
        ),
    )
    case = await hint_refresh(case_id=created.case.id, actor=ACTOR, today=today())
    courier_dues = {d["due"] for d in case.hint["deadlines"] if d["regime"] == "courier"}
    assert (delivered + timedelta(days=5)).isoformat() in courier_dues
    assert {item["field"] for item in case.hint["ignored_facts"]} == {"colour", "carrier_notice_on"}
    assert "carrier_notice_on" not in case.hint["facts"]


async def test_a_company_rule_file_is_used_and_a_broken_one_stops_the_start(
    client: Any, make_user: Any, settings: Any, tmp_path: Path
) -> None:
    company = tmp_path / "company"
    company.mkdir()
    (company / "acme.toml").write_text(
        'description = "ACME supplier agreement"\n\n'
        "[[rule]]\n"
        'id = "acme.zero_defects"\n'
        'party = "supplier"\n'
        "confidence = 0.6\n"
        'basis = ["ACME supplier agreement clause 7.2 (zero defects)"]\n'
        'explanation = "Our supplier agreement accepts no defects."\n'
        'overrides = ["quality.within_agreed_aql"]\n'
        "[rule.conditions]\n"
        'problem_type = "quality_defect"\n'
    )
    try:
        app = create_app(replace(settings, rules_dir=str(company)))
        assert "acme.zero_defects" in app.state.rules
        headers = await api_headers(await make_user("handler"))
        async with asgi_client(app) as company_client:
            answer = await company_client.post(
                "/api/v1/rules/suggest",
                json={"problem_type": "quality_defect", "within_agreed_aql": True},
                headers=headers,
            )
        assert answer.status_code == 200 and answer.json()["rule_ids"][0] == "acme.zero_defects"

        (company / "zz-broken.toml").write_text(
            'description = "typo"\n\n[[rule]]\nid = "acme.typo"\nparty = "carrier"\nconfidence = 0.5\n'
            'basis = ["x"]\nexplanation = "x"\n[rule.conditions]\nsael = "broken"\n'
        )
        with pytest.raises(RuleFileError) as caught:
            create_app(replace(settings, rules_dir=str(company)))
        assert str(caught.value).startswith(f"{company / 'zz-broken.toml'}:10:")
        assert "sael" in str(caught.value)

        (company / "zz-broken.toml").write_text('[[rule]]\nid = "acme.syntax\n')
        with pytest.raises(RuleFileError) as caught:
            create_app(replace(settings, rules_dir=str(company)))
        assert caught.value.path == str(company / "zz-broken.toml") and caught.value.line == 2
        assert str(caught.value).startswith(f"{company / 'zz-broken.toml'}:2:")

        # The command line loads the same rules and refuses the same way.
        env = {**os.environ, "CROSSCLAIM_DATA_DIR": str(settings.data_dir), "CROSSCLAIM_RULES_DIR": str(company)}
        facts = tmp_path / "facts.json"
        facts.write_text("{}")
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "rules", "suggest", str(facts)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and f"{company / 'zz-broken.toml'}:2:" in result.stderr
    finally:
        configure_rules(settings)  # later tests expect the core rules again


async def test_the_case_page_previews_each_answer_and_still_shows_a_hint_stored_before_previews(
    client: Any, login: Any
) -> None:
    facts = {"damage_noted_on_receipt": True, "outer_packaging": "damaged", "incoterm": "FOB"}
    case = await hinted_case("transit_damage", facts)
    hint = json_object(case.hint)
    assert hint["party"] == "carrier" and hint["reading"] == "likely"
    await login("handler")
    soup = BeautifulSoup((await client.get(f"/cases/{case.number}")).text, "html.parser")
    top = soup.select_one("#hint-top-question")
    assert top["data-name"] == hint["missing_facts"][0]["name"] == "packaging_adequate"
    previews = [(li["data-party"], li.get_text(" ", strip=True)) for li in top.select(".answer-previews li")]
    effects = {tuple(e["answers"]): e for e in hint["missing_facts"][0]["effects"]}
    yes = round(effects[(True,)]["confidence"] * 100)
    assert ("carrier", f"if Yes → Carrier {yes}%") in previews
    assert any(party == "supplier" and text.startswith("if No → Supplier") for party, text in previews)
    assert "likely" in soup.select_one("#hint-confidence").get_text()

    # A hint stored before readings, rankings and previews existed renders as it did.
    old = {key: value for key, value in hint.items() if key not in ("reading", "ranking")}
    old["missing_facts"] = [
        {"kind": m["kind"], "name": m["name"], "question": m["question"]} for m in hint["missing_facts"]
    ]
    old["party"], old["confidence"], old["rule_ids"], old["basis"] = "undetermined", 0.0, [], []
    await Case.update({Case.hint: old}).where(Case.id == case.id)
    page = await client.get(f"/cases/{case.number}")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("#hint-party")["data-party"] == "undetermined"
    assert "no rule decides yet" in soup.select_one("#hint-confidence").get_text()
    assert soup.select_one("#hint-reading") is None and soup.select_one("#hint-ranking") is None
    assert soup.select_one("#hint-top-question")["data-name"] == "packaging_adequate"
    assert not soup.select(".answer-previews")


async def test_the_dashboard_measures_hints_against_the_parties_settled_on(client: Any, login: Any) -> None:
    visible = {"damage_noted_on_receipt": True, "outer_packaging": "damaged", "packaging_adequate": True}
    matched = [await hinted_case("transit_damage", {**visible, "incoterm": "FOB"}) for _ in range(3)]
    likely = await hinted_case(
        "transit_damage", {"damage_noted_on_receipt": True, "outer_packaging": "damaged", "incoterm": "FOB"}
    )
    blank = await hinted_case("other", {})
    for case in matched[:2]:
        await party_confirm(actor=ACTOR, number=case.number, party="carrier")
    # First confirmed, then decided otherwise: only the last decision counts.
    await party_confirm(actor=ACTOR, number=matched[2].number, party="carrier")
    await party_confirm(actor=ACTOR, number=matched[2].number, party="supplier", reason="Packing was poor")
    await party_confirm(actor=ACTOR, number=likely.number, party="carrier")
    await party_confirm(actor=ACTOR, number=blank.number, party="supplier", reason="Supplier admitted it")

    confident = json_object(matched[0].hint)["confidence"]
    weak = json_object(likely.hint)["confidence"]
    await login("manager")
    page = await client.get("/dashboard")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    bands = {
        int(row["data-band"]): (int(row["data-hints"]), int(row["data-confirmed"]))
        for row in soup.select("#calibration tbody tr")
    }
    strong_band, weak_band = (int(min(c, 0.99) * 5) * 20 for c in (confident, weak))
    assert strong_band != weak_band
    assert bands[strong_band] == (3, 2)
    assert bands[weak_band] == (1, 1)
    assert sum(hints for hints, _ in bands.values()) == 4  # the blank hint is counted apart
    assert "1 decision came where the hint named no party" in soup.select_one("#calibration + .note").get_text()
    rules = {
        row["data-rule"]: (int(row["data-hints"]), int(row["data-overridden"]))
        for row in soup.select("#rule-overrides tbody tr")
    }
    assert rules == {"transit.noted_damage_post": (4, 1)}

    # The same table in the JSON summary.
    summary = (await client.get("/api/v1/analytics/summary")).json()
    assert [band["hints"] for band in summary["calibration"]["bands"]] == [
        bands[band][0] for band in (0, 20, 40, 60, 80)
    ]


async def closed(case: Case, party: str) -> None:
    await party_confirm(actor=ACTOR, number=case.number, party=party, reason="As found")
    await Case.update({Case.node: "closed", Case.closed_at: datetime.now(UTC)}).where(Case.id == case.id)


async def test_precedent_counts_similar_closed_cases_and_breaks_a_close_call(client: Any, login: Any) -> None:
    po = await order(number="SEA", incoterm="FOB", transport_mode="sea", delivered_on=today() - timedelta(days=3))
    similar = [await hinted_case("short_shipment", {}, purchase_order_id=po.id) for _ in range(4)]
    for case, party in zip(similar, ["carrier", "carrier", "carrier", "supplier"], strict=True):
        await closed(case, party)
    # Not precedent: another problem type, a case still open, one sharing only the supplier.
    await closed(await hinted_case("quality_defect", {}, purchase_order_id=po.id), "supplier")
    still_open = await hinted_case("short_shipment", {}, purchase_order_id=po.id)
    await party_confirm(actor=ACTOR, number=still_open.number, party="supplier", reason="Early call")
    other_carrier = await Carrier.objects().get_or_create(Carrier.code == "CAR-2", defaults={"name": "AirFast"})
    far = PurchaseOrder(
        number="PO-FAR", supplier=po.supplier, carrier=other_carrier.id, incoterm="DAP", transport_mode="air"
    )
    await far.save()
    await closed(await hinted_case("short_shipment", {"seal": "intact"}, purchase_order_id=far.id), "supplier")

    case = await hinted_case("short_shipment", {}, purchase_order_id=po.id)
    hint = json_object(case.hint)
    precedent = hint["precedent"]
    assert precedent["total"] == 4 and precedent["counts"] == {"supplier": 1, "carrier": 3}
    assert sorted(c["number"] for c in precedent["cases"]) == sorted(c.number for c in similar)
    assert set(precedent["cases"][0]["shared"]) == {"supplier", "carrier", "incoterm", "transport_mode"}
    # The rules alone leave supplier and carrier close; the company's outcomes tip it.
    assert hint["party"] == "carrier" and hint["reading"] == "precedent"
    assert hint["basis"] and hint["rule_ids"]

    await login("handler")
    soup = BeautifulSoup((await client.get(f"/cases/{case.number}")).text, "html.parser")
    section = soup.select_one("#hint-precedent")
    assert section["data-total"] == "4"
    assert section.select_one('[data-party="carrier"]')["data-count"] == "3"
    assert sorted(a["href"] for a in section.select("a")) == sorted(f"/cases/{c.number}" for c in similar)
    assert "In 4 similar closed cases" in section.get_text(" ", strip=True)
    # Shown apart from the legal basis, which stays the rules'.
    assert not section.select("#hint-basis") and soup.select_one("#hint-basis li")


async def test_the_ranking_questions_and_precedent_stay_on_staff_pages(client: Any) -> None:
    from tests.integration.test_access_matrix import open_party_link

    po = await order(number="PARTY", incoterm="FOB", transport_mode="road")
    visible = {"damage_noted_on_receipt": True, "outer_packaging": "damaged"}
    await closed(await hinted_case("transit_damage", visible, purchase_order_id=po.id), "carrier")
    case = await hinted_case("transit_damage", visible, purchase_order_id=po.id)
    hint = json_object(case.hint)
    assert hint["precedent"]["total"] == 1 and hint["missing_facts"][0]["effects"] and len(hint["ranking"]) > 1

    await open_party_link(client, case.id, "carrier")
    page = await client.get(f"/p/cases/{case.number}")
    if page.status_code in (301, 302, 303, 307):
        page = await client.get(page.headers["location"])
    assert page.status_code == 200
    text = page.text
    assert case.number in text  # the party's own page
    for staff_only in (
        "hint-precedent",
        "Precedent",
        "similar closed case",
        "hint-ranking",
        "answer-previews",
        "if No",
        "hint-top-question",
        "hint-reading",
        "Each party on the facts so far",
    ):
        assert staff_only not in text, staff_only
