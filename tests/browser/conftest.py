"""Real Chromium (Debian's package) driving a real server process on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("Debian's chromium package is missing: `make test` installs it (apt-get install chromium)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(settings: Any, name: str, *, with_worker: bool = False, **extra_env: str) -> Iterator[str]:
    """`crossclaim serve` in its own process on the test database; yields its base URL.

    ``with_worker``: a `crossclaim worker --no-periodic` beside it works off what the server queues (push mails).
    """
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "CROSSCLAIM_DATA_DIR": str(settings.data_dir),
        "CROSSCLAIM_SECRET_KEY": settings.secret_key,
        "CROSSCLAIM_BASE_URL": f"http://127.0.0.1:{port}",
        "CROSSCLAIM_LOG_LEVEL": "WARNING",
        "REDIS_URL": settings.redis_url,
        **extra_env,
    }
    log_path: Path = settings.data_dir / f"server-{name}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log
        )
        worker = (
            subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker", "--workers", "1", "--no-periodic"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
            if with_worker
            else None
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the server did not start; see {log_path}") from None
                    time.sleep(0.2)  # polling for the server's first answer
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings: Any) -> Iterator[str]:
    """The shared server for browser tests, with the test hooks on."""
    with running_server(settings, "live", CROSSCLAIM_TEST_HOOKS="1") as base:
        yield base


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any, live_server: str) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
async def phone(browser: Any, live_server: str) -> AsyncIterator[Any]:
    """A phone-sized page with touch, as warehouse staff use it."""
    context = await browser.new_context(
        base_url=live_server, viewport={"width": 375, "height": 780}, has_touch=True, is_mobile=True
    )
    page = await context.new_page()
    yield page
    await context.close()


async def sign_in_page(page: Any, email: str, password: str) -> None:
    await page.goto("/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button.primary")
    await page.wait_for_load_state("networkidle")


def screenshot_path(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")
