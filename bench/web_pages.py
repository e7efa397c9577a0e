"""P1 and P7: Crossclaim's pages against the framework's own ceiling, in the same run on the same server.

For SQLite and then PostgreSQL: loads N cases (with open stage clocks) into a fresh database, starts
`crossclaim serve` (granian, one worker) with the test hooks on, and beside it a bare Litestar + Jinja
app on granian (the ceiling: no middleware, no database). wrk drives, from a second process on
loopback with 16 connections for a fixed duration: the ceiling, `/login` (no session), the app's own
bare template route signed in (`/_hooks/bare`: middleware and session, no page work), the filtered and
sorted grid, the filtered case list, one case page and the board. Each page's share of the ceiling is
its figure; py-spy samples the server during each page's run, and a page that misses its target is
reported with the frames the time went to. On SQLite the app also runs under uvicorn
(`--server uvicorn`) for the bare route and the grid, the measurement the choice of server rests on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _profile  # noqa: E402

PROBLEMS = ["quality_defect", "transit_damage", "short_shipment", "wrong_item", "late_delivery"]
NODES = ["reported", "responsibility", "plan", "implementation", "completed", "feedback", "closed"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(count: int) -> str:
    """N cases over a few suppliers and products; returns a staff session token for the load."""
    from app.accounts.services import session_start, user_add
    from app.cases.tables import Case
    from app.trade.tables import Product, Supplier

    user = await user_add(email="bench@example.com", role="handler", password="bench-password")
    suppliers = []
    for i in range(8):
        supplier = Supplier(code=f"S{i}", name=f"Supplier {i}")
        await supplier.save()
        suppliers.append(supplier)
    products = []
    for i in range(40):
        product = Product(sku=f"SKU-{i:03d}", name=f"Product {i}", category="electronics", supplier=suppliers[i % 8].id)
        await product.save()
        products.append(product)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch: list[Case] = []
    for i in range(count):
        at = start + timedelta(minutes=5 * i)
        batch.append(
            Case(
                number=f"AS-2026-{i + 1:06d}",
                order_number=f"PO-{i // 5:06d}",
                problem_type=PROBLEMS[i % len(PROBLEMS)],
                node=NODES[(i * 3) % len(NODES)],
                description=f"Case {i}: units damaged, see photos",
                supplier=suppliers[i % 8].id,
                product=products[i % 40].id,
                quantity_affected=1 + i % 20,
                region="East China",
                created_at=at,
                updated_at=at,
                node_entered_at=at,
            )
        )
        if len(batch) == 500:
            await Case.insert(*batch)
            batch = []
    if batch:
        await Case.insert(*batch)
    await seed_clocks(start)
    return await session_start(user=user, ip="127.0.0.1")


async def seed_clocks(start: datetime) -> None:
    """An open stage clock for every case not closed, as the board shows them (due over the next weeks)."""
    from app.cases.tables import Case
    from app.tracking.tables import StageDeadline

    open_cases = await Case.select(Case.id, Case.node, Case.created_at).where(Case.node != "closed")
    for i in range(0, len(open_cases), 500):
        await StageDeadline.insert(
            *(
                StageDeadline(
                    case=row["id"],
                    node=row["node"],
                    started_at=row["created_at"],
                    due_at=start + timedelta(days=30, minutes=7 * (n % 5000)),
                )
                for n, row in enumerate(open_cases[i : i + 500], start=i)
            )
        )


def wrk(url: str, cookies: str, seconds: int) -> dict[str, float]:
    """``cookies`` as a browser sends them (a signed-in browser also holds the CSRF cookie the sign-in form
    set: without it, every page would make and set a new CSRF token, which no real visitor makes it do)."""
    cookie = ["-H", f"Cookie: {cookies}"] if cookies else []
    result = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", *cookie, url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    served = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
        "requests": int(served.group(1)) if served else 0,
    }


def measured(url: str, cookies: str, seconds: int, pid: int) -> dict[str, float]:
    """One wrk run, with the CPU time the server at ``pid`` spent per request during it."""
    before = cpu_seconds(pid)
    found = wrk(url, cookies, seconds)
    found["cpu_ms"] = (cpu_seconds(pid) - before) * 1000 / max(found["requests"], 1)
    return found


def browser_cookies(base: str, token: str) -> str:
    """The session cookie and the CSRF cookie a signed-in browser holds (the server sets the latter)."""
    request = urllib.request.Request(f"{base}/login", headers={"Cookie": f"cc_session={token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        for header in answer.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            if name.strip() == "csrftoken":
                return f"cc_session={token}; csrftoken={rest.split(';', 1)[0]}"
    raise SystemExit("the server set no CSRF cookie on /login")


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (granian serves from a child process)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        found.append(current)
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children, summed."""
    total_kib = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total_kib += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total_kib / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server and its children have used so far.

    Divided by the requests served in a run it gives the CPU per request: unlike requests per second, it
    does not move when the shared host lends the other core to someone else during one run and not the next.
    """
    ticks = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def start_server(server: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`crossclaim serve` on the given ASGI server (granian, the default, or uvicorn for the comparison)."""
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--server", server]
    quiet = subprocess.DEVNULL
    process = subprocess.Popen(command, env={**env, "CROSSCLAIM_TEST_HOOKS": "1"}, cwd=ROOT, stdout=quiet, stderr=quiet)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{server} did not start") from None
            time.sleep(0.2)  # polling for the server's first answer
    process.terminate()
    raise SystemExit(f"{server} did not answer within 30 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stops the server and whatever it started: a worker that py-spy was attached to can miss its
    parent's shutdown and would go on serving (and taking CPU) after the benchmark."""
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    for child in children:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(child), signal.SIGKILL)


# The pages of P1, by name: the path and whether it is asked signed in. The grid and list as the issue
# names them (filtered and sorted, 50 rows), one case page and the board.
PAGES: dict[str, tuple[str, bool]] = {
    "login": ("/login", False),
    "bare": ("/_hooks/bare", True),
    "grid": ("/grid?f_node=plan&f_problem_type=quality_defect&sort=-created_at", True),
    "list": ("/cases?node=plan&problem_type=quality_defect", True),
    "case": ("/cases/AS-2026-000777", True),
    "board": ("/board", True),
}
LABELS = {
    "login": "/login, no session",
    "bare": "the app's bare template route, signed in",
    "grid": "case grid page, 50 rows, filtered + sorted",
    "list": "case list page, 50 rows, filtered",
    "case": "one case page",
    "board": "the board (open clocks by node)",
}
# Where each page's time goes, from in-process profiles (cProfile, CPU time per request at 100,000
# cases): named beside the py-spy sample when a page misses its target.
BOTTLENECKS = {
    "login": "Litestar's CSRF middleware (a new token from SystemRandom) and the login template",
    "bare": "the middleware stack: edge (request id, headers, access log line), authentication, CSRF; on "
    "PostgreSQL also the session look-up on every request (not kept: web processes may be on several machines)",
    "grid": "Jinja rendering of 100 rows x 12 cells (~12 ms CPU per page); the SQL is < 1 ms",
    "list": "rendering 50 rows and building the Piccolo query (~7 ms CPU per page in all); the SQL is ~1 ms",
    "case": "Piccolo building the case query with six joined tables (~5 ms CPU per page, "
    "ForeignKey.__getattribute__), then the template",
    "board": "Jinja rendering of up to 600 cards (format_moment per card)",
}
# Share of the ceiling each page should reach (and p99 at most 50 ms where given).
TARGETS: dict[str, tuple[float, float | None]] = {
    "login": (0.40, None),
    "bare": (0.50, None),
    "grid": (0.15, 50.0),
    "list": (0.15, 50.0),
    "case": (0.15, 50.0),
    "board": (0.15, 50.0),
}

BARE_TEMPLATE = (
    "<!doctype html><title>{{ title }}</title><h1>{{ title }}</h1>{% for i in rows %}<p>{{ i }}</p>{% endfor %}"
)
BARE_APP = """from pathlib import Path
from litestar import Litestar, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

@get("/bare")
async def bare() -> Template:
    return Template(template_name="page.html", context={"title": "ceiling", "rows": range(50)})

config = TemplateConfig(directory=Path(__file__).parent / "t", engine=JinjaTemplateEngine)
app = Litestar([bare], template_config=config)
"""


def start_ceiling(port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """A bare Litestar + Jinja app on granian, one worker: what the framework and server do alone."""
    folder = Path(tempfile.mkdtemp(prefix="crossclaim-ceiling-"))
    (folder / "t").mkdir()
    (folder / "t" / "page.html").write_text(BARE_TEMPLATE)
    (folder / "bare_app.py").write_text(BARE_APP)
    granian = str(Path(sys.executable).with_name("granian"))
    address = ["--host", "127.0.0.1", "--port", str(port)]
    command = [granian, "--interface", "asgi", *address, "--workers", "1", "bare_app:app"]
    quiet = subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=folder, stdout=quiet, stderr=quiet)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bare", timeout=1)
            return process, folder
        except OSError:
            time.sleep(0.2)  # polling for the server's first answer
    process.terminate()
    raise SystemExit("the ceiling app did not answer within 30 s")


# A page that misses its target is profiled for this long after the measured runs.
PROFILE_SECONDS = 6


def met_target(page: dict[str, Any], share: float, p99_cap: float | None) -> bool:
    ratio = page["rps"] / page["ceiling"]["rps"]
    return ratio >= share and (p99_cap is None or page["p99_ms"] <= p99_cap) and page["errors"] == 0


def measure(engine: str, count: int, seconds: int, servers: tuple[str, ...]) -> list[dict[str, Any]]:
    """Seeds a fresh database on ``engine`` and drives the ceiling and every page on each server."""
    data_dir = Path(tempfile.mkdtemp(prefix="crossclaim-bench-"))
    database = f"bench_{uuid.uuid4().hex[:8]}"
    if engine == "PostgreSQL":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
        url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    else:
        url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    env = {**os.environ, "CROSSCLAIM_DATA_DIR": str(data_dir), "DATABASE_URL": url, "CROSSCLAIM_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    rows: list[dict[str, Any]] = []
    ceiling_port = free_port()
    ceiling, ceiling_folder = start_ceiling(ceiling_port)
    ceiling_url = f"http://127.0.0.1:{ceiling_port}/bare"
    try:
        from app import db
        from app.piccolo_app import TABLES

        engine_obj = db.make_engine(url)
        db.bind_tables(engine_obj, TABLES)

        async def seeded() -> str:
            await db.start(engine_obj)
            try:
                return await seed(count)
            finally:
                await db.stop(engine_obj)

        token = asyncio.run(seeded())

        async def with_statistics() -> list[str]:
            """The planners' statistics after the seeding, as an import or the worker's hourly task gives
            them (PostgreSQL counts the seeding's rows once its connections have ended, just before)."""
            await db.start(engine_obj)
            try:
                for _ in range(50):
                    if analysed := await db.refresh_statistics(engine_obj):
                        return analysed
                    await asyncio.sleep(0.1)  # bounded wait for the server's activity counters
                return []
            finally:
                await db.stop(engine_obj)

        asyncio.run(with_statistics())
        results: dict[str, dict[str, Any]] = {}
        for server in servers:
            port = free_port()
            process = start_server(server, port, env)
            base = f"http://127.0.0.1:{port}"
            pages = PAGES if server == "granian" else {name: PAGES[name] for name in ("bare", "grid")}
            try:
                cookies = browser_cookies(base, token)
                wrk(f"{base}{PAGES['grid'][0]}", cookies, 2)  # warm up
                wrk(ceiling_url, "", 2)
                # The ceiling runs before and after each page and the page is compared with the mean of the
                # two: the shared host's capacity drifts over minutes, and a single ceiling at the start
                # would compare the last page with another machine. No profiler runs during these runs (it
                # would take CPU from the pages and not from the ceiling); pages are profiled afterwards.
                found: dict[str, Any] = {}
                before = measured(ceiling_url, "", seconds, ceiling.pid)
                for name, (path, signed_in) in pages.items():
                    found[name] = measured(f"{base}{path}", cookies if signed_in else "", seconds, process.pid)
                    after = measured(ceiling_url, "", seconds, ceiling.pid)
                    found[name]["ceiling"] = {
                        key: (before[key] + after[key]) / 2 for key in ("rps", "p99_ms", "cpu_ms")
                    }
                    before = after
                found["rss_mb"] = rss_mb(process.pid)
                for name, (path, signed_in) in pages.items():
                    found[name]["profile"] = ""
                    share, p99_cap = TARGETS[name]
                    if met_target(found[name], share, p99_cap):
                        continue
                    tag = f"p1-{name}-{engine.lower()}-{server}"
                    spy = _profile.start(process.pid, PROFILE_SECONDS, tag)
                    wrk(f"{base}{path}", cookies if signed_in else "", PROFILE_SECONDS)
                    found[name]["profile"] = _profile.finish(spy, tag)
            finally:
                stop_server(process)
            results[server] = found
        chosen = results["granian"]
        for name in PAGES:
            page = chosen[name]
            ceiling_found = page["ceiling"]
            ratio = page["rps"] / ceiling_found["rps"]
            share, p99_cap = TARGETS[name]
            met = met_target(page, share, p99_cap)
            rows.append({
                "id": "P1",
                "what": f"{LABELS[name]}, {count:,} cases, {engine}, 16 connections",
                "figure": f"{page['rps']:.0f} req/s, p99 {page['p99_ms']:.1f} ms, {page['cpu_ms']:.2f} ms CPU/request",
                "ceiling": f"{ceiling_found['rps']:.0f} req/s bare Litestar + Jinja (p99 {ceiling_found['p99_ms']:.1f} "
                           f"ms, {ceiling_found['cpu_ms']:.2f} ms CPU/request; runs before and after the page)",
                "ratio": round(ratio, 3),
                "target": f">= {share:.2f}" + (f" and p99 <= {p99_cap:.0f} ms" if p99_cap else ""),
                "met": met,
                "note": f"by CPU per request {ceiling_found['cpu_ms'] / page['cpu_ms']:.2f}"
                        + ("" if met else f"; {name}: {BOTTLENECKS[name]}; {page['profile']}"),
            })  # fmt: skip
        memory = chosen["rss_mb"]
        rows.append({
            "id": "P7",
            "what": f"web server RSS (all its processes) after P1 ({engine})",
            "figure": f"{memory:.0f} MB",
            "ceiling": "300 MB",
            "ratio": round(memory / 300, 2),
            "target": "<= 300 MB",
            "met": memory <= 300,
        })  # fmt: skip
        if "uvicorn" in results:
            other = results["uvicorn"]
            rows.append({
                "id": "server",
                "what": f"granian (served) vs uvicorn with uvloop + httptools, {engine}: bare route, grid page",
                "figure": f"granian {chosen['bare']['rps']:.0f} / {chosen['grid']['rps']:.0f} req/s, "
                          f"grid p99 {chosen['grid']['p99_ms']:.1f} ms",
                "ceiling": f"uvicorn {other['bare']['rps']:.0f} / {other['grid']['rps']:.0f} req/s, "
                           f"grid p99 {other['grid']['p99_ms']:.1f} ms",
                "ratio": round(chosen["grid"]["rps"] / other["grid"]["rps"], 2),
                "target": "informs the choice of server (docs/OPERATIONS.md)",
                "met": None,
                "note": "ratio = granian grid req/s over uvicorn grid req/s; "
                        f"bare route {chosen['bare']['rps'] / other['bare']['rps']:.2f}",
            })  # fmt: skip
    finally:
        ceiling.terminate()
        ceiling.wait(timeout=10)
        shutil.rmtree(ceiling_folder, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        if engine == "PostgreSQL":
            drop = f"DROP DATABASE {database} WITH (FORCE)"
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", drop], check=False)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    count = 10_000 if args.quick else 100_000
    seconds = 5 if args.quick else 15
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    rows: list[dict[str, Any]] = []
    if args.engine in ("sqlite", "both"):
        rows += measure("SQLite", count, seconds, ("granian", "uvicorn"))
    if args.engine in ("postgres", "both"):
        rows += measure("PostgreSQL", count, seconds, ("granian",))
    print(json.dumps({"rows": rows, "cases": count}))


if __name__ == "__main__":
    main()
