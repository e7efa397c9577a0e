"""The phone intake flow: the page, its live fragments, filing through the form, assignment and evidence on a case."""

import asyncio
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from app.cases.assignment import pick_assignee
from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case, CaseEvent
from app.evidence.services import EvidencePolicy
from app.evidence.storage import LocalEvidenceStore
from app.evidence.tables import Evidence
from app.intake.report import IntakeReport
from app.intake.submit import intake_submit
from app.trade.tables import Carrier, Customer, OrderLine, Product, PurchaseOrder, Supplier
from tests.conftest import csrf_token, sign_in

ORDER = "PO-2026-0042"


def photo(colour: tuple[int, int, int] = (200, 60, 40), size: tuple[int, int] = (640, 480)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def seed_order(number: str = ORDER, supplier_code: str = "SUP-1") -> dict[str, Any]:
    supplier = Supplier(code=supplier_code, name=f"Ningbo Ceramics {supplier_code}")
    await supplier.save()
    carrier = Carrier(code=f"CAR-{supplier_code}", name="Blue Sea Lines")
    await carrier.save()
    mug = Product(sku=f"MUG-{supplier_code}", name="Stoneware mug", supplier=supplier.id)
    bowl = Product(sku=f"BWL-{supplier_code}", name="Rice bowl", supplier=supplier.id)
    await mug.save()
    await bowl.save()
    order = PurchaseOrder(
        number=number,
        supplier=supplier.id,
        carrier=carrier.id,
        incoterm="FOB",
        transport_mode="sea",
        region="Shanghai",
        delivered_on=date(2026, 3, 1),
    )
    await order.save()
    lines = []
    for line_no, product in ((1, mug), (2, bowl)):
        line = OrderLine(
            line_key=f"{number}#{line_no}",
            purchase_order=order.id,
            line_no=line_no,
            product=product.id,
            quantity_ordered=500,
            quantity_delivered=498,
        )
        await line.save()
        lines.append(line)
    return {"supplier": supplier, "carrier": carrier, "mug": mug, "bowl": bowl, "order": order, "lines": lines}


def form(**changes: str) -> dict[str, str]:
    values = {
        "order_number": ORDER,
        "order_line": "2",
        "problem_type": "transit_damage",
        "quantity_affected": "3",
        "description": "Carton crushed at one corner, bowls broken inside",
        "urgency": "high",
        "expected_days": "7",
        "customer_name": "Li Wei",
        "customer_email": "Li.Wei@example.com",
        "customer_phone": "+86 21 5555 0101",
        "customer_language": "zh",
        "facts.damage_noted_on_receipt": "yes",
        "facts.outer_packaging": "damaged",
        "facts.packaging_adequate": "",
        "facts.discovered_on": "2026-03-02",
        "client_key": "9b2f7c1e-4a55-4a7e-9d0c-2f6f9a1e7b31",
    }
    values.update(changes)
    return values


async def post_intake(client: Any, values: dict[str, str], files: list[tuple[str, bytes]] = (), **headers: str) -> Any:
    token = await csrf_token(client)
    multipart = [("evidence", (name, data, "image/jpeg")) for name, data in files]
    return await client.post("/intake", data=values, files=multipart or None, headers={"x-csrftoken": token, **headers})


def has_no_inline_code(html: str) -> bool:
    soup = BeautifulSoup(html, "html.parser")
    inline_scripts = [s for s in soup.find_all("script") if not s.get("src")]
    handlers = [tag for tag in soup.find_all(True) if any(attr.startswith("on") for attr in tag.attrs)]
    styled = soup.find_all(style=True)
    return not inline_scripts and not handlers and not styled


async def test_intake_page_is_built_for_a_phone_camera(client: Any, login: Any) -> None:
    await login("warehouse")
    home = await client.get("/")
    assert home.status_code == 302 and home.headers["location"] == "/intake"
    page = await client.get("/intake")
    assert page.status_code == 200 and page.headers["vary"] == "HX-Request"
    soup = BeautifulSoup(page.text, "html.parser")
    camera = soup.select_one("input[type=file][capture]")
    assert camera is not None
    assert camera["accept"] == "image/*,video/*" and camera["capture"] == "environment" and camera.has_attr("multiple")
    assert camera["name"] == "evidence"
    key = soup.select_one("input[name=client_key]")["value"]
    assert re.fullmatch(r"[0-9a-f-]{36}", key)
    assert len(soup.select("input[name=problem_type]")) == 10
    assert soup.select_one("#field-order_number")["hx-get"] == "/intake/order"
    assert soup.select_one("a[href='/intake'][aria-current=page]") is not None
    # Before a problem type is chosen only the general questions exist, folded away.
    assert soup.select_one("[name='facts.damage_noted_on_receipt']") is None
    assert soup.select_one("details.order-terms [name='facts.discovered_on']") is not None
    assert soup.select_one("script[src='/static/js/intake.js']") is not None
    assert has_no_inline_code(page.text)
    # A fresh key every time the page is opened: each visit is a new report.
    again = BeautifulSoup((await client.get("/intake")).text, "html.parser")
    assert again.select_one("input[name=client_key]")["value"] != key


async def test_order_lookup_fills_in_supplier_carrier_terms_and_lines(client: Any, login: Any) -> None:
    await login("warehouse")
    await seed_order()
    response = await client.get(f"/intake/order?order_number={ORDER}", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    card = soup.select_one(".order-card").get_text(" ", strip=True)
    assert "Ningbo Ceramics SUP-1" in card and "Blue Sea Lines" in card and "FOB" in card
    assert "delivered 1 Mar 2026" in card
    lines = soup.select("input[name=order_line]")
    assert [line["value"] for line in lines] == ["1", "2"] and not any(line.has_attr("checked") for line in lines)
    picked = BeautifulSoup(
        (await client.get(f"/intake/order?order_number={ORDER}%232", headers={"HX-Request": "true"})).text,
        "html.parser",
    )
    assert picked.select_one("input[name=order_line][value='2']").has_attr("checked")
    unknown = await client.get("/intake/order?order_number=PO-NOPE", headers={"HX-Request": "true"})
    assert "No order with this number is on file" in unknown.text
    # Without htmx (opened directly) the whole form comes back with the order looked up.
    whole = await client.get(f"/intake/order?order_number={ORDER}")
    assert whole.status_code == 200 and "<html" in whole.text
    page = BeautifulSoup(whole.text, "html.parser")
    assert page.select_one("#field-order_number")["value"] == ORDER and page.select_one(".order-card") is not None
    facts_page = await client.get("/intake/facts?problem_type=transit_damage")
    assert facts_page.status_code == 200 and "<html" in facts_page.text


async def test_problem_type_swaps_in_only_its_facts_and_evidence_checklist(client: Any, login: Any) -> None:
    await login("warehouse")
    response = await client.get("/intake/facts?problem_type=transit_damage", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    names = {tag["name"] for tag in soup.select("[name^='facts.']")}
    assert {"facts.damage_noted_on_receipt", "facts.outer_packaging", "facts.packaging_adequate"} <= names
    assert "facts.psi" not in names and "facts.seal" not in names
    # What the dock can see is asked openly; dates, notices and terms are folded away for the office.
    assert soup.select_one("details.order-terms [name='facts.damage_noted_on_receipt']") is None
    assert soup.select_one("details.order-terms [name='facts.carrier_notice_on']") is not None
    assert soup.select_one("details.order-terms [name='facts.incoterm']") is not None
    checklist = soup.select_one("#checklist")
    assert checklist["hx-swap-oob"] == "true"
    assert [li["data-checklist-item"] for li in checklist.select("li")] == [
        "damage_photos",
        "delivery_receipt",
        "cargo_survey",
    ]
    assert all("missing" in li["class"] for li in checklist.select("li"))
    quality = BeautifulSoup(
        (await client.get("/intake/facts?problem_type=quality_defect", headers={"HX-Request": "true"})).text,
        "html.parser",
    )
    quality_names = {tag["name"] for tag in quality.select("[name^='facts.']")}
    assert "facts.psi" in quality_names and "facts.damage_noted_on_receipt" not in quality_names
    assert [li["data-checklist-item"] for li in quality.select("#checklist li")] == [
        "defect_evidence",
        "psi_report",
        "contract_terms",
    ]


async def test_the_orders_transport_mode_leaves_out_questions_that_do_not_apply(client: Any, login: Any) -> None:
    await seed_order()  # a sea order
    await seed_order("PO-ROAD-1", supplier_code="SUP-R")
    await PurchaseOrder.update({PurchaseOrder.transport_mode: "road"}).where(PurchaseOrder.number == "PO-ROAD-1")
    await login("warehouse")

    async def asked(query: str) -> set[str]:
        response = await client.get(f"/intake/facts?{query}", headers={"HX-Request": "true"})
        assert response.status_code == 200
        return {tag["name"] for tag in BeautifulSoup(response.text, "html.parser").select("[name^='facts.']")}

    assert "facts.sea_regime" in await asked(f"problem_type=transit_damage&order_number={ORDER}")
    on_the_road = await asked("problem_type=transit_damage&order_number=PO-ROAD-1")
    assert "facts.sea_regime" not in on_the_road and "facts.damage_noted_on_receipt" in on_the_road
    # An order we do not know: every mode's questions, as before.
    assert "facts.sea_regime" in await asked("problem_type=transit_damage&order_number=PO-NOPE")


@pytest.mark.checklist(3, 10)
async def test_the_form_files_a_linked_assigned_case_and_keeps_a_refused_file_on_record(
    client: Any, login: Any, make_user: Any, settings: Any
) -> None:
    seeded = await seed_order()
    handler = await make_user("handler", name="Hao")
    reporter = await login("warehouse")
    image = photo()
    response = await post_intake(
        client, form(), files=[("IMG_1.JPG", image), ("empty.jpg", b"")], **{"HX-Request": "true"}
    )
    assert response.status_code == 201, response.text
    location = response.headers["hx-redirect"]
    number = re.fullmatch(r"/cases/(AS-\d{4}-\d{6})\?reported=new", location).group(1)

    case = await Case.objects().where(Case.number == number).first().output(load_json=True)
    assert case.purchase_order == seeded["order"].id and case.order_line == seeded["lines"][1].id
    assert case.product == seeded["bowl"].id and case.supplier == seeded["supplier"].id
    assert case.carrier == seeded["carrier"].id and case.region == "Shanghai"
    assert case.currency == "USD"  # the order's currency: plans and claims on the case are in it
    assert (case.quantity_affected, case.urgency, case.expected_days) == (3, "high", 7)
    assert case.assignee == handler.id and case.reported_by == reporter.id
    assert case.facts == {
        "problem_type": "transit_damage",
        "damage_noted_on_receipt": True,
        "outer_packaging": "damaged",
        "discovered_on": "2026-03-02",
    }
    customer = await Customer.objects().where(Customer.id == case.customer).first()
    assert (customer.name, customer.email, customer.language) == ("Li Wei", "li.wei@example.com", "zh")

    rows = await Evidence.objects().where(Evidence.case == case.id).order_by(Evidence.id)
    assert [(row.status, row.filename) for row in rows] == [("ok", "IMG_1.jpg"), ("failed", "empty.jpg")]
    assert "empty" in rows[1].status_reason and rows[1].original_key == "" and rows[1].size == 0
    assert LocalEvidenceStore(settings.data_dir / "evidence").get(rows[0].original_key) == image
    events = CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case.id).order_by(CaseEvent.id)
    kinds = [e["kind"] for e in await events]
    assert kinds == ["case_reported", "assigned", "evidence_added", "evidence_failed", "hint_changed"]
    assigned = await CaseEvent.select(CaseEvent.actor_kind, CaseEvent.actor_label).where(
        (CaseEvent.case == case.id) & (CaseEvent.kind == "assigned")
    )
    assert assigned == [{"actor_kind": "system", "actor_label": "Automatic assignment"}]  # the rule, not the reporter
    # The hint is worked out at once (here it still asks for facts that would settle it).
    assert case.hint["party"] in {"carrier", "supplier", "purchaser", "undetermined"}
    assert case.hint["basis"] or case.hint["missing_facts"]
    assert case.suggested_party == case.hint["party"]

    # The case page loads its evidence panel, which shows the thumbnail and says why the other file failed.
    detail = await client.get(location)
    assert detail.status_code == 200 and f"Report sent. The case number is {number}." in detail.text
    assert f'hx-get="/cases/{number}/evidence"' in detail.text
    panel = await client.get(f"/cases/{number}/evidence", headers={"HX-Request": "true"})
    soup = BeautifulSoup(panel.text, "html.parser")
    assert soup.select_one(f".status-ok img[src='/evidence/{rows[0].id}/thumb']") is not None
    failed = soup.select_one(".status-failed").get_text(" ", strip=True)
    assert "empty.jpg" in failed and "Not accepted:" in failed and "0 bytes" in failed
    # A warehouse user sees the copies but is not offered the originals.
    assert soup.select_one("a[href$='/original']") is None
    assert has_no_inline_code(panel.text)


@pytest.mark.checklist(25)
async def test_sending_the_same_form_twice_shows_the_same_case_and_a_changed_report_is_refused(
    client: Any, login: Any
) -> None:
    await login("warehouse")
    values = form(order_number="PO-UNKNOWN-7", order_line="")
    first = await post_intake(client, values, files=[("a.jpg", photo())])
    assert first.status_code == 303
    again = await post_intake(client, values, files=[("a.jpg", photo())])
    assert again.status_code == 303
    assert first.headers["location"].endswith("?reported=new")
    assert again.headers["location"] == first.headers["location"].replace("new", "again")
    assert await Case.count() == 1 and await Evidence.count() == 1
    page = await client.get(again.headers["location"])
    assert "This report had already been sent; this is the case it made." in page.text

    changed = await post_intake(client, {**values, "quantity_affected": "9"})
    assert changed.status_code == 422
    soup = BeautifulSoup(changed.text, "html.parser")
    assert "already sent before these changes" in soup.select_one("#intake-errors").get_text()
    # The form comes back with what was typed, so nothing has to be entered again, and with a new key:
    # sending it again deliberately files the changed report as a new case.
    assert soup.select_one("#field-quantity_affected")["value"] == "9"
    fresh_key = soup.select_one("input[name=client_key]")["value"]
    assert fresh_key != values["client_key"]
    assert await Case.count() == 1
    fragment = await post_intake(client, {**values, "quantity_affected": "9"}, **{"HX-Request": "true"})
    assert fragment.status_code == 422
    hinted = BeautifulSoup(fragment.text, "html.parser").select_one("[data-new-client-key]")["data-new-client-key"]
    assert hinted not in (values["client_key"], fresh_key)
    assert soup.select_one("input[name=confirm_new]")["value"] == "1"  # sent with the form: filed without asking
    resent = await post_intake(
        client, {**values, "quantity_affected": "9", "client_key": fresh_key, "confirm_new": "1"}
    )
    assert resent.status_code == 303 and resent.headers["location"].endswith("?reported=new")
    assert await Case.count() == 2


async def test_mistakes_come_back_as_a_summary_naming_each_field(client: Any, login: Any) -> None:
    await login("warehouse")
    values = form(
        problem_type="",
        quantity_affected="lots",
        customer_email="not-an-email",
        client_key="5d1e4c90-7f2b-4a4b-8c1e-0a6d3b9f2e11",
    )
    plain = await post_intake(client, values)
    assert plain.status_code == 422
    soup = BeautifulSoup(plain.text, "html.parser")
    assert {li["data-field"] for li in soup.select("#intake-errors li")} == {"quantity_affected"}
    assert soup.select_one("#field-customer_email")["value"] == "not-an-email"
    assert soup.select_one("#field-quantity_affected")["aria-invalid"] == "true"
    values["quantity_affected"] = "2"
    fragment = await post_intake(client, values, **{"HX-Request": "true"})
    assert fragment.status_code == 422
    assert fragment.headers["hx-retarget"] == "#intake-errors" and "<html" not in fragment.text
    fields = {li["data-field"] for li in BeautifulSoup(fragment.text, "html.parser").select("li")}
    assert fields == {"problem_type", "customer_email"}
    assert "Problem type" in fragment.text and "Enter an email address" in fragment.text
    bad_fact = await post_intake(
        client, form(**{"facts.discovered_on": "2099-01-01"}, client_key="e3c0f1d2-1111-4a4b-8c1e-0a6d3b9f2e11")
    )
    assert bad_fact.status_code == 422 and "is in the future" in bad_fact.text
    assert await Case.count() == 0


@pytest.mark.checklist(20)
async def test_posting_without_the_csrf_token_is_refused(client: Any, login: Any) -> None:
    await login("warehouse")
    response = await client.post("/intake", data=form(), files=[("evidence", ("a.jpg", photo(), "image/jpeg"))])
    assert response.status_code == 403
    assert await Case.count() == 0


async def test_assignment_follows_the_supplier_else_takes_turns(make_user: Any, tmp_path: Path) -> None:
    first = await make_user("handler", name="A")
    second = await make_user("handler", name="B")
    third = await make_user("handler", name="C")
    await make_user("manager", name="M")
    west = await seed_order("PO-W", "W")
    east = await seed_order("PO-E", "E")
    store = LocalEvidenceStore(tmp_path)
    actor = Actor(kind="system", label="Dock")

    async def file(order: str) -> Case:
        report = IntakeReport(problem_type="other", order_number=order)
        result = await intake_submit(
            actor=actor, report=report, uploads=[], client_key=None, store=store, policy=EvidencePolicy()
        )
        return result.case

    one = await file("PO-W")  # no history: the first handler
    two = await file("PO-E")  # new supplier: the next in turn
    three = await file("PO-W")  # the handler who last handled supplier W
    four = await file("")  # no supplier: the turn continues after B, not after A
    five = await file("")
    assert [c.assignee for c in (one, two, three, four, five)] == [
        first.id,
        second.id,
        first.id,
        third.id,
        first.id,
    ]
    assert (one.supplier, two.supplier) == (west["supplier"].id, east["supplier"].id)
    # A deactivated handler is skipped, even for their supplier.
    await first.update_self({"active": False})
    handler, rule = await pick_assignee(west["supplier"].id)
    assert handler is not None and handler.id == second.id and rule == "round_robin"


@pytest.mark.checklist(19)
async def test_a_handler_can_reassign_a_case_and_warehouse_cannot(client: Any, make_user: Any) -> None:
    created = await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="other"))
    number = created.case.number
    other = await make_user("handler", name="Other")
    warehouse = await make_user("warehouse")
    await sign_in(client, warehouse)
    token = await csrf_token(client)
    denied = await client.post(
        f"/cases/{number}/assignee", data={"assignee": str(other.id)}, headers={"x-csrftoken": token}
    )
    assert denied.status_code == 403
    handler = await make_user("handler")
    await sign_in(client, handler)
    token = await csrf_token(client)
    refused = await client.post(
        f"/cases/{number}/assignee", data={"assignee": str(warehouse.id)}, headers={"x-csrftoken": token}
    )
    assert refused.status_code == 422
    moved = await client.post(
        f"/cases/{number}/assignee", data={"assignee": str(other.id)}, headers={"x-csrftoken": token}
    )
    assert moved.status_code == 303 and moved.headers["location"] == f"/cases/{number}"
    case = await Case.objects().where(Case.number == number).first()
    assert case.assignee == other.id
    event = await CaseEvent.objects().where(CaseEvent.kind == "assigned").first().output(load_json=True)
    assert event.data["assignee_id"] == other.id and event.data["rule"] == "manual"


async def test_evidence_is_added_later_and_withdrawn_with_a_reason_never_deleted(
    client: Any, login: Any, make_user: Any
) -> None:
    created = await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="transit_damage"))
    number = created.case.number
    await login("warehouse")
    token = await csrf_token(client)
    added = await client.post(
        f"/cases/{number}/evidence",
        data={"evidence_covers": "damage_photos"},
        files=[("evidence", ("corner.jpg", photo(), "image/jpeg"))],
        headers={"x-csrftoken": token, "HX-Request": "true"},
    )
    assert added.status_code == 200, added.text
    soup = BeautifulSoup(added.text, "html.parser")
    assert soup.select_one("#evidence-panel") is not None and "<html" not in added.text
    item = soup.select_one("li[data-checklist-item=damage_photos]")
    assert "covered" in item["class"]
    assert "missing" in soup.select_one("li[data-checklist-item=delivery_receipt]")["class"]
    row = await Evidence.objects().first()
    assert row.covers == "damage_photos"
    # Without a script the panel is a page of its own, linked from the case page's <noscript>.
    whole = await client.get(f"/cases/{number}/evidence")
    assert whole.status_code == 200 and "<html" in whole.text and 'id="evidence-panel"' in whole.text
    assert f"/evidence/{row.id}/thumb" in whole.text

    nothing = await client.post(
        f"/cases/{number}/evidence", data={}, headers={"x-csrftoken": token, "HX-Request": "true"}
    )
    assert nothing.status_code == 422 and "No file was sent" in nothing.text

    no_reason = await client.post(
        f"/evidence/{row.id}/withdraw", data={"reason": "  "}, headers={"x-csrftoken": token, "HX-Request": "true"}
    )
    assert no_reason.status_code == 422 and "Say why the file is withdrawn" in no_reason.text
    # The uploader may withdraw their own wrong photo; the row and the bytes stay.
    withdrawn = await client.post(
        f"/evidence/{row.id}/withdraw",
        data={"reason": "Photo of another parcel"},
        headers={"x-csrftoken": token, "HX-Request": "true"},
    )
    assert withdrawn.status_code == 200
    tile = BeautifulSoup(withdrawn.text, "html.parser").select_one(".status-withdrawn").get_text(" ", strip=True)
    assert "Withdrawn: Photo of another parcel" in tile
    kept = await Evidence.objects().where(Evidence.id == row.id).first()
    assert (kept.status, kept.status_reason, kept.original_key) == (
        "withdrawn",
        "Photo of another parcel",
        row.original_key,
    )
    kinds = [e["kind"] for e in await CaseEvent.select(CaseEvent.kind).order_by(CaseEvent.id)]
    assert kinds == ["case_reported", "evidence_added", "evidence_withdrawn"]
    # Nothing deletes or replaces evidence.
    for method in ("DELETE", "PUT", "PATCH"):
        response = await client.request(method, f"/evidence/{row.id}/web", headers={"x-csrftoken": token})
        assert response.status_code in (404, 405)
    assert await Evidence.count() == 1

    # Another warehouse user may not withdraw someone else's file.
    second = await Evidence.objects().where(Evidence.id == row.id).first()
    await Evidence.update({Evidence.status: "ok"}).where(Evidence.id == second.id)
    await sign_in(client, await make_user("warehouse"))
    token = await csrf_token(client)
    other = await client.post(f"/evidence/{row.id}/withdraw", data={"reason": "no"}, headers={"x-csrftoken": token})
    assert other.status_code == 403


@pytest.mark.checklist(2, 26)
async def test_the_daily_allowance_refuses_files_but_keeps_the_report(client: Any, app: Any, login: Any) -> None:
    app.state["evidence_policy"] = EvidencePolicy(daily_bytes_per_uploader=len(photo()) + 100)
    await login("warehouse")
    response = await post_intake(
        client,
        form(order_number="", order_line="", client_key="0c5e2a7b-6d1f-4e8a-9b3c-7f2d1e0a9c44"),
        files=[("one.jpg", photo()), ("two.jpg", photo((10, 200, 10)))],
        **{"HX-Request": "true"},
    )
    assert response.status_code == 201
    rows = await Evidence.objects().order_by(Evidence.id)
    assert [row.status for row in rows] == ["ok", "failed"]
    assert "allowance for today is used up" in rows[1].status_reason
    # Sent again once there is room (the report replayed with its key): the refused file gets its row,
    # the refusal stays on record, and nothing else is duplicated.
    app.state["evidence_policy"] = EvidencePolicy()
    again = await post_intake(
        client,
        form(order_number="", order_line="", client_key="0c5e2a7b-6d1f-4e8a-9b3c-7f2d1e0a9c44"),
        files=[("one.jpg", photo()), ("two.jpg", photo((10, 200, 10)))],
        **{"HX-Request": "true"},
    )
    assert again.status_code == 200
    rows = await Evidence.objects().order_by(Evidence.id)
    assert [row.status for row in rows] == ["ok", "failed", "ok"]
    assert rows[1].sha256 == rows[2].sha256 and await Case.count() == 1


@pytest.mark.checklist(2)
async def test_a_declared_body_over_the_limit_is_refused_before_reading(client: Any, login: Any, settings: Any) -> None:
    from app.evidence.services import UPLOAD_BODY_LIMIT

    await login("warehouse")
    token = await csrf_token(client)
    before = sorted((settings.data_dir / "evidence").rglob("*")) if (settings.data_dir / "evidence").exists() else []
    response = await client.post(
        "/intake",
        content=b"x" * 1000,
        headers={
            "x-csrftoken": token,
            "HX-Request": "true",
            "Content-Type": "multipart/form-data; boundary=xyz",
            "Content-Length": str(UPLOAD_BODY_LIMIT + 1),
        },
    )
    assert response.status_code == 413
    assert "nothing was stored" in response.text and "Send fewer files at once" in response.text
    after = sorted((settings.data_dir / "evidence").rglob("*")) if (settings.data_dir / "evidence").exists() else []
    assert before == after and await Case.count() == 0


async def test_concurrent_reports_for_one_new_customer_make_one_customer(client: Any, login: Any) -> None:
    await seed_order()
    await login("warehouse")
    keys = [f"5d7e1c2a-0000-4000-8000-00000000000{n}" for n in range(6)]
    answers = await asyncio.gather(
        *(
            post_intake(client, form(client_key=key, customer_email="new.buyer@example.com", customer_phone=""))
            for key in keys
        )
    )
    assert all(answer.status_code in (201, 303) for answer in answers), [a.status_code for a in answers]
    assert await Case.count() == 6
    customers = await Customer.select(Customer.id).where(Customer.email == "new.buyer@example.com")
    assert len(customers) == 1
    assert {row["customer"] for row in await Case.select(Case.customer)} == {customers[0]["id"]}


async def test_customer_lookups_racing_in_separate_transactions_create_one_customer() -> None:
    from app.db import atomic
    from app.intake.submit import _customer_for

    report = IntakeReport(problem_type="quality_defect", customer_email="race@example.com", customer_name="Race")

    async def settle() -> int:
        async with atomic():
            customer_id = await _customer_for(report)
            await asyncio.sleep(0.05)  # the transaction stays open, as intake's does while it assigns a handler
            return customer_id

    found = await asyncio.gather(*(settle() for _ in range(6)))
    assert len(set(found)) == 1
    assert await Customer.count().where(Customer.email == "race@example.com") == 1


async def test_a_second_report_of_the_same_problem_on_the_same_order_is_questioned_first(
    client: Any, login: Any
) -> None:
    await login("warehouse")
    first = await post_intake(client, form(order_number="PO-TWICE-1", order_line=""), files=[("a.jpg", photo())])
    assert first.status_code == 303
    number = first.headers["location"].split("/cases/")[1].split("?")[0]
    # Another phone, minutes later: the same order and problem. Nothing is filed yet; the form stays.
    second = form(order_number="PO-TWICE-1", order_line="", client_key="second-report-0002")
    warned = await post_intake(client, second, files=[("b.jpg", photo())], **{"HX-Request": "true"})
    assert warned.status_code == 409 and warned.headers["HX-Retarget"] == "#intake-errors"
    soup = BeautifulSoup(warned.text, "html.parser")
    assert soup.select_one(f"#alike-warning [data-alike='{number}']") is not None
    assert soup.select_one(f"[data-attach-to='/cases/{number}/evidence']") is not None
    assert soup.select_one("input[name=confirm_new][value='1']") is not None
    assert await Case.count() == 1 and await Evidence.count() == 1
    # Another problem on that order, or the same problem on another order, is filed at once.
    other = form(order_number="PO-TWICE-1", order_line="", problem_type="wrong_item", client_key="other-problem-3")
    assert (await post_intake(client, other)).status_code == 303
    # Sent again after the warning, it is a new case; so is a report the phone's queue replays.
    confirmed = await post_intake(client, {**second, "confirm_new": "1"}, files=[("b.jpg", photo())])
    assert confirmed.status_code == 303 and confirmed.headers["location"].endswith("?reported=new")
    replayed = form(order_number="PO-TWICE-1", order_line="", client_key="replayed-report-4")
    assert (await post_intake(client, replayed, **{"X-Crossclaim-Replay": "1"})).status_code == 201
    assert await Case.count() == 4
    # The very same report sent twice still answers with its own case, not a warning.
    again = await post_intake(client, {**second, "confirm_new": "1"}, files=[("b.jpg", photo())])
    assert again.status_code == 303 and again.headers["location"].endswith("?reported=again")


async def test_a_replay_is_told_apart_by_its_own_header_and_answered_with_a_status(
    client: Any, login: Any, make_user: Any
) -> None:
    """The phone's queue sends X-Crossclaim-Replay, not htmx's HX-Request: it gets a status and the case's
    address (no page, no redirect), the summary alone as the reason for a refusal, and 401 when signed out."""
    replay = {"X-Crossclaim-Replay": "1"}
    await login("warehouse")
    values = form(order_number="PO-REPLAY-1", order_line="", client_key="replay-status-0001")
    filed = await post_intake(client, values, files=[("a.jpg", photo())], **replay)
    assert filed.status_code == 201 and filed.content == b""
    assert re.fullmatch(r"/cases/AS-\d{4}-\d{6}\?reported=new", filed.headers["location"])
    assert "hx-redirect" not in filed.headers
    again = await post_intake(client, values, files=[("a.jpg", photo())], **replay)
    assert again.status_code == 200 and again.headers["location"].endswith("?reported=again")
    assert await Case.count() == 1 and await Evidence.count() == 1

    refused = await post_intake(client, form(customer_email="not-an-email", client_key="replay-bad-2"), **replay)
    assert refused.status_code == 422
    assert "<html" not in refused.text and "<nav" not in refused.text
    summary = BeautifulSoup(refused.text, "html.parser")
    assert summary.select_one("[data-field='customer_email']") is not None

    # Signed out meanwhile: the replay is told so in words, with the code the queue reads, not redirected.
    await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    lost = await post_intake(client, form(client_key="replay-lost-3"), **replay)
    assert lost.status_code == 401 and lost.headers["x-error-code"] == "not_authenticated"
    assert "location" not in lost.headers and "hx-redirect" not in lost.headers
    assert "<html" not in lost.text
    # A person's htmx request in the same state is still sent to the sign-in page.
    live = await post_intake(client, form(client_key="replay-lost-3"), **{"HX-Request": "true"})
    assert live.status_code == 204 and live.headers["hx-redirect"].startswith("/login")
    assert await Case.count() == 1


@pytest.mark.checklist(25, 26)
async def test_a_report_cut_off_before_its_photos_leaves_nothing_and_its_retry_files_it_once(
    client: Any, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the case row and before the evidence rows: neither is kept, so the report
    was never half-filed, and the form sent again files it once with its photo."""
    from app.intake import submit as intake

    await login("warehouse")
    values = form(order_number="PO-UNKNOWN-8", order_line="")
    attach = intake.evidence_attach

    async def killed(**_kwargs: Any) -> Any:
        raise SystemError("the worker process was killed")

    monkeypatch.setattr(intake, "evidence_attach", killed)
    cut_off = await post_intake(client, values, files=[("a.jpg", photo())])
    assert cut_off.status_code == 500
    assert (await Case.count(), await Evidence.count(), await CaseEvent.count()) == (0, 0, 0)
    monkeypatch.setattr(intake, "evidence_attach", attach)
    again = await post_intake(client, values, files=[("a.jpg", photo())])
    assert again.status_code == 303 and again.headers["location"].endswith("?reported=new")
    assert await Case.count() == 1 and await Evidence.count() == 1
