"""Web push end to end: pywebpush encrypts, a local push service verifies the VAPID JWT and decrypts."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from app.notify.tables import PushSubscription
from app.reminders.sweep import sweep
from app.tracking.services import push_subscribe
from app.tracking.tables import Reminder
from tests.conftest import csrf_token, sign_in
from tests.integration.test_reminders import AFTER_DUE, mail_settings, overdue_case, smtp  # noqa: F401 - fixtures

RECEIVER = ec.generate_private_key(ec.SECP256R1())
# The fake push service listens on loopback, which only the allow-list lets through.
LOCAL = frozenset({"127.0.0.1"})
AUTH = b"0123456789abcdef"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService(BaseHTTPRequestHandler):
    """Plays the browser vendor's push service: checks the VAPID JWT, decrypts what it got."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.endswith("/gone"):
            self.send_response(410)
            self.end_headers()
            return
        scheme, _, params = self.headers["Authorization"].partition(" ")
        fields = dict(part.strip().split("=", 1) for part in params.split(","))
        token, server_key = fields["t"], fields["k"]
        head, claims, signature = token.split(".")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(server_key))
        raw = unb64(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises when forged
        payload = json.loads(unb64(claims))
        plain = http_ece.decrypt(body, private_key=RECEIVER, auth_secret=AUTH, version="aes128gcm")
        PushService.received.append(
            {
                "scheme": scheme,
                "alg": json.loads(unb64(head))["alg"],
                "claims": payload,
                "encoding": self.headers["Content-Encoding"],
                "message": json.loads(plain),
            }
        )
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def push_service() -> Iterator[str]:
    PushService.received = []
    server = HTTPServer(("127.0.0.1", 0), PushService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.checklist(31)
async def test_a_reminder_arrives_encrypted_and_signed_and_a_gone_subscription_is_dropped(
    mail_settings: Any,  # noqa: F811 - the fixture imported above
    make_user: Any,
    push_service: str,
) -> None:
    case, handler = await overdue_case(make_user)
    p256dh = b64(
        RECEIVER.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    for path in ("/push/live", "/push/gone"):
        await push_subscribe(
            user_id=handler.id, endpoint=push_service + path, p256dh=p256dh, auth=b64(AUTH), allowed_hosts=LOCAL
        )
    summary = await sweep(settings=replace(mail_settings, push_allowed_hosts="127.0.0.1"), now=AFTER_DUE)
    assert summary.failed == 0
    (got,) = PushService.received
    assert got["scheme"] == "vapid" and got["alg"] == "ES256" and got["encoding"] == "aes128gcm"
    assert got["claims"]["aud"] == push_service and got["claims"]["exp"] > time.time()
    assert got["claims"]["sub"].startswith("mailto:")
    assert case.number in got["message"]["body"] and got["message"]["url"] == f"/cases/{case.number}"
    endpoints = [r["endpoint"] for r in await PushSubscription.select(PushSubscription.endpoint)]
    assert endpoints == [push_service + "/push/live"]
    push = await Reminder.select(Reminder.status).where(Reminder.channel == "push")
    assert [r["status"] for r in push] == ["sent"]
    again = await sweep(settings=replace(mail_settings, push_allowed_hosts="127.0.0.1"), now=AFTER_DUE)
    assert again.sent == 0 and len(PushService.received) == 1


async def test_the_subscribe_endpoint_keeps_a_browser_subscription(client: Any, make_user: Any) -> None:
    user = await make_user("handler")
    await sign_in(client, user)
    token = await csrf_token(client)
    key = (await client.get("/push/key")).json()["key"]
    assert len(unb64(key)) == 65  # an uncompressed P-256 point, what PushManager.subscribe() wants
    # A public address (numeric, so the check needs no name server here); push services are names.
    body = {"endpoint": "https://8.8.8.8/abc", "keys": {"p256dh": "x" * 20, "auth": "y" * 8}}
    answer = await client.post("/push/subscribe", json=body, headers={"x-csrftoken": token})
    assert answer.status_code == 201
    refused = await client.post(
        "/push/subscribe", json={**body, "endpoint": "http://10.0.0.1/x"}, headers={"x-csrftoken": token}
    )
    assert refused.status_code == 422
    assert await PushSubscription.count() == 1


INTERNAL_ENDPOINTS = [
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.1/x",
    "https://127.0.0.1/x",
    "https://localhost/x",
    "https://[::1]/x",
    "https://[::ffff:10.0.0.1]/x",
    "https://0.0.0.0/x",
    "https://100.64.0.1/x",
    "https://no-such-host.invalid/x",
    "http://8.8.8.8/x",
    "ftp://8.8.8.8/x",
    "https:///x",
]


@pytest.mark.checklist(31)
async def test_push_goes_only_to_public_https_services_checked_again_when_sending(
    client: Any,
    make_user: Any,
    mail_settings: Any,  # noqa: F811 - the fixture imported above
    push_service: str,
    caplog: Any,
) -> None:
    """A subscription naming an internal address is refused; one that turned internal is not sent to."""
    user = await make_user("handler")
    await sign_in(client, user)
    token = await csrf_token(client)
    for endpoint in INTERNAL_ENDPOINTS:
        body = {"endpoint": endpoint, "keys": {"p256dh": "x" * 20, "auth": "y" * 8}}
        headers = {"x-csrftoken": token, "Accept": "application/json"}
        refused = await client.post("/push/subscribe", json=body, headers=headers)
        assert refused.status_code == 422 and "public push service" in refused.json()["message"], endpoint
    assert await PushSubscription.count() == 0
    # Accepted while loopback was allowed; the worker (without that allow-list) neither sends nor keeps it.
    _case, handler = await overdue_case(make_user)
    p256dh = b64(
        RECEIVER.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    await push_subscribe(
        user_id=handler.id, endpoint=push_service + "/push/live", p256dh=p256dh, auth=b64(AUTH), allowed_hosts=LOCAL
    )
    caplog.set_level(logging.INFO)
    await sweep(settings=mail_settings, now=AFTER_DUE)
    assert PushService.received == []
    assert await PushSubscription.count() == 0
    assert any(getattr(record, "event", "") == "push_endpoint_refused" for record in caplog.records)
    push = await Reminder.select(Reminder.status).where(Reminder.channel == "push")
    assert [r["status"] for r in push] == ["failed"]
