"""The installable app's server side: manifest, worker, offline and queue pages, and the lost-response hook."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from app.routes import pwa
from app.routes.pwa import build_worker, precached_files, worker_source
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


def precache_list(worker: str) -> list[str]:
    found = re.search(r"const ASSETS = (\[.*?\]);", worker, re.S)
    assert found, "the worker has no precache list"
    return list(json.loads(found.group(1)))


async def test_worker_precaches_every_file_the_offline_shell_loads(client: Any, login: Any) -> None:
    """The installed app opens offline only if everything its pages load is in the worker's cache: each
    script, stylesheet, icon and manifest of the stored pages, the manifest's icons and the worker's own
    imports must be on the list, and everything on the list must be served (one miss fails the install)."""
    await login("warehouse")
    worker = (await client.get("/sw.js")).text
    assets = precache_list(worker)
    needed = set(re.findall(r'importScripts\("([^"]+)"\)', worker))
    for page in ("/intake", "/queue", "/offline"):
        response = await client.get(page)
        assert response.status_code == 200, page
        soup = BeautifulSoup(response.text, "html.parser")
        needed |= {tag["src"] for tag in soup.select("script[src], img[src]")}
        needed |= {tag["href"] for tag in soup.select("link[href]") if tag.get("rel") != ["canonical"]}
    manifest = json.loads((await client.get("/manifest.webmanifest")).content)
    needed |= {icon["src"] for icon in manifest["icons"]}
    local = {address for address in needed if address.startswith("/") and not address.startswith("//")}
    assert local and "/static/js/intake.js" in local and "/manifest.webmanifest" in local
    assert sorted(local - set(assets)) == []
    assert len(assets) == len(set(assets))
    for address in assets:
        assert (await client.get(address)).status_code == 200, address


def test_precache_list_and_version_come_from_the_same_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file added under static/ joins the list by itself, and any change to a listed file is a new version."""
    static = tmp_path / "static"
    for name in ("js/app.js", "css/app.css", "vendor/lib-1.0.min.js", "icons/icon.png", "vendor/VERSIONS.md"):
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        (static / name).write_text(name)
    monkeypatch.setattr(pwa, "STATIC", static)
    source = 'const VERSION = "__CACHE_VERSION__";\nconst ASSETS = ["__PRECACHE__"];\n'
    first = build_worker(source, precached_files())
    assert precache_list(first) == [
        "/offline",
        "/manifest.webmanifest",
        "/static/js/app.js",
        "/static/css/app.css",
        "/static/vendor/lib-1.0.min.js",
        "/static/icons/icon.png",
    ]
    (static / "js" / "later.js").write_text("a new script")
    second = build_worker(source, precached_files())
    assert "/static/js/later.js" in precache_list(second)
    (static / "css" / "app.css").write_text("changed")
    third = build_worker(source, precached_files())
    versions = {re.findall(r'const VERSION = "([0-9a-f]{12})"', text)[0] for text in (first, second, third)}
    assert len(versions) == 3


async def test_the_live_send_waits_as_long_as_a_replay(client: Any, login: Any) -> None:
    """The intake form's htmx timeout, after which the report goes to the queue, is the queue's own."""
    await login("warehouse")
    soup = BeautifulSoup((await client.get("/intake")).text, "html.parser")
    form = soup.select_one("#intake-form")
    assert form is not None and form["hx-post"] == "/intake"
    live = json.loads(str(form["hx-request"]))["timeout"]
    queue = (ROOT / "static/js/queue.js").read_text(encoding="utf-8")
    replay = re.search(r"const SEND_TIMEOUT_MS = [^;]*?(\d+);", queue)
    assert replay and live == int(replay[1]) == 90000
