"""Names the bottleneck of a benchmark that misses its target, from a py-spy sample of the running process.

`start(pid, seconds, name)` samples a server (or any Python process) while the load runs, and
`finish(...)` returns a short text: for each sample the innermost frame of our own code (the function
of ours the time was spent under) and the leaf frame (where the CPU actually was), the heaviest first.
The full collapsed stacks are kept next to bench/RESULTS.md as `bench/profiles/NAME.txt` for a flame graph.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILES = HERE / "profiles"
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*):(?P<line>\d+)\)$")


def _py_spy() -> str:
    found = Path(sys.executable).with_name("py-spy")
    if found.exists():
        return str(found)
    path = shutil.which("py-spy")
    if not path:
        raise FileNotFoundError("py-spy is missing: `make bench` installs it (pip install '.[bench]')")
    return path


def start(pid: int, seconds: int | None, name: str) -> subprocess.Popen[bytes]:
    """Starts sampling ``pid`` in the background: for ``seconds``, or until ``finish`` stops it."""
    PROFILES.mkdir(exist_ok=True)
    out = PROFILES / f"{name}.txt"
    command = [_py_spy(), "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--rate", "200",
               "--nonblocking", "-o", str(out), *(["--duration", str(seconds)] if seconds else [])]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # py-spy needs a moment to attach before the measured work starts
    return process


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"]
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['function']} ({file}:{match['line']})"


def summary(name: str, *, ours: str = "app/", top: int = 3) -> str:
    """The heaviest frames in the samples saved under ``name``: innermost of ours, and leaves overall."""
    path = PROFILES / f"{name}.txt"
    if not path.exists() or not path.read_text().strip():
        return "no profile samples (py-spy could not attach)"
    innermost: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[_short(frames[-1])] += count
        mine = [frame for frame in frames if f"/{ours}" in frame or f" ({ours}" in frame]
        innermost[_short(mine[-1]) if mine else "(outside our code)"] += count
    if not total:
        return "no profile samples"

    def share(counter: Counter[str]) -> str:
        return "; ".join(f"{frame} {count * 100 // total}%" for frame, count in counter.most_common(top))

    return f"profile ({total} samples): under ours {share(innermost)} | leaves {share(leaves)}"


def finish(process: subprocess.Popen[bytes], name: str, *, ours: str = "app/", now: bool = False) -> str:
    """Waits for the sampling to end (``now``: ends it; py-spy writes what it has on SIGINT) and sums it up."""
    if now:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
    return summary(name, ours=ours)
