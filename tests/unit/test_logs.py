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
