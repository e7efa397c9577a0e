"""Runs every benchmark in bench/ and writes bench/RESULTS.md: `python -m bench [--quick] [NAME ...] [-- ARGS]`.

Arguments after `--` go to each script run (e.g. `python -m bench analytics -- --sizes ''`, the PDF phase
alone): such a partial run replaces the rows it writes and keeps the script's other stored rows.

Each benchmark is a script in this folder that prints one JSON object on its last line of output:
``{"rows": [{"id": "P2", "what": ..., "figure": ..., "ceiling": ..., "ratio": ..., "target": ...,
"met": true|false, "note": ...}], ...}``. Ratios against a ceiling measured in the same run are what
count: these machines are shared, so absolute times drift while ratios hold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
# Each script is bounded on its own; this is the outer stop for one that hangs.
SCRIPT_TIMEOUT = 1500


def scripts(names: list[str]) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    if names:
        found = [p for p in found if p.stem in names]
    return found


def run_one(script: Path, quick: bool, arguments: list[str] | None = None) -> dict[str, Any]:
    """Runs one script and keeps its result in bench/results/NAME.json (with when, mode and machine load)."""
    load_before = os.getloadavg()[0]
    result = _run(script, quick, arguments or [])
    result.update(
        mode="quick" if quick else "full",
        finished=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        load=f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
    )
    path = RESULTS / f"{script.stem}.json"
    if arguments and "error" not in result and path.exists():
        result = _merged(json.loads(path.read_text()), result, arguments)
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=str, ensure_ascii=False))
    return result


def _merged(earlier: dict[str, Any], partial: dict[str, Any], arguments: list[str]) -> dict[str, Any]:
    """A partial run's rows in place of the stored ones they measure again; the stored others kept, and said so."""
    if "error" in earlier:
        return partial
    new_rows = {(row.get("id"), row.get("what")): row for row in partial["data"].get("rows", [])}
    rows = [new_rows.pop((row.get("id"), row.get("what")), row) for row in earlier["data"].get("rows", [])]
    data = {key: value for key, value in earlier["data"].items() if value} | {
        key: value for key, value in partial["data"].items() if value
    }
    partial["data"] = data | {"rows": rows + list(new_rows.values())}
    partial["partial"] = (
        f"with `{shlex.join(arguments)}` (only the rows it writes; the others are kept from the run finished "
        f"{earlier.get('finished', '?')})"
    )
    return partial


def stored_results() -> list[dict[str, Any]]:
    """The latest result of every script, so running one script updates only its rows in RESULTS.md."""
    found = []
    for script in scripts([]):
        path = RESULTS / f"{script.stem}.json"
        if path.exists():
            found.append(json.loads(path.read_text()))
    return found


def _run(script: Path, quick: bool, arguments: list[str]) -> dict[str, Any]:
    env = {**os.environ, "BENCH_QUICK": "1" if quick else "0", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, str(script), *(["--quick"] if quick else []), *arguments],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return {"script": script.name, "error": f"timed out after {SCRIPT_TIMEOUT} s"}
    seconds = round(time.perf_counter() - started, 1)
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("{")]
    if result.returncode != 0 or not lines:
        return {"script": script.name, "seconds": seconds, "error": (result.stderr or result.stdout)[-2000:]}
    try:
        data = json.loads(lines[-1])
    except json.JSONDecodeError as error:
        return {"script": script.name, "seconds": seconds, "error": f"last line is not JSON: {error}"}
    return {"script": script.name, "seconds": seconds, "data": data}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib // 1024 // 1024} GiB"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}"


def render(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"- written: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        "- reproduce: `make bench` (full) or `make bench-quick`; one script (updates only its rows): "
        "`.venv/bin/python -m bench [--quick] NAME`; part of one (its arguments after `--`, e.g. the PDF phase "
        "alone): `.venv/bin/python -m bench analytics -- --sizes ''`",
        "",
        "Ratios compare against a ceiling measured in the same run on the same machine. Each script's",
        "own run (when, mode, load average of the 2 shared cores) is listed under Runs: the cores are",
        "shared with other test runs, so absolute figures are noisy; compare ratios.",
        "",
        "| id | what | figure | ceiling | ratio | target | met | script |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runs = [
        f"- {r['script']}: {r.get('mode', '?')} run"
        + (f" {r['partial']}" if r.get("partial") else "")
        + f", finished {r.get('finished', '?')}, "
        f"{r.get('seconds', '?')} s, load {r.get('load', '?')}"
        for r in results
    ]
    notes: list[str] = []
    for result in results:
        if "error" in result:
            lines.append(f"| – | {result['script']} failed | | | | | no | {result['script']} |")
            last = result["error"].strip().splitlines()[-1] if result["error"].strip() else "error"
            notes.append(f"- {result['script']}: `{last}`")
            continue
        for row in result["data"].get("rows", []):
            met = row.get("met")
            lines.append(
                "| {id} | {what} | {figure} | {ceiling} | {ratio} | {target} | {met} | {script} |".format(
                    id=row.get("id", ""),
                    what=row.get("what", ""),
                    figure=row.get("figure", ""),
                    ceiling=row.get("ceiling", ""),
                    ratio=row.get("ratio", ""),
                    target=row.get("target", ""),
                    met="yes" if met else ("no" if met is False else "–"),
                    script=result["script"],
                )
            )
            if row.get("note"):
                notes.append(f"- {row.get('id', '')}: {row['note']}")
    lines += ["", "## Runs", "", *runs]
    if notes:
        lines += ["", "## Notes (a missed target names its bottleneck from a py-spy profile)", "", *notes]
    kept = HERE / "NOTES.md"  # measurements by hand (before/after comparisons), kept across runs
    if kept.exists():
        lines += ["", kept.read_text().strip()]
    lines += ["", "## Raw output", "", "```json", json.dumps(results, indent=1, default=str)[:20000], "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller data sets, fewer repetitions")
    parser.add_argument("names", nargs="*", help="run only these scripts (file names without .py)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    arguments = argv[split + 1 :]  # for the scripts: a partial run
    results = []
    for script in scripts(args.names):
        print(f"running {script.name} …", file=sys.stderr, flush=True)
        results.append(run_one(script, args.quick, arguments))
    (HERE / "RESULTS.md").write_text(render(stored_results()))
    print(f"wrote {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
