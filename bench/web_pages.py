"""P1 and P7: the case list page (filtered, sorted, 50 rows) against a bare template route, same server.

Loads N cases into a fresh SQLite (or PostgreSQL with --postgres) database, starts `crossclaim serve`
with the test hooks on (which adds the bare route), and drives both pages with wrk from a second
process on loopback: 16 connections, a fixed duration, so the load stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
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
                node=NODES[(i * 7) % len(NODES)],
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
    return await session_start(user=user, ip="127.0.0.1")


def wrk(url: str, token: str, seconds: int) -> dict[str, float]:
    result = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-H", f"Cookie: cc_session={token}", url],
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
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    count = 10_000 if args.quick else 100_000
    seconds = 5 if args.quick else 15
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    data_dir = Path(tempfile.mkdtemp(prefix="crossclaim-bench-"))
    database = f"bench_{uuid.uuid4().hex[:8]}"
    if args.postgres:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
        url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    else:
        url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    env = {**os.environ, "CROSSCLAIM_DATA_DIR": str(data_dir), "DATABASE_URL": url, "CROSSCLAIM_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)

    from app import db

    db.bind_tables(db.make_engine(url))
    token = asyncio.run(seed(count))

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env={**env, "CROSSCLAIM_TEST_HOOKS": "1"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        page = f"{base}/cases?node=plan&problem_type=quality_defect"
        wrk(page, token, 2)  # warm up
        bare = wrk(f"{base}/_hooks/bare", token, seconds)
        grid = wrk(page, token, seconds)
        memory = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
        if args.postgres:
            drop = f"DROP DATABASE {database} WITH (FORCE)"
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", drop], check=False)
    ratio = grid["rps"] / bare["rps"]
    engine = "PostgreSQL" if args.postgres else "SQLite"
    rows: list[dict[str, Any]] = [
        {
            "id": "P1",
            "what": f"case list, 50 rows, filtered + sorted, {count:,} cases, {engine}, 16 connections",
            "figure": f"{grid['rps']:.0f} req/s, p99 {grid['p99_ms']:.1f} ms",
            "ceiling": f"{bare['rps']:.0f} req/s bare template route",
            "ratio": round(ratio, 2),
            "target": ">= 0.35 and p99 <= 50 ms",
            "met": ratio >= 0.35 and grid["p99_ms"] <= 50 and grid["errors"] == 0,
        },
        {
            "id": "P7",
            "what": f"web process RSS after P1 ({engine})",
            "figure": f"{memory:.0f} MB",
            "ceiling": "300 MB",
            "ratio": round(memory / 300, 2),
            "target": "<= 300 MB",
            "met": memory <= 300,
        },
    ]
    print(json.dumps({"rows": rows, "cases": count, "bare": bare, "page": grid}))


if __name__ == "__main__":
    main()
