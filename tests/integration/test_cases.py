"""The case core: numbers under concurrency, idempotent creation, node moves, timeline, pages and API."""

import asyncio
import re
from typing import Any

import pytest
from bs4 import BeautifulSoup

from app.accounts.services import token_create
from app.cases.events import Actor, audit_key, event_hash
from app.cases.services import CaseDraft, case_create, case_move
from app.cases.tables import Case, CaseEvent
from app.errors import Conflict, ValidationFailed
from tests.conftest import csrf_token

ACTOR = Actor(kind="system", label="Tester")


def draft(**changes: Any) -> CaseDraft:
    values: dict[str, Any] = {"problem_type": "quality_defect", "description": "Cracked glaze", "quantity_affected": 3}
    values.update(changes)
    return CaseDraft(**values)


@pytest.mark.checklist(32)
async def test_fifty_parallel_creations_get_fifty_distinct_numbers() -> None:
    results = await asyncio.gather(*(case_create(actor=ACTOR, draft=draft(description=f"n{i}")) for i in range(50)))
    numbers = {result.case.number for result in results}
    assert len(numbers) == 50
    assert all(re.fullmatch(r"AS-\d{4}-\d{6}", n) for n in numbers)
    sequence = sorted(int(n[-6:]) for n in numbers)
    assert sequence == list(range(1, 51))
    assert await Case.count() == 50 and await CaseEvent.count() == 50


@pytest.mark.checklist(25)
async def test_same_key_same_payload_is_one_case_and_different_payload_is_refused() -> None:
    first = await case_create(actor=ACTOR, draft=draft(), client_key="key-1")
    again = await case_create(actor=ACTOR, draft=draft(), client_key="key-1")
    assert first.created and not again.created and again.case.number == first.case.number
    with pytest.raises(ValidationFailed, match="already used for a different report"):
        await case_create(actor=ACTOR, draft=draft(quantity_affected=9), client_key="key-1")
    assert await Case.count() == 1


@pytest.mark.checklist(25)
async def test_two_concurrent_requests_with_one_key_make_one_case() -> None:
    results = await asyncio.gather(*(case_create(actor=ACTOR, draft=draft(), client_key="same") for _ in range(5)))
    assert len({r.case.number for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await Case.count() == 1


async def test_invalid_draft_names_each_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        await case_create(actor=ACTOR, draft=draft(problem_type="broken", quantity_affected=0, currency="yuan"))
    assert {name for name, _ in caught.value.fields} == {"problem_type", "quantity_affected", "currency"}
    assert await Case.count() == 0


async def test_moves_follow_the_state_machine_and_are_recorded_in_a_hash_chain() -> None:
    created = await case_create(actor=ACTOR, draft=draft())
    number = created.case.number
    await case_move(actor=ACTOR, number=number, target="responsibility")
    await case_move(actor=ACTOR, number=number, target="disputed", reason="Supplier says packing was fine")
    with pytest.raises(Conflict, match="cannot move from disputed to plan"):
        await case_move(actor=ACTOR, number=number, target="plan")
    back = await case_move(actor=ACTOR, number=number, target="responsibility")
    assert back.node == "responsibility" and back.node_before_dispute == ""
    events = await CaseEvent.objects().where(CaseEvent.case == back.id).order_by(CaseEvent.id).output(load_json=True)
    assert [e.kind for e in events] == ["case_reported", "node_changed", "node_changed", "node_changed"]
    assert events[2].data == {"from": "responsibility", "to": "disputed", "reason": "Supplier says packing was fine"}
    previous = ""
    for event in events:
        assert event.prev_hash == previous
        actor = Actor(kind=event.actor_kind, id=event.actor_id, label=event.actor_label)
        expected = event_hash(
            prev_hash=previous, case_id=back.id, at=event.at, actor=actor, kind=event.kind, data=event.data,
            key=audit_key(),
        )
        assert event.hash == expected
        previous = event.hash


async def test_case_list_filters_and_answers_htmx_with_the_results_block(client: Any, login: Any) -> None:
    await login("handler")
    one = await case_create(actor=ACTOR, draft=draft(order_number="PO-1"))
    await case_create(actor=ACTOR, draft=draft(problem_type="transit_damage", order_number="PO-2"))
    page = await client.get("/cases")
    soup = BeautifulSoup(page.text, "html.parser")
    assert len(soup.select("#case-rows tr")) == 2
    assert soup.select_one("#case-filters") is not None
    fragment = await client.get("/cases?problem_type=quality_defect", headers={"HX-Request": "true"})
    assert fragment.headers["vary"] == "HX-Request"
    assert "<html" not in fragment.text and one.case.number in fragment.text and "PO-2" not in fragment.text
    boosted = await client.get("/cases", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.text
    search = await client.get("/cases?q=PO-2")
    assert "PO-2" in search.text and one.case.number not in search.text


@pytest.mark.checklist(22)
async def test_case_detail_moves_through_htmx_and_escapes_report_text(client: Any, login: Any) -> None:
    await login("handler")
    hostile = '<div hx-get="/admin" hx-trigger="load">x</div><img src=x onerror=alert(1)> {{7*7}}'
    created = await case_create(actor=ACTOR, draft=draft(description=hostile))
    page = await client.get(f"/cases/{created.case.number}")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    description = BeautifulSoup(page.text, "html.parser").select_one(".description").text
    assert "{{7*7}}" in description and "49" not in description
    response = await client.post(
        f"/cases/{created.case.number}/move",
        data={"target": "responsibility"},
        headers={"HX-Request": "true", "x-csrftoken": await csrf_token(client)},
    )
    assert response.status_code == 200 and response.headers["hx-trigger"] == "case-changed"
    assert "<html" not in response.text
    assert BeautifulSoup(response.text, "html.parser").select_one("#case-node")["data-node"] == "responsibility"
    refused = await client.post(
        f"/cases/{created.case.number}/move",
        data={"target": "closed"},
        headers={"HX-Request": "true", "x-csrftoken": await csrf_token(client)},
    )
    assert refused.status_code == 409 and refused.headers["hx-retarget"] == "#messages"
    assert "cannot move from responsibility to closed" in refused.text


async def test_unknown_case_is_a_404_page(client: Any, login: Any) -> None:
    await login("handler")
    response = await client.get("/cases/AS-2026-999999")
    assert response.status_code == 404
    assert "There is no case AS-2026-999999." in response.text and "<html" in response.text


async def test_api_lists_and_reads_cases_with_a_bearer_token(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    token = await token_create(email=user.email)
    created = await case_create(actor=ACTOR, draft=draft(order_number="PO-77"))
    headers = {"Authorization": f"Bearer {token}"}
    listing = await client.get("/api/v1/cases", headers=headers)
    assert listing.status_code == 200
    assert [item["number"] for item in listing.json()["items"]] == [created.case.number]
    detail = await client.get(f"/api/v1/cases/{created.case.number}", headers=headers)
    body = detail.json()
    assert body["order_number"] == "PO-77" and body["events"][0]["kind"] == "case_reported"
    assert (await client.get("/api/v1/cases")).status_code == 401
    assert (await client.get("/api/v1/cases", headers={"Authorization": "Bearer cc_wrong"})).status_code == 401
    missing = await client.get("/api/v1/cases/AS-1999-000001", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


async def test_api_rejects_bad_parameters_with_422_naming_them(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    headers = {"Authorization": f"Bearer {await token_create(email=user.email)}"}
    response = await client.get("/api/v1/cases?limit=5000&before=abc", headers=headers)
    assert response.status_code == 422
    fields = {item["field"] for item in response.json()["fields"]}
    assert fields & {"limit", "before"}


async def test_openapi_schema_lists_the_case_endpoints(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/cases" in schema["paths"] and "/api/v1/cases/{number}" in schema["paths"]


async def test_the_case_page_assigns_with_the_same_rules_as_the_grid(client: Any, login: Any, make_user: Any) -> None:
    filed = (await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="other"))).case
    await login("handler")
    colleague = await make_user("manager", name="Mei")
    warehouse = await make_user("warehouse", name="Dock worker")
    hx = {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}
    refused = await client.post(f"/cases/{filed.number}/assignee", data={"assignee": str(warehouse.id)}, headers=hx)
    assert refused.status_code == 422 and "cannot handle cases" in refused.text
    given = await client.post(f"/cases/{filed.number}/assignee", data={"assignee": str(colleague.id)}, headers=hx)
    assert given.status_code == 200 and given.headers["HX-Trigger"] == "case-changed"
    assert 'id="case-assignee">Mei<' in given.text
    again = await client.post(f"/cases/{filed.number}/assignee", data={"assignee": str(colleague.id)}, headers=hx)
    assert again.status_code == 200
    assert (await Case.select(Case.assignee).where(Case.id == filed.id).first())["assignee"] == colleague.id
    assert await CaseEvent.count().where(CaseEvent.kind == "assigned") == 1  # the same person twice is one change
    missing = await client.post("/cases/AS-1999-000001/assignee", data={"assignee": str(colleague.id)}, headers=hx)
    assert missing.status_code == 404
