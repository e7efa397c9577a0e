"""The installable app: manifest, service worker, the offline page and the "not sent" queue page."""

from __future__ import annotations

import hashlib
import json
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
# What the worker precaches, found under static/ by pattern: the same files make its cache version, so a
# change to any of them is a new version, and a file added under these patterns is precached at once.
PRECACHED = ("js/*.js", "css/*.css", "vendor/*.js", "icons/*.png")
# Precached too, though not under static/: the offline page (rendered here, so not hashed; the worker
# stores it again on every signed-in visit) and the manifest (hashed with the rest).
OFFLINE_PAGE = "/offline"
MANIFEST = ("/manifest.webmanifest", PWA / "manifest.webmanifest")


def precached_files() -> list[tuple[str, Path]]:
    """(address, file) for every file the worker precaches and hashes, in a stable order."""
    files = [MANIFEST]
    for pattern in PRECACHED:
        files += [("/static/" + path.relative_to(STATIC).as_posix(), path) for path in sorted(STATIC.glob(pattern))]
    return files


def build_worker(source: str, files: list[tuple[str, Path]]) -> str:
    """sw.js filled in: its precache list, and a cache version hashed from itself and those files."""
    digest = hashlib.sha256(source.encode())
    for address, path in files:
        digest.update(address.encode())
        digest.update(path.read_bytes())
    assets = json.dumps([OFFLINE_PAGE, *(address for address, _path in files)], indent=2)
    return source.replace("__CACHE_VERSION__", digest.hexdigest()[:12]).replace('["__PRECACHE__"]', assets)


@cache
def worker_source() -> str:
    """The worker as served: built once per process, at its first request, from the files as they are then."""
    return build_worker((PWA / "sw.js").read_text(encoding="utf-8"), precached_files())


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
