"""Web push: VAPID keys made once and kept in the data dir, and sending to a browser subscription."""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import socket
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

KEY_NAME = "vapid_private.pem"


class SubscriptionGone(Exception):
    """The push service answered 404/410: the browser dropped the subscription; delete ours."""


class EndpointRefused(SubscriptionGone):
    """The endpoint is no public https push service (any more): nothing is sent to it, and it is dropped."""


class PushFailed(Exception):
    """The push service could not take the message now."""


log = logging.getLogger("crossclaim.push")


def endpoint_problem(endpoint: str, allowed_hosts: frozenset[str] = frozenset()) -> str | None:
    """Why the server must not post to ``endpoint``, or None when it may.

    A subscription names any address its browser likes; the worker would post to it from inside our
    network. So it must be https and every address its host resolves to must be public (no loopback,
    private, link-local such as 169.254.169.254, or reserved range). Hosts in ``allowed_hosts``
    (a test's fake push service, a relay on the company network) pass as they are, http too. Blocking:
    it asks the resolver.
    """
    parts = urlsplit(endpoint)
    try:
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return "malformed"
    if not host or parts.scheme not in ("https", "http"):
        return "malformed"
    if host in allowed_hosts:
        return None
    if parts.scheme != "https":
        return "not_https"
    try:
        found = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return "unresolved"
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            return "not_public"
    return None if found else "unresolved"


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


def send_push(
    data_dir: Path,
    mail_from: str,
    target: PushTarget,
    payload: dict[str, Any],
    *,
    allowed_hosts: frozenset[str] = frozenset(),
) -> None:
    """Encrypt (aes128gcm) and post one message; blocking, so call it from a thread or a task.

    The endpoint is checked again here: a name that resolved to a public address at subscribe time
    may point inside our network now.
    """
    problem = endpoint_problem(target.endpoint, allowed_hosts)
    if problem is not None:
        log.warning("push endpoint refused", extra={"event": "push_endpoint_refused", "reason": problem})
        raise EndpointRefused(problem)
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
