"""Log lines are JSON with UTC time; input with CR/LF cannot forge a second line."""

import json
import logging
from datetime import datetime

import pytest

from app.logs import JsonFormatter


@pytest.mark.checklist(34)
def test_json_line_escapes_newlines_and_carries_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "crossclaim.security",
            "levelname": "INFO",
            "msg": 'login_failed\r\n{"forged": true}',
            "ip": "127.0.0.1",
        }
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line and "\r" not in line
    entry = json.loads(line)
    assert entry["message"].startswith("login_failed")
    assert entry["ip"] == "127.0.0.1"
    assert entry["time"].endswith("+00:00")


def test_only_a_trusted_proxy_names_the_client_and_scheme() -> None:
    """Behind the proxy the rate limits and logs see the real client: believed only from FORWARDED_ALLOW_IPS."""
    from app.web.middleware import behind_proxy

    def scope(peer: str, forwarded: str = "", proto: str = "") -> dict[str, object]:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        headers += [(b"x-forwarded-proto", proto.encode())] if proto else []
        return {"type": "http", "client": (peer, 5000), "scheme": "http", "headers": headers}

    trusted = frozenset({"127.0.0.1", "10.0.0.2"})
    seen = behind_proxy(scope("127.0.0.1", "203.0.113.9", "https"), trusted)  # type: ignore[arg-type]
    assert seen["client"] == ("203.0.113.9", 0) and seen["scheme"] == "https"
    # A client writing the header itself: the proxy appends the real address, and that one counts.
    spoofed = behind_proxy(scope("127.0.0.1", "198.51.100.1, 203.0.113.9"), trusted)  # type: ignore[arg-type]
    assert spoofed["client"] == ("203.0.113.9", 0)
    # Two proxies in a row: the nearest address that is not one of ours.
    chained = behind_proxy(scope("127.0.0.1", "203.0.113.9, 10.0.0.2"), trusted)  # type: ignore[arg-type]
    assert chained["client"] == ("203.0.113.9", 0)
    # Straight from the internet: the headers are ignored.
    direct = behind_proxy(scope("192.0.2.7", "203.0.113.9", "https"), trusted)  # type: ignore[arg-type]
    assert direct["client"] == ("192.0.2.7", 5000) and direct["scheme"] == "http"
    assert behind_proxy(scope("192.0.2.7", "203.0.113.9"), frozenset({"*"}))["client"] == ("203.0.113.9", 0)  # type: ignore[arg-type]


def test_access_lines_are_written_in_batches_in_the_shape_of_the_other_lines() -> None:
    """A request appends to the access log; the writer thread writes what gathered, with the request's time."""
    import io
    import time

    from app.logs import AccessLog

    stream = io.StringIO()
    access = AccessLog(stream, interval=0.05, limit=1000)
    before = time.time()
    access.record(method="GET", path="/l/secret-token-123/answer", status=200, ms=1.5, ip="127.0.0.1", request_id="ab")
    access.record(method="POST", path="/cases", status=303, ms=9.0, ip="10.0.0.1", request_id="cd")
    for _ in range(100):  # the writer thread, within a few intervals
        if stream.getvalue().count("\n") == 2:
            break
        time.sleep(0.02)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["path"] == "/l/…/answer" and "secret-token" not in stream.getvalue()
    assert (first["logger"], first["message"], first["level"]) == ("crossclaim.access", "request", "INFO")
    assert (first["request_id"], first["status"], first["ms"], first["ip"]) == ("ab", 200, 1.5, "127.0.0.1")
    assert second["method"] == "POST" and second["status"] == 303
    assert first["time"].endswith("+00:00") and abs(datetime.fromisoformat(first["time"]).timestamp() - before) < 1


def test_access_lines_past_the_limit_are_written_by_the_request_itself() -> None:
    """Memory stays bounded: the request that fills the buffer writes it, without waiting for the thread."""
    import io

    from app.logs import AccessLog

    stream = io.StringIO()
    access = AccessLog(stream, interval=3600, limit=3)
    for number in range(3):
        access.record(method="GET", path=f"/cases/{number}", status=200, ms=1.0, ip="-", request_id=str(number))
    assert [json.loads(line)["path"] for line in stream.getvalue().splitlines()] == ["/cases/0", "/cases/1", "/cases/2"]


def test_a_large_batch_is_written_in_pieces_of_whole_lines_that_a_pipe_keeps_whole() -> None:
    """Another process shares standard error: each write is whole lines and at most 4 KiB, so none of its
    lines can land inside ours."""
    from app.logs import AccessLog

    class Writes:
        def __init__(self) -> None:
            self.writes: list[str] = []

        def write(self, text: str) -> None:
            self.writes.append(text)

        def flush(self) -> None:
            pass

    stream = Writes()
    access = AccessLog(stream, interval=3600, limit=10_000)  # type: ignore[arg-type]
    for number in range(300):
        access.record(method="GET", path=f"/cases/AS-2026-{number:06d}", status=200, ms=1.0, ip="-", request_id="r")
    access.flush()
    assert len(stream.writes) > 1
    assert all(len(text.encode()) <= 4096 and text.endswith("\n") for text in stream.writes)
    lines = "".join(stream.writes).splitlines()
    assert [json.loads(line)["path"] for line in lines] == [f"/cases/AS-2026-{n:06d}" for n in range(300)]
