"""Root causes set for many cases at once: ticked on the grid, or a whole supplier × problem type group on the
root-cause page, each change on its case's timeline, every case counted, the corrective action linked."""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup

from app.analytics.services import corrective_action_create
from app.analytics.tables import CorrectiveAction, CorrectiveActionCase
from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create, case_move
from app.cases.tables import Case, CaseEvent
from app.routes.analytics import today_utc
from app.trade.tables import Supplier
from tests.conftest import csrf_token


async def supplier(code: str, name: str) -> Supplier:
    row = Supplier(code=code, name=name, email=f"{code.lower()}@example.com")
    await row.save()
    return row


async def case_for(of: Supplier | None, problem: str = "quality_defect", text: str = "Cracked housing") -> Case:
    draft = CaseDraft(
        problem_type=problem, description=text, supplier_id=of.id if of else None, order_number=f"PO-{text[:8]}"
    )
    return (await case_create(actor=Actor.system(), draft=draft)).case


async def causes(*cases: Case) -> list[str]:
    rows = await Case.select(Case.id, Case.root_cause).where(Case.id.is_in([case.id for case in cases]))
    by_id = {row["id"]: row["root_cause"] for row in rows}
    return [by_id[case.id] for case in cases]


async def events_of(kind: str) -> list[dict[str, Any]]:
    return list(
        await CaseEvent.select(
            CaseEvent.case, CaseEvent.data, CaseEvent.actor_kind, CaseEvent.prev_hash, CaseEvent.hash
        )
        .where(CaseEvent.kind == kind)
        .order_by(CaseEvent.id)
        .output(load_json=True)
    )


async def hx(client: Any) -> dict[str, str]:
    return {"HX-Request": "true", "x-csrftoken": await csrf_token(client)}


async def test_grid_sets_the_cause_of_ticked_cases_and_counts_every_one(client: Any, login: Any) -> None:
    maker = await supplier("SUP-A", "Ningbo Works")
    fresh = await case_for(maker, text="Cracked housing")
    other_cause = await case_for(maker, text="Loose screws")
    already = await case_for(maker, text="Bent frame")
    cancelled = await case_for(maker, text="Reported twice")
    await case_move(actor=Actor.system(), number=cancelled.number, target="cancelled", reason="Reported twice")
    await Case.update({Case.root_cause: "production"}).where(Case.id == other_cause.id)
    await Case.update({Case.root_cause: "packaging"}).where(Case.id == already.id)
    await login("handler")
    ticked = [str(case.id) for case in (fresh, other_cause, already, cancelled)] + ["999999", "9" * 23]

    answer = await client.post(
        "/grid/root-cause", data={"case": ticked, "root_cause": "packaging"}, headers=await hx(client)
    )

    assert answer.status_code == 200, answer.text
    result = BeautifulSoup(answer.text, "html.parser").select_one("#causes-set")
    assert result is not None, answer.text
    text = " ".join(result.text.split())
    assert "Root cause: Packaging — 2 cases set, 3 skipped." in text
    assert "1 case had this cause already: nothing changed." in text
    assert f"{cancelled.number}: the case was cancelled" in text
    assert "#999999: there is no such case" in text and f"#{'9' * 23}: there is no such case" in text
    assert await causes(fresh, other_cause, already, cancelled) == ["packaging", "packaging", "packaging", ""]
    # One event per changed case, by the signed-in handler, each chained onto its own case's timeline.
    written = await events_of("root_cause_set")
    assert sorted(event["case"] for event in written) == sorted([fresh.id, other_cause.id])
    assert {(event["data"]["from"], event["data"]["to"]) for event in written} == {
        ("", "packaging"),
        ("production", "packaging"),
    }
    assert all(event["actor_kind"] == "user" for event in written)
    for event in written:
        before = (
            await CaseEvent.select(CaseEvent.hash)
            .where(CaseEvent.case == event["case"], CaseEvent.kind != "root_cause_set")
            .order_by(CaseEvent.id, ascending=False)
            .first()
        )
        assert event["prev_hash"] == before["hash"]


async def test_grid_links_a_corrective_action_only_to_the_cases_it_covers(client: Any, login: Any) -> None:
    maker = await supplier("SUP-B", "Brightway")
    elsewhere = await supplier("SUP-C", "Elsewhere Ltd")
    covered = await case_for(maker, text="Torn carton")
    had_cause = await case_for(maker, text="Crushed box")
    foreign = await case_for(elsewhere, text="Wet pallet")
    await Case.update({Case.root_cause: "packaging"}).where(Case.id == had_cause.id)
    action = await corrective_action_create(
        root_cause="packaging", action="Double-wall cartons", supplier_id=maker.id, today=today_utc()
    )
    await login("manager")

    answer = await client.post(
        "/grid/root-cause",
        data={"case": [str(covered.id), str(had_cause.id), str(foreign.id)], "root_cause": "packaging",
              "action": str(action.id)},
        headers=await hx(client),
    )  # fmt: skip

    assert answer.status_code == 200, answer.text
    text = " ".join(BeautifulSoup(answer.text, "html.parser").select_one("#causes-set").text.split())
    assert "Root cause: Packaging — 1 case set, 1 skipped." in text
    assert "1 case already had this cause and was linked to the action." in text
    assert f"{foreign.number}: the corrective action is for another supplier" in text
    links = await CorrectiveActionCase.select(CorrectiveActionCase.case).where(CorrectiveActionCase.action == action.id)
    assert sorted(row["case"] for row in links) == sorted([covered.id, had_cause.id])
    assert await causes(covered, had_cause, foreign) == ["packaging", "packaging", ""]
    (set_event,) = await events_of("root_cause_set")
    (linked_event,) = await events_of("corrective_action_linked")
    assert set_event["case"] == covered.id and set_event["data"]["corrective_action"] == action.id
    assert linked_event["case"] == had_cause.id and linked_event["data"]["corrective_action"] == action.id

    # The same again changes nothing and links nothing twice.
    again = await client.post(
        "/grid/root-cause",
        data={"case": [str(covered.id), str(had_cause.id)], "root_cause": "packaging", "action": str(action.id)},
        headers=await hx(client),
    )
    assert "2 cases had this cause already: nothing changed." in " ".join(again.text.split())
    assert await CorrectiveActionCase.count().where(CorrectiveActionCase.action == action.id) == 2
    assert len(await events_of("root_cause_set")) + len(await events_of("corrective_action_linked")) == 2


async def test_bad_input_is_refused_with_words_and_changes_nothing(client: Any, login: Any) -> None:
    maker = await supplier("SUP-D", "Delta")
    case = await case_for(maker)
    action = await corrective_action_create(
        root_cause="production", action="Stricter inspection", supplier_id=maker.id, today=today_utc()
    )
    await login("handler")
    headers = await hx(client)
    tries = [
        ({"root_cause": "packaging"}, "Tick the cases to set the root cause for."),
        ({"case": [str(case.id)], "root_cause": "gremlins"}, "Choose a root cause from the list."),
        ({"case": [str(case.id)], "root_cause": "packaging", "action": "twelve"}, "leave it empty"),
        ({"case": [str(case.id)], "root_cause": "packaging", "action": "424242"}, "There is no corrective action"),
        ({"case": [str(case.id)], "root_cause": "packaging", "action": "9" * 23}, "There is no corrective action"),
        ({"case": [str(case.id)], "root_cause": "packaging", "action": str(action.id)}, "answers another root cause"),
    ]
    for data, words in tries:
        answer = await client.post("/grid/root-cause", data=data, headers=headers)
        assert answer.status_code == 422, (data, answer.status_code)
        assert words in answer.text, (data, answer.text)
    assert await causes(case) == [""]
    assert await events_of("root_cause_set") == []


@pytest.mark.checklist(19)
async def test_a_warehouse_user_cannot_set_root_causes(client: Any, login: Any) -> None:
    maker = await supplier("SUP-E", "Echo")
    case = await case_for(maker)
    await login("warehouse")
    headers = await hx(client)
    grid = await client.post(
        "/grid/root-cause", data={"case": [str(case.id)], "root_cause": "packaging"}, headers=headers
    )
    group = await client.post(
        "/dashboard/root-causes/groups",
        data={"group_supplier": str(maker.id), "group_problem_type": "quality_defect", "root_cause": "packaging"},
        headers=headers,
    )
    assert (grid.status_code, group.status_code) == (403, 403)
    assert await causes(case) == [""]
    assert await events_of("root_cause_set") == []


async def test_root_cause_page_groups_cases_without_a_cause_and_sets_a_group_at_once(client: Any, login: Any) -> None:
    ningbo = await supplier("SUP-N", "Ningbo Works")
    shenzhen = await supplier("SUP-S", "深圳工厂")
    group = [await case_for(ningbo, "transit_damage", f"Crushed carton {n}") for n in range(3)]
    decided = await case_for(ningbo, "transit_damage", "Crushed carton known")
    await Case.update({Case.root_cause: "handling_in_transit"}).where(Case.id == decided.id)
    cancelled = await case_for(ningbo, "transit_damage", "Crushed carton twice")
    await case_move(actor=Actor.system(), number=cancelled.number, target="cancelled", reason="Reported twice")
    other_kind = await case_for(ningbo, "quality_defect", "Cracked lid")
    other_supplier = await case_for(shenzhen, "transit_damage", "Dented tin")
    user = await login("manager")

    page = BeautifulSoup((await client.get("/dashboard/root-causes")).text, "html.parser")
    rows = {row["data-group"]: row for row in page.select("#cause-groups tbody tr[data-group]")}
    assert set(rows) == {
        f"{ningbo.id}-transit_damage",
        f"{ningbo.id}-quality_defect",
        f"{shenzhen.id}-transit_damage",
    }
    first = rows[f"{ningbo.id}-transit_damage"]
    assert "Ningbo Works" in first.text and "Damaged in transit" in first.text
    assert first.select("td")[2].text.strip() == "3"  # neither the decided nor the cancelled case
    assert "Set for 3 cases" in first.text

    answer = await client.post(
        "/dashboard/root-causes/groups",
        data={
            "group_supplier": str(ningbo.id),
            "group_problem_type": "transit_damage",
            "root_cause": "packaging",
            "action": "new",
            "new_action": "Corner protectors on every pallet",
        },
        headers=await hx(client),
    )

    assert answer.status_code == 200, answer.text
    result = BeautifulSoup(answer.text, "html.parser")
    text = " ".join(result.select_one("#causes-set").text.split())
    assert "Root cause: Packaging — 3 cases set, 0 skipped." in text
    action = await CorrectiveAction.objects().first()
    assert action.supplier == ningbo.id and action.root_cause == "packaging" and action.owner == user.id
    assert f"Corrective action {action.id}" in text
    assert await causes(*group) == ["packaging"] * 3
    assert await causes(decided, cancelled, other_kind, other_supplier) == ["handling_in_transit", "", "", ""]
    links = await CorrectiveActionCase.select(CorrectiveActionCase.case)
    assert sorted(row["case"] for row in links) == sorted(case.id for case in group)
    written = await events_of("root_cause_set")
    assert sorted(event["case"] for event in written) == sorted(case.id for case in group)
    assert {event["data"]["corrective_action"] for event in written} == {action.id}
    # The group is gone from the answer; the others remain, and the new action is offered for Ningbo's other group.
    remaining = {row["data-group"]: row for row in result.select("#cause-groups tbody tr[data-group]")}
    assert set(remaining) == {f"{ningbo.id}-quality_defect", f"{shenzhen.id}-transit_damage"}
    offered = [
        option["value"] for option in remaining[f"{ningbo.id}-quality_defect"].select("select[name=action] option")
    ]
    assert str(action.id) in offered
    assert str(action.id) not in [
        option["value"] for option in remaining[f"{shenzhen.id}-transit_damage"].select("select[name=action] option")
    ]

    # Posting the finished group again says so (422), and a new action needs its words.
    again = await client.post(
        "/dashboard/root-causes/groups",
        data={"group_supplier": str(ningbo.id), "group_problem_type": "transit_damage", "root_cause": "packaging"},
        headers=await hx(client),
    )
    assert again.status_code == 422 and "No case in this group is without a root cause any more." in again.text
    empty = await client.post(
        "/dashboard/root-causes/groups",
        data={"group_supplier": str(shenzhen.id), "group_problem_type": "transit_damage", "root_cause": "material",
              "action": "new", "new_action": "  "},
        headers=await hx(client),
    )  # fmt: skip
    assert empty.status_code == 422 and "Say what will be done." in empty.text
    assert await CorrectiveAction.count() == 1 and await causes(other_supplier) == [""]


async def test_root_cause_groups_read_in_chinese(client: Any, login: Any) -> None:
    maker = await supplier("SUP-Z", "深圳工厂")
    await case_for(maker, "transit_damage")
    await login("handler")
    client.cookies.set("cc_lang", "zh")
    page = BeautifulSoup((await client.get("/dashboard/root-causes")).text, "html.parser")
    heading = page.select_one("#groups-heading").text
    button = page.select_one("#cause-groups button").text
    assert heading != "Cases without a root cause, by supplier and problem type" and "根本原因" in heading
    assert "Set for" not in button and "1" in button
    grid = BeautifulSoup((await client.get("/grid")).text, "html.parser")
    assert "Set the root cause" not in grid.select_one("#bulk-root-cause summary").text
