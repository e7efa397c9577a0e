"""Typed settings for every entry point, read from the environment in one place."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The file in the data dir holding the generated secret key when CROSSCLAIM_SECRET_KEY is unset.
SECRET_KEY_NAME = "secret_key"  # noqa: S105 - a file name, not a secret


def _setting(env: str, help: str, **kwargs: Any) -> Any:
    return field(metadata={"env": env, "help": help}, **kwargs)


@dataclass(frozen=True)
class Settings:
    """Everything a Crossclaim process needs to know about its environment."""

    data_dir: Path = _setting(
        "CROSSCLAIM_DATA_DIR",
        "Folder for the SQLite database, task queue, evidence files, outbox and generated secrets.",
        default=Path("var"),
    )
    database_url: str = _setting(
        "DATABASE_URL",
        "sqlite:///path/file.db or postgresql://user@host:port/db. Unset: a SQLite file in the data dir.",
        default="",
    )
    db_pool_size: int = _setting(
        "CROSSCLAIM_DB_POOL_SIZE",
        "PostgreSQL: the most connections one process (a web server worker, the task worker) opens; it keeps"
        " two open. One process answers many requests at once on its event loop, and a page's queries are"
        " short: 10 serves a worker at full speed. Every process counts against the server's max_connections.",
        default=10,
    )
    db_statement_cache: int = _setting(
        "CROSSCLAIM_DB_STATEMENT_CACHE",
        "PostgreSQL: prepared statements each connection keeps, so a page's queries are parsed and planned"
        " once per connection. 0 behind a connection pooler in transaction mode (PgBouncer), which cannot"
        " keep them.",
        default=500,
    )
    redis_url: str = _setting(
        "REDIS_URL",
        "redis://host:port/db for the task queue. Unset: the queue is a SQLite file in the data dir.",
        default="",
    )
    secret_key: str = _setting(
        "CROSSCLAIM_SECRET_KEY",
        "Signs CSRF tokens and mail tags. Unset: generated once and kept in the data dir.",
        default="",
    )
    base_url: str = _setting(
        "CROSSCLAIM_BASE_URL",
        "The public address used in links sent by email, SMS and push.",
        default="http://127.0.0.1:8000",
    )
    smtp_url: str = _setting(
        "CROSSCLAIM_SMTP_URL",
        "smtp://user:pass@host:port (smtps:// for TLS). Unset: mails are written to data_dir/outbox.",
        default="",
    )
    mail_from: str = _setting(
        "CROSSCLAIM_MAIL_FROM",
        "The sender address of every mail Crossclaim sends.",
        default="Crossclaim <claims@crossclaim.localhost>",
    )
    session_idle_minutes: int = _setting(
        "CROSSCLAIM_SESSION_IDLE_MINUTES",
        "A staff session ends after this many minutes without a request.",
        default=120,
    )
    session_max_hours: int = _setting(
        "CROSSCLAIM_SESSION_MAX_HOURS",
        "A staff session ends this many hours after login, however active.",
        default=12,
    )
    login_attempts_per_minute: int = _setting(
        "CROSSCLAIM_LOGIN_ATTEMPTS_PER_MINUTE",
        "Failed logins allowed from one address per minute before answering 429.",
        default=10,
    )
    login_failures_per_account: int = _setting(
        "CROSSCLAIM_LOGIN_FAILURES_PER_ACCOUNT",
        "Failed sign-ins to one account, from any address, before each further attempt must wait (429):"
        " 1 second, doubling up to CROSSCLAIM_LOGIN_BACKOFF_MAX_SECONDS; a success clears it.",
        default=10,
    )
    login_backoff_max_seconds: int = _setting(
        "CROSSCLAIM_LOGIN_BACKOFF_MAX_SECONDS",
        "The longest wait between sign-in attempts to one account after repeated failures.",
        default=30,
    )
    link_attempts_per_minute: int = _setting(
        "CROSSCLAIM_LINK_ATTEMPTS_PER_MINUTE",
        "Unknown, expired or revoked supplier, carrier and tracking links opened from one address per minute"
        " before answering 429.",
        default=10,
    )
    forwarded_allow_ips: str = _setting(
        "FORWARDED_ALLOW_IPS",
        "Comma-separated addresses of the reverse proxies whose X-Forwarded-For/-Proto are believed"
        " (the client address for rate limits and logs, and the scheme); * believes any.",
        default="127.0.0.1",
    )
    secure_cookies: bool = _setting(
        "CROSSCLAIM_SECURE_COOKIES",
        "Mark cookies Secure and send HSTS: set to 1 when served over HTTPS.",
        default=False,
    )
    rules_dir: str = _setting(
        "CROSSCLAIM_RULES_DIR",
        "A folder of company rule files (TOML) added to the core responsibility rules.",
        default="",
    )
    evidence_url: str = _setting(
        "CROSSCLAIM_EVIDENCE_URL",
        "Where evidence files live: empty for data_dir/evidence, or s3://bucket?endpoint=...",
        default="",
    )
    sms_url: str = _setting(
        "CROSSCLAIM_SMS_URL",
        "SMS provider: an http(s):// endpoint taking JSON {to, text}, or console to log them. Unset: no SMS.",
        default="",
    )
    reply_address: str = _setting(
        "CROSSCLAIM_REPLY_ADDRESS",
        "The support mailbox replies go to (support@example.com); case mails set Reply-To to"
        " support+<case>.<tag>@…. Unset: no reply address, replies are not read.",
        default="",
    )
    imap_url: str = _setting(
        "CROSSCLAIM_IMAP_URL",
        "imap://user:pass@host:port or imaps://… of the support mailbox the worker reads replies from."
        " Unset: no polling.",
        default="",
    )
    imap_folder: str = _setting(
        "CROSSCLAIM_IMAP_FOLDER",
        "The mailbox folder read for replies; processed mail is flagged \\Seen there.",
        default="INBOX",
    )
    imap_interval: int = _setting(
        "CROSSCLAIM_IMAP_INTERVAL",
        "Minutes between two reads of the mailbox (1 to 60).",
        default=2,
    )
    mail_authserv_id: str = _setting(
        "CROSSCLAIM_MAIL_AUTHSERV_ID",
        "The name your receiving mail server writes first in its Authentication-Results header"
        " (mx.example.com): only that header's SPF/DKIM/DMARC verdicts are believed. Unset: the topmost one.",
        default="",
    )
    mail_quarantine_unverified: bool = _setting(
        "CROSSCLAIM_MAIL_QUARANTINE_UNVERIFIED",
        "Quarantine a reply whose sender failed DMARC (or, without DMARC, SPF or DKIM) instead of posting it"
        " with a warning.",
        default=False,
    )
    dispute_answer_round: bool = _setting(
        "CROSSCLAIM_DISPUTE_ANSWER_ROUND",
        "A supplier's or carrier's dispute first gets our answer: mediation opens only when a handler opens it"
        " from the case page. Unset: the party's dispute opens mediation at once.",
        default=False,
    )
    time_zone: str = _setting(
        "CROSSCLAIM_TIME_ZONE",
        "The company's IANA time zone: pages of staff who chose none, new users and customers, and the"
        " business calendar of the stages we own.",
        default="Asia/Shanghai",
    )
    company_name: str = _setting(
        "CROSSCLAIM_COMPANY_NAME",
        "The company's name as customers read it on their tracking page (whom to contact). Unset: the name in"
        " CROSSCLAIM_MAIL_FROM.",
        default="",
    )
    contact_email: str = _setting(
        "CROSSCLAIM_CONTACT_EMAIL",
        "The address customers are given on their tracking page to reach after-sales. Unset: the reply address,"
        " else the address in CROSSCLAIM_MAIL_FROM.",
        default="",
    )
    contact_phone: str = _setting(
        "CROSSCLAIM_CONTACT_PHONE",
        "The phone number customers are given on their tracking page. Unset: no phone is shown.",
        default="",
    )
    push_allowed_hosts: str = _setting(
        "CROSSCLAIM_PUSH_ALLOWED_HOSTS",
        "Comma-separated push service hosts accepted as they are (http too), without the check that an"
        " endpoint is https and resolves to public addresses only: a relay on the company network, a test's"
        " fake push service. Unset: every endpoint is checked.",
        default="",
    )
    log_level: str = _setting(
        "CROSSCLAIM_LOG_LEVEL",
        "DEBUG, INFO, WARNING or ERROR.",
        default="INFO",
    )
    shared_data_dir: bool = _setting(
        "CROSSCLAIM_SHARED_DATA_DIR",
        "1: every process on the database shares this data folder (one machine or a shared volume), so they"
        " keep sessions and rendered lists briefly and tell each other of changes through files in it."
        " 0 (PostgreSQL served from machines without a shared data folder): nothing is kept in a process.",
        default=True,
    )
    test_hooks: bool = _setting(
        "CROSSCLAIM_TEST_HOOKS",
        "Enables fault-injection hooks used by the test suite. Never set in production.",
        default=False,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.type, raw, f.metadata["env"])
        values.update(overrides)
        settings = cls(**values)
        return settings.resolved()

    def resolved(self) -> Settings:
        """Fill the defaults that depend on the data dir, creating it when needed."""
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"CROSSCLAIM_TIME_ZONE must be an IANA time zone such as Asia/Shanghai or Europe/Berlin,"
                f" not {self.time_zone!r}"
            ) from None
        data_dir = self.data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        database_url = self.database_url or f"sqlite:///{data_dir / 'crossclaim.sqlite3'}"
        secret_key = self.secret_key or _kept_secret(data_dir / SECRET_KEY_NAME)
        return replace(self, data_dir=data_dir, database_url=database_url, secret_key=secret_key)

    @property
    def marker_dir(self) -> Path | None:
        """Where a PostgreSQL engine's processes leave each other marker files (app.db.DataChanges); None
        where they share no data folder. A SQLite database is one machine's: its markers sit beside it."""
        return self.data_dir if self.shared_data_dir else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def push_hosts(self) -> frozenset[str]:
        """``push_allowed_hosts`` as a set of lower-case host names or addresses."""
        return frozenset(host.strip().lower() for host in self.push_allowed_hosts.split(",") if host.strip())

    @property
    def contact(self) -> tuple[str, str, str]:
        """(company name, email, phone) a customer is given to reach us; the sender's name and address stand in."""
        name, address = parseaddr(self.mail_from)
        email = self.contact_email or parseaddr(self.reply_address)[1] or address
        return (self.company_name or name or "Crossclaim", email, self.contact_phone)

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


def documented_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting, for docs and `crossclaim settings`."""
    rows = []
    for f in fields(Settings):
        rows.append((f.metadata["env"], str(f.default), f.metadata["help"]))
    return rows


def _convert(kind: Any, raw: str, env: str) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if kind_name == "bool":
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{env} must be 1/0, true/false, yes/no or on/off, not {raw!r}")
    if kind_name == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{env} must be a whole number, not {raw!r}") from None
    if kind_name == "Path":
        return Path(raw)
    return raw


def _kept_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
