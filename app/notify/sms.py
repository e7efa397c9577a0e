"""SMS behind one small interface: an HTTP provider configured by URL, or the console for development."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Protocol

log = logging.getLogger("crossclaim.sms")


class PermanentSmsError(Exception):
    """The provider refused the message for good (bad number): record it, do not retry."""


class TransientSmsError(Exception):
    """The provider could not take the message now: retry later."""


class SmsProvider(Protocol):
    def send(self, to: str, text: str) -> str:
        """Send one message; returns the provider's id for it."""
        ...


class ConsoleSmsProvider:
    """Writes messages to the log: for development, where no SMS may leave the machine."""

    def send(self, to: str, text: str) -> str:
        log.info("sms to %s: %s", to, text.replace("\n", " "))
        return "console"


class HttpSmsProvider:
    """POSTs ``{"to": ..., "text": ...}`` as JSON; 2xx is sent, 4xx refused for good, else retried."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, to: str, text: str) -> str:
        body = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's setting, http(s) only
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = response.read()
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code != 429:
                raise PermanentSmsError(f"provider refused: {error.code}") from error
            raise TransientSmsError(f"provider error: {error.code}") from error
        except OSError as error:
            raise TransientSmsError(str(error)) from error
        try:
            return str(json.loads(answer).get("id", ""))
        except (ValueError, AttributeError):
            return ""


def sms_provider(url: str) -> SmsProvider | None:
    """The provider a setting names: ``console``, an http(s) URL, or none."""
    if not url:
        return None
    if url == "console":
        return ConsoleSmsProvider()
    if url.startswith(("http://", "https://")):
        return HttpSmsProvider(url)
    raise ValueError(f"CROSSCLAIM_SMS_URL must be console or an http(s) URL, not {url!r}")
