"""The evidence pipeline and stores are pure: these tests need no database, so they skip its setup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def bound_engine() -> None:
    """Overrides the database binding: nothing here reads or writes tables."""
    return None


@pytest.fixture(autouse=True)
def clean_database() -> Iterator[None]:
    """Overrides the per-test table wipe, which would only slow these tests down."""
    yield
