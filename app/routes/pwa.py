"""The installable app: manifest, service worker, the offline page and the "not sent" queue page."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Template

from app.accounts.roles import PUBLIC, STAFF
from app.cases.taxonomy import PROBLEM_TYPES
from app.web.pages import render

ROOT = Path(__file__).resolve().parents[2]
PWA = ROOT / "pwa"
STATIC = ROOT / "static"
# Everything the worker precaches: a change to any of them is a new cache version.
VERSIONED = ("js/*.js", "css/*.css", "vendor/*.js", "icons/*.png")


@cache
def worker_source() -> str:
    """sw.js with its cache version filled in: a hash of itself and of the assets it precaches."""
    source = (PWA / "sw.js").read_text(encoding="utf-8")
    digest = hashlib.sha256(source.encode())
    for pattern in VERSIONED:
        for path in sorted(STATIC.glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return source.replace("__CACHE_VERSION__", digest.hexdigest()[:12])


class PwaController(Controller):
    """Serves the worker at the site root (so its scope is the whole site) and the pages it falls back to."""

    @get("/sw.js", opt={"roles": PUBLIC}, name="pwa_worker")
    async def worker(self) -> Response[str]:
        # no-cache: the browser revalidates the worker on every check, so a new version is seen at once.
        return Response(
            worker_source(), media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"}
        )

    @get("/manifest.webmanifest", opt={"roles": PUBLIC}, name="pwa_manifest")
    async def manifest(self) -> Response[bytes]:
        return Response(
            (PWA / "manifest.webmanifest").read_bytes(),
            media_type="application/manifest+json",
            headers={"Cache-Control": "no-cache"},
        )

    @get("/offline", opt={"roles": PUBLIC}, name="pwa_offline")
    async def offline(self, request: Request[Any, Any, Any]) -> Template:
        return render(request, "pwa/offline.html", {})

    @get("/queue", opt={"roles": STAFF}, name="pwa_queue")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        # The rows are drawn on the phone from what it stored: it names problem types in the page's words.
        labels = {code: str(label) for code, label in PROBLEM_TYPES.items()}
        return render(request, "pwa/queue.html", {"problem_types": labels})
