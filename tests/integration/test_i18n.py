"""中文 on the main pages down to the words that arrive as data, and times in the reader's (or the party's) zone."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from bs4 import BeautifulSoup

from app.accounts.tables import User
from app.cases.events import Actor, record_event
from app.cases.services import case_move
from app.cases.tables import Case
from app.collaboration import links
from app.db import atomic
from app.i18n import (
    EVENT_LABELS,
    NODE_LABELS,
    company_zone,
    configure_company_zone,
    current_language,
    format_moment,
    format_money,
    zone_label,
)
from app.reminders.record import SWEEPER
from app.rules.facts import EVIDENCE, FACTS
from app.tracking.tables import Reminder, StageDeadline
from app.trade.tables import Customer, Supplier
from tests.conftest import asgi_client, csrf_token, sign_in
from tests.integration.test_collaboration import supplier_case
from tests.integration.test_intake import form as intake_form
from tests.integration.test_intake import post_intake, seed_order
from tests.integration.test_party_security import session_for
from tests.integration.test_responsibility import days_ago, hinted_case

RULES = Path(__file__).resolve().parents[2] / "app" / "rules" / "data"
ACTOR = Actor.system()


def english_runtime_strings() -> set[str]:
    """Words that reach pages as data: fact questions, evidence items, rule explanations, node and event names."""
    strings = {spec.question for spec in FACTS.values()} | set(EVIDENCE.values())
    for path in RULES.glob("*.toml"):
        for rule in tomllib.loads(path.read_text(encoding="utf-8")).get("rule", []):
            strings.add(" ".join(rule["explanation"].split()))
    token = current_language.set("en")
    try:
        strings |= {str(label) for label in NODE_LABELS.values()} | {str(label) for label in EVENT_LABELS.values()}
    finally:
        current_language.reset(token)
    # Short words also appear inside longer Chinese-free tokens (codes, ids); the visible text is checked whole-word.
    return strings


def visible_text(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for hidden in soup.select("script, style, code, option[value], [hidden]"):
        hidden.decompose()
    return " ".join(soup.get_text(" ").split())


def english_left(html: str) -> list[str]:
    text = f" {visible_text(html)} "
    found = []
    for phrase in english_runtime_strings():
        if len(phrase.split()) > 1 and phrase in text:
            found.append(phrase)
        elif len(phrase.split()) == 1 and f" {phrase} " in text:
            found.append(phrase)
    return sorted(found)


async def chinese_handler(client: Any, make_user: Any) -> Any:
    user = await make_user("handler", language="zh")
    await sign_in(client, user)
    assert client.cookies["cc_lang"] == "zh"
    return user


async def transit_case() -> Case:
    """Concealed road damage with no place of delivery: no rule decides, CMR deadlines, a calendar warning."""
    facts = {
        "incoterm": "FOB",
        "transport_mode": "road",
        "delivered_on": days_ago(2),
        "damage_noted_on_receipt": False,
        "outer_packaging": "intact",
    }
    return await hinted_case("transit_damage", facts)


async def test_main_staff_pages_show_no_english_runtime_words_under_zh(client: Any, make_user: Any) -> None:
    await chinese_handler(client, make_user)
    case = await transit_case()
    async with atomic():
        await case_move(actor=ACTOR, number=case.number, target="responsibility")

    pages = {
        "intake": "/intake?problem_type=transit_damage",
        "case": f"/cases/{case.number}",
        "cases": "/cases",
        "board": "/board",
        "grid": "/grid",
        "dashboard": "/dashboard",
    }
    for name, path in pages.items():
        response = await client.get(path)
        assert response.status_code == 200, (name, response.text[:300])
        assert 'lang="zh-CN"' in response.text, name
        assert english_left(response.text) == [], name

    page = BeautifulSoup((await client.get(f"/cases/{case.number}")).text, "html.parser")
    assert page.select_one("#case-node").get_text(strip=True) == "责任认定"
    # The hint panel: the rule's explanation and the fact questions in Chinese; the JSON API keeps English.
    explanation = page.select_one("#hint-explanation").get_text(strip=True)
    assert explanation and all(ord(ch) < 128 for ch in explanation) is False, explanation
    # Fixed warnings and the deadline rules' bare citations are Chinese too.
    warnings = [li.get_text(strip=True) for li in page.select("#hint-warnings li")]
    assert "交货地没有节假日日历：只跳过了星期日，因此实际期限可能更晚" in warnings, warnings
    cited = page.select_one('.countdown[data-regime="CMR"] .countdown-what').get_text(" ", strip=True)
    assert "CMR 第" in cited and "Art." not in cited, cited
    labels = [label.get_text(strip=True) for label in page.select("#facts-form label")]
    assert "货物上的防震或倾斜指示器是否被触发？" in labels
    api_hint = (await Case.select(Case.hint).where(Case.id == case.id).output(load_json=True).first())["hint"]
    assert api_hint["explanation"].isascii()


async def test_warnings_built_from_figures_are_chinese_with_chinese_dates(client: Any, make_user: Any) -> None:
    await chinese_handler(client, make_user)
    # Air freight delivered 30 days ago: Montreal's 14-day notice has run out, so the claim is at risk.
    late = await hinted_case(
        "transit_damage", {"incoterm": "FOB", "transport_mode": "air", "delivered_on": days_ago(30)}
    )
    page = BeautifulSoup((await client.get(f"/cases/{late.number}")).text, "html.parser")
    risks = [li.get_text(strip=True) for li in page.select("#hint-warnings li.notice-error")]
    assert risks, page.select_one("#hint-warnings")
    assert not [text for text in risks if "claim at risk" in text or "has passed" in text], risks
    due = date.fromisoformat(next(d["due"] for d in late.hint["deadlines"] if d["kind"] == "non_apparent_damage"))
    chinese_due = format_date(due, "y年M月d日", locale="zh")
    assert any(
        text.startswith("索赔有风险")
        and chinese_due in text
        and "1999年《蒙特利尔公约》" in text
        and "除欺诈外" in text
        for text in risks
    ), risks
    # The JSON the API gives keeps its English words and ISO dates.
    assert any(w.startswith("claim at risk") and due.isoformat() in w for w in late.hint["warnings"])

    multimodal = await hinted_case(
        "transit_damage", {"incoterm": "FOB", "transport_mode": "multimodal", "delivered_on": days_ago(1)}
    )
    page = BeautifulSoup((await client.get(f"/cases/{multimodal.number}")).text, "html.parser")
    notes = [li.get_text(strip=True) for li in page.select("#hint-warnings li")]
    assert any(text.startswith("多式联运没有统一的责任制度") for text in notes), notes
    assert not [text for text in notes if "multimodal" in text], notes


async def reminder(case: Case, node: str, channel: str, recipient: str, status: str, error: str) -> None:
    """A reminder at the 50% step that went the way ``status`` and ``error`` say."""
    await Reminder(
        claim_key=f"{case.id}:{node}:50:{channel}:x",
        case=case.id,
        node=node,
        level="50",
        channel=channel,
        recipient=recipient,
        status=status,
        error=error,
    ).save()


async def test_codes_on_the_timeline_clocks_and_board_read_in_chinese(client: Any, make_user: Any) -> None:
    await chinese_handler(client, make_user)
    case = await transit_case()
    async with atomic():
        await case_move(actor=ACTOR, number=case.number, target="responsibility")
        await record_event(
            case_id=case.id, actor=SWEEPER, kind="hint_changed", data={"from": "undetermined", "to": "carrier"}
        )
    await reminder(case, "responsibility", "sms", "+86 139 0000 0001", "skipped", "no SMS provider configured")

    page = BeautifulSoup((await client.get(f"/cases/{case.number}")).text, "html.parser")
    changed = " ".join(page.select('#timeline li[data-kind="hint_changed"]')[-1].get_text(" ").split())
    assert "提醒任务" in changed and "待定 → 承运人" in changed, changed
    clocks = BeautifulSoup((await client.get(f"/cases/{case.number}/deadlines")).text, "html.parser")
    assert [td.get_text(strip=True) for td in clocks.select("tbody td:last-child")] == ["我方", "承运人"]
    shown = " ".join(clocks.select_one(".reminders li").get_text(" ").split())
    assert "短信" in shown and "已跳过" in shown and "未配置短信服务商" in shown, shown
    board = BeautifulSoup((await client.get("/board")).text, "html.parser")
    assert board.select_one(".owner").get_text(strip=True).endswith("承运人")
    # A reason Crossclaim writes itself reads in Chinese; one a person wrote stays as written.
    async with atomic():
        await case_move(actor=ACTOR, number=case.number, target="plan", reason="Plan agreed")
        await case_move(actor=ACTOR, number=case.number, target="implementation", reason="Lieferung geprüft")
    page = BeautifulSoup((await client.get(f"/cases/{case.number}")).text, "html.parser")
    reasons = [q.get_text() for q in page.select('#timeline li[data-kind="node_changed"] q')]
    assert reasons[-2:] == ["方案已商定", "Lieferung geprüft"], reasons


async def test_the_two_words_to_have_their_own_translations(client: Any, make_user: Any) -> None:
    await sign_in(client, await make_user("admin", language="zh"))
    dashboard = BeautifulSoup((await client.get("/dashboard")).text, "html.parser")
    assert dashboard.select_one("#filter-to").parent.get_text(strip=True) == "至"
    case = await supplier_case()
    await reminder(case, "plan", "email", "x@example.com", "failed", "refused")
    policies = BeautifulSoup((await client.get("/admin/sla")).text, "html.parser")
    assert "收件人" in [th.get_text(strip=True) for th in policies.select("th")]


async def german_supplier_case(zone: str = "Europe/Berlin") -> tuple[Case, datetime]:
    case = await supplier_case(code="SUP-DE", email="qa@supplier.de", language="en")
    await Supplier.update({Supplier.time_zone: zone}).where(Supplier.id == case.supplier)
    # The move starts the policy's clock and leaves an event the party sees; ours is the clock to show.
    await case_move(actor=ACTOR, number=case.number, target="responsibility")
    due = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    await StageDeadline(case=case.id, node="responsibility", owner_party="supplier", due_at=due).save()
    return case, due


async def party_page(app: Any, case: Case, language: str = "en") -> BeautifulSoup:
    async with atomic():
        _link, token = await links.issue_link(
            case_id=case.id, party="supplier", email="qa@supplier.de", language=language, now=datetime.now(UTC)
        )
    client = await session_for(app, token)
    try:
        response = await client.get(f"/p/cases/{case.number}")
        assert response.status_code == 200, response.text
        return BeautifulSoup(response.text, "html.parser")
    finally:
        await client.__aexit__(None, None, None)


async def test_a_supplier_in_germany_sees_its_deadline_on_berlin_time_with_ours_alongside(app: Any) -> None:
    case, _due = await german_supplier_case()
    page = await party_page(app, case)
    deadline = page.select_one("#party-deadline")
    assert deadline["data-zone"] == "Europe/Berlin"
    text = " ".join(deadline.get_text(" ").split())
    # 09:00 UTC is 10:00 in Berlin in December and 17:00 in Shanghai.
    assert text.startswith("3 Dec 2026, 10:00 Central European Standard Time"), text
    assert page.select_one("#party-deadline-ours").get_text(strip=True) == "(3 Dec 2026, 17:00 China Standard Time)"
    # The rest of their page reads on their clock too: the timeline's times are Berlin times.
    token = current_language.set("en")
    try:
        for moment in page.select(".timeline time"):
            at = datetime.fromisoformat(moment["datetime"])
            expected = f"{format_moment(at, 'Europe/Berlin')} {zone_label(at, 'Europe/Berlin')}"  # the zone named
            assert moment.get_text(strip=True) == expected
    finally:
        current_language.reset(token)
    assert page.select(".timeline time")

    chinese = await party_page(app, case, language="zh")
    text = " ".join(chinese.select_one("#party-deadline").get_text(" ").split())
    assert text.startswith("2026年12月3日 10:00 中欧标准时间"), text
    assert chinese.select_one("#case-node").get_text(strip=True) == "责任认定"
    assert english_left(str(chinese)) == []
    moved = chinese.select_one(".timeline li").get_text(" ", strip=True)
    assert "已转到其他环节" in moved and "已报告 → 责任认定" in moved, moved


async def test_staff_set_the_party_time_zone_and_a_bad_one_is_refused(app: Any, client: Any, login: Any) -> None:
    case, _due = await german_supplier_case(zone="Asia/Shanghai")
    await login("handler")
    token = await csrf_token(client)
    overview = BeautifulSoup((await client.get(f"/parties/supplier/{case.supplier}")).text, "html.parser")
    assert overview.select_one("#party-time-zone option[selected]")["value"] == "Asia/Shanghai"

    bad = await client.post(
        f"/parties/supplier/{case.supplier}/time-zone", data={"time_zone": "Mars/Olympus", "_csrf_token": token}
    )
    assert bad.status_code == 422 and "Mars/Olympus" in bad.text
    saved = await client.post(
        f"/parties/supplier/{case.supplier}/time-zone", data={"time_zone": "Europe/Berlin", "_csrf_token": token}
    )
    assert saved.status_code == 303
    assert await Supplier.select(Supplier.time_zone).where(Supplier.id == case.supplier).first() == {
        "time_zone": "Europe/Berlin"
    }
    page = await party_page(app, case)
    assert page.select_one("#party-deadline")["data-zone"] == "Europe/Berlin"


async def test_a_user_sees_times_on_their_own_clock(client: Any, login: Any) -> None:
    user = await login("handler")
    case = await transit_case()
    reported = (await Case.select(Case.created_at).where(Case.id == case.id).first())["created_at"]
    token = await csrf_token(client)

    refused = await client.post("/account", data={"language": "en", "time_zone": "Nowhere/Else", "_csrf_token": token})
    assert refused.status_code == 422
    saved = await client.post(
        "/account", data={"language": "en", "time_zone": "America/New_York", "_csrf_token": token}
    )
    assert saved.status_code == 303
    assert (await User.select(User.time_zone).where(User.id == user.id).first())["time_zone"] == "America/New_York"

    account = BeautifulSoup((await client.get("/account?saved=true")).text, "html.parser")
    assert account.select_one("#account-time-zone option[selected]")["value"] == "America/New_York"
    listing = BeautifulSoup((await client.get("/cases")).text, "html.parser")
    shown = listing.select_one(f'tr:has(a[href="/cases/{case.number}"]) td[data-label="Reported"]').get_text(strip=True)
    local = reported.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert shown == f"{local.day} {local.strftime('%b %Y, %H:%M')}", shown


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "€1,234.50"), ("zh", "€1,234.50"), ("en", "CN¥1,234.50")],
)
def test_money_is_formatted_per_locale(language: str, expected: str) -> None:
    token = current_language.set(language)
    try:
        currency = "CNY" if "¥" in expected else "EUR"
        assert format_money(Decimal("1234.5"), currency) == expected
    finally:
        current_language.reset(token)


@pytest.fixture
def berlin_company(settings: Any, bound_engine: Any) -> Iterator[Any]:
    """An app whose company works on Berlin time (CROSSCLAIM_TIME_ZONE); the next test gets the default back."""
    from app.asgi import create_app

    try:
        yield create_app(replace(settings, time_zone="Europe/Berlin"), engine=bound_engine)
    finally:
        configure_company_zone(settings.time_zone)


async def test_the_company_time_zone_is_a_setting(berlin_company: Any, make_user: Any) -> None:
    assert company_zone() == "Europe/Berlin"
    # New staff start on the company's clock, as do customers reported at intake.
    user = await make_user("handler")
    assert user.time_zone == "Europe/Berlin"
    case, _due = await german_supplier_case(zone="America/New_York")
    page = await party_page(berlin_company, case)
    # 09:00 UTC on 3 December: 04:00 in New York for the supplier, 10:00 for us in Berlin.
    assert page.select_one("#party-deadline-ours").get_text(strip=True) == (
        "(3 Dec 2026, 10:00 Central European Standard Time)"
    )
    # A staff member with no zone of their own reads the company's.
    await User.update({User.time_zone: ""}).where(User.id == user.id)
    async with asgi_client(berlin_company) as client:
        await sign_in(client, user)
        detail = BeautifulSoup((await client.get(f"/cases/{case.number}")).text, "html.parser")
        # A customer first met at intake is at home: on the company's clock.
        await seed_order()
        filed = await post_intake(client, intake_form(client_key="4c1d8e2a-77b0-4f6e-9a3e-5b1f0c2d9e41"))
        assert filed.status_code in (201, 303), filed.text[:300]
    customer = await Customer.select(Customer.time_zone).where(Customer.name == "Li Wei").first()
    assert customer == {"time_zone": "Europe/Berlin"}
    moment = detail.select_one("#timeline time")
    token = current_language.set("en")
    try:
        assert moment.get_text(strip=True) == format_moment(datetime.fromisoformat(moment["datetime"]), "Europe/Berlin")
    finally:
        current_language.reset(token)


# --- codes that reached 中文 readers raw: the claim pack, the collaboration panel and mediation, refusals -----


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    import subprocess

    path = tmp_path / "pack.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def pdf_language(pdf: bytes) -> str:
    """The document language in the PDF's catalogue (/Lang), which WeasyPrint takes from <html lang>."""
    import re
    import zlib

    for part in [pdf, *re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S)]:
        try:
            data = part if part is pdf else zlib.decompress(part)
        except zlib.error:
            continue
        found = re.search(rb"/Type /Catalog[^>]*/Lang \(([^)]*)\)", data)
        if found:
            return found.group(1).decode()
    return ""


async def test_the_claim_pack_reads_in_chinese_without_codes(client: Any, make_user: Any, tmp_path: Path) -> None:
    import re
    from datetime import timedelta

    from app.collaboration import services
    from tests.integration.test_collaboration import photo

    await chinese_handler(client, make_user)
    # Air freight: the deadlines are Montreal's, a regime whose name the catalogue translates.
    facts = {
        "incoterm": "FOB",
        "transport_mode": "air",
        "delivered_on": days_ago(2),
        "damage_noted_on_receipt": False,
        "outer_packaging": "intact",
    }
    case = await hinted_case("transit_damage", facts)
    await case_move(actor=ACTOR, number=case.number, target="responsibility")
    ready_by = date.today() + timedelta(days=9)
    await services.plan_propose(
        actor=ACTOR, case_id=case.id, side="us", party="carrier", remedy="replacement", amount=Decimal("80"),
        currency="CNY",
        ready_by=ready_by, details="",
    )  # fmt: skip
    uploaded = await client.post(
        f"/cases/{case.number}/evidence",
        files={"evidence": ("box.jpg", photo(), "image/jpeg")},
        headers={"x-csrftoken": await csrf_token(client)},
    )
    assert uploaded.status_code in (200, 303), uploaded.text

    response = await client.get(f"/cases/{case.number}/claim-pack.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert pdf_language(response.content) == "zh-CN"
    text = pdf_text(response.content, tmp_path)
    flat = re.sub(r"\s+", "", text)
    for words in (
        "运输途中损坏",  # the problem type in the letter
        "主运输采用什么方式？",  # fact questions and their answers
        "空运",
        "外包装到达时是什么状态？",
        "完好",
        "否",
        format_date(date.fromisoformat(facts["delivered_on"]), "y年M月d日", locale="zh"),
        "换货",  # the plan round: remedy, ready-by day, status
        format_date(ready_by, "y年M月d日", locale="zh"),
        "待答复",
        "我方",  # whose evidence
        "1999年《蒙特利尔公约》",  # the deadlines' regime
    ):
        assert words in flat, (words, text)
    assert "致待定：" in flat  # no rule decides, so the letter goes to the party still to be determined
    for code in (
        "transit_damage", "transport_mode", "outer_packaging", "damage_noted_on_receipt", "delivered_on",
        "replacement", "Montreal", "To the", ready_by.isoformat(), facts["delivered_on"],
    ):  # fmt: skip
        assert code not in text, (code, text)
    for word in ("air", "intact", "open", "us", "supplier", "undetermined"):
        assert not re.search(rf"\b{word}\b", text), (word, text)


async def test_the_collaboration_panel_and_mediation_page_name_parties_answers_and_decisions(
    client: Any, make_user: Any
) -> None:
    from datetime import timedelta

    from app.collaboration import services
    from app.collaboration.tables import Dispute

    await chinese_handler(client, make_user)
    case = await supplier_case()
    pushed = await services.case_push(
        actor=ACTOR, number=case.number, party="supplier", email="qa@supplier-a.cn", language="zh",
        requirement="replacement", reply_by=date.today() + timedelta(days=7),
    )  # fmt: skip
    access = links.PartyAccess(
        link_id=pushed.link.id, case_id=case.id, party="supplier", email="qa@supplier-a.cn", language="zh"
    )
    await services.party_respond(access=access, response="accept_part", share="40", reason="包装没有问题")

    panel = BeautifulSoup((await client.get(f"/cases/{case.number}/collaboration")).text, "html.parser")
    link_line = " ".join(panel.select_one("#links li").get_text(" ").split())
    assert link_line.startswith("供应商 · qa@supplier-a.cn · 中文 ·"), link_line
    answer = " ".join(panel.select_one(".party-response").get_text(" ").split())
    assert answer.startswith("供应商 ·") and "部分接受 (40%)" in answer, answer
    assert "accept_part" not in visible_text(str(panel))

    # A move the state machine refuses is explained in Chinese, nodes by their names.
    refused = await client.post(
        f"/cases/{case.number}/move",
        data={"target": "closed"},
        headers={"HX-Request": "true", "x-csrftoken": await csrf_token(client)},
    )
    assert refused.status_code == 409
    assert "案件不能从“责任认定”移到“已关闭”。" in visible_text(refused.text), refused.text

    dispute = await services.dispute_open(
        actor=services.actor_of(access), case_id=case.id, opened_by="supplier", reason="不同意"
    )
    await services.dispute_decide(actor=ACTOR, dispute_id=dispute.id, decision="shared", rationale="双方各担一半")
    decided = await Dispute.objects().where(Dispute.id == dispute.id).first()
    assert decided.decision == "shared"
    page = BeautifulSoup((await client.get(f"/disputes/{dispute.id}")).text, "html.parser")
    opened = " ".join(page.select_one("#dispute p:nth-of-type(2)").get_text(" ").split())
    assert opened.startswith("由 供应商 在“责任认定”节点发起："), opened
    assert page.select_one("#decision strong").get_text(strip=True) == "共同承担"
    # Both positions in the same shape: our claim and what we ask, their answer and its facts.
    ours = [p.get_text(" ", strip=True) for p in page.select("#our-position .statement")]
    assert any(line.startswith("我方要求：") for line in ours), ours
    theirs = [p.get_text(" ", strip=True) for p in page.select("#their-position .statement")]
    assert theirs == ["不同意"], theirs
    facts = " ".join(page.select_one("#their-position .facts").get_text(" ").split())
    assert "部分接受" in facts and "40%" in facts, facts
    assert len(page.select("#our-position h3")) == len(page.select("#their-position h3")) == 4
    shown = visible_text(str(page))
    for code in ("case_pushed", "party_response", "dispute_opened", "shared", "supplier"):
        assert f" {code} " not in f" {shown} ", (code, shown)


async def test_an_upload_refusal_reads_in_the_uploaders_language(client: Any, make_user: Any) -> None:
    from tests.integration.test_collaboration import photo

    await chinese_handler(client, make_user)
    case = await supplier_case()
    sent = await client.post(
        f"/cases/{case.number}/evidence",
        files=[
            ("evidence", ("notes.txt", b"just some words", "text/plain")),
            ("evidence", ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "image/svg+xml")),
            ("evidence", ("scan.png", photo(), "image/png")),  # a JPEG under a PNG name: kept, with a note
        ],
        headers={"x-csrftoken": await csrf_token(client)},
    )
    assert sent.status_code in (200, 303), sent.text
    panel = BeautifulSoup((await client.get(f"/cases/{case.number}/evidence")).text, "html.parser")
    reasons = [" ".join(p.get_text(" ").split()) for p in panel.select(".tile-reason")]
    assert any("此类文件不能作为证据附加。请发送照片（JPEG、PNG" in r for r in reasons), reasons
    assert any("不接受 SVG 图形，因为其中可能带有脚本。" in r for r in reasons), reasons
    notes = [p.get_text(" ", strip=True) for p in panel.select(".evidence-tile p.small.muted")]
    assert any("文件名以 .png 结尾，但内容是 JPEG 图片；已按 image/jpeg 处理。" in n for n in notes), notes
    assert "cannot be attached" not in panel.get_text() and "The file name ends" not in panel.get_text()


async def test_the_language_switch_is_remembered_for_the_signed_in_person(client: Any, make_user: Any) -> None:
    user = await make_user("handler", language="zh")
    await sign_in(client, user)
    switched = await client.post("/language", data={"language": "en", "next": "/account"}, headers={
        "x-csrftoken": await csrf_token(client)})  # fmt: skip
    assert switched.status_code == 303
    assert (await User.select(User.language).where(User.id == user.id).first()) == {"language": "en"}
    # Saving /account afterwards (its form shows the stored choice) keeps English.
    account = BeautifulSoup((await client.get("/account")).text, "html.parser")
    assert account.select_one("select[name=language] option[selected]")["value"] == "en"
