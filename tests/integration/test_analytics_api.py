"""The summary API, the dashboard page and its links to the cases behind each number."""

from __future__ import annotations

import base64
import re
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlparse

from babel.dates import format_date
from bs4 import BeautifulSoup

from app.analytics import figures
from app.analytics.filters import AnalyticsFilters, default_period
from tests.integration.test_analytics_figures import END, START, generate

PERIOD = {"from": START.isoformat(), "to": END.isoformat()}


async def test_summary_api_returns_the_selector_figures(client: Any, login: Any) -> None:
    await generate(seed=3)
    await login("manager")
    response = await client.get("/api/v1/analytics/summary", params=PERIOD)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = await figures.summary(AnalyticsFilters(start=START, end=END))
    assert body["period"] == {"from": "2026-03-01", "to": "2026-05-31"}
    assert body["totals"] == expected["totals"] and body["totals"]["cases"] > 0
    assert body["rate"]["units"] == expected["rate"]["units"] > 0
    assert [row["problem_type"] for row in body["problem_types"]] == [
        row["problem_type"] for row in expected["problem_types"]
    ]
    assert {row["name"] for row in body["suppliers"]} == {f"供应商 {i}" for i in range(4)}
    assert len(body["trend"]) == 3


async def test_summary_api_refuses_unreadable_periods(client: Any, login: Any) -> None:
    await login("handler")
    response = await client.get("/api/v1/analytics/summary", params={"from": "2026-13-01"})
    assert response.status_code == 422
    response = await client.get("/api/v1/analytics/summary", params={"from": "2026-05-01", "to": "2026-04-01"})
    assert response.status_code == 422


async def test_dashboard_shows_flag_charts_and_links(client: Any, login: Any) -> None:
    data = await generate(seed=3)
    await login("handler")
    response = await client.get("/dashboard", params=PERIOD)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = BeautifulSoup(response.text, "html.parser")
    images = [img["src"] for img in page.select(".charts img")]
    assert len(images) == 4
    for src in images:
        assert src.startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(src.split(",", 1)[1]).decode()
        assert "<svg" in svg and "<script" not in svg
    assert "供应商" in base64.b64decode(images[2].split(",", 1)[1]).decode()
    # Every supplier's rate links to the case list narrowed to that supplier's cohort.
    ranking = page.select("#supplier-ranking tbody tr")
    assert len(ranking) == 4
    supplier = data["suppliers"][0]
    link = next(
        a["href"]
        for a in page.select("#supplier-ranking a")
        if f"supplier={supplier.id}" in a["href"] and a["href"].startswith("/cases")
    )
    listed = await client.get(link)
    assert listed.status_code == 200
    numbers = set(re.findall(r"CC-\d{4}", listed.text))
    expected = {
        case.number for case in data["cases"] if case.supplier == supplier.id and START <= case.created_at.date() <= END
    }
    assert numbers == expected and numbers


async def test_dashboard_filters_answer_a_fragment(client: Any, login: Any) -> None:
    data = await generate(seed=3)
    await login("manager")
    carrier = data["lines"][0]["order"].carrier
    response = await client.get(
        "/dashboard",
        params={**PERIOD, "carrier": str(carrier), "problem_type": "transit_damage"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="figure-cases"' in response.text
    assert response.headers["vary"].lower().count("hx-request") == 1
    totals = await figures.case_totals(
        AnalyticsFilters(start=START, end=END, carrier_id=carrier, problem_type="transit_damage")
    )
    page = BeautifulSoup(response.text, "html.parser")
    assert page.select_one("#figure-cases strong").text == str(totals["cases"])
    href = page.select_one("#figure-cases")["href"]
    assert parse_qs(urlparse(href).query)["carrier"] == [str(carrier)]
    # "Still open" leads to the open ones among them: as many rows as the figure says.
    still_open = page.select_one("#figure-open")
    listed = await client.get(still_open["href"], headers={"HX-Request": "true"})
    rows = BeautifulSoup(listed.text, "html.parser").select("#case-rows tr[data-number], #case-rows tr")
    assert parse_qs(urlparse(still_open["href"]).query)["node"] == ["open"]
    assert len(rows) == int(still_open.select_one("strong").text) == totals["open"] < totals["cases"]


async def test_dashboard_is_for_the_desk(client: Any, login: Any) -> None:
    await login("warehouse")
    assert (await client.get("/dashboard")).status_code == 403


async def test_dashboard_default_period_is_six_months(client: Any, login: Any) -> None:
    await login("admin")
    response = await client.get("/dashboard")
    assert response.status_code == 200
    start, end = default_period(date.today())
    period = BeautifulSoup(response.text, "html.parser").select_one("#period")
    assert [moment["datetime"] for moment in period.select("time")] == [start.isoformat(), end.isoformat()]
    # Written out in the reader's language: "1 Jun 2026 – 26 Nov 2026".
    written = [format_date(day, "d MMM y", locale="en") for day in (start, end)]
    assert " ".join(period.get_text(" ").split()).endswith(f"{written[0]} – {written[1]}")
    assert "No cases and no deliveries in this period." in response.text


async def test_categories_are_named_in_words_in_both_languages(client: Any, make_user: Any) -> None:
    from app.trade.tables import Product
    from tests.conftest import sign_in

    await generate(seed=3)
    await Product(sku="HOSE", name="Hose", category="garden_hoses").save()
    for language, words in (("en", ["Garden hoses", "Tools", "Toys"]), ("zh", ["Garden hoses", "工具", "玩具"])):
        client.cookies.clear()
        await sign_in(client, await make_user("manager", language=language))
        page = BeautifulSoup((await client.get("/dashboard", params=PERIOD)).text, "html.parser")
        options = page.select("#filter-category option")
        assert [o.get_text() for o in options[1:]] == words
        assert [o["value"] for o in options[1:]] == ["garden_hoses", "tools", "toys"]  # the filter still sends codes
        shown = {row.select_one("td").get_text(strip=True) for row in page.select("#rates-category tbody tr")}
        assert shown == set(words[1:])
        # The filters sit in a panel a phone folds (tests/browser/test_dashboard.py folds it for real).
        assert page.select_one("details#filter-panel[open] > form#dashboard-filters") is not None
