"""Log lines are JSON with UTC time; input with CR/LF cannot forge a second line."""

import json
import logging

import pytest

from app.logs import JsonFormatter


@pytest.mark.checklist(34)
def test_json_line_escapes_newlines_and_carries_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "crossclaim.security", "levelname": "INFO", "msg": "login_failed\r\n{\"forged\": true}",
         "ip": "127.0.0.1"}
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
