"""The grid's kept results: a change made anywhere shows on the next request, and a page kept for one
reader is never shown to a reader of another role, language or time zone."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from bs4 import BeautifulSoup

from app.accounts.tables import User
from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create
from app.cases.tables import Case
from app.db import atomic
from app.trade.tables import Supplier
from app.web.render_cache import data_version, forget_rendered
from tests.conftest import asgi_client, in_another_process, sign_in

ACTOR = Actor(kind="system", label="Tester")
PATH = "/grid?cols=number,region,supplier,amount&sort=-number"


async def a_case(region: str = "East China") -> Case:
    supplier = Supplier(code="SZ01", name="Shenzhen Ceramics")
    await supplier.save()
    draft = CaseDraft(
        problem_type="transit_damage",
        description="broken mugs",
        order_number="PO-1",
        region=region,
        supplier_id=supplier.id,
        claim_amount=Decimal("120.50"),
        currency="CNY",
    )
    return (await case_create(actor=ACTOR, draft=draft)).case


def cell(html: str, column: str) -> str:
    found = BeautifulSoup(html, "html.parser").select_one(f"#grid-rows td[data-column={column}]")
    assert found is not None, html[-2000:]
    return found.get_text(strip=True)


async def test_a_write_from_another_process_shows_on_the_next_request(client: Any, login: Any, settings: Any) -> None:
    case = await a_case()
    await login("handler")
    assert cell((await client.get(PATH)).text, "region") == "East China"
    assert cell((await client.get(PATH)).text, "region") == "East China"  # now kept
    work = (
        "from app.cases.tables import Case\n"
        "async with db.atomic():\n"
        "    await Case.update({Case.region: 'North West'}).where(Case.id == int(sys.argv[1]))"
    )
    await in_another_process(settings, work, str(case.id))
    assert cell((await client.get(PATH)).text, "region") == "North West"


async def test_a_write_here_shows_on_the_next_request_in_or_outside_a_transaction(client: Any, login: Any) -> None:
    case = await a_case()
    await login("handler")
    assert cell((await client.get(PATH)).text, "supplier") == "Shenzhen Ceramics"
    await Supplier.update({Supplier.name: "Shenzhen Porcelain"}).where(Supplier.code == "SZ01")
    assert cell((await client.get(PATH)).text, "supplier") == "Shenzhen Porcelain"
    async with atomic():
        await Case.update({Case.region: "South China"}).where(Case.id == case.id)
    assert cell((await client.get(PATH)).text, "region") == "South China"
    await Case.raw("UPDATE after_sales_case SET region = 'West China' WHERE id = {}", case.id)
    assert cell((await client.get(PATH)).text, "region") == "West China"


async def test_the_kept_filter_form_names_a_new_supplier_and_keeps_the_readers_choice(client: Any, login: Any) -> None:
    """The grid's filter form (every supplier, carrier and product) is kept with the results, so it too
    must follow the data and the view: a new supplier appears, and each view shows its own selection."""
    await a_case()
    await login("handler")

    def suppliers(html: str) -> tuple[list[str], str | None]:
        select = BeautifulSoup(html, "html.parser").select_one("#f_supplier")
        assert select is not None, html[-2000:]
        chosen = select.select_one("option[selected]")
        return [option.get_text(strip=True) for option in select.select("option")][1:], (
            chosen.get_text(strip=True) if chosen else None
        )

    assert suppliers((await client.get(PATH)).text) == (["Shenzhen Ceramics"], None)
    assert suppliers((await client.get(PATH)).text) == (["Shenzhen Ceramics"], None)  # kept
    await Supplier(code="NB02", name="Ningbo Glassware").save()
    names, _ = suppliers((await client.get(PATH)).text)
    assert sorted(names) == ["Ningbo Glassware", "Shenzhen Ceramics"]
    assert suppliers((await client.get(f"{PATH}&f_supplier=Ningbo+Glassware")).text)[1] == "Ningbo Glassware"
    assert suppliers((await client.get(PATH)).text)[1] is None


async def readers(
    exits: contextlib.AsyncExitStack, app: Any, make_user: Any, *people: tuple[str, dict[str, Any]]
) -> list[Any]:
    """A signed-in client for each (role, profile); every sign-in write is done before any page is read."""
    clients = []
    for role, profile in people:
        user = await make_user(role, **{k: v for k, v in profile.items() if k != "time_zone"})
        if "time_zone" in profile:
            await User.update({User.time_zone: profile["time_zone"]}).where(User.id == user.id)
        reader = await exits.enter_async_context(asgi_client(app))
        await sign_in(reader, user)
        assert (await reader.get("/account")).status_code == 200  # its session is kept from here on
        clients.append(reader)
    return clients


async def test_a_kept_grid_is_never_shown_to_another_role_language_or_zone(app: Any, make_user: Any) -> None:
    await a_case()
    forget_rendered()
    async with contextlib.AsyncExitStack() as exits:
        manager, warehouse, chinese, berlin = await readers(
            exits,
            app,
            make_user,
            ("manager", {}),
            ("warehouse", {"name": "Wang Warehouse"}),
            ("manager", {"language": "zh"}),
            ("manager", {"time_zone": "Europe/Berlin"}),
        )
        version = data_version()
        page = (await manager.get(PATH)).text
        assert cell(page, "amount").replace("\xa0", " ").startswith("CN¥120.50")
        assert "cell-edit" in page  # a desk role edits the region in place

        # Columns both roles may see: the same view, kept for the manager with its in-place editors.
        plain = "/grid?cols=number,region&sort=-number"
        assert "cell-edit" in (await manager.get(plain)).text
        assert "cell-edit" not in (await warehouse.get(plain)).text

        page = (await warehouse.get(PATH)).text  # the same address, straight after the manager's
        soup = BeautifulSoup(page, "html.parser")
        assert not soup.select("#grid-rows td[data-column=amount]")  # no claim figures for the warehouse
        assert "120.50" not in page
        assert "cell-edit" not in page
        who = soup.select_one("a.who")
        assert who is not None and "Wang Warehouse" in who.get_text()

        page = (await chinese.get(PATH)).text
        header = BeautifulSoup(page, "html.parser").select_one("#case-grid th[data-column=region] a")
        assert header is not None and header.get_text(strip=True) == "地区", header
        assert 'data-label="地区"' in page  # the rows too, not only the page around them

        cols = "/grid?cols=number,created_at&sort=-number"
        shanghai_time = cell((await manager.get(cols)).text, "created_at")
        assert cell((await berlin.get(cols)).text, "created_at") != shanghai_time
        assert data_version() == version  # nothing was written meanwhile: each reader met a kept page or its own


async def test_saved_views_are_each_persons_own(client: Any, make_user: Any) -> None:
    from app.cases import grid

    await a_case()
    first = await make_user("handler")
    second = await make_user("handler")
    await grid.view_save(user_id=first.id, name="Mine only", view=grid.GridView())
    await sign_in(client, first)
    assert "Mine only" in (await client.get(PATH)).text
    client.cookies.clear()
    await sign_in(client, second)
    assert "Mine only" not in (await client.get(PATH)).text


async def test_the_case_list_shows_a_change_at_once_and_keeps_each_language_apart(app: Any, make_user: Any) -> None:
    case = await a_case()
    async with contextlib.AsyncExitStack() as exits:
        english, chinese = await readers(exits, app, make_user, ("handler", {}), ("handler", {"language": "zh"}))
        path = "/cases?problem_type=transit_damage"
        assert "PO-1" in (await english.get(path)).text
        assert 'data-label="Order"' in (await english.get(path)).text  # now kept
        page = (await chinese.get(path)).text
        assert 'data-label="Order"' not in page and "PO-1" in page
        await Case.update({Case.order_number: "PO-2"}).where(Case.id == case.id)
        page = (await english.get(path)).text
        assert "PO-2" in page and "PO-1" not in page


async def test_a_kept_case_page_has_each_readers_token_role_and_the_latest_change(app: Any, make_user: Any) -> None:
    """A case page's main column is kept per role, language and zone: each reader's forms carry their own
    CSRF token and work, a warehouse reader never gets the desk's hint or forms, and a change shows at once."""
    case = await a_case()
    forget_rendered()
    async with contextlib.AsyncExitStack() as exits:
        first, second, warehouse = await readers(
            exits, app, make_user, ("handler", {}), ("handler", {}), ("warehouse", {})
        )
        path = f"/cases/{case.number}"

        def page_of(html: str) -> Any:
            soup = BeautifulSoup(html, "html.parser")
            assert soup.select_one("h1") is not None and case.number in soup.select_one("h1").get_text(), html[-1500:]
            return soup

        one = page_of((await first.get(path)).text)
        two = page_of((await second.get(path)).text)  # the same key: the kept column
        for reader, soup in ((first, one), (second, two)):
            tokens = {field["value"] for field in soup.select("#case-main input[name=_csrf_token]")}
            assert tokens == {reader.cookies["csrftoken"]}, tokens
        assert first.cookies["csrftoken"] != second.cookies["csrftoken"]
        assert one.select_one("#hint") is not None  # a handler reads our hint
        assert one.select_one("#move-form") is not None and one.select_one("#assign-form") is not None

        kept_for_warehouse = page_of((await warehouse.get(path)).text)
        assert kept_for_warehouse.select_one("#hint") is None
        assert kept_for_warehouse.select_one("#assign-form") is None
        assert kept_for_warehouse.select_one("#move-form") is None
        assert "Shenzhen Ceramics" in kept_for_warehouse.get_text()

        moved = await second.post(
            f"{path}/move",
            data={
                "target": "responsibility",
                "reason": "",
                "_csrf_token": two.select_one("#move-form input[name=_csrf_token]")["value"],
            },
            headers={"HX-Request": "true"},
        )
        assert moved.status_code == 200, moved.text[-500:]
        again = page_of((await first.get(path)).text)
        assert again.select_one("#case-node")["data-node"] == "responsibility"
        assert [item["data-kind"] for item in again.select("#timeline li")][-1] == "node_changed"


async def test_readers_asking_at_once_for_a_part_not_kept_make_it_once(
    client: Any, login: Any, queries: list[str]
) -> None:
    """After a write every kept part is stale; the sixteen readers that then ask for the same grid at once
    wait for one of them to make it rather than each running its queries and render."""
    import asyncio

    await a_case()
    await login("handler")
    await client.get(PATH)
    forget_rendered()
    queries.clear()
    pages = await asyncio.gather(*(client.get(PATH) for _ in range(16)))
    assert {cell(page.text, "supplier") for page in pages} == {"Shenzhen Ceramics"}
    grid_reads = [sql for sql in queries if sql.startswith("SELECT c.id AS id, c.number AS number")]
    assert len(grid_reads) == 1, grid_reads


async def test_a_sessions_last_seen_time_does_not_make_kept_pages_stale(client: Any, login: Any) -> None:
    """Signed-in readers touch their session once a minute; no kept part shows sessions, so the data version
    stays (it moved each minute and every kept page of every reader was made again)."""
    from datetime import UTC, datetime

    from app.accounts.tables import StaffSession

    await a_case()
    user = await login("handler")
    before = data_version()
    await StaffSession.update({StaffSession.last_seen_at: datetime.now(UTC)}).where(StaffSession.user == user.id)
    assert data_version() == before
    await Supplier.update({Supplier.name: "Shenzhen Porcelain"}).where(Supplier.code == "SZ01")
    assert data_version() != before


async def test_a_reader_choosing_their_own_token_cannot_change_the_case_page_others_get(
    app: Any, make_user: Any
) -> None:
    case = await a_case()
    forget_rendered()
    async with contextlib.AsyncExitStack() as exits:
        chooser, colleague = await readers(exits, app, make_user, ("handler", {}), ("handler", {}))
        chooser.cookies.set("csrftoken", "post")
        assert (await chooser.get(f"/cases/{case.number}")).status_code == 200
        soup = BeautifulSoup((await colleague.get(f"/cases/{case.number}")).text, "html.parser")
        assert soup.select_one("#move-form")["method"] == "post"
        tokens = {field["value"] for field in soup.select("#case-main input[name=_csrf_token]")}
        assert tokens == {colleague.cookies["csrftoken"]}
