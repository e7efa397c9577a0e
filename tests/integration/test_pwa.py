"""The installable app's server side: manifest, worker, offline and queue pages, and the lost-response hook."""

import json
import re
from pathlib import Path
from typing import Any

from PIL import Image

from app.routes.pwa import worker_source
from app.web import dropped as hooks

ROOT = Path(__file__).resolve().parents[2]


async def test_manifest_has_what_an_install_needs(client: Any) -> None:
    response = await client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/intake"
    assert manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"]
    assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")
    purposes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")} <= purposes
    for icon in manifest["icons"]:
        fetched = await client.get(icon["src"])
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == "image/png"
        size = int(icon["sizes"].split("x")[0])
        assert Image.open(ROOT / icon["src"].lstrip("/")).size == (size, size)


async def test_worker_is_served_at_the_root_uncached_with_a_filled_in_version(client: Any) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert "__CACHE_VERSION__" not in response.text
    assert re.search(r'const VERSION = "[0-9a-f]{12}"', response.text)
    assert 'importScripts("/static/js/queue.js")' in response.text
    assert response.text == worker_source()


async def test_offline_page_is_public_and_links_to_the_queue(client: Any) -> None:
    response = await client.get("/offline")
    assert response.status_code == 200
    assert 'href="/queue"' in response.text
    assert 'rel="manifest" href="/manifest.webmanifest"' in response.text
    assert "/static/js/pwa.js" in response.text


async def test_queue_page_is_for_staff_and_rendered_by_script(client: Any, login: Any) -> None:
    assert (await client.get("/queue")).status_code in (302, 303, 307)
    await login("warehouse")
    response = await client.get("/queue")
    assert response.status_code == 200
    assert "data-queue-list" in response.text
    assert "template data-queue-row" in response.text
    # The signed-in layout carries the "not sent" badge, hidden until the queue has something.
    assert 'id="queue-badge"' in response.text


def test_lost_response_hook_fires_once_per_arming() -> None:
    assert hooks.drop_intake_response_armed() is False
    hooks.drop_next_intake.append(True)
    assert hooks.drop_intake_response_armed() is True
    assert hooks.drop_intake_response_armed() is False
