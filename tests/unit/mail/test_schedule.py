"""The mailbox is read every CROSSCLAIM_IMAP_INTERVAL minutes, and never without a mailbox."""

from __future__ import annotations

from datetime import UTC, datetime

from app.settings import Settings
from app.tasks.mail import due


def at(minute: int) -> datetime:
    return datetime(2026, 11, 26, 9, minute, tzinfo=UTC)


def test_interval_counts_from_the_hour() -> None:
    settings = Settings(imap_url="imap://u:p@127.0.0.1:143", imap_interval=5)
    assert [m for m in range(60) if due(settings, at(m))] == list(range(0, 60, 5))


def test_out_of_range_intervals_are_clamped_and_no_url_means_no_read() -> None:
    assert all(due(Settings(imap_url="imap://x", imap_interval=0), at(m)) for m in range(60))
    assert [m for m in range(60) if due(Settings(imap_url="imap://x", imap_interval=600), at(m))] == [0]
    assert not any(due(Settings(imap_url=""), at(m)) for m in range(60))
