"""The shared pages-vs-framework measurement, on a prepared database kept between runs.

The shared tool imports 100,000 cases through the command line on every run (about six of its seven
minutes). This runs the same measurement — the same CSV, the same import, the same bare Litestar +
Jinja ceiling on granian, the same wrk calls (2 threads, 16 connections, 2 s warm-up, 8 s) on the same
addresses — but imports once per engine and copies the prepared data (SQLite: the data folder;
PostgreSQL: a template database) for each run. Migrations still run on the copy, so a branch with new
migrations measures its own schema. The shared tool stays the figure of record; this is for iterating.

    .venv/bin/python bench/pvf_quick.py [--engine sqlite|postgres] [--fresh] [--pages login,grid,...]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, "/work/shared/tools")
from instance import Instance, fail, free_port  # noqa: E402

N = 100_000
CACHE = Path(os.environ.get("PVF_CACHE", Path(tempfile.gettempdir()) / f"pvf-cache-{os.getuid()}"))
TEMPLATE_DB = "pvf_prepared_speed"
# The shared tool's ceiling, word for word.
BARE_TEMPLATE = (
    "<!doctype html><title>{{ title }}</title><h1>{{ title }}</h1>{% for i in rows %}<p>{{ i }}</p>{% endfor %}"
)
BARE_APP = (
    "from pathlib import Path\nfrom litestar import Litestar, get\n"
    "from litestar.contrib.jinja import JinjaTemplateEngine\n"
    "from litestar.response import Template\nfrom litestar.template.config import TemplateConfig\n"
    "@get('/bare')\nasync def bare() -> Template:\n"
    "    return Template(template_name='page.html', context={'title': 'ceiling', 'rows': range(50)})\n"
    "app = Litestar([bare], template_config=TemplateConfig(directory=Path(__file__).parent / 't', "
    "engine=JinjaTemplateEngine))\n"
)
PAGES = {
    "login": ("/login", False),
    "bare": ("/_hooks/bare", True),
    "grid": ("/grid?f_problem_type=quality_defect&sort=-created_at", True),
    "list": ("/cases?problem_type=quality_defect", True),
    "case": ("/cases/OLD-004321", True),
    "board": ("/board", True),
}


def wrk(url: str, cookie: str = "", secs: int = 8) -> tuple[float, float, int, int]:
    cmd = ["wrk", "-t2", "-c16", f"-d{secs}s", "--latency", url]
    if cookie:
        cmd[5:5] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert m
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    served = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, p99, int(non.group(1)) if non else 0, served


def write_csv(path: Path) -> None:
    probs = ["quality_defect", "transit_damage", "short_shipment", "wrong_item", "late_delivery"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "case_number",
                "order_number",
                "supplier",
                "problem_type",
                "description",
                "reported_on",
                "quantity_affected",
                "region",
            ]
        )
        start = dt.date(2025, 1, 1)
        for i in range(N):
            w.writerow(
                [
                    f"OLD-{i:06d}",
                    f"PO-{i // 5:06d}",
                    f"Supplier {i % 8}",
                    probs[i % 5],
                    f"Case {i}: units damaged, see photos",
                    (start + dt.timedelta(days=i % 700)).isoformat(),
                    1 + i % 20,
                    "East China",
                ]
            )


def psql(sql: str, check: bool = True) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=check)


def prepare(engine: str) -> None:
    """Import once into the cache (SQLite folder) or the template database (PostgreSQL)."""
    extra = {}
    if engine == "postgres":
        psql(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        psql(f"CREATE DATABASE {TEMPLATE_DB}")
        extra = {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{TEMPLATE_DB}"}
    inst = Instance(extra_env=extra)
    inst.cli("migrate")
    src = inst.data / "cases.csv"
    write_csv(src)
    started = time.time()
    r = inst.cli("import", "cases", str(src), timeout=2400, check=False)
    if r.returncode != 0:
        fail(f"import failed: {(r.stderr or r.stdout)[-200:]}")
    print(f"imported {N} cases in {time.time() - started:.0f} s", flush=True)
    inst.cli("user", "add", "--email", "perf@example.com", "--role", "handler", "--password", "Perf-pass-1234567")
    src.unlink()
    target = CACHE / engine
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(inst.data, target)
    inst.tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--fresh", action="store_true", help="import again")
    parser.add_argument("--pages", default="login,bare,grid,list")
    parser.add_argument("--hold", type=int, default=0, help="keep the server up this many seconds (profiling)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="instead of one run each: this many rounds of 5 s, the ceiling before each page; prints the median "
        "share of the adjacent ceilings and the share by CPU per request",
    )
    args = parser.parse_args()
    if args.fresh or not (CACHE / args.engine).exists():
        prepare(args.engine)
    extra = {"CROSSCLAIM_TEST_HOOKS": "1"}
    name = ""
    if args.engine == "postgres":
        name = f"pvfq_{os.getpid()}"
        psql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
        extra["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{name}"
    app = Instance(extra_env=extra)
    shutil.copytree(CACHE / args.engine, app.data, dirs_exist_ok=True)
    try:
        with app:
            c = httpx.Client(base_url=app.base, follow_redirects=False)
            c.get("/login")
            r = c.post(
                "/login",
                data={
                    "email": "perf@example.com",
                    "password": "Perf-pass-1234567",
                    "next": "/",
                    "_csrf_token": c.cookies.get("csrftoken"),
                },
            )
            if r.status_code not in (302, 303):
                fail(f"sign-in: {r.status_code}")
            cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
            if args.hold:
                print(f"serving {app.base} (pid {app.proc.pid}); cookie: {cookie}", flush=True)
                time.sleep(args.hold)
                return
            tmp = Path(tempfile.mkdtemp(prefix="bare-"))
            (tmp / "t").mkdir()
            (tmp / "t" / "page.html").write_text(BARE_TEMPLATE)
            (tmp / "bare_app.py").write_text(BARE_APP)
            port = free_port()
            bare = subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/granian"),
                    "--interface",
                    "asgi",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    "1",
                    "bare_app:app",
                ],
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                for _ in range(100):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/bare", timeout=1)
                        break
                    except OSError:
                        time.sleep(0.2)
                res = {}
                todo = [("ceiling", f"http://127.0.0.1:{port}/bare", "")]
                todo += [(p, app.base + PAGES[p][0], cookie if PAGES[p][1] else "") for p in args.pages.split(",")]
                if args.rounds:
                    servers = {"ceiling": bare.pid}
                    print_rounds(todo, servers, app.proc.pid, args.rounds, args.engine)
                    return
                for page, url, ck in todo:
                    wrk(url, ck, 2)
                    res[page] = wrk(url, ck)
            finally:
                bare.terminate()
                bare.wait()
    finally:
        if name:
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=False)
    ceil = res["ceiling"][0]
    print(
        f"{args.engine}: "
        + ", ".join(
            f"{k} {v[0]:.0f} req/s p99 {v[1]:.0f} ms ({v[0] / ceil:.1%}){f' NON-2xx {v[2]}' if v[2] else ''}"
            for k, v in res.items()
        )
    )


def print_rounds(
    todo: list[tuple[str, str, str]], servers: dict[str, int], app_pid: int, rounds: int, engine: str
) -> None:
    """Each round runs the ceiling, then each page with the ceiling again before it; a page's share is its
    req/s over the mean of the ceiling runs around it, and its CPU share the ceiling's CPU per request over
    the page's. Medians over the rounds."""
    import statistics

    sys.path.insert(0, str(ROOT))
    from bench.web_pages import cpu_seconds

    (_, ceiling_url, _), pages = todo[0], todo[1:]
    for _, url, ck in todo:
        wrk(url, ck, 2)

    def run(url: str, ck: str, pid: int) -> tuple[float, float, float]:
        before = cpu_seconds(pid)
        rps, p99, _, served = wrk(url, ck, 5)
        return rps, p99, (cpu_seconds(pid) - before) / max(served, 1)

    shares: dict[str, list[tuple[float, float, float]]] = {page: [] for page, _, _ in pages}
    last = run(ceiling_url, "", servers["ceiling"])
    for _ in range(rounds):
        for page, url, ck in pages:
            rps, p99, cpu = run(url, ck, app_pid)
            after = run(ceiling_url, "", servers["ceiling"])
            ceiling_rps, ceiling_cpu = (last[0] + after[0]) / 2, (last[2] + after[2]) / 2
            shares[page].append((rps / ceiling_rps, ceiling_cpu / cpu, p99))
            last = after
    for page, found in shares.items():
        by_rps = statistics.median(share for share, _, _ in found)
        by_cpu = statistics.median(share for _, share, _ in found)
        p99 = statistics.median(p for _, _, p in found)
        spread = ", ".join(f"{share:.0%}" for share, _, _ in found)
        print(f"{engine} {page}: share {by_rps:.1%} ({spread}), by CPU per request {by_cpu:.1%}, p99 {p99:.0f} ms")


if __name__ == "__main__":
    main()
