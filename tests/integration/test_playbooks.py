"""Supplier and carrier playbooks: the page, the push form's contact and readiness, the push that needs a reason,
the phone's checklist, the stage clock, and what a supplier actually did, learned from generated histories."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bs4 import BeautifulSoup

from app.cases.events import Actor, record_event
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, CaseEvent
from app.db import atomic
from app.evidence.tables import Evidence
from app.imports.jobs import preview_file
from app.playbooks import selectors, services
from app.playbooks.lookup import json_list
from app.playbooks.tables import Playbook, SavedReply
from app.tracking.tables import StageDeadline
from app.trade.tables import Carrier, PurchaseOrder, Supplier
from tests.conftest import csrf_token, sign_in, work_off_queue
from tests.integration.test_collaboration import Sink, mail_app, photo, smtp, staff  # noqa: F401 - the fixtures
from tests.integration.test_i18n import transit_case
from tests.integration.test_import import ORDER_HEADERS, csv_bytes, import_bytes, order_rows

TODAY = datetime.now(UTC).date()


async def make_supplier(code: str = "SUP-P") -> Supplier:
    supplier = Supplier(
        code=code, name=f"Supplier {code}", email=f"sales@{code.lower()}.cn", language="zh", country="CN"
    )
    await supplier.save()
    return supplier


async def make_case(supplier: Supplier, *, amount: str | None = "120", delivered: date | None = None) -> Case:
    carrier = Carrier(code=f"CAR-{supplier.code}", name="Carrier", email=f"claims@car-{supplier.code.lower()}.example")
    await carrier.save()
    draft = CaseDraft(
        problem_type="quality_defect",
        description="Cracked housings",
        supplier_id=supplier.id,
        carrier_id=carrier.id,
        order_number=f"PO-{supplier.code}",
        claim_amount=Decimal(amount) if amount else None,
        currency="USD",
        facts={"delivered_on": (delivered or TODAY - timedelta(days=28)).isoformat()},
    )
    return (await case_create(actor=Actor.system(), draft=draft)).case


def playbook_form(token: str, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "_csrf_token": token,
        "contact_problem_type": ["quality_defect", ""],
        "contact_language": ["zh", ""],
        "contact_name": ["Ms Wang (QA)", "Sales"],
        "contact_email": ["qa-claims@sup-p.cn", "sales@sup-p.cn"],
        "item_key": ["", "defect_evidence"],
        "item_label": ["Batch number photo", ""],
        "item_problem_type": ["quality_defect", ""],
        "window_days": "30",
        "window_from": "delivery",
        "window_counting": "calendar",
        "minimum_value": "500",
        "minimum_currency": "usd",
        "remedies": ["replacement", "credit_note"],
        "answer_value": "2",
        "answer_unit": "days",
        "notes": "Ask for Ms Wang; never mention the old contract.",
    }
    form.update(changes)
    return form


async def save_playbook(client: Any, supplier: Supplier, **changes: Any) -> Any:
    token = await csrf_token(client)
    return await client.post(f"/parties/supplier/{supplier.id}/playbook", data=playbook_form(token, **changes))


async def push_data(client: Any) -> dict[str, str]:
    """The push form to the supplier's quality contact, as a handler fills it in."""
    return {
        "party": "supplier",
        "email": "qa-claims@sup-p.cn",
        "language": "zh",
        "requirement": "replacement",
        "reply_by": (TODAY + timedelta(days=7)).isoformat(),
        "_csrf_token": await csrf_token(client),
    }


async def test_a_handler_writes_a_playbook_and_bad_input_is_refused_with_words(client: Any, make_user: Any) -> None:
    supplier = await make_supplier()
    await sign_in(client, await make_user("handler"))
    empty = await client.get(f"/parties/supplier/{supplier.id}/playbook")
    assert empty.status_code == 200 and "No case has been sent to them yet." in empty.text

    bad = await save_playbook(
        client, supplier, window_days="-3", minimum_value="lots", contact_email=["not-an-address", ""]
    )
    assert bad.status_code == 422
    for words in ("A whole number from 1 to 3650.", "Enter an amount such as 500", "Enter one email address"):
        assert words in bad.text, words
    assert await Playbook.count() == 0

    saved = await save_playbook(client, supplier)
    assert saved.status_code == 303
    playbook = await Playbook.objects().first()
    assert playbook.party_kind == "supplier" and playbook.party_id == supplier.id
    assert playbook.answer_hours == 48 and playbook.window_days == 30 and playbook.minimum_currency == "USD"
    rules = selectors.rules_of(playbook)
    assert [(item.key, item.problem_types) for item in rules.items] == [
        ("pb:batch_number_photo", ("quality_defect",)),
        ("defect_evidence", ()),
    ]
    page = BeautifulSoup((await client.get(saved.headers["location"])).text, "html.parser")
    assert page.select_one("#playbook-saved") is not None
    assert [field["value"] for field in page.select("input[name=contact_email]") if field.get("value")] == [
        "qa-claims@sup-p.cn",
        "sales@sup-p.cn",
    ]
    assert page.select_one("#answer-value")["value"] == "2"
    assert "never mention the old contract" in page.select_one("#playbook-notes").text

    # Saving again replaces it: still one playbook for the supplier.
    assert (await save_playbook(client, supplier, window_days="14")).status_code == 303
    assert await Playbook.count() == 1
    assert (await Playbook.objects().first()).window_days == 14


async def test_the_push_form_picks_the_contact_and_shows_what_the_case_lacks(client: Any, make_user: Any) -> None:
    supplier = await make_supplier()
    case = await make_case(supplier)  # delivered 28 days ago: a 30-day window ends in 2 days
    await sign_in(client, await make_user("handler"))
    before = BeautifulSoup((await client.get(f"/cases/{case.number}/collaboration")).text, "html.parser")
    assert before.select_one("#push-email")["value"] == "sales@sup-p.cn"
    assert before.select_one("#push-readiness li") is None

    await save_playbook(client, supplier)
    panel = BeautifulSoup((await client.get(f"/cases/{case.number}/collaboration")).text, "html.parser")
    # The quality contact in the supplier's language, offered first, with the record's address still listed.
    assert panel.select_one("#push-email")["value"] == "qa-claims@sup-p.cn"
    assert [o["value"] for o in panel.select("#push-contacts option")] == ["qa-claims@sup-p.cn", "sales@sup-p.cn"]
    assert panel.select_one("#push-language option[selected]")["value"] == "zh"
    gaps = {
        li["data-gap"] + ":" + li.get("data-item", ""): li.text.strip() for li in panel.select("#push-readiness li")
    }
    assert gaps["missing_item:pb:batch_number_photo"] == "Batch number photo missing"
    assert gaps["missing_item:defect_evidence"].endswith("missing")
    assert gaps["below_minimum:"].startswith("Below this party's minimum claim of")
    assert "The notice window ends in 2 days" in gaps["window_closing:"]
    assert panel.select_one("#push-playbook-reason") is not None

    # The fragment for the carrier: it has no playbook, so nothing is asked.
    carrier = BeautifulSoup(
        (await client.get(f"/cases/{case.number}/push/readiness?party=carrier", headers={"HX-Request": "true"})).text,
        "html.parser",
    )
    assert carrier.select_one("#push-readiness")["data-party"] == "carrier" and not carrier.select("li")


async def test_a_push_that_breaks_the_playbook_needs_a_reason_which_goes_on_the_timeline(
    staff: Any,  # noqa: F811 - the fixture
    make_user: Any,
    smtp: tuple[Sink, str],  # noqa: F811 - the fixture
) -> None:
    sink, _url = smtp
    supplier = await make_supplier()
    case = await make_case(supplier, amount="900")
    await sign_in(staff, await make_user("handler"))
    await save_playbook(staff, supplier)
    form = await push_data(staff)
    refused = await staff.post(f"/cases/{case.number}/push", data=form)
    assert refused.status_code == 422
    words = BeautifulSoup(refused.text, "html.parser").get_text()
    assert "breaks the party's playbook" in words and "Say why the case goes out as it is." in words
    kinds = [row["kind"] for row in await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case.id)]
    assert "case_pushed" not in kinds and not sink.messages

    sent = await staff.post(
        f"/cases/{case.number}/push", data={**form, "playbook_reason": "The customer is waiting; photos follow."}
    )
    assert sent.status_code == 303, sent.text
    assert await work_off_queue() == 1
    assert len(sink.messages) == 1
    override = (
        await CaseEvent.select(CaseEvent.data)
        .where((CaseEvent.case == case.id) & (CaseEvent.kind == "playbook_rules_overridden"))
        .first()
        .output(load_json=True)
    )
    assert override["data"]["reason"] == "The customer is waiting; photos follow."
    assert {(rule["kind"], rule.get("item", "")) for rule in override["data"]["rules"]} == {
        ("missing_item", "pb:batch_number_photo"),
        ("missing_item", "defect_evidence"),
    }
    # The supplier's answer stage runs on its playbook's two working days, not the policy's three.
    clock = (
        await StageDeadline.objects()
        .where((StageDeadline.case == case.id) & (StageDeadline.node == "responsibility"))
        .first()
    )
    assert clock.owner_party == "supplier" and clock.policy == "responsibility:2 business days"


async def test_a_push_that_breaks_no_rule_needs_no_reason(
    staff: Any,  # noqa: F811 - the fixture
    make_user: Any,
    smtp: tuple[Sink, str],  # noqa: F811 - the fixture
) -> None:
    supplier = await make_supplier()
    case = await make_case(supplier, amount="900")
    await sign_in(staff, await make_user("handler"))
    await save_playbook(staff, supplier, item_key=["", ""], item_label=["", ""])
    for covers in ("pb:batch_number_photo", "defect_evidence"):
        await Evidence(case=case.id, sha256=covers[-8:].ljust(64, "0"), covers=covers, status="ok").save()
    ready = await selectors.case_readiness(case, "supplier")
    assert [gap.kind for gap in ready.gaps] == ["window_closing"] and not ready.blocking
    response = await staff.post(f"/cases/{case.number}/push", data=await push_data(staff))
    assert response.status_code == 303
    assert not await CaseEvent.exists().where(CaseEvent.kind == "playbook_rules_overridden")


async def test_the_phone_checklist_asks_for_the_suppliers_items_and_takes_photos_tagged_with_them(
    client: Any, make_user: Any
) -> None:
    supplier = await make_supplier()
    await PurchaseOrder(number="PO-PB-1", supplier=supplier.id).save()
    await sign_in(client, await make_user("admin"))
    await save_playbook(client, supplier)
    await client.post("/logout", data={"_csrf_token": await csrf_token(client)})
    await sign_in(client, await make_user("warehouse"))
    fragment = await client.get(
        "/intake/facts?problem_type=quality_defect&order_number=PO-PB-1", headers={"HX-Request": "true"}
    )
    items = [li["data-checklist-item"] for li in BeautifulSoup(fragment.text, "html.parser").select("#checklist li")]
    assert "pb:batch_number_photo" in items and items.count("defect_evidence") == 1
    # Another order's supplier without a playbook: the rules' checklist alone.
    other = await client.get("/intake/facts?problem_type=quality_defect", headers={"HX-Request": "true"})
    assert "pb:batch_number_photo" not in other.text

    report = await client.post(
        "/intake/",
        data={
            "_csrf_token": await csrf_token(client),
            "order_number": "PO-PB-1",
            "problem_type": "quality_defect",
            "quantity_affected": "2",
            "description": "Batch 7 cracked",
            "evidence_covers": "pb:batch_number_photo",
            "confirm_new": "1",
        },
        files={"evidence": ("batch.jpg", photo(), "image/jpeg")},
    )
    assert report.status_code in (201, 303), report.text
    row = await Evidence.objects().first()
    assert row.covers == "pb:batch_number_photo" and row.status == "ok"
    case = await Case.objects().where(Case.id == row.case).first()
    ready = await selectors.case_readiness(case, "supplier")
    assert "pb:batch_number_photo" not in {gap.item for gap in ready.gaps}


async def test_learned_answer_time_refusal_reasons_and_evidence_from_generated_histories() -> None:
    """Thirty generated cases: the page's figures must match what the generator did."""
    rng = random.Random(26)
    supplier = await make_supplier("SUP-L")
    other = await make_supplier("SUP-O")
    reasons = ["Outside the warranty", "No batch number photo", "Damage happened in transit"]
    hours_seen: list[float] = []
    refusals: Counter[str] = Counter()
    with_item = {"accepted": 0, "refused": 0}
    start = datetime(2026, 9, 1, 8, tzinfo=UTC)
    staff_actor = Actor(kind="user", id="1", label="handler")
    for index in range(30):
        owner = supplier if index % 10 else other  # every tenth case belongs to another supplier
        case = (
            await case_create(
                actor=Actor.system(), draft=CaseDraft(problem_type="quality_defect", supplier_id=owner.id)
            )
        ).case
        pushed_at = start + timedelta(days=index)
        async with atomic():
            await record_event(
                case_id=case.id, actor=staff_actor, kind="case_pushed", data={"party": "supplier"}, at=pushed_at
            )
        if index % 7 == 3:
            continue  # never answered
        hours = rng.randint(2, 200)
        answered_at = pushed_at + timedelta(hours=hours)
        has_photo = rng.random() < 0.5
        if has_photo:
            await Evidence(
                case=case.id,
                sha256=f"{index:064d}",
                covers="pb:batch_number_photo",
                status="ok",
                uploaded_at=pushed_at - timedelta(hours=1),
            ).save()
        refused = rng.random() < 0.5
        reason = rng.choice(reasons) if refused else ""
        party_actor = Actor(kind="supplier", id=str(index), label="qa")
        async with atomic():
            await record_event(
                case_id=case.id,
                actor=party_actor,
                kind="party_response",
                data={"party": "supplier", "response": "dispute" if refused else "accept", "reason": reason},
                at=answered_at,
            )
        if refused and rng.random() < 0.5:
            # Some also open a mediation with the same reason (counted once for the case) or another one.
            second = rng.choice(reasons)
            async with atomic():
                await record_event(
                    case_id=case.id,
                    actor=party_actor,
                    kind="dispute_opened",
                    data={"from": "responsibility", "reason": f"  {second.upper()} ", "evidence_ids": []},
                    at=answered_at,
                )
        else:
            second = ""
        if owner is supplier:
            hours_seen.append(hours)
            if refused:
                for text in {reason.casefold(), second.casefold()} - {""}:
                    refusals[text] += 1
            if has_photo:
                with_item["refused" if refused else "accepted"] += 1

    learned = await selectors.learned("supplier", supplier.id)
    assert learned.pushed == 27 and learned.answered == len(hours_seen)
    assert learned.median_hours == round(statistics.median(hours_seen), 1)
    assert {reason.casefold(): count for reason, count in learned.refusals} == dict(refusals)
    assert [count for _reason, count in learned.refusals] == sorted(refusals.values(), reverse=True)
    photo_row = next(row for row in learned.evidence if row.key == "pb:batch_number_photo")
    assert (photo_row.accepted_with, photo_row.refused_with) == (with_item["accepted"], with_item["refused"])
    assert learned.accepted + learned.refused == len(hours_seen)


async def test_an_order_file_fills_the_suppliers_playbook_from_its_optional_columns(tmp_path: Any) -> None:

    headers = [*ORDER_HEADERS, "索赔邮箱", "质保天数", "最低索赔金额", "答复天数"]
    extra = [
        ["qa@sz01.cn", 90, "USD 300", 3],
        ["", "", "", ""],  # the same supplier's next line leaves them empty: the first filled cells stand
        ["bad address", "", "", ""],
    ]
    rows = [[*row, *more] for row, more in zip(order_rows(), extra, strict=True)]
    refused = tmp_path / "orders.csv"
    refused.write_bytes(csv_bytes(headers, rows, "utf-8"))
    _, preview = preview_file(refused, "orders")
    assert [(error.row, error.column) for error in preview.errors] == [(4, "索赔邮箱")]

    rows[2][-4] = ""
    preview, result = await import_bytes(tmp_path, "orders-fixed.csv", csv_bytes(headers, rows, "utf-8"))
    assert preview.errors == [] and result.counts["playbooks"] == 1
    supplier = await Supplier.objects().where(Supplier.code == "SZ01").first()
    playbook = await Playbook.objects().where(Playbook.party_id == supplier.id).first()
    assert playbook.window_days == 90 and playbook.answer_hours == 72
    assert playbook.minimum_value == Decimal("300") and playbook.minimum_currency == "USD"
    assert [row["email"] for row in json_list(playbook.contacts)] == ["qa@sz01.cn"]
    assert await Playbook.count() == 1  # NB02 gave no rules: no playbook is made for it

    # The same file again changes nothing; a handler's own contacts stay when the file names another address.
    _preview, again = await import_bytes(tmp_path, "orders-again.csv", csv_bytes(headers, rows, "utf-8"))
    assert "playbooks" not in again.counts
    rows[0][-4] = "claims@sz01.cn"
    await import_bytes(tmp_path, "orders-new-address.csv", csv_bytes(headers, rows, "utf-8"))
    playbook = await Playbook.objects().where(Playbook.party_id == supplier.id).first()
    assert [row["email"] for row in json_list(playbook.contacts)] == ["qa@sz01.cn", "claims@sz01.cn"]


async def test_saved_answers_per_language_are_staff_only_and_fill_a_message_box(client: Any, make_user: Any) -> None:
    await sign_in(client, await make_user("handler"))
    token = await csrf_token(client)
    bad = await client.post("/replies", data={"_csrf_token": token, "language": "xx", "title": "", "body": ""})
    assert bad.status_code == 422
    words = BeautifulSoup(bad.text, "html.parser").get_text()
    assert "Choose a language." in words and "A title of up to 200 characters." in words
    for language, title, body in (
        ("zh", "收到照片", "谢谢，已收到批号照片。"),
        ("en", "Need video", 'Please send a video "of the fault".'),
    ):
        saved = await client.post(
            "/replies", data={"_csrf_token": token, "language": language, "title": title, "body": body}
        )
        assert saved.status_code == 303
    listed = BeautifulSoup((await client.get("/replies?language=zh")).text, "html.parser")
    assert [li["data-language"] for li in listed.select("#replies-list li")] == ["zh"]
    pick = BeautifulSoup(
        (await client.get("/replies/pick?target=body-carrier", headers={"HX-Request": "true"})).text, "html.parser"
    )
    buttons = pick.select("#replies-pick button[data-fill]")
    # The reader's language (English here) first; each button fills the carrier's message box with the text.
    assert [json.loads(button["data-fill"]) for button in buttons] == [
        {"#body-carrier": 'Please send a video "of the fault".'},
        {"#body-carrier": "谢谢，已收到批号照片。"},
    ]
    reply = await SavedReply.objects().where(SavedReply.language == "en").first()
    assert (await client.post(f"/replies/{reply.id}/delete", data={"_csrf_token": token})).status_code == 303
    assert await SavedReply.count() == 1

    await client.post("/logout", data={"_csrf_token": token})
    await sign_in(client, await make_user("warehouse"))
    assert (await client.get("/replies")).status_code == 403


async def test_the_grid_sends_to_the_playbooks_contact_and_holds_back_a_case_that_breaks_it(
    staff: Any,  # noqa: F811 - the fixture
    make_user: Any,
    smtp: tuple[Sink, str],  # noqa: F811 - the fixture
) -> None:
    sink, _url = smtp
    supplier = await make_supplier()
    ready = await make_case(supplier, amount="900")
    lacking = await make_case(await make_supplier("SUP-Q"), amount="900")
    await sign_in(staff, await make_user("handler"))
    await save_playbook(staff, supplier, item_key=["", ""], item_label=["", ""])
    other = await Supplier.objects().where(Supplier.code == "SUP-Q").first()
    await staff.post(f"/parties/supplier/{other.id}/playbook", data=playbook_form(await csrf_token(staff)))
    response = await staff.post(
        "/grid/push",
        data={
            "case": [str(ready.id), str(lacking.id)],
            "requirement": "replacement",
            "reply_by": (TODAY + timedelta(days=5)).isoformat(),
        },
        headers={"HX-Request": "true", "x-csrftoken": await csrf_token(staff)},
    )
    assert response.status_code == 200, response.text
    assert await work_off_queue() == 1
    text = BeautifulSoup(response.text, "html.parser").get_text(" ")
    assert "its supplier's playbook: Batch number photo missing" in text
    assert [mail["To"] for mail in sink.messages] == ["qa-claims@sup-p.cn"]
    pushed = await CaseEvent.select(CaseEvent.case).where(CaseEvent.kind == "case_pushed")
    assert [row["case"] for row in pushed] == [ready.id]


async def test_two_first_saves_at_once_make_one_playbook() -> None:
    supplier = await make_supplier()
    actor = Actor(kind="user", id="1", label="handler")
    forms = [services.PlaybookInput(contacts=[], items=[], window_days=days, answer_value="1") for days in ("10", "20")]
    await asyncio.gather(
        *(services.playbook_save(actor=actor, kind="supplier", party_id=supplier.id, data=form) for form in forms)
    )
    rows = await Playbook.objects()
    assert len(rows) == 1 and rows[0].window_days in (10, 20) and rows[0].answer_hours == 24


async def test_a_carriers_playbook_window_is_checked_against_the_cmr_notice_we_know() -> None:
    case = await transit_case()  # concealed road damage delivered two days ago: a CMR notice deadline
    carrier = Carrier(code="CAR-CMR", name="Road Carrier", email="claims@road.example")
    await carrier.save()
    await Case.update({Case.carrier: carrier.id}).where(Case.id == case.id)
    await Playbook(party_kind="carrier", party_id=carrier.id, window_days=60, window_counting="calendar").save()
    case = await Case.objects().where(Case.id == case.id).first()
    deadlines = json.loads(case.hint)["deadlines"] if isinstance(case.hint, str) else case.hint["deadlines"]
    cmr = [raw for raw in deadlines if raw["party"] == "carrier" and raw["regime"] == "CMR"]
    assert cmr, deadlines
    ready = await selectors.case_readiness(case, "carrier")
    first = [gap for gap in ready.gaps if gap.kind == "notice_first"]
    notices = [raw for raw in cmr if raw["status"] == "open" and raw["kind"] != "time_bar"]
    assert notices and [(gap.regime, gap.day.isoformat()) for gap in first] == [("CMR", raw["due"]) for raw in notices]
    assert ready.window_ends is not None and all(gap.day < ready.window_ends for gap in first)
    assert not ready.blocking
    assert selectors.gap_text(first[0]).startswith("The CMR notice is due")
