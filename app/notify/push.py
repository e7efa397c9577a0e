"""Web push: VAPID keys made once and kept in the data dir, and sending to a browser subscription."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

KEY_NAME = "vapid_private.pem"


class SubscriptionGone(Exception):
    """The push service answered 404/410: the browser dropped the subscription; delete ours."""


class PushFailed(Exception):
    """The push service could not take the message now."""


@dataclass(frozen=True)
class PushTarget:
    endpoint: str
    p256dh: str
    auth: str


def vapid_key_path(data_dir: Path) -> Path:
    """The private key file, generated on first use; a second process racing to make it uses the first's."""
    path = data_dir / KEY_NAME
    if path.exists():
        return path
    key = Vapid()
    key.generate_keys()
    pem = key.private_pem()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path


def application_server_key(data_dir: Path) -> str:
    """The public key the browser's PushManager.subscribe() needs, base64url without padding."""
    key = Vapid.from_file(str(vapid_key_path(data_dir)))
    raw = key.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def send_push(data_dir: Path, mail_from: str, target: PushTarget, payload: dict[str, Any]) -> None:
    """Encrypt (aes128gcm) and post one message; blocking, so call it from a thread or a task."""
    subscriber = parseaddr(mail_from)[1] or "claims@crossclaim.localhost"
    try:
        webpush(
            subscription_info={"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
            data=json.dumps(payload, ensure_ascii=False),
            vapid_private_key=str(vapid_key_path(data_dir)),
            vapid_claims={"sub": f"mailto:{subscriber}"},
            content_encoding="aes128gcm",
            timeout=10,
        )
    except WebPushException as error:
        status = error.response.status_code if error.response is not None else None
        if status in (404, 410):
            raise SubscriptionGone(target.endpoint) from error
        raise PushFailed(f"push service answered {status}: {error}") from error
    except OSError as error:
        raise PushFailed(str(error)) from error
